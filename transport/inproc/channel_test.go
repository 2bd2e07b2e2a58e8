package inproc_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// TestPersistentChannels: each of three ranks sends to its right-hand
// neighbour and to itself through persistent channels for many rounds,
// with varying lengths; every slot's content is checked, so a slot reused
// before its release, or read before its commit, shows.
func TestPersistentChannels(t *testing.T) {
	const n, rounds, slotBytes = 3, 2000, 512
	comms := newComms(t, n)
	for _, slots := range []int{1, 2, 3} {
		runRanks(t, comms, 20*time.Second, func(ctx context.Context, c *transport.Comm) error {
			r := c.Rank()
			right, left := (r+1)%n, (r+n-1)%n
			id := uint32(10 + slots)
			out, err := c.SendChannel(ctx, right, id, slotBytes, slots)
			if err != nil {
				return err
			}
			in, err := c.RecvChannel(ctx, left, id, slotBytes, slots)
			if err != nil {
				return err
			}
			selfOut, err := c.SendChannel(ctx, r, id, slotBytes, slots)
			if err != nil {
				return err
			}
			selfIn, err := c.RecvChannel(ctx, r, id, slotBytes, slots)
			if err != nil {
				return err
			}
			length := func(from, round int) int { return (from*131 + round*17) % (slotBytes + 1) }
			for round := range rounds {
				for _, ch := range []*transport.SendChannel{out, selfOut} {
					slot, err := ch.Claim(ctx)
					if err != nil {
						return err
					}
					if len(slot) != slotBytes {
						return fmt.Errorf("slot of %d bytes", len(slot))
					}
					m := length(r, round)
					pattern(slot[:m], uint64(r*rounds+round))
					if err := ch.Commit(m); err != nil {
						return err
					}
				}
				for _, ch := range []*transport.RecvChannel{in, selfIn} {
					data, err := ch.Acquire(ctx)
					if err != nil {
						return err
					}
					from := ch.Peer()
					if len(data) != length(from, round) {
						return fmt.Errorf("round %d from %d: %d bytes, want %d", round, from, len(data), length(from, round))
					}
					if err := checkPattern(data, uint64(from*rounds+round)); err != nil {
						return fmt.Errorf("round %d from %d: %w", round, from, err)
					}
					if err := ch.Release(); err != nil {
						return err
					}
				}
			}
			return errors.Join(out.Close(), in.Close(), selfOut.Close(), selfIn.Close())
		})
	}
}

// TestChannelMisuse: mismatched sizes, commits beyond the slot and
// releases without an acquire are errors, and an empty channel times out.
func TestChannelMisuse(t *testing.T) {
	comms := newComms(t, 2)
	ctx := context.Background()
	c0, c1 := comms[0], comms[1]
	s, err := c0.SendChannel(ctx, 1, 1, 64, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c1.RecvChannel(ctx, 0, 1, 32, 2); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("mismatched slot size: %v", err)
	}
	rc, err := c1.RecvChannel(ctx, 0, 1, 64, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(1); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("commit without claim: %v", err)
	}
	if _, err := s.Claim(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(65); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("commit of 65 into 64: %v", err)
	}
	if err := rc.Release(); !errors.Is(err, transport.ErrInvalid) {
		t.Errorf("release without acquire: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = rc.Acquire(short)
	var oe *transport.OpError
	if !errors.Is(err, transport.ErrTimeout) || !errors.As(err, &oe) || oe.Op != "acquire" || oe.Peer != 0 || oe.Rank != 1 {
		t.Errorf("acquire on an empty channel: %v", err)
	}
	// Two slots in flight, the third claim waits.
	for range 2 {
		if _, err := s.Claim(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(0); err != nil {
			t.Fatal(err)
		}
	}
	short2, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	if _, err := s.Claim(short2); !errors.Is(err, transport.ErrTimeout) {
		t.Errorf("claim on a full channel: %v", err)
	}
}

// TestChannelPeerClosed: a receiver waiting on a channel whose peer closed
// its Comm gets ErrPeerLost.
func TestChannelPeerClosed(t *testing.T) {
	comms := newComms(t, 2, inproc.CommOptions(transport.Options{CheckInterval: 10 * time.Millisecond}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := comms[0].SendChannel(ctx, 1, 7, 8, 2); err != nil {
		t.Fatal(err)
	}
	rc, err := comms[1].RecvChannel(ctx, 0, 7, 8, 2)
	if err != nil {
		t.Fatal(err)
	}
	comms[0].Close()
	if _, err := rc.Acquire(ctx); !errors.Is(err, transport.ErrPeerLost) && !errors.Is(err, transport.ErrClosed) {
		t.Errorf("acquire after the peer closed: %v", err)
	}
}
