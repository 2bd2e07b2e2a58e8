package inproc

import (
	"fmt"
	"sync/atomic"

	"github.com/hilo-hpc/hilo/transport"
)

// chanKey names a persistent channel of a pair: its sending rank and id.
type chanKey struct {
	from int
	id   uint32
}

// slotRing is a persistent channel: slots of slotBytes in heap memory. The
// sender writes a slot and its length, then publishes it with an atomic
// store of head; the receiver loads head before reading the slot, and hands
// it back with an atomic store of tail, which the sender loads before it
// reuses the slot.
type slotRing struct {
	slotBytes int
	slots     [][]byte
	lens      []int
	_         [64]byte
	head      atomic.Uint64 // slots committed; written by the sender only
	_         [120]byte
	tail      atomic.Uint64 // slots released; written by the receiver only
	_         [120]byte
	closed    atomic.Bool

	hasSender, hasRecver bool // guarded by pair.mu
}

func newSlotRing(slotBytes, slots int) *slotRing {
	r := &slotRing{slotBytes: slotBytes, slots: make([][]byte, slots), lens: make([]int, slots)}
	mem := make([]byte, slotBytes*slots)
	for i := range r.slots {
		r.slots[i] = mem[i*slotBytes : (i+1)*slotBytes : (i+1)*slotBytes]
	}
	return r
}

type sendEnd struct {
	ring     *slotRing
	peer     int
	peerBell transport.Doorbell
	claimed  bool
}

func (s *sendEnd) Peer() int { return s.peer }

func (s *sendEnd) Claim() ([]byte, bool, error) {
	r := s.ring
	if r.closed.Load() {
		return nil, false, transport.ErrClosed
	}
	head := r.head.Load()
	if head-r.tail.Load() >= uint64(len(r.slots)) {
		return nil, false, nil
	}
	s.claimed = true
	return r.slots[head%uint64(len(r.slots))], true, nil
}

func (s *sendEnd) Commit(n int) error {
	r := s.ring
	switch {
	case r.closed.Load():
		return transport.ErrClosed
	case !s.claimed:
		return fmt.Errorf("%w: commit without a claimed slot", transport.ErrInvalid)
	case n < 0 || n > r.slotBytes:
		return fmt.Errorf("%w: commit of %d bytes into %d-byte slots", transport.ErrInvalid, n, r.slotBytes)
	}
	head := r.head.Load()
	r.lens[head%uint64(len(r.slots))] = n
	r.head.Store(head + 1) // publishes the slot's bytes and length
	s.claimed = false
	s.peerBell.Ring()
	return nil
}

func (s *sendEnd) Acquire() ([]byte, bool, error) {
	return nil, false, fmt.Errorf("%w: acquire on the sending end", transport.ErrInvalid)
}

func (s *sendEnd) Release() error {
	return fmt.Errorf("%w: release on the sending end", transport.ErrInvalid)
}

func (s *sendEnd) Close() error {
	s.ring.closed.Store(true)
	s.peerBell.Ring()
	return nil
}

type recvEnd struct {
	ring     *slotRing
	peer     int
	peerBell transport.Doorbell
	acquired bool
}

func (e *recvEnd) Peer() int { return e.peer }

func (e *recvEnd) Claim() ([]byte, bool, error) {
	return nil, false, fmt.Errorf("%w: claim on the receiving end", transport.ErrInvalid)
}

func (e *recvEnd) Commit(int) error {
	return fmt.Errorf("%w: commit on the receiving end", transport.ErrInvalid)
}

func (e *recvEnd) Acquire() ([]byte, bool, error) {
	r := e.ring
	tail := r.tail.Load()
	if r.head.Load() == tail {
		if !r.closed.Load() {
			return nil, false, nil
		}
		// The sender commits, then closes. Seeing the close after an old
		// head does not mean nothing was committed: read head again, and
		// deliver a slot committed before the close.
		if r.head.Load() == tail {
			return nil, false, transport.ErrClosed
		}
	}
	i := tail % uint64(len(r.slots))
	n := r.lens[i]
	if n < 0 || n > r.slotBytes {
		return nil, false, fmt.Errorf("%w: slot length %d of %d", transport.ErrProtocol, n, r.slotBytes)
	}
	e.acquired = true
	return r.slots[i][:n], true, nil
}

func (e *recvEnd) Release() error {
	r := e.ring
	if !e.acquired {
		return fmt.Errorf("%w: release without an acquired slot", transport.ErrInvalid)
	}
	r.tail.Store(r.tail.Load() + 1) // hands the slot back to the sender
	e.acquired = false
	e.peerBell.Ring()
	return nil
}

func (e *recvEnd) Close() error {
	e.ring.closed.Store(true)
	e.peerBell.Ring()
	return nil
}
