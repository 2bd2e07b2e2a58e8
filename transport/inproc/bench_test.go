package inproc_test

import (
	"context"
	"sync"
	"testing"

	"github.com/hilo-hpc/hilo/transport"
)

// BenchmarkChannelPingPong: one op is a slot sent 0 -> 1 and one sent
// 1 -> 0 through persistent channels (Claim, Commit, Acquire, Release).
func BenchmarkChannelPingPong(b *testing.B) {
	comms := newComms(b, 2)
	ctx := context.Background()
	type ends struct {
		out *transport.SendChannel
		in  *transport.RecvChannel
	}
	var e [2]ends
	for r, c := range comms {
		var err error
		if e[r].out, err = c.SendChannel(ctx, 1-r, 1, 4096, 2); err != nil {
			b.Fatal(err)
		}
		if e[r].in, err = c.RecvChannel(ctx, 1-r, 1, 4096, 2); err != nil {
			b.Fatal(err)
		}
	}
	send := func(ch *transport.SendChannel, v byte) {
		slot, err := ch.Claim(ctx)
		if err != nil {
			b.Error(err)
			return
		}
		slot[0] = v
		if err := ch.Commit(1024); err != nil {
			b.Error(err)
		}
	}
	recv := func(ch *transport.RecvChannel, v byte) {
		data, err := ch.Acquire(ctx)
		if err != nil {
			b.Error(err)
			return
		}
		if data[0] != v {
			b.Errorf("got %d, want %d", data[0], v)
		}
		if err := ch.Release(); err != nil {
			b.Error(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range b.N {
			recv(e[1].in, byte(i))
			send(e[1].out, byte(i))
		}
	})
	for i := range b.N {
		send(e[0].out, byte(i))
		recv(e[0].in, byte(i))
	}
	wg.Wait()
}

// BenchmarkSendRecvPingPong: one op is a 64-byte Send 0 -> 1 and back with
// the blocking Send and Recv.
func BenchmarkSendRecvPingPong(b *testing.B) {
	benchPingPong(b, 64)
}

// BenchmarkSendRecvPingPong1MiB streams 1 MiB each way through 64 KiB rings.
func BenchmarkSendRecvPingPong1MiB(b *testing.B) {
	benchPingPong(b, 1<<20)
}

func benchPingPong(b *testing.B, size int) {
	comms := newComms(b, 2)
	ctx := context.Background()
	b.SetBytes(int64(2 * size))
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for r, c := range comms {
		wg.Go(func() {
			buf := make([]byte, size)
			for range b.N {
				if r == 0 {
					if err := c.Send(ctx, 1, 1, buf); err != nil {
						b.Error(err)
						return
					}
					if _, err := c.Recv(ctx, 1, 2, buf); err != nil {
						b.Error(err)
						return
					}
				} else {
					if _, err := c.Recv(ctx, 0, 1, buf); err != nil {
						b.Error(err)
						return
					}
					if err := c.Send(ctx, 0, 2, buf); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkAllreduce8: one AllreduceFloat64 of 4 values over 8 ranks.
func BenchmarkAllreduce8(b *testing.B) {
	comms := newComms(b, 8)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range comms {
		wg.Go(func() {
			in, out := make([]float64, 4), make([]float64, 4)
			for range b.N {
				if err := c.AllreduceFloat64(ctx, transport.Sum, in, out); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
