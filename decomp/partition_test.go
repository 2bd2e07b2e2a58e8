package decomp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkTiling asserts that d's boxes cover every cell exactly once and
// returns the per-cell owners.
func checkTiling(t *testing.T, d *Decomposition) []int32 {
	t.Helper()
	own := qualOwners(d)
	for i, o := range own {
		if o < 0 {
			t.Fatalf("%s %v/%d: cell %d covered %s", d.Method, d.Grid.Dims, d.Ranks(), i,
				map[int32]string{-1: "never", -2: "twice"}[o])
		}
	}
	return own
}

func TestEveryMethodTilesTheGrid(t *testing.T) {
	grids := []Grid{
		{Dims: [3]int{1, 1, 1}},
		{Dims: [3]int{5, 1, 1}},
		{Dims: [3]int{7, 3, 1}},
		{Dims: [3]int{2, 2, 2}},
		{Dims: [3]int{9, 7, 5}, Periodic: [3]bool{true, false, true}},
		{Dims: [3]int{16, 16, 16}, Periodic: [3]bool{true, true, true}},
		{Dims: [3]int{33, 17, 9}},
		{Dims: [3]int{1, 40, 3}},
	}
	for _, g := range grids {
		counts := []int{1, 2, 3, 5, 7, 8, 12, 13, 16, 27, g.Cells() / 2, g.Cells() - 1, g.Cells()}
		for _, p := range counts {
			if p < 1 || p > g.Cells() {
				continue
			}
			for _, m := range Methods() {
				t.Run(fmt.Sprintf("%v/%d/%s", g.Dims, p, m), func(t *testing.T) {
					d, err := Decompose(g, p, Options{Method: m})
					if err != nil {
						t.Fatal(err)
					}
					if d.Ranks() != p || d.Method != m {
						t.Fatalf("got %d ranks method %q", d.Ranks(), d.Method)
					}
					own := checkTiling(t, d)
					cells := make([]int, p)
					for _, o := range own {
						cells[o]++
					}
					for r := range p {
						if cells[r] == 0 || cells[r] != d.Cells(r) {
							t.Fatalf("rank %d: %d cells painted, Cells says %d", r, cells[r], d.Cells(r))
						}
					}
					mean := float64(g.Cells()) / float64(p)
					switch {
					case m == MethodSlab || m == MethodSFC || m == MethodMorton || (m == MethodHilbert && mean >= 64):
						// exact cuts: every part within one cell of the mean
						for r, c := range cells {
							if math.Abs(float64(c)-mean) >= 1 {
								t.Errorf("rank %d has %d cells, mean %.2f", r, c, mean)
							}
						}
					case m == MethodHilbert:
						// parts of a few cells: connectivity repair may hand a rank a few stray cells
						for r, c := range cells {
							if float64(c) > 4*mean {
								t.Errorf("rank %d has %d cells, mean %.2f", r, c, mean)
							}
						}
					}
					if m == MethodHilbert || m == MethodRCB || m == MethodBlock {
						if comps := qualComponents(g, own, p); slices.Max(comps) != 1 {
							t.Errorf("a part has %d components", slices.Max(comps))
						}
					}
				})
			}
		}
	}
}

