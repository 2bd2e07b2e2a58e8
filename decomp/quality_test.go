package decomp

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

type qualityCase struct {
	dims  [3]int
	ranks int
}

// The cases of the quality target (issue #2, item 4).
var qualityCases = []qualityCase{
	{[3]int{128, 128, 128}, 7},
	{[3]int{128, 128, 128}, 12},
	{[3]int{128, 128, 128}, 27},
	{[3]int{128, 128, 128}, 100},
	{[3]int{128, 128, 128}, 1000},
	{[3]int{256, 256, 256}, 7},
	{[3]int{256, 256, 256}, 12},
	{[3]int{96, 64, 48}, 64},
	{[3]int{100, 60, 40}, 16},
	{[3]int{128, 128, 128}, 8},
	{[3]int{128, 128, 128}, 64},
}

type measured struct {
	cut, maxRankCut, maxCells, maxComp int
	mean                               float64
	took                               time.Duration
}

func measure(t testing.TB, g Grid, ranks int, method string) measured {
	t.Helper()
	start := time.Now()
	d, err := Decompose(g, ranks, Options{Method: method})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("%v/%d %s: %v", g.Dims, ranks, method, err)
	}
	own := qualOwners(d)
	for i, o := range own {
		if o < 0 {
			t.Fatalf("%v/%d %s: cell %d owned %d times", g.Dims, ranks, method, i, -o-1)
		}
	}
	cut, per := qualCut(g, own, ranks)
	comps := qualComponents(g, own, ranks)
	cells := make([]int, ranks)
	for _, o := range own {
		cells[o]++
	}
	return measured{cut: cut, maxRankCut: slices.Max(per), maxCells: slices.Max(cells),
		maxComp: slices.Max(comps), mean: float64(g.Cells()) / float64(ranks), took: took}
}

// TestQualityTable checks the default method against the target of issue #2
// and prints the table the README shows (go test -run QualityTable -v ./decomp).
func TestQualityTable(t *testing.T) {
	if testing.Short() {
		t.Skip("quality table takes a while; skipped with -short")
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "| grid | P | hilbert cut | sfc (plain curve) | block | rcb | hilbert / best(block,rcb) | sfc / best | max cells / mean | max rank cut hilbert / block | components | time |\n")
	fmt.Fprintf(&sb, "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range qualityCases {
		g := Grid{Dims: c.dims}
		h := measure(t, g, c.ranks, MethodHilbert)
		s := measure(t, g, c.ranks, MethodSFC)
		b := measure(t, g, c.ranks, MethodBlock)
		r := measure(t, g, c.ranks, MethodRCB)
		best := min(b.cut, r.cut)
		ratio := float64(h.cut) / float64(best)
		bal := float64(h.maxCells) / h.mean
		fmt.Fprintf(&sb, "| %dx%dx%d | %d | %d | %d | %d | %d | %.3f | %.3f | %.4f | %.2f | %d | %v |\n",
			c.dims[0], c.dims[1], c.dims[2], c.ranks, h.cut, s.cut, b.cut, r.cut, ratio,
			float64(s.cut)/float64(best), bal, float64(h.maxRankCut)/float64(b.maxRankCut), h.maxComp, h.took.Round(time.Millisecond))
		if bal > 1.01 {
			t.Errorf("%v/%d: hilbert max cells %.4f x mean, want <= 1.01", c.dims, c.ranks, bal)
		}
		if h.maxComp != 1 {
			t.Errorf("%v/%d: a hilbert part has %d components", c.dims, c.ranks, h.maxComp)
		}
		if ratio > 1.10 {
			t.Errorf("%v/%d: hilbert cut %d is %.3f x best of block and rcb (%d)", c.dims, c.ranks, h.cut, ratio, best)
		}
		if isPow2(c.ranks) && c.dims[0] == c.dims[1] && c.dims[1] == c.dims[2] && isPow2(c.dims[0]) && h.cut != b.cut {
			t.Errorf("%v/%d: hilbert cut %d, block %d: want equal on a power-of-two cube", c.dims, c.ranks, h.cut, b.cut)
		}
		if len(primeFactors(c.ranks)) == 1 && primeFactors(c.ranks)[0] == c.ranks && h.maxRankCut >= b.maxRankCut {
			t.Errorf("%v/%d (prime): hilbert max rank cut %d, block %d: want smaller", c.dims, c.ranks, h.maxRankCut, b.maxRankCut)
		}
	}
	t.Log("\n" + sb.String())
}

func isPow2(n int) bool { return n > 0 && n&(n-1) == 0 }
