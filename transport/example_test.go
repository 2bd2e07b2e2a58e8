package transport_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// Two ranks (goroutines here; processes with shm or tcp links) exchange a
// message and sum a value over all ranks.
func Example() {
	comms, err := inproc.New(2)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	results := make([]string, 2)
	for _, c := range comms {
		wg.Go(func() {
			defer c.Close()
			if c.Rank() == 0 {
				if err := c.Send(ctx, 1, 42, []byte("hello from rank 0")); err != nil {
					panic(err)
				}
			} else {
				buf := make([]byte, 64)
				n, err := c.Recv(ctx, 0, 42, buf)
				if err != nil {
					panic(err)
				}
				results[1] = fmt.Sprintf("rank 1 got %q", buf[:n])
			}
			sum := make([]float64, 1)
			if err := c.AllreduceFloat64(ctx, transport.Sum, []float64{float64(c.Rank()) + 1.5}, sum); err != nil {
				panic(err)
			}
			if c.Rank() == 0 {
				results[0] = fmt.Sprintf("sum over ranks: %v", sum[0])
			}
		})
	}
	wg.Wait()
	fmt.Println(results[1])
	fmt.Println(results[0])
	// Output:
	// rank 1 got "hello from rank 0"
	// sum over ranks: 4
}

// A persistent channel: the sender packs into a slot the receiver reads in
// place.
func ExampleComm_SendChannel() {
	comms, err := inproc.New(2)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() {
		ch, err := comms[0].SendChannel(ctx, 1, 1, 64, 2)
		if err != nil {
			panic(err)
		}
		for step := range 3 {
			slot, err := ch.Claim(ctx)
			if err != nil {
				panic(err)
			}
			n := copy(slot, fmt.Sprintf("halo of step %d", step))
			if err := ch.Commit(n); err != nil {
				panic(err)
			}
		}
	})
	ch, err := comms[1].RecvChannel(ctx, 0, 1, 64, 2)
	if err != nil {
		panic(err)
	}
	for range 3 {
		data, err := ch.Acquire(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Println(string(data))
		if err := ch.Release(); err != nil {
			panic(err)
		}
	}
	wg.Wait()
	// Output:
	// halo of step 0
	// halo of step 1
	// halo of step 2
}
