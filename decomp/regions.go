package decomp

import (
	"cmp"
	"fmt"
	"slices"
)

// Transfers lists every block of ghost cells that the halo spec h implies,
// for all ranks: for each receiving rank, each of its boxes and each ghost
// region the stencil includes, the pieces of it owned by each source rank
// (periodic wrap included, halos wider than a neighbour's part included).
// The order is deterministic, so sender and receiver agree on it without
// talking: by Dst, then Src, DstOwnBox, and DstBox.Lo (z, then y, then x).
//
// The ghost region of a box is the box grown by h.Lo() below and h.Hi()
// above, minus the box, cut into up to 26 blocks (below, inside or above the
// box per axis), of which the stencil keeps those off the box along at most
// 1 (Faces), 2 (Edges) or 3 (Corners) axes. Along a non-periodic axis the
// blocks are clipped to the grid; along a periodic axis a block wider than
// the grid is split into one piece per period image, so a rank may appear
// as its own source (Src == Dst) and one source cell may feed several ghost
// cells.
func (d *Decomposition) Transfers(h HaloSpec) ([]Transfer, error) {
	if err := d.checkHalo(h); err != nil {
		return nil, err
	}
	// One transfer per ghost block is the common case (a neighbour per
	// face, edge, corner): size for it to spare the copies of growth.
	out := make([]Transfer, 0, d.index.base[d.Ranks()]*int(h.Stencil))
	var sc regionScratch
	for dst := range d.Boxes {
		start := len(out)
		for i := range d.Boxes[dst] {
			out = d.appendRecvBox(out, &sc, h, dst, i)
		}
		sortTransfers(out[start:])
	}
	return out, nil
}

// RecvTransfers is the part of Transfers(h) with Dst == rank, in the same
// order. It costs time in proportion to rank's own ghost regions, not to
// the whole decomposition.
func (d *Decomposition) RecvTransfers(h HaloSpec, rank int) ([]Transfer, error) {
	if err := d.checkHalo(h); err != nil {
		return nil, err
	}
	if rank < 0 || rank >= d.Ranks() {
		return nil, fmt.Errorf("%w: rank %d of %d", ErrInvalid, rank, d.Ranks())
	}
	var out []Transfer
	var sc regionScratch
	for i := range d.Boxes[rank] {
		out = d.appendRecvBox(out, &sc, h, rank, i)
	}
	sortTransfers(out)
	return out, nil
}

// SendTransfers is the part of Transfers(h) with Src == rank, in the same
// order (so by Dst first). It finds the boxes whose ghost regions can reach
// rank's boxes with a range query over rank's boxes grown by the mirrored
// halo, and derives their transfers exactly as the receivers do.
func (d *Decomposition) SendTransfers(h HaloSpec, rank int) ([]Transfer, error) {
	if err := d.checkHalo(h); err != nil {
		return nil, err
	}
	if rank < 0 || rank >= d.Ranks() {
		return nil, fmt.Errorf("%w: rank %d of %d", ErrInvalid, rank, d.Ranks())
	}
	var sc regionScratch
	// A box D receives from box B only if a cell of D lies within the halo
	// widths of an image of B: D meets B grown by h.Hi() below and h.Lo()
	// above (mirrored), wrapped into the grid.
	type ownBox struct{ rank, box int }
	var cand []ownBox
	for _, b := range d.Boxes[rank] {
		reach := b.Grow(h.Hi(), h.Lo())
		sc.pieces = d.appendPieces(sc.pieces[:0], reach)
		for _, p := range sc.pieces {
			sc.hits = d.index.query(p.src, sc.hits[:0])
			for _, hit := range sc.hits {
				cand = append(cand, ownBox{hit.rank, hit.box})
			}
		}
	}
	slices.SortFunc(cand, func(x, y ownBox) int {
		return cmp.Or(cmp.Compare(x.rank, y.rank), cmp.Compare(x.box, y.box))
	})
	cand = slices.Compact(cand)
	var out, tmp []Transfer
	for _, c := range cand {
		tmp = d.appendRecvBox(tmp[:0], &sc, h, c.rank, c.box)
		for _, t := range tmp {
			if t.Src == rank {
				out = append(out, t)
			}
		}
	}
	sortTransfers(out)
	return out, nil
}

