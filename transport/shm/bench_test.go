package shm

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

const (
	tagStop  = 0xffff0000
	tagChans = 0xffff0001
	echoMax  = 4 << 20
)

// checker calls Check at most every 50 ms, as a Comm does.
type checker struct {
	l    transport.Link
	last time.Time
	n    int
}

func (c *checker) check() error {
	if c.n++; c.n%64 != 0 { // read the clock rarely too
		return nil
	}
	if now := time.Now(); now.Sub(c.last) > 50*time.Millisecond {
		c.last = now
		return c.l.Check()
	}
	return nil
}

// sendAll sends one message, waiting on the doorbell while the ring is
// full. It allocates nothing.
func sendAll(l transport.Link, bell transport.Doorbell, tag uint32, p []byte) error {
	off := 0
	ck := checker{l: l}
	for {
		seq := bell.Seq()
		n, done, err := l.SendSome(tag, p, off)
		if err != nil || done {
			return err
		}
		if n == off {
			if err := ck.check(); err != nil {
				return err
			}
			bell.Sleep(seq, 50*time.Millisecond)
		}
		off = n
	}
}

// recvAll receives the next message into buf[:size] and returns its tag
// and size.
func recvAll(l transport.Link, bell transport.Doorbell, buf []byte) (uint32, int, error) {
	var tag uint32
	var size int
	ck := checker{l: l}
	for {
		seq := bell.Seq()
		var ok bool
		var err error
		tag, size, ok, err = l.PeekHeader()
		if err != nil {
			return 0, 0, err
		}
		if ok {
			break
		}
		if err := ck.check(); err != nil {
			return 0, 0, err
		}
		bell.Sleep(seq, 50*time.Millisecond)
	}
	if size > len(buf) {
		return tag, size, fmt.Errorf("message of %d > buffer %d", size, len(buf))
	}
	off := 0
	for {
		seq := bell.Seq()
		n, err := l.RecvSome(buf[:size], off)
		if err != nil {
			return 0, 0, err
		}
		if n == size {
			return tag, size, nil
		}
		if n == off {
			if err := ck.check(); err != nil {
				return 0, 0, err
			}
			bell.Sleep(seq, 50*time.Millisecond)
		}
		off = n
	}
}

