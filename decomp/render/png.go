package render

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"sort"
	"strconv"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/internal/picture"
)

// ErrNoDecomposition is returned for a nil or empty decomposition.
var ErrNoDecomposition = errors.New("render: no decomposition")

// Defaults of PNGOptions.
const (
	DefaultWidth  = 1200 // pixels for the three panels side by side
	DefaultHeight = 900  // pixels for the tallest panel
	DefaultLegend = 32   // ranks up to which a legend of colours is drawn
	maxScale      = 64   // pixels per cell at most, for tiny grids
)

// PNGOptions tune the picture that Slices draws.
type PNGOptions struct {
	// Title is the line on top; "" means the grid, rank count and method.
	Title string
	// Width bounds the width of the three panels together and Height the
	// height of the tallest, in pixels (0 means DefaultWidth/DefaultHeight).
	// Small grids are scaled up by a whole number of pixels per cell (at most
	// 64), large ones scaled down by sampling one cell per pixel.
	Width, Height int
	// Legend is the largest rank count for which a colour legend is drawn
	// (0 means DefaultLegend, negative never); above it a note is drawn.
	Legend int
}

// A Panel is one slice of the grid in a Picture: the cells whose coordinate
// along Axis is Index, shown with axis U to the right and axis V upward.
type Panel struct {
	Axis, Index int
	U, V        int
	Cells       [2]int          // cells along U and along V
	Rect        image.Rectangle // the pixels showing the cells
	Scale       int             // whole pixels per cell, or 0 if scaled down
}

// Pixel is the pixel nearest the centre of in-plane cell (u, v). When the
// picture is scaled down it may show a neighbouring cell, and when a cell is
// under 3 pixels wide it may lie on a boundary line.
func (p Panel) Pixel(u, v int) image.Point {
	w, h := p.Rect.Dx(), p.Rect.Dy()
	i := (2*u + 1) * w / (2 * p.Cells[0])
	j := (2*v + 1) * h / (2 * p.Cells[1])
	return image.Pt(p.Rect.Min.X+i, p.Rect.Max.Y-1-j)
}

// Cell is the in-plane cell (u, v) that pixel pt shows; ok is false if pt
// lies outside the panel.
func (p Panel) Cell(pt image.Point) (u, v int, ok bool) {
	if !pt.In(p.Rect) {
		return 0, 0, false
	}
	i, j := pt.X-p.Rect.Min.X, p.Rect.Max.Y-1-pt.Y
	return (2*i + 1) * p.Cells[0] / (2 * p.Rect.Dx()), (2*j + 1) * p.Cells[1] / (2 * p.Rect.Dy()), true
}

// GridCell is the grid cell that in-plane cell (u, v) of the panel is.
func (p Panel) GridCell(u, v int) [3]int {
	var c [3]int
	c[p.Axis], c[p.U], c[p.V] = p.Index, u, v
	return c
}

// A Picture is the image Slices draws and where its panels lie in it.
type Picture struct {
	Image *image.RGBA
	// Panels are the slices x = NX/2, y = NY/2 and z = NZ/2, left to right.
	Panels [3]Panel
}

// WritePNG draws d with Slices and encodes the picture as PNG to w.
func WritePNG(w io.Writer, d *decomp.Decomposition, opt PNGOptions) error {
	pic, err := Slices(d, opt)
	if err != nil {
		return err
	}
	if err := png.Encode(w, pic.Image); err != nil {
		return fmt.Errorf("render: encoding PNG: %w", err)
	}
	return nil
}

// Layout of the picture, in pixels.
const (
	margin  = 12
	gap     = 24 // between panels, and above the legend
	swatch  = 12 // legend colour square
	lineGap = 8  // between lines of text
)

