package decomp

import "fmt"

// Stencil says which ghost regions a halo includes: 6 (faces only), 18
// (faces and edges) or 26 (faces, edges and corners).
type Stencil int

// The stencils.
const (
	Faces   Stencil = 6
	Edges   Stencil = 18
	Corners Stencil = 26
)

// Valid reports whether s is 6, 18 or 26.
func (s Stencil) Valid() bool { return s == Faces || s == Edges || s == Corners }

// maxOffAxes is how many axes a ghost region may lie off the box along:
// 1 for faces, 2 with edges, 3 with corners.
func (s Stencil) maxOffAxes() int {
	switch s {
	case Faces:
		return 1
	case Edges:
		return 2
	default:
		return 3
	}
}

// A HaloSpec describes the ghost layers of one field: Width[a][0] cells below
// and Width[a][1] cells above each box along axis a (asymmetric and one-sided
// halos allowed), and which ghost regions the stencil reads.
type HaloSpec struct {
	Width   [3][2]int
	Stencil Stencil
}

// UniformHalo is a halo of width w on every side with stencil s.
func UniformHalo(w int, s Stencil) HaloSpec {
	return HaloSpec{Width: [3][2]int{{w, w}, {w, w}, {w, w}}, Stencil: s}
}

// Validate reports whether the spec has non-negative widths and a valid stencil.
func (h HaloSpec) Validate() error {
	if !h.Stencil.Valid() {
		return fmt.Errorf("%w: stencil %d, want 6, 18 or 26", ErrInvalid, int(h.Stencil))
	}
	for a := range 3 {
		for s := range 2 {
			if h.Width[a][s] < 0 || h.Width[a][s] > 1<<20 {
				return fmt.Errorf("%w: halo width %d on axis %c is out of range", ErrInvalid, h.Width[a][s], "xyz"[a])
			}
		}
	}
	return nil
}

// Lo is the ghost widths below the box per axis; Hi those above.
func (h HaloSpec) Lo() [3]int { return [3]int{h.Width[0][0], h.Width[1][0], h.Width[2][0]} }

// Hi is the ghost widths above the box per axis.
func (h HaloSpec) Hi() [3]int { return [3]int{h.Width[0][1], h.Width[1][1], h.Width[2][1]} }

// A Transfer is one block of ghost cells that rank Dst needs from rank Src:
// the cells SrcBox of the grid (owned by Src, inside the grid) land in Dst's
// ghost layer at DstBox, in Dst's unwrapped coordinates: DstBox may lie
// outside the grid across a periodic boundary, and DstBox = SrcBox shifted by
// a whole number of periods per axis. Src == Dst is a local copy (between
// two boxes of one rank, or a rank wrapping onto itself).
//
// DstOwnBox is the index in Boxes[Dst] of the box whose ghost layer DstBox
// belongs to, and SrcOwnBox the index in Boxes[Src] of the box SrcBox lies in.
type Transfer struct {
	Src, Dst             int
	SrcOwnBox, DstOwnBox int
	SrcBox, DstBox       Box
}
