package fdtd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRowKernelsBitwise: the kernels New picks (assembly or vector ones
// where the CPU has them) give bitwise the portable kernels' results, for
// every row length up to 70 (vector bodies and scalar tails) and for dt
// values whose products round.
func TestRowKernelsBitwise(t *testing.T) {
	rowE64, rowH64 := kernels[float64]()
	rowE32, rowH32 := kernels[float32]()
	rng := rand.New(rand.NewPCG(3, 4))
	in := func(n int) [][]float64 {
		v := make([][]float64, 5)
		for i := range v {
			v[i] = make([]float64, n)
			for j := range v[i] {
				v[i][j] = rng.NormFloat64() * math.Pow(2, float64(rng.IntN(20)-10))
			}
		}
		return v
	}
	to32 := func(v []float64) []float32 {
		o := make([]float32, len(v))
		for i, x := range v {
			o[i] = float32(x)
		}
		return o
	}
	for _, dt := range []float64{0.5, 0.45, 0.577} {
		for n := 0; n <= 70; n++ {
			for _, h := range []bool{false, true} {
				v := in(n + 3) // inputs longer than the row, as in the solver
				want := append([]float64(nil), v[0][:n]...)
				got := append([]float64(nil), v[0][:n]...)
				w32, g32 := to32(v[0][:n]), to32(v[0][:n])
				a32, am32, b32, bm32 := to32(v[1]), to32(v[2]), to32(v[3]), to32(v[4])
				if h {
					rowH(dt, want, v[1], v[2], v[3], v[4])
					rowH64(dt, got, v[1], v[2], v[3], v[4])
					rowH(float32(dt), w32, a32, am32, b32, bm32)
					rowH32(float32(dt), g32, a32, am32, b32, bm32)
				} else {
					rowE(dt, want, v[1], v[2], v[3], v[4])
					rowE64(dt, got, v[1], v[2], v[3], v[4])
					rowE(float32(dt), w32, a32, am32, b32, bm32)
					rowE32(float32(dt), g32, a32, am32, b32, bm32)
				}
				for i := range want {
					if math.Float64bits(got[i]) != math.Float64bits(want[i]) || math.Float32bits(g32[i]) != math.Float32bits(w32[i]) {
						t.Fatalf("dt %v n %d h %v: element %d: %v (float32 %v), portable %v (%v)", dt, n, h, i, got[i], g32[i], want[i], w32[i])
					}
				}
			}
		}
	}
}

func BenchmarkRowKernels(b *testing.B) {
	const n = 128
	v := make([][]float64, 5)
	for i := range v {
		v[i] = make([]float64, n)
		for j := range v[i] {
			v[i][j] = float64(i*n + j)
		}
	}
	fast, _ := kernels[float64]()
	b.Run("portable", func(b *testing.B) {
		for b.Loop() {
			rowE(0.5, v[0], v[1], v[2], v[3], v[4])
		}
	})
	b.Run("chosen", func(b *testing.B) {
		for b.Loop() {
			fast(0.5, v[0], v[1], v[2], v[3], v[4])
		}
	})
}
