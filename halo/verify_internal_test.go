package halo

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// TestVerifyCatchesFaults breaks a plan in several ways and checks that
// Verify notices on every rank, and names the cell on the broken one.
func TestVerifyCatchesFaults(t *testing.T) {
	g := decomp.Grid{Dims: [3]int{10, 8, 6}, Periodic: [3]bool{true, false, true}}
	d, err := decomp.Decompose(g, 3, decomp.Options{Method: decomp.MethodBlock})
	if err != nil {
		t.Fatal(err)
	}
	faults := map[string]func(p *Plan) bool{
		"drop a received region": func(p *Plan) bool {
			for _, pp := range p.recvs {
				g := &pp.recvGroups[0]
				g.spans = g.spans[:len(g.spans)-1]
				return true
			}
			return false
		},
		"unpack one cell off": func(p *Plan) bool {
			for _, pp := range p.recvs {
				pp.recvGroups[0].spans[0].start++
				return true
			}
			return false
		},
		"pack from the wrong row": func(p *Plan) bool {
			for _, pp := range p.sends {
				s := &pp.sendGroups[0].spans[0]
				s.start += s.sy
				return true
			}
			return false
		},
		"skip a local copy": func(p *Plan) bool {
			if len(p.local) == 0 {
				return false
			}
			p.local = p.local[1:]
			return true
		},
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			comms, err := inproc.New(3)
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
			errs := make([]error, 3)
			broke := make([]bool, 3)
			var wg sync.WaitGroup
			for r, c := range comms {
				wg.Go(func() {
					f, err := NewField[float64](d, r, decomp.UniformHalo(2, decomp.Corners), Name("u"))
					if err != nil {
						errs[r] = err
						return
					}
					p, err := NewPlan(ctx, c, PlanOptions{}, f)
					if err != nil {
						errs[r] = err
						return
					}
					if r == 1 {
						broke[r] = fault(p)
					}
					errs[r] = Verify(ctx, p)
				})
			}
			wg.Wait()
			if !broke[1] {
				t.Skip("fault does not apply to rank 1")
			}
			for r, err := range errs {
				if !errors.Is(err, ErrVerify) {
					t.Errorf("rank %d: Verify = %v, want ErrVerify", r, err)
				}
			}
			// The rank that reads wrong data names a cell; with a broken
			// sender, that is rank 1's peer.
			named := false
			for _, err := range errs {
				if err != nil && strings.Contains(err.Error(), "cell (") && strings.Contains(err.Error(), `"u"`) {
					named = true
				}
			}
			if !named {
				t.Errorf("no rank named the wrong cell: %v", errs)
			}
		})
	}
}
