package decomp

import (
	"fmt"
)

// A Decomposition assigns every cell of a Grid to exactly one rank. Each
// rank's part is a union of disjoint boxes; together the boxes of all ranks
// tile the grid exactly.
type Decomposition struct {
	Grid   Grid
	Method string
	// Boxes[r] is the list of boxes owned by rank r. It is read-only: New
	// derives the cell counts and the owner index from it.
	Boxes [][]Box
	// RanksPerNode is K when ranks 0..K-1 share node 0, K..2K-1 node 1, and so
	// on; 0 means every rank on its own node.
	RanksPerNode int
	// Note says where a method could not do what it aims at (a fallback, a
	// balance it could not reach); empty when all went as designed.
	Note string

	cells []int
	index *boxIndex
}

// New builds a Decomposition from explicit boxes per rank, checking that they
// tile the grid exactly (inside it, no overlap, nothing missing). It is how a
// decomposition read from a file or made by hand is brought in. A rank may
// own no cells (it then takes part in no exchange); the partitioners never
// leave a rank empty.
func New(g Grid, boxes [][]Box, ranksPerNode int) (*Decomposition, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if len(boxes) < 1 {
		return nil, fmt.Errorf("%w: no ranks", ErrInvalid)
	}
	if ranksPerNode < 0 {
		return nil, fmt.Errorf("%w: ranks per node %d is negative", ErrInvalid, ranksPerNode)
	}
	whole := g.Box()
	total := 0
	cells := make([]int, len(boxes))
	for r, bs := range boxes {
		for _, b := range bs {
			if b.Empty() || b.Intersect(whole) != b {
				return nil, fmt.Errorf("%w: rank %d box %v is empty or outside grid %v", ErrInvalid, r, b, g.Dims)
			}
			cells[r] += b.Cells()
		}
		total += cells[r]
	}
	if total != g.Cells() {
		return nil, fmt.Errorf("%w: boxes cover %d cells, grid has %d", ErrInvalid, total, g.Cells())
	}
	idx, err := newBoxIndex(boxes)
	if err != nil {
		return nil, err
	}
	return &Decomposition{Grid: g, Boxes: boxes, RanksPerNode: ranksPerNode, cells: cells, index: idx}, nil
}

// Ranks is the number of ranks.
func (d *Decomposition) Ranks() int { return len(d.Boxes) }

// Cells is the number of cells rank r owns.
func (d *Decomposition) Cells(r int) int { return d.cells[r] }

// Node is the node that rank r sits on (r / RanksPerNode), or r itself when
// RanksPerNode is 0.
func (d *Decomposition) Node(r int) int {
	if d.RanksPerNode <= 0 {
		return r
	}
	return r / d.RanksPerNode
}

// Owner is the rank owning cell p, which must lie inside the grid (use Wrap
// first for periodic coordinates); -1 if it does not. It takes O(log boxes).
func (d *Decomposition) Owner(p [3]int) int {
	r, _ := d.index.find(p)
	return r
}

// Wrap maps p into the grid along periodic axes; ok is false if p lies
// outside the grid along a non-periodic axis.
func (g Grid) Wrap(p [3]int) (q [3]int, ok bool) {
	for a := range 3 {
		n := g.Dims[a]
		v := p[a]
		if v < 0 || v >= n {
			if !g.Periodic[a] {
				return p, false
			}
			v %= n
			if v < 0 {
				v += n
			}
		}
		q[a] = v
	}
	return q, true
}
