package fdtd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// runRanks runs fn on n goroutine ranks over inproc (bounded by a deadline
// so a hung exchange fails the test) and returns the first failure.
func runRanks(t testing.TB, n int, fn func(ctx context.Context, c *transport.Comm) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	return inproc.Run(ctx, n, fn)
}

type refCase struct {
	variant        string
	n, k           int
	energy, e2, h2 float64
}

// readReference parses bench/fdtd/reference.txt (made by the C kernel yee.c,
// checked there against a numpy implementation).
func readReference(t testing.TB) []refCase {
	t.Helper()
	f, err := os.Open("../../bench/fdtd/reference.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []refCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		w := strings.Fields(line)
		if len(w) != 6 {
			t.Fatalf("reference.txt: bad line %q", line)
		}
		var c refCase
		c.variant = w[0]
		c.n, _ = strconv.Atoi(w[1])
		c.k, _ = strconv.Atoi(w[2])
		vals := []*float64{&c.energy, &c.e2, &c.h2}
		for i, p := range vals {
			if *p, err = strconv.ParseFloat(w[3+i], 64); err != nil {
				t.Fatal(err)
			}
		}
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		t.Fatal("reference.txt: no cases")
	}
	return cases
}

func sources(variant string, dims [3]int) []Source {
	if variant == "skew" {
		return SkewSources(dims)
	}
	return RefSources(dims)
}

func relErr(a, b float64) float64 { return math.Abs(a-b) / math.Abs(b) }

