package decomp

import "slices"

// A brickMap is the working representation of a partition in progress: the
// grid coarsened into cubic bricks of b cells per side (b = 1 for all but
// very large grids), each brick owned by one rank. Partitioners that are not
// plain Cartesian cuts fill it, refine it, and turn it into boxes at the end.
type brickMap struct {
	dims  [3]int    // grid cells per axis
	b     int       // brick edge in cells
	nb    [3]int    // bricks per axis
	w     []float32 // weight per brick; nil when every brick weighs unit
	unit  float64
	owner []int32
}

// weight is the weight of brick i.
func (m *brickMap) weight(i int) float64 {
	if m.w == nil {
		return m.unit
	}
	return float64(m.w[i])
}

// total is the weight of all bricks.
func (m *brickMap) total() float64 {
	if m.w == nil {
		return m.unit * float64(len(m.owner))
	}
	t := 0.0
	for _, w := range m.w {
		t += float64(w)
	}
	return t
}

// uniform reports whether every brick weighs the same.
func (m *brickMap) uniform() bool {
	return m.w == nil || slices.Min(m.w) == slices.Max(m.w)
}

// Brick sizing: the map holds at most maxBricks bricks (so 1024^3 grids cost
// 2^24 bricks, 128 MiB with weights), and a rank's mean share should span at
// least minBricksPerRank bricks so that one brick is a small fraction of it.
const (
	maxBricks        = 1 << 24
	minBricksPerRank = 256
)

func chooseBrick(dims [3]int, ranks int) int {
	cells := dims[0] * dims[1] * dims[2]
	b := 1
	for {
		next := b * 2
		if cells/(b*b*b) <= maxBricks || (cells/ranks)/(next*next*next) < minBricksPerRank {
			return b
		}
		b = next
	}
}

func newBrickMap(g Grid, f *weightField, ranks int) *brickMap {
	b := chooseBrick(g.Dims, ranks)
	m := &brickMap{dims: g.Dims, b: b}
	for a := range 3 {
		m.nb[a] = (g.Dims[a] + b - 1) / b
	}
	n := m.nb[0] * m.nb[1] * m.nb[2]
	m.owner = make([]int32, n)
	if f.sat == nil && g.Dims[0]%b == 0 && g.Dims[1]%b == 0 && g.Dims[2]%b == 0 {
		m.unit = float64(b * b * b) // uniform cost, whole bricks: no array needed
		return m
	}
	m.w = make([]float32, n)
	if f.sat == nil { // uniform: a brick weighs its cells
		i := 0
		for z := range m.nb[2] {
			cz := min(b, g.Dims[2]-z*b)
			for y := range m.nb[1] {
				cyz := cz * min(b, g.Dims[1]-y*b)
				for x := range m.nb[0] {
					m.w[i] = float32(cyz * min(b, g.Dims[0]-x*b))
					i++
				}
			}
		}
		return m
	}
	i := 0
	for z := range m.nb[2] {
		for y := range m.nb[1] {
			for x := range m.nb[0] {
				m.w[i] = float32(f.sum(m.cellBox(Box{Lo: [3]int{x, y, z}, Hi: [3]int{x + 1, y + 1, z + 1}})))
				i++
			}
		}
	}
	return m
}

func (m *brickMap) len() int { return len(m.owner) }

// index is the linear index of brick (x, y, z).
func (m *brickMap) index(x, y, z int) int { return x + m.nb[0]*(y+m.nb[1]*z) }

// coords is the brick coordinates of linear index i.
func (m *brickMap) coords(i int) (x, y, z int) {
	x = i % m.nb[0]
	i /= m.nb[0]
	return x, i % m.nb[1], i / m.nb[1]
}

// cellBox is the box of cells covered by a box of bricks.
func (m *brickMap) cellBox(bb Box) Box {
	var c Box
	for a := range 3 {
		c.Lo[a] = min(bb.Lo[a]*m.b, m.dims[a])
		c.Hi[a] = min(bb.Hi[a]*m.b, m.dims[a])
	}
	return c
}

// cutOrder walks the bricks in the order given by walk and gives consecutive
// runs of equal weight to ranks 0, 1, ..., ranks-1; every rank gets at least
// one brick (there are at least as many bricks as ranks).
func (m *brickMap) cutOrder(ranks int, walk func(visit func(i int))) {
	mean := m.total() / float64(ranks)
	left := m.len()
	r, have, cum := 0, 0, 0.0
	walk(func(i int) {
		w := m.weight(i)
		if r < ranks-1 && have > 0 && (cum+w/2 > float64(r+1)*mean || left == ranks-1-r) {
			r++
			have = 0
		}
		m.owner[i] = int32(r)
		have++
		cum += w
		left--
	})
}

// boxes merges each rank's bricks greedily into boxes (runs along x, then
// rows along y, then layers along z) and returns them in cell coordinates.
func (m *brickMap) boxes(ranks int) [][]Box {
	out := make([][]Box, ranks)
	done := make([]bool, m.len())
	nx, ny, nz := m.nb[0], m.nb[1], m.nb[2]
	same := func(i int, r int32) bool { return !done[i] && m.owner[i] == r }
	for z := range nz {
		for y := range ny {
			for x := range nx {
				i := m.index(x, y, z)
				if done[i] {
					continue
				}
				r := m.owner[i]
				x1 := x + 1
				for x1 < nx && same(i+x1-x, r) {
					x1++
				}
				y1 := y + 1
			growY:
				for y1 < ny {
					for xx := x; xx < x1; xx++ {
						if !same(m.index(xx, y1, z), r) {
							break growY
						}
					}
					y1++
				}
				z1 := z + 1
			growZ:
				for z1 < nz {
					for yy := y; yy < y1; yy++ {
						for xx := x; xx < x1; xx++ {
							if !same(m.index(xx, yy, z1), r) {
								break growZ
							}
						}
					}
					z1++
				}
				for zz := z; zz < z1; zz++ {
					for yy := y; yy < y1; yy++ {
						for xx := x; xx < x1; xx++ {
							done[m.index(xx, yy, zz)] = true
						}
					}
				}
				out[r] = append(out[r], m.cellBox(Box{Lo: [3]int{x, y, z}, Hi: [3]int{x1, y1, z1}}))
			}
		}
	}
	return out
}

// loads is the total weight per rank.
func (m *brickMap) loads(ranks int) []float64 {
	l := make([]float64, ranks)
	for i, r := range m.owner {
		l[r] += m.weight(i)
	}
	return l
}

// neighbours calls fn for each in-grid face neighbour of brick i (no
// periodic wrap: parts must be connected inside the grid).
func (m *brickMap) neighbours(i int, fn func(j int)) {
	x, y, z := m.coords(i)
	sy, sz := m.nb[0], m.nb[0]*m.nb[1]
	if x > 0 {
		fn(i - 1)
	}
	if x+1 < m.nb[0] {
		fn(i + 1)
	}
	if y > 0 {
		fn(i - sy)
	}
	if y+1 < m.nb[1] {
		fn(i + sy)
	}
	if z > 0 {
		fn(i - sz)
	}
	if z+1 < m.nb[2] {
		fn(i + sz)
	}
}
