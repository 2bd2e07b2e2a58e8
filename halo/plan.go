package halo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hilo-hpc/hilo/internal/streamcopy"
	"github.com/hilo-hpc/hilo/transport"
)

// DefaultChannelID is the persistent channel id a Plan uses unless
// PlanOptions.ChannelID says otherwise ("halo" in ASCII).
const DefaultChannelID = 0x68616c6f

// PlanOptions tune a Plan.
type PlanOptions struct {
	// ChannelID is the id of the plan's persistent channels (one per peer and
	// direction). Two plans alive at once on one Comm need different ids;
	// 0 means DefaultChannelID.
	ChannelID uint32
	// Slots is the number of slots per channel (0 means 2: a sender can pack
	// step n+1 while the receiver still unpacks step n).
	Slots int
}

// A group is the spans of one field within one message.
type group struct {
	f     AnyField
	spans []span
}

type peerPlan struct {
	peer                 int
	send                 *transport.SendChannel
	recv                 *transport.RecvChannel
	sendBytes, recvBytes int
	sendHash, recvHash   uint32
	sendGroups           []group
	recvGroups           []group
	stats                PeerStats
	// stream: pack with non-temporal stores, because the slot is shared
	// memory that another process's core reads (see package streamcopy).
	stream bool
}

// A localCopy is one local copy (dst <- src), or two of the same field and
// shape fused into one pass over their rows (paired: also dst2 <- src2).
type localCopy struct {
	f          AnyField
	dst, src   span
	paired     bool
	dst2, src2 span
}

// A Plan exchanges the ghost layers of a set of fields, every step, over
// persistent channels sized once: Start packs and sends, Wait receives and
// unpacks. It is used by one goroutine at a time.
type Plan struct {
	comm   *transport.Comm
	fields []AnyField
	layout *Layout
	peers  []peerPlan
	sends  []*peerPlan // peers this rank sends to
	recvs  []*peerPlan // peers this rank receives from
	local  []localCopy

	seq      uint32
	starting bool  // Start began this step and may resume at nextSend
	started  bool  // Start finished; Wait is due
	nextSend int   // index in sends of the next message Start packs
	nextRecv int   // index in recvs of the next message Wait takes
	failed   error // sticky: the plan is unusable after it

	exchanges   uint64
	localTime   time.Duration
	bytesPerExS int
	bytesPerExR int
}

// NewPlan builds the plan of this rank (comm.Rank()) for fields, which must
// all live on that rank of one decomposition with comm.Size() ranks. Every
// rank builds its plan with the same fields in the same order (specs and
// element types included) and the same options: the plans open their
// channels together and check each other's messages.
func NewPlan(ctx context.Context, comm *transport.Comm, opts PlanOptions, fields ...AnyField) (*Plan, error) {
	if comm == nil {
		return nil, fmt.Errorf("%w: nil Comm", ErrInvalid)
	}
	lay, err := NewLayout(fields...)
	if err != nil {
		return nil, err
	}
	b := fields[0].base()
	if comm.Rank() != b.rank || comm.Size() != b.d.Ranks() {
		return nil, fmt.Errorf("%w: fields are on rank %d of %d, Comm is rank %d of %d",
			ErrInvalid, b.rank, b.d.Ranks(), comm.Rank(), comm.Size())
	}
	if opts.ChannelID == 0 {
		opts.ChannelID = DefaultChannelID
	}
	if opts.Slots == 0 {
		opts.Slots = 2
	}
	if opts.Slots < 0 {
		return nil, fmt.Errorf("%w: %d slots", ErrInvalid, opts.Slots)
	}
	p := &Plan{comm: comm, fields: fields, layout: lay, peers: make([]peerPlan, len(lay.Peers))}
	var specs []transport.ChannelSpec
	var specPeer []int
	for i, pl := range lay.Peers {
		pp := &p.peers[i]
		pp.peer = pl.Peer
		pp.sendBytes, pp.recvBytes = pl.SendBytes, pl.RecvBytes
		pp.sendHash, pp.recvHash = pl.SendHash, pl.RecvHash
		pp.sendGroups = groups(fields, pl.Send, true)
		pp.recvGroups = groups(fields, pl.Recv, true)
		pp.stats = PeerStats{Peer: pl.Peer, Kind: comm.LinkKind(pl.Peer)}
		pp.stream = streamcopy.Available && pp.stats.Kind == "shm"
		if pl.SendBytes > 0 {
			specs = append(specs, transport.ChannelSpec{Peer: pl.Peer, ID: opts.ChannelID, SlotBytes: pl.SendBytes, Slots: opts.Slots, Send: true})
			specPeer = append(specPeer, i)
			p.sends = append(p.sends, pp)
			p.bytesPerExS += pl.SendBytes
		}
		if pl.RecvBytes > 0 {
			specs = append(specs, transport.ChannelSpec{Peer: pl.Peer, ID: opts.ChannelID, SlotBytes: pl.RecvBytes, Slots: opts.Slots})
			specPeer = append(specPeer, i)
			p.recvs = append(p.recvs, pp)
			p.bytesPerExR += pl.RecvBytes
		}
	}
	p.local = localCopies(fields, lay.Local)
	if len(specs) > 0 {
		sends, recvs, err := comm.OpenChannels(ctx, specs)
		if err != nil {
			return nil, fmt.Errorf("halo: rank %d opening channels: %w", comm.Rank(), err)
		}
		for i, s := range specs {
			pp := &p.peers[specPeer[i]]
			if s.Send {
				pp.send = sends[i]
			} else {
				pp.recv = recvs[i]
			}
		}
	}
	return p, nil
}

