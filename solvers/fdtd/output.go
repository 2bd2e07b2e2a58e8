package fdtd

// Output: plane slices gathered on every rank (Slice), drawn as PNG
// (WriteSlicePNG), the whole fields as VTK XML image data (WriteVTK, one
// .vti per block and a .pvti that ties them together), and probe series as
// CSV (WriteProbesCSV).

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/internal/picture"
	"github.com/hilo-hpc/hilo/transport"
)

// ErrSliceData is wrapped when the slice data another rank sent cannot be
// decoded: truncated, out of the plane, overlapping, incomplete, or for
// another slice than this rank asked for (a mismatched collective call).
var ErrSliceData = errors.New("fdtd: malformed slice data from a rank")

// A Slice is the plane Axis = Index of one component over the whole grid:
// W×H values, Values[v*W+u], where u is the lower of the two other axes
// (running fastest) and v the higher one: y and z for a plane normal to x,
// x and z for y, x and y for z.
type Slice struct {
	Component   Component
	Axis, Index int
	W, H        int
	Values      []float64
}

// At is the value of in-plane cell (u, v).
func (sl Slice) At(u, v int) float64 { return sl.Values[v*sl.W+u] }

// slicePlaneAxes is the pair of in-plane axes of a plane normal to axis: u (the
// lower, running fastest, drawn to the right) and v (drawn upward).
func slicePlaneAxes(axis int) (u, v int) {
	switch axis {
	case 0:
		return 1, 2
	case 1:
		return 0, 2
	default:
		return 0, 1
	}
}

var sliceAxisNames = [3]string{"x", "y", "z"}

// Slice returns the plane axis = index of component c over the whole grid.
// It is collective: every rank calls it with the same arguments and every
// rank gets the whole slice. Each rank sends the rectangles of its blocks
// that cut the plane (Allgather), so it costs one plane of values per rank,
// not a gather of the fields.
func (s *Solver[T]) Slice(ctx context.Context, c Component, axis, index int) (Slice, error) {
	if c < Ex || c > Hz {
		return Slice{}, fmt.Errorf("%w: slice of %v", ErrInvalid, c)
	}
	if axis < 0 || axis > 2 {
		return Slice{}, fmt.Errorf("%w: slice normal to axis %d (want 0, 1 or 2)", ErrInvalid, axis)
	}
	if index < 0 || index >= s.dims[axis] {
		return Slice{}, fmt.Errorf("%w: slice %s = %d outside the grid (%d cells)", ErrInvalid, sliceAxisNames[axis], index, s.dims[axis])
	}
	key := sliceKey{c: c, axis: axis, index: index}
	mine := encodeSlicePart(s.f[c], key)
	parts, err := s.comm.Allgather(ctx, mine)
	if err != nil {
		return Slice{}, fmt.Errorf("fdtd: gathering slice %v %s = %d: %w", c, sliceAxisNames[axis], index, err)
	}
	u, v := slicePlaneAxes(axis)
	return decodeSlice(parts, key, s.dims[u], s.dims[v])
}

type sliceKey struct {
	c           Component
	axis, index int
}

// The encoding of one rank's part of a slice, little-endian:
//
//	header: magic "fdS1", component, axis, index, element size (4 or 8),
//	        rectangle count (uint32 each)
//	per rectangle: u0, v0, w, h (uint32 each), then w*h values (u fastest)
//	        as float32 or float64 bits, as the fields store them
const (
	sliceMagic      = "fdS1"
	sliceHeaderSize = 4 + 5*4
	sliceRectSize   = 4 * 4
)

