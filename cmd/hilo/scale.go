package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/internal/scaling"
	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/launch"
)

// errNoTwoNode says the two-node test bed could not be made here (not root,
// no network namespaces): callers skip, not fail.
var errNoTwoNode = errors.New("the two-node test bed cannot run here")

// exitNoBed is the status when the two-node test bed cannot be made here.
const exitNoBed = 3

// scaleOptions are the flags of `hilo scale`.
type scaleOptions struct {
	workload     string
	dims         [3]int
	ranks        []int
	weak         bool
	methods      []string
	fields       int
	steps        int
	warmup       int
	launcher     string
	transport    string // "", "shm" or "tcp"
	outDir       string
	asJSON       bool
	twonode      string // path of scripts/twonode.sh
	mpirun       string
	timeout      time.Duration
	model        bool
	pingpongShm  string
	pingpongTCP  string
	cores        int
	wake         time.Duration
	repeat       int
	quiet        float64
	cellRate     float64
	project      bool
	ranksPerNode int
}

// scaleRow is one run of a scaling study (one method, one rank count).
type scaleRow struct {
	Workload  string `json:"workload"`
	Method    string `json:"method"`
	Ranks     int    `json:"ranks"`
	Grid      string `json:"grid"`
	Launcher  string `json:"launcher"`
	Transport string `json:"transport"`
	Steps     int    `json:"steps"`
	// Median over steps of the slowest rank's step time, µs.
	StepUS float64 `json:"step_us"`
	// Per step, µs: communication (halo pack + wait + unpack) and compute
	// (the rest of the step), of the slowest rank and the median rank.
	CommMaxUS    float64 `json:"comm_max_us"`
	CommMedUS    float64 `json:"comm_median_us"`
	ComputeMaxUS float64 `json:"compute_max_us"`
	ComputeMedUS float64 `json:"compute_median_us"`
	// Payload bytes per step, all ranks: measured on shared memory
	// (intra-node) and TCP (inter-node), and predicted from the
	// decomposition.
	BytesIntra     int64 `json:"bytes_intra"`
	BytesInter     int64 `json:"bytes_inter"`
	PredBytes      int64 `json:"pred_bytes"`
	PredBytesInter int64 `json:"pred_bytes_inter"`
	CutFaces       int   `json:"cut_faces"`
	MsgsPerStep    int   `json:"msgs_per_step"`
	// Background is the CPU, in cores, other processes used during the
	// timed steps (-1: unknown).
	Background float64 `json:"background"`
	// RanksCPU is the CPU time of the ranks over the wall time, in cores.
	RanksCPU   float64 `json:"ranks_cpu"`
	Efficiency float64 `json:"efficiency"`
	// The model's time per step and its error against StepUS (when
	// -model is given).
	ModelUS  float64 `json:"model_us,omitempty"`
	ModelErr float64 `json:"model_err,omitempty"`
}

