package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/transport"
)

// haloResult is what `hilo bench halo` reports (and prints with -json).
type haloResult struct {
	Case      string  `json:"case"`
	Ranks     int     `json:"ranks"`
	Transport string  `json:"transport"`
	US        float64 `json:"us"` // median over rounds of the slowest rank's time per exchange
	// Bytes sent per exchange: the busiest rank's, and all ranks'.
	MaxRankBytes int64   `json:"max_rank_bytes"`
	TotalBytes   int64   `json:"total_bytes"`
	LocalBytes   int64   `json:"local_bytes"` // copied within ranks (periodic wrap, own boxes)
	BandwidthMBs float64 `json:"bandwidth_mbs"`
	// Mean per exchange over ranks, µs.
	PackUS   float64 `json:"pack_us"`
	WaitUS   float64 `json:"wait_us"`
	UnpackUS float64 `json:"unpack_us"`
	LocalUS  float64 `json:"local_us"`
	Rounds   int     `json:"rounds"`
}

func benchHalo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hilo bench halo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	gridFlag := fs.String("grid", "128x128x128", "grid NXxNYxNZ")
	ranks := fs.Int("ranks", 2, "number of ranks to spawn")
	method := fs.String("method", decomp.MethodHilbert, "decomposition method")
	fields := fs.Int("fields", 6, "number of fields exchanged together")
	typ := fs.String("type", "float64", "scalar type: float64 or float32")
	haloFlag := fs.String("halo", "1", "halo width W, or x-:x+,y-:y+,z-:z+")
	stencil := fs.Int("stencil", 6, "6, 18 or 26")
	periodic := fs.String("periodic", "", "periodic axes, e.g. xyz")
	tr := fs.String("transport", "shm", "medium between ranks: shm or tcp")
	rounds := fs.Int("rounds", 100, "measured exchanges (the median is reported)")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: hilo bench halo -grid NXxNYxNZ -ranks P [-method M] [-fields K] [-type float64|float32]\n"+
			"       [-halo W] [-stencil 6|18|26] [-periodic xyz] [-transport shm|tcp] [-rounds R] [-json]\n\n"+
			"Time per halo exchange in P ranks it spawns (median of rounds, slowest rank), bytes per\n"+
			"rank, effective bandwidth and the pack/wait/unpack split.\n\n")
		fs.PrintDefaults()
	}
	if status, ok := parseArgs(fs, args); !ok {
		return status
	}
	bad := func(err error) int {
		fmt.Fprintln(stderr, "hilo bench halo:", err)
		return exitUsage
	}
	dims, err := parseGrid(*gridFlag)
	if err != nil {
		return bad(err)
	}
	per, err := parsePeriodic(*periodic)
	if err != nil {
		return bad(err)
	}
	widths, err := parseHalo(*haloFlag)
	if err != nil {
		return bad(err)
	}
	spec := decomp.HaloSpec{Width: widths, Stencil: decomp.Stencil(*stencil)}
	if err := spec.Validate(); err != nil {
		return bad(err)
	}
	switch {
	case *tr != "shm" && *tr != "tcp":
		return bad(fmt.Errorf("-transport %q: want shm or tcp", *tr))
	case *typ != "float64" && *typ != "float32":
		return bad(fmt.Errorf("-type %q: want float64 or float32", *typ))
	case *fields < 1 || *fields > 64:
		return bad(fmt.Errorf("-fields %d: want 1..64", *fields))
	case *rounds < 1:
		return bad(fmt.Errorf("-rounds %d: want at least 1", *rounds))
	case !validMethod(*method):
		return bad(fmt.Errorf("-method %q: want one of %v", *method, decomp.Methods()))
	}
	g := decomp.Grid{Dims: dims, Periodic: per}
	if *ranks < 1 || *ranks > g.Cells() {
		return bad(fmt.Errorf("-ranks %d: want 1..%d", *ranks, g.Cells()))
	}
	name := fmt.Sprintf("%s P=%d %s %s K=%d %s halo=%s st=%d", *gridFlag, *ranks, *method, *tr, *fields, *typ, *haloFlag, *stencil)
	if *periodic != "" {
		name += " periodic=" + *periodic
	}
	job := spawnedJob{command: []string{"bench", "halo"}, ranks: *ranks, transport: *tr, timeout: 20 * time.Minute, args: args, stderr: stderr,
		body: func(ctx context.Context, comm *transport.Comm) (any, error) {
			d, err := decomp.Decompose(g, comm.Size(), decomp.Options{Method: *method})
			if err != nil {
				return nil, err
			}
			var fs []halo.AnyField
			for range *fields {
				var f halo.AnyField
				var err error
				if *typ == "float64" {
					f, err = halo.NewField[float64](d, comm.Rank(), spec, halo.Pad(8))
				} else {
					f, err = halo.NewField[float32](d, comm.Rank(), spec, halo.Pad(16))
				}
				if err != nil {
					return nil, err
				}
				fs = append(fs, f)
			}
			plan, err := halo.NewPlan(ctx, comm, halo.PlanOptions{}, fs...)
			if err != nil {
				return nil, err
			}
			defer plan.Close()
			res, err := timeExchanges(ctx, comm, plan, *rounds)
			if err != nil {
				return nil, err
			}
			res.Case, res.Transport = name, *tr
			return res, nil
		}}
	var res haloResult
	if st, filled := job.run(&res); !filled {
		return st
	}
	if *asJSON {
		return encodeOrFail(stdout, stderr, res)
	}
	fmt.Fprintf(stdout, "halo exchange: %s\n\n", res.Case)
	fmt.Fprintf(stdout, "time per exchange   %.1f µs (median of %d, slowest rank)\n", res.US, res.Rounds)
	fmt.Fprintf(stdout, "bytes per exchange  %s sent by the busiest rank, %s by all, %s copied locally\n",
		byteSize(res.MaxRankBytes), byteSize(res.TotalBytes), byteSize(res.LocalBytes))
	fmt.Fprintf(stdout, "bandwidth           %.0f MB/s (busiest rank's bytes / time)\n", res.BandwidthMBs)
	fmt.Fprintf(stdout, "split (mean rank)   pack %.1f µs, wait %.1f µs, unpack %.1f µs, local copies %.1f µs\n",
		res.PackUS, res.WaitUS, res.UnpackUS, res.LocalUS)
	return exitOK
}

