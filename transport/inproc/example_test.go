package inproc_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/hilo-hpc/hilo/transport/inproc"
)

// Four goroutine ranks pass a token around a ring and meet at a barrier.
func ExampleNew() {
	comms, err := inproc.New(4)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	got := make([]string, len(comms))
	for _, c := range comms {
		wg.Go(func() {
			defer c.Close()
			right := (c.Rank() + 1) % c.Size()
			left := (c.Rank() + c.Size() - 1) % c.Size()
			buf := make([]byte, 32)
			r := c.Irecv(left, 1, buf)
			if err := c.Send(ctx, right, 1, fmt.Appendf(nil, "token from %d", c.Rank())); err != nil {
				panic(err)
			}
			n, err := r.Wait(ctx)
			if err != nil {
				panic(err)
			}
			got[c.Rank()] = string(buf[:n])
			if err := c.Barrier(ctx); err != nil {
				panic(err)
			}
		})
	}
	wg.Wait()
	for r, s := range got {
		fmt.Printf("rank %d: %s\n", r, s)
	}
	// Output:
	// rank 0: token from 3
	// rank 1: token from 0
	// rank 2: token from 1
	// rank 3: token from 2
}
