package render

import (
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
)

// blocks splits g into px*py*pz Cartesian blocks as even as integer division
// allows, rank r = bx + px*(by + py*bz); each block taller than one cell in z
// is kept as two boxes, so ranks own more than one box.
func blocks(t testing.TB, g decomp.Grid, px, py, pz int) *decomp.Decomposition {
	t.Helper()
	cut := func(n, p, i int) int { return n * i / p }
	var boxes [][]decomp.Box
	for bz := range pz {
		for by := range py {
			for bx := range px {
				b := decomp.Box{
					Lo: [3]int{cut(g.Dims[0], px, bx), cut(g.Dims[1], py, by), cut(g.Dims[2], pz, bz)},
					Hi: [3]int{cut(g.Dims[0], px, bx+1), cut(g.Dims[1], py, by+1), cut(g.Dims[2], pz, bz+1)},
				}
				if b.Size(2) > 1 {
					mid := (b.Lo[2] + b.Hi[2]) / 2
					lo, hi := b, b
					lo.Hi[2], hi.Lo[2] = mid, mid
					boxes = append(boxes, []decomp.Box{lo, hi})
				} else {
					boxes = append(boxes, []decomp.Box{b})
				}
			}
		}
	}
	d, err := decomp.New(g, boxes, 0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// scattered cuts g into bricks of edge brick and deals them to p ranks by a
// multiplicative hash, so ranks are disconnected and own many boxes.
func scattered(t testing.TB, g decomp.Grid, brick, p int) *decomp.Decomposition {
	t.Helper()
	boxes := make([][]decomp.Box, p)
	i := 0
	for z := 0; z < g.Dims[2]; z += brick {
		for y := 0; y < g.Dims[1]; y += brick {
			for x := 0; x < g.Dims[0]; x += brick {
				b := decomp.Box{Lo: [3]int{x, y, z}, Hi: [3]int{min(x+brick, g.Dims[0]), min(y+brick, g.Dims[1]), min(z+brick, g.Dims[2])}}
				r := i % p
				if i >= p {
					r = int(uint32(i*2654435761) % uint32(p))
				}
				boxes[r] = append(boxes[r], b)
				i++
			}
		}
	}
	d, err := decomp.New(g, boxes, 0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
