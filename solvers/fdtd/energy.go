package fdtd

import (
	"context"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/transport"
)

// Energy is the discrete field energy of the reference problem: the sums of
// the squares of every stored E entry and every stored H entry.
type Energy struct {
	E2, H2 float64 // Σ E², Σ H²
	Total  float64 // Σ E² + Σ H², rounded once from the exact sum
}

// Energy returns Σ E² + Σ H² over the whole grid (the E after Steps() E
// updates, the H after Steps() H updates). It is collective and every rank
// gets the same result.
//
// The result is the exact sum of the (rounded) squares, rounded once to the
// nearest float64, and so bitwise the same whatever the decomposition and
// the number of ranks: each rank accumulates its squares without rounding in
// a fixed-point superaccumulator (68 limbs of 32 bits covering the whole
// float64 range), the limbs are summed over ranks as integers
// (AllreduceInt64, exact and order-free), and only the total is rounded.
// bench/fdtd's yee.c sums with Neumaier compensation, which is within ~1e-16
// of the same exact sum.
func (s *Solver[T]) Energy(ctx context.Context) (Energy, error) {
	var e, h exactSum
	for c := Ex; c <= Hz; c++ {
		acc := &e
		if c >= Hx {
			acc = &h
		}
		s.each(c, func(v []T) {
			for _, x := range v {
				x := float64(x)
				acc.add(x * x) // exact for float32
			}
		})
	}
	sums, err := reduceSums(ctx, s.comm, &e, &h)
	if err != nil {
		return Energy{}, err
	}
	e, h = sums[0], sums[1]
	var t exactSum
	t.merge(&e)
	t.merge(&h)
	return Energy{E2: e.float64(), H2: h.float64(), Total: t.float64()}, nil
}

// ModifiedEnergy returns W = ½ Σ ε Eⁿ·Eⁿ + ½ Σ μ Hⁿ⁻½·Hⁿ⁺½ with n = Steps(),
// which a lossless box (PEC or periodic, σ = 0) conserves to round-off once
// the sources are off
// (Σ E² + Σ H² only oscillates). Hⁿ⁻½ is recovered from the current H by
// undoing the last H update (H + Δt ∇×Eⁿ; the E ghosts are still those that
// update read), so it costs nothing per step; inside PML layers this undo
// leaves out the layers' ψ terms (W is not conserved there anyway). It is collective, and exact and
// decomposition-independent in the same way as Energy.
func (s *Solver[T]) ModifiedEnergy(ctx context.Context) (float64, error) {
	var w exactSum
	m := s.mat
	for c := Ex; c <= Ez; c++ {
		if m != nil {
			for bi, b := range s.f[c].Blocks() {
				eachCell(b.Interior(), func(x, y, z int) {
					i := b.Index(x, y, z)
					v := float64(b.Data[i])
					w.add(float64(m.eps[c][bi][i]) * v * v)
				})
			}
			continue
		}
		s.each(c, func(v []T) {
			for _, x := range v {
				x := float64(x)
				w.add(x * x)
			}
		})
	}
	dt := s.dt
	// In vacuum the H update coefficient is Δt and μ = 1 everywhere.
	dbx, dby, dbz := dt, dt, dt
	mux, muy, muz := 1.0, 1.0, 1.0
	for bi, bex := range s.f[Ex].Blocks() {
		bey, bez := s.f[Ey].Blocks()[bi], s.f[Ez].Blocks()[bi]
		bhx, bhy, bhz := s.f[Hx].Blocks()[bi], s.f[Hy].Blocks()[bi], s.f[Hz].Blocks()[bi]
		exy, exz := bex.Stride()
		_, eyz := bey.Stride()
		ezy, _ := bez.Stride()
		in := bex.Interior()
		for z := in.Lo[2]; z < in.Hi[2]; z++ {
			for y := in.Lo[1]; y < in.Hi[1]; y++ {
				for x := in.Lo[0]; x < in.Hi[0]; x++ {
					iex, iey, iez := bex.Index(x, y, z), bey.Index(x, y, z), bez.Index(x, y, z)
					ex, ey, ez := bex.Data[iex], bey.Data[iey], bez.Data[iez]
					ihx, ihy, ihz := bhx.Index(x, y, z), bhy.Index(x, y, z), bhz.Index(x, y, z)
					hx, hy, hz := bhx.Data[ihx], bhy.Data[ihy], bhz.Data[ihz]
					if m != nil {
						dbx, dby, dbz = m.db[0][bi][ihx], m.db[1][bi][ihy], m.db[2][bi][ihz]
						mux, muy, muz = float64(m.mu[0][bi][ihx]), float64(m.mu[1][bi][ihy]), float64(m.mu[2][bi][ihz])
					}
					ox := hx + dbx*((bez.Data[iez+ezy]-ez)-(bey.Data[iey+eyz]-ey))
					oy := hy + dby*((bex.Data[iex+exz]-ex)-(bez.Data[iez+1]-ez))
					oz := hz + dbz*((bey.Data[iey+1]-ey)-(bex.Data[iex+exy]-ex))
					w.add(mux * float64(ox) * float64(hx))
					w.add(muy * float64(oy) * float64(hy))
					w.add(muz * float64(oz) * float64(hz))
				}
			}
		}
	}
	sums, err := reduceSums(ctx, s.comm, &w)
	if err != nil {
		return 0, err
	}
	return 0.5 * sums[0].float64(), nil
}

// reduceSums adds each accumulator over all ranks, exactly.
func reduceSums(ctx context.Context, comm *transport.Comm, acc ...*exactSum) ([]exactSum, error) {
	in := make([]int64, 0, len(acc)*(sumLimbs+1))
	for _, a := range acc {
		a.normalize() // limbs in [0, 2^32) but the top one: no overflow over ranks
		in = append(in, a.limb[:]...)
		in = append(in, a.nonFinite)
	}
	out := make([]int64, len(in))
	if err := comm.AllreduceInt64(ctx, transport.Sum, in, out); err != nil {
		return nil, err
	}
	res := make([]exactSum, len(acc))
	for i := range res {
		copy(res[i].limb[:], out[i*(sumLimbs+1):])
		res[i].nonFinite = out[i*(sumLimbs+1)+sumLimbs]
	}
	return res, nil
}

// each calls fn with every interior row of this rank's part of component c.
func (s *Solver[T]) each(c Component, fn func(row []T)) {
	for _, b := range s.f[c].Blocks() {
		in := b.Interior()
		n := in.Size(0)
		for z := in.Lo[2]; z < in.Hi[2]; z++ {
			for y := in.Lo[1]; y < in.Hi[1]; y++ {
				i := b.Index(in.Lo[0], y, z)
				fn(b.Data[i : i+n])
			}
		}
	}
}

// Each calls fn with every cell this rank owns and its value of component c
// (global cell coordinates), block by block, x fastest.
func (s *Solver[T]) Each(c Component, fn func(x, y, z int, v float64)) {
	for _, b := range s.f[c].Blocks() {
		in := b.Interior()
		eachCell(in, func(x, y, z int) { fn(x, y, z, float64(b.Data[b.Index(x, y, z)])) })
	}
}

func eachCell(in decomp.Box, fn func(x, y, z int)) {
	for z := in.Lo[2]; z < in.Hi[2]; z++ {
		for y := in.Lo[1]; y < in.Hi[1]; y++ {
			for x := in.Lo[0]; x < in.Hi[0]; x++ {
				fn(x, y, z)
			}
		}
	}
}
