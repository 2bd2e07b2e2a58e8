//go:build integration

// Integration of Comm with the shm and tcp links (run with
// go test -tags integration -run Integration ./transport/). Behind a build
// tag so that work in progress on those packages cannot break this one.

package transport_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/shm"
	"github.com/hilo-hpc/hilo/transport/tcp"
)

// exerciseComm: 8 MiB Isend/Irecv around a ring, 200 allreduces, a ring of
// persistent channels opened with OpenChannels, and a barrier.
func exerciseComm(ctx context.Context, t *testing.T, n int, links [][]transport.Link, bells []transport.Doorbell) {
	var wg sync.WaitGroup
	for r := range n {
		wg.Go(func() {
			c, err := transport.NewComm(r, n, links[r], bells[r], transport.Options{})
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			peer := (r + 1) % n
			from := (r + n - 1) % n
			out := make([]byte, 8<<20)
			for i := range out {
				out[i] = byte(i*7 + r)
			}
			in := make([]byte, 8<<20)
			s := c.Isend(peer, 1, out)
			rr := c.Irecv(from, 1, in)
			if err := c.WaitAll(ctx, s, rr); err != nil {
				t.Error(err)
				return
			}
			for i := range in {
				if in[i] != byte(i*7+from) {
					t.Errorf("rank %d byte %d", r, i)
					return
				}
			}
			sum := make([]float64, 1)
			for round := range 200 {
				if err := c.AllreduceFloat64(ctx, transport.Sum, []float64{float64(r + round)}, sum); err != nil {
					t.Error(err)
					return
				}
				if sum[0] != float64(n*(n-1)/2+n*round) {
					t.Errorf("sum %v", sum)
					return
				}
			}
			sends, recvs, err := c.OpenChannels(ctx, []transport.ChannelSpec{
				{Peer: peer, ID: 3, SlotBytes: 1024, Slots: 2, Send: true},
				{Peer: from, ID: 3, SlotBytes: 1024, Slots: 2},
			})
			if err != nil {
				t.Error(err)
				return
			}
			sc, rc := sends[0], recvs[1]
			for round := range 500 {
				slot, err := sc.Claim(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				slot[0] = byte(round)
				sc.Commit(10)
				data, err := rc.Acquire(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if data[0] != byte(round) || len(data) != 10 {
					t.Errorf("channel round %d: %v", round, data)
				}
				rc.Release()
			}
			if err := c.Barrier(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestIntegrationShm(t *testing.T) {
	const n = 3
	job := fmt.Sprintf("comm-integration-%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes := make([]*shm.Node, n)
	var wg sync.WaitGroup
	for r := range n {
		var peers []int
		for p := range n {
			if p != r {
				peers = append(peers, p)
			}
		}
		wg.Go(func() {
			var err error
			nodes[r], err = shm.Join(ctx, shm.Config{Rank: r, Peers: peers, JobID: job})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	links := make([][]transport.Link, n)
	bells := make([]transport.Doorbell, n)
	for r, nd := range nodes {
		links[r], bells[r] = nd.Links(), nd.Doorbell()
	}
	exerciseComm(ctx, t, n, links, bells)
}

func TestIntegrationTCP(t *testing.T) {
	const n = 3
	key := []byte("integration key")
	lns := make([]*tcp.Listener, n)
	addrs := map[int]string{}
	for r := range n {
		ln, err := tcp.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		lns[r] = ln
		addrs[r] = ln.Addr()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bells := make([]transport.Doorbell, n)
	links := make([][]transport.Link, n)
	var wg sync.WaitGroup
	for r := range n {
		bells[r] = transport.NewLocalDoorbell()
		peers := map[int]string{}
		for p := range n {
			if p != r {
				peers[p] = addrs[p]
			}
		}
		wg.Go(func() {
			var err error
			links[r], err = tcp.Connect(ctx, tcp.Config{Rank: r, Size: n, Listener: lns[r], Key: key, Peers: peers, Bell: bells[r]})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	exerciseComm(ctx, t, n, links, bells)
}
