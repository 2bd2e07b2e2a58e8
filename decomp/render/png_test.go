package render

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
)

func TestRankColorDistinct(t *testing.T) {
	seen := map[color.RGBA]int{}
	for r := range 1024 {
		c := RankColor(r)
		if c == ink || c == background {
			t.Fatalf("rank %d has the colour of ink or background", r)
		}
		if o, ok := seen[c]; ok {
			t.Fatalf("ranks %d and %d share colour %v", o, r, c)
		}
		seen[c] = r
		if lum(c) < 70 || lum(c) > 235 {
			t.Errorf("rank %d colour %v has luminance %.0f, too close to lines or background", r, c, lum(c))
		}
		// Consecutive ranks must be told apart at a glance.
		if r > 0 {
			p := RankColor(r - 1)
			if dist(p, c) < 60 {
				t.Errorf("ranks %d and %d: colours %v and %v too close (%.0f)", r-1, r, p, c, dist(p, c))
			}
		}
	}
}

func lum(c color.RGBA) float64 { return 0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B) }

func dist(a, b color.RGBA) float64 {
	dr, dg, db := float64(a.R)-float64(b.R), float64(a.G)-float64(b.G), float64(a.B)-float64(b.B)
	return math.Sqrt(dr*dr + dg*dg + db*db)
}

// rankOf maps a rank colour back to its rank.
func rankOf(ranks int) map[color.RGBA]int {
	m := map[color.RGBA]int{}
	for r := range ranks {
		m[RankColor(r)] = r
	}
	return m
}

func decodePNG(t *testing.T, d *decomp.Decomposition, opt PNGOptions) (*Picture, image.Image) {
	t.Helper()
	var buf bytes.Buffer
	if err := WritePNG(&buf, d, opt); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("decoding our PNG: %v", err)
	}
	pic, err := Slices(d, opt)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != pic.Image.Bounds() {
		t.Fatalf("decoded size %v, drawn %v", img.Bounds(), pic.Image.Bounds())
	}
	return pic, img
}

func rgba(c color.Color) color.RGBA {
	r, g, b, a := c.RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

func TestSlicesCellsShowTheirOwner(t *testing.T) {
	cases := []struct {
		name      string
		d         *decomp.Decomposition
		wantScale int
	}{
		{"blocks 64x32x16 / 5", blocks(t, decomp.Grid{Dims: [3]int{64, 32, 16}}, 5, 1, 1), 7},
		{"blocks 128^3 / 12", blocks(t, decomp.Grid{Dims: [3]int{128, 128, 128}}, 3, 2, 2), 3},
		{"scattered 24x20x12 / 40", scattered(t, decomp.Grid{Dims: [3]int{24, 20, 12}}, 2, 40), 17},
		{"tiny 3x2x1 / 6", scattered(t, decomp.Grid{Dims: [3]int{3, 2, 1}}, 1, 6), 64},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			pic, img := decodePNG(t, d, PNGOptions{})
			if w := img.Bounds().Dx(); w > DefaultWidth+2*margin+2*gap+200 {
				t.Errorf("picture is %d px wide", w)
			}
			back := rankOf(d.Ranks())
			for a, p := range pic.Panels {
				if p.Axis != a || p.Index != d.Grid.Dims[a]/2 {
					t.Fatalf("panel %d is axis %d index %d", a, p.Axis, p.Index)
				}
				if p.Scale != tc.wantScale {
					t.Errorf("panel %d scale %d, want %d", a, p.Scale, tc.wantScale)
				}
				for v := range p.Cells[1] {
					for u := range p.Cells[0] {
						pt := p.Pixel(u, v)
						if gu, gv, ok := p.Cell(pt); !ok || gu != u || gv != v {
							t.Fatalf("panel %d: Pixel(%d,%d) = %v maps back to (%d,%d,%v)", a, u, v, pt, gu, gv, ok)
						}
						want := d.Owner(p.GridCell(u, v))
						got, ok := back[rgba(img.At(pt.X, pt.Y))]
						if !ok || got != want {
							t.Fatalf("panel %d cell (%d,%d) = grid %v: pixel %v colour %v is rank %d (%v), owner is %d",
								a, u, v, p.GridCell(u, v), pt, img.At(pt.X, pt.Y), got, ok, want)
						}
						// A boundary line runs along the right edge of a cell
						// whose right neighbour has another owner.
						if u+1 < p.Cells[0] && d.Owner(p.GridCell(u+1, v)) != want && p.Scale >= 3 {
							edge := image.Pt(p.Rect.Min.X+(u+1)*p.Scale-1, pt.Y)
							if c := rgba(img.At(edge.X, edge.Y)); c != ink {
								t.Fatalf("panel %d: no boundary between cells (%d,%d) and (%d,%d): %v is %v", a, u, v, u+1, v, edge, c)
							}
						}
					}
				}
			}
			colours := map[color.RGBA]bool{}
			b := img.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					colours[rgba(img.At(x, y))] = true
				}
			}
			if len(colours) <= d.Ranks() {
				t.Errorf("%d distinct colours for %d ranks", len(colours), d.Ranks())
			}
		})
	}
}

