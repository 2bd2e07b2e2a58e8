package main

import (
	"context"
	"flag"
	"fmt"
	"io"
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
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: hilo fdtd -ref N [-steps K] [-skew] [-ranks P] [-method M] [-transport shm|tcp] [-type float64|float32] [-json]\n\n"+
			"Runs the reference problem of bench/fdtd (3D Yee, PEC box, S = 0.5, a Gaussian soft source)\n"+
			"in P ranks it spawns and prints energy=Σ E²+Σ H² (%%.15g) and mcells= (N³·K / wall seconds / 1e6,\n"+
			"one cell-update = six components); cpu_mcells= uses the ranks' summed process CPU time.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
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
	}
	job := spawnedJob{command: []string{"fdtd"}, ranks: *ranks, transport: *tr, timeout: time.Hour, args: args, stderr: stderr,
		body: func(ctx context.Context, comm *transport.Comm) (any, error) {
			if *typ == "float32" {
				return runFDTD[float32](ctx, comm, *n, *steps, *skew, *method)
			}
			return runFDTD[float64](ctx, comm, *n, *steps, *skew, *method)
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
	fmt.Fprintf(stdout, "hilo fdtd: %s N=%d K=%d ranks=%d method=%s transport=%s type=%s halo=%d B/step\n",
		variant, res.N, res.Steps, res.Ranks, res.Method, *tr, *typ, res.HaloBytes)
	fmt.Fprintf(stdout, "energy=%.15g sumE2=%.17g sumH2=%.17g mcells=%.1f cpu_mcells=%.1f seconds=%.3f\n",
		res.Energy, res.SumE2, res.SumH2, cells/res.Seconds/1e6, cells/res.CPUSeconds/1e6, res.Seconds)
	return exitOK
}

// runFDTD runs the reference problem on comm and times the steps.
func runFDTD[T fdtd.Float](ctx context.Context, comm *transport.Comm, n, steps int, skew bool, method string) (fdtdResult, error) {
	dims := [3]int{n, n, n}
	src := fdtd.RefSources(dims)
	if skew {
		src = fdtd.SkewSources(dims)
	}
	s, err := fdtd.New[T](ctx, comm, fdtd.Options{Dims: dims, Courant: 0.5, Method: method, Sources: src})
	if err != nil {
		return fdtdResult{}, err
	}
	defer s.Close()
	if err := comm.Barrier(ctx); err != nil {
		return fdtdResult{}, err
	}
	cpu0 := cpuSeconds()
	t0 := time.Now()
	if err := s.Run(ctx, steps); err != nil {
		return fdtdResult{}, err
	}
	wall, cpu := time.Since(t0).Seconds(), cpuSeconds()-cpu0
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
	return fdtdResult{N: n, Steps: steps, Ranks: comm.Size(), Method: s.Decomposition().Method,
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
