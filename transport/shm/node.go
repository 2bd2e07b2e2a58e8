package shm

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hilo-hpc/hilo/transport"
)

// Defaults for Config fields left zero.
const (
	// DefaultRingBytes is the capacity of each inbound ring. Measured with
	// BenchmarkPingPong (1 MiB messages, 2-vCPU VM with a load average of
	// about 5 from other jobs, three runs each): a 64 KiB ring gave
	// 2.6-3.5 GB/s, 256 KiB 6.9-9.5 GB/s, 1 MiB 4.8-9.1 GB/s. 256 KiB gets
	// the bandwidth for a quarter of the memory of 1 MiB, which matters as
	// a rank holds one ring per peer on the node.
	DefaultRingBytes = 256 << 10
	// DefaultHeartbeatTimeout is how long a peer's heartbeat may stand
	// still before Check reports the peer lost.
	DefaultHeartbeatTimeout = time.Second
	// defaultSpin is Sleep's spin budget when there are no more ranks on
	// the node than CPUs: longer than a spinning round trip (~1 µs here),
	// shorter than a futex wake-up (18-60 µs on the test VM). The spin
	// calls sched_yield every few hundred loads, so a peer that shares the
	// CPU still runs (with that, a 100 µs budget measured no worse than
	// none on the loaded test VM).
	defaultSpin = 20 * time.Microsecond
	// crowdedSpin is the budget when ranks outnumber CPUs: spinning then
	// only steals the CPU from the rank we wait for.
	crowdedSpin = 0
	// crowdedYield is how long Sleep polls with sched_yield before the
	// futex when ranks outnumber CPUs (see bell.yield).
	crowdedYield = 150 * time.Microsecond

	heartbeatEvery = 100 * time.Millisecond

	// maxRank bounds the ranks in a Config (Links is indexed by rank).
	maxRank = 1<<24 - 1
)

// Config describes this rank's place in the node.
type Config struct {
	// Rank is this rank (>= 0).
	Rank int
	// Peers are the other ranks on this node to connect to. Every rank
	// must list the others symmetrically.
	Peers []int
	// JobID namespaces the rendezvous sockets; all ranks of a job use the
	// same value and two jobs on a node must differ.
	JobID string
	// RingBytes is the capacity of each ring that carries messages to this
	// rank; it is rounded up to a power of two (default DefaultRingBytes).
	RingBytes int
	// Spin is the doorbell's spin budget before it sleeps on the futex.
	// Zero picks a default (shorter when ranks outnumber CPUs); negative
	// disables spinning.
	Spin time.Duration
	// HeartbeatTimeout is how long a peer's heartbeat may stand still
	// before Check reports it lost (default DefaultHeartbeatTimeout).
	HeartbeatTimeout time.Duration
	// SingleCopyMin: messages of at least this many bytes are copied once,
	// by the receiver straight from the sender's memory
	// (process_vm_readv), where the receiver could read it in a probe at
	// Join; smaller ones stream through the ring (see cma.go). Zero means
	// DefaultSingleCopyMin (off for now); negative: always the ring.
	// 256 << 10 is where the single copy starts to pay through a Comm.
	SingleCopyMin int
}

// A Node is this rank's shared-memory endpoint: its segment, its doorbell
// and one link per peer.
type Node struct {
	rank  int
	mem   []byte // own segment
	bell  *bell
	links []*link // by rank
	list  []transport.Link

	hbTimeout time.Duration
	cmaMin    int     // Config.SingleCopyMin resolved (0: never)
	probe     *uint64 // read by peers probing single copy; kept alive here
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closing   atomic.Bool
}

// socketName is the abstract Unix socket name of a rank: the uid keeps two
// users' jobs with the same JobID apart, the hash bounds the length.
func socketName(jobID string, rank int) string { return socketNameFor(os.Getuid(), jobID, rank) }

func socketNameFor(uid int, jobID string, rank int) string {
	h := sha256.Sum256([]byte(jobID))
	return fmt.Sprintf("@hilo-shm.%d.%s.%d", uid, hex.EncodeToString(h[:12]), rank)
}

