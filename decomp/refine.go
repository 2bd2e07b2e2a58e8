package decomp

import (
	"cmp"
	"slices"
)

// Refinement of a brick map: the multisection leaves are boxes whose weights
// are off by up to a few per cent (a split can only fall on a brick plane).
// balance moves bricks across rank boundaries until every rank is within tol
// of the mean: it solves for the smallest flow between neighbouring ranks
// that evens the loads (a diffusion, Hu & Blake 1999: L x = load - mean on the
// rank graph, weighted by shared surface, flow = c_ij (x_i - x_j)), then
// realises each flow by moving the boundary bricks of the giving rank that
// touch the taking rank most, layer by layer. Bricks that touch the taker on
// more faces go first, so boundaries stay flat. repair then hands any piece
// of a rank cut off from the rest of it to the neighbour it touches most.

// edgeKey packs an ordered pair of ranks.
func edgeKey(i, j int32) uint64 { return uint64(uint32(i))<<32 | uint64(uint32(j)) }

// balance runs up to rounds rounds of diffusion and reports whether the
// loads ended within tol of the mean.
func (m *brickMap) balance(ranks int, tol float64, rounds int) bool {
	for range rounds {
		loads := m.loads(ranks)
		mean := 0.0
		for _, l := range loads {
			mean += l
		}
		mean /= float64(ranks)
		worst := 0.0
		for _, l := range loads {
			worst = max(worst, l)
		}
		if mean == 0 || worst <= (1+tol)*mean {
			return true
		}
		flows := m.diffusionFlows(ranks, excessOverCap(loads, (1+tol/2)*mean))
		if len(flows) == 0 {
			return false
		}
		m.realise(flows, mean, tol)
	}
	loads := m.loads(ranks)
	mean, worst := 0.0, 0.0
	for _, l := range loads {
		mean += l
		worst = max(worst, l)
	}
	mean /= float64(ranks)
	return mean == 0 || worst <= (1+tol)*mean
}

type flow struct {
	from, to int32
	amount   float64
}

// diffusionFlows solves the weighted graph Laplacian system for the flows
// that take every load to the mean.
func (m *brickMap) diffusionFlows(ranks int, demand []float64) []flow {
	area := map[uint64]float64{}
	nx, ny := m.nb[0], m.nb[1]
	sy, sz := nx, nx*ny
	for i, r := range m.owner {
		x, y, z := m.coords(i)
		if x+1 < nx && m.owner[i+1] != r {
			area[edgeKey(min(r, m.owner[i+1]), max(r, m.owner[i+1]))]++
		}
		if y+1 < ny && m.owner[i+sy] != r {
			area[edgeKey(min(r, m.owner[i+sy]), max(r, m.owner[i+sy]))]++
		}
		if z+1 < m.nb[2] && m.owner[i+sz] != r {
			area[edgeKey(min(r, m.owner[i+sz]), max(r, m.owner[i+sz]))]++
		}
	}
	type edge struct {
		i, j int32
		c    float64
	}
	edges := make([]edge, 0, len(area))
	for k, c := range area {
		edges = append(edges, edge{int32(k >> 32), int32(uint32(k)), c})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		return cmp.Or(cmp.Compare(a.i, b.i), cmp.Compare(a.j, b.j))
	})
	// Conjugate gradients on L x = b with b = load - mean (sums to zero, so
	// the singular system is consistent; x stays orthogonal to the constant).
	b := demand
	lap := func(x, out []float64) {
		clear(out)
		for _, e := range edges {
			d := e.c * (x[e.i] - x[e.j])
			out[e.i] += d
			out[e.j] -= d
		}
	}
	x := make([]float64, ranks)
	res := slices.Clone(b)
	p := slices.Clone(b)
	ap := make([]float64, ranks)
	dot := func(u, v []float64) float64 {
		s := 0.0
		for i := range u {
			s += u[i] * v[i]
		}
		return s
	}
	rr := dot(res, res)
	stop := 1e-10 * rr
	for it := 0; it < 4*ranks+100 && rr > stop; it++ {
		lap(p, ap)
		pap := dot(p, ap)
		if pap <= 0 {
			break
		}
		alpha := rr / pap
		for i := range x {
			x[i] += alpha * p[i]
			res[i] -= alpha * ap[i]
		}
		rr2 := dot(res, res)
		for i := range p {
			p[i] = res[i] + rr2/rr*p[i]
		}
		rr = rr2
	}
	var fl []flow
	for _, e := range edges {
		f := e.c * (x[e.i] - x[e.j])
		switch {
		case f > 0:
			fl = append(fl, flow{e.i, e.j, f})
		case f < 0:
			fl = append(fl, flow{e.j, e.i, -f})
		}
	}
	return fl
}

// excessOverCap is what each rank must give (positive) or may take
// (negative) so that none is above cap: only the excess moves, and it goes
// to ranks in proportion to their room below the cap. Moving less than full
// equalisation would keeps most boundaries flat.
func excessOverCap(loads []float64, limit float64) []float64 {
	d := make([]float64, len(loads))
	excess, room := 0.0, 0.0
	for r, l := range loads {
		if l > limit {
			d[r] = l - limit
			excess += d[r]
		} else {
			room += limit - l
		}
	}
	if room == 0 {
		return d
	}
	for r, l := range loads {
		if l <= limit {
			d[r] = -(limit - l) * excess / room
		}
	}
	return d
}

