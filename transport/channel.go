package transport

import (
	"context"
	"fmt"
	"slices"
)

// A SendChannel is the writing end of a persistent channel: a fixed ring of
// slots in transport memory that the sender fills in place (Claim, write,
// Commit) and the receiver reads in place. Built once, used every step; its
// methods allocate nothing.
type SendChannel struct {
	c    *Comm
	peer int
	id   uint32
	ch   Channel
}

// A RecvChannel is the reading end of a persistent channel (Acquire, read,
// Release).
type RecvChannel struct {
	c    *Comm
	peer int
	id   uint32
	ch   Channel
}

// SendChannel opens (or joins) the persistent channel id towards peer, with
// slots slots of slotBytes bytes each. The peer opens the same id with
// RecvChannel and the same sizes. peer may be this rank (a self channel).
func (c *Comm) SendChannel(ctx context.Context, peer int, id uint32, slotBytes, slots int) (*SendChannel, error) {
	ch, err := c.openChannel(ctx, "open send channel", peer, id, slotBytes, slots, true)
	if err != nil {
		return nil, err
	}
	return &SendChannel{c: c, peer: peer, id: id, ch: ch}, nil
}

// RecvChannel opens (or joins) the persistent channel id from peer; see
// SendChannel.
func (c *Comm) RecvChannel(ctx context.Context, peer int, id uint32, slotBytes, slots int) (*RecvChannel, error) {
	ch, err := c.openChannel(ctx, "open recv channel", peer, id, slotBytes, slots, false)
	if err != nil {
		return nil, err
	}
	return &RecvChannel{c: c, peer: peer, id: id, ch: ch}, nil
}

func (c *Comm) openChannel(ctx context.Context, op string, peer int, id uint32, slotBytes, slots int, send bool) (Channel, error) {
	if peer < 0 || peer >= c.size {
		return nil, c.opErr(op, peer, int64(id), fmt.Errorf("%w: peer %d of size %d", ErrInvalid, peer, c.size))
	}
	if slotBytes < 0 || slots < 1 {
		return nil, c.opErr(op, peer, int64(id), fmt.Errorf("%w: %d slots of %d bytes", ErrInvalid, slots, slotBytes))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, c.opErr(op, peer, int64(id), ErrClosed)
	}
	if peer == c.rank {
		ch, err := c.selfChannelLocked(id, slotBytes, slots, send)
		if err != nil {
			return nil, c.opErr(op, peer, int64(id), err)
		}
		return ch, nil
	}
	// Persistent may wait for the peer to agree; the Comm stays locked
	// meanwhile, as the link is used by one goroutine at a time.
	ch, err := c.peers[peer].link.Persistent(ctx, id, slotBytes, slots, send)
	if err != nil {
		return nil, c.opErr(op, peer, int64(id), err)
	}
	c.channels = append(c.channels, ch)
	return ch, nil
}

// Peer is the rank at the other end.
func (s *SendChannel) Peer() int { return s.peer }

// Claim returns the next free slot (len == slotBytes), waiting for the
// receiver to release one if all are in flight. Claiming again before
// Commit returns the same slot.
func (s *SendChannel) Claim(ctx context.Context) ([]byte, error) {
	c := s.c
	c.mu.Lock()
	slot, ok, err := s.ch.Claim()
	c.mu.Unlock()
	if ok {
		return slot, nil
	}
	if err == nil {
		werr := c.waitLoop(ctx, -1, func() bool {
			if perr := c.peers[s.peer].err; perr != nil {
				err = perr
				return true
			}
			slot, ok, err = s.ch.Claim()
			return ok || err != nil
		}, func() { c.checkPeerLocked(s.peer) })
		if werr != nil {
			err = werr
		}
	}
	if err != nil {
		return nil, c.opErr("claim", s.peer, int64(s.id), err)
	}
	return slot, nil
}

// Commit publishes the first n bytes of the claimed slot to the receiver.
func (s *SendChannel) Commit(n int) error {
	c := s.c
	c.mu.Lock()
	err := s.ch.Commit(n)
	c.mu.Unlock()
	if err != nil {
		return c.opErr("commit", s.peer, int64(s.id), err)
	}
	return nil
}

