package fdtd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hilo-hpc/hilo/solvers/fdtd"
	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// A run of the reference problem (32³ cells, 100 steps) in two jobs: two
// ranks take 40 steps and checkpoint, then three ranks with another
// decomposition restore and take the other 60. The energy is that of the
// uninterrupted run (reference.txt: 104.826402649545), to the bit.
func ExampleSolver_Checkpoint() {
	dir, err := os.MkdirTemp("", "fdtd-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cavity.ckpt")
	dims := [3]int{32, 32, 32}
	opt := fdtd.Options{Dims: dims, Courant: 0.5, Sources: fdtd.RefSources(dims)}
	ctx := context.Background()

	err = inproc.Run(ctx, 2, func(ctx context.Context, comm *transport.Comm) error {
		s, err := fdtd.New[float64](ctx, comm, opt)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Run(ctx, 40); err != nil {
			return err
		}
		return s.Checkpoint(ctx, path) // collective: rank 0 writes the file
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	opt.Method = "block"
	err = inproc.Run(ctx, 3, func(ctx context.Context, comm *transport.Comm) error {
		s, err := fdtd.New[float64](ctx, comm, opt)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Restore(ctx, path); err != nil { // collective: every rank reads
			return err
		}
		if comm.Rank() == 0 {
			fmt.Println("restored at step", s.Steps())
		}
		if err := s.Run(ctx, 60); err != nil {
			return err
		}
		e, err := s.Energy(ctx)
		if err != nil {
			return err
		}
		if comm.Rank() == 0 {
			fmt.Printf("step %d: energy=%.15g\n", s.Steps(), e.Total)
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// restored at step 40
	// step 100: energy=104.826402649545
}
