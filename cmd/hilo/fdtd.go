package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/solvers/fdtd"
	"github.com/hilo-hpc/hilo/transport"
)

// fdtdResult is what rank 0 of `hilo fdtd` hands back to the spawning process.
type fdtdResult struct {
	N, Steps, Ranks int
	StartStep       int // the step restored from -restart (0 without)
	Checkpoints     int // checkpoints written
	Method          string
	Energy          float64 // Σ E² + Σ H²
	SumE2, SumH2    float64
	Seconds         float64 // wall time of the steps, slowest rank
	CPUSeconds      float64 // process CPU time of the steps, summed over ranks
	HaloBytes       int64   // message payload per step, all ranks (no headers)
}

func cmdFDTD(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hilo fdtd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("ref", 0, "run bench/fdtd's reference problem on N^3 cells (N even, required)")
	steps := fs.Int("steps", 100, "time steps K")
	skew := fs.Bool("skew", false, "the skew variant: the source on Ex, Ey, Ez at (N/4, N/3, N/2-1)")
	ranks := fs.Int("ranks", 1, "number of ranks to spawn")
	method := fs.String("method", decomp.MethodHilbert, "decomposition method")
	tr := fs.String("transport", "shm", "medium between ranks: shm or tcp")
	typ := fs.String("type", "float64", "field type: float64 or float32")
	threads := fs.Int("threads", 1, "goroutines updating each rank's cells (threads within a process)")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	checkpoint := fs.String("checkpoint", "", "write the state to `FILE` at the end (and see -checkpoint-every)")
	every := fs.Int("checkpoint-every", 0, "also write -checkpoint FILE whenever the step count is a multiple of `N`")
	restart := fs.String("restart", "", "restore the state from `FILE` before stepping; -steps then counts the steps to add")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: hilo fdtd -ref N [-steps K] [-skew] [-ranks P] [-method M] [-transport shm|tcp] [-type float64|float32] [-threads T]\n"+
			"                 [-checkpoint FILE [-checkpoint-every N]] [-restart FILE] [-json]\n\n"+
			"Runs the reference problem of bench/fdtd (3D Yee, PEC box, S = 0.5, a Gaussian soft source)\n"+
			"in P ranks it spawns and prints energy=Σ E²+Σ H² (%%.15g) and mcells= (N³·K / wall seconds / 1e6,\n"+
			"one cell-update = six components); cpu_mcells= uses the ranks' summed process CPU time.\n"+
			"A checkpoint does not depend on the ranks or the method: a run restarted from one on any\n"+
			"number of ranks continues the fields of the run that wrote it to the bit (-ref, -skew and\n"+
			"-type must match, and are checked). Checkpoint time is not in the timings.\n\n")
		fs.PrintDefaults()
	}
	if status, ok := parseArgs(fs, args); !ok {
		return status
	}
	bad := func(err error) int {
		fmt.Fprintln(stderr, "hilo fdtd:", err)
		return exitUsage
	}
	switch {
	case fs.NArg() != 0:
		return bad(fmt.Errorf("unexpected arguments %q", fs.Args()))
	case *n < 2 || *n%2 != 0 || *n > 2048:
		return bad(fmt.Errorf("-ref %d: want an even N in 2..2048", *n))
	case *steps < 0:
		return bad(fmt.Errorf("-steps %d: want at least 0", *steps))
	case *tr != "shm" && *tr != "tcp":
		return bad(fmt.Errorf("-transport %q: want shm or tcp", *tr))
	case *typ != "float64" && *typ != "float32":
		return bad(fmt.Errorf("-type %q: want float64 or float32", *typ))
	case !validMethod(*method):
		return bad(fmt.Errorf("-method %q: want one of %v", *method, decomp.Methods()))
	case *ranks < 1 || *ranks > (*n)*(*n)*(*n):
		return bad(fmt.Errorf("-ranks %d: want 1..%d", *ranks, (*n)*(*n)*(*n)))
	case *threads < 1 || *threads > 1024:
		return bad(fmt.Errorf("-threads %d: want 1..1024", *threads))
	case *every < 0:
		return bad(fmt.Errorf("-checkpoint-every %d: want at least 0", *every))
	case *every > 0 && *checkpoint == "":
		return bad(fmt.Errorf("-checkpoint-every needs -checkpoint FILE"))
	}
	// The ranks re-run this command with the same flags: hand them absolute
	// paths (the last value of a flag wins), in case a launcher starts them
	// in another directory.
	rankArgs := args
	for _, f := range []struct {
		name string
		path *string
	}{{"-checkpoint", checkpoint}, {"-restart", restart}} {
		if *f.path == "" {
			continue
		}
		abs, err := filepath.Abs(*f.path)
		if err != nil {
			return bad(fmt.Errorf("%s %q: %w", f.name, *f.path, err))
		}
		*f.path = abs
		rankArgs = append(rankArgs[:len(rankArgs):len(rankArgs)], f.name, abs)
	}
	cfg := fdtdRun{n: *n, steps: *steps, skew: *skew, method: *method, threads: *threads, checkpoint: *checkpoint, every: *every, restart: *restart}
	job := spawnedJob{command: []string{"fdtd"}, ranks: *ranks, transport: *tr, timeout: time.Hour, args: rankArgs, stderr: stderr,
		body: func(ctx context.Context, comm *transport.Comm) (any, error) {
			if *typ == "float32" {
				return runFDTD[float32](ctx, comm, cfg)
			}
			return runFDTD[float64](ctx, comm, cfg)
		}}
	var res fdtdResult
	if st, filled := job.run(&res); !filled {
		return st
	}
	if *asJSON {
		return encodeOrFail(stdout, stderr, res)
	}
	variant := "ref"
	if *skew {
		variant = "skew"
	}
	cells := float64(res.N) * float64(res.N) * float64(res.N) * float64(res.Steps)
	fmt.Fprintf(stdout, "hilo fdtd: %s N=%d K=%d ranks=%d method=%s transport=%s type=%s halo=%d B/step",
		variant, res.N, res.Steps, res.Ranks, res.Method, *tr, *typ, res.HaloBytes)
	if *restart != "" {
		fmt.Fprintf(stdout, " restart=%d", res.StartStep)
	}
	if *checkpoint != "" {
		fmt.Fprintf(stdout, " checkpoints=%d", res.Checkpoints)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "energy=%.15g sumE2=%.17g sumH2=%.17g mcells=%.1f cpu_mcells=%.1f seconds=%.3f\n",
		res.Energy, res.SumE2, res.SumH2, cells/res.Seconds/1e6, cells/res.CPUSeconds/1e6, res.Seconds)
	return exitOK
}

