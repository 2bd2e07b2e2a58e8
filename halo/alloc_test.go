package halo_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/transport"
)

// TestExchangeAllocs: Exchange allocates nothing, on any rank (AllocsPerRun
// counts the mallocs of the whole process, so the peers' too).
func TestExchangeAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	g := decomp.Grid{Dims: [3]int{16, 12, 10}, Periodic: [3]bool{true, false, true}}
	const p, runs = 3, 200
	d, err := decomp.Decompose(g, p, decomp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var allocs float64
	err = runRanks(t, p, func(ctx context.Context, c *transport.Comm) error {
		u, err := halo.NewField[float64](d, c.Rank(), decomp.UniformHalo(2, decomp.Corners))
		if err != nil {
			return err
		}
		w, err := halo.NewField[float32](d, c.Rank(), decomp.HaloSpec{Width: [3][2]int{{1, 0}, {0, 1}, {1, 1}}, Stencil: decomp.Faces})
		if err != nil {
			return err
		}
		pl, err := halo.NewPlan(ctx, c, halo.PlanOptions{}, u, w)
		if err != nil {
			return err
		}
		defer pl.Close()
		var xerr error
		step := func() {
			if err := pl.Exchange(ctx); err != nil && xerr == nil {
				xerr = err
			}
		}
		if err := c.Barrier(ctx); err != nil {
			return err
		}
		if c.Rank() == 0 {
			allocs = testing.AllocsPerRun(runs, step)
		} else {
			for range runs + 1 {
				step()
			}
		}
		if xerr != nil {
			return xerr
		}
		if s := pl.Stats(); s.Exchanges != runs+1 {
			return fmt.Errorf("stats: %d exchanges, want %d", s.Exchanges, runs+1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if allocs != 0 {
		t.Errorf("Exchange: %v allocs per run, want 0", allocs)
	}
}