func TestSlicesScaledDown(t *testing.T) {
	d := blocks(t, decomp.Grid{Dims: [3]int{3000, 8, 6}}, 7, 1, 1)
	pic, img := decodePNG(t, d, PNGOptions{Title: "long"})
	if w := img.Bounds().Dx(); w > DefaultWidth+2*margin+2*gap+10 {
		t.Errorf("picture is %d px wide, want about %d", w, DefaultWidth)
	}
	back := rankOf(d.Ranks())
	p := pic.Panels[decomp.Z]
	if p.Scale != 0 {
		t.Fatalf("scale %d, want scaled down", p.Scale)
	}
	checked := 0
	for x := p.Rect.Min.X; x < p.Rect.Max.X; x++ {
		pt := image.Pt(x, (p.Rect.Min.Y+p.Rect.Max.Y)/2)
		u, v, ok := p.Cell(pt)
		if !ok {
			t.Fatalf("%v not in panel %v", pt, p.Rect)
		}
		c := rgba(img.At(pt.X, pt.Y))
		if c == ink {
			continue
		}
		if got, want := back[c], d.Owner(p.GridCell(u, v)); got != want {
			t.Fatalf("pixel %v shows rank %d, cell (%d,%d) owner %d", pt, got, u, v, want)
		}
		checked++
	}
	if checked < p.Rect.Dx()*9/10 {
		t.Errorf("only %d of %d pixels off the boundary lines", checked, p.Rect.Dx())
	}
}

func TestLegendOrNote(t *testing.T) {
	small := blocks(t, decomp.Grid{Dims: [3]int{16, 16, 16}}, 2, 2, 2)
	pic, _ := decodePNG(t, small, PNGOptions{})
	// Every rank's swatch appears somewhere below the panels.
	below := pic.Panels[0].Rect.Max.Y
	for _, p := range pic.Panels {
		below = max(below, p.Rect.Max.Y)
	}
	found := map[int]bool{}
	back := rankOf(8)
	b := pic.Image.Bounds()
	for y := below + 2; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, ok := back[pic.Image.RGBAAt(x, y)]; ok {
				found[r] = true
			}
		}
	}
	if len(found) != 8 {
		t.Errorf("legend shows %d of 8 rank colours", len(found))
	}
	none, _ := decodePNG(t, small, PNGOptions{Legend: -1})
	if none.Image.Bounds().Dy() >= pic.Image.Bounds().Dy() {
		t.Errorf("picture without legend is %d px tall, with %d", none.Image.Bounds().Dy(), pic.Image.Bounds().Dy())
	}
}

func TestNoDecomposition(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePNG(&buf, nil, PNGOptions{}); err != ErrNoDecomposition {
		t.Errorf("WritePNG(nil) = %v", err)
	}
	if err := WriteVTK(&buf, nil, VTKOptions{}); err != ErrNoDecomposition {
		t.Errorf("WriteVTK(nil) = %v", err)
	}
}

// A picture costs the boxes plus the pixels: a 2^40-cell grid of a few
// boxes draws at once.
func TestSlicesHugeGridFewBoxes(t *testing.T) {
	n := [3]int{1 << 20, 1 << 19, 2}
	d, err := decomp.New(decomp.Grid{Dims: n}, [][]decomp.Box{
		{{Hi: [3]int{n[0] / 3, n[1], n[2]}}},
		{{Lo: [3]int{n[0] / 3, 0, 0}, Hi: [3]int{n[0], n[1] / 2, n[2]}}},
		{{Lo: [3]int{n[0] / 3, n[1] / 2, 0}, Hi: n}},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	pic, img := decodePNG(t, d, PNGOptions{})
	back := rankOf(3)
	for _, p := range pic.Panels {
		for _, f := range [][2]float64{{0.1, 0.1}, {0.9, 0.2}, {0.5, 0.9}, {0.2, 0.7}} {
			pt := image.Pt(p.Rect.Min.X+int(f[0]*float64(p.Rect.Dx())), p.Rect.Min.Y+int(f[1]*float64(p.Rect.Dy())))
			u, v, _ := p.Cell(pt)
			c := rgba(img.At(pt.X, pt.Y))
			if r, ok := back[c]; c != ink && (!ok || r != d.Owner(p.GridCell(u, v))) {
				t.Errorf("panel %d pixel %v shows %v, cell %v owner %d", p.Axis, pt, c, p.GridCell(u, v), d.Owner(p.GridCell(u, v)))
			}
		}
	}
}
