package transport

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// peerState is the Comm's bookkeeping for one peer: the queue of sends not
// yet handed to the link, the posted receives, the unexpected messages and
// the incoming message being copied in. It is guarded by Comm.mu.
type peerState struct {
	link   Link
	poller Poller // link as a Poller (looked up once), or nil
	kind   string
	// err, once set, fails every request to or from this peer (the link is
	// broken, the peer is lost or the Comm is closed).
	err error

	sendQ    []*Request // sends in order; sendQ[sendHead] is the one on the wire
	sendHead int
	posted   []*Request // posted receives not yet matched, in post order

	// unexpected holds messages that arrived before a matching receive was
	// posted, in arrival order. Only the last one may be incomplete (it is
	// then in.unex), because a link delivers one message at a time.
	unexpected []*unexpectedMsg
	in         incoming

	selfBytes, selfMsgs uint64 // traffic of self-sends (no link to count it)
}

// incoming is the message whose header has been peeked and whose payload is
// being copied, straight into the posted receive's buffer when one matched.
type incoming struct {
	active bool
	tag    uint32
	size   int
	off    int
	dst    []byte         // len(dst) == size
	req    *Request       // the posted receive it completes, or nil
	unex   *unexpectedMsg // the unexpected buffer it fills, or nil
	trunc  bool           // req's buffer is too short: dst is a temporary
}

type unexpectedMsg struct {
	tag      uint32
	data     []byte
	complete bool
	waiter   *Request // a receive matched to it while it was still arriving
}

// A Request is a pending non-blocking send or receive. It completes when its
// message has been handed to the link in full (send) or copied into the
// receive buffer (receive). The buffer must not be touched until then.
type Request struct {
	c       *Comm
	send    bool
	peer    int
	tag     uint32
	buf     []byte
	off     int  // payload bytes handed to the link (sends)
	started bool // a SendSome call was made: the message must be finished
	alloc   bool // receive: allocate buf of the incoming size (collectives)

	done bool
	n    int
	err  error
}

func (r *Request) op() string {
	if r.send {
		return "send"
	}
	return "recv"
}

func (r *Request) complete(n int, err error) {
	r.done, r.n, r.err = true, n, err
}

// Isend starts sending p to peer with tag and returns at once; p must not be
// modified until the request completes. A message larger than the link can
// hold streams out as the Comm makes progress.
func (c *Comm) Isend(peer int, tag uint32, p []byte) *Request {
	r := &Request{c: c, send: true, peer: peer, tag: tag, buf: p}
	if tag > MaxUserTag {
		r.complete(0, c.opErr("send", peer, int64(tag), fmt.Errorf("%w: tag %d is reserved", ErrInvalid, tag)))
		return r
	}
	c.mu.Lock()
	c.isendLocked(r)
	c.mu.Unlock()
	return r
}

// Irecv posts a receive of a message from peer with tag into buf and returns
// at once. The request's count is the message length; a message longer than
// buf fills buf and fails with an error wrapping ErrTruncated.
func (c *Comm) Irecv(peer int, tag uint32, buf []byte) *Request {
	r := &Request{c: c, peer: peer, tag: tag, buf: buf}
	if tag > MaxUserTag {
		r.complete(0, c.opErr("recv", peer, int64(tag), fmt.Errorf("%w: tag %d is reserved", ErrInvalid, tag)))
		return r
	}
	c.mu.Lock()
	c.irecvLocked(r)
	c.mu.Unlock()
	return r
}

// Send sends p to peer with tag and returns once p has been handed to the
// link in full (it may still be in flight). On a timeout the message is
// withdrawn if no byte of it left yet, otherwise its rest is copied and still
// delivered.
func (c *Comm) Send(ctx context.Context, peer int, tag uint32, p []byte) error {
	if tag > MaxUserTag {
		return c.opErr("send", peer, int64(tag), fmt.Errorf("%w: tag %d is reserved", ErrInvalid, tag))
	}
	_, err := c.blocking(ctx, true, peer, tag, p, false)
	return err
}

// Recv receives the next message from peer with tag into buf and returns its
// length. A message longer than buf fills buf and the error wraps
// ErrTruncated. On a timeout the receive is withdrawn: a message that
// arrives later waits for the next matching receive.
func (c *Comm) Recv(ctx context.Context, peer int, tag uint32, buf []byte) (int, error) {
	if tag > MaxUserTag {
		return 0, c.opErr("recv", peer, int64(tag), fmt.Errorf("%w: tag %d is reserved", ErrInvalid, tag))
	}
	return c.blocking(ctx, false, peer, tag, buf, false)
}

