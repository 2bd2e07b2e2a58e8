package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/solvers/fdtd"
	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/launch"
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

// fdtdResultEnv names the file a spawned rank 0 writes its result to (outside
// HILO_*, which the launcher resets).
const fdtdResultEnv = "HILOFDTD_RESULT_FILE"

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
	if path := os.Getenv(fdtdResultEnv); path != "" {
		return fdtdRank(path, *n, *steps, *skew, *method, *typ, stderr)
	}

	res, status := spawnFDTD(args, *ranks, *tr, stderr)
	if status != exitOK {
		return status
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

// spawnFDTD starts the ranks (this executable again, with the same flags)
// and reads rank 0's result.
func spawnFDTD(args []string, ranks int, tr string, stderr io.Writer) (fdtdResult, int) {
	var res fdtdResult
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "hilo fdtd:", err)
		return res, exitFail
	}
	f, err := os.CreateTemp("", "hilo-fdtd-*.json")
	if err != nil {
		fmt.Fprintln(stderr, "hilo fdtd:", err)
		return res, exitFail
	}
	f.Close()
	defer os.Remove(f.Name())
	sigs, stop := launch.ForwardSignals()
	defer stop()
	cfg := launch.SpawnConfig{Ranks: ranks, Transport: tr, Timeout: time.Hour,
		Env: append(os.Environ(), fdtdResultEnv+"="+f.Name()), Stdout: stderr, Stderr: stderr, Signals: sigs}
	if err := launch.Spawn(context.Background(), cfg, exe, append([]string{"fdtd"}, args...)...); err != nil {
		fmt.Fprintln(stderr, "hilo fdtd:", err)
		return res, launch.ExitCode(err)
	}
	data, err := os.ReadFile(f.Name())
	if err == nil {
		err = json.Unmarshal(data, &res)
	}
	if err != nil {
		fmt.Fprintln(stderr, "hilo fdtd: reading rank 0's result:", err)
		return res, exitFail
	}
	return res, exitOK
}

// fdtdRank runs one rank of the job and, on rank 0, writes the result.
func fdtdRank(resultPath string, n, steps int, skew bool, method, typ string, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	comm, err := launch.Init(ctx, launch.Options{})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	defer comm.Close()
	run := runFDTD[float64]
	if typ == "float32" {
		run = runFDTD[float32]
	}
	res, err := run(ctx, comm, n, steps, skew, method)
	if err != nil {
		fmt.Fprintf(stderr, "rank %d: %v\n", comm.Rank(), err)
		return exitFail
	}
	if comm.Rank() != 0 {
		return exitOK
	}
	data, err := json.Marshal(res)
	if err == nil {
		err = os.WriteFile(resultPath, data, 0o600)
	}
	if err != nil {
		fmt.Fprintln(stderr, "rank 0:", err)
		return exitFail
	}
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
