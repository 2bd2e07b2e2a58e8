package shm

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/hilo-hpc/hilo/transport"
)

// fastPair is ringPair with the writer's fastbox on.
func fastPair(t testing.TB, capacity int) (*ringWriter, *ringReader, []byte) {
	t.Helper()
	w, rd, mem := ringPair(t, capacity)
	w.fbOn = true
	return w, rd, mem
}

// fastboxSizes returns message sizes around every fastbox and ring
// boundary, then pseudo-random ones up to twice the fastbox limit.
func fastboxSizes(capacity, random int) []int {
	sizes := []int{0, 1, 7, 8, 9,
		fbFirstData - 1, fbFirstData, fbFirstData + 1,
		fbFirstData + fbContData - 1, fbFirstData + fbContData, fbFirstData + fbContData + 1,
		fbMaxMessage - 1, fbMaxMessage, fbMaxMessage + 1,
		capacity - recHeaderLen, capacity, capacity + 1, 3*capacity + 5}
	rng := rand.New(rand.NewPCG(3, 4))
	for range random {
		switch rng.IntN(3) {
		case 0:
			sizes = append(sizes, rng.IntN(fbFirstData+1))
		case 1:
			sizes = append(sizes, rng.IntN(fbMaxMessage+1))
		default:
			sizes = append(sizes, rng.IntN(2*fbMaxMessage))
		}
	}
	return sizes
}

// TestFastboxInterleavesWithRing sends bursts of messages of every awkward
// size in one goroutine, so that the fastbox fills (and later messages fall
// back to the ring) and both the fastbox and a small ring wrap many times,
// then receives what arrived; every message must come out in order, with
// its tag and the pattern's bytes.
func TestFastboxInterleavesWithRing(t *testing.T) {
	for _, capacity := range []int{256, 4096} {
		w, rd, _ := fastPair(t, capacity)
		sizes := fastboxSizes(capacity, 3000)
		rng := rand.New(rand.NewPCG(5, 6))
		next, sending, sendOff := 0, 0, 0
		var payload, buf []byte
		recvOff := 0
		for next < len(sizes) {
			// A burst of up to 40 sends, stopping when one does not finish.
			for range rng.IntN(40) + 1 {
				if sending == len(sizes) {
					break
				}
				if payload == nil {
					payload = make([]byte, sizes[sending])
					pattern(payload, 0, 1, sending)
				}
				off, done, _, err := w.sendSome(uint32(sending), payload, sendOff)
				if err != nil {
					t.Fatalf("send %d: %v", sending, err)
				}
				sendOff = off
				if !done {
					break
				}
				sending, sendOff, payload = sending+1, 0, nil
			}
			// Then receive everything that is there (a few at least).
			for range rng.IntN(40) + 1 {
				tag, size, ok, err := rd.peekHeader()
				if err != nil {
					t.Fatalf("peek %d: %v", next, err)
				}
				if !ok {
					break
				}
				if int(tag) != next || size != sizes[next] {
					t.Fatalf("message %d: header tag %d size %d, want size %d", next, tag, size, sizes[next])
				}
				if buf == nil {
					buf = make([]byte, size)
				}
				off, _, err := rd.recvSome(buf, recvOff)
				if err != nil {
					t.Fatalf("recv %d: %v", next, err)
				}
				recvOff = off
				if off != size {
					break // the rest is not written yet
				}
				if !checkPattern(buf, 0, 1, next) {
					t.Fatalf("message %d of %d bytes: content differs", next, size)
				}
				next, recvOff, buf = next+1, 0, nil
			}
		}
		t.Logf("capacity %d: %d of %d messages through the fastbox, %d slots", capacity, w.fbSent, len(sizes), w.fbHead)
		if w.fbSent == 0 || w.fbSent == uint64(len(sizes)) || w.fbHead < 4*fbSlots {
			t.Errorf("capacity %d: %d of %d messages through the fastbox, %d slots: not both paths, or no wrap", capacity, w.fbSent, len(sizes), w.fbHead)
		}
		if rd.fbTail != w.fbHead || rd.consumed != w.seq {
			t.Errorf("reader at slot %d message %d, writer at %d %d", rd.fbTail, rd.consumed, w.fbHead, w.seq)
		}
	}
}

