package tcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hilo-hpc/hilo/transport"
)

const (
	// recordSize is the size of the record the reader puts in the inbound
	// ring before each message's payload: tag u32, size u64.
	recordSize = 12
	// minFrameChunk: SendSome waits for this much free ring space (or the
	// whole rest of the message) rather than cutting tiny frames.
	minFrameChunk = 64 << 10
	// writeChunk bounds one blocking write of the writer goroutine, so that
	// ring space comes back to the sender while a large message drains.
	writeChunk = 512 << 10
	// closeFlush is how long Close waits for queued bytes to drain.
	closeFlush = time.Second
	// smallCopy: RecvSome copies up to this much while holding the lock.
	smallCopy = 64 << 10
	// directWriteMin: frames at least this large are written from the
	// caller's buffer when nothing else is queued.
	directWriteMin = 64 << 10
)

// link is a transport.Link over one authenticated TCP connection.
//
// Sending: the caller's goroutine frames each message into a bounded
// outbound ring (whole frames only, so channel and control frames can always
// be placed between two calls), then, if no write is in flight, tries one
// non-blocking write(2) of the ring straight from its own goroutine: a small
// message leaves with no goroutine hand-off. Whatever the kernel does not
// take is written by a writer goroutine that blocks in the netpoller and
// rings the doorbell as it frees ring space.
//
// Receiving (recv.go): frames are decoded incrementally, validating
// everything, by the caller when it finds nothing buffered or else by a
// reader goroutine parked in the netpoller, into a bounded inbound ring of
// [record | payload] per message and into the slots of persistent channels;
// when the ring is full reading stops, so TCP flow control pushes back on
// the sender.
type link struct {
	rank, peer int
	conn       *net.TCPConn
	raw        syscall.RawConn
	bell       transport.Doorbell
	direct     bool // try the non-blocking write from the caller's goroutine
	spin       time.Duration
	// pollNow: the next caller's read attempt skips the directPollGap
	// throttle (a Comm spinning on this link set it; see PollNow).
	pollNow atomic.Bool

	errp   atomic.Pointer[error] // first fatal error; nil while healthy
	dead   chan struct{}         // closed when errp is set
	closed atomic.Bool
	done   sync.WaitGroup // reader and writer goroutines

	// Send side, guarded by smu.
	smu        sync.Mutex
	writerWake *sync.Cond // the writer waits for bytes (or close)
	out        byteRing
	sendSeq    uint32
	writing    bool // the writer goroutine is inside a write
	writerGone chan struct{}
	// The message being sent.
	sendActive bool
	sendTag    uint32
	sendSize   int
	sendFramed int // payload bytes of it already framed into out
	// The direct write, preallocated so the hot path does not allocate a
	// closure per call.
	directN   int
	directErr error
	directFn  func(fd uintptr) bool
	iov       [2]unix.Iovec // what directFn writes: iov[:iovN]
	iovN      int
	hdrBuf    [frameHeaderSize]byte
	// directWrites counts frames sent by sendDirectLocked (for tests).
	directWrites atomic.Uint64
	pending      bool       // some channel has frames waiting for ring space
	sendWait     bool       // SendSome returned unfinished: ring when half the ring is free
	chanList     []*channel // every persistent channel, for flushPendingLocked

	// Receive side, guarded by rmu.
	rmu        sync.Mutex
	readerWake *sync.Cond // the reader waits for inbound ring space
	in         byteRing
	recvHdr    bool
	recvTag    uint32
	recvSize   int
	recvOff    int
	recBuf     [recordSize]byte // the consumer's copy of a record
	rs         recvState
	chans      map[chanKey]*channel
	peerOpens  map[chanKey]chanParams

	bytesSent, bytesRecv, msgsSent, msgsRecv atomic.Uint64
}