// Slices draws the three mid-plane slices of d (x = NX/2, y = NY/2,
// z = NZ/2) side by side, each cell in the colour of its rank (RankColor),
// with dark lines where neighbouring cells belong to different ranks, a
// title line on top, a label over each panel and a colour legend below.
func Slices(d *decomp.Decomposition, opt PNGOptions) (*Picture, error) {
	if d == nil || d.Ranks() == 0 {
		return nil, ErrNoDecomposition
	}
	if err := d.Grid.Validate(); err != nil {
		return nil, err
	}
	width, height, legendMax := opt.Width, opt.Height, opt.Legend
	if width <= 0 {
		width = DefaultWidth
	}
	if height <= 0 {
		height = DefaultHeight
	}
	if legendMax == 0 {
		legendMax = DefaultLegend
	}
	title := opt.Title
	if title == "" {
		title = DefaultTitle(d)
	}
	dims := d.Grid.Dims

	// One scale for all three panels, so cells are the same size in each.
	sumW := float64(dims[1] + 2*dims[0])
	maxH := float64(max(dims[2], dims[1]))
	f := math.Min(float64(width)/sumW, float64(height)/maxH)
	var labels [3]string
	for a := range 3 {
		u, v := inPlane(a)
		labels[a] = fmt.Sprintf("%c = %d  (%c right, %c up)", "xyz"[a], dims[a]/2, "xyz"[u], "xyz"[v])
	}
	// A panel narrower than its label takes the label's width; give the
	// others less so the picture keeps to the width asked for.
	for range 3 {
		label, cells := 0, 0.0
		for a := range 3 {
			u, _ := inPlane(a)
			if lw := picture.TextWidth(labels[a]); float64(dims[u])*f < float64(lw) {
				label += lw
			} else {
				cells += float64(dims[u])
			}
		}
		if cells == 0 || float64(label)+cells*f <= float64(width) || label >= width/2 {
			break
		}
		f = math.Min(f, float64(width-label)/cells)
	}
	scale := 0
	if f >= 1 {
		scale = min(int(f), maxScale)
	}
	extent := func(n int) int {
		if scale > 0 {
			return n * scale
		}
		return max(1, int(math.Round(float64(n)*f)))
	}

	var pic Picture
	slots := [3]int{}
	panelsH := 0
	for a := range 3 {
		u, v := inPlane(a)
		p := Panel{Axis: a, Index: dims[a] / 2, U: u, V: v, Cells: [2]int{dims[u], dims[v]}, Scale: scale}
		p.Rect = image.Rect(0, 0, extent(dims[u]), extent(dims[v]))
		pic.Panels[a] = p
		slots[a] = max(p.Rect.Dx(), picture.TextWidth(labels[a]))
		panelsH = max(panelsH, p.Rect.Dy())
	}
	scaleNote := fmt.Sprintf("%d px per cell", scale)
	if scale == 0 {
		scaleNote = fmt.Sprintf("scaled down, %.2f cells per px", 1/f)
	}
	ranks := d.Ranks()
	var note string
	if legendMax < 0 || ranks > legendMax {
		note = fmt.Sprintf("%s; colour = rank (golden-ratio hues), %d ranks: too many for a legend", scaleNote, ranks)
	} else {
		note = scaleNote + "; colour = rank:"
	}

	imgW := 2*margin + slots[0] + slots[1] + slots[2] + 2*gap
	imgW = max(imgW, 2*margin+picture.TextWidth(title), 2*margin+picture.TextWidth(note))
	lineH := picture.Face.Height
	y := margin
	titleY := y
	y += lineH + lineGap
	labelY := y
	y += lineH + 4
	panelsY := y
	y += panelsH + gap
	noteY := y
	y += lineH + lineGap
	// The legend: one swatch and number per rank, wrapped to the width.
	type entry struct{ x, y, r int }
	var legend []entry
	if legendMax >= 0 && ranks <= legendMax {
		x := margin
		for r := range ranks {
			w := swatch + 4 + picture.TextWidth(strconv.Itoa(r)) + 14
			if x+w > imgW-margin && x > margin {
				x = margin
				y += lineH + lineGap
			}
			legend = append(legend, entry{x, y, r})
			x += w
		}
		y += lineH + lineGap
	}
	imgH := y + margin - lineGap

	img := image.NewRGBA(image.Rect(0, 0, imgW, imgH))
	pic.Image = img
	draw.Draw(img, img.Bounds(), image.NewUniform(background), image.Point{}, draw.Src)
	picture.Text(img, margin, titleY, title, ink)
	x := margin
	for a := range 3 {
		p := &pic.Panels[a]
		p.Rect = p.Rect.Add(image.Pt(x, panelsY))
		picture.Text(img, x, labelY, labels[a], ink)
		drawPanel(img, d, *p)
		x += slots[a] + gap
	}
	picture.Text(img, margin, noteY, note, ink)
	for _, e := range legend {
		sq := image.Rect(e.x, e.y+1, e.x+swatch, e.y+1+swatch)
		draw.Draw(img, sq, image.NewUniform(RankColor(e.r)), image.Point{}, draw.Src)
		picture.Frame(img, sq, ink)
		picture.Text(img, e.x+swatch+4, e.y, strconv.Itoa(e.r), ink)
	}
	return &pic, nil
}