// Close closes this end of the channel.
func (s *SendChannel) Close() error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.c.closeChannelLocked(s.ch)
}

// Peer is the rank at the other end.
func (r *RecvChannel) Peer() int { return r.peer }

// Acquire returns the bytes of the next committed slot, waiting for the
// sender to commit one. They stay valid until Release.
func (r *RecvChannel) Acquire(ctx context.Context) ([]byte, error) {
	c := r.c
	c.mu.Lock()
	data, ok, err := r.ch.Acquire()
	c.mu.Unlock()
	if ok {
		return data, nil
	}
	if err == nil {
		werr := c.waitLoop(ctx, -1, func() bool {
			data, ok, err = r.ch.Acquire()
			if ok || err != nil {
				return true
			}
			// Committed slots are still read after the peer is gone; only
			// an empty channel fails.
			if perr := c.peers[r.peer].err; perr != nil {
				err = perr
				return true
			}
			return false
		}, func() { c.checkPeerLocked(r.peer) })
		if werr != nil {
			err = werr
		}
	}
	if err != nil {
		return nil, c.opErr("acquire", r.peer, int64(r.id), err)
	}
	return data, nil
}

// Release hands the acquired slot back to the sender.
func (r *RecvChannel) Release() error {
	c := r.c
	c.mu.Lock()
	err := r.ch.Release()
	c.mu.Unlock()
	if err != nil {
		return c.opErr("release", r.peer, int64(r.id), err)
	}
	return nil
}

// Close closes this end of the channel.
func (r *RecvChannel) Close() error {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	return r.c.closeChannelLocked(r.ch)
}

// selfChannel is a persistent channel from this rank to itself: a ring of
// slots in heap memory, guarded by Comm.mu like everything else here.
type selfChannel struct {
	c                    *Comm
	id                   uint32
	slotBytes            int
	slots                [][]byte
	lens                 []int
	head, tail           uint64 // slots committed, slots released
	claimed, acquired    bool
	hasSender, hasRecver bool
	closed               bool
}

func (c *Comm) selfChannelLocked(id uint32, slotBytes, slots int, send bool) (*selfChannel, error) {
	ch := c.selfCh[id]
	if ch == nil {
		ch = &selfChannel{c: c, id: id, slotBytes: slotBytes, slots: make([][]byte, slots), lens: make([]int, slots)}
		for i := range ch.slots {
			ch.slots[i] = make([]byte, slotBytes)
		}
		if c.selfCh == nil {
			c.selfCh = make(map[uint32]*selfChannel)
		}
		c.selfCh[id] = ch
	} else if ch.slotBytes != slotBytes || len(ch.slots) != slots {
		return nil, fmt.Errorf("%w: self channel %d has %d slots of %d bytes, asked for %d of %d",
			ErrInvalid, id, len(ch.slots), ch.slotBytes, slots, slotBytes)
	}
	if (send && ch.hasSender) || (!send && ch.hasRecver) {
		return nil, fmt.Errorf("%w: self channel %d already open on this side", ErrInvalid, id)
	}
	if send {
		ch.hasSender = true
	} else {
		ch.hasRecver = true
	}
	return ch, nil
}

func (ch *selfChannel) Peer() int { return ch.c.rank }

func (ch *selfChannel) Claim() ([]byte, bool, error) {
	if ch.closed {
		return nil, false, ErrClosed
	}
	if ch.head-ch.tail >= uint64(len(ch.slots)) {
		return nil, false, nil
	}
	ch.claimed = true
	return ch.slots[ch.head%uint64(len(ch.slots))], true, nil
}

func (ch *selfChannel) Commit(n int) error {
	switch {
	case ch.closed:
		return ErrClosed
	case !ch.claimed:
		return fmt.Errorf("%w: commit without a claimed slot", ErrInvalid)
	case n < 0 || n > ch.slotBytes:
		return fmt.Errorf("%w: commit of %d bytes into %d-byte slots", ErrInvalid, n, ch.slotBytes)
	}
	ch.lens[ch.head%uint64(len(ch.slots))] = n
	ch.head++
	ch.claimed = false
	return nil
}

