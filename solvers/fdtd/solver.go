package fdtd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/transport"
)

var (
	// ErrCourant is wrapped when the Courant number S = cΔt/Δx is at or above
	// the stability limit of the grid.
	ErrCourant = errors.New("fdtd: Courant number above the stability limit")
	// ErrInvalid is wrapped by errors about other options: grid sizes,
	// sources, a decomposition that does not fit the grid or the Comm.
	ErrInvalid = errors.New("fdtd: invalid option")
)

// A Component is one of the six field components.
type Component int

// The components, in storage order.
const (
	Ex Component = iota
	Ey
	Ez
	Hx
	Hy
	Hz
)

var componentNames = [6]string{"Ex", "Ey", "Ez", "Hx", "Hy", "Hz"}

func (c Component) String() string {
	if c < 0 || c > Hz {
		return fmt.Sprintf("Component(%d)", int(c))
	}
	return componentNames[c]
}

// Options configure a Solver.
type Options struct {
	// Dims is the number of cells per axis; if zero, N cells per side.
	Dims [3]int
	N    int
	// Courant is S = cΔt/Δx (unit cells, c = 1, so Δt = S); 0 means 0.5.
	// It must lie below the limit of the grid and its boundaries
	// (CourantLimitOf), times the slowest-wave factor √(min εμ) of the
	// materials when that is below 1.
	Courant float64
	// Method is the decomposition method (decomp.Methods(); "" the default),
	// used unless Decomposition is given.
	Method string
	// Decomposition, if set, is used as it is: its grid must be Dims cells,
	// periodic exactly along the Periodic axes, with one part per rank of
	// the Comm.
	Decomposition *decomp.Decomposition
	// Pad is the row padding in elements (halo.Pad); 0 or 1 means none.
	// Unpadded is the fastest here: the components' rows then have
	// different lengths (N or N+1, by whether the component has a ghost
	// layer along x), which staggers the six arrays in the cache, while
	// padding every row to a multiple of 8 made them alias (1.15-1.35x
	// slower at 128³-256³).
	Pad int
	// Threads is the number of goroutines that update this rank's cells
	// (0 or 1: the calling goroutine alone). The fields do not depend on it.
	Threads int
	// Boundaries[a][side] is the boundary on the low (0) and high (1) side
	// of axis a; the zero value is PEC. Periodic must be set on both sides
	// of an axis.
	Boundaries [3][2]Boundary
	// PML configures the absorbing layers of the PML sides.
	PML PMLOptions
	// Material, if set, gives the material of every cell; nil is vacuum
	// (ε = μ = 1, σ = 0) everywhere, which runs the fastest kernels. It is
	// called once per cell by New, with global cell coordinates.
	Material func(x, y, z int) Material
	// Sources are added after each E update (E components) or each H
	// update (H components).
	Sources []Source
	// Probes record one component at one cell after every step.
	Probes []Probe

	// unstable skips the Courant check (tests only: to show divergence).
	unstable bool
}

// CourantLimit is the largest stable Courant number for a PEC box of dims
// cells: the fastest mode the box holds has k_a = (N_a-1)π/N_a, so the limit
// is 1/sqrt(Σ cos²(π/2N_a)), slightly above 1/√3 (the k = π mode is absent).
func CourantLimit(dims [3]int) float64 {
	return CourantLimitOf(dims, [3][2]Boundary{})
}

// CourantLimitOf is the largest stable Courant number in vacuum for a grid
// of dims cells with the given boundaries: 1/sqrt(Σ_a max sin²(k_a/2)) over
// the wave numbers the grid holds along each axis. A PEC or PML axis (the
// PML is backed by a PEC wall) holds k = mπ/N for m < N, so its term is
// cos²(π/2N); a periodic axis holds k = 2πm/N, so its term is 1 when N is
// even, cos²(π/2N) when N is odd, and 0 for a single cell.
func CourantLimitOf(dims [3]int, bounds [3][2]Boundary) float64 {
	s := 0.0
	for a, n := range dims {
		c := math.Cos(math.Pi / (2 * float64(n)))
		switch {
		case bounds[a][0] != Periodic:
			s += c * c
		case n == 1:
		case n%2 == 0:
			s++
		default:
			s += c * c
		}
	}
	return 1 / math.Sqrt(s)
}

