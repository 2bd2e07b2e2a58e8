package decomp

import (
	"cmp"
	"errors"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestOwnerMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		d := randomDecomposition(t, rng, 9)
		o := bruteOwners(t, d)
		g := d.Grid
		// Every cell of the grid and a shell one cell thick around it.
		forCells(g.Box().Grow([3]int{1, 1, 1}, [3]int{1, 1, 1}), func(p [3]int) {
			wantRank, wantBox := -1, -1
			if g.Box().Contains(p) {
				wantRank, wantBox = o.owner(p)
			}
			if got := d.Owner(p); got != wantRank {
				t.Fatalf("trial %d %v: Owner(%v) = %d, want %d", trial, g, p, got, wantRank)
			}
			if r, b := d.index.find(p); r != wantRank || b != wantBox {
				t.Fatalf("trial %d %v: find(%v) = %d,%d, want %d,%d", trial, g, p, r, b, wantRank, wantBox)
			}
		})
	}
}

// bruteQuery is every box overlapping q, with the overlap, by scanning.
func bruteQuery(boxes [][]Box, q Box) []boxHit {
	var out []boxHit
	id := 0
	for r, bs := range boxes {
		for i, b := range bs {
			if c := b.Intersect(q); !c.Empty() {
				out = append(out, boxHit{rank: r, box: i, id: id, cells: c})
			}
			id++
		}
	}
	return out
}

func sortHits(h []boxHit) {
	slices.SortFunc(h, func(a, b boxHit) int { return cmp.Compare(a.id, b.id) })
}

func TestQueryMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 300 {
		d := randomDecomposition(t, rng, 9)
		g := d.Grid
		for range 30 {
			var q Box
			for a := range 3 {
				x, y := rng.IntN(g.Dims[a]+4)-2, rng.IntN(g.Dims[a]+4)-2
				q.Lo[a], q.Hi[a] = min(x, y), max(x, y)+rng.IntN(2)
			}
			got := d.index.query(q, nil)
			want := bruteQuery(d.Boxes, q)
			sortHits(got)
			if !slices.Equal(got, want) {
				t.Fatalf("trial %d %v boxes %v: query(%v) = %v, want %v", trial, g, d.Boxes, q, got, want)
			}
		}
	}
}

// TestIndexDetectsOverlap indexes random sets of boxes, some overlapping,
// not tilings, and compares with a pairwise check.
func TestIndexDetectsOverlap(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	overlapping := 0
	for trial := range 3000 {
		n := 1 + rng.IntN(12)
		boxes := make([][]Box, 1+rng.IntN(3))
		var all []Box
		for range n {
			var b Box
			for a := range 3 {
				b.Lo[a] = rng.IntN(8)
				b.Hi[a] = b.Lo[a] + 1 + rng.IntN(3)
			}
			r := rng.IntN(len(boxes))
			boxes[r] = append(boxes[r], b)
			all = append(all, b)
		}
		want := false
		for i := range all {
			for j := i + 1; j < len(all); j++ {
				want = want || !all[i].Intersect(all[j]).Empty()
			}
		}
		ix, err := newBoxIndex(boxes)
		if want {
			overlapping++
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("trial %d: overlapping %v: err = %v, want ErrInvalid", trial, boxes, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("trial %d: disjoint %v: %v", trial, boxes, err)
		}
		forCells(Box{Lo: [3]int{-1, -1, -1}, Hi: [3]int{12, 12, 12}}, func(p [3]int) {
			wr, wb := -1, -1
			for r, bs := range boxes {
				for i, b := range bs {
					if b.Contains(p) {
						wr, wb = r, i
					}
				}
			}
			if r, b := ix.find(p); r != wr || b != wb {
				t.Fatalf("trial %d %v: find(%v) = %d,%d, want %d,%d", trial, boxes, p, r, b, wr, wb)
			}
		})
	}
	if overlapping < 300 {
		t.Fatalf("only %d overlapping cases: the generator does not test rejection", overlapping)
	}
}

func TestNewRejectsOverlap(t *testing.T) {
	// Same cell count as the grid, cell 1 twice and cell 3 never.
	g := Grid{Dims: [3]int{4, 1, 1}}
	_, err := New(g, [][]Box{{{Hi: [3]int{2, 1, 1}}}, {{Lo: [3]int{1, 0, 0}, Hi: [3]int{3, 1, 1}}}}, 0)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("New with overlap: err = %v, want ErrInvalid", err)
	}
	// Random tilings with one box moved by a cell: the count still matches,
	// the box now overlaps a neighbour.
	rng := rand.New(rand.NewPCG(7, 8))
	rejected := 0
	for range 500 {
		g := randomGrid(rng, 7)
		boxes := greedyTiling(rng, g, 3)
		i := rng.IntN(len(boxes))
		a := rng.IntN(3)
		step := [3]int{}
		step[a] = 1
		if boxes[i].Hi[a] == g.Dims[a] {
			step[a] = -1
		}
		moved := boxes[i].Shift(step)
		if moved.Intersect(g.Box()) != moved {
			continue // the box spans the axis
		}
		boxes[i] = moved
		if _, err := New(g, dealBoxes(rng, boxes, 3), 0); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%v: moved box %d to %v: err = %v, want ErrInvalid", g, i, moved, err)
		}
		rejected++
	}
	if rejected < 100 {
		t.Fatalf("only %d moved tilings", rejected)
	}
}

