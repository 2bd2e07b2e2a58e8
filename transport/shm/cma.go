package shm

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hilo-hpc/hilo/transport"
)

// Single copy (cross-memory attach). A message of at least
// Config.SingleCopyMin bytes does not stream through the ring: the sender
// publishes a descriptor record holding the address of its own buffer, the
// receiver copies the payload straight out of the sender's address space
// with process_vm_readv(2) into the receive buffer (one copy instead of
// two, and no 32 KiB pieces), and its move of the ring's tail past the
// record is the acknowledgement: only then does SendSome report the message
// done and hand the buffer back. Each direction is enabled only after a
// probe at Join: the receiver read a cookie from the sender's memory (the
// call is refused under Yama ptrace_scope >= 1 between siblings, or by a
// container's seccomp filter); otherwise messages stream through the ring.
//
// Record layout (stream positions, all 8-aligned):
//
//	[ 0,24) header: magic recMagicCMA, tag, payload length, sequence number
//	[24,32) address of the payload in the sender's memory
//	[32,36) state (32-bit atomic word, see below)
//	[36,40) zero
//
// The state word settles who owns the sender's buffer. The sender writes
// the record with state cmaPosted and publishes it with the head. The
// receiver claims it (CAS cmaPosted -> cmaCopying), reads the address,
// copies, stores cmaDone and only then stores the tail. A sender that must
// give its buffer up before the copy (a cancelled or timed-out send goes on
// from a copy of the buffer; Close) revokes the descriptor with a CAS
// cmaPosted -> cmaRevoked, rewrites the address, and stores cmaPosted again
// (or leaves it revoked when closing); if the receiver is copying at that
// moment, the sender waits for the copy to end (cmaDone), which takes at
// most one process_vm_readv call, bounded by a check that the peer lives.
// A receiver that finds cmaRevoked tries again later. So no byte of a
// buffer is read after SendSome handed it back.
const (
	recMagicCMA = 0x41434c48 // "HLCA"
	cmaRecLen   = recHeaderLen + 16
	cmaAddrOff  = recHeaderLen     // from the record's start
	cmaStateOff = recHeaderLen + 8 // from the record's start

	cmaPosted  = 0
	cmaCopying = 1
	cmaDone    = 2
	cmaRevoked = 3

	// DefaultSingleCopyMin is Config.SingleCopyMin's default: negative,
	// so single copy is off unless a Config asks for it. Measured between
	// two processes (2-vCPU VM), the bare link gains from it at every size
	// tried (BenchmarkPingPong .../single-copy=off|on, µs per one-way
	// trip: 16 KiB 19 -> 15, 64 KiB 27 -> 20, 256 KiB 99 -> 48, 1 MiB
	// 214 -> 142, 4 MiB 878 -> 440, i.e. 9.5 GB/s), but through a Comm
	// in hilo bench pingpong it did not (three interleaved rounds, off ->
	// on: 256 KiB 45 -> 33 µs but 5553 -> 4747 MB/s, 1 MiB 165 -> 294 µs,
	// 4 MiB 725 -> 1726 µs): the window bandwidth pays one acknowledgement
	// round trip per message (a Link hands over one message at a time), and
	// the latency loss above 256 KiB is not understood yet. Until it is, the
	// ring stays the default.
	DefaultSingleCopyMin = -1

	// cmaWaitLimit bounds how long a sender waits for a receiver's copy in
	// progress before it revokes (normally one system call's time).
	cmaWaitLimit = 10 * time.Second
)

// stateWord returns the state word of the record starting at stream
// position pos (8-aligned, so the 4-byte word never wraps).
func (r *ring) stateWord(pos uint64) *atomic.Uint32 {
	return word32(r.data, int((pos+cmaStateOff)&r.mask))
}

// cmaStart publishes a single-copy descriptor for p (the message's first
// call). It returns whether it published; the message is done only once the
// receiver's tail passes the record (cmaPoll).
func (w *ringWriter) cmaStart(tag uint32, p []byte) (published bool, err error) {
	f, err := w.free(cmaRecLen)
	if err != nil {
		return false, err
	}
	if f < cmaRecLen {
		w.r.wait.Store(1)
		w.waiting = true
		if f, err = w.free(cmaRecLen); err != nil || f < cmaRecLen {
			return false, err
		}
	}
	var rec [cmaRecLen]byte
	w.seq++
	putRecHeader(rec[:], recMagicCMA, tag, uint64(len(p)), w.seq)
	binary.LittleEndian.PutUint64(rec[cmaAddrOff:], uint64(uintptr(unsafe.Pointer(&p[0]))))
	w.r.copyIn(w.head, rec[:]) // state cmaPosted (0)
	w.cmaPos = w.head
	w.head += cmaRecLen
	w.cmaActive, w.cmaBuf, w.cmaTag = true, p, tag
	// Ask for a ring when the receiver moves the tail past the record
	// (the acknowledgement): the same flag as for ring space.
	w.r.wait.Store(1)
	w.waiting = true
	// Publish: the record's plain stores precede this atomic store.
	w.r.head.Store(w.head)
	return true, nil
}

// cmaPoll continues a single-copy message: it reports done once the
// receiver has consumed the record. p may differ from the buffer first
// published (a cancelled send goes on from a copy): the descriptor is then
// re-pointed at p before the old buffer is let go.
func (w *ringWriter) cmaPoll(tag uint32, p []byte, off int) (done bool, err error) {
	if off != 0 || len(p) != len(w.cmaBuf) || tag != w.cmaTag {
		return false, fmt.Errorf("%w: single-copy send of tag %d offset %d/%d, expected tag %d 0/%d", errMisuse, tag, off, len(p), w.cmaTag, len(w.cmaBuf))
	}
	if &p[0] != &w.cmaBuf[0] {
		if err := w.cmaRepoint(p); err != nil {
			return false, err
		}
	}
	t := w.r.tail.Load()
	if t < w.tailSeen || t > w.head || t%8 != 0 {
		return false, errProto("ring tail %d out of range [%d, %d] or misaligned", t, w.tailSeen, w.head)
	}
	w.tailSeen = t
	if t < w.cmaPos+cmaRecLen {
		return false, nil
	}
	w.cmaActive, w.cmaBuf = false, nil
	w.cmaSent++
	w.r.wait.Store(0)
	w.waiting = false
	return true, nil
}

