package decomp

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// boxIndex answers "which rank and box own cell p" in O(depth) and "which
// boxes overlap this block" in O(depth + output) over all ranks' boxes.
//
// It is a k-d tree whose internal nodes split space on box boundaries.
// A box that straddles a split plane goes down both sides, so leaf regions
// partition space and every leaf holds at most leafBoxes boxes (those
// overlapping its region). Planes are chosen for balance and few
// straddlers, so the depth is O(log boxes) for the tilings partitioners
// make; a contrived tiling can make it deeper, never wrong. A range query reports a box only at the leaf whose
// region holds the low corner of (box ∩ query), so each overlap comes out
// once and whole, whatever the shape of the tree. The index is read-only
// after construction and safe for concurrent use.
type boxIndex struct {
	boxes []indexedBox // every non-empty box, in rank then box order
	nodes []kdNode     // nodes[0] is the root; a left child follows its parent
	leaf  []int32      // box ids of the leaves, a leaf's ids contiguous
	root  Box          // bounding box of all boxes: the root's region
	base  []int        // base[r] is the global id of Boxes[r][0]
}

// An indexedBox is one box with its owner.
type indexedBox struct {
	box  Box
	rank int32
	idx  int32
}

// A kdNode is an internal node (axis >= 0: cells with coordinate < split
// along axis go to the left child at the next index, the others to the
// child at right) or a leaf (axis < 0: boxes leaf[first:first+count]).
type kdNode struct {
	split        int
	axis         int32
	right        int32
	first, count int32
}

// leafBoxes is the most boxes a leaf holds: small enough that a leaf is
// scanned in a few compares, large enough to keep the tree shallow.
const leafBoxes = 8

// A boxHit is one box found by a range query: its owner, its index in the
// owner's list, its global id (boxIndex.globalID) and the part of it
// inside the query.
type boxHit struct {
	rank, box, id int
	cells         Box
}

// newBoxIndex indexes the boxes of every rank (boxes[r] those of rank r).
// Empty boxes own no cell and are left out. It fails with ErrInvalid if two
// boxes overlap. It takes O(n log n) time for typical tilings of n boxes.
func newBoxIndex(boxes [][]Box) (*boxIndex, error) {
	ix := &boxIndex{base: make([]int, len(boxes)+1)}
	n := 0
	for r, bs := range boxes {
		ix.base[r] = n
		n += len(bs)
	}
	ix.base[len(boxes)] = n
	if n > math.MaxInt32 || len(boxes) > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d boxes, at most %d", ErrInvalid, n, math.MaxInt32)
	}
	ix.boxes = make([]indexedBox, 0, n)
	first := true
	for r, bs := range boxes {
		for i, b := range bs {
			if b.Empty() {
				continue
			}
			ix.boxes = append(ix.boxes, indexedBox{box: b, rank: int32(r), idx: int32(i)})
			if first {
				ix.root, first = b, false
			} else {
				for a := range 3 {
					ix.root.Lo[a] = min(ix.root.Lo[a], b.Lo[a])
					ix.root.Hi[a] = max(ix.root.Hi[a], b.Hi[a])
				}
			}
		}
	}
	bld := kdBuilder{ix: ix, arena: make([]kdItem, 0, 4*len(ix.boxes))}
	for id, b := range ix.boxes {
		it := kdItem{id: int32(id)}
		for a := range 3 {
			if b.box.Lo[a] < math.MinInt32 || b.box.Hi[a] > math.MaxInt32 {
				return nil, fmt.Errorf("%w: box %v beyond 32-bit coordinates", ErrInvalid, b.box)
			}
			it.lo[a], it.hi[a] = int32(b.box.Lo[a]), int32(b.box.Hi[a])
		}
		bld.arena = append(bld.arena, it)
	}
	ix.nodes = make([]kdNode, 0, 4*len(ix.boxes)/leafBoxes+1)
	ix.leaf = make([]int32, 0, 2*len(ix.boxes))
	if err := bld.build(0, len(bld.arena), ix.root); err != nil {
		return nil, err
	}
	return ix, nil
}

// globalID is the id of box i of rank r among all boxes (rank-major).
func (ix *boxIndex) globalID(r, i int) int { return ix.base[r] + i }

// find returns the owner rank and box index of cell p, or -1, -1.
func (ix *boxIndex) find(p [3]int) (rank, box int) {
	if len(ix.nodes) == 0 || !ix.root.Contains(p) {
		return -1, -1
	}
	n := &ix.nodes[0]
	i := 0
	for n.axis >= 0 {
		if p[n.axis] < n.split {
			i++
		} else {
			i = int(n.right)
		}
		n = &ix.nodes[i]
	}
	for _, id := range ix.leaf[n.first : n.first+n.count] {
		b := &ix.boxes[id]
		if b.box.Contains(p) {
			return int(b.rank), int(b.idx)
		}
	}
	return -1, -1
}