// Halo specs: the H update reads E at +1 (forward differences), the tangential
// components only; the E update reads H at -1 (backward differences).
var specs = [6]decomp.HaloSpec{
	Ex: oneSided(1, 2, 1), Ey: oneSided(0, 2, 1), Ez: oneSided(0, 1, 1),
	Hx: oneSided(1, 2, 0), Hy: oneSided(0, 2, 0), Hz: oneSided(0, 1, 0),
}

// oneSided is a faces halo of width 1 along axes a and b on side side (0 below, 1 above).
func oneSided(a, b, side int) decomp.HaloSpec {
	var h decomp.HaloSpec
	h.Width[a][side] = 1
	h.Width[b][side] = 1
	h.Stencil = decomp.Faces
	return h
}

// Float is the element type of a Solver's fields.
type Float interface{ float32 | float64 }

// A Solver advances the fields of one rank. Its methods are collective where
// they say so: every rank calls them in the same order.
type Solver[T Float] struct {
	comm   *transport.Comm
	d      *decomp.Decomposition
	dims   [3]int
	dt     T
	bounds [3][2]Boundary
	// wall[a]: the low side of axis a is a conducting wall (PEC, or the PEC
	// behind a PML), so the tangential E entries at index 0 stay zero.
	wall  [3]bool
	f     [6]*halo.Field[T]
	rowE  func(dt T, e, a, am, b, bm []T) // e += dt*((a - am) - (b - bm))
	rowH  func(dt T, h, ap, a, bp, b []T) // h -= dt*((ap - a) - (bp - b))
	ePlan *halo.Plan                      // exchanges E (before the H update)
	hPlan *halo.Plan                      // exchanges H (before the E update)
	// mat holds the per-entry update coefficients when Options.Material is
	// set (nil: vacuum, the uniform kernels above).
	mat       *materialCoefs[T]
	pml       []pmlRegion[T] // CPML auxiliary fields, E terms first
	pmlLayers []pmlLayer     // their global boxes, for checkpoints
	pmlE      int            // pml[:pmlE] correct E, the rest H
	sources   []localSource
	probes    []localProbe
	nProbes   int
	steps     int
	// Per block: the parts updated while the exchange is in flight (inner)
	// and after it (rest).
	hInner, hRest [][]decomp.Box
	eInner, eRest [][]decomp.Box
	threads       *threadPool // nil: one thread
}

