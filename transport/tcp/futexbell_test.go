package tcp

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// futexBell is a Doorbell built the way the contract in transport/link.go
// describes (sequence word + sleeping flag + futex), private to a process:
// the benchmarks use it to measure the links with a realistic doorbell
// rather than a channel hand-off between goroutines.
// Linux futex operations (x/sys/unix does not name them).
const (
	futexWait    = 0
	futexWake    = 1
	futexPrivate = 128
)

type futexBell struct {
	seq      atomic.Uint32
	sleeping atomic.Uint32
}

func (b *futexBell) Seq() uint32 { return b.seq.Load() }

func (b *futexBell) Ring() {
	b.seq.Add(1)
	if b.sleeping.Load() != 0 {
		unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&b.seq)), futexWake|futexPrivate, 1, 0, 0, 0)
	}
}

func (b *futexBell) Sleep(seq uint32, max time.Duration) {
	for range spinRounds * 10 {
		if b.seq.Load() != seq {
			return
		}
	}
	b.sleeping.Store(1)
	defer b.sleeping.Store(0)
	if b.seq.Load() != seq {
		return
	}
	ts := unix.NsecToTimespec(int64(max))
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&b.seq)), futexWait|futexPrivate, uintptr(seq), uintptr(unsafe.Pointer(&ts)), 0, 0)
}
