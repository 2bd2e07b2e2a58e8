package shm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

// fillPattern writes a pattern that differs per message and per byte.
func fillPattern(p []byte, seed int) {
	for i := range p {
		p[i] = byte(i*31 + seed*7 + i>>8)
	}
}

// TestSingleCopy sends messages around the single-copy threshold, mixed
// with small ones that stream through a small ring (so descriptors land at
// every ring position, including its wrap-around), and checks every byte
// against the sender's pattern and that the large ones took the single copy.
func TestSingleCopy(t *testing.T) {
	const min = 4096
	nodes := joinInProcess(t, 2, Config{RingBytes: 4096, SingleCopyMin: min})
	sizes := []int{min, 8, min - 8, 1<<20 + 3, 24, min + 1, 3 << 20, 0, 5000, 16}
	const rounds = 7
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		l, bell := nodes[0].Links()[1], nodes[0].Doorbell()
		for r := range rounds {
			for i, n := range sizes {
				p := make([]byte, n)
				fillPattern(p, r*len(sizes)+i)
				if err := sendAll(l, bell, uint32(i), p); err != nil {
					t.Errorf("send %d bytes: %v", n, err)
					return
				}
				// The buffer is ours again: scribbling on it must not
				// change what the receiver gets.
				clear(p)
			}
		}
	})
	l, bell := nodes[1].Links()[0], nodes[1].Doorbell()
	buf := make([]byte, 3<<20)
	want := make([]byte, 3<<20)
	for r := range rounds {
		for i, n := range sizes {
			if ctx.Err() != nil {
				t.Fatal(ctx.Err())
			}
			tag, size, err := recvAll(l, bell, buf)
			if err != nil {
				t.Fatalf("round %d message %d: %v", r, i, err)
			}
			fillPattern(want[:n], r*len(sizes)+i)
			if tag != uint32(i) || size != n || !bytes.Equal(buf[:size], want[:n]) {
				t.Fatalf("round %d message %d: tag %d size %d (want %d, %d), content equal %v", r, i, tag, size, i, n, bytes.Equal(buf[:size], want[:n]))
			}
		}
	}
	wg.Wait()
	large := 0
	for _, n := range sizes {
		if n >= min {
			large++
		}
	}
	if got := nodes[0].links[1].out.cmaSent; got != uint64(large*rounds) {
		t.Errorf("%d messages went by single copy, want %d", got, large*rounds)
	}
}

// TestSingleCopyDisabled: with SingleCopyMin < 0 everything streams.
func TestSingleCopyDisabled(t *testing.T) {
	nodes := joinInProcess(t, 2, Config{SingleCopyMin: -1})
	p := make([]byte, 1<<20)
	fillPattern(p, 1)
	go sendAll(nodes[0].Links()[1], nodes[0].Doorbell(), 1, p)
	buf := make([]byte, 1<<20)
	if _, n, err := recvAll(nodes[1].Links()[0], nodes[1].Doorbell(), buf); err != nil || n != len(p) || !bytes.Equal(buf, p) {
		t.Fatalf("n %d err %v", n, err)
	}
	if got := nodes[0].links[1].out.cmaSent; got != 0 {
		t.Errorf("%d single copies with SingleCopyMin -1", got)
	}
}

