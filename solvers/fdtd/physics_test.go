package fdtd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/transport"
)

// modeField is the discrete PEC cavity eigenmode (m, n, p) of a box of dims
// cells with amplitudes amp (divergence-free: amp · s = 0 with s_a =
// sin(k_a/2)), evaluated at the storage position of component c at cell
// (i, j, k): Ex = A cos(kx x) sin(ky y) sin(kz z) at (i+½, j, k), and so on.
func modeField(dims [3]int, mnp [3]int, amp [3]float64, c Component, i, j, k int) float64 {
	var kk [3]float64
	for a := range 3 {
		kk[a] = float64(mnp[a]) * math.Pi / float64(dims[a])
	}
	pos := [3]float64{float64(i), float64(j), float64(k)}
	pos[c] += 0.5
	v := amp[c]
	for a := range 3 {
		if a == int(c) {
			v *= math.Cos(kk[a] * pos[a])
		} else {
			v *= math.Sin(kk[a] * pos[a])
		}
	}
	return v
}

// modeAmplitudes is a divergence-free amplitude vector for mode mnp: the
// cross product of s with a fixed generic vector.
func modeAmplitudes(dims, mnp [3]int) (amp [3]float64, s2 float64) {
	var s [3]float64
	for a := range 3 {
		s[a] = math.Sin(float64(mnp[a]) * math.Pi / float64(dims[a]) / 2)
		s2 += s[a] * s[a]
	}
	g := [3]float64{0.3, 0.5, 0.8}
	amp = [3]float64{s[1]*g[2] - s[2]*g[1], s[2]*g[0] - s[0]*g[2], s[0]*g[1] - s[1]*g[0]}
	return amp, s2
}

// cosRatioError checks a mode's time series against the leapfrog
// recurrence Eⁿ⁺¹ + Eⁿ⁻¹ = 2cos(ω̃Δt)Eⁿ: e0 is E⁰ and series[n-1] is Eⁿ. It
// returns the worst |(Eⁿ⁺¹ + Eⁿ⁻¹)/(2Eⁿ) − cosWant| over the steps where
// |Eⁿ| ≥ floor (near a zero the ratio only measures round-off) and how
// many steps it checked.
func cosRatioError(e0 float64, series []float64, cosWant, floor float64) (worst float64, checked int) {
	e := append([]float64{e0}, series...)
	for n := 1; n+1 < len(e); n++ {
		if math.Abs(e[n]) < floor {
			continue
		}
		worst = math.Max(worst, math.Abs((e[n+1]+e[n-1])/(2*e[n])-cosWant))
		checked++
	}
	return worst, checked
}