// timeExchanges runs a few warm-up exchanges, then rounds timed ones, each
// between barriers, and reduces the figures over ranks.
func timeExchanges(ctx context.Context, comm *transport.Comm, plan *halo.Plan, rounds int) (haloResult, error) {
	for range 5 {
		if err := plan.Exchange(ctx); err != nil {
			return haloResult{}, err
		}
	}
	before := plan.Stats()
	times := make([]float64, rounds)
	for i := range rounds {
		if err := comm.Barrier(ctx); err != nil {
			return haloResult{}, err
		}
		t0 := time.Now()
		if err := plan.Exchange(ctx); err != nil {
			return haloResult{}, err
		}
		times[i] = time.Since(t0).Seconds()
	}
	slowest := make([]float64, rounds)
	if err := comm.AllreduceFloat64(ctx, transport.Max, times, slowest); err != nil {
		return haloResult{}, err
	}
	st := plan.Stats()
	n := float64(rounds)
	mine := []float64{
		float64(st.SendBytes), float64(st.LocalBytes),
		(st.Pack - before.Pack).Seconds() / n, (st.Wait - before.Wait).Seconds() / n,
		(st.Unpack - before.Unpack).Seconds() / n, (st.Local - before.Local).Seconds() / n,
	}
	sums := make([]float64, len(mine))
	maxes := make([]float64, len(mine))
	if err := comm.AllreduceFloat64(ctx, transport.Sum, mine, sums); err != nil {
		return haloResult{}, err
	}
	if err := comm.AllreduceFloat64(ctx, transport.Max, mine, maxes); err != nil {
		return haloResult{}, err
	}
	slices.Sort(slowest)
	med := slowest[rounds/2]
	p := float64(comm.Size())
	return haloResult{
		Ranks: comm.Size(), US: med * 1e6, Rounds: rounds,
		MaxRankBytes: int64(maxes[0]), TotalBytes: int64(sums[0]), LocalBytes: int64(sums[1]),
		BandwidthMBs: maxes[0] / med / 1e6,
		PackUS:       sums[2] / p * 1e6, WaitUS: sums[3] / p * 1e6, UnpackUS: sums[4] / p * 1e6, LocalUS: sums[5] / p * 1e6,
	}, nil
}

func encodeOrFail(stdout, stderr io.Writer, v any) int {
	if err := json.NewEncoder(stdout).Encode(v); err != nil {
		fmt.Fprintln(stderr, "hilo:", err)
		return exitFail
	}
	return exitOK
}