func ceilPow2(n int) int {
	c := minRingCap
	for c < n {
		c <<= 1
	}
	return c
}

// peerConn is the result of one handshake.
type peerConn struct {
	rank    int
	pid     int
	pidfd   int
	conn    *net.UnixConn
	mem     []byte // peer's segment
	ringOff uint64 // our outbound ring in it
	ringCap uint64
	// singleCopy: this process read the peer's probe cookie, so the peer
	// may send us single-copy descriptors.
	singleCopy bool
}

func (pc *peerConn) release() {
	if pc.conn != nil {
		pc.conn.Close()
	}
	if pc.pidfd >= 0 {
		unix.Close(pc.pidfd)
	}
	if pc.mem != nil {
		unix.Munmap(pc.mem)
	}
}

// Join creates this rank's segment, connects to every peer through an
// abstract Unix socket, exchanges segment fds with them and returns the
// node. It blocks until every peer has joined, bounded by ctx.
func Join(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Rank < 0 || cfg.Rank > maxRank {
		return nil, fmt.Errorf("shm: rank %d outside [0, %d]", cfg.Rank, maxRank)
	}
	if cfg.JobID == "" {
		return nil, errors.New("shm: empty JobID")
	}
	peers := slices.Clone(cfg.Peers)
	slices.Sort(peers)
	for i, p := range peers {
		if p < 0 || p > maxRank || p == cfg.Rank || (i > 0 && peers[i-1] == p) {
			return nil, fmt.Errorf("shm: bad peer list %v for rank %d", cfg.Peers, cfg.Rank)
		}
	}
	rb := cfg.RingBytes
	if rb <= 0 {
		rb = DefaultRingBytes
	}
	if rb > maxRingCap {
		return nil, fmt.Errorf("shm: RingBytes %d > %d", rb, maxRingCap)
	}
	capacity := ceilPow2(rb)
	spin := cfg.Spin
	var yield time.Duration
	switch {
	case spin < 0:
		spin = 0
	case spin == 0 && len(peers)+1 > runtime.NumCPU():
		spin, yield = crowdedSpin, crowdedYield
	case spin == 0:
		spin = defaultSpin
	}
	hbTimeout := cfg.HeartbeatTimeout
	if hbTimeout <= 0 {
		hbTimeout = DefaultHeartbeatTimeout
	}

	size := segRingsOff + len(peers)*ringBytes(capacity)
	size = (size + os.Getpagesize() - 1) &^ (os.Getpagesize() - 1)
	fd, mem, err := newMemfd(fmt.Sprintf("hilo-shm-r%d", cfg.Rank), size)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd) // peers hold their own fds or mappings once Join returns
	word64(mem, segMagicOff).Store(segMagic)
	binary.LittleEndian.PutUint32(mem[segVersionOff:], segVersion)
	binary.LittleEndian.PutUint32(mem[segRankOff:], uint32(cfg.Rank))
	binary.LittleEndian.PutUint64(mem[segSizeOff:], uint64(size))

	ringOffFor := func(peer int) uint64 {
		i, _ := slices.BinarySearch(peers, peer)
		return uint64(segRingsOff + i*ringBytes(capacity))
	}
	// The probe: a peer that can read this cookie from our memory with
	// process_vm_readv may be sent single-copy descriptors.
	probe := new(uint64)
	*probe = mrand.Uint64() | 1
	hs := handshaker{rank: cfg.Rank, fd: fd, segSize: uint64(size), ringCap: uint64(capacity), ringOffFor: ringOffFor, probe: probe}
	cmaMin := cfg.SingleCopyMin
	if cmaMin == 0 {
		cmaMin = DefaultSingleCopyMin
	}
	cmaMin = max(cmaMin, 0) // 0: never

	conns, err := connectAll(ctx, cfg, peers, &hs)
	if err != nil {
		unix.Munmap(mem)
		return nil, err
	}

	n := &Node{
		rank:      cfg.Rank,
		mem:       mem,
		bell:      newBell(mem, spin, yield),
		hbTimeout: hbTimeout,
		cmaMin:    cmaMin,
		probe:     probe,
		done:      make(chan struct{}),
	}
	top := cfg.Rank
	if len(peers) > 0 {
		top = max(top, peers[len(peers)-1])
	}
	n.links = make([]*link, top+1)
	n.list = make([]transport.Link, top+1)
	for _, pc := range conns {
		inOff := ringOffFor(pc.rank)
		l, err := newLink(n, pc, mem[inOff:inOff+uint64(ringBytes(capacity))])
		if err != nil {
			for _, pc := range conns {
				pc.release()
			}
			unix.Munmap(mem)
			return nil, err
		}
		n.links[pc.rank] = l
		n.list[pc.rank] = l
	}
	for _, l := range n.links {
		if l != nil {
			n.wg.Add(1)
			go l.readControl()
		}
	}
	n.wg.Add(1)
	go n.heartbeat()
	return n, nil
}

