package scaling

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
)

// The fit recovers α and β from samples of α + n/β with ±2 % noise, over
// the sizes `hilo bench pingpong` uses.
func TestFitLinkRecovers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, want := range []Link{{2e-6, 5e9}, {50e-6, 1.2e9}, {0.5e-6, 20e9}, {1e-3, 1e7}} {
		var s []Sample
		for n := 8; n <= 4<<20; n *= 4 {
			for range 3 {
				s = append(s, Sample{Bytes: n, Seconds: want.Time(n) * (1 + 0.02*(2*rng.Float64()-1))})
			}
		}
		got, err := FitLink(s)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got.Alpha/want.Alpha-1) > 0.03 || math.Abs(got.Beta/want.Beta-1) > 0.03 {
			t.Errorf("fit %v, want %v", got, want)
		}
	}
	// Exact data: exact parameters.
	exact := Link{3e-6, 2e9}
	got, err := FitLink([]Sample{{0, exact.Time(0)}, {1 << 20, exact.Time(1 << 20)}})
	if err != nil || math.Abs(got.Alpha-exact.Alpha) > 1e-15 || math.Abs(got.Beta/exact.Beta-1) > 1e-9 {
		t.Errorf("two exact points: %v, %v", got, err)
	}
}

func TestFitLinkRejects(t *testing.T) {
	for _, s := range [][]Sample{
		nil,
		{{8, 1e-6}, {8, 2e-6}},     // one size
		{{8, 1e-6}, {1024, 0}},     // zero time
		{{8, 1e-6}, {-1, 1e-6}},    // negative size
		{{8, math.NaN()}, {16, 1}}, // NaN
	} {
		if _, err := FitLink(s); !errors.Is(err, ErrFit) {
			t.Errorf("%v: err %v, want ErrFit", s, err)
		}
	}
	// Times that fall with size: no bandwidth term, α the weighted mean.
	l, err := FitLink([]Sample{{8, 2e-6}, {1 << 20, 1e-6}})
	if err != nil || !math.IsInf(l.Beta, 1) || l.Alpha <= 0 {
		t.Errorf("falling times: %v, %v", l, err)
	}
}

func TestPiecewise(t *testing.T) {
	p, err := NewPiecewise([]Sample{{1024, 4e-6}, {8, 2e-6}, {8, 3e-6}, {8, 100e-6}, {4096, 10e-6}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		n    int
		want float64
	}{{0, 3e-6}, {8, 3e-6}, {516, 3.5e-6}, {1024, 4e-6}, {2560, 7e-6}, {4096, 10e-6}, {7168, 16e-6}} {
		if got := p.Time(c.n); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("Time(%d) = %g, want %g", c.n, got, c.want)
		}
	}
}

func TestReadPingpong(t *testing.T) {
	in := `{"bytes":8,"latency_us":2.5,"bandwidth_mbs":3.2}

{"bytes":1024,"latency_us":4,"bandwidth_mbs":256}
`
	s, err := ReadPingpong(bytes.NewReader([]byte(in)))
	if err != nil || len(s) != 2 || s[0] != (Sample{8, 2.5e-6}) || s[1] != (Sample{1024, 4e-6}) {
		t.Fatalf("%v, %v", s, err)
	}
	for _, bad := range []string{"", "{", `{"bytes":8}`, `{"bytes":-1,"latency_us":1}`, `{"bytes":8,"latency_us":0}`} {
		if _, err := ReadPingpong(bytes.NewReader([]byte(bad))); !errors.Is(err, ErrFit) {
			t.Errorf("%q: err %v, want ErrFit", bad, err)
		}
	}
}

