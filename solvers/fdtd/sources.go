package fdtd

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/hilo-hpc/hilo/decomp"
)

// A Source drives one component. After the update of its component in
// step n (the E update for Ex, Ey, Ez, the H update for Hx, Hy, Hz) it adds
// Waveform(n) to the component (a soft source), or with Hard sets it, at
// cell At, or at every cell of Region when Region is not empty: a line of
// cells makes a line source, a plane of cells across a grid with periodic
// sides a plane wave. Waveform must not allocate.
type Source struct {
	Component Component
	At        [3]int
	Region    decomp.Box
	Hard      bool
	Waveform  func(n int) float64
}

// Gaussian is the reference problem's waveform exp(-((n-30)/10)^2).
func Gaussian(n int) float64 {
	t := (float64(n) - 30.0) / 10.0
	return math.Exp(-(t * t))
}

// GaussianPulse is exp(−((t − t0)/width)²) at t = nΔt (time in units of
// Δx/c). Its spectrum is a Gaussian centred on zero frequency, so as a soft E
// source it leaves a static charge behind; prefer DiffGaussianPulse or
// RickerPulse where that matters.
func GaussianPulse(t0, width, dt float64) func(n int) float64 {
	return func(n int) float64 {
		u := (float64(n)*dt - t0) / width
		return math.Exp(-u * u)
	}
}

// DiffGaussianPulse is the time derivative of the Gaussian, normalised to
// peak 1: −√(2e)·u·exp(−u²) with u = (t − t0)/width. It has no DC part.
func DiffGaussianPulse(t0, width, dt float64) func(n int) float64 {
	k := -math.Sqrt(2 * math.E)
	return func(n int) float64 {
		u := (float64(n)*dt - t0) / width
		return k * u * math.Exp(-u*u)
	}
}

// RickerPulse is the Ricker ("Mexican hat") wavelet of peak frequency f
// (cycles per unit time), centred on t0: (1 − 2a)·exp(−a) with
// a = (πf(t − t0))². Its spectrum peaks at f and has no DC part.
func RickerPulse(f, t0, dt float64) func(n int) float64 {
	return func(n int) float64 {
		u := math.Pi * f * (float64(n)*dt - t0)
		a := u * u
		return (1 - 2*a) * math.Exp(-a)
	}
}

// RefSources is the reference problem's source on a grid of dims cells: the
// Gaussian added to Ez at (NX/2, NY/2, NZ/2).
func RefSources(dims [3]int) []Source {
	return []Source{{Component: Ez, At: [3]int{dims[0] / 2, dims[1] / 2, dims[2] / 2}, Waveform: Gaussian}}
}

// SkewSources is the reference problem's skew variant: the Gaussian added to
// Ex, Ey and Ez at (NX/4, NY/3, NZ/2-1), which excites all six components.
func SkewSources(dims [3]int) []Source {
	at := [3]int{dims[0] / 4, dims[1] / 3, dims[2]/2 - 1}
	return []Source{
		{Component: Ex, At: at, Waveform: Gaussian},
		{Component: Ey, At: at, Waveform: Gaussian},
		{Component: Ez, At: at, Waveform: Gaussian},
	}
}

// localSource is the part of a source inside one of this rank's blocks.
type localSource struct {
	c     Component
	block int
	box   decomp.Box
	hard  bool
	wave  func(int) float64
}

func (s *Solver[T]) addSources(srcs []Source) error {
	grid := decomp.Box{Hi: s.dims}
	for i, src := range srcs {
		region := src.Region
		if region.Empty() {
			region = decomp.Box{Lo: src.At, Hi: [3]int{src.At[0] + 1, src.At[1] + 1, src.At[2] + 1}}
		}
		if src.Component < Ex || src.Component > Hz || src.Waveform == nil || region.Intersect(grid) != region {
			return fmt.Errorf("%w: source %d: %v at %v, region %v (grid %v, waveform set %v)", ErrInvalid, i, src.Component, src.At, src.Region, s.dims, src.Waveform != nil)
		}
		for bi, b := range s.f[src.Component].Blocks() {
			if box := b.Interior().Intersect(region); !box.Empty() {
				s.sources = append(s.sources, localSource{src.Component, bi, box, src.Hard, src.Waveform})
			}
		}
	}
	return nil
}