// New builds the solver of rank comm.Rank() with fields of type T (float64
// reproduces bench/fdtd; float32 halves memory and halo traffic). It is
// collective: every rank calls it with the same options.
func New[T Float](ctx context.Context, comm *transport.Comm, opt Options) (*Solver[T], error) {
	dims := opt.Dims
	if dims == ([3]int{}) {
		dims = [3]int{opt.N, opt.N, opt.N}
	}
	var g decomp.Grid
	g.Dims = dims
	for a, n := range dims {
		lo, hi := opt.Boundaries[a][0], opt.Boundaries[a][1]
		if lo > PML || hi > PML || (lo == Periodic) != (hi == Periodic) {
			return nil, fmt.Errorf("%w: boundaries %v, %v along axis %d (periodic must be on both sides)", ErrInvalid, lo, hi, a)
		}
		g.Periodic[a] = lo == Periodic
		if min := 2; n < min && !(g.Periodic[a] && n >= 1) {
			return nil, fmt.Errorf("%w: %d cells along axis %d (want at least 2, or 1 on a periodic axis)", ErrInvalid, n, a)
		}
	}
	dt := opt.Courant
	if dt == 0 {
		dt = 0.5
	}
	s := &Solver[T]{comm: comm, dims: dims, dt: T(dt), bounds: opt.Boundaries}
	for a := range 3 {
		s.wall[a] = !g.Periodic[a]
	}
	s.rowE, s.rowH = kernels[T]()
	d := opt.Decomposition
	if d == nil {
		var err error
		d, err = decomp.Decompose(g, comm.Size(), decomp.Options{Method: opt.Method})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	} else if d.Grid != g || d.Ranks() != comm.Size() {
		return nil, fmt.Errorf("%w: decomposition of %v in %d parts for %v and %d ranks", ErrInvalid, d.Grid, d.Ranks(), g, comm.Size())
	}
	s.d = d
	pad := opt.Pad
	rank := comm.Rank()
	for c := range s.f {
		f, err := halo.NewField[T](d, rank, specs[c], halo.Pad(pad), halo.Name(Component(c).String()))
		if err != nil {
			return nil, err
		}
		// Fresh memory from the OS is mapped on first touch: touch it here
		// (as yee.c does with memset) rather than in the first steps.
		for _, b := range f.Blocks() {
			clear(b.Data)
		}
		s.f[c] = f
	}
	if err := s.addSources(opt.Sources); err != nil {
		return nil, err
	}
	if err := s.addProbes(opt.Probes); err != nil {
		return nil, err
	}
	if err := s.setupPML(opt.PML); err != nil {
		return nil, err
	}
	// The Courant check needs the slowest material, a collective reduction,
	// so every rank takes part before any rank can return its error.
	minEpsMu := 1.0
	if opt.Material != nil {
		var err error
		if minEpsMu, err = s.setupMaterials(opt.Material); err != nil {
			minEpsMu = math.Inf(-1) // tell the other ranks
		}
		out := []float64{0}
		if rerr := comm.AllreduceFloat64(ctx, transport.Min, []float64{minEpsMu}, out); rerr != nil {
			return nil, rerr
		}
		if err != nil {
			return nil, err
		}
		if math.IsInf(out[0], -1) {
			return nil, fmt.Errorf("%w: invalid material on another rank", ErrInvalid)
		}
		minEpsMu = min(1, out[0])
	}
	lim := CourantLimitOf(dims, opt.Boundaries) * math.Sqrt(minEpsMu)
	if !(dt > 0 && dt < lim && T(dt) < T(lim)) && !opt.unstable {
		return nil, fmt.Errorf("%w: S = %g, want 0 < S < %.9g for a %dx%dx%d grid with boundaries %v (slowest material εμ = %g)",
			ErrCourant, dt, lim, dims[0], dims[1], dims[2], opt.Boundaries, minEpsMu)
	}
	var err error
	s.ePlan, err = halo.NewPlan(ctx, comm, halo.PlanOptions{ChannelID: 0x66647465}, s.f[Ex], s.f[Ey], s.f[Ez]) // "fdte"
	if err != nil {
		return nil, err
	}
	s.hPlan, err = halo.NewPlan(ctx, comm, halo.PlanOptions{ChannelID: 0x66647468}, s.f[Hx], s.f[Hy], s.f[Hz]) // "fdth"
	if err != nil {
		s.ePlan.Close()
		return nil, err
	}
	var interiors []decomp.Box
	for _, b := range s.f[Ex].Blocks() {
		interiors = append(interiors, b.Interior())
	}
	s.hInner, s.hRest = splitOverlap(interiors, s.ePlan.Layout(), 1)
	s.eInner, s.eRest = splitOverlap(interiors, s.hPlan.Layout(), 0)
	if opt.Threads < 0 || opt.Threads > 1024 {
		s.Close()
		return nil, fmt.Errorf("%w: %d threads", ErrInvalid, opt.Threads)
	}
	s.startThreads(opt.Threads)
	return s, nil
}

