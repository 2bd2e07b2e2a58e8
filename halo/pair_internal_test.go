package halo

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// TestPairedPasses: the plans of two set-ups that have short-row regions in
// pairs (x faces sent to a peer that is the neighbour on both sides of a
// periodic x axis; the two sides of a local periodic wrap along x) do pair
// them, and Verify (the global array as oracle) passes for widths 1-3 (rows
// of one cell and short runs), several stencils and element types.
func TestPairedPasses(t *testing.T) {
	g := decomp.Grid{Dims: [3]int{12, 7, 6}, Periodic: [3]bool{true, true, true}}
	cutX, err := decomp.New(g, [][]decomp.Box{
		{{Lo: [3]int{0, 0, 0}, Hi: [3]int{6, 7, 6}}},
		{{Lo: [3]int{6, 0, 0}, Hi: [3]int{12, 7, 6}}},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	cutZ, err := decomp.New(g, [][]decomp.Box{
		{{Lo: [3]int{0, 0, 0}, Hi: [3]int{12, 7, 3}}},
		{{Lo: [3]int{0, 0, 3}, Hi: [3]int{12, 7, 6}}},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		d    *decomp.Decomposition
	}{{"messages", cutX}, {"local", cutZ}} {
		for _, w := range []int{1, 2, 3} {
			for _, st := range []decomp.Stencil{decomp.Faces, decomp.Corners} {
				t.Run(fmt.Sprintf("%s/w=%d/stencil=%d", tc.name, w, st), func(t *testing.T) {
					msgPairs, localPairs := verifyPaired(t, tc.d, decomp.UniformHalo(w, st))
					if tc.name == "messages" && msgPairs == 0 {
						t.Error("no region pairs in the messages")
					}
					if tc.name == "local" && localPairs == 0 {
						t.Error("no paired local copies")
					}
				})
			}
		}
	}
}

// verifyPaired runs Verify on both ranks of d with a float64 and a float32
// field and returns how many span pairs (sent and received) and paired
// local copies rank 0's plan has.
func verifyPaired(t *testing.T, d *decomp.Decomposition, spec decomp.HaloSpec) (msgPairs, localPairs int) {
	t.Helper()
	comms, err := inproc.New(d.Ranks())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range comms {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := make([]error, len(comms))
	plans := make([]*Plan, len(comms))
	var wg sync.WaitGroup
	for r, c := range comms {
		wg.Go(func() {
			u, err := NewField[float64](d, r, spec, Pad(4))
			if err != nil {
				errs[r] = err
				return
			}
			v, err := NewField[float32](d, r, spec)
			if err != nil {
				errs[r] = err
				return
			}
			p, err := NewPlan(ctx, c, PlanOptions{}, u, v)
			if err != nil {
				errs[r] = err
				return
			}
			plans[r] = p
			errs[r] = Verify(ctx, p)
		})
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	p := plans[0]
	for _, pp := range p.peers {
		for _, gs := range [][]group{pp.sendGroups, pp.recvGroups} {
			for _, g := range gs {
				for _, s := range g.spans {
					if s.pairNext {
						msgPairs++
					}
				}
			}
		}
	}
	for _, c := range p.local {
		if c.paired {
			localPairs++
		}
	}
	return msgPairs, localPairs
}

// BenchmarkPeriodicWrap: the local copies of a periodic wrap (rank 0 of a
// 2-rank block split of an n³ grid, periodic along every axis, 6 float64
// fields, halo 1, 6 faces): the x faces paired into one pass over the rows,
// and the y faces; one op is every copy of one exchange.
func BenchmarkPeriodicWrap(b *testing.B) {
	for _, n := range []int{64, 128} {
		b.Run(fmt.Sprintf("%d^3", n), func(b *testing.B) {
			g := decomp.Grid{Dims: [3]int{n, n, n}, Periodic: [3]bool{true, true, true}}
			d, err := decomp.Decompose(g, 2, decomp.Options{Method: decomp.MethodBlock})
			if err != nil {
				b.Fatal(err)
			}
			var fields []AnyField
			for range 6 {
				f, err := NewField[float64](d, 0, decomp.UniformHalo(1, decomp.Faces), Pad(8))
				if err != nil {
					b.Fatal(err)
				}
				f.Fill(func(x, y, z int) float64 { return float64(x + y + z) })
				fields = append(fields, f)
			}
			lay, err := NewLayout(fields...)
			if err != nil {
				b.Fatal(err)
			}
			local := localCopies(fields, lay.Local)
			var bytes int
			for _, c := range local {
				bytes += c.src.elems * 8
				if c.paired {
					bytes += c.src2.elems * 8
				}
			}
			b.SetBytes(int64(bytes))
			b.ReportAllocs()
			for b.Loop() {
				for i := range local {
					local[i].f.copyLocal(&local[i])
				}
			}
		})
	}
}
