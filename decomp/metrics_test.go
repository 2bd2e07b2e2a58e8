package decomp

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// bruteCutFaces walks every cell and its + neighbour along each axis
// (wrapped on periodic axes; a cell is not its own neighbour) and counts
// the faces whose two cells belong to different ranks.
func bruteCutFaces(d *Decomposition, o *cellOwners) (total int, perRank []int, intra, inter int) {
	g := d.Grid
	perRank = make([]int, d.Ranks())
	forCells(g.Box(), func(p [3]int) {
		for a := range 3 {
			q := p
			q[a]++
			if q[a] == g.Dims[a] {
				if !g.Periodic[a] {
					continue
				}
				q[a] = 0
			}
			if q == p {
				continue
			}
			r, _ := o.owner(p)
			s, _ := o.owner(q)
			if r == s {
				continue
			}
			total++
			perRank[r]++
			perRank[s]++
			if d.Node(r) == d.Node(s) {
				intra++
			} else {
				inter++
			}
		}
	})
	return total, perRank, intra, inter
}

// bruteComponents flood-fills each rank's cells through faces inside the
// grid (no wrap).
func bruteComponents(d *Decomposition, o *cellOwners) []int {
	g := d.Grid
	comps := make([]int, d.Ranks())
	seen := make([]bool, g.Cells())
	forCells(g.Box(), func(p [3]int) {
		if seen[o.at(p)] {
			return
		}
		r, _ := o.owner(p)
		comps[r]++
		stack := [][3]int{p}
		seen[o.at(p)] = true
		for len(stack) > 0 {
			c := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for a := range 3 {
				for _, step := range []int{-1, 1} {
					q := c
					q[a] += step
					if !g.Box().Contains(q) || seen[o.at(q)] {
						continue
					}
					if s, _ := o.owner(q); s != r {
						continue
					}
					seen[o.at(q)] = true
					stack = append(stack, q)
				}
			}
		}
	})
	return comps
}

func TestMetricsMatchBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for trial := range 400 {
		d := randomDecomposition(t, rng, 9)
		o := bruteOwners(t, d)
		h := randomHalo(rng)
		fields, scalar := 1+rng.IntN(6), []int{4, 8}[rng.IntN(2)]
		m, err := d.Metrics(h, fields, scalar)
		if err != nil {
			t.Fatal(err)
		}
		fail := func(what string, got, want any) {
			t.Helper()
			t.Fatalf("trial %d %v boxes %v halo %+v: %s = %v, want %v", trial, d.Grid, d.Boxes, h, what, got, want)
		}

		cells := make([]int, d.Ranks())
		for _, r := range o.rank {
			cells[r]++
		}
		if !slices.Equal(m.Cells, cells) {
			fail("Cells", m.Cells, cells)
		}
		maxCells := slices.Max(cells)
		mean := float64(d.Grid.Cells()) / float64(d.Ranks())
		if m.Ranks != d.Ranks() || m.MaxCells != maxCells || m.MeanCells != mean || m.Imbalance != float64(maxCells)/mean {
			fail("Ranks, MaxCells, MeanCells, Imbalance", []any{m.Ranks, m.MaxCells, m.MeanCells, m.Imbalance}, []any{d.Ranks(), maxCells, mean, float64(maxCells) / mean})
		}

		total, perRank, intra, inter := bruteCutFaces(d, o)
		if m.CutFaces != total || m.IntraNodeCut != intra || m.InterNodeCut != inter {
			fail("CutFaces, intra, inter", []int{m.CutFaces, m.IntraNodeCut, m.InterNodeCut}, []int{total, intra, inter})
		}
		if !slices.Equal(m.RankCut, perRank) || m.MaxRankCut != slices.Max(perRank) {
			fail("RankCut", m.RankCut, perRank)
		}
		if comps := bruteComponents(d, o); !slices.Equal(m.Components, comps) {
			fail("Components", m.Components, comps)
		}
		for r := range d.Ranks() {
			if m.BoxCount[r] != len(d.Boxes[r]) {
				fail("BoxCount", m.BoxCount, r)
			}
		}

		// Halo traffic from the brute-force ghost cells.
		vol := make([]map[int]int, d.Ranks())
		for c, n := range bruteGhosts(d, o, h) {
			if c.src == c.dst {
				continue
			}
			if vol[c.dst] == nil {
				vol[c.dst] = map[int]int{}
			}
			vol[c.dst][c.src] += n
		}
		var intraBytes, interBytes int64
		for r := range d.Ranks() {
			var want []PeerVolume
			cellsIn := 0
			for _, p := range slices.Sorted(maps.Keys(vol[r])) {
				n := vol[r][p]
				v := PeerVolume{Peer: p, Cells: n, Bytes: int64(n * fields * scalar), SameNode: d.Node(p) == d.Node(r)}
				want = append(want, v)
				cellsIn += n
				if v.SameNode {
					intraBytes += v.Bytes
				} else {
					interBytes += v.Bytes
				}
			}
			if !slices.Equal(m.PerPeer[r], want) {
				fail(fmt.Sprintf("PerPeer[%d]", r), m.PerPeer[r], want)
			}
			if m.Neighbours[r] != len(want) || m.HaloCells[r] != cellsIn || m.HaloBytes[r] != int64(cellsIn*fields*scalar) {
				fail(fmt.Sprintf("Neighbours, HaloCells, HaloBytes of rank %d", r),
					[]any{m.Neighbours[r], m.HaloCells[r], m.HaloBytes[r]}, []any{len(want), cellsIn, cellsIn * fields * scalar})
			}
		}
		if m.HaloBytesIntra != intraBytes || m.HaloBytesInter != interBytes {
			fail("HaloBytesIntra, Inter", []int64{m.HaloBytesIntra, m.HaloBytesInter}, []int64{intraBytes, interBytes})
		}
		if m.Fields != fields || m.ScalarBytes != scalar {
			fail("Fields, ScalarBytes", []int{m.Fields, m.ScalarBytes}, []int{fields, scalar})
		}
	}
}

