package tcp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

// maxPeerOpens bounds the channel openings a peer may announce before this
// rank asks for them.
const maxPeerOpens = 1 << 16

// chanKey names a channel from this rank's point of view: send is true when
// this rank writes into it.
type chanKey struct {
	id   uint32
	send bool
}

type chanParams struct{ slotBytes, slots int }

// channel is one end of a persistent channel over TCP. The sender's slots
// are local memory; Commit frames the slot (a frameChanData carrying the
// channel id) into the link's outbound ring. The receiver's reader goroutine
// reads each such frame straight into the next free slot of the receiver's
// own buffer; Release sends a credit back, and the sender claims a slot only
// while it holds a credit, so at most slots frames are in flight and the
// reader always has a slot to read into.
type channel struct {
	l         *link
	id        uint32
	send      bool
	slotBytes int
	slots     int
	bufs      [][]byte // slots views of one allocation
	lens      []int

	agreed     chan struct{} // closed once the peer's opening has been checked
	openErr    error         // written before agreed is closed
	peerOpened bool          // rmu

	// Sender (smu).
	openPending bool
	claimed     bool
	committed   uint64 // slots committed by the user
	queued      uint64 // of those, framed into the outbound ring
	credited    uint64 // of those, released by the receiver
	// Receiver.
	filled, consumed uint64 // rmu
	acquired         bool   // rmu
	creditOwed       uint64 // smu
	closed           bool   // rmu and smu both held to set
}

func (l *link) Persistent(ctx context.Context, id uint32, slotBytes, slots int, send bool) (transport.Channel, error) {
	tag := int64(id)
	if err := l.state(); err != nil {
		return nil, l.opErr("persistent", tag, err)
	}
	if slotBytes <= 0 || slotBytes > MaxFramePayload || slots <= 0 || slots > maxSlots {
		return nil, l.opErr("persistent", tag, fmt.Errorf("channel of %d slots of %d bytes: want 1..%d slots of 1..%d bytes", slots, slotBytes, maxSlots, MaxFramePayload))
	}
	if send {
		if err := l.growOut(ctx, slotBytes+frameHeaderSize); err != nil {
			return nil, l.opErr("persistent", tag, err)
		}
	}
	ch := &channel{l: l, id: id, send: send, slotBytes: slotBytes, slots: slots,
		bufs: make([][]byte, slots), lens: make([]int, slots), agreed: make(chan struct{})}
	mem := make([]byte, slotBytes*slots)
	for i := range ch.bufs {
		ch.bufs[i] = mem[i*slotBytes : (i+1)*slotBytes : (i+1)*slotBytes]
	}
	key := chanKey{id, send}
	l.rmu.Lock()
	if l.chans[key] != nil {
		l.rmu.Unlock()
		return nil, l.opErr("persistent", tag, fmt.Errorf("channel %d (send=%v) is already open", id, send))
	}
	l.chans[key] = ch
	if p, ok := l.peerOpens[key]; ok {
		delete(l.peerOpens, key)
		ch.agreeLocked(p)
	}
	l.rmu.Unlock()

	l.smu.Lock()
	l.chanList = append(l.chanList, ch)
	ch.openPending = true
	l.pending = true
	l.flushPendingLocked()
	l.kickLocked()
	l.smu.Unlock()

	select {
	case <-ch.agreed:
		if ch.openErr != nil {
			ch.unregister()
			return nil, l.opErr("persistent", tag, ch.openErr)
		}
		return ch, nil
	case <-ctx.Done():
		ch.unregister()
		return nil, l.opErr("persistent", tag, fmt.Errorf("%w: rank %d did not open channel %d: %w", transport.ErrTimeout, l.peer, id, ctx.Err()))
	case <-l.dead:
		return nil, l.opErr("persistent", tag, l.state())
	}
}

