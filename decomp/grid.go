package decomp

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every error about input that cannot be decomposed:
// bad dimensions, rank counts, methods, stencils, halo widths or weights.
var ErrInvalid = errors.New("decomp: invalid input")

// Axes are numbered 0 (x), 1 (y), 2 (z). Cells are stored and walked with x
// fastest, so (x, y, z) has linear index x + NX*(y + NY*z).
const (
	X = 0
	Y = 1
	Z = 2
)

// A Grid is a structured 3D grid of cells, optionally periodic per axis.
type Grid struct {
	Dims     [3]int
	Periodic [3]bool
}

// Cells is the number of cells in the grid.
func (g Grid) Cells() int { return g.Dims[0] * g.Dims[1] * g.Dims[2] }

// Box is the whole grid as a box.
func (g Grid) Box() Box { return Box{Hi: g.Dims} }

// Validate reports whether the grid has positive dimensions whose product
// fits comfortably in an int.
func (g Grid) Validate() error {
	n := 1
	for a, d := range g.Dims {
		if d <= 0 {
			return fmt.Errorf("%w: grid dimension %d is %d, must be positive", ErrInvalid, a, d)
		}
		if d > 1<<21 {
			return fmt.Errorf("%w: grid dimension %d is %d, at most %d", ErrInvalid, a, d, 1<<21)
		}
		n *= d
		if n > 1<<40 {
			return fmt.Errorf("%w: grid %v has more than 2^40 cells", ErrInvalid, g.Dims)
		}
	}
	return nil
}

func (g Grid) String() string {
	s := fmt.Sprintf("%dx%dx%d", g.Dims[0], g.Dims[1], g.Dims[2])
	p := ""
	for a, on := range g.Periodic {
		if on {
			p += string("xyz"[a])
		}
	}
	if p != "" {
		s += " periodic " + p
	}
	return s
}

// A Box is a half-open block of cells [Lo, Hi) in global grid coordinates.
// Coordinates may lie outside the grid where a box describes ghost cells
// across a periodic boundary.
type Box struct {
	Lo, Hi [3]int
}

// Size is the extent of the box along axis a.
func (b Box) Size(a int) int { return b.Hi[a] - b.Lo[a] }

// Dims is the extent of the box along each axis.
func (b Box) Dims() [3]int { return [3]int{b.Size(0), b.Size(1), b.Size(2)} }

// Empty reports whether the box holds no cell.
func (b Box) Empty() bool {
	return b.Hi[0] <= b.Lo[0] || b.Hi[1] <= b.Lo[1] || b.Hi[2] <= b.Lo[2]
}

// Cells is the number of cells in the box (0 if empty).
func (b Box) Cells() int {
	if b.Empty() {
		return 0
	}
	return b.Size(0) * b.Size(1) * b.Size(2)
}

// Intersect is the common part of b and c (possibly empty).
func (b Box) Intersect(c Box) Box {
	var r Box
	for a := range 3 {
		r.Lo[a] = max(b.Lo[a], c.Lo[a])
		r.Hi[a] = min(b.Hi[a], c.Hi[a])
	}
	return r
}

// Contains reports whether cell p lies in b.
func (b Box) Contains(p [3]int) bool {
	return p[0] >= b.Lo[0] && p[0] < b.Hi[0] &&
		p[1] >= b.Lo[1] && p[1] < b.Hi[1] &&
		p[2] >= b.Lo[2] && p[2] < b.Hi[2]
}

// Shift is b moved by d.
func (b Box) Shift(d [3]int) Box {
	for a := range 3 {
		b.Lo[a] += d[a]
		b.Hi[a] += d[a]
	}
	return b
}

// Grow is b extended by lo[a] cells below and hi[a] cells above on each axis.
func (b Box) Grow(lo, hi [3]int) Box {
	for a := range 3 {
		b.Lo[a] -= lo[a]
		b.Hi[a] += hi[a]
	}
	return b
}

func (b Box) String() string {
	return fmt.Sprintf("[%d,%d)x[%d,%d)x[%d,%d)", b.Lo[0], b.Hi[0], b.Lo[1], b.Hi[1], b.Lo[2], b.Hi[2])
}