// DefaultTitle is the title Slices draws when PNGOptions.Title is empty.
func DefaultTitle(d *decomp.Decomposition) string {
	m := d.Method
	if m == "" {
		m = "by hand"
	}
	return fmt.Sprintf("grid %v, %d ranks, method %s", d.Grid, d.Ranks(), m)
}

// drawPanel paints the cells of panel p and the boundaries between ranks.
// It paints each box of the slice straight onto the pixels that sample it,
// so the cost is the boxes plus the pixels, not the cells of the slice.
func drawPanel(img *image.RGBA, d *decomp.Decomposition, p Panel) {
	w, h := p.Rect.Dx(), p.Rect.Dy()
	// The cell each pixel column and row shows (rows from the bottom); both
	// never decrease, so a box covers a contiguous run of each.
	colU := make([]int, w)
	for i := range colU {
		colU[i] = (2*i + 1) * p.Cells[0] / (2 * w)
	}
	rowV := make([]int, h)
	for j := range rowV {
		rowV[j] = (2*j + 1) * p.Cells[1] / (2 * h)
	}
	first := func(at []int, c int) int { return sort.SearchInts(at, c) }
	// pr is the rank under each pixel, in image order (top row first).
	pr := make([]int32, w*h)
	for i := range pr {
		pr[i] = -1
	}
	for r, bs := range d.Boxes {
		for _, b := range bs {
			if p.Index < b.Lo[p.Axis] || p.Index >= b.Hi[p.Axis] {
				continue
			}
			i0, i1 := first(colU, b.Lo[p.U]), first(colU, b.Hi[p.U])
			j0, j1 := first(rowV, b.Lo[p.V]), first(rowV, b.Hi[p.V])
			for j := j0; j < j1; j++ {
				row := pr[(h-1-j)*w:]
				for i := i0; i < i1; i++ {
					row[i] = int32(r)
				}
			}
		}
	}
	colours := make([]color.RGBA, d.Ranks())
	for r := range colours {
		colours[r] = RankColor(r)
	}
	thick := p.Scale >= 8
	edges := p.Scale >= 12
	at := func(ix, iy int) int32 {
		if ix < 0 || iy < 0 || ix >= w || iy >= h {
			return -2 // outside: no boundary drawn against the frame
		}
		return pr[iy*w+ix]
	}
	differs := func(r int32, ix, iy int) bool {
		o := at(ix, iy)
		return o != -2 && o != r
	}
	for iy := range h {
		for ix := range w {
			r := pr[iy*w+ix]
			var c color.RGBA
			switch {
			case r < 0:
				c = background
			case differs(r, ix+1, iy) || differs(r, ix, iy+1) ||
				thick && (differs(r, ix-1, iy) || differs(r, ix, iy-1)):
				c = ink
			case edges && (ix%p.Scale == 0 || (h-1-iy)%p.Scale == 0):
				c = shade(colours[r], 0.85)
			default:
				c = colours[r]
			}
			img.SetRGBA(p.Rect.Min.X+ix, p.Rect.Min.Y+iy, c)
		}
	}
	picture.Frame(img, p.Rect, ink)
}