func encodeSlicePart[T Float](f *halo.Field[T], key sliceKey) []byte {
	var zero T
	esize := int(unsafe.Sizeof(zero))
	u, v := slicePlaneAxes(key.axis)
	type rect struct {
		b   *halo.Block[T]
		box decomp.Box
	}
	var rects []rect
	size := sliceHeaderSize
	for _, b := range f.Blocks() {
		in := b.Interior()
		if key.index < in.Lo[key.axis] || key.index >= in.Hi[key.axis] {
			continue
		}
		rects = append(rects, rect{b, in})
		size += sliceRectSize + in.Size(u)*in.Size(v)*esize
	}
	buf := make([]byte, 0, size)
	buf = append(buf, sliceMagic...)
	le := binary.LittleEndian
	buf = le.AppendUint32(buf, uint32(key.c))
	buf = le.AppendUint32(buf, uint32(key.axis))
	buf = le.AppendUint32(buf, uint32(key.index))
	buf = le.AppendUint32(buf, uint32(esize))
	buf = le.AppendUint32(buf, uint32(len(rects)))
	for _, r := range rects {
		in := r.box
		buf = le.AppendUint32(buf, uint32(in.Lo[u]))
		buf = le.AppendUint32(buf, uint32(in.Lo[v]))
		buf = le.AppendUint32(buf, uint32(in.Size(u)))
		buf = le.AppendUint32(buf, uint32(in.Size(v)))
		var p [3]int
		p[key.axis] = key.index
		for p[v] = in.Lo[v]; p[v] < in.Hi[v]; p[v]++ {
			for p[u] = in.Lo[u]; p[u] < in.Hi[u]; p[u]++ {
				buf = sliceAppendFloat(buf, r.b.Data[r.b.Index(p[0], p[1], p[2])])
			}
		}
	}
	return buf
}

// sliceAppendFloat appends x's bits little-endian, in T's own width.
func sliceAppendFloat[T Float](buf []byte, x T) []byte {
	if unsafe.Sizeof(x) == 8 {
		return binary.LittleEndian.AppendUint64(buf, math.Float64bits(float64(x)))
	}
	return binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(x)))
}

// decodeSlice assembles the W×H slice key from every rank's part. The parts
// come from other processes, so every count and coordinate is checked before
// it is used, and every cell of the plane must be sent exactly once.
func decodeSlice(parts [][]byte, key sliceKey, w, h int) (Slice, error) {
	if w <= 0 || h <= 0 {
		return Slice{}, fmt.Errorf("%w: plane of %dx%d cells", ErrInvalid, w, h)
	}
	sl := Slice{Component: key.c, Axis: key.axis, Index: key.index, W: w, H: h, Values: make([]float64, w*h)}
	seen := make([]bool, w*h)
	covered := 0
	le := binary.LittleEndian
	for r, p := range parts {
		bad := func(format string, a ...any) error {
			return fmt.Errorf("%w: rank %d: %s", ErrSliceData, r, fmt.Sprintf(format, a...))
		}
		if len(p) < sliceHeaderSize || string(p[:4]) != sliceMagic {
			return Slice{}, bad("%d bytes without a slice header", len(p))
		}
		c, axis, index := le.Uint32(p[4:]), le.Uint32(p[8:]), le.Uint32(p[12:])
		esize, nrect := le.Uint32(p[16:]), le.Uint32(p[20:])
		if uint64(c) != uint64(key.c) || uint64(axis) != uint64(key.axis) || uint64(index) != uint64(key.index) {
			return Slice{}, bad("sent component %d, plane %d = %d; this rank asked for %v, %s = %d",
				c, axis, index, key.c, sliceAxisNames[key.axis], key.index)
		}
		if esize != 4 && esize != 8 {
			return Slice{}, bad("element size %d", esize)
		}
		p = p[sliceHeaderSize:]
		if uint64(nrect) > uint64(len(p)/sliceRectSize) {
			return Slice{}, bad("%d rectangles in %d bytes", nrect, len(p))
		}
		for range nrect {
			if len(p) < sliceRectSize {
				return Slice{}, bad("truncated rectangle header")
			}
			u0, v0 := uint64(le.Uint32(p)), uint64(le.Uint32(p[4:]))
			rw, rh := uint64(le.Uint32(p[8:])), uint64(le.Uint32(p[12:]))
			p = p[sliceRectSize:]
			if rw == 0 || rh == 0 || u0+rw > uint64(w) || v0+rh > uint64(h) {
				return Slice{}, bad("rectangle %dx%d at (%d, %d) outside the %dx%d plane", rw, rh, u0, v0, w, h)
			}
			// rw*rh <= w*h, a product of ints, so this cannot overflow.
			if n := rw * rh * uint64(esize); n > uint64(len(p)) {
				return Slice{}, bad("rectangle of %d bytes, %d left", n, len(p))
			}
			for v := int(v0); v < int(v0+rh); v++ {
				for u := int(u0); u < int(u0+rw); u++ {
					i := v*w + u
					if seen[i] {
						return Slice{}, bad("cell (%d, %d) sent twice", u, v)
					}
					seen[i] = true
					covered++
					if esize == 8 {
						sl.Values[i] = math.Float64frombits(le.Uint64(p))
					} else {
						sl.Values[i] = float64(math.Float32frombits(le.Uint32(p)))
					}
					p = p[esize:]
				}
			}
		}
		if len(p) != 0 {
			return Slice{}, bad("%d bytes after the last rectangle", len(p))
		}
	}
	if covered != w*h {
		return Slice{}, fmt.Errorf("%w: %d of the %d cells of the plane were sent", ErrSliceData, covered, w*h)
	}
	return sl, nil
}