// query appends to out every box overlapping q, with the overlap, ordered
// by the tree (deterministic for a given index), and returns the result.
func (ix *boxIndex) query(q Box, out []boxHit) []boxHit {
	if len(ix.nodes) == 0 {
		return out
	}
	q = q.Intersect(ix.root)
	if q.Empty() {
		return out
	}
	return ix.queryNode(0, ix.root, q, out)
}

func (ix *boxIndex) queryNode(i int, region, q Box, out []boxHit) []boxHit {
	for {
		n := &ix.nodes[i]
		if n.axis < 0 {
			break
		}
		a, s := n.axis, n.split
		if q.Hi[a] <= s { // only the left child
			region.Hi[a] = s
			i++
			continue
		}
		if q.Lo[a] >= s { // only the right child
			region.Lo[a] = s
			i = int(n.right)
			continue
		}
		left := region
		left.Hi[a] = s
		out = ix.queryNode(i+1, left, q, out)
		region.Lo[a] = s
		i = int(n.right)
	}
	n := &ix.nodes[i]
	for _, id := range ix.leaf[n.first : n.first+n.count] {
		b := &ix.boxes[id]
		c := b.box.Intersect(q)
		// Report the overlap only at the leaf holding its low corner: the
		// box may sit in several leaves, but the corner in exactly one.
		if c.Empty() || !region.Contains(c.Lo) {
			continue
		}
		out = append(out, boxHit{rank: int(b.rank), box: int(b.idx), id: ix.base[b.rank] + int(b.idx), cells: c})
	}
	return out
}

// kdBuilder holds the scratch space of one index construction.
type kdBuilder struct {
	ix *boxIndex
	// arena holds the boxes of the nodes on the current path of the
	// recursion, contiguous and compact so that each pass over a node's
	// boxes reads memory in order.
	arena   []kdItem
	sample  []kdItem
	scratch []int32
}

// A kdItem is a box (int32 coordinates) and its id in boxIndex.boxes.
type kdItem struct {
	lo, hi [3]int32
	id     int32
}

// A splitCandidate is a plane considered for a node: cells with coordinate
// < at along axis go left.
type splitCandidate struct {
	axis        int
	at          int32
	left, right int // boxes that would go to each side
}

// build appends the subtree for the boxes arena[start:end] (each overlapping
// region) to the index.
func (bld *kdBuilder) build(start, end int, region Box) error {
	ix := bld.ix
	items := bld.arena[start:end]
	n := len(items)
	if n <= leafBoxes {
		// No split needed; check the few boxes pairwise inside the region.
		// Any overlap of two boxes has its low corner in some leaf region,
		// where both boxes are present, so this finds every overlap.
		for j := range n {
			for k := j + 1; k < n; k++ {
				bj, bk := &ix.boxes[items[j].id], &ix.boxes[items[k].id]
				if !bj.box.Intersect(bk.box).Intersect(region).Empty() {
					return overlapError(bj, bk)
				}
			}
		}
		ix.nodes = append(ix.nodes, kdNode{axis: -1, first: int32(len(ix.leaf)), count: int32(n)})
		for _, it := range items {
			ix.leaf = append(ix.leaf, it.id)
		}
		return nil
	}

	// Candidate planes: per axis the (sampled) median of the boxes' low
	// sides and of their high sides, balanced cuts, often along boundaries
	// many boxes share; failing those, the lowest high side or highest low
	// side, one of which always separates two boxes when the boxes are
	// disjoint.
	var rlo, rhi [3]int32
	for a := range 3 {
		rlo[a], rhi[a] = int32(region.Lo[a]), int32(region.Hi[a])
	}
	minHi, maxLo := rhi, rlo
	for i := range items {
		it := &items[i]
		for a := range 3 {
			minHi[a] = min(minHi[a], it.hi[a])
			maxLo[a] = max(maxLo[a], it.lo[a])
		}
	}
	if minHi[0] > maxLo[0] && minHi[1] > maxLo[1] && minHi[2] > maxLo[2] {
		// Every pair of boxes overlaps along every axis, so (Helly in 1D)
		// they all share a cell.
		return overlapError(&ix.boxes[items[0].id], &ix.boxes[items[1].id])
	}
	// Medians and costs come from an evenly strided sample of the boxes: a
	// plane that divides the sample divides them all, and the sample
	// estimates balance and straddlers well enough at a fraction of the
	// cost of counting every box for every candidate.
	sample := bld.sample[:0]
	step := max(1, n/medianSample)
	for j := 0; j < n; j += step {
		sample = append(sample, items[j])
	}
	bld.sample = sample
	var cands [6]splitCandidate
	for a := range 3 {
		cands[2*a] = splitCandidate{axis: a, at: bld.median(sample, rlo[a], rhi[a], a, false)}
		cands[2*a+1] = splitCandidate{axis: a, at: bld.median(sample, rlo[a], rhi[a], a, true)}
	}
	best := choose(sample, rlo, rhi, cands[:])
	if best < 0 {
		for c := range cands {
			cands[c].left, cands[c].right = 0, 0
		}
		best = choose(items, rlo, rhi, cands[:])
	}
	if best < 0 {
		nc := 0
		for a := range 3 {
			if minHi[a] <= maxLo[a] {
				cands[nc] = splitCandidate{axis: a, at: minHi[a]}
				cands[nc+1] = splitCandidate{axis: a, at: maxLo[a]}
				nc += 2
			}
		}
		best = choose(items, rlo, rhi, cands[:nc])
	}
	if best < 0 {
		// Unreachable: a lowest-high/highest-low plane always qualifies
		// when not all boxes share a point.
		return fmt.Errorf("decomp: internal error: no split for %d boxes in %v", n, region)
	}
	cd := cands[best]
	ax, at := cd.axis, cd.at
	// Lay out the right side, then the left, after this node's boxes: the
	// left subtree is built first in the space beyond, then the right one
	// reuses that space.
	rStart := end
	for i := start; i < end; i++ {
		if it := bld.arena[i]; it.hi[ax] > at {
			bld.arena = append(bld.arena, it)
		}
	}
	lStart := len(bld.arena)
	for i := start; i < end; i++ {
		if it := bld.arena[i]; it.lo[ax] < at {
			bld.arena = append(bld.arena, it)
		}
	}
	lEnd := len(bld.arena)
	self := len(ix.nodes)
	ix.nodes = append(ix.nodes, kdNode{axis: int32(ax), split: int(at)})
	lr, rr := region, region
	lr.Hi[ax] = int(at)
	rr.Lo[ax] = int(at)
	if err := bld.build(lStart, lEnd, lr); err != nil {
		return err
	}
	if len(ix.nodes) > math.MaxInt32 {
		return fmt.Errorf("%w: box index too large", ErrInvalid)
	}
	ix.nodes[self].right = int32(len(ix.nodes))
	bld.arena = bld.arena[:lStart]
	err := bld.build(rStart, lStart, rr)
	bld.arena = bld.arena[:end]
	return err
}

