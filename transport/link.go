package transport

import (
	"context"
	"time"
)

// A Link moves messages between this rank and one peer rank, in order and
// reliably, over one kind of medium (shared memory, TCP, or the memory of one
// process). Links are the layer below a Comm: the Comm owns one Link per peer,
// keeps the queues of pending sends and posted receives, matches tags, and
// drives every link forward from inside its blocking calls (there is no
// background progress thread on the fast paths).
//
// Every method except Close is non-blocking: it does what it can now and
// reports how far it got. A Comm that cannot make progress sleeps on its
// Doorbell, which every link rings when something arrives for this rank or
// space frees up for it.
//
// A Link is used by one goroutine at a time; the Comm serialises calls.
// Nothing read from the medium is trusted: a malformed header, length or
// index is an error wrapping ErrProtocol, never a panic.
type Link interface {
	// Peer is the rank at the other end.
	Peer() int
	// Kind names the medium: "shm", "tcp" or "inproc".
	Kind() string

	// SendSome continues sending one message. off is the number of payload
	// bytes of p already sent by earlier calls for this message; off == 0
	// (first call) also writes the header (tag and len(p)). It returns the new
	// offset; the message is fully handed over when it returns len(p). It
	// never blocks. A zero-length message is sent by one call returning 0 with
	// done == true.
	SendSome(tag uint32, p []byte, off int) (newOff int, done bool, err error)

	// PeekHeader reports the tag and size of the next incoming message once
	// its header has arrived (ok == false: nothing yet). It never blocks and
	// does not consume anything.
	PeekHeader() (tag uint32, size int, ok bool, err error)

	// RecvSome copies payload bytes of the message announced by PeekHeader
	// into dst[off:], where off is the number of bytes received by earlier
	// calls for this message; len(dst) must be the announced size. It returns
	// the new offset; when it reaches the size the message is consumed and
	// PeekHeader moves on to the next one. It never blocks.
	RecvSome(dst []byte, off int) (newOff int, err error)

	// Persistent returns the persistent channel with the given id towards the
	// peer (send == true: this rank writes into it; false: this rank reads from
	// it). Both ends must ask for the same id and slot size; slots is the number
	// of slots in flight (2 is double buffering). It may block until the peer
	// has agreed, bounded by ctx.
	Persistent(ctx context.Context, id uint32, slotBytes, slots int, send bool) (Channel, error)

	// Check reports whether the peer is still alive; it returns an error
	// wrapping ErrPeerLost once the peer is known to be gone (process exited,
	// heartbeat stale, connection reset). It is cheap enough to call every few
	// milliseconds from a wait loop.
	Check() error

	// Stats returns the bytes and messages carried so far in each direction.
	Stats() LinkStats

	// Close releases the link's resources. It does not block for long.
	Close() error
}

// LinkStats counts what a link has carried.
type LinkStats struct {
	Kind                 string
	BytesSent, BytesRecv uint64
	MsgsSent, MsgsRecv   uint64
}

// A Channel is one end of a persistent channel: fixed-size slots in transport
// memory (a ring of slots in shared memory on shm), so that a halo can be
// packed straight into the memory the receiver reads from, with no staging
// copy.
//
// Sender: Claim returns the next free slot (ok == false: none free yet);
// write into it, then Commit(n) publishes its first n bytes. Receiver:
// Acquire returns the next committed slot's bytes (ok == false: none yet);
// read them in place, then Release hands the slot back. None of the four
// blocks; the Comm waits on its Doorbell between attempts. A Channel's hot
// path allocates nothing.
type Channel interface {
	Claim() (slot []byte, ok bool, err error)
	Commit(n int) error
	Acquire() (data []byte, ok bool, err error)
	Release() error
	// Peer is the rank at the other end.
	Peer() int
	// Close releases the channel.
	Close() error
}

// A Doorbell is what a rank sleeps on while it waits for any of its links.
// It is a 32-bit sequence word (in shared memory for shm, so that peer
// processes can ring it) plus a "sleeping" flag.
//
// Ring increments the sequence with an atomic add (always, it is cheap) and
// makes the futex wake system call only when the owner has announced that it
// sleeps, so a busy exchange makes no system calls. Every link rings the
// doorbell of the rank it delivers to after it publishes data for it or frees
// space it may be waiting for.
//
// The owner waits like this:
//
//	for {
//		seq := bell.Seq()
//		if progress() { break }    // try every link once
//		bell.Sleep(seq, maxSleep)   // returns when the sequence has moved past seq, or after maxSleep
//	}
//
// Sleep spins briefly re-reading the sequence, then sets the sleeping flag,
// re-reads the sequence (returning at once if it moved) and sleeps on a futex
// on the sequence word with expected value seq. With sequentially consistent
// atomics no wake-up is lost: a ringer that saw the flag clear had already
// moved the sequence, which Sleep's re-read sees. Implementations keep the spin
// budget small when ranks outnumber cores.
type Doorbell interface {
	Seq() uint32
	Sleep(seq uint32, max time.Duration)
	Ring()
}