// A ColorMap turns values into colours.
type ColorMap int

const (
	// Diverging runs blue – white – red over [-R, R], white at 0: for
	// signed field components.
	Diverging ColorMap = iota
	// Sequential runs dark violet – green – yellow (viridis) over |v| in
	// [0, R]: for magnitudes.
	Sequential
)

type pngColorStop struct {
	t       float64
	r, g, b float64
}

// ColorBrewer RdBu (5 classes), from blue (-1) to red (+1).
var pngDivergingStops = []pngColorStop{
	{-1, 33, 102, 172}, {-0.5, 103, 169, 207}, {0, 247, 247, 247}, {0.5, 239, 138, 98}, {1, 178, 24, 43},
}

// viridis sampled at 9 points.
var pngSequentialStops = []pngColorStop{
	{0, 68, 1, 84}, {0.125, 71, 44, 122}, {0.25, 59, 81, 139}, {0.375, 44, 113, 142}, {0.5, 33, 144, 141},
	{0.625, 39, 173, 129}, {0.75, 92, 200, 99}, {0.875, 170, 220, 50}, {1, 253, 231, 37},
}

// pngNaNColor marks cells whose value is NaN.
var pngNaNColor = color.RGBA{128, 128, 128, 255}

// Color is the colour of position t of the map: t in [-1, 1] for Diverging,
// [0, 1] for Sequential, clamped; NaN is grey.
func (m ColorMap) Color(t float64) color.RGBA {
	if math.IsNaN(t) {
		return pngNaNColor
	}
	stops := pngDivergingStops
	if m == Sequential {
		stops = pngSequentialStops
	}
	t = min(max(t, stops[0].t), stops[len(stops)-1].t)
	k := 1
	for k < len(stops)-1 && t > stops[k].t {
		k++
	}
	a, b := stops[k-1], stops[k]
	f := (t - a.t) / (b.t - a.t)
	lerp := func(x, y float64) uint8 { return uint8(math.Round(x + f*(y-x))) }
	return color.RGBA{lerp(a.r, b.r), lerp(a.g, b.g), lerp(a.b, b.b), 255}
}

// PNGOptions tune WriteSlicePNG and DrawSlice.
type PNGOptions struct {
	// Title is added to the title line (after the component and the plane).
	Title string
	// Map is the colour map (Diverging by default).
	Map ColorMap
	// Range is R, the value shown in the full colour at either end; 0 means
	// the largest finite |v| of the slice. Values beyond it are clamped.
	Range float64
	// Scale is the size of a cell in pixels; 0 means as many as make the
	// larger side of the plot about DefaultPlotSize pixels (at least 1).
	// A plot over 16384 pixels a side is refused (ErrInvalid).
	Scale int
}

