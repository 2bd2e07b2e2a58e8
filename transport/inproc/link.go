package inproc

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/hilo-hpc/hilo/transport"
)

// headerBytes frames every message: tag (uint32) and payload length (uint32),
// little-endian.
const headerBytes = 8

// link is one rank's end of a pair. It is used by one goroutine at a time
// (its Comm serialises calls); the fields below the pair pointers are
// private to that goroutine.
type link struct {
	self, peer int
	side       int // index of this end in pair.closed
	pair       *pair
	out, in    *direction
	selfBell   transport.Doorbell // rung by the peer
	peerBell   transport.Doorbell // rung by this end

	closed bool

	// sender: sending says the header of the current message is written.
	sending bool
	// receiver: the header of the current message was read (and consumed).
	hasHeader bool
	inTag     uint32
	inSize    int

	stats transport.LinkStats
}

func (l *link) Peer() int    { return l.peer }
func (l *link) Kind() string { return "inproc" }

func (l *link) SendSome(tag uint32, p []byte, off int) (int, bool, error) {
	if l.closed {
		return off, false, transport.ErrClosed
	}
	if len(p) > math.MaxUint32 {
		return off, false, fmt.Errorf("%w: %d-byte message exceeds the 4 GiB frame limit", transport.ErrInvalid, len(p))
	}
	if off < 0 || off > len(p) || (off > 0 && !l.sending) {
		return off, false, fmt.Errorf("%w: SendSome at offset %d of %d", transport.ErrInvalid, off, len(p))
	}
	r := l.out.get(l.pair.ringBytes)
	head := r.head.Load()
	free := uint64(len(r.buf)) - (head - r.tail.Load())
	wrote := false
	if !l.sending {
		if free < headerBytes {
			return off, false, nil
		}
		var h [headerBytes]byte
		binary.LittleEndian.PutUint32(h[0:], tag)
		binary.LittleEndian.PutUint32(h[4:], uint32(len(p)))
		r.put(head, h[:])
		head += headerBytes
		free -= headerBytes
		l.sending = true
		wrote = true
	}
	n := min(free, uint64(len(p)-off))
	if n > 0 {
		r.put(head, p[off:off+int(n)])
		head += n
		off += int(n)
		l.stats.BytesSent += n
		wrote = true
	}
	if wrote {
		r.head.Store(head) // publishes the bytes written above
		l.peerBell.Ring()
	}
	if off < len(p) {
		return off, false, nil
	}
	l.sending = false
	l.stats.MsgsSent++
	return off, true, nil
}

func (l *link) PeekHeader() (uint32, int, bool, error) {
	if l.closed {
		return 0, 0, false, transport.ErrClosed
	}
	if l.hasHeader {
		return l.inTag, l.inSize, true, nil
	}
	r := l.in.ring.Load()
	if r == nil {
		return 0, 0, false, nil // the peer never sent anything
	}
	tail := r.tail.Load()
	if r.head.Load()-tail < headerBytes {
		return 0, 0, false, nil
	}
	var h [headerBytes]byte
	r.get(tail, h[:])
	// The header is consumed now, freeing its space for the sender.
	r.tail.Store(tail + headerBytes)
	l.peerBell.Ring()
	l.hasHeader = true
	l.inTag = binary.LittleEndian.Uint32(h[0:])
	l.inSize = int(binary.LittleEndian.Uint32(h[4:]))
	return l.inTag, l.inSize, true, nil
}

func (l *link) RecvSome(dst []byte, off int) (int, error) {
	if l.closed {
		return off, transport.ErrClosed
	}
	if !l.hasHeader || len(dst) != l.inSize || off < 0 || off > len(dst) {
		return off, fmt.Errorf("%w: RecvSome of %d bytes at offset %d (header read %v, size %d)",
			transport.ErrInvalid, len(dst), off, l.hasHeader, l.inSize)
	}
	if off < len(dst) {
		r := l.in.ring.Load() // not nil: a header came through it
		tail := r.tail.Load()
		avail := r.head.Load() - tail
		n := min(avail, uint64(len(dst)-off))
		if n == 0 {
			return off, nil
		}
		r.get(tail, dst[off:off+int(n)])
		r.tail.Store(tail + n) // frees the space read above
		l.peerBell.Ring()
		off += int(n)
		l.stats.BytesRecv += n
		if off < len(dst) {
			return off, nil
		}
	}
	l.hasHeader = false
	l.stats.MsgsRecv++
	return off, nil
}

func (l *link) Persistent(ctx context.Context, id uint32, slotBytes, slots int, send bool) (transport.Channel, error) {
	if slotBytes < 0 || slots < 1 {
		return nil, fmt.Errorf("%w: %d slots of %d bytes", transport.ErrInvalid, slots, slotBytes)
	}
	from := l.self
	if !send {
		from = l.peer
	}
	key := chanKey{from: from, id: id}
	p := l.pair
	p.mu.Lock()
	defer p.mu.Unlock()
	ring := p.channels[key]
	if ring == nil {
		ring = newSlotRing(slotBytes, slots)
		p.channels[key] = ring
	} else if ring.slotBytes != slotBytes || len(ring.slots) != slots {
		return nil, fmt.Errorf("%w: channel %d has %d slots of %d bytes, asked for %d of %d",
			transport.ErrInvalid, id, len(ring.slots), ring.slotBytes, slots, slotBytes)
	}
	if send {
		if ring.hasSender {
			return nil, fmt.Errorf("%w: channel %d already has a sender", transport.ErrInvalid, id)
		}
		ring.hasSender = true
		return &sendEnd{ring: ring, peer: l.peer, peerBell: l.peerBell}, nil
	}
	if ring.hasRecver {
		return nil, fmt.Errorf("%w: channel %d already has a receiver", transport.ErrInvalid, id)
	}
	ring.hasRecver = true
	return &recvEnd{ring: ring, peer: l.peer, peerBell: l.peerBell}, nil
}

// Check reports the peer lost once its end of the pair was closed.
func (l *link) Check() error {
	if l.closed {
		return transport.ErrClosed
	}
	if l.pair.closed[1-l.side].Load() {
		return fmt.Errorf("%w: in-process rank %d closed its link", transport.ErrPeerLost, l.peer)
	}
	return nil
}

func (l *link) Stats() transport.LinkStats {
	s := l.stats
	s.Kind = "inproc"
	return s
}

func (l *link) Close() error {
	if !l.closed {
		l.closed = true
		l.pair.closed[l.side].Store(true)
		l.peerBell.Ring()
	}
	return nil
}
