package launch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/shm"
	"github.com/hilo-hpc/hilo/transport/tcp"
)

// Options configures Init.
type Options struct {
	// Environ is the environment to read the identity from (nil:
	// os.Environ()). Ignored when Identity is set.
	Environ []string
	// Identity, if set, is used instead of reading the environment.
	Identity *Identity
	// Logf reports what the job should know but that is not an error: a
	// stranger refused at the rendezvous, a fall-back from shared memory to
	// TCP. Nil logs to standard error.
	Logf func(format string, args ...any)
	// Comm is passed to transport.NewComm (NodeRanks is filled in when nil).
	Comm transport.Options
	// ShmRingBytes sizes the shared-memory rings (0: shm's default).
	ShmRingBytes int

	// Hooks for tests: a fake node identity, a fake shm.Join, a shorter
	// limit for it.
	node         *NodeID
	joinShm      func(context.Context, shm.Config) (*shm.Node, error)
	shmJoinLimit time.Duration
	probeShm     func() error
}

// shmJoinLimit bounds the shared-memory join when TCP is a fall-back, so
// that a peer whose join failed at once does not hold the others for the
// whole rendezvous timeout.
const shmJoinLimit = 5 * time.Second

// card is what a rank publishes in the first round of the rendezvous.
type card struct {
	Rank      int    `json:"rank"`
	PID       int    `json:"pid"`
	Addr      string `json:"addr,omitempty"` // TCP listener, "" with HILO_TRANSPORT=shm
	Node      NodeID `json:"node"`
	Transport string `json:"transport"`
	Shm       bool   `json:"shm"`           // this rank can make shared memory (probeShm)
	Job       string `json:"job,omitempty"` // rank 0 only: this job's instance id
}

// shmCard is the second round: whether this rank's shared-memory join worked.
type shmCard struct {
	Rank int  `json:"rank"`
	OK   bool `json:"ok"`
}

// Init makes this process a rank of its job: it reads who it is from the
// environment (FromEnv), meets the other ranks (through rank 0's address or
// a shared directory), connects to ranks on its node through shared memory
// and to the others through authenticated TCP, and returns the Comm once
// every rank has passed a first barrier. Closing the Comm releases
// everything Init made. The rendezvous is bounded by HILO_TIMEOUT (and by
// ctx); a rank that does not show up makes the others fail, naming it.
func Init(ctx context.Context, opts Options) (*transport.Comm, error) {
	var id Identity
	if opts.Identity != nil {
		id = *opts.Identity
	} else {
		env := opts.Environ
		if env == nil {
			env = os.Environ()
		}
		var err error
		if id, err = FromEnv(env); err != nil {
			return nil, err
		}
	}
	if id.Timeout <= 0 {
		id.Timeout = DefaultTimeout
	}
	if id.Transport == "" {
		id.Transport = "auto"
	}
	logf := opts.Logf
	if logf == nil {
		rank := id.Rank
		logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "hilo: rank %d: %s\n", rank, fmt.Sprintf(format, args...))
		}
	}
	if id.Size == 1 {
		return transport.NewComm(0, 1, make([]transport.Link, 1), transport.NewLocalDoorbell(), opts.Comm)
	}
	ctx, cancel := context.WithTimeout(ctx, id.Timeout)
	defer cancel()
	b := &builder{id: id, opts: opts, logf: logf}
	comm, err := b.build(ctx)
	if err != nil {
		b.abort(err)
		return nil, fmt.Errorf("rank %d of %d: %w", id.Rank, id.Size, err)
	}
	return comm, nil
}

// builder holds what Init has made so far, to undo it on failure.
type builder struct {
	id   Identity
	opts Options
	logf func(string, ...any)
	ex   exchanger
	ln   *tcp.Listener
	node *shm.Node
	tcpL []transport.Link
}

func (b *builder) abort(failure error) {
	for _, l := range b.tcpL {
		if l != nil {
			l.Close()
		}
	}
	if b.node != nil {
		b.node.Close()
	}
	if b.ln != nil {
		b.ln.Close()
	}
	if b.ex != nil {
		b.ex.close(failure)
	}
}

