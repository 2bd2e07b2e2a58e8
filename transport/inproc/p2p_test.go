package inproc_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// messageSizes covers empty messages, sizes around the header and the ring
// capacity (4 KiB in these tests, so that messages wrap around it), and
// large messages up to 8 MiB that must stream.
func messageSizes() []int {
	sizes := []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 1000}
	for _, base := range []int{4096, 65536, 1 << 20} {
		sizes = append(sizes, base-9, base-8, base-1, base, base+1, base+7)
	}
	return append(sizes, 3<<20+5, 8<<20)
}

// TestOrderingAndIntegrity sends every size with five tags interleaved and
// receives tag by tag (so most messages go through the unexpected queue):
// within a tag the order must be the send order, and every byte must match
// the sender's pattern.
func TestOrderingAndIntegrity(t *testing.T) {
	comms := newComms(t, 2, inproc.RingBytes(4096))
	sizes := messageSizes()
	const tags = 5
	runRanks(t, comms, 60*time.Second, func(ctx context.Context, c *transport.Comm) error {
		if c.Rank() == 0 {
			var reqs []*transport.Request
			for i, n := range sizes {
				p := make([]byte, n)
				pattern(p, uint64(i))
				reqs = append(reqs, c.Isend(1, uint32(i%tags+1), p))
			}
			return c.WaitAll(ctx, reqs...)
		}
		buf := make([]byte, 8<<20)
		for tag := 1; tag <= tags; tag++ {
			for i, n := range sizes {
				if i%tags+1 != tag {
					continue
				}
				got, err := c.Recv(ctx, 0, uint32(tag), buf)
				if err != nil {
					return err
				}
				if got != n {
					return fmt.Errorf("tag %d message %d: %d bytes, want %d", tag, i, got, n)
				}
				if err := checkPattern(buf[:got], uint64(i)); err != nil {
					return fmt.Errorf("tag %d message %d: %w", tag, i, err)
				}
			}
		}
		return nil
	})
}

// TestPostedBeforeArrival posts all receives first (so messages stream
// straight into the posted buffers) and then lets the sender go.
func TestPostedBeforeArrival(t *testing.T) {
	comms := newComms(t, 2, inproc.RingBytes(4096))
	sizes := messageSizes()
	posted := make(chan struct{})
	runRanks(t, comms, 60*time.Second, func(ctx context.Context, c *transport.Comm) error {
		if c.Rank() == 0 {
			<-posted
			for i, n := range sizes {
				p := make([]byte, n)
				pattern(p, uint64(i))
				if err := c.Send(ctx, 1, uint32(i%3), p); err != nil {
					return err
				}
			}
			return nil
		}
		bufs := make([][]byte, len(sizes))
		reqs := make([]*transport.Request, len(sizes))
		for i, n := range sizes {
			bufs[i] = make([]byte, n+3) // a longer buffer is fine
			reqs[i] = c.Irecv(0, uint32(i%3), bufs[i])
		}
		close(posted)
		if err := c.WaitAll(ctx, reqs...); err != nil {
			return err
		}
		for i, n := range sizes {
			got, err := reqs[i].Wait(ctx)
			if err != nil || got != n {
				return fmt.Errorf("message %d: n %d err %v, want %d", i, got, err, n)
			}
			if err := checkPattern(bufs[i][:n], uint64(i)); err != nil {
				return fmt.Errorf("message %d: %w", i, err)
			}
		}
		return nil
	})
}

