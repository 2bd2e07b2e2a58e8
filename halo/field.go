package halo

import (
	"fmt"
	"math/bits"
	"unsafe"

	"github.com/hilo-hpc/hilo/decomp"
)

// Scalar is the element type of a Field.
type Scalar interface {
	float32 | float64 | complex128
}

// A Field is one quantity of a simulation on this rank: one 3D array per box
// the rank owns in a Decomposition, each with ghost layers as wide as the
// field's HaloSpec asks, x fastest.
type Field[T Scalar] struct {
	name   string
	spec   decomp.HaloSpec
	grid   decomp.Grid
	d      *decomp.Decomposition
	rank   int
	blocks []*Block[T]
}

// A Block is the array of one owned box with its ghost layers. Data holds
// the allocated region (Bounds), x fastest: cell (x, y, z) in global
// coordinates is Data[Index(x, y, z)], and neighbours along y and z are
// Stride() elements apart, so a stencil loop can walk Data with plain
// index arithmetic:
//
//	sy, sz := b.Stride()
//	in := b.Interior()
//	for z := in.Lo[2]; z < in.Hi[2]; z++ {
//		for y := in.Lo[1]; y < in.Hi[1]; y++ {
//			i := b.Index(in.Lo[0], y, z)
//			for x := in.Lo[0]; x < in.Hi[0]; x, i = x+1, i+1 {
//				out[i] = Data[i-1] + Data[i+1] + Data[i-sy] + Data[i+sy] + ...
//			}
//		}
//	}
type Block[T Scalar] struct {
	// Data is the block's memory, Bounds().Cells() cells plus padding.
	Data []T

	interior, bounds decomp.Box
	ghosts           []decomp.Box
	sy, sz           int
	origin           int // Index(0,0,0): -(Lo.x + Lo.y*sy + Lo.z*sz) of Bounds
}

// Interior is the box this block owns, in global coordinates.
func (b *Block[T]) Interior() decomp.Box { return b.interior }

// Bounds is the allocated region: Interior grown by the ghost widths. Along
// a non-periodic axis it may reach outside the grid; those ghost cells are
// never written by an exchange (a solver may keep boundary values there).
func (b *Block[T]) Bounds() decomp.Box { return b.bounds }

// Stride is the distance in Data between neighbours along y and along z.
func (b *Block[T]) Stride() (sy, sz int) { return b.sy, b.sz }

// Index is the position in Data of cell (x, y, z), in global (unwrapped)
// coordinates, which must lie in Bounds.
func (b *Block[T]) Index(x, y, z int) int { return b.origin + x + y*b.sy + z*b.sz }

// At returns a pointer to cell (x, y, z), which must lie in Bounds.
func (b *Block[T]) At(x, y, z int) *T { return &b.Data[b.Index(x, y, z)] }

// GhostRegions lists the ghost blocks of this box that the field's stencil
// reads and an exchange fills: up to 26 boxes around Interior, clipped to
// the grid along non-periodic axes, in unwrapped coordinates. The caller
// must not modify the slice.
func (b *Block[T]) GhostRegions() []decomp.Box { return b.ghosts }

// A FieldOption configures NewField.
type FieldOption func(*fieldConfig)

type fieldConfig struct {
	name string
	pad  int
}

// Name gives the field a name for error messages and statistics.
func Name(name string) FieldOption { return func(c *fieldConfig) { c.name = name } }

// Pad rounds the x stride (the allocated length of a row) up to a multiple
// of n elements and then, if the row or the plane would be a power of two
// of 512 bytes or more, adds n more: power-of-two strides make the rows of a
// stencil alias in the cache sets. n <= 1 leaves rows unpadded.
func Pad(n int) FieldOption { return func(c *fieldConfig) { c.pad = n } }

