package decomp

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// ghostCell is one ghost cell of one box, in the receiver's unwrapped
// coordinates, with the box that owns its image in the grid.
type ghostCell struct {
	dst, dstBox int
	at          [3]int
	src, srcBox int
}

// bruteGhosts expands, cell by cell, the ghost layer of every box: each
// cell of the grown box that is not in the box, lies off it along at most
// as many axes as the stencil allows, and maps into the grid by wrap.
func bruteGhosts(d *Decomposition, o *cellOwners, h HaloSpec) map[ghostCell]int {
	maxOff := map[Stencil]int{Faces: 1, Edges: 2, Corners: 3}[h.Stencil]
	out := map[ghostCell]int{}
	for r, bs := range d.Boxes {
		for i, b := range bs {
			forCells(b.Grow(h.Lo(), h.Hi()), func(p [3]int) {
				off := 0
				for a := range 3 {
					if p[a] < b.Lo[a] || p[a] >= b.Hi[a] {
						off++
					}
				}
				if off == 0 || off > maxOff {
					return
				}
				q, ok := d.Grid.Wrap(p)
				if !ok {
					return
				}
				sr, sb := o.owner(q)
				out[ghostCell{r, i, p, sr, sb}]++
			})
		}
	}
	return out
}

// checkTransfers checks ts against the brute-force ghost cells: every
// transfer well formed, and the cells they cover exactly the ghost cells.
func checkTransfers(t *testing.T, d *Decomposition, o *cellOwners, h HaloSpec, ts []Transfer) {
	t.Helper()
	g := d.Grid
	got := map[ghostCell]int{}
	for k, tr := range ts {
		if tr.SrcBox.Empty() || tr.SrcBox.Dims() != tr.DstBox.Dims() {
			t.Fatalf("%v %+v: transfer %d %+v: empty or unequal boxes", g, h, k, tr)
		}
		if tr.SrcBox.Intersect(g.Box()) != tr.SrcBox {
			t.Fatalf("%v %+v: transfer %d %+v: source outside the grid", g, h, k, tr)
		}
		if own := d.Boxes[tr.Src][tr.SrcOwnBox]; own.Intersect(tr.SrcBox) != tr.SrcBox {
			t.Fatalf("%v %+v: transfer %d %+v: source not inside its box %v", g, h, k, tr, own)
		}
		for a := range 3 {
			shift := tr.DstBox.Lo[a] - tr.SrcBox.Lo[a]
			if shift%g.Dims[a] != 0 || (shift != 0 && !g.Periodic[a]) {
				t.Fatalf("%v %+v: transfer %d %+v: shift %d along %c is not whole periods", g, h, k, tr, shift, "xyz"[a])
			}
		}
		forCells(tr.DstBox, func(p [3]int) {
			got[ghostCell{tr.Dst, tr.DstOwnBox, p, tr.Src, tr.SrcOwnBox}]++
		})
	}
	want := bruteGhosts(d, o, h)
	if !maps.Equal(got, want) {
		for c, n := range got {
			if want[c] != n {
				t.Errorf("ghost %+v: %d from Transfers, %d by brute force", c, n, want[c])
			}
		}
		for c, n := range want {
			if got[c] != n {
				t.Errorf("ghost %+v: %d from Transfers, %d by brute force", c, got[c], n)
			}
		}
		t.Fatalf("%v boxes %v halo %+v: transfers %v", g, d.Boxes, h, ts)
	}
}

// checkOrder checks the documented order independently of sortTransfers:
// strictly increasing by Dst, Src, DstOwnBox, DstBox.Lo z, y, x.
func checkOrder(t *testing.T, ts []Transfer) {
	t.Helper()
	key := func(tr Transfer) [6]int {
		return [6]int{tr.Dst, tr.Src, tr.DstOwnBox, tr.DstBox.Lo[2], tr.DstBox.Lo[1], tr.DstBox.Lo[0]}
	}
	for k := 1; k < len(ts); k++ {
		a, b := key(ts[k-1]), key(ts[k])
		if slices.Compare(a[:], b[:]) >= 0 {
			t.Fatalf("transfers %d and %d out of order: %+v, %+v", k-1, k, ts[k-1], ts[k])
		}
	}
}

func randomHalo(rng *rand.Rand) HaloSpec {
	var h HaloSpec
	for a := range 3 {
		h.Width[a] = [2]int{rng.IntN(4), rng.IntN(4)}
	}
	h.Stencil = []Stencil{Faces, Edges, Corners}[rng.IntN(3)]
	return h
}

func TestTransfersMatchBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for trial := range 400 {
		d := randomDecomposition(t, rng, 9)
		o := bruteOwners(t, d)
		for range 4 {
			h := randomHalo(rng)
			ts, err := d.Transfers(h)
			if err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
			checkTransfers(t, d, o, h, ts)
			checkOrder(t, ts)
			again, _ := d.Transfers(h)
			if !slices.Equal(ts, again) {
				t.Fatalf("trial %d: Transfers not deterministic", trial)
			}
		}
	}
}

// TestTransfersThinPeriodic covers periodic axes one and two cells thick
// with halos up to three wide, wider than the grid: ghost blocks span
// several period images and boxes receive from themselves.
func TestTransfersThinPeriodic(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for trial := range 300 {
		g := Grid{Periodic: [3]bool{true, true, true}}
		for a := range 3 {
			g.Dims[a] = 1 + rng.IntN(3)
			g.Periodic[a] = rng.IntN(4) != 0
		}
		boxes := guillotineTiling(rng, g, 1+rng.IntN(4))
		d, err := New(g, dealBoxes(rng, boxes, 1+rng.IntN(3)), 0)
		if err != nil {
			t.Fatal(err)
		}
		o := bruteOwners(t, d)
		for _, s := range []Stencil{Faces, Edges, Corners} {
			h := UniformHalo(3, s)
			if trial%2 == 1 {
				h = randomHalo(rng)
				h.Stencil = s
			}
			ts, err := d.Transfers(h)
			if err != nil {
				t.Fatal(err)
			}
			checkTransfers(t, d, o, h, ts)
			checkOrder(t, ts)
		}
	}
}

