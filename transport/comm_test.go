package transport_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// fakeLink never carries anything; its Check starts failing once dead is set.
type fakeLink struct {
	peer   int
	kind   string
	dead   atomic.Bool
	checks atomic.Int64
}

func (f *fakeLink) Peer() int    { return f.peer }
func (f *fakeLink) Kind() string { return f.kind }
func (f *fakeLink) SendSome(tag uint32, p []byte, off int) (int, bool, error) {
	return off, false, nil // never any room
}
func (f *fakeLink) PeekHeader() (uint32, int, bool, error) { return 0, 0, false, nil }
func (f *fakeLink) RecvSome(dst []byte, off int) (int, error) {
	return off, errors.New("fake: no message")
}
func (f *fakeLink) Persistent(ctx context.Context, id uint32, slotBytes, slots int, send bool) (transport.Channel, error) {
	return nil, errors.New("fake: no channels")
}
func (f *fakeLink) Check() error {
	f.checks.Add(1)
	if f.dead.Load() {
		return errors.New("fake: heartbeat stale") // not wrapping ErrPeerLost: the Comm adds it
	}
	return nil
}
func (f *fakeLink) Stats() transport.LinkStats { return transport.LinkStats{Kind: f.kind} }
func (f *fakeLink) Close() error               { return nil }