// TestUnexpectedAndTruncation: messages sent before any receive is posted
// wait in the unexpected queue and are matched by tag, in order; a message
// longer than the buffer fills it and reports ErrTruncated.
func TestUnexpectedAndTruncation(t *testing.T) {
	comms := newComms(t, 2)
	sent := make(chan struct{})
	runRanks(t, comms, 20*time.Second, func(ctx context.Context, c *transport.Comm) error {
		if c.Rank() == 0 {
			for _, m := range []struct {
				tag  uint32
				body string
			}{{3, "c1"}, {2, "b1"}, {3, "c2"}, {1, "a1"}, {2, "b2"}, {9, strings.Repeat("x", 100)}} {
				if err := c.Send(ctx, 1, m.tag, []byte(m.body)); err != nil {
					return err
				}
			}
			close(sent)
			return nil
		}
		<-sent
		// Pull everything into the unexpected queue before any receive.
		time.Sleep(10 * time.Millisecond)
		buf := make([]byte, 16)
		for _, want := range []struct {
			tag  uint32
			body string
		}{{1, "a1"}, {2, "b1"}, {3, "c1"}, {3, "c2"}, {2, "b2"}} {
			n, err := c.Recv(ctx, 0, want.tag, buf)
			if err != nil {
				return err
			}
			if got := string(buf[:n]); got != want.body {
				return fmt.Errorf("tag %d: got %q, want %q", want.tag, got, want.body)
			}
		}
		short := make([]byte, 50)
		n, err := c.Recv(ctx, 0, 9, short)
		if !errors.Is(err, transport.ErrTruncated) {
			return fmt.Errorf("100 bytes into 50: err %v, want ErrTruncated", err)
		}
		if n != 50 || string(short) != strings.Repeat("x", 50) {
			return fmt.Errorf("truncated receive: n %d, %q", n, short)
		}
		return nil
	})
}

// TestIsendIrecvBothWaysLarge: two ranks Isend 8 MiB to each other through
// 64 KiB rings, then post the receive and wait. This finishes only if every
// wait drives both the pending send and the pending receive.
func TestIsendIrecvBothWaysLarge(t *testing.T) {
	comms := newComms(t, 2)
	const n = 8 << 20
	runRanks(t, comms, 30*time.Second, func(ctx context.Context, c *transport.Comm) error {
		peer := 1 - c.Rank()
		out := make([]byte, n)
		pattern(out, uint64(100+c.Rank()))
		in := make([]byte, n)
		s := c.Isend(peer, 5, out)
		if done, _, _ := s.Test(); done {
			return errors.New("an 8 MiB Isend through a 64 KiB ring completed at once")
		}
		r := c.Irecv(peer, 5, in)
		if err := c.WaitAll(ctx, s, r); err != nil {
			return err
		}
		if got, _ := r.Wait(ctx); got != n {
			return fmt.Errorf("received %d bytes", got)
		}
		return checkPattern(in, uint64(100+peer))
	})
}

// TestTestPolling: a receiver that only polls Test sees the message arrive,
// streamed through a small ring by a sender that is itself progressed only
// by Wait.
func TestTestPolling(t *testing.T) {
	comms := newComms(t, 2, inproc.RingBytes(1024))
	const n = 100_000
	runRanks(t, comms, 20*time.Second, func(ctx context.Context, c *transport.Comm) error {
		if c.Rank() == 0 {
			time.Sleep(5 * time.Millisecond)
			p := make([]byte, n)
			pattern(p, 7)
			_, err := c.Isend(1, 1, p).Wait(ctx)
			return err
		}
		buf := make([]byte, n)
		r := c.Irecv(0, 1, buf)
		polls := 0
		for {
			done, got, err := r.Test()
			polls++
			if done {
				if err != nil {
					return err
				}
				if got != n {
					return fmt.Errorf("got %d bytes", got)
				}
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("not done after %d polls", polls)
			}
			time.Sleep(10 * time.Microsecond)
		}
		if polls < 2 {
			return fmt.Errorf("done after %d polls: the test did not poll", polls)
		}
		return checkPattern(buf, 7)
	})
}

// TestSelfSend: a rank sends to itself without a link, before and after
// posting the receive.
func TestSelfSend(t *testing.T) {
	comms := newComms(t, 1)
	c := comms[0]
	ctx := context.Background()
	if err := c.Send(ctx, 0, 4, []byte("early")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	r := c.Irecv(0, 5, buf)
	if err := c.Send(ctx, 0, 5, []byte("late")); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Wait(ctx); err != nil || string(buf[:n]) != "late" {
		t.Fatalf("posted self receive: %q, %v", buf[:n], err)
	}
	if n, err := c.Recv(ctx, 0, 4, buf); err != nil || string(buf[:n]) != "early" {
		t.Fatalf("unexpected self receive: %q, %v", buf[:n], err)
	}
	if k := c.LinkKind(0); k != "self" {
		t.Errorf("LinkKind(self) = %q", k)
	}
	st := c.Stats()[0]
	if st.MsgsSent != 2 || st.BytesSent != 9 {
		t.Errorf("self stats %+v, want 2 messages, 9 bytes", st)
	}
}

// TestReservedTagsAndBadPeers: user tags at or above 1<<31 and peers that
// are not ranks are refused with ErrInvalid.
func TestReservedTagsAndBadPeers(t *testing.T) {
	c := newComms(t, 2)[0]
	ctx := context.Background()
	if err := c.Send(ctx, 1, 1<<31, nil); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("Send with reserved tag: %v", err)
	}
	if _, err := c.Recv(ctx, 1, 1<<31+5, nil); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("Recv with reserved tag: %v", err)
	}
	if _, err := c.Isend(1, 1<<32-1, nil).Wait(ctx); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("Isend with reserved tag: %v", err)
	}
	if _, err := c.Irecv(2, 1, nil).Wait(ctx); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("Irecv from rank 2 of 2: %v", err)
	}
	if err := c.Send(ctx, -1, 1, nil); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("Send to rank -1: %v", err)
	}
}

