package tcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hilo-hpc/hilo/transport"
)

// Receiving. Bytes are read from the socket with non-blocking read(2) calls
// and decoded incrementally, under rmu, by whichever goroutine gets there
// first:
//
//   - the caller (the Comm), from PeekHeader and RecvSome when nothing is
//     buffered: while it is awake it picks data up itself, with no goroutine
//     hand-off and no wake-up, which also keeps a spinning Comm working when
//     ranks outnumber cores;
//   - the reader goroutine, which waits in the netpoller for the socket to
//     become readable, decodes what came and rings the Doorbell, for when
//     the Comm sleeps.
//
// Payload goes into the inbound ring (messages, behind a 12-byte record of
// tag and size) or straight into the next slot of a persistent channel. When
// the ring is full decoding stops (rblocked) and so does reading, so TCP flow
// control holds the sender back.
const (
	stageSize = 64 << 10
	// directReadMin: a payload read at least this large goes straight into
	// its destination instead of through the staging buffer.
	directReadMin = 16 << 10
	// directPollGap: the least time between two reads the caller makes
	// itself after one found the socket empty.
	directPollGap = 10 * time.Microsecond
)

type payKind uint8

const (
	payNone payKind = iota
	payMsg
	payChan
)

// recvState is the decoder's state, guarded by link.rmu.
type recvState struct {
	stage   []byte
	sr, sw  int // staged bytes are stage[sr:sw]
	dec     frameDecoder
	pay     payKind // the frame whose payload is being read
	payLeft int
	payLast bool // it ends its message
	payCh   *channel
	paySlot []byte // payChan: the slot being filled
	payOff  int
	// rblocked: decoding waits for ring space; the consumer clears it (and
	// signals readerWake) when it frees some.
	rblocked bool
	needRing bool  // something arrived that the bell should announce
	rerr     error // a fatal error found while holding rmu, to fail outside it
	readFn   func(fd uintptr) bool
	pollFn   func(fd uintptr)
	pollRes  int
	// userDst: during RecvSome, the rest of the caller's buffer for the
	// message being received, when the ring holds none of it; userGot
	// counts the bytes read straight into it.
	userDst []byte
	userGot int
	// lastEmpty: when the caller last found the socket empty.
	lastEmpty time.Time
}

const (
	pollDrained = iota // the socket has nothing more now
	pollBlocked        // the ring is full
	pollFailed         // rerr is set
)

func (l *link) initRecv() {
	l.rs.stage = make([]byte, stageSize)
	l.rs.readFn = func(fd uintptr) bool {
		l.rmu.Lock()
		res := l.pollLocked(int(fd))
		ring := l.rs.needRing
		l.rs.needRing = false
		l.rmu.Unlock()
		if ring {
			l.ring()
		}
		return res != pollDrained // false: wait in the netpoller for more
	}
	l.rs.pollFn = func(fd uintptr) { l.rs.pollRes = l.pollLocked(int(fd)) }
}

// readLoop is the reader goroutine.
func (l *link) readLoop() {
	defer l.done.Done()
	for {
		l.rmu.Lock()
		for l.rs.rblocked && l.rs.rerr == nil && l.errp.Load() == nil {
			l.readerWake.Wait()
		}
		l.rmu.Unlock()
		if l.errp.Load() != nil {
			return
		}
		err := l.raw.Read(l.rs.readFn)
		l.rmu.Lock()
		if err == nil {
			err = l.rs.rerr
		}
		l.rmu.Unlock()
		if err != nil {
			l.failRecv(err)
			return
		}
	}
}

// failRecv fails the link with the error the receive side met.
func (l *link) failRecv(err error) {
	switch {
	case l.closed.Load():
		l.fail(transport.ErrClosed)
	case errors.Is(err, transport.ErrProtocol):
		l.fail(fmt.Errorf("rank %d sent a bad frame: %w", l.peer, err))
	case errors.Is(err, errBye):
		l.fail(l.lost("was closed by the peer", nil))
	case errors.Is(err, io.EOF):
		l.fail(l.lost("ended (peer process exited?)", nil))
	default:
		l.fail(l.lost("broke", err))
	}
}

var errBye = errors.New("bye")

// pollNowLocked is the caller's own attempt to read (rmu held). It returns
// an error to fail the link with once rmu is released. An attempt costs a
// system call (about 3 µs here), so a caller that finds nothing tries again
// only after directPollGap: a Comm sweeping many links spins cheaply.
func (l *link) pollNowLocked() error {
	if l.rs.rerr != nil || l.errp.Load() != nil {
		return nil
	}
	now := time.Now()
	if !l.pollNow.Swap(false) && now.Sub(l.rs.lastEmpty) < directPollGap {
		return nil
	}
	l.rs.pollRes = pollDrained
	// Control, not Read: the reader goroutine parked in Read holds the
	// descriptor's read lock; Control only keeps the descriptor alive.
	if err := l.raw.Control(l.rs.pollFn); err != nil {
		return nil // closed: the reader goroutine reports it
	}
	switch l.rs.pollRes {
	case pollFailed:
		return l.rs.rerr
	case pollDrained:
		l.rs.lastEmpty = now
	}
	return nil
}

