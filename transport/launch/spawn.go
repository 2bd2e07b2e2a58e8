package launch

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SpawnConfig configures Spawn: how many ranks to start on this machine and
// how they meet.
type SpawnConfig struct {
	// Ranks is the number of processes (>= 1).
	Ranks int
	// Transport is passed to the ranks as HILO_TRANSPORT ("": auto).
	Transport string
	// Rendezvous is "root" (default: rank 0 listens on a free localhost
	// port, handed to it by hilo run) or "dir" (a fresh private directory,
	// removed at the end).
	Rendezvous string
	// InitTimeout is passed as HILO_TIMEOUT (0: the ranks' default).
	InitTimeout time.Duration
	// Timeout kills every rank after this long (0: no limit).
	Timeout time.Duration
	// KillGrace is how long the other ranks may take to exit by themselves
	// once one has failed (they usually notice the lost peer and say so)
	// or after a forwarded signal, before they are killed. 0: 2 s.
	KillGrace time.Duration
	// Env is the ranks' base environment (nil: os.Environ()); hilo's own
	// HILO_* variables in it are replaced.
	Env []string
	// Stdout and Stderr receive the ranks' output, each line prefixed with
	// "[rank] " (nil: os.Stdout, os.Stderr).
	Stdout, Stderr io.Writer
	// Signals, if set, are forwarded to every rank (hilo run passes SIGINT
	// and SIGTERM). A second one kills the ranks at once.
	Signals <-chan os.Signal
	// Started, if set, is called with each rank's pid once it runs.
	Started func(rank, pid int)
}

// A RankError says how a rank of a job ended badly.
type RankError struct {
	Rank   int
	Status int            // exit status, when it exited
	Signal syscall.Signal // the signal that killed it, or 0
	Err    error          // it could not be started or waited for
}

func (e *RankError) Error() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("rank %d: %v", e.Rank, e.Err)
	case e.Signal != 0:
		return fmt.Sprintf("rank %d killed by signal %d (%v)", e.Rank, int(e.Signal), e.Signal)
	default:
		return fmt.Sprintf("rank %d exited with status %d", e.Rank, e.Status)
	}
}

// ExitCode is the status a launcher exits with for this failure: the rank's
// own status, 128+signal for a signal (as a shell does), 1 otherwise.
func (e *RankError) ExitCode() int {
	switch {
	case e.Err != nil:
		return 1
	case e.Signal != 0:
		return 128 + int(e.Signal)
	default:
		return e.Status
	}
}

// ErrJobTimeout is wrapped by Spawn's error when SpawnConfig.Timeout expired.
var ErrJobTimeout = errors.New("launch: job timed out")

// A SignalError says the job was stopped by a signal forwarded to it.
type SignalError struct{ Signal os.Signal }

func (e *SignalError) Error() string { return fmt.Sprintf("job stopped by %v", e.Signal) }

// ExitCode is 128 + the signal number.
func (e *SignalError) ExitCode() int {
	if s, ok := e.Signal.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// ExitCode maps Spawn's error to a process exit status: 0 for nil, the
// failed rank's status (128+signal if a signal killed it), 124 for a job
// timeout, 128+signal for a forwarded signal, 1 otherwise.
func ExitCode(err error) int {
	var re *RankError
	var se *SignalError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &re):
		return re.ExitCode()
	case errors.As(err, &se):
		return se.ExitCode()
	case errors.Is(err, ErrJobTimeout):
		return 124
	default:
		return 1
	}
}

// NewJobKey returns a fresh random job key, base64-encoded as HILO_JOB_KEY
// takes it.
func NewJobKey() string {
	var k [32]byte
	rand.Read(k[:])
	return base64.StdEncoding.EncodeToString(k[:])
}

// maxSpawnDepth bounds nested Spawns (hilo run of a program that spawns).
const maxSpawnDepth = 3

// rankProc is one started rank.
type rankProc struct {
	rank     int
	cmd      *exec.Cmd
	done     chan struct{} // closed once its output is drained
	exitedAt time.Time     // when Wait returned; set before the rank is sent on exits
}

// settleTime is how long Spawn collects failures after the first one it
// hears of before it names the first: a killed rank's neighbours notice
// within milliseconds and exit too, and their exits may be reaped first.
const settleTime = 100 * time.Millisecond