func newLink(conn *net.TCPConn, rank, peer int, bell transport.Doorbell, bufBytes int, direct bool) (*link, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	l := &link{
		rank: rank, peer: peer, conn: conn, raw: raw, bell: bell, direct: direct,
		dead:       make(chan struct{}),
		writerGone: make(chan struct{}),
		out:        byteRing{buf: make([]byte, bufBytes)},
		in:         byteRing{buf: make([]byte, bufBytes)},
		chans:      make(map[chanKey]*channel),
		peerOpens:  make(map[chanKey]chanParams),
	}
	l.writerWake = sync.NewCond(&l.smu)
	l.readerWake = sync.NewCond(&l.rmu)
	l.initRecv()
	l.directFn = func(fd uintptr) bool {
		// The raw system call: unix.Writev allocates its iovec array.
		// The iovecs point at memory the caller keeps alive until
		// writeNowLocked returns. One attempt only: never wait for
		// writability here.
		r, _, errno := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&l.iov[0])), uintptr(l.iovN))
		l.directN, l.directErr = int(r), nil
		if errno != 0 {
			l.directN, l.directErr = -1, errno
		}
		return true
	}
	l.done.Add(2)
	go l.writeLoop()
	go l.readLoop()
	return l, nil
}

func (l *link) Peer() int    { return l.peer }
func (l *link) Kind() string { return "tcp" }

func (l *link) ring() {
	if l.bell != nil {
		l.bell.Ring()
	}
}

func (l *link) opErr(op string, tag int64, err error) error {
	return &transport.OpError{Op: op, Rank: l.rank, Peer: l.peer, Tag: tag, Kind: "tcp", Err: err}
}

// state returns the error every call reports once the link is closed or broken.
func (l *link) state() error {
	if l.closed.Load() {
		return transport.ErrClosed
	}
	if p := l.errp.Load(); p != nil {
		return *p
	}
	return nil
}

// fail records the first fatal error, wakes every waiter and rings the bell.
func (l *link) fail(err error) {
	if !l.errp.CompareAndSwap(nil, &err) {
		return
	}
	close(l.dead)
	l.conn.Close()
	l.smu.Lock()
	l.writerWake.Broadcast()
	l.smu.Unlock()
	l.rmu.Lock()
	l.readerWake.Broadcast()
	l.rmu.Unlock()
	l.ring()
}

func (l *link) lost(how string, cause error) error {
	if cause != nil {
		return fmt.Errorf("%w: connection to rank %d %s: %v", transport.ErrPeerLost, l.peer, how, cause)
	}
	return fmt.Errorf("%w: connection to rank %d %s", transport.ErrPeerLost, l.peer, how)
}

// SpinBudget implements transport.Poller (Config.Spin).
func (l *link) SpinBudget() time.Duration { return l.spin }

// PollNow implements transport.Poller: the next PeekHeader or RecvSome
// reads the socket even if the last read found it empty a moment ago.
func (l *link) PollNow() { l.pollNow.Store(true) }

var _ transport.Poller = (*link)(nil)

func (l *link) Check() error {
	if err := l.state(); err != nil {
		return l.opErr("check", -1, err)
	}
	return nil
}

func (l *link) Stats() transport.LinkStats {
	return transport.LinkStats{
		Kind:      "tcp",
		BytesSent: l.bytesSent.Load(), BytesRecv: l.bytesRecv.Load(),
		MsgsSent: l.msgsSent.Load(), MsgsRecv: l.msgsRecv.Load(),
	}
}

// ---- sending ----

// putFrameLocked appends one whole frame; the caller has checked the space.
func (l *link) putFrameLocked(h frameHeader, payload []byte) {
	h.seq = l.sendSeq
	l.sendSeq++
	putHeader(l.hdrBuf[:], h)
	l.out.put(l.hdrBuf[:])
	l.out.put(payload)
}