// TestIndexDetectsStackedOverlap has more boxes than a leaf holds all
// sharing one cell, so no plane divides them.
func TestIndexDetectsStackedOverlap(t *testing.T) {
	var boxes []Box
	for i := range 2 * leafBoxes {
		boxes = append(boxes, Box{Lo: [3]int{i, 0, i % 2}, Hi: [3]int{i + 9, 3, 2 + i%2}})
	}
	boxes = append(boxes, Box{Lo: [3]int{20, 0, 0}, Hi: [3]int{21, 1, 1}})
	if _, err := newBoxIndex([][]Box{boxes}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("stacked boxes: err = %v, want ErrInvalid", err)
	}
}

// TestIndexPinwheel indexes a tiling no single plane divides.
func TestIndexPinwheel(t *testing.T) {
	bx := func(x0, x1, y0, y1 int) Box { return Box{Lo: [3]int{x0, y0, 0}, Hi: [3]int{x1, y1, 1}} }
	pin := []Box{bx(0, 2, 0, 1), bx(2, 3, 0, 2), bx(1, 3, 2, 3), bx(0, 1, 1, 3), bx(1, 2, 1, 2)}
	d, err := New(Grid{Dims: [3]int{3, 3, 1}}, [][]Box{pin}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range pin {
		forCells(b, func(p [3]int) {
			if r, got := d.index.find(p); r != 0 || got != i {
				t.Fatalf("find(%v) = %d,%d, want 0,%d", p, r, got, i)
			}
		})
	}
}

// TestIndexLarge indexes more than 100k boxes of an irregular tiling.
func TestIndexLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	g := Grid{Dims: [3]int{96, 96, 96}}
	boxes := greedyTiling(rng, g, 3)
	if len(boxes) < 100_000 {
		t.Fatalf("only %d boxes", len(boxes))
	}
	perRank := dealBoxes(rng, boxes, 1000)
	start := time.Now()
	d, err := New(g, perRank, 0)
	if err != nil {
		t.Fatal(err)
	}
	depth := treeDepth(d.index, 0)
	t.Logf("New with %d boxes: %v, %d nodes, %d leaf entries, depth %d", len(boxes), time.Since(start), len(d.index.nodes), len(d.index.leaf), depth)
	if limit := 3 * bits.Len(uint(len(boxes))); depth > limit {
		t.Errorf("tree depth %d for %d boxes, want at most %d", depth, len(boxes), limit)
	}
	if len(d.index.leaf) > 3*len(boxes) {
		t.Errorf("%d leaf entries for %d boxes: too many straddlers", len(d.index.leaf), len(boxes))
	}
	o := bruteOwners(t, d)
	forCells(g.Box(), func(p [3]int) {
		wr, wb := o.owner(p)
		if r, b := d.index.find(p); r != wr || b != wb {
			t.Fatalf("find(%v) = %d,%d, want %d,%d", p, r, b, wr, wb)
		}
	})
}

// treeDepth is the depth of the subtree at node i.
func treeDepth(ix *boxIndex, i int) int {
	n := ix.nodes[i]
	if n.axis < 0 {
		return 0
	}
	return 1 + max(treeDepth(ix, i+1), treeDepth(ix, int(n.right)))
}

func TestSelectNth(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 2000 {
		v := make([]int, rng.IntN(200)+1)
		spread := 1 + rng.IntN(50)
		for i := range v {
			v[i] = rng.IntN(spread)
		}
		k := rng.IntN(len(v))
		s := slices.Sorted(slices.Values(v))
		if got := selectNth(v, k); got != s[k] {
			t.Fatalf("selectNth(%v, %d) = %d, want %d", s, k, got, s[k])
		}
	}
}

