package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hilo-hpc/hilo/internal/streamcopy"
	"github.com/hilo-hpc/hilo/transport"
)

// Ring layout, at the start of the region handed to newRing (which must be
// 8-aligned; the segment puts every ring at a 128-aligned offset):
//
//	[  0,   8) head: bytes ever written (producer stores, consumer loads)
//	[  8,  12) wait: the producer waits for space (producer stores, consumer loads)
//	[128, 136) tail: bytes ever consumed (consumer stores, producer loads)
//	[136, 140) single copy allowed: the consumer stores 1 once it has read
//	           the producer's memory in a probe (see cma.go)
//	[144, 152) fastbox slots ever consumed (consumer stores, producer loads)
//	[256, 256+fbBytes) the fastbox: fbSlots slots of 64 bytes (fastbox.go)
//	[ringDataOff, ringDataOff+capacity) data, capacity a power of two, >= minRingCap
//
// head and tail are 128 bytes apart so that the producer's and consumer's
// words never share a cache line, nor an adjacent-line prefetch pair.
// Both are free-running 64-bit byte counts (they never wrap in practice:
// 2^64 bytes at 100 GB/s is 5 years); a position maps into the data area as
// pos & (capacity-1).
const (
	ringHeadOff   = 0
	ringWaitOff   = 8
	ringTailOff   = 128
	ringCMAOff    = 136
	ringFbTailOff = 144
	ringFbOff     = 256
	ringDataOff   = ringFbOff + fbBytes

	// ringStreamMin is the message size from which the writer copies the
	// payload into the ring with non-temporal stores.
	ringStreamMin = 16 << 10

	minRingCap = 64
	maxRingCap = 1 << 30

	// recHeaderLen is the size of a message record header:
	//	[0,4)   magic
	//	[4,8)   tag
	//	[8,16)  payload length
	//	[16,24) the message's sequence number on the link (1, 2, ...),
	//	        shared with the fastbox so that the reader delivers in order
	//	        whichever way each message went (fastbox.go)
	// The payload follows at once and is padded to 8 bytes, so every record
	// starts 8-aligned.
	recHeaderLen = 24
	recMagic     = 0x4d4f4c48 // "HLOM"

	// maxMessage bounds the length read from a record header, so a corrupt
	// header cannot make the receiver announce an absurd size.
	maxMessage = 1 << 40
)

// ringBytes is the size of a ring region with the given data capacity.
func ringBytes(capacity int) int { return ringDataOff + capacity }

// ring is a view of one single-producer/single-consumer byte ring in a
// []byte (shared memory or, in tests, the Go heap). It holds pointers only;
// producer and consumer state live in ringWriter and ringReader.
type ring struct {
	head *atomic.Uint64
	wait *atomic.Uint32 // producer waits for space (a hint: any value but 0 means yes)
	tail *atomic.Uint64
	cma  *atomic.Uint32 // single copy allowed (a hint the producer reads)
	data []byte
	mask uint64

	fbTail *atomic.Uint64 // fastbox slots ever consumed
	fb     []byte         // the fastbox's slots
}

// newRing lays a ring over mem, which must be exactly ringBytes(c) long for
// a power-of-two capacity c, and 8-aligned.
func newRing(mem []byte) (ring, error) {
	if len(mem) < ringDataOff+minRingCap {
		return ring{}, fmt.Errorf("shm: ring region of %d bytes is too small", len(mem))
	}
	c := len(mem) - ringDataOff
	if c&(c-1) != 0 || c > maxRingCap {
		return ring{}, fmt.Errorf("shm: ring capacity %d is not a power of two <= %d", c, maxRingCap)
	}
	if uintptr(unsafe.Pointer(&mem[0]))%8 != 0 {
		return ring{}, errors.New("shm: ring region is not 8-aligned")
	}
	return ring{
		head: word64(mem, ringHeadOff),
		wait: word32(mem, ringWaitOff),
		tail: word64(mem, ringTailOff),
		cma:  word32(mem, ringCMAOff),
		data: mem[ringDataOff:],
		mask: uint64(c - 1),

		fbTail: word64(mem, ringFbTailOff),
		fb:     mem[ringFbOff:ringDataOff],
	}, nil
}

