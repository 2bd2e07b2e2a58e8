package scaling

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/hilo-hpc/hilo/decomp"
)

// ErrFit is wrapped by every error about data a model cannot be fitted to.
var ErrFit = errors.New("scaling: cannot fit")

// A Sample is one measured message: its size and the one-way time (half a
// ping-pong round trip), in seconds.
type Sample struct {
	Bytes   int
	Seconds float64
}

// A LinkModel gives the one-way time in seconds of a message of n bytes.
type LinkModel interface {
	Time(n int) float64
}

// Link is the classic model of a link: Alpha seconds of latency, then Beta
// bytes per second.
type Link struct {
	Alpha float64 // seconds
	Beta  float64 // bytes per second
}

// Time is Alpha + n/Beta.
func (l Link) Time(n int) float64 { return l.Alpha + float64(n)/l.Beta }

func (l Link) String() string {
	return fmt.Sprintf("α=%.2f µs β=%.0f MB/s", l.Alpha*1e6, l.Beta/1e6)
}

// FitLink fits α + n/β to samples by least squares on the relative error,
// so that small messages (latency) and large ones (bandwidth) weigh alike.
// It needs two distinct sizes and positive times; a negative α is clamped
// to 0 (and β refitted), as is a non-positive slope (a link whose time did
// not grow with size is reported as infinitely fast: Beta = +Inf).
func FitLink(samples []Sample) (Link, error) {
	sizes := map[int]bool{}
	for _, s := range samples {
		if s.Bytes < 0 || !(s.Seconds > 0) || math.IsInf(s.Seconds, 0) {
			return Link{}, fmt.Errorf("%w: sample %d B in %g s", ErrFit, s.Bytes, s.Seconds)
		}
		sizes[s.Bytes] = true
	}
	if len(sizes) < 2 {
		return Link{}, fmt.Errorf("%w: %d distinct message sizes (want 2)", ErrFit, len(sizes))
	}
	// Minimise Σ w (α + γ n - t)², w = 1/t²; γ = 1/β.
	var sw, sn, snn, st, snt float64
	for _, s := range samples {
		w := 1 / (s.Seconds * s.Seconds)
		n := float64(s.Bytes)
		sw += w
		sn += w * n
		snn += w * n * n
		st += w * s.Seconds
		snt += w * n * s.Seconds
	}
	det := sw*snn - sn*sn
	alpha := (snn*st - sn*snt) / det
	gamma := (sw*snt - sn*st) / det
	if alpha < 0 {
		alpha, gamma = 0, snt/snn
	}
	if gamma <= 0 {
		gamma = 0
		alpha = st / sw
	}
	return Link{Alpha: alpha, Beta: 1 / gamma}, nil
}

// Piecewise interpolates measured one-way times linearly in message size
// between the measured sizes; below the smallest it takes the smallest's
// time, above the largest it goes on at the slope of the last segment (or
// of Tail, if Tail.Beta is set).
type Piecewise struct {
	Bytes   []int     // ascending
	Seconds []float64 // the time at each size
	Tail    Link
}

// NewPiecewise sorts samples by size (the median of repeated sizes).
func NewPiecewise(samples []Sample) (*Piecewise, error) {
	by := map[int][]float64{}
	for _, s := range samples {
		if s.Bytes < 0 || !(s.Seconds > 0) {
			return nil, fmt.Errorf("%w: sample %d B in %g s", ErrFit, s.Bytes, s.Seconds)
		}
		by[s.Bytes] = append(by[s.Bytes], s.Seconds)
	}
	if len(by) == 0 {
		return nil, fmt.Errorf("%w: no samples", ErrFit)
	}
	p := &Piecewise{}
	for n := range by {
		p.Bytes = append(p.Bytes, n)
	}
	slices.Sort(p.Bytes)
	for _, n := range p.Bytes {
		p.Seconds = append(p.Seconds, median(by[n]))
	}
	return p, nil
}

