package transport

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrInvalid: an argument is out of range (a peer that is not a rank, a
// reserved tag, mismatched lengths).
var ErrInvalid = errors.New("transport: invalid argument")

// MaxUserTag is the largest tag a user may pass; tags above it are reserved
// for the collectives.
const MaxUserTag = 1<<31 - 1

// collTagBase is the first reserved tag; collectives use collTagBase | seq.
const collTagBase = uint32(1) << 31

// DefaultCheckInterval bounds each sleep of a blocking call; after each such
// interval the links being waited on are asked whether their peers are alive.
const DefaultCheckInterval = 50 * time.Millisecond

// Options configures a Comm.
type Options struct {
	// NodeRanks lists the ranks that share this rank's node (this rank
	// included). Nil means: this rank plus every peer whose link Kind is
	// "shm" or "inproc".
	NodeRanks []int
	// CheckInterval caps each sleep of a blocking call; after each interval
	// the links waited on are checked for liveness. Zero means
	// DefaultCheckInterval.
	CheckInterval time.Duration
	// MaxMessageBytes bounds the size a link may announce for an incoming
	// message (larger is an ErrProtocol error, not an allocation). Zero
	// means DefaultMaxMessageBytes.
	MaxMessageBytes int
}

// DefaultMaxMessageBytes is the default Options.MaxMessageBytes: 4 GiB - 1,
// the largest size a 32-bit length field frames.
const DefaultMaxMessageBytes = 1<<32 - 1

// PeerStats is what this rank has exchanged with one peer.
type PeerStats struct {
	Peer                 int
	Kind                 string // medium: "shm", "tcp", "inproc", or "self"
	BytesSent, BytesRecv uint64
	MsgsSent, MsgsRecv   uint64
}

// A Comm is one rank's view of a job of Size ranks: point-to-point messages
// with tags, persistent channels and collectives, over one Link per peer.
//
// A Comm is safe for concurrent use by several goroutines (all link work is
// serialised behind one mutex), except that collectives must be called by
// every rank in the same order, one at a time. Each persistent channel end
// is used by one goroutine at a time.
type Comm struct {
	rank, size    int
	bell          Doorbell
	nodeRanks     []int
	checkInterval time.Duration
	maxMsg        int

	mu     sync.Mutex
	closed bool
	peers  []peerState
	free   []*Request // recycled requests of the blocking Send/Recv
	// unexFree holds delivered unexpected messages whose buffers are reused.
	unexFree []*unexpectedMsg
	collSeq  uint32
	selfCh   map[uint32]*selfChannel
	// channels opened over links, closed by Close.
	channels []Channel

	lastTestCheck time.Time // last liveness check made by Request.Test

	// Large unmatched messages (see pullRecvsLocked): deferred records
	// that a sweep left one in its link; pullLarge makes a sweep take
	// them (progressLocked's second pass, when nothing else moved).
	deferred, pullLarge bool

	// scratch buffers of the collectives, grown on demand, reused.
	scratchA, scratchB []byte
}

// NewComm builds the Comm of rank among size ranks. links[p] is the link to
// peer p (nil for p == rank); bell is the doorbell every link rings for this
// rank. The Comm takes ownership of the links: Close closes them.
func NewComm(rank, size int, links []Link, bell Doorbell, opts Options) (*Comm, error) {
	if size < 1 || rank < 0 || rank >= size {
		return nil, fmt.Errorf("%w: rank %d of size %d", ErrInvalid, rank, size)
	}
	if len(links) != size {
		return nil, fmt.Errorf("%w: %d links for size %d", ErrInvalid, len(links), size)
	}
	if bell == nil {
		return nil, fmt.Errorf("%w: nil doorbell", ErrInvalid)
	}
	c := &Comm{
		rank:          rank,
		size:          size,
		bell:          bell,
		checkInterval: opts.CheckInterval,
		peers:         make([]peerState, size),
	}
	if c.checkInterval <= 0 {
		c.checkInterval = DefaultCheckInterval
	}
	c.maxMsg = opts.MaxMessageBytes
	if c.maxMsg <= 0 {
		c.maxMsg = DefaultMaxMessageBytes
	}
	for p, l := range links {
		ps := &c.peers[p]
		if p == rank {
			if l != nil {
				return nil, fmt.Errorf("%w: link to self (rank %d) must be nil", ErrInvalid, rank)
			}
			ps.kind = "self"
			continue
		}
		if l == nil {
			return nil, fmt.Errorf("%w: no link to peer %d", ErrInvalid, p)
		}
		if l.Peer() != p {
			return nil, fmt.Errorf("%w: links[%d] leads to rank %d", ErrInvalid, p, l.Peer())
		}
		ps.link = l
		ps.poller = pollerOf(l)
		ps.kind = l.Kind()
	}
	if opts.NodeRanks != nil {
		nr := slices.Clone(opts.NodeRanks)
		slices.Sort(nr)
		nr = slices.Compact(nr)
		for _, r := range nr {
			if r < 0 || r >= size {
				return nil, fmt.Errorf("%w: node rank %d of size %d", ErrInvalid, r, size)
			}
		}
		if _, found := slices.BinarySearch(nr, rank); !found {
			return nil, fmt.Errorf("%w: NodeRanks %v lack rank %d itself", ErrInvalid, nr, rank)
		}
		c.nodeRanks = nr
	} else {
		for p := range size {
			if k := c.peers[p].kind; p == rank || k == "shm" || k == "inproc" {
				c.nodeRanks = append(c.nodeRanks, p)
			}
		}
	}
	return c, nil
}

// Rank is this rank, in [0, Size).
func (c *Comm) Rank() int { return c.rank }

// Size is the number of ranks.
func (c *Comm) Size() int { return c.size }

// NodeRanks returns the ranks sharing this rank's node, sorted, this rank
// included. The caller must not modify the slice.
func (c *Comm) NodeRanks() []int { return c.nodeRanks }

// LinkKind names the medium towards peer: "shm", "tcp", "inproc", "self"
// for this rank itself, or "" if peer is not a rank.
func (c *Comm) LinkKind(peer int) string {
	if peer < 0 || peer >= c.size {
		return ""
	}
	return c.peers[peer].kind
}

// Stats returns, per peer (index = rank), what this rank has exchanged with it.
func (c *Comm) Stats() []PeerStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]PeerStats, c.size)
	for p := range c.peers {
		ps := &c.peers[p]
		s := PeerStats{Peer: p, Kind: ps.kind}
		if ps.link != nil {
			ls := ps.link.Stats()
			s.BytesSent, s.BytesRecv = ls.BytesSent, ls.BytesRecv
			s.MsgsSent, s.MsgsRecv = ls.MsgsSent, ls.MsgsRecv
		} else {
			s.BytesSent, s.BytesRecv = ps.selfBytes, ps.selfBytes
			s.MsgsSent, s.MsgsRecv = ps.selfMsgs, ps.selfMsgs
		}
		out[p] = s
	}
	return out
}

// Close fails every pending request with ErrClosed and closes the links and
// channels. Messages not yet fully handed to a link are dropped.
func (c *Comm) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	// Channels first: on shm they may live in memory their link unmaps.
	for _, ch := range c.channels {
		if err := ch.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing channel to %d: %w", ch.Peer(), err))
		}
	}
	c.channels = nil
	for _, ch := range c.selfCh {
		ch.closed = true
	}
	for p := range c.peers {
		ps := &c.peers[p]
		c.failPeerLocked(p, ErrClosed)
		if ps.link != nil {
			if err := ps.link.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing link to %d: %w", p, err))
			}
		}
	}
	return errors.Join(errs...)
}

// opErr builds the error of operation op with peer and tag (-1: none).
func (c *Comm) opErr(op string, peer int, tag int64, err error) *OpError {
	kind := ""
	if peer >= 0 && peer < c.size {
		kind = c.peers[peer].kind
	}
	return &OpError{Op: op, Rank: c.rank, Peer: peer, Tag: tag, Kind: kind, Err: err}
}
