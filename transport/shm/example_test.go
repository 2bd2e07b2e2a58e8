package shm_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hilo-hpc/hilo/transport/shm"
)

// Two ranks join (here in one process; normally each is its own process)
// and rank 0 sends rank 1 a message.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job := fmt.Sprintf("example-%d", time.Now().UnixNano())
	nodes := make([]*shm.Node, 2)
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := shm.Join(ctx, shm.Config{Rank: r, Peers: []int{1 - r}, JobID: job})
			if err != nil {
				panic(err)
			}
			nodes[r] = n
		}()
	}
	wg.Wait()
	defer nodes[0].Close()
	defer nodes[1].Close()

	msg := []byte("halo")
	if _, done, err := nodes[0].Links()[1].SendSome(42, msg, 0); err != nil || !done {
		panic(err)
	}

	in, bell := nodes[1].Links()[0], nodes[1].Doorbell()
	for {
		seq := bell.Seq()
		tag, size, ok, err := in.PeekHeader()
		if err != nil {
			panic(err)
		}
		if ok {
			buf := make([]byte, size)
			if _, err := in.RecvSome(buf, 0); err != nil {
				panic(err)
			}
			fmt.Printf("tag %d: %s over %s\n", tag, buf, in.Kind())
			break
		}
		bell.Sleep(seq, 50*time.Millisecond)
	}
	// Output: tag 42: halo over shm
}
