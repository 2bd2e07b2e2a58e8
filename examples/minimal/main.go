// Command minimal is the smallest complete halo exchange: decompose a grid,
// make a field with one ghost layer, exchange, check a ghost cell, verify.
//
//	go run ./examples/minimal -n 4
package main

import (
	"context"
	"fmt"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/launch"
)

func main() {
	launch.Main(func(ctx context.Context, comm *transport.Comm) error {
		g := decomp.Grid{Dims: [3]int{32, 32, 32}}
		d, err := decomp.Decompose(g, comm.Size(), decomp.Options{})
		if err != nil {
			return err
		}
		u, err := halo.NewField[float64](d, comm.Rank(), decomp.UniformHalo(1, decomp.Faces))
		if err != nil {
			return err
		}
		value := func(x, y, z int) float64 { return float64(x + 100*y + 10000*z) }
		u.Fill(value) // every owned cell
		plan, err := halo.NewPlan(ctx, comm, halo.PlanOptions{}, u)
		if err != nil {
			return err
		}
		defer plan.Close()
		if err := plan.Exchange(ctx); err != nil { // = Start (pack, post) + Wait (receive, unpack)
			return err
		}
		// The ghost cell just below this rank's first box along x, if inside
		// the grid, now holds the neighbour's value.
		b := u.Blocks()[0]
		lo := b.Interior().Lo
		if lo[0] > 0 {
			got, want := *b.At(lo[0]-1, lo[1], lo[2]), value(lo[0]-1, lo[1], lo[2])
			if got != want {
				return fmt.Errorf("ghost (%d,%d,%d) = %v, want %v", lo[0]-1, lo[1], lo[2], got, want)
			}
		}
		if err := halo.Verify(ctx, plan); err != nil { // checks every ghost cell
			return err
		}
		fmt.Printf("rank %d of %d: %d cells in %d boxes, halo verified\n",
			comm.Rank(), comm.Size(), d.Cells(comm.Rank()), len(d.Boxes[comm.Rank()]))
		return nil
	})
}
