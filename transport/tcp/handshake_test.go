package tcp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

type logBook struct {
	mu    sync.Mutex
	lines []string
}

func (lb *logBook) logf(format string, args ...any) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.lines = append(lb.lines, fmt.Sprintf(format, args...))
}

func (lb *logBook) count(sub string) int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	n := 0
	for _, l := range lb.lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

func (lb *logBook) String() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return strings.Join(lb.lines, "\n")
}

func TestNoKeyRefusesToStart(t *testing.T) {
	_, err := Connect(context.Background(), Config{Rank: 0, Size: 2, Peers: map[int]string{1: "127.0.0.1:1"}})
	if !errors.Is(err, transport.ErrAuth) || !strings.Contains(err.Error(), "HILO_JOB_KEY") {
		t.Fatalf("Connect without a key: %v", err)
	}
}

// stranger runs the start of a handshake by hand against addr: it sends a
// hello as rank 0 of 2 and returns the connection, its nonce and the
// acceptor's challenge.
func stranger(t *testing.T, addr string) (net.Conn, [nonceSize]byte, [challengeSize]byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	h := hello{version: protocolVersion, dialer: 0, size: 2, acceptor: 1}
	rand.Read(h.dialerNonc[:])
	if _, err := c.Write(h.marshal()); err != nil {
		t.Fatal(err)
	}
	var ch [challengeSize]byte
	if _, err := io.ReadFull(c, ch[:]); err != nil {
		t.Fatalf("reading challenge: %v", err)
	}
	return c, h.dialerNonc, ch
}

func verdict(t *testing.T, c net.Conn, proof []byte) byte {
	t.Helper()
	c.Write(proof)
	var v [1]byte
	if _, err := io.ReadFull(c, v[:]); err != nil {
		return 0
	}
	return v[0]
}

// TestStrangersAreRefused: garbage, a wrong key, a forged proof, a
// reflected proof, a replayed proof, a silent client and (after the job is
// up) a duplicate of a real rank are all refused and logged, while the real
// job connects and keeps working.
func TestStrangersAreRefused(t *testing.T) {
	var lb logBook
	ln1, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln1.Close()
	bell1 := newTestBell()
	ctx := ctxFor(t, 20*time.Second)
	type res struct {
		links []transport.Link
		err   error
	}
	done1 := make(chan res, 1)
	go func() {
		links, err := Connect(ctx, Config{Rank: 1, Size: 2, Listener: ln1, Peers: map[int]string{0: ""}, Key: testKey, Bell: bell1, Logf: lb.logf})
		done1 <- res{links, err}
	}()
	addr := ln1.Addr()

	// A silent client holds a handshake slot; it must not block anyone.
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	// Garbage: dropped without an answer that reveals anything.
	g, _ := net.Dial("tcp", addr)
	g.SetDeadline(time.Now().Add(5 * time.Second))
	g.Write([]byte("GET / HTTP/1.0\r\nHost: example\r\n\r\n.........................."))
	if n, err := io.ReadAll(g); len(n) != 0 || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
		t.Errorf("garbage client got %q, %v; want the connection closed", n, err)
	}
	g.Close()

	// A client with the wrong key notices it cannot verify the acceptor.
	wk, _ := net.Dial("tcp", addr)
	wk.SetDeadline(time.Now().Add(5 * time.Second))
	if err := dialHandshake(wk, []byte("not the key"), 0, 1, 2); !errors.Is(err, transport.ErrAuth) {
		t.Errorf("wrong-key dialer: %v, want ErrAuth", err)
	}
	wk.Close()

	// A client with no key at all (HMAC with an empty key) fares the same.
	nk, _ := net.Dial("tcp", addr)
	nk.SetDeadline(time.Now().Add(5 * time.Second))
	if err := dialHandshake(nk, nil, 0, 1, 2); !errors.Is(err, transport.ErrAuth) {
		t.Errorf("dialer without a key: %v, want ErrAuth", err)
	}
	nk.Close()

	// A forged proof.
	c, _, _ := stranger(t, addr)
	forged := make([]byte, macSize)
	rand.Read(forged)
	if v := verdict(t, c, forged); v != verdictAuth {
		t.Errorf("forged proof: verdict %d", v)
	}
	c.Close()

	// Reflection: the acceptor's own MAC sent back as the dialer's proof.
	c, _, ch := stranger(t, addr)
	if v := verdict(t, c, ch[16+nonceSize:]); v != verdictAuth {
		t.Errorf("reflected proof: verdict %d", v)
	}
	c.Close()

	// Replay: a proof that was valid for an earlier challenge (computed here
	// with the key, as if recorded from a real rank) does not fit a new one.
	c, nonceD, ch := stranger(t, addr)
	var oldNonceA [nonceSize]byte
	copy(oldNonceA[:], ch[16:])
	c.Close()
	old := handshakeMAC(testKey, 'D', 2, 0, 1, &nonceD, &oldNonceA)
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c2.SetDeadline(time.Now().Add(5 * time.Second))
	h := hello{version: protocolVersion, dialer: 0, size: 2, acceptor: 1, dialerNonc: nonceD}
	c2.Write(h.marshal())
	io.ReadFull(c2, ch[:])
	if v := verdict(t, c2, old[:]); v != verdictAuth {
		t.Errorf("replayed proof: verdict %d", v)
	}
	c2.Close()

	// The real rank 0 now connects, despite all of the above.
	bell0 := newTestBell()
	links0, err := Connect(ctx, Config{Rank: 0, Size: 2, Peers: map[int]string{1: addr}, Key: testKey, Bell: bell0})
	if err != nil {
		t.Fatalf("rank 0: %v", err)
	}
	r1 := <-done1
	if r1.err != nil {
		t.Fatalf("rank 1: %v", r1.err)
	}
	defer links0[1].Close()
	defer r1.links[0].Close()

	// After the job is up: a correct key claiming rank 0 again is a duplicate.
	dup, _ := net.Dial("tcp", addr)
	dup.SetDeadline(time.Now().Add(5 * time.Second))
	if err := dialHandshake(dup, testKey, 0, 1, 2); !errors.Is(err, errRefused) {
		t.Errorf("duplicate rank 0: %v, want a refusal", err)
	}
	dup.Close()
	// A rank that does not exist in this job.
	bad, _ := net.Dial("tcp", addr)
	bad.SetDeadline(time.Now().Add(5 * time.Second))
	if err := dialHandshake(bad, testKey, 0, 1, 3); !errors.Is(err, errRefused) {
		t.Errorf("wrong job size: %v, want a refusal", err)
	}
	bad.Close()

	// The job still works both ways.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		got, err := pump(ctx, r1.links[0], bell1, []msg{{2, []byte("pong")}}, 1)
		if err != nil || string(got[0].p) != "ping" {
			t.Errorf("rank 1: %v %v", got, err)
		}
	}()
	got, err := pump(ctx, links0[1], bell0, []msg{{1, []byte("ping")}}, 1)
	if err != nil || string(got[0].p) != "pong" {
		t.Errorf("rank 0: %v %v", got, err)
	}
	wg.Wait()

	// Every refusal was logged (the silent client's only after 5 s).
	deadline := time.Now().Add(2 * time.Second)
	for lb.count("refused") < 8 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := lb.count("refused"); n < 8 {
		t.Errorf("%d refusals logged, want 8:\n%s", n, lb.String())
	}
	for _, want := range []string{"not a hilo-tcp hello", "failed to prove", "already connected", "no proof"} {
		if lb.count(want) == 0 {
			t.Errorf("no log line with %q:\n%s", want, lb.String())
		}
	}
	t.Logf("acceptor's log:\n%s", lb.String())
	if r1.links[0].Check() != nil || links0[1].Check() != nil {
		t.Error("strangers disturbed the links")
	}
}

