package shm

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"
)

// The fastbox carries small messages beside the ring, as Open MPI's vader
// BTL does: one cache line carries both the publication and the data, so
// the receiver's poll costs one miss instead of two (the ring's head line,
// then its data line), and the sender's publication is a plain store into
// a line it is writing anyway.
//
// It is fbSlots slots of fbSlotBytes (one cache line each) between a
// ring's control words and its data. A message takes fbSlotsFor(len)
// consecutive slots (modulo fbSlots):
//
//	first slot:        [0,8) sequence number, [8,12) tag, [12,16) length,
//	                   [16,64) payload
//	continuation slot: [0,8) sequence number, [8,64) payload
//
// Every message on a link, fastbox or ring, has a sequence number (1, 2,
// ...; the ring's record header carries it too), which is how the reader
// delivers in order whichever way each message went: the next message is
// number consumed+1, found either in the fastbox slot at the reader's
// fastbox tail or as the ring's next record.
//
// Happens-before (see storeRelease64 for the hardware argument):
//
//   - Writer: it writes the continuation slots (payload, then their
//     sequence words) and the first slot's tag, length and payload with
//     plain stores, and the first slot's sequence word last, with a
//     release store. A reader that loads that sequence number therefore
//     sees the whole message. Continuation sequence words are not needed
//     for that; they let the reader check that the record is whole.
//   - Reader: it loads the first slot's sequence word (an atomic load, an
//     acquire on amd64 and arm64), and only if it is the number expected
//     reads the rest; after copying it stores its fastbox tail (slots
//     consumed) with a release store.
//   - Slot reuse: the writer writes slot s only after it has loaded a
//     fastbox tail t with s < t+fbSlots; the reader's reads of every slot
//     below t preceded its store of t.
//   - Order with the ring: a message the writer put in the fastbox was
//     published before any later message's ring record and head store, so
//     a reader that finds, after loading the head, a ring record numbered
//     beyond the one it expects looks at the fastbox again and must find
//     the expected message there (else the peer broke the protocol).
//
// A slot's sequence word only ever holds sequence numbers (64 bits: they
// never wrap), so a stale slot, holding an older number, is never mistaken
// for the next message. Nothing read from a slot is trusted: a length
// beyond fbMaxMessage or a continuation slot with another sequence number
// is an error wrapping transport.ErrProtocol.
//
// The writer uses the fastbox only when the message fits and enough slots
// are free (it keeps a cached copy of the reader's fastbox tail and reloads
// it only when the box looks full); otherwise the message goes through the
// ring. It never waits for fastbox slots, and the reader never rings the
// writer's doorbell for them.
const (
	fbSlotBytes  = 64
	fbSlots      = 64 // a power of two
	fbBytes      = fbSlots * fbSlotBytes
	fbFirstHdr   = 16                                      // first slot: sequence, tag, length
	fbFirstData  = fbSlotBytes - 16                        // payload bytes in a first slot
	fbContData   = fbSlotBytes - 8                         // payload bytes in a continuation slot
	fbMaxMessage = fbFirstData + (fbMaxSlots-1)*fbContData // 272 bytes

	// fbMaxSlots bounds the slots of one message. Measured with hilo bench
	// pingpong (interleaved, medians): 256 B took 0.66 µs one way through
	// the fastbox and 0.73 through the ring, but 1 KiB 1.41 through the
	// fastbox (20 slots) and 1.13 through the ring (not analysed; probably
	// because the fastbox's lines are reused every few messages, so each
	// slot the writer fills must first be taken back from the reader's
	// cache, while a large ring's lines have gone cold).
	fbMaxSlots = 5
)

// fbSlotsFor is the number of slots a message of n <= fbMaxMessage bytes
// takes.
func fbSlotsFor(n int) uint64 {
	if n <= fbFirstData {
		return 1
	}
	return 1 + uint64(n-fbFirstData+fbContData-1)/fbContData
}

// fbSlot returns the fastbox slot at free-running slot position i.
func (r *ring) fbSlot(i uint64) []byte {
	o := (i & (fbSlots - 1)) * fbSlotBytes
	return r.fb[o : o+fbSlotBytes : o+fbSlotBytes]
}

// sendFast puts the whole of p in the fastbox if enough slots are free. It
// reports whether it did; the caller rings the reader's doorbell.
func (w *ringWriter) sendFast(tag uint32, p []byte) (sent bool, err error) {
	n := fbSlotsFor(len(p))
	if w.fbHead+n-w.fbTailSeen > fbSlots {
		t := w.r.fbTail.Load()
		if t < w.fbTailSeen || t > w.fbHead {
			return false, errProto("fastbox tail %d out of range [%d, %d]", t, w.fbTailSeen, w.fbHead)
		}
		w.fbTailSeen = t
		if w.fbHead+n-t > fbSlots {
			return false, nil // full: the ring takes this one
		}
	}
	seq := w.seq + 1
	first := w.r.fbSlot(w.fbHead)
	rest := p[min(len(p), fbFirstData):]
	for i := uint64(1); i < n; i++ {
		s := w.r.fbSlot(w.fbHead + i)
		k := copy(s[8:], rest)
		rest = rest[k:]
		binary.LittleEndian.PutUint64(s[0:], seq)
	}
	binary.LittleEndian.PutUint32(first[8:], tag)
	binary.LittleEndian.PutUint32(first[12:], uint32(len(p)))
	copy(first[fbFirstHdr:], p)
	// Publish: every store above precedes this one (release).
	storeRelease64((*uint64)(unsafe.Pointer(&first[0])), seq)
	w.seq = seq
	w.fbHead += n
	w.fbSent++
	return true, nil
}

// peekFast looks for the next message in the fastbox. ok reports that it
// is there; its header is then parsed (rd.have, rd.fast).
func (rd *ringReader) peekFast() (ok bool, err error) {
	first := rd.r.fbSlot(rd.fbTail)
	// (Not word64: under -race its bounds check is a plain read of bytes
	// the writer stores atomically.)
	if (*atomic.Uint64)(unsafe.Pointer(&first[0])).Load() != rd.consumed+1 {
		return false, nil
	}
	// The sequence load above happened before these plain reads.
	n := binary.LittleEndian.Uint32(first[12:])
	if n > fbMaxMessage {
		return false, errProto("fastbox message %d of %d bytes, at most %d fit", rd.consumed+1, n, fbMaxMessage)
	}
	rd.have, rd.fast, rd.cma, rd.entered = true, true, false, false
	rd.tag = binary.LittleEndian.Uint32(first[8:])
	rd.size, rd.received = uint64(n), 0
	return true, nil
}

// recvFast copies the fastbox message peekFast found into dst (whose
// length the caller checked) and frees its slots.
func (rd *ringReader) recvFast(dst []byte) (newOff int, freed bool, err error) {
	seq := rd.consumed + 1
	n := fbSlotsFor(len(dst))
	first := rd.r.fbSlot(rd.fbTail)
	k := copy(dst, first[fbFirstHdr:])
	for i := uint64(1); i < n; i++ {
		s := rd.r.fbSlot(rd.fbTail + i)
		if got := binary.LittleEndian.Uint64(s[0:]); got != seq {
			return 0, false, errProto("fastbox slot %d of message %d holds message %d", i, seq, got)
		}
		k += copy(dst[k:], s[8:])
	}
	rd.fbTail += n
	// Hand the slots back: the reads above precede this release store.
	storeRelease64((*uint64)(unsafe.Pointer(rd.r.fbTail)), rd.fbTail)
	rd.received = rd.size
	rd.have, rd.fast = false, false
	rd.consumed++
	return len(dst), false, nil
}