// cmaRepoint makes the published descriptor point at p instead of the
// buffer it names now, waiting for a copy in progress to end.
func (w *ringWriter) cmaRepoint(p []byte) error {
	st := w.r.stateWord(w.cmaPos)
	if err := w.cmaRevoke(st); err != nil || st.Load() == cmaDone {
		if err == nil {
			w.cmaBuf = p // copied already; the tail will show it
		}
		return err
	}
	var a [8]byte
	binary.LittleEndian.PutUint64(a[:], uint64(uintptr(unsafe.Pointer(&p[0]))))
	w.r.copyIn(w.cmaPos+cmaAddrOff, a[:])
	w.cmaBuf = p
	st.Store(cmaPosted) // republish: the address store precedes it
	return nil
}

// cmaRevoke takes the descriptor back (state cmaRevoked) unless the
// receiver has copied it already (cmaDone); a copy in progress is waited
// for. It returns nil in both cases.
func (w *ringWriter) cmaRevoke(st *atomic.Uint32) error {
	var start time.Time
	for i := 0; ; i++ {
		if st.CompareAndSwap(cmaPosted, cmaRevoked) {
			return nil
		}
		switch v := st.Load(); v {
		case cmaDone, cmaRevoked:
			return nil
		case cmaCopying:
		case cmaPosted:
			continue
		default:
			return errProto("single-copy descriptor state %d", v)
		}
		runtime.Gosched()
		if i%256 == 0 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > cmaWaitLimit {
				return fmt.Errorf("%w: the receiver's single copy has not ended after %v", transport.ErrPeerLost, cmaWaitLimit)
			}
			if w.alive != nil {
				if err := w.alive(); err != nil {
					return err
				}
			}
		}
	}
}

// cmaClose revokes the message in progress, if any, for good: after it the
// buffer is not read again (Close, or the link failing).
func (w *ringWriter) cmaClose() {
	if w.cmaActive {
		w.cmaRevoke(w.r.stateWord(w.cmaPos))
		w.cmaActive, w.cmaBuf = false, nil
	}
}

// cmaRecv copies the payload of the single-copy record at the tail
// straight from the sender's memory into dst (the whole message at once),
// then consumes the record. It reports the bytes received (0 or len(dst))
// and whether the sender waits for the tail.
func (rd *ringReader) cmaRecv(dst []byte) (got int, freed bool, err error) {
	a, err := rd.avail(rd.tail, cmaRecLen)
	if err != nil || a < cmaRecLen {
		return 0, false, err
	}
	st := rd.r.stateWord(rd.tail)
	if !st.CompareAndSwap(cmaPosted, cmaCopying) {
		if v := st.Load(); v != cmaRevoked {
			return 0, false, errProto("single-copy descriptor state %d at stream position %d", v, rd.tail)
		}
		return 0, false, nil // being re-pointed, or the sender is closing
	}
	var ab [8]byte
	rd.r.copyOut(rd.tail+cmaAddrOff, ab[:]) // after the claim: a re-pointed address is visible
	if err := rd.readRemote(dst, binary.LittleEndian.Uint64(ab[:])); err != nil {
		st.Store(cmaPosted) // give the claim back: the sender must not wait for us
		return 0, false, err
	}
	// The copy is complete before the state and then the tail say so, and
	// the tail store lets the sender reuse the record's bytes.
	st.Store(cmaDone)
	rd.tail += cmaRecLen
	rd.r.tail.Store(rd.tail)
	return len(dst), rd.r.wait.Load() != 0, nil
}

// readRemote copies len(dst) bytes at addr in the peer's memory into dst.
func (rd *ringReader) readRemote(dst []byte, addr uint64) error {
	for got := 0; got < len(dst); {
		rd.liov[0] = unix.Iovec{Base: &dst[got]}
		rd.liov[0].SetLen(len(dst) - got)
		rd.riov[0] = unix.RemoteIovec{Base: uintptr(addr) + uintptr(got), Len: len(dst) - got}
		n, err := unix.ProcessVMReadv(rd.pid, rd.liov[:], rd.riov[:], 0)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ESRCH:
			return fmt.Errorf("%w: process %d exited", transport.ErrPeerLost, rd.pid)
		case err != nil:
			return errProto("single copy of %d bytes at %#x from process %d: %v", len(dst)-got, addr+uint64(got), rd.pid, err)
		case n <= 0:
			return errProto("single copy from process %d made no progress at %#x", rd.pid, addr+uint64(got))
		}
		got += n
	}
	return nil
}

// probeSingleCopy reports whether this process may read the memory of
// process pid: it reads the 8-byte cookie the peer announced at addr.
func probeSingleCopy(pid int, addr, cookie uint64) bool {
	if addr == 0 {
		return false
	}
	var got [8]byte
	liov := []unix.Iovec{{Base: &got[0]}}
	liov[0].SetLen(8)
	riov := []unix.RemoteIovec{{Base: uintptr(addr), Len: 8}}
	n, err := unix.ProcessVMReadv(pid, liov, riov, 0)
	return err == nil && n == 8 && binary.LittleEndian.Uint64(got[:]) == cookie
}
