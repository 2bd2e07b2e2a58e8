package halo

import (
	"unsafe"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/internal/streamcopy"
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
	// pairNext marks a span that is packed or unpacked together with the
	// next one of its group in one pass over their rows (see pairable).
	pairNext bool
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
// With stream, long runs are written with non-temporal stores
// (copyStreaming), and the caller fences before it publishes dst.
func gather[T any](dst, src []T, s span, stream bool) {
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
				if stream {
					copyStreaming(dst[o:o+s.nx], src[i:i+s.nx])
				} else {
					copy(dst[o:o+s.nx], src[i:i+s.nx])
				}
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

// gatherPair is gather of two pairable spans in one pass over their rows
// (len(dst1) == s1.elems, len(dst2) == s2.elems).
func gatherPair[T any](dst1, dst2, src []T, s1, s2 span) {
	o := 0
	for z := range s1.nz {
		i1, i2 := s1.start+z*s1.sz, s2.start+z*s2.sz
		if s1.nx == 1 {
			row1 := dst1[o : o+s1.ny]
			row2 := dst2[o : o+len(row1)]
			for y := range row1 {
				row1[y] = src[i1]
				row2[y] = src[i2]
				i1 += s1.sy
				i2 += s1.sy
			}
			o += s1.ny
			continue
		}
		for range s1.ny {
			copyShort(dst1[o:o+s1.nx], src[i1:i1+s1.nx])
			copyShort(dst2[o:o+s1.nx], src[i2:i2+s1.nx])
			o += s1.nx
			i1 += s1.sy
			i2 += s1.sy
		}
	}
}

// scatterPair is the inverse of gatherPair.
func scatterPair[T any](dst, src1, src2 []T, s1, s2 span) {
	o := 0
	for z := range s1.nz {
		i1, i2 := s1.start+z*s1.sz, s2.start+z*s2.sz
		if s1.nx == 1 {
			row1 := src1[o : o+s1.ny]
			row2 := src2[o : o+len(row1)]
			for y, v := range row1 {
				dst[i1] = v
				dst[i2] = row2[y]
				i1 += s1.sy
				i2 += s1.sy
			}
			o += s1.ny
			continue
		}
		for range s1.ny {
			copyShort(dst[i1:i1+s1.nx], src1[o:o+s1.nx])
			copyShort(dst[i2:i2+s1.nx], src2[o:o+s1.nx])
			o += s1.nx
			i1 += s1.sy
			i2 += s1.sy
		}
	}
}

// copyStreaming is copy, with the whole cache lines of a long run written
// by non-temporal stores (package streamcopy); the packer fences once per
// message before publishing it.
func copyStreaming[T any](dst, src []T) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	streamcopy.Copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), len(dst)*size),
		unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(src))), len(src)*size))
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

// copyBoxPair does two copyBox copies of the same shape (d1 <- s1 and
// d2 <- s2, all four spans nx by ny by nz) in one pass over their rows. It
// is meant for short rows, such as the two x-normal faces of a periodic
// wrap: each row holds a cell of both copies, one at either end, so one
// pass touches each row's cache lines once instead of twice.
func copyBoxPair[T any](dst1, src1 []T, d1, s1 span, dst2, src2 []T, d2, s2 span) {
	nx := s1.nx
	if nx == 1 && oneBlock(d1, s1, d2, s2) {
		// The periodic wrap of one block: a leaner loop (one index, four
		// fixed offsets) keeps everything in registers.
		copyPairOneBlock(dst1, d1.start, s1.start, d2.start, s2.start, s1.ny, s1.nz, s1.sy, s1.sz)
		return
	}
	for z := range s1.nz {
		i1, j1 := s1.start+z*s1.sz, d1.start+z*d1.sz
		i2, j2 := s2.start+z*s2.sz, d2.start+z*d2.sz
		if nx == 1 {
			for range s1.ny {
				dst1[j1] = src1[i1]
				dst2[j2] = src2[i2]
				i1 += s1.sy
				j1 += d1.sy
				i2 += s2.sy
				j2 += d2.sy
			}
			continue
		}
		for range s1.ny {
			copyShort(dst1[j1:j1+nx], src1[i1:i1+nx])
			copyShort(dst2[j2:j2+nx], src2[i2:i2+nx])
			i1 += s1.sy
			j1 += d1.sy
			i2 += s2.sy
			j2 += d2.sy
		}
	}
}

// oneBlock reports whether the spans lie in one block (then the copies'
// slices are one).
func oneBlock(d1, s1, d2, s2 span) bool {
	for _, s := range [...]span{d1, d2, s2} {
		if s.block != s1.block || s.sy != s1.sy || s.sz != s1.sz {
			return false
		}
	}
	return true
}

// copyPairOneBlock is copyBoxPair of single-cell rows within one block:
// data[d1+r] = data[s1+r] and data[d2+r] = data[s2+r] for the ny*nz row
// offsets r.
func copyPairOneBlock[T any](data []T, d1, s1, d2, s2, ny, nz, sy, sz int) {
	for z := range nz {
		r := z * sz
		for range ny {
			data[r+d1] = data[r+s1]
			data[r+d2] = data[r+s2]
			r += sy
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
