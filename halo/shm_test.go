package halo_test

import (
	"context"
	"sync"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/shm"
)

// shmComms joins n ranks of one process over real shared memory (the ranks
// are goroutines here; the multi-process tests use processes).
func shmComms(ctx context.Context, n int, job string) ([]*transport.Comm, error) {
	nodes := make([]*shm.Node, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		var peers []int
		for p := range n {
			if p != r {
				peers = append(peers, p)
			}
		}
		wg.Go(func() {
			nodes[r], errs[r] = shm.Join(ctx, shm.Config{Rank: r, Peers: peers, JobID: job})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			for _, nd := range nodes {
				if nd != nil {
					nd.Close()
				}
			}
			return nil, err
		}
	}
	comms := make([]*transport.Comm, n)
	for r, nd := range nodes {
		c, err := transport.NewComm(r, n, nd.Links(), nd.Doorbell(), transport.Options{})
		if err != nil {
			return nil, err
		}
		comms[r] = c
	}
	return comms, nil
}
