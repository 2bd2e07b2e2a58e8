package shm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

// Multi-process tests re-exec the test binary: the parent starts one child
// per rank running TestShmChild, which reads its role from these variables.
const (
	envRank      = "HILO_SHM_TEST_RANK"
	envSize      = "HILO_SHM_TEST_SIZE"
	envJob       = "HILO_SHM_TEST_JOB"
	envScenario  = "HILO_SHM_TEST_SCENARIO"
	envRingBytes = "HILO_SHM_TEST_RING"
	envSpin      = "HILO_SHM_TEST_SPIN"
	envCopyMin   = "HILO_SHM_TEST_SINGLE_COPY_MIN"
)

const testRingBytes = 64 << 10

// child is one rank process started by the parent.
type child struct {
	rank  int
	cmd   *exec.Cmd
	out   bytes.Buffer // stderr and non-protocol stdout lines
	lines chan string  // stdout lines
	stdin io.WriteCloser
	done  chan struct{}
	err   error
}

func startChildren(t testing.TB, scenario string, n int) []*child {
	t.Helper()
	job := fmt.Sprintf("test-%d-%d-%s", os.Getpid(), time.Now().UnixNano(), scenario)
	kids := make([]*child, n)
	for r := range n {
		c := &child{rank: r, lines: make(chan string, 100), done: make(chan struct{})}
		c.cmd = execChild(job, scenario, r, n)
		stdout, err := c.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		c.cmd.Stderr = &lockedWriter{w: &c.out}
		c.stdin, _ = c.cmd.StdinPipe()
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				line := sc.Text()
				if strings.HasPrefix(line, "HILO ") {
					c.lines <- strings.TrimPrefix(line, "HILO ")
				} else {
					fmt.Fprintln(c.cmd.Stderr, line)
				}
			}
			c.err = c.cmd.Wait()
			close(c.done)
		}()
		kids[r] = c
	}
	t.Cleanup(func() {
		for _, c := range kids {
			c.stdin.Close()
			select {
			case <-c.done:
			case <-time.After(5 * time.Second):
				c.cmd.Process.Kill()
				<-c.done
			}
		}
	})
	return kids
}