// fdtdRun is what `hilo fdtd` asks of its ranks.
type fdtdRun struct {
	n, steps   int
	skew       bool
	method     string
	threads    int
	checkpoint string // write the state here at the end (and every `every` steps)
	every      int
	restart    string // restore the state from here first
}

// runFDTD runs the reference problem on comm and times the steps (not the
// checkpoints).
func runFDTD[T fdtd.Float](ctx context.Context, comm *transport.Comm, cfg fdtdRun) (fdtdResult, error) {
	n, steps := cfg.n, cfg.steps
	dims := [3]int{n, n, n}
	src := fdtd.RefSources(dims)
	if cfg.skew {
		src = fdtd.SkewSources(dims)
	}
	s, err := fdtd.New[T](ctx, comm, fdtd.Options{Dims: dims, Courant: 0.5, Method: cfg.method, Sources: src, Threads: cfg.threads})
	if err != nil {
		return fdtdResult{}, err
	}
	defer s.Close()
	if cfg.restart != "" {
		if err := s.Restore(ctx, cfg.restart); err != nil {
			return fdtdResult{}, err
		}
	}
	start := s.Steps()
	if err := comm.Barrier(ctx); err != nil {
		return fdtdResult{}, err
	}
	var wall, cpu float64
	checkpoints, written := 0, -1 // written: the step of the last checkpoint
	for end := start + steps; s.Steps() < end; {
		k := end - s.Steps()
		if cfg.every > 0 {
			k = min(k, cfg.every-s.Steps()%cfg.every)
		}
		cpu0, t0 := cpuSeconds(), time.Now()
		if err := s.Run(ctx, k); err != nil {
			return fdtdResult{}, err
		}
		wall, cpu = wall+time.Since(t0).Seconds(), cpu+cpuSeconds()-cpu0
		if cfg.every > 0 && s.Steps()%cfg.every == 0 {
			if err := s.Checkpoint(ctx, cfg.checkpoint); err != nil {
				return fdtdResult{}, err
			}
			checkpoints, written = checkpoints+1, s.Steps()
		}
	}
	if cfg.checkpoint != "" && written != s.Steps() {
		if err := s.Checkpoint(ctx, cfg.checkpoint); err != nil {
			return fdtdResult{}, err
		}
		checkpoints++
	}
	e, err := s.Energy(ctx)
	if err != nil {
		return fdtdResult{}, err
	}
	var haloBytes int64 // payload: the regions' bytes, without message headers
	for _, plan := range []*halo.Plan{s.EPlan(), s.HPlan()} {
		for _, p := range plan.Layout().Peers {
			for _, r := range p.Send {
				haloBytes += int64(r.Bytes)
			}
		}
	}
	mine := []float64{wall, cpu, float64(haloBytes)}
	maxes := make([]float64, 3)
	sums := make([]float64, 3)
	if err := comm.AllreduceFloat64(ctx, transport.Max, mine, maxes); err != nil {
		return fdtdResult{}, err
	}
	if err := comm.AllreduceFloat64(ctx, transport.Sum, mine, sums); err != nil {
		return fdtdResult{}, err
	}
	return fdtdResult{N: n, Steps: steps, StartStep: start, Checkpoints: checkpoints, Ranks: comm.Size(), Method: s.Decomposition().Method,
		Energy: e.Total, SumE2: e.E2, SumH2: e.H2,
		Seconds: maxes[0], CPUSeconds: sums[1], HaloBytes: int64(sums[2])}, nil
}

// cpuSeconds is the process's user + system CPU time.
func cpuSeconds() float64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
