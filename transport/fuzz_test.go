package transport_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

// scriptLink is a link whose every answer (offsets, headers, sizes, errors)
// comes from fuzz bytes: a misbehaving medium. When the script runs out the
// peer is lost.
type scriptLink struct {
	script []byte
	pos    int
}

func (s *scriptLink) next() (byte, bool) {
	if s.pos >= len(s.script) {
		return 0, false
	}
	s.pos++
	return s.script[s.pos-1], true
}

func (s *scriptLink) Peer() int    { return 1 }
func (s *scriptLink) Kind() string { return "tcp" }

func (s *scriptLink) SendSome(tag uint32, p []byte, off int) (int, bool, error) {
	b, ok := s.next()
	if !ok {
		return off, false, nil
	}
	switch b % 4 {
	case 0:
		return off, false, nil
	case 1:
		return len(p), true, nil
	case 2:
		v, _ := s.next()
		return int(int8(v)), b&8 != 0, nil
	}
	return off, false, errors.New("script: broken pipe")
}

func (s *scriptLink) PeekHeader() (uint32, int, bool, error) {
	b, ok := s.next()
	if !ok {
		return 0, 0, false, nil
	}
	switch b % 4 {
	case 0:
		return 0, 0, false, nil
	case 1:
		t, _ := s.next()
		n, _ := s.next()
		return uint32(t % 4), int(n % 40), true, nil
	case 2:
		var v int32
		for range 4 {
			x, _ := s.next()
			v = v<<8 | int32(x)
		}
		t, _ := s.next()
		return uint32(t) << 24, int(v), true, nil
	}
	return 0, 0, false, errors.New("script: bad frame")
}

func (s *scriptLink) RecvSome(dst []byte, off int) (int, error) {
	b, ok := s.next()
	if !ok {
		return off, nil
	}
	switch b % 4 {
	case 0:
		return off, nil
	case 1:
		return len(dst), nil
	case 2:
		v, _ := s.next()
		return int(int8(v)), nil
	}
	return off, errors.New("script: reset")
}

func (s *scriptLink) Persistent(context.Context, uint32, int, int, bool) (transport.Channel, error) {
	return nil, errors.New("script: no channels")
}

func (s *scriptLink) Check() error {
	if s.pos >= len(s.script) {
		return transport.ErrPeerLost
	}
	return nil
}

func (s *scriptLink) Stats() transport.LinkStats { return transport.LinkStats{Kind: "tcp"} }
func (s *scriptLink) Close() error               { return nil }

// FuzzCommOverBadLink drives a Comm over a link that answers at random: the
// Comm must turn every inconsistency into an error (never a panic, never a
// hang) and stay closable.
func FuzzCommOverBadLink(f *testing.F) {
	f.Add([]byte{1, 1, 0, 5, 1, 1, 1, 1})
	f.Add([]byte{2, 1, 2, 0, 0, 0, 9, 0, 1, 2, 200})
	f.Add([]byte{5, 9, 1, 3, 10, 2, 250, 1, 1, 1, 3, 3})
	f.Add([]byte{2, 127, 255, 255, 255, 255, 1})
	f.Fuzz(func(t *testing.T, script []byte) {
		links := []transport.Link{nil, &scriptLink{script: script}}
		c, err := transport.NewComm(0, 2, links, transport.NewLocalDoorbell(), transport.Options{
			CheckInterval:   time.Millisecond,
			MaxMessageBytes: 1 << 16,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		bufs := [][]byte{make([]byte, 8), make([]byte, 16), make([]byte, 32), make([]byte, 4)}
		var reqs []*transport.Request
		for tag := range 4 {
			reqs = append(reqs, c.Irecv(1, uint32(tag), bufs[tag]))
		}
		reqs = append(reqs, c.Isend(1, 2, make([]byte, 100)), c.Isend(1, 3, nil))
		_ = c.WaitAll(ctx, reqs...)
		for _, r := range reqs {
			if done, n, err := r.Test(); done && err == nil && (n < 0 || n > 100) {
				t.Fatalf("completed with length %d", n)
			}
		}
		_ = c.Barrier(ctx)
		_ = c.AllreduceFloat64(ctx, transport.Sum, []float64{1}, make([]float64, 1))
		_, _ = c.Allgather(ctx, []byte("x"))
		_ = c.Stats()
	})
}