func cmdScale(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hilo scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o scaleOptions
	workload := fs.String("workload", "fdtd", "fdtd (the reference problem) or halo (K fields, halo 1, faces)")
	gridFlag := fs.String("grid", "64x64x64", "grid NXxNYxNZ (with -weak: the grid of the smallest run)")
	ranksFlag := fs.String("ranks", "1,2,4", "rank counts: a list, A..B doubles from A to B")
	fs.BoolVar(&o.weak, "weak", false, "weak scaling: grow the grid so that cells per rank stay fixed")
	methodsFlag := fs.String("methods", "hilbert,block,rcb,slab", "decomposition methods")
	fs.IntVar(&o.fields, "fields", 6, "halo workload: float64 fields exchanged together")
	fs.IntVar(&o.steps, "steps", 50, "timed steps per run")
	fs.IntVar(&o.warmup, "warmup", 5, "untimed steps before them")
	fs.StringVar(&o.launcher, "launcher", "hilo", "hilo, srun, mpirun or twonode (scripts/twonode.sh: 4 ranks, 2 per node)")
	fs.StringVar(&o.transport, "transport", "", "force shm or tcp (default: shm on a node, tcp between)")
	fs.StringVar(&o.outDir, "o", "", "write scale.csv, scale.json, time.png and bytes.png (or projection.*) to this directory")
	fs.BoolVar(&o.asJSON, "json", false, "print the rows as JSON instead of a table")
	fs.StringVar(&o.twonode, "twonode", "scripts/twonode.sh", "the two-node test bed script")
	fs.StringVar(&o.mpirun, "mpirun", "", "mpirun command (default mpirun.openmpi if installed, else mpirun)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "limit per run")
	fs.BoolVar(&o.model, "model", false, "also predict every run with the model and print its error")
	fs.StringVar(&o.pingpongShm, "pingpong-shm", "", "model: `hilo bench pingpong -json -transport shm` output (default: run it)")
	fs.StringVar(&o.pingpongTCP, "pingpong-tcp", "", "model: the same over tcp (default: run it)")
	fs.IntVar(&o.cores, "cores", runtime.NumCPU(), "model: cores the measured ranks share")
	fs.DurationVar(&o.wake, "wake", 0, "model: CPU cost per message when ranks outnumber cores (0: measure it, an exchange of tiny halos among 2 x cores ranks)")
	fs.Float64Var(&o.quiet, "quiet", 0, "before each run, wait (up to 30 s) until other processes use less than this many cores (0: do not wait)")
	fs.IntVar(&o.repeat, "repeat", 1, "run each point this many times and keep the fastest (the least disturbed on a shared machine)")
	fs.Float64Var(&o.cellRate, "cell-rate", 0, "model: one compute rate, cells per second per core, for every box (default: measured per box size)")
	fs.BoolVar(&o.project, "project", false, "project instead of measuring: model the step time up to many ranks")
	fs.IntVar(&o.ranksPerNode, "ranks-per-node", 64, "projection: ranks per node (one per core)")
	worker := fs.Bool("worker", false, "internal: run as one rank of a scale run")
	workMethod := fs.String("method", decomp.MethodHilbert, "internal (-worker): the method of this run")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: hilo scale [-workload fdtd|halo] -grid NXxNYxNZ -ranks 1,2,4 [-weak] [-methods hilbert,block,rcb,slab]\n"+
			"       [-fields K] [-steps S] [-launcher hilo|srun|mpirun|twonode] [-transport shm|tcp] [-model] [-o DIR] [-json]\n"+
			"   or: hilo scale -project -grid NXxNYxNZ -ranks 1..32768 -ranks-per-node R [-methods ...] [-o DIR]\n\n"+
			"Runs the workload once per method and rank count through the launcher and reports time per step\n"+
			"(median over steps, slowest rank), compute and communication time, halo bytes per step on shared\n"+
			"memory and TCP against the decomposition's prediction, and the efficiency against the smallest run.\n"+
			"-model also predicts each run (see internal/scaling); -project predicts runs up to many ranks from ping-pong\n"+
			"fits, 1-rank compute runs and the decomposition's exact per-rank halo messages.\n\n")
		fs.PrintDefaults()
	}
	if status, ok := parseArgs(fs, args); !ok {
		return status
	}
	bad := func(err error) int {
		fmt.Fprintln(stderr, "hilo scale:", err)
		return exitUsage
	}
	var err error
	if o.dims, err = parseGrid(*gridFlag); err != nil {
		return bad(err)
	}
	o.workload = *workload
	switch {
	case fs.NArg() != 0:
		return bad(fmt.Errorf("unexpected arguments %q", fs.Args()))
	case o.workload != "fdtd" && o.workload != "halo":
		return bad(fmt.Errorf("-workload %q: want fdtd or halo", o.workload))
	case o.fields < 1 || o.fields > 64:
		return bad(fmt.Errorf("-fields %d: want 1..64", o.fields))
	case o.repeat < 1:
		return bad(fmt.Errorf("-repeat %d: want at least 1", o.repeat))
	case o.steps < 1 || o.warmup < 0:
		return bad(fmt.Errorf("-steps %d -warmup %d: want at least 1 and 0", o.steps, o.warmup))
	case o.transport != "" && o.transport != "shm" && o.transport != "tcp":
		return bad(fmt.Errorf("-transport %q: want shm or tcp", o.transport))
	}
	if o.workload == "fdtd" {
		for a, n := range o.dims {
			if n < 2 {
				return bad(fmt.Errorf("-grid: %d cells along %c (fdtd wants at least 2)", n, "xyz"[a]))
			}
		}
	}
	if *worker {
		if !validMethod(*workMethod) {
			return bad(fmt.Errorf("-method %q: want one of %v", *workMethod, decomp.Methods()))
		}
		return scaleWorker(scaleWork{workload: o.workload, dims: o.dims, method: *workMethod, fields: o.fields, steps: o.steps, warmup: o.warmup}, stderr)
	}
	if o.ranks, err = parseRankList(*ranksFlag); err != nil {
		return bad(err)
	}
	for _, m := range strings.Split(*methodsFlag, ",") {
		if !validMethod(m) {
			return bad(fmt.Errorf("-methods: %q is not one of %v", m, decomp.Methods()))
		}
		o.methods = append(o.methods, m)
	}
	if o.project {
		if o.ranksPerNode < 1 {
			return bad(fmt.Errorf("-ranks-per-node %d: want at least 1", o.ranksPerNode))
		}
		return scaleProject(o, stdout, stderr)
	}
	switch o.launcher {
	case "hilo", "srun", "mpirun":
	case "twonode":
		if slices.ContainsFunc(o.ranks, func(p int) bool { return p != 4 }) {
			return bad(fmt.Errorf("-launcher twonode runs 4 ranks (2 per node): want -ranks 4"))
		}
	default:
		return bad(fmt.Errorf("-launcher %q: want hilo, srun, mpirun or twonode", o.launcher))
	}
	for _, p := range o.ranks {
		dims := o.dims
		if o.weak {
			if dims, err = scaling.WeakGrid(o.dims, o.ranks[0], p); err != nil {
				return bad(fmt.Errorf("-weak: %w", err))
			}
		}
		if p > dims[0]*dims[1]*dims[2] {
			return bad(fmt.Errorf("-ranks: %d ranks for %d cells", p, dims[0]*dims[1]*dims[2]))
		}
	}
	return scaleMeasure(o, stdout, stderr)
}