// TestCutFacesKnown pins values worked by hand, among them the periodic
// axes one and two cells thick.
func TestCutFacesKnown(t *testing.T) {
	half := func(n int, periodic bool) *Decomposition {
		g := Grid{Dims: [3]int{n, 4, 4}, Periodic: [3]bool{periodic, true, true}}
		lo := Box{Hi: [3]int{n / 2, 4, 4}}
		hi := Box{Lo: [3]int{n / 2, 0, 0}, Hi: [3]int{n, 4, 4}}
		d, err := New(g, [][]Box{{lo}, {hi}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, c := range []struct {
		name string
		d    *Decomposition
		cut  int
	}{
		{"halves", half(4, false), 16},
		{"halves periodic", half(4, true), 32},
		{"periodic 2 thick: two distinct faces per pair", half(2, true), 32},
		{"2 thick not periodic", half(2, false), 16},
	} {
		m, err := c.d.Metrics(UniformHalo(1, Faces), 1, 8)
		if err != nil {
			t.Fatal(err)
		}
		if m.CutFaces != c.cut || m.RankCut[0] != c.cut || m.RankCut[1] != c.cut || m.InterNodeCut != c.cut {
			t.Errorf("%s: CutFaces %d RankCut %v inter %d, want %d", c.name, m.CutFaces, m.RankCut, m.InterNodeCut, c.cut)
		}
	}
	// A periodic axis one cell thick: a cell is its own neighbour, no cut.
	g := Grid{Dims: [3]int{1, 2, 1}, Periodic: [3]bool{true, true, true}}
	d, err := New(g, [][]Box{{{Hi: [3]int{1, 1, 1}}}, {{Lo: [3]int{0, 1, 0}, Hi: [3]int{1, 2, 1}}}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.Metrics(UniformHalo(1, Corners), 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if m.CutFaces != 2 || m.IntraNodeCut != 2 || m.InterNodeCut != 0 {
		t.Errorf("1x2x1 periodic: CutFaces %d intra %d inter %d, want 2, 2, 0", m.CutFaces, m.IntraNodeCut, m.InterNodeCut)
	}
}

func TestMetricsRejectsBadInput(t *testing.T) {
	d, err := New(Grid{Dims: [3]int{2, 2, 2}}, [][]Box{{{Hi: [3]int{2, 2, 2}}}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]int{{-1, 8}, {1, -8}} {
		if _, err := d.Metrics(UniformHalo(1, Faces), c[0], c[1]); !errors.Is(err, ErrInvalid) {
			t.Errorf("Metrics(%d fields, %d bytes): err = %v, want ErrInvalid", c[0], c[1], err)
		}
	}
}

func BenchmarkMetrics(b *testing.B) {
	b.Run("256^3-4096x16^3-w1-corners", func(b *testing.B) {
		d := cubeTiling(b, 256, 16)
		loopWithCPU(b, func() {
			if _, err := d.Metrics(UniformHalo(1, Corners), 6, 8); err != nil {
				b.Fatal(err)
			}
		})
	})
	// 1024^3 with 32768 ranks of 16 boxes of 16x16x8 each, consecutive in
	// storage order (so each rank's boxes form a row and a half).
	b.Run("1024^3-32768ranks-16boxes-w1-corners", func(b *testing.B) {
		g := Grid{Dims: [3]int{1024, 1024, 1024}, Periodic: [3]bool{true, true, true}}
		d, err := New(g, regularTiling(g, [3]int{16, 16, 8}, 16), 16)
		if err != nil {
			b.Fatal(err)
		}
		loopWithCPU(b, func() {
			if _, err := d.Metrics(UniformHalo(1, Corners), 6, 8); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// TestGeometryOnPartitioners runs the oracles on decompositions made by
// the partitioners, whose boxes are shaped differently from random tilings.
func TestGeometryOnPartitioners(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for trial := range 60 {
		g := randomGrid(rng, 9)
		ranks := 1 + rng.IntN(min(g.Cells(), 12))
		for _, method := range Methods() {
			d, err := Decompose(g, ranks, Options{Method: method, RanksPerNode: rng.IntN(3)})
			if err != nil {
				t.Logf("Decompose(%v, %d, %s): %v", g, ranks, method, err)
				continue
			}
			o := bruteOwners(t, d)
			h := randomHalo(rng)
			ts, err := d.Transfers(h)
			if err != nil {
				t.Fatal(err)
			}
			checkTransfers(t, d, o, h, ts)
			m, err := d.Metrics(h, 1, 8)
			if err != nil {
				t.Fatal(err)
			}
			total, perRank, _, _ := bruteCutFaces(d, o)
			if m.CutFaces != total || !slices.Equal(m.RankCut, perRank) {
				t.Fatalf("trial %d %v %s: CutFaces %d %v, want %d %v", trial, g, method, m.CutFaces, m.RankCut, total, perRank)
			}
			if comps := bruteComponents(d, o); !slices.Equal(m.Components, comps) {
				t.Fatalf("trial %d %v %s: Components %v, want %v", trial, g, method, m.Components, comps)
			}
		}
	}
}
