package tcp

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

// testBell is a Doorbell for tests: an atomic sequence plus a one-slot wake
// channel (a Comm-independent stand-in for the real doorbell).
type testBell struct {
	seq   atomic.Uint32
	wake  chan struct{}
	timer *time.Timer
}

func newTestBell() *testBell {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &testBell{wake: make(chan struct{}, 1), timer: t}
}

func (b *testBell) Seq() uint32 { return b.seq.Load() }

func (b *testBell) Ring() {
	b.seq.Add(1)
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Sleep spins briefly (yielding, so that a link's goroutines may run on
// this P), then blocks until a ring or max.
func (b *testBell) Sleep(seq uint32, max time.Duration) {
	for range spinRounds {
		if b.seq.Load() != seq {
			return
		}
		runtime.Gosched()
	}
	b.timer.Reset(max)
	defer b.timer.Stop()
	for b.seq.Load() == seq {
		select {
		case <-b.wake:
		case <-b.timer.C:
			return
		}
	}
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

// rank is one in-process rank of a test job.
type rank struct {
	id    int
	bell  transport.Doorbell
	links []transport.Link
	ln    *Listener
}

// startJob connects n in-process ranks over loopback (all pairs over TCP).
// mutate may change each rank's Config.
func startJob(t testing.TB, n int, mutate func(*Config)) []*rank {
	t.Helper()
	ranks := make([]*rank, n)
	addrs := make(map[int]string)
	for i := range ranks {
		ln, err := Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ranks[i] = &rank{id: i, bell: newBell(), ln: ln}
		addrs[i] = ln.Addr()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, r := range ranks {
		peers := make(map[int]string)
		for j, a := range addrs {
			if j != i {
				peers[j] = a
			}
		}
		cfg := Config{Rank: i, Size: n, Listener: r.ln, Peers: peers, Key: testKey, Bell: r.bell}
		if mutate != nil {
			mutate(&cfg)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.links, errs[i] = Connect(ctx, cfg)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: Connect: %v", i, err)
		}
	}
	t.Cleanup(func() {
		for _, r := range ranks {
			for _, l := range r.links {
				if l != nil {
					l.Close()
				}
			}
			r.ln.Close()
		}
	})
	return ranks
}

type msg struct {
	tag uint32
	p   []byte
}

// pump drives one link (the tiny progress loop of a Comm): it sends sends in
// order and receives nrecv messages, interleaving both, until done or ctx
// expires.
func pump(ctx context.Context, l transport.Link, bell transport.Doorbell, sends []msg, nrecv int) ([]msg, error) {
	var got []msg
	si, soff := 0, 0
	var cur []byte
	var curTag uint32
	have, roff := false, 0
	for si < len(sends) || len(got) < nrecv {
		seq := bell.Seq()
		progress := false
		if si < len(sends) {
			n, done, err := l.SendSome(sends[si].tag, sends[si].p, soff)
			if err != nil {
				return got, err
			}
			progress = n != soff || done
			soff = n
			if done {
				si, soff = si+1, 0
			}
		}
		if len(got) < nrecv {
			if !have {
				tag, size, ok, err := l.PeekHeader()
				if err != nil {
					return got, err
				}
				if ok {
					have, curTag, cur, roff, progress = true, tag, make([]byte, size), 0, true
				}
			}
			if have {
				n, err := l.RecvSome(cur, roff)
				if err != nil {
					return got, err
				}
				progress = progress || n != roff
				roff = n
				if roff == len(cur) {
					got = append(got, msg{curTag, cur})
					have, progress = false, true
				}
			}
		}
		if !progress {
			if err := ctx.Err(); err != nil {
				return got, fmt.Errorf("pump: %d/%d sent, %d/%d received: %w", si, len(sends), len(got), nrecv, err)
			}
			bell.Sleep(seq, 20*time.Millisecond)
		}
	}
	return got, nil
}

// pattern fills a message with bytes that depend on seed and position, the
// oracle the receiver checks against.
func pattern(seed uint64, n int) []byte {
	p := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	return p
}

var spinRounds = spinFromEnv()

func spinFromEnv() int {
	if n, err := strconv.Atoi(os.Getenv("HILO_TCP_TEST_SPIN")); err == nil {
		return n
	}
	return 20
}

// newBell returns the test doorbell: channel-based by default, the futex
// one with HILO_TCP_TEST_BELL=futex (the child processes inherit it).
func newBell() transport.Doorbell {
	if os.Getenv("HILO_TCP_TEST_BELL") == "futex" {
		return &futexBell{}
	}
	return newTestBell()
}
