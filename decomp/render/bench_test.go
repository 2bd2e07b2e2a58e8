package render

import (
	"io"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
)

func BenchmarkSlices128(b *testing.B) {
	d := blocks(b, decomp.Grid{Dims: [3]int{128, 128, 128}}, 4, 4, 4)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Slices(d, PNGOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWritePNG128(b *testing.B) {
	d := blocks(b, decomp.Grid{Dims: [3]int{128, 128, 128}}, 4, 4, 4)
	b.ReportAllocs()
	for b.Loop() {
		if err := WritePNG(io.Discard, d, PNGOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteVTK128(b *testing.B) {
	d := blocks(b, decomp.Grid{Dims: [3]int{128, 128, 128}}, 4, 4, 4)
	b.ReportAllocs()
	b.SetBytes(int64(d.Grid.Cells()))
	for b.Loop() {
		if err := WriteVTK(io.Discard, d, VTKOptions{Boxes: true}); err != nil {
			b.Fatal(err)
		}
	}
}