// Time interpolates.
func (p *Piecewise) Time(n int) float64 {
	i, _ := slices.BinarySearch(p.Bytes, n)
	switch {
	case i == 0:
		return p.Seconds[0]
	case i < len(p.Bytes):
		a, b := p.Bytes[i-1], p.Bytes[i]
		f := float64(n-a) / float64(b-a)
		return p.Seconds[i-1] + f*(p.Seconds[i]-p.Seconds[i-1])
	}
	last := len(p.Bytes) - 1
	slope := 0.0
	if p.Tail.Beta > 0 {
		slope = 1 / p.Tail.Beta
	} else if last > 0 {
		slope = (p.Seconds[last] - p.Seconds[last-1]) / float64(p.Bytes[last]-p.Bytes[last-1])
	}
	return p.Seconds[last] + max(slope, 0)*float64(n-p.Bytes[last])
}

// ReadPingpong reads the output of `hilo bench pingpong -json`: one JSON
// object per line, {"bytes": n, "latency_us": t, ...}, t one-way.
func ReadPingpong(r io.Reader) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var row struct {
			Bytes     *int     `json:"bytes"`
			LatencyUS *float64 `json:"latency_us"`
		}
		if err := json.Unmarshal([]byte(text), &row); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrFit, line, err)
		}
		if row.Bytes == nil || row.LatencyUS == nil || *row.Bytes < 0 || !(*row.LatencyUS > 0) || math.IsInf(*row.LatencyUS, 0) {
			return nil, fmt.Errorf("%w: line %d: want bytes >= 0 and latency_us > 0", ErrFit, line)
		}
		out = append(out, Sample{Bytes: *row.Bytes, Seconds: *row.LatencyUS / 1e6})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFit, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no rows", ErrFit)
	}
	return out, nil
}

// A Msg is one message a rank receives every step.
type Msg struct {
	Peer, Bytes int  // Bytes includes the 8-byte header
	Remote      bool // from another node (TCP), else shared memory
}

// RankLoad is one rank's work per step.
type RankLoad struct {
	Cells int // cells it updates
	// Rows is the number of x rows it updates, in rows of all six
	// components: solvers/fdtd updates each box in one piece while its
	// messages fly and the cells next to a received face after; next to
	// an x face that leaves rows one cell long, half a row each (E or H).
	Rows float64
	Recv []Msg
}

// A Workload is every rank's work per step.
type Workload []RankLoad

// PayloadBytes is the halo payload per step over all ranks (headers left
// out), split by whether it crosses nodes.
func (w Workload) PayloadBytes() (intra, inter int64) {
	for _, r := range w {
		for _, m := range r.Recv {
			if m.Remote {
				inter += int64(m.Bytes - headerBytes)
			} else {
				intra += int64(m.Bytes - headerBytes)
			}
		}
	}
	return intra, inter
}

// headerBytes is halo's per-message header.
const headerBytes = 8

// FDTDWorkload is the per-step work of solvers/fdtd's float64 solver on d:
// every rank updates its cells and receives one E and one H message from
// each peer it shares a cut face with. node maps a rank to its node (nil:
// all ranks on one node).
//
// Each ghost face slab of the solver carries exactly two components (the
// tangential ones: Ex and Ez on the y+ slab, ...), so rather than the six
// specs of FDTDSpecs it counts the cells of two: the upper faces (E) and
// the lower faces (H), 16 bytes per cell.
func FDTDWorkload(d *decomp.Decomposition, node func(rank int) int) (Workload, error) {
	var upper, lower decomp.HaloSpec
	for a := range 3 {
		upper.Width[a][1], lower.Width[a][0] = 1, 1
	}
	upper.Stencil, lower.Stencil = decomp.Faces, decomp.Faces
	return planWorkload(d, node, []planSpec{{[]decomp.HaloSpec{upper}, 16}, {[]decomp.HaloSpec{lower}, 16}}, true)
}

