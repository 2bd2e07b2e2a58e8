package halo_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/transport"
)

const jacobiSteps = 6

func initial(x, y, z int) float64 {
	return float64((x*7919+y*104729+z*1299709)%1000) / 997
}

// jacobiCell is the one update rule both versions use, term by term in the
// same order, so that they agree bitwise.
func jacobiCell(c, xm, xp, ym, yp, zm, zp float64) float64 {
	return (c*0.25 + xm + xp + ym + yp + zm + zp) * (1.0 / 6.25)
}

// serialJacobi is the oracle: a plain global array, neighbours wrapped on
// periodic axes and zero outside the grid on the others.
func serialJacobi(g decomp.Grid, steps int) []float64 {
	n := g.Dims
	u := make([]float64, g.Cells())
	v := make([]float64, g.Cells())
	for z := range n[2] {
		for y := range n[1] {
			for x := range n[0] {
				u[x+n[0]*(y+n[1]*z)] = initial(x, y, z)
			}
		}
	}
	at := func(a []float64, x, y, z int) float64 {
		q, ok := g.Wrap([3]int{x, y, z})
		if !ok {
			return 0
		}
		return a[q[0]+n[0]*(q[1]+n[1]*q[2])]
	}
	for range steps {
		for z := range n[2] {
			for y := range n[1] {
				for x := range n[0] {
					v[x+n[0]*(y+n[1]*z)] = jacobiCell(at(u, x, y, z),
						at(u, x-1, y, z), at(u, x+1, y, z), at(u, x, y-1, z), at(u, x, y+1, z), at(u, x, y, z-1), at(u, x, y, z+1))
				}
			}
		}
		u, v = v, u
	}
	return u
}

// updateBlock applies the rule to the cells of box (inside the block's
// interior) reading src and writing dst; deep says which cells to skip.
func updateBlock(dst, src *halo.Block[float64], box, skip decomp.Box) {
	sy, sz := src.Stride()
	s, d := src.Data, dst.Data
	for z := box.Lo[2]; z < box.Hi[2]; z++ {
		for y := box.Lo[1]; y < box.Hi[1]; y++ {
			for x := box.Lo[0]; x < box.Hi[0]; x++ {
				if skip.Contains([3]int{x, y, z}) {
					continue
				}
				i := src.Index(x, y, z)
				d[dst.Index(x, y, z)] = jacobiCell(s[i], s[i-1], s[i+1], s[i-sy], s[i+sy], s[i-sz], s[i+sz])
			}
		}
	}
}

// distributedJacobi runs the iteration on this rank, overlapping the
// exchange with the update of the cells that read no ghost, and writes its
// cells into global.
func distributedJacobi(ctx context.Context, c *transport.Comm, d *decomp.Decomposition, steps int, global []float64) error {
	spec := decomp.UniformHalo(1, decomp.Faces)
	u, err := halo.NewField[float64](d, c.Rank(), spec, halo.Pad(4))
	if err != nil {
		return err
	}
	v, err := halo.NewField[float64](d, c.Rank(), spec)
	if err != nil {
		return err
	}
	pu, err := halo.NewPlan(ctx, c, halo.PlanOptions{ChannelID: 1}, u)
	if err != nil {
		return err
	}
	defer pu.Close()
	pv, err := halo.NewPlan(ctx, c, halo.PlanOptions{ChannelID: 2}, v)
	if err != nil {
		return err
	}
	defer pv.Close()
	u.Fill(initial)
	src, dst, plan := u, v, pu
	for range steps {
		if err := plan.Start(ctx); err != nil {
			return err
		}
		for i, b := range src.Blocks() {
			in := b.Interior()
			updateBlock(dst.Blocks()[i], b, in.Grow([3]int{-1, -1, -1}, [3]int{-1, -1, -1}), decomp.Box{})
		}
		if err := plan.Wait(ctx); err != nil {
			return err
		}
		for i, b := range src.Blocks() {
			in := b.Interior()
			updateBlock(dst.Blocks()[i], b, in, in.Grow([3]int{-1, -1, -1}, [3]int{-1, -1, -1}))
		}
		src, dst = dst, src
		if plan == pu {
			plan = pv
		} else {
			plan = pu
		}
	}
	n := d.Grid.Dims
	for _, b := range src.Blocks() {
		in := b.Interior()
		for z := in.Lo[2]; z < in.Hi[2]; z++ {
			for y := in.Lo[1]; y < in.Hi[1]; y++ {
				for x := in.Lo[0]; x < in.Hi[0]; x++ {
					global[x+n[0]*(y+n[1]*z)] = b.Data[b.Index(x, y, z)]
				}
			}
		}
	}
	return nil
}

// TestJacobiBitwise: a 7-point Jacobi iteration run on P ranks with every
// method equals, bit for bit, the plain serial iteration.
func TestJacobiBitwise(t *testing.T) {
	grids := []decomp.Grid{
		{Dims: [3]int{12, 10, 9}},
		{Dims: [3]int{12, 10, 9}, Periodic: [3]bool{true, true, true}},
		{Dims: [3]int{11, 7, 2}, Periodic: [3]bool{false, true, true}},
	}
	for _, g := range grids {
		want := serialJacobi(g, jacobiSteps)
		for _, m := range decomp.Methods() {
			for _, p := range []int{1, 2, 3, 5, 7, 8, 12, 13, 16, 27} {
				t.Run(fmt.Sprintf("%v/%s/P%d", g, m, p), func(t *testing.T) {
					d, err := decomp.Decompose(g, p, decomp.Options{Method: m})
					if err != nil {
						t.Fatal(err)
					}
					got := make([]float64, g.Cells())
					for i := range got {
						got[i] = math.NaN()
					}
					err = runRanks(t, p, func(ctx context.Context, c *transport.Comm) error {
						return distributedJacobi(ctx, c, d, jacobiSteps, got)
					})
					if err != nil {
						t.Fatal(err)
					}
					for i := range want {
						if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
							t.Fatalf("cell %d (x=%d y=%d z=%d): got %v, want %v", i,
								i%g.Dims[0], i/g.Dims[0]%g.Dims[1], i/g.Dims[0]/g.Dims[1], got[i], want[i])
						}
					}
				})
			}
		}
	}
}