// maxImagesPerBox bounds how many periodic images one box's grown region
// may span (the product over axes), so that a halo far wider than a thin
// periodic grid is an error rather than an exhausted memory.
const maxImagesPerBox = 1 << 20

// checkHalo validates h and bounds the work its periodic wrap implies.
func (d *Decomposition) checkHalo(h HaloSpec) error {
	if err := h.Validate(); err != nil {
		return err
	}
	lo, hi := h.Lo(), h.Hi()
	g := d.Grid
	for r, bs := range d.Boxes {
		for i, b := range bs {
			images := 1
			for a := range 3 {
				if g.Periodic[a] {
					n := g.Dims[a]
					images *= floorDiv(b.Hi[a]+hi[a]-1, n) - floorDiv(b.Lo[a]-lo[a], n) + 1
				}
				if images > maxImagesPerBox {
					return fmt.Errorf("%w: halo %v of rank %d box %d %v spans more than %d periodic images of grid %v",
						ErrInvalid, h.Width, r, i, b, maxImagesPerBox, g)
				}
			}
		}
	}
	return nil
}

// regionScratch is reused across the boxes of one call.
type regionScratch struct {
	axis   [3][]interval
	pieces []piece
	hits   []boxHit
}

// An interval is [lo, hi) along one axis in unwrapped coordinates; adding
// shift (a whole number of periods) maps it into the grid.
type interval struct{ lo, hi, shift int }

// A piece is a block in unwrapped coordinates (dst) lying in one period
// image, and the same cells mapped into the grid (src).
type piece struct{ dst, src Box }

// axisPieces appends the pieces of [lo, hi) along an axis of n cells:
// clipped to [0, n) if the axis is not periodic, else cut at multiples of n
// with each piece's shift into [0, n).
func axisPieces(out []interval, lo, hi, n int, periodic bool) []interval {
	if !periodic {
		lo, hi = max(lo, 0), min(hi, n)
		if lo < hi {
			out = append(out, interval{lo, hi, 0})
		}
		return out
	}
	for k := floorDiv(lo, n); k*n < hi; k++ {
		pl, ph := max(lo, k*n), min(hi, (k+1)*n)
		if pl < ph {
			out = append(out, interval{pl, ph, -k * n})
		}
	}
	return out
}

// appendPieces appends the pieces of block b (unwrapped coordinates), each
// within one period image and inside the grid along non-periodic axes.
func (d *Decomposition) appendPieces(out []piece, b Box) []piece {
	var ax [3][]interval
	for a := range 3 {
		ax[a] = axisPieces(nil, b.Lo[a], b.Hi[a], d.Grid.Dims[a], d.Grid.Periodic[a])
	}
	for _, z := range ax[2] {
		for _, y := range ax[1] {
			for _, x := range ax[0] {
				dst := Box{Lo: [3]int{x.lo, y.lo, z.lo}, Hi: [3]int{x.hi, y.hi, z.hi}}
				out = append(out, piece{dst: dst, src: dst.Shift([3]int{x.shift, y.shift, z.shift})})
			}
		}
	}
	return out
}