// word64 returns the 64-bit atomic word at mem[off:off+8]. off must be
// 8-aligned relative to an 8-aligned mem; the pointer is taken from the
// slice element (not from uintptr arithmetic) so checkptr accepts it.
func word64(mem []byte, off int) *atomic.Uint64 {
	_ = mem[off+7]
	return (*atomic.Uint64)(unsafe.Pointer(&mem[off]))
}

// word32 is word64 for 32-bit words (4-aligned).
func word32(mem []byte, off int) *atomic.Uint32 {
	_ = mem[off+3]
	return (*atomic.Uint32)(unsafe.Pointer(&mem[off]))
}

func (r *ring) capacity() uint64 { return r.mask + 1 }

// chunk is the most a writer or reader copies before it publishes its
// index, so that a message larger than that is copied in and out at the
// same time (a pipeline) instead of in turns: a quarter of the ring, at
// least 4 KiB, at most 32 KiB (an L1 data cache's worth).
func (r *ring) chunk() uint64 { return min(max(r.capacity()/4, 4096), 32<<10) }

// copyIn writes p at stream position pos, wrapping at the end of the data.
func (r *ring) copyIn(pos uint64, p []byte) {
	i := pos & r.mask
	n := copy(r.data[i:], p)
	if n < len(p) {
		copy(r.data, p[n:])
	}
}

// copyInStreaming is copyIn with non-temporal stores: the ring's lines
// were last read by the consumer's core, and an ordinary store would first
// take each one back from that core's cache (see package streamcopy and
// ringStreamMin). The writer fences before it publishes.
func (r *ring) copyInStreaming(pos uint64, p []byte) {
	i := pos & r.mask
	n := streamcopy.Copy(r.data[i:], p)
	if n < len(p) {
		streamcopy.Copy(r.data, p[n:])
	}
}

// copyOut reads len(p) bytes at stream position pos into p.
func (r *ring) copyOut(pos uint64, p []byte) {
	i := pos & r.mask
	n := copy(p, r.data[i:])
	if n < len(p) {
		copy(p[n:], r.data)
	}
}

func align8(n uint64) uint64 { return (n + 7) &^ 7 }

// errProto builds the error for a protocol violation seen in shared memory.
func errProto(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{transport.ErrProtocol}, args...)...)
}

// errMisuse is returned when the caller breaks the Link contract (wrong
// offset, wrong buffer size); it is not a protocol violation by the peer.
var errMisuse = errors.New("shm: link used out of protocol")

// ringWriter is the producer end of a ring carrying framed messages. It keeps
// its own head (it never trusts the head word in shared memory, which only it
// writes) and a cached copy of the tail, reloaded only when the cached free
// space does not suffice, so that a stream of small messages mostly avoids
// touching the consumer's cache line.
type ringWriter struct {
	r        ring
	head     uint64 // next position to write; published value of r.head
	tailSeen uint64 // last validated tail

	notify   func() // rings the reader's doorbell after a piece is published (nil: none)
	waiting  bool   // this writer has raised r.wait
	streamed bool   // non-temporal stores since the last publication: fence first
	active   bool   // a message is part-way through
	total    uint64 // its length
	sent     uint64 // payload bytes written so far
	hdr      [recHeaderLen]byte

	// Single copy (cma.go): messages of at least cmaMin bytes (0: never)
	// publish a descriptor when the consumer allows it.
	cmaMin    int
	cmaActive bool         // a single-copy message is outstanding
	cmaPos    uint64       // stream position of its record
	cmaBuf    []byte       // the buffer the descriptor names
	cmaTag    uint32       // its tag
	alive     func() error // reports a lost peer while waiting for its copy
	cmaSent   uint64       // single-copy messages completed (for tests)

	// Fastbox (fastbox.go): small messages go there when fbOn and slots
	// are free. seq numbers every message, whichever way it goes.
	fbOn       bool
	seq        uint64 // sequence number of the last message started
	fbHead     uint64 // fastbox slots ever written
	fbTailSeen uint64 // last validated fastbox tail
	fbSent     uint64 // messages sent through the fastbox (for tests)
}