// TestTransfersKnown pins a case worked by hand: a 4x1x1 periodic line,
// rank 0 owns x in [0,1) and [2,3), rank 1 the rest; face halo 1 along x.
func TestTransfersKnown(t *testing.T) {
	g := Grid{Dims: [3]int{4, 1, 1}, Periodic: [3]bool{true, false, false}}
	cell := func(x int) Box { return Box{Lo: [3]int{x, 0, 0}, Hi: [3]int{x + 1, 1, 1}} }
	d, err := New(g, [][]Box{{cell(0), cell(2)}, {cell(1), cell(3)}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	h := HaloSpec{Width: [3][2]int{{1, 1}}, Stencil: Faces}
	ts, err := d.Transfers(h)
	if err != nil {
		t.Fatal(err)
	}
	tr := func(src, dst, sb, db, sx, dx int) Transfer {
		return Transfer{Src: src, Dst: dst, SrcOwnBox: sb, DstOwnBox: db, SrcBox: cell(sx), DstBox: cell(dx)}
	}
	want := []Transfer{
		tr(1, 0, 1, 0, 3, -1), // rank 0's cell 0 reads cell 3 across the wrap
		tr(1, 0, 0, 0, 1, 1),
		tr(1, 0, 0, 1, 1, 1),
		tr(1, 0, 1, 1, 3, 3),
		tr(0, 1, 0, 0, 0, 0),
		tr(0, 1, 1, 0, 2, 2),
		tr(0, 1, 1, 1, 2, 2),
		tr(0, 1, 0, 1, 0, 4), // rank 1's cell 3 reads cell 0 across the wrap
	}
	if !slices.Equal(ts, want) {
		t.Fatalf("Transfers =\n%v\nwant\n%v", ts, want)
	}
}

// TestSendRecvTransfers checks that the per-rank views are exactly the
// filtered global list, in the same order.
func TestSendRecvTransfers(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for trial := range 200 {
		d := randomDecomposition(t, rng, 7)
		h := randomHalo(rng)
		all, err := d.Transfers(h)
		if err != nil {
			t.Fatal(err)
		}
		for r := range d.Ranks() {
			recv, err := d.RecvTransfers(h, r)
			if err != nil {
				t.Fatal(err)
			}
			send, err := d.SendTransfers(h, r)
			if err != nil {
				t.Fatal(err)
			}
			var wantRecv, wantSend []Transfer
			for _, tr := range all {
				if tr.Dst == r {
					wantRecv = append(wantRecv, tr)
				}
				if tr.Src == r {
					wantSend = append(wantSend, tr)
				}
			}
			if !slices.Equal(recv, wantRecv) {
				t.Fatalf("trial %d rank %d: RecvTransfers = %v, want %v", trial, r, recv, wantRecv)
			}
			if !slices.Equal(send, wantSend) {
				t.Fatalf("trial %d rank %d: SendTransfers = %v, want %v", trial, r, send, wantSend)
			}
		}
	}
}

func TestTransfersRejectBadHalo(t *testing.T) {
	d, err := New(Grid{Dims: [3]int{2, 2, 2}, Periodic: [3]bool{true, true, true}}, [][]Box{{{Hi: [3]int{2, 2, 2}}}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []HaloSpec{
		{Stencil: 7},
		{Width: [3][2]int{{-1, 0}}, Stencil: Faces},
		UniformHalo(1<<20, Corners), // ~2^20 images per axis
	} {
		if _, err := d.Transfers(h); !errors.Is(err, ErrInvalid) {
			t.Errorf("Transfers(%+v): err = %v, want ErrInvalid", h, err)
		}
		if _, err := d.Metrics(h, 1, 8); !errors.Is(err, ErrInvalid) {
			t.Errorf("Metrics(%+v): err = %v, want ErrInvalid", h, err)
		}
	}
	if _, err := d.RecvTransfers(UniformHalo(1, Faces), 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("RecvTransfers of rank 1 of 1: err = %v, want ErrInvalid", err)
	}
}

// cubeTiling is a g.Dims/side cube of boxes, one per rank, as in a
// Cartesian decomposition.
func cubeTiling(b *testing.B, n, side int) *Decomposition {
	g := Grid{Dims: [3]int{n, n, n}, Periodic: [3]bool{true, true, true}}
	d, err := New(g, regularTiling(g, [3]int{side, side, side}, 1), 0)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func BenchmarkTransfers(b *testing.B) {
	d := cubeTiling(b, 256, 16)
	for _, w := range []int{1, 3} {
		h := UniformHalo(w, Corners)
		b.Run(fmt.Sprintf("256^3-4096x16^3-w%d-corners", w), func(b *testing.B) {
			var n int
			loopWithCPU(b, func() {
				ts, err := d.Transfers(h)
				if err != nil {
					b.Fatal(err)
				}
				n = len(ts)
			})
			b.ReportMetric(float64(n), "transfers")
		})
	}
	b.Run("256^3-4096x16^3-w1-corners-recv1rank", func(b *testing.B) {
		h := UniformHalo(1, Corners)
		loopWithCPU(b, func() {
			if _, err := d.RecvTransfers(h, 1234); err != nil {
				b.Fatal(err)
			}
		})
	})
}