// execChild prepares the re-exec of the test binary as one rank.
func execChild(job, scenario string, rank, size int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestShmChild$", "-test.v")
	cmd.Env = append(os.Environ(),
		envRank+"="+strconv.Itoa(rank), envSize+"="+strconv.Itoa(size),
		envJob+"="+job, envScenario+"="+scenario)
	return cmd
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// waitChildren waits for every child to exit and fails on any failure.
func waitChildren(t testing.TB, kids []*child, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for _, c := range kids {
		c.stdin.Close()
		select {
		case <-c.done:
		case <-deadline:
			for _, c := range kids {
				c.cmd.Process.Kill()
			}
			<-c.done
		}
		if c.err != nil {
			t.Errorf("rank %d: %v\n%s", c.rank, c.err, c.out.String())
		}
	}
}

// say sends a protocol line from a child to the parent.
func say(format string, args ...any) { fmt.Printf("HILO "+format+"\n", args...) }

// TestShmChild is the body of every child process; it skips unless started
// by a multi-process test.
func TestShmChild(t *testing.T) {
	rankS := os.Getenv(envRank)
	if rankS == "" {
		t.Skip("only runs as a child of a multi-process test")
	}
	rank, _ := strconv.Atoi(rankS)
	size, _ := strconv.Atoi(os.Getenv(envSize))
	var peers []int
	for r := range size {
		if r != rank {
			peers = append(peers, r)
		}
	}
	if os.Getenv(envScenario) == "squat" {
		childSquat(t, rank)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := Config{Rank: rank, Peers: peers, JobID: os.Getenv(envJob), RingBytes: testRingBytes}
	if v := os.Getenv(envRingBytes); v != "" {
		cfg.RingBytes, _ = strconv.Atoi(v)
	}
	if v := os.Getenv(envSpin); v != "" {
		cfg.Spin, _ = time.ParseDuration(v)
	}
	if v := os.Getenv(envCopyMin); v != "" {
		cfg.SingleCopyMin, _ = strconv.Atoi(v)
	}
	node, err := Join(ctx, cfg)
	if err != nil {
		t.Fatalf("rank %d: join: %v", rank, err)
	}
	defer node.Close()
	switch sc := os.Getenv(envScenario); sc {
	case "all2all":
		childAllToAll(t, node, peers)
	case "persistent":
		childPersistent(t, node, peers)
	case "kill":
		childKill(t, node, peers)
	case "echo":
		childEcho(t, node)
	default:
		t.Fatalf("unknown scenario %q", sc)
	}
}

// testMsg is one message of a test plan.
type testMsg struct {
	tag  uint32
	size int
}

// plan is the list of messages every rank sends to every peer: the sizes
// the brief asks for, around the ring size, one far larger than the ring,
// then many small ones whose order is checked by their tags.
func plan() []testMsg {
	sizes := []int{0, 1, 7, 8, 4 << 10, 64 << 10, testRingBytes - 1, testRingBytes, testRingBytes + 1, 4 << 20}
	var msgs []testMsg
	for i, s := range sizes {
		msgs = append(msgs, testMsg{tag: uint32(i), size: s})
	}
	small := 2000
	if raceEnabled {
		small = 300
	}
	for i := range small {
		msgs = append(msgs, testMsg{tag: uint32(len(sizes) + i), size: (i * 53) % 300})
	}
	return msgs
}

// exchange is the tests' tiny progress loop: it sends send[p] to every peer
// p and receives recv[p] from it, interleaving all links and sleeping on the
// doorbell when nothing moves, and checks every received byte.
func exchange(ctx context.Context, node *Node, rank int, peers []int, msgs []testMsg) error {
	type state struct {
		l                transport.Link
		sendIdx, sendOff int
		sendBuf          []byte
		recvIdx, recvOff int
		recvBuf          []byte
	}
	st := make([]*state, len(peers))
	for i, p := range peers {
		st[i] = &state{l: node.Links()[p]}
	}
	bell := node.Doorbell()
	lastCheck := time.Now()
	for {
		seq := bell.Seq()
		progress, finished := false, true
		for i, p := range peers {
			s := st[i]
			if s.sendIdx < len(msgs) {
				finished = false
				m := msgs[s.sendIdx]
				if s.sendBuf == nil {
					s.sendBuf = make([]byte, m.size)
					pattern(s.sendBuf, rank, p, s.sendIdx)
				}
				off, done, err := s.l.SendSome(m.tag, s.sendBuf, s.sendOff)
				if err != nil {
					return err
				}
				if off != s.sendOff || done {
					progress = true
				}
				s.sendOff = off
				if done {
					s.sendIdx, s.sendOff, s.sendBuf = s.sendIdx+1, 0, nil
				}
			}
			if s.recvIdx < len(msgs) {
				finished = false
				tag, size, ok, err := s.l.PeekHeader()
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				m := msgs[s.recvIdx]
				if tag != m.tag || size != m.size {
					return fmt.Errorf("from rank %d message %d: tag %d size %d, want tag %d size %d", p, s.recvIdx, tag, size, m.tag, m.size)
				}
				if s.recvBuf == nil {
					s.recvBuf = make([]byte, size)
				}
				off, err := s.l.RecvSome(s.recvBuf, s.recvOff)
				if err != nil {
					return err
				}
				if off != s.recvOff || size == 0 {
					progress = true
				}
				s.recvOff = off
				if off == size {
					if !checkPattern(s.recvBuf, p, rank, s.recvIdx) {
						return fmt.Errorf("from rank %d message %d (%d bytes): content differs", p, s.recvIdx, size)
					}
					s.recvIdx, s.recvOff, s.recvBuf = s.recvIdx+1, 0, nil
				}
			}
		}
		if finished {
			return nil
		}
		if progress {
			continue
		}
		if time.Since(lastCheck) > 50*time.Millisecond {
			lastCheck = time.Now()
			for _, s := range st {
				if err := s.l.Check(); err != nil {
					return err
				}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		bell.Sleep(seq, 50*time.Millisecond)
	}
}

func childAllToAll(t *testing.T, node *Node, peers []int) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	msgs := plan()
	if err := exchange(ctx, node, node.Rank(), peers, msgs); err != nil {
		t.Fatalf("rank %d: %v", node.Rank(), err)
	}
	var total uint64
	for _, m := range msgs {
		total += uint64(m.size)
	}
	for _, p := range peers {
		s := node.Links()[p].Stats()
		want := transport.LinkStats{Kind: "shm", BytesSent: total, BytesRecv: total, MsgsSent: uint64(len(msgs)), MsgsRecv: uint64(len(msgs))}
		if s != want {
			t.Errorf("rank %d: stats of link to %d: %+v, want %+v", node.Rank(), p, s, want)
		}
	}
	// Do not close before the peers have drained what we sent them: a
	// last small exchange doubles as a barrier.
	if err := exchange(ctx, node, node.Rank(), peers, []testMsg{{tag: 99, size: 0}}); err != nil {
		t.Fatalf("rank %d: final: %v", node.Rank(), err)
	}
}

func testMultiProcess(t *testing.T, scenario string, n int) {
	before := listDevShm(t)
	kids := startChildren(t, scenario, n)
	waitChildren(t, kids, 50*time.Second)
	checkDevShm(t, before)
	for _, c := range kids {
		if !strings.Contains(c.out.String(), "--- PASS: TestShmChild") {
			t.Errorf("rank %d did not pass:\n%s", c.rank, c.out.String())
		} else if testing.Verbose() {
			t.Logf("rank %d:\n%s", c.rank, c.out.String())
		}
	}
}

func TestAllToAll2(t *testing.T) { testMultiProcess(t, "all2all", 2) }
func TestAllToAll4(t *testing.T) { testMultiProcess(t, "all2all", 4) }

func TestPersistent2(t *testing.T) { testMultiProcess(t, "persistent", 2) }

const (
	persistRounds = 3000
	persistSlot   = 4096
)

// childPersistent runs two persistent channels (0→1 and 1→0) at once for
// many rounds; each round's length and content come from the pattern.
func childPersistent(t *testing.T, node *Node, peers []int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rank, peer := node.Rank(), peers[0]
	l := node.Links()[peer]
	// Channel id = sending rank + 1. Ask for ours first on rank 0 and the
	// peer's first on rank 1 to exercise both orders of the rendezvous.
	var out, in transport.Channel
	var err error
	if rank == 0 {
		out, err = l.Persistent(ctx, uint32(rank+1), persistSlot, 2, true)
		if err == nil {
			in, err = l.Persistent(ctx, uint32(peer+1), persistSlot, 2, false)
		}
	} else {
		in, err = l.Persistent(ctx, uint32(peer+1), persistSlot, 2, false)
		if err == nil {
			out, err = l.Persistent(ctx, uint32(rank+1), persistSlot, 2, true)
		}
	}
	if err != nil {
		t.Fatalf("rank %d: persistent: %v", rank, err)
	}
	length := func(round int) int { return (round * 977) % (persistSlot + 1) }
	bell := node.Doorbell()
	want := make([]byte, persistSlot)
	sent, recvd := 0, 0
	for sent < persistRounds || recvd < persistRounds {
		seq := bell.Seq()
		progress := false
		if sent < persistRounds {
			slot, ok, err := out.Claim()
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				if len(slot) != persistSlot {
					t.Fatalf("slot of %d bytes", len(slot))
				}
				n := length(sent)
				pattern(slot[:n], rank, peer, sent)
				if err := out.Commit(n); err != nil {
					t.Fatal(err)
				}
				sent++
				progress = true
			}
		}
		if recvd < persistRounds {
			data, ok, err := in.Acquire()
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				n := length(recvd)
				pattern(want[:n], peer, rank, recvd)
				if !bytes.Equal(data, want[:n]) {
					t.Fatalf("rank %d round %d: %d bytes differ from the pattern (%d bytes)", rank, recvd, len(data), n)
				}
				if err := in.Release(); err != nil {
					t.Fatal(err)
				}
				recvd++
				progress = true
			}
		}
		if !progress {
			if err := l.Check(); err != nil {
				t.Fatal(err)
			}
			if ctx.Err() != nil {
				t.Fatalf("rank %d: timeout after %d sent, %d received", rank, sent, recvd)
			}
			bell.Sleep(seq, 50*time.Millisecond)
		}
	}
	// Barrier before closing so the peer has released our last slots.
	if err := exchange(ctx, node, rank, peers, []testMsg{{tag: 7, size: 8}}); err != nil {
		t.Fatal(err)
	}
	out.Close()
	in.Close()
}

// TestKillNineDetected starts 3 ranks streaming to each other, kills rank 2
// with SIGKILL, and checks that both survivors report ErrPeerLost naming
// rank 2 within 2 s, and that /dev/shm holds nothing new afterwards.
func TestKillNineDetected(t *testing.T) { testPeerLost(t, syscall.SIGKILL, 2*time.Second) }

// TestStoppedPeerDetected stops rank 2 with SIGSTOP: its process is alive
// and its socket open, so only the heartbeat can tell; it must be reported
// after the 1 s heartbeat timeout and well before 2 s.
func TestStoppedPeerDetected(t *testing.T) { testPeerLost(t, syscall.SIGSTOP, 2*time.Second) }

func testPeerLost(t *testing.T, sig syscall.Signal, limit time.Duration) {
	const victim = 2
	before := listDevShm(t)
	kids := startChildren(t, "kill", 3)
	for _, c := range kids {
		select {
		case l := <-c.lines:
			if l != "READY" {
				t.Fatalf("rank %d said %q", c.rank, l)
			}
		case <-c.done:
			t.Fatalf("rank %d exited early: %v\n%s", c.rank, c.err, c.out.String())
		case <-time.After(20 * time.Second):
			t.Fatalf("rank %d not ready\n%s", c.rank, c.out.String())
		}
	}
	// While running, the segments exist only as memfds: no name anywhere.
	if fds := memfdsOf(t, kids[0].cmd.Process.Pid); len(fds) == 0 {
		t.Errorf("rank 0 has no memfd open or mapped; expected its segment")
	} else {
		t.Logf("rank 0 maps %v", fds)
	}
	killed := time.Now()
	if err := kids[victim].cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	for _, c := range kids[:victim] {
		select {
		case l := <-c.lines:
			if l != fmt.Sprintf("LOST %d", victim) {
				t.Errorf("rank %d: %q, want LOST %d", c.rank, l, victim)
			}
			if d := time.Since(killed); d > limit || (sig == syscall.SIGSTOP && d < DefaultHeartbeatTimeout-2*heartbeatEvery) {
				t.Errorf("rank %d noticed after %v, want <= %v", c.rank, d, limit)
			} else {
				t.Logf("rank %d noticed rank %d's death after %v", c.rank, victim, d.Round(time.Millisecond))
			}
		case <-c.done:
			t.Fatalf("rank %d exited: %v\n%s", c.rank, c.err, c.out.String())
		case <-time.After(5 * time.Second):
			t.Fatalf("rank %d did not notice\n%s", c.rank, c.out.String())
		}
	}
	if sig != syscall.SIGKILL {
		kids[victim].cmd.Process.Signal(syscall.SIGKILL)
	}
	<-kids[victim].done
	waitChildren(t, kids[:victim], 10*time.Second)
	checkDevShm(t, before)
}

// childKill streams messages to every peer until one is lost, then reports
// which one and waits for the parent to close stdin.
func childKill(t *testing.T, node *Node, peers []int) {
	rank := node.Rank()
	msgs := make([]testMsg, 0, 1<<20)
	for i := range cap(msgs) {
		msgs = append(msgs, testMsg{tag: uint32(i), size: (i * 131) % 20000})
	}
	// The first 200 messages prove the exchange is under way.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exchange(ctx, node, rank, peers, msgs[:200]); err != nil {
		t.Fatal(err)
	}
	say("READY")
	err := exchange(ctx, node, rank, peers, msgs[200:]) // numbering restarts: pattern is per index
	var op *transport.OpError
	if !errors.Is(err, transport.ErrPeerLost) || !errors.As(err, &op) {
		t.Fatalf("rank %d: got %v, want ErrPeerLost", rank, err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("peer %d", op.Peer)) {
		t.Errorf("error %q does not name peer %d", err, op.Peer)
	}
	t.Logf("rank %d: %v", rank, err)
	say("LOST %d", op.Peer)
	io.Copy(io.Discard, os.Stdin)
}

// listDevShm lists /dev/shm (empty if it does not exist).
func listDevShm(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir("/dev/shm")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// checkDevShm fails if /dev/shm gained entries since before. (Other
// programs on a shared machine could in principle add some; this package
// never does, as it names nothing.)
func checkDevShm(t testing.TB, before []string) {
	t.Helper()
	for _, n := range listDevShm(t) {
		if !slices.Contains(before, n) {
			t.Errorf("new entry in /dev/shm: %s", n)
		}
	}
}

// memfdsOf lists the memfd mappings of a process (from /proc/pid/maps).
func memfdsOf(t testing.TB, pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Logf("maps: %v", err)
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, "/memfd:"); i >= 0 && !slices.Contains(out, line[i:]) {
			out = append(out, line[i:])
		}
	}
	return out
}

