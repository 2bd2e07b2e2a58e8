package decomp

import (
	"fmt"
	"slices"
)

// The partitioning methods.
const (
	MethodHilbert = "hilbert" // the default: see doc.go
	MethodSFC     = "sfc"     // plain cut of the generalized Hilbert curve, for comparison
	MethodMorton  = "morton"  // plain cut of the Morton (Z-order) curve, for comparison
	MethodBlock   = "block"   // Cartesian px*py*pz blocks, best factorization for the grid
	MethodSlab    = "slab"    // equal slices along the longest axis
	MethodRCB     = "rcb"     // recursive coordinate bisection
)

// Methods lists the partitioning methods, the default first.
func Methods() []string {
	return []string{MethodHilbert, MethodSFC, MethodMorton, MethodBlock, MethodSlab, MethodRCB}
}

// Weights gives a cost per cell, or per brick of Brick cells (a coarser
// grid of ceil(N/Brick) bricks per axis, x fastest), that a partition
// balances instead of the cell count. Values must be non-negative and finite.
type Weights struct {
	Brick  [3]int // {1,1,1} (or zero) for per-cell weights
	Values []float64
}

// Options select and tune a partition.
type Options struct {
	// Method is one of Methods(); "" means MethodHilbert.
	Method string
	// RanksPerNode K > 0 places ranks K at a time on nodes (ranks rK..rK+K-1
	// on node r) and makes the partition give each node a compact region.
	RanksPerNode int
	// Weights, if non-nil, are balanced instead of cell counts.
	Weights *Weights
}

// Decompose partitions grid g into ranks parts with the chosen method.
func Decompose(g Grid, ranks int, opt Options) (*Decomposition, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if ranks < 1 || ranks > g.Cells() {
		return nil, fmt.Errorf("%w: %d ranks for %d cells (want 1..%d)", ErrInvalid, ranks, g.Cells(), g.Cells())
	}
	m := opt.Method
	if m == "" {
		m = MethodHilbert
	}
	if !slices.Contains(Methods(), m) {
		return nil, fmt.Errorf("%w: unknown method %q (want one of %v)", ErrInvalid, m, Methods())
	}
	if opt.RanksPerNode < 0 {
		return nil, fmt.Errorf("%w: ranks per node %d is negative", ErrInvalid, opt.RanksPerNode)
	}
	f, err := newWeightField(g, opt.Weights)
	if err != nil {
		return nil, err
	}
	var boxes [][]Box
	note := ""
	switch m {
	case MethodBlock:
		var ok bool
		if boxes, ok = block(g, f, ranks); !ok {
			boxes = rcb(g, f, ranks)
			note = fmt.Sprintf("no factorization of %d fits the grid; fell back to rcb", ranks)
		}
	case MethodRCB:
		boxes = rcb(g, f, ranks)
	case MethodSlab:
		boxes = slabs(g, f, ranks)
	case MethodMorton, MethodSFC:
		bm := newBrickMap(g, f, ranks)
		walk := walkMorton(bm)
		if m == MethodSFC {
			walk = walkHilbert(bm)
		}
		bm.cutOrder(ranks, walk)
		boxes = bm.boxes(ranks)
	case MethodHilbert:
		boxes, note = hilbertParts(g, f, ranks, opt.RanksPerNode)
	}
	d, err := New(g, boxes, opt.RanksPerNode)
	if err != nil {
		return nil, fmt.Errorf("decomp: method %s produced an invalid partition (a bug): %w", m, err)
	}
	d.Method = m
	d.Note = note
	return d, nil
}

// balanceTol is how far above the mean the hilbert method lets a part's
// weight be (the target is 1 %; brick granularity needs a margin).
const balanceTol = 0.004

// hilbertParts is the default method: the P-adapted curve of multisection.go
// realised on a brick map, balanced by diffusion and made connected.
func hilbertParts(g Grid, f *weightField, ranks, perNode int) ([][]Box, string) {
	bm := newBrickMap(g, f, ranks)
	total := bm.total()
	ms := &multisection{m: bm, plan: newPlanner(g.Periodic, perNode), mean: total / float64(ranks)}
	// With no weight anywhere, or every brick weighing the same, the cuts
	// count bricks (cheaper than looking weights up).
	if total == 0 || bm.uniform() {
		ms.count = true
		ms.mean = float64(bm.len()) / float64(ranks)
	}
	bricks := make([]uint64, 0, bm.len())
	for z := range bm.nb[2] {
		for y := range bm.nb[1] {
			for x := range bm.nb[0] {
				bricks = append(bricks, pack(x, y, z))
			}
		}
	}
	ms.run(bricks, Box{Hi: bm.nb}, g.Periodic, ranks)
	bricks = nil
	boxes := bm.boxes(ranks)
	if connected(boxes) && imbalance(bm.loads(ranks)) <= 1+balanceTol {
		return boxes, ""
	}
	// Rare: a split left a sliver apart, or brick weights defeated the cuts.
	balanced := false
	for range 4 {
		balanced = total == 0 || bm.balance(ranks, balanceTol, 6)
		if bm.repair(ranks) == 0 && balanced {
			break
		}
	}
	note := ""
	if !balanced {
		note = fmt.Sprintf("balance reached %.4f of the mean, not %.4f", imbalance(bm.loads(ranks)), 1+balanceTol)
	}
	return bm.boxes(ranks), note
}

// connected reports whether every rank's boxes form one face-connected piece.
func connected(boxes [][]Box) bool {
	for _, bs := range boxes {
		if len(bs) <= 1 {
			continue
		}
		// union-find over the rank's boxes; two boxes touch if they share a
		// face of positive area
		parent := make([]int, len(bs))
		for i := range parent {
			parent[i] = i
		}
		find := func(i int) int {
			for parent[i] != i {
				parent[i] = parent[parent[i]]
				i = parent[i]
			}
			return i
		}
		groups := len(bs)
		for i := range bs {
			for j := i + 1; j < len(bs); j++ {
				if faceTouch(bs[i], bs[j]) {
					if a, b := find(i), find(j); a != b {
						parent[a] = b
						groups--
					}
				}
			}
		}
		if groups != 1 {
			return false
		}
	}
	return true
}

// faceTouch reports whether boxes b and c share a face of positive area.
func faceTouch(b, c Box) bool {
	for a := range 3 {
		if b.Hi[a] != c.Lo[a] && c.Hi[a] != b.Lo[a] {
			continue
		}
		overlap := true
		for o := range 3 {
			if o != a && (min(b.Hi[o], c.Hi[o]) <= max(b.Lo[o], c.Lo[o])) {
				overlap = false
			}
		}
		if overlap {
			return true
		}
	}
	return false
}