// kickLocked gets queued bytes moving: non-blocking write attempts from
// this goroutine while no write is in flight and the kernel takes bytes,
// then the writer for the rest. Channel frames waiting for ring space are
// framed as soon as the writes make room for them.
func (l *link) kickLocked() {
	for {
		if l.pending {
			l.flushPendingLocked()
		}
		if l.out.used() == 0 || l.writing {
			return
		}
		if !l.direct || !l.directWriteLocked() {
			break
		}
	}
	if l.out.used() > 0 {
		l.writerWake.Signal()
	}
}

// directWriteLocked makes one non-blocking write(2) of the ring's head and
// reports whether the kernel took anything.
func (l *link) directWriteLocked() bool {
	n := l.writeNowLocked(l.out.readable(), nil)
	l.out.head += uint64(n)
	return n > 0
}

// writeNowLocked makes one non-blocking writev(2) of a and then b (either
// may be empty) from this goroutine and returns how much the kernel took (0
// when its buffer is full). A broken connection fails the link
// (asynchronously: fail takes smu).
func (l *link) writeNowLocked(a, b []byte) int {
	l.iovN = 0
	for _, p := range [2][]byte{a, b} {
		if len(p) > 0 {
			l.iov[l.iovN].Base = &p[0]
			l.iov[l.iovN].SetLen(len(p))
			l.iovN++
		}
	}
	if l.iovN == 0 {
		return 0
	}
	l.directN, l.directErr = 0, nil
	if err := l.raw.Write(l.directFn); err != nil {
		l.directErr = err
	}
	// Do not keep the caller's buffers reachable from the link.
	l.iov[0].Base, l.iov[1].Base = nil, nil
	n, err := l.directN, l.directErr
	l.directN, l.directErr = 0, nil
	if err != nil && err != unix.EAGAIN && err != unix.EINTR {
		go l.fail(l.lost("broke", err))
		return 0
	}
	return max(n, 0)
}

// canSendDirectLocked reports whether a frame with this much payload may
// be written straight from the caller's memory: it is large enough for the
// copy into the ring to matter, and nothing queued must go first.
func (l *link) canSendDirectLocked(payload int) bool {
	return l.direct && payload >= directWriteMin && l.out.used() == 0 && !l.writing
}

// sendDirectLocked sends one frame straight from the caller's buffer (a
// message's or a channel's slot) while nothing else is queued, header and
// payload in one writev(2), and queues only what the kernel did not take:
// a large payload is not copied into the ring first, and the header does
// not leave as a segment of its own.
func (l *link) sendDirectLocked(h frameHeader, payload []byte) {
	h.seq = l.sendSeq
	l.sendSeq++
	putHeader(l.hdrBuf[:], h)
	w := l.writeNowLocked(l.hdrBuf[:], payload)
	l.directWrites.Add(1)
	if w < frameHeaderSize {
		l.out.put(l.hdrBuf[w:])
		l.out.put(payload)
		return
	}
	l.out.put(payload[w-frameHeaderSize:])
}

func (l *link) writeLoop() {
	defer l.done.Done()
	defer close(l.writerGone)
	l.smu.Lock()
	defer l.smu.Unlock()
	for {
		for l.out.used() == 0 && !l.closed.Load() && l.errp.Load() == nil {
			l.writerWake.Wait()
		}
		if l.errp.Load() != nil || l.out.used() == 0 {
			return // broken, or closed with everything written
		}
		chunk := l.out.readable()
		if len(chunk) > writeChunk {
			chunk = chunk[:writeChunk]
		}
		l.writing = true
		l.smu.Unlock()
		n, err := l.conn.Write(chunk)
		l.smu.Lock()
		l.writing = false
		l.out.head += uint64(n)
		if err != nil {
			l.smu.Unlock()
			l.fail(l.lost("broke", err))
			l.smu.Lock()
			return
		}
		if l.pending {
			l.flushPendingLocked()
		}
		// Ring for freed space only when a sender waits for it and there
		// is room worth waking up for.
		if l.sendWait && (l.out.used() == 0 || 2*l.out.free() >= len(l.out.buf)) {
			l.sendWait = false
			l.smu.Unlock()
			l.ring()
			l.smu.Lock()
		}
	}
}