// applySources applies the sources of the H components (h) or the E ones.
func (s *Solver[T]) applySources(h bool) {
	for _, src := range s.sources {
		if (src.c >= Hx) != h {
			continue
		}
		v := T(src.wave(s.steps))
		b := s.f[src.c].Blocks()[src.block]
		box := src.box
		for z := box.Lo[2]; z < box.Hi[2]; z++ {
			for y := box.Lo[1]; y < box.Hi[1]; y++ {
				row := b.Data[b.Index(box.Lo[0], y, z):][:box.Size(0)]
				for x := range row {
					if src.hard {
						row[x] = v
					} else {
						row[x] += v
					}
				}
			}
		}
	}
}

// A Probe records component Component at cell At after every step (E at
// time (n+1)Δt, H at (n+½)Δt after step n).
type Probe struct {
	Name      string
	Component Component
	At        [3]int
}

type localProbe struct {
	id     int // index in Options.Probes
	block  int
	index  int
	c      Component
	series []float64
}

func (s *Solver[T]) addProbes(probes []Probe) error {
	grid := decomp.Box{Hi: s.dims}
	s.nProbes = len(probes)
	for i, p := range probes {
		if p.Component < Ex || p.Component > Hz || !grid.Contains(p.At) {
			return fmt.Errorf("%w: probe %d (%q): %v at %v (grid %v)", ErrInvalid, i, p.Name, p.Component, p.At, s.dims)
		}
		for bi, b := range s.f[p.Component].Blocks() {
			if b.Interior().Contains(p.At) {
				s.probes = append(s.probes, localProbe{id: i, block: bi, index: b.Index(p.At[0], p.At[1], p.At[2]), c: p.Component})
			}
		}
	}
	return nil
}

func (s *Solver[T]) recordProbes() {
	for i := range s.probes {
		p := &s.probes[i]
		p.series = append(p.series, float64(s.f[p.c].Blocks()[p.block].Data[p.index]))
	}
}

// ProbeSeries returns the series of every probe of Options.Probes, in that
// order: value k is the probe after step k+1 of this solver (steps before a
// Restore are not included). It is collective; every rank gets all series.
func (s *Solver[T]) ProbeSeries(ctx context.Context) ([][]float64, error) {
	var mine []byte
	for _, p := range s.probes {
		mine = binary.LittleEndian.AppendUint32(mine, uint32(p.id))
		mine = binary.LittleEndian.AppendUint32(mine, uint32(len(p.series)))
		for _, v := range p.series {
			mine = binary.LittleEndian.AppendUint64(mine, math.Float64bits(v))
		}
	}
	all, err := s.comm.Allgather(ctx, mine)
	if err != nil {
		return nil, err
	}
	out := make([][]float64, s.nProbes)
	for rank, buf := range all {
		for len(buf) > 0 {
			if len(buf) < 8 {
				return nil, fmt.Errorf("%w: probe data from rank %d truncated", ErrInvalid, rank)
			}
			id, n := binary.LittleEndian.Uint32(buf), binary.LittleEndian.Uint32(buf[4:])
			buf = buf[8:]
			if int(id) >= s.nProbes || uint64(n)*8 > uint64(len(buf)) {
				return nil, fmt.Errorf("%w: probe data from rank %d: probe %d of %d, %d values in %d bytes", ErrInvalid, rank, id, s.nProbes, n, len(buf))
			}
			series := make([]float64, n)
			for k := range series {
				series[k] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*k:]))
			}
			buf = buf[8*n:]
			out[id] = series
		}
	}
	return out, nil
}

// Set sets component c on every cell this rank owns to fn(x, y, z) (global
// cell coordinates): an initial condition. Ghost cells are refreshed by the
// exchanges of the next Step.
func (s *Solver[T]) Set(c Component, fn func(x, y, z int) float64) {
	for _, b := range s.f[c].Blocks() {
		eachCell(b.Interior(), func(x, y, z int) { b.Data[b.Index(x, y, z)] = T(fn(x, y, z)) })
	}
}
