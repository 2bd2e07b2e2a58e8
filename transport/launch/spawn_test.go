package launch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/launch"
	"github.com/hilo-hpc/hilo/transport/launch/launchtest"
)

// TestRankProgram is the rank the process tests start: this test binary
// re-executed with RANKTEST_MODE set.
func TestRankProgram(t *testing.T) {
	mode := os.Getenv(launchtest.ModeVar)
	if mode == "" {
		t.Skip("run as a rank by the other tests")
	}
	os.Exit(launchtest.Run(mode))
}

// TestMainBare is a program built on launch.Main, started bare with "-n 3"
// by TestMainSpawnsItself.
func TestMainBare(t *testing.T) {
	if os.Getenv("MAINBARE") == "" {
		t.Skip("run by TestMainSpawnsItself")
	}
	if os.Getenv("HILO_RANK") == "" {
		os.Args = []string{os.Args[0], "-test.run=^TestMainBare$", "-n", "3"}
	}
	launch.Main(func(ctx context.Context, c *transport.Comm) error {
		if err := launchtest.Check(ctx, c); err != nil {
			return err
		}
		fmt.Printf("ok rank %d of %d args %q\n", c.Rank(), c.Size(), os.Args[1:])
		return nil
	})
}

func TestMainSpawnsItself(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestMainBare$")
	cmd.Env = append(os.Environ(), "MAINBARE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for r := range 3 {
		want := fmt.Sprintf("[%d] ok rank %d of 3 args [\"-test.run=^TestMainBare$\"]\n", r, r)
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestSpawn(t *testing.T) {
	t.Setenv(launchtest.ModeVar, "ring")
	var out, errb bytes.Buffer
	pids := map[int]int{}
	err := launch.Spawn(context.Background(), launch.SpawnConfig{Ranks: 3, Stdout: &out, Stderr: &errb,
		Started: func(r, pid int) { pids[r] = pid }}, os.Args[0], "-test.run=^TestRankProgram$")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out.String(), errb.String())
	}
	if len(pids) != 3 {
		t.Errorf("started %v", pids)
	}
	for r := range 3 {
		if !strings.Contains(out.String(), fmt.Sprintf("[%d] ok rank %d of 3 via hilo kinds ", r, r)) {
			t.Errorf("rank %d missing in\n%s", r, out.String())
		}
	}
}

// TestOversubscribedRing: 16 processes on this 2-core machine finish 1,000
// rounds of a ring exchange plus an Allreduce, checked every round. Ranks
// that spin only briefly before sleeping on a futex keep this at seconds
// where busy-polling MPIs take minutes; the time is logged, and the guard is
// generous so a loaded machine does not fail it.
func TestOversubscribedRing(t *testing.T) {
	if testing.Short() {
		t.Skip("16 processes")
	}
	t.Setenv(launchtest.ModeVar, "ring1000")
	var out, errb bytes.Buffer
	start := time.Now()
	err := launch.Spawn(context.Background(), launch.SpawnConfig{Ranks: 16, Timeout: 3 * time.Minute,
		Stdout: &out, Stderr: &errb}, os.Args[0], "-test.run=^TestRankProgram$")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "ring1000 ok: 16 ranks") {
		t.Fatalf("output:\n%s", out.String())
	}
	t.Logf("16 ranks, 1000 rounds of ring + allreduce: %v in all (%s)", time.Since(start).Round(time.Millisecond),
		strings.TrimSpace(out.String()))
}

func TestSpawnTimeout(t *testing.T) {
	t.Setenv(launchtest.ModeVar, "hang")
	var out, errb bytes.Buffer
	start := time.Now()
	// Rank 1 hangs; rank 0's rendezvous timeout is longer than the job's.
	err := launch.Spawn(context.Background(), launch.SpawnConfig{Ranks: 2, Timeout: 500 * time.Millisecond, InitTimeout: time.Minute,
		Stdout: &out, Stderr: &errb}, os.Args[0], "-test.run=^TestRankProgram$")
	if !errors.Is(err, launch.ErrJobTimeout) || launch.ExitCode(err) != 124 {
		t.Errorf("err %v, exit code %d", err, launch.ExitCode(err))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v", took)
	}
	if !strings.Contains(errb.String(), "timeout after 500ms: killing 2 rank(s)") {
		t.Errorf("stderr:\n%s", errb.String())
	}
}

func TestExitCode(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{&launch.RankError{Rank: 1, Status: 3}, 3},
		{&launch.RankError{Rank: 1, Signal: 9}, 137},
		{&launch.RankError{Rank: 1, Err: errors.New("exec")}, 1},
		{fmt.Errorf("x: %w", launch.ErrJobTimeout), 124},
		{&launch.SignalError{Signal: os.Interrupt}, 130},
		{errors.New("other"), 1},
	}
	for _, c := range cases {
		if got := launch.ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	if s := (&launch.RankError{Rank: 2, Status: 3}).Error(); s != "rank 2 exited with status 3" {
		t.Errorf("%q", s)
	}
	if s := (&launch.RankError{Rank: 1, Signal: 9}).Error(); s != "rank 1 killed by signal 9 (killed)" {
		t.Errorf("%q", s)
	}
}

// A program that spawns itself again from every rank is stopped.
func TestSpawnDepth(t *testing.T) {
	err := launch.Spawn(context.Background(), launch.SpawnConfig{Ranks: 2, Env: []string{"HILO_SPAWN_DEPTH=3"}}, "/bin/true")
	if err == nil || !strings.Contains(err.Error(), "levels deep") {
		t.Errorf("depth 3: %v", err)
	}
	var out bytes.Buffer
	t.Setenv(launchtest.ModeVar, "empty")
	err = launch.Spawn(context.Background(), launch.SpawnConfig{Ranks: 1, Env: append(os.Environ(), "HILO_SPAWN_DEPTH=2"), Stdout: &out, Stderr: &out},
		os.Args[0], "-test.run=^TestRankProgram$")
	if err != nil {
		t.Errorf("depth 2: %v\n%s", err, out.String())
	}
}