// Sizes of a slice picture, in pixels.
const (
	DefaultPlotSize = 512     // the larger side of the plot when PNGOptions.Scale is 0
	pngMaxPlotSide  = 1 << 14 // refuse larger plots (they would take gigabytes)
	pngMargin       = 12
	pngLineHeight   = 13 // basicfont.Face7x13
	pngLineGap      = 8
	pngBarGap       = 16 // between the plot and the colour bar
	pngBarWidth     = 18
	pngBarMinHeight = 160
	pngTickLen      = 4
	pngBarTicks     = 5
)

var (
	pngInk   = color.RGBA{20, 20, 20, 255}
	pngPaper = color.RGBA{255, 255, 255, 255}
)

// A SlicePicture is the image DrawSlice makes and where its parts lie.
type SlicePicture struct {
	Image *image.RGBA
	// Plot holds the cells: Scale×Scale pixels each, u to the right and v
	// upward (cell (0, 0) at the bottom left).
	Plot  image.Rectangle
	Scale int
	// Bar is the colour bar: the top row in the colour of the upper end
	// of the range, the bottom row in that of the lower end.
	Bar image.Rectangle
	// Lo and Hi are the values at the two ends of the colour map.
	Lo, Hi float64
}

// Pixel is a pixel at the centre of in-plane cell (u, v).
func (p *SlicePicture) Pixel(u, v int) image.Point {
	return image.Pt(p.Plot.Min.X+u*p.Scale+p.Scale/2, p.Plot.Max.Y-1-v*p.Scale-p.Scale/2)
}

// WriteSlicePNG draws sl with DrawSlice and encodes the picture as PNG.
func WriteSlicePNG(w io.Writer, sl Slice, opt PNGOptions) error {
	pic, err := DrawSlice(sl, opt)
	if err != nil {
		return err
	}
	if err := png.Encode(w, pic.Image); err != nil {
		return fmt.Errorf("fdtd: encoding PNG: %w", err)
	}
	return nil
}

