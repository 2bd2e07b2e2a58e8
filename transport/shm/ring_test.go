package shm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"github.com/hilo-hpc/hilo/transport"
)

// heapRing returns an 8-aligned heap region for a ring of the given capacity.
func heapRing(t testing.TB, capacity int) []byte {
	t.Helper()
	words := make([]uint64, ringBytes(capacity)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), ringBytes(capacity))
}

func ringPair(t testing.TB, capacity int) (*ringWriter, *ringReader, []byte) {
	t.Helper()
	mem := heapRing(t, capacity)
	r, err := newRing(mem)
	if err != nil {
		t.Fatal(err)
	}
	return &ringWriter{r: r}, &ringReader{r: r}, mem
}

// pattern fills p with the deterministic content of message idx from src
// to dst; it is the oracle every receiver checks against.
func pattern(p []byte, src, dst, idx int) {
	x := uint32(src*7919+dst*104729+idx*31) | 1
	for i := range p {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[i] = byte(x)
	}
}

func checkPattern(p []byte, src, dst, idx int) bool {
	want := make([]byte, len(p))
	pattern(want, src, dst, idx)
	return bytes.Equal(p, want)
}

// TestRingStreamsInOrder sends messages of every awkward size through a
// small ring in one goroutine, alternating writer and reader, and checks
// every byte against the pattern.
func TestRingStreamsInOrder(t *testing.T) {
	const capacity = 256
	w, rd, _ := ringPair(t, capacity)
	sizes := []int{0, 1, 7, 8, 9, 15, 16, 17, capacity - 17, capacity - 16, capacity - 1, capacity, capacity + 1, 3*capacity + 5, 4096,
		ringStreamMin - 1, ringStreamMin, ringStreamMin + 9, 3*ringStreamMin + 5} // the last three with non-temporal stores
	for i := range 300 {
		sizes = append(sizes, (i*37)%700)
	}
	next := 0 // next message to receive
	var sendOff int
	var sending = 0
	var buf []byte
	var payload []byte
	var recvOff int
	for next < len(sizes) {
		if sending < len(sizes) {
			if sendOff == 0 && payload == nil {
				payload = make([]byte, sizes[sending])
				pattern(payload, 0, 1, sending)
			}
			off, done, _, err := w.sendSome(uint32(sending), payload, sendOff)
			if err != nil {
				t.Fatalf("send %d: %v", sending, err)
			}
			sendOff = off
			if done {
				sending++
				sendOff = 0
				payload = nil
			}
		}
		tag, size, ok, err := rd.peekHeader()
		if err != nil {
			t.Fatalf("peek: %v", err)
		}
		if !ok {
			continue
		}
		if int(tag) != next || size != sizes[next] {
			t.Fatalf("message %d: header tag %d size %d, want size %d", next, tag, size, sizes[next])
		}
		if recvOff == 0 && buf == nil {
			buf = make([]byte, size)
		}
		off, _, err := rd.recvSome(buf, recvOff)
		if err != nil {
			t.Fatalf("recv %d: %v", next, err)
		}
		recvOff = off
		if off == size {
			if !checkPattern(buf, 0, 1, next) {
				t.Fatalf("message %d of %d bytes: content differs", next, size)
			}
			next++
			recvOff = 0
			buf = nil
		}
		if h, tl := rd.r.head.Load(), rd.r.tail.Load(); h%8 != 0 || tl%8 != 0 || h-tl > capacity {
			t.Fatalf("indices head %d tail %d break the invariants", h, tl)
		}
	}
}

// TestRingConcurrent runs producer and consumer in two goroutines over a
// heap ring (the race detector checks the atomics' ordering).
func TestRingConcurrent(t *testing.T) {
	t.Run("small", func(t *testing.T) {
		w, rd, _ := ringPair(t, 1024)
		ringConcurrent(t, w, rd, randomSizes(2000, 3*1024))
	})
	// Messages of ringStreamMin and more are written with non-temporal
	// stores, and the writer fences before it publishes.
	t.Run("streaming", func(t *testing.T) {
		w, rd, _ := ringPair(t, 64<<10)
		ringConcurrent(t, w, rd, randomSizes(2000, 4*ringStreamMin))
	})
}

