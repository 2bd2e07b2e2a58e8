package fdtd

import (
	"fmt"
	"math"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
)

// A Boundary is what lies beyond one side of the grid.
type Boundary uint8

const (
	// PEC is a perfectly conducting wall: tangential E is zero on it.
	PEC Boundary = iota
	// Periodic wraps the axis around: the fields beyond one side are those
	// inside the other. Set it on both sides of an axis.
	Periodic
	// PML is a convolutional perfectly matched layer (CPML) of
	// PMLOptions.Cells cells inside the grid, backed by a PEC wall: waves
	// entering it are absorbed with little reflection.
	PML
)

func (b Boundary) String() string {
	switch b {
	case PEC:
		return "pec"
	case Periodic:
		return "periodic"
	case PML:
		return "pml"
	}
	return fmt.Sprintf("Boundary(%d)", int(b))
}

// PMLOptions shape the CPML layers (Roden and Gedney's convolutional PML,
// with the stretching s = κ + σ/(α + jω) graded polynomially in depth ρ ∈
// [0, 1] from the inner face: σ = σmax ρ^m, κ = 1 + (κmax − 1) ρ^m,
// α = αmax (1 − ρ)). Zero values take the defaults.
type PMLOptions struct {
	Cells    int     // thickness in cells; default 10
	Order    float64 // m; default 3
	SigmaMax float64 // default 0.8(m+1), the optimum for unit cells and η = 1
	KappaMax float64 // default 1 (no stretching)
	AlphaMax float64 // default 0
}

func (o PMLOptions) withDefaults() PMLOptions {
	if o.Cells == 0 {
		o.Cells = 10
	}
	if o.Order == 0 {
		o.Order = 3
	}
	if o.SigmaMax == 0 {
		o.SigmaMax = 0.8 * (o.Order + 1)
	}
	if o.KappaMax == 0 {
		o.KappaMax = 1
	}
	return o
}

// pmlTerm is one derivative of one curl component: component c reads src
// differentiated along axis, with sign as it enters c's update (E += Δt·sign·∂,
// H += Δt·sign·∂).
type pmlTerm struct {
	c, src Component
	axis   int
	sign   float64
}

// The twelve derivatives of Maxwell's curl equations in the storage of this
// package: Ex += Δt(∂yHz − ∂zHy), ..., Hx −= Δt(∂yEz − ∂zEy), ...
var pmlTerms = [12]pmlTerm{
	{Ex, Hz, 1, 1}, {Ex, Hy, 2, -1},
	{Ey, Hx, 2, 1}, {Ey, Hz, 0, -1},
	{Ez, Hy, 0, 1}, {Ez, Hx, 1, -1},
	{Hx, Ez, 1, -1}, {Hx, Ey, 2, 1},
	{Hy, Ex, 2, -1}, {Hy, Ez, 0, 1},
	{Hz, Ey, 0, -1}, {Hz, Ex, 1, 1},
}

// A pmlRegion is the auxiliary field ψ of one term over one box (the part of
// one block inside one layer). Each step, after the ordinary update of c,
//
//	ψ ← b ψ + c' ∂src,   c += coef · sign · ((1/κ − 1) ∂src + ψ)
//
// with coef = Δt (or the material's cb, db) and b, c', κ taken at the
// position of the entry along the axis. ∂src is the same difference the
// ordinary update took, so the layer reads no cell the halo does not bring.
type pmlRegion[T Float] struct {
	term   pmlTerm
	block  int
	box    decomp.Box
	f, src *halo.Block[T]
	step   int // index offset of one cell along the axis in src
	pos    *pmlProfile[T]
	psi    []T
	layer  int // index in Solver.pmlLayers
}

// A pmlLayer is the global box of one term's auxiliary field on one side:
// the same on every rank (a checkpoint section), whatever part of it a rank
// holds.
type pmlLayer struct {
	name string // component, axis, source, side
	box  decomp.Box
}

// pmlProfile holds the coefficients along one axis at the positions of
// either the E or the H entries (integer or half-integer coordinates).
type pmlProfile[T Float] struct {
	b, c, kinv1 []T // per global index along the axis; kinv1 = 1/κ − 1
}