// localCopies lays out the local copies, pairing copies of one field whose
// rows are short (x-normal faces, such as the two sides of a periodic wrap
// along x) and of the same shape, so that one pass over the rows does both.
// The pairs are independent: a copy's source cells are interior cells,
// which no local copy writes.
func localCopies(fields []AnyField, cs []Copy) []localCopy {
	out := make([]localCopy, 0, len(cs))
	used := make([]bool, len(cs))
	mk := func(c Copy) (dst, src span) {
		f := fields[c.Field]
		return makeSpan(f.blockGeom(c.DstBlock), c.DstBlock, c.Dst, 0, false),
			makeSpan(f.blockGeom(c.SrcBlock), c.SrcBlock, c.Src, 0, false)
	}
	for i, c := range cs {
		if used[i] {
			continue
		}
		lc := localCopy{f: fields[c.Field]}
		lc.dst, lc.src = mk(c)
		if lc.src.nx < shortRun {
			for j := i + 1; j < len(cs); j++ {
				c2 := cs[j]
				if used[j] || c2.Field != c.Field || c2.Src.Dims() != c.Src.Dims() || overlaps(c, c2) {
					continue
				}
				used[j] = true
				lc.paired = true
				lc.dst2, lc.src2 = mk(c2)
				break
			}
		}
		out = append(out, lc)
	}
	return out
}

// overlaps reports whether either copy writes cells the other reads (never
// so for copies that read interior cells only; checked all the same, as the
// pass would then depend on the order of the cells).
func overlaps(a, b Copy) bool {
	return (a.DstBlock == b.SrcBlock && !a.Dst.Intersect(b.Src).Empty()) ||
		(b.DstBlock == a.SrcBlock && !b.Dst.Intersect(a.Src).Empty()) ||
		(a.DstBlock == b.DstBlock && !a.Dst.Intersect(b.Dst).Empty())
}

// groups turns the regions of one message into per-field lists of spans.
// Two regions in a row of one field and block with the same short-row shape
// (the two x-normal faces a rank sends to a peer that is its neighbour on
// both sides, across a periodic axis) are marked to be copied in one pass
// over their rows.
func groups(fields []AnyField, regs []Region, merge bool) []group {
	var out []group
	var prev Region
	for _, r := range regs {
		f := fields[r.Field]
		if len(out) == 0 || out[len(out)-1].f != f {
			out = append(out, group{f: f})
		}
		g := &out[len(out)-1]
		s := makeSpan(f.blockGeom(r.Block), r.Block, r.Box, r.Offset, merge)
		if n := len(g.spans); n > 0 && !g.spans[n-1].pairNext && (n < 2 || !g.spans[n-2].pairNext) &&
			pairable(g.spans[n-1], s) && prev.Box.Intersect(r.Box).Empty() {
			g.spans[n-1].pairNext = true
		}
		g.spans = append(g.spans, s)
		prev = r
	}
	return out
}