// HaloWorkload is the per-step work of exchanging fields float64 fields
// with a halo of width 1 over faces, in one plan, with no compute.
func HaloWorkload(d *decomp.Decomposition, node func(rank int) int, fields int) (Workload, error) {
	if fields < 1 {
		return nil, fmt.Errorf("%w: %d fields", decomp.ErrInvalid, fields)
	}
	return planWorkload(d, node, []planSpec{{[]decomp.HaloSpec{decomp.UniformHalo(1, decomp.Faces)}, 8 * fields}}, false)
}

// planSpec is one halo plan: its fields' specs (each cell of a spec's
// regions weighing cellBytes).
type planSpec struct {
	specs     []decomp.HaloSpec
	cellBytes int
}

// planWorkload counts, for each rank and each plan, the bytes it receives
// from each peer.
func planWorkload(d *decomp.Decomposition, node func(int) int, plans []planSpec, compute bool) (Workload, error) {
	if node == nil {
		node = func(int) int { return 0 }
	}
	p := d.Ranks()
	w := make(Workload, p)
	bytes := make([]int, p)
	var peers []int
	for r := range p {
		if compute {
			w[r].Cells = d.Cells(r)
			for _, b := range d.Boxes[r] {
				w[r].Rows += float64((b.Hi[1] - b.Lo[1]) * (b.Hi[2] - b.Lo[2]))
			}
		}
		for _, plan := range plans {
			peers = peers[:0]
			for _, spec := range plan.specs {
				ts, err := d.RecvTransfers(spec, r)
				if err != nil {
					return nil, err
				}
				for _, t := range ts {
					if t.Src == r {
						continue
					}
					if own := d.Boxes[r][t.DstOwnBox]; compute && (t.DstBox.Lo[0] >= own.Hi[0] || t.DstBox.Hi[0] <= own.Lo[0]) {
						w[r].Rows += 0.5 * float64(t.DstBox.Cells()) // an x face: rows of one cell
					}
					if bytes[t.Src] == 0 {
						peers = append(peers, t.Src)
					}
					bytes[t.Src] += plan.cellBytes * t.DstBox.Cells()
				}
			}
			slices.Sort(peers)
			for _, q := range peers {
				w[r].Recv = append(w[r].Recv, Msg{Peer: q, Bytes: bytes[q] + headerBytes, Remote: node(q) != node(r)})
				bytes[q] = 0
			}
		}
	}
	return w, nil
}

// A Machine is what the model knows of the hardware.
type Machine struct {
	Shm, TCP LinkModel // within a node; between nodes
	// CellRate is cell updates per second of one rank alone on the
	// machine; CellRateBusy the same per core with every core busy (cores
	// that share caches, memory bandwidth or, on a VM, a physical core
	// update fewer cells each). 0: CellRate. The busy rate applies when
	// the ranks fill the cores (always, with Cores 0).
	CellRate, CellRateBusy float64
	// CellTime and RowTime, if CellTime is set, replace both: a rank's
	// compute is Cells x CellTime + Rows x RowTime (short x rows cost
	// more per cell).
	CellTime, RowTime float64
	// Cores is the number of cores all the job's ranks share (this
	// machine: 2, even for the two-node test bed, whose "nodes" share
	// them; less what other processes take); 0 means a core per rank.
	Cores float64
	// Wake is the CPU time a message costs its receiver when ranks
	// outnumber cores: the receiver has gone to sleep on a futex and must
	// be woken and switched in (18-60 µs on the test VM).
	Wake float64
}

// A Prediction is the modelled time of one step.
type Prediction struct {
	Seconds float64 // time per step
	// The slowest rank's compute and communication per step (before
	// sharing cores).
	Compute, Comm float64
	Slowest       int
	// Shared is the factor by which ranks sharing cores slow the step
	// (1 with a core per rank).
	Shared float64
}

