package decomp

import (
	"fmt"
	"math"
)

// weightField answers "how much does this box of cells cost": analytically
// for uniform cost, from a summed-area table for user weights.
type weightField struct {
	dims [3]int
	sat  []float64 // (nx+1)*(ny+1)*(nz+1) prefix sums, nil when uniform
}

// maxWeightedCells bounds the grids that take weights: the summed-area table
// costs 8 bytes per cell.
const maxWeightedCells = 1 << 27

func newWeightField(g Grid, w *Weights) (*weightField, error) {
	f := &weightField{dims: g.Dims}
	if w == nil {
		return f, nil
	}
	if g.Cells() > maxWeightedCells {
		return nil, fmt.Errorf("%w: weights are supported up to %d cells, grid has %d", ErrInvalid, maxWeightedCells, g.Cells())
	}
	brick := w.Brick
	for a := range 3 {
		if brick[a] == 0 {
			brick[a] = 1
		}
		if brick[a] < 0 {
			return nil, fmt.Errorf("%w: weight brick %v has a negative size", ErrInvalid, w.Brick)
		}
	}
	var nb [3]int
	for a := range 3 {
		nb[a] = (g.Dims[a] + brick[a] - 1) / brick[a]
	}
	if want := nb[0] * nb[1] * nb[2]; len(w.Values) != want {
		return nil, fmt.Errorf("%w: %d weights for %dx%dx%d bricks of %v cells (want %d)",
			ErrInvalid, len(w.Values), nb[0], nb[1], nb[2], brick, want)
	}
	for i, v := range w.Values {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: weight %d is %v, must be finite and non-negative", ErrInvalid, i, v)
		}
	}
	nx, ny, nz := g.Dims[0], g.Dims[1], g.Dims[2]
	sx, sy := nx+1, (nx+1)*(ny+1)
	f.sat = make([]float64, (nx+1)*(ny+1)*(nz+1))
	for z := range nz {
		for y := range ny {
			row := 0.0
			for x := range nx {
				bi := x/brick[0] + nb[0]*(y/brick[1]+nb[1]*(z/brick[2]))
				cellsInBrick := float64(min(brick[0], nx-x/brick[0]*brick[0]) *
					min(brick[1], ny-y/brick[1]*brick[1]) * min(brick[2], nz-z/brick[2]*brick[2]))
				row += w.Values[bi] / cellsInBrick
				// sat(x+1,y+1,z+1) = row + sat(x+1,y,z+1) + sat(x+1,y+1,z) - sat(x+1,y,z)
				i := (x + 1) + sx*(y+1) + sy*(z+1)
				f.sat[i] = row + f.sat[i-sx] + f.sat[i-sy] - f.sat[i-sx-sy]
			}
		}
	}
	return f, nil
}

// sum is the total weight of the cells of b (which must lie in the grid).
func (f *weightField) sum(b Box) float64 {
	if b.Empty() {
		return 0
	}
	if f.sat == nil {
		return float64(b.Cells())
	}
	sx, sy := f.dims[0]+1, (f.dims[0]+1)*(f.dims[1]+1)
	at := func(x, y, z int) float64 { return f.sat[x+sx*y+sy*z] }
	x0, y0, z0, x1, y1, z1 := b.Lo[0], b.Lo[1], b.Lo[2], b.Hi[0], b.Hi[1], b.Hi[2]
	return at(x1, y1, z1) - at(x0, y1, z1) - at(x1, y0, z1) - at(x1, y1, z0) +
		at(x0, y0, z1) + at(x0, y1, z0) + at(x1, y0, z0) - at(x0, y0, z0)
}

// total is the weight of the whole grid.
func (f *weightField) total() float64 { return f.sum(Box{Hi: f.dims}) }