// TestDiscreteCavityMode: a discrete eigenmode of the PEC box, set as the
// initial E with H = 0, satisfies (Eⁿ⁺¹ + Eⁿ⁻¹)/(2Eⁿ) = cos(ω̃Δt) to 1e-12
// at every probed entry and step, with ω̃ from the Yee dispersion relation
// sin²(ω̃Δt/2) = Δt²/(εμ) Σ sin²(k_a/2); in vacuum and in a uniform
// dielectric (ε = 2.25, μ = 1.2), on one and on three ranks.
func TestDiscreteCavityMode(t *testing.T) {
	dims := [3]int{12, 10, 8}
	mnp := [3]int{1, 2, 1}
	amp, s2 := modeAmplitudes(dims, mnp)
	for _, tc := range []struct {
		name  string
		ranks int
		mat   *Material
	}{{"vacuum/P=1", 1, nil}, {"vacuum/P=3", 3, nil}, {"dielectric/P=3", 3, &Material{Eps: 2.25, Mu: 1.2}}} {
		t.Run(tc.name, func(t *testing.T) {
			const dt = 0.5
			epsMu := 1.0
			opt := Options{Dims: dims, Courant: dt}
			if tc.mat != nil {
				m := *tc.mat
				epsMu = m.Eps * m.Mu
				opt.Material = func(x, y, z int) Material { return m }
			}
			want := 1 - 2*dt*dt/epsMu*s2 // cos(ω̃Δt)
			cells := [][3]int{{3, 2, 1}, {5, 7, 3}, {1, 4, 6}, {8, 1, 2}, {10, 6, 5}}
			for _, c := range cells {
				for comp := Ex; comp <= Ez; comp++ {
					opt.Probes = append(opt.Probes, Probe{Component: comp, At: c})
				}
			}
			const steps = 200
			err := runRanks(t, tc.ranks, func(ctx context.Context, comm *transport.Comm) error {
				s, err := New[float64](ctx, comm, opt)
				if err != nil {
					return err
				}
				defer s.Close()
				for comp := Ex; comp <= Ez; comp++ {
					s.Set(comp, func(x, y, z int) float64 { return modeField(dims, mnp, amp, comp, x, y, z) })
				}
				if err := s.Run(ctx, steps); err != nil {
					return err
				}
				series, err := s.ProbeSeries(ctx)
				if err != nil || comm.Rank() != 0 {
					return err
				}
				top := math.Sqrt(amp[0]*amp[0] + amp[1]*amp[1] + amp[2]*amp[2])
				worst, checked := 0.0, 0
				for pi, ser := range series {
					p := opt.Probes[pi]
					e0 := modeField(dims, mnp, amp, p.Component, p.At[0], p.At[1], p.At[2])
					if len(ser) != steps {
						return fmt.Errorf("probe %d: %d values, want %d", pi, len(ser), steps)
					}
					w, c := cosRatioError(e0, ser, want, 0.05*top)
					worst, checked = math.Max(worst, w), checked+c
				}
				t.Logf("cos(ω̃Δt) = %.15f: %d ratios checked, worst error %.1e", want, checked, worst)
				if checked < 500 || worst > 1e-12 {
					return fmt.Errorf("%d ratios, worst |ratio − cos(ω̃Δt)| = %.2e (want ≤ 1e-12)", checked, worst)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPeriodicPlaneWave: on a grid periodic along every axis, one cell
// thick along y and z, Ez = cos(kx) (a standing plane wave along x, uniform
// across) follows the discrete dispersion relation of a periodic axis
// sin²(ω̃Δt/2) = Δt² sin²(k/2) to 1e-12, over two ranks so the wrap crosses
// ranks.
func TestPeriodicPlaneWave(t *testing.T) {
	dims := [3]int{32, 1, 1}
	periodic := [3][2]Boundary{{Periodic, Periodic}, {Periodic, Periodic}, {Periodic, Periodic}}
	const dt = 0.9 // a periodic axis of one cell adds nothing to the limit: 1/cos(π/64)
	k := 2 * math.Pi * 3 / 32
	want := 1 - 2*dt*dt*math.Pow(math.Sin(k/2), 2)
	opt := Options{Dims: dims, Courant: dt, Boundaries: periodic, Method: "slab"}
	for x := range 32 {
		opt.Probes = append(opt.Probes, Probe{Component: Ez, At: [3]int{x, 0, 0}})
	}
	err := runRanks(t, 2, func(ctx context.Context, comm *transport.Comm) error {
		s, err := New[float64](ctx, comm, opt)
		if err != nil {
			return err
		}
		defer s.Close()
		s.Set(Ez, func(x, y, z int) float64 { return math.Cos(k * float64(x)) })
		if err := s.Run(ctx, 300); err != nil {
			return err
		}
		series, err := s.ProbeSeries(ctx)
		if err != nil || comm.Rank() != 0 {
			return err
		}
		worst, checked := 0.0, 0
		for x, ser := range series {
			w, c := cosRatioError(math.Cos(k*float64(x)), ser, want, 0.05)
			worst, checked = math.Max(worst, w), checked+c
		}
		t.Logf("periodic plane wave: %d ratios, worst error %.1e", checked, worst)
		if checked < 1000 || worst > 1e-12 {
			return fmt.Errorf("%d ratios, worst error %.2e", checked, worst)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCourantStability: random fields (every mode present) stay bounded for
// 5,000 steps just below the limit and blow up just above it (the Courant
// check bypassed), in a PEC box and in a periodic one.
func TestCourantStability(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dims   [3]int
		bounds [3][2]Boundary
	}{
		{"pec", [3]int{8, 7, 6}, [3][2]Boundary{}},
		{"periodic", [3]int{8, 6, 4}, [3][2]Boundary{{Periodic, Periodic}, {Periodic, Periodic}, {Periodic, Periodic}}},
	} {
		lim := CourantLimitOf(tc.dims, tc.bounds)
		for _, f := range []float64{1 - 1e-4, 1 + 1e-4} {
			t.Run(fmt.Sprintf("%s/S=limit*%g", tc.name, f), func(t *testing.T) {
				var grow float64
				err := runRanks(t, 1, func(ctx context.Context, comm *transport.Comm) error {
					s, err := New[float64](ctx, comm, Options{Dims: tc.dims, Courant: lim * f, Boundaries: tc.bounds, unstable: true})
					if err != nil {
						return err
					}
					defer s.Close()
					rng := rand.New(rand.NewPCG(1, 2))
					for c := Ex; c <= Hz; c++ {
						s.Set(c, func(x, y, z int) float64 {
							p := [3]int{x, y, z}
							if c < Hx {
								for _, a := range tangential(c) {
									if s.wall[a] && p[a] == 0 {
										return 0 // a wall entry
									}
								}
							}
							return rng.Float64() - 0.5
						})
					}
					e0, err := s.Energy(ctx)
					if err != nil {
						return err
					}
					if err := s.Run(ctx, 5000); err != nil {
						return err
					}
					e1, err := s.Energy(ctx)
					grow = e1.Total / e0.Total
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("energy grew %.3g times in 5000 steps", grow)
				if f < 1 && !(grow < 10) {
					t.Errorf("below the limit the energy grew %.3g times", grow)
				}
				if f > 1 && !(grow > 1e6) {
					t.Errorf("above the limit the energy grew only %.3g times", grow)
				}
			})
		}
	}
}

// TestModifiedEnergyLongRun: W stays within 1e-12 relative over 10⁴ steps in
// a lossless PEC box once the source is off, on two ranks; and so it does
// in a box of mixed dielectric.
func TestModifiedEnergyLongRun(t *testing.T) {
	dims := [3]int{12, 10, 8}
	for _, tc := range []struct {
		name string
		mat  func(x, y, z int) Material
	}{
		{"vacuum", nil},
		{"dielectric", func(x, y, z int) Material {
			if x >= 6 {
				return Material{Eps: 2, Mu: 1.5}
			}
			return Vacuum()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := Options{Dims: dims, Sources: SkewSources(dims), Material: tc.mat}
			err := runRanks(t, 2, func(ctx context.Context, comm *transport.Comm) error {
				s, err := New[float64](ctx, comm, opt)
				if err != nil {
					return err
				}
				defer s.Close()
				if err := s.Run(ctx, 100); err != nil {
					return err
				}
				w0, err := s.ModifiedEnergy(ctx)
				if err != nil {
					return err
				}
				worst := 0.0
				for range 20 {
					if err := s.Run(ctx, 500); err != nil {
						return err
					}
					w, err := s.ModifiedEnergy(ctx)
					if err != nil {
						return err
					}
					worst = math.Max(worst, relErr(w, w0))
				}
				if comm.Rank() == 0 {
					t.Logf("W = %.15g, worst relative drift over 10⁴ steps %.1e", w0, worst)
				}
				if w0 == 0 || worst > 1e-12 {
					return fmt.Errorf("W = %g drifts %.2e relative over 10⁴ steps", w0, worst)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSpectrumPeaks: a broadband pulse in a PEC cavity rings at the Yee
// scheme's discrete frequencies f̃_mnp: each of the strongest peaks of a
// probe's spectrum lies within one FFT bin of a discrete mode.
func TestSpectrumPeaks(t *testing.T) {
	dims := [3]int{10, 8, 6}
	const dt, steps = 0.5, 4096
	src := Source{Component: Ez, At: [3]int{3, 2, 2}, Waveform: DiffGaussianPulse(8, 2, dt)}
	probe := Probe{Component: Ez, At: [3]int{7, 5, 3}}
	var series []float64
	err := runRanks(t, 2, func(ctx context.Context, comm *transport.Comm) error {
		s, err := New[float64](ctx, comm, Options{Dims: dims, Courant: dt, Sources: []Source{src}, Probes: []Probe{probe}})
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Run(ctx, steps); err != nil {
			return err
		}
		all, err := s.ProbeSeries(ctx)
		if comm.Rank() == 0 {
			series = all[0]
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	freq, amp := Spectrum(series, dt)
	bin := freq[1]
	peaks := Peaks(freq, amp, 0.05, 8)
	modes := CavityModes(dims, dt, 0.5/dt, 1)
	if len(peaks) < 5 {
		t.Fatalf("only %d peaks: %v", len(peaks), peaks)
	}
	for _, f := range peaks {
		best := modes[0]
		for _, m := range modes {
			if math.Abs(m.Discrete-f) < math.Abs(best.Discrete-f) {
				best = m
			}
		}
		t.Logf("peak %.5f: mode %d%d%d discrete %.5f (analytic %.5f), %.2f bins off", f, best.M, best.N, best.P, best.Discrete, best.Analytic, math.Abs(best.Discrete-f)/bin)
		if math.Abs(best.Discrete-f) > bin {
			t.Errorf("peak at %.5f: nearest discrete mode %d%d%d at %.5f is %.2f bins away", f, best.M, best.N, best.P, best.Discrete, math.Abs(best.Discrete-f)/bin)
		}
	}
}

// TestPMLReflection: a plane pulse at normal incidence on a CPML (a grid
// periodic across, one source plane) reflects at most 0.1 % of its
// amplitude: the probe's signal minus that of a grid long enough that no
// reflection comes back in the time window, over the incident peak.
func TestPMLReflection(t *testing.T) {
	const dt, steps = 0.5, 400
	run := func(nx, off int, bounds [3][2]Boundary, ranks int) []float64 {
		dims := [3]int{nx, 2, 2}
		src := Source{Component: Ez, Region: decomp.Box{Lo: [3]int{off + 30, 0, 0}, Hi: [3]int{off + 31, 2, 2}}, Waveform: DiffGaussianPulse(40, 8, dt)}
		probe := Probe{Component: Ez, At: [3]int{off + 50, 1, 1}}
		var out []float64
		err := runRanks(t, ranks, func(ctx context.Context, comm *transport.Comm) error {
			s, err := New[float64](ctx, comm, Options{Dims: dims, Courant: dt, Boundaries: bounds, Sources: []Source{src}, Probes: []Probe{probe}, Method: "slab"})
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.Run(ctx, steps); err != nil {
				return err
			}
			all, err := s.ProbeSeries(ctx)
			if comm.Rank() == 0 {
				out = all[0]
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	across := [2]Boundary{Periodic, Periodic}
	// The PML's inner face is 20 cells past the probe; a pulse travelling
	// there and back takes 40 time units = 80 steps, well inside 400.
	pml := run(80, 0, [3][2]Boundary{{PML, PML}, across, across}, 3)
	ref := run(600, 270, [3][2]Boundary{{PEC, PEC}, across, across}, 2) // the walls are 300 cells away
	peak, refl := 0.0, 0.0
	for n := range steps {
		peak = math.Max(peak, math.Abs(ref[n]))
		refl = math.Max(refl, math.Abs(pml[n]-ref[n]))
	}
	r := refl / peak
	t.Logf("incident peak %.4f, reflected %.2e: R = %.2e", peak, refl, r)
	if peak < 0.1 || r > 1e-3 {
		t.Errorf("CPML normal-incidence reflection %.2e (want ≤ 1e-3), incident peak %.3g", r, peak)
	}
}

// TestMaterialVacuumBitwise: a Material function returning Vacuum everywhere
// takes the per-entry kernels, and gives bitwise the fields of the uniform
// vacuum kernels; and fields with materials, PML and periodic sides are
// bitwise the same on 1, 3 and 5 ranks.
func TestMaterialVacuumBitwise(t *testing.T) {
	dims := [3]int{14, 12, 10}
	opt := Options{Dims: dims, Courant: 0.45, Sources: SkewSources(dims)}
	plain := simulate[float64](t, 1, opt, 40)
	opt.Material = func(x, y, z int) Material { return Vacuum() }
	vac := simulate[float64](t, 2, opt, 40)
	for c := Ex; c <= Hz; c++ {
		for i, v := range vac.fields[c] {
			if math.Float64bits(v) != math.Float64bits(plain.fields[c][i]) {
				t.Fatalf("%v at %d: %v with Material = Vacuum, %v without", c, i, v, plain.fields[c][i])
			}
		}
	}
	opt.Material = func(x, y, z int) Material {
		return Material{Eps: 1 + float64((x+2*y+3*z)%4)/2, Mu: 1 + float64(z%2)/4, Sigma: float64(y%3) / 20}
	}
	opt.Boundaries = [3][2]Boundary{{PML, PEC}, {Periodic, Periodic}, {PEC, PML}}
	opt.PML = PMLOptions{Cells: 3}
	one := simulate[float64](t, 1, opt, 60)
	for _, p := range []int{3, 5} {
		for _, method := range []string{"hilbert", "rcb"} {
			o := opt
			o.Method = method
			got := simulate[float64](t, p, o, 60)
			for c := Ex; c <= Hz; c++ {
				for i, v := range got.fields[c] {
					if math.Float64bits(v) != math.Float64bits(one.fields[c][i]) {
						t.Fatalf("P=%d %s: %v at %d: %v, one rank %v", p, method, c, i, v, one.fields[c][i])
					}
				}
			}
		}
	}
}

// TestSourcesAndProbes: a hard source holds its value exactly, a soft one
// adds; the probes report exactly the field values after each step; the
// pulses have their stated shapes.
func TestSourcesAndProbes(t *testing.T) {
	dims := [3]int{10, 10, 10}
	const dt = 0.5
	hard := Source{Component: Ez, At: [3]int{2, 3, 4}, Hard: true, Waveform: RickerPulse(0.1, 10, dt)}
	line := Source{Component: Ey, Region: decomp.Box{Lo: [3]int{5, 0, 5}, Hi: [3]int{6, 10, 6}}, Waveform: GaussianPulse(5, 2, dt)}
	hsrc := Source{Component: Hx, At: [3]int{7, 7, 7}, Waveform: DiffGaussianPulse(6, 2, dt)}
	probes := []Probe{{Component: Ez, At: hard.At}, {Component: Ey, At: [3]int{5, 4, 5}}, {Component: Hx, At: [3]int{7, 7, 7}}, {Component: Hy, At: [3]int{1, 8, 2}}}
	var mu sync.Mutex
	direct := make([][]float64, len(probes))
	var series [][]float64
	err := runRanks(t, 3, func(ctx context.Context, comm *transport.Comm) error {
		s, err := New[float64](ctx, comm, Options{Dims: dims, Courant: dt, Sources: []Source{hard, line, hsrc}, Probes: probes})
		if err != nil {
			return err
		}
		defer s.Close()
		for range 40 {
			if err := s.Step(ctx); err != nil {
				return err
			}
			for i, p := range probes {
				s.Each(p.Component, func(x, y, z int, v float64) {
					if [3]int{x, y, z} == p.At {
						mu.Lock()
						direct[i] = append(direct[i], v)
						mu.Unlock()
					}
				})
			}
		}
		all, err := s.ProbeSeries(ctx)
		if comm.Rank() == 0 {
			series = all
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range probes {
		if len(series[i]) != 40 || len(direct[i]) != 40 {
			t.Fatalf("probe %d: %d values, %d read directly; want 40", i, len(series[i]), len(direct[i]))
		}
		for n := range 40 {
			if series[i][n] != direct[i][n] {
				t.Fatalf("probe %d step %d: %v, field %v", i, n, series[i][n], direct[i][n])
			}
		}
	}
	for n := range 40 {
		if series[0][n] != hard.Waveform(n) {
			t.Fatalf("hard source at step %d: %v, want %v", n, series[0][n], hard.Waveform(n))
		}
	}
	if series[1][25] == 0 || series[2][20] == 0 || series[3][39] == 0 {
		t.Errorf("line or H source had no effect: %v %v %v", series[1][25], series[2][20], series[3][39])
	}
	// Shapes: Ricker peaks at 1 at t0 and has zero mean; the Gaussian
	// derivative peaks at ±1 one width/√2 from t0.
	r := RickerPulse(0.05, 50, 0.5)
	if r(100) != 1 {
		t.Errorf("Ricker at t0 = %v, want 1", r(100))
	}
	sum := 0.0
	for n := range 400 {
		sum += r(n)
	}
	if math.Abs(sum) > 1e-9 {
		t.Errorf("Ricker sums to %v, want 0", sum)
	}
	dg := DiffGaussianPulse(10, 2, 1)
	if v := dg(10); v != 0 {
		t.Errorf("diff-Gaussian at t0 = %v", v)
	}
	if v := DiffGaussianPulse(0, math.Sqrt2, 1)(-1); math.Abs(v-1) > 1e-15 {
		t.Errorf("diff-Gaussian peak = %v, want 1", v)
	}
}

// TestSI: 1 mm cells: a 1 GHz wave is 1/299.79... cycles per unit time, and
// the conversions invert each other; copper at 1 mm has σ' ≈ 2.2e7.
func TestSI(t *testing.T) {
	u := SI{Dx: 1e-3}
	if got := u.Frequency(1e9); math.Abs(got-1e9*1e-3/SpeedOfLight) > 1e-18 || math.Abs(u.Hertz(got)-1e9) > 1e-3 {
		t.Errorf("1 GHz -> %v -> %v", got, u.Hertz(got))
	}
	if got := u.Seconds(u.Time(1e-9)); math.Abs(got-1e-9) > 1e-24 {
		t.Errorf("1 ns round trip %v", got)
	}
	if got := u.Conductivity(5.8e7); math.Abs(got/2.185e7-1) > 1e-3 {
		t.Errorf("copper σ' = %v, want ≈ 2.185e7", got)
	}
}

// TestCheckpointPMLMaterials: a run with CPML layers, materials and a
// periodic axis, stopped after 23 steps on 3 ranks and restored from its
// checkpoint on 5 ranks with another method, ends bitwise where an
// uninterrupted one-rank run ends: the ψ of the layers travel in the file.
func TestCheckpointPMLMaterials(t *testing.T) {
	dims := [3]int{16, 12, 10}
	opt := Options{Dims: dims, Courant: 0.45, Sources: SkewSources(dims),
		Boundaries: [3][2]Boundary{{PML, PML}, {Periodic, Periodic}, {PEC, PML}}, PML: PMLOptions{Cells: 4},
		Material: func(x, y, z int) Material { return Material{Eps: 1 + float64(x%3)/2, Mu: 1, Sigma: float64(z%2) / 10} }}
	const k, k1 = 60, 23
	var mu sync.Mutex
	want, got := newCkptState(dims), newCkptState(dims)
	path := t.TempDir() + "/pml.ckpt"
	for _, run := range []struct {
		ranks   int
		method  string
		restore bool
		steps   int
		st      *ckptState
	}{{1, "", false, k, want}, {3, "", false, k1, nil}, {5, "rcb", true, k - k1, got}} {
		o := opt
		o.Method = run.method
		err := runRanks(t, run.ranks, func(ctx context.Context, comm *transport.Comm) error {
			s, err := New[float64](ctx, comm, o)
			if err != nil {
				return err
			}
			defer s.Close()
			if run.restore {
				if err := s.Restore(ctx, path); err != nil {
					return err
				}
			}
			if err := s.Run(ctx, run.steps); err != nil {
				return err
			}
			if run.st == nil {
				return s.Checkpoint(ctx, path)
			}
			return record(ctx, s, run.st, &mu)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sameState(t, "restarted on 5 ranks (rcb) from 3 ranks' checkpoint", got, want)
	// Without the ψ sections the restart would differ: a solver without
	// PML refuses this file.
	err := runRanks(t, 1, func(ctx context.Context, comm *transport.Comm) error {
		o := opt
		o.Boundaries = [3][2]Boundary{{PEC, PEC}, {Periodic, Periodic}, {PEC, PEC}}
		s, err := New[float64](ctx, comm, o)
		if err != nil {
			return err
		}
		defer s.Close()
		return s.Restore(ctx, path)
	})
	if !errors.Is(err, ErrCheckpoint) {
		t.Errorf("restoring a PML checkpoint without PML: %v, want ErrCheckpoint", err)
	}
}

// TestThreads: with the updates spread over goroutines (Options.Threads),
// the fields are bitwise those of one thread, on one rank and on three, and
// a step allocates nothing.
func TestThreads(t *testing.T) {
	dims := [3]int{14, 12, 10}
	opt := Options{Dims: dims, Courant: 0.45, Sources: SkewSources(dims), Boundaries: [3][2]Boundary{{PML, PML}, {}, {}}, PML: PMLOptions{Cells: 3}}
	one := simulate[float64](t, 1, opt, 50)
	for _, tc := range []struct{ ranks, threads int }{{1, 2}, {1, 3}, {3, 4}} {
		o := opt
		o.Threads = tc.threads
		got := simulate[float64](t, tc.ranks, o, 50)
		for c := Ex; c <= Hz; c++ {
			for i, v := range got.fields[c] {
				if math.Float64bits(v) != math.Float64bits(one.fields[c][i]) {
					t.Fatalf("%d ranks × %d threads: %v at %d: %v, one thread %v", tc.ranks, tc.threads, c, i, v, one.fields[c][i])
				}
			}
		}
	}
	err := runRanks(t, 1, func(ctx context.Context, comm *transport.Comm) error {
		o := opt
		o.Threads = 2
		s, err := New[float64](ctx, comm, o)
		if err != nil {
			return err
		}
		defer s.Close()
		var stepErr error
		allocs := testing.AllocsPerRun(20, func() {
			if err := s.Step(ctx); err != nil {
				stepErr = err
			}
		})
		if stepErr != nil {
			return stepErr
		}
		if allocs != 0 {
			return fmt.Errorf("a step with 2 threads allocates %v times", allocs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRunWithProbesAllocatesOnce: Run grows the probe series once for its
// steps, so the steps themselves allocate nothing.
func TestRunWithProbesAllocatesOnce(t *testing.T) {
	dims := [3]int{12, 10, 8}
	opt := Options{Dims: dims, Sources: RefSources(dims), Probes: []Probe{{Component: Ez, At: [3]int{3, 3, 3}}, {Component: Hx, At: [3]int{5, 2, 6}}}}
	err := runRanks(t, 1, func(ctx context.Context, comm *transport.Comm) error {
		s, err := New[float64](ctx, comm, opt)
		if err != nil {
			return err
		}
		defer s.Close()
		// One Run on fresh series: appending step by step would grow each
		// series ~9 times on the way to 200 values.
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := s.Run(ctx, 200); err != nil {
			return err
		}
		runtime.ReadMemStats(&after)
		allocs := after.Mallocs - before.Mallocs
		if allocs > 4 { // one growth per probe, and some slack for the runtime
			return fmt.Errorf("Run(200) with 2 probes allocates %d times", allocs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
