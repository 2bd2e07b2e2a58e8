package inproc

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hilo-hpc/hilo/transport"
)

// DefaultRingBytes is the capacity of the byte ring of each ordered pair of
// ranks; larger messages stream through it.
const DefaultRingBytes = 64 << 10

// An Option configures New.
type Option func(*config)

type config struct {
	ringBytes int
	opts      transport.Options
}

// RingBytes sets the capacity of each ordered pair's byte ring (rounded up
// to a power of two, at least 64). Small rings exercise streaming.
func RingBytes(n int) Option { return func(c *config) { c.ringBytes = n } }

// CommOptions sets the Options every Comm is built with. NodeRanks is
// ignored: all in-process ranks share one node.
func CommOptions(o transport.Options) Option { return func(c *config) { c.opts = o } }

// New creates n ranks that live in this process, one Comm per rank, joined
// by in-memory links. Each Comm is meant to be driven by its own goroutine.
func New(n int, opts ...Option) ([]*transport.Comm, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: %d ranks", transport.ErrInvalid, n)
	}
	cfg := config{ringBytes: DefaultRingBytes}
	for _, o := range opts {
		o(&cfg)
	}
	ringBytes := 64
	for ringBytes < cfg.ringBytes {
		ringBytes <<= 1
	}
	cfg.opts.NodeRanks = nil

	bells := make([]transport.Doorbell, n)
	for r := range bells {
		bells[r] = transport.NewLocalDoorbell()
	}
	links := make([][]transport.Link, n)
	for r := range links {
		links[r] = make([]transport.Link, n)
	}
	for a := range n {
		for b := a + 1; b < n; b++ {
			p := &pair{ringBytes: ringBytes, channels: make(map[chanKey]*slotRing)}
			links[a][b] = &link{self: a, peer: b, side: 0, pair: p, out: &p.dirs[0], in: &p.dirs[1], selfBell: bells[a], peerBell: bells[b]}
			links[b][a] = &link{self: b, peer: a, side: 1, pair: p, out: &p.dirs[1], in: &p.dirs[0], selfBell: bells[b], peerBell: bells[a]}
		}
	}
	comms := make([]*transport.Comm, n)
	for r := range n {
		c, err := transport.NewComm(r, n, links[r], bells[r], cfg.opts)
		if err != nil {
			return nil, err
		}
		comms[r] = c
	}
	return comms, nil
}

// pair is what two ranks a < b share: a byte ring per direction (dirs[0]:
// a to b), their persistent channels, and whether each side has closed.
type pair struct {
	ringBytes int
	dirs      [2]direction
	closed    [2]atomic.Bool // closed[side]: that side's link was closed

	mu       sync.Mutex
	channels map[chanKey]*slotRing
}

// direction holds the ring of one direction, made on first use so that
// pairs that never talk cost no memory.
type direction struct {
	ring atomic.Pointer[byteRing]
	mu   sync.Mutex
}

func (d *direction) get(size int) *byteRing {
	if r := d.ring.Load(); r != nil {
		return r
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if r := d.ring.Load(); r != nil {
		return r
	}
	r := &byteRing{buf: make([]byte, size), mask: uint64(size - 1)}
	d.ring.Store(r)
	return r
}

// byteRing is a single-producer single-consumer ring of bytes. The producer
// writes bytes at head, then publishes them with an atomic store of head;
// the consumer loads head, reads the bytes, then frees them with an atomic
// store of tail. Each atomic store happens before the load that observes
// it, so the byte copies on either side never race.
type byteRing struct {
	buf  []byte
	mask uint64
	_    [64]byte
	head atomic.Uint64 // bytes ever written; written by the producer only
	_    [120]byte
	tail atomic.Uint64 // bytes ever read; written by the consumer only
}

// put copies p into the ring at position pos (the caller checked space).
func (r *byteRing) put(pos uint64, p []byte) {
	i := int(pos & r.mask)
	n := copy(r.buf[i:], p)
	copy(r.buf, p[n:])
}

// get copies len(p) bytes from position pos.
func (r *byteRing) get(pos uint64, p []byte) {
	i := int(pos & r.mask)
	n := copy(p, r.buf[i:])
	copy(p[n:], r.buf)
}

// Run runs fn as each of n goroutine ranks (over New(n, opts...)) and waits
// for all of them. When a rank fails, the others' ctx is cancelled so that
// none waits for it until a deadline. The Comms are closed at the end. It
// returns the first failure to occur (the cause, not the cancellations it
// led to), naming the rank.
func Run(ctx context.Context, n int, fn func(ctx context.Context, c *transport.Comm) error, opts ...Option) error {
	comms, err := New(n, opts...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for r, c := range comms {
		wg.Go(func() {
			if err := fn(ctx, c); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("rank %d: %w", r, err)
				}
				mu.Unlock()
				cancel()
			}
		})
	}
	wg.Wait()
	for _, c := range comms {
		c.Close()
	}
	return first
}
