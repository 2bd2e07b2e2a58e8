package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hilo-hpc/hilo/bench/pingpong"
	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/launch"
)

// cmdBench runs a benchmark in ranks it spawns itself (or, started by a
// launcher, as one of them).
func cmdBench(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" {
		fmt.Fprintf(stderr, "usage: hilo bench pingpong|halo [flags]   ('hilo bench KIND -h' for the flags)\n")
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	switch args[0] {
	case "pingpong":
		return benchPingpong(args[1:], stdout, stderr)
	case "halo":
		return benchHalo(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "hilo bench: unknown benchmark %q (want pingpong or halo)\n", args[0])
	return exitUsage
}

// rankResultEnv names the file a spawned rank 0 writes its result to. It is
// outside HILO_*, which the launcher resets for the ranks it starts.
const rankResultEnv = "HILOJOB_RESULT_FILE"

// spawnedJob is a command that runs its work in ranks it spawns itself (the
// hilo executable again, with the same command and flags): rank 0's result
// is written as JSON to the file the spawning process reads back, so the
// ranks' own output (prefixed by rank) never mixes with the result.
type spawnedJob struct {
	command   []string // the subcommand path the ranks re-run, e.g. {"bench", "halo"}
	ranks     int
	transport string
	timeout   time.Duration
	args      []string // the command's own flags, passed to the ranks
	stderr    io.Writer
	body      func(ctx context.Context, comm *transport.Comm) (any, error)
}

// run spawns the ranks and decodes rank 0's result into out; inside one of
// the ranks it runs the body instead. filled says whether out now holds the
// result to print; otherwise the caller returns status.
func (j spawnedJob) run(out any) (status int, filled bool) {
	if resultPath := os.Getenv(rankResultEnv); resultPath != "" {
		return j.rank(resultPath), false
	}
	label := "hilo " + strings.Join(j.command, " ") + ":"
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(j.stderr, label, err)
		return exitFail, false
	}
	f, err := os.CreateTemp("", "hilo-bench-*.json")
	if err != nil {
		fmt.Fprintln(j.stderr, label, err)
		return exitFail, false
	}
	f.Close()
	defer os.Remove(f.Name())
	env := append(os.Environ(), rankResultEnv+"="+f.Name())
	sigs, stop := launch.ForwardSignals()
	defer stop()
	cfg := launch.SpawnConfig{Ranks: j.ranks, Transport: j.transport, Timeout: j.timeout,
		Env: env, Stdout: j.stderr, Stderr: j.stderr, Signals: sigs}
	args := append(slices.Clone(j.command), j.args...)
	if err := launch.Spawn(context.Background(), cfg, exe, args...); err != nil {
		fmt.Fprintln(j.stderr, label, err)
		return launch.ExitCode(err), false
	}
	data, err := os.ReadFile(f.Name())
	if err == nil {
		err = json.Unmarshal(data, out)
	}
	if err != nil {
		fmt.Fprintln(j.stderr, label, "reading rank 0's result:", err)
		return exitFail, false
	}
	return exitOK, true
}

// rank runs the body as one rank of the spawned job.
func (j spawnedJob) rank(resultPath string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	comm, err := launch.Init(ctx, launch.Options{})
	if err != nil {
		fmt.Fprintln(j.stderr, err)
		return exitFail
	}
	defer comm.Close()
	res, err := j.body(ctx, comm)
	if err != nil {
		fmt.Fprintf(j.stderr, "rank %d: %v\n", comm.Rank(), err)
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
		fmt.Fprintln(j.stderr, "rank 0:", err)
		return exitFail
	}
	return exitOK
}

func benchPingpong(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hilo bench pingpong", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tr := fs.String("transport", "shm", "medium between the two ranks: shm or tcp")
	sizes := fs.String("sizes", "8:4194304", "message sizes LO:HI (LO, then 16 B to HI in powers of 4)")
	rounds := fs.Int("rounds", 11, "measured rounds per size (the median is reported)")
	asJSON := fs.Bool("json", false, "print one JSON row per size: {bytes, latency_us, bandwidth_mbs}")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: hilo bench pingpong [-transport shm|tcp] [-sizes LO:HI] [-rounds R] [-json]\n\n"+
			"One-way latency (half a round trip) and window bandwidth between two ranks it spawns,\n"+
			"as the OSU micro-benchmarks measure them (bench/mpi/pingpong.c is the MPI twin).\n\n")
		fs.PrintDefaults()
	}
	if status, ok := parseArgs(fs, args); !ok {
		return status
	}
	if *tr != "shm" && *tr != "tcp" {
		fmt.Fprintf(stderr, "hilo bench pingpong: -transport %q: want shm or tcp\n", *tr)
		return exitUsage
	}
	lo, hi, err := parseSizeRange(*sizes)
	if err != nil || *rounds < 1 {
		if err == nil {
			err = fmt.Errorf("-rounds %d: want at least 1", *rounds)
		}
		fmt.Fprintln(stderr, "hilo bench pingpong:", err)
		return exitUsage
	}
	job := spawnedJob{command: []string{"bench", "pingpong"}, ranks: 2, transport: *tr, timeout: 10 * time.Minute, args: args, stderr: stderr,
		body: func(ctx context.Context, comm *transport.Comm) (any, error) {
			return pingpong.Run(ctx, comm, pingpong.Options{Sizes: pingpong.SizesBetween(lo, hi), Rounds: *rounds})
		}}
	var rows []pingpong.Row
	if st, filled := job.run(&rows); !filled {
		return st
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range rows {
			enc.Encode(r)
		}
		return exitOK
	}
	fmt.Fprintf(stdout, "ping-pong over %s, 2 ranks (median of %d rounds)\n\n%10s  %12s  %14s\n", *tr, *rounds, "bytes", "latency µs", "bandwidth MB/s")
	for _, r := range rows {
		fmt.Fprintf(stdout, "%10d  %12.2f  %14.1f\n", r.Bytes, r.LatencyUS, r.BandwidthMBs)
	}
	return exitOK
}

// parseSizeRange reads "LO:HI" (bytes, both at least 1, LO <= HI).
func parseSizeRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, ":")
	if ok {
		lo, err = strconv.Atoi(a)
		if err == nil {
			hi, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || lo < 1 || hi < lo || hi > 1<<30 {
		return 0, 0, fmt.Errorf("-sizes %q: want LO:HI in bytes, 1 <= LO <= HI <= 1 GiB", s)
	}
	return lo, hi, nil
}