func (b *builder) build(ctx context.Context) (*transport.Comm, error) {
	id := b.id
	var self NodeID
	if b.opts.node != nil {
		self = *b.opts.node
	} else {
		var err error
		if self, err = LocalNode(); err != nil {
			return nil, err
		}
	}
	var err error
	if b.ex, err = newExchanger(ctx, id, b.logf); err != nil {
		return nil, err
	}

	mine := card{Rank: id.Rank, PID: os.Getpid(), Node: self, Transport: id.Transport}
	if id.Transport != "shm" {
		host := id.Addr
		if host == "" {
			host = b.ex.localHost()
		}
		if host == "" {
			host = publicHost()
		}
		if b.ln, err = tcp.Listen(net.JoinHostPort(host, "0")); err != nil {
			return nil, err
		}
		mine.Addr = b.ln.Addr()
	}
	if id.Transport != "tcp" {
		probe := b.opts.probeShm
		if probe == nil {
			probe = probeShm
		}
		if err := probe(); err != nil {
			if id.Transport == "shm" {
				return nil, fmt.Errorf("HILO_TRANSPORT=shm, but no shared memory here: %w", err)
			}
			b.logf("no shared memory here, using TCP: %v", err)
		} else {
			mine.Shm = true
		}
	}
	if id.Rank == 0 {
		var nonce [16]byte
		rand.Read(nonce[:])
		mine.Job = hex.EncodeToString(nonce[:])
	}
	raw, _ := json.Marshal(mine)
	table, err := b.ex.exchange(ctx, 1, raw)
	if err != nil {
		return nil, err
	}
	cards := make([]card, id.Size)
	for r, t := range table {
		if err := json.Unmarshal(t, &cards[r]); err != nil || cards[r].Rank != r {
			return nil, fmt.Errorf("%w: rank %d's card is malformed", transport.ErrProtocol, r)
		}
		if cards[r].Transport != id.Transport {
			return nil, fmt.Errorf("%w: rank %d has HILO_TRANSPORT=%s, this rank %s", ErrEnv, r, cards[r].Transport, id.Transport)
		}
		if id.Transport != "shm" && cards[r].Addr == "" {
			return nil, fmt.Errorf("%w: rank %d published no TCP address", transport.ErrProtocol, r)
		}
	}
	if cards[0].Job == "" {
		return nil, fmt.Errorf("%w: rank 0's card has no job id", transport.ErrProtocol)
	}

	// Who shares this rank's node, and can any two ranks share memory?
	var nodeRanks, offNode, shmPeers []int
	sharing := false
	byNode := map[NodeID]int{}
	for r, c := range cards {
		if c.Node == self {
			nodeRanks = append(nodeRanks, r)
			if r != id.Rank && c.Shm && mine.Shm {
				shmPeers = append(shmPeers, r)
			}
		} else {
			offNode = append(offNode, r)
		}
		if c.Shm {
			byNode[c.Node]++
			sharing = sharing || byNode[c.Node] > 1
		}
	}
	if id.Transport == "shm" && len(offNode) > 0 {
		return nil, fmt.Errorf("%w: HILO_TRANSPORT=shm, but %s run on other nodes (%s, this one %s)", ErrEnv, ranksList(offNode), cards[offNode[0]].Node, self)
	}
	if id.Key == nil && (len(offNode) > 0 || id.Transport == "tcp" || len(shmPeers) < len(nodeRanks)-1) {
		return nil, fmt.Errorf("%w: HILO_JOB_KEY is not set, and TCP between ranks needs one (%s)", transport.ErrAuth, KeyHint)
	}

	// Shared memory with the ranks of this node.
	shmWith := make([]bool, id.Size)
	if id.Transport != "tcp" && sharing {
		peers := shmPeers
		ok := true
		if len(peers) > 0 {
			joinCtx := ctx
			if id.Transport == "auto" {
				var cancel context.CancelFunc
				limit := shmJoinLimit
				if b.opts.shmJoinLimit > 0 {
					limit = b.opts.shmJoinLimit
				}
				joinCtx, cancel = context.WithTimeout(ctx, limit)
				defer cancel()
			}
			join := b.opts.joinShm
			if join == nil {
				join = shm.Join
			}
			b.node, err = join(joinCtx, shm.Config{Rank: id.Rank, Peers: peers, JobID: cards[0].Job, RingBytes: b.opts.ShmRingBytes})
			if err != nil {
				if id.Transport == "shm" {
					return nil, fmt.Errorf("shared memory with %s: %w", ranksList(peers), err)
				}
				b.logf("shared memory with %s failed, using TCP: %v", ranksList(peers), err)
				b.node, ok = nil, false
			}
		}
		if id.Transport == "shm" {
			for _, p := range peers {
				shmWith[p] = true
			}
		} else {
			// Both ends of a pair must agree: a second round says whose join worked.
			raw, _ := json.Marshal(shmCard{Rank: id.Rank, OK: ok})
			table, err := b.ex.exchange(ctx, 2, raw)
			if err != nil {
				return nil, err
			}
			var failed []int
			for _, p := range peers {
				var sc shmCard
				if err := json.Unmarshal(table[p], &sc); err != nil || sc.Rank != p {
					return nil, fmt.Errorf("%w: rank %d's second card is malformed", transport.ErrProtocol, p)
				}
				shmWith[p] = ok && sc.OK
				if ok && !sc.OK {
					failed = append(failed, p)
				}
			}
			for _, p := range failed {
				b.node.Link(p).Close()
			}
			if len(failed) > 0 {
				b.logf("shared memory failed on %s, using TCP with them", ranksList(failed))
				if id.Key == nil {
					return nil, fmt.Errorf("%w: HILO_JOB_KEY is not set, and TCP to %s needs one (%s)", transport.ErrAuth, ranksList(failed), KeyHint)
				}
			}
			if !slices.Contains(shmWith, true) && b.node != nil {
				b.node.Close()
				b.node = nil
			}
		}
	}

	var bell transport.Doorbell
	if b.node != nil {
		bell = b.node.Doorbell()
	} else {
		bell = transport.NewLocalDoorbell()
	}
	tcpPeers := map[int]string{}
	for r := range id.Size {
		if r != id.Rank && !shmWith[r] {
			tcpPeers[r] = cards[r].Addr
		}
	}
	if len(tcpPeers) > 0 {
		if b.tcpL, err = tcp.Connect(ctx, tcp.Config{Rank: id.Rank, Size: id.Size, Listener: b.ln, Peers: tcpPeers, Key: id.Key, Bell: bell, Logf: b.logf}); err != nil {
			return nil, err
		}
	} else if b.ln != nil {
		b.ln.Close()
		b.ln = nil
	}

	res := &resources{node: b.node, ln: b.ln}
	links := make([]transport.Link, id.Size)
	for r := range id.Size {
		var l transport.Link
		switch {
		case r == id.Rank:
			continue
		case shmWith[r]:
			l = b.node.Link(r)
		default:
			l = b.tcpL[r]
		}
		if l == nil {
			return nil, fmt.Errorf("%w: no link to rank %d", transport.ErrInvalid, r)
		}
		res.left++
		links[r] = &ownedLink{Link: l, res: res}
	}
	copts := b.opts.Comm
	if copts.NodeRanks == nil {
		copts.NodeRanks = nodeRanks
	}
	comm, err := transport.NewComm(id.Rank, id.Size, links, bell, copts)
	if err != nil {
		return nil, err
	}
	// The Comm owns the links, the links own the node and the listener.
	b.node, b.ln, b.tcpL = nil, nil, nil
	if err := comm.Barrier(ctx); err != nil {
		comm.Close()
		return nil, fmt.Errorf("first barrier: %w", err)
	}
	// Every rank has read every card: the rendezvous can go.
	b.ex.close(nil)
	b.ex = nil
	return comm, nil
}

// resources are what the links of a Comm made by Init share: the shm node
// and the TCP listener, released when the Comm has closed its last link.
type resources struct {
	mu   sync.Mutex
	left int
	node *shm.Node
	ln   *tcp.Listener
}

func (r *resources) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.left--
	if r.left != 0 {
		return
	}
	if r.node != nil {
		r.node.Close()
	}
	if r.ln != nil {
		r.ln.Close()
	}
}

// ownedLink is a link that releases the shared resources when closed.
type ownedLink struct {
	transport.Link
	res  *resources
	once sync.Once
}

// Unwrap returns the link inside, so that the Comm finds the optional
// interfaces it has (transport.Poller: spinning on the link itself).
func (l *ownedLink) Unwrap() transport.Link { return l.Link }

func (l *ownedLink) Close() error {
	err := l.Link.Close()
	l.once.Do(l.res.release)
	return err
}