func (l *link) SendSome(tag uint32, p []byte, off int) (int, bool, error) {
	if err := l.state(); err != nil {
		return off, false, l.opErr("send", int64(tag), err)
	}
	l.smu.Lock()
	defer l.smu.Unlock()
	if !l.sendActive {
		if off != 0 {
			return off, false, l.opErr("send", int64(tag), fmt.Errorf("offset %d for a message not started", off))
		}
		if uint64(len(p)) > MaxMessageSize {
			return off, false, l.opErr("send", int64(tag), fmt.Errorf("message of %d bytes exceeds the limit of %d", len(p), uint64(MaxMessageSize)))
		}
	} else if tag != l.sendTag || len(p) != l.sendSize || off > l.sendFramed {
		return off, false, l.opErr("send", int64(tag), fmt.Errorf("message (tag %d, %d bytes, offset %d) does not continue the one in progress (tag %d, %d bytes, %d handed over)",
			tag, len(p), off, l.sendTag, l.sendSize, l.sendFramed))
	}
	if l.pending {
		l.flushPendingLocked()
	}
	for {
		l.frameSomeLocked(tag, p)
		if l.sendActive && l.sendFramed == len(p) {
			l.sendActive = false
			l.msgsSent.Add(1)
			l.bytesSent.Add(uint64(len(p)))
			l.kickLocked()
			return len(p), true, nil
		}
		before := l.out.used()
		l.kickLocked()
		if l.out.used() == before {
			break // the kernel takes no more now; the writer carries on
		}
	}
	l.sendWait = true
	if !l.sendActive {
		return 0, false, nil
	}
	return l.sendFramed, false, nil
}

// frameSomeLocked frames as much of the message as the ring has room for,
// in whole frames.
func (l *link) frameSomeLocked(tag uint32, p []byte) {
	for {
		framed := 0
		if l.sendActive {
			framed = l.sendFramed
			if framed == len(p) {
				return
			}
		}
		rem := len(p) - framed
		room := l.out.free() - frameHeaderSize
		if room < min(rem, minFrameChunk) {
			return
		}
		n := min(rem, room, MaxFramePayload)
		h := frameHeader{typ: frameMsgCont, tag: tag, len: uint32(n)}
		if !l.sendActive {
			h.typ, h.aux = frameMsg, uint64(len(p))
			l.sendActive, l.sendTag, l.sendSize, l.sendFramed = true, tag, len(p), 0
		}
		if l.canSendDirectLocked(n) {
			l.sendDirectLocked(h, p[framed:framed+n])
		} else {
			l.putFrameLocked(h, p[framed:framed+n])
		}
		l.sendFramed += n
	}
}

// ---- receiving (see recv.go for the reader) ----

func (l *link) PeekHeader() (uint32, int, bool, error) {
	if l.closed.Load() {
		return 0, 0, false, l.opErr("recv", -1, transport.ErrClosed)
	}
	l.rmu.Lock()
	ok := l.peekLocked()
	var perr error
	if !ok {
		perr = l.pollNowLocked()
		ok = l.peekLocked()
	}
	tag, size := l.recvTag, l.recvSize
	l.rmu.Unlock()
	l.afterPoll(perr)
	if ok {
		return tag, size, true, nil
	}
	// Data that arrived before the peer was lost is still delivered; the
	// error comes once nothing is left.
	if p := l.errp.Load(); p != nil {
		return 0, 0, false, l.opErr("recv", -1, *p)
	}
	return 0, 0, false, nil
}

// afterPoll rings the bell for what a poll under rmu found (other waiters
// on this rank, channels the Comm has already looked at in this sweep) and
// fails the link on the error it met. rmu must not be held.
func (l *link) afterPoll(perr error) {
	l.rmu.Lock()
	ring := l.rs.needRing
	l.rs.needRing = false
	l.rmu.Unlock()
	if ring {
		l.ring()
	}
	if perr != nil {
		l.failRecv(perr)
	}
}

