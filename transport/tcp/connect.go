package tcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hilo-hpc/hilo/transport"
)

const (
	// handshakeTimeout bounds one handshake on either side.
	handshakeTimeout = 5 * time.Second
	// maxHandshakes bounds the handshakes an acceptor runs at once; more
	// connections are dropped at once (and logged), so a flood of strangers
	// cannot pile up goroutines.
	maxHandshakes = 64
	// DefaultBufferBytes is the size of each link's outbound and inbound
	// rings (a link holds two). 4 MiB measured ~15 % more bandwidth than
	// 1 MiB on 4 MiB messages; raise Config.BufferBytes for few, large links.
	DefaultBufferBytes = 2 << 20
	minBufferBytes     = 2 * (minFrameChunk + frameHeaderSize)
	// DefaultSpin is Config.Spin's default: longer than a loopback or LAN
	// one-way trip of a small message (~10 µs here), shorter than the
	// wake-up of a parked goroutine through the netpoller and the doorbell
	// (~25-50 µs per one-way trip on the test VM).
	DefaultSpin = 50 * time.Microsecond

	keepAliveIdle     = time.Second
	keepAliveInterval = time.Second
	keepAliveCount    = 3
	userTimeout       = 3 * time.Second
)

// Config says which peers a rank reaches over TCP and how.
type Config struct {
	Rank int // this rank, 0 <= Rank < Size
	Size int // ranks in the job
	// Listener is this rank's listener; it is needed when a lower rank is in
	// Peers (the lower rank dials the higher one).
	Listener *Listener
	// Peers maps each rank this rank talks to over TCP to its listener's
	// "host:port". Lower ranks dial this one; their address is not used.
	Peers map[int]string
	// Key is the job key every rank holds; a peer proves it holds it before
	// any of its bytes is read as data. It must not be empty.
	Key []byte
	// Bell is rung when data arrives for this rank or send space frees up.
	// nil: no doorbell (the caller polls).
	Bell transport.Doorbell
	// Logf reports refused connections (strangers, wrong keys). nil: silent.
	Logf func(format string, args ...any)
	// BufferBytes sizes each link's outbound and inbound rings
	// (0: DefaultBufferBytes).
	BufferBytes int
	// Spin is how long a Comm waiting for one peer reads that peer's
	// socket itself, in a loop of non-blocking reads, before it sleeps on
	// the doorbell (see transport.Poller): a reply that comes within it
	// costs no wake-up of a goroutine or a thread. Zero: DefaultSpin when
	// the machine has more than one CPU, else none; negative: none.
	Spin time.Duration

	// viaWriter sends every byte through the writer goroutine instead of
	// trying a direct write first (for the latency comparison in tests).
	viaWriter bool
}

// errNoKey (wrapping transport.ErrAuth) is returned when Config.Key is empty.
var errNoKey = fmt.Errorf("%w: no job key: set HILO_JOB_KEY (e.g. export HILO_JOB_KEY=$(head -c32 /dev/urandom | base64)) on every rank", transport.ErrAuth)

// A Listener accepts the connections of lower ranks. After Connect has
// returned it keeps refusing (and logging) whoever else connects until it is
// closed; close it when the job ends.
type Listener struct {
	ln *net.TCPListener

	mu       sync.Mutex
	serving  bool
	expect   map[int]bool
	admitted map[int]bool
	open     bool // a Connect is waiting for connections
	deliver  chan accepted
	sem      chan struct{}
	logf     func(string, ...any)
	rank     int
	size     int
	key      []byte
}

type accepted struct {
	rank int
	conn *net.TCPConn
}

// Listen listens on addr ("host:port"; port 0 picks a free one). Publish
// Addr() to the ranks that dial this one.
func Listen(addr string) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tcp: listen: %w", err)
	}
	return &Listener{ln: ln.(*net.TCPListener), sem: make(chan struct{}, maxHandshakes)}, nil
}

// Addr returns the address the listener is bound to, as "host:port".
func (ln *Listener) Addr() string { return ln.ln.Addr().String() }

// Close stops accepting. Links already made are not affected.
func (ln *Listener) Close() error { return ln.ln.Close() }

// serve starts the accept loop for one Connect.
func (ln *Listener) serve(cfg *Config, expect map[int]bool) error {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.serving {
		return errors.New("listener already used by another Connect")
	}
	ln.serving, ln.open = true, true
	ln.expect, ln.admitted = expect, make(map[int]bool)
	ln.deliver = make(chan accepted, len(expect))
	ln.logf, ln.rank, ln.size, ln.key = cfg.Logf, cfg.Rank, cfg.Size, cfg.Key
	go ln.acceptLoop()
	return nil
}

