package shm

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Segment layout. Every rank owns one segment (a sealed memfd), which holds
// its heartbeat, its doorbell and the rings that carry messages *to* it, one
// per peer:
//
//	[   0,    8) magic "HILOSHM1"
//	[   8,   12) layout version
//	[  12,   16) owner rank
//	[  16,   24) segment size
//	[ 128,  136) heartbeat: the owner adds 1 every ~100 ms
//	[ 256,  260) doorbell sequence (futex word)
//	[ 260,  264) doorbell sleepers: how many of the owner's goroutines sleep
//	[4096, ...) one ring per peer (ringBytes(capacity) each, 128-aligned),
//	             in the order of the sorted peer list
//
// Heartbeat and doorbell have cache lines of their own: the heartbeat is
// written by the owner only, the doorbell by every peer.
const (
	segMagic        = 0x314d48534f4c4948 // "HILOSHM1" little-endian
	segVersion      = 3                  // 2: single-copy records and the hello's probe; 3: fastbox, sequence numbers
	segMagicOff     = 0
	segVersionOff   = 8
	segRankOff      = 12
	segSizeOff      = 16
	segHeartOff     = 128
	segBellSeqOff   = 256
	segBellSleepOff = 260
	segRingsOff     = 4096

	// seals applied to every memfd before it is shared: a peer holding the
	// fd can then never shrink it under our mapping (which would turn our
	// next access into SIGBUS) nor change the seals.
	wantSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL
)

// newMemfd creates an anonymous, sealed, fully allocated memfd of size
// bytes and maps it. The fd is returned so it can be passed to peers; the
// caller closes it once it has been sent (the mapping keeps the memory).
func newMemfd(name string, size int) (fd int, mem []byte, err error) {
	fd, err = unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, nil, fmt.Errorf("shm: memfd_create: %w", err)
	}
	fail := func(op string, e error) (int, []byte, error) {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("shm: %s of %d bytes: %w", op, size, e)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return fail("ftruncate", err)
	}
	// Allocate every page now: a lack of memory is an error here, not a
	// SIGBUS on first touch in the middle of an exchange.
	if err := unix.Fallocate(fd, 0, 0, int64(size)); err != nil {
		return fail("fallocate", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, wantSeals); err != nil {
		return fail("seal", err)
	}
	mem, err = unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mmap", err)
	}
	return fd, mem, nil
}

// mapPeerFd maps a memfd received from a peer after checking that it is
// sealed against shrinking and exactly size bytes long. It closes fd.
func mapPeerFd(fd int, size uint64) ([]byte, error) {
	defer unix.Close(fd)
	if size == 0 || size > 1<<40 {
		return nil, errProto("peer segment size %d out of range", size)
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, errProto("fd from peer is not a sealable memfd: %v", err)
	}
	if seals&(unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL) != unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL {
		return nil, errProto("peer memfd is not sealed against shrinking (seals %#x)", seals)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("shm: fstat peer memfd: %w", err)
	}
	if uint64(st.Size) != size {
		return nil, errProto("peer memfd is %d bytes, announced %d", st.Size, size)
	}
	mem, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shm: mmap peer memfd: %w", err)
	}
	return mem, nil
}