// DrawSlice draws sl: a title line (component, plane, opt.Title), the cells
// coloured by opt.Map, a frame, the in-plane axes under the plot, and a
// vertical colour bar with tick labels to its right.
func DrawSlice(sl Slice, opt PNGOptions) (*SlicePicture, error) {
	if sl.W <= 0 || sl.H <= 0 || len(sl.Values) != sl.W*sl.H {
		return nil, fmt.Errorf("%w: slice of %dx%d cells with %d values", ErrInvalid, sl.W, sl.H, len(sl.Values))
	}
	if sl.Axis < 0 || sl.Axis > 2 {
		return nil, fmt.Errorf("%w: slice normal to axis %d", ErrInvalid, sl.Axis)
	}
	if opt.Map != Diverging && opt.Map != Sequential {
		return nil, fmt.Errorf("%w: colour map %d", ErrInvalid, opt.Map)
	}
	if !(opt.Range >= 0) || math.IsInf(opt.Range, 0) {
		return nil, fmt.Errorf("%w: colour range %g", ErrInvalid, opt.Range)
	}
	scale := opt.Scale
	if scale < 0 {
		return nil, fmt.Errorf("%w: scale %d pixels per cell", ErrInvalid, scale)
	}
	if scale == 0 {
		scale = max(1, DefaultPlotSize/max(sl.W, sl.H))
	}
	if sl.W > pngMaxPlotSide/scale || sl.H > pngMaxPlotSide/scale {
		return nil, fmt.Errorf("%w: %dx%d cells at %d pixels each exceed %d pixels", ErrInvalid, sl.W, sl.H, scale, pngMaxPlotSide)
	}
	r := opt.Range
	if r == 0 {
		for _, v := range sl.Values {
			if a := math.Abs(v); a > r && !math.IsInf(a, 0) {
				r = a
			}
		}
		if r == 0 {
			r = 1 // an all-zero slice: white (or the map's start), labelled ±1
		}
	}
	lo := -r
	if opt.Map == Sequential {
		lo = 0
	}
	toT := func(v float64) float64 {
		if opt.Map == Sequential {
			return math.Abs(v) / r
		}
		return v / r
	}

	u, v := slicePlaneAxes(sl.Axis)
	title := fmt.Sprintf("%v on %s = %d (%d x %d cells)", sl.Component, sliceAxisNames[sl.Axis], sl.Index, sl.W, sl.H)
	if opt.Map == Sequential {
		title = "|" + sl.Component.String() + "|" + title[len(sl.Component.String()):]
	}
	if opt.Title != "" {
		title += "  " + opt.Title
	}
	caption := fmt.Sprintf("right: %s 0..%d   up: %s 0..%d", sliceAxisNames[u], sl.W-1, sliceAxisNames[v], sl.H-1)

	pw, ph := sl.W*scale, sl.H*scale
	plot := image.Rect(pngMargin, pngMargin+pngLineHeight+pngLineGap, pngMargin+pw, pngMargin+pngLineHeight+pngLineGap+ph)
	barH := max(ph, pngBarMinHeight)
	bar := image.Rect(plot.Max.X+pngBarGap, plot.Min.Y, plot.Max.X+pngBarGap+pngBarWidth, plot.Min.Y+barH)
	labels := make([]string, pngBarTicks)
	labelW := 0
	for i := range labels {
		x := lo + (r-lo)*float64(i)/float64(pngBarTicks-1)
		if math.Abs(x) < 1e-12*r {
			x = 0
		}
		labels[i] = strconv.FormatFloat(x, 'g', 3, 64)
		labelW = max(labelW, picture.TextWidth(labels[i]))
	}
	width := max(bar.Max.X+pngTickLen+4+labelW+pngMargin, pngMargin+picture.TextWidth(title)+pngMargin, pngMargin+picture.TextWidth(caption)+pngMargin)
	height := max(plot.Max.Y+pngLineGap/2+pngLineHeight, bar.Max.Y+pngLineHeight/2) + pngMargin
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = pngPaper.R, pngPaper.G, pngPaper.B, pngPaper.A
	}

	for cv := range sl.H {
		for cu := range sl.W {
			c := opt.Map.Color(toT(sl.Values[cv*sl.W+cu]))
			y0 := plot.Max.Y - (cv+1)*scale
			x0 := plot.Min.X + cu*scale
			for y := y0; y < y0+scale; y++ {
				row := img.Pix[img.PixOffset(x0, y):]
				for x := range scale {
					row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = c.R, c.G, c.B, c.A
				}
			}
		}
	}
	picture.Frame(img, plot, pngInk)

	for y := bar.Min.Y; y < bar.Max.Y; y++ {
		f := 1.0
		if barH > 1 {
			f = 1 - float64(y-bar.Min.Y)/float64(barH-1) // 1 at the top, 0 at the bottom
		}
		t := f
		if opt.Map == Diverging {
			t = 2*f - 1
		}
		c := opt.Map.Color(t)
		for x := bar.Min.X; x < bar.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
	picture.Frame(img, bar, pngInk)
	for i, s := range labels {
		y := bar.Max.Y - 1 - i*(barH-1)/(pngBarTicks-1)
		for x := bar.Max.X; x < bar.Max.X+pngTickLen; x++ {
			img.SetRGBA(x, y, pngInk)
		}
		picture.Text(img, bar.Max.X+pngTickLen+3, y-pngLineHeight/2, s, pngInk)
	}
	picture.Text(img, pngMargin, pngMargin, title, pngInk)
	picture.Text(img, pngMargin, plot.Max.Y+pngLineGap/2, caption, pngInk)
	return &SlicePicture{Image: img, Plot: plot, Scale: scale, Bar: bar, Lo: lo, Hi: r}, nil
}