func (ch *selfChannel) Acquire() ([]byte, bool, error) {
	if ch.closed {
		return nil, false, ErrClosed
	}
	if ch.tail == ch.head {
		return nil, false, nil
	}
	i := ch.tail % uint64(len(ch.slots))
	ch.acquired = true
	return ch.slots[i][:ch.lens[i]], true, nil
}

func (ch *selfChannel) Release() error {
	switch {
	case ch.closed:
		return ErrClosed
	case !ch.acquired:
		return fmt.Errorf("%w: release without an acquired slot", ErrInvalid)
	}
	ch.tail++
	ch.acquired = false
	return nil
}

func (ch *selfChannel) Close() error {
	if !ch.closed {
		ch.closed = true
		if ch.c.selfCh[ch.id] == ch {
			delete(ch.c.selfCh, ch.id)
		}
	}
	return nil
}

// closeChannelLocked closes ch once and forgets it.
func (c *Comm) closeChannelLocked(ch Channel) error {
	if i := slices.Index(c.channels, ch); i >= 0 {
		c.channels = slices.Delete(c.channels, i, i+1)
	} else if _, self := ch.(*selfChannel); !self {
		return nil // closed already, by Close of the channel or the Comm
	}
	return ch.Close()
}

// A ChannelSpec describes one persistent channel end for OpenChannels.
type ChannelSpec struct {
	Peer      int
	ID        uint32
	SlotBytes int
	Slots     int
	Send      bool // this rank writes into it
}

// OpenChannels opens many channel ends at once, in an order that cannot
// deadlock when opening a channel waits for the peer to open its end (as
// on shm): every rank visits its peers in one global order of rank pairs
// (lower rank first), and within a pair both sides open the pair's channels
// in the same order (by sending rank, then id). Opening them one by one with
// SendChannel and RecvChannel, a ring of ranks that all open their send
// end first would wait on each other forever.
//
// Every rank passes the specs of all its channels; the peer's specs must
// mirror them (same id, sizes, opposite direction). Results are indexed
// like specs: sends[i] is set when specs[i].Send, recvs[i] otherwise. On an
// error the channels opened so far are closed.
func (c *Comm) OpenChannels(ctx context.Context, specs []ChannelSpec) (sends []*SendChannel, recvs []*RecvChannel, err error) {
	order := make([]int, len(specs))
	for i := range order {
		order[i] = i
	}
	pairKey := func(s ChannelSpec) (lo, hi, from int) {
		lo, hi = min(c.rank, s.Peer), max(c.rank, s.Peer)
		from = s.Peer
		if s.Send {
			from = c.rank
		}
		return lo, hi, from
	}
	slices.SortStableFunc(order, func(a, b int) int {
		alo, ahi, afrom := pairKey(specs[a])
		blo, bhi, bfrom := pairKey(specs[b])
		switch {
		case alo != blo:
			return alo - blo
		case ahi != bhi:
			return ahi - bhi
		case afrom != bfrom:
			return afrom - bfrom
		case specs[a].ID != specs[b].ID:
			return int(int64(specs[a].ID) - int64(specs[b].ID))
		}
		return 0
	})
	sends = make([]*SendChannel, len(specs))
	recvs = make([]*RecvChannel, len(specs))
	closeAll := func() {
		for i := range specs {
			if sends[i] != nil {
				sends[i].Close()
			}
			if recvs[i] != nil {
				recvs[i].Close()
			}
		}
	}
	for _, i := range order {
		s := specs[i]
		if s.Send {
			sends[i], err = c.SendChannel(ctx, s.Peer, s.ID, s.SlotBytes, s.Slots)
		} else {
			recvs[i], err = c.RecvChannel(ctx, s.Peer, s.ID, s.SlotBytes, s.Slots)
		}
		if err != nil {
			closeAll()
			return nil, nil, err
		}
	}
	return sends, recvs, nil
}
