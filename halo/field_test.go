package halo_test

import (
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
)

// TestBlockIndexing: Index, Stride and At agree with a brute-force walk of
// Data, rows are padded as asked, and every cell of Bounds has its own slot.
func TestBlockIndexing(t *testing.T) {
	g := decomp.Grid{Dims: [3]int{64, 10, 9}, Periodic: [3]bool{true, false, false}}
	d, err := decomp.Decompose(g, 3, decomp.Options{Method: decomp.MethodSlab})
	if err != nil {
		t.Fatal(err)
	}
	spec := decomp.HaloSpec{Width: [3][2]int{{1, 2}, {0, 3}, {2, 0}}, Stencil: decomp.Edges}
	for _, pad := range []int{0, 1, 8} {
		f, err := halo.NewField[float32](d, 1, spec, halo.Pad(pad))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range f.Blocks() {
			bd := b.Bounds()
			if bd != b.Interior().Grow(spec.Lo(), spec.Hi()) {
				t.Fatalf("bounds %v, interior %v", bd, b.Interior())
			}
			sy, sz := b.Stride()
			dims := bd.Dims()
			if sy < dims[0] || sz != sy*dims[1] || len(b.Data) != sz*dims[2] {
				t.Fatalf("pad %d: strides %d,%d for dims %v, len %d", pad, sy, sz, dims, len(b.Data))
			}
			if pad > 1 && (sy%pad != 0 || sy*4 >= 512 && sy*4&(sy*4-1) == 0) {
				t.Errorf("pad %d: row stride %d", pad, sy)
			}
			seen := make(map[int]bool)
			for z := bd.Lo[2]; z < bd.Hi[2]; z++ {
				for y := bd.Lo[1]; y < bd.Hi[1]; y++ {
					for x := bd.Lo[0]; x < bd.Hi[0]; x++ {
						i := b.Index(x, y, z)
						want := (x - bd.Lo[0]) + (y-bd.Lo[1])*sy + (z-bd.Lo[2])*sz
						if i != want || seen[i] || &b.Data[i] != b.At(x, y, z) {
							t.Fatalf("Index(%d,%d,%d) = %d, want %d (seen %v)", x, y, z, i, want, seen[i])
						}
						seen[i] = true
					}
				}
			}
		}
	}
}

// TestGhostRegions: a block's ghost regions are exactly the ghost cells its
// plan's transfers fill (the union of the DstBoxes decomp lists for that
// box), for every stencil and periodic combination.
func TestGhostRegions(t *testing.T) {
	for pc := range 8 {
		g := decomp.Grid{Dims: [3]int{9, 7, 6}, Periodic: periodicCombo(pc)}
		d, err := decomp.Decompose(g, 4, decomp.Options{Method: decomp.MethodRCB})
		if err != nil {
			t.Fatal(err)
		}
		for wi, w := range widthSets {
			spec := decomp.HaloSpec{Width: w, Stencil: stencils[(wi+pc)%3]}
			for r := range 4 {
				f, err := halo.NewField[float64](d, r, spec)
				if err != nil {
					t.Fatal(err)
				}
				ts, err := d.RecvTransfers(spec, r)
				if err != nil {
					t.Fatal(err)
				}
				for bi, b := range f.Blocks() {
					want := map[[3]int]int{}
					for _, tr := range ts {
						if tr.DstOwnBox == bi {
							addCells(want, tr.DstBox)
						}
					}
					got := map[[3]int]int{}
					for _, gr := range b.GhostRegions() {
						if !b.Bounds().Intersect(gr).Empty() && b.Bounds().Intersect(gr) != gr {
							t.Fatalf("ghost region %v outside bounds %v", gr, b.Bounds())
						}
						addCells(got, gr)
					}
					if len(got) != len(want) {
						t.Fatalf("per%d spec %v rank %d block %d: %d ghost cells, transfers fill %d", pc, spec, r, bi, len(got), len(want))
					}
					for p, n := range got {
						if n != 1 || want[p] != 1 {
							t.Fatalf("cell %v: %d times in ghost regions, %d in transfers", p, n, want[p])
						}
					}
				}
			}
		}
	}
}

func addCells(m map[[3]int]int, b decomp.Box) {
	for z := b.Lo[2]; z < b.Hi[2]; z++ {
		for y := b.Lo[1]; y < b.Hi[1]; y++ {
			for x := b.Lo[0]; x < b.Hi[0]; x++ {
				m[[3]int{x, y, z}]++
			}
		}
	}
}

func TestNewFieldErrors(t *testing.T) {
	d, err := decomp.Decompose(decomp.Grid{Dims: [3]int{4, 4, 4}}, 2, decomp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		rank int
		spec decomp.HaloSpec
	}{
		{-1, decomp.UniformHalo(1, decomp.Faces)},
		{2, decomp.UniformHalo(1, decomp.Faces)},
		{0, decomp.UniformHalo(-1, decomp.Faces)},
		{0, decomp.UniformHalo(1, 7)},
	}
	for _, c := range bad {
		if _, err := halo.NewField[float64](d, c.rank, c.spec); err == nil {
			t.Errorf("NewField(rank %d, %v) succeeded", c.rank, c.spec)
		}
	}
	if _, err := halo.NewField[float64](nil, 0, decomp.UniformHalo(1, decomp.Faces)); err == nil {
		t.Error("NewField(nil decomposition) succeeded")
	}
	f0, _ := halo.NewField[float64](d, 0, decomp.UniformHalo(1, decomp.Faces))
	f1, _ := halo.NewField[float64](d, 1, decomp.UniformHalo(1, decomp.Faces))
	if _, err := halo.NewLayout(f0, f1); err == nil {
		t.Error("NewLayout of fields on different ranks succeeded")
	}
}