// regularTiling cuts g into boxes of size side, dealt to ranks in runs of
// perRank consecutive boxes in storage order.
func regularTiling(g Grid, side [3]int, perRank int) [][]Box {
	var boxes [][]Box
	n := 0
	for z := 0; z < g.Dims[2]; z += side[2] {
		for y := 0; y < g.Dims[1]; y += side[1] {
			for x := 0; x < g.Dims[0]; x += side[0] {
				if n%perRank == 0 {
					boxes = append(boxes, nil)
				}
				b := Box{Lo: [3]int{x, y, z}, Hi: [3]int{x + side[0], y + side[1], z + side[2]}}
				boxes[len(boxes)-1] = append(boxes[len(boxes)-1], b.Intersect(g.Box()))
				n++
			}
		}
	}
	return boxes
}

func BenchmarkNewBoxIndex(b *testing.B) {
	rng := rand.New(rand.NewPCG(13, 14))
	g := Grid{Dims: [3]int{96, 96, 96}}
	irregular := dealBoxes(rng, greedyTiling(rng, g, 3), 1000)
	regular := regularTiling(Grid{Dims: [3]int{1024, 1024, 1024}}, [3]int{16, 16, 16}, 8)
	for _, c := range []struct {
		name  string
		boxes [][]Box
	}{{"irregular96^3", irregular}, {"regular1024^3-16^3", regular}} {
		n := 0
		for _, bs := range c.boxes {
			n += len(bs)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportMetric(float64(n), "boxes")
			loopWithCPU(b, func() {
				if _, err := newBoxIndex(c.boxes); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// FuzzNew feeds New boxes decoded from bytes, as a decomposition read from
// a file would be: it must never panic, must reject what does not tile the
// grid, and what it accepts must agree with a per-cell scan.
func FuzzNew(f *testing.F) {
	// Seeds that tile: 2x2x1 in one box; 4x1x1 periodic in two halves; the
	// 3x3x1 pinwheel over three ranks.
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 2, 2, 1, 0})
	f.Add([]byte{3, 0, 0, 1, 0, 0, 0, 2, 1, 1, 0, 2, 0, 0, 4, 1, 1, 1})
	f.Add([]byte{2, 2, 0, 0,
		0, 0, 0, 2, 1, 1, 0,
		2, 0, 0, 3, 2, 1, 1,
		1, 2, 0, 3, 3, 1, 2,
		0, 1, 0, 1, 3, 1, 0,
		1, 1, 0, 2, 2, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 4 {
			return
		}
		var g Grid
		for a := range 3 {
			g.Dims[a] = 1 + int(data[a]%8)
			g.Periodic[a] = data[3]>>a&1 == 1
		}
		data = data[4:]
		boxes := make([][]Box, 3)
		for len(data) >= 7 && len(boxes[0])+len(boxes[1])+len(boxes[2]) < 64 {
			var b Box
			for a := range 3 {
				// Signed, so boxes can lie outside the grid or be empty.
				b.Lo[a], b.Hi[a] = int(int8(data[a]))%10, int(int8(data[3+a]))%10
			}
			r := int(data[6] % 3)
			boxes[r] = append(boxes[r], b)
			data = data[7:]
		}
		d, err := New(g, boxes, 0)
		// Per-cell scan: every cell covered exactly once by boxes in the grid.
		cover := make([]int, g.Cells())
		valid := true
		for _, bs := range boxes {
			for _, b := range bs {
				if b.Empty() || b.Intersect(g.Box()) != b {
					valid = false
					continue
				}
				forCells(b, func(p [3]int) { cover[p[0]+g.Dims[0]*(p[1]+g.Dims[1]*p[2])]++ })
			}
		}
		for _, c := range cover {
			valid = valid && c == 1
		}
		if !valid {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%v %v: err = %v, want ErrInvalid", g, boxes, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%v %v: %v", g, boxes, err)
		}
		o := bruteOwners(t, d)
		forCells(g.Box(), func(p [3]int) {
			wr, wb := o.owner(p)
			if r, b := d.index.find(p); r != wr || b != wb {
				t.Fatalf("find(%v) = %d,%d, want %d,%d", p, r, b, wr, wb)
			}
		})
		if _, err := d.Transfers(UniformHalo(2, Corners)); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Metrics(UniformHalo(1, Edges), 1, 8); err != nil {
			t.Fatal(err)
		}
	})
}
