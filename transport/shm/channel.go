package shm

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/hilo-hpc/hilo/transport"
)

// Persistent channel layout, in a memfd created by the sending side and
// passed to the receiver over the control connection:
//
//	[  0,   8) magic "HILOCHN1"
//	[  8,  12) id
//	[ 12,  16) slots
//	[ 16,  24) slot bytes
//	[ 24,  32) memfd size
//	[ 64,  68) wait: the sender waits for a free slot (sender stores)
//	[128, 136) released: slots the receiver has handed back (receiver stores)
//	[256, ...) slots, each chanSlotHdr bytes of header then the data
//	           (rounded up to 64), so data starts 64-aligned
//
// A slot's first header word is written by the sender only:
// (generation << 32) | length, where generation is the low 32 bits of
// 1 + the sequence number of the commit. The receiver expects generation
// uint32(next+1) in slot next%slots; the value the slot held one lap
// earlier (or 0 on the first lap) means "not yet"; anything else is a
// protocol violation.
const (
	chanMagic       = 0x314e48434f4c4948 // "HILOCHN1"
	chanWaitOff     = 64
	chanReleasedOff = 128
	chanSlotsOff    = 256
	chanSlotHdr     = 64
	maxSlotBytes    = 1<<32 - 1
	maxSlots        = 1 << 16
)

func chanStride(slotBytes int) int { return chanSlotHdr + (slotBytes+63)&^63 }

// channel is one end of a persistent channel.
type channel struct {
	l         *link
	send      bool
	mem       []byte
	released  *atomic.Uint64
	waitFlag  *atomic.Uint32   // the sender waits for a free slot
	hdrs      []*atomic.Uint64 // per slot
	data      [][]byte         // per slot, full slotBytes
	slotBytes uint64
	nslots    uint64

	next     uint64 // sender: commits so far; receiver: releases so far
	relSeen  uint64 // sender: last validated released count
	open     bool   // sender: a slot is claimed; receiver: a slot is acquired
	waiting  bool   // sender: waitFlag is raised
	err      error  // sticky protocol error
	closed   bool
	openData []byte // receiver: the acquired data
}

var _ transport.Channel = (*channel)(nil)

func layoutChannel(mem []byte, slotBytes, slots int, send bool, l *link) *channel {
	c := &channel{
		l: l, send: send, mem: mem,
		released:  word64(mem, chanReleasedOff),
		waitFlag:  word32(mem, chanWaitOff),
		hdrs:      make([]*atomic.Uint64, slots),
		data:      make([][]byte, slots),
		slotBytes: uint64(slotBytes),
		nslots:    uint64(slots),
	}
	stride := chanStride(slotBytes)
	for i := range slots {
		off := chanSlotsOff + i*stride
		c.hdrs[i] = word64(mem, off)
		c.data[i] = mem[off+chanSlotHdr : off+chanSlotHdr+slotBytes : off+chanSlotHdr+slotBytes]
	}
	return c
}

// Persistent returns the persistent channel id towards the peer. The sending
// side creates the memory and offers it; the receiving side checks the offer
// against its own arguments and acknowledges. Both block until that
// exchange is done, bounded by ctx.
func (l *link) Persistent(ctx context.Context, id uint32, slotBytes, slots int, send bool) (transport.Channel, error) {
	if err := l.usable("persistent"); err != nil {
		return nil, err
	}
	if slotBytes <= 0 || slotBytes > maxSlotBytes || slots <= 0 || slots > maxSlots {
		return nil, l.opErr("persistent", int64(id), fmt.Errorf("shm: bad channel shape: %d slots of %d bytes", slots, slotBytes))
	}
	if send {
		return l.persistentSend(ctx, id, slotBytes, slots)
	}
	return l.persistentRecv(ctx, id, slotBytes, slots)
}

