package fdtd_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/hilo-hpc/hilo/solvers/fdtd"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// Two ranks (goroutines) run bench/fdtd's reference problem on 32³ cells for
// 100 steps and reproduce the C kernel's energy (reference.txt:
// 104.826402649545).
func Example() {
	ctx := context.Background()
	comms, err := inproc.New(2)
	if err != nil {
		fmt.Println(err)
		return
	}
	dims := [3]int{32, 32, 32}
	var wg sync.WaitGroup
	for _, comm := range comms {
		wg.Go(func() {
			s, err := fdtd.New[float64](ctx, comm, fdtd.Options{Dims: dims, Courant: 0.5, Sources: fdtd.RefSources(dims)})
			if err != nil {
				fmt.Println(err)
				return
			}
			defer s.Close()
			if err := s.Run(ctx, 100); err != nil {
				fmt.Println(err)
				return
			}
			e, err := s.Energy(ctx) // collective: every rank gets the same bits
			if err != nil {
				fmt.Println(err)
				return
			}
			if comm.Rank() == 0 {
				fmt.Printf("energy=%.15g\n", e.Total)
			}
		})
	}
	wg.Wait()
	for _, comm := range comms {
		comm.Close()
	}
	// Output:
	// energy=104.826402649545
}
