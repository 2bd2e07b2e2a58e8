package decomp

import (
	"math"

	"github.com/hilo-hpc/hilo/hilbert"
)

// slabs cuts the cells, taken in C order with the longest axis slowest and
// the shortest fastest, into ranks runs of equal weight. With ranks no more
// than the longest extent the parts are slabs (a partial plane at each end
// where the count does not divide evenly); beyond that they are runs of rows.
func slabs(g Grid, f *weightField, ranks int) [][]Box {
	// order[0] is the fastest axis, order[2] the slowest.
	order := [3]int{0, 1, 2}
	for i := range 3 {
		for j := i + 1; j < 3; j++ {
			if g.Dims[order[j]] < g.Dims[order[i]] {
				order[i], order[j] = order[j], order[i]
			}
		}
	}
	var d [3]int
	for i, a := range order {
		d[i] = g.Dims[a]
	}
	toGrid := func(b Box) Box {
		var c Box
		for i, a := range order {
			c.Lo[a], c.Hi[a] = b.Lo[i], b.Hi[i]
		}
		return c
	}
	n := g.Cells()
	prefix := func(e int) float64 { // weight of the first e cells in this order
		s := 0.0
		for _, b := range rangeBoxes(0, e, d) {
			s += f.sum(toGrid(b))
		}
		return s
	}
	total := f.total()
	cuts := make([]int, ranks+1)
	cuts[ranks] = n
	for r := 1; r < ranks; r++ {
		lo, hi := cuts[r-1]+1, n-(ranks-r)
		target := total * float64(r) / float64(ranks)
		var s int
		if f.sat == nil || total == 0 {
			s = int(math.Round(float64(n) * float64(r) / float64(ranks)))
		} else {
			s = nearestCut(lo, hi, target, prefix)
		}
		cuts[r] = max(lo, min(hi, s))
	}
	boxes := make([][]Box, ranks)
	for r := range ranks {
		for _, b := range rangeBoxes(cuts[r], cuts[r+1], d) {
			boxes[r] = append(boxes[r], toGrid(b))
		}
	}
	return boxes
}

// rangeBoxes is the run [s, e) of cells of an array with extents d (d[0]
// fastest) as at most five boxes, in array coordinates.
func rangeBoxes(s, e int, d [3]int) []Box {
	if s >= e {
		return nil
	}
	plane := d[0] * d[1]
	zs, ze := s/plane, (e-1)/plane
	if zs == ze {
		return rowBoxes(s-zs*plane, e-zs*plane, d, zs)
	}
	var out []Box
	first := zs
	if s%plane != 0 {
		out = append(out, rowBoxes(s%plane, plane, d, zs)...)
		first++
	}
	last := ze // exclusive end of the full planes
	if e%plane == 0 {
		last = ze + 1
	}
	if last > first {
		out = append(out, Box{Lo: [3]int{0, 0, first}, Hi: [3]int{d[0], d[1], last}})
	}
	if e%plane != 0 {
		out = append(out, rowBoxes(0, e%plane, d, ze)...)
	}
	return out
}

// rowBoxes is the run [s, e) of cells of plane z (0 <= s < e <= plane).
func rowBoxes(s, e int, d [3]int, z int) []Box {
	row := d[0]
	ys, ye := s/row, (e-1)/row
	box := func(x0, x1, y0, y1 int) Box {
		return Box{Lo: [3]int{x0, y0, z}, Hi: [3]int{x1, y1, z + 1}}
	}
	if ys == ye {
		return []Box{box(s%row, (e-1)%row+1, ys, ys+1)}
	}
	var out []Box
	first := ys
	if s%row != 0 {
		out = append(out, box(s%row, row, ys, ys+1))
		first++
	}
	last := ye
	if e%row == 0 {
		last = ye + 1
	}
	if last > first {
		out = append(out, box(0, row, first, last))
	}
	if e%row != 0 {
		out = append(out, box(0, e%row, ye, ye+1))
	}
	return out
}

// walkMorton visits the bricks of m in Morton (Z) order, skipping the parts
// of the enclosing power-of-two cube outside the grid.
func walkMorton(m *brickMap) func(func(int)) {
	return func(visit func(int)) {
		size := 1
		for size < max(m.nb[0], m.nb[1], m.nb[2]) {
			size *= 2
		}
		var rec func(x, y, z, s int)
		rec = func(x, y, z, s int) {
			if x >= m.nb[0] || y >= m.nb[1] || z >= m.nb[2] {
				return
			}
			if s == 1 {
				visit(m.index(x, y, z))
				return
			}
			h := s / 2
			// Morton order: x is the lowest bit of each octal digit.
			for o := range 8 {
				rec(x+h*(o&1), y+h*(o>>1&1), z+h*(o>>2), h)
			}
		}
		rec(0, 0, 0, size)
	}
}

// walkHilbert visits the bricks of m along the generalized Hilbert curve.
func walkHilbert(m *brickMap) func(func(int)) {
	return func(visit func(int)) {
		hilbert.Walk(m.nb[0], m.nb[1], m.nb[2], func(x, y, z int) bool {
			visit(m.index(x, y, z))
			return true
		})
	}
}
