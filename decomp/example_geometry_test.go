package decomp_test

import (
	"fmt"

	"github.com/hilo-hpc/hilo/decomp"
)

// Two ranks split a 4x2x1 grid, periodic along x, into halves. Each rank
// meets the other twice: across the middle and across the periodic
// boundary, where DstBox lies outside the grid in the receiver's unwrapped
// coordinates (x = -1 for rank 0, x = 4 for rank 1). The 4 cut faces are
// the 2 faces in the middle and the 2 at the wrap.
func Example_transfers() {
	g := decomp.Grid{Dims: [3]int{4, 2, 1}, Periodic: [3]bool{true, false, false}}
	left := decomp.Box{Lo: [3]int{0, 0, 0}, Hi: [3]int{2, 2, 1}}
	right := decomp.Box{Lo: [3]int{2, 0, 0}, Hi: [3]int{4, 2, 1}}
	d, err := decomp.New(g, [][]decomp.Box{{left}, {right}}, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	h := decomp.UniformHalo(1, decomp.Faces)
	m, err := d.Metrics(h, 1, 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("cut faces:", m.CutFaces)
	fmt.Println("halo bytes into rank 0:", m.HaloBytes[0])
	ts, err := d.Transfers(h)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range ts {
		fmt.Printf("rank %d -> rank %d: cells %v land at %v\n", t.Src, t.Dst, t.SrcBox, t.DstBox)
	}
	// Output:
	// cut faces: 4
	// halo bytes into rank 0: 32
	// rank 1 -> rank 0: cells [3,4)x[0,2)x[0,1) land at [-1,0)x[0,2)x[0,1)
	// rank 1 -> rank 0: cells [2,3)x[0,2)x[0,1) land at [2,3)x[0,2)x[0,1)
	// rank 0 -> rank 1: cells [1,2)x[0,2)x[0,1) land at [1,2)x[0,2)x[0,1)
	// rank 0 -> rank 1: cells [0,1)x[0,2)x[0,1) land at [4,5)x[0,2)x[0,1)
}
