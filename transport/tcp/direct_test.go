package tcp

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hilo-hpc/hilo/transport"
)

// TestDirectFrames: large message frames and large channel slots leave
// straight from the sender's memory (header and payload in one writev),
// also when the kernel takes only part of them, and arrive intact.
func TestDirectFrames(t *testing.T) {
	for _, sndbuf := range []int{0, 8 << 10} {
		t.Run(fmt.Sprintf("sndbuf=%d", sndbuf), func(t *testing.T) {
			ranks := startJob(t, 2, nil)
			a, b := ranks[0].links[1].(*link), ranks[1].links[0].(*link)
			if sndbuf > 0 {
				// A small send buffer makes writev take part of a frame,
				// so the rest goes through the ring behind it.
				var serr error
				a.raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, sndbuf) })
				if serr != nil {
					t.Fatal(serr)
				}
			}
			ctx := ctxFor(t, 30*time.Second)

			// Messages.
			const n = 6
			var sends []msg
			for i := range n {
				sends = append(sends, msg{uint32(i), pattern(uint64(i), 256<<10+i*4099)})
			}
			before := a.directWrites.Load()
			var got []msg
			var rerr error
			var wg sync.WaitGroup
			wg.Go(func() { got, rerr = pump(ctx, b, ranks[1].bell, nil, n) })
			for _, m := range sends {
				// One at a time, each on an idle link, so each may go direct.
				if _, err := pump(ctx, a, ranks[0].bell, []msg{m}, 0); err != nil {
					t.Fatal(err)
				}
				waitDrained(t, a)
			}
			wg.Wait()
			if rerr != nil {
				t.Fatal(rerr)
			}
			for i, m := range got {
				if m.tag != sends[i].tag || !bytes.Equal(m.p, sends[i].p) {
					t.Fatalf("message %d (tag %d, %d bytes) differs from what was sent", i, m.tag, len(m.p))
				}
			}
			if d := a.directWrites.Load() - before; d < n {
				t.Errorf("%d of %d messages left straight from the sender's buffer", d, n)
			}

			// Channel slots.
			const slotBytes, rounds = 128 << 10, 20
			var send, recv transport.Channel
			var err1, err2 error
			wg.Go(func() { recv, err2 = b.Persistent(ctx, 3, slotBytes, 2, false) })
			send, err1 = a.Persistent(ctx, 3, slotBytes, 2, true)
			wg.Wait()
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			before = a.directWrites.Load()
			wg.Go(func() {
				for i := range rounds {
					data, err := acquire(ctx, recv, ranks[1].bell)
					if err != nil {
						rerr = err
						return
					}
					if !bytes.Equal(data, pattern(uint64(100+i), slotBytes-i)) {
						rerr = fmt.Errorf("slot %d differs from what was committed", i)
						return
					}
					if err := recv.Release(); err != nil {
						rerr = err
						return
					}
				}
			})
			for i := range rounds {
				slot, err := claim(ctx, send, ranks[0].bell)
				if err != nil {
					t.Fatal(err)
				}
				copy(slot, pattern(uint64(100+i), slotBytes-i))
				if err := send.Commit(slotBytes - i); err != nil {
					t.Fatal(err)
				}
				waitDrained(t, a)
			}
			wg.Wait()
			if rerr != nil {
				t.Fatal(rerr)
			}
			if d := a.directWrites.Load() - before; d < rounds {
				t.Errorf("%d of %d slots left straight from the slot", d, rounds)
			}
		})
	}
}

// waitDrained waits until l's outbound ring is empty and no write is in
// flight (the writer goroutine carries what the kernel did not take).
func waitDrained(t *testing.T, l *link) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.smu.Lock()
		idle := l.out.used() == 0 && !l.writing && !l.pending
		l.smu.Unlock()
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("outbound ring did not drain")
		}
		time.Sleep(50 * time.Microsecond)
	}
}

