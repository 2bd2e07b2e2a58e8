package halo_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// Two ranks as goroutines exchange the ghost layer of a field on a periodic
// grid; Verify checks every ghost cell against the global array.
func Example() {
	g := decomp.Grid{Dims: [3]int{8, 6, 4}, Periodic: [3]bool{true, true, true}}
	d, _ := decomp.Decompose(g, 2, decomp.Options{Method: decomp.MethodBlock})
	comms, _ := inproc.New(2)
	ctx := context.Background()
	out := make([]string, 2)
	var wg sync.WaitGroup
	for r, c := range comms {
		wg.Go(func() {
			defer c.Close()
			u, _ := halo.NewField[float64](d, r, decomp.UniformHalo(1, decomp.Faces), halo.Name("u"))
			plan, err := halo.NewPlan(ctx, c, halo.PlanOptions{}, u)
			if err != nil {
				out[r] = err.Error()
				return
			}
			defer plan.Close()
			// Each cell holds its global x coordinate.
			u.Fill(func(x, y, z int) float64 { return float64(x) })
			if err := plan.Exchange(ctx); err != nil {
				out[r] = err.Error()
				return
			}
			b := u.Blocks()[0]
			in := b.Interior()
			lo, hi := in.Lo[0]-1, in.Hi[0]
			out[r] = fmt.Sprintf("rank %d owns x in [%d,%d): ghost x=%d holds %v, ghost x=%d holds %v",
				r, in.Lo[0], in.Hi[0], lo, *b.At(lo, 0, 0), hi, *b.At(hi, 0, 0))
			// Verify overwrites the fields with codes and checks every ghost.
			out[r] += fmt.Sprintf("; verify: %v", halo.Verify(ctx, plan))
		})
	}
	wg.Wait()
	for _, s := range out {
		fmt.Println(s)
	}
	// Output:
	// rank 0 owns x in [0,4): ghost x=-1 holds 7, ghost x=4 holds 4; verify: <nil>
	// rank 1 owns x in [4,8): ghost x=3 holds 3, ghost x=8 holds 0; verify: <nil>
}

// A layout is pure geometry: which regions go to which peer.
func ExampleNewLayout() {
	g := decomp.Grid{Dims: [3]int{8, 6, 4}}
	d, _ := decomp.Decompose(g, 2, decomp.Options{Method: decomp.MethodBlock})
	u, _ := halo.NewField[float64](d, 0, decomp.UniformHalo(1, decomp.Faces))
	v, _ := halo.NewField[float32](d, 0, decomp.UniformHalo(2, decomp.Faces))
	lay, _ := halo.NewLayout(u, v)
	for _, p := range lay.Peers {
		fmt.Printf("to rank %d: %d bytes\n", p.Peer, p.SendBytes)
		for _, r := range p.Send {
			fmt.Printf("  field %d cells %v at offset %d\n", r.Field, r.Box, r.Offset)
		}
	}
	// Output:
	// to rank 1: 392 bytes
	//   field 0 cells [3,4)x[0,6)x[0,4) at offset 8
	//   field 1 cells [2,4)x[0,6)x[0,4) at offset 200
}
