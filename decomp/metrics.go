package decomp

import (
	"fmt"
	"slices"
)

// Metrics measures a decomposition: balance, surface, connectivity and the
// halo traffic it implies for a given halo spec and set of fields.
type Metrics struct {
	Ranks     int
	Cells     []int   // cells per rank
	MeanCells float64 // grid cells / ranks
	MaxCells  int
	// Imbalance is MaxCells / MeanCells (1 is perfect).
	Imbalance float64

	// CutFaces counts unit faces between cells of different ranks, each
	// once, including faces across periodic boundaries.
	CutFaces int
	// RankCut[r] counts the cut faces on rank r's surface.
	RankCut    []int
	MaxRankCut int
	// IntraNodeCut and InterNodeCut split CutFaces by whether the two ranks
	// share a node (Decomposition.Node).
	IntraNodeCut, InterNodeCut int

	Components []int // face-connected components per rank (1 is connected)
	BoxCount   []int // boxes per rank

	// Halo traffic for the spec: per rank, the ghost cells it receives from
	// other ranks (local copies excluded), the bytes for Fields fields of
	// ScalarBytes each, the number of peers it receives from, and the
	// volume per peer.
	Fields, ScalarBytes int
	Neighbours          []int
	HaloCells           []int
	HaloBytes           []int64
	PerPeer             [][]PeerVolume
	// Totals of HaloBytes split by whether sender and receiver share a node.
	HaloBytesIntra, HaloBytesInter int64
}

// PeerVolume is the halo volume one rank receives from one peer.
type PeerVolume struct {
	Peer     int
	Cells    int
	Bytes    int64
	SameNode bool
}

// Metrics computes the metrics of d for halo spec h with fields fields of
// scalarBytes bytes each.
//
// Cut faces and components come from the boxes, not the cells: each box
// looks at the one-cell slab just above each of its three high faces
// (wrapped across periodic boundaries) and measures its overlap with other
// boxes, so every unit face is seen once, from the cell below it. The cost
// is O(boxes · (log boxes + neighbours)) whatever the grid size. Components
// count face-connected pieces inside the grid (not through periodic wrap).
// Halo traffic is Transfers(h) with local copies (Src == Dst) left out,
// computed one receiving rank at a time.
func (d *Decomposition) Metrics(h HaloSpec, fields, scalarBytes int) (*Metrics, error) {
	if err := d.checkHalo(h); err != nil {
		return nil, err
	}
	if fields < 0 || scalarBytes < 0 {
		return nil, fmt.Errorf("%w: %d fields of %d bytes", ErrInvalid, fields, scalarBytes)
	}
	g := d.Grid
	nr := d.Ranks()
	m := &Metrics{
		Ranks:       nr,
		Cells:       make([]int, nr),
		MeanCells:   float64(g.Cells()) / float64(nr),
		RankCut:     make([]int, nr),
		Components:  make([]int, nr),
		BoxCount:    make([]int, nr),
		Fields:      fields,
		ScalarBytes: scalarBytes,
		Neighbours:  make([]int, nr),
		HaloCells:   make([]int, nr),
		HaloBytes:   make([]int64, nr),
		PerPeer:     make([][]PeerVolume, nr),
	}
	for r := range nr {
		m.Cells[r] = d.Cells(r)
		m.MaxCells = max(m.MaxCells, m.Cells[r])
		m.BoxCount[r] = len(d.Boxes[r])
	}
	m.Imbalance = float64(m.MaxCells) / m.MeanCells

	d.surface(m)

	var sc regionScratch
	var recv []Transfer
	peerCells := make([]int, nr)
	var peers []int
	perCell := int64(fields) * int64(scalarBytes)
	for dst := range nr {
		recv = recv[:0]
		for i := range d.Boxes[dst] {
			recv = d.appendRecvBox(recv, &sc, h, dst, i)
		}
		peers = peers[:0]
		for _, t := range recv {
			if t.Src == dst {
				continue
			}
			if peerCells[t.Src] == 0 {
				peers = append(peers, t.Src)
			}
			peerCells[t.Src] += t.SrcBox.Cells()
		}
		slices.Sort(peers)
		if len(peers) > 0 {
			m.PerPeer[dst] = make([]PeerVolume, 0, len(peers))
		}
		for _, p := range peers {
			v := PeerVolume{Peer: p, Cells: peerCells[p], Bytes: int64(peerCells[p]) * perCell, SameNode: d.Node(p) == d.Node(dst)}
			peerCells[p] = 0
			m.PerPeer[dst] = append(m.PerPeer[dst], v)
			m.HaloCells[dst] += v.Cells
			m.HaloBytes[dst] += v.Bytes
			if v.SameNode {
				m.HaloBytesIntra += v.Bytes
			} else {
				m.HaloBytesInter += v.Bytes
			}
		}
		m.Neighbours[dst] = len(peers)
	}
	return m, nil
}

// surface fills the cut faces and components of m.
func (d *Decomposition) surface(m *Metrics) {
	g := d.Grid
	uf := newUnionFind(d.index.base[d.Ranks()])
	var hits []boxHit
	for r, bs := range d.Boxes {
		for i, b := range bs {
			id := d.index.globalID(r, i)
			for a := range 3 {
				// The slab of cells just above face a of b; its cells are the
				// + neighbours of b's top layer.
				at, wrapped := b.Hi[a], false
				if at == g.Dims[a] {
					if !g.Periodic[a] {
						continue
					}
					at, wrapped = 0, true
				}
				slab := b
				slab.Lo[a], slab.Hi[a] = at, at+1
				hits = d.index.query(slab, hits[:0])
				for _, hit := range hits {
					if hit.rank == r {
						// Same rank: no cut; a shared face inside the grid
						// joins the two boxes (a box wrapping onto itself, on
						// a periodic axis one cell thick, included harmlessly).
						if !wrapped {
							uf.union(id, hit.id)
						}
						continue
					}
					area := hit.cells.Cells()
					m.CutFaces += area
					m.RankCut[r] += area
					m.RankCut[hit.rank] += area
					if d.Node(r) == d.Node(hit.rank) {
						m.IntraNodeCut += area
					} else {
						m.InterNodeCut += area
					}
				}
			}
		}
	}
	for r := range d.Ranks() {
		m.MaxRankCut = max(m.MaxRankCut, m.RankCut[r])
		for i := range d.Boxes[r] {
			id := d.index.globalID(r, i)
			if uf.find(id) == id {
				m.Components[r]++
			}
		}
	}
}

// unionFind is a disjoint-set forest over 0..n-1 (union by size, path
// halving).
type unionFind struct {
	parent []int32
	size   []int32
}

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int32, n), size: make([]int32, n)}
	for i := range u.parent {
		u.parent[i] = int32(i)
		u.size[i] = 1
	}
	return u
}

func (u *unionFind) find(x int) int {
	for int(u.parent[x]) != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = int(u.parent[x])
	}
	return x
}

func (u *unionFind) union(x, y int) {
	x, y = u.find(x), u.find(y)
	if x == y {
		return
	}
	if u.size[x] < u.size[y] {
		x, y = y, x
	}
	u.parent[y] = int32(x)
	u.size[x] += u.size[y]
}