func claim(ctx interface{ Err() error }, ch transport.Channel, bell transport.Doorbell) ([]byte, error) {
	for {
		seq := bell.Seq()
		slot, ok, err := ch.Claim()
		if err != nil || ok {
			return slot, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		bell.Sleep(seq, 10*time.Millisecond)
	}
}

func acquire(ctx interface{ Err() error }, ch transport.Channel, bell transport.Doorbell) ([]byte, error) {
	for {
		seq := bell.Seq()
		data, ok, err := ch.Acquire()
		if err != nil || ok {
			return data, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		bell.Sleep(seq, 10*time.Millisecond)
	}
}

// TestDirectZeroAllocs: the direct (writev) path allocates nothing, for
// messages and for channel slots.
func TestDirectZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	ranks := startJob(t, 2, nil)
	a, b := ranks[0].links[1].(*link), ranks[1].links[0].(*link)
	const size = 128 << 10
	out, in := make([]byte, size), make([]byte, size)
	before := a.directWrites.Load()
	allocs := testing.AllocsPerRun(20, func() {
		off := 0
		for done := false; !done; off, done, _ = a.SendSome(5, out, off) {
			runtime.Gosched()
		}
		for {
			if _, _, ok, _ := b.PeekHeader(); ok {
				break
			}
			runtime.Gosched()
		}
		for off := 0; off < size; off, _ = b.RecvSome(in, off) {
			runtime.Gosched()
		}
		waitDrained(t, a)
	})
	if allocs != 0 {
		t.Errorf("message path: %v allocs per %d-byte message", allocs, size)
	}
	if a.directWrites.Load() == before {
		t.Error("no message took the direct path")
	}

	ctx := ctxFor(t, 5*time.Second)
	var send, recv transport.Channel
	var err1, err2 error
	var wg sync.WaitGroup
	wg.Go(func() { recv, err2 = b.Persistent(ctx, 1, size, 2, false) })
	send, err1 = a.Persistent(ctx, 1, size, 2, true)
	wg.Wait()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	before = a.directWrites.Load()
	allocs = testing.AllocsPerRun(20, func() {
		for {
			if slot, ok, _ := send.Claim(); ok {
				slot[0] = 1
				send.Commit(size)
				break
			}
			runtime.Gosched()
		}
		for {
			if _, ok, _ := recv.Acquire(); ok {
				recv.Release()
				break
			}
			runtime.Gosched()
		}
		waitDrained(t, a)
	})
	if allocs != 0 {
		t.Errorf("channel path: %v allocs per %d-byte slot", allocs, size)
	}
	if a.directWrites.Load() == before {
		t.Error("no slot took the direct path")
	}
}

// TestLoopbackCongestion: connections between loopback addresses use
// loopbackCongestion (see tune).
func TestLoopbackCongestion(t *testing.T) {
	ranks := startJob(t, 2, nil)
	for _, r := range ranks {
		l := r.links[1-r.id].(*link)
		var cc string
		var gerr error
		l.raw.Control(func(fd uintptr) { cc, gerr = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION) })
		if gerr != nil {
			t.Fatal(gerr)
		}
		if cc != loopbackCongestion {
			t.Errorf("rank %d: congestion control %q, want %q", r.id, cc, loopbackCongestion)
		}
	}
}

// waitRecord waits until the next message's record is in l's inbound ring
// (the reader goroutine decoded its header), without consuming it.
func waitRecord(t *testing.T, l *link) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.rmu.Lock()
		have := !l.recvHdr && l.in.used() >= recordSize
		l.rmu.Unlock()
		if have {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no message record arrived")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestWindowNotUnexpected: a Comm that posts a window of receives for large
// messages that are already waiting in the link reads each into its posted
// receive: it allocates no unexpected buffer for any of them.
func TestWindowNotUnexpected(t *testing.T) {
	ranks := startJob(t, 2, nil)
	ctx := ctxFor(t, 30*time.Second)
	comms := make([]*transport.Comm, 2)
	for i, r := range ranks {
		c, err := transport.NewComm(i, 2, r.links, r.bell, transport.Options{})
		if err != nil {
			t.Fatal(err)
		}
		comms[i] = c
	}
	const size, window = 256 << 10, 6
	msgs := make([][]byte, window)
	for k := range msgs {
		msgs[k] = pattern(uint64(k), size)
	}
	errc := make(chan error, 1)
	go func() {
		reqs := make([]*transport.Request, window)
		for k := range reqs {
			reqs[k] = comms[0].Isend(1, 7, msgs[k])
		}
		errc <- comms[0].WaitAll(ctx, reqs...)
	}()
	// Let the window arrive (the link buffers 2 MiB) before posting.
	waitRecord(t, ranks[1].links[0].(*link))
	time.Sleep(20 * time.Millisecond)
	bufs := make([][]byte, window)
	for k := range bufs {
		bufs[k] = make([]byte, size)
	}
	reqs := make([]*transport.Request, window)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for k := range reqs {
		reqs[k] = comms[1].Irecv(0, 7, bufs[k])
	}
	err := comms[1].WaitAll(ctx, reqs...)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for k := range bufs {
		if !bytes.Equal(bufs[k], msgs[k]) {
			t.Fatalf("message %d differs from what was sent", k)
		}
	}
	if d := after.TotalAlloc - before.TotalAlloc; d >= size {
		t.Errorf("posting the window allocated %d bytes: messages went through unexpected buffers", d)
	}
}