// setupPML builds the layers of the PML sides.
func (s *Solver[T]) setupPML(opt PMLOptions) error {
	opt = opt.withDefaults()
	hasPML := false
	for a := range 3 {
		if s.bounds[a][0] == PML || s.bounds[a][1] == PML {
			hasPML = true
		}
	}
	if !hasPML {
		return nil
	}
	d := opt.Cells
	if d < 1 || opt.Order < 0 || opt.SigmaMax < 0 || opt.KappaMax < 1 || opt.AlphaMax < 0 ||
		math.IsNaN(opt.Order+opt.SigmaMax+opt.KappaMax+opt.AlphaMax) || math.IsInf(opt.Order+opt.SigmaMax+opt.KappaMax+opt.AlphaMax, 0) {
		return fmt.Errorf("%w: PML options %+v", ErrInvalid, opt)
	}
	var prof [3][2]*pmlProfile[T] // [axis][E, H]
	for a := range 3 {
		n := s.dims[a]
		lo, hi := s.bounds[a][0] == PML, s.bounds[a][1] == PML
		if !lo && !hi {
			continue
		}
		layers := d
		if lo && hi {
			layers = 2 * d
		}
		if layers >= n {
			return fmt.Errorf("%w: PML of %d cells on both sides of axis %d leaves no interior in %d cells", ErrInvalid, d, a, n)
		}
		for h := range 2 {
			p := &pmlProfile[T]{b: make([]T, n), c: make([]T, n), kinv1: make([]T, n)}
			for i := range n {
				x := float64(i) + 0.5*float64(h) // E entries at i, H at i + ½
				rho := 0.0
				if lo && x < float64(d) {
					rho = (float64(d) - x) / float64(d)
				}
				if hi && x > float64(n-d) {
					rho = (x - float64(n-d)) / float64(d)
				}
				rho = min(rho, 1)
				g := math.Pow(rho, opt.Order)
				sigma := opt.SigmaMax * g
				kappa := 1 + (opt.KappaMax-1)*g
				alpha := opt.AlphaMax * (1 - rho)
				if rho == 0 {
					alpha = 0
				}
				bb := math.Exp(-(sigma/kappa + alpha) * float64(s.dt))
				cc := 0.0
				if sigma > 0 {
					cc = sigma / (sigma*kappa + kappa*kappa*alpha) * (bb - 1)
				}
				p.b[i], p.c[i], p.kinv1[i] = T(bb), T(cc), T(1/kappa-1)
			}
			prof[a][h] = p
		}
	}
	for pass := range 2 { // E terms, then H terms
		for _, term := range pmlTerms {
			if (term.c >= Hx) != (pass == 1) {
				continue
			}
			a := term.axis
			for side := range 2 {
				if s.bounds[a][side] != PML {
					continue
				}
				layer := decomp.Box{Hi: s.dims}
				if side == 0 {
					layer.Hi[a] = d
				} else {
					layer.Lo[a] = s.dims[a] - d
				}
				if term.c < Hx { // E entries on the walls are never updated
					for _, w := range tangential(term.c) {
						if s.wall[w] {
							layer.Lo[w] = max(layer.Lo[w], 1)
						}
					}
				}
				s.pmlLayers = append(s.pmlLayers, pmlLayer{
					name: fmt.Sprintf("psi_%v_d%c%v_%s", term.c, "xyz"[a], term.src, [2]string{"lo", "hi"}[side]),
					box:  layer})
				for bi, blk := range s.f[term.c].Blocks() {
					box := blk.Interior().Intersect(layer)
					if box.Empty() {
						continue
					}
					src := s.f[term.src].Blocks()[bi]
					sy, sz := src.Stride()
					step := [3]int{1, sy, sz}[a]
					r := pmlRegion[T]{term: term, block: bi, box: box, f: blk, src: src, step: step,
						pos: prof[a][pass], psi: make([]T, box.Cells()), layer: len(s.pmlLayers) - 1}
					s.pml = append(s.pml, r)
				}
			}
		}
		if pass == 0 {
			s.pmlE = len(s.pml)
		}
	}
	return nil
}

// tangential are the two axes other than c's own (the axes of the walls on
// which an E component is tangential, and along which it is differentiated).
func tangential(c Component) [2]int {
	a := int(c) % 3
	return [2]int{(a + 1) % 3, (a + 2) % 3}
}

// correctPML adds the CPML terms of regions to the fields they update.
func (s *Solver[T]) correctPML(regions []pmlRegion[T]) {
	for ri := range regions {
		r := &regions[ri]
		a := r.term.axis
		sign := T(r.term.sign)
		isE := r.term.c < Hx
		var coef [][]T // per-entry Δt/ε or Δt/μ with materials
		if s.mat != nil {
			if isE {
				coef = s.mat.cb[r.term.c]
			} else {
				coef = s.mat.db[r.term.c-Hx]
			}
		}
		f, src, psi, st := r.f.Data, r.src.Data, r.psi, r.step
		pb, pc, pk := r.pos.b, r.pos.c, r.pos.kinv1
		k := 0
		box := r.box
		for z := box.Lo[2]; z < box.Hi[2]; z++ {
			for y := box.Lo[1]; y < box.Hi[1]; y++ {
				i, j := r.f.Index(box.Lo[0], y, z), r.src.Index(box.Lo[0], y, z)
				for x := box.Lo[0]; x < box.Hi[0]; x, i, j, k = x+1, i+1, j+1, k+1 {
					var diff T
					if isE {
						diff = src[j] - src[j-st]
					} else {
						diff = src[j+st] - src[j]
					}
					p := [3]int{x, y, z}[a]
					psi[k] = T(pb[p]*psi[k]) + T(pc[p]*diff)
					c := s.dt
					if coef != nil {
						c = coef[r.block][i]
					}
					f[i] += c * sign * (T(pk[p]*diff) + psi[k])
				}
			}
		}
	}
}
