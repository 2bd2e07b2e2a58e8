package shm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hilo-hpc/hilo/transport"
)

// link is a transport.Link over shared memory to one peer on this node.
type link struct {
	node    *Node
	peer    int
	pid     int
	pidfd   int
	conn    *net.UnixConn
	peerMem []byte // the peer's segment: our outbound ring and its doorbell

	out      ringWriter // in the peer's segment
	in       ringReader // in our segment
	peerBell *bell

	// liveness
	peerHeart *atomic.Uint64
	hbLast    uint64
	hbSince   time.Time
	pfd       [1]unix.PollFd
	lost      atomic.Pointer[error] // sticky: set once the peer is known gone
	ctrlGone  atomic.Bool           // control connection hit EOF or an error
	peerBye   atomic.Bool           // the peer said it closes
	protoErr  error                 // sticky ring protocol error

	closed  atomic.Bool
	writeMu sync.Mutex // control socket writes (Persistent, Close)

	// persistent channel rendezvous, filled by readControl
	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every control event
	offers   map[uint32]offer
	acks     map[uint32]uint32
	channels []*channel

	// Counters for Stats, which may run on any goroutine. The link is used
	// by one goroutine at a time (the Comm serialises calls), so each
	// counter has one writer, which adds with a load and a release store
	// (count): no locked read-modify-write per message.
	bytesSent, bytesRecv atomic.Uint64
	msgsSent, msgsRecv   atomic.Uint64
}

// count adds n to the Stats counter c, which only the calling goroutine
// writes (see the link's fields).
func count(c *atomic.Uint64, n uint64) { storeRelease64((*uint64)(unsafe.Pointer(c)), c.Load()+n) }

type offer struct {
	fd        int
	slots     uint32
	slotBytes uint64
	size      uint64
}

var (
	_ transport.Link   = (*link)(nil)
	_ transport.Poller = (*link)(nil)
)

func newLink(n *Node, pc *peerConn, inMem []byte) (*link, error) {
	outRing, err := newRing(pc.mem[pc.ringOff : pc.ringOff+uint64(ringBytes(int(pc.ringCap)))])
	if err != nil {
		return nil, errProto("outbound ring of rank %d: %v", pc.rank, err)
	}
	inRing, err := newRing(inMem)
	if err != nil {
		return nil, err
	}
	l := &link{
		node:      n,
		peer:      pc.rank,
		pid:       pc.pid,
		pidfd:     pc.pidfd,
		conn:      pc.conn,
		peerMem:   pc.mem,
		out:       ringWriter{r: outRing, fbOn: true},
		in:        ringReader{r: inRing},
		peerBell:  newBell(pc.mem, 0, 0),
		peerHeart: word64(pc.mem, segHeartOff),
		hbSince:   time.Now(),
		changed:   make(chan struct{}),
		offers:    map[uint32]offer{},
		acks:      map[uint32]uint32{},
	}
	l.out.notify = l.peerBell.Ring
	l.in.notify = l.peerBell.Ring
	l.out.cmaMin = n.cmaMin
	l.out.alive = l.Check
	if pc.singleCopy {
		// Our inbound ring: the peer may send us descriptors.
		l.in.cmaOK, l.in.pid = true, pc.pid
		inRing.cma.Store(1)
	}
	l.hbLast = l.peerHeart.Load()
	l.pfd[0] = unix.PollFd{Fd: int32(pc.pidfd), Events: unix.POLLIN}
	return l, nil
}

func (l *link) Peer() int    { return l.peer }
func (l *link) Kind() string { return "shm" }

func (l *link) opErr(op string, tag int64, err error) error {
	return &transport.OpError{Op: op, Rank: l.node.rank, Peer: l.peer, Tag: tag, Kind: "shm", Err: err}
}

// usable returns the error that stops any use of the link, if any.
func (l *link) usable(op string) error {
	if l.closed.Load() {
		return l.opErr(op, -1, transport.ErrClosed)
	}
	return l.protoErr
}

// setProtoErr makes err sticky for the link and takes back a single-copy
// descriptor in flight: the Comm fails the send and hands its buffer back.
func (l *link) setProtoErr(err error) {
	l.protoErr = err
	l.out.cmaClose()
}