// Spawn runs prog with args as cfg.Ranks ranks of one job on this machine,
// as `hilo run` does: each gets HILO_RANK, HILO_SIZE, HILO_LOCAL_RANK,
// HILO_LOCAL_SIZE, HILO_NODE, HILO_JOB_ID, a fresh HILO_JOB_KEY and the
// rendezvous (HILO_ROOT with rank 0's listener already open, or
// HILO_RENDEZVOUS). Every line of output is prefixed with its rank. When a
// rank fails, Spawn reports it, gives the others KillGrace to exit, kills
// them, and returns a *RankError for the first failure. It returns nil when
// every rank exited with status 0. Cancelling ctx kills the ranks.
func Spawn(ctx context.Context, cfg SpawnConfig, prog string, args ...string) error {
	if cfg.Ranks < 1 || cfg.Ranks >= maxRanks {
		return fmt.Errorf("launch: %d ranks: want at least 1", cfg.Ranks)
	}
	switch cfg.Transport {
	case "", "auto", "shm", "tcp":
	default:
		return fmt.Errorf("launch: transport %q: want auto, shm or tcp", cfg.Transport)
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = 2 * time.Second
	}
	base := cfg.Env
	if base == nil {
		base = os.Environ()
	}
	var env []string
	depth := 0
	for _, kv := range base {
		if v, ok := strings.CutPrefix(kv, "HILO_SPAWN_DEPTH="); ok {
			depth, _ = strconv.Atoi(v)
		}
		if !strings.HasPrefix(kv, "HILO_") {
			env = append(env, kv)
		}
	}
	// A rank that spawns ranks that spawn ranks is almost surely a program
	// that does not notice it already runs as a rank: stop the fork bomb.
	if depth >= maxSpawnDepth {
		return fmt.Errorf("launch: refusing to spawn ranks %d levels deep (HILO_SPAWN_DEPTH=%d): does the program start itself again when it runs as a rank?", depth+1, depth)
	}
	env = append(env, "HILO_SPAWN_DEPTH="+strconv.Itoa(depth+1))
	host, _ := os.Hostname()
	var jobID [8]byte
	rand.Read(jobID[:])
	env = append(env,
		"HILO_SIZE="+strconv.Itoa(cfg.Ranks),
		"HILO_LOCAL_SIZE="+strconv.Itoa(cfg.Ranks),
		"HILO_NODE="+host,
		"HILO_JOB_ID="+hex.EncodeToString(jobID[:]),
		"HILO_JOB_KEY="+NewJobKey(),
	)
	if cfg.Transport != "" {
		env = append(env, "HILO_TRANSPORT="+cfg.Transport)
	}
	if cfg.InitTimeout > 0 {
		env = append(env, "HILO_TIMEOUT="+cfg.InitTimeout.String())
	}
	var rootFile *os.File
	switch cfg.Rendezvous {
	case "dir":
		dir, err := os.MkdirTemp("", "hilo-rdv-")
		if err != nil {
			return fmt.Errorf("launch: %w", err)
		}
		defer os.RemoveAll(dir)
		env = append(env, "HILO_RENDEZVOUS="+dir)
	case "", "root":
		if cfg.Ranks > 1 {
			// Open rank 0's listener here and hand it down, so that no
			// other process can take the port between choosing and binding.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return fmt.Errorf("launch: %w", err)
			}
			rootFile, err = ln.(*net.TCPListener).File()
			ln.Close()
			if err != nil {
				return fmt.Errorf("launch: %w", err)
			}
			defer rootFile.Close()
			env = append(env, "HILO_ROOT="+ln.Addr().String())
		}
	default:
		return fmt.Errorf("launch: rendezvous %q: want root or dir", cfg.Rendezvous)
	}

	var outMu sync.Mutex
	procs := make([]*rankProc, cfg.Ranks)
	exits := make(chan int, cfg.Ranks)
	// Start the ranks from one locked thread: Pdeathsig fires when the
	// thread that forked a child exits, so that thread must live as long
	// as the job; a locked goroutine that never returns keeps it.
	startErr := make(chan error, 1)
	release := make(chan struct{})
	defer close(release)
	go func() {
		runtime.LockOSThread()
		startErr <- func() error {
			for r := range cfg.Ranks {
				p, err := startRank(r, cfg, prog, args, env, rootFile, &outMu)
				if err != nil {
					return &RankError{Rank: r, Err: err}
				}
				procs[r] = p
				if cfg.Started != nil {
					cfg.Started(r, p.cmd.Process.Pid)
				}
				go func() { p.cmd.Wait(); p.exitedAt = time.Now(); <-p.done; exits <- r }()
			}
			return nil
		}()
		<-release
		// Keep the thread locked (and so alive) until the job is over; the
		// goroutine exits here and its thread with it, which no longer matters.
	}()
	if err := <-startErr; err != nil {
		outMu.Lock()
		fmt.Fprintf(cfg.Stderr, "hilo run: %v\n", err)
		outMu.Unlock()
		for _, p := range procs {
			if p != nil {
				p.cmd.Process.Kill()
			}
		}
		for _, p := range procs {
			if p != nil {
				<-exits
			}
		}
		return err
	}
	if rootFile != nil {
		rootFile.Close()
		rootFile = nil
	}

	var jobTimeout <-chan time.Time
	if cfg.Timeout > 0 {
		t := time.NewTimer(cfg.Timeout)
		defer t.Stop()
		jobTimeout = t.C
	}
	say := func(format string, a ...any) {
		outMu.Lock()
		fmt.Fprintf(cfg.Stderr, "hilo run: "+format+"\n", a...)
		outMu.Unlock()
	}
	running := cfg.Ranks
	exited := make([]bool, cfg.Ranks)
	killed := make([]bool, cfg.Ranks) // by Spawn: their end is no news
	signalAll := func(sig os.Signal) {
		for r, p := range procs {
			if !exited[r] {
				killed[r] = killed[r] || sig == syscall.SIGKILL
				p.cmd.Process.Signal(sig)
			}
		}
	}
	var first error
	var killAt <-chan time.Time
	var killTimer *time.Timer
	startGrace := func() {
		if killTimer == nil {
			killTimer = time.NewTimer(cfg.KillGrace)
			killAt = killTimer.C
		}
	}
	defer func() {
		if killTimer != nil {
			killTimer.Stop()
		}
	}()
	var forwarded os.Signal
	// Failures heard of while settling; the earliest to exit is named first.
	var pending []*RankError
	var settle <-chan time.Time
	decide := func() {
		settle = nil
		if len(pending) == 0 {
			return
		}
		// A rank killed by a signal is the likelier cause (the others
		// usually exit with a status when they lose it); then the earliest.
		slices.SortStableFunc(pending, func(a, b *RankError) int {
			if (a.Signal != 0) != (b.Signal != 0) {
				if a.Signal != 0 {
					return -1
				}
				return 1
			}
			return procs[a.Rank].exitedAt.Compare(procs[b.Rank].exitedAt)
		})
		if first == nil {
			first = pending[0]
			say("%v; stopping the other ranks", pending[0])
			pending = pending[1:]
		}
		for _, re := range pending {
			say("%v", re)
		}
		pending = nil
	}
	for running > 0 {
		select {
		case r := <-exits:
			running--
			exited[r] = true
			st := procs[r].cmd.ProcessState
			if st.Success() {
				continue
			}
			re := &RankError{Rank: r, Status: st.ExitCode()}
			if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				re.Signal = ws.Signal()
			}
			switch {
			case first == nil && settle == nil:
				pending = append(pending, re)
				settle = time.After(settleTime)
				startGrace()
			case first == nil:
				pending = append(pending, re)
			case !killed[r] && forwarded == nil:
				say("%v", re)
			}
		case <-settle:
			decide()
		case <-killAt:
			killAt = nil
			var left []string
			for r, p := range procs {
				if !exited[r] {
					left = append(left, strconv.Itoa(r))
					killed[r] = true
					p.cmd.Process.Kill()
				}
			}
			if len(left) > 0 {
				say("killed rank(s) %s", strings.Join(left, ", "))
			}
		case sig := <-cfg.Signals:
			if forwarded != nil {
				say("second %v: killing every rank", sig)
				signalAll(syscall.SIGKILL)
				continue
			}
			forwarded = sig
			decide()
			if first == nil {
				first = &SignalError{Signal: sig}
			}
			say("forwarding %v to %d rank(s)", sig, running)
			signalAll(sig)
			startGrace()
		case <-jobTimeout:
			jobTimeout = nil
			decide()
			if first == nil {
				first = fmt.Errorf("%w after %v", ErrJobTimeout, cfg.Timeout)
			}
			say("timeout after %v: killing %d rank(s)", cfg.Timeout, running)
			signalAll(syscall.SIGKILL)
		case <-ctx.Done():
			decide()
			if first == nil {
				first = ctx.Err()
			}
			signalAll(syscall.SIGKILL)
		}
	}
	decide()
	return first
}

