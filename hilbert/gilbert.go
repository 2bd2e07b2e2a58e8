package hilbert

import "iter"

// This file holds the generalized Hilbert curve for boxes of any size. See
// doc.go for the construction and its guarantees.

// edge is one edge of a box: n cells along axis (0 = x, 1 = y, 2 = z) in
// direction dir (+1 or -1).
type edge struct {
	n, axis, dir int
}

// part is the first k cells of e, in the same direction.
func (e edge) part(k int) edge { return edge{k, e.axis, e.dir} }

// rest is what is left of e after its first k cells.
func (e edge) rest(k int) edge { return edge{e.n - k, e.axis, e.dir} }

// rev is e walked the other way.
func (e edge) rev() edge { return edge{e.n, e.axis, -e.dir} }

// cell is a point of the grid, {x, y, z}.
type cell [3]int

// move is the cell k cells from o along e's axis and direction.
func (o cell) move(e edge, k int) cell {
	o[e.axis] += e.dir * k
	return o
}

// half splits n cells into a first part of about half, even where it can
// be: an even first part keeps an even main axis for the sub-curves that run
// along it, and that is what keeps their steps unit steps. For n >= 4 even,
// both parts are even.
func half(n int) int {
	h := n / 2
	if h%2 == 1 && n > 2 {
		h++
	}
	return h
}

// walker carries the visitor through the recursion.
type walker struct {
	visit func(x, y, z int) bool
}

// unit is e's unit step as (dx, dy, dz).
func (e edge) unit() (dx, dy, dz int) {
	switch e.axis {
	case 0:
		return e.dir, 0, 0
	case 1:
		return 0, e.dir, 0
	}
	return 0, 0, e.dir
}

// line visits the n cells of e from o.
func (w *walker) line(o cell, e edge) bool {
	x, y, z := o[0], o[1], o[2]
	dx, dy, dz := e.unit()
	v := w.visit
	for range e.n {
		if !v(x, y, z) {
			return false
		}
		x, y, z = x+dx, y+dy, z+dz
	}
	return true
}

// gen3 visits the box with corner cell o and edges a, b, c (along three
// different axes, a the "main" edge). The curve starts at o and, if the
// parity of the box allows it (see closable), ends at the far cell of the
// main edge, o + (a.n-1) along a; a sub-curve's entry and exit are thus both
// on the edge it shares with its neighbours in the parent's order.
func (w *walker) gen3(o cell, a, b, c edge) bool {
	switch {
	case b.n == 1 && c.n == 1:
		return w.line(o, a)
	case a.n == 1 && c.n == 1:
		return w.line(o, b)
	case a.n == 1 && b.n == 1:
		return w.line(o, c)
	case c.n == 1:
		return w.gen2(o, a, b)
	case b.n == 1:
		return w.gen2(o, a, c)
	case a.n == 1:
		// Not reached from Walk (the main edge is never 1 while the others
		// are longer), kept so any call covers its box.
		return w.gen2(o, b, c)
	}
	if a.n == 2 && b.n == 2 && c.n == 2 {
		// The 3D step below on a 2x2x2 box, unrolled (the most common leaf
		// of an even box): the Gray code order in (a, b, c).
		x, y, z := o[0], o[1], o[2]
		ax, ay, az := a.unit()
		bx, by, bz := b.unit()
		cx, cy, cz := c.unit()
		v := w.visit
		return v(x, y, z) &&
			v(x+bx, y+by, z+bz) &&
			v(x+bx+cx, y+by+cy, z+bz+cz) &&
			v(x+cx, y+cy, z+cz) &&
			v(x+cx+ax, y+cy+ay, z+cz+az) &&
			v(x+ax+bx+cx, y+ay+by+cy, z+az+bz+cz) &&
			v(x+ax+bx, y+ay+by, z+az+bz) &&
			v(x+ax, y+ay, z+az)
	}
	sp := chooseSplit(a.n, b.n, c.n)
	if sp.swap {
		b, c = c, b
	}
	wa := half(a.n)
	a2, aRest := a.part(wa), a.rest(wa).rev()
	switch sp.kind {
	case splitMain:
		// Two halves along the main edge, one after the other.
		return w.gen3(o, a2, b, c) && w.gen3(o.move(a, wa), a.rest(wa), b, c)
	case splitPlane:
		// A 2D Hilbert step in the plane (a, b), whole along c: up the first
		// half of b, across all of a on the far half of b, back down.
		hb := half(b.n)
		return w.gen3(o, b.part(hb), c, a2) &&
			w.gen3(o.move(b, hb), a, b.rest(hb), c) &&
			w.gen3(o.move(a, a.n-1).move(b, hb-1), b.part(hb).rev(), c, aRest)
	}
	// The 3D Hilbert step. Of the eight octants, (b high, a low) and
	// (b high, a high) are each one sub-box whole along c, and (b low, c high)
	// is one sub-box whole along a: five sub-curves, main edges b/2, c, a, c,
	// b/2.
	hb, dc := half(b.n), half(c.n)
	b2 := b.part(hb)
	return w.gen3(o, b2, c.part(dc), a2) &&
		w.gen3(o.move(b, hb), c, a2, b.rest(hb)) &&
		w.gen3(o.move(b, hb-1).move(c, c.n-1), a, b2.rev(), c.rest(dc).rev()) &&
		w.gen3(o.move(a, a.n-1).move(b, hb).move(c, c.n-1), c.rev(), aRest, b.rest(hb)) &&
		w.gen3(o.move(a, a.n-1).move(b, hb-1), b2.rev(), c.part(dc), aRest)
}