// SendSome continues sending one message into the peer's ring. See
// transport.Link.
func (l *link) SendSome(tag uint32, p []byte, off int) (int, bool, error) {
	if err := l.usable("send"); err != nil {
		return off, false, err
	}
	if l.ctrlGone.Load() && !l.out.cmaActive {
		// Nobody will read: fail instead of filling the ring. (A
		// single-copy message may have been copied before the peer left:
		// its tail says so.)
		return off, false, l.Check()
	}
	newOff, done, published, err := l.out.sendSome(tag, p, off)
	if err == nil && !done && l.out.cmaActive && l.ctrlGone.Load() {
		return off, false, l.Check()
	}
	if published {
		l.peerBell.Ring()
	}
	if err != nil {
		err = l.opErr("send", int64(tag), err)
		if errors.Is(err, transport.ErrProtocol) {
			l.setProtoErr(err)
		}
		return off, false, err
	}
	if newOff != off {
		count(&l.bytesSent, uint64(newOff-off))
	}
	if done {
		count(&l.msgsSent, 1)
	}
	return newOff, done, nil
}

// PeekHeader reports the next incoming message's tag and size. Messages the
// peer published before it died can still be read.
func (l *link) PeekHeader() (uint32, int, bool, error) {
	if err := l.usable("recv"); err != nil {
		return 0, 0, false, err
	}
	tag, size, ok, err := l.in.peekHeader()
	if err != nil {
		l.setProtoErr(l.opErr("recv", -1, err))
		return 0, 0, false, l.protoErr
	}
	return tag, size, ok, nil
}

// RecvSome copies payload of the announced message into dst[off:].
func (l *link) RecvSome(dst []byte, off int) (int, error) {
	if err := l.usable("recv"); err != nil {
		return off, err
	}
	consumed := l.in.consumed
	newOff, freed, err := l.in.recvSome(dst, off)
	if freed {
		l.peerBell.Ring() // the peer may be waiting for space
	}
	if err != nil {
		err = l.opErr("recv", int64(l.in.tag), err)
		if errors.Is(err, transport.ErrProtocol) {
			l.setProtoErr(err)
		}
		return off, err
	}
	if newOff != off {
		count(&l.bytesRecv, uint64(newOff-off))
	}
	if l.in.consumed != consumed {
		count(&l.msgsRecv, 1)
	}
	return newOff, nil
}

// SpinBudget implements transport.Poller: a waiter may poll the ring for
// as long as the doorbell would spin (none when ranks outnumber the CPUs).
// PeekHeader loads the next fastbox slot and the ring's head itself, so a
// message is seen as soon as it is published, without waiting for the
// doorbell's cache line (a fastbox message: one cache-line transfer in all).
//
// While a single-copy send waits for the receiver's copy, the budget grows
// by the time that copy takes at a pessimistic 2 GB/s (capped at 2 ms): the
// receiver is busy copying, so the acknowledgement is near, and a futex
// wake-up costs tens of microseconds here.
func (l *link) SpinBudget() time.Duration {
	spin := l.node.bell.spin
	if spin > 0 && l.out.cmaActive {
		spin += min(time.Duration(len(l.out.cmaBuf))*time.Nanosecond/2, 2*time.Millisecond)
	}
	return spin
}

// PollNow implements transport.Poller; every PeekHeader already looks at
// the ring's head.
func (l *link) PollNow() {}

// Check reports ErrPeerLost once the peer's process has exited (its pidfd
// is readable), its control connection is gone, or its heartbeat has stood
// still for longer than the heartbeat timeout. It costs one poll(2) with a
// zero timeout and two atomic loads.
func (l *link) Check() error {
	if l.closed.Load() {
		return l.opErr("check", -1, transport.ErrClosed)
	}
	if e := l.lost.Load(); e != nil {
		return *e
	}
	var why error
	if n, err := unix.Poll(l.pfd[:], 0); err == nil && n > 0 && l.pfd[0].Revents != 0 {
		why = fmt.Errorf("%w: process %d exited", transport.ErrPeerLost, l.pid)
	} else if l.ctrlGone.Load() {
		if l.peerBye.Load() {
			why = fmt.Errorf("%w: peer closed its end", transport.ErrPeerLost)
		} else {
			why = fmt.Errorf("%w: control connection to process %d broke", transport.ErrPeerLost, l.pid)
		}
	} else {
		now := time.Now()
		if v := l.peerHeart.Load(); v != l.hbLast {
			l.hbLast, l.hbSince = v, now
		} else if d := now.Sub(l.hbSince); d > l.node.hbTimeout {
			why = fmt.Errorf("%w: heartbeat of process %d stood still for %v", transport.ErrPeerLost, l.pid, d.Round(time.Millisecond))
		}
	}
	if why == nil {
		return nil
	}
	err := l.opErr("check", -1, why)
	l.lost.CompareAndSwap(nil, &err)
	return *l.lost.Load()
}