// choose counts the boxes on each side of every candidate and returns the
// index of the best one that divides the boxes (-1 if none does), filling
// the counts of cands.
func choose(items []kdItem, rlo, rhi [3]int32, cands []splitCandidate) int {
	n := len(items)
	for c := range cands {
		cd := &cands[c]
		if cd.at <= rlo[cd.axis] || cd.at >= rhi[cd.axis] {
			cd.left, cd.right = n, n // outside the region: divides nothing
			continue
		}
		ax, at := cd.axis, cd.at
		for i := range items {
			if items[i].lo[ax] < at {
				cd.left++
			}
			if items[i].hi[ax] > at {
				cd.right++
			}
		}
	}
	best, bestCost := -1, 0
	for c, cd := range cands {
		if cd.left == n || cd.right == n {
			continue // does not divide the boxes
		}
		// The larger side bounds the depth; straddlers cost copies.
		cost := max(cd.left, cd.right) + (cd.left + cd.right - n)
		if best < 0 || cost < bestCost {
			best, bestCost = c, cost
		}
	}
	return best
}

// medianSample is about how many boxes a node's split plane is chosen
// from.
const medianSample = 63

// median is the median over items of the boxes' low or high sides along
// axis a, clipped to [lo, hi].
func (bld *kdBuilder) median(items []kdItem, lo, hi int32, a int, high bool) int32 {
	v := bld.scratch[:0]
	for j := range items {
		x := items[j].lo[a]
		if high {
			x = items[j].hi[a]
		}
		v = append(v, min(max(x, lo), hi))
	}
	bld.scratch = v
	return selectNth(v, len(v)/2)
}

// selectNth returns the value that would sit at index k if v were sorted,
// reordering v. Expected O(len(v)); a deterministic pivot, with a fallback
// to sorting when partitions stay lopsided.
func selectNth[T cmp.Ordered](v []T, k int) T {
	lo, hi := 0, len(v) // the answer lies in v[lo:hi]
	for rounds := 0; hi-lo > 16; rounds++ {
		if rounds > 64 {
			break
		}
		// Median of three as pivot.
		x, y, z := v[lo], v[lo+(hi-lo)/2], v[hi-1]
		p := max(min(x, y), min(max(x, y), z))
		// Three-way partition: [lo,lt) < p, [lt,gt) == p, [gt,hi) > p.
		lt, i, gt := lo, lo, hi
		for i < gt {
			switch {
			case v[i] < p:
				v[lt], v[i] = v[i], v[lt]
				lt++
				i++
			case v[i] > p:
				gt--
				v[gt], v[i] = v[i], v[gt]
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt
		case k >= gt:
			lo = gt
		default:
			return p
		}
	}
	slices.Sort(v[lo:hi])
	return v[k]
}

func overlapError(a, b *indexedBox) error {
	return fmt.Errorf("%w: rank %d box %d %v overlaps rank %d box %d %v",
		ErrInvalid, a.rank, a.idx, a.box, b.rank, b.idx, b.box)
}