// TestFastboxConcurrent is TestRingConcurrent with the fastbox on: producer
// and consumer in two goroutines (the race detector checks the ordering of
// the fastbox's sequence words and tail).
func TestFastboxConcurrent(t *testing.T) {
	const capacity = 1024
	w, rd, _ := fastPair(t, capacity)
	sizes := fastboxSizes(capacity, 5000)
	if raceEnabled {
		sizes = sizes[:600]
	}
	ringConcurrent(t, w, rd, sizes)
	if w.fbSent == 0 || w.fbSent == uint64(len(sizes)) {
		t.Errorf("%d of %d messages through the fastbox: not both paths", w.fbSent, len(sizes))
	}
}

// TestFastboxRejectsCorrupt writes bad values into the fastbox and the
// sequence numbers and checks that both ends report ErrProtocol.
func TestFastboxRejectsCorrupt(t *testing.T) {
	const capacity = 256
	slot := func(mem []byte, i int) []byte { return mem[ringFbOff+i*fbSlotBytes:][:fbSlotBytes] }
	// valid sends a 200-byte message (slots 0-3) through the fastbox.
	valid := func() (*ringWriter, *ringReader, []byte) {
		w, rd, mem := fastPair(t, capacity)
		if _, done, _, err := w.sendSome(5, make([]byte, 200), 0); err != nil || !done || w.fbSent != 1 {
			t.Fatalf("send: %v %v, %d through the fastbox", done, err, w.fbSent)
		}
		return w, rd, mem
	}
	cases := map[string]func(mem []byte, w *ringWriter){
		"length too large": func(mem []byte, _ *ringWriter) {
			binary.LittleEndian.PutUint32(slot(mem, 0)[12:], fbMaxMessage+1)
		},
		"length max": func(mem []byte, _ *ringWriter) {
			binary.LittleEndian.PutUint32(slot(mem, 0)[12:], ^uint32(0))
		},
		"continuation of another message": func(mem []byte, _ *ringWriter) {
			binary.LittleEndian.PutUint64(slot(mem, 2), 7)
		},
		"stale continuation": func(mem []byte, _ *ringWriter) {
			binary.LittleEndian.PutUint64(slot(mem, 3), 0)
		},
		"ring record ahead, fastbox empty": func(mem []byte, w *ringWriter) {
			binary.LittleEndian.PutUint64(slot(mem, 0), 0) // message 1 vanishes
			if _, done, _, err := w.sendSome(6, make([]byte, 2000), 0); err != nil || done {
				t.Fatalf("ring send: %v %v", done, err)
			}
		},
		"ring record behind": func(mem []byte, w *ringWriter) {
			w.fbOn = false
			if _, done, _, err := w.sendSome(6, make([]byte, 10), 0); err != nil || !done {
				t.Fatalf("ring send: %v %v", done, err)
			}
			// Message 2 claims to be message 1, which the fastbox
			// delivers first.
			binary.LittleEndian.PutUint64(mem[ringDataOff+16:], 1)
		},
	}
	for name, corrupt := range cases {
		t.Run("reader/"+name, func(t *testing.T) {
			w, rd, mem := valid()
			corrupt(mem, w)
			var err error
			for range 3 { // the error may come from the header or the payload
				var size int
				var ok bool
				_, size, ok, err = rd.peekHeader()
				if err != nil || !ok {
					break
				}
				if _, _, err = rd.recvSome(make([]byte, size), 0); err != nil {
					break
				}
			}
			if !errors.Is(err, transport.ErrProtocol) {
				t.Fatalf("got %v, want ErrProtocol", err)
			}
		})
	}
	for name, v := range map[string]uint64{"tail past head": 1000, "tail huge": ^uint64(0)} {
		t.Run("writer/"+name, func(t *testing.T) {
			w, _, mem := valid()
			binary.LittleEndian.PutUint64(mem[ringFbTailOff:], v)
			var err error
			done := true
			for i := 0; i < fbSlots && err == nil && done; i++ { // until the tail is reloaded
				_, done, _, err = w.sendSome(1, make([]byte, fbMaxMessage), 0)
			}
			if !errors.Is(err, transport.ErrProtocol) {
				t.Fatalf("got %v, want ErrProtocol", err)
			}
		})
	}
}

