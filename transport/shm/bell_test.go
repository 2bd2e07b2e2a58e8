package shm

import (
	"testing"
	"time"
	"unsafe"
)

// heapBell returns a bell over a heap copy of a segment header.
func heapBell(spin, yield time.Duration) *bell {
	words := make([]uint64, segRingsOff/8)
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), segRingsOff)
	return newBell(mem, spin, yield)
}

// TestSleepYieldPhase checks the crowded doorbell's sched_yield polling: a
// ring during it ends the Sleep at once without the sleeper ever counting
// itself (so the ringer made no system call), and without a ring Sleep
// still keeps to its maximum, yielding for part of it and sleeping on the
// futex for the rest.
func TestSleepYieldPhase(t *testing.T) {
	b := heapBell(0, time.Second)
	seq := b.Seq()
	sawSleeper := make(chan bool, 1)
	go func() {
		time.Sleep(5 * time.Millisecond)
		sawSleeper <- b.sleeping.Load() != 0
		b.Ring()
	}()
	start := time.Now()
	b.Sleep(seq, 10*time.Second)
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Sleep returned %v after the ring", d)
	}
	if <-sawSleeper {
		t.Error("the sleeper counted itself during the yield phase")
	}

	b = heapBell(0, 20*time.Millisecond)
	seq = b.Seq()
	start = time.Now()
	b.Sleep(seq, 60*time.Millisecond)
	if d := time.Since(start); d < 60*time.Millisecond || d > 2*time.Second {
		t.Errorf("Sleep without a ring returned after %v, want its maximum of 60ms", d)
	}
	if b.sleeping.Load() != 0 {
		t.Errorf("sleeper count %d after Sleep", b.sleeping.Load())
	}
}
