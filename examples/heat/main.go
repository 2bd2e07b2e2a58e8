// Command heat diffuses heat in a cube by explicit Jacobi steps, each rank
// updating its part and exchanging ghost layers with a halo plan: start the
// exchange, update the cells that read no ghost, wait, update the rest.
// Started bare with -n N it runs itself as N processes; under hilo run,
// srun or mpirun it is one rank of theirs.
//
//	go run ./examples/heat -n 4 -size 64 -steps 100
package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/launch"
)

func main() {
	size := flag.Int("size", 64, "cells per axis")
	steps := flag.Int("steps", 100, "time steps")
	method := flag.String("method", decomp.MethodHilbert, "decomposition method")
	launch.Main(func(ctx context.Context, c *transport.Comm) error {
		flag.Parse()
		heat, err := run(ctx, c, *size, *steps, *method)
		if err == nil && c.Rank() == 0 {
			fmt.Printf("%d ranks, %d^3 cells, %d steps: total heat %.9f\n", c.Size(), *size, *steps, heat)
		}
		return err
	})
}

// run does steps steps on this rank and returns the total heat of all ranks.
func run(ctx context.Context, c *transport.Comm, size, steps int, method string) (float64, error) {
	g := decomp.Grid{Dims: [3]int{size, size, size}} // the outside stays at 0
	d, err := decomp.Decompose(g, c.Size(), decomp.Options{Method: method})
	if err != nil {
		return 0, err
	}
	var u [2]*halo.Field[float64] // this step's and the next step's values
	var plan [2]*halo.Plan
	for i := range u {
		if u[i], err = halo.NewField[float64](d, c.Rank(), decomp.UniformHalo(1, decomp.Faces), halo.Pad(8)); err != nil {
			return 0, err
		}
		if plan[i], err = halo.NewPlan(ctx, c, halo.PlanOptions{ChannelID: uint32(i + 1)}, u[i]); err != nil {
			return 0, err
		}
		defer plan[i].Close()
	}
	hot := func(v int) bool { return v >= size/4 && v < 3*size/4 }
	u[0].Fill(func(x, y, z int) float64 {
		if hot(x) && hot(y) && hot(z) {
			return 1
		}
		return 0
	})
	for step := range steps {
		src, dst := u[step%2], u[(step+1)%2]
		if err := plan[step%2].Start(ctx); err != nil {
			return 0, err
		}
		for i, b := range src.Blocks() { // cells whose neighbours are all owned
			update(dst.Blocks()[i], b, shrink(b.Interior()), decomp.Box{})
		}
		if err := plan[step%2].Wait(ctx); err != nil {
			return 0, err
		}
		for i, b := range src.Blocks() { // the surface, now that the ghosts are in
			update(dst.Blocks()[i], b, b.Interior(), shrink(b.Interior()))
		}
	}
	sum := []float64{0}
	for _, b := range u[steps%2].Blocks() {
		in := b.Interior()
		for z := in.Lo[2]; z < in.Hi[2]; z++ {
			for y := in.Lo[1]; y < in.Hi[1]; y++ {
				for x := in.Lo[0]; x < in.Hi[0]; x++ {
					sum[0] += *b.At(x, y, z)
				}
			}
		}
	}
	err = c.AllreduceFloat64(ctx, transport.Sum, sum, sum)
	return sum[0], err
}

func shrink(b decomp.Box) decomp.Box { return b.Grow([3]int{-1, -1, -1}, [3]int{-1, -1, -1}) }

// update does one explicit diffusion step from src into dst for the cells
// of box that are not in skip.
func update(dst, src *halo.Block[float64], box, skip decomp.Box) {
	sy, sz := src.Stride()
	u := src.Data
	for z := box.Lo[2]; z < box.Hi[2]; z++ {
		for y := box.Lo[1]; y < box.Hi[1]; y++ {
			inSkip := y >= skip.Lo[1] && y < skip.Hi[1] && z >= skip.Lo[2] && z < skip.Hi[2]
			for x := box.Lo[0]; x < box.Hi[0]; x++ {
				if inSkip && x == skip.Lo[0] && skip.Hi[0] > x {
					x = skip.Hi[0] - 1 // jump over the cells done before
					continue
				}
				i := src.Index(x, y, z)
				lap := u[i-1] + u[i+1] + u[i-sy] + u[i+sy] + u[i-sz] + u[i+sz] - 6*u[i]
				dst.Data[dst.Index(x, y, z)] = u[i] + 0.1*lap
			}
		}
	}
}