// WriteVTK writes the six components as VTK XML image data that ParaView and
// VisIt open: every rank writes one file per block it owns,
// dir/<name>_r<rank>_b<block>.vti, and rank 0 writes dir/<name>.pvti, which
// lists every block of every rank as a piece. It is collective.
//
// The image has one VTK cell per grid cell (origin 0, spacing 1, point
// extent 0..N per axis); each piece's extent is its block's cells. The cell
// data are the scalars Ex … Hz and the vectors E = (Ex, Ey, Ez) and
// H = (Hx, Hy, Hz) in the fields' precision (Float64 or Float32), each
// component at its cell as stored, not moved from its staggered position
// to the cell centre (see doc.go). Arrays are inline base64 ("binary",
// header_type UInt32: a byte count encoded on its own, then the data). The
// field data TimeValue and Step give the time and the step number. Each
// file is written to a temporary file and renamed, so a reader sees either
// no file or a whole one, and the .pvti appears after every piece has.
func (s *Solver[T]) WriteVTK(ctx context.Context, dir, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0) {
		return fmt.Errorf("%w: VTK base name %q", ErrInvalid, name)
	}
	rank := s.comm.Rank()
	err := s.writePieces(dir, name, rank)
	if err2 := outputAgree(ctx, s.comm, "WriteVTK pieces", err); err2 != nil {
		return err2
	}
	if rank == 0 {
		err = outputWriteAtomic(filepath.Join(dir, name+".pvti"), func(w io.Writer) error {
			return writePVTI(w, s.d, name, vtkType[T](), s.dims)
		})
	}
	return outputAgree(ctx, s.comm, "WriteVTK index", err)
}

// agree makes a collective step fail on every rank when it failed on one:
// this rank's own error, or one that names the failed rank.
func outputAgree(ctx context.Context, comm *transport.Comm, step string, err error) error {
	flag := []int64{0}
	if err != nil {
		flag[0] = int64(comm.Rank()) + 1
	}
	out := []int64{0}
	if aerr := comm.AllreduceInt64(ctx, transport.Max, flag, out); aerr != nil {
		return errors.Join(err, fmt.Errorf("fdtd: %s: %w", step, aerr))
	}
	if err != nil {
		return fmt.Errorf("fdtd: %s: %w", step, err)
	}
	if out[0] != 0 {
		return fmt.Errorf("fdtd: %s: failed on rank %d", step, out[0]-1)
	}
	return nil
}

func vtkType[T Float]() string {
	var zero T
	if unsafe.Sizeof(zero) == 8 {
		return "Float64"
	}
	return "Float32"
}

func vtkPieceName(name string, rank, block int) string {
	return fmt.Sprintf("%s_r%d_b%d.vti", name, rank, block)
}

func (s *Solver[T]) writePieces(dir, name string, rank int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	blocks := s.f[Ex].Blocks()
	// The .pvti that rank 0 writes names the blocks in the order of the
	// decomposition (halo.NewField allocates them in that order): check it.
	if rank >= len(s.d.Boxes) || len(s.d.Boxes[rank]) != len(blocks) {
		return fmt.Errorf("%w: rank %d has %d blocks, the decomposition gives it a different number", ErrInvalid, rank, len(blocks))
	}
	for bi := range blocks {
		if in := blocks[bi].Interior(); in != s.d.Boxes[rank][bi] {
			return fmt.Errorf("%w: block %d of rank %d is %v, the decomposition says %v", ErrInvalid, bi, rank, in, s.d.Boxes[rank][bi])
		}
		path := filepath.Join(dir, vtkPieceName(name, rank, bi))
		if err := outputWriteAtomic(path, func(w io.Writer) error { return s.writeVTI(w, bi) }); err != nil {
			return err
		}
	}
	return nil
}

// outputWriteAtomic writes path through a temporary file in the same
// directory, synced and renamed over path, and removed on failure.
func outputWriteAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = write(bw); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func vtkExtent(b decomp.Box) string {
	return fmt.Sprintf("%d %d %d %d %d %d", b.Lo[0], b.Hi[0], b.Lo[1], b.Hi[1], b.Lo[2], b.Hi[2])
}

