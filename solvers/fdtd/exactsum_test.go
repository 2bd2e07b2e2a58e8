package fdtd

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestExactSum checks the superaccumulator against math/big's exact sum
// (a 4096-bit mantissa holds any sum of float64s here), over values of every
// magnitude and sign, subnormals and cancellation included, split across
// "ranks" that are merged, and in shuffled order.
func TestExactSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		var vals []float64
		for range 1 + rng.IntN(300) {
			var v float64
			switch rng.IntN(5) {
			case 0:
				v = math.Ldexp(rng.Float64(), rng.IntN(2000)-1000)
			case 1:
				v = math.Float64frombits(rng.Uint64N(1 << 52)) // subnormal
			case 2:
				v = math.Ldexp(1+rng.Float64(), 1000+rng.IntN(20))
			case 3:
				v = rng.NormFloat64()
			default:
				if len(vals) > 0 {
					v = -vals[rng.IntN(len(vals))] // exact cancellation
				}
			}
			if rng.IntN(2) == 0 {
				v = -v
			}
			vals = append(vals, v)
		}
		want := new(big.Float).SetPrec(4096)
		for _, v := range vals {
			want.Add(want, new(big.Float).SetFloat64(v))
		}
		w, _ := want.Float64()
		var a, b exactSum
		for i, v := range vals {
			if i%3 == 0 {
				a.add(v)
			} else {
				b.add(v)
			}
		}
		a.merge(&b)
		var c exactSum
		rng.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
		for _, v := range vals {
			c.add(v)
		}
		if got := a.float64(); math.Float64bits(got) != math.Float64bits(w) && !(got == 0 && w == 0) {
			t.Fatalf("trial %d: sum %v, exact %v", trial, got, w)
		}
		if got := c.float64(); got != w {
			t.Fatalf("trial %d: shuffled sum %v, exact %v", trial, got, w)
		}
	}
}

func TestExactSumNonFinite(t *testing.T) {
	for _, v := range []float64{math.Inf(1), math.Inf(-1), math.NaN()} {
		var s exactSum
		s.add(1)
		s.add(v)
		if got := s.float64(); !math.IsNaN(got) {
			t.Errorf("1 + %v = %v, want NaN", v, got)
		}
	}
}