func TestHilbertEqualsBlockOnPowerOfTwoCubes(t *testing.T) {
	for _, n := range []int{8, 16, 32} {
		for _, p := range []int{2, 4, 8, 16, 32, 64} {
			g := Grid{Dims: [3]int{n, n, n}}
			h, err := Decompose(g, p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := Decompose(g, p, Options{Method: MethodBlock})
			hc, _ := qualCut(g, qualOwners(h), p)
			bc, _ := qualCut(g, qualOwners(b), p)
			if hc != bc {
				t.Errorf("%d^3/%d: hilbert cut %d, block %d", n, p, hc, bc)
			}
		}
	}
}

// The block factorization must be the best of all factorizations that fit,
// measured by brute-force cut counts of the boxes each would give.
func TestBlockFactorsAreOptimal(t *testing.T) {
	cases := []struct {
		g Grid
		p int
	}{
		{Grid{Dims: [3]int{64, 16, 16}}, 16},
		{Grid{Dims: [3]int{48, 24, 12}}, 72},
		{Grid{Dims: [3]int{30, 30, 30}, Periodic: [3]bool{true, false, false}}, 12},
		{Grid{Dims: [3]int{40, 20, 10}}, 24},
		{Grid{Dims: [3]int{16, 16, 4}}, 16},
	}
	f := &weightField{}
	for _, c := range cases {
		f.dims = c.g.Dims
		best, ok := blockFactors(c.g, c.p)
		if !ok {
			t.Fatalf("%v/%d: no factorization", c.g.Dims, c.p)
		}
		cutOf := func(p [3]int) int {
			boxes := make([][]Box, c.p)
			var cuts [3][]int
			for a := range 3 {
				cuts[a] = axisCuts(f, a, c.g.Dims[a], p[a])
			}
			for z := range p[2] {
				for y := range p[1] {
					for x := range p[0] {
						boxes[x+p[0]*(y+p[1]*z)] = []Box{{
							Lo: [3]int{cuts[0][x], cuts[1][y], cuts[2][z]},
							Hi: [3]int{cuts[0][x+1], cuts[1][y+1], cuts[2][z+1]}}}
					}
				}
			}
			d, err := New(c.g, boxes, 0)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := qualCut(c.g, qualOwners(d), c.p)
			return n
		}
		got := cutOf(best)
		for px := 1; px <= c.p; px++ {
			for py := 1; px*py <= c.p; py++ {
				if c.p%(px*py) != 0 {
					continue
				}
				p := [3]int{px, py, c.p / (px * py)}
				if p[0] > c.g.Dims[0] || p[1] > c.g.Dims[1] || p[2] > c.g.Dims[2] {
					continue
				}
				if other := cutOf(p); other < got {
					t.Errorf("%v/%d: chose %v with cut %d, but %v cuts %d", c.g.Dims, c.p, best, got, p, other)
				}
			}
		}
	}
}

func TestWeightsAreBalanced(t *testing.T) {
	g := Grid{Dims: [3]int{40, 30, 20}}
	rng := rand.New(rand.NewPCG(1, 2))
	w := make([]float64, g.Cells())
	for i := range w {
		x := i % 40
		w[i] = 0.5 + rng.Float64()
		if x < 10 { // a heavy region: four times the cost
			w[i] *= 4
		}
	}
	total := 0.0
	for _, v := range w {
		total += v
	}
	for _, m := range Methods() {
		for _, p := range []int{4, 7, 12} {
			d, err := Decompose(g, p, Options{Method: m, Weights: &Weights{Values: w}})
			if err != nil {
				t.Fatal(err)
			}
			own := checkTiling(t, d)
			load := make([]float64, p)
			for i, o := range own {
				load[o] += w[i]
			}
			ratio := slices.Max(load) / (total / float64(p))
			limit := 1.01
			if m == MethodBlock || m == MethodRCB { // whole planes only
				limit = 1.25
			}
			if ratio > limit {
				t.Errorf("%s/%d: max load %.4f x mean, want <= %.2f", m, p, ratio, limit)
			}
			// The unweighted partition of the same case is far off, so the
			// weights were really used.
			if m == MethodHilbert {
				u, _ := Decompose(g, p, Options{Method: m})
				uload := make([]float64, p)
				for i, o := range qualOwners(u) {
					uload[o] += w[i]
				}
				if slices.Max(uload)/(total/float64(p)) < 1.2 {
					t.Errorf("unweighted partition already balanced the weights; test is too weak")
				}
			}
		}
	}
}

func TestBrickWeights(t *testing.T) {
	g := Grid{Dims: [3]int{20, 20, 10}}
	// 4x4x2 bricks of 5x5x5; the brick at the origin costs 50x.
	w := make([]float64, 4*4*2)
	for i := range w {
		w[i] = 1
	}
	w[0] = 50
	d, err := Decompose(g, 6, Options{Weights: &Weights{Brick: [3]int{5, 5, 5}, Values: w}})
	if err != nil {
		t.Fatal(err)
	}
	own := checkTiling(t, d)
	load := make([]float64, 6)
	for i, o := range own {
		x, y, z := i%20, i/20%20, i/400
		load[o] += w[x/5+4*(y/5+4*(z/5))] / 125
	}
	// Exact cuts are off by at most one cell's weight (a heavy cell is 50/125).
	mean := (50 + 31.0) / 6
	if slices.Max(load) > mean+50.0/125 || slices.Min(load) < mean-50.0/125 {
		t.Errorf("loads %v, mean %.3f", load, mean)
	}
}

func TestNodeAwarePlacement(t *testing.T) {
	g := Grid{Dims: [3]int{48, 48, 48}}
	const p, k = 24, 4
	aware, err := Decompose(g, p, Options{RanksPerNode: k})
	if err != nil {
		t.Fatal(err)
	}
	own := checkTiling(t, aware)
	// every node's region is one connected piece
	nodeOwn := make([]int32, len(own))
	for i, o := range own {
		nodeOwn[i] = o / k
	}
	if comps := qualComponents(g, nodeOwn, p/k); slices.Max(comps) != 1 {
		t.Errorf("a node's region has %d pieces", slices.Max(comps))
	}
	// and the traffic between nodes is no more than a node-blind partition's
	interNode := func(own []int32) int {
		n, _ := qualCut(g, func() []int32 {
			out := make([]int32, len(own))
			for i, o := range own {
				out[i] = o / k
			}
			return out
		}(), p/k)
		return n
	}
	blind, _ := Decompose(g, p, Options{})
	if a, b := interNode(own), interNode(qualOwners(blind)); a > b {
		t.Errorf("node-aware inter-node cut %d > node-blind %d", a, b)
	}
	if aware.Node(5) != 1 || aware.Node(3) != 0 {
		t.Errorf("Node(5) = %d, Node(3) = %d", aware.Node(5), aware.Node(3))
	}
}

func TestBadInput(t *testing.T) {
	g := Grid{Dims: [3]int{4, 4, 4}}
	cases := []struct {
		name string
		g    Grid
		p    int
		opt  Options
	}{
		{"zero dim", Grid{Dims: [3]int{0, 4, 4}}, 1, Options{}},
		{"negative dim", Grid{Dims: [3]int{4, -1, 4}}, 1, Options{}},
		{"no ranks", g, 0, Options{}},
		{"too many ranks", g, 65, Options{}},
		{"unknown method", g, 2, Options{Method: "peano"}},
		{"weights short", g, 2, Options{Weights: &Weights{Values: make([]float64, 63)}}},
		{"weight negative", g, 2, Options{Weights: &Weights{Values: append(make([]float64, 63), -1)}}},
		{"weight NaN", g, 2, Options{Weights: &Weights{Values: append(make([]float64, 63), math.NaN())}}},
		{"ranks per node", g, 2, Options{RanksPerNode: -1}},
	}
	for _, c := range cases {
		_, err := Decompose(c.g, c.p, c.opt)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", c.name, err)
		}
	}
}

