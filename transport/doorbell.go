package transport

import (
	"runtime"
	"sync/atomic"
	"time"
)

// localSpins is how many times Sleep re-reads the sequence, yielding the
// processor in between, before it parks. Yielding (rather than busy-looping)
// keeps ranks that outnumber the cores, such as goroutine ranks, running.
const localSpins = 16

// maxLocalSleepers bounds the wake-up tokens one Ring hands out.
const maxLocalSleepers = 64

// localDoorbell is a Doorbell within one process. A sleeper parks on a
// channel rather than a futex, so that a goroutine rank that waits hands its
// thread back to the Go scheduler instead of blocking it in a system call.
type localDoorbell struct {
	seq      atomic.Uint32
	sleepers atomic.Int32
	wake     chan struct{} // wake-up tokens, one per sleeper to wake

	timerBusy atomic.Bool // the shared timer is in use by a sleeper
	timer     *time.Timer
}

// NewLocalDoorbell returns a Doorbell for a rank whose peers ring it from
// the same process (goroutine ranks, or links whose medium delivers through
// a goroutine of this process, such as a TCP reader). Several goroutines may
// sleep on it at once; a Ring wakes them all.
func NewLocalDoorbell() Doorbell {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &localDoorbell{wake: make(chan struct{}, maxLocalSleepers), timer: t}
}

func (b *localDoorbell) Seq() uint32 { return b.seq.Load() }

// Ring moves the sequence and, only if someone has announced that it
// sleeps, leaves one wake-up token per sleeper. Go's atomics are
// sequentially consistent: either this Load sees the sleeper counted (and a
// token wakes it), or the sleeper's re-read of seq, which follows its
// increment of sleepers, sees this Add. A wake-up cannot be lost.
func (b *localDoorbell) Ring() {
	b.seq.Add(1)
	for n := b.sleepers.Load(); n > 0; n-- {
		select {
		case b.wake <- struct{}{}:
		default:
			return // enough tokens pending
		}
	}
}

// Sleep returns once the sequence differs from seq, or after max. It may
// return early (a token left over from an earlier ring); callers re-check.
func (b *localDoorbell) Sleep(seq uint32, max time.Duration) {
	for range localSpins {
		if b.seq.Load() != seq {
			return
		}
		runtime.Gosched()
	}
	if max <= 0 {
		return
	}
	b.sleepers.Add(1)
	defer b.sleepers.Add(-1)
	if b.seq.Load() != seq {
		return
	}
	// The common case, one sleeper, reuses one timer; a second concurrent
	// sleeper makes its own.
	t := b.timer
	if b.timerBusy.CompareAndSwap(false, true) {
		defer b.timerBusy.Store(false)
		t.Reset(max)
	} else {
		t = time.NewTimer(max)
	}
	select {
	case <-b.wake:
	case <-t.C:
	}
	t.Stop()
}