// Stats returns what the link has carried (payload bytes).
func (l *link) Stats() transport.LinkStats {
	return transport.LinkStats{
		Kind:      "shm",
		BytesSent: l.bytesSent.Load(), BytesRecv: l.bytesRecv.Load(),
		MsgsSent: l.msgsSent.Load(), MsgsRecv: l.msgsRecv.Load(),
	}
}

// Close tells the peer, closes the control connection and the pidfd and
// unmaps the peer's segment and this link's channels.
func (l *link) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	// No byte of a buffer handed back may be read after Close.
	l.out.cmaClose()
	var b [ctlLen]byte
	putCtl(b[:], ctlBye)
	l.writeMu.Lock()
	l.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	l.conn.Write(b[:]) // best effort: the peer also sees the EOF
	l.writeMu.Unlock()
	l.conn.Close()
	l.mu.Lock()
	chans := l.channels
	l.channels = nil
	l.mu.Unlock()
	for _, c := range chans {
		c.Close()
	}
	unix.Close(l.pidfd)
	unix.Munmap(l.peerMem)
	return nil
}

// broadcast wakes everyone waiting in Persistent; l.mu must be held.
func (l *link) broadcast() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// readControl serves the control connection until it breaks: it records
// channel offers and acknowledgements, and marks the peer gone on EOF.
func (l *link) readControl() {
	defer l.node.wg.Done()
	var b [ctlLen]byte
	for {
		typ, fd, err := readCtl(l.conn, b[:])
		if err != nil {
			l.ctrlGone.Store(true)
			l.mu.Lock()
			for id, o := range l.offers {
				unix.Close(o.fd)
				delete(l.offers, id)
			}
			l.broadcast()
			l.mu.Unlock()
			l.node.bell.Ring() // a waiter should call Check now
			return
		}
		switch typ {
		case ctlOffer:
			id := binary.LittleEndian.Uint32(b[8:])
			o := offer{
				fd:        fd,
				slots:     binary.LittleEndian.Uint32(b[12:]),
				slotBytes: binary.LittleEndian.Uint64(b[16:]),
				size:      binary.LittleEndian.Uint64(b[24:]),
			}
			l.mu.Lock()
			if _, dup := l.offers[id]; dup || fd < 0 {
				o.fd = -1 // malformed: Persistent reports it
				if fd >= 0 {
					unix.Close(fd)
				}
			}
			l.offers[id] = o
			l.broadcast()
			l.mu.Unlock()
		case ctlAck:
			if fd >= 0 {
				unix.Close(fd)
			}
			l.mu.Lock()
			l.acks[binary.LittleEndian.Uint32(b[8:])] = binary.LittleEndian.Uint32(b[12:])
			l.broadcast()
			l.mu.Unlock()
		case ctlBye:
			l.peerBye.Store(true)
		default:
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}
}

// writeCtl sends one control message, with fd if fd >= 0.
func (l *link) writeCtl(ctx context.Context, b []byte, fd int) error {
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if d, ok := ctx.Deadline(); ok {
		l.conn.SetWriteDeadline(d)
	} else {
		l.conn.SetWriteDeadline(time.Time{})
	}
	_, _, err := l.conn.WriteMsgUnix(b, oob, nil)
	return err
}

// waitControl waits until cond (called with l.mu held) returns true, the
// peer is gone or ctx is done.
func (l *link) waitControl(ctx context.Context, op string, cond func() bool) error {
	for {
		l.mu.Lock()
		if cond() {
			l.mu.Unlock()
			return nil
		}
		ch := l.changed
		l.mu.Unlock()
		if l.ctrlGone.Load() {
			if err := l.Check(); err != nil {
				return err
			}
			return l.opErr(op, -1, fmt.Errorf("%w: control connection gone", transport.ErrPeerLost))
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return l.opErr(op, -1, fmt.Errorf("%w: %w", transport.ErrTimeout, ctx.Err()))
		}
	}
}