// TestWrongKeyJob: two ranks with different keys never connect; the dialer
// gets ErrAuth at once, the acceptor logs and times out.
func TestWrongKeyJob(t *testing.T) {
	var lb logBook
	ln1, _ := Listen("127.0.0.1:0")
	defer ln1.Close()
	ctx1, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Connect(ctx1, Config{Rank: 1, Size: 2, Listener: ln1, Peers: map[int]string{0: ""}, Key: testKey, Logf: lb.logf})
		done <- err
	}()
	start := time.Now()
	_, err := Connect(ctxFor(t, 5*time.Second), Config{Rank: 0, Size: 2, Peers: map[int]string{1: ln1.Addr()}, Key: []byte("another job's key")})
	if !errors.Is(err, transport.ErrAuth) {
		t.Fatalf("rank 0: %v, want ErrAuth", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("ErrAuth took %v (retried?)", d)
	}
	if err := <-done; !errors.Is(err, transport.ErrTimeout) {
		t.Errorf("rank 1: %v, want ErrTimeout", err)
	}
	if lb.count("refused") == 0 {
		t.Errorf("rank 1 logged no refusal")
	}
}

// TestDialRetry: the dialer starts before the peer listens and keeps trying.
func TestDialRetry(t *testing.T) {
	tmp, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := tmp.Addr().String()
	tmp.Close()
	ctx := ctxFor(t, 10*time.Second)
	done := make(chan error, 1)
	var links0 []transport.Link
	go func() {
		var err error
		links0, err = Connect(ctx, Config{Rank: 0, Size: 2, Peers: map[int]string{1: addr}, Key: testKey})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	ln1, err := Listen(addr)
	if err != nil {
		t.Skipf("port taken meanwhile: %v", err)
	}
	defer ln1.Close()
	links1, err := Connect(ctx, Config{Rank: 1, Size: 2, Listener: ln1, Peers: map[int]string{0: ""}, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	links0[1].Close()
	links1[0].Close()
}

// TestBadFrameFromPeer: an authenticated peer that breaks the framing gets
// its link failed with ErrProtocol, never a panic.
func TestBadFrameFromPeer(t *testing.T) {
	ln1, _ := Listen("127.0.0.1:0")
	defer ln1.Close()
	ctx := ctxFor(t, 10*time.Second)
	done := make(chan []transport.Link, 1)
	go func() {
		links, err := Connect(ctx, Config{Rank: 1, Size: 2, Listener: ln1, Peers: map[int]string{0: ""}, Key: testKey})
		if err != nil {
			t.Error(err)
		}
		done <- links
	}()
	c, err := net.Dial("tcp", ln1.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := dialHandshake(c, testKey, 0, 1, 2); err != nil {
		t.Fatal(err)
	}
	links := <-done
	if links == nil {
		return
	}
	defer links[0].Close()
	var b [frameHeaderSize]byte
	putHeader(b[:], frameHeader{typ: frameMsg, len: 100, aux: 10}) // first frame longer than its message
	c.Write(b[:])
	start := time.Now()
	for links[0].Check() == nil && time.Since(start) < 2*time.Second {
		time.Sleep(time.Millisecond)
	}
	if err := links[0].Check(); !errors.Is(err, transport.ErrProtocol) {
		t.Fatalf("Check after a bad frame: %v, want ErrProtocol", err)
	}
}