// blocking runs one send or receive to completion with a recycled Request.
func (c *Comm) blocking(ctx context.Context, send bool, peer int, tag uint32, buf []byte, alloc bool) (int, error) {
	c.mu.Lock()
	r := c.getReqLocked()
	r.send, r.peer, r.tag, r.buf, r.alloc = send, peer, tag, buf, alloc
	if send {
		c.isendLocked(r)
	} else {
		c.irecvLocked(r)
	}
	if r.done {
		// The common case for a small message: the link took it, or it
		// had already arrived. No wait loop, no second lock.
		n, err := r.n, r.err
		c.putReqLocked(r)
		c.mu.Unlock()
		return n, err
	}
	c.mu.Unlock()
	n, err := c.waitOwned(ctx, r)
	c.mu.Lock()
	c.putReqLocked(r)
	c.mu.Unlock()
	return n, err
}

// waitOwned waits for a request the Comm owns (a blocking call's): on a
// timeout it cancels it.
func (c *Comm) waitOwned(ctx context.Context, r *Request) (int, error) {
	err := c.waitLoop(ctx, r.peer, func() bool { return r.done }, func() { c.checkPeerLocked(r.peer) })
	if err != nil {
		oe := c.opErr(r.op(), r.peer, int64(r.tag), err)
		c.mu.Lock()
		c.cancelLocked(r, oe)
		c.mu.Unlock()
	}
	// r is done here (completed or cancelled); its fields no longer change.
	return r.n, r.err
}

func (c *Comm) getReqLocked() *Request {
	if n := len(c.free); n > 0 {
		r := c.free[n-1]
		c.free = c.free[:n-1]
		return r
	}
	return &Request{c: c}
}

// putReqLocked recycles a completed request; no queue refers to a completed
// request, so it is safe to reuse.
func (c *Comm) putReqLocked(r *Request) {
	*r = Request{c: c}
	c.free = append(c.free, r)
}

// Wait blocks until the request completes and returns the message length
// (receive) or len(p) (send). If ctx expires first, Wait returns an *OpError
// wrapping ErrTimeout and the request stays pending: Wait again, or Cancel.
func (r *Request) Wait(ctx context.Context) (int, error) {
	c := r.c
	err := c.waitLoop(ctx, r.peer, func() bool { return r.done }, func() { c.checkPeerLocked(r.peer) })
	if err != nil {
		return 0, c.opErr(r.op(), r.peer, int64(r.tag), err)
	}
	return r.n, r.err
}

// Test makes progress on every link once and reports whether the request
// has completed, with Wait's results when it has. It also checks the peer's
// liveness at most once per CheckInterval.
func (r *Request) Test() (done bool, n int, err error) {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !r.done {
		c.progressLocked()
	}
	if !r.done {
		if now := time.Now(); now.Sub(c.lastTestCheck) >= c.checkInterval {
			c.lastTestCheck = now
			c.checkPeerLocked(r.peer)
		}
	}
	return r.done, r.n, r.err
}

// Cancel withdraws a pending request; it then fails with an error wrapping
// context.Canceled. A receive already being filled becomes an unexpected
// message again; a send already partly handed to the link is copied and
// finished in the background (the buffer is free when Cancel returns).
// Cancelling a completed request does nothing.
func (r *Request) Cancel() {
	c := r.c
	c.mu.Lock()
	c.cancelLocked(r, c.opErr(r.op(), r.peer, int64(r.tag), context.Canceled))
	c.mu.Unlock()
}

// WaitAll waits for every request and returns the first failure in argument
// order (nil requests are skipped). On a timeout the requests stay pending.
func (c *Comm) WaitAll(ctx context.Context, reqs ...*Request) error {
	// One peer for all (a ping-pong's Isend and Irecv): poll its link first.
	peer := -1
	for _, r := range reqs {
		if r == nil {
			continue
		}
		if peer == -1 {
			peer = r.peer
		} else if r.peer != peer {
			peer = -2
			break
		}
	}
	err := c.waitLoop(ctx, max(peer, -1), func() bool {
		for _, r := range reqs {
			if r != nil && !r.done {
				return false
			}
		}
		return true
	}, func() {
		for _, r := range reqs {
			if r != nil && !r.done {
				c.checkPeerLocked(r.peer)
			}
		}
	})
	if err != nil {
		for _, r := range reqs {
			if r != nil && !r.done {
				return c.opErr("waitall "+r.op(), r.peer, int64(r.tag), err)
			}
		}
	}
	for _, r := range reqs {
		if r != nil && r.err != nil {
			return r.err
		}
	}
	return nil
}

