package decomp_test

import (
	"fmt"

	"github.com/hilo-hpc/hilo/decomp"
)

func ExampleDecompose() {
	g := decomp.Grid{Dims: [3]int{64, 64, 64}}
	d, err := decomp.Decompose(g, 8, decomp.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := d.Metrics(decomp.UniformHalo(1, decomp.Faces), 1, 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("method:", d.Method)
	fmt.Println("cells of rank 0:", d.Cells(0), "boxes:", d.Boxes[0])
	fmt.Println("cut faces:", m.CutFaces, "imbalance:", m.Imbalance)
	fmt.Println("rank 0 receives", m.HaloBytes[0], "bytes from", m.Neighbours[0], "neighbours")
	// Output:
	// method: hilbert
	// cells of rank 0: 32768 boxes: [[0,32)x[0,32)x[0,32)]
	// cut faces: 12288 imbalance: 1
	// rank 0 receives 24576 bytes from 3 neighbours
}

func ExampleDecompose_compare() {
	g := decomp.Grid{Dims: [3]int{100, 60, 40}}
	for _, method := range []string{"hilbert", "sfc", "block", "rcb"} {
		d, _ := decomp.Decompose(g, 16, decomp.Options{Method: method})
		m, _ := d.Metrics(decomp.UniformHalo(1, decomp.Faces), 1, 8)
		fmt.Printf("%-8s cut faces %6d  max per rank %5d\n", method, m.CutFaces, m.MaxRankCut)
	}
	// Output:
	// hilbert  cut faces  17200  max per rank  2450
	// sfc      cut faces  23352  max per rank  3904
	// block    cut faces  17200  max per rank  2450
	// rcb      cut faces  17200  max per rank  2450
}
