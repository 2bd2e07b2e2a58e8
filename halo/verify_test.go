package halo_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/transport"
)

var stencils = []decomp.Stencil{decomp.Faces, decomp.Edges, decomp.Corners}

// widthSets are halo widths per axis and side: uniform 1-3, asymmetric and
// one-sided, and none along an axis.
var widthSets = [][3][2]int{
	{{1, 1}, {1, 1}, {1, 1}},
	{{2, 2}, {2, 2}, {2, 2}},
	{{3, 3}, {3, 3}, {3, 3}},
	{{0, 1}, {1, 0}, {2, 1}},
	{{1, 2}, {0, 3}, {1, 0}},
	{{3, 0}, {2, 1}, {0, 2}},
	{{1, 1}, {0, 0}, {2, 2}},
}

// fieldMix is the set of fields of case i: one to three fields of
// different specs and element types.
func fieldMix(i int) []fieldSpec {
	spec := func(k int) decomp.HaloSpec {
		return decomp.HaloSpec{Width: widthSets[k%len(widthSets)], Stencil: stencils[k%len(stencils)]}
	}
	dtypes := []string{"f64", "f32", "c128"}
	n := 1 + i%3
	var out []fieldSpec
	for k := range n {
		out = append(out, fieldSpec{spec: spec(i + 3*k), dtype: dtypes[(i+k)%3], pad: []int{0, 4}[(i+k)%2]})
	}
	return out
}

// keep says whether case i of a matrix runs: all do, except under the race
// detector, where every third one does (still every value of every
// dimension, as the strides are coprime to the dimensions' sizes).
func keep(i int) bool { return !raceEnabled || i%3 == 0 }

func periodicCombo(i int) [3]bool { return [3]bool{i&1 != 0, i&2 != 0, i&4 != 0} }

func runVerify(t *testing.T, d *decomp.Decomposition, fss []fieldSpec) {
	t.Helper()
	err := runRanks(t, d.Ranks(), func(ctx context.Context, c *transport.Comm) error {
		return verifyOn(ctx, c, d, fss)
	})
	if err != nil {
		t.Fatalf("%v %s P=%d fields %+v: %v", d.Grid, d.Method, d.Ranks(), fss, err)
	}
}

// TestVerifyMethodsRanks covers every method with every rank count and
// every combination of periodic axes, each case with its own widths,
// stencils, element types and number of fields (cycled so that every value
// of each appears with every method).
func TestVerifyMethodsRanks(t *testing.T) {
	ranks := []int{1, 2, 3, 5, 7, 8, 12, 13, 16, 27}
	i := 0
	for _, m := range decomp.Methods() {
		for _, p := range ranks {
			for pc := range 8 {
				g := decomp.Grid{Dims: [3]int{12, 10, 9}, Periodic: periodicCombo(pc)}
				fss := fieldMix(i)
				i++
				if !keep(i) {
					continue
				}
				t.Run(fmt.Sprintf("%s/P%d/per%d", m, p, pc), func(t *testing.T) {
					d, err := decomp.Decompose(g, p, decomp.Options{Method: m})
					if err != nil {
						t.Fatal(err)
					}
					runVerify(t, d, fss)
				})
			}
		}
	}
}

// TestVerifySpecs covers every stencil with every width set and every
// combination of periodic axes, each with every method (P = 5), f64 and
// f32.
func TestVerifySpecs(t *testing.T) {
	for pc := range 8 {
		g := decomp.Grid{Dims: [3]int{12, 10, 9}, Periodic: periodicCombo(pc)}
		for mi, m := range decomp.Methods() {
			d, err := decomp.Decompose(g, 5, decomp.Options{Method: m})
			if err != nil {
				t.Fatal(err)
			}
			for wi, w := range widthSets {
				for si, s := range stencils {
					dtype := []string{"f64", "f32"}[(wi+si+pc+mi)%2]
					if !keep(pc + mi + wi + si) {
						continue
					}
					t.Run(fmt.Sprintf("per%d/%s/w%d/s%d", pc, m, wi, s), func(t *testing.T) {
						runVerify(t, d, []fieldSpec{{spec: decomp.HaloSpec{Width: w, Stencil: s}, dtype: dtype}})
					})
				}
			}
		}
	}
}

