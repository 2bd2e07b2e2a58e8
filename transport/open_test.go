package transport_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

// rendezvous pairs the two ends of each channel: each end blocks in
// Persistent until the other end has arrived, as shm's does.
type rendezvous struct {
	mu    sync.Mutex
	meets map[[3]int]*meeting // (from, to, id)
}

type meeting struct{ send, recv chan struct{} }

func (rv *rendezvous) meeting(from, to int, id uint32) *meeting {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	k := [3]int{from, to, int(id)}
	m := rv.meets[k]
	if m == nil {
		m = &meeting{send: make(chan struct{}), recv: make(chan struct{})}
		rv.meets[k] = m
	}
	return m
}

// rvLink carries no messages; its Persistent waits for the peer's end.
type rvLink struct {
	self, peer int
	rv         *rendezvous
}

func (l *rvLink) Peer() int                                       { return l.peer }
func (l *rvLink) Kind() string                                    { return "shm" }
func (l *rvLink) SendSome(uint32, []byte, int) (int, bool, error) { return 0, false, nil }
func (l *rvLink) PeekHeader() (uint32, int, bool, error)          { return 0, 0, false, nil }
func (l *rvLink) RecvSome([]byte, int) (int, error)               { return 0, nil }
func (l *rvLink) Check() error                                    { return nil }
func (l *rvLink) Stats() transport.LinkStats                      { return transport.LinkStats{Kind: "shm"} }
func (l *rvLink) Close() error                                    { return nil }

func (l *rvLink) Persistent(ctx context.Context, id uint32, slotBytes, slots int, send bool) (transport.Channel, error) {
	from, to := l.peer, l.self
	if send {
		from, to = l.self, l.peer
	}
	m := l.rv.meeting(from, to, id)
	mine, theirs := m.recv, m.send
	if send {
		mine, theirs = m.send, m.recv
	}
	close(mine)
	select {
	case <-theirs:
		return nopChannel{l.peer}, nil
	case <-ctx.Done():
		return nil, transport.ErrTimeout
	}
}

type nopChannel struct{ peer int }

func (nopChannel) Claim() ([]byte, bool, error)   { return nil, false, nil }
func (nopChannel) Commit(int) error               { return nil }
func (nopChannel) Acquire() ([]byte, bool, error) { return nil, false, nil }
func (nopChannel) Release() error                 { return nil }
func (n nopChannel) Peer() int                    { return n.peer }
func (nopChannel) Close() error                   { return nil }

func rendezvousComms(t *testing.T, n int) []*transport.Comm {
	rv := &rendezvous{meets: make(map[[3]int]*meeting)}
	comms := make([]*transport.Comm, n)
	for r := range n {
		links := make([]transport.Link, n)
		for p := range n {
			if p != r {
				links[p] = &rvLink{self: r, peer: p, rv: rv}
			}
		}
		c, err := transport.NewComm(r, n, links, transport.NewLocalDoorbell(), transport.Options{})
		if err != nil {
			t.Fatal(err)
		}
		comms[r] = c
		t.Cleanup(func() { c.Close() })
	}
	return comms
}

// ringSpecs: every rank sends to both neighbours and receives from both
// (two channels per direction), send ends listed first, the order that
// deadlocks when opened one by one.
func ringSpecs(r, n int) []transport.ChannelSpec {
	right, left := (r+1)%n, (r+n-1)%n
	peers := []int{right, left}
	if right == left {
		peers = peers[:1]
	}
	var specs []transport.ChannelSpec
	for _, send := range []bool{true, false} {
		for _, p := range peers {
			for id := range uint32(2) {
				specs = append(specs, transport.ChannelSpec{Peer: p, ID: id, SlotBytes: 64, Slots: 2, Send: send})
			}
		}
	}
	return specs
}

// TestOpenChannelsNoDeadlock: with links whose Persistent waits for the
// peer, OpenChannels opens a ring of channels on 2..6 ranks, where opening
// the same ends one by one in the listed order deadlocks (checked too, so
// the test shows the problem it guards against).
func TestOpenChannelsNoDeadlock(t *testing.T) {
	for n := 2; n <= 6; n++ {
		comms := rendezvousComms(t, n)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var wg sync.WaitGroup
		for r, c := range comms {
			wg.Go(func() {
				specs := ringSpecs(r, n)
				sends, recvs, err := c.OpenChannels(ctx, specs)
				if err != nil {
					t.Errorf("%d ranks, rank %d: %v", n, r, err)
					return
				}
				for i, s := range specs {
					if (sends[i] != nil) != s.Send || (recvs[i] != nil) == s.Send {
						t.Errorf("rank %d spec %d: send %v recv %v", r, i, sends[i], recvs[i])
					}
				}
			})
		}
		wg.Wait()
		cancel()
	}

	comms := rendezvousComms(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	var timeouts sync.Map
	for r, c := range comms {
		wg.Go(func() {
			for _, s := range ringSpecs(r, 3) {
				var err error
				if s.Send {
					_, err = c.SendChannel(ctx, s.Peer, s.ID, s.SlotBytes, s.Slots)
				} else {
					_, err = c.RecvChannel(ctx, s.Peer, s.ID, s.SlotBytes, s.Slots)
				}
				if errors.Is(err, transport.ErrTimeout) {
					timeouts.Store(r, true)
					return
				}
			}
		})
	}
	wg.Wait()
	n := 0
	timeouts.Range(func(any, any) bool { n++; return true })
	if n == 0 {
		t.Error("opening the ring one end at a time did not deadlock: the test above proves nothing")
	}
}
