package tcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// run runs f for each rank concurrently and fails the test on any error.
func run(t *testing.T, ranks []*rank, f func(r *rank) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(ranks))
	for i, r := range ranks {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(r) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", i, err)
		}
	}
}

func TestLinkBasics(t *testing.T) {
	ranks := startJob(t, 3, nil)
	for _, r := range ranks {
		for p, l := range r.links {
			if (l == nil) != (p == r.id) {
				t.Fatalf("rank %d: link to %d is %v", r.id, p, l)
			}
			if l != nil && (l.Peer() != p || l.Kind() != "tcp" || l.Check() != nil) {
				t.Fatalf("rank %d: link to %d: peer %d kind %q check %v", r.id, p, l.Peer(), l.Kind(), l.Check())
			}
		}
	}
}

func TestMessageSizes(t *testing.T) {
	sizes := []int{0, 1, 8, 64 << 10, 4 << 20, 4<<20 + 13}
	if !testing.Short() && !raceEnabled {
		sizes = append(sizes, 100<<20+3) // split into many frames, larger than MaxFramePayload
	} else {
		sizes = append(sizes, 9<<20+5) // still many frames (frames are at most the send buffer)
	}
	ranks := startJob(t, 2, nil)
	ctx := ctxFor(t, 40*time.Second)
	for i, n := range sizes {
		want := pattern(uint64(i), n)
		run(t, ranks, func(r *rank) error {
			l := r.links[1-r.id]
			if r.id == 0 {
				// Send, then expect the echo.
				got, err := pump(ctx, l, r.bell, []msg{{uint32(i), want}}, 1)
				if err != nil {
					return err
				}
				if got[0].tag != uint32(i) || !bytes.Equal(got[0].p, want) {
					return fmt.Errorf("size %d: echo differs (tag %d, %d bytes)", n, got[0].tag, len(got[0].p))
				}
				return nil
			}
			got, err := pump(ctx, l, r.bell, nil, 1)
			if err != nil {
				return err
			}
			if !bytes.Equal(got[0].p, want) {
				return fmt.Errorf("size %d: received bytes differ", n)
			}
			_, err = pump(ctx, l, r.bell, got, 0)
			return err
		})
	}
	st := ranks[0].links[1].Stats()
	var total uint64
	for _, n := range sizes {
		total += uint64(n)
	}
	if st.Kind != "tcp" || st.MsgsSent != uint64(len(sizes)) || st.MsgsRecv != uint64(len(sizes)) || st.BytesSent != total || st.BytesRecv != total {
		t.Errorf("stats %+v, want %d messages and %d bytes each way", st, len(sizes), total)
	}
}

func randomMessages(seed uint64, count, maxSize int) []msg {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]msg, count)
	for i := range out {
		n := r.IntN(maxSize + 1)
		if i%10 == 0 {
			n = 0
		}
		out[i] = msg{tag: r.Uint32(), p: pattern(seed<<32|uint64(i), n)}
	}
	return out
}

func sameMessages(got, want []msg) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d messages, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].tag != want[i].tag || !bytes.Equal(got[i].p, want[i].p) {
			return fmt.Errorf("message %d: tag %d size %d, want tag %d size %d", i, got[i].tag, len(got[i].p), want[i].tag, len(want[i].p))
		}
	}
	return nil
}

// TestOrderingBothWays: many messages of many tags and sizes, both
// directions at once; each side must see exactly the other's sequence.
func TestOrderingBothWays(t *testing.T) {
	ranks := startJob(t, 2, nil)
	ctx := ctxFor(t, 30*time.Second)
	out := [][]msg{randomMessages(1, 2000, 9000), randomMessages(2, 2000, 9000)}
	run(t, ranks, func(r *rank) error {
		got, err := pump(ctx, r.links[1-r.id], r.bell, out[r.id], len(out[1-r.id]))
		if err != nil {
			return err
		}
		return sameMessages(got, out[1-r.id])
	})
}

// TestLargeBothWays: large messages in both directions at once must not
// deadlock (each side keeps receiving while its sends wait for space).
func TestLargeBothWays(t *testing.T) {
	ranks := startJob(t, 2, nil)
	ctx := ctxFor(t, 30*time.Second)
	n := 24 << 20
	if raceEnabled || testing.Short() {
		n = 6 << 20
	}
	big := func(seed uint64) []msg {
		return []msg{{1, pattern(seed, n)}, {2, pattern(seed+1, 9<<20+7)}, {3, pattern(seed+2, n+1)}}
	}
	out := [][]msg{big(10), big(20)}
	run(t, ranks, func(r *rank) error {
		got, err := pump(ctx, r.links[1-r.id], r.bell, out[r.id], len(out[1-r.id]))
		if err != nil {
			return err
		}
		return sameMessages(got, out[1-r.id])
	})
}

