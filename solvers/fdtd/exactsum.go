package fdtd

import (
	"math"
	"math/big"
	"math/bits"
)

// exactSum accumulates float64 values without rounding: a fixed-point number
// of 2^-1074 units (the smallest subnormal) spread over signed 32-bit limbs
// held in int64s, so every finite float64 lands exactly. Its value is
// independent of the order of the additions, which is what makes the energy
// bitwise the same on any number of ranks: ranks add their own cells, the
// limbs are summed over ranks as integers (AllreduceInt64, exact) and only
// the total is rounded, once, to the nearest float64.
type exactSum struct {
	limb      [sumLimbs]int64
	adds      int
	nonFinite int64 // count of Inf and NaN values added: the sum is then NaN
}

// 1074 + 1024 bits of range plus 53 of mantissa fit in 67 limbs of 32 bits;
// one spare limb takes the carries.
const sumLimbs = 68

// normalizeEvery bounds the adds between carry propagations: each add moves a
// limb by less than 2^32, so int64 limbs cannot overflow before 2^31 adds.
const normalizeEvery = 1 << 28

func (s *exactSum) add(x float64) {
	if x == 0 {
		return
	}
	b := math.Float64bits(x)
	exp := int(b>>52) & 0x7ff
	mant := b & (1<<52 - 1)
	if exp == 0x7ff { // Inf or NaN: a diverged run; report NaN
		s.nonFinite++
		return
	}
	if exp == 0 {
		exp = 1 // subnormal
	} else {
		mant |= 1 << 52
	}
	pos := exp - 1 // x = mant * 2^(exp-1) units of 2^-1074
	k, r := pos/32, uint(pos%32)
	hi, lo := bits.Mul64(mant, 1<<r)
	a, bb, c := int64(lo&0xffffffff), int64(lo>>32), int64(hi&0xffffffff)
	if b>>63 != 0 {
		s.limb[k] -= a
		s.limb[k+1] -= bb
		s.limb[k+2] -= c
	} else {
		s.limb[k] += a
		s.limb[k+1] += bb
		s.limb[k+2] += c
	}
	s.adds++
	if s.adds >= normalizeEvery {
		s.normalize()
	}
}

// normalize propagates carries so that every limb but the last lies in
// [0, 2^32); the value is unchanged.
func (s *exactSum) normalize() {
	var carry int64
	for i := range sumLimbs - 1 {
		v := s.limb[i] + carry
		carry = v >> 32 // arithmetic shift: floor division
		s.limb[i] = v - carry<<32
	}
	s.limb[sumLimbs-1] += carry
	s.adds = 0
}

// merge adds another accumulator's (normalized) limbs.
func (s *exactSum) merge(o *exactSum) {
	for i := range s.limb {
		s.limb[i] += o.limb[i]
	}
	s.nonFinite += o.nonFinite
	s.normalize()
}

// float64 is the exact sum rounded to the nearest float64 (ties to even),
// NaN if a non-finite value was added.
func (s *exactSum) float64() float64 {
	if s.nonFinite != 0 {
		return math.NaN()
	}
	t := *s
	t.normalize()
	v := new(big.Int)
	tmp := new(big.Int)
	for i := sumLimbs - 1; i >= 0; i-- {
		v.Lsh(v, 32)
		v.Add(v, tmp.SetInt64(t.limb[i]))
	}
	f := new(big.Float).SetInt(v)
	f.SetMantExp(f, -1074)
	r, _ := f.Float64()
	return r
}