// heartbeat bumps this rank's heartbeat word until the node closes.
func (n *Node) heartbeat() {
	defer n.wg.Done()
	hb := word64(n.mem, segHeartOff)
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		hb.Add(1)
		select {
		case <-n.done:
			return
		case <-t.C:
		}
	}
}

// Rank returns this rank.
func (n *Node) Rank() int { return n.rank }

// Links returns the links indexed by peer rank; entries for this rank and
// for ranks that are not peers are nil.
func (n *Node) Links() []transport.Link { return n.list }

// Link returns the link to peer, or nil.
func (n *Node) Link(peer int) transport.Link {
	if peer < 0 || peer >= len(n.list) {
		return nil
	}
	return n.list[peer]
}

// Doorbell returns this rank's doorbell, which every peer rings after it
// publishes data for this rank or frees ring space this rank may wait for.
func (n *Node) Doorbell() transport.Doorbell { return n.bell }

// Close closes every link and channel and unmaps the segment. No link,
// channel or slice obtained from them may be used afterwards.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.closing.Store(true)
		close(n.done)
		for _, l := range n.links {
			if l != nil {
				l.Close()
			}
		}
		n.wg.Wait()
		unix.Munmap(n.mem)
	})
	return nil
}

// handshaker holds what this rank tells each peer.
type handshaker struct {
	rank       int
	fd         int
	segSize    uint64
	ringCap    uint64
	ringOffFor func(peer int) uint64
	probe      *uint64 // the single-copy probe's cookie
}

// connectAll listens for lower-ranked peers and dials higher-ranked ones
// (one connection per pair) and handshakes with each.
func connectAll(ctx context.Context, cfg Config, peers []int, hs *handshaker) (conns []*peerConn, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lower, higher := 0, 0
	for _, p := range peers {
		if p < cfg.Rank {
			lower++
		} else {
			higher++
		}
	}
	type result struct {
		pc  *peerConn
		err error
	}
	results := make(chan result, len(peers))
	var ln *net.UnixListener
	if lower > 0 {
		ln, err = net.ListenUnix("unixpacket", &net.UnixAddr{Name: socketName(cfg.JobID, cfg.Rank), Net: "unixpacket"})
		if err != nil {
			return nil, fmt.Errorf("shm: rank %d: listen: %w", cfg.Rank, err)
		}
		defer ln.Close()
		stop := context.AfterFunc(ctx, func() { ln.SetDeadline(time.Now()) })
		defer stop()
		go func() {
			want := map[int]bool{}
			for _, p := range peers {
				if p < cfg.Rank {
					want[p] = true
				}
			}
			for len(want) > 0 {
				c, err := ln.AcceptUnix()
				if err != nil {
					// One result per peer still missing, so the
					// collector below always gets len(peers) results.
					err = fmt.Errorf("shm: rank %d: accept (waiting for %d peers): %w", cfg.Rank, len(want), ctxErr(ctx, err))
					for range want {
						results <- result{err: err}
					}
					return
				}
				pc, err := hs.handshake(ctx, c, -1)
				if err != nil || !want[pc.rank] {
					// A stranger or a duplicate: drop it, keep waiting.
					if pc != nil {
						pc.release()
					} else {
						c.Close()
					}
					continue
				}
				delete(want, pc.rank)
				results <- result{pc: pc}
			}
		}()
	}
	for _, p := range peers {
		if p < cfg.Rank {
			continue
		}
		go func() {
			c, err := dialRetry(ctx, socketName(cfg.JobID, p))
			if err != nil {
				results <- result{err: fmt.Errorf("shm: rank %d: connect to rank %d: %w", cfg.Rank, p, err)}
				return
			}
			pc, err := hs.handshake(ctx, c, p)
			if err != nil {
				c.Close()
				err = fmt.Errorf("shm: rank %d: handshake with rank %d: %w", cfg.Rank, p, err)
			}
			results <- result{pc: pc, err: err}
		}()
	}
	for range lower + higher {
		r := <-results
		if r.err != nil && err == nil {
			err = r.err
			cancel() // stop the others
		}
		if r.pc != nil {
			conns = append(conns, r.pc)
		}
	}
	if err != nil {
		for _, pc := range conns {
			pc.release()
		}
		return nil, err
	}
	return conns, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", transport.ErrTimeout, ctx.Err())
	}
	return err
}