// isendLocked queues a send and pushes it (and those before it) as far as
// the link takes them now.
func (c *Comm) isendLocked(r *Request) {
	if err := c.admitLocked(r); err != nil {
		r.complete(0, err)
		return
	}
	if r.peer == c.rank {
		c.sendSelfLocked(r)
		return
	}
	ps := &c.peers[r.peer]
	ps.sendQ = append(ps.sendQ, r)
	c.pushSendsLocked(r.peer)
}

// irecvLocked matches a receive against the unexpected messages, else posts it.
func (c *Comm) irecvLocked(r *Request) {
	if r.peer < 0 || r.peer >= c.size {
		r.complete(0, c.opErr("recv", r.peer, int64(r.tag), fmt.Errorf("%w: peer %d of size %d", ErrInvalid, r.peer, c.size)))
		return
	}
	ps := &c.peers[r.peer]
	for i, u := range ps.unexpected {
		if u.tag != r.tag || u.waiter != nil {
			continue
		}
		if u.complete {
			ps.unexpected = slices.Delete(ps.unexpected, i, i+1)
			c.deliverLocked(u.data, r, true)
			c.recycleUnexpectedLocked(u, r)
		} else {
			u.waiter = r // finishes when the rest of it arrives
		}
		return
	}
	if err := c.admitLocked(r); err != nil {
		r.complete(0, err)
		return
	}
	ps.posted = append(ps.posted, r)
	if ps.link != nil {
		c.pullRecvsLocked(r.peer)
	}
}

// admitLocked reports why a new request cannot be queued, or nil.
func (c *Comm) admitLocked(r *Request) error {
	if r.peer < 0 || r.peer >= c.size {
		return c.opErr(r.op(), r.peer, int64(r.tag), fmt.Errorf("%w: peer %d of size %d", ErrInvalid, r.peer, c.size))
	}
	if c.closed {
		return c.opErr(r.op(), r.peer, int64(r.tag), ErrClosed)
	}
	if err := c.peers[r.peer].err; err != nil {
		return c.opErr(r.op(), r.peer, int64(r.tag), err)
	}
	return nil
}

// sendSelfLocked delivers a message to this rank itself: into a posted
// receive if one matches, else into a copy on the unexpected queue.
func (c *Comm) sendSelfLocked(r *Request) {
	ps := &c.peers[c.rank]
	ps.selfBytes += uint64(len(r.buf))
	ps.selfMsgs++
	for i, rr := range ps.posted {
		if rr.tag == r.tag {
			ps.posted = slices.Delete(ps.posted, i, i+1)
			c.deliverLocked(r.buf, rr, false)
			r.complete(len(r.buf), nil)
			return
		}
	}
	u := c.newUnexpectedLocked(r.tag, len(r.buf))
	copy(u.data, r.buf)
	u.complete = true
	ps.unexpected = append(ps.unexpected, u)
	r.complete(len(r.buf), nil)
}

// deliverLocked completes receive r with the message data. owned says data
// may be handed over as is to a receive that asked the Comm to allocate.
func (c *Comm) deliverLocked(data []byte, r *Request, owned bool) {
	if r.alloc {
		if !owned {
			data = append([]byte{}, data...)
		}
		r.buf = data
		r.complete(len(data), nil)
		return
	}
	n := copy(r.buf, data)
	if n < len(data) {
		r.complete(n, c.truncErr(r, len(data)))
		return
	}
	r.complete(n, nil)
}

// Unexpected messages up to maxPooledUnexpected bytes reuse their buffers,
// so that the small messages of collectives that arrive before their
// receive is posted cost no allocation in the steady state.
const (
	maxPooledUnexpected = 64 << 10
	minPooledUnexpected = 512
	maxUnexpectedPool   = 64
)

func (c *Comm) newUnexpectedLocked(tag uint32, size int) *unexpectedMsg {
	if size <= maxPooledUnexpected {
		if n := len(c.unexFree); n > 0 {
			u := c.unexFree[n-1]
			c.unexFree = c.unexFree[:n-1]
			if cap(u.data) >= size {
				*u = unexpectedMsg{tag: tag, data: u.data[:size]}
				return u
			}
		}
		return &unexpectedMsg{tag: tag, data: make([]byte, size, max(size, minPooledUnexpected))}
	}
	return &unexpectedMsg{tag: tag, data: make([]byte, size)}
}

// recycleUnexpectedLocked keeps u's buffer for reuse once its content has
// been delivered to r, unless r took the buffer itself.
func (c *Comm) recycleUnexpectedLocked(u *unexpectedMsg, r *Request) {
	if r.alloc || cap(u.data) > maxPooledUnexpected || len(c.unexFree) >= maxUnexpectedPool {
		return
	}
	*u = unexpectedMsg{data: u.data[:0]}
	c.unexFree = append(c.unexFree, u)
}