// gen2 is gen3 for a flat box with edges a and b.
func (w *walker) gen2(o cell, a, b edge) bool {
	switch {
	case b.n == 1:
		return w.line(o, a)
	case a.n == 1:
		return w.line(o, b)
	}
	wa := half(a.n)
	if 2*a.n > 3*b.n {
		return w.gen2(o, a.part(wa), b) && w.gen2(o.move(a, wa), a.rest(wa), b)
	}
	hb := half(b.n)
	return w.gen2(o, b.part(hb), a.part(wa)) &&
		w.gen2(o.move(b, hb), a, b.rest(hb)) &&
		w.gen2(o.move(a, a.n-1).move(b, hb-1), b.part(hb).rev(), a.rest(wa).rev())
}

// The three ways gen3 splits a box (main edge w, others h and d, all >= 2).
const (
	splitMain  = iota // two halves along the main edge
	splitPlane        // three sub-boxes in the plane (main, b), whole along c
	splitOcts         // five sub-boxes: the octants, some merged
)

type split struct {
	kind int
	swap bool // exchange the roles of b and c
}

// closable reports whether a box whose curve must run from one end of its
// main edge (m cells, others o1, o2) to the other can do so in face steps.
// Colour the cells by the parity of x+y+z: a face-neighbour path alternates
// colours, and the two ends of the edge have the same colour iff m is odd.
// So m must be even, or all three sizes odd (odd cell count); and an edge of
// one cell has both ends in the same cell, so the box must be that cell.
// The condition is necessary. That it is also enough for this construction
// is what the tests find: on every box they try, Walk makes face steps only.
func closable(m, o1, o2 int) bool {
	if m == 1 {
		return o1 == 1 && o2 == 1
	}
	return m%2 == 0 || (o1%2 == 1 && o2%2 == 1)
}