func TestDeterministic(t *testing.T) {
	g := Grid{Dims: [3]int{37, 29, 23}}
	for _, m := range Methods() {
		a, _ := Decompose(g, 17, Options{Method: m})
		b, _ := Decompose(g, 17, Options{Method: m})
		if !slices.EqualFunc(a.Boxes, b.Boxes, slices.Equal) {
			t.Errorf("%s: two runs differ", m)
		}
	}
	// Large enough that subtrees are built by several goroutines.
	big := Grid{Dims: [3]int{96, 80, 72}}
	if big.Cells() < 4*parallelBricks {
		t.Fatal("grid too small to exercise the concurrent build")
	}
	first, _ := Decompose(big, 1000, Options{})
	for range 4 {
		again, _ := Decompose(big, 1000, Options{})
		if !slices.EqualFunc(first.Boxes, again.Boxes, slices.Equal) {
			t.Fatal("hilbert: runs on a large grid differ")
		}
	}
}

func TestOwnerMatchesBoxes(t *testing.T) {
	g := Grid{Dims: [3]int{31, 20, 11}}
	d, err := Decompose(g, 13, Options{})
	if err != nil {
		t.Fatal(err)
	}
	own := qualOwners(d)
	for i, o := range own {
		p := [3]int{i % 31, i / 31 % 20, i / 620}
		if got := d.Owner(p); got != int(o) {
			t.Fatalf("Owner(%v) = %d, want %d", p, got, o)
		}
	}
	if d.Owner([3]int{31, 0, 0}) != -1 {
		t.Errorf("Owner outside the grid should be -1")
	}
}