// writeVTI writes block bi as a serial ImageData file.
func (s *Solver[T]) writeVTI(w io.Writer, bi int) error {
	typ := vtkType[T]()
	in := s.f[Ex].Blocks()[bi].Interior()
	whole := decomp.Box{Hi: s.dims}
	ew := &outWriter{w: w}
	fmt.Fprintf(ew, "<?xml version=\"1.0\"?>\n")
	fmt.Fprintf(ew, "<VTKFile type=\"ImageData\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt32\">\n")
	fmt.Fprintf(ew, "  <ImageData WholeExtent=\"%s\" Origin=\"0 0 0\" Spacing=\"1 1 1\">\n", vtkExtent(whole))
	fmt.Fprintf(ew, "    <FieldData>\n")
	fmt.Fprintf(ew, "      <DataArray type=\"Float64\" Name=\"TimeValue\" NumberOfTuples=\"1\" format=\"ascii\">%s</DataArray>\n",
		strconv.FormatFloat(float64(s.steps)*float64(s.dt), 'g', -1, 64))
	fmt.Fprintf(ew, "      <DataArray type=\"Int64\" Name=\"Step\" NumberOfTuples=\"1\" format=\"ascii\">%d</DataArray>\n", s.steps)
	fmt.Fprintf(ew, "    </FieldData>\n")
	fmt.Fprintf(ew, "    <Piece Extent=\"%s\">\n", vtkExtent(in))
	fmt.Fprintf(ew, "      <CellData Scalars=\"Ez\" Vectors=\"E\">\n")
	for c := Ex; c <= Hz; c++ {
		fmt.Fprintf(ew, "        <DataArray type=\"%s\" Name=\"%v\" format=\"binary\">\n          ", typ, c)
		if err := s.writeArray(ew, bi, in, []Component{c}); err != nil {
			return err
		}
		fmt.Fprintf(ew, "\n        </DataArray>\n")
	}
	for _, vec := range []struct {
		name string
		cs   []Component
	}{{"E", []Component{Ex, Ey, Ez}}, {"H", []Component{Hx, Hy, Hz}}} {
		fmt.Fprintf(ew, "        <DataArray type=\"%s\" Name=\"%s\" NumberOfComponents=\"3\" format=\"binary\">\n          ", typ, vec.name)
		if err := s.writeArray(ew, bi, in, vec.cs); err != nil {
			return err
		}
		fmt.Fprintf(ew, "\n        </DataArray>\n")
	}
	fmt.Fprintf(ew, "      </CellData>\n")
	fmt.Fprintf(ew, "    </Piece>\n")
	fmt.Fprintf(ew, "  </ImageData>\n")
	fmt.Fprintf(ew, "</VTKFile>\n")
	return ew.err
}

// writeArray writes the components cs of block bi, interleaved cell by cell
// (x fastest), as VTK inline binary: the UInt32 byte count in base64 on its
// own (VTK reads the header as a separate base64 block), then the data.
func (s *Solver[T]) writeArray(w *outWriter, bi int, in decomp.Box, cs []Component) error {
	var zero T
	esize := int(unsafe.Sizeof(zero))
	nbytes := uint64(in.Cells()) * uint64(len(cs)) * uint64(esize)
	if nbytes > math.MaxUint32 {
		return fmt.Errorf("%w: block %v holds %d bytes per array, more than a UInt32 VTK header counts", ErrInvalid, in, nbytes)
	}
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(nbytes))
	io.WriteString(w, base64.StdEncoding.EncodeToString(hdr[:]))
	enc := base64.NewEncoder(base64.StdEncoding, w)
	blocks := make([]*halo.Block[T], len(cs))
	for i, c := range cs {
		blocks[i] = s.f[c].Blocks()[bi]
	}
	nx := in.Size(0)
	row := make([]byte, 0, nx*len(cs)*esize)
	for z := in.Lo[2]; z < in.Hi[2]; z++ {
		for y := in.Lo[1]; y < in.Hi[1]; y++ {
			row = row[:0]
			for x := in.Lo[0]; x < in.Hi[0]; x++ {
				for _, b := range blocks {
					row = sliceAppendFloat(row, b.Data[b.Index(x, y, z)])
				}
			}
			enc.Write(row)
		}
	}
	enc.Close()
	return w.err
}

