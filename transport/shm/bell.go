package shm

import (
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// futex operations without FUTEX_PRIVATE_FLAG: the word is in a MAP_SHARED
// mapping and the waker is another process, so the kernel must key the
// futex on the backing page, not on this process's address space.
const (
	futexWait = 0 // FUTEX_WAIT
	futexWake = 1 // FUTEX_WAKE
)

// bell is a doorbell: a 32-bit sequence word and a 32-bit count of
// sleepers in a segment's header (several goroutines of the owner may sleep
// at once: a Comm is used by several goroutines). The owner's bell implements transport.Doorbell; a
// link holds a bell over the peer's segment and only calls Ring on it.
type bell struct {
	seq      *atomic.Uint32
	sleeping *atomic.Uint32
	spin     time.Duration
	// yield is how long Sleep polls the sequence with sched_yield between
	// loads before the futex, when it does not spin (ranks outnumber CPUs):
	// a yield hands the CPU to a rank that shares it, which is likely the
	// one we wait for, and a futex wake-up costs 50-60 µs on the test VM,
	// more than most waits in an exchange. Open MPI polls the same way.
	yield time.Duration
}

func newBell(mem []byte, spin, yield time.Duration) *bell {
	return &bell{seq: word32(mem, segBellSeqOff), sleeping: word32(mem, segBellSleepOff), spin: spin, yield: yield}
}

// Seq returns the current sequence.
func (b *bell) Seq() uint32 { return b.seq.Load() }

// Ring moves the sequence and wakes the owner's sleepers if any announced
// itself. The add comes before the load of the count (both sequentially
// consistent), which is what makes Sleep's re-check sufficient.
func (b *bell) Ring() {
	b.seq.Add(1)
	if b.sleeping.Load() != 0 {
		unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(b.seq)), futexWake, math.MaxInt32, 0, 0, 0)
	}
}

// Sleep returns when the sequence differs from seq or after max. It spins
// for the bell's spin budget first (a futex round trip costs tens of
// microseconds here, a spinning one about one), then polls with sched_yield
// for the yield budget (set when ranks outnumber CPUs, where it replaces
// the spin), then counts itself among the sleepers, re-reads the sequence
// and waits on the futex.
//
// No wake-up is lost: the sleeper count's increment precedes the re-read,
// and a ringer's add precedes its load of the count. If the re-read missed the ringer's add, the
// add came after the re-read, hence after the increment, so the ringer's
// load of the count sees us and it wakes every sleeper; and if the wake comes before we are in
// FUTEX_WAIT, the kernel's compare of the word against seq fails and the
// wait returns at once.
func (b *bell) Sleep(seq uint32, max time.Duration) {
	if b.seq.Load() != seq || max <= 0 {
		return
	}
	var start time.Time // read lazily: most short waits end before the clock is needed
	if b.spin > 0 {
		budget := min(b.spin, max)
		for i := 1; ; i++ {
			if b.seq.Load() != seq {
				return
			}
			spinPause()
			// No sched_yield here: a spin only runs when this node's ranks
			// fit its CPUs, and measured here a yield every few hundred
			// loads (a system call, a VM exit) doubled the one-way latency.
			if i%64 == 0 {
				if start.IsZero() {
					start = time.Now()
				} else if time.Since(start) >= budget {
					break
				}
			}
		}
	}
	if b.yield > 0 {
		// Poll with sched_yield between loads (see bell.yield) until the
		// spin and yield budgets together are spent.
		if start.IsZero() {
			start = time.Now()
		}
		budget := min(b.spin+b.yield, max)
		for b.seq.Load() == seq {
			unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
			if time.Since(start) >= budget {
				break
			}
		}
		if b.seq.Load() != seq {
			return
		}
	}
	if start.IsZero() {
		start = time.Now()
	}
	b.sleeping.Add(1)
	// FUTEX_WAIT also returns early on a signal (the Go runtime sends
	// them, e.g. to preempt) or spuriously: wait again until the sequence
	// moves or the time is up, so that Sleep keeps its contract.
	for b.seq.Load() == seq {
		rest := max - time.Since(start)
		if rest <= 0 {
			break
		}
		ts := unix.NsecToTimespec(int64(rest))
		_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(b.seq)), futexWait, uintptr(seq), uintptr(unsafe.Pointer(&ts)), 0, 0)
		if errno != 0 && errno != unix.EINTR && errno != unix.EAGAIN {
			break // ETIMEDOUT, or a failure that retrying would not cure
		}
	}
	b.sleeping.Add(^uint32(0))
}