// pairable reports whether spans a and b can be copied in one pass over
// their rows: the same block, shape and strides, and rows too short for a
// run copy, so that walking both at once saves a pass over the rows' cache
// lines.
func pairable(a, b span) bool {
	return a.block == b.block && a.nx == b.nx && a.ny == b.ny && a.nz == b.nz &&
		a.sy == b.sy && a.sz == b.sz && a.nx < shortRun
}

// Layout is the plan's layout: its messages and local copies.
func (p *Plan) Layout() *Layout { return p.layout }

// Fields are the plan's fields, in the order given to NewPlan.
func (p *Plan) Fields() []AnyField { return p.fields }

// Comm is the Comm the plan exchanges over.
func (p *Plan) Comm() *transport.Comm { return p.comm }

// Start packs the ghost data every peer needs straight into the claimed slot
// of its channel and publishes it, then does the local copies. If ctx
// expires while Start waits for a free slot, it returns an error and may be
// called again to send the rest of the step.
//
// Once Start returns, the caller may update every cell that is not a ghost
// cell (what was sent is already in the slots); ghost cells must stay
// untouched until Wait returns.
func (p *Plan) Start(ctx context.Context) error {
	if p.failed != nil {
		return p.failed
	}
	if p.started {
		return fmt.Errorf("%w: Start twice without Wait", ErrState)
	}
	if !p.starting {
		p.seq++
		p.nextSend = 0
		p.starting = true
	}
	// One clock reading per phase boundary: the end of one peer's pack is
	// the start of the next one's claim.
	t0 := time.Now()
	for p.nextSend < len(p.sends) {
		pp := p.sends[p.nextSend]
		slot, err := pp.send.Claim(ctx)
		if err != nil {
			err = fmt.Errorf("halo: rank %d claiming slot for peer %d: %w", p.comm.Rank(), pp.peer, err)
			if resumable(ctx, err) {
				return err // Start again to send the rest of this step
			}
			return p.fail(err)
		}
		t1 := time.Now()
		if len(slot) < pp.sendBytes {
			return p.fail(fmt.Errorf("%w: slot of %d bytes for a %d-byte message to peer %d", ErrMismatch, len(slot), pp.sendBytes, pp.peer))
		}
		slot = slot[:pp.sendBytes]
		binary.LittleEndian.PutUint32(slot[0:], pp.sendHash)
		binary.LittleEndian.PutUint32(slot[4:], p.seq)
		al := aligned8(slot)
		for _, g := range pp.sendGroups {
			g.f.pack(slot, g.spans, al, pp.stream)
		}
		if pp.stream {
			streamcopy.Fence() // the message's bytes before Commit's publishing store
		}
		if err := pp.send.Commit(pp.sendBytes); err != nil {
			return p.fail(fmt.Errorf("halo: rank %d committing to peer %d: %w", p.comm.Rank(), pp.peer, err))
		}
		t2 := time.Now()
		st := &pp.stats
		st.Wait += t1.Sub(t0)
		st.Pack += t2.Sub(t1)
		st.BytesSent += uint64(pp.sendBytes)
		st.MsgsSent++
		p.nextSend++
		t0 = t2
	}
	if len(p.local) > 0 {
		for i := range p.local {
			c := &p.local[i]
			c.f.copyLocal(c)
		}
		p.localTime += time.Since(t0)
	}
	p.starting = false
	p.started = true
	p.nextRecv = 0
	return nil
}

