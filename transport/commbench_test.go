//go:build integration

// Benchmarks of Comm's point-to-point path over the shm and tcp links, two
// ranks in one process (go test -tags integration -run NONE -bench Comm
// -benchmem ./transport/). Behind the integration tag like
// integration_test.go.

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

// pairComms builds the Comms of a 2-rank job over medium ("shm" or "tcp").
func pairComms(b *testing.B, medium string) [2]*transport.Comm {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var links [2][]transport.Link
	var bells [2]transport.Doorbell
	var wg sync.WaitGroup
	switch medium {
	case "shm":
		job := fmt.Sprintf("comm-bench-%d", time.Now().UnixNano())
		var nodes [2]*shm.Node
		for r := range 2 {
			wg.Go(func() {
				var err error
				nodes[r], err = shm.Join(ctx, shm.Config{Rank: r, Peers: []int{1 - r}, JobID: job})
				if err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
		for r, nd := range nodes {
			links[r], bells[r] = nd.Links()[:2], nd.Doorbell()
		}
	case "tcp":
		var lns [2]*tcp.Listener
		for r := range 2 {
			ln, err := tcp.Listen("127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { ln.Close() })
			lns[r] = ln
		}
		for r := range 2 {
			bells[r] = transport.NewLocalDoorbell()
			wg.Go(func() {
				var err error
				links[r], err = tcp.Connect(ctx, tcp.Config{Rank: r, Size: 2, Listener: lns[r], Key: []byte("bench key"),
					Peers: map[int]string{1 - r: lns[1-r].Addr()}, Bell: bells[r]})
				if err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
	}
	var comms [2]*transport.Comm
	for r := range 2 {
		c, err := transport.NewComm(r, 2, links[r], bells[r], transport.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		comms[r] = c
	}
	return comms
}

// BenchmarkCommPingPong: blocking Send then Recv on rank 0, the echo on
// rank 1 (a goroutine); µs/half-rt is the one-way latency.
func BenchmarkCommPingPong(b *testing.B) {
	for _, medium := range []string{"shm", "tcp"} {
		for _, size := range []int{8, 1024, 64 << 10, 1 << 20} {
			b.Run(fmt.Sprintf("%s/%d", medium, size), func(b *testing.B) {
				benchPingPong(b, medium, size, false)
			})
		}
		b.Run(fmt.Sprintf("%s/8/nonblocking", medium), func(b *testing.B) {
			benchPingPong(b, medium, 8, true)
		})
	}
}

func benchPingPong(b *testing.B, medium string, size int, nonBlocking bool) {
	comms := pairComms(b, medium)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := b.N
	echoErr := make(chan error, 1)
	go func() {
		c := comms[1]
		buf := make([]byte, size)
		for range n + 1 {
			m, err := c.Recv(ctx, 0, 1, buf)
			if err == nil {
				err = c.Send(ctx, 0, 1, buf[:m])
			}
			if err != nil {
				echoErr <- err
				return
			}
		}
		echoErr <- nil
	}()
	c := comms[0]
	out := make([]byte, size)
	in := make([]byte, size)
	for i := range out {
		out[i] = byte(i * 7)
	}
	round := func() {
		if nonBlocking {
			s := c.Isend(1, 1, out)
			r := c.Irecv(1, 1, in)
			if err := c.WaitAll(ctx, s, r); err != nil {
				b.Fatal(err)
			}
			return
		}
		if err := c.Send(ctx, 1, 1, out); err != nil {
			b.Fatal(err)
		}
		if m, err := c.Recv(ctx, 1, 1, in); err != nil || m != size {
			b.Fatal(m, err)
		}
	}
	round() // warm up
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range n {
		round()
	}
	half := time.Since(start).Seconds() / float64(2*n)
	b.StopTimer()
	if err := <-echoErr; err != nil {
		b.Fatal(err)
	}
	for i := range in {
		if in[i] != byte(i*7) {
			b.Fatalf("byte %d of the echo differs", i)
		}
	}
	b.ReportMetric(half*1e6, "µs/half-rt")
	b.ReportMetric(float64(size)/half/1e6, "MB/s")
}

// BenchmarkCommPathCost measures the CPU cost of the point-to-point path
// without waiting: one goroutine sends from rank 0, receives on rank 1,
// sends back and receives on rank 0 (the message is always there when the
// receive is posted), so that the figure does not depend on how quickly the
// other core sees a store (which varies a lot on a shared VM).
func BenchmarkCommPathCost(b *testing.B) {
	for _, medium := range []string{"shm", "tcp"} {
		for _, size := range []int{8, 1024} {
			b.Run(fmt.Sprintf("%s/%d", medium, size), func(b *testing.B) {
				comms := pairComms(b, medium)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				out := make([]byte, size)
				in := make([]byte, size)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					for r := range 2 {
						if err := comms[r].Send(ctx, 1-r, 1, out); err != nil {
							b.Fatal(err)
						}
						if m, err := comms[1-r].Recv(ctx, r, 1, in); err != nil || m != size {
							b.Fatal(m, err)
						}
					}
				}
			})
		}
	}
}
