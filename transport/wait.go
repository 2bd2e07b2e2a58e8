package transport

import (
	"context"
	"fmt"
	"time"
)

// waitLoop is the one place where a Comm waits. It follows the Doorbell
// protocol: read the sequence, make progress on every link and poll the
// condition (both with c.mu held), and sleep on the doorbell only if nothing
// moved. A ring that happens after the sequence was read makes Sleep return
// at once, so no wake-up is lost between the attempt and the sleep.
//
// Each sleep is capped at the check interval (and at ctx's deadline); once per
// interval check runs (with c.mu held) to ask the links waited on whether
// their peers live. A lost peer fails its requests, which poll then sees.
//
// peer, when not -1, is the one peer every request waited for involves:
// before the first sleep the loop polls that peer's link alone for the
// link's spin budget (see Poller), which notices a small message as soon as
// its bytes are visible instead of when the doorbell's sequence moves, and
// skips the sweep over every other link. Any ring of the doorbell ends the
// spin, so other links still get their sweep at once.
//
// It returns nil once poll reports true, or an error wrapping ErrTimeout and
// ctx's error.
func (c *Comm) waitLoop(ctx context.Context, peer int, poll func() bool, check func()) error {
	deadline, hasDeadline := ctx.Deadline()
	var lastCheck time.Time
	cancelHooked := false
	spun := peer < 0
	for {
		seq := c.bell.Seq()
		c.mu.Lock()
		if peer >= 0 && c.pushPeerLocked(peer) && poll() {
			c.mu.Unlock()
			return nil
		}
		moved := c.progressLocked()
		done := poll()
		c.mu.Unlock()
		if done {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", ErrTimeout, err)
		}
		if moved {
			continue
		}
		if !spun {
			spun = true
			if c.spinPeer(peer, seq, poll) {
				return nil
			}
			continue
		}
		now := time.Now()
		if lastCheck.IsZero() {
			lastCheck = now
		} else if now.Sub(lastCheck) >= c.checkInterval {
			lastCheck = now
			c.mu.Lock()
			check()
			c.mu.Unlock()
			continue // poll again before sleeping: the check may have failed requests
		}
		d := c.checkInterval - now.Sub(lastCheck)
		if !hasDeadline && !cancelHooked && ctx.Done() != nil {
			// A cancellation without a deadline rings the doorbell, so
			// that it is noticed at once rather than after the interval.
			// (This allocates, on the slow path of a cancellable wait.)
			stop := context.AfterFunc(ctx, c.bell.Ring)
			defer stop()
			cancelHooked = true
		}
		if hasDeadline {
			left := deadline.Sub(now)
			if left <= 0 {
				return fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded)
			}
			d = min(d, left)
		}
		c.bell.Sleep(seq, d)
	}
}

// A Poller is a Link that a waiter may busy-poll before it sleeps on the
// Doorbell. A Comm waiting for requests that all involve one peer calls
// PollNow and then its own progress on that link (PeekHeader, RecvSome,
// SendSome) in a loop, for at most SpinBudget, or until the doorbell rings
// for anything. Both are called with the Comm's lock held, like every Link
// method.
type Poller interface {
	// SpinBudget is how long polling the link is worth it before sleeping
	// (zero or less: never poll, e.g. when ranks outnumber the CPUs).
	SpinBudget() time.Duration
	// PollNow asks the link to look for incoming data at once in the next
	// PeekHeader or RecvSome, bypassing any throttle it applies to the
	// sweeps over every link (tcp: a non-blocking read of the socket).
	PollNow()
}

// pollerOf returns l as a Poller, looking through links that wrap another
// and say so with an Unwrap() Link method; nil if none is a Poller.
func pollerOf(l Link) Poller {
	for range 8 { // wrappers do not nest deeper than this
		if p, ok := l.(Poller); ok {
			return p
		}
		w, ok := l.(interface{ Unwrap() Link })
		if !ok {
			return nil
		}
		if l = w.Unwrap(); l == nil {
			return nil
		}
	}
	return nil
}

// spinPeer polls peer p's link alone until poll reports true (it returns
// true), the link's spin budget is spent, or the doorbell moved past seq (it
// returns false: the caller sweeps every link and sleeps).
func (c *Comm) spinPeer(p int, seq uint32, poll func() bool) bool {
	if p < 0 || p >= c.size {
		return false
	}
	pl := c.peers[p].poller // never changes after NewComm
	if pl == nil {
		return false
	}
	budget := pl.SpinBudget()
	if budget <= 0 {
		return false
	}
	var start time.Time
	for i := 0; ; i++ {
		c.mu.Lock()
		ps := &c.peers[p]
		done := false
		if ps.err == nil && !c.closed {
			// Sends first, and return as soon as the waited-for requests
			// are done: a reply that is already on its way is then matched
			// by the receive posted next rather than pulled in now as an
			// unexpected message (an allocation and a second copy; see
			// pushPeerLocked).
			if c.pushPeerLocked(p) {
				done = poll()
			}
			if !done {
				pl.PollNow()
				c.pullRecvsLocked(p)
			}
		}
		done = done || poll()
		c.mu.Unlock()
		if done {
			return true
		}
		// Look at the doorbell every eighth poll only: every message the
		// peer sends moves it (an atomic add on its cache line), so reading
		// it on each poll takes a miss just when the message's own line
		// is arriving (8 B one way: median 0.46 -> 0.41 µs, six
		// interleaved runs of hilo bench pingpong).
		if i%8 == 7 && c.bell.Seq() != seq {
			return false
		}
		// Read the clock rarely: it costs about 100 ns on this VM.
		if i%32 == 0 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) >= budget {
				return false
			}
		}
	}
}

// pushPeerLocked hands peer p's queued sends to its link and reports
// whether it tried (there were sends queued). A wait for one peer does this
// before sweeping the links: when the send it waits for completes (a
// single-copy send completes when the receiver has copied it, which is
// also when the receiver's reply may appear), the wait ends before the
// reply is pulled in as an unexpected message.
func (c *Comm) pushPeerLocked(p int) bool {
	if p < 0 || p >= c.size {
		return false // a request for a peer that is not a rank failed already
	}
	ps := &c.peers[p]
	if ps.link == nil || ps.err != nil || ps.sendHead >= len(ps.sendQ) {
		return false
	}
	c.pushSendsLocked(p)
	return true
}