// TestThreeRanks: every rank sends to every other at once over its own link.
func TestThreeRanks(t *testing.T) {
	ranks := startJob(t, 3, nil)
	ctx := ctxFor(t, 30*time.Second)
	out := func(from, to int) []msg { return randomMessages(uint64(100*from+to), 200, 70000) }
	var wg sync.WaitGroup
	for _, r := range ranks {
		for p, l := range r.links {
			if l == nil {
				continue
			}
			wg.Add(1)
			// One goroutine per link; each has its own bell so that
			// pumps do not steal each other's wake-ups.
			go func() {
				defer wg.Done()
				got, err := pump(ctx, l, newTestBellFor(l), out(r.id, p), 200)
				if err == nil {
					err = sameMessages(got, out(p, r.id))
				}
				if err != nil {
					t.Errorf("rank %d from %d: %v", r.id, p, err)
				}
			}()
		}
	}
	wg.Wait()
}

// newTestBellFor returns a bell that never sleeps for long: the link rings
// its rank's bell, which another goroutine may be consuming.
func newTestBellFor(transport.Link) transport.Doorbell { return pollBell{} }

type pollBell struct{}

func (pollBell) Seq() uint32 { return 0 }
func (pollBell) Ring()       {}
func (pollBell) Sleep(uint32, time.Duration) {
	time.Sleep(50 * time.Microsecond)
}

func TestPersistentChannels(t *testing.T) {
	ranks := startJob(t, 2, nil)
	ctx := ctxFor(t, 30*time.Second)
	const slotBytes, rounds = 96 << 10, 300
	run(t, ranks, func(r *rank) error {
		l := r.links[1-r.id]
		// Same id in both directions: the two channels must stay apart.
		var send, recv transport.Channel
		var err error
		if r.id == 0 {
			send, err = l.Persistent(ctx, 7, slotBytes, 2, true)
			if err == nil {
				recv, err = l.Persistent(ctx, 7, slotBytes, 2, false)
			}
		} else {
			recv, err = l.Persistent(ctx, 7, slotBytes, 2, false)
			if err == nil {
				send, err = l.Persistent(ctx, 7, slotBytes, 2, true)
			}
		}
		if err != nil {
			return err
		}
		if send.Peer() != 1-r.id || recv.Peer() != 1-r.id {
			return errors.New("wrong Peer on channel")
		}
		sent, received := 0, 0
		for sent < rounds || received < rounds {
			seq := r.bell.Seq()
			progress := false
			if sent < rounds {
				slot, ok, err := send.Claim()
				if err != nil {
					return err
				}
				if ok {
					n := (sent * 977) % (slotBytes + 1)
					copy(slot, pattern(uint64(r.id*rounds+sent), n))
					if err := send.Commit(n); err != nil {
						return err
					}
					sent++
					progress = true
				}
			}
			if received < rounds {
				data, ok, err := recv.Acquire()
				if err != nil {
					return err
				}
				if ok {
					n := (received * 977) % (slotBytes + 1)
					if !bytes.Equal(data, pattern(uint64((1-r.id)*rounds+received), n)) {
						return fmt.Errorf("slot %d: %d bytes differ from what was committed (%d)", received, len(data), n)
					}
					if err := recv.Release(); err != nil {
						return err
					}
					received++
					progress = true
				}
			}
			if !progress {
				if ctx.Err() != nil {
					return fmt.Errorf("sent %d received %d: %w", sent, received, ctx.Err())
				}
				r.bell.Sleep(seq, 20*time.Millisecond)
			}
		}
		// Messages still flow next to the channels.
		got, err := pump(ctx, l, r.bell, []msg{{9, []byte("after")}}, 1)
		if err != nil {
			return err
		}
		if string(got[0].p) != "after" {
			return fmt.Errorf("got %q", got[0].p)
		}
		return nil
	})
}

func TestPersistentMismatch(t *testing.T) {
	ranks := startJob(t, 2, nil)
	ctx := ctxFor(t, 10*time.Second)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, r := range ranks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.links[1-i].Persistent(ctx, 3, 1024*(i+1), 2, i == 0)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "slots of") {
			t.Errorf("rank %d: Persistent with mismatched slot sizes: %v", i, err)
		}
	}
}

