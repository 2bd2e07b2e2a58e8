package fdtd

import (
	"bufio"
	"bytes"
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
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// The output tests run the skew reference source (all six components
// non-zero) on a grid with three different sizes, so that a mix-up of axes
// shows.
var outDims = [3]int{14, 11, 9}

const outSteps = 40

// runOutputRanks runs fn on n goroutine ranks over inproc, bounded by a
// deadline so that a hung collective fails the test.
func runOutputRanks(t testing.TB, n int, fn func(ctx context.Context, c *transport.Comm) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := inproc.Run(ctx, n, fn); err != nil {
		t.Fatal(err)
	}
}

// outHandDecomposition gives 3 ranks 5 boxes: ranks 1 and 2 own two each.
func outHandDecomposition(t testing.TB) *decomp.Decomposition {
	t.Helper()
	box := func(x0, x1, y0, y1, z0, z1 int) decomp.Box {
		return decomp.Box{Lo: [3]int{x0, y0, z0}, Hi: [3]int{x1, y1, z1}}
	}
	d, err := decomp.New(decomp.Grid{Dims: outDims}, [][]decomp.Box{
		{box(0, 14, 0, 11, 0, 3)},
		{box(0, 7, 0, 5, 3, 9), box(7, 14, 5, 11, 3, 9)},
		{box(7, 14, 0, 5, 3, 9), box(0, 7, 5, 11, 3, 9)},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newOutSolver[T Float](ctx context.Context, c *transport.Comm, d *decomp.Decomposition) (*Solver[T], error) {
	s, err := New[T](ctx, c, Options{Dims: outDims, Courant: 0.5, Sources: SkewSources(outDims), Decomposition: d})
	if err != nil {
		return nil, err
	}
	if err := s.Run(ctx, outSteps); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func outCell(x, y, z int) int { return x + outDims[0]*(y+outDims[1]*z) }

// outDense reads this rank's cells of the six components straight from the
// blocks into global arrays (NaN where another rank owns the cell).
func outDense[T Float](s *Solver[T]) [6][]float64 {
	var g [6][]float64
	n := outDims[0] * outDims[1] * outDims[2]
	for c := range g {
		g[c] = make([]float64, n)
		for i := range g[c] {
			g[c][i] = math.NaN()
		}
		for _, b := range s.f[c].Blocks() {
			in := b.Interior()
			for z := in.Lo[2]; z < in.Hi[2]; z++ {
				for y := in.Lo[1]; y < in.Hi[1]; y++ {
					for x := in.Lo[0]; x < in.Hi[0]; x++ {
						g[c][outCell(x, y, z)] = float64(b.Data[b.Index(x, y, z)])
					}
				}
			}
		}
	}
	return g
}

// outSerial runs the problem on one rank and returns its fields.
func outSerial[T Float](t testing.TB) [6][]float64 {
	t.Helper()
	var g [6][]float64
	runOutputRanks(t, 1, func(ctx context.Context, c *transport.Comm) error {
		s, err := newOutSolver[T](ctx, c, nil)
		if err != nil {
			return err
		}
		defer s.Close()
		g = outDense(s)
		return nil
	})
	nonZero := 0
	for c := range g {
		for _, v := range g[c] {
			if v != 0 {
				nonZero++
				break
			}
		}
	}
	if nonZero != 6 {
		t.Fatalf("only %d components are non-zero: the test would be weak", nonZero)
	}
	return g
}

// outPlaneCell is the grid cell at in-plane (u, v) of the plane axis = index,
// spelled out per axis (not through slicePlaneAxes).
func outPlaneCell(axis, index, u, v int) (x, y, z int) {
	switch axis {
	case 0:
		return index, u, v
	case 1:
		return u, index, v
	default:
		return u, v, index
	}
}

// outPlaneDims is the width and height of a plane normal to axis.
func outPlaneDims(axis int) (w, h int) {
	switch axis {
	case 0:
		return outDims[1], outDims[2]
	case 1:
		return outDims[0], outDims[2]
	default:
		return outDims[0], outDims[1]
	}
}

type outSliceArgs struct {
	c           Component
	axis, index int
}

func outAllSlices() []outSliceArgs {
	var all []outSliceArgs
	for c := Ex; c <= Hz; c++ {
		for axis := range 3 {
			for _, index := range []int{0, outDims[axis] / 2, outDims[axis] - 1} {
				all = append(all, outSliceArgs{c, axis, index})
			}
		}
	}
	return all
}

// checkSliceAgainst compares sl with the dense fields g bitwise, skipping
// NaN (cells of g that this rank does not own); it returns the number of
// cells compared.
func checkSliceAgainst(sl Slice, a outSliceArgs, g [6][]float64) (int, error) {
	wantW, wantH := outPlaneDims(a.axis)
	if sl.Component != a.c || sl.Axis != a.axis || sl.Index != a.index || sl.W != wantW || sl.H != wantH || len(sl.Values) != wantW*wantH {
		return 0, fmt.Errorf("slice %+v: got %v axis %d index %d %dx%d with %d values, want %dx%d",
			a, sl.Component, sl.Axis, sl.Index, sl.W, sl.H, len(sl.Values), wantW, wantH)
	}
	n := 0
	for v := range sl.H {
		for u := range sl.W {
			x, y, z := outPlaneCell(a.axis, a.index, u, v)
			want := g[a.c][outCell(x, y, z)]
			if math.IsNaN(want) {
				continue
			}
			n++
			if got := sl.Values[v*sl.W+u]; math.Float64bits(got) != math.Float64bits(want) {
				return n, fmt.Errorf("slice %+v cell (%d,%d) = grid (%d,%d,%d): %v, want %v", a, u, v, x, y, z, got, want)
			}
		}
	}
	return n, nil
}

func testSliceDistributed[T Float](t *testing.T) {
	serial := outSerial[T](t)
	for _, tc := range []struct {
		name string
		p    int
		hand bool
	}{{"P=1", 1, false}, {"P=3/default", 3, false}, {"P=3/hand-made", 3, true}} {
		t.Run(tc.name, func(t *testing.T) {
			var d *decomp.Decomposition
			if tc.hand {
				d = outHandDecomposition(t)
			}
			var mu sync.Mutex
			owned := make(map[outSliceArgs]int)
			runOutputRanks(t, tc.p, func(ctx context.Context, c *transport.Comm) error {
				s, err := newOutSolver[T](ctx, c, d)
				if err != nil {
					return err
				}
				defer s.Close()
				mine := outDense(s)
				for _, a := range outAllSlices() {
					sl, err := s.Slice(ctx, a.c, a.axis, a.index)
					if err != nil {
						return err
					}
					// The whole slice equals the 1-rank fields bitwise ...
					if n, err := checkSliceAgainst(sl, a, serial); err != nil {
						return fmt.Errorf("rank %d vs serial: %w", c.Rank(), err)
					} else if n != sl.W*sl.H {
						return fmt.Errorf("serial oracle covers %d of %d cells", n, sl.W*sl.H)
					}
					// ... and this rank's cells equal its own blocks.
					n, err := checkSliceAgainst(sl, a, mine)
					if err != nil {
						return fmt.Errorf("rank %d vs own fields: %w", c.Rank(), err)
					}
					mu.Lock()
					owned[a] += n
					mu.Unlock()
				}
				return nil
			})
			for a, n := range owned {
				w, h := outPlaneDims(a.axis)
				if want := w * h; n != want {
					t.Errorf("slice %+v: the ranks own %d cells of the plane, want %d", a, n, want)
				}
			}
		})
	}
}

func TestSliceDistributedFloat64(t *testing.T) { testSliceDistributed[float64](t) }
func TestSliceDistributedFloat32(t *testing.T) { testSliceDistributed[float32](t) }

func TestSliceInvalid(t *testing.T) {
	runOutputRanks(t, 2, func(ctx context.Context, c *transport.Comm) error {
		s, err := New[float64](ctx, c, Options{Dims: outDims})
		if err != nil {
			return err
		}
		defer s.Close()
		for _, a := range []outSliceArgs{{Ex, -1, 0}, {Ex, 3, 0}, {Ex, 0, -1}, {Ex, 0, outDims[0]}, {Ez, 2, outDims[2]}, {-1, 0, 0}, {Hz + 1, 0, 0}} {
			if _, err := s.Slice(ctx, a.c, a.axis, a.index); !errors.Is(err, ErrInvalid) {
				return fmt.Errorf("Slice(%+v) = %v, want ErrInvalid", a, err)
			}
		}
		// The solver still works after refused calls (no collective was left half done).
		_, err = s.Slice(ctx, Hy, 1, 10)
		return err
	})
}

// outSliceBytes encodes a slice part by hand (independently of
// encodeSlicePart): rects are u0, v0, w, h and values follow each rect.
func outSliceBytes(c Component, axis, index, esize int, rects ...[]float64) []byte {
	var b []byte
	le := binary.LittleEndian
	b = append(b, "fdS1"...)
	for _, x := range []int{int(c), axis, index, esize, len(rects)} {
		b = le.AppendUint32(b, uint32(x))
	}
	for _, r := range rects {
		for _, x := range r[:4] {
			b = le.AppendUint32(b, uint32(x))
		}
		for _, v := range r[4:] {
			if esize == 8 {
				b = le.AppendUint64(b, math.Float64bits(v))
			} else {
				b = le.AppendUint32(b, math.Float32bits(float32(v)))
			}
		}
	}
	return b
}

func TestSliceDecode(t *testing.T) {
	key := sliceKey{c: Ez, axis: 2, index: 1}
	// A 3x2 plane in two parts: the left column (float32) and the rest.
	left := outSliceBytes(Ez, 2, 1, 4, []float64{0, 0, 1, 2, 1.5, -2.5})
	right := outSliceBytes(Ez, 2, 1, 8, []float64{1, 0, 2, 1, 3, 4}, []float64{1, 1, 2, 1, 6, 7})
	sl, err := decodeSlice([][]byte{left, right}, key, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{1.5, 3, 4, -2.5, 6, 7}; !slices.Equal(sl.Values, want) {
		t.Errorf("values %v, want %v", sl.Values, want)
	}
	if sl.At(2, 1) != 7 || sl.At(0, 1) != -2.5 {
		t.Errorf("At(2,1) = %v, At(0,1) = %v", sl.At(2, 1), sl.At(0, 1))
	}
	for name, parts := range map[string][][]byte{
		"missing part":         {left},
		"overlap":              {left, right, outSliceBytes(Ez, 2, 1, 8, []float64{0, 0, 1, 1, 9})},
		"overlap, right count": {left, outSliceBytes(Ez, 2, 1, 8, []float64{1, 0, 2, 1, 3, 4}, []float64{1, 0, 2, 1, 3, 4})},
		"other plane":          {left, outSliceBytes(Ez, 2, 0, 8, []float64{1, 0, 2, 1, 3, 4}, []float64{1, 1, 2, 1, 6, 7})},
		"other comp":           {left, outSliceBytes(Ey, 2, 1, 8, []float64{1, 0, 2, 1, 3, 4}, []float64{1, 1, 2, 1, 6, 7})},
		"outside":              {left, outSliceBytes(Ez, 2, 1, 8, []float64{1, 0, 3, 1, 3, 4, 5}, []float64{1, 1, 2, 1, 6, 7})},
		"empty rect":           {left, right, outSliceBytes(Ez, 2, 1, 8, []float64{0, 0, 0, 1})},
		"element size":         {left, outSliceBytes(Ez, 2, 1, 2, []float64{1, 0, 2, 1, 3, 4})},
		"truncated":            {left, right[:len(right)-1]},
		"trailing bytes":       {left, append(slices.Clone(right), 0)},
		"no header":            {left, right[:10]},
		"bad magic":            {left, append([]byte("xdS1"), right[4:]...)},
		"huge count":           {left, binary.LittleEndian.AppendUint32(slices.Clone(right[:20]), math.MaxUint32)},
		"huge rect":            {left, outSliceBytes(Ez, 2, 1, 8, []float64{1, 0, math.MaxUint32, math.MaxUint32})},
	} {
		if _, err := decodeSlice(parts, key, 3, 2); !errors.Is(err, ErrSliceData) {
			t.Errorf("%s: err = %v, want ErrSliceData", name, err)
		}
	}
}

// FuzzSliceDecode feeds decodeSlice bytes as they might come from a peer:
// it must return an error or a complete slice, never panic.
func FuzzSliceDecode(f *testing.F) {
	left := outSliceBytes(Ez, 2, 1, 4, []float64{0, 0, 1, 2, 1.5, -2.5})
	right := outSliceBytes(Ez, 2, 1, 8, []float64{1, 0, 2, 1, 3, 4}, []float64{1, 1, 2, 1, 6, 7})
	whole := append(slices.Clone(left), right...)
	f.Add(whole, uint16(len(left)))
	f.Add(whole, uint16(0))
	f.Add(outSliceBytes(Ez, 2, 1, 8, []float64{0, 0, 3, 2, 1, 2, 3, 4, 5, 6}), uint16(0))
	f.Add(whole[:30], uint16(7))
	key := sliceKey{c: Ez, axis: 2, index: 1}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		c := min(int(cut), len(data))
		sl, err := decodeSlice([][]byte{data[:c], data[c:]}, key, 3, 2)
		if err != nil {
			if !errors.Is(err, ErrSliceData) {
				t.Fatalf("error %v is not ErrSliceData", err)
			}
			return
		}
		// Success needs two headers and 6 cells of at least 4 bytes.
		if len(sl.Values) != 6 || len(data) < 2*sliceHeaderSize+sliceRectSize+6*4 {
			t.Fatalf("decoded %d values from %d bytes", len(sl.Values), len(data))
		}
	})
}

// Colours of the maps' ends and middle (ColorBrewer RdBu, viridis).
var (
	outRed   = color.RGBA{178, 24, 43, 255}
	outBlue  = color.RGBA{33, 102, 172, 255}
	outWhite = color.RGBA{247, 247, 247, 255}
	outVirLo = color.RGBA{68, 1, 84, 255}
	outVirHi = color.RGBA{253, 231, 37, 255}
)

func outRGBA(img image.Image, p image.Point) color.RGBA {
	r, g, b, a := img.At(p.X, p.Y).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

// outDecodePNG draws sl through WriteSlicePNG and decodes the bytes, and
// returns the layout DrawSlice reports for the same slice.
func outDecodePNG(t *testing.T, sl Slice, opt PNGOptions) (image.Image, *SlicePicture) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSlicePNG(&buf, sl, opt); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	pic, err := DrawSlice(sl, opt)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != pic.Image.Bounds() {
		t.Fatalf("PNG is %v, picture %v", img.Bounds(), pic.Image.Bounds())
	}
	if !img.Bounds().In(image.Rect(0, 0, 2000, 2000)) {
		t.Fatalf("PNG is %v", img.Bounds())
	}
	return img, pic
}

// outBBox is the bounding box of the pixels of colour c inside r.
func outBBox(img image.Image, r image.Rectangle, c color.RGBA) image.Rectangle {
	var bb image.Rectangle
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if outRGBA(img, image.Pt(x, y)) == c {
				bb = bb.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return bb
}

func outCountInk(img image.Image, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := outRGBA(img, image.Pt(x, y))
			if int(c.R)+int(c.G)+int(c.B) < 200 {
				n++
			}
		}
	}
	return n
}

func TestSlicePNGSynthetic(t *testing.T) {
	// 7x4 cells: +2 at the bottom-right cell (u=6, v=0), -1 at the top-left,
	// -2 nowhere, 0 elsewhere but a ramp in the middle row.
	sl := Slice{Component: Hy, Axis: 1, Index: 5, W: 7, H: 4, Values: make([]float64, 28)}
	sl.Values[0*7+6] = 2
	sl.Values[3*7+0] = -1
	for u := range 7 {
		sl.Values[2*7+u] = float64(u-3) / 4
	}
	img, pic := outDecodePNG(t, sl, PNGOptions{Title: "step 7"})
	scale := 512 / 7
	if pic.Scale != scale || pic.Plot.Dx() != 7*scale || pic.Plot.Dy() != 4*scale {
		t.Fatalf("plot %v at scale %d, want %dx%d at %d", pic.Plot, pic.Scale, 7*scale, 4*scale, scale)
	}
	if pic.Lo != -2 || pic.Hi != 2 {
		t.Errorf("range [%v, %v], want [-2, 2]", pic.Lo, pic.Hi)
	}
	// The maximum is the bottom-right cell, exactly.
	want := image.Rect(pic.Plot.Max.X-scale, pic.Plot.Max.Y-scale, pic.Plot.Max.X, pic.Plot.Max.Y)
	if bb := outBBox(img, pic.Plot, outRed); bb != want {
		t.Errorf("pixels of the maximum colour span %v, want the bottom-right cell %v", bb, want)
	}
	// -1 is half way to blue: the 5-class RdBu stop, in the top-left cell.
	half := color.RGBA{103, 169, 207, 255}
	if want := image.Rect(pic.Plot.Min.X, pic.Plot.Min.Y, pic.Plot.Min.X+scale, pic.Plot.Min.Y+scale); outBBox(img, pic.Plot, half) != want {
		t.Errorf("pixels of -1 span %v, want the top-left cell %v", outBBox(img, pic.Plot, half), want)
	}
	if got := outRGBA(img, pic.Pixel(3, 0)); got != outWhite {
		t.Errorf("zero cell is %v, want %v", got, outWhite)
	}
	// The ramp: red grows and blue falls from left to right.
	for u := 1; u < 7; u++ {
		a, b := outRGBA(img, pic.Pixel(u-1, 2)), outRGBA(img, pic.Pixel(u, 2))
		if int(b.R)-int(b.B) <= int(a.R)-int(a.B) {
			t.Errorf("ramp not increasing at u=%d: %v then %v", u, a, b)
		}
	}
	// The colour bar: red at the top, blue at the bottom, near white in the
	// middle, many shades, and tick labels to its right.
	mid := (pic.Bar.Min.X + pic.Bar.Max.X) / 2
	if got := outRGBA(img, image.Pt(mid, pic.Bar.Min.Y)); got != outRed {
		t.Errorf("bar top %v, want %v", got, outRed)
	}
	if got := outRGBA(img, image.Pt(mid, pic.Bar.Max.Y-1)); got != outBlue {
		t.Errorf("bar bottom %v, want %v", got, outBlue)
	}
	if c := outRGBA(img, image.Pt(mid, (pic.Bar.Min.Y+pic.Bar.Max.Y)/2)); c.R < 230 || c.G < 230 || c.B < 230 {
		t.Errorf("bar middle %v, want near white", c)
	}
	shades := map[color.RGBA]bool{}
	for y := pic.Bar.Min.Y; y < pic.Bar.Max.Y; y++ {
		shades[outRGBA(img, image.Pt(mid, y))] = true
	}
	if len(shades) < 100 || pic.Bar.Dy() < 4*scale || pic.Bar.Min.X <= pic.Plot.Max.X {
		t.Errorf("bar %v beside plot %v has %d shades", pic.Bar, pic.Plot, len(shades))
	}
	labels := image.Rect(pic.Bar.Max.X+2, pic.Bar.Min.Y-8, img.Bounds().Max.X, pic.Bar.Max.Y+8)
	if n := outCountInk(img, labels); n < 100 {
		t.Errorf("only %d dark pixels right of the bar: no tick labels", n)
	}
	if n := outCountInk(img, image.Rect(0, 0, img.Bounds().Max.X, pic.Plot.Min.Y-2)); n < 200 {
		t.Errorf("only %d dark pixels above the plot: no title", n)
	}

	// Range clamps: with R = 0.5 the ramp's values 0.5 and 0.75 are both red.
	img, pic = outDecodePNG(t, sl, PNGOptions{Range: 0.5, Scale: 3})
	if pic.Scale != 3 || pic.Plot.Dx() != 21 || pic.Plot.Dy() != 12 || pic.Bar.Dy() < 100 {
		t.Errorf("scale 3: plot %v bar %v", pic.Plot, pic.Bar)
	}
	for _, u := range []int{5, 6} {
		if got := outRGBA(img, pic.Pixel(u, 2)); got != outRed {
			t.Errorf("clamped cell (%d,2) is %v, want %v", u, got, outRed)
		}
	}
	if got := outRGBA(img, pic.Pixel(0, 3)); got != outBlue {
		t.Errorf("clamped -1 is %v, want %v", got, outBlue)
	}

	// Sequential: |v|, dark at 0, yellow at the maximum.
	img, pic = outDecodePNG(t, sl, PNGOptions{Map: Sequential})
	if got := outRGBA(img, pic.Pixel(6, 0)); got != outVirHi {
		t.Errorf("sequential max is %v, want %v", got, outVirHi)
	}
	if got := outRGBA(img, pic.Pixel(3, 0)); got != outVirLo {
		t.Errorf("sequential zero is %v, want %v", got, outVirLo)
	}
	if a, b := outRGBA(img, pic.Pixel(0, 2)), outRGBA(img, pic.Pixel(6, 2)); a != b {
		t.Errorf("sequential shows -0.75 as %v and 0.75 as %v", a, b)
	}

	// NaN is grey and does not set the range; ±Inf take the end colours.
	odd := sl
	odd.Values = slices.Clone(sl.Values)
	odd.Values[1], odd.Values[2], odd.Values[3] = math.NaN(), math.Inf(1), math.Inf(-1)
	img, pic = outDecodePNG(t, odd, PNGOptions{})
	if pic.Hi != 2 {
		t.Errorf("range with NaN and Inf: %v", pic.Hi)
	}
	for u, want := range map[int]color.RGBA{1: {128, 128, 128, 255}, 2: outRed, 3: outBlue} {
		if got := outRGBA(img, pic.Pixel(u, 0)); got != want {
			t.Errorf("cell (%d,0) = %v is %v, want %v", u, odd.Values[u], got, want)
		}
	}

	for name, bad := range map[string]struct {
		sl  Slice
		opt PNGOptions
	}{
		"values":   {Slice{W: 3, H: 2, Values: make([]float64, 5)}, PNGOptions{}},
		"empty":    {Slice{}, PNGOptions{}},
		"axis":     {Slice{Axis: 3, W: 1, H: 1, Values: []float64{0}}, PNGOptions{}},
		"scale":    {sl, PNGOptions{Scale: -1}},
		"huge":     {sl, PNGOptions{Scale: 1 << 20}},
		"range":    {sl, PNGOptions{Range: math.NaN()}},
		"negative": {sl, PNGOptions{Range: -1}},
		"map":      {sl, PNGOptions{Map: 7}},
	} {
		if err := WriteSlicePNG(&bytes.Buffer{}, bad.sl, bad.opt); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

// TestSlicePNGSolver draws slices of a real run: the pixel of the cell with
// the largest |v| has the end colour of its sign, and every cell's colour
// leans to the side of its sign.
func TestSlicePNGSolver(t *testing.T) {
	g := outSerial[float64](t)
	var slices []Slice
	runOutputRanks(t, 3, func(ctx context.Context, c *transport.Comm) error {
		s, err := newOutSolver[float64](ctx, c, nil)
		if err != nil {
			return err
		}
		defer s.Close()
		for _, a := range []outSliceArgs{{Ez, 2, outDims[2]/2 - 1}, {Hx, 0, 3}, {Ey, 1, 3}} {
			sl, err := s.Slice(ctx, a.c, a.axis, a.index)
			if err != nil {
				return err
			}
			if c.Rank() == 2 {
				slices = append(slices, sl)
			}
		}
		return nil
	})
	for _, sl := range slices {
		img, pic := outDecodePNG(t, sl, PNGOptions{})
		best, bu, bv := 0.0, -1, -1
		for v := range sl.H {
			for u := range sl.W {
				x, y, z := outPlaneCell(sl.Axis, sl.Index, u, v)
				val := g[sl.Component][outCell(x, y, z)]
				if math.Abs(val) > best {
					best, bu, bv = math.Abs(val), u, v
				}
			}
		}
		if best == 0 {
			t.Fatalf("%v slice is all zero", sl.Component)
		}
		x, y, z := outPlaneCell(sl.Axis, sl.Index, bu, bv)
		want := outRed
		if g[sl.Component][outCell(x, y, z)] < 0 {
			want = outBlue
		}
		if got := outRGBA(img, pic.Pixel(bu, bv)); got != want {
			t.Errorf("%v: max cell (%d,%d) is %v, want %v", sl.Component, bu, bv, got, want)
		}
		wantScale := 512 / max(sl.W, sl.H)
		if pic.Plot.Dx() != sl.W*wantScale || pic.Plot.Dy() != sl.H*wantScale {
			t.Errorf("%v: plot %v, want %dx%d", sl.Component, pic.Plot, sl.W*wantScale, sl.H*wantScale)
		}
		for v := range sl.H {
			for u := range sl.W {
				x, y, z := outPlaneCell(sl.Axis, sl.Index, u, v)
				val := g[sl.Component][outCell(x, y, z)]
				c := outRGBA(img, pic.Pixel(u, v))
				switch {
				case val > 0.02*best && !(c.R > c.B):
					t.Errorf("%v cell (%d,%d) = %g drawn %v", sl.Component, u, v, val, c)
				case val < -0.02*best && !(c.B > c.R):
					t.Errorf("%v cell (%d,%d) = %g drawn %v", sl.Component, u, v, val, c)
				case val == 0 && c != outWhite:
					t.Errorf("%v cell (%d,%d) = 0 drawn %v", sl.Component, u, v, c)
				}
			}
		}
	}
}

// The VTK XML read back with encoding/xml.
type outVTKFile struct {
	Type       string `xml:"type,attr"`
	ByteOrder  string `xml:"byte_order,attr"`
	HeaderType string `xml:"header_type,attr"`
	Image      struct {
		WholeExtent string         `xml:"WholeExtent,attr"`
		Origin      string         `xml:"Origin,attr"`
		Spacing     string         `xml:"Spacing,attr"`
		Field       []outDataArray `xml:"FieldData>DataArray"`
		Piece       struct {
			Extent string         `xml:"Extent,attr"`
			Arrays []outDataArray `xml:"CellData>DataArray"`
		} `xml:"Piece"`
	} `xml:"ImageData"`
	PImage struct {
		WholeExtent string         `xml:"WholeExtent,attr"`
		Origin      string         `xml:"Origin,attr"`
		Spacing     string         `xml:"Spacing,attr"`
		Arrays      []outDataArray `xml:"PCellData>PDataArray"`
		Pieces      []struct {
			Extent string `xml:"Extent,attr"`
			Source string `xml:"Source,attr"`
		} `xml:"Piece"`
	} `xml:"PImageData"`
}

type outDataArray struct {
	Type       string `xml:"type,attr"`
	Name       string `xml:"Name,attr"`
	Components int    `xml:"NumberOfComponents,attr"`
	Format     string `xml:"format,attr"`
	Text       string `xml:",chardata"`
}

func outReadVTK(t *testing.T, path string) outVTKFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f outVTKFile
	if err := xml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

func outParseExtent(t *testing.T, s string) decomp.Box {
	t.Helper()
	w := strings.Fields(s)
	if len(w) != 6 {
		t.Fatalf("extent %q", s)
	}
	var n [6]int
	for i := range w {
		var err error
		if n[i], err = strconv.Atoi(w[i]); err != nil {
			t.Fatalf("extent %q: %v", s, err)
		}
	}
	return decomp.Box{Lo: [3]int{n[0], n[2], n[4]}, Hi: [3]int{n[1], n[3], n[5]}}
}

// outDecodeArray decodes VTK inline binary: an 8-character base64 block
// holding the UInt32 byte count, then the data in base64.
func outDecodeArray(t *testing.T, a outDataArray, esize int) []float64 {
	t.Helper()
	text := strings.TrimSpace(a.Text)
	if a.Format != "binary" || len(text) < 8 {
		t.Fatalf("array %s: format %q, %d characters", a.Name, a.Format, len(text))
	}
	hdr, err := base64.StdEncoding.DecodeString(text[:8])
	if err != nil || len(hdr) != 4 {
		t.Fatalf("array %s: header %q: %v", a.Name, text[:8], err)
	}
	data, err := base64.StdEncoding.DecodeString(text[8:])
	if err != nil {
		t.Fatalf("array %s: %v", a.Name, err)
	}
	if n := binary.LittleEndian.Uint32(hdr); int(n) != len(data) || len(data)%esize != 0 {
		t.Fatalf("array %s: header says %d bytes, %d follow", a.Name, n, len(data))
	}
	vals := make([]float64, len(data)/esize)
	for i := range vals {
		if esize == 8 {
			vals[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
		} else {
			vals[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])))
		}
	}
	return vals
}

// checkVTKDir reads dir/name.pvti and every piece, checks that the pieces
// tile the grid and that every value equals the fields g bitwise, and
// returns the number of pieces.
func checkVTKDir(t *testing.T, dir, name string, g [6][]float64, typ string, steps int, dt float64) int {
	t.Helper()
	esize := map[string]int{"Float64": 8, "Float32": 4}[typ]
	p := outReadVTK(t, filepath.Join(dir, name+".pvti"))
	if p.Type != "PImageData" || p.ByteOrder != "LittleEndian" || p.HeaderType != "UInt32" {
		t.Errorf("pvti: type %q byte order %q header %q", p.Type, p.ByteOrder, p.HeaderType)
	}
	whole := fmt.Sprintf("0 %d 0 %d 0 %d", outDims[0], outDims[1], outDims[2])
	if p.PImage.WholeExtent != whole || p.PImage.Origin != "0 0 0" || p.PImage.Spacing != "1 1 1" {
		t.Errorf("pvti: extent %q origin %q spacing %q", p.PImage.WholeExtent, p.PImage.Origin, p.PImage.Spacing)
	}
	wantNames := []string{"Ex", "Ey", "Ez", "Hx", "Hy", "Hz", "E", "H"}
	var names []string
	for _, a := range p.PImage.Arrays {
		names = append(names, a.Name)
		if a.Type != typ || (a.Components != 0) != (a.Name == "E" || a.Name == "H") {
			t.Errorf("pvti array %+v", a)
		}
	}
	if !slices.Equal(names, wantNames) {
		t.Errorf("pvti arrays %v, want %v", names, wantNames)
	}
	count := make([]int, len(g[0]))
	files := map[string]bool{name + ".pvti": true}
	for _, piece := range p.PImage.Pieces {
		ext := outParseExtent(t, piece.Extent)
		for z := ext.Lo[2]; z < ext.Hi[2]; z++ {
			for y := ext.Lo[1]; y < ext.Hi[1]; y++ {
				for x := ext.Lo[0]; x < ext.Hi[0]; x++ {
					if x < 0 || y < 0 || z < 0 || x >= outDims[0] || y >= outDims[1] || z >= outDims[2] {
						t.Fatalf("piece %s extent %v outside the grid", piece.Source, ext)
					}
					count[outCell(x, y, z)]++
				}
			}
		}
		files[piece.Source] = true
		f := outReadVTK(t, filepath.Join(dir, piece.Source))
		if f.Type != "ImageData" || f.HeaderType != "UInt32" || f.Image.WholeExtent != whole || f.Image.Piece.Extent != piece.Extent {
			t.Errorf("%s: type %q header %q whole %q extent %q (pvti %q)", piece.Source, f.Type, f.HeaderType, f.Image.WholeExtent, f.Image.Piece.Extent, piece.Extent)
		}
		fields := map[string]string{}
		for _, a := range f.Image.Field {
			fields[a.Name] = strings.TrimSpace(a.Text)
		}
		if tv, err := strconv.ParseFloat(fields["TimeValue"], 64); err != nil || tv != float64(steps)*dt || fields["Step"] != strconv.Itoa(steps) {
			t.Errorf("%s: field data %v", piece.Source, fields)
		}
		names = names[:0]
		for _, a := range f.Image.Piece.Arrays {
			names = append(names, a.Name)
			if a.Type != typ {
				t.Errorf("%s: array %s of type %s, want %s", piece.Source, a.Name, a.Type, typ)
			}
			comps := []Component{Component(slices.Index(wantNames, a.Name))}
			switch a.Name {
			case "E":
				comps = []Component{Ex, Ey, Ez}
			case "H":
				comps = []Component{Hx, Hy, Hz}
			}
			if (a.Components == 3) != (len(comps) == 3) {
				t.Errorf("%s: array %s has %d components", piece.Source, a.Name, a.Components)
			}
			vals := outDecodeArray(t, a, esize)
			if len(vals) != ext.Cells()*len(comps) {
				t.Fatalf("%s: array %s has %d values for %d cells", piece.Source, a.Name, len(vals), ext.Cells())
			}
			i := 0
			for z := ext.Lo[2]; z < ext.Hi[2]; z++ {
				for y := ext.Lo[1]; y < ext.Hi[1]; y++ {
					for x := ext.Lo[0]; x < ext.Hi[0]; x++ {
						for _, c := range comps {
							if want := g[c][outCell(x, y, z)]; math.Float64bits(vals[i]) != math.Float64bits(want) {
								t.Fatalf("%s: %s (%v) at (%d,%d,%d) = %v, want %v", piece.Source, a.Name, c, x, y, z, vals[i], want)
							}
							i++
						}
					}
				}
			}
		}
		if !slices.Equal(names, wantNames) {
			t.Errorf("%s: arrays %v, want %v", piece.Source, names, wantNames)
		}
	}
	for i, n := range count {
		if n != 1 {
			t.Fatalf("cell %d is in %d pieces", i, n)
		}
	}
	// Nothing else in dir: no temporary file was left behind.
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !files[e.Name()] {
			t.Errorf("stray file %s in %s", e.Name(), dir)
		}
		if info, err := e.Info(); err != nil || info.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, %v", e.Name(), info.Mode(), err)
		}
	}
	if len(ents) != len(files) {
		t.Errorf("%d files in %s, want %d", len(ents), dir, len(files))
	}
	return len(p.PImage.Pieces)
}

func testVTK[T Float](t *testing.T) {
	serial := outSerial[T](t)
	typ := map[uintptr]string{8: "Float64", 4: "Float32"}[unsafe.Sizeof(T(0))]
	for _, tc := range []struct {
		name   string
		p      int
		hand   bool
		pieces int
	}{{"P=1", 1, false, 1}, {"P=3/default", 3, false, 0}, {"P=3/hand-made", 3, true, 5}} {
		t.Run(tc.name, func(t *testing.T) {
			var d *decomp.Decomposition
			if tc.hand {
				d = outHandDecomposition(t)
			}
			dir := filepath.Join(t.TempDir(), "out")
			var (
				mu     sync.Mutex
				blocks [][]decomp.Box
			)
			runOutputRanks(t, tc.p, func(ctx context.Context, c *transport.Comm) error {
				s, err := newOutSolver[T](ctx, c, d)
				if err != nil {
					return err
				}
				defer s.Close()
				if err := s.WriteVTK(ctx, dir, "cav"); err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				if blocks == nil {
					blocks = make([][]decomp.Box, c.Size())
				}
				for _, b := range s.Field(Ex).Blocks() {
					blocks[c.Rank()] = append(blocks[c.Rank()], b.Interior())
				}
				return nil
			})
			n := checkVTKDir(t, dir, "cav", serial, typ, outSteps, 0.5)
			// The pieces named in the .pvti are the blocks the ranks hold.
			total := 0
			for r, bs := range blocks {
				for b, box := range bs {
					total++
					f := outReadVTK(t, filepath.Join(dir, fmt.Sprintf("cav_r%d_b%d.vti", r, b)))
					if got := outParseExtent(t, f.Image.Piece.Extent); got != box {
						t.Errorf("rank %d block %d: file extent %v, block %v", r, b, got, box)
					}
				}
			}
			if n != total || (tc.pieces != 0 && n != tc.pieces) {
				t.Errorf("%d pieces, the ranks hold %d blocks (want %d)", n, total, tc.pieces)
			}
		})
	}
}

func TestVTKFloat64(t *testing.T) { testVTK[float64](t) }
func TestVTKFloat32(t *testing.T) { testVTK[float32](t) }

// TestVTKErrors: a bad name is refused on every rank, and a piece that one
// rank cannot write fails the call on every rank, naming that rank, with no
// .pvti written.
func TestVTKErrors(t *testing.T) {
	dir := t.TempDir()
	// A directory where rank 1's first piece should go: its rename fails.
	if err := os.Mkdir(filepath.Join(dir, "bad_r1_b0.vti"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad_r1_b0.vti", "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d := outHandDecomposition(t)
	runOutputRanks(t, 3, func(ctx context.Context, c *transport.Comm) error {
		s, err := New[float64](ctx, c, Options{Dims: outDims, Decomposition: d})
		if err != nil {
			return err
		}
		defer s.Close()
		for _, name := range []string{"", ".", "..", "a/b", `a\b`} {
			if err := s.WriteVTK(ctx, dir, name); !errors.Is(err, ErrInvalid) {
				return fmt.Errorf("rank %d: name %q: err = %v, want ErrInvalid", c.Rank(), name, err)
			}
		}
		err = s.WriteVTK(ctx, dir, "bad")
		if err == nil {
			return fmt.Errorf("rank %d: WriteVTK succeeded with an unwritable piece", c.Rank())
		}
		if c.Rank() != 1 && !strings.Contains(err.Error(), "rank 1") {
			return fmt.Errorf("rank %d: error %q does not name rank 1", c.Rank(), err)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(dir, "bad.pvti")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bad.pvti exists after a failed write (%v)", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// outVTKScript reads a .pvti with VTK's own reader and prints the grid and
// every value of every cell array with repr (which round-trips).
const outVTKScript = `
import sys, vtk
r = vtk.vtkXMLPImageDataReader()
r.SetFileName(sys.argv[1])
r.Update()
img = r.GetOutput()
print("dims", *img.GetDimensions())
cd = img.GetCellData()
for i in range(cd.GetNumberOfArrays()):
    a = cd.GetArray(i)
    vals = [repr(a.GetComponent(t, c)) for t in range(a.GetNumberOfTuples()) for c in range(a.GetNumberOfComponents())]
    print("array", a.GetName(), a.GetDataTypeAsString(), a.GetNumberOfComponents(), a.GetNumberOfTuples(), *vals)
`

// TestVTKWithPythonVTK reads the 3-rank output with VTK itself (skipped if
// no python3 can import vtk; Debian: python3-vtk9, which goes to the system
// python3, not to one that PATH may put first).
func TestVTKWithPythonVTK(t *testing.T) {
	python := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import vtk").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Skip("no python3 with vtk")
	}
	serial := outSerial[float64](t)
	dir := t.TempDir()
	d := outHandDecomposition(t)
	runOutputRanks(t, 3, func(ctx context.Context, c *transport.Comm) error {
		s, err := newOutSolver[float64](ctx, c, d)
		if err != nil {
			return err
		}
		defer s.Close()
		return s.WriteVTK(ctx, dir, "cav")
	})
	script := filepath.Join(dir, "read.py")
	if err := os.WriteFile(script, []byte(outVTKScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, script, filepath.Join(dir, "cav.pvti")).CombinedOutput()
	if err != nil {
		t.Fatalf("python3 vtk: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	seen := map[string]bool{}
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		switch {
		case len(w) == 4 && w[0] == "dims":
			if want := fmt.Sprintf("dims %d %d %d", outDims[0]+1, outDims[1]+1, outDims[2]+1); strings.Join(w, " ") != want {
				t.Errorf("vtk: %s, want %s", sc.Text(), want)
			}
			seen["dims"] = true
		case len(w) >= 5 && w[0] == "array":
			name := w[1]
			comps := map[string][]Component{"Ex": {Ex}, "Ey": {Ey}, "Ez": {Ez}, "Hx": {Hx}, "Hy": {Hy}, "Hz": {Hz}, "E": {Ex, Ey, Ez}, "H": {Hx, Hy, Hz}}[name]
			cells := len(serial[0])
			if comps == nil || w[2] != "double" || w[3] != strconv.Itoa(len(comps)) || w[4] != strconv.Itoa(cells) || len(w) != 5+cells*len(comps) {
				t.Errorf("vtk: array %v %v %v %v with %d values", name, w[2], w[3], w[4], len(w)-5)
				continue
			}
			for i := range cells * len(comps) {
				got, err := strconv.ParseFloat(w[5+i], 64)
				want := serial[comps[i%len(comps)]][i/len(comps)]
				if err != nil || math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("vtk: %s value %d = %s, want %v", name, i, w[5+i], want)
				}
			}
			seen[name] = true
		default:
			t.Logf("vtk: %.200s", sc.Text())
		}
	}
	if len(seen) != 9 {
		t.Errorf("vtk printed %v, want dims and 8 arrays\n%.2000s", seen, out)
	}
}

func TestProbesCSV(t *testing.T) {
	names := []string{"Ez(3,3,3)", `say "hi"`, "plain"}
	series := [][]float64{
		{0, 1.0 / 3, math.NaN(), math.Inf(1), -0.0, 5e-324},
		{1e300, -1e-300, math.Inf(-1), 0.1, 0.2, 0.30000000000000004},
		{math.Pi, math.E, -math.MaxFloat64, math.SmallestNonzeroFloat64, 123456789012345678, 1},
	}
	const dt = 0.45
	var buf bytes.Buffer
	if err := WriteProbesCSV(&buf, dt, names, series); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]string{"step", "time"}, names...); len(recs) == 0 || !slices.Equal(recs[0], want) {
		t.Fatalf("header %q, want %q", recs[0], want)
	}
	if len(recs) != 1+len(series[0]) {
		t.Fatalf("%d records, want %d", len(recs), 1+len(series[0]))
	}
	for n, rec := range recs[1:] {
		if rec[0] != strconv.Itoa(n) {
			t.Errorf("row %d: step %q", n, rec[0])
		}
		if tm, err := strconv.ParseFloat(rec[1], 64); err != nil || tm != float64(n)*dt {
			t.Errorf("row %d: time %q, want %v", n, rec[1], float64(n)*dt)
		}
		for i := range series {
			got, err := strconv.ParseFloat(rec[2+i], 64)
			want := series[i][n]
			if err != nil || math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Errorf("row %d %s: %q, want %v (%v)", n, names[i], rec[2+i], want, err)
			}
		}
	}

	buf.Reset()
	if err := WriteProbesCSV(&buf, dt, nil, nil); err != nil || buf.String() != "step,time\n" {
		t.Errorf("no probes: %q, %v", buf.String(), err)
	}
	for name, bad := range map[string]struct {
		names  []string
		series [][]float64
	}{
		"lengths": {[]string{"a", "b"}, [][]float64{{1, 2}, {1}}},
		"names":   {[]string{"a"}, [][]float64{{1}, {2}}},
	} {
		if err := WriteProbesCSV(&bytes.Buffer{}, dt, bad.names, bad.series); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}