// TestOtherUserRejected: abstract socket names carry no permissions, so
// another user can squat on the name a rank will listen on. A process
// running as another user (needs root to start) listens on rank 1's name;
// rank 0's Join must fail with ErrAuth once SO_PEERCRED shows the uid.
func TestOtherUserRejected(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to start a process as another user")
	}
	const nobody = 65534
	// The test binary lives in a private build directory: copy it where
	// the other user can execute it.
	dir, err := os.MkdirTemp("", "hilo-shm-test")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe := dir + "/shm.test"
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	job := fmt.Sprintf("squat-%d", time.Now().UnixNano())
	cmd := execChild(job, "squat", 1, 2)
	cmd.Env = append(cmd.Env, envUID+"="+strconv.Itoa(os.Getuid()))
	cmd.Path, cmd.Args[0], cmd.Dir = exe, exe, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	stdin, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a process as uid %d: %v", nobody, err)
	}
	defer func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "HILO LISTENING" {
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	node, err := Join(ctx, Config{Rank: 0, Peers: []int{1}, JobID: job})
	if err == nil {
		node.Close()
	}
	if !errors.Is(err, transport.ErrAuth) {
		t.Fatalf("Join with a squatter of uid %d: %v, want ErrAuth\n%s", nobody, err, errOut.String())
	}
	t.Logf("rank 0: %v", err)
}

const envUID = "HILO_SHM_TEST_UID"

// childSquat listens on the socket name rank would use for the uid in
// envUID, accepts connections and holds them until stdin closes.
func childSquat(t *testing.T, rank int) {
	uid, _ := strconv.Atoi(os.Getenv(envUID))
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: socketNameFor(uid, os.Getenv(envJob), rank), Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	say("LISTENING")
	io.Copy(io.Discard, os.Stdin)
}