// TestPersistentTimeout: a peer that never opens the channel -> ErrTimeout.
func TestPersistentTimeout(t *testing.T) {
	ranks := startJob(t, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := ranks[0].links[1].Persistent(ctx, 4, 64, 2, true)
	if !errors.Is(err, transport.ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
}

// TestZeroAllocs: the message path and the channel path allocate nothing per
// message once running.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	ranks := startJob(t, 2, nil)
	a, b := ranks[0].links[1], ranks[1].links[0]
	msgBuf, dst := make([]byte, 8), make([]byte, 8)
	allocs := testing.AllocsPerRun(50, func() {
		for _, done, _ := a.SendSome(5, msgBuf, 0); !done; _, done, _ = a.SendSome(5, msgBuf, 0) {
		}
		for {
			if _, _, ok, _ := b.PeekHeader(); ok {
				break
			}
			runtime.Gosched()
		}
		for off := 0; off < 8; off, _ = b.RecvSome(dst, off) {
			runtime.Gosched()
		}
	})
	if allocs != 0 {
		t.Errorf("message path: %v allocs per message", allocs)
	}

	ctx := ctxFor(t, 5*time.Second)
	var send, recv transport.Channel
	var err1, err2 error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); recv, err2 = b.Persistent(ctx, 1, 4096, 2, false) }()
	send, err1 = a.Persistent(ctx, 1, 4096, 2, true)
	wg.Wait()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	allocs = testing.AllocsPerRun(50, func() {
		for {
			if slot, ok, _ := send.Claim(); ok {
				slot[0] = 1
				send.Commit(4096)
				break
			}
			runtime.Gosched()
		}
		for {
			if _, ok, _ := recv.Acquire(); ok {
				recv.Release()
				break
			}
			runtime.Gosched()
		}
	})
	if allocs != 0 {
		t.Errorf("channel path: %v allocs per slot", allocs)
	}
}

func TestSendSomeMisuse(t *testing.T) {
	ranks := startJob(t, 2, func(c *Config) { c.BufferBytes = minBufferBytes })
	l := ranks[0].links[1]
	if _, _, err := l.SendSome(1, make([]byte, 10), 3); err == nil {
		t.Error("offset for an unstarted message accepted")
	}
	big := make([]byte, 10<<20)
	off, done, err := l.SendSome(1, big, 0)
	if err != nil || done || off == 0 || off == len(big) {
		t.Fatalf("first call on a message larger than the ring: off %d done %v err %v", off, done, err)
	}
	if _, _, err := l.SendSome(2, big, off); err == nil {
		t.Error("a different tag continuing a message in progress accepted")
	}
	if _, err := ranks[1].links[0].RecvSome(make([]byte, 3), 0); err == nil {
		// Either the header has not arrived (error: no announced
		// message) or it has and the size is wrong: both are errors.
		t.Error("RecvSome with a wrong-size buffer accepted")
	}
}

// TestCloseIsSeenByPeer: an orderly Close reaches the peer as ErrPeerLost,
// after the messages sent before it.
func TestCloseIsSeenByPeer(t *testing.T) {
	ranks := startJob(t, 2, nil)
	ctx := ctxFor(t, 10*time.Second)
	a, b := ranks[0].links[1], ranks[1].links[0]
	if _, err := pump(ctx, a, ranks[0].bell, []msg{{1, []byte("last words")}}, 0); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := a.Check(); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("closed link's Check: %v", err)
	}
	got, err := pump(ctx, b, ranks[1].bell, nil, 1)
	if err != nil || string(got[0].p) != "last words" {
		t.Fatalf("message sent before Close: %v %v", got, err)
	}
	waitLost(t, b, 2*time.Second)
	if _, _, _, err := b.PeekHeader(); !errors.Is(err, transport.ErrPeerLost) {
		t.Errorf("PeekHeader after the peer closed: %v", err)
	}
	if _, _, err := b.SendSome(1, nil, 0); !errors.Is(err, transport.ErrPeerLost) {
		t.Errorf("SendSome after the peer closed: %v", err)
	}
}

