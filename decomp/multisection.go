package decomp

import (
	"math"
	"runtime"
	"sync"
)

// The hilbert method builds its curve from P. Instead of cutting a fixed
// space-filling curve into P runs (which leaves ragged, high-surface parts
// whenever a run boundary falls mid-octant), it splits the grid recursively
// into k slabs along one axis, with k a prime factor of the ranks left (or an
// uneven bisection), choosing axis and k at every level to minimise the
// total cut area of the subtree; the curve visits the slabs in order along
// the axis and enters each child on the side where the previous one ended,
// so consecutive ranks are neighbours, as along a Hilbert curve. The leaves
// are near-balanced boxes; refine.go then moves brick layers across rank
// boundaries to balance exactly and repairs connectivity.

// splitOption is one way to split a box among r ranks: along axis into
// len(parts) slabs, parts[i] ranks in slab i (in traversal order).
type splitOption struct {
	axis  int
	parts []int
}

type planKey struct {
	d    [3]int64
	full [3]bool
	r    int
}

// planner chooses splits by a cost model of continuous geometry: the area of
// the cuts a subtree makes, memoised.
type planner struct {
	periodic [3]bool
	quantum  int // ranks per node: subtrees of more ranks split at multiples of it
	memo     map[planKey]float64
}

// maxPlanStates bounds the memo; past it the planner stops looking ahead
// and bisects the longest axis (only rank counts with many large prime
// factors at every level get there).
const maxPlanStates = 1 << 18

func newPlanner(periodic [3]bool, quantum int) *planner {
	return &planner{periodic: periodic, quantum: max(quantum, 1), memo: map[planKey]float64{}}
}

// maxWays bounds the composite k of an equal k-way split.
const maxWays = 16

// splitWays lists the k > 2 of the equal k-way splits to try for r ranks:
// divisors of r up to maxWays and the odd prime factors of r.
func splitWays(r int) []int {
	var ks []int
	for k := 3; k <= maxWays && k <= r; k++ {
		if r%k == 0 {
			ks = append(ks, k)
		}
	}
	for _, p := range primeFactors(r) {
		if p > maxWays {
			ks = append(ks, p)
		}
	}
	return ks
}

func primeFactors(n int) []int {
	var ps []int
	for p := 2; p*p <= n; p++ {
		if n%p == 0 {
			ps = append(ps, p)
			for n%p == 0 {
				n /= p
			}
		}
	}
	if n > 1 {
		ps = append(ps, n)
	}
	return ps
}

// options lists the candidate splits of r ranks over a box of extents d.
func (p *planner) options(d [3]float64, r int) []splitOption {
	var opts []splitOption
	longest := max(d[0], d[1], d[2])
	q := p.quantum
	// z first: on a tie the first option wins, and a cut across the slowest
	// axis leaves whole x rows (long rows for stencil loops, contiguous
	// halo faces to pack), where a cut across x leaves short rows and
	// strided faces.
	for a := 2; a >= 0; a-- {
		// Splitting a short axis never wins against a long one by much; the
		// pruning keeps the search small for rank counts with many factors.
		if d[a] < 1 || d[a] < 0.45*longest {
			continue
		}
		// Bisection, uneven when r is odd; at node level, in whole nodes.
		r1 := r / 2
		if q > 1 && r > q {
			nodes := (r + q - 1) / q
			r1 = q * (nodes / 2)
		}
		if r1 >= 1 && r-r1 >= 1 && float64(r) <= d[a]*1e18 {
			opts = append(opts, splitOption{axis: a, parts: []int{r1, r - r1}})
		}
		// Equal k-way slabs for each odd prime factor k of r, and for every
		// divisor up to maxWays (one ordering pass instead of several
		// bisections along the same axis: same parts, less work).
		for _, k := range splitWays(r) {
			if float64(k) > d[a] {
				continue
			}
			if q > 1 && r > q && (r/k)%q != 0 {
				continue
			}
			parts := make([]int, k)
			for i := range parts {
				parts[i] = r / k
			}
			opts = append(opts, splitOption{axis: a, parts: parts})
		}
	}
	return opts
}

// cost is the least total cut area of splitting a box of extents d among r
// ranks; full[a] says the box spans the whole of periodic axis a (so its
// first cut along a also cuts the wrap faces).
func (p *planner) cost(d [3]float64, full [3]bool, r int) float64 {
	if r <= 1 {
		return 0
	}
	// The memo is keyed by extents rounded to 1/1024 of a cell, and the cost
	// is computed from the rounded extents, so an entry is a function of its
	// key alone: the order in which subtrees (built concurrently) fill the
	// memo cannot change a decision.
	key := planKey{full: full, r: r}
	for a := range 3 {
		key.d[a] = int64(math.Round(d[a] * 1024))
		d[a] = float64(key.d[a]) / 1024
	}
	if c, ok := p.memo[key]; ok {
		return c
	}
	_, c := p.best(d, full, r)
	if len(p.memo) < maxPlanStates {
		p.memo[key] = c
	}
	return c
}

