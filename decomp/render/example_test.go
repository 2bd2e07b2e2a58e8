package render_test

import (
	"fmt"
	"os"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/decomp/render"
)

// A 4x2x1 grid cut by hand into two ranks: rank 0 owns the left 3x1 block
// and the cell above its left end, rank 1 the rest (two boxes).
func ExampleWriteVTK() {
	g := decomp.Grid{Dims: [3]int{4, 2, 1}}
	d, err := decomp.New(g, [][]decomp.Box{
		{{Lo: [3]int{0, 0, 0}, Hi: [3]int{3, 1, 1}}, {Lo: [3]int{0, 1, 0}, Hi: [3]int{1, 2, 1}}},
		{{Lo: [3]int{3, 0, 0}, Hi: [3]int{4, 1, 1}}, {Lo: [3]int{1, 1, 0}, Hi: [3]int{4, 2, 1}}},
	}, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := render.WriteVTK(os.Stdout, d, render.VTKOptions{Boxes: true}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// <?xml version="1.0"?>
	// <VTKFile type="ImageData" version="1.0" byte_order="LittleEndian" header_type="UInt64">
	//   <ImageData WholeExtent="0 4 0 2 0 1" Origin="0 0 0" Spacing="1 1 1">
	//     <Piece Extent="0 4 0 2 0 1">
	//       <CellData Scalars="rank">
	//         <DataArray type="Int32" Name="rank" format="ascii" RangeMin="0" RangeMax="1">
	//           0 0 0 1 0 1 1 1
	//         </DataArray>
	//         <DataArray type="Int32" Name="box" format="ascii" RangeMin="0" RangeMax="3">
	//           0 0 0 2 1 3 3 3
	//         </DataArray>
	//       </CellData>
	//     </Piece>
	//   </ImageData>
	// </VTKFile>
}

// Slices draws the three mid-plane slices; its panels say where each cell is.
func ExampleSlices() {
	g := decomp.Grid{Dims: [3]int{64, 32, 16}}
	d, err := decomp.New(g, [][]decomp.Box{
		{{Hi: [3]int{32, 32, 16}}},
		{{Lo: [3]int{32, 0, 0}, Hi: [3]int{64, 32, 16}}},
	}, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	pic, err := render.Slices(d, render.PNGOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	p := pic.Panels[decomp.Z]
	fmt.Println("z panel:", p.Cells, "cells at", p.Scale, "px per cell:", p.Rect.Size(), "px")
	pt := p.Pixel(40, 3)
	fmt.Println("cell", p.GridCell(40, 3), "is drawn in the colour of rank 1:", pic.Image.RGBAAt(pt.X, pt.Y) == render.RankColor(1))
	// Output:
	// z panel: [64 32] cells at 7 px per cell: (448,224) px
	// cell [40 3 8] is drawn in the colour of rank 1: true
}
