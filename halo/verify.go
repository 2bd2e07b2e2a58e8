package halo

import (
	"context"
	"fmt"

	"github.com/hilo-hpc/hilo/transport"
)

// verifyRounds is how many exchanges Verify checks: more than the default
// number of channel slots, so that slots are reused.
const verifyRounds = 3

// Verify checks a plan against the global array it stands for. It fills
// every interior cell of every field with a code of the cell's global
// coordinates, the field's index and the round, and every other cell with a
// poison value; exchanges; and checks every ghost cell: a cell the field's
// stencil covers must hold the code of the cell it mirrors (wrapped across
// periodic axes), every other one (outside a non-periodic grid, or a corner
// or edge the stencil leaves out) must still hold the poison. It does so
// for three exchanges in a row (so channel slots are reused), then agrees
// with all ranks on the outcome: every rank returns an error wrapping
// ErrVerify if any rank found a wrong cell, the failing rank one naming the
// cell, the field and the value.
//
// Verify is collective (every rank calls it with its plan) and overwrites
// the fields' contents.
//
// Codes are exact: a float64 holds 1 + linear index + cells·(field +
// fields·round) exactly below 2^53; a float32 holds the same when it is
// below 2^24 and a 24-bit hash of it otherwise (then two cells may share a
// code, with a chance of 2^-24 per cell).
func Verify(ctx context.Context, p *Plan) error {
	if p == nil {
		return fmt.Errorf("%w: nil plan", ErrInvalid)
	}
	b := p.fields[0].base()
	cells := b.d.Grid.Cells()
	codes := cells * len(p.fields) * verifyRounds
	var local error
	for round := range verifyRounds {
		for fi, f := range p.fields {
			f.verifyFill(fi+len(p.fields)*round, cells, codes)
		}
		if err := p.Exchange(ctx); err != nil {
			return err
		}
		// Every rank does every round, whatever it found: the exchanges are
		// collective.
		for fi, f := range p.fields {
			if local != nil {
				break
			}
			if err := f.verifyCheck(fi, fi+len(p.fields)*round, cells, codes); err != nil {
				local = fmt.Errorf("%w: round %d: %w", ErrVerify, round, err)
			}
		}
	}
	size := int64(p.comm.Size())
	in := []int64{size}
	if local != nil {
		in[0] = int64(p.comm.Rank())
	}
	out := []int64{0}
	if err := p.comm.AllreduceInt64(ctx, transport.Min, in, out); err != nil {
		if local != nil {
			return local
		}
		return fmt.Errorf("halo: verify: agreeing on the result: %w", err)
	}
	if local != nil {
		return local
	}
	if out[0] < size {
		return fmt.Errorf("%w: rank %d found a wrong ghost cell", ErrVerify, out[0])
	}
	return nil
}

// codeOf is the value Verify stores in cell lin of the grid for code
// number k (field and round) when there are codes codes in all.
func codeOf[T Scalar](lin, k, cells, codes int) T {
	v := 1 + lin + cells*k
	var out T
	switch p := any(&out).(type) {
	case *float32:
		if codes >= 1<<24-1 {
			v = 1 + int(mix(uint64(v))%(1<<24-1))
		}
		*p = float32(v)
	case *float64:
		*p = float64(v)
	case *complex128:
		*p = complex(float64(v), -float64(k))
	}
	return out
}

func poison[T Scalar]() T {
	var out T
	switch p := any(&out).(type) {
	case *float32:
		*p = -1
	case *float64:
		*p = -1
	case *complex128:
		*p = complex(-1, -1)
	}
	return out
}

// mix is the splitmix64 finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func (f *Field[T]) verifyFill(k, cells, codes int) {
	bad := poison[T]()
	n := f.d.Grid.Dims
	for _, b := range f.blocks {
		for i := range b.Data {
			b.Data[i] = bad
		}
		f.fillBlock(b, func(x, y, z int) T { return codeOf[T](x+n[0]*(y+n[1]*z), k, cells, codes) })
	}
}

func (f *Field[T]) fillBlock(b *Block[T], fn func(x, y, z int) T) {
	in := b.interior
	for z := in.Lo[2]; z < in.Hi[2]; z++ {
		for y := in.Lo[1]; y < in.Hi[1]; y++ {
			i := b.Index(in.Lo[0], y, z)
			for x := in.Lo[0]; x < in.Hi[0]; x++ {
				b.Data[i] = fn(x, y, z)
				i++
			}
		}
	}
}

// verifyCheck checks every cell of every block's Bounds against the global
// array: interior cells their own code, ghost cells the code of the cell
// they mirror or the poison.
func (f *Field[T]) verifyCheck(fi, k, cells, codes int) error {
	bad := poison[T]()
	g := f.d.Grid
	reach := stencilReach(f.spec.Stencil)
	for bi, b := range f.blocks {
		bd, in := b.bounds, b.interior
		for z := bd.Lo[2]; z < bd.Hi[2]; z++ {
			for y := bd.Lo[1]; y < bd.Hi[1]; y++ {
				for x := bd.Lo[0]; x < bd.Hi[0]; x++ {
					p := [3]int{x, y, z}
					off := 0
					for a := range 3 {
						if p[a] < in.Lo[a] || p[a] >= in.Hi[a] {
							off++
						}
					}
					want := bad
					if off <= reach {
						if q, ok := g.Wrap(p); ok {
							want = codeOf[T](q[0]+g.Dims[0]*(q[1]+g.Dims[1]*q[2]), k, cells, codes)
						}
					}
					got := b.Data[b.Index(x, y, z)]
					if got != want {
						what := "ghost"
						if off == 0 {
							what = "interior"
						}
						return fmt.Errorf("rank %d field %d (%q) block %d %s cell (%d,%d,%d): got %v, want %v",
							f.rank, fi, f.name, bi, what, x, y, z, got, want)
					}
				}
			}
		}
	}
	return nil
}