// splitOverlap cuts each block's interior into the cells whose update reads
// no ghost cell that a peer's message fills (updated between Start and Wait)
// and the rest (after Wait). side 1: the update reads ghosts above the box
// (H reading E); side 0: below (E reading H). Ghosts filled by local copies
// are ready after Start, so only received regions count.
func splitOverlap(interiors []decomp.Box, l *halo.Layout, side int) (inner, rest [][]decomp.Box) {
	inner = make([][]decomp.Box, len(interiors))
	rest = make([][]decomp.Box, len(interiors))
	for bi, in := range interiors {
		var cut [3]bool
		for _, p := range l.Peers {
			for _, r := range p.Recv {
				if r.Block != bi {
					continue
				}
				for a := range 3 {
					if (side == 1 && r.Box.Lo[a] >= in.Hi[a]) || (side == 0 && r.Box.Hi[a] <= in.Lo[a]) {
						cut[a] = true
					}
				}
			}
		}
		core := in
		// Peel one slab per cut axis, z first so that the big core keeps whole rows.
		for a := 2; a >= 0; a-- {
			if !cut[a] || core.Empty() {
				continue
			}
			slab := core
			if side == 1 {
				slab.Lo[a] = core.Hi[a] - 1
				core.Hi[a]--
			} else {
				slab.Hi[a] = core.Lo[a] + 1
				core.Lo[a]++
			}
			rest[bi] = append(rest[bi], slab)
		}
		if !core.Empty() {
			inner[bi] = append(inner[bi], core)
		}
	}
	return inner, rest
}

// Dims is the grid size in cells.
func (s *Solver[T]) Dims() [3]int { return s.dims }

// Dt is the time step (the Courant number, in unit cells with c = 1).
func (s *Solver[T]) Dt() float64 { return float64(s.dt) }

// Steps is the number of steps taken.
func (s *Solver[T]) Steps() int { return s.steps }

// Decomposition is the decomposition the fields live on.
func (s *Solver[T]) Decomposition() *decomp.Decomposition { return s.d }

// Field is this rank's part of component c. Cell (i, j, k) of the grid holds
// the component at index (i, j, k) of the storage convention (see doc.go).
func (s *Solver[T]) Field(c Component) *halo.Field[T] { return s.f[c] }

// EPlan and HPlan are the exchanges of E (before each H update) and of H
// (before each E update), for their statistics and layouts.
func (s *Solver[T]) EPlan() *halo.Plan { return s.ePlan }

// HPlan: see EPlan.
func (s *Solver[T]) HPlan() *halo.Plan { return s.hPlan }

// Close stops the solver's threads and closes the exchange plans.
func (s *Solver[T]) Close() error {
	s.stopThreads()
	return errors.Join(s.ePlan.Close(), s.hPlan.Close())
}

// Step advances the fields by one step: E update (with the CPML terms), E
// sources, H update (with the CPML terms), H sources, probes. It is
// collective.
func (s *Solver[T]) Step(ctx context.Context) error {
	// E update: H from the lower neighbours.
	if err := s.hPlan.Start(ctx); err != nil {
		return err
	}
	s.runPhase(phaseEInner)
	if err := s.hPlan.Wait(ctx); err != nil {
		return err
	}
	s.runPhase(phaseERest)
	s.correctPML(s.pml[:s.pmlE])
	s.applySources(false)
	// H update: E from the upper neighbours.
	if err := s.ePlan.Start(ctx); err != nil {
		return err
	}
	s.runPhase(phaseHInner)
	if err := s.ePlan.Wait(ctx); err != nil {
		return err
	}
	s.runPhase(phaseHRest)
	s.correctPML(s.pml[s.pmlE:])
	s.applySources(true)
	s.steps++
	s.recordProbes()
	return nil
}