// randomSizes returns n message sizes below max (fewer under the race
// detector), the same every run.
func randomSizes(n, max int) []int {
	if raceEnabled {
		n = min(n, 300)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = rng.IntN(max)
	}
	return sizes
}

// ringConcurrent sends messages of the given sizes from one goroutine and
// receives them in another, checking order and content.
func ringConcurrent(t *testing.T, w *ringWriter, rd *ringReader, sizes []int) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, n := range sizes {
			p := make([]byte, n)
			pattern(p, 0, 1, i)
			for off, done := 0, false; !done; {
				var err error
				var pub bool
				off, done, pub, err = w.sendSome(uint32(i), p, off)
				if err != nil {
					t.Errorf("send: %v", err)
					return
				}
				if !pub {
					runtime.Gosched() // ring full: let the reader run
				}
			}
		}
	}()
	for i, n := range sizes {
		var tag uint32
		var size int
		for {
			var ok bool
			var err error
			tag, size, ok, err = rd.peekHeader()
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
			runtime.Gosched()
		}
		if int(tag) != i || size != n {
			t.Fatalf("message %d: tag %d size %d, want %d", i, tag, size, n)
		}
		buf := make([]byte, size)
		for off := 0; off < size || (size == 0 && off == 0); {
			var err error
			var freed bool
			off, freed, err = rd.recvSome(buf, off)
			if err != nil {
				t.Fatal(err)
			}
			if !freed {
				runtime.Gosched()
			}
			if size == 0 {
				break
			}
		}
		if !checkPattern(buf, 0, 1, i) {
			t.Fatalf("message %d: content differs", i)
		}
	}
	wg.Wait()
}

// TestRingRejectsCorruptIndices writes bad values into the shared words and
// checks that both ends report ErrProtocol.
func TestRingRejectsCorruptIndices(t *testing.T) {
	const capacity = 256
	valid := func() (*ringWriter, *ringReader, []byte) {
		w, rd, mem := ringPair(t, capacity)
		p := make([]byte, 40)
		if _, done, _, err := w.sendSome(5, p, 0); err != nil || !done {
			t.Fatalf("send: %v %v", done, err)
		}
		return w, rd, mem
	}
	setHead := func(mem []byte, v uint64) { binary.LittleEndian.PutUint64(mem[ringHeadOff:], v) }
	setTail := func(mem []byte, v uint64) { binary.LittleEndian.PutUint64(mem[ringTailOff:], v) }
	readerCases := map[string]func(mem []byte, rd *ringReader){
		"head misaligned":    func(mem []byte, _ *ringReader) { setHead(mem, 57) },
		"head past capacity": func(mem []byte, _ *ringReader) { setHead(mem, capacity+8) },
		"head huge":          func(mem []byte, _ *ringReader) { setHead(mem, ^uint64(7)) },
		"bad magic":          func(mem []byte, _ *ringReader) { mem[ringDataOff] ^= 1 },
		"length too large":   func(mem []byte, _ *ringReader) { binary.LittleEndian.PutUint64(mem[ringDataOff+8:], 1<<41) },
		"length max uint64":  func(mem []byte, _ *ringReader) { binary.LittleEndian.PutUint64(mem[ringDataOff+8:], ^uint64(0)) },
		"head goes backwards": func(mem []byte, rd *ringReader) {
			if _, _, ok, err := rd.peekHeader(); !ok || err != nil {
				t.Fatalf("peek: %v %v", ok, err)
			}
			if _, _, err := rd.recvSome(make([]byte, 40), 0); err != nil {
				t.Fatal(err)
			}
			setHead(mem, 32) // below the 56 already seen and consumed
		},
	}
	for name, corrupt := range readerCases {
		t.Run("reader/"+name, func(t *testing.T) {
			_, rd, mem := valid()
			corrupt(mem, rd)
			_, _, _, err := rd.peekHeader()
			if !errors.Is(err, transport.ErrProtocol) {
				t.Fatalf("got %v, want ErrProtocol", err)
			}
		})
	}
	writerCases := map[string]uint64{
		"tail misaligned":  4,
		"tail past head":   200, // past the head even after the next header (88)
		"tail huge":        ^uint64(7),
		"tail unconsumed?": 1<<63 + 8,
	}
	for name, v := range writerCases {
		t.Run("writer/"+name, func(t *testing.T) {
			w, _, mem := valid()
			setTail(mem, v)
			// Ask for more than the cached free space so the tail is reloaded.
			_, _, _, err := w.sendSome(1, make([]byte, capacity), 0)
			if !errors.Is(err, transport.ErrProtocol) {
				t.Fatalf("got %v, want ErrProtocol", err)
			}
		})
	}
}