// pollLocked decodes staged bytes and reads more until the socket is
// drained, the ring is full or something fails.
func (l *link) pollLocked(fd int) int {
	rs := &l.rs
	for {
		if rs.rerr != nil {
			return pollFailed
		}
		if err := l.feedLocked(); err != nil {
			rs.rerr = err
			return pollFailed
		}
		if rs.rblocked {
			return pollBlocked
		}
		if rs.sr == rs.sw {
			rs.sr, rs.sw = 0, 0
		}
		var buf []byte
		direct := false
		switch {
		case rs.payLeft >= directReadMin && rs.sr == rs.sw && rs.pay == payMsg && len(rs.userDst) >= directReadMin && l.in.used() == 0:
			// The caller's buffer for this very message, and nothing of
			// the message is in the ring: no copy at all.
			buf, direct = rs.userDst[:min(len(rs.userDst), rs.payLeft)], true
		case rs.payLeft >= directReadMin && rs.sr == rs.sw && rs.pay == payMsg:
			w := l.in.writable()
			if len(w) == 0 {
				rs.rblocked, rs.needRing = true, true
				return pollBlocked
			}
			buf, direct = w[:min(len(w), rs.payLeft)], true
		case rs.payLeft >= directReadMin && rs.sr == rs.sw && rs.pay == payChan:
			buf, direct = rs.paySlot[rs.payOff:rs.payOff+rs.payLeft], true
		default:
			if rs.sw == len(rs.stage) {
				rs.sw = copy(rs.stage, rs.stage[rs.sr:rs.sw])
				rs.sr = 0
			}
			buf = rs.stage[rs.sw:]
		}
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return pollDrained
		case err != nil:
			rs.rerr = err
			return pollFailed
		case n == 0:
			rs.rerr = io.EOF
			return pollFailed
		}
		if !direct {
			rs.sw += n
			continue
		}
		switch {
		case rs.pay == payMsg && len(rs.userDst) > 0 && &buf[0] == &rs.userDst[0]:
			rs.userDst, rs.userGot = rs.userDst[n:], rs.userGot+n
		case rs.pay == payMsg:
			l.publishLocked(n)
		}
		l.advancePayLocked(n)
	}
}

// publishLocked makes n more bytes of the ring visible to the consumer and
// notes whether the bell should ring: when the ring becomes half full, so
// the consumer drains one half while the other fills (not for every chunk:
// a wake-up costs more than a copy).
func (l *link) publishLocked(n int) {
	before := l.in.used()
	l.in.tail += uint64(n)
	if half := len(l.in.buf) / 2; before < half && l.in.used() >= half {
		l.rs.needRing = true
	}
}

// feedLocked decodes the staged bytes as far as it can.
func (l *link) feedLocked() error {
	rs := &l.rs
	if rs.rblocked {
		// Whoever decodes now takes over; a reader goroutine waiting for
		// space must go back to waiting for the socket.
		rs.rblocked = false
		l.readerWake.Signal()
	}
	for {
		if rs.payLeft > 0 {
			n := min(rs.sw-rs.sr, rs.payLeft)
			if n == 0 {
				return nil
			}
			switch rs.pay {
			case payMsg:
				w := l.in.writable()
				if len(w) == 0 {
					rs.rblocked, rs.needRing = true, true
					return nil
				}
				n = copy(w[:min(len(w), n)], rs.stage[rs.sr:])
				l.publishLocked(n)
			case payChan:
				copy(rs.paySlot[rs.payOff:], rs.stage[rs.sr:rs.sr+n])
			}
			rs.sr += n
			l.advancePayLocked(n)
			continue
		}
		if rs.sw-rs.sr < frameHeaderSize {
			return nil
		}
		if frameType(rs.stage[rs.sr]) == frameMsg && l.in.free() < recordSize {
			rs.rblocked, rs.needRing = true, true
			return nil
		}
		h, err := rs.dec.check(rs.stage[rs.sr : rs.sr+frameHeaderSize])
		if err != nil {
			return err
		}
		rs.sr += frameHeaderSize
		if err := l.startFrameLocked(h); err != nil {
			return err
		}
	}
}

func (l *link) startFrameLocked(h frameHeader) error {
	rs := &l.rs
	switch h.typ {
	case frameMsg:
		var rec [recordSize]byte
		binary.BigEndian.PutUint32(rec[0:], h.tag)
		binary.BigEndian.PutUint64(rec[4:], h.aux)
		l.in.put(rec[:]) // room checked by feedLocked
		rs.pay, rs.payLeft, rs.payLast = payMsg, int(h.len), rs.dec.msgLeft == 0
	case frameMsgCont:
		rs.pay, rs.payLeft, rs.payLast = payMsg, int(h.len), rs.dec.msgLeft == 0
	case frameChanData:
		ch, slot, err := l.chanDataLocked(h)
		if err != nil {
			return err
		}
		rs.pay, rs.payLeft, rs.payCh, rs.paySlot, rs.payOff = payChan, int(h.len), ch, slot, 0
	case frameChanCredit:
		rs.needRing = true
		return l.creditChanLocked(h)
	case frameChanOpen:
		return l.peerOpenedLocked(h)
	case frameBye:
		return errBye
	default:
		return protoErr("unexpected %v frame", h.typ)
	}
	if rs.payLeft == 0 {
		l.endFrameLocked()
	}
	return nil
}

func (l *link) advancePayLocked(n int) {
	rs := &l.rs
	rs.payLeft -= n
	rs.payOff += n
	if rs.payLeft == 0 {
		l.endFrameLocked()
	}
}

func (l *link) endFrameLocked() {
	rs := &l.rs
	switch rs.pay {
	case payMsg:
		if rs.payLast {
			rs.needRing = true
		}
	case payChan:
		if ch := rs.payCh; !ch.closed {
			ch.lens[ch.filled%uint64(ch.slots)] = len(rs.paySlot)
			ch.filled++
		}
		rs.needRing = true
		rs.payCh, rs.paySlot = nil, nil
	}
	rs.pay, rs.payOff = payNone, 0
}