func (c *Comm) truncErr(r *Request, size int) error {
	return c.opErr("recv", r.peer, int64(r.tag), fmt.Errorf("%w: %d-byte message, %d-byte buffer", ErrTruncated, size, len(r.buf)))
}

// progressLocked tries every link once: receives first (which frees space
// the peers may be waiting for), then sends. It reports whether anything
// moved. If nothing did and a large unmatched message was left in its link
// (see pullRecvsLocked), it sweeps again taking such messages in: a rank
// that cannot move otherwise never waits for a receive that may not come.
func (c *Comm) progressLocked() bool {
	c.deferred = false
	moved := c.sweepLocked()
	if !moved && c.deferred {
		c.pullLarge = true
		moved = c.sweepLocked()
		c.pullLarge = false
	}
	return moved
}

func (c *Comm) sweepLocked() bool {
	moved := false
	for p := range c.peers {
		ps := &c.peers[p]
		if ps.link == nil || ps.err != nil {
			continue
		}
		if c.pullRecvsLocked(p) {
			moved = true
		}
		if ps.sendHead < len(ps.sendQ) && c.pushSendsLocked(p) {
			moved = true
		}
	}
	return moved
}

// pushSendsLocked hands queued sends to peer's link, in order, until the
// link is full or the queue is empty.
func (c *Comm) pushSendsLocked(p int) bool {
	ps := &c.peers[p]
	moved := false
	for ps.err == nil && ps.sendHead < len(ps.sendQ) {
		r := ps.sendQ[ps.sendHead]
		newOff, done, err := ps.link.SendSome(r.tag, r.buf, r.off)
		r.started = true
		if err != nil {
			c.failPeerLocked(p, err)
			return true
		}
		if newOff < r.off || newOff > len(r.buf) || (done && newOff != len(r.buf)) {
			c.failPeerLocked(p, fmt.Errorf("%w: link SendSome went from offset %d to %d of %d (done %v)", ErrProtocol, r.off, newOff, len(r.buf), done))
			return true
		}
		if newOff != r.off {
			moved = true
		}
		r.off = newOff
		if !done {
			break
		}
		ps.sendQ[ps.sendHead] = nil
		ps.sendHead++
		if ps.sendHead == len(ps.sendQ) {
			ps.sendQ, ps.sendHead = ps.sendQ[:0], 0
		}
		r.complete(len(r.buf), nil)
		moved = true
	}
	return moved
}

// pullRecvsLocked copies in whatever peer's link holds: into the matching
// posted receive, or into an unexpected buffer.
func (c *Comm) pullRecvsLocked(p int) bool {
	ps := &c.peers[p]
	in := &ps.in
	moved := false
	for ps.err == nil {
		if !in.active {
			tag, size, ok, err := ps.link.PeekHeader()
			if err != nil {
				c.failPeerLocked(p, err)
				return true
			}
			if !ok {
				return moved
			}
			if size < 0 || size > c.maxMsg {
				c.failPeerLocked(p, fmt.Errorf("%w: announced message size %d outside [0, %d]", ErrProtocol, size, c.maxMsg))
				return true
			}
			if size > maxPooledUnexpected && !c.pullLarge && len(ps.posted) == 0 && ps.sendHead == len(ps.sendQ) {
				// A large message no receive waits for: taking it now
				// would cost a fresh buffer (page faults on first
				// touch, garbage) and a second copy, and its receive
				// is usually about to be posted (a window of Irecvs,
				// each of which pulls what follows its own message;
				// the collective that finished just before). Leave it
				// in the link: a posted receive, a send to this peer,
				// or a sweep in which nothing else moves takes it.
				c.deferred = true
				return moved
			}
			c.matchIncomingLocked(ps, tag, size)
			moved = true
		}
		newOff, err := ps.link.RecvSome(in.dst, in.off)
		if err != nil {
			c.failPeerLocked(p, err)
			return true
		}
		if newOff < in.off || newOff > in.size {
			c.failPeerLocked(p, fmt.Errorf("%w: link RecvSome went from offset %d to %d of %d", ErrProtocol, in.off, newOff, in.size))
			return true
		}
		if newOff != in.off {
			moved = true
		}
		in.off = newOff
		if in.off < in.size {
			return moved
		}
		c.finishIncomingLocked(ps)
		moved = true
	}
	return moved
}

