package hilbert_test

import (
	"fmt"

	"github.com/hilo-hpc/hilo/hilbert"
)

func ExampleEncode3() {
	fmt.Println(hilbert.Encode3(1, 2, 3, 5))
	fmt.Println(hilbert.Decode3(365, 5))
	// The first cube of side 2, x the high bit of each digit:
	for key := range uint64(8) {
		x, y, z := hilbert.Decode3(key, 1)
		fmt.Printf("%d%d%d ", x, y, z)
	}
	fmt.Println()
	// Output:
	// 22
	// 7 7 7
	// 000 001 011 010 110 111 101 100
}

func ExampleEncode() {
	// A 2D Hilbert curve on a 4 x 4 grid: print each cell's key.
	for y := uint32(0); y < 4; y++ {
		for x := uint32(0); x < 4; x++ {
			fmt.Printf("%3d", hilbert.Encode([]uint32{x, y}, 2))
		}
		fmt.Println()
	}
	// Output:
	//   0  1 14 15
	//   3  2 13 12
	//   4  7  8 11
	//   5  6  9 10
}

func ExampleMorton3() {
	key := hilbert.Morton3(1, 2, 3)
	fmt.Println(key)
	fmt.Println(hilbert.MortonDecode3(key))
	// Output:
	// 29
	// 1 2 3
}

func ExampleWalk() {
	// A 3 x 2 x 2 box: every cell once, each step to a face neighbour.
	sep := ""
	hilbert.Walk(3, 2, 2, func(x, y, z int) bool {
		fmt.Printf("%s(%d,%d,%d)", sep, x, y, z)
		sep = " "
		return true
	})
	fmt.Println()
	fmt.Println(hilbert.Count(3, 2, 2))
	// Output:
	// (0,0,0) (0,0,1) (1,0,1) (1,0,0) (2,0,0) (2,0,1) (2,1,1) (2,1,0) (1,1,0) (1,1,1) (0,1,1) (0,1,0)
	// 12
}

func ExampleCells() {
	// The first five cells of a 5 x 7 x 9 box.
	n := 0
	for c := range hilbert.Cells(5, 7, 9) {
		fmt.Println(c)
		if n++; n == 5 {
			break
		}
	}
	// Output:
	// [0 0 0]
	// [0 0 1]
	// [0 1 1]
	// [0 1 0]
	// [1 1 0]
}