// spaceFreedLocked lets decoding continue after the consumer freed ring space.
func (l *link) spaceFreedLocked() {
	if l.rs.rblocked {
		l.rs.rblocked = false
		l.readerWake.Signal()
	}
}

// peekLocked takes the next message's record out of the ring if there is one.
func (l *link) peekLocked() bool {
	if l.recvHdr {
		return true
	}
	if l.in.used() < recordSize {
		return false
	}
	l.in.get(l.recBuf[:])
	l.spaceFreedLocked()
	l.recvTag = binary.BigEndian.Uint32(l.recBuf[0:])
	l.recvSize = int(binary.BigEndian.Uint64(l.recBuf[4:])) // <= MaxMessageSize, checked by the decoder
	l.recvOff = 0
	l.recvHdr = true
	return true
}

func (l *link) RecvSome(dst []byte, off int) (int, error) {
	if l.closed.Load() {
		return off, l.opErr("recv", -1, transport.ErrClosed)
	}
	l.rmu.Lock()
	if !l.peekLocked() {
		l.rmu.Unlock()
		if p := l.errp.Load(); p != nil {
			return off, l.opErr("recv", -1, *p)
		}
		return off, l.opErr("recv", -1, errors.New("RecvSome before PeekHeader announced a message"))
	}
	if len(dst) != l.recvSize || off != l.recvOff {
		err := fmt.Errorf("RecvSome(len %d, off %d) for a message of %d bytes with %d received", len(dst), off, l.recvSize, l.recvOff)
		l.rmu.Unlock()
		return off, l.opErr("recv", int64(l.recvTag), err)
	}
	var perr error
	if l.in.used() < l.recvSize-l.recvOff {
		// Nothing of this message is buffered: large reads may go straight
		// into dst (see pollLocked), the rest through the ring.
		if l.in.used() == 0 {
			l.rs.userDst = dst[off:]
		}
		perr = l.pollNowLocked()
		l.recvOff += l.rs.userGot
		off = l.recvOff
		l.rs.userDst, l.rs.userGot = nil, 0
	}
	n := min(l.in.used(), l.recvSize-l.recvOff)
	if n > smallCopy {
		// Copy a large piece outside the lock, so that the reader keeps
		// filling the free part of the ring meanwhile; the bytes between
		// head and tail are the consumer's until head moves.
		first := l.in.readable()
		l.rmu.Unlock()
		c := copy(dst[off:off+n], first)
		if c < n {
			copy(dst[off+c:off+n], l.in.buf[:n-c]) // wrapped around
		}
		l.rmu.Lock()
		l.in.head += uint64(n)
	} else {
		l.in.get(dst[off : off+n])
	}
	l.recvOff += n
	if n > 0 {
		l.spaceFreedLocked()
	}
	off = l.recvOff
	done := l.recvOff == l.recvSize
	if done {
		l.recvHdr = false
		l.msgsRecv.Add(1)
		l.bytesRecv.Add(uint64(l.recvSize))
	}
	tag := l.recvTag
	l.rmu.Unlock()
	l.afterPoll(perr)
	if done {
		return off, nil
	}
	if p := l.errp.Load(); n == 0 && p != nil {
		return off, l.opErr("recv", int64(tag), *p)
	}
	return off, nil
}

// ---- closing ----

func (l *link) Close() error {
	if !l.closed.CompareAndSwap(false, true) {
		return nil
	}
	l.smu.Lock()
	if l.errp.Load() == nil && l.out.free() >= frameHeaderSize && !l.sendActive {
		l.putFrameLocked(frameHeader{typ: frameBye}, nil)
	}
	partial := l.sendActive // half a message is of no use to the peer: do not wait for it
	l.writerWake.Broadcast()
	l.smu.Unlock()
	if !partial {
		select {
		case <-l.writerGone:
		case <-time.After(closeFlush):
		}
	}
	l.fail(transport.ErrClosed)
	l.done.Wait()
	return nil
}