// growOut makes the outbound ring hold at least n bytes, so that one slot
// always fits in one frame. It waits for the ring to drain first.
func (l *link) growOut(ctx context.Context, n int) error {
	for {
		l.smu.Lock()
		if len(l.out.buf) >= n {
			l.smu.Unlock()
			return nil
		}
		if l.out.used() == 0 && !l.writing && !l.sendActive {
			l.out = byteRing{buf: make([]byte, n)}
			l.smu.Unlock()
			return nil
		}
		l.smu.Unlock()
		if err := l.state(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for the send queue to drain: %w", transport.ErrTimeout, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

func (ch *channel) agreeLocked(p chanParams) {
	ch.peerOpened = true
	if p.slotBytes != ch.slotBytes || p.slots != ch.slots {
		ch.openErr = fmt.Errorf("rank %d opened channel %d with %d slots of %d bytes, this rank with %d slots of %d bytes",
			ch.l.peer, ch.id, p.slots, p.slotBytes, ch.slots, ch.slotBytes)
	}
	close(ch.agreed)
}

func (ch *channel) unregister() {
	l := ch.l
	l.rmu.Lock()
	l.smu.Lock()
	ch.closed = true
	l.smu.Unlock()
	if l.chans[chanKey{ch.id, ch.send}] == ch {
		delete(l.chans, chanKey{ch.id, ch.send})
	}
	l.rmu.Unlock()
}

// flushPendingLocked frames whatever channels have waiting (openings,
// committed slots, credits) as far as the outbound ring has room.
func (l *link) flushPendingLocked() {
	l.pending = false
	for _, ch := range l.chanList {
		if ch.openPending {
			if l.out.free() < frameHeaderSize {
				l.pending = true
				return
			}
			h := frameHeader{typ: frameChanOpen, tag: ch.id, aux: uint64(ch.slotBytes)<<32 | uint64(ch.slots)}
			if ch.send {
				h.flags = flagSender
			}
			l.putFrameLocked(h, nil)
			ch.openPending = false
		}
		for ch.queued < ch.committed {
			i := int(ch.queued % uint64(ch.slots))
			n := ch.lens[i]
			if l.out.free() < frameHeaderSize+n {
				l.pending = true
				return
			}
			h := frameHeader{typ: frameChanData, tag: ch.id, len: uint32(n)}
			if l.canSendDirectLocked(n) {
				// Straight from the committed slot: whatever the kernel
				// does not take now is copied into the ring, so the slot
				// is free again as soon as its credit comes back.
				l.sendDirectLocked(h, ch.bufs[i][:n])
			} else {
				l.putFrameLocked(h, ch.bufs[i][:n])
			}
			ch.queued++
		}
		if ch.creditOwed > 0 {
			if l.out.free() < frameHeaderSize {
				l.pending = true
				return
			}
			l.putFrameLocked(frameHeader{typ: frameChanCredit, tag: ch.id, aux: ch.creditOwed}, nil)
			ch.creditOwed = 0
		}
	}
}

// peerOpenedLocked handles a frameChanOpen (rmu held).
func (l *link) peerOpenedLocked(h frameHeader) error {
	key := chanKey{id: h.tag, send: h.flags&flagSender == 0}
	p := chanParams{slotBytes: int(h.aux >> 32), slots: int(h.aux & 0xffffffff)}
	if ch := l.chans[key]; ch != nil {
		if ch.peerOpened {
			return protoErr("channel %d opened twice", h.tag)
		}
		ch.agreeLocked(p)
		return nil
	}
	if _, dup := l.peerOpens[key]; dup {
		return protoErr("channel %d opened twice", h.tag)
	}
	if len(l.peerOpens) >= maxPeerOpens {
		return protoErr("more than %d channels opened", maxPeerOpens)
	}
	l.peerOpens[key] = p
	return nil
}

// chanDataLocked checks a frameChanData and returns the slot its payload
// goes to (rmu held). The slot is not visible to the consumer until filled
// moves, in endFrameLocked.
func (l *link) chanDataLocked(h frameHeader) (*channel, []byte, error) {
	ch := l.chans[chanKey{h.tag, false}]
	switch {
	case ch == nil || !ch.peerOpened:
		return nil, nil, protoErr("data for channel %d, which this rank has not opened for reading", h.tag)
	case int(h.len) > ch.slotBytes:
		return nil, nil, protoErr("%d bytes for channel %d of %d-byte slots", h.len, h.tag, ch.slotBytes)
	case ch.filled-ch.consumed >= uint64(ch.slots):
		return nil, nil, protoErr("channel %d: more slots in flight than the %d agreed", h.tag, ch.slots)
	}
	return ch, ch.bufs[ch.filled%uint64(ch.slots)][:h.len], nil
}

// creditChanLocked handles a frameChanCredit (rmu held; takes smu).
func (l *link) creditChanLocked(h frameHeader) error {
	ch := l.chans[chanKey{h.tag, true}]
	if ch == nil {
		return nil // a channel closed here; nothing waits for its credits
	}
	l.smu.Lock()
	defer l.smu.Unlock()
	if ch.credited+h.aux > ch.queued {
		return protoErr("channel %d: %d credits for %d slots sent", h.tag, ch.credited+h.aux, ch.queued)
	}
	ch.credited += h.aux
	return nil
}

func (ch *channel) Peer() int { return ch.l.peer }

func (ch *channel) err(op string, err error) error {
	return ch.l.opErr(op, int64(ch.id), err)
}

var errWrongEnd = errors.New("wrong end of the channel")

func (ch *channel) Claim() ([]byte, bool, error) {
	l := ch.l
	if err := l.state(); err != nil {
		return nil, false, ch.err("claim", err)
	}
	if !ch.send {
		return nil, false, ch.err("claim", errWrongEnd)
	}
	l.smu.Lock()
	defer l.smu.Unlock()
	if ch.closed {
		return nil, false, ch.err("claim", transport.ErrClosed)
	}
	if !ch.claimed && ch.committed-ch.credited >= uint64(ch.slots) {
		// Look for credits on the socket ourselves (rmu comes before smu).
		l.smu.Unlock()
		l.rmu.Lock()
		perr := l.pollNowLocked()
		l.rmu.Unlock()
		l.afterPoll(perr)
		l.smu.Lock()
		if ch.closed {
			return nil, false, ch.err("claim", transport.ErrClosed)
		}
		if !ch.claimed && ch.committed-ch.credited >= uint64(ch.slots) {
			return nil, false, nil
		}
	}
	ch.claimed = true
	return ch.bufs[ch.committed%uint64(ch.slots)], true, nil
}

func (ch *channel) Commit(n int) error {
	l := ch.l
	if err := l.state(); err != nil {
		return ch.err("commit", err)
	}
	l.smu.Lock()
	defer l.smu.Unlock()
	switch {
	case ch.closed:
		return ch.err("commit", transport.ErrClosed)
	case !ch.claimed:
		return ch.err("commit", errors.New("commit without a claimed slot"))
	case n < 0 || n > ch.slotBytes:
		return ch.err("commit", fmt.Errorf("commit of %d bytes into a %d-byte slot", n, ch.slotBytes))
	}
	ch.lens[ch.committed%uint64(ch.slots)] = n
	ch.committed++
	ch.claimed = false
	l.msgsSent.Add(1)
	l.bytesSent.Add(uint64(n))
	l.pending = true
	l.flushPendingLocked()
	l.kickLocked()
	return nil
}

func (ch *channel) Acquire() ([]byte, bool, error) {
	l := ch.l
	if l.closed.Load() {
		return nil, false, ch.err("acquire", transport.ErrClosed)
	}
	if ch.send {
		return nil, false, ch.err("acquire", errWrongEnd)
	}
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if ch.closed {
		return nil, false, ch.err("acquire", transport.ErrClosed)
	}
	if ch.consumed == ch.filled {
		if perr := l.pollNowLocked(); perr != nil {
			l.rmu.Unlock()
			l.afterPoll(perr)
			l.rmu.Lock()
		} else if l.rs.needRing {
			l.rs.needRing = false
			l.ring() // for other waiters on this rank; ringing takes no lock
		}
	}
	if ch.consumed < ch.filled {
		i := int(ch.consumed % uint64(ch.slots))
		if !ch.acquired {
			ch.acquired = true
			l.msgsRecv.Add(1)
			l.bytesRecv.Add(uint64(ch.lens[i]))
		}
		return ch.bufs[i][:ch.lens[i]], true, nil
	}
	if p := l.errp.Load(); p != nil {
		return nil, false, ch.err("acquire", *p)
	}
	return nil, false, nil
}

func (ch *channel) Release() error {
	l := ch.l
	if err := l.state(); err != nil {
		return ch.err("release", err)
	}
	l.rmu.Lock()
	if !ch.acquired {
		l.rmu.Unlock()
		return ch.err("release", errors.New("release without an acquired slot"))
	}
	ch.acquired = false
	ch.consumed++
	l.rmu.Unlock()
	l.smu.Lock()
	ch.creditOwed++
	l.pending = true
	l.flushPendingLocked()
	l.kickLocked()
	l.smu.Unlock()
	return nil
}

// Close closes this end. Frames already committed still go out; frames that
// arrive for a closed receiving end are dropped.
func (ch *channel) Close() error {
	l := ch.l
	l.rmu.Lock()
	l.smu.Lock()
	ch.closed = true
	l.smu.Unlock()
	l.rmu.Unlock()
	return nil
}