// Run takes k steps. The probes' series are grown once for all k steps
// first, so the steps themselves do not allocate.
func (s *Solver[T]) Run(ctx context.Context, k int) error {
	for i := range s.probes {
		s.probes[i].series = slices.Grow(s.probes[i].series, k)
	}
	for range k {
		if err := s.Step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// updateE updates E on box (part of block bi's interior), leaving the
// tangential components on the conducting walls (index 0 of a non-periodic
// axis; the walls at index N are not stored) at zero. Every difference is a
// backward one, in the order of bench/fdtd/README.md. The three components
// are updated row by row in one sweep, so each H row is read from memory
// once.
func (s *Solver[T]) updateE(bi int, box decomp.Box) {
	dt := s.dt
	bex, bey, bez := s.f[Ex].Blocks()[bi], s.f[Ey].Blocks()[bi], s.f[Ez].Blocks()[bi]
	bhx, bhy, bhz := s.f[Hx].Blocks()[bi], s.f[Hy].Blocks()[bi], s.f[Hz].Blocks()[bi]
	hxy, hxz := bhx.Stride()
	_, hyz := bhy.Stride()
	hzy, _ := bhz.Stride()
	x0, x1 := box.Lo[0], box.Hi[0]
	xs := x0
	if s.wall[0] {
		xs = max(x0, 1) // Ey, Ez at x = 0 are on a wall
	}
	n, ns := x1-x0, x1-xs
	m := s.mat
	for z := box.Lo[2]; z < box.Hi[2]; z++ {
		zWall := z == 0 && s.wall[2]
		for y := box.Lo[1]; y < box.Hi[1]; y++ {
			yWall := y == 0 && s.wall[1]
			if !zWall && !yWall { // Ex: on the walls y = 0 and z = 0
				i, ihz, ihy := bex.Index(x0, y, z), bhz.Index(x0, y, z), bhy.Index(x0, y, z)
				switch {
				case m == nil && n == 1:
					cellE(dt, bex.Data, i, bhz.Data, ihz, hzy, bhy.Data, ihy, hyz)
				case m == nil:
					s.rowE(dt, bex.Data[i:][:n], bhz.Data[ihz:], bhz.Data[ihz-hzy:], bhy.Data[ihy:], bhy.Data[ihy-hyz:])
				default:
					rowEMaterial(m.ca[Ex][bi][i:], m.cb[Ex][bi][i:], bex.Data[i:][:n], bhz.Data[ihz:], bhz.Data[ihz-hzy:], bhy.Data[ihy:], bhy.Data[ihy-hyz:])
				}
			}
			if ns <= 0 {
				continue
			}
			if !zWall { // Ey: on the walls x = 0 and z = 0
				i, ihx, ihz := bey.Index(xs, y, z), bhx.Index(xs, y, z), bhz.Index(xs, y, z)
				switch {
				case m == nil && ns == 1:
					cellE(dt, bey.Data, i, bhx.Data, ihx, hxz, bhz.Data, ihz, 1)
				case m == nil:
					s.rowE(dt, bey.Data[i:][:ns], bhx.Data[ihx:], bhx.Data[ihx-hxz:], bhz.Data[ihz:], bhz.Data[ihz-1:])
				default:
					rowEMaterial(m.ca[Ey][bi][i:], m.cb[Ey][bi][i:], bey.Data[i:][:ns], bhx.Data[ihx:], bhx.Data[ihx-hxz:], bhz.Data[ihz:], bhz.Data[ihz-1:])
				}
			}
			if !yWall { // Ez: on the walls x = 0 and y = 0
				i, ihy, ihx := bez.Index(xs, y, z), bhy.Index(xs, y, z), bhx.Index(xs, y, z)
				switch {
				case m == nil && ns == 1:
					cellE(dt, bez.Data, i, bhy.Data, ihy, 1, bhx.Data, ihx, hxy)
				case m == nil:
					s.rowE(dt, bez.Data[i:][:ns], bhy.Data[ihy:], bhy.Data[ihy-1:], bhx.Data[ihx:], bhx.Data[ihx-hxy:])
				default:
					rowEMaterial(m.ca[Ez][bi][i:], m.cb[Ez][bi][i:], bez.Data[i:][:ns], bhy.Data[ihy:], bhy.Data[ihy-1:], bhx.Data[ihx:], bhx.Data[ihx-hxy:])
				}
			}
		}
	}
}

// updateH updates H on box (part of block bi's interior) with forward
// differences. Reads beyond the grid's upper faces land in ghost cells: on
// a periodic axis the exchange fills them with the wrapped values; on a
// wall no exchange writes them and they stay zero, the wall's tangential E.
func (s *Solver[T]) updateH(bi int, box decomp.Box) {
	dt := s.dt
	bex, bey, bez := s.f[Ex].Blocks()[bi], s.f[Ey].Blocks()[bi], s.f[Ez].Blocks()[bi]
	bhx, bhy, bhz := s.f[Hx].Blocks()[bi], s.f[Hy].Blocks()[bi], s.f[Hz].Blocks()[bi]
	exy, exz := bex.Stride()
	_, eyz := bey.Stride()
	ezy, _ := bez.Stride()
	x0, x1 := box.Lo[0], box.Hi[0]
	n := x1 - x0
	m := s.mat
	for z := box.Lo[2]; z < box.Hi[2]; z++ {
		for y := box.Lo[1]; y < box.Hi[1]; y++ {
			iex, iey, iez := bex.Index(x0, y, z), bey.Index(x0, y, z), bez.Index(x0, y, z)
			ihx, ihy, ihz := bhx.Index(x0, y, z), bhy.Index(x0, y, z), bhz.Index(x0, y, z)
			if m == nil && n == 1 {
				cellH(dt, bhx.Data, ihx, bez.Data, iez, ezy, bey.Data, iey, eyz)
				cellH(dt, bhy.Data, ihy, bex.Data, iex, exz, bez.Data, iez, 1)
				cellH(dt, bhz.Data, ihz, bey.Data, iey, 1, bex.Data, iex, exy)
				continue
			}
			if m == nil {
				s.rowH(dt, bhx.Data[ihx:][:n], bez.Data[iez+ezy:], bez.Data[iez:], bey.Data[iey+eyz:], bey.Data[iey:])
				s.rowH(dt, bhy.Data[ihy:][:n], bex.Data[iex+exz:], bex.Data[iex:], bez.Data[iez+1:], bez.Data[iez:])
				s.rowH(dt, bhz.Data[ihz:][:n], bey.Data[iey+1:], bey.Data[iey:], bex.Data[iex+exy:], bex.Data[iex:])
				continue
			}
			rowHMaterial(m.db[0][bi][ihx:], bhx.Data[ihx:][:n], bez.Data[iez+ezy:], bez.Data[iez:], bey.Data[iey+eyz:], bey.Data[iey:])
			rowHMaterial(m.db[1][bi][ihy:], bhy.Data[ihy:][:n], bex.Data[iex+exz:], bex.Data[iex:], bez.Data[iez+1:], bez.Data[iez:])
			rowHMaterial(m.db[2][bi][ihz:], bhz.Data[ihz:][:n], bey.Data[iey+1:], bey.Data[iey:], bex.Data[iex+exy:], bex.Data[iex:])
		}
	}
}

// cellE is rowE on a row of one cell, e[i] += dt*((a[ia] − a[ia−sa]) −
// (b[ib] − b[ib−sb])): the slab beside a face cut across x has rows one
// cell long, where a call to a row kernel costs more than the cell.
func cellE[T Float](dt T, e []T, i int, a []T, ia, sa int, b []T, ib, sb int) {
	e[i] += T(dt * ((a[ia] - a[ia-sa]) - (b[ib] - b[ib-sb])))
}

// cellH is rowH on a row of one cell, h[i] −= dt*((a[ia+sa] − a[ia]) −
// (b[ib+sb] − b[ib])).
func cellH[T Float](dt T, h []T, i int, a []T, ia, sa int, b []T, ib, sb int) {
	h[i] -= T(dt * ((a[ia+sa] - a[ia]) - (b[ib+sb] - b[ib])))
}
