package hilbert

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time this process has used: the benchmarks report it
// per cell as well as wall time, since the machine is shared.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// walkStats walks a box and checks it against a visited bitmap: every cell
// inside the box exactly once, the first at the origin. It returns the number
// of steps that are not face-neighbour steps.
func walkStats(t *testing.T, nx, ny, nz int) (diagonal int, last [3]int) {
	t.Helper()
	seen := make([]bool, nx*ny*nz)
	var prev [3]int
	n := 0
	Walk(nx, ny, nz, func(x, y, z int) bool {
		if x < 0 || x >= nx || y < 0 || y >= ny || z < 0 || z >= nz {
			t.Fatalf("%dx%dx%d: visited (%d,%d,%d) outside the box", nx, ny, nz, x, y, z)
		}
		i := (x*ny+y)*nz + z
		if seen[i] {
			t.Fatalf("%dx%dx%d: visited (%d,%d,%d) twice", nx, ny, nz, x, y, z)
		}
		seen[i] = true
		cur := [3]int{x, y, z}
		if n == 0 && cur != [3]int{} {
			t.Fatalf("%dx%dx%d: starts at %v, want the origin", nx, ny, nz, cur)
		}
		if n > 0 && !faceNeighbours(prev, cur) {
			diagonal++
		}
		prev = cur
		n++
		return true
	})
	if want := Count(nx, ny, nz); n != want {
		t.Fatalf("%dx%dx%d: visited %d cells, Count says %d", nx, ny, nz, n, want)
	}
	return diagonal, prev
}

func faceNeighbours(a, b [3]int) bool {
	d := 0
	for i := range a {
		switch a[i] - b[i] {
		case 0:
		case 1, -1:
			d++
		default:
			return false
		}
	}
	return d == 1
}

// TestWalkAllSmallBoxes covers every box with sizes 1..12 (1728 boxes): each
// cell once, and no step that is not a face-neighbour step. A face-neighbour
// path from a corner exists on every box (colour cells by the parity of
// x+y+z), and the construction finds one; the test holds it to that.
func TestWalkAllSmallBoxes(t *testing.T) {
	for nx := 1; nx <= 12; nx++ {
		for ny := 1; ny <= 12; ny++ {
			for nz := 1; nz <= 12; nz++ {
				if d, _ := walkStats(t, nx, ny, nz); d != 0 {
					t.Errorf("%dx%dx%d: %d non-unit steps, want 0", nx, ny, nz, d)
				}
			}
		}
	}
}