// NewField allocates the blocks of field on rank of d with ghost layers for
// spec. Ghost cells start at zero.
func NewField[T Scalar](d *decomp.Decomposition, rank int, spec decomp.HaloSpec, opts ...FieldOption) (*Field[T], error) {
	if d == nil {
		return nil, fmt.Errorf("%w: nil decomposition", ErrInvalid)
	}
	if rank < 0 || rank >= d.Ranks() {
		return nil, fmt.Errorf("%w: rank %d of %d", ErrInvalid, rank, d.Ranks())
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var cfg fieldConfig
	for _, o := range opts {
		o(&cfg)
	}
	f := &Field[T]{name: cfg.name, spec: spec, grid: d.Grid, d: d, rank: rank}
	var zero T
	size := int(unsafe.Sizeof(zero))
	for _, in := range d.Boxes[rank] {
		bd := in.Grow(spec.Lo(), spec.Hi())
		dims := bd.Dims()
		sy := padStride(dims[0], cfg.pad, size)
		if cfg.pad > 1 && isPow2Big(sy*dims[1]*size) {
			sy += cfg.pad
		}
		sz := sy * dims[1]
		n := sz * dims[2]
		b := &Block[T]{
			Data:     make([]T, n),
			interior: in,
			bounds:   bd,
			ghosts:   ghostRegions(d.Grid, in, spec),
			sy:       sy,
			sz:       sz,
			origin:   -(bd.Lo[0] + bd.Lo[1]*sy + bd.Lo[2]*sz),
		}
		f.blocks = append(f.blocks, b)
	}
	return f, nil
}

func padStride(nx, pad, size int) int {
	if pad <= 1 {
		return nx
	}
	s := (nx + pad - 1) / pad * pad
	if isPow2Big(s * size) {
		s += pad
	}
	return s
}

func isPow2Big(bytes int) bool { return bytes >= 512 && bits.OnesCount(uint(bytes)) == 1 }

// ghostRegions cuts the ghost shell of box in into the blocks spec's stencil
// reads, clipped to the grid along non-periodic axes.
func ghostRegions(g decomp.Grid, in decomp.Box, spec decomp.HaloSpec) []decomp.Box {
	maxOff := stencilReach(spec.Stencil)
	var out []decomp.Box
	lo, hi := spec.Lo(), spec.Hi()
	for kz := -1; kz <= 1; kz++ {
		for ky := -1; ky <= 1; ky++ {
			for kx := -1; kx <= 1; kx++ {
				k := [3]int{kx, ky, kz}
				off := 0
				var b decomp.Box
				for a := range 3 {
					switch k[a] {
					case -1:
						off++
						b.Lo[a], b.Hi[a] = in.Lo[a]-lo[a], in.Lo[a]
					case 0:
						b.Lo[a], b.Hi[a] = in.Lo[a], in.Hi[a]
					case 1:
						off++
						b.Lo[a], b.Hi[a] = in.Hi[a], in.Hi[a]+hi[a]
					}
					if !g.Periodic[a] {
						b.Lo[a] = max(b.Lo[a], 0)
						b.Hi[a] = min(b.Hi[a], g.Dims[a])
					}
				}
				if off == 0 || off > maxOff || b.Empty() {
					continue
				}
				out = append(out, b)
			}
		}
	}
	return out
}

// stencilReach is how many axes a ghost block of the stencil may be off the
// box along.
func stencilReach(s decomp.Stencil) int {
	switch s {
	case decomp.Faces:
		return 1
	case decomp.Edges:
		return 2
	}
	return 3
}

// Name is the field's name ("" if none was given).
func (f *Field[T]) Name() string { return f.name }

// Spec is the field's halo spec.
func (f *Field[T]) Spec() decomp.HaloSpec { return f.spec }

// Rank is the rank whose boxes the field holds.
func (f *Field[T]) Rank() int { return f.rank }

// Decomposition is the decomposition the field was built from.
func (f *Field[T]) Decomposition() *decomp.Decomposition { return f.d }

// Blocks lists one block per box the rank owns, in the order of
// Decomposition.Boxes[rank]. The caller must not modify the slice.
func (f *Field[T]) Blocks() []*Block[T] { return f.blocks }

// Find returns the block whose Bounds contain cell p (global unwrapped
// coordinates), preferring one whose Interior holds it, or nil.
func (f *Field[T]) Find(p [3]int) *Block[T] {
	var ghost *Block[T]
	for _, b := range f.blocks {
		if b.interior.Contains(p) {
			return b
		}
		if ghost == nil && b.bounds.Contains(p) {
			ghost = b
		}
	}
	return ghost
}

// Fill sets every interior cell to fn of its global coordinates.
func (f *Field[T]) Fill(fn func(x, y, z int) T) {
	for _, b := range f.blocks {
		f.fillBlock(b, fn)
	}
}

// base is the part of a Field the plan needs, whatever its element type.
func (f *Field[T]) base() fieldBase {
	var zero T
	return fieldBase{name: f.name, spec: f.spec, d: f.d, rank: f.rank, elemSize: int(unsafe.Sizeof(zero))}
}

func (f *Field[T]) blockGeom(i int) blockGeom {
	b := f.blocks[i]
	return blockGeom{origin: b.origin, sy: b.sy, sz: b.sz, bounds: b.bounds, interior: b.interior}
}