// realise moves bricks to carry out the flows, largest first.
func (m *brickMap) realise(flows []flow, mean, tol float64) {
	slices.SortFunc(flows, func(a, b flow) int { return cmp.Compare(b.amount, a.amount) })
	idx := make(map[uint64]int, len(flows))
	for k, f := range flows {
		idx[edgeKey(f.from, f.to)] = k
	}
	// Candidate bricks per flow: the giver's bricks facing the taker.
	cand := make([][]int32, len(flows))
	for i, r := range m.owner {
		m.neighbours(i, func(j int) {
			if o := m.owner[j]; o != r {
				if k, ok := idx[edgeKey(r, o)]; ok {
					cand[k] = append(cand[k], int32(i))
				}
			}
		})
	}
	count := map[int32]int{}
	for _, r := range m.owner {
		count[r]++
	}
	gain := func(i int, from, to int32) int {
		g := 0
		m.neighbours(i, func(j int) {
			switch m.owner[j] {
			case to:
				g++
			case from:
				g--
			}
		})
		return g
	}
	// Flows below a small fraction of a rank are not worth the surface.
	minFlow := tol * mean / 4
	for k, f := range flows {
		need := f.amount
		if need < minFlow {
			continue
		}
		layer := slices.Compact(slices.Sorted(slices.Values(cand[k])))
		for need > 0 && len(layer) > 0 {
			type scored struct {
				i int32
				g int
			}
			sc := make([]scored, 0, len(layer))
			for _, i := range layer {
				if m.owner[i] == f.from {
					sc = append(sc, scored{i, gain(int(i), f.from, f.to)})
				}
			}
			slices.SortStableFunc(sc, func(a, b scored) int { return cmp.Compare(b.g, a.g) })
			var next []int32
			for _, s := range sc {
				w := m.weight(int(s.i))
				if need-w/2 < 0 || count[f.from] <= 1 {
					break
				}
				if m.owner[s.i] != f.from {
					continue
				}
				m.owner[s.i] = f.to
				count[f.from]--
				count[f.to]++
				need -= w
				m.neighbours(int(s.i), func(j int) {
					if m.owner[j] == f.from {
						next = append(next, int32(j))
					}
				})
			}
			if need <= 0 || len(next) == 0 {
				break
			}
			layer = slices.Compact(slices.Sorted(slices.Values(next)))
		}
	}
}

// repair gives every piece of a rank that is not face-connected to the
// largest piece of that rank to the neighbouring rank it shares most faces
// with. It returns the number of pieces moved.
func (m *brickMap) repair(ranks int) int {
	moved := 0
	for range 8 {
		n := m.len()
		comp := make([]int32, n)
		for i := range comp {
			comp[i] = -1
		}
		var compOwner []int32
		var compSize []int
		queue := make([]int32, 0, 1024)
		for s := range n {
			if comp[s] >= 0 {
				continue
			}
			c := int32(len(compOwner))
			r := m.owner[s]
			compOwner = append(compOwner, r)
			size := 0
			comp[s] = c
			queue = append(queue[:0], int32(s))
			for len(queue) > 0 {
				i := queue[len(queue)-1]
				queue = queue[:len(queue)-1]
				size++
				m.neighbours(int(i), func(j int) {
					if comp[j] < 0 && m.owner[j] == r {
						comp[j] = c
						queue = append(queue, int32(j))
					}
				})
			}
			compSize = append(compSize, size)
		}
		if len(compOwner) == ranks {
			return moved
		}
		mainComp := make([]int32, ranks)
		for i := range mainComp {
			mainComp[i] = -1
		}
		for c, r := range compOwner {
			if mc := mainComp[r]; mc < 0 || compSize[c] > compSize[mc] {
				mainComp[r] = int32(c)
			}
		}
		// For each stray piece, count faces towards each other rank's main piece.
		touch := map[uint64]int{} // (stray comp, rank) -> faces
		for i, c := range comp {
			if mainComp[compOwner[c]] == c {
				continue
			}
			m.neighbours(i, func(j int) {
				cj := comp[j]
				if cj != c && mainComp[compOwner[cj]] == cj {
					touch[edgeKey(c, compOwner[cj])]++
				}
			})
		}
		// Give each stray piece to the touching rank with the least load
		// (most shared faces breaking ties), so no rank collects many.
		load := m.loads(ranks)
		keys := make([]uint64, 0, len(touch))
		for k := range touch {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		target := map[int32]int32{}
		for _, k := range keys {
			c, r := int32(k>>32), int32(uint32(k))
			t, seen := target[c]
			if !seen || load[r] < load[t] || (load[r] == load[t] && touch[k] > touch[edgeKey(c, t)]) {
				target[c] = r
			}
		}
		if len(target) == 0 {
			return moved
		}
		for i, c := range comp {
			if r, ok := target[c]; ok {
				m.owner[i] = r
			}
		}
		moved += len(target)
	}
	return moved
}

// imbalance is max load / mean load.
func imbalance(loads []float64) float64 {
	mean, worst := 0.0, 0.0
	for _, l := range loads {
		mean += l
		worst = max(worst, l)
	}
	mean /= float64(len(loads))
	if mean == 0 {
		return 1
	}
	return worst / mean
}
