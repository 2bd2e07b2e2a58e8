package launch

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/hilo-hpc/hilo/transport"
)

// SpawnSelf re-executes the running program as n ranks of one job on this
// machine, passing them args, exactly as `hilo run -n n` would (output
// prefixed by rank, SIGINT and SIGTERM forwarded, the job stopped when a
// rank fails). It returns Spawn's error; ExitCode turns it into a status.
func SpawnSelf(n int, args ...string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	sigs, stop := ForwardSignals()
	defer stop()
	return Spawn(context.Background(), SpawnConfig{Ranks: n, Signals: sigs}, exe, args...)
}

// CutRanksFlag removes a "-n N" (or "-n=N", "--n N") flag from args, up to
// a "--", and returns N (0 if absent) and the other arguments.
func CutRanksFlag(args []string) (n int, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "n" {
			continue
		}
		next := i + 1
		if !hasVal {
			if i+1 >= len(args) {
				return 0, nil, fmt.Errorf("launch: flag -n needs a number of ranks")
			}
			val, next = args[i+1], i+2
		}
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 || n >= maxRanks {
			return 0, nil, fmt.Errorf("launch: -n %q: want a number of ranks >= 1", val)
		}
		rest = append(append([]string(nil), args[:i]...), args[next:]...)
		return n, rest, nil
	}
	return 0, args, nil
}

// Main runs fn as one rank of a job and exits. Started by a launcher (hilo
// run, srun, mpirun, mpiexec: FromEnv finds one) it calls Init and fn with
// the Comm. Started bare with "-n N" among its arguments, the program
// re-executes itself as N ranks (SpawnSelf) and exits with the job's status,
// so `go run ./examples/x -n 4` needs no launcher; Main removes the flag from
// os.Args, so parse flags inside fn. Started bare without it, it runs fn as
// the only rank. fn's ctx is cancelled by SIGINT or SIGTERM. An error from
// Init or fn is printed with the rank and the process exits with status 1.
func Main(fn func(ctx context.Context, comm *transport.Comm) error) {
	os.Exit(mainStatus(fn))
}

func mainStatus(fn func(ctx context.Context, comm *transport.Comm) error) int {
	id, err := FromEnv(os.Environ())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if id.Launcher == LauncherNone {
		n, rest, err := CutRanksFlag(os.Args[1:])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		os.Args = append(os.Args[:1:1], rest...)
		if n > 1 {
			err := SpawnSelf(n, rest...)
			if err != nil {
				fmt.Fprintln(os.Stderr, "hilo:", err)
			}
			return ExitCode(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	comm, err := Init(ctx, Options{Identity: &id})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	err = fn(ctx, comm)
	comm.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "rank %d: %v\n", id.Rank, err)
		return 1
	}
	return 0
}
