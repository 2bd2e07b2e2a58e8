package fdtd

import (
	"fmt"
	"math"
)

// A Material is the medium of one cell, relative to vacuum: permittivity
// Eps, permeability Mu (both > 0) and electric conductivity Sigma (≥ 0, in
// units of ε₀c/Δx). Vacuum is {1, 1, 0}.
type Material struct {
	Eps, Mu, Sigma float64
}

// Vacuum returns the material of empty space: ε = μ = 1, σ = 0.
func Vacuum() Material { return Material{Eps: 1, Mu: 1} }

// materialCoefs are the per-entry update coefficients of a solver with
// materials, laid out like the blocks of the components they update: the E
// update is e = ca·e + cb·(∇×H) and the H update h = h − db·(∇×E), with the
// usual semi-implicit (averaged) conduction term
//
//	ca = (1 − σΔt/2ε) / (1 + σΔt/2ε),  cb = (Δt/ε) / (1 + σΔt/2ε),  db = Δt/μ.
//
// Materials are staircased: every component stored at cell (i, j, k) takes
// the material of cell (i, j, k). In vacuum ca = 1 and cb = db = Δt, and the
// updates are bitwise those of the uniform kernels (1·e is exact).
type materialCoefs[T Float] struct {
	ca, cb [3][][]T // [Ex, Ey, Ez][block][index]
	db     [3][][]T // [Hx, Hy, Hz][block][index]
	eps    [3][][]T // ε and μ per entry, for ModifiedEnergy
	mu     [3][][]T
}

// Valid reports whether m is a physical material.
func (m Material) Valid() bool {
	ok := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	return ok(m.Eps) && ok(m.Mu) && ok(m.Sigma) && m.Eps > 0 && m.Mu > 0 && m.Sigma >= 0
}

// setupMaterials evaluates material at every cell this rank owns and
// fills the coefficient arrays. It returns the least ε·μ it saw (the
// slowest wave sets the Courant limit).
func (s *Solver[T]) setupMaterials(material func(x, y, z int) Material) (float64, error) {
	m := &materialCoefs[T]{}
	dt := float64(s.dt)
	minEpsMu := math.Inf(1)
	for c := range 3 {
		for _, field := range [2]Component{Ex + Component(c), Hx + Component(c)} {
			for _, b := range s.f[field].Blocks() {
				n := len(b.Data)
				if field < Hx {
					m.ca[c] = append(m.ca[c], make([]T, n))
					m.cb[c] = append(m.cb[c], make([]T, n))
					m.eps[c] = append(m.eps[c], make([]T, n))
				} else {
					m.db[c] = append(m.db[c], make([]T, n))
					m.mu[c] = append(m.mu[c], make([]T, n))
				}
			}
		}
	}
	// Every component's blocks have the same interiors (the decomposition's
	// boxes), so each cell's material is asked for once and fills all six.
	for bi, b := range s.f[Ex].Blocks() {
		var bad error
		eachCell(b.Interior(), func(x, y, z int) {
			mat := material(x, y, z)
			if !mat.Valid() {
				if bad == nil {
					bad = fmt.Errorf("%w: material %+v at cell (%d, %d, %d): want ε > 0, μ > 0, σ ≥ 0, all finite", ErrInvalid, mat, x, y, z)
				}
				return
			}
			minEpsMu = min(minEpsMu, mat.Eps*mat.Mu)
			half := mat.Sigma * dt / (2 * mat.Eps)
			ca, cb, db := T((1-half)/(1+half)), T(dt/mat.Eps/(1+half)), T(dt/mat.Mu)
			for c := range 3 {
				be, bh := s.f[Ex+Component(c)].Blocks()[bi], s.f[Hx+Component(c)].Blocks()[bi]
				i, j := be.Index(x, y, z), bh.Index(x, y, z)
				m.ca[c][bi][i], m.cb[c][bi][i], m.eps[c][bi][i] = ca, cb, T(mat.Eps)
				m.db[c][bi][j], m.mu[c][bi][j] = db, T(mat.Mu)
			}
		})
		if bad != nil {
			return 0, bad
		}
	}
	s.mat = m
	return minEpsMu, nil
}

// rowEMaterial is e = ca·e + cb·((a − am) − (b − bm)) along one row.
func rowEMaterial[T Float](ca, cb, e, a, am, b, bm []T) {
	n := len(e)
	ca, cb, a, am, b, bm = ca[:n], cb[:n], a[:n], am[:n], b[:n], bm[:n]
	for x := range e {
		// The conversions round each product, so no build fuses them.
		e[x] = T(ca[x]*e[x]) + T(cb[x]*((a[x]-am[x])-(b[x]-bm[x])))
	}
}

// rowHMaterial is h −= db·((ap − a) − (bp − b)) along one row.
func rowHMaterial[T Float](db, h, ap, a, bp, b []T) {
	n := len(h)
	db, ap, a, bp, b = db[:n], ap[:n], a[:n], bp[:n], b[:n]
	for x := range h {
		h[x] -= db[x] * ((ap[x] - a[x]) - (bp[x] - b[x]))
	}
}