// TestFastboxFallsBackWhenFull checks that a writer whose fastbox is full
// sends through the ring instead of waiting, and uses the fastbox again
// once the reader has freed slots.
func TestFastboxFallsBackWhenFull(t *testing.T) {
	w, rd, _ := fastPair(t, 1<<16)
	p := make([]byte, 100) // 2 slots
	for i := range fbSlots/2 + 3 {
		if _, done, _, err := w.sendSome(uint32(i), p, 0); err != nil || !done {
			t.Fatalf("send %d: %v %v", i, done, err)
		}
	}
	if w.fbSent != fbSlots/2 {
		t.Fatalf("%d messages through the fastbox, want %d (then the ring)", w.fbSent, fbSlots/2)
	}
	for i := range fbSlots/2 + 3 {
		tag, size, ok, err := rd.peekHeader()
		if err != nil || !ok || int(tag) != i || size != len(p) {
			t.Fatalf("peek %d: tag %d size %d %v %v", i, tag, size, ok, err)
		}
		if rd.fast != (i < fbSlots/2) {
			t.Fatalf("message %d: in the fastbox %v", i, rd.fast)
		}
		if _, _, err := rd.recvSome(make([]byte, size), 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, done, _, err := w.sendSome(99, p, 0); err != nil || !done || w.fbSent != fbSlots/2+1 {
		t.Fatalf("send after the reader freed the fastbox: %v %v, %d through it", done, err, w.fbSent)
	}
}

// FuzzFastboxReader feeds the consumer arbitrary fastbox slot bytes (and
// a tail of ring bytes) after a valid prefix of messages through both
// paths, and checks that it never panics, never hands out a fastbox
// message larger than the limit, never moves its fastbox tail backwards,
// and reports only ErrProtocol.
func FuzzFastboxReader(f *testing.F) {
	seq := func(s uint64, tag, n uint32) []byte {
		b := make([]byte, 16)
		binary.LittleEndian.PutUint64(b, s)
		binary.LittleEndian.PutUint32(b[8:], tag)
		binary.LittleEndian.PutUint32(b[12:], n)
		return b
	}
	f.Add(uint16(0), seq(1, 1, 8), uint8(0))
	f.Add(uint16(0), seq(1, 1, 2000), uint8(0))
	f.Add(uint16(0), seq(1, 1, 100), uint8(0))
	f.Add(uint16(64), seq(3, 1, 100), uint8(2))
	f.Add(uint16(128), append(seq(3, 1, 300), make([]byte, 48)...), uint8(3))
	f.Add(uint16(0), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint8(5))
	f.Fuzz(func(t *testing.T, at uint16, garbage []byte, prefix uint8) {
		const capacity = 2048
		w, rd, mem := fastPair(t, capacity)
		// A valid prefix the reader consumes first: sizes alternate
		// between the fastbox and the ring.
		sendPrefix(t, w, rd, []int{8, 1150, 500, 60, 8, 1150}[:prefix%6])
		box := mem[ringFbOff:ringDataOff]
		for i, b := range garbage {
			box[(int(at)+i)%len(box)] = b
		}
		readCorrupted(t, rd, func(before *ringReader) {
			if rd.fbTail < before.fbTail || rd.fbTail-before.fbTail > fbMaxSlots {
				t.Fatalf("fastbox tail moved from %d to %d", before.fbTail, rd.fbTail)
			}
		})
	})
}

// TestLinkFastboxAndStats sends messages that alternate between the
// fastbox and the ring over a real link pair (in one process) and checks
// order, content, that both paths were taken, and the Stats of both ends
// against the sums of the sizes sent.
func TestLinkFastboxAndStats(t *testing.T) {
	nodes := joinInProcess(t, 2, Config{RingBytes: 4096})
	out, in := nodes[0].Links()[1], nodes[1].Links()[0]
	sizes := []int{8, 0, fbMaxMessage, fbMaxMessage + 1, 100, 5000, 48, 49, 3000, 1}
	var total uint64
	for i, n := range sizes {
		p := make([]byte, n)
		pattern(p, 0, 1, i)
		errc := make(chan error, 1)
		go func() { errc <- sendAll(out, nodes[0].Doorbell(), uint32(i), p) }()
		buf := make([]byte, 8192)
		tag, size, err := recvAll(in, nodes[1].Doorbell(), buf)
		if err != nil || int(tag) != i || size != n {
			t.Fatalf("message %d: tag %d size %d, %v", i, tag, size, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if !checkPattern(buf[:size], 0, 1, i) {
			t.Fatalf("message %d: content differs", i)
		}
		total += uint64(n)
	}
	if fb := out.(*link).out.fbSent; fb != 7 {
		t.Errorf("%d messages through the fastbox, want 7", fb)
	}
	so, si := out.Stats(), in.Stats()
	want := uint64(len(sizes))
	if so.MsgsSent != want || so.BytesSent != total || si.MsgsRecv != want || si.BytesRecv != total {
		t.Errorf("stats: sender %+v, receiver %+v; want %d messages, %d bytes", so, si, want, total)
	}
}