func (l *link) persistentSend(ctx context.Context, id uint32, slotBytes, slots int) (transport.Channel, error) {
	size := chanSlotsOff + slots*chanStride(slotBytes)
	fd, mem, err := newMemfd(fmt.Sprintf("hilo-chan-%d", id), size)
	if err != nil {
		return nil, l.opErr("persistent", int64(id), err)
	}
	defer unix.Close(fd)
	word64(mem, 0).Store(chanMagic)
	binary.LittleEndian.PutUint32(mem[8:], id)
	binary.LittleEndian.PutUint32(mem[12:], uint32(slots))
	binary.LittleEndian.PutUint64(mem[16:], uint64(slotBytes))
	binary.LittleEndian.PutUint64(mem[24:], uint64(size))

	l.mu.Lock()
	delete(l.acks, id)
	l.mu.Unlock()
	var b [ctlLen]byte
	putCtl(b[:], ctlOffer)
	binary.LittleEndian.PutUint32(b[8:], id)
	binary.LittleEndian.PutUint32(b[12:], uint32(slots))
	binary.LittleEndian.PutUint64(b[16:], uint64(slotBytes))
	binary.LittleEndian.PutUint64(b[24:], uint64(size))
	if err := l.writeCtl(ctx, b[:], fd); err != nil {
		unix.Munmap(mem)
		return nil, l.opErr("persistent", int64(id), fmt.Errorf("%w: %w", transport.ErrPeerLost, err))
	}
	var status uint32
	err = l.waitControl(ctx, "persistent", func() bool {
		s, ok := l.acks[id]
		if ok {
			status = s
			delete(l.acks, id)
		}
		return ok
	})
	if err == nil && status != 0 {
		err = l.opErr("persistent", int64(id), errProto("peer refused channel %d (%d slots of %d bytes): shapes differ", id, slots, slotBytes))
	}
	if err != nil {
		unix.Munmap(mem)
		return nil, err
	}
	return l.addChannel(layoutChannel(mem, slotBytes, slots, true, l))
}

func (l *link) persistentRecv(ctx context.Context, id uint32, slotBytes, slots int) (transport.Channel, error) {
	var o offer
	err := l.waitControl(ctx, "persistent", func() bool {
		var ok bool
		if o, ok = l.offers[id]; ok {
			delete(l.offers, id)
		}
		return ok
	})
	if err != nil {
		return nil, err
	}
	var b [ctlLen]byte
	putCtl(b[:], ctlAck)
	binary.LittleEndian.PutUint32(b[8:], id)
	refuse := func(why error) (transport.Channel, error) {
		binary.LittleEndian.PutUint32(b[12:], 1)
		l.writeCtl(ctx, b[:], -1)
		return nil, l.opErr("persistent", int64(id), why)
	}
	if o.fd < 0 {
		return refuse(errProto("malformed or duplicate offer for channel %d", id))
	}
	if o.slots != uint32(slots) || o.slotBytes != uint64(slotBytes) || o.size != uint64(chanSlotsOff+slots*chanStride(slotBytes)) {
		unix.Close(o.fd)
		return refuse(errProto("channel %d: peer offers %d slots of %d bytes (%d total), want %d of %d", id, o.slots, o.slotBytes, o.size, slots, slotBytes))
	}
	mem, err := mapPeerFd(o.fd, o.size)
	if err != nil {
		return refuse(err)
	}
	if word64(mem, 0).Load() != chanMagic || binary.LittleEndian.Uint32(mem[8:]) != id ||
		binary.LittleEndian.Uint32(mem[12:]) != uint32(slots) || binary.LittleEndian.Uint64(mem[16:]) != uint64(slotBytes) {
		unix.Munmap(mem)
		return refuse(errProto("channel %d: memory header does not match the offer", id))
	}
	if err := l.writeCtl(ctx, b[:], -1); err != nil {
		unix.Munmap(mem)
		return nil, l.opErr("persistent", int64(id), fmt.Errorf("%w: %w", transport.ErrPeerLost, err))
	}
	return l.addChannel(layoutChannel(mem, slotBytes, slots, false, l))
}

func (l *link) addChannel(c *channel) (transport.Channel, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		unix.Munmap(c.mem)
		return nil, l.opErr("persistent", -1, transport.ErrClosed)
	}
	l.channels = append(l.channels, c)
	return c, nil
}

func (c *channel) Peer() int { return c.l.peer }

func (c *channel) fail(op string, err error) error {
	c.err = c.l.opErr(op, -1, err)
	return c.err
}