// TestSingleCopyRepoint: a send that goes on from another buffer (what a
// cancelled send does) delivers that buffer's bytes, not the first one's,
// which the caller owns again.
func TestSingleCopyRepoint(t *testing.T) {
	nodes := joinInProcess(t, 2, Config{SingleCopyMin: 4096})
	ls, lr := nodes[0].Links()[1], nodes[1].Links()[0]
	orig := make([]byte, 64<<10)
	fillPattern(orig, 3)
	off, done, err := ls.SendSome(5, orig, 0)
	if err != nil || done || off != 0 {
		t.Fatalf("first SendSome: %d %v %v", off, done, err)
	}
	cp := bytes.Clone(orig)
	if _, _, err := ls.SendSome(5, cp, 0); err != nil {
		t.Fatal(err)
	}
	clear(orig) // ours again
	buf := make([]byte, len(cp))
	tag, n, err := recvAll(lr, nodes[1].Doorbell(), buf)
	if err != nil || tag != 5 || n != len(cp) || !bytes.Equal(buf, cp) {
		t.Fatalf("tag %d n %d err %v, content equal %v", tag, n, err, bytes.Equal(buf, cp))
	}
	// The sender learns the copy is done (the tail passed the record).
	if n, done, err := ls.SendSome(5, cp, 0); err != nil || !done || n != len(cp) {
		t.Fatalf("SendSome after the copy: %d %v %v", n, done, err)
	}
	// The link goes on normally (the sender waits for the receiver's copy).
	sent := make(chan error, 1)
	go func() { sent <- sendAll(ls, nodes[0].Doorbell(), 6, orig) }()
	if tag, _, err := recvAll(lr, nodes[1].Doorbell(), buf); err != nil || tag != 6 || !bytes.Equal(buf, orig) {
		t.Fatal(tag, err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// TestSingleCopyCloseRevokes: after the sender closes its link, a
// descriptor it published is never copied; the receiver learns the peer
// left instead of getting bytes of a buffer that was handed back.
func TestSingleCopyCloseRevokes(t *testing.T) {
	nodes := joinInProcess(t, 2, Config{SingleCopyMin: 4096})
	ls, lr := nodes[0].Links()[1], nodes[1].Links()[0]
	p := make([]byte, 64<<10)
	if _, done, err := ls.SendSome(1, p, 0); err != nil || done {
		t.Fatal(done, err)
	}
	ls.Close()
	tag, size, ok, err := lr.PeekHeader()
	if err != nil || !ok || tag != 1 || size != len(p) {
		t.Fatalf("peek: %d %d %v %v", tag, size, ok, err)
	}
	buf := make([]byte, len(p))
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := lr.RecvSome(buf, 0)
		if n != 0 {
			t.Fatalf("received %d bytes of a revoked descriptor", n)
		}
		if err == nil {
			err = lr.Check()
		}
		if errors.Is(err, transport.ErrPeerLost) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("peer not reported lost")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSingleCopyCorruptDescriptor: a descriptor naming an address the
// sender does not map, or a state word the receiver never wrote, is a
// protocol error, not a panic.
func TestSingleCopyCorruptDescriptor(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state uint32
		addr  uint64
	}{{"bad address", cmaPosted, 8}, {"bad state", 7, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := joinInProcess(t, 2, Config{SingleCopyMin: 4096})
			w, lr := &nodes[0].links[1].out, nodes[1].Links()[0]
			p := make([]byte, 8192)
			if _, err := w.cmaStart(9, p); err != nil {
				t.Fatal(err)
			}
			if tc.addr != 0 {
				var a [8]byte
				a[0] = byte(tc.addr)
				w.r.copyIn(w.cmaPos+cmaAddrOff, a[:])
			}
			w.r.stateWord(w.cmaPos).Store(tc.state)
			if _, _, ok, err := lr.PeekHeader(); !ok || err != nil {
				t.Fatal(ok, err)
			}
			_, err := lr.RecvSome(make([]byte, len(p)), 0)
			if !errors.Is(err, transport.ErrProtocol) {
				t.Fatalf("got %v, want ErrProtocol", err)
			}
		})
	}
}

// BenchmarkSingleCopy compares, per message size, streaming through the
// ring with the single copy, between two nodes of this process (a
// goroutine echoes): µs/half-rt and MB/s of a ping-pong. The crossover is
// how DefaultSingleCopyMin was chosen.
func BenchmarkSingleCopy(b *testing.B) {
	for _, size := range []int{4 << 10, 16 << 10, 32 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20} {
		for _, mode := range []string{"ring", "single"} {
			b.Run(fmt.Sprintf("%s/%s", sizeName(size), mode), func(b *testing.B) {
				cfg := Config{SingleCopyMin: -1}
				if mode == "single" {
					cfg.SingleCopyMin = 1
				}
				nodes := joinInProcess(b, 2, cfg)
				n := b.N
				echoDone := make(chan error, 1)
				go func() {
					l, bell := nodes[1].Links()[0], nodes[1].Doorbell()
					buf := make([]byte, size)
					for range n {
						_, m, err := recvAll(l, bell, buf)
						if err == nil {
							err = sendAll(l, bell, 1, buf[:m])
						}
						if err != nil {
							echoDone <- err
							return
						}
					}
					echoDone <- nil
				}()
				l, bell := nodes[0].Links()[1], nodes[0].Doorbell()
				p := make([]byte, size)
				buf := make([]byte, size)
				fillPattern(p, 1)
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for range n {
					if err := sendAll(l, bell, 1, p); err != nil {
						b.Fatal(err)
					}
					if _, _, err := recvAll(l, bell, buf); err != nil {
						b.Fatal(err)
					}
				}
				half := time.Since(start).Seconds() / float64(2*n)
				b.StopTimer()
				if err := <-echoDone; err != nil {
					b.Fatal(err)
				}
				if !bytes.Equal(buf, p) {
					b.Fatal("echo differs")
				}
				b.ReportMetric(half*1e6, "µs/half-rt")
				b.ReportMetric(float64(size)/half/1e6, "MB/s")
			})
		}
	}
}