// writePVTI writes the parallel index: every block of every rank of d.
func writePVTI(w io.Writer, d *decomp.Decomposition, name, typ string, dims [3]int) error {
	ew := &outWriter{w: w}
	fmt.Fprintf(ew, "<?xml version=\"1.0\"?>\n")
	fmt.Fprintf(ew, "<VTKFile type=\"PImageData\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt32\">\n")
	fmt.Fprintf(ew, "  <PImageData WholeExtent=\"%s\" GhostLevel=\"0\" Origin=\"0 0 0\" Spacing=\"1 1 1\">\n", vtkExtent(decomp.Box{Hi: dims}))
	fmt.Fprintf(ew, "    <PCellData Scalars=\"Ez\" Vectors=\"E\">\n")
	for c := Ex; c <= Hz; c++ {
		fmt.Fprintf(ew, "      <PDataArray type=\"%s\" Name=\"%v\"/>\n", typ, c)
	}
	fmt.Fprintf(ew, "      <PDataArray type=\"%s\" Name=\"E\" NumberOfComponents=\"3\"/>\n", typ)
	fmt.Fprintf(ew, "      <PDataArray type=\"%s\" Name=\"H\" NumberOfComponents=\"3\"/>\n", typ)
	fmt.Fprintf(ew, "    </PCellData>\n")
	var src strings.Builder
	for r, boxes := range d.Boxes {
		for b, box := range boxes {
			src.Reset()
			xml.EscapeText(&src, []byte(vtkPieceName(name, r, b)))
			fmt.Fprintf(ew, "    <Piece Extent=\"%s\" Source=\"%s\"/>\n", vtkExtent(box), src.String())
		}
	}
	fmt.Fprintf(ew, "  </PImageData>\n")
	fmt.Fprintf(ew, "</VTKFile>\n")
	return ew.err
}

// outWriter keeps the first write error, so a long run of writes can be
// checked once.
type outWriter struct {
	w   io.Writer
	err error
}

func (e *outWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// WriteProbesCSV writes probe series as CSV: a header step,time,<name>...,
// then one row per step n with time n·dt and series[i][n] under names[i].
// Numbers are written in the shortest form that parses back to the same
// float64 (strconv 'g', -1). Every series must have the same length, and
// there must be one name per series.
func WriteProbesCSV(w io.Writer, dt float64, names []string, series [][]float64) error {
	if len(names) != len(series) {
		return fmt.Errorf("%w: %d probe names for %d series", ErrInvalid, len(names), len(series))
	}
	steps := 0
	for i, s := range series {
		if i == 0 {
			steps = len(s)
		} else if len(s) != steps {
			return fmt.Errorf("%w: probe series %q has %d values, %q has %d", ErrInvalid, names[i], len(s), names[0], steps)
		}
	}
	cw := csv.NewWriter(w)
	rec := make([]string, 0, 2+len(names))
	rec = append(append(rec, "step", "time"), names...)
	if err := cw.Write(rec); err != nil {
		return fmt.Errorf("fdtd: writing probes CSV: %w", err)
	}
	for n := range steps {
		rec = rec[:0]
		rec = append(rec, strconv.Itoa(n), strconv.FormatFloat(float64(n)*dt, 'g', -1, 64))
		for _, s := range series {
			rec = append(rec, strconv.FormatFloat(s[n], 'g', -1, 64))
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("fdtd: writing probes CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("fdtd: writing probes CSV: %w", err)
	}
	return nil
}