// parseRankList reads "1,2,4" or "1..32768" (doubling) or a mix, ascending
// and without repeats.
func parseRankList(s string) ([]int, error) {
	var out []int
	for _, item := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(item, "..")
		lo, err := strconv.Atoi(strings.TrimSpace(a))
		hi := lo
		if err == nil && isRange {
			hi, err = strconv.Atoi(strings.TrimSpace(b))
		}
		if err != nil || lo < 1 || hi < lo || hi > 1<<20 {
			return nil, fmt.Errorf("-ranks %q: want counts like 1,2,4 or 1..32768", s)
		}
		for p := lo; p <= hi; p *= 2 {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// scaleWorker is one rank of a run: started by a launcher with the result
// file in the environment.
func scaleWorker(w scaleWork, stderr io.Writer) int {
	if os.Getenv(rankResultEnv) == "" {
		fmt.Fprintf(stderr, "hilo scale: -worker is for the ranks hilo scale starts (%s is not set)\n", rankResultEnv)
		return exitUsage
	}
	job := spawnedJob{command: []string{"scale"}, stderr: stderr,
		body: func(ctx context.Context, comm *transport.Comm) (any, error) {
			return runScaleRank(ctx, comm, w)
		}}
	st, _ := job.run(nil)
	return st
}

// workerArgs are the flags a run's ranks get.
func (o scaleOptions) workerArgs(dims [3]int, method string) []string {
	return []string{"scale", "-worker", "-workload", o.workload,
		"-grid", fmt.Sprintf("%dx%dx%d", dims[0], dims[1], dims[2]), "-method", method,
		"-fields", strconv.Itoa(o.fields), "-steps", strconv.Itoa(o.steps), "-warmup", strconv.Itoa(o.warmup)}
}

// launchRun starts one run's p ranks through the launcher and reads rank 0's
// result. The ranks' output is kept and returned in the error if they fail.
func (o scaleOptions) launchRun(ctx context.Context, exe string, p int, worker []string) (scaleRankResult, error) {
	var res scaleRankResult
	f, err := os.CreateTemp("", "hilo-scale-*.json")
	if err != nil {
		return res, err
	}
	f.Close()
	defer os.Remove(f.Name())
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	env := append(os.Environ(), rankResultEnv+"="+f.Name())
	var out bytes.Buffer
	var cmd *exec.Cmd
	switch o.launcher {
	case "hilo":
		cfg := launch.SpawnConfig{Ranks: p, Transport: o.transport, Timeout: o.timeout, Env: env, Stdout: &out, Stderr: &out}
		err = launch.Spawn(ctx, cfg, exe, worker...)
	case "srun":
		cmd = exec.CommandContext(ctx, "srun", append([]string{"-n", strconv.Itoa(p), exe}, worker...)...)
	case "mpirun":
		mpirun := o.mpirun
		if mpirun == "" {
			mpirun = "mpirun"
			if _, err := exec.LookPath("mpirun.openmpi"); err == nil {
				mpirun = "mpirun.openmpi"
			}
		}
		argv := []string{"-n", strconv.Itoa(p), "-x", rankResultEnv, "-x", "HILO_JOB_KEY"}
		if strings.Contains(mpirun, "openmpi") || mpirun == "mpirun" {
			argv = append([]string{"--oversubscribe"}, argv...)
			if os.Getuid() == 0 {
				argv = append([]string{"--allow-run-as-root"}, argv...)
			}
		}
		if o.transport != "" {
			argv = append(argv, "-x", "HILO_TRANSPORT")
		}
		cmd = exec.CommandContext(ctx, mpirun, append(append(argv, exe), worker...)...)
	case "twonode":
		cmd = exec.CommandContext(ctx, "bash", append([]string{o.twonode, exe}, worker...)...)
	}
	if cmd != nil {
		if o.transport != "" {
			env = append(env, "HILO_TRANSPORT="+o.transport)
		}
		cmd.Env = append(env, "HILO_JOB_KEY="+launch.NewJobKey())
		cmd.Stdout, cmd.Stderr = &out, &out
		// On timeout or Ctrl-C, ask the launcher to stop its ranks (the
		// two-node script's trap deletes its namespaces); kill it only if
		// it has not ended 5 s later.
		cmd.Cancel = func() error { return cmd.Process.Signal(unix.SIGTERM) }
		cmd.WaitDelay = 5 * time.Second
		err = cmd.Run()
		if err != nil && o.launcher == "twonode" && strings.Contains(out.String(), "twonode: cannot") {
			return res, fmt.Errorf("%w: %s", errNoTwoNode, strings.TrimSpace(out.String()))
		}
	}
	if err != nil {
		return res, fmt.Errorf("%s with %d ranks: %w\n%s", o.launcher, p, err, tail(out.String(), 30))
	}
	data, err := os.ReadFile(f.Name())
	if err == nil {
		err = json.Unmarshal(data, &res)
	}
	if err == nil && (res.Ranks != p || len(res.RankStep) != p || len(res.StepSeconds) == 0) {
		err = fmt.Errorf("result for %d ranks with %d steps", res.Ranks, len(res.StepSeconds))
	}
	if err != nil {
		return res, fmt.Errorf("reading rank 0's result: %w\n%s", err, tail(out.String(), 30))
	}
	return res, nil
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// scaleMeasure runs every (method, rank count) and reports.
func scaleMeasure(o scaleOptions, stdout, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "hilo scale:", err)
		return exitFail
	}
	ctx, stop := signalContext()
	defer stop()
	var machine *scaling.Machine
	if o.model {
		if machine, err = o.fitMachine(ctx, exe, stderr); err != nil {
			fmt.Fprintln(stderr, "hilo scale: model:", err)
			return exitFail
		}
	}
	// With -repeat the whole list of runs is gone through again, so that a
	// point's repeats fall at different times, and each point keeps its
	// fastest run (the one least disturbed by the rest of the machine).
	n := len(o.methods) * len(o.ranks)
	prog := newProgress(stderr, n*o.repeat)
	if machine != nil {
		prog.n += o.repeat
	}
	rows := make([]scaleRow, n)
	var cal calibration
	for rep := range o.repeat {
		if machine != nil {
			prog.next("calibrating the model: compute rates, cost per message")
			if err := o.calibrate(ctx, exe, machine, &cal); err != nil {
				prog.done()
				fmt.Fprintln(stderr, "hilo scale: model:", err)
				return exitFail
			}
		}
		for mi, method := range o.methods {
			for pi, p := range o.ranks {
				dims := o.dims
				if o.weak {
					dims, _ = scaling.WeakGrid(o.dims, o.ranks[0], p)
				}
				prog.next(fmt.Sprintf("%s %s P=%d %dx%dx%d via %s", o.workload, method, p, dims[0], dims[1], dims[2], o.launcher))
				if err := waitQuiet(ctx, o.quiet, 30*time.Second); err != nil {
					prog.done()
					fmt.Fprintln(stderr, "hilo scale:", err)
					return exitFail
				}
				res, err := o.launchRun(ctx, exe, p, o.workerArgs(dims, method))
				if err != nil {
					prog.done()
					fmt.Fprintln(stderr, "hilo scale:", err)
					if errors.Is(err, errNoTwoNode) {
						return exitNoBed
					}
					return exitFail
				}
				row, err := o.makeRow(res, dims, method, p)
				if err != nil {
					prog.done()
					fmt.Fprintln(stderr, "hilo scale:", err)
					return exitFail
				}
				if i := mi*len(o.ranks) + pi; rep == 0 || row.StepUS < rows[i].StepUS {
					rows[i] = row
				}
			}
		}
	}
	prog.done()
	setEfficiency(rows, o.weak)
	if machine != nil {
		if err := cal.apply(machine, stderr); err != nil {
			fmt.Fprintln(stderr, "hilo scale: model:", err)
			return exitFail
		}
		if err := o.modelRows(rows, machine); err != nil {
			fmt.Fprintln(stderr, "hilo scale: model:", err)
			return exitFail
		}
	}
	if o.outDir != "" {
		if err := writeScaleOutputs(o.outDir, rows); err != nil {
			fmt.Fprintln(stderr, "hilo scale:", err)
			return exitFail
		}
	}
	if o.asJSON {
		return encodeOrFail(stdout, stderr, rows)
	}
	printScaleTable(stdout, rows)
	return exitOK
}

// nodeOf maps a rank to its node for a launcher: the two-node bed puts
// ranks 0,1 and 2,3 together; forced TCP makes every rank its own "node"
// (every byte goes over TCP); the other launchers run on this one machine.
func (o scaleOptions) nodeOf() func(int) int {
	switch {
	case o.transport == "tcp":
		return func(r int) int { return r }
	case o.launcher == "twonode":
		return func(r int) int { return r / 2 }
	}
	return func(int) int { return 0 }
}

// workload is the model's view of a run on d.
func (o scaleOptions) workloadOf(d *decomp.Decomposition) (scaling.Workload, error) {
	if o.workload == "fdtd" {
		return scaling.FDTDWorkload(d, o.nodeOf())
	}
	return scaling.HaloWorkload(d, o.nodeOf(), o.fields)
}

// makeRow reduces one run's result and adds the decomposition's prediction.
func (o scaleOptions) makeRow(res scaleRankResult, dims [3]int, method string, p int) (scaleRow, error) {
	d, err := decomp.Decompose(decomp.Grid{Dims: dims}, p, decomp.Options{Method: method})
	if err != nil {
		return scaleRow{}, err
	}
	m, err := d.Metrics(decomp.UniformHalo(1, decomp.Faces), 1, 8)
	if err != nil {
		return scaleRow{}, err
	}
	w, err := o.workloadOf(d)
	if err != nil {
		return scaleRow{}, err
	}
	intra, inter := w.PayloadBytes()
	tr := o.transport
	if tr == "" {
		tr = "auto"
	}
	row := scaleRow{Workload: o.workload, Method: method, Ranks: p, Grid: fmt.Sprintf("%dx%dx%d", dims[0], dims[1], dims[2]),
		Launcher: o.launcher, Transport: tr, Steps: res.Steps, CutFaces: m.CutFaces,
		PredBytes: intra + inter, PredBytesInter: inter,
		StepUS: scaling.Median(res.StepSeconds) * 1e6, Background: res.Background, RanksCPU: res.RanksCPU}
	compute := make([]float64, p)
	for r := range p {
		compute[r] = max(res.RankStep[r]-res.RankComm[r], 0)
		row.BytesIntra += int64(res.RankShmB[r] + 0.5)
		row.BytesInter += int64(res.RankTCPB[r] + 0.5)
		row.MsgsPerStep += int(res.RankMsgs[r] + 0.5)
	}
	row.CommMaxUS, row.CommMedUS = slices.Max(res.RankComm)*1e6, scaling.Median(res.RankComm)*1e6
	row.ComputeMaxUS, row.ComputeMedUS = slices.Max(compute)*1e6, scaling.Median(compute)*1e6
	return row, nil
}

// setEfficiency fills each row's efficiency against the same method's
// smallest run: strong, T0·P0 / (T·P); weak, T0 / T.
func setEfficiency(rows []scaleRow, weak bool) {
	for i := range rows {
		var base *scaleRow
		for j := range rows {
			if rows[j].Method == rows[i].Method && (base == nil || rows[j].Ranks < base.Ranks) {
				base = &rows[j]
			}
		}
		r := &rows[i]
		if weak {
			r.Efficiency = base.StepUS / r.StepUS
		} else {
			r.Efficiency = base.StepUS * float64(base.Ranks) / (r.StepUS * float64(r.Ranks))
		}
	}
}

func printScaleTable(w io.Writer, rows []scaleRow) {
	model := slices.ContainsFunc(rows, func(r scaleRow) bool { return r.ModelUS > 0 })
	fmt.Fprintf(w, "%-8s %5s %-12s %10s %7s %10s %10s %10s %10s %10s %10s %10s %10s %8s %5s %5s",
		"method", "ranks", "grid", "step µs", "eff", "comp max", "comp med", "comm max", "comm med", "B/step shm", "B/step tcp", "predicted", "pred tcp", "cut", "cpu", "bg")
	if model {
		fmt.Fprintf(w, " %10s %7s", "model µs", "error")
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		fmt.Fprintf(w, "%-8s %5d %-12s %10.1f %7.3f %10.1f %10.1f %10.1f %10.1f %10d %10d %10d %10d %8d %5.2f %5.2f",
			r.Method, r.Ranks, r.Grid, r.StepUS, r.Efficiency, r.ComputeMaxUS, r.ComputeMedUS, r.CommMaxUS, r.CommMedUS,
			r.BytesIntra, r.BytesInter, r.PredBytes, r.PredBytesInter, r.CutFaces, r.RanksCPU, r.Background)
		if model {
			fmt.Fprintf(w, " %10.1f %+6.1f%%", r.ModelUS, 100*r.ModelErr)
		}
		fmt.Fprintln(w)
	}
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs, stop := launch.ForwardSignals()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() { stop(); cancel() }
}

// progress shows which run is going on stderr: one line rewritten in place
// on a terminal, plain lines otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	n, i  int
	start time.Time
}