// best is the cheapest split of r ranks over d and its subtree cost.
func (p *planner) best(d [3]float64, full [3]bool, r int) (splitOption, float64) {
	opts := p.options(d, r)
	if len(opts) == 0 || len(p.memo) >= maxPlanStates {
		return p.fallback(d, r), math.Inf(1)
	}
	bestCost := math.Inf(1)
	var bestOpt splitOption
	for _, o := range opts {
		a := o.axis
		area := 1.0
		for b := range 3 {
			if b != a {
				area *= d[b]
			}
		}
		cuts := float64(len(o.parts) - 1)
		if full[a] && p.periodic[a] {
			cuts++
		}
		c := cuts * area
		cf := full
		cf[a] = false
		prev := -1
		prevCost := 0.0
		for _, n := range o.parts {
			if n != prev {
				cd := d
				cd[a] = d[a] * float64(n) / float64(r)
				prevCost = p.cost(cd, cf, n)
				prev = n
			}
			c += prevCost
			if c > bestCost*(1+1e-9) {
				break
			}
		}
		// On a tie (within round-off) more ways win: same parts, fewer passes.
		if c < bestCost*(1-1e-9) || (c <= bestCost*(1+1e-9) && len(o.parts) > len(bestOpt.parts)) {
			bestCost, bestOpt = c, o
		}
	}
	if bestOpt.parts == nil { // every option hit the state bound
		return p.fallback(d, r), math.Inf(1)
	}
	return bestOpt, bestCost
}

func (p *planner) fallback(d [3]float64, r int) splitOption {
	a := 0
	for b := 1; b < 3; b++ {
		if d[b] > d[a] {
			a = b
		}
	}
	return splitOption{axis: a, parts: []int{r / 2, r - r/2}}
}

// multisection realises the planner's tree on a brick map, in curve order.
//
// Every split is exact: the bricks of a node are ordered by the split axis,
// plane after plane, each plane in serpentine rows running along its shorter
// axis (and every other plane reversed, so consecutive bricks are always face
// neighbours); the ordered list is then cut where the weight placed so far
// reaches the share of the ranks placed so far. A child is thus a run of
// whole planes plus a partial plane (whole rows and one partial row) at each
// end: exact balance costs one short step of surface per split, and rounding
// errors never pile up in the last leaf of a subtree.
type multisection struct {
	m     *brickMap
	plan  *planner
	mean  float64 // weight per rank
	count bool    // balance brick counts instead of weight (all weights zero)

	planMu sync.Mutex    // guards plan (its memo) between goroutines
	sem    chan struct{} // bounds the goroutines building subtrees
	wg     sync.WaitGroup
}

// parallelBricks is the size of a subtree worth a goroutine of its own.
const parallelBricks = 1 << 16

// run builds the whole tree over bricks and waits for it.
func (ms *multisection) run(bricks []uint64, bb Box, full [3]bool, ranks int) {
	ms.sem = make(chan struct{}, runtime.GOMAXPROCS(0)-1)
	ms.build(bricks, bb, full, ranks, [3]float64{}, 0, 0, nil)
	ms.wg.Wait()
}

// Bricks travel through the recursion as packed coordinates (21 bits per
// axis), so ordering and bounding them needs no division.
func pack(x, y, z int) uint64 { return uint64(x) | uint64(y)<<21 | uint64(z)<<42 }

func unpack(p uint64) (x, y, z int) {
	const m = 1<<21 - 1
	return int(p & m), int(p >> 21 & m), int(p >> 42 & m)
}

// coord is coordinate a of a packed brick.
func coord(p uint64, a int) int { return int(p >> (21 * a) & (1<<21 - 1)) }

func (ms *multisection) weight(p uint64) float64 {
	if ms.count {
		return 1
	}
	x, y, z := unpack(p)
	return ms.m.weight(ms.m.index(x, y, z))
}