// TestTimeout: a receive nobody answers fails after its deadline with an
// *OpError naming rank, peer and tag and wrapping ErrTimeout; the
// withdrawn receive does not swallow the message that comes later.
func TestTimeout(t *testing.T) {
	comms := newComms(t, 2)
	c0, c1 := comms[0], comms[1]
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	buf := make([]byte, 8)
	_, err := c0.Recv(ctx, 1, 7, buf)
	elapsed := time.Since(start)
	if !errors.Is(err, transport.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout and DeadlineExceeded", err)
	}
	var oe *transport.OpError
	if !errors.As(err, &oe) || oe.Rank != 0 || oe.Peer != 1 || oe.Tag != 7 || oe.Op != "recv" {
		t.Fatalf("err = %#v, want OpError recv rank 0 peer 1 tag 7", err)
	}
	for _, s := range []string{"rank 0", "peer 1", "tag 7", "recv", "timeout"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%q lacks %q", err.Error(), s)
		}
	}
	if elapsed < 50*time.Millisecond || elapsed > time.Second {
		t.Errorf("timed out after %v, want about 50ms", elapsed)
	}

	bg := context.Background()
	if err := c1.Send(bg, 0, 7, []byte("later")); err != nil {
		t.Fatal(err)
	}
	if n, err := c0.Recv(bg, 1, 7, buf); err != nil || string(buf[:n]) != "later" {
		t.Fatalf("after the timeout: %q, %v", buf[:n], err)
	}

	// A pending Isend's Wait times out but the request stays pending.
	r := c0.Irecv(1, 8, buf)
	short, cancel2 := context.WithTimeout(bg, 20*time.Millisecond)
	defer cancel2()
	if _, err := r.Wait(short); !errors.Is(err, transport.ErrTimeout) {
		t.Fatalf("Wait: %v, want ErrTimeout", err)
	}
	if err := c1.Send(bg, 0, 8, []byte("kept")); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Wait(bg); err != nil || string(buf[:n]) != "kept" {
		t.Fatalf("Wait after a timed-out Wait: %q, %v", buf[:n], err)
	}
}

// TestSendTimeoutMidMessage: a blocking Send of a message larger than the
// ring times out while the peer is not reading; the part already in the
// ring commits the Comm to the message, which still arrives intact from a
// copy even though the caller's buffer is overwritten.
func TestSendTimeoutMidMessage(t *testing.T) {
	comms := newComms(t, 2, inproc.RingBytes(4096))
	c0, c1 := comms[0], comms[1]
	p := make([]byte, 50_000)
	pattern(p, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := c0.Send(ctx, 1, 2, p)
	if !errors.Is(err, transport.ErrTimeout) {
		t.Fatalf("Send: %v, want ErrTimeout", err)
	}
	clear(p)
	// A not-yet-started send behind it is withdrawn by its own timeout.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if err := c0.Send(ctx2, 1, 3, []byte("withdrawn")); !errors.Is(err, transport.ErrTimeout) {
		t.Fatalf("second Send: %v, want ErrTimeout", err)
	}
	// The first message is still streaming; this one queues behind it.
	third := c0.Isend(1, 4, []byte("after"))
	runRanks(t, comms, 10*time.Second, func(ctx context.Context, c *transport.Comm) error {
		if c.Rank() == 0 {
			// Rank 0's waits stream out the copied rest and the third message.
			if err := c.WaitAll(ctx, third); err != nil {
				return err
			}
			return c.Barrier(ctx)
		}
		buf := make([]byte, 50_000)
		n, err := c1.Recv(ctx, 0, 2, buf)
		if err != nil {
			return err
		}
		if err := checkPattern(buf[:n], 3); err != nil || n != 50_000 {
			return fmt.Errorf("n %d: %v", n, err)
		}
		if n, err := c1.Recv(ctx, 0, 4, buf); err != nil || string(buf[:n]) != "after" {
			return fmt.Errorf("tag 4: %q, %v", buf[:n], err)
		}
		return c.Barrier(ctx)
	})
	// The withdrawn message never arrives.
	ctx3, cancel3 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel3()
	if _, err := c1.Recv(ctx3, 0, 3, make([]byte, 16)); !errors.Is(err, transport.ErrTimeout) {
		t.Errorf("withdrawn message: %v, want ErrTimeout", err)
	}
}

