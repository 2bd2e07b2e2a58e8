package decomp

// Brute-force oracles over a per-cell owner array, independent of the
// box-based code under test.

// qualOwners paints every box of d into a per-cell array (x fastest) and
// reports a cell painted twice or never as -2 / -1.
func qualOwners(d *Decomposition) []int32 {
	n := d.Grid.Dims
	own := make([]int32, n[0]*n[1]*n[2])
	for i := range own {
		own[i] = -1
	}
	for r, bs := range d.Boxes {
		for _, b := range bs {
			for z := b.Lo[2]; z < b.Hi[2]; z++ {
				for y := b.Lo[1]; y < b.Hi[1]; y++ {
					for x := b.Lo[0]; x < b.Hi[0]; x++ {
						i := x + n[0]*(y+n[1]*z)
						if own[i] != -1 {
							own[i] = -2
						} else {
							own[i] = int32(r)
						}
					}
				}
			}
		}
	}
	return own
}

// qualCut counts unit faces between cells of different owners, once each,
// wrap faces included on periodic axes, in total and per rank.
func qualCut(g Grid, own []int32, ranks int) (total int, perRank []int) {
	n := g.Dims
	perRank = make([]int, ranks)
	for z := range n[2] {
		for y := range n[1] {
			for x := range n[0] {
				i := x + n[0]*(y+n[1]*z)
				p := [3]int{x, y, z}
				for a := range 3 {
					q := p
					q[a]++
					if q[a] == n[a] {
						if !g.Periodic[a] || n[a] == 1 {
							continue
						}
						q[a] = 0
					}
					j := q[0] + n[0]*(q[1]+n[1]*q[2])
					if own[i] != own[j] {
						total++
						perRank[own[i]]++
						perRank[own[j]]++
					}
				}
			}
		}
	}
	return total, perRank
}

// qualComponents counts face-connected components per rank (no wrap).
func qualComponents(g Grid, own []int32, ranks int) []int {
	n := g.Dims
	seen := make([]bool, len(own))
	comps := make([]int, ranks)
	stack := []int{}
	for s := range own {
		if seen[s] {
			continue
		}
		r := own[s]
		comps[r]++
		seen[s] = true
		stack = append(stack[:0], s)
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			x, y, z := i%n[0], i/n[0]%n[1], i/(n[0]*n[1])
			try := func(ok bool, j int) {
				if ok && !seen[j] && own[j] == r {
					seen[j] = true
					stack = append(stack, j)
				}
			}
			try(x > 0, i-1)
			try(x+1 < n[0], i+1)
			try(y > 0, i-n[0])
			try(y+1 < n[1], i+n[0])
			try(z > 0, i-n[0]*n[1])
			try(z+1 < n[2], i+n[0]*n[1])
		}
	}
	return comps
}