// build places ranks next, next+1, ... (r of them) on the bricks, which it
// reorders in place; done is the weight placed before them along the curve
// and entry the point the curve comes from. scratch is reused for ordering.
// Siblings are independent once their cuts are known, so large ones are
// built by other goroutines.
func (ms *multisection) build(bricks []uint64, bb Box, full [3]bool, r int, entry [3]float64, next int32, done float64, scratch []uint64) []uint64 {
	if r == 1 {
		for _, p := range bricks {
			x, y, z := unpack(p)
			ms.m.owner[ms.m.index(x, y, z)] = next
		}
		return scratch
	}
	var d [3]float64
	var centre [3]float64
	for a := range 3 {
		d[a] = float64(ms.m.cellBox(bb).Size(a))
		centre[a] = float64(bb.Lo[a]+bb.Hi[a]) / 2
	}
	ms.planMu.Lock()
	opt, _ := ms.plan.best(d, full, r)
	ms.planMu.Unlock()
	a := opt.axis
	scratch = ms.order(bricks, bb, a, entry[a] > centre[a], scratch)
	cuts, dones := ms.cut(bricks, opt.parts, next, done)
	cf := full
	cf[a] = false
	// Each child enters where the previous one's bricks end. Read them all
	// before any child is handed to a goroutine that reorders its bricks.
	entries := make([][3]float64, len(opt.parts))
	entries[0] = entry
	for i := 1; i < len(opt.parts); i++ {
		x, y, z := unpack(bricks[cuts[i]-1])
		entries[i] = [3]float64{float64(x), float64(y), float64(z)}
	}
	for i, n := range opt.parts {
		child := bricks[cuts[i]:cuts[i+1]]
		// The child spans the planes of its first and last brick along a;
		// across a, the parent's extent bounds it.
		cb := bb
		lo, hi := coord(child[0], a), coord(child[len(child)-1], a)
		cb.Lo[a], cb.Hi[a] = min(lo, hi), max(lo, hi)+1
		e := entries[i]
		first, before := next, dones[i]
		next += int32(n)
		if len(child) >= parallelBricks {
			select {
			case ms.sem <- struct{}{}:
				ms.wg.Add(1)
				go func() {
					defer ms.wg.Done()
					ms.build(child, cb, cf, n, e, first, before, nil)
					<-ms.sem
				}()
				continue
			default:
			}
		}
		scratch = ms.build(child, cb, cf, n, e, first, before, scratch)
	}
	return scratch
}

// order sorts bricks along axis a (descending when reverse), each plane in
// serpentine rows along its shorter axis, alternate planes reversed.
func (ms *multisection) order(bricks []uint64, bb Box, a int, reverse bool, scratch []uint64) []uint64 {
	u, v := (a+1)%3, (a+2)%3
	if bb.Size(u) > bb.Size(v) {
		u, v = v, u
	}
	eu, ev, ea := bb.Size(u), bb.Size(v), bb.Size(a)
	vol := eu * ev * ea
	if cap(scratch) < vol {
		scratch = make([]uint64, vol)
	}
	const empty = ^uint64(0)
	slot := scratch[:vol]
	for i := range slot {
		slot[i] = empty
	}
	plane := eu * ev
	for _, b := range bricks {
		x, y, z := unpack(b)
		p := [3]int{x, y, z}
		pa, pv, pu := p[a]-bb.Lo[a], p[v]-bb.Lo[v], p[u]-bb.Lo[u]
		if pv%2 == 1 {
			pu = eu - 1 - pu
		}
		in := pv*eu + pu
		if pa%2 == 1 {
			in = plane - 1 - in
		}
		k := pa*plane + in
		if reverse {
			k = vol - 1 - k
		}
		slot[k] = b
	}
	n := 0
	for _, b := range slot {
		if b != empty {
			bricks[n] = b
			n++
		}
	}
	return scratch
}

// cut returns the boundaries of the children in the ordered list (child i
// is bricks[cuts[i]:cuts[i+1]]) and the weight placed along the curve before
// each child. A boundary falls where the weight placed along the whole curve
// best matches the ranks placed; each child keeps at least as many bricks as
// ranks.
func (ms *multisection) cut(bricks []uint64, parts []int, next int32, done float64) (cuts []int, dones []float64) {
	k := len(parts)
	cuts = make([]int, k+1)
	dones = make([]float64, k)
	cuts[k] = len(bricks)
	rest := 0
	for _, n := range parts {
		rest += n
	}
	pos := 0
	cum := done
	ranks := int(next)
	dones[0] = done
	for i := 0; i < k-1; i++ {
		ranks += parts[i]
		rest -= parts[i]
		target := float64(ranks) * ms.mean
		lo := cuts[i] + parts[i] // at least parts[i] bricks in child i
		hi := len(bricks) - rest // and enough left for the others
		for pos < lo {
			cum += ms.weight(bricks[pos])
			pos++
		}
		for pos < hi {
			w := ms.weight(bricks[pos])
			if cum+w/2 > target {
				break
			}
			cum += w
			pos++
		}
		cuts[i+1] = pos
		dones[i+1] = cum
	}
	return cuts, dones
}
