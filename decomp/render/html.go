// WriteHTML writes an interactive 3D viewer of a decomposition as one
// self-contained HTML page: the data, the script and the styles are inline,
// nothing is fetched, so the file opens offline in any browser with WebGL.
// Every rank's part is drawn as the outer surface of its boxes (faces shared
// by two boxes of one rank are subtracted away once, when the page loads, so
// a rank is one solid whatever its box count), coloured with RankColor. The
// view rotates (drag), zooms (wheel) and pans (shift-drag or right-drag); a
// click, the rank box or a row of the rank table picks a rank, which is then
// shown with its neighbours (from Metrics.PerPeer) translucent around it and
// its ghost cells (the DstBox of every block RecvTransfers lists for the
// halo spec) as a translucent shell coloured by the sending rank. A slice
// plane, swept along x, y or z with a slider, clips everything and caps the
// cut. A table lists the metrics of every rank (sortable) and follows the
// pick. The page exposes window.hiloReady, window.hiloLoadMs and
// window.hiloPick(rank) for tests; #rank=N in the URL picks rank N at load.
package render

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"

	"github.com/hilo-hpc/hilo/decomp"
)

//go:embed viewer/viewer.html
var viewerHTML string

//go:embed viewer/viewer.css
var viewerCSS string

//go:embed viewer/viewer.js
var viewerJS string

// ErrMetricsMismatch is returned when the Metrics passed to WriteHTML were
// not computed for the decomposition passed with them.
var ErrMetricsMismatch = errors.New("render: metrics do not match the decomposition")

// HTMLOptions tune WriteHTML.
type HTMLOptions struct {
	// Title heads the page; "" means DefaultTitle.
	Title string
	// Halo is the spec whose ghost cells are shown for a picked rank; it
	// should be the one the Metrics were computed with. The zero value means
	// decomp.UniformHalo(1, decomp.Faces), hilo decomp's default.
	Halo decomp.HaloSpec
	// NoHalo leaves the ghost blocks out of the page, which then shrinks by
	// about 22 bytes per block (Transfers(Halo) has one block per box face,
	// edge or corner and source rank: most of the page's bytes).
	NoHalo bool
}

// WriteHTML writes the viewer page for d to w. m may be nil: the page then
// shows the cells and boxes of each rank only, and finds neighbours from the
// ghost blocks. The file holds every box (six integers), one colour per rank,
// the per-rank metrics and, unless opt.NoHalo, the ghost blocks of every
// rank. For 1,000 ranks on a 256^3 grid (hilbert, 6,100 boxes) it is 1.2 MB
// with a 6-point halo, 3.7 MB with a 26-point one, and headless Chromium
// with software WebGL shows the first frame 0.5 to 1.2 s after it starts
// loading the file. The page is written in one pass; memory does not grow
// with it beyond one rank's ghost blocks.
func WriteHTML(w io.Writer, d *decomp.Decomposition, m *decomp.Metrics, opt HTMLOptions) error {
	if d == nil || d.Ranks() == 0 {
		return ErrNoDecomposition
	}
	if err := d.Grid.Validate(); err != nil {
		return err
	}
	nr := d.Ranks()
	if m != nil {
		if m.Ranks != nr || len(m.Cells) != nr || len(m.RankCut) != nr || len(m.Components) != nr ||
			len(m.BoxCount) != nr || len(m.Neighbours) != nr || len(m.HaloCells) != nr ||
			len(m.HaloBytes) != nr || len(m.PerPeer) != nr {
			return fmt.Errorf("%w: metrics for %d ranks, decomposition has %d", ErrMetricsMismatch, m.Ranks, nr)
		}
		for r := range nr {
			if m.Cells[r] != d.Cells(r) {
				return fmt.Errorf("%w: rank %d has %d cells, metrics say %d", ErrMetricsMismatch, r, d.Cells(r), m.Cells[r])
			}
		}
	}
	h := opt.Halo
	if h == (decomp.HaloSpec{}) {
		h = decomp.UniformHalo(1, decomp.Faces)
	}
	if err := h.Validate(); err != nil {
		return err
	}
	title := opt.Title
	if title == "" {
		title = DefaultTitle(d)
	}

	bw := bufio.NewWriterSize(w, 1<<16)
	rest := viewerHTML
	for {
		before, after, found := strings.Cut(rest, "{{")
		bw.WriteString(before)
		if !found {
			break
		}
		name, tail, ok := strings.Cut(after, "}}")
		if !ok {
			return errors.New("render: viewer template has an unclosed {{")
		}
		rest = tail
		switch name {
		case "TITLE":
			bw.WriteString(html.EscapeString(title))
		case "CSS":
			bw.WriteString(viewerCSS)
		case "JS":
			bw.WriteString(viewerJS)
		case "DATA":
			if err := writeViewerData(bw, d, m, h, title, opt.NoHalo); err != nil {
				return err
			}
		default:
			return fmt.Errorf("render: viewer template has unknown field %q", name)
		}
	}
	return bw.Flush()
}

func methodName(d *decomp.Decomposition) string {
	if d.Method == "" {
		return "by hand" // as DefaultTitle says
	}
	return d.Method
}

