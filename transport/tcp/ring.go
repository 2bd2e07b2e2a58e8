package tcp

// byteRing is a bounded FIFO of bytes. head and tail count bytes ever read
// and written, so tail-head is the fill level. It does no locking: the link
// guards the counters with a mutex, and a producer (consumer) may fill (drain)
// the slice returned by writable (readable) outside that mutex, because the
// region it gets is not visible to the other side until the counter moves
// under the mutex.
type byteRing struct {
	buf        []byte
	head, tail uint64
}

func (r *byteRing) used() int { return int(r.tail - r.head) }
func (r *byteRing) free() int { return len(r.buf) - r.used() }

// writable returns the contiguous free space at the tail.
func (r *byteRing) writable() []byte {
	t := int(r.tail % uint64(len(r.buf)))
	n := min(r.free(), len(r.buf)-t)
	return r.buf[t : t+n]
}

// readable returns the contiguous filled space at the head.
func (r *byteRing) readable() []byte {
	h := int(r.head % uint64(len(r.buf)))
	n := min(r.used(), len(r.buf)-h)
	return r.buf[h : h+n]
}

// put appends p; the caller has checked free() >= len(p).
func (r *byteRing) put(p []byte) {
	for len(p) > 0 {
		n := copy(r.writable(), p)
		r.tail += uint64(n)
		p = p[n:]
	}
}

// get removes len(p) bytes into p; the caller has checked used() >= len(p).
func (r *byteRing) get(p []byte) {
	for len(p) > 0 {
		n := copy(p, r.readable())
		r.head += uint64(n)
		p = p[n:]
	}
}
