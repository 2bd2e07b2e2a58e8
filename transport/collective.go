package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Op is a reduction operation.
type Op int

// Reduction operations.
const (
	Sum Op = iota
	Min
	Max
)

func (op Op) String() string {
	switch op {
	case Sum:
		return "sum"
	case Min:
		return "min"
	case Max:
		return "max"
	}
	return fmt.Sprintf("Op(%d)", int(op))
}

// nextCollTagLocked returns the reserved tag of the next collective. Every
// rank calls the collectives in the same order, so the counters agree; a
// distinct tag per call keeps consecutive collectives apart.
func (c *Comm) nextCollTag() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.collSeq++
	return collTagBase | c.collSeq&MaxUserTag
}

// collErr names the collective in an error from one of its messages.
func (c *Comm) collErr(op string, err error) error {
	if oe, ok := errors.AsType[*OpError](err); ok {
		e := *oe
		e.Op = op + " (" + oe.Op + ")"
		return &e
	}
	return c.opErr(op, -1, -1, err)
}

// exchange sends out to sendPeer and receives from recvPeer into in, both
// with tag, and waits for both; either peer may be -1 for none. It returns
// the received length.
func (c *Comm) exchange(ctx context.Context, sendPeer int, out []byte, recvPeer int, in []byte, tag uint32) (int, error) {
	c.mu.Lock()
	var rs, rr *Request
	// The receive first: the partner's message then goes straight into in,
	// not through the unexpected queue.
	if recvPeer >= 0 {
		rr = c.getReqLocked()
		rr.peer, rr.tag, rr.buf = recvPeer, tag, in
		c.irecvLocked(rr)
	}
	if sendPeer >= 0 {
		rs = c.getReqLocked()
		rs.send, rs.peer, rs.tag, rs.buf = true, sendPeer, tag, out
		c.isendLocked(rs)
	}
	c.mu.Unlock()
	var err error
	n := 0
	if rs != nil {
		_, err = c.waitOwned(ctx, rs)
	}
	if rr != nil {
		if err != nil {
			c.mu.Lock()
			c.cancelLocked(rr, err)
			c.mu.Unlock()
		} else {
			n, err = c.waitOwned(ctx, rr)
		}
	}
	c.mu.Lock()
	if rs != nil {
		c.putReqLocked(rs)
	}
	if rr != nil {
		c.putReqLocked(rr)
	}
	c.mu.Unlock()
	return n, err
}

// Barrier returns once every rank has entered it (dissemination: ceil(log2
// size) rounds of zero-byte messages).
func (c *Comm) Barrier(ctx context.Context) error {
	tag := c.nextCollTag()
	for dist := 1; dist < c.size; dist <<= 1 {
		to := (c.rank + dist) % c.size
		from := (c.rank - dist + c.size) % c.size
		if _, err := c.exchange(ctx, to, nil, from, nil, tag); err != nil {
			return c.collErr("barrier", err)
		}
	}
	return nil
}

// AllreduceFloat64 combines in element-wise over all ranks with op and
// writes the result into out (len(out) == len(in); they may be the same
// slice). Every rank gets bitwise the same result: recursive doubling
// combines, at each step, two partial results with a commutative operation,
// so both partners compute the same bits.
func (c *Comm) AllreduceFloat64(ctx context.Context, op Op, in, out []float64) error {
	if len(in) != len(out) {
		return c.opErr("allreduce", -1, -1, fmt.Errorf("%w: len(in) %d != len(out) %d", ErrInvalid, len(in), len(out)))
	}
	copy(out, in)
	red := reducer{op: op, f: out}
	return c.allreduce(ctx, &red, len(out)*8)
}

// AllreduceInt64 is AllreduceFloat64 for int64 (Sum wraps around on
// overflow).
func (c *Comm) AllreduceInt64(ctx context.Context, op Op, in, out []int64) error {
	if len(in) != len(out) {
		return c.opErr("allreduce", -1, -1, fmt.Errorf("%w: len(in) %d != len(out) %d", ErrInvalid, len(in), len(out)))
	}
	copy(out, in)
	red := reducer{op: op, i: out, isInt: true}
	return c.allreduce(ctx, &red, len(out)*8)
}