// dialRetry connects to a peer's abstract socket, retrying while the peer
// has not started listening yet.
func dialRetry(ctx context.Context, name string) (*net.UnixConn, error) {
	var d net.Dialer
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		c, err := d.DialContext(ctx, "unixpacket", name)
		if err == nil {
			return c.(*net.UnixConn), nil
		}
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
			return nil, ctxErr(ctx, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctxErr(ctx, err)
		case <-time.After(wait):
		}
	}
}

// Control messages are fixed 64-byte SOCK_SEQPACKET datagrams:
//
//	[0,4) type  [4,8) ctlMagic  [8,64) body
const (
	ctlLen   = 64
	ctlMagic = 0x434f4c48 // "HLOC"

	ctlHello = 1 // body: version u32, rank u32, segSize u64, ringOff u64, ringCap u64, probe address u64, probe cookie u64; fd: segment
	ctlOffer = 2 // body: id u32, slots u32, slotBytes u64, size u64; fd: channel memfd
	ctlAck   = 3 // body: id u32, status u32 (0 ok, else mismatch)
	ctlBye   = 4 // the peer closes the link
)

// handshake checks the peer's credentials, sends our hello with our segment
// fd and reads and validates the peer's. want is the rank we dialed, or -1
// when accepting.
func (hs *handshaker) handshake(ctx context.Context, c *net.UnixConn, want int) (*peerConn, error) {
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	cred, err := peerCred(c)
	if err != nil {
		return nil, err
	}
	if int(cred.Uid) != os.Getuid() {
		return nil, fmt.Errorf("%w: peer process %d runs as uid %d, not %d", transport.ErrAuth, cred.Pid, cred.Uid, os.Getuid())
	}
	// On the dialing side we know the peer's rank now; on the accepting
	// side we learn it from its hello, so the accepting side answers
	// after reading.
	send := func(peer int) error {
		var b [ctlLen]byte
		putCtl(b[:], ctlHello)
		binary.LittleEndian.PutUint32(b[8:], segVersion)
		binary.LittleEndian.PutUint32(b[12:], uint32(hs.rank))
		binary.LittleEndian.PutUint64(b[16:], hs.segSize)
		binary.LittleEndian.PutUint64(b[24:], hs.ringOffFor(peer))
		binary.LittleEndian.PutUint64(b[32:], hs.ringCap)
		binary.LittleEndian.PutUint64(b[40:], uint64(uintptr(unsafe.Pointer(hs.probe))))
		binary.LittleEndian.PutUint64(b[48:], *hs.probe)
		_, _, err := c.WriteMsgUnix(b[:], unix.UnixRights(hs.fd), nil)
		return ctxErr(ctx, err)
	}
	if want >= 0 {
		if err := send(want); err != nil {
			return nil, err
		}
	}
	var b [ctlLen]byte
	typ, fd, err := readCtl(c, b[:])
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	if typ != ctlHello || fd < 0 {
		if fd >= 0 {
			unix.Close(fd)
		}
		return nil, errProto("expected hello with an fd, got message type %d", typ)
	}
	ver := binary.LittleEndian.Uint32(b[8:])
	rank := int(binary.LittleEndian.Uint32(b[12:]))
	segSize := binary.LittleEndian.Uint64(b[16:])
	ringOff := binary.LittleEndian.Uint64(b[24:])
	ringCap := binary.LittleEndian.Uint64(b[32:])
	if ver != segVersion || (want >= 0 && rank != want) {
		unix.Close(fd)
		return nil, errProto("hello from rank %d version %d, expected rank %d version %d", rank, ver, want, segVersion)
	}
	if ringCap < minRingCap || ringCap > maxRingCap || ringCap&(ringCap-1) != 0 ||
		ringOff%128 != 0 || ringOff < segRingsOff || ringOff > segSize || segSize-ringOff < uint64(ringBytes(int(ringCap))) {
		unix.Close(fd)
		return nil, errProto("hello from rank %d: ring at %d of capacity %d does not fit a segment of %d", rank, ringOff, ringCap, segSize)
	}
	mem, err := mapPeerFd(fd, segSize)
	if err != nil {
		return nil, err
	}
	if word64(mem, segMagicOff).Load() != segMagic || binary.LittleEndian.Uint32(mem[segRankOff:]) != uint32(rank) {
		unix.Munmap(mem)
		return nil, errProto("segment of rank %d has a bad header", rank)
	}
	pc := &peerConn{rank: rank, pid: int(cred.Pid), pidfd: -1, conn: c, mem: mem, ringOff: ringOff, ringCap: ringCap}
	pc.singleCopy = probeSingleCopy(pc.pid, binary.LittleEndian.Uint64(b[40:]), binary.LittleEndian.Uint64(b[48:]))
	if want < 0 {
		if err := send(rank); err != nil {
			pc.conn = nil
			pc.release()
			return nil, err
		}
	}
	pc.pidfd, err = unix.PidfdOpen(pc.pid, 0)
	if err != nil {
		pc.conn = nil
		pc.release()
		return nil, fmt.Errorf("%w: pidfd_open(%d) for rank %d: %w", transport.ErrPeerLost, pc.pid, rank, err)
	}
	return pc, nil
}