func newProgress(w io.Writer, n int) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		tty = err == nil
	}
	return &progress{w: w, tty: tty, n: n, start: time.Now()}
}

func (p *progress) next(what string) {
	p.i++
	line := fmt.Sprintf("hilo scale: run %d/%d: %s (%.1f s elapsed)", p.i, p.n, what, time.Since(p.start).Seconds())
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[Khilo scale: %d runs in %.1f s\n", p.i, time.Since(p.start).Seconds())
	}
}

// writeFile writes data to dir/name.
func writeFile(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), data, 0o644)
}

// waitQuiet waits until the machine's busy time over a 200 ms window is
// below maxBusy cores (this process being idle meanwhile, that is other
// processes' load), or until limit has passed. maxBusy 0 returns at once.
func waitQuiet(ctx context.Context, maxBusy float64, limit time.Duration) error {
	if maxBusy <= 0 {
		return nil
	}
	const window = 200 * time.Millisecond
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		b0, err := machineBusySeconds()
		if err != nil {
			return nil // no /proc/stat: nothing to wait for
		}
		t0 := time.Now()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(window):
		}
		b1, err := machineBusySeconds()
		if err != nil {
			return nil
		}
		if (b1-b0)/time.Since(t0).Seconds() < maxBusy {
			return nil
		}
	}
	return nil
}