// writeViewerData writes the JSON object the viewer script reads. Boxes are
// six integers each (low corner, then size), rank after rank; ghost blocks
// seven (source rank, low corner, size). Strings go through encoding/json,
// which escapes <, > and &, so nothing in them can end the script element.
func writeViewerData(bw *bufio.Writer, d *decomp.Decomposition, m *decomp.Metrics, h decomp.HaloSpec, title string, noHalo bool) error {
	nr := d.Ranks()
	var buf []byte
	str := func(key, s string) {
		b, _ := json.Marshal(s) // a string always marshals
		bw.WriteString(`"` + key + `":`)
		bw.Write(b)
		bw.WriteByte(',')
	}
	num := func(key string, v int64) {
		bw.WriteString(`"` + key + `":`)
		buf = strconv.AppendInt(buf[:0], v, 10)
		bw.Write(buf)
		bw.WriteByte(',')
	}
	flt := func(key string, v float64) {
		bw.WriteString(`"` + key + `":`)
		buf = strconv.AppendFloat(buf[:0], v, 'g', 6, 64)
		bw.Write(buf)
		bw.WriteByte(',')
	}
	// ints writes a JSON array of n integers produced by at.
	ints := func(key string, n int, at func(i int) int64) {
		bw.WriteString(`"` + key + `":[`)
		for i := range n {
			if i > 0 {
				bw.WriteByte(',')
			}
			buf = strconv.AppendInt(buf[:0], at(i), 10)
			bw.Write(buf)
		}
		bw.WriteString("],")
	}

	bw.WriteByte('{')
	num("version", 1)
	str("title", title)
	str("method", methodName(d))
	str("note", d.Note)
	str("halo", haloText(h))
	ints("grid", 3, func(i int) int64 { return int64(d.Grid.Dims[i]) })
	ints("periodic", 3, func(i int) int64 {
		if d.Grid.Periodic[i] {
			return 1
		}
		return 0
	})
	num("ranks", int64(nr))
	num("ranksPerNode", int64(d.RanksPerNode))
	ints("nbox", nr, func(r int) int64 { return int64(len(d.Boxes[r])) })
	ints("cells", nr, func(r int) int64 { return int64(d.Cells(r)) })
	ints("colors", nr, func(r int) int64 {
		c := RankColor(r)
		return int64(c.R)<<16 | int64(c.G)<<8 | int64(c.B)
	})
	bw.WriteString(`"boxes":[`)
	first := true
	for _, bs := range d.Boxes {
		for _, b := range bs {
			for _, v := range [6]int{b.Lo[0], b.Lo[1], b.Lo[2], b.Size(0), b.Size(1), b.Size(2)} {
				if !first {
					bw.WriteByte(',')
				}
				first = false
				buf = strconv.AppendInt(buf[:0], int64(v), 10)
				bw.Write(buf)
			}
		}
	}
	bw.WriteString("],")

	if m != nil {
		bw.WriteString(`"metrics":{`)
		num("fields", int64(m.Fields))
		num("scalarBytes", int64(m.ScalarBytes))
		flt("imbalance", m.Imbalance)
		flt("meanCells", m.MeanCells)
		num("maxCells", int64(m.MaxCells))
		num("cutFaces", int64(m.CutFaces))
		num("maxRankCut", int64(m.MaxRankCut))
		num("intraNodeCut", int64(m.IntraNodeCut))
		num("interNodeCut", int64(m.InterNodeCut))
		num("haloBytesIntra", m.HaloBytesIntra)
		num("haloBytesInter", m.HaloBytesInter)
		ints("cut", nr, func(r int) int64 { return int64(m.RankCut[r]) })
		ints("components", nr, func(r int) int64 { return int64(m.Components[r]) })
		ints("neighbours", nr, func(r int) int64 { return int64(m.Neighbours[r]) })
		ints("haloCells", nr, func(r int) int64 { return int64(m.HaloCells[r]) })
		ints("haloBytes", nr, func(r int) int64 { return m.HaloBytes[r] })
		ints("peerN", nr, func(r int) int64 { return int64(len(m.PerPeer[r])) })
		// Three numbers per peer: rank, cells, bytes.
		bw.WriteString(`"peers":[`)
		first = true
		for _, pv := range m.PerPeer {
			for _, p := range pv {
				for _, v := range [3]int64{int64(p.Peer), int64(p.Cells), p.Bytes} {
					if !first {
						bw.WriteByte(',')
					}
					first = false
					buf = strconv.AppendInt(buf[:0], v, 10)
					bw.Write(buf)
				}
			}
		}
		bw.WriteString("]},")
	}

	if !noHalo {
		// Ghost blocks per rank, and seven numbers per block. A block a
		// rank copies from itself onto itself (two of its own boxes side
		// by side) is no ghost cell to look at and is left out; a
		// periodic image of itself is kept.
		counts := make([]int, nr)
		bw.WriteString(`"ghosts":[`)
		first = true
		for r := range nr {
			ts, err := d.RecvTransfers(h, r)
			if err != nil {
				return err
			}
			for _, t := range ts {
				if t.Src == r && t.SrcBox == t.DstBox {
					continue
				}
				counts[r]++
				b := t.DstBox
				for _, v := range [7]int{t.Src, b.Lo[0], b.Lo[1], b.Lo[2], b.Size(0), b.Size(1), b.Size(2)} {
					if !first {
						bw.WriteByte(',')
					}
					first = false
					buf = strconv.AppendInt(buf[:0], int64(v), 10)
					bw.Write(buf)
				}
			}
		}
		bw.WriteString("],")
		ints("ghostN", nr, func(r int) int64 { return int64(counts[r]) })
	}
	// A last key without a comma after it, so every key above may end
	// with one.
	_, err := bw.WriteString(`"end":0}`)
	return err
}

// haloText describes a halo spec the way hilo decomp prints it.
func haloText(h decomp.HaloSpec) string {
	w := h.Width
	if w == [3][2]int{{w[0][0], w[0][0]}, {w[0][0], w[0][0]}, {w[0][0], w[0][0]}} {
		return fmt.Sprintf("width %d, stencil %d", w[0][0], int(h.Stencil))
	}
	return fmt.Sprintf("x %d:%d, y %d:%d, z %d:%d, stencil %d", w[0][0], w[0][1], w[1][0], w[1][1], w[2][0], w[2][1], int(h.Stencil))
}
