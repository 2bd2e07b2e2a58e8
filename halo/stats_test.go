package halo_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/transport"
)

// TestStatsMatchMetrics: the bytes a plan receives per exchange, less the
// 8-byte header per message, are the halo bytes decomp.Metrics computes for
// the same spec (a second derivation of the same traffic); the plan's
// counters add up over several exchanges, and the medium is named.
func TestStatsMatchMetrics(t *testing.T) {
	g := decomp.Grid{Dims: [3]int{14, 11, 9}, Periodic: [3]bool{false, true, true}}
	spec := decomp.HaloSpec{Width: [3][2]int{{1, 2}, {2, 1}, {1, 0}}, Stencil: decomp.Edges}
	const p, nf, steps = 5, 3, 4
	d, err := decomp.Decompose(g, p, decomp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.Metrics(spec, nf, 8)
	if err != nil {
		t.Fatal(err)
	}
	err = runRanks(t, p, func(ctx context.Context, c *transport.Comm) error {
		var fields []halo.AnyField
		for range nf {
			f, err := halo.NewField[float64](d, c.Rank(), spec)
			if err != nil {
				return err
			}
			fields = append(fields, f)
		}
		pl, err := halo.NewPlan(ctx, c, halo.PlanOptions{}, fields...)
		if err != nil {
			return err
		}
		defer pl.Close()
		for range steps {
			if err := pl.Exchange(ctx); err != nil {
				return err
			}
		}
		s := pl.Stats()
		r := c.Rank()
		if got, want := int64(s.RecvBytes-8*s.RecvMsgs), m.HaloBytes[r]; got != want {
			return fmt.Errorf("rank %d receives %d halo bytes per exchange, Metrics says %d", r, got, want)
		}
		if s.RecvMsgs != m.Neighbours[r] {
			return fmt.Errorf("rank %d receives %d messages, Metrics lists %d neighbours", r, s.RecvMsgs, m.Neighbours[r])
		}
		var recv uint64
		for _, ps := range s.Peers {
			if ps.Kind != "inproc" {
				return fmt.Errorf("peer %d kind %q", ps.Peer, ps.Kind)
			}
			if ps.BytesRecv > 0 && ps.MsgsRecv != steps {
				return fmt.Errorf("peer %d: %d messages in %d steps", ps.Peer, ps.MsgsRecv, steps)
			}
			recv += ps.BytesRecv
		}
		if s.Exchanges != steps || recv != uint64(steps*s.RecvBytes) {
			return fmt.Errorf("%d exchanges, %d bytes received in all, %d per exchange", s.Exchanges, recv, s.RecvBytes)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