// Wait takes every peer's message from its channel, unpacks it straight
// into the ghost cells and releases the slot. If ctx expires, Wait returns
// an error and may be called again to finish the step.
func (p *Plan) Wait(ctx context.Context) error {
	if p.failed != nil {
		return p.failed
	}
	if !p.started {
		return fmt.Errorf("%w: Wait without Start", ErrState)
	}
	t0 := time.Now()
	for p.nextRecv < len(p.recvs) {
		pp := p.recvs[p.nextRecv]
		data, err := pp.recv.Acquire(ctx)
		if err != nil {
			err = fmt.Errorf("halo: rank %d waiting for peer %d: %w", p.comm.Rank(), pp.peer, err)
			if resumable(ctx, err) {
				return err // nothing was taken from the channel: Wait again
			}
			return p.fail(err)
		}
		t1 := time.Now()
		if len(data) != pp.recvBytes {
			return p.fail(fmt.Errorf("%w: rank %d got %d bytes from peer %d, expected %d", ErrMismatch, p.comm.Rank(), len(data), pp.peer, pp.recvBytes))
		}
		if h, s := binary.LittleEndian.Uint32(data[0:]), binary.LittleEndian.Uint32(data[4:]); h != pp.recvHash || s != p.seq {
			return p.fail(fmt.Errorf("%w: rank %d from peer %d: layout hash %#x sequence %d, expected %#x and %d",
				ErrMismatch, p.comm.Rank(), pp.peer, h, s, pp.recvHash, p.seq))
		}
		al := aligned8(data)
		for _, g := range pp.recvGroups {
			g.f.unpack(data, g.spans, al)
		}
		if err := pp.recv.Release(); err != nil {
			return p.fail(fmt.Errorf("halo: rank %d releasing slot of peer %d: %w", p.comm.Rank(), pp.peer, err))
		}
		t2 := time.Now()
		st := &pp.stats
		st.Wait += t1.Sub(t0)
		st.Unpack += t2.Sub(t1)
		st.BytesRecv += uint64(pp.recvBytes)
		st.MsgsRecv++
		p.nextRecv++
		t0 = t2
	}
	p.started = false
	p.exchanges++
	return nil
}

// resumable reports whether err only means that ctx ran out: the channel
// is untouched and the call can be repeated.
func resumable(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, transport.ErrTimeout) || errors.Is(err, context.Canceled)
}

// Exchange is Start followed by Wait.
func (p *Plan) Exchange(ctx context.Context) error {
	if err := p.Start(ctx); err != nil {
		return err
	}
	return p.Wait(ctx)
}

func (p *Plan) fail(err error) error {
	p.failed = fmt.Errorf("%w (plan unusable: %w)", ErrState, err)
	return err
}

// Close closes the plan's channels. The fields stay usable.
func (p *Plan) Close() error {
	var first error
	for i := range p.peers {
		pp := &p.peers[i]
		if pp.send != nil {
			if err := pp.send.Close(); err != nil && first == nil {
				first = err
			}
		}
		if pp.recv != nil {
			if err := pp.recv.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	if p.failed == nil {
		p.failed = fmt.Errorf("%w: plan closed", ErrState)
	}
	return first
}

// PeerStats is what a plan exchanged with one peer. Bytes include the
// 8-byte message header and the padding that keeps regions 8-aligned.
type PeerStats struct {
	Peer                 int
	Kind                 string // the medium: "shm", "tcp", "inproc"
	BytesSent, BytesRecv uint64
	MsgsSent, MsgsRecv   uint64
	// Pack is the time spent packing into slots (plus Commit); Wait the time
	// spent in Claim and Acquire (waiting for a free slot or a message);
	// Unpack the time unpacking (plus Release).
	Pack, Wait, Unpack time.Duration
}

// Stats sums up a plan's exchanges so far.
type Stats struct {
	Exchanges uint64 // completed Start/Wait pairs
	// Per exchange: bytes sent and received in messages, bytes copied
	// locally, messages each way.
	SendBytes, RecvBytes, LocalBytes int
	SendMsgs, RecvMsgs               int
	// Totals over all exchanges and peers.
	Pack, Wait, Unpack, Local time.Duration
	Peers                     []PeerStats // by peer rank
}

// Stats returns the plan's statistics (it allocates the Peers slice).
func (p *Plan) Stats() Stats {
	s := Stats{
		Exchanges: p.exchanges,
		SendBytes: p.bytesPerExS, RecvBytes: p.bytesPerExR,
		SendMsgs: len(p.sends), RecvMsgs: len(p.recvs),
		Local: p.localTime,
	}
	for _, c := range p.local {
		n := c.src.elems
		if c.paired {
			n += c.src2.elems
		}
		s.LocalBytes += n * c.f.base().elemSize
	}
	for i := range p.peers {
		ps := p.peers[i].stats
		s.Pack += ps.Pack
		s.Wait += ps.Wait
		s.Unpack += ps.Unpack
		s.Peers = append(s.Peers, ps)
	}
	return s
}