// waitLost polls Check until it reports ErrPeerLost, and returns how long it took.
func waitLost(t testing.TB, l transport.Link, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := l.Check()
		if err != nil {
			if !errors.Is(err, transport.ErrPeerLost) {
				t.Fatalf("Check: %v, want ErrPeerLost", err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("rank %d", l.Peer())) {
				t.Errorf("error %q does not name peer rank %d", err, l.Peer())
			}
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("peer loss not noticed within %v", within)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSomePeersOnly: links exist exactly for the pairs listed in Peers
// (the others would be shm or inproc links made elsewhere).
func TestSomePeersOnly(t *testing.T) {
	tcpPairs := map[[2]int]bool{{0, 2}: true, {1, 3}: true, {0, 3}: true}
	isTCP := func(a, b int) bool { return tcpPairs[[2]int{min(a, b), max(a, b)}] }
	ranks := startJob(t, 4, func(c *Config) {
		for p := range c.Peers {
			if !isTCP(c.Rank, p) {
				delete(c.Peers, p)
			}
		}
	})
	for _, r := range ranks {
		for p, l := range r.links {
			if (l != nil) != isTCP(r.id, p) {
				t.Errorf("rank %d: link to %d is %v", r.id, p, l)
			}
		}
	}
	ctx := ctxFor(t, 10*time.Second)
	run(t, []*rank{ranks[0], ranks[3]}, func(r *rank) error {
		got, err := pump(ctx, r.links[3-r.id], r.bell, []msg{{uint32(r.id), []byte{byte(r.id)}}}, 1)
		if err == nil && (got[0].tag != uint32(3-r.id) || got[0].p[0] != byte(3-r.id)) {
			err = fmt.Errorf("got %v", got)
		}
		return err
	})
}

// TestChannelLargerThanBuffer: a slot larger than the send buffer grows it.
func TestChannelLargerThanBuffer(t *testing.T) {
	ranks := startJob(t, 2, func(c *Config) { c.BufferBytes = 1 << 20 })
	ctx := ctxFor(t, 20*time.Second)
	const slotBytes = 3 << 20
	want := pattern(5, slotBytes)
	run(t, ranks, func(r *rank) error {
		l := r.links[1-r.id]
		ch, err := l.Persistent(ctx, 1, slotBytes, 2, r.id == 0)
		if err != nil {
			return err
		}
		for i := range 5 {
			for {
				seq := r.bell.Seq()
				if r.id == 0 {
					slot, ok, err := ch.Claim()
					if err != nil {
						return err
					}
					if ok {
						copy(slot, want)
						slot[0] = byte(i)
						if err := ch.Commit(len(slot)); err != nil {
							return err
						}
						break
					}
				} else {
					data, ok, err := ch.Acquire()
					if err != nil {
						return err
					}
					if ok {
						if data[0] != byte(i) || !bytes.Equal(data[1:], want[1:]) {
							return fmt.Errorf("slot %d differs", i)
						}
						if err := ch.Release(); err != nil {
							return err
						}
						break
					}
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r.bell.Sleep(seq, 20*time.Millisecond)
			}
		}
		return ch.Close()
	})
}

// TestConnectTimeout: a peer that never shows up -> ErrTimeout naming it,
// on both the dialing and the accepting side.
func TestConnectTimeout(t *testing.T) {
	tmp, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := tmp.Addr().String()
	tmp.Close() // nobody listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Connect(ctx, Config{Rank: 0, Size: 2, Peers: map[int]string{1: addr}, Key: testKey})
	if !errors.Is(err, transport.ErrTimeout) || !strings.Contains(err.Error(), "peer 1") {
		t.Errorf("dialer: %v", err)
	}
	ln, _ := Listen("127.0.0.1:0")
	defer ln.Close()
	_, err = Connect(ctx, Config{Rank: 1, Size: 2, Listener: ln, Peers: map[int]string{0: ""}, Key: testKey})
	if !errors.Is(err, transport.ErrTimeout) || !strings.Contains(err.Error(), "[0]") {
		t.Errorf("acceptor: %v", err)
	}
	if _, err := Connect(ctx, Config{Rank: 1, Size: 2, Listener: ln, Peers: map[int]string{0: ""}, Key: testKey}); err == nil {
		t.Error("a listener used by a second Connect")
	}
	if _, err := Connect(ctx, Config{Rank: 1, Size: 2, Peers: map[int]string{0: ""}, Key: testKey}); err == nil {
		t.Error("lower peers without a listener accepted")
	}
	if _, err := Connect(ctx, Config{Rank: 0, Size: 2, Peers: map[int]string{5: "x:1"}, Key: testKey}); err == nil {
		t.Error("peer out of range accepted")
	}
}

// TestSmallBuffers: with the smallest rings, messages many times their size
// flow both ways (the reader stops and resumes on a full ring all the time).
func TestSmallBuffers(t *testing.T) {
	ranks := startJob(t, 2, func(c *Config) { c.BufferBytes = minBufferBytes })
	ctx := ctxFor(t, 30*time.Second)
	count := 300
	if raceEnabled || testing.Short() {
		count = 60
	}
	out := [][]msg{randomMessages(3, count, 400<<10), randomMessages(4, count, 400<<10)}
	out[0] = append(out[0], msg{7, pattern(7, 3<<20)})
	run(t, ranks, func(r *rank) error {
		got, err := pump(ctx, r.links[1-r.id], r.bell, out[r.id], len(out[1-r.id]))
		if err != nil {
			return err
		}
		return sameMessages(got, out[1-r.id])
	})
}
