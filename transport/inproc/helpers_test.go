package inproc_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// newComms makes n in-process ranks and closes them at the end of the test.
func newComms(t testing.TB, n int, opts ...inproc.Option) []*transport.Comm {
	t.Helper()
	comms, err := inproc.New(n, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range comms {
			c.Close()
		}
	})
	return comms
}

// runRanks runs body on every rank in its own goroutine and fails the test
// with every rank's error. The whole run is bounded by limit.
func runRanks(t testing.TB, comms []*transport.Comm, limit time.Duration, body func(ctx context.Context, c *transport.Comm) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	errs := make([]error, len(comms))
	var wg sync.WaitGroup
	for r, c := range comms {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					errs[r] = fmt.Errorf("panic: %v", p)
				}
			}()
			errs[r] = body(ctx, c)
		})
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

// pattern fills p with bytes determined by (seed, index): the sender side
// oracle for content checks.
func pattern(p []byte, seed uint64) {
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := range p {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		p[i] = byte(x >> 24)
	}
}

// checkPattern reports the first byte of p that differs from pattern(seed).
func checkPattern(p []byte, seed uint64) error {
	want := make([]byte, len(p))
	pattern(want, seed)
	for i := range p {
		if p[i] != want[i] {
			return fmt.Errorf("byte %d of %d: got %#x, want %#x (seed %d)", i, len(p), p[i], want[i], seed)
		}
	}
	return nil
}