func putCtl(b []byte, typ uint32) {
	binary.LittleEndian.PutUint32(b[0:], typ)
	binary.LittleEndian.PutUint32(b[4:], ctlMagic)
}

// readCtl reads one control message into b (ctlLen bytes) and returns its
// type and the fd it carried (-1: none). Extra fds are closed.
func readCtl(c *net.UnixConn, b []byte) (typ uint32, fd int, err error) {
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(b, oob)
	fd = -1
	if oobn > 0 {
		msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
		if perr == nil {
			for i := range msgs {
				fds, _ := unix.ParseUnixRights(&msgs[i])
				for _, f := range fds {
					if fd < 0 {
						fd = f
					} else {
						unix.Close(f)
					}
				}
			}
		}
	}
	fail := func(e error) (uint32, int, error) {
		if fd >= 0 {
			unix.Close(fd)
		}
		return 0, -1, e
	}
	if err != nil {
		return fail(err)
	}
	if n == 0 {
		return fail(errEOF)
	}
	if n != ctlLen || flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || binary.LittleEndian.Uint32(b[4:]) != ctlMagic {
		return fail(errProto("malformed control message (%d bytes, flags %#x)", n, flags))
	}
	return binary.LittleEndian.Uint32(b[0:]), fd, nil
}

var errEOF = errors.New("control connection closed")

func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, fmt.Errorf("shm: SO_PEERCRED: %w", cerr)
	}
	return cred, nil
}
