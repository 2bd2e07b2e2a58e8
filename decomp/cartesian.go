package decomp

import (
	"math"
)

// blockFactors chooses px*py*pz = ranks with px <= nx, py <= ny, pz <= nz
// minimising the total cut area (wrap faces included on periodic axes), then
// the largest part's surface. It reports false when no factorization fits.
// Unlike MPI_Dims_create, which factors the rank count alone, it looks at the
// grid's shape: 16 ranks on 256x64x64 become 4x2x2, on 512x128x16 8x2x1.
func blockFactors(g Grid, ranks int) ([3]int, bool) {
	best := [3]int{}
	bestCut, bestRank := math.Inf(1), math.Inf(1)
	n := g.Dims
	for px := 1; px <= ranks; px++ {
		if ranks%px != 0 || px > n[0] {
			continue
		}
		rest := ranks / px
		for py := 1; py <= rest; py++ {
			if rest%py != 0 || py > n[1] {
				continue
			}
			pz := rest / py
			if pz > n[2] {
				continue
			}
			p := [3]int{px, py, pz}
			cut, rankCut := 0.0, 0.0
			for a := range 3 {
				area := float64(g.Cells() / n[a])
				planes := p[a] - 1
				if g.Periodic[a] && p[a] > 1 {
					planes = p[a]
				}
				cut += float64(planes) * area
				// the largest part's faces across axis a
				sides := min(2, planes)
				rankCut += float64(sides) * area / float64(ranks/p[a])
			}
			if cut < bestCut-0.5 || (cut < bestCut+0.5 && rankCut < bestRank) {
				best, bestCut, bestRank = p, cut, rankCut
			}
		}
	}
	return best, bestCut < math.Inf(1)
}

// axisCuts splits [0, n) into p parts along axis a whose weights are as
// close as possible to equal, each at least one cell thick.
func axisCuts(f *weightField, a int, n, p int) []int {
	cuts := make([]int, p+1)
	cuts[p] = n
	whole := Box{Hi: f.dims}
	total := f.sum(whole)
	slab := func(s int) float64 {
		b := whole
		b.Hi[a] = s
		return f.sum(b)
	}
	for i := 1; i < p; i++ {
		target := total * float64(i) / float64(p)
		lo, hi := cuts[i-1]+1, n-(p-i)
		s0 := nearestCut(lo, hi, target, slab)
		if total == 0 { // no weight anywhere: equal thickness
			s0 = max(lo, min(hi, n*i/p))
		}
		cuts[i] = s0
	}
	return cuts
}

// block cuts the grid into px*py*pz boxes, rank = x + px*(y + py*z). Along
// each axis the planes balance the weight of whole slabs.
func block(g Grid, f *weightField, ranks int) ([][]Box, bool) {
	p, ok := blockFactors(g, ranks)
	if !ok {
		return nil, false
	}
	var cuts [3][]int
	for a := range 3 {
		cuts[a] = axisCuts(f, a, g.Dims[a], p[a])
	}
	boxes := make([][]Box, ranks)
	for z := range p[2] {
		for y := range p[1] {
			for x := range p[0] {
				r := x + p[0]*(y+p[1]*z)
				boxes[r] = []Box{{
					Lo: [3]int{cuts[0][x], cuts[1][y], cuts[2][z]},
					Hi: [3]int{cuts[0][x+1], cuts[1][y+1], cuts[2][z+1]},
				}}
			}
		}
	}
	return boxes, true
}

// rcb is recursive coordinate bisection: split the longest axis of the box
// (z first on a tie) so that the halves' weights are in proportion to their ranks (r/2 and the
// rest), and recurse. Every part is one box.
func rcb(g Grid, f *weightField, ranks int) [][]Box {
	boxes := make([][]Box, ranks)
	var rec func(b Box, r, first int)
	rec = func(b Box, r, first int) {
		if r == 1 {
			boxes[first] = []Box{b}
			return
		}
		// The longest axis; on a tie the slowest (z first), which leaves
		// whole x rows to stencil loops and contiguous faces to pack.
		a := 2
		for c := 1; c >= 0; c-- {
			if b.Size(c) > b.Size(a) {
				a = c
			}
		}
		r1 := r / 2
		ext := b.Size(a)
		plane := b.Cells() / ext
		// the left half must hold r1 ranks, the right r-r1
		lo := b.Lo[a] + max(1, (r1+plane-1)/plane)
		hi := b.Hi[a] - max(1, (r-r1+plane-1)/plane)
		if lo > hi { // thin box: share ranks in proportion to cells instead
			s := b.Lo[a] + ext/2
			n1 := (s - b.Lo[a]) * plane
			r1 = max(1, r-(b.Cells()-n1), min(n1, r-1, int(math.Round(float64(r)*float64(n1)/float64(b.Cells())))))
			lo, hi = s, s
		}
		total := f.sum(b)
		target := total * float64(r1) / float64(r)
		s0 := nearestCut(lo, hi, target, func(s int) float64 { c := b; c.Hi[a] = s; return f.sum(c) })
		if total == 0 {
			s0 = max(lo, min(hi, b.Lo[a]+ext*r1/r))
		}
		lb, rb := b, b
		lb.Hi[a], rb.Lo[a] = s0, s0
		rec(lb, r1, first)
		rec(rb, r-r1, first+r1)
	}
	rec(g.Box(), ranks, 0)
	return boxes
}

// nearestCut returns the s in [lo, hi] whose weight(s), non-decreasing in s,
// is nearest to target (the lower one on a tie), by binary search.
func nearestCut(lo, hi int, target float64, weight func(int) float64) int {
	s0, s1 := lo, hi
	for s0 < s1 {
		mid := (s0 + s1) / 2
		if weight(mid) >= target {
			s1 = mid
		} else {
			s0 = mid + 1
		}
	}
	if s0 > lo && math.Abs(weight(s0-1)-target) <= math.Abs(weight(s0)-target) {
		s0--
	}
	return s0
}