// free returns the free space, reloading the tail when the cached value
// leaves less than want bytes.
func (w *ringWriter) free(want uint64) (uint64, error) {
	c := w.r.capacity()
	if f := c - (w.head - w.tailSeen); f >= want {
		return f, nil
	}
	t := w.r.tail.Load()
	if t < w.tailSeen || t > w.head || t%8 != 0 {
		return 0, errProto("ring tail %d out of range [%d, %d] or misaligned", t, w.tailSeen, w.head)
	}
	w.tailSeen = t
	return c - (w.head - t), nil
}

// sendSome implements Link.SendSome on the ring. It returns whether it
// published anything (so the caller knows to ring the peer's doorbell).
//
// When the message does not fit, the writer raises the ring's wait flag and
// then re-reads the tail once more before giving up; the consumer stores
// the tail and then loads the flag. As with the doorbell, one of the two
// sees the other's store, so either this call finds the space or the
// consumer rings our doorbell when it frees some: the consumer rings only
// when someone waits.
func (w *ringWriter) sendSome(tag uint32, p []byte, off int) (newOff int, done, published bool, err error) {
	if !w.active {
		if off != 0 {
			return off, false, false, fmt.Errorf("%w: send offset %d for a message not started", errMisuse, off)
		}
	} else if uint64(off) != w.sent || uint64(len(p)) != w.total {
		return off, false, false, fmt.Errorf("%w: send offset %d/%d, expected %d/%d", errMisuse, off, len(p), w.sent, w.total)
	}
	if w.cmaActive {
		done, err = w.cmaPoll(tag, p, off)
		if done {
			return len(p), true, false, nil
		}
		return 0, false, false, err
	}
	if !w.active && w.cmaMin > 0 && len(p) >= w.cmaMin && off == 0 && w.r.cma.Load() == 1 {
		published, err = w.cmaStart(tag, p)
		return 0, false, published, err
	}
	if !w.active && w.fbOn && len(p) <= fbMaxMessage {
		sent, err := w.sendFast(tag, p)
		if err != nil {
			return 0, false, false, err
		}
		if sent {
			if w.waiting { // an earlier try of this message waited for ring space
				w.r.wait.Store(0)
				w.waiting = false
			}
			return len(p), true, true, nil
		}
	}
	start := w.head
	done, err = w.fill(tag, p)
	if err == nil && !done && !w.waiting {
		w.r.wait.Store(1)
		w.waiting = true
		done, err = w.fill(tag, p)
	}
	if err == nil && done && w.waiting {
		w.r.wait.Store(0)
		w.waiting = false
	}
	if w.head != start {
		// Publish: every byte above was written by plain stores before
		// this release store; a consumer that loads the new head and then
		// reads the data sees them (x86-TSO keeps stores in order; see
		// storeRelease64), once the non-temporal ones are fenced.
		w.fence()
		storeRelease64((*uint64)(unsafe.Pointer(w.r.head)), w.head)
		published = true
	}
	if !w.active && !done {
		return 0, false, published, err // the header did not fit yet
	}
	if err != nil {
		return int(w.sent), false, published, err
	}
	return int(w.sent), done, published, nil
}

// fence orders the non-temporal stores made since the last publication
// before the next store of the head (see package streamcopy).
func (w *ringWriter) fence() {
	if w.streamed {
		streamcopy.Fence()
		w.streamed = false
	}
}

