package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/hilo-hpc/hilo/transport/inproc"
)

// ranks runs the ranks of a test as goroutines joined in memory.
var ranks = inproc.New

// TestHeatProcesses runs the program as a user does, as 3 processes it
// spawns itself, and checks it agrees with the goroutine ranks.
func TestHeatProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and spawns the program")
	}
	bin := t.TempDir() + "/heat"
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-n", "3", "-size", "16", "-steps", "20")
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("heat -n 3: %v\n%s", err, out)
	}
	comms, err := ranks(3)
	if err != nil {
		t.Fatal(err)
	}
	heats := make([]float64, 3)
	var wg sync.WaitGroup
	for r, c := range comms {
		wg.Go(func() {
			defer c.Close()
			heats[r], _ = run(context.Background(), c, 16, 20, "hilbert")
		})
	}
	wg.Wait()
	_, after, ok := strings.Cut(string(out), "total heat ")
	var printed float64
	if _, err := fmt.Sscanf(after, "%f", &printed); !ok || err != nil {
		t.Fatalf("no total heat in %q", out)
	}
	if math.Abs(printed-heats[0]) > 1e-9*heats[0] { // printed with 9 decimals
		t.Errorf("processes print %v, goroutine ranks give %v", printed, heats[0])
	}
	if !strings.Contains(string(out), "3 ranks, 16^3 cells, 20 steps") {
		t.Errorf("output %q", out)
	}
}

// TestHeatRanksAgree: the total heat after 20 steps is the same (to the
// rounding of the final sum, whose order depends on the ranks) on 1, 3 and
// 8 ranks and with every method, and below the initial heat (the boundary
// is cold).
func TestHeatRanksAgree(t *testing.T) {
	const size, steps = 16, 20
	ref := math.NaN()
	for _, n := range []int{1, 3, 8} {
		for _, m := range []string{"hilbert", "block", "slab", "rcb", "morton", "sfc"} {
			comms, err := ranks(n)
			if err != nil {
				t.Fatal(err)
			}
			heats := make([]float64, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for r, c := range comms {
				wg.Go(func() {
					defer c.Close()
					heats[r], errs[r] = run(context.Background(), c, size, steps, m)
				})
			}
			wg.Wait()
			for r := range n {
				if errs[r] != nil {
					t.Fatal(errs[r])
				}
				if heats[r] != heats[0] {
					t.Fatalf("ranks disagree: %v", heats)
				}
			}
			if math.IsNaN(ref) {
				ref = heats[0]
				if ref <= 0 || ref >= 8*8*8 {
					t.Fatalf("total heat %v, initial 512", ref)
				}
			}
			if math.Abs(heats[0]-ref) > 1e-9*ref {
				t.Errorf("%d ranks, %s: heat %v, 1 rank %v", n, m, heats[0], ref)
			}
		}
	}
}