// reducer holds a rank's partial result (f or i) and moves it to and from
// the wire (little-endian) and merges a partner's into it.
type reducer struct {
	op    Op
	isInt bool
	f     []float64
	i     []int64
}

func (r *reducer) encode(dst []byte) {
	if r.isInt {
		for k, v := range r.i {
			binary.LittleEndian.PutUint64(dst[8*k:], uint64(v))
		}
		return
	}
	for k, v := range r.f {
		binary.LittleEndian.PutUint64(dst[8*k:], math.Float64bits(v))
	}
}

func (r *reducer) decode(src []byte) {
	if r.isInt {
		for k := range r.i {
			r.i[k] = int64(binary.LittleEndian.Uint64(src[8*k:]))
		}
		return
	}
	for k := range r.f {
		r.f[k] = math.Float64frombits(binary.LittleEndian.Uint64(src[8*k:]))
	}
}

func (r *reducer) combine(src []byte) {
	if r.isInt {
		for k := range r.i {
			x := int64(binary.LittleEndian.Uint64(src[8*k:]))
			switch r.op {
			case Sum:
				r.i[k] += x
			case Min:
				r.i[k] = min(r.i[k], x)
			case Max:
				r.i[k] = max(r.i[k], x)
			}
		}
		return
	}
	for k := range r.f {
		x := math.Float64frombits(binary.LittleEndian.Uint64(src[8*k:]))
		switch r.op {
		case Sum:
			r.f[k] += x
		case Min:
			r.f[k] = math.Min(r.f[k], x)
		case Max:
			r.f[k] = math.Max(r.f[k], x)
		}
	}
}

// allreduce runs recursive doubling over the largest power of two p2 <=
// size. The first 2*(size-p2) ranks fold in pairs first: each odd one sends
// its vector to the even one below and, at the end, gets the result back.
func (c *Comm) allreduce(ctx context.Context, red *reducer, nbytes int) error {
	if red.op != Sum && red.op != Min && red.op != Max {
		return c.opErr("allreduce", -1, -1, fmt.Errorf("%w: %v", ErrInvalid, red.op))
	}
	tag := c.nextCollTag()
	c.mu.Lock()
	if cap(c.scratchA) < nbytes {
		c.scratchA = make([]byte, nbytes)
		c.scratchB = make([]byte, nbytes)
	}
	// The collective runs on one goroutine; the scratch buffers are its own
	// until it returns (concurrent collectives on one Comm are not allowed).
	sendBuf, recvBuf := c.scratchA[:nbytes], c.scratchB[:nbytes]
	c.mu.Unlock()

	size, rank := c.size, c.rank
	p2 := 1
	for p2*2 <= size {
		p2 *= 2
	}
	rem := size - p2
	odd := rank < 2*rem && rank%2 == 1
	even := rank < 2*rem && rank%2 == 0
	newRank := rank - rem
	switch {
	case odd:
		red.encode(sendBuf)
		if err := c.exchangeFull(ctx, rank-1, sendBuf, -1, nil, tag); err != nil {
			return c.collErr("allreduce", err)
		}
	case even:
		if err := c.exchangeFull(ctx, -1, nil, rank+1, recvBuf, tag); err != nil {
			return c.collErr("allreduce", err)
		}
		red.combine(recvBuf)
		newRank = rank / 2
	}
	if !odd {
		for mask := 1; mask < p2; mask <<= 1 {
			pn := newRank ^ mask
			partner := pn + rem
			if pn < rem {
				partner = pn * 2
			}
			red.encode(sendBuf)
			if err := c.exchangeFull(ctx, partner, sendBuf, partner, recvBuf, tag); err != nil {
				return c.collErr("allreduce", err)
			}
			red.combine(recvBuf)
		}
	}
	switch {
	case odd:
		if err := c.exchangeFull(ctx, -1, nil, rank-1, recvBuf, tag); err != nil {
			return c.collErr("allreduce", err)
		}
		red.decode(recvBuf)
	case even:
		red.encode(sendBuf)
		if err := c.exchangeFull(ctx, rank+1, sendBuf, -1, nil, tag); err != nil {
			return c.collErr("allreduce", err)
		}
	}
	return nil
}

