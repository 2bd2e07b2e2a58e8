package render

import (
	"slices"

	"github.com/hilo-hpc/hilo/decomp"
)

// inPlane is the pair of axes (u to the right, v upward) that a slice
// normal to axis a shows.
func inPlane(a int) (u, v int) {
	switch a {
	case decomp.X:
		return decomp.Y, decomp.Z
	case decomp.Y:
		return decomp.X, decomp.Z
	default:
		return decomp.X, decomp.Y
	}
}

// A layerPainter paints the owners of one z layer of the grid at a time,
// walking z upward, so a whole grid can be streamed out in x-fastest order
// with memory for one layer.
type layerPainter struct {
	d      *decomp.Decomposition
	order  []boxRef // all boxes by increasing Lo z
	next   int      // first box of order not yet active
	active []boxRef
}

// boxRef is one box with its rank and its global number: boxes are numbered
// 0, 1, ... rank by rank in the order of Decomposition.Boxes.
type boxRef struct {
	rank, id int
	box      decomp.Box
}

func newLayerPainter(d *decomp.Decomposition) *layerPainter {
	p := &layerPainter{d: d}
	id := 0
	for r, bs := range d.Boxes {
		for _, b := range bs {
			p.order = append(p.order, boxRef{rank: r, id: id, box: b})
			id++
		}
	}
	slices.SortStableFunc(p.order, func(a, b boxRef) int { return a.box.Lo[2] - b.box.Lo[2] })
	return p
}

// paint fills rank and box (NX*NY each, x fastest) for layer z; calls must
// come with z increasing. Uncovered cells get -1.
func (p *layerPainter) paint(z int, rank, box []int32) {
	for p.next < len(p.order) && p.order[p.next].box.Lo[2] <= z {
		p.active = append(p.active, p.order[p.next])
		p.next++
	}
	p.active = slices.DeleteFunc(p.active, func(b boxRef) bool { return b.box.Hi[2] <= z })
	for i := range rank {
		rank[i] = -1
		box[i] = -1
	}
	nx, ny := p.d.Grid.Dims[0], p.d.Grid.Dims[1]
	for _, br := range p.active {
		b := br.box
		for y := max(b.Lo[1], 0); y < min(b.Hi[1], ny); y++ {
			for x := max(b.Lo[0], 0); x < min(b.Hi[0], nx); x++ {
				rank[x+nx*y] = int32(br.rank)
				box[x+nx*y] = int32(br.id)
			}
		}
	}
}