// TestWalkWideSweep extends the small-box sweep to every box up to 24^3
// (13824 boxes) and 100 random boxes up to 200 on a side.
func TestWalkWideSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("long sweep")
	}
	for nx := 1; nx <= 24; nx++ {
		for ny := 1; ny <= 24; ny++ {
			for nz := 1; nz <= 24; nz++ {
				if nx <= 12 && ny <= 12 && nz <= 12 {
					continue // TestWalkAllSmallBoxes
				}
				if d, _ := walkStats(t, nx, ny, nz); d != 0 {
					t.Errorf("%dx%dx%d: %d non-unit steps, want 0", nx, ny, nz, d)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 100 {
		nx, ny, nz := 1+r.IntN(200), 1+r.IntN(200), 1+r.IntN(200)
		if d, _ := walkStats(t, nx, ny, nz); d != 0 {
			t.Errorf("%dx%dx%d: %d non-unit steps, want 0", nx, ny, nz, d)
		}
	}
}

// TestWalkLargeAndOddBoxes covers bigger boxes, odd, flat and thin ones.
func TestWalkLargeAndOddBoxes(t *testing.T) {
	for _, s := range [][3]int{
		{5, 7, 9}, {31, 17, 13}, {100, 60, 40}, {1, 1, 7}, {3, 3, 3},
		{2, 101, 101}, {101, 2, 3}, {63, 1, 64}, {1, 1, 1}, {1000, 1, 1},
		{17, 1000, 1}, {1, 2, 999}, {256, 3, 5}, {33, 65, 129}, {97, 89, 83},
		{2, 2, 1000}, {128, 128, 2}, {13, 200, 11},
	} {
		if d, _ := walkStats(t, s[0], s[1], s[2]); d != 0 {
			t.Errorf("%v: %d non-unit steps, want 0", s, d)
		}
	}
}

// TestWalkPowerOfTwoCubes checks that on cubes of side 2^k the curve is a
// Hilbert curve: unit steps, from a corner to a corner one edge away, and
// every aligned sub-cube of side 2^j visited in one run.
func TestWalkPowerOfTwoCubes(t *testing.T) {
	for k := 1; k <= 6; k++ {
		side := 1 << k
		if d, last := walkStats(t, side, side, side); d != 0 {
			t.Fatalf("side %d: %d non-unit steps", side, d)
		} else {
			corners := 0
			for _, v := range last {
				switch v {
				case side - 1:
					corners++
				case 0:
				default:
					t.Fatalf("side %d: ends at %v, not a corner", side, last)
				}
			}
			if corners != 1 {
				t.Fatalf("side %d: ends at %v, want a corner one edge from the origin", side, last)
			}
		}
		for j := 1; j < k; j++ {
			// The block of side 2^j changes exactly (blocks-1) times.
			changes, prevBlock, first := 0, 0, true
			Walk(side, side, side, func(x, y, z int) bool {
				b := ((x>>j)*(side>>j)+y>>j)*(side>>j) + z>>j
				if !first && b != prevBlock {
					changes++
				}
				first, prevBlock = false, b
				return true
			})
			if blocks := (side >> j) * (side >> j) * (side >> j); changes != blocks-1 {
				t.Fatalf("side %d: blocks of side %d entered %d times, want %d", side, 1<<j, changes+1, blocks)
			}
		}
	}
}

func TestWalkStopsEarly(t *testing.T) {
	for _, stop := range []int{1, 2, 17, 999} {
		calls := 0
		Walk(10, 10, 10, func(x, y, z int) bool {
			calls++
			return calls < stop
		})
		if calls != stop {
			t.Errorf("visit said stop at call %d, got %d calls", stop, calls)
		}
	}
}

func TestWalkBoxOffsets(t *testing.T) {
	var want, got [][3]int
	Walk(5, 4, 3, func(x, y, z int) bool { want = append(want, [3]int{x + 10, y - 3, z + 7}); return true })
	WalkBox(10, -3, 7, 5, 4, 3, func(x, y, z int) bool { got = append(got, [3]int{x, y, z}); return true })
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("WalkBox = %v, want Walk shifted: %v", got, want)
	}
}

func TestCellsMatchesWalk(t *testing.T) {
	var want [][3]int
	Walk(6, 5, 7, func(x, y, z int) bool { want = append(want, [3]int{x, y, z}); return true })
	i := 0
	for c := range Cells(6, 5, 7) {
		if c != want[i] {
			t.Fatalf("cell %d: Cells gives %v, Walk %v", i, c, want[i])
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("Cells gave %d cells, Walk %d", i, len(want))
	}
	n := 0
	for range Cells(6, 5, 7) {
		n++
		if n == 10 {
			break
		}
	}
	if n != 10 {
		t.Fatalf("break after 10 cells counted %d", n)
	}
}

func TestEmptyBoxes(t *testing.T) {
	for _, s := range [][3]int{{0, 5, 5}, {5, 0, 5}, {5, 5, -1}, {0, 0, 0}} {
		if c := Count(s[0], s[1], s[2]); c != 0 {
			t.Errorf("Count%v = %d, want 0", s, c)
		}
		Walk(s[0], s[1], s[2], func(x, y, z int) bool {
			t.Fatalf("Walk%v visited (%d,%d,%d)", s, x, y, z)
			return false
		})
	}
	if c := Count(3, 4, 5); c != 60 {
		t.Errorf("Count(3,4,5) = %d, want 60", c)
	}
}

func TestWalkAllocs(t *testing.T) {
	var n int
	visit := func(x, y, z int) bool { n += x; return true }
	small := testing.AllocsPerRun(5, func() { Walk(4, 4, 4, visit) })
	large := testing.AllocsPerRun(5, func() { Walk(64, 48, 40, visit) })
	if small != large || large > 1 {
		t.Errorf("Walk allocates %v times on 4^3 and %v on 64x48x40: want a constant of at most 1", small, large)
	}
}

// cutFaces splits the curve over a box into p runs of (nearly) equal length
// and counts the unit faces between cells of different runs.
func cutFaces(nx, ny, nz, p int, order func(visit func(x, y, z int) bool)) int {
	owner := make([]int32, nx*ny*nz)
	n, i := nx*ny*nz, 0
	order(func(x, y, z int) bool {
		owner[(x*ny+y)*nz+z] = int32(i * p / n)
		i++
		return true
	})
	cut := 0
	for x := range nx {
		for y := range ny {
			for z := range nz {
				o := owner[(x*ny+y)*nz+z]
				if x+1 < nx && owner[((x+1)*ny+y)*nz+z] != o {
					cut++
				}
				if y+1 < ny && owner[(x*ny+y+1)*nz+z] != o {
					cut++
				}
				if z+1 < nz && owner[(x*ny+y)*nz+z+1] != o {
					cut++
				}
			}
		}
	}
	return cut
}

// bestBlock is the fewest cut faces of a px × py × pz Cartesian split into p.
func bestBlock(nx, ny, nz, p int) int {
	best := -1
	for px := 1; px <= p; px++ {
		for py := 1; px*py <= p; py++ {
			if p%(px*py) != 0 {
				continue
			}
			pz := p / (px * py)
			c := (px-1)*ny*nz + (py-1)*nx*nz + (pz-1)*nx*ny
			if best < 0 || c < best {
				best = c
			}
		}
	}
	return best
}

// TestWalkLocality checks that keeping unit steps on odd boxes did not cost
// compactness: runs of the curve cut about as few faces as Skilling's
// Hilbert curve on a cube, and within 1.4x of the best block split on
// uneven boxes (measured: 1.36 on 100x60x40 / 16, 1.37 on 99x61x41 / 16).
func TestWalkLocality(t *testing.T) {
	walk := func(nx, ny, nz int) func(func(x, y, z int) bool) {
		return func(v func(x, y, z int) bool) { Walk(nx, ny, nz, v) }
	}
	g := cutFaces(64, 64, 64, 27, walk(64, 64, 64))
	h := cutFaces(64, 64, 64, 27, func(v func(x, y, z int) bool) {
		for k := range uint64(1 << 18) {
			x, y, z := Decode3(k, 6)
			v(int(x), int(y), int(z))
		}
	})
	if float64(g) > 1.05*float64(h) {
		t.Errorf("64^3 / 27: Walk cuts %d faces, Hilbert %d", g, h)
	}
	for _, tc := range [][4]int{{100, 60, 40, 16}, {99, 61, 41, 16}, {64, 64, 64, 64}, {45, 31, 77, 12}} {
		g := cutFaces(tc[0], tc[1], tc[2], tc[3], walk(tc[0], tc[1], tc[2]))
		b := bestBlock(tc[0], tc[1], tc[2], tc[3])
		if float64(g) > 1.4*float64(b) {
			t.Errorf("%v: Walk cuts %d faces, best block %d (ratio %.2f)", tc, g, b, float64(g)/float64(b))
		}
	}
}

func BenchmarkWalk(b *testing.B) {
	const side = 256 // 2^24 cells
	var acc int
	visit := func(x, y, z int) bool { acc += x ^ y ^ z; return true }
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		Walk(side, side, side, visit)
	}
	cells := float64(b.N) * side * side * side
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/cells, "ns/cell")
	b.ReportMetric(float64(cpuTime()-cpu0)/cells, "cpu-ns/cell")
	sink = uint64(acc)
}

func BenchmarkWalkOdd(b *testing.B) {
	const nx, ny, nz = 255, 257, 253
	var acc int
	visit := func(x, y, z int) bool { acc += x ^ y ^ z; return true }
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		Walk(nx, ny, nz, visit)
	}
	cells := float64(b.N) * nx * ny * nz
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/cells, "ns/cell")
	b.ReportMetric(float64(cpuTime()-cpu0)/cells, "cpu-ns/cell")
	sink = uint64(acc)
}

func BenchmarkCells(b *testing.B) {
	const side = 256
	var acc int
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		for c := range Cells(side, side, side) {
			acc += c[0] ^ c[1] ^ c[2]
		}
	}
	cells := float64(b.N) * side * side * side
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/cells, "ns/cell")
	b.ReportMetric(float64(cpuTime()-cpu0)/cells, "cpu-ns/cell")
	sink = uint64(acc)
}