// matchIncomingLocked picks where the message just announced goes: the
// first posted receive with its tag (MPI's matching order), else a new
// unexpected buffer.
func (c *Comm) matchIncomingLocked(ps *peerState, tag uint32, size int) {
	in := &ps.in
	*in = incoming{active: true, tag: tag, size: size}
	for i, r := range ps.posted {
		if r.tag != tag {
			continue
		}
		ps.posted = slices.Delete(ps.posted, i, i+1)
		in.req = r
		switch {
		case r.alloc:
			r.buf = make([]byte, size)
			in.dst = r.buf
		case size <= len(r.buf):
			in.dst = r.buf[:size]
		default:
			in.dst = make([]byte, size)
			in.trunc = true
		}
		return
	}
	u := c.newUnexpectedLocked(tag, size)
	ps.unexpected = append(ps.unexpected, u)
	in.unex, in.dst = u, u.data
}

func (c *Comm) finishIncomingLocked(ps *peerState) {
	in := &ps.in
	switch {
	case in.req != nil && in.trunc:
		c.deliverLocked(in.dst, in.req, true)
	case in.req != nil:
		in.req.complete(in.size, nil)
	default:
		u := in.unex
		u.complete = true
		if u.waiter != nil {
			// The unexpected list's last entry is u (see peerState).
			ps.unexpected = ps.unexpected[:len(ps.unexpected)-1]
			c.deliverLocked(u.data, u.waiter, true)
			c.recycleUnexpectedLocked(u, u.waiter)
		}
	}
	*in = incoming{}
}

// cancelLocked withdraws a pending request and completes it with err.
func (c *Comm) cancelLocked(r *Request, err error) {
	if r.done {
		return
	}
	ps := &c.peers[r.peer]
	if r.send {
		i := slices.Index(ps.sendQ[ps.sendHead:], r)
		if i >= 0 {
			i += ps.sendHead
			if r.started {
				// Part of it is on the wire: finish it from a copy so the
				// link's framing stays intact and the caller's buffer is free.
				cp := *r
				cp.buf = append([]byte{}, r.buf...)
				ps.sendQ[i] = &cp
			} else {
				ps.sendQ = slices.Delete(ps.sendQ, i, i+1)
			}
		}
		r.complete(0, err)
		return
	}
	if i := slices.Index(ps.posted, r); i >= 0 {
		ps.posted = slices.Delete(ps.posted, i, i+1)
	} else if in := &ps.in; in.active && in.req == r {
		// Being filled: turn it into an unexpected message.
		u := &unexpectedMsg{tag: in.tag, data: make([]byte, in.size)}
		copy(u.data, in.dst[:in.off])
		ps.unexpected = append(ps.unexpected, u)
		in.req, in.unex, in.dst, in.trunc = nil, u, u.data, false
	} else {
		for _, u := range ps.unexpected {
			if u.waiter == r {
				u.waiter = nil
			}
		}
	}
	r.complete(0, err)
}

// failPeerLocked marks peer p broken with cause and fails every request to
// or from it.
func (c *Comm) failPeerLocked(p int, cause error) {
	// A link's own *OpError about this rank and peer would repeat what the
	// request's OpError says: keep only what it wraps.
	if oe, ok := errors.AsType[*OpError](cause); ok && oe.Rank == c.rank && oe.Peer == p {
		cause = oe.Err
	}
	ps := &c.peers[p]
	if ps.err == nil {
		ps.err = cause
	}
	fail := func(r *Request) {
		if r != nil && !r.done {
			r.complete(0, c.opErr(r.op(), p, int64(r.tag), cause))
		}
	}
	for _, r := range ps.sendQ[ps.sendHead:] {
		fail(r)
	}
	clear(ps.sendQ)
	ps.sendQ, ps.sendHead = ps.sendQ[:0], 0
	for _, r := range ps.posted {
		fail(r)
	}
	clear(ps.posted)
	ps.posted = ps.posted[:0]
	for _, u := range ps.unexpected {
		fail(u.waiter)
		u.waiter = nil
	}
	if ps.in.active {
		fail(ps.in.req)
		if ps.in.unex != nil {
			// An incomplete message will never be finished.
			ps.unexpected = ps.unexpected[:len(ps.unexpected)-1]
		}
	}
	ps.in = incoming{}
}

// checkPeerLocked asks peer p's link whether the peer is alive and fails
// the peer if not.
func (c *Comm) checkPeerLocked(p int) {
	if p < 0 || p >= c.size {
		return
	}
	ps := &c.peers[p]
	if ps.link == nil || ps.err != nil {
		return
	}
	if err := ps.link.Check(); err != nil {
		if !errors.Is(err, ErrPeerLost) {
			err = fmt.Errorf("%w: %w", ErrPeerLost, err)
		}
		c.failPeerLocked(p, err)
	}
}