// FuzzRingReader feeds the consumer arbitrary head values and record bytes
// (after a valid prefix of messages) and checks that it never panics, never
// reads out of bounds, never moves its tail past the head it validated, and
// reports only ErrProtocol.
func FuzzRingReader(f *testing.F) {
	f.Add(uint64(64), uint64(0), []byte{}, uint8(2))
	f.Add(uint64(7), uint64(0), []byte{1, 2, 3}, uint8(0))
	f.Add(uint64(1<<20), uint64(16), []byte("HLOM\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff"), uint8(1))
	f.Add(uint64(48), uint64(8), []byte("HLOM\x01\x00\x00\x00\x20\x00\x00\x00\x00\x00\x00\x00"), uint8(3))
	f.Add(^uint64(0), uint64(200), bytes.Repeat([]byte{0xff}, 300), uint8(5))
	// Single-copy descriptors, on a ring that refuses them (prefix < 8) and
	// on one that allows them (the "sender" is this process, so a garbage
	// address reads this process's memory or fails with EFAULT).
	f.Add(uint64(32), uint64(0), []byte("HLCA\x01\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00"), uint8(0))
	f.Add(uint64(32), uint64(0), []byte("HLCA\x01\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x03"), uint8(8))
	f.Add(uint64(40), uint64(8), []byte("HLCA\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), uint8(9))
	f.Fuzz(func(t *testing.T, head, at uint64, garbage []byte, prefix uint8) {
		const capacity = 256
		w, rd, mem := ringPair(t, capacity)
		if prefix&8 != 0 {
			rd.cmaOK, rd.pid = true, os.Getpid()
		}
		// A valid prefix the reader consumes first.
		sendPrefix(t, w, rd, []int{0, 20, 40}[:prefix%4])
		data := mem[ringDataOff:]
		for i, b := range garbage {
			data[(at+uint64(i))%capacity] = b
		}
		binary.LittleEndian.PutUint64(mem[ringHeadOff:], head)
		readCorrupted(t, rd, func(before *ringReader) {
			if rd.tail < before.tail || rd.tail > rd.headSeen || rd.tail%8 != 0 || rd.headSeen-rd.tail > capacity {
				t.Fatalf("reader state broken: tail %d (was %d), head seen %d", rd.tail, before.tail, rd.headSeen)
			}
		})
	})
}

// sendPrefix sends messages of the given sizes and has the reader take
// each: the valid traffic a fuzz target corrupts what follows.
func sendPrefix(t *testing.T, w *ringWriter, rd *ringReader, sizes []int) {
	t.Helper()
	for i, n := range sizes {
		p := make([]byte, n)
		if _, done, _, err := w.sendSome(uint32(i), p, 0); err != nil || !done {
			t.Fatalf("prefix send: %v %v", done, err)
		}
		if _, _, ok, err := rd.peekHeader(); err != nil || !ok {
			t.Fatalf("prefix peek: %v %v", ok, err)
		}
		if _, _, err := rd.recvSome(p, 0); err != nil {
			t.Fatalf("prefix recv: %v", err)
		}
	}
}

// readCorrupted reads up to 8 messages from a reader whose shared memory a
// fuzz target corrupted: every error must wrap ErrProtocol (never a
// panic), no fastbox message may claim more than fits, and after each step
// invariant checks the reader against a copy of its state before the step.
func readCorrupted(t *testing.T, rd *ringReader, invariant func(before *ringReader)) {
	t.Helper()
	var buf []byte
	off := 0
	for range 8 {
		before := *rd
		_, size, ok, err := rd.peekHeader()
		if err == nil && ok {
			if rd.fast && size > fbMaxMessage {
				t.Fatalf("fastbox message of %d bytes accepted", size)
			}
			if size > 1<<20 {
				return // a valid header for a huge message: nothing more to read here
			}
			if buf == nil {
				buf, off = make([]byte, size), 0
			}
			off, _, err = rd.recvSome(buf, off)
			if off == size {
				buf = nil
			}
		}
		if err != nil {
			if !errors.Is(err, transport.ErrProtocol) {
				t.Fatalf("error %v does not wrap ErrProtocol", err)
			}
			return
		}
		invariant(&before)
		if !ok {
			return
		}
	}
}

// FuzzRingWriter is the producer-side counterpart: arbitrary tail values.
func FuzzRingWriter(f *testing.F) {
	f.Add(uint64(0), 100)
	f.Add(uint64(3), 300)
	f.Add(^uint64(0), 17)
	f.Fuzz(func(t *testing.T, tail uint64, n int) {
		const capacity = 256
		w, _, mem := ringPair(t, capacity)
		if _, _, _, err := w.sendSome(1, make([]byte, 100), 0); err != nil {
			t.Fatal(err)
		}
		binary.LittleEndian.PutUint64(mem[ringTailOff:], tail)
		if n < 0 || n > 4096 {
			n = 4096
		}
		_, _, _, err := w.sendSome(2, make([]byte, n), 0)
		if err != nil && !errors.Is(err, transport.ErrProtocol) {
			t.Fatalf("error %v does not wrap ErrProtocol", err)
		}
		if w.head-w.tailSeen > capacity || w.head%8 != 0 {
			t.Fatalf("writer state broken: head %d tail seen %d", w.head, w.tailSeen)
		}
	})
}

// FuzzChannelAcquire writes arbitrary slot header words into a heap-backed
// channel and checks that the receiving end never hands out more than a
// slot, never panics, and reports only ErrProtocol.
func FuzzChannelAcquire(f *testing.F) {
	f.Add(uint64(1)<<32|10, uint64(0), uint8(0))
	f.Add(uint64(1)<<32|5000, uint64(0), uint8(0))
	f.Add(uint64(3)<<32|7, uint64(2)<<32|1, uint8(1))
	f.Add(^uint64(0), ^uint64(0), uint8(200))
	f.Fuzz(func(t *testing.T, w0, w1 uint64, rounds uint8) {
		const slotBytes, slots = 100, 2
		words := make([]uint64, (chanSlotsOff+slots*chanStride(slotBytes))/8)
		mem := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
		l := &link{node: &Node{}, peer: 1}
		c := layoutChannel(mem, slotBytes, slots, false, l)
		c.next = uint64(rounds) // as if that many slots had been received
		c.hdrs[0].Store(w0)
		c.hdrs[1].Store(w1)
		for range 3 {
			data, ok, err := c.Acquire()
			if err != nil {
				if !errors.Is(err, transport.ErrProtocol) {
					t.Fatalf("error %v does not wrap ErrProtocol", err)
				}
				return
			}
			if !ok {
				return
			}
			if len(data) > slotBytes {
				t.Fatalf("acquired %d bytes from a slot of %d", len(data), slotBytes)
			}
			if err := c.Release(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