// appendRecvBox appends the transfers into the ghost region of box i of
// rank dst, unsorted.
//
// Rather than one range query per ghost block, it queries the whole grown
// box once per period image it spans, then cuts each box found into the
// ghost blocks it meets: the same cells, in a few queries instead of 26.
func (d *Decomposition) appendRecvBox(out []Transfer, sc *regionScratch, h HaloSpec, dst, i int) []Transfer {
	b := d.Boxes[dst][i]
	grown := b.Grow(h.Lo(), h.Hi())
	// part[a][s] is the interval below (s=0), inside (1) or above (2) the
	// box along axis a, in unwrapped coordinates.
	var part [3][3][2]int
	for a := range 3 {
		part[a][0] = [2]int{grown.Lo[a], b.Lo[a]}
		part[a][1] = [2]int{b.Lo[a], b.Hi[a]}
		part[a][2] = [2]int{b.Hi[a], grown.Hi[a]}
	}
	// sideOf is the part of axis a holding coordinate x of the grown box.
	sideOf := func(a, x int) int {
		switch {
		case x < b.Lo[a]:
			return 0
		case x < b.Hi[a]:
			return 1
		}
		return 2
	}
	maxOff := h.Stencil.maxOffAxes()
	g := d.Grid
	for a := range 3 {
		sc.axis[a] = axisPieces(sc.axis[a][:0], grown.Lo[a], grown.Hi[a], g.Dims[a], g.Periodic[a])
	}
	for _, z := range sc.axis[2] {
		for _, y := range sc.axis[1] {
			for _, x := range sc.axis[0] {
				shift := [3]int{x.shift, y.shift, z.shift}
				back := [3]int{-x.shift, -y.shift, -z.shift}
				src := Box{Lo: [3]int{x.lo, y.lo, z.lo}, Hi: [3]int{x.hi, y.hi, z.hi}}.Shift(shift)
				sc.hits = d.index.query(src, sc.hits[:0])
				for _, hit := range sc.hits {
					u := hit.cells.Shift(back) // in dst's unwrapped coordinates
					var first, last [3]int
					for a := range 3 {
						first[a], last[a] = sideOf(a, u.Lo[a]), sideOf(a, u.Hi[a]-1)
					}
					for s2 := first[2]; s2 <= last[2]; s2++ {
						for s1 := first[1]; s1 <= last[1]; s1++ {
							for s0 := first[0]; s0 <= last[0]; s0++ {
								off := btoi(s0 != 1) + btoi(s1 != 1) + btoi(s2 != 1)
								if off == 0 || off > maxOff {
									continue // the box itself, or a block the stencil skips
								}
								side := [3]int{s0, s1, s2}
								blk := u
								for a := range 3 {
									blk.Lo[a] = max(blk.Lo[a], part[a][side[a]][0])
									blk.Hi[a] = min(blk.Hi[a], part[a][side[a]][1])
								}
								out = append(out, Transfer{
									Src: hit.rank, Dst: dst,
									SrcOwnBox: hit.box, DstOwnBox: i,
									SrcBox: blk.Shift(shift), DstBox: blk,
								})
							}
						}
					}
				}
			}
		}
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sortTransfers puts transfers in the documented order: Dst, Src,
// DstOwnBox, DstBox.Lo z, y, x. That key is unique (the ghost blocks of one
// box are disjoint in unwrapped coordinates); the rest only makes the
// order total whatever the input.
func sortTransfers(ts []Transfer) {
	slices.SortFunc(ts, compareTransfers)
}

func compareTransfers(a, b Transfer) int {
	if c := cmp.Or(
		cmp.Compare(a.Dst, b.Dst),
		cmp.Compare(a.Src, b.Src),
		cmp.Compare(a.DstOwnBox, b.DstOwnBox),
	); c != 0 {
		return c
	}
	if c := compareBoxes(a.DstBox, b.DstBox); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.SrcOwnBox, b.SrcOwnBox), compareBoxes(a.SrcBox, b.SrcBox))
}

// compareBoxes orders boxes by Lo (z, y, x), then Hi (z, y, x).
func compareBoxes(a, b Box) int {
	for _, v := range [...][2]int{
		{a.Lo[2], b.Lo[2]}, {a.Lo[1], b.Lo[1]}, {a.Lo[0], b.Lo[0]},
		{a.Hi[2], b.Hi[2]}, {a.Hi[1], b.Hi[1]}, {a.Hi[0], b.Hi[0]},
	} {
		if c := cmp.Compare(v[0], v[1]); c != 0 {
			return c
		}
	}
	return 0
}

// floorDiv is x/n rounded down, for n > 0.
func floorDiv(x, n int) int {
	q := x / n
	if x%n != 0 && x < 0 {
		q--
	}
	return q
}
