package tcp_test

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/tcp"
)

// Two ranks of one job, here as goroutines of one process over loopback:
// each listens, publishes its address, connects with the shared job key, and
// rank 0 sends a message to rank 1.
func Example() {
	key := []byte("the job key, e.g. from HILO_JOB_KEY")
	ln0, _ := tcp.Listen("127.0.0.1:0")
	ln1, _ := tcp.Listen("127.0.0.1:0")
	defer ln0.Close()
	defer ln1.Close()
	addrs := map[int]string{0: ln0.Addr(), 1: ln1.Addr()}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	links := make([][]transport.Link, 2)
	done := make(chan error)
	for rank, ln := range []*tcp.Listener{ln0, ln1} {
		go func() {
			var err error
			links[rank], err = tcp.Connect(ctx, tcp.Config{
				Rank: rank, Size: 2, Listener: ln, Key: key,
				Peers: map[int]string{1 - rank: addrs[1-rank]},
			})
			done <- err
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			fmt.Println(err)
			return
		}
	}
	to1, from0 := links[0][1], links[1][0]
	defer to1.Close()
	defer from0.Close()

	// A real program lets a transport.Comm drive the links and sleep on a
	// Doorbell; this loop just polls.
	msg := []byte("halo")
	for off, sent := 0, false; !sent; runtime.Gosched() {
		off, sent, _ = to1.SendSome(42, msg, off)
	}
	var tag uint32
	var size int
	for ok := false; !ok; runtime.Gosched() {
		tag, size, ok, _ = from0.PeekHeader()
	}
	buf := make([]byte, size)
	for off := 0; off < size; runtime.Gosched() {
		off, _ = from0.RecvSome(buf, off)
	}
	fmt.Printf("rank 1 got tag %d: %q over %s\n", tag, buf, from0.Kind())
	// Output: rank 1 got tag 42: "halo" over tcp
}
