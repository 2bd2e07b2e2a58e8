package decomp

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// Brute-force references for the geometry tests: tilings made at random and
// per-cell owner arrays against which the box-based code is checked.

// randomGrid is a grid of 1..maxDim cells per axis with random periodicity.
func randomGrid(rng *rand.Rand, maxDim int) Grid {
	var g Grid
	for a := range 3 {
		g.Dims[a] = 1 + rng.IntN(maxDim)
		g.Periodic[a] = rng.IntN(2) == 0
	}
	return g
}

// guillotineTiling splits the grid recursively: pieces times, a random box
// is cut in two at a random plane.
func guillotineTiling(rng *rand.Rand, g Grid, pieces int) []Box {
	boxes := []Box{g.Box()}
	for range pieces - 1 {
		i := rng.IntN(len(boxes))
		b := boxes[i]
		var axes []int
		for a := range 3 {
			if b.Size(a) > 1 {
				axes = append(axes, a)
			}
		}
		if len(axes) == 0 {
			continue
		}
		a := axes[rng.IntN(len(axes))]
		at := b.Lo[a] + 1 + rng.IntN(b.Size(a)-1)
		lo, hi := b, b
		lo.Hi[a], hi.Lo[a] = at, at
		boxes[i] = lo
		boxes = append(boxes, hi)
	}
	return boxes
}

// greedyTiling walks the cells in storage order and, at each cell not yet
// covered, places a box of random size over free cells. Unlike guillotine
// cuts this makes pinwheels and other tilings no single plane divides.
func greedyTiling(rng *rand.Rand, g Grid, maxSide int) []Box {
	nx, ny, nz := g.Dims[0], g.Dims[1], g.Dims[2]
	used := make([]bool, g.Cells())
	at := func(x, y, z int) int { return x + nx*(y+ny*z) }
	var boxes []Box
	for z := range nz {
		for y := range ny {
			for x := range nx {
				if used[at(x, y, z)] {
					continue
				}
				// Largest free extent along x, then y, then z.
				want := [3]int{1 + rng.IntN(maxSide), 1 + rng.IntN(maxSide), 1 + rng.IntN(maxSide)}
				dx := 0
				for dx < want[0] && x+dx < nx && !used[at(x+dx, y, z)] {
					dx++
				}
				free := func(y1, z1 int) bool {
					for i := range dx {
						if used[at(x+i, y1, z1)] {
							return false
						}
					}
					return true
				}
				dy := 1
				for dy < want[1] && y+dy < ny && free(y+dy, z) {
					dy++
				}
				dz := 1
				for dz < want[2] && z+dz < nz {
					ok := true
					for j := range dy {
						ok = ok && free(y+j, z+dz)
					}
					if !ok {
						break
					}
					dz++
				}
				b := Box{Lo: [3]int{x, y, z}, Hi: [3]int{x + dx, y + dy, z + dz}}
				for k := b.Lo[2]; k < b.Hi[2]; k++ {
					for j := b.Lo[1]; j < b.Hi[1]; j++ {
						for i := b.Lo[0]; i < b.Hi[0]; i++ {
							used[at(i, j, k)] = true
						}
					}
				}
				boxes = append(boxes, b)
			}
		}
	}
	return boxes
}

// dealBoxes gives each box to a random one of ranks ranks (some ranks may
// get none, most get several, usually not adjacent).
func dealBoxes(rng *rand.Rand, boxes []Box, ranks int) [][]Box {
	out := make([][]Box, ranks)
	for _, b := range boxes {
		r := rng.IntN(ranks)
		out[r] = append(out[r], b)
	}
	return out
}

// randomDecomposition is a random tiling of a random small grid dealt to
// random ranks, built with New.
func randomDecomposition(t testing.TB, rng *rand.Rand, maxDim int) *Decomposition {
	t.Helper()
	g := randomGrid(rng, maxDim)
	var boxes []Box
	if rng.IntN(2) == 0 {
		boxes = guillotineTiling(rng, g, 1+rng.IntN(12))
	} else {
		boxes = greedyTiling(rng, g, 1+rng.IntN(4))
	}
	ranks := 1 + rng.IntN(5)
	d, err := New(g, dealBoxes(rng, boxes, ranks), rng.IntN(3))
	if err != nil {
		t.Fatalf("New(%v, %d boxes): %v", g, len(boxes), err)
	}
	return d
}

// cellOwners is the brute-force owner of every cell: rank and box index,
// stored x fastest.
type cellOwners struct {
	g          Grid
	rank, box  []int
	boxesCount int
}

func bruteOwners(t testing.TB, d *Decomposition) *cellOwners {
	t.Helper()
	o := &cellOwners{g: d.Grid, rank: make([]int, d.Grid.Cells()), box: make([]int, d.Grid.Cells())}
	for i := range o.rank {
		o.rank[i] = -1
	}
	for r, bs := range d.Boxes {
		for i, b := range bs {
			o.boxesCount++
			forCells(b, func(p [3]int) {
				k := o.at(p)
				if o.rank[k] >= 0 {
					t.Fatalf("cell %v owned twice", p)
				}
				o.rank[k], o.box[k] = r, i
			})
		}
	}
	for k, r := range o.rank {
		if r < 0 {
			t.Fatalf("cell %d has no owner", k)
		}
	}
	return o
}

func (o *cellOwners) at(p [3]int) int {
	return p[0] + o.g.Dims[0]*(p[1]+o.g.Dims[1]*p[2])
}

// owner is the rank and box owning p (which must lie in the grid).
func (o *cellOwners) owner(p [3]int) (int, int) {
	k := o.at(p)
	return o.rank[k], o.box[k]
}

// forCells calls f for every cell of b, x fastest.
func forCells(b Box, f func(p [3]int)) {
	for z := b.Lo[2]; z < b.Hi[2]; z++ {
		for y := b.Lo[1]; y < b.Hi[1]; y++ {
			for x := b.Lo[0]; x < b.Hi[0]; x++ {
				f([3]int{x, y, z})
			}
		}
	}
}

// cpuTime is the user+system CPU time of the process so far. Benchmarks
// report it per op besides wall time: on a machine shared with other jobs
// it is the steadier figure.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loopWithCPU runs f in a b.Loop and reports the CPU time per op.
func loopWithCPU(b *testing.B, f func()) {
	start := cpuTime()
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}