// TestPeerClosed: once a rank closes its Comm, a peer waiting on it gets an
// error wrapping ErrPeerLost that names the peer, within 2 s; the closed
// Comm itself answers ErrClosed.
func TestPeerClosed(t *testing.T) {
	comms := newComms(t, 3, inproc.CommOptions(transport.Options{CheckInterval: 20 * time.Millisecond}))
	go func() {
		time.Sleep(30 * time.Millisecond)
		comms[2].Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := comms[0].Recv(ctx, 2, 1, nil)
	if !errors.Is(err, transport.ErrPeerLost) {
		t.Fatalf("err = %v, want ErrPeerLost", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("noticed after %v", d)
	}
	var oe *transport.OpError
	if !errors.As(err, &oe) || oe.Peer != 2 || oe.Kind != "inproc" {
		t.Errorf("err = %v, want an OpError naming peer 2 over inproc", err)
	}
	if err := comms[2].Send(ctx, 0, 1, nil); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Send on a closed Comm: %v", err)
	}
	// Rank 0 and 1 still talk.
	runRanks(t, comms[:2], 5*time.Second, func(ctx context.Context, c *transport.Comm) error {
		buf := make([]byte, 1)
		r := c.Irecv(1-c.Rank(), 1, buf)
		if err := c.Send(ctx, 1-c.Rank(), 1, []byte{byte(c.Rank())}); err != nil {
			return err
		}
		_, err := r.Wait(ctx)
		return err
	})
}

// TestStatsAndTopology checks Stats against what was sent and the default
// node map of in-process ranks.
func TestStatsAndTopology(t *testing.T) {
	comms := newComms(t, 3)
	runRanks(t, comms, 5*time.Second, func(ctx context.Context, c *transport.Comm) error {
		if c.Rank() == 0 {
			for i := range 3 {
				if err := c.Send(ctx, 1, 1, make([]byte, 10*(i+1))); err != nil {
					return err
				}
			}
			return nil
		}
		if c.Rank() == 1 {
			buf := make([]byte, 30)
			for range 3 {
				if _, err := c.Recv(ctx, 0, 1, buf); err != nil {
					return err
				}
			}
		}
		return nil
	})
	s0, s1 := comms[0].Stats(), comms[1].Stats()
	if s0[1].BytesSent != 60 || s0[1].MsgsSent != 3 || s0[1].Kind != "inproc" {
		t.Errorf("rank 0 to 1: %+v", s0[1])
	}
	if s1[0].BytesRecv != 60 || s1[0].MsgsRecv != 3 {
		t.Errorf("rank 1 from 0: %+v", s1[0])
	}
	if s0[2].MsgsSent != 0 || s0[2].MsgsRecv != 0 {
		t.Errorf("rank 0 to 2: %+v", s0[2])
	}
	if got := comms[1].NodeRanks(); fmt.Sprint(got) != "[0 1 2]" {
		t.Errorf("NodeRanks = %v", got)
	}
	if k := comms[1].LinkKind(2); k != "inproc" {
		t.Errorf("LinkKind = %q", k)
	}
}

// TestEverySmallSize sends every size from 0 to 2100 bytes through a
// 1 KiB ring, so that the frame header and payload start at every offset
// of the ring and wrap at every point; tags cycle through three values and
// the receiver takes them in send order with a mix of Recv and Irecv.
func TestEverySmallSize(t *testing.T) {
	comms := newComms(t, 2, inproc.RingBytes(1024))
	const maxSize = 2100
	runRanks(t, comms, 30*time.Second, func(ctx context.Context, c *transport.Comm) error {
		if c.Rank() == 0 {
			p := make([]byte, maxSize)
			for n := 0; n <= maxSize; n++ {
				pattern(p[:n], uint64(n))
				if err := c.Send(ctx, 1, uint32(n%3), p[:n]); err != nil {
					return err
				}
			}
			return nil
		}
		buf := make([]byte, maxSize)
		for n := 0; n <= maxSize; n++ {
			var got int
			var err error
			if n%2 == 0 {
				got, err = c.Recv(ctx, 0, uint32(n%3), buf)
			} else {
				got, err = c.Irecv(0, uint32(n%3), buf).Wait(ctx)
			}
			if err != nil {
				return err
			}
			if got != n {
				return fmt.Errorf("size %d arrived as %d", n, got)
			}
			if err := checkPattern(buf[:n], uint64(n)); err != nil {
				return fmt.Errorf("size %d: %w", n, err)
			}
		}
		return nil
	})
}

// TestCancelWakesWait: cancelling a context without a deadline ends a
// Recv promptly, not after the check interval.
func TestCancelWakesWait(t *testing.T) {
	comms := newComms(t, 2, inproc.CommOptions(transport.Options{CheckInterval: 10 * time.Second}))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	_, err := comms[0].Recv(ctx, 1, 1, nil)
	if !errors.Is(err, transport.ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrTimeout wrapping context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel noticed after %v", d)
	}
}

// TestLargeSendsInACycle: each of three ranks sends a message many times
// the ring's size to the next before it posts the receive from the one
// before. A Comm leaves a large message that no receive waits for in its
// link, but not when nothing else can move: each send can only finish once
// the next rank has taken its message in, so this hangs if the deferral is
// never lifted.
func TestLargeSendsInACycle(t *testing.T) {
	comms := newComms(t, 3, inproc.RingBytes(4096))
	const size = 1 << 20
	runRanks(t, comms, 30*time.Second, func(ctx context.Context, c *transport.Comm) error {
		next, prev := (c.Rank()+1)%3, (c.Rank()+2)%3
		out := make([]byte, size)
		pattern(out, uint64(c.Rank()))
		if err := c.Send(ctx, next, 3, out); err != nil {
			return err
		}
		in := make([]byte, size)
		if _, err := c.Recv(ctx, prev, 3, in); err != nil {
			return err
		}
		return checkPattern(in, uint64(prev))
	})
}

// TestWindowPostedLate: a window of large messages is sent while the
// receiver is still in a Barrier; the receiver then posts the window's
// receives. Each message lands in its posted receive, none in an
// unexpected buffer: posting them allocates less than one message.
func TestWindowPostedLate(t *testing.T) {
	comms := newComms(t, 2, inproc.RingBytes(4<<20))
	const size, window = 256 << 10, 8
	runRanks(t, comms, 30*time.Second, func(ctx context.Context, c *transport.Comm) error {
		// Every buffer of both ranks is allocated before the barrier, so
		// that the receiver's count below sees only the Comm's allocations.
		msgs := make([][]byte, window)
		for k := range msgs {
			msgs[k] = make([]byte, size)
			pattern(msgs[k], uint64(k))
		}
		reqs := make([]*transport.Request, window)
		if err := c.Barrier(ctx); err != nil {
			return err
		}
		if c.Rank() == 0 {
			for k := range reqs {
				reqs[k] = c.Isend(1, 5, msgs[k])
			}
			return c.WaitAll(ctx, reqs...)
		}
		time.Sleep(20 * time.Millisecond) // the whole window is in the ring
		bufs := msgs
		for _, b := range bufs {
			clear(b)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for k := range reqs {
			reqs[k] = c.Irecv(0, 5, bufs[k])
		}
		err := c.WaitAll(ctx, reqs...)
		runtime.ReadMemStats(&after)
		if err != nil {
			return err
		}
		for k, b := range bufs {
			if err := checkPattern(b, uint64(k)); err != nil {
				return fmt.Errorf("message %d: %w", k, err)
			}
		}
		if d := after.TotalAlloc - before.TotalAlloc; d >= size {
			return fmt.Errorf("posting the window allocated %d bytes: messages went through unexpected buffers", d)
		}
		return nil
	})
}