// fill writes the header (if not written yet) and as much payload as fits,
// without publishing. done reports that the whole message is written.
func (w *ringWriter) fill(tag uint32, p []byte) (done bool, err error) {
	if !w.active {
		f, err := w.free(recHeaderLen)
		if err != nil || f < recHeaderLen {
			return false, err
		}
		w.seq++
		putRecHeader(w.hdr[:], recMagic, tag, uint64(len(p)), w.seq)
		w.r.copyIn(w.head, w.hdr[:])
		w.head += recHeaderLen
		w.active, w.total, w.sent = true, uint64(len(p)), 0
	}
	chunk := w.r.chunk()
	for rem := w.total - w.sent; rem > 0; rem = w.total - w.sent {
		f, err := w.free(min(rem, chunk))
		if err != nil {
			return false, err
		}
		if f == 0 {
			break
		}
		n := min(rem, f, chunk)
		if n < rem {
			n &^= 7 // f and chunk are multiples of 8 already; keep head 8-aligned mid-message
		}
		if w.total >= ringStreamMin && streamcopy.Available {
			w.r.copyInStreaming(w.head, p[w.sent:w.sent+n])
			w.streamed = true
		} else {
			w.r.copyIn(w.head, p[w.sent:w.sent+n])
		}
		w.sent += n
		if w.sent == w.total {
			w.head += align8(n) // n <= f and f is a multiple of 8, so the padding fits
			break               // sendSome publishes
		}
		w.head += n
		// Publish this piece now so that the reader copies it out while
		// we write the next one.
		w.fence()
		storeRelease64((*uint64)(unsafe.Pointer(w.r.head)), w.head)
		if w.notify != nil {
			w.notify()
		}
	}
	if w.sent == w.total {
		w.active = false
		return true, nil
	}
	return false, nil
}

// ringReader is the consumer end of a ring carrying framed messages. It keeps
// its own tail and a cached head, and validates every head it loads.
type ringReader struct {
	r        ring
	tail     uint64 // start of the unread stream; published value of r.tail once a message is entered
	headSeen uint64 // last validated head
	notify   func() // rings the waiting writer's doorbell after a piece is freed (nil: none)

	have     bool   // a header has been parsed
	cma      bool   // it is a single-copy descriptor (cma.go)
	fast     bool   // it is in the fastbox (fastbox.go)
	entered  bool   // the header has been consumed (first recvSome)
	tag      uint32 // its tag
	size     uint64 // its payload length
	received uint64 // payload bytes copied so far
	consumed uint64 // messages fully received; the next one's sequence number is consumed+1
	hdr      [recHeaderLen]byte
	fbTail   uint64 // fastbox slots ever consumed; published value of r.fbTail

	// Single copy: cmaOK is set when this reader allowed the producer to
	// publish descriptors (a descriptor otherwise breaks the protocol);
	// pid is the producer's process.
	cmaOK bool
	pid   int
	liov  [1]unix.Iovec
	riov  [1]unix.RemoteIovec
}

// avail returns the readable bytes from pos, reloading the head when the
// cached value leaves less than want.
func (rd *ringReader) avail(pos, want uint64) (uint64, error) {
	if a := rd.headSeen - pos; a >= want {
		return a, nil
	}
	h := rd.r.head.Load()
	if h < rd.headSeen || h%8 != 0 || h-rd.tail > rd.r.capacity() {
		return 0, errProto("ring head %d invalid (previous %d, tail %d, capacity %d)", h, rd.headSeen, rd.tail, rd.r.capacity())
	}
	rd.headSeen = h
	return h - pos, nil
}

// peekHeader implements Link.PeekHeader on the ring.
func (rd *ringReader) peekHeader() (tag uint32, size int, ok bool, err error) {
	if rd.have {
		return rd.tag, int(rd.size), true, nil
	}
	if ok, err := rd.peekFast(); ok || err != nil {
		return rd.tag, int(rd.size), ok, err
	}
	a, err := rd.avail(rd.tail, recHeaderLen)
	if err != nil || a < recHeaderLen {
		return 0, 0, false, err
	}
	// The head load in avail happened before these plain reads.
	rd.r.copyOut(rd.tail, rd.hdr[:])
	m := binary.LittleEndian.Uint32(rd.hdr[0:])
	switch {
	case m == recMagicCMA && !rd.cmaOK:
		return 0, 0, false, errProto("single-copy record at stream position %d on a ring that does not allow them", rd.tail)
	case m != recMagic && m != recMagicCMA:
		return 0, 0, false, errProto("bad record magic %#x at stream position %d", m, rd.tail)
	}
	n := binary.LittleEndian.Uint64(rd.hdr[8:])
	if n > maxMessage || n > uint64(maxInt) {
		return 0, 0, false, errProto("record length %d too large", n)
	}
	if m == recMagicCMA && n == 0 {
		return 0, 0, false, errProto("empty single-copy record at stream position %d", rd.tail)
	}
	if s := binary.LittleEndian.Uint64(rd.hdr[16:]); s != rd.consumed+1 {
		// The next message went through the fastbox: its writer published
		// it before this record, and our head load above happened before
		// this second look, so it must be there now.
		if ok, err := rd.peekFast(); ok || err != nil {
			return rd.tag, int(rd.size), ok, err
		}
		return 0, 0, false, errProto("record of message %d at stream position %d, expected message %d", s, rd.tail, rd.consumed+1)
	}
	rd.have, rd.entered, rd.cma, rd.fast = true, false, m == recMagicCMA, false
	rd.tag = binary.LittleEndian.Uint32(rd.hdr[4:])
	rd.size, rd.received = n, 0
	return rd.tag, int(n), true, nil
}

