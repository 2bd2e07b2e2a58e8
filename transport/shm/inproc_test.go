package shm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

// joinInProcess joins n ranks inside this process (one Node each), which
// lets the race detector see both ends of every link.
func joinInProcess(t testing.TB, n int, cfg Config) []*Node {
	t.Helper()
	job := fmt.Sprintf("inproc-%s-%d", t.Name(), time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nodes := make([]*Node, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		var peers []int
		for p := range n {
			if p != r {
				peers = append(peers, p)
			}
		}
		c := cfg
		c.Rank, c.Peers, c.JobID = r, peers, job
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[r], errs[r] = Join(ctx, c)
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	t.Cleanup(func() {
		for _, nd := range nodes {
			nd.Close()
		}
	})
	return nodes
}

// TestInProcessExchange runs the all-to-all plan between three nodes in
// goroutines of one process, so -race watches the rings and doorbells.
func TestInProcessExchange(t *testing.T) {
	nodes := joinInProcess(t, 3, Config{RingBytes: testRingBytes})
	msgs := plan()
	if testing.Short() {
		msgs = msgs[:100]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for r, nd := range nodes {
		var peers []int
		for p := range nodes {
			if p != r {
				peers = append(peers, p)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := exchange(ctx, nd, r, peers, msgs); err != nil {
				t.Errorf("rank %d: %v", r, err)
			}
		}()
	}
	wg.Wait()
	for r, nd := range nodes {
		if got := len(nd.Links()); got != 3 || nd.Links()[r] != nil {
			t.Errorf("rank %d: Links() has %d entries, self %v", r, got, nd.Links()[r])
		}
		for p, l := range nd.Links() {
			if p != r && (l.Peer() != p || l.Kind() != "shm") {
				t.Errorf("rank %d: link %d says peer %d kind %q", r, p, l.Peer(), l.Kind())
			}
		}
	}
}

// TestJoinValidation checks the configuration errors.
func TestJoinValidation(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []Config{
		{Rank: -1, JobID: "x"},
		{Rank: 0, JobID: ""},
		{Rank: 0, Peers: []int{0}, JobID: "x"},
		{Rank: 0, Peers: []int{1, 1}, JobID: "x"},
		{Rank: 0, Peers: []int{-2}, JobID: "x"},
		{Rank: 0, JobID: "x", RingBytes: 1 << 31},
		{Rank: 1 << 30, JobID: "x"},
		{Rank: 0, Peers: []int{1 << 30}, JobID: "x"},
	} {
		if n, err := Join(ctx, cfg); err == nil {
			n.Close()
			t.Errorf("Join(%+v) succeeded", cfg)
		}
	}
}

// TestJoinTimeout: a peer that never comes makes Join fail with ErrTimeout
// when the context expires, on both the dialing and the accepting side.
func TestJoinTimeout(t *testing.T) {
	for _, rank := range []int{0, 1} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		_, err := Join(ctx, Config{Rank: rank, Peers: []int{1 - rank}, JobID: fmt.Sprintf("lonely-%d", time.Now().UnixNano())})
		cancel()
		if !errors.Is(err, transport.ErrTimeout) {
			t.Errorf("rank %d: got %v, want ErrTimeout", rank, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("rank %d: Join took %v", rank, d)
		}
	}
}

// TestCloseSemantics: after Close the link reports ErrClosed, and the peer
// reports ErrPeerLost.
func TestCloseSemantics(t *testing.T) {
	nodes := joinInProcess(t, 2, Config{})
	l01, l10 := nodes[0].Links()[1], nodes[1].Links()[0]
	if err := l01.Check(); err != nil {
		t.Fatalf("check before close: %v", err)
	}
	l01.Close()
	if _, _, err := l01.SendSome(1, nil, 0); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("send after close: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := l10.Check()
		if errors.Is(err, transport.ErrPeerLost) {
			var op *transport.OpError
			if !errors.As(err, &op) || op.Peer != 0 || op.Rank != 1 {
				t.Errorf("error %v does not name peer 0 from rank 1", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer did not notice the close: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPersistentMismatch: both ends must agree on the channel shape.
func TestPersistentMismatch(t *testing.T) {
	nodes := joinInProcess(t, 2, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var errSend error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, errSend = nodes[0].Links()[1].Persistent(ctx, 3, 1024, 2, true)
	}()
	_, errRecv := nodes[1].Links()[0].Persistent(ctx, 3, 2048, 2, false)
	wg.Wait()
	if !errors.Is(errSend, transport.ErrProtocol) || !errors.Is(errRecv, transport.ErrProtocol) {
		t.Fatalf("send: %v; recv: %v; want ErrProtocol on both", errSend, errRecv)
	}
}

// TestPersistentRejectsCorruptSlots writes bad values into the shared words
// of a channel and checks ErrProtocol on both ends.
func TestPersistentRejectsCorruptSlots(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(out, in *channel)
		recv    bool
	}{
		{"length too large", func(out, in *channel) { out.hdrs[0].Store(1<<32 | 5000) }, true},
		{"generation from the future", func(out, in *channel) { out.hdrs[0].Store(7 << 32) }, true},
		{"released past committed", func(out, in *channel) { in.released.Store(5) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := joinInProcess(t, 2, Config{})
			out, in := channelPair(t, nodes, 4096, 1)
			tc.corrupt(out, in)
			var err error
			if tc.recv {
				_, _, err = in.Acquire()
			} else {
				for range 3 { // fill the slot, then the next claim reloads released
					var ok bool
					if _, ok, err = out.Claim(); err != nil || !ok {
						break
					}
					if err = out.Commit(1); err != nil {
						break
					}
				}
			}
			if !errors.Is(err, transport.ErrProtocol) {
				t.Fatalf("got %v, want ErrProtocol", err)
			}
		})
	}
}

func channelPair(t testing.TB, nodes []*Node, slotBytes, slots int) (out, in *channel) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var o transport.Channel
	var errO error
	wg.Add(1)
	go func() {
		defer wg.Done()
		o, errO = nodes[0].Links()[1].Persistent(ctx, 1, slotBytes, slots, true)
	}()
	i, errI := nodes[1].Links()[0].Persistent(ctx, 1, slotBytes, slots, false)
	wg.Wait()
	if errO != nil || errI != nil {
		t.Fatalf("persistent: %v, %v", errO, errI)
	}
	return o.(*channel), i.(*channel)
}

// TestChannelInProcess streams rounds through a channel between goroutines,
// so the race detector checks the slot protocol.
func TestChannelInProcess(t *testing.T) {
	nodes := joinInProcess(t, 2, Config{})
	out, in := channelPair(t, nodes, 1000, 3)
	const rounds = 2000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		bell := nodes[0].Doorbell()
		for r := 0; r < rounds; {
			seq := bell.Seq()
			slot, ok, err := out.Claim()
			if err != nil {
				t.Error(err)
				return
			}
			if !ok {
				bell.Sleep(seq, 10*time.Millisecond)
				continue
			}
			n := r % 1001
			pattern(slot[:n], 0, 1, r)
			if err := out.Commit(n); err != nil {
				t.Error(err)
				return
			}
			r++
		}
	}()
	bell := nodes[1].Doorbell()
	for r := 0; r < rounds; {
		seq := bell.Seq()
		data, ok, err := in.Acquire()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			bell.Sleep(seq, 10*time.Millisecond)
			continue
		}
		if len(data) != r%1001 || !checkPattern(data, 0, 1, r) {
			t.Fatalf("round %d: %d bytes, content differs or wrong length", r, len(data))
		}
		if err := in.Release(); err != nil {
			t.Fatal(err)
		}
		r++
	}
	wg.Wait()
}

// TestDoorbell checks that Sleep returns at once when the sequence has
// moved, wakes on a Ring from another goroutine, and otherwise times out.
func TestDoorbell(t *testing.T) {
	nodes := joinInProcess(t, 2, Config{Spin: -1})
	bell := nodes[0].Doorbell()
	seq := bell.Seq()
	start := time.Now()
	bell.Sleep(seq, 100*time.Millisecond)
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Errorf("Sleep without a ring returned after %v", d)
	}
	// A peer's link rings our doorbell through its mapping of our segment.
	peerView := nodes[1].links[0].peerBell
	go func() {
		time.Sleep(20 * time.Millisecond)
		peerView.Ring()
	}()
	start = time.Now()
	bell.Sleep(seq, 5*time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Sleep was not woken by Ring (%v)", d)
	}
	if bell.Seq() == seq {
		t.Errorf("sequence did not move")
	}
}

// TestLinksIndexing: Links is indexed by rank, with nil for this rank and
// for ranks that are not peers on this node.
func TestLinksIndexing(t *testing.T) {
	job := fmt.Sprintf("index-%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n0, n3 *Node
	var err0, err3 error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); n0, err0 = Join(ctx, Config{Rank: 0, Peers: []int{3}, JobID: job}) }()
	n3, err3 = Join(ctx, Config{Rank: 3, Peers: []int{0}, JobID: job})
	wg.Wait()
	if err0 != nil || err3 != nil {
		t.Fatal(err0, err3)
	}
	defer n0.Close()
	defer n3.Close()
	for _, tc := range []struct {
		n    *Node
		peer int
	}{{n0, 3}, {n3, 0}} {
		links := tc.n.Links()
		if len(links) != 4 {
			t.Fatalf("rank %d: %d links, want 4", tc.n.Rank(), len(links))
		}
		for r, l := range links {
			if (l != nil) != (r == tc.peer) {
				t.Errorf("rank %d: Links()[%d] = %v", tc.n.Rank(), r, l)
			}
		}
		if tc.n.Link(tc.peer) == nil || tc.n.Link(7) != nil || tc.n.Link(-1) != nil {
			t.Errorf("rank %d: Link lookups wrong", tc.n.Rank())
		}
	}
}

// TestNoLostWakeup runs traffic with spinning disabled, so every wait is a
// futex sleep, and a long Sleep limit: a lost wake-up (of the doorbell or of
// a writer waiting for ring space) would show as a Sleep that ends by
// timeout although the peer kept going. Small ping-pongs exercise data
// wake-ups, a stream of messages 8 times the ring exercises space wake-ups.
func TestNoLostWakeup(t *testing.T) {
	nodes := joinInProcess(t, 2, Config{Spin: -1, RingBytes: 4096})
	const limit = 3 * time.Second
	rounds := 2000
	if raceEnabled {
		rounds = 300
	}
	var timeouts [2]int
	run := func(me int, first bool) error {
		l, bell := nodes[me].Links()[1-me], nodes[me].Doorbell()
		wait := func(seq uint32) error {
			bell.Sleep(seq, limit)
			if bell.Seq() == seq {
				timeouts[me]++
				return fmt.Errorf("rank %d: Sleep timed out with traffic pending: lost wake-up", me)
			}
			return nil
		}
		send := func(p []byte) error {
			for off, done := 0, false; !done; {
				seq := bell.Seq()
				n, d, err := l.SendSome(1, p, off)
				if err != nil {
					return err
				}
				if n == off && !d {
					if err := wait(seq); err != nil {
						return err
					}
				}
				off, done = n, d
			}
			return nil
		}
		recv := func(buf []byte) error {
			for {
				seq := bell.Seq()
				_, size, ok, err := l.PeekHeader()
				if err != nil {
					return err
				}
				if ok {
					buf = buf[:size]
					break
				}
				if err := wait(seq); err != nil {
					return err
				}
			}
			for off := 0; ; {
				seq := bell.Seq()
				n, err := l.RecvSome(buf, off)
				if err != nil {
					return err
				}
				if n == len(buf) {
					return nil
				}
				if n == off {
					if err := wait(seq); err != nil {
						return err
					}
				}
				off = n
			}
		}
		small, big := make([]byte, 8), make([]byte, 8*4096+8)
		buf := make([]byte, len(big))
		for i := range rounds {
			p := small
			if i%10 == 0 {
				p = big
			}
			if first {
				if err := send(p); err != nil {
					return err
				}
				if err := recv(buf); err != nil {
					return err
				}
			} else {
				if err := recv(buf); err != nil {
					return err
				}
				if err := send(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	var err1 error
	wg.Add(1)
	go func() { defer wg.Done(); err1 = run(1, false) }()
	err0 := run(0, true)
	wg.Wait()
	if err0 != nil || err1 != nil {
		t.Fatal(err0, err1)
	}
	if timeouts != [2]int{} {
		t.Fatalf("Sleep timed out %v times with traffic pending: lost wake-ups", timeouts)
	}
}

// TestDoorbellSeveralSleepers: a Comm may sleep on its doorbell from
// several goroutines at once; one Ring from a peer wakes them all.
func TestDoorbellSeveralSleepers(t *testing.T) {
	nodes := joinInProcess(t, 2, Config{Spin: -1})
	bell := nodes[0].Doorbell()
	seq := bell.Seq()
	var wg sync.WaitGroup
	woke := make(chan time.Duration, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			bell.Sleep(seq, 5*time.Second)
			woke <- time.Since(start)
		}()
	}
	// A fifth sleeper times out before the ring: its leaving must not hide
	// the others from the ringer.
	bell.Sleep(seq, 20*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // let them reach FUTEX_WAIT
	nodes[1].links[0].peerBell.Ring()
	wg.Wait()
	close(woke)
	for d := range woke {
		if d > 2*time.Second {
			t.Errorf("a sleeper was not woken (slept %v)", d)
		}
	}
}