// exchangeFull is exchange that also requires the received message to fill
// in exactly (all ranks pass vectors of the same length).
func (c *Comm) exchangeFull(ctx context.Context, sendPeer int, out []byte, recvPeer int, in []byte, tag uint32) error {
	n, err := c.exchange(ctx, sendPeer, out, recvPeer, in, tag)
	if err == nil && recvPeer >= 0 && n != len(in) {
		err = c.opErr("recv", recvPeer, int64(tag), fmt.Errorf("%w: %d-byte contribution, want %d", ErrInvalid, n, len(in)))
	}
	return err
}

// Bcast copies root's buf into buf on every rank (binomial tree). Every rank
// passes a buffer of the same length.
func (c *Comm) Bcast(ctx context.Context, root int, buf []byte) error {
	if root < 0 || root >= c.size {
		return c.opErr("bcast", root, -1, fmt.Errorf("%w: root %d of size %d", ErrInvalid, root, c.size))
	}
	tag := c.nextCollTag()
	vr := (c.rank - root + c.size) % c.size
	mask := 1
	for mask < c.size {
		if vr&mask != 0 {
			from := (vr - mask + root) % c.size
			n, err := c.exchange(ctx, -1, nil, from, buf, tag)
			if err == nil && n != len(buf) {
				err = c.opErr("recv", from, int64(tag), fmt.Errorf("%w: %d bytes from the root, buffer of %d", ErrInvalid, n, len(buf)))
			}
			if err != nil {
				return c.collErr("bcast", err)
			}
			break
		}
		mask <<= 1
	}
	for mask >>= 1; mask > 0; mask >>= 1 {
		if vr+mask < c.size {
			to := (vr + mask + root) % c.size
			if _, err := c.exchange(ctx, to, buf, -1, nil, tag); err != nil {
				return c.collErr("bcast", err)
			}
		}
	}
	return nil
}

// Allgather returns every rank's contribution, indexed by rank; they may
// differ in length. The result is newly allocated (ring algorithm: size-1
// steps, each passing one contribution to the right).
func (c *Comm) Allgather(ctx context.Context, mine []byte) ([][]byte, error) {
	tag := c.nextCollTag()
	out := make([][]byte, c.size)
	out[c.rank] = append([]byte{}, mine...)
	right, left := (c.rank+1)%c.size, (c.rank-1+c.size)%c.size
	for k := 0; k < c.size-1; k++ {
		sendIdx := (c.rank - k + c.size) % c.size
		recvIdx := (c.rank - k - 1 + c.size) % c.size
		c.mu.Lock()
		rs := c.getReqLocked()
		rs.send, rs.peer, rs.tag, rs.buf = true, right, tag, out[sendIdx]
		c.isendLocked(rs)
		rr := c.getReqLocked()
		rr.peer, rr.tag, rr.alloc = left, tag, true
		c.irecvLocked(rr)
		c.mu.Unlock()
		_, err := c.waitOwned(ctx, rs)
		if err == nil {
			_, err = c.waitOwned(ctx, rr)
		} else {
			c.mu.Lock()
			c.cancelLocked(rr, err)
			c.mu.Unlock()
		}
		out[recvIdx] = rr.buf
		c.mu.Lock()
		c.putReqLocked(rs)
		c.putReqLocked(rr)
		c.mu.Unlock()
		if err != nil {
			return nil, c.collErr("allgather", err)
		}
	}
	return out, nil
}
