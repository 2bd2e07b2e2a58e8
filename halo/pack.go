package halo

import (
	"unsafe"

	"github.com/hilo-hpc/hilo/decomp"
)

// A span is one region of a block laid out for copying: nz planes of ny rows
// of nx contiguous elements, starting at Data[start], rows sy apart and
// planes sz apart. Rows that abut in memory are merged at build time, so a
// region that is contiguous is a single row. off is the region's byte
// offset in the message.
type span struct {
	block      int
	start      int
	nx, ny, nz int
	sy, sz     int
	off        int
	elems      int
}

// makeSpan lays out box (which must lie in the block's Bounds) of a block.
func makeSpan(g blockGeom, block int, box decomp.Box, off int, merge bool) span {
	d := box.Dims()
	s := span{
		block: block,
		start: g.origin + box.Lo[0] + box.Lo[1]*g.sy + box.Lo[2]*g.sz,
		nx:    d[0], ny: d[1], nz: d[2],
		sy: g.sy, sz: g.sz,
		off:   off,
		elems: box.Cells(),
	}
	if !merge {
		return s
	}
	// Merge rows that follow each other in memory into one run, then planes.
	if s.nx == s.sy {
		s.nx *= s.ny
		s.ny = 1
		s.sy = s.nx
	}
	if s.ny == 1 && s.nx == s.sz {
		s.nx *= s.nz
		s.nz = 1
		s.sz = s.nx
	}
	return s
}

// shortRun is the run length below which an element loop beats a call to
// memmove.
const shortRun = 8

// gather copies span s of src into dst (len(dst) == s.elems), x fastest.
func gather[T any](dst, src []T, s span) {
	o := 0
	switch {
	case s.nx == 1:
		for z := range s.nz {
			i := s.start + z*s.sz
			row := dst[o : o+s.ny]
			for y := range row {
				row[y] = src[i]
				i += s.sy
			}
			o += s.ny
		}
	case s.nx < shortRun:
		for z := range s.nz {
			i := s.start + z*s.sz
			for range s.ny {
				copyShort(dst[o:o+s.nx], src[i:i+s.nx])
				o += s.nx
				i += s.sy
			}
		}
	default:
		for z := range s.nz {
			i := s.start + z*s.sz
			for range s.ny {
				copy(dst[o:o+s.nx], src[i:i+s.nx])
				o += s.nx
				i += s.sy
			}
		}
	}
}

// scatter is the inverse of gather: it copies src (len == s.elems) into
// span s of dst.
func scatter[T any](dst, src []T, s span) {
	o := 0
	switch {
	case s.nx == 1:
		for z := range s.nz {
			i := s.start + z*s.sz
			row := src[o : o+s.ny]
			for _, v := range row {
				dst[i] = v
				i += s.sy
			}
			o += s.ny
		}
	case s.nx < shortRun:
		for z := range s.nz {
			i := s.start + z*s.sz
			for range s.ny {
				copyShort(dst[i:i+s.nx], src[o:o+s.nx])
				o += s.nx
				i += s.sy
			}
		}
	default:
		for z := range s.nz {
			i := s.start + z*s.sz
			for range s.ny {
				copy(dst[i:i+s.nx], src[o:o+s.nx])
				o += s.nx
				i += s.sy
			}
		}
	}
}

func copyShort[T any](dst, src []T) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] = src[i]
	}
}

// copyBox copies span s of src into span d of dst, two unmerged spans of
// the same shape (a local copy between blocks of one field).
func copyBox[T any](dst, src []T, d, s span) {
	for z := range s.nz {
		i := s.start + z*s.sz
		j := d.start + z*d.sz
		if s.nx == 1 {
			for range s.ny {
				dst[j] = src[i]
				i += s.sy
				j += d.sy
			}
			continue
		}
		for range s.ny {
			copy(dst[j:j+s.nx], src[i:i+s.nx])
			i += s.sy
			j += d.sy
		}
	}
}

// sliceAs views b[off:off+n*size] as []T. The caller has checked that b's
// base address is aligned for T and off is a multiple of 8.
func sliceAs[T Scalar](b []byte, off, n int) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	b = b[off : off+n*size] // bounds check before the unsafe view
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// asBytes views a []T as its bytes.
func asBytes[T Scalar](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(zero)))
}

// byteSpan is s in units of bytes, for the fallback path that copies
// through unaligned slots byte-wise.
func byteSpan(s span, size int) span {
	s.start *= size
	s.nx *= size
	s.sy *= size
	s.sz *= size
	s.elems *= size
	return s
}

// aligned8 reports whether b starts at an 8-aligned address.
func aligned8(b []byte) bool {
	return len(b) == 0 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 == 0
}