func FuzzReadPingpong(f *testing.F) {
	f.Add([]byte(`{"bytes":8,"latency_us":2.5,"bandwidth_mbs":3.2}` + "\n" + `{"bytes":64,"latency_us":3}`))
	f.Add([]byte(`{"bytes":1e300,"latency_us":1e308}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadPingpong(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, x := range s {
			if x.Bytes < 0 || !(x.Seconds > 0) {
				t.Fatalf("accepted %v", x)
			}
		}
		if l, err := FitLink(s); err == nil && (l.Alpha < 0 || !(l.Beta > 0)) {
			t.Fatalf("fit %v", l)
		}
	})
}

// cutOracle counts, cell by cell, the unit faces between cells of
// different ranks, and those between ranks on different nodes.
func cutOracle(d *decomp.Decomposition, node func(int) int) (cut, cross int) {
	n := d.Grid.Dims
	for z := range n[2] {
		for y := range n[1] {
			for x := range n[0] {
				a := d.Owner([3]int{x, y, z})
				for axis := range 3 {
					q := [3]int{x, y, z}
					q[axis]++
					if q[axis] >= n[axis] {
						continue
					}
					if b := d.Owner(q); b != a {
						cut++
						if node(a) != node(b) {
							cross++
						}
					}
				}
			}
		}
	}
	return cut, cross
}

// The FDTD workload carries 4 float64 per cut face per step, split between
// and within nodes as the brute-force count says, and the halo workload
// 2 x fields float64 per cut face.
func TestWorkloadBytes(t *testing.T) {
	node := func(r int) int { return r / 2 }
	for _, m := range []string{decomp.MethodHilbert, decomp.MethodBlock, decomp.MethodRCB, decomp.MethodSlab} {
		for _, p := range []int{1, 2, 4, 7} {
			d, err := decomp.Decompose(decomp.Grid{Dims: [3]int{12, 10, 9}}, p, decomp.Options{Method: m})
			if err != nil {
				t.Fatal(err)
			}
			cut, cross := cutOracle(d, node)
			w, err := FDTDWorkload(d, node)
			if err != nil {
				t.Fatal(err)
			}
			intra, inter := w.PayloadBytes()
			if intra+inter != int64(32*cut) || inter != int64(32*cross) {
				t.Errorf("%s P=%d fdtd: %d + %d bytes, want %d (%d between nodes)", m, p, intra, inter, 32*cut, 32*cross)
			}
			cells := 0
			for _, l := range w {
				cells += l.Cells
				if len(l.Recv) > 2*(p-1) {
					t.Errorf("%s P=%d: %d messages, more than 2 per peer", m, p, len(l.Recv))
				}
			}
			if cells != 12*10*9 {
				t.Errorf("%s P=%d: %d cells", m, p, cells)
			}
			h, err := HaloWorkload(d, nil, 3)
			if err != nil {
				t.Fatal(err)
			}
			if hi, he := h.PayloadBytes(); hi != int64(2*3*8*cut) || he != 0 {
				t.Errorf("%s P=%d halo: %d + %d bytes, want %d", m, p, hi, he, 2*3*8*cut)
			}
		}
	}
}

// Strong scaling with a core per rank: compute per rank falls with P, so
// does the step time while the halo is small against the compute; the
// bytes crossing nodes grow with P; a slower network never helps; ranks
// sharing fewer cores never help.
func TestProjectionMonotone(t *testing.T) {
	g := decomp.Grid{Dims: [3]int{128, 128, 128}}
	fast := Machine{Shm: Link{1e-6, 10e9}, TCP: Link{5e-6, 5e9}, CellRate: 100e6}
	slow := fast
	slow.TCP = Link{50e-6, 1e8}
	var prev Prediction
	var prevInter int64
	for i, p := range []int{8, 64, 512} {
		d, err := decomp.Decompose(g, p, decomp.Options{RanksPerNode: 8})
		if err != nil {
			t.Fatal(err)
		}
		w, err := FDTDWorkload(d, d.Node)
		if err != nil {
			t.Fatal(err)
		}
		pf, ps := fast.Predict(w), slow.Predict(w)
		_, inter := w.PayloadBytes()
		if ps.Seconds < pf.Seconds {
			t.Errorf("P=%d: slower network %g s < %g s", p, ps.Seconds, pf.Seconds)
		}
		if i > 0 && (pf.Compute >= prev.Compute || pf.Seconds >= prev.Seconds || inter <= prevInter) {
			t.Errorf("P=%d: compute %g, step %g, inter %d after %g, %g, %d", p, pf.Compute, pf.Seconds, inter, prev.Compute, prev.Seconds, prevInter)
		}
		shared := fast
		shared.Cores, shared.Wake = float64(p)/4, 10e-6
		if sp := shared.Predict(w); sp.Seconds < 4*pf.Compute || sp.Shared <= 1 {
			t.Errorf("P=%d on %g cores: %g s, want at least 4 x %g", p, shared.Cores, sp.Seconds, pf.Compute)
		}
		prev, prevInter = pf, inter
	}
}

func TestWeakGrid(t *testing.T) {
	for _, c := range []struct {
		base   [3]int
		p0, p  int
		want   [3]int
		errors bool
	}{
		{[3]int{16, 16, 16}, 1, 1, [3]int{16, 16, 16}, false},
		{[3]int{16, 16, 16}, 1, 8, [3]int{32, 32, 32}, false},
		{[3]int{16, 16, 16}, 2, 12, [3]int{48, 32, 16}, false},
		{[3]int{16, 16, 16}, 2, 3, [3]int{}, true},
	} {
		got, err := WeakGrid(c.base, c.p0, c.p)
		if (err != nil) != c.errors || (err == nil && got != c.want) {
			t.Errorf("WeakGrid(%v, %d, %d) = %v, %v; want %v", c.base, c.p0, c.p, got, err, c.want)
		}
		if err == nil {
			cells := func(g [3]int) int { return g[0] * g[1] * g[2] }
			if cells(got)*c.p0 != cells(c.base)*c.p {
				t.Errorf("%v: cells per rank changed", got)
			}
		}
	}
}

func ExampleWeakGrid() {
	g, _ := WeakGrid([3]int{64, 64, 64}, 1, 12)
	fmt.Println(g)
	// Output: [192 128 128]
}

func TestFitCompute(t *testing.T) {
	const c, r = 1.5e-9, 70e-9
	var cells, rows, secs []float64
	for _, g := range [][3]int{{16, 64, 64}, {32, 64, 64}, {64, 64, 64}, {64, 32, 32}} {
		n, k := float64(g[0]*g[1]*g[2]), float64(g[1]*g[2])
		cells, rows, secs = append(cells, n), append(rows, k), append(secs, n*c+k*r)
	}
	gc, gr, err := FitCompute(cells, rows, secs)
	if err != nil || math.Abs(gc/c-1) > 1e-9 || math.Abs(gr/r-1) > 1e-9 {
		t.Errorf("FitCompute = %g, %g, %v; want %g, %g", gc, gr, err, c, r)
	}
	if _, _, err := FitCompute(cells[:1], rows[:1], secs[:1]); !errors.Is(err, ErrFit) {
		t.Errorf("one run: %v", err)
	}
}

// Rows count each box's x rows, plus half a row per cell of an x face the
// rank receives (the solver updates those cells after the exchange, in rows
// one cell long).
func TestWorkloadRows(t *testing.T) {
	g := decomp.Grid{Dims: [3]int{8, 6, 4}}
	xsplit, err := decomp.New(g, [][]decomp.Box{{{Lo: [3]int{0, 0, 0}, Hi: [3]int{4, 6, 4}}}, {{Lo: [3]int{4, 0, 0}, Hi: [3]int{8, 6, 4}}}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	zsplit, err := decomp.New(g, [][]decomp.Box{{{Lo: [3]int{0, 0, 0}, Hi: [3]int{8, 6, 2}}}, {{Lo: [3]int{0, 0, 2}, Hi: [3]int{8, 6, 4}}}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		d    *decomp.Decomposition
		rows float64
	}{{xsplit, 24 + 12}, {zsplit, 12}} {
		w, err := FDTDWorkload(c.d, nil)
		if err != nil {
			t.Fatal(err)
		}
		for r, l := range w {
			if l.Rows != c.rows {
				t.Errorf("rank %d: %g rows, want %g", r, l.Rows, c.rows)
			}
		}
		m := Machine{CellTime: 2e-9, RowTime: 50e-9, Shm: Link{1e-6, 1e9}}
		if got, want := m.Predict(w).Compute, 96*2e-9+c.rows*50e-9; math.Abs(got-want) > 1e-15 {
			t.Errorf("compute %g, want %g", got, want)
		}
	}
}
