package fdtd

import (
	"cmp"
	"math"
	"math/cmplx"
	"slices"

	"gonum.org/v1/gonum/dsp/fourier"
)

// A CavityMode is a resonance (m, n, p) of a PEC box of a × b × d cells
// (unit cells, c = 1), with its frequency in cycles per unit time: Analytic
// is the continuum value f = ½√((m/a)² + (n/b)² + (p/d)²), Discrete the
// frequency the Yee scheme with time step Δt gives the same mode, from
// the dispersion relation sin(πf̃Δt) = Δt √Σ sin²(k_i/2), k = (mπ/a, nπ/b,
// pπ/d). Discrete is below Analytic (the scheme's waves are slow).
type CavityMode struct {
	M, N, P            int
	Analytic, Discrete float64
}

// CavityModes lists the modes of a PEC box of dims cells whose discrete
// frequency is at most fmax, by increasing discrete frequency. A mode needs
// at least two non-zero indices (with two zeros every component vanishes);
// TE and TM modes of the same indices are one entry. eps·mu scales the
// medium (1 for vacuum).
func CavityModes(dims [3]int, dt, fmax, epsMu float64) []CavityMode {
	var modes []CavityMode
	for m := 0; m < dims[0]; m++ {
		for n := 0; n < dims[1]; n++ {
			for p := 0; p < dims[2]; p++ {
				zeros := 0
				for _, v := range [3]int{m, n, p} {
					if v == 0 {
						zeros++
					}
				}
				if zeros > 1 {
					continue
				}
				idx := [3]int{m, n, p}
				var fa, s2 float64
				for a := range 3 {
					q := float64(idx[a]) / float64(dims[a])
					fa += q * q
					sn := math.Sin(math.Pi * q / 2)
					s2 += sn * sn
				}
				arg := dt * math.Sqrt(s2/epsMu)
				if arg >= 1 {
					continue // beyond the Courant limit: no such discrete mode
				}
				mode := CavityMode{M: m, N: n, P: p,
					Analytic: 0.5 * math.Sqrt(fa/epsMu),
					Discrete: math.Asin(arg) / (math.Pi * dt)}
				if mode.Discrete <= fmax {
					modes = append(modes, mode)
				}
			}
		}
	}
	slices.SortFunc(modes, func(a, b CavityMode) int { return cmp.Compare(a.Discrete, b.Discrete) })
	return modes
}

// Spectrum is the amplitude spectrum of a series sampled every dt, with a
// Hann window against leakage between neighbouring modes: freq[k] = k/(len·dt)
// for k = 0 … len/2 (the bin width is 1/(len·dt)), amp[k] = |X_k|.
func Spectrum(series []float64, dt float64) (freq, amp []float64) {
	n := len(series)
	if n < 2 {
		return nil, nil
	}
	w := make([]float64, n)
	for i, v := range series {
		w[i] = v * 0.5 * (1 - math.Cos(2*math.Pi*float64(i)/float64(n-1)))
	}
	coeff := fourier.NewFFT(n).Coefficients(nil, w)
	freq = make([]float64, len(coeff))
	amp = make([]float64, len(coeff))
	for k, c := range coeff {
		freq[k] = float64(k) / (float64(n) * dt)
		amp[k] = cmplx.Abs(c)
	}
	return freq, amp
}

// Peaks returns the frequencies of the local maxima of amp (higher than
// both neighbours, and at least minRel times the largest value), strongest
// first, at most max of them.
func Peaks(freq, amp []float64, minRel float64, max int) []float64 {
	top := 0.0
	for _, a := range amp {
		top = math.Max(top, a)
	}
	var idx []int
	for k := 1; k+1 < len(amp); k++ {
		if amp[k] > amp[k-1] && amp[k] >= amp[k+1] && amp[k] >= minRel*top {
			idx = append(idx, k)
		}
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(amp[b], amp[a]) })
	if len(idx) > max {
		idx = idx[:max]
	}
	out := make([]float64, len(idx))
	for i, k := range idx {
		out[i] = freq[k]
	}
	return out
}