func newFakeComm(t *testing.T, size int, opts transport.Options) (*transport.Comm, []*fakeLink) {
	t.Helper()
	links := make([]transport.Link, size)
	fakes := make([]*fakeLink, size)
	for p := 1; p < size; p++ {
		fakes[p] = &fakeLink{peer: p, kind: "tcp"}
		links[p] = fakes[p]
	}
	c, err := transport.NewComm(0, size, links, transport.NewLocalDoorbell(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, fakes
}

// TestDeadPeerFailsWait: a Wait on a peer whose link reports it lost fails
// within 2 s with an error wrapping ErrPeerLost that names the peer, while
// requests to live peers stay pending.
func TestDeadPeerFailsWait(t *testing.T) {
	c, fakes := newFakeComm(t, 3, transport.Options{})
	recv := c.Irecv(2, 9, make([]byte, 4))
	send := c.Isend(2, 10, []byte("stuck"))
	other := c.Irecv(1, 9, make([]byte, 4))
	time.AfterFunc(100*time.Millisecond, func() { fakes[2].dead.Store(true) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := recv.Wait(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("noticed the dead peer after %v", d)
	}
	if !errors.Is(err, transport.ErrPeerLost) {
		t.Fatalf("err = %v, want ErrPeerLost", err)
	}
	var oe *transport.OpError
	if !errors.As(err, &oe) || oe.Peer != 2 || oe.Rank != 0 || oe.Tag != 9 || oe.Kind != "tcp" {
		t.Errorf("err = %v, want an OpError naming rank 0, peer 2, tag 9, tcp", err)
	}
	if !strings.Contains(err.Error(), "heartbeat stale") {
		t.Errorf("%q lost the link's reason", err)
	}
	if _, err := send.Wait(ctx); !errors.Is(err, transport.ErrPeerLost) {
		t.Errorf("pending send to the dead peer: %v", err)
	}
	if err := c.Send(ctx, 2, 1, nil); !errors.Is(err, transport.ErrPeerLost) {
		t.Errorf("new send to the dead peer: %v", err)
	}
	if fakes[1].checks.Load() != 0 {
		t.Errorf("the live peer's link, not waited on, was checked %d times", fakes[1].checks.Load())
	}
	if done, _, err := other.Test(); done {
		t.Errorf("receive from the live peer completed: %v", err)
	}
}

// TestDeadPeerFailsCollective: a barrier with a dead member fails with
// ErrPeerLost instead of hanging.
func TestDeadPeerFailsCollective(t *testing.T) {
	c, fakes := newFakeComm(t, 2, transport.Options{CheckInterval: 10 * time.Millisecond})
	fakes[1].dead.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := c.Barrier(ctx)
	if !errors.Is(err, transport.ErrPeerLost) {
		t.Fatalf("Barrier: %v, want ErrPeerLost", err)
	}
	if !strings.Contains(err.Error(), "barrier") || !strings.Contains(err.Error(), "peer 1") {
		t.Errorf("%q should name the barrier and peer 1", err)
	}
}

// TestCancelWithdrawsSend: a send that never started is withdrawn by Cancel.
func TestCancelWithdrawsSend(t *testing.T) {
	c, _ := newFakeComm(t, 2, transport.Options{})
	r := c.Isend(1, 3, []byte("x"))
	r.Cancel()
	done, _, err := r.Test()
	if !done || !errors.Is(err, context.Canceled) {
		t.Fatalf("after Cancel: done %v, err %v", done, err)
	}
}

// TestNewCommValidates rejects malformed link sets and options, and
// derives the node map from the link kinds.
func TestNewCommValidates(t *testing.T) {
	bell := transport.NewLocalDoorbell()
	shm := &fakeLink{peer: 1, kind: "shm"}
	tcp := &fakeLink{peer: 2, kind: "tcp"}
	for name, tc := range map[string]struct {
		rank  int
		links []transport.Link
		opts  transport.Options
	}{
		"rank out of range": {3, []transport.Link{nil, shm, tcp}, transport.Options{}},
		"missing link":      {0, []transport.Link{nil, nil, tcp}, transport.Options{}},
		"wrong peer":        {0, []transport.Link{nil, tcp, shm}, transport.Options{}},
		"link to self":      {1, []transport.Link{nil, shm, tcp}, transport.Options{}},
		"node rank range":   {0, []transport.Link{nil, shm, tcp}, transport.Options{NodeRanks: []int{0, 3}}},
		"node lacks self":   {0, []transport.Link{nil, shm, tcp}, transport.Options{NodeRanks: []int{1}}},
	} {
		if _, err := transport.NewComm(tc.rank, 3, tc.links, bell, tc.opts); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	c, err := transport.NewComm(0, 3, []transport.Link{nil, shm, tcp}, bell, transport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.NodeRanks(); len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Errorf("NodeRanks = %v, want [0 1]", got)
	}
	if c.LinkKind(2) != "tcp" || c.LinkKind(0) != "self" || c.LinkKind(5) != "" {
		t.Errorf("LinkKind: %q %q %q", c.LinkKind(2), c.LinkKind(0), c.LinkKind(5))
	}
	c2, err := transport.NewComm(0, 3, []transport.Link{nil, shm, tcp}, bell, transport.Options{NodeRanks: []int{2, 0, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c2.NodeRanks(); len(got) != 2 || got[0] != 0 || got[1] != 2 {
		t.Errorf("NodeRanks = %v, want [0 2]", got)
	}
}

// TestLocalDoorbell: Sleep returns at once if the sequence already moved,
// wakes on a Ring from another goroutine well before its timeout, and
// otherwise times out. Many rings racing one sleeper never lose a wake-up.
func TestLocalDoorbell(t *testing.T) {
	b := transport.NewLocalDoorbell()
	seq := b.Seq()
	b.Ring()
	start := time.Now()
	b.Sleep(seq, time.Second)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Sleep after a Ring took %v", d)
	}

	start = time.Now()
	b.Sleep(b.Seq(), 30*time.Millisecond)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("Sleep without a Ring returned after %v", d)
	}

	seq = b.Seq()
	time.AfterFunc(20*time.Millisecond, b.Ring)
	start = time.Now()
	b.Sleep(seq, 5*time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Sleep woke after %v on a Ring at 20ms", d)
	}

	// One Ring wakes every sleeper.
	for range 10 {
		seq := b.Seq()
		var sleepers sync.WaitGroup
		var late atomic.Int64
		for range 3 {
			sleepers.Go(func() {
				start := time.Now()
				b.Sleep(seq, 10*time.Second)
				if time.Since(start) > 5*time.Second {
					late.Add(1)
				}
			})
		}
		time.Sleep(5 * time.Millisecond) // let them park
		b.Ring()
		sleepers.Wait()
		if n := late.Load(); n > 0 {
			t.Fatalf("%d of 3 sleepers missed the Ring", n)
		}
	}

	// A ping-pong of 2000 hand-offs between two doorbells: a lost wake-up
	// would stall one side for its full 10 s sleep.
	a, c := transport.NewLocalDoorbell(), transport.NewLocalDoorbell()
	var turn atomic.Int64
	var wg sync.WaitGroup
	const hops = 2000
	start = time.Now()
	for side, bell := range []transport.Doorbell{a, c} {
		other := []transport.Doorbell{c, a}[side]
		wg.Go(func() {
			for i := int64(side); i < hops; i += 2 {
				for {
					s := bell.Seq()
					if turn.Load() == i {
						break
					}
					bell.Sleep(s, 10*time.Second)
				}
				turn.Add(1)
				other.Ring()
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("%d doorbell hand-offs took %v", hops, d)
	}
}

// TestConcurrentWaiters: two goroutines of one rank wait on different
// messages at once; both are woken when their message arrives, well before
// the check interval (a lost or single wake-up would cost 10 s).
func TestConcurrentWaiters(t *testing.T) {
	comms, err := inproc.New(2, inproc.CommOptions(transport.Options{CheckInterval: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	defer comms[0].Close()
	defer comms[1].Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for round := range 20 {
		var wg sync.WaitGroup
		var slow atomic.Int64
		for tag := range uint32(2) {
			wg.Go(func() {
				buf := make([]byte, 4)
				start := time.Now()
				if _, err := comms[0].Recv(ctx, 1, tag, buf); err != nil {
					t.Error(err)
				}
				if time.Since(start) > 5*time.Second {
					slow.Add(1)
				}
			})
		}
		time.Sleep(5 * time.Millisecond) // let both goroutines park
		for tag := range uint32(2) {
			if err := comms[1].Send(ctx, 0, tag, []byte("ping")); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
		if n := slow.Load(); n > 0 {
			t.Fatalf("round %d: %d waiters woke only after the check interval", round, n)
		}
	}
}
