package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hilo-hpc/hilo/transport/launch"
)

const runUsage = `usage: hilo run -n N [flags] [--] PROG [ARGS...]

Starts N ranks of PROG on this machine. Each rank finds its place in the job
in HILO_RANK, HILO_SIZE, HILO_LOCAL_RANK, HILO_LOCAL_SIZE, HILO_NODE and
HILO_JOB_ID, and meets the others through HILO_ROOT (or HILO_RENDEZVOUS),
authenticated with a fresh HILO_JOB_KEY (launch.Init reads them all). Every
output line is prefixed with its rank ("[3] ..."). SIGINT and SIGTERM are
forwarded to every rank. When a rank fails, hilo run says which and why,
stops the others and exits with that rank's status (128+signal if a signal
killed it); 124 when -timeout expired.

flags:
`

// cmdRun is `hilo run`: a launcher for the ranks of one job on this machine.
func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hilo run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg launch.SpawnConfig
	fs.IntVar(&cfg.Ranks, "n", 0, "number of ranks (required)")
	fs.StringVar(&cfg.Transport, "transport", "auto", "between ranks: auto (shared memory, else TCP), shm or tcp")
	fs.DurationVar(&cfg.Timeout, "timeout", 0, "kill every rank after this long (0: no limit)")
	fs.StringVar(&cfg.Rendezvous, "rendezvous", "root", "how ranks meet: root (rank 0's TCP address) or dir (a private directory)")
	fs.DurationVar(&cfg.InitTimeout, "init-timeout", 0, "ranks' rendezvous timeout, as HILO_TIMEOUT (0: their default, 60s)")
	fs.DurationVar(&cfg.KillGrace, "grace", 2*time.Second, "time the other ranks get to exit by themselves after a failure or a signal")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), runUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	prog := fs.Args()
	switch {
	case cfg.Ranks < 1:
		fmt.Fprintln(stderr, "hilo run: -n N (N >= 1) is required")
		return exitUsage
	case len(prog) == 0:
		fmt.Fprintln(stderr, "hilo run: no program to run")
		return exitUsage
	case cfg.Transport != "auto" && cfg.Transport != "shm" && cfg.Transport != "tcp":
		fmt.Fprintf(stderr, "hilo run: -transport %q: want auto, shm or tcp\n", cfg.Transport)
		return exitUsage
	case cfg.Rendezvous != "root" && cfg.Rendezvous != "dir":
		fmt.Fprintf(stderr, "hilo run: -rendezvous %q: want root or dir\n", cfg.Rendezvous)
		return exitUsage
	}
	cfg.Stdout, cfg.Stderr = stdout, stderr
	sigs, stop := launch.ForwardSignals()
	defer stop()
	cfg.Signals = sigs
	err := launch.Spawn(context.Background(), cfg, prog[0], prog[1:]...)
	var re *launch.RankError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &re):
		// Spawn has already said which rank failed and why.
	default:
		fmt.Fprintf(stderr, "hilo run: %v\n", err)
	}
	if code := launch.ExitCode(err); code != 0 {
		return code
	}
	return exitFail
}