func (ln *Listener) log(format string, args ...any) {
	if ln.logf != nil {
		ln.logf(format, args...)
	}
}

func (ln *Listener) acceptLoop() {
	for {
		c, err := ln.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			ln.log("hilo/tcp: rank %d: accept: %v", ln.rank, err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		select {
		case ln.sem <- struct{}{}:
			go func() {
				defer func() { <-ln.sem }()
				ln.handshake(c.(*net.TCPConn))
			}()
		default:
			ln.log("hilo/tcp: rank %d: refused connection from %s: more than %d handshakes in progress", ln.rank, c.RemoteAddr(), maxHandshakes)
			c.Close()
		}
	}
}

func (ln *Listener) handshake(c *net.TCPConn) {
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	expect := func(r int) bool { return ln.expect[r] } // ln.expect is not written after serve
	admit := func(r int) bool {
		ln.mu.Lock()
		defer ln.mu.Unlock()
		if !ln.open || ln.admitted[r] {
			return false
		}
		ln.admitted[r] = true
		return true
	}
	r, err := acceptHandshake(c, ln.key, ln.rank, ln.size, expect, admit)
	if err != nil {
		if r >= 0 {
			ln.mu.Lock()
			delete(ln.admitted, r)
			ln.mu.Unlock()
		}
		c.Close()
		ln.log("hilo/tcp: rank %d: refused connection from %s: %v", ln.rank, c.RemoteAddr(), err)
		return
	}
	c.SetDeadline(time.Time{})
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if !ln.open {
		c.Close()
		ln.log("hilo/tcp: rank %d: dropped connection from rank %d at %s: Connect has given up", ln.rank, r, c.RemoteAddr())
		return
	}
	ln.deliver <- accepted{r, c} // buffered for every expected rank, admitted once each
}

// stop ends Connect's interest; returns what was delivered but not taken.
func (ln *Listener) stop() {
	ln.mu.Lock()
	ln.open = false
	ln.mu.Unlock()
	for {
		select {
		case a := <-ln.deliver:
			a.conn.Close()
		default:
			return
		}
	}
}

// Connect makes one authenticated link to every rank in cfg.Peers: it dials
// the higher ranks (retrying until ctx expires, since they may not listen
// yet) and accepts the lower ones on cfg.Listener. The result is indexed by
// rank, with nil for self and for ranks not in Peers. On error every link
// made so far is closed.
func Connect(ctx context.Context, cfg Config) ([]transport.Link, error) {
	opErr := func(peer int, err error) error {
		return &transport.OpError{Op: "connect", Rank: cfg.Rank, Peer: peer, Tag: -1, Kind: "tcp", Err: err}
	}
	if len(cfg.Key) == 0 {
		return nil, opErr(-1, errNoKey)
	}
	if cfg.Size <= 0 || cfg.Rank < 0 || cfg.Rank >= cfg.Size {
		return nil, opErr(-1, fmt.Errorf("rank %d of %d", cfg.Rank, cfg.Size))
	}
	if cfg.BufferBytes == 0 {
		cfg.BufferBytes = DefaultBufferBytes
	}
	if cfg.BufferBytes < minBufferBytes {
		return nil, opErr(-1, fmt.Errorf("BufferBytes %d below the minimum of %d", cfg.BufferBytes, minBufferBytes))
	}
	cfg.Key = append([]byte(nil), cfg.Key...)
	lower := make(map[int]bool)
	var higher []int
	for r, addr := range cfg.Peers {
		switch {
		case r < 0 || r >= cfg.Size || r == cfg.Rank:
			return nil, opErr(r, fmt.Errorf("peer rank %d out of range (rank %d of %d)", r, cfg.Rank, cfg.Size))
		case r < cfg.Rank:
			lower[r] = true
		default:
			if addr == "" {
				return nil, opErr(r, errors.New("no address for a higher rank"))
			}
			higher = append(higher, r)
		}
	}
	sort.Ints(higher)
	if len(lower) > 0 {
		if cfg.Listener == nil {
			return nil, opErr(-1, fmt.Errorf("%d lower ranks dial this one but Config.Listener is nil", len(lower)))
		}
		if err := cfg.Listener.serve(&cfg, lower); err != nil {
			return nil, opErr(-1, err)
		}
		defer cfg.Listener.stop()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		rank int
		conn *net.TCPConn
		err  error
	}
	results := make(chan result, len(higher))
	for _, r := range higher {
		go func() {
			c, err := dial(ctx, &cfg, r, cfg.Peers[r])
			results <- result{r, c, err}
		}()
	}
	conns := make(map[int]*net.TCPConn)
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	var deliver chan accepted
	if len(lower) > 0 {
		deliver = cfg.Listener.deliver
	}
	var firstErr error
	ctxDone := ctx.Done()
	for pending := len(higher); pending > 0 || (len(conns) < len(cfg.Peers) && firstErr == nil); {
		select {
		case res := <-results:
			pending--
			if res.err != nil {
				if firstErr == nil {
					firstErr = opErr(res.rank, res.err)
					cancel()
				}
				continue
			}
			conns[res.rank] = res.conn
		case a := <-deliver:
			conns[a.rank] = a.conn
		case <-ctxDone:
			ctxDone = nil // from now on only wait for the dialers to give up
			if firstErr == nil {
				var missing []int
				for r := range lower {
					if conns[r] == nil {
						missing = append(missing, r)
					}
				}
				sort.Ints(missing)
				if len(missing) > 0 {
					firstErr = opErr(missing[0], fmt.Errorf("%w: lower ranks %v did not connect: %w", transport.ErrTimeout, missing, ctx.Err()))
				} else if pending == 0 {
					firstErr = opErr(-1, fmt.Errorf("%w: %w", transport.ErrTimeout, ctx.Err()))
				} // else the dialers report which higher rank they could not reach
			}
			if pending == 0 {
				closeAll()
				return nil, firstErr
			}
		}
	}
	if firstErr != nil {
		closeAll()
		return nil, firstErr
	}
	links := make([]transport.Link, cfg.Size)
	for r, c := range conns {
		if err := tune(c); err != nil {
			closeAll()
			return nil, opErr(r, err)
		}
	}
	spin := cfg.Spin
	switch {
	case spin < 0 || (spin == 0 && runtime.NumCPU() < 2):
		spin = 0
	case spin == 0:
		spin = DefaultSpin
	}
	for r, c := range conns {
		l, err := newLink(c, cfg.Rank, r, cfg.Bell, cfg.BufferBytes, !cfg.viaWriter)
		if err != nil {
			closeAll()
			return nil, opErr(r, err)
		}
		l.spin = spin
		links[r] = l
	}
	return links, nil
}

// dial connects to rank peer and runs the handshake, retrying until ctx
// expires while the peer is not reachable; authentication failures and
// refusals are final.
func dial(ctx context.Context, cfg *Config, peer int, addr string) (*net.TCPConn, error) {
	var d net.Dialer
	backoff := 5 * time.Millisecond
	var last error
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			deadline := time.Now().Add(handshakeTimeout)
			if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
				deadline = dl
			}
			c.SetDeadline(deadline)
			err = dialHandshake(c, cfg.Key, cfg.Rank, peer, cfg.Size)
			if err == nil {
				c.SetDeadline(time.Time{})
				return c.(*net.TCPConn), nil
			}
			c.Close()
			if errors.Is(err, transport.ErrAuth) || errors.Is(err, errRefused) {
				return nil, fmt.Errorf("handshake with %s: %w", addr, err)
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: rank %d at %s not reached: %v", transport.ErrTimeout, peer, addr, last)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}

// tune sets the socket options that make a dead peer visible in seconds.
func tune(c *net.TCPConn) error {
	if err := c.SetNoDelay(true); err != nil {
		return err
	}
	if err := c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: keepAliveIdle, Interval: keepAliveInterval, Count: keepAliveCount}); err != nil {
		return err
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(userTimeout/time.Millisecond))
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("TCP_USER_TIMEOUT: %w", serr)
	}
	if isLoopback(c) {
		// Best effort: a kernel without it keeps its default.
		raw.Control(func(fd uintptr) {
			unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, loopbackCongestion)
		})
	}
	return nil
}

// loopbackCongestion is the congestion control of a connection whose both
// ends are loopback addresses (two ranks of one host that do not share
// memory). Loopback has no congestion to control, and the common default,
// BBR, paces segments with a high-resolution timer when the qdisc does not
// (loopback has none): the timer sends part of a burst from another CPU,
// segments arrive out of order, and the receiver's duplicate ACKs cause
// spurious fast retransmits (nstat: TCPOFOQueue, TCPDSACKOldSent,
// TcpRetransSegs grow during a hilo or Open MPI bandwidth run). Reno, which
// every Linux kernel has and lets any user select, does not pace; on the
// test VM it halved the 4 MiB ping-pong time. Other connections keep the
// system's choice.
const loopbackCongestion = "reno"

// isLoopback reports whether both ends of c are loopback addresses.
func isLoopback(c *net.TCPConn) bool {
	la, lok := c.LocalAddr().(*net.TCPAddr)
	ra, rok := c.RemoteAddr().(*net.TCPAddr)
	return lok && rok && la.IP.IsLoopback() && ra.IP.IsLoopback()
}
