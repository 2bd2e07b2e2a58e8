package transport_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

// pollLink delivers one queued message at a time; the test decides
// when a message becomes visible (ready). It implements transport.Poller
// with a spin budget of its own, and counts the calls.
type pollLink struct {
	peer   int
	budget time.Duration
	bell   transport.Doorbell

	mu     sync.Mutex
	queue  [][]byte // messages not yet consumed, tag 7
	ready  func() bool
	onRecv func() // called after a message has been consumed

	polls, peeks atomic.Int64
}

func (s *pollLink) Peer() int    { return s.peer }
func (s *pollLink) Kind() string { return "shm" }
func (s *pollLink) SendSome(tag uint32, p []byte, off int) (int, bool, error) {
	return len(p), true, nil
}
func (s *pollLink) PeekHeader() (uint32, int, bool, error) {
	s.peeks.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 || (s.ready != nil && !s.ready()) {
		return 0, 0, false, nil
	}
	return 7, len(s.queue[0]), true, nil
}
func (s *pollLink) RecvSome(dst []byte, off int) (int, error) {
	s.mu.Lock()
	if len(s.queue) == 0 || len(dst) != len(s.queue[0]) {
		s.mu.Unlock()
		return off, errors.New("script: RecvSome out of turn")
	}
	copy(dst, s.queue[0])
	s.queue = s.queue[1:]
	f := s.onRecv
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return len(dst), nil
}
func (s *pollLink) Persistent(ctx context.Context, id uint32, slotBytes, slots int, send bool) (transport.Channel, error) {
	return nil, errors.New("script: no channels")
}
func (s *pollLink) Check() error               { return nil }
func (s *pollLink) Stats() transport.LinkStats { return transport.LinkStats{Kind: "shm"} }
func (s *pollLink) Close() error               { return nil }
func (s *pollLink) SpinBudget() time.Duration  { return s.budget }
func (s *pollLink) PollNow()                   { s.polls.Add(1) }

// wrapped hides a link's optional interfaces, as a launcher's wrapper
// does, and passes them on through Unwrap.
type wrapped struct{ transport.Link }

func (w wrapped) Unwrap() transport.Link { return w.Link }

// TestSpinPollsThePeer: a Recv whose message becomes visible a few polls
// after it is posted is completed by the spin over that peer's link (found
// through a wrapper's Unwrap), with no sleep on the doorbell.
func TestSpinPollsThePeer(t *testing.T) {
	bell := transport.NewLocalDoorbell()
	l := &pollLink{peer: 1, budget: time.Second, queue: [][]byte{[]byte("hello")}}
	l.ready = func() bool { return l.peeks.Load() > 50 }
	c, err := transport.NewComm(0, 2, []transport.Link{nil, wrapped{l}}, bell, transport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 8)
	start := time.Now()
	n, err := c.Recv(context.Background(), 1, 7, buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("got %q, %v", buf[:n], err)
	}
	if l.polls.Load() == 0 {
		t.Error("PollNow was never called: the spin did not find the Poller behind Unwrap")
	}
	// Without the spin the Comm would sleep on the silent doorbell for the
	// check interval (50 ms) between polls: 50 polls would take seconds.
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Recv took %v", d)
	}
}

// TestSpinYieldsToDoorbell: while a Comm spins on one peer's link, a
// message from another peer rings the doorbell, and the Comm sweeps every
// link at once instead of spinning out its (long) budget. Here the awaited
// message only becomes visible after the other one has been pulled in.
func TestSpinYieldsToDoorbell(t *testing.T) {
	bell := transport.NewLocalDoorbell()
	var otherPulled atomic.Bool
	awaited := &pollLink{peer: 1, budget: 10 * time.Second, queue: [][]byte{[]byte("late")}}
	awaited.ready = otherPulled.Load
	other := &pollLink{peer: 2, queue: [][]byte{[]byte("early")}, onRecv: func() { otherPulled.Store(true) }}
	var otherReady atomic.Bool
	other.ready = otherReady.Load
	c, err := transport.NewComm(0, 3, []transport.Link{nil, awaited, other}, bell, transport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		for awaited.polls.Load() < 100 { // the Comm is spinning on peer 1
			time.Sleep(100 * time.Microsecond)
		}
		otherReady.Store(true)
		bell.Ring()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	buf := make([]byte, 8)
	n, err := c.Recv(ctx, 1, 7, buf)
	if err != nil || string(buf[:n]) != "late" {
		t.Fatalf("got %q, %v", buf[:n], err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Recv took %v: the spin ignored the doorbell", d)
	}
	// The early message waits as an unexpected one for its receive.
	if n, err := c.Recv(ctx, 2, 7, buf); err != nil || string(buf[:n]) != "early" {
		t.Fatalf("got %q, %v", buf[:n], err)
	}
}

// TestBlockingPathAllocatesNothing: blocking Send and Recv of a small
// message through a link that takes and delivers at once allocate nothing.
func TestBlockingPathAllocatesNothing(t *testing.T) {
	l := &pollLink{peer: 1, budget: time.Millisecond}
	c, err := transport.NewComm(0, 2, []transport.Link{nil, l}, transport.NewLocalDoorbell(), transport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	msg := []byte("12345678")
	buf := make([]byte, 8)
	backing := [][]byte{msg} // RecvSome reslices the queue: refill it from here
	allocs := testing.AllocsPerRun(200, func() {
		if err := c.Send(ctx, 1, 7, msg); err != nil {
			t.Fatal(err)
		}
		l.mu.Lock()
		l.queue = backing[:1]
		l.mu.Unlock()
		if n, err := c.Recv(ctx, 1, 7, buf); err != nil || n != 8 {
			t.Fatal(n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Send+Recv", allocs)
	}
}