// chooseSplit picks how to split a w × h × d box. The preferred split
// follows the shape (halve the main edge of a long box, do a 2D step in a
// flat one, the 3D step in a cube-like one); among the others it takes the
// one whose sub-boxes are all closable, falling back to the fewest that are
// not, so a step that must be diagonal is made once, deep down, and not at
// every level.
func chooseSplit(w, h, d int) split {
	var pref split
	switch {
	case 2*w > 3*h && 2*w > 3*d:
		pref = split{kind: splitMain}
	case 3*h > 4*d:
		pref = split{kind: splitPlane}
	case 3*d > 4*h:
		pref = split{kind: splitPlane, swap: true}
	default:
		pref = split{kind: splitOcts}
	}
	best, bestBad := pref, openSubBoxes(pref, w, h, d)
	if bestBad == 0 {
		return best
	}
	for _, sp := range [...]split{
		{splitOcts, false}, {splitOcts, true},
		{splitPlane, false}, {splitPlane, true},
		{splitMain, false},
	} {
		if bad := openSubBoxes(sp, w, h, d); bad < bestBad {
			best, bestBad = sp, bad
		}
	}
	return best
}

// openSubBoxes counts the sub-boxes of split sp of a w × h × d box (all
// sizes >= 2, so no half is empty) that are not closable.
func openSubBoxes(sp split, w, h, d int) int {
	if sp.swap {
		h, d = d, h
	}
	w2, h2, d2 := half(w), half(h), half(d)
	bad := 0
	count := func(m, o1, o2 int) {
		if !closable(m, o1, o2) {
			bad++
		}
	}
	switch sp.kind {
	case splitMain:
		count(w2, h, d)
		count(w-w2, h, d)
	case splitPlane:
		count(h2, d, w2)
		count(w, h-h2, d)
		count(h2, d, w-w2)
	default:
		count(h2, d2, w2)
		count(d, w2, h-h2)
		count(w, h2, d-d2)
		count(d, w-w2, h-h2)
		count(h2, d2, w-w2)
	}
	return bad
}

// Count returns the number of cells of an nx × ny × nz box: the number of
// cells Walk visits. It is 0 if a size is not positive.
func Count(nx, ny, nz int) int {
	if nx <= 0 || ny <= 0 || nz <= 0 {
		return 0
	}
	return nx * ny * nz
}

// Walk visits every cell (x, y, z), 0 <= x < nx, 0 <= y < ny, 0 <= z < nz,
// exactly once, in the order of the generalized Hilbert curve, starting at
// (0, 0, 0). It stops early when visit returns false. A box with a size
// that is not positive has no cells. Walk allocates nothing per cell and
// recurses O(log(max size)) deep; see doc.go for which steps are unit steps.
func Walk(nx, ny, nz int, visit func(x, y, z int) bool) {
	WalkBox(0, 0, 0, nx, ny, nz, visit)
}

// WalkBox is Walk on the box of size nx × ny × nz whose lowest corner is
// (x0, y0, z0): it visits the cells (x0+i, y0+j, z0+k) in the order Walk
// visits (i, j, k).
func WalkBox(x0, y0, z0, nx, ny, nz int, visit func(x, y, z int) bool) {
	if Count(nx, ny, nz) == 0 {
		return
	}
	sizes := [3]int{nx, ny, nz}
	// The main edge is where the curve ends: an even one if any (a box with
	// an even number of cells admits a face-neighbour path between the ends
	// of an edge only if that edge is even), else the longest. The other two
	// follow, longer first.
	main := -1
	for i, n := range sizes {
		if n%2 == 0 && (main < 0 || n > sizes[main]) {
			main = i
		}
	}
	if main < 0 {
		main = 0
		for i, n := range sizes {
			if n > sizes[main] {
				main = i
			}
		}
	}
	b, c := (main+1)%3, (main+2)%3
	if sizes[c] > sizes[b] {
		b, c = c, b
	}
	w := walker{visit: visit}
	w.gen3(cell{x0, y0, z0}, edge{sizes[main], main, 1}, edge{sizes[b], b, 1}, edge{sizes[c], c, 1})
}

// Cells returns the cells of an nx × ny × nz box in the order Walk visits
// them, as {x, y, z}.
func Cells(nx, ny, nz int) iter.Seq[[3]int] {
	return func(yield func([3]int) bool) {
		Walk(nx, ny, nz, func(x, y, z int) bool { return yield([3]int{x, y, z}) })
	}
}
