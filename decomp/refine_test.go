package decomp

import (
	"slices"
	"testing"
)

// brickMapOf builds a per-cell brick map of g painted by owner(x, y, z).
func brickMapOf(t *testing.T, g Grid, ranks int, owner func(x, y, z int) int32) *brickMap {
	t.Helper()
	f, err := newWeightField(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := newBrickMap(g, f, ranks)
	if m.b != 1 {
		t.Fatalf("brick size %d, want 1", m.b)
	}
	for z := range g.Dims[2] {
		for y := range g.Dims[1] {
			for x := range g.Dims[0] {
				m.owner[m.index(x, y, z)] = owner(x, y, z)
			}
		}
	}
	return m
}

func TestBalanceEvensSkewedParts(t *testing.T) {
	g := Grid{Dims: [3]int{30, 12, 10}}
	// Four ranks in x-slabs of widths 4, 11, 9, 6 (cells 480..1320 vs mean 900).
	edges := []int{4, 15, 24, 30}
	m := brickMapOf(t, g, 4, func(x, _, _ int) int32 {
		for r, e := range edges {
			if x < e {
				return int32(r)
			}
		}
		return -1
	})
	before := imbalance(m.loads(4))
	if before < 1.4 {
		t.Fatalf("setup: imbalance %.3f, want a badly skewed start", before)
	}
	const tol = 0.01
	ok := m.balance(4, tol, 8)
	m.repair(4)
	loads := m.loads(4)
	if !ok || slices.Max(loads) > (1+tol)*900+1 {
		t.Errorf("after balance: loads %v (ok=%v), want all <= %.0f", loads, ok, (1+tol)*900)
	}
	total := 0.0
	for _, l := range loads {
		total += l
	}
	if total != float64(g.Cells()) {
		t.Errorf("cells not conserved: %v", total)
	}
	d, err := New(g, m.boxes(4), 0)
	if err != nil {
		t.Fatal(err)
	}
	if c := qualComponents(g, qualOwners(d), 4); slices.Max(c) != 1 {
		t.Errorf("components after balance and repair: %v", c)
	}
}

func TestRepairJoinsStrayPieces(t *testing.T) {
	g := Grid{Dims: [3]int{8, 8, 1}}
	// Rank 0 owns the left half plus a stray cell deep inside rank 1's half.
	m := brickMapOf(t, g, 2, func(x, y, _ int) int32 {
		if x < 4 || (x == 6 && y == 6) {
			return 0
		}
		return 1
	})
	if moved := m.repair(2); moved != 1 {
		t.Errorf("repair moved %d pieces, want 1", moved)
	}
	if got := m.owner[m.index(6, 6, 0)]; got != 1 {
		t.Errorf("stray cell now owned by %d, want 1", got)
	}
	if m.repair(2) != 0 {
		t.Errorf("second repair moved pieces; the first left strays")
	}
}