func startRank(r int, cfg SpawnConfig, prog string, args, env []string, rootFile *os.File, outMu *sync.Mutex) (*rankProc, error) {
	cmd := exec.Command(prog, args...)
	cmd.Env = append(env[:len(env):len(env)], "HILO_RANK="+strconv.Itoa(r), "HILO_LOCAL_RANK="+strconv.Itoa(r))
	if r == 0 && rootFile != nil {
		cmd.ExtraFiles = []*os.File{rootFile}
		cmd.Env = append(cmd.Env, "HILO_ROOT_FD=3")
	}
	// Own process group: a Ctrl-C at the terminal reaches hilo run only,
	// which forwards it once; Pdeathsig: the ranks die with hilo run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.Stdin = nil
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	p := &rankProc{rank: r, cmd: cmd, done: make(chan struct{})}
	prefix := []byte("[" + strconv.Itoa(r) + "] ")
	var wg sync.WaitGroup
	wg.Go(func() { copyLines(cfg.Stdout, outR, prefix, outMu) })
	wg.Go(func() { copyLines(cfg.Stderr, errR, prefix, outMu) })
	go func() { wg.Wait(); close(p.done) }()
	return p, nil
}

// copyLines copies r to w line by line, each line prefixed; a last line
// without a newline gets one. A line longer than the buffer is cut into
// pieces, each prefixed.
func copyLines(w io.Writer, r *os.File, prefix []byte, mu *sync.Mutex) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	buf := make([]byte, 0, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			buf = append(append(buf[:0], prefix...), line...)
			if buf[len(buf)-1] != '\n' {
				buf = append(buf, '\n')
			}
			mu.Lock()
			w.Write(buf)
			mu.Unlock()
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// ForwardSignals returns a channel of SIGINT and SIGTERM for
// SpawnConfig.Signals and a function that stops the delivery.
func ForwardSignals() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	return ch, func() { signal.Stop(ch) }
}