// Claim returns the next free slot (the same one until Commit).
func (c *channel) Claim() ([]byte, bool, error) {
	if c.closed {
		return nil, false, c.l.opErr("claim", -1, transport.ErrClosed)
	}
	if c.err != nil {
		return nil, false, c.err
	}
	if !c.send {
		return nil, false, c.l.opErr("claim", -1, fmt.Errorf("%w: claim on the receiving end", errMisuse))
	}
	if c.open {
		return c.data[c.next%c.nslots], true, nil
	}
	if c.next-c.relSeen >= c.nslots {
		full, err := c.reloadReleased()
		if err != nil {
			return nil, false, err
		}
		if full && !c.waiting {
			// Announce that we wait, then look once more: either we
			// see the receiver's release or it sees our flag and
			// rings (the ring's wait-flag argument).
			c.waitFlag.Store(1)
			c.waiting = true
			full, err = c.reloadReleased()
			if err != nil {
				return nil, false, err
			}
		}
		if full {
			return nil, false, nil
		}
	}
	if c.waiting {
		c.waitFlag.Store(0)
		c.waiting = false
	}
	// The released load above happens before our writes into the slot,
	// and the receiver's reads of it happened before its released store.
	c.open = true
	return c.data[c.next%c.nslots], true, nil
}

// reloadReleased loads and validates the receiver's released count and
// reports whether every slot is still in flight.
func (c *channel) reloadReleased() (full bool, err error) {
	r := c.released.Load()
	if r < c.relSeen || r > c.next {
		return false, c.fail("claim", errProto("released count %d outside [%d, %d]", r, c.relSeen, c.next))
	}
	c.relSeen = r
	return c.next-r >= c.nslots, nil
}

// Commit publishes the first n bytes of the claimed slot.
func (c *channel) Commit(n int) error {
	if c.closed {
		return c.l.opErr("commit", -1, transport.ErrClosed)
	}
	if c.err != nil {
		return c.err
	}
	if !c.open || !c.send || n < 0 || uint64(n) > c.slotBytes {
		return c.l.opErr("commit", -1, fmt.Errorf("%w: commit of %d bytes without a claimed slot of %d", errMisuse, n, c.slotBytes))
	}
	// The data writes precede this store; the receiver loads the word
	// before it reads the data.
	c.hdrs[c.next%c.nslots].Store(uint64(uint32(c.next+1))<<32 | uint64(n))
	c.next++
	c.open = false
	c.l.peerBell.Ring()
	return nil
}

// Acquire returns the next committed slot's data (the same until Release).
func (c *channel) Acquire() ([]byte, bool, error) {
	if c.closed {
		return nil, false, c.l.opErr("acquire", -1, transport.ErrClosed)
	}
	if c.err != nil {
		return nil, false, c.err
	}
	if c.send {
		return nil, false, c.l.opErr("acquire", -1, fmt.Errorf("%w: acquire on the sending end", errMisuse))
	}
	if c.open {
		return c.openData, true, nil
	}
	i := c.next % c.nslots
	w := c.hdrs[i].Load()
	gen := uint32(w >> 32)
	if gen != uint32(c.next+1) {
		var stale uint32 // the slot's value one lap ago
		if c.next >= c.nslots {
			stale = uint32(c.next + 1 - c.nslots)
		}
		if gen == stale {
			return nil, false, nil
		}
		return nil, false, c.fail("acquire", errProto("slot %d generation %d, expected %d or %d", i, gen, uint32(c.next+1), stale))
	}
	n := w & 0xffffffff
	if n > c.slotBytes {
		return nil, false, c.fail("acquire", errProto("slot %d length %d > slot size %d", i, n, c.slotBytes))
	}
	c.open = true
	c.openData = c.data[i][:n]
	return c.openData, true, nil
}

// Release hands the acquired slot back to the sender.
func (c *channel) Release() error {
	if c.closed {
		return c.l.opErr("release", -1, transport.ErrClosed)
	}
	if c.err != nil {
		return c.err
	}
	if !c.open || c.send {
		return c.l.opErr("release", -1, fmt.Errorf("%w: release without an acquired slot", errMisuse))
	}
	c.open = false
	c.openData = nil
	c.next++
	// Our reads of the slot precede this store.
	c.released.Store(c.next)
	if c.waitFlag.Load() != 0 {
		c.l.peerBell.Ring() // only a sender waiting for a slot needs it
	}
	return nil
}

// Close unmaps the channel's memory. Slices returned by Claim or Acquire
// must not be used afterwards.
func (c *channel) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.l.mu.Lock()
	for i, x := range c.l.channels {
		if x == c {
			c.l.channels = append(c.l.channels[:i], c.l.channels[i+1:]...)
			break
		}
	}
	c.l.mu.Unlock()
	return unix.Munmap(c.mem)
}