// childEcho (rank 1) sends back every message and, once asked, every slot of
// a persistent channel pair, until told to stop.
func childEcho(t *testing.T, node *Node) {
	l := node.Links()[0]
	bell := node.Doorbell()
	buf := make([]byte, echoMax)
	for {
		tag, size, err := recvAll(l, bell, buf)
		if err != nil {
			t.Fatal(err)
		}
		switch tag {
		case tagStop:
			return
		case tagChans:
			if err := echoChannels(node, l, binary.LittleEndian.Uint64(buf[:8])); err != nil {
				t.Fatal(err)
			}
		default:
			if err := sendAll(l, bell, tag, buf[:size]); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func echoChannels(node *Node, l transport.Link, slotBytes uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := l.Persistent(ctx, 1, int(slotBytes), 2, false)
	if err != nil {
		return err
	}
	out, err := l.Persistent(ctx, 2, int(slotBytes), 2, true)
	if err != nil {
		return err
	}
	defer in.Close()
	defer out.Close()
	bell := node.Doorbell()
	ck := checker{l: l}
	for {
		seq := bell.Seq()
		data, ok, err := in.Acquire()
		if err != nil {
			return err
		}
		if !ok {
			if err := ck.check(); err != nil {
				return err
			}
			bell.Sleep(seq, 50*time.Millisecond)
			continue
		}
		if len(data) == 0 { // an empty slot ends the channel echo
			return in.Release()
		}
		for {
			seq := bell.Seq()
			slot, ok, err := out.Claim()
			if err != nil {
				return err
			}
			if ok {
				copy(slot, data)
				if err := out.Commit(len(data)); err != nil {
					return err
				}
				break
			}
			bell.Sleep(seq, 50*time.Millisecond)
		}
		if err := in.Release(); err != nil {
			return err
		}
	}
}

func startEcho(b *testing.B, cfg Config) (*Node, transport.Link) {
	b.Helper()
	job := fmt.Sprintf("bench-%d-%d", os.Getpid(), time.Now().UnixNano())
	c := &child{rank: 1, lines: make(chan string, 1), done: make(chan struct{})}
	c.cmd = execChild(job, "echo", 1, 2)
	c.cmd.Env = append(c.cmd.Env, envRingBytes+"="+strconv.Itoa(cfg.RingBytes), envSpin+"="+cfg.Spin.String(),
		envCopyMin+"="+strconv.Itoa(cfg.SingleCopyMin))
	out := &lockedWriter{w: &c.out}
	c.cmd.Stdout = out
	c.cmd.Stderr = out
	if err := c.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg.Rank, cfg.Peers, cfg.JobID = 0, []int{1}, job
	node, err := Join(ctx, cfg)
	if err != nil {
		c.cmd.Process.Kill()
		b.Fatal(err)
	}
	l := node.Links()[1]
	b.Cleanup(func() {
		sendAll(l, node.Doorbell(), tagStop, nil)
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			c.cmd.Process.Kill()
		}
		node.Close()
		if c.err != nil {
			b.Errorf("echo child: %v\n%s", c.err, c.out.String())
		}
	})
	return node, l
}

// BenchmarkPingPong measures a message's half round trip between two
// processes; MB/s is size / half round trip.
//
// The sub-benchmarks vary the ring size and the spin budget, which is how
// DefaultRingBytes and the default spin were chosen.
func BenchmarkPingPong(b *testing.B) {
	type variant struct {
		size int
		cfg  Config
	}
	var variants []variant
	for _, spin := range []time.Duration{0, -1, 5 * time.Microsecond, 100 * time.Microsecond} {
		variants = append(variants, variant{8, Config{Spin: spin}})
	}
	for _, rb := range []int{0, 64 << 10, 1 << 20} {
		variants = append(variants, variant{1 << 20, Config{RingBytes: rb, SingleCopyMin: -1}})
	}
	// Ring against single copy (SingleCopyMin 1), which is how
	// DefaultSingleCopyMin was chosen.
	for _, size := range []int{16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20} {
		variants = append(variants, variant{size, Config{SingleCopyMin: -1}}, variant{size, Config{SingleCopyMin: 1}})
	}
	for _, v := range variants {
		size := v.size
		name := fmt.Sprintf("%s/ring=%s/spin=%v", sizeName(size), sizeName(cmp.Or(v.cfg.RingBytes, DefaultRingBytes)), v.cfg.Spin)
		if v.cfg.Spin == 0 {
			name = fmt.Sprintf("%s/ring=%s/spin=default", sizeName(size), sizeName(cmp.Or(v.cfg.RingBytes, DefaultRingBytes)))
		}
		switch v.cfg.SingleCopyMin {
		case -1:
			name += "/single-copy=off"
		case 1:
			name += "/single-copy=on"
		}
		b.Run(name, func(b *testing.B) {
			node, l := startEcho(b, v.cfg)
			bell := node.Doorbell()
			p := make([]byte, size)
			buf := make([]byte, size)
			pattern(p, 0, 1, 0)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := sendAll(l, bell, 1, p); err != nil {
					b.Fatal(err)
				}
				if _, n, err := recvAll(l, bell, buf); err != nil || n != size {
					b.Fatal(n, err)
				}
			}
			half := time.Since(start).Seconds() / float64(2*b.N)
			b.StopTimer()
			if !checkPattern(buf, 0, 1, 0) {
				b.Fatal("echo differs")
			}
			b.ReportMetric(half*1e6, "µs/half-rt")
			b.ReportMetric(float64(size)/half/1e6, "MB/s")
		})
	}
}

// BenchmarkPersistentRoundTrip measures a round trip through a pair of
// persistent channels (claim, commit / acquire, release on both sides).
func BenchmarkPersistentRoundTrip(b *testing.B) {
	const slotBytes = 4096
	node, l := startEcho(b, Config{})
	bell := node.Doorbell()
	var msg [8]byte
	binary.LittleEndian.PutUint64(msg[:], slotBytes)
	if err := sendAll(l, bell, tagChans, msg[:]); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := l.Persistent(ctx, 1, slotBytes, 2, true)
	if err != nil {
		b.Fatal(err)
	}
	in, err := l.Persistent(ctx, 2, slotBytes, 2, false)
	if err != nil {
		b.Fatal(err)
	}
	const n = 64 // bytes per round trip
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for {
			seq := bell.Seq()
			slot, ok, err := out.Claim()
			if err != nil {
				b.Fatal(err)
			}
			if ok {
				slot[0] = byte(i)
				if err := out.Commit(n); err != nil {
					b.Fatal(err)
				}
				break
			}
			bell.Sleep(seq, 50*time.Millisecond)
		}
		for {
			seq := bell.Seq()
			data, ok, err := in.Acquire()
			if err != nil {
				b.Fatal(err)
			}
			if ok {
				if len(data) != n || data[0] != byte(i) {
					b.Fatalf("echo of round %d: %d bytes, first %d", i, len(data), data[0])
				}
				if err := in.Release(); err != nil {
					b.Fatal(err)
				}
				break
			}
			bell.Sleep(seq, 50*time.Millisecond)
		}
	}
	b.StopTimer()
	// An empty slot ends the child's channel echo.
	for {
		slot, ok, err := out.Claim()
		if err != nil {
			b.Fatal(err)
		}
		if ok {
			_ = slot
			out.Commit(0)
			break
		}
		time.Sleep(time.Millisecond)
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return strconv.Itoa(n>>20) + "MiB"
	}
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// BenchmarkCheck measures Link.Check, which a Comm calls every ~50 ms
// while it waits.
func BenchmarkCheck(b *testing.B) {
	nodes := joinInProcess(b, 2, Config{})
	l := nodes[0].Links()[1]
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Check(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAllToAll4 runs the all-to-all test plan between 4 processes
// (more ranks than this machine's 2 CPUs) with and without spinning before
// the futex sleep: the measurement behind crowdedSpin. One op is one job.
func BenchmarkAllToAll4(b *testing.B) {
	for _, spin := range []time.Duration{-1, 20 * time.Microsecond} {
		b.Run("spin="+spin.String(), func(b *testing.B) {
			for range b.N {
				job := fmt.Sprintf("bench-a2a-%d-%d", os.Getpid(), time.Now().UnixNano())
				var out lockedWriter
				var buf bytes.Buffer
				out.w = &buf
				cmds := make([]*exec.Cmd, 4)
				for r := range cmds {
					cmds[r] = execChild(job, "all2all", r, 4)
					cmds[r].Env = append(cmds[r].Env, envSpin+"="+spin.String())
					cmds[r].Stdout, cmds[r].Stderr = &out, &out
					if err := cmds[r].Start(); err != nil {
						b.Fatal(err)
					}
				}
				for _, c := range cmds {
					if err := c.Wait(); err != nil {
						b.Fatalf("%v\n%s", err, buf.String())
					}
				}
			}
		})
	}
}
