package main

import (
	"context"
	"math"
	"sync"
	"testing"
)

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
