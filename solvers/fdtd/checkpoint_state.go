package fdtd

import (
	"fmt"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
)

// A stateSection is one array of solver state that a checkpoint carries: a
// name, the global box of cells it covers, and this rank's share of it.
// Across all ranks the parts must tile box exactly (every cell held by one
// rank); Checkpoint checks that. In the file, a section is its values over
// box in global x-fastest order, so the file does not depend on the
// decomposition.
//
// Sections are block-wise rather than cell-wise: a part hands out whole rows
// of its storage, which Checkpoint encodes and Restore decodes in place, so
// neither pays a call per cell. To carry more state (CPML auxiliary arrays
// over slab boxes, say), append a section whose parts are this rank's pieces
// of it: densePart wraps a plain x-fastest array over a box, fieldSection a
// halo.Field's interiors.
type stateSection[T Float] struct {
	name  string         // at most maxSectionName bytes of printable ASCII
	box   decomp.Box     // global cells covered by the section
	parts []statePart[T] // this rank's share: disjoint boxes inside box
}

// A statePart is a box of cells that this rank holds, with its storage.
type statePart[T Float] struct {
	box decomp.Box
	// row returns the box.Size(0) values of row (y, z) of box, x from
	// box.Lo[0] up, as a slice of the storage itself: Checkpoint reads it,
	// Restore writes it.
	row func(y, z int) []T
}

// checkpointSections lists the state Checkpoint writes and Restore reads, in
// file order: the six field components over the whole grid, then the CPML
// auxiliary fields ψ of every layer (each over its global layer box; a rank
// holds the parts inside its blocks).
func (s *Solver[T]) checkpointSections() []stateSection[T] {
	secs := make([]stateSection[T], 0, 6+len(s.pmlLayers))
	for c := Ex; c <= Hz; c++ {
		secs = append(secs, fieldSection(c.String(), s.f[c]))
	}
	for li, layer := range s.pmlLayers {
		sec := stateSection[T]{name: layer.name, box: layer.box}
		for _, r := range s.pml {
			if r.layer != li {
				continue
			}
			sec.parts = append(sec.parts, denseRows(r.box, r.psi)) // psi holds r.box.Cells() values
		}
		secs = append(secs, sec)
	}
	return secs
}

// fieldSection is the section of a field over the whole grid: one part per
// block, its interior.
func fieldSection[T Float](name string, f *halo.Field[T]) stateSection[T] {
	sec := stateSection[T]{name: name, box: f.Decomposition().Grid.Box()}
	for _, b := range f.Blocks() {
		in := b.Interior()
		n := in.Size(0)
		sec.parts = append(sec.parts, statePart[T]{box: in, row: func(y, z int) []T {
			i := b.Index(in.Lo[0], y, z)
			return b.Data[i : i+n : i+n]
		}})
	}
	return sec
}

// densePart is a part stored as a plain array over box, x fastest (as a
// CPML layer would keep its auxiliary fields). data must hold box.Cells()
// values.
func densePart[T Float](box decomp.Box, data []T) (statePart[T], error) {
	if box.Empty() || len(data) != box.Cells() {
		return statePart[T]{}, fmt.Errorf("%w: dense part over %v with %d values", ErrInvalid, box, len(data))
	}
	return denseRows(box, data), nil
}

// denseRows is densePart without the check.
func denseRows[T Float](box decomp.Box, data []T) statePart[T] {
	nx, ny := box.Size(0), box.Size(1)
	return statePart[T]{box: box, row: func(y, z int) []T {
		i := ((z-box.Lo[2])*ny + (y - box.Lo[1])) * nx
		return data[i : i+nx : i+nx]
	}}
}

// checkLocalParts checks that each part of this rank lies inside its
// section's box (the rank's own mistake, caught before any I/O).
func checkLocalParts[T Float](secs []stateSection[T]) error {
	for _, sec := range secs {
		if err := checkSectionName(sec.name); err != nil {
			return err
		}
		if sec.box.Empty() {
			return fmt.Errorf("section %q has an empty box %v", sec.name, sec.box)
		}
		for _, p := range sec.parts {
			if p.box.Empty() || p.box.Intersect(sec.box) != p.box {
				return fmt.Errorf("section %q: part %v is empty or outside the section's box %v", sec.name, p.box, sec.box)
			}
			// Every row must be whole: once the gather has started, a rank
			// cannot stop sending without leaving rank 0 waiting.
			n := p.box.Size(0)
			for z := p.box.Lo[2]; z < p.box.Hi[2]; z++ {
				for y := p.box.Lo[1]; y < p.box.Hi[1]; y++ {
					if m := len(p.row(y, z)); m != n {
						return fmt.Errorf("section %q: part %v: row (%d, %d) has %d values, want %d", sec.name, p.box, y, z, m, n)
					}
				}
			}
		}
	}
	return nil
}
