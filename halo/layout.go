package halo

import (
	"fmt"
	"slices"

	"github.com/hilo-hpc/hilo/decomp"
)

// AnyField is a Field of any element type: what a Plan exchanges. Only
// *Field[T] implements it.
type AnyField interface {
	base() fieldBase
	blockGeom(i int) blockGeom
	// pack writes the spans into msg (aligned: typed copies; else bytes;
	// stream: non-temporal stores for long runs, fence before publishing).
	pack(msg []byte, spans []span, aligned, stream bool)
	unpack(msg []byte, spans []span, aligned bool)
	copyLocal(c *localCopy)
	verifyFill(k, cells, codes int)
	verifyCheck(fi, k, cells, codes int) error
}

type fieldBase struct {
	name     string
	spec     decomp.HaloSpec
	d        *decomp.Decomposition
	rank     int
	elemSize int
}

type blockGeom struct {
	origin, sy, sz   int
	bounds, interior decomp.Box
}

// headerBytes is the size of a message header: a 32-bit hash of the layout
// of the message (so that ranks whose plans differ fail loudly instead of
// unpacking garbage) and a 32-bit exchange sequence number.
const headerBytes = 8

// A Region is one block of cells in a message: cells Box of block Block
// (index into Decomposition.Boxes[rank]) of field Field (index into the
// plan's fields), at byte Offset of the message, Bytes long. For a message
// sent, Box lies in the block's interior (grid coordinates); for a message
// received, it lies in the block's ghost layer (unwrapped coordinates).
type Region struct {
	Field, Block  int
	Box           decomp.Box
	Offset, Bytes int
}

// A PeerLayout is everything this rank exchanges with one peer: one message
// each way holding the regions of all fields, each region 8-aligned after an
// 8-byte header. A direction with no region has no message (Bytes 0).
type PeerLayout struct {
	Peer                 int
	Send, Recv           []Region
	SendBytes, RecvBytes int
	SendHash, RecvHash   uint32
}

// A Copy is a local transfer: ghost cells of one of this rank's blocks that
// another of its blocks (or the same block across a periodic wrap) owns.
type Copy struct {
	Field              int
	SrcBlock, DstBlock int
	Src, Dst           decomp.Box
}

// A Layout is what one rank exchanges for a list of fields: the messages per
// peer and the local copies. It is pure geometry, derived from the
// decomposition alone in the same way on both sides of every message.
type Layout struct {
	Rank  int
	Peers []PeerLayout // by peer rank; only peers with a message either way
	Local []Copy
}

// NewLayout computes the layout of rank's exchange of fields, which must all
// be built on the same decomposition and rank.
func NewLayout(fields ...AnyField) (*Layout, error) {
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no fields", ErrInvalid)
	}
	b0 := fields[0].base()
	d, rank := b0.d, b0.rank
	for i, f := range fields {
		if f == nil {
			return nil, fmt.Errorf("%w: field %d is nil", ErrInvalid, i)
		}
		b := f.base()
		if b.d != d || b.rank != rank {
			return nil, fmt.Errorf("%w: field %d (%q) is on rank %d of another decomposition than field 0 (rank %d)",
				ErrInvalid, i, b.name, b.rank, rank)
		}
	}
	type specTransfers struct{ send, recv []decomp.Transfer }
	cache := map[decomp.HaloSpec]specTransfers{}
	byPeer := map[int]*PeerLayout{}
	peer := func(p int) *PeerLayout {
		pl := byPeer[p]
		if pl == nil {
			pl = &PeerLayout{Peer: p, SendBytes: headerBytes, RecvBytes: headerBytes}
			byPeer[p] = pl
		}
		return pl
	}
	lay := &Layout{Rank: rank}
	sendHash, recvHash := map[int]*fnvState{}, map[int]*fnvState{}
	for fi, f := range fields {
		b := f.base()
		st, ok := cache[b.spec]
		if !ok {
			var err error
			if st.recv, err = d.RecvTransfers(b.spec, rank); err != nil {
				return nil, fmt.Errorf("%w: field %d: %w", ErrInvalid, fi, err)
			}
			if st.send, err = d.SendTransfers(b.spec, rank); err != nil {
				return nil, fmt.Errorf("%w: field %d: %w", ErrInvalid, fi, err)
			}
			cache[b.spec] = st
		}
		for _, t := range st.send {
			if t.Dst == rank {
				continue // a local copy: listed once, from the receiving side
			}
			pl := peer(t.Dst)
			n := t.SrcBox.Cells() * b.elemSize
			pl.Send = append(pl.Send, Region{Field: fi, Block: t.SrcOwnBox, Box: t.SrcBox, Offset: pl.SendBytes, Bytes: n})
			pl.SendBytes += align8(n)
			hashTransfer(sendHash, t.Dst, fi, b.elemSize, t)
		}
		for _, t := range st.recv {
			if t.Src == rank {
				lay.Local = append(lay.Local, Copy{Field: fi, SrcBlock: t.SrcOwnBox, DstBlock: t.DstOwnBox, Src: t.SrcBox, Dst: t.DstBox})
				continue
			}
			pl := peer(t.Src)
			n := t.DstBox.Cells() * b.elemSize
			pl.Recv = append(pl.Recv, Region{Field: fi, Block: t.DstOwnBox, Box: t.DstBox, Offset: pl.RecvBytes, Bytes: n})
			pl.RecvBytes += align8(n)
			hashTransfer(recvHash, t.Src, fi, b.elemSize, t)
		}
	}
	for p, pl := range byPeer {
		if len(pl.Send) == 0 {
			pl.SendBytes = 0
		} else {
			pl.SendHash = sendHash[p].sum()
		}
		if len(pl.Recv) == 0 {
			pl.RecvBytes = 0
		} else {
			pl.RecvHash = recvHash[p].sum()
		}
		lay.Peers = append(lay.Peers, *pl)
	}
	slices.SortFunc(lay.Peers, func(a, b PeerLayout) int { return a.Peer - b.Peer })
	return lay, nil
}

func align8(n int) int { return (n + 7) &^ 7 }

// fnvState hashes the transfers of one message (FNV-1a over their fields);
// sender and receiver feed it the same transfers in the same order.
type fnvState struct{ h uint32 }

func (s *fnvState) sum() uint32 { return s.h }

func (s *fnvState) add(v int) {
	u := uint64(v)
	for range 8 {
		s.h ^= uint32(u & 0xff)
		s.h *= 16777619
		u >>= 8
	}
}

func hashTransfer(m map[int]*fnvState, peer, fi, elemSize int, t decomp.Transfer) {
	s := m[peer]
	if s == nil {
		s = &fnvState{h: 2166136261}
		m[peer] = s
	}
	s.add(fi)
	s.add(elemSize)
	for _, b := range [2]decomp.Box{t.SrcBox, t.DstBox} {
		for a := range 3 {
			s.add(b.Lo[a])
			s.add(b.Hi[a])
		}
	}
}
