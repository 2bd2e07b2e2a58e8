package halo

import (
	"bytes"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/internal/streamcopy"
)

// TestPackUnaligned: packing into (and unpacking from) a buffer that is not
// 8-aligned takes the byte-wise path and gives the same bytes and cells as
// the typed path.
func TestPackUnaligned(t *testing.T) {
	g := decomp.Grid{Dims: [3]int{11, 9, 7}, Periodic: [3]bool{true, true, false}}
	d, err := decomp.Decompose(g, 3, decomp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	spec := decomp.HaloSpec{Width: [3][2]int{{1, 2}, {2, 1}, {1, 1}}, Stencil: decomp.Corners}
	f64, _ := NewField[float64](d, 0, spec, Pad(4))
	f32, _ := NewField[float32](d, 0, spec)
	c128, _ := NewField[complex128](d, 0, spec)
	f64.Fill(func(x, y, z int) float64 { return float64(x*100 + y*10 + z) })
	f32.Fill(func(x, y, z int) float32 { return float32(x*100+y*10+z) + 0.5 })
	c128.Fill(func(x, y, z int) complex128 { return complex(float64(x), float64(y*10+z)) })
	fields := []AnyField{f64, f32, c128}
	lay, err := NewLayout(fields...)
	if err != nil {
		t.Fatal(err)
	}
	for _, pl := range lay.Peers {
		if pl.SendBytes == 0 {
			continue
		}
		gs := groups(fields, pl.Send, true)
		buf := make([]byte, pl.SendBytes+8)
		aligned := buf[:pl.SendBytes]
		odd := buf[1 : 1+pl.SendBytes]
		if !aligned8(aligned) || aligned8(odd) {
			t.Fatal("test buffers not as intended")
		}
		for _, g := range gs {
			g.f.pack(aligned, g.spans, true, false)
		}
		want := bytes.Clone(aligned)
		clear(buf)
		for _, g := range gs {
			g.f.pack(odd, g.spans, false, false)
		}
		if !bytes.Equal(odd, want) {
			t.Fatalf("peer %d: unaligned pack differs", pl.Peer)
		}
		// Unpack the packed (sender's interior) regions back into a zeroed
		// copy of each field through both paths: the cells must come back.
		for _, alignedPath := range []bool{true, false} {
			src := want
			if !alignedPath {
				src = odd
			}
			for _, g := range gs {
				switch f := g.f.(type) {
				case *Field[float64]:
					checkRoundTrip(t, f, src, g.spans, alignedPath)
				case *Field[float32]:
					checkRoundTrip(t, f, src, g.spans, alignedPath)
				case *Field[complex128]:
					checkRoundTrip(t, f, src, g.spans, alignedPath)
				}
			}
		}
	}
}

func checkRoundTrip[T Scalar](t *testing.T, f *Field[T], msg []byte, spans []span, aligned bool) {
	t.Helper()
	saved := make([][]T, len(f.blocks))
	for i, b := range f.blocks {
		saved[i] = append([]T(nil), b.Data...)
		clear(b.Data)
	}
	f.unpack(msg, spans, aligned)
	for _, s := range spans {
		b := f.blocks[s.block]
		// Every cell of the span is restored.
		o := 0
		for z := range s.nz {
			for y := range s.ny {
				for x := range s.nx {
					i := s.start + x + y*s.sy + z*s.sz
					if b.Data[i] != saved[s.block][i] {
						t.Fatalf("aligned=%v: cell %d: got %v, want %v", aligned, i, b.Data[i], saved[s.block][i])
					}
					o++
				}
			}
		}
		if o != s.elems {
			t.Fatalf("span walks %d cells, has %d", o, s.elems)
		}
	}
	for i, b := range f.blocks {
		copy(b.Data, saved[i])
	}
}

// TestPackStreaming: packing with non-temporal stores gives the same
// message as packing without, for every peer of a decomposition whose
// faces have long, short and single-element rows.
func TestPackStreaming(t *testing.T) {
	g := decomp.Grid{Dims: [3]int{70, 66, 40}, Periodic: [3]bool{true, false, true}}
	d, err := decomp.Decompose(g, 4, decomp.Options{Method: decomp.MethodBlock})
	if err != nil {
		t.Fatal(err)
	}
	spec := decomp.HaloSpec{Width: [3][2]int{{1, 2}, {2, 1}, {1, 1}}, Stencil: decomp.Corners}
	for rank := range 4 {
		f64, _ := NewField[float64](d, rank, spec)
		f32, _ := NewField[float32](d, rank, spec, Pad(3))
		f64.Fill(func(x, y, z int) float64 { return float64(x*10000 + y*100 + z) })
		f32.Fill(func(x, y, z int) float32 { return float32(x*100+y*10+z) + 0.5 })
		fields := []AnyField{f64, f32}
		lay, err := NewLayout(fields...)
		if err != nil {
			t.Fatal(err)
		}
		for _, pl := range lay.Peers {
			gs := groups(fields, pl.Send, true)
			want := make([]byte, pl.SendBytes)
			got := make([]byte, pl.SendBytes)
			for _, g := range gs {
				g.f.pack(want, g.spans, true, false)
				g.f.pack(got, g.spans, true, true)
			}
			streamcopy.Fence()
			if !bytes.Equal(got, want) {
				t.Fatalf("rank %d peer %d: streaming pack differs", rank, pl.Peer)
			}
		}
	}
}