// Predict models a step as the slowest rank's compute (its cells at
// CellRate) plus communication (per message received, the link's one-way
// time for its bytes, shared memory or TCP). When ranks outnumber cores, the
// step cannot take less than all the CPU work divided by the cores: every
// rank's compute, each message's link time at both ends, and a wake-up per
// message.
func (m Machine) Predict(w Workload) Prediction {
	var pr Prediction
	var total float64
	msgs := 0
	busy := m.Cores == 0 || float64(len(w)) >= m.Cores
	rate := m.CellRate
	if m.CellRateBusy > 0 && busy {
		rate = m.CellRateBusy
	}
	for r, load := range w {
		msgs += len(load.Recv)
		compute := 0.0
		switch {
		case m.CellTime > 0:
			compute = float64(load.Cells)*m.CellTime + load.Rows*m.RowTime
		case rate > 0:
			compute = float64(load.Cells) / rate
		}
		comm := 0.0
		for _, msg := range load.Recv {
			link := m.Shm
			if msg.Remote {
				link = m.TCP
			}
			comm += link.Time(msg.Bytes)
		}
		// Both ends spend CPU on a message (pack or write, read or
		// unpack): when ranks share cores, each counts twice.
		total += compute + 2*comm
		if t := compute + comm; t > pr.Compute+pr.Comm || r == 0 {
			pr.Compute, pr.Comm, pr.Slowest = compute, comm, r
		}
	}
	pr.Seconds, pr.Shared = pr.Compute+pr.Comm, 1
	if m.Cores > 0 && float64(len(w)) > m.Cores {
		if shared := (total + m.Wake*float64(msgs)) / m.Cores; shared > pr.Seconds {
			pr.Shared = shared / pr.Seconds
			pr.Seconds = shared
		}
	}
	return pr
}

// WeakGrid grows base (the grid of a run on p0 ranks) to the grid of a run
// on p ranks with the same cells per rank: p/p0 must be a whole number, and
// each of its prime factors, largest first, multiplies the shortest axis.
func WeakGrid(base [3]int, p0, p int) ([3]int, error) {
	if p0 < 1 || p < p0 || p%p0 != 0 {
		return base, fmt.Errorf("%w: weak scaling from %d to %d ranks (want a multiple)", decomp.ErrInvalid, p0, p)
	}
	var primes []int
	for f, k := 2, p/p0; k > 1; {
		if k%f == 0 {
			primes = append(primes, f)
			k /= f
		} else {
			f++
		}
	}
	g := base
	for i := len(primes) - 1; i >= 0; i-- {
		a := 0
		for j := 1; j < 3; j++ {
			if g[j] < g[a] {
				a = j
			}
		}
		g[a] *= primes[i]
	}
	return g, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Median is the median of v (0 for none).
func Median(v []float64) float64 { return median(v) }

// FitCompute fits CellTime and RowTime to step times of 1-rank runs: the
// least-squares solution of cells·c + rows·r = seconds, weighted by relative
// error, with r clamped at 0.
func FitCompute(cells, rows, seconds []float64) (cellTime, rowTime float64, err error) {
	if len(cells) < 2 || len(rows) != len(cells) || len(seconds) != len(cells) {
		return 0, 0, fmt.Errorf("%w: %d runs (want 2 or more)", ErrFit, len(cells))
	}
	var aa, ab, bb, at, bt float64
	for i := range cells {
		if !(seconds[i] > 0) || !(cells[i] > 0) || rows[i] < 0 {
			return 0, 0, fmt.Errorf("%w: run %d: %g cells, %g rows in %g s", ErrFit, i, cells[i], rows[i], seconds[i])
		}
		w := 1 / (seconds[i] * seconds[i])
		a, b, t := cells[i], rows[i], seconds[i]
		aa, ab, bb, at, bt = aa+w*a*a, ab+w*a*b, bb+w*b*b, at+w*a*t, bt+w*b*t
	}
	det := aa*bb - ab*ab
	if det > 0 {
		cellTime, rowTime = (at*bb-ab*bt)/det, (aa*bt-ab*at)/det
	}
	if det <= 0 || rowTime < 0 || cellTime <= 0 {
		cellTime, rowTime = at/aa, 0
	}
	return cellTime, rowTime, nil
}