const maxInt = int(^uint(0) >> 1)

// recvSome implements Link.RecvSome on the ring. It returns whether it
// freed space the producer waits for (so the caller rings its doorbell).
func (rd *ringReader) recvSome(dst []byte, off int) (newOff int, freed bool, err error) {
	if !rd.have {
		_, _, ok, err := rd.peekHeader()
		if err != nil || !ok {
			return off, false, err
		}
	}
	if uint64(len(dst)) != rd.size {
		if uint64(len(dst)) < rd.size {
			return off, false, fmt.Errorf("%w: %d bytes announced, buffer of %d", transport.ErrTruncated, rd.size, len(dst))
		}
		return off, false, fmt.Errorf("%w: receive buffer of %d for a message of %d", errMisuse, len(dst), rd.size)
	}
	if uint64(off) != rd.received {
		return off, false, fmt.Errorf("%w: receive offset %d, expected %d", errMisuse, off, rd.received)
	}
	if rd.fast {
		return rd.recvFast(dst)
	}
	if rd.cma {
		n, freed, err := rd.cmaRecv(dst)
		if err != nil || n == 0 {
			return off, false, err
		}
		rd.received = rd.size
		rd.have = false
		rd.consumed++
		return n, freed, nil
	}
	start := rd.tail
	if !rd.entered {
		rd.tail += recHeaderLen
		rd.entered = true
	}
	chunk := rd.r.chunk()
	for rem := rd.size - rd.received; rem > 0; rem = rd.size - rd.received {
		a, err := rd.avail(rd.tail, min(rem, chunk))
		if err != nil {
			return off, false, err // fatal: the ring is not used again
		}
		if a == 0 {
			break
		}
		n := min(rem, a, chunk)
		rd.r.copyOut(rd.tail, dst[rd.received:rd.received+n])
		rd.received += n
		if rd.received == rd.size {
			rd.tail += align8(n) // head is 8-aligned, so a >= align8(n)
			break
		}
		rd.tail += n // n is a multiple of 8: a and chunk are
		// Hand this piece back now so that the writer refills it while we
		// copy the next one.
		rd.r.tail.Store(rd.tail)
		if rd.notify != nil && rd.r.wait.Load() != 0 {
			rd.notify()
		}
	}
	if rd.received == rd.size {
		rd.have = false
		rd.consumed++
	}
	if rd.tail != start {
		// Hand the space back: the reads above happen before this store,
		// so the producer, which loads the tail before overwriting, never
		// overwrites bytes still being read.
		rd.r.tail.Store(rd.tail)
		freed = rd.r.wait.Load() != 0 // only a waiting producer needs a ring
	}
	return int(rd.received), freed, nil
}

// putRecHeader writes a record header into b[:recHeaderLen].
func putRecHeader(b []byte, magic, tag uint32, size, seq uint64) {
	_ = b[recHeaderLen-1]
	binary.LittleEndian.PutUint32(b[0:], magic)
	binary.LittleEndian.PutUint32(b[4:], tag)
	binary.LittleEndian.PutUint64(b[8:], size)
	binary.LittleEndian.PutUint64(b[16:], seq)
}