// TestVerifyThinPeriodic covers periodic axes 1 and 2 cells thick, where a
// halo wider than the grid wraps onto the rank itself several times over.
func TestVerifyThinPeriodic(t *testing.T) {
	dimsList := [][3]int{{12, 1, 9}, {12, 2, 9}, {1, 10, 2}, {2, 1, 9}, {1, 1, 1}, {2, 2, 2}}
	for di, dims := range dimsList {
		for pc := range 8 {
			g := decomp.Grid{Dims: dims, Periodic: periodicCombo(pc)}
			for _, p := range []int{1, 2, 3} {
				if p > g.Cells() {
					continue
				}
				m := decomp.Methods()[(di+pc+p)%len(decomp.Methods())]
				d, err := decomp.Decompose(g, p, decomp.Options{Method: m})
				if err != nil {
					t.Fatal(err)
				}
				fss := []fieldSpec{
					{spec: decomp.UniformHalo(3, decomp.Corners)},
					{spec: decomp.HaloSpec{Width: [3][2]int{{0, 1}, {2, 0}, {1, 3}}, Stencil: stencils[pc%3]}, dtype: "f32"},
				}
				t.Run(fmt.Sprintf("%v/per%d/%s/P%d", dims, pc, m, p), func(t *testing.T) {
					runVerify(t, d, fss)
				})
			}
		}
	}
}

// TestVerifyNoNeighbours: a rank that owns nothing, and ranks whose halo
// reaches no other rank (slabs along z, halo only along x).
func TestVerifyNoNeighbours(t *testing.T) {
	g := decomp.Grid{Dims: [3]int{6, 5, 4}, Periodic: [3]bool{true, true, false}}
	d, err := decomp.New(g, [][]decomp.Box{
		{{Lo: [3]int{0, 0, 0}, Hi: [3]int{6, 5, 2}}},
		{},
		{{Lo: [3]int{0, 0, 2}, Hi: [3]int{3, 5, 4}}, {Lo: [3]int{3, 0, 2}, Hi: [3]int{6, 5, 4}}},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	runVerify(t, d, []fieldSpec{{spec: decomp.UniformHalo(2, decomp.Corners)}, {spec: decomp.UniformHalo(1, decomp.Faces), dtype: "f32"}})

	xOnly := decomp.HaloSpec{Width: [3][2]int{{1, 2}, {0, 0}, {0, 0}}, Stencil: decomp.Corners}
	d2, err := decomp.Decompose(decomp.Grid{Dims: [3]int{6, 6, 12}, Periodic: [3]bool{true, false, false}}, 3, decomp.Options{Method: decomp.MethodSlab})
	if err != nil {
		t.Fatal(err)
	}
	err = runRanks(t, 3, func(ctx context.Context, c *transport.Comm) error {
		f, err := halo.NewField[float64](d2, c.Rank(), xOnly)
		if err != nil {
			return err
		}
		p, err := halo.NewPlan(ctx, c, halo.PlanOptions{}, f)
		if err != nil {
			return err
		}
		if n := len(p.Layout().Peers); n != 0 {
			return fmt.Errorf("rank %d has %d peers, want none", c.Rank(), n)
		}
		return halo.Verify(ctx, p)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPlanMismatch: ranks that build plans from different specs fail with
// ErrMismatch rather than unpack garbage.
func TestPlanMismatch(t *testing.T) {
	g := decomp.Grid{Dims: [3]int{8, 8, 8}}
	d, err := decomp.Decompose(g, 2, decomp.Options{Method: decomp.MethodBlock})
	if err != nil {
		t.Fatal(err)
	}
	err = runRanks(t, 2, func(ctx context.Context, c *transport.Comm) error {
		// Same sizes on the wire, different element types: only the hash
		// tells them apart.
		var f halo.AnyField
		var err error
		if c.Rank() == 0 {
			f, err = halo.NewField[float64](d, 0, decomp.UniformHalo(1, decomp.Faces))
		} else {
			f, err = halo.NewField[float32](d, 1, decomp.UniformHalo(2, decomp.Faces))
		}
		if err != nil {
			return err
		}
		p, err := halo.NewPlan(ctx, c, halo.PlanOptions{}, f)
		if err != nil {
			return err
		}
		defer p.Close()
		if err := p.Start(ctx); err != nil {
			return err
		}
		err = p.Wait(ctx)
		if !errors.Is(err, halo.ErrMismatch) {
			return fmt.Errorf("Wait = %v, want ErrMismatch", err)
		}
		if err := p.Start(ctx); !errors.Is(err, halo.ErrState) {
			return fmt.Errorf("Start after failure = %v, want ErrState", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
