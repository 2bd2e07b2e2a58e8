package tcp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

// sendAll sends one message, waiting on the bell; it allocates nothing.
func sendAll(l transport.Link, bell transport.Doorbell, tag uint32, p []byte) error {
	off := 0
	for {
		seq := bell.Seq()
		n, done, err := l.SendSome(tag, p, off)
		if err != nil || done {
			return err
		}
		if n == off {
			bell.Sleep(seq, 10*time.Millisecond)
		}
		off = n
	}
}

// recvInto receives one message into dst (which must fit it exactly).
func recvInto(l transport.Link, bell transport.Doorbell, dst []byte) (uint32, error) {
	var tag uint32
	polls := 0
	for {
		seq := bell.Seq()
		t, size, ok, err := l.PeekHeader()
		if err != nil {
			return 0, err
		}
		if ok {
			if size != len(dst) {
				return 0, fmt.Errorf("message of %d bytes, want %d", size, len(dst))
			}
			tag = t
			break
		}
		if polls < pollRounds {
			polls++ // poll the link a while before sleeping, as a Comm may
			continue
		}
		bell.Sleep(seq, 10*time.Millisecond)
	}
	off := 0
	for {
		seq := bell.Seq()
		n, err := l.RecvSome(dst, off)
		if err != nil {
			return 0, err
		}
		if n == len(dst) {
			return tag, nil
		}
		if n == off {
			bell.Sleep(seq, 10*time.Millisecond)
		}
		off = n
	}
}

// pollRounds: how many times recvInto polls PeekHeader before it sleeps
// (HILO_TCP_TEST_POLL; default 0).
var pollRounds, _ = strconv.Atoi(os.Getenv("HILO_TCP_TEST_POLL"))

// BenchmarkPingPong: two ranks in this process over loopback; rank 1 echoes.
// Reports the half round trip and the bandwidth size/half-round-trip.
// "direct" sends from the caller's goroutine first (the default), "writer"
// hands every byte to the writer goroutine.
func BenchmarkPingPong(b *testing.B) {
	for _, size := range []int{8, 4 << 20} {
		for _, mode := range []string{"direct", "writer"} {
			b.Run(fmt.Sprintf("%s/%s", sizeName(size), mode), func(b *testing.B) {
				ranks := startJob(b, 2, func(c *Config) { c.viaWriter = mode == "writer" })
				a, e := ranks[0].links[1], ranks[1].links[0]
				stop := make(chan error, 1)
				go func() {
					buf := make([]byte, size)
					for {
						tag, err := recvInto(e, ranks[1].bell, buf)
						if err != nil {
							stop <- err
							return
						}
						if tag == 1 {
							stop <- nil
							return
						}
						if err := sendAll(e, ranks[1].bell, 0, buf); err != nil {
							stop <- err
							return
						}
					}
				}()
				pingPong(b, a, ranks[0].bell, size)
				sendAll(a, ranks[0].bell, 1, make([]byte, size))
				if err := <-stop; err != nil && !errors.Is(err, transport.ErrPeerLost) {
					b.Fatal(err)
				}
			})
		}
	}
}

func pingPong(b *testing.B, l transport.Link, bell transport.Doorbell, size int) {
	out, in := make([]byte, size), make([]byte, size)
	b.SetBytes(2 * int64(size)) // MB/s = size / half round trip
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := sendAll(l, bell, 0, out); err != nil {
			b.Fatal(err)
		}
		if _, err := recvInto(l, bell, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(2*b.N), "µs/half-rtt")
}

// BenchmarkPingPongProcess: the echoing rank is a separate process (its own
// Go runtime), as in a real job.
func BenchmarkPingPongProcess(b *testing.B) {
	for _, size := range []int{8, 4 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			_, l, bell, _ := startChild(b, "echo")
			pingPong(b, l, bell, size)
			sendAll(l, bell, stopTag, nil)
		})
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkPingPongRawTCP is the reference: plain blocking net.Conn
// Write/ReadFull ping-pong between two goroutines over loopback, with no
// framing, no buffers and no doorbell.
func BenchmarkPingPongRawTCP(b *testing.B) {
	for _, size := range []int{8, 4 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				buf := make([]byte, size)
				for {
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			out, in := make([]byte, size), make([]byte, size)
			b.SetBytes(2 * int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(out); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(2*b.N), "µs/half-rtt")
		})
	}
}

// BenchmarkPingPongProcessRawTCP is the reference for
// BenchmarkPingPongProcess: the same ping-pong with plain blocking
// net.Conn calls against a child process that echoes.
func BenchmarkPingPongProcessRawTCP(b *testing.B) {
	for _, size := range []int{8, 4 << 20} {
		b.Run(sizeName(size), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			cmd := exec.Command(os.Args[0], "-test.run=^TestChildRank$", "-test.count=1")
			cmd.Env = append(os.Environ(), childModeEnv+"=rawecho", childAddrEnv+"="+ln.Addr().String(), fmt.Sprintf("HILO_TCP_TEST_SIZE=%d", size))
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			defer cmd.Wait()
			c, err := ln.Accept()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			out, in := make([]byte, size), make([]byte, size)
			b.SetBytes(2 * int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(out); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(2*b.N), "µs/half-rtt")
		})
	}
}

// BenchmarkPeekEmpty: the cost of PeekHeader on a link with nothing to
// read (it tries one non-blocking read of the socket itself).
func BenchmarkPeekEmpty(b *testing.B) {
	ranks := startJob(b, 2, nil)
	l := ranks[0].links[1]
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, _, ok, err := l.PeekHeader(); ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