// TestReferenceEnergies reproduces bench/fdtd/reference.txt (yee.c) for N = 32
// (and N = 64 without -short) on one rank and on three.
func TestReferenceEnergies(t *testing.T) {
	for _, rc := range readReference(t) {
		if rc.n > 32 && (testing.Short() || rc.n > 64) {
			continue
		}
		for _, p := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/N=%d/K=%d/P=%d", rc.variant, rc.n, rc.k, p), func(t *testing.T) {
				err := runRanks(t, p, func(ctx context.Context, c *transport.Comm) error {
					dims := [3]int{rc.n, rc.n, rc.n}
					s, err := New[float64](ctx, c, Options{N: rc.n, Courant: 0.5, Sources: sources(rc.variant, dims)})
					if err != nil {
						return err
					}
					defer s.Close()
					if err := s.Run(ctx, rc.k); err != nil {
						return err
					}
					e, err := s.Energy(ctx)
					if err != nil {
						return err
					}
					if c.Rank() != 0 {
						return nil
					}
					t.Logf("energy=%.15g (ref %.15g, rel %.1e) E2 rel %.1e H2 rel %.1e",
						e.Total, rc.energy, relErr(e.Total, rc.energy), relErr(e.E2, rc.e2), relErr(e.H2, rc.h2))
					for _, q := range []struct {
						name      string
						got, want float64
					}{{"energy", e.Total, rc.energy}, {"sum E^2", e.E2, rc.e2}, {"sum H^2", e.H2, rc.h2}} {
						if relErr(q.got, q.want) > 1e-12 {
							t.Errorf("%s = %.17g, want %.17g (rel %.1e)", q.name, q.got, q.want, relErr(q.got, q.want))
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// global is the six components gathered over all ranks into global arrays.
type global [6][]float64

// simulate runs k steps on p ranks and gathers the fields, the energies and
// the halo figures.
type outcome struct {
	fields   global
	energy   Energy
	w        float64
	payload  int // message payload bytes per step, all ranks, from the layouts
	statsPay int // the same from Stats: bytes minus 8-byte headers, per step
	cut      int // cut faces of the decomposition
}

func simulate[T Float](t *testing.T, p int, opt Options, k int) outcome {
	t.Helper()
	dims := opt.Dims
	cells := dims[0] * dims[1] * dims[2]
	var out outcome
	for c := range out.fields {
		out.fields[c] = make([]float64, cells)
	}
	var mu sync.Mutex
	err := runRanks(t, p, func(ctx context.Context, c *transport.Comm) error {
		s, err := New[T](ctx, c, opt)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Run(ctx, k); err != nil {
			return err
		}
		e, err := s.Energy(ctx)
		if err != nil {
			return err
		}
		w, err := s.ModifiedEnergy(ctx)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for comp := Ex; comp <= Hz; comp++ {
			s.Each(comp, func(x, y, z int, v float64) {
				out.fields[comp][x+dims[0]*(y+dims[1]*z)] = v
			})
		}
		for _, plan := range []*halo.Plan{s.EPlan(), s.HPlan()} {
			lay, stats, n := payloadOf(plan)
			if n != uint64(k) {
				return fmt.Errorf("%d exchanges, want %d", n, k)
			}
			out.payload += lay
			out.statsPay += stats
		}
		if c.Rank() == 0 {
			out.energy, out.w = e, w
			m, err := s.Decomposition().Metrics(specs[Ex], 1, 8)
			if err != nil {
				return err
			}
			out.cut = m.CutFaces
		} else if e != out.energy && out.energy != (Energy{}) {
			return fmt.Errorf("rank %d energy %v, rank 0 %v", c.Rank(), e, out.energy)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDecompositionInvariance: the fields after K steps, gathered, are
// bitwise those of one rank for every rank count and decomposition method,
// and so are both energies; the halo carries exactly 4 float64 per cut face
// per step.
func TestDecompositionInvariance(t *testing.T) {
	for _, courant := range []float64{0.5, 0.45} {
		t.Run(fmt.Sprintf("float64/S=%g", courant), func(t *testing.T) { testInvariance[float64](t, courant) })
	}
	t.Run("float32/S=0.45", func(t *testing.T) { testInvariance[float32](t, 0.45) })
}

// testInvariance: with S = 0.45, Δt·x is rounded, so a kernel whose vector
// and scalar parts round differently (a fused multiply-add in one) would
// show up as a cell that changes with the decomposition.
func testInvariance[T Float](t *testing.T, courant float64) {
	opt := Options{Dims: [3]int{14, 16, 12}, Courant: courant}
	opt.Sources = SkewSources(opt.Dims)
	const k = 50
	one := simulate[T](t, 1, opt, k)
	if one.payload != 0 || one.statsPay != 0 || one.cut != 0 {
		t.Fatalf("P=1: payload %d, from stats %d, cut %d; want 0", one.payload, one.statsPay, one.cut)
	}
	for comp := Ex; comp <= Hz; comp++ {
		nz := 0
		for _, v := range one.fields[comp] {
			if v != 0 {
				nz++
			}
		}
		if nz == 0 {
			t.Fatalf("%v is zero everywhere after %d steps: the test would prove nothing", comp, k)
		}
	}
	for _, method := range decomp.Methods() {
		for _, p := range []int{2, 3, 5, 7, 8} {
			t.Run(fmt.Sprintf("%s/P=%d", method, p), func(t *testing.T) {
				o := opt
				o.Method = method
				got := simulate[T](t, p, o, k)
				for comp := Ex; comp <= Hz; comp++ {
					for i, v := range got.fields[comp] {
						if math.Float64bits(v) != math.Float64bits(one.fields[comp][i]) {
							t.Fatalf("%v at linear index %d: %v, one rank %v", comp, i, v, one.fields[comp][i])
						}
					}
				}
				if got.energy != one.energy || math.Float64bits(got.w) != math.Float64bits(one.w) {
					t.Errorf("energy %+v W %v, one rank %+v W %v", got.energy, got.w, one.energy, one.w)
				}
				if got.cut == 0 {
					t.Fatalf("no cut faces with %d ranks", p)
				}
				size := int(unsafe.Sizeof(T(0)))
				// Stats count the padding that keeps each region 8-aligned,
				// which float64 regions never need and float32 ones may.
				if want := 4 * got.cut * size; got.payload != want || (size == 8 && got.statsPay != want) || got.statsPay < want {
					t.Errorf("bytes per step: layouts %d, stats %d, want 4 x %d cut faces x %d = %d", got.payload, got.statsPay, got.cut, size, want)
				}
			})
		}
	}
}

// TestCourant: S just above the PEC box's limit is refused with ErrCourant,
// just below accepted (and stays bounded); 1/√3 < limit holds.
func TestCourant(t *testing.T) {
	dims := [3]int{32, 32, 32}
	lim := CourantLimit(dims)
	if want := 1 / (math.Sqrt(3) * math.Cos(math.Pi/64)); relErr(lim, want) > 1e-15 || math.Abs(lim-0.578047) > 1e-6 {
		t.Fatalf("CourantLimit = %.9g, want %.9g (README: 0.578047)", lim, want)
	}
	err := runRanks(t, 1, func(ctx context.Context, c *transport.Comm) error {
		for _, s := range []float64{lim * (1 + 1e-12), 0.578447, 0.6, 1, -0.1} {
			sv, err := New[float64](ctx, c, Options{Dims: dims, Courant: s})
			if !errors.Is(err, ErrCourant) {
				if sv != nil {
					sv.Close()
				}
				return fmt.Errorf("S = %.17g: error %v, want ErrCourant", s, err)
			}
			t.Logf("S = %.17g: %v", s, err)
		}
		for _, s := range []float64{lim * (1 - 1e-12), 0.577698, 0.5} {
			sv, err := New[float64](ctx, c, Options{Dims: dims, Courant: s})
			if err != nil {
				return fmt.Errorf("S = %.17g: %w", s, err)
			}
			sv.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestModifiedEnergyConserved: once the source has died (n > 100), W is
// constant to 1e-12 relative in the PEC box while Σ E² + Σ H² oscillates.
func TestModifiedEnergyConserved(t *testing.T) {
	for _, variant := range []string{"ref", "skew"} {
		t.Run(variant, func(t *testing.T) {
			dims := [3]int{20, 20, 20}
			err := runRanks(t, 2, func(ctx context.Context, c *transport.Comm) error {
				s, err := New[float64](ctx, c, Options{Dims: dims, Sources: sources(variant, dims)})
				if err != nil {
					return err
				}
				defer s.Close()
				if err := s.Run(ctx, 101); err != nil {
					return err
				}
				w0, err := s.ModifiedEnergy(ctx)
				if err != nil {
					return err
				}
				e0, _ := s.Energy(ctx)
				var maxW, maxE float64
				for range 200 {
					if err := s.Step(ctx); err != nil {
						return err
					}
					w, err := s.ModifiedEnergy(ctx)
					if err != nil {
						return err
					}
					e, err := s.Energy(ctx)
					if err != nil {
						return err
					}
					maxW = max(maxW, relErr(w, w0))
					maxE = max(maxE, relErr(e.Total, e0.Total))
				}
				if c.Rank() == 0 {
					t.Logf("W = %.15g: max relative drift %.1e over steps 101..301; plain energy drifts %.1e", w0, maxW, maxE)
				}
				if maxW > 1e-12 {
					return fmt.Errorf("W drifts by %.1e relative", maxW)
				}
				if maxE < 1e-8 {
					return fmt.Errorf("plain energy drifts only %.1e: the check cannot tell W from it", maxE)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// payloadOf is a plan's message payload per exchange: from its layout (the
// regions' bytes) and from its statistics (bytes sent minus the 8-byte header
// of each message; float64 regions need no alignment padding).
func payloadOf(p *halo.Plan) (layout, stats int, exchanges uint64) {
	for _, peer := range p.Layout().Peers {
		for _, r := range peer.Send {
			layout += r.Bytes
		}
	}
	st := p.Stats()
	return layout, st.SendBytes - 8*st.SendMsgs, st.Exchanges
}

// TestOptionsInvalid: bad grids, sources and decompositions are refused
// with ErrInvalid.
func TestOptionsInvalid(t *testing.T) {
	other, err := decomp.Decompose(decomp.Grid{Dims: [3]int{8, 8, 9}}, 2, decomp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = runRanks(t, 2, func(ctx context.Context, c *transport.Comm) error {
		dims := [3]int{8, 8, 8}
		for i, opt := range []Options{
			{N: 1},
			{Dims: [3]int{8, 0, 8}},
			{Dims: dims, Method: "nope"},
			{Dims: dims, Decomposition: other},
			{Dims: dims, Sources: []Source{{Component: Ez, At: [3]int{8, 0, 0}, Waveform: Gaussian}}},
			{Dims: dims, Sources: []Source{{Component: Component(6), At: [3]int{1, 1, 1}, Waveform: Gaussian}}},
			{Dims: dims, Sources: []Source{{Component: Ex, At: [3]int{1, 1, 1}}}},
		} {
			s, err := New[float64](ctx, c, opt)
			if !errors.Is(err, ErrInvalid) {
				if s != nil {
					s.Close()
				}
				return fmt.Errorf("case %d: error %v, want ErrInvalid", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHandMadeDecomposition: a decomposition given as boxes, with a rank
// that owns several boxes (exchanging through local copies) and a rank that
// owns nothing, gives the fields of one rank.
func TestHandMadeDecomposition(t *testing.T) {
	dims := [3]int{10, 12, 8}
	g := decomp.Grid{Dims: dims}
	box := func(x0, y0, z0, x1, y1, z1 int) decomp.Box {
		return decomp.Box{Lo: [3]int{x0, y0, z0}, Hi: [3]int{x1, y1, z1}}
	}
	d, err := decomp.New(g, [][]decomp.Box{
		{box(0, 0, 0, 4, 12, 8), box(7, 0, 0, 10, 12, 8)}, // two boxes, not touching
		{}, // nothing
		{box(4, 0, 0, 7, 5, 8), box(4, 5, 0, 7, 12, 3)}, // two touching boxes
		{box(4, 5, 3, 7, 12, 8)},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Dims: dims, Sources: SkewSources(dims)}
	one := simulate[float64](t, 1, opt, 40)
	opt.Decomposition = d
	got := simulate[float64](t, 4, opt, 40)
	for comp := Ex; comp <= Hz; comp++ {
		for i, v := range got.fields[comp] {
			if math.Float64bits(v) != math.Float64bits(one.fields[comp][i]) {
				t.Fatalf("%v at linear index %d: %v, one rank %v", comp, i, v, one.fields[comp][i])
			}
		}
	}
	if want := 4 * got.cut * 8; got.payload != want || got.statsPay != want || got.energy != one.energy {
		t.Errorf("bytes per step %d (stats %d), want %d; energy %+v, one rank %+v", got.payload, got.statsPay, want, got.energy, one.energy)
	}
}

// TestFloat32: float32 fields follow the float64 run to float32 accuracy
// (energy to 1e-5 relative after 100 steps of the skew problem).
func TestFloat32(t *testing.T) {
	dims := [3]int{32, 32, 32}
	opt := Options{Dims: dims, Sources: SkewSources(dims)}
	f64 := simulate[float64](t, 1, opt, 100)
	f32 := simulate[float32](t, 2, opt, 100)
	rel := relErr(f32.energy.Total, f64.energy.Total)
	t.Logf("float32 energy %.9g, float64 %.15g: rel %.1e; halo bytes/step %d vs %d", f32.energy.Total, f64.energy.Total, rel, f32.payload, f64.payload)
	if rel > 1e-5 {
		t.Errorf("float32 energy %.9g, float64 %.15g: rel %.1e", f32.energy.Total, f64.energy.Total, rel)
	}
	if want := 4 * f32.cut * 4; f32.payload != want {
		t.Errorf("float32 payload %d bytes per step, want 4 x %d cut faces x 4 = %d", f32.payload, f32.cut, want)
	}
}
