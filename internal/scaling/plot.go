package scaling

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// A Series is one named line or set of points of a panel.
type Series struct {
	Name   string
	X, Y   []float64
	Points bool // draw points only (else a line with points)
	Dashed bool // a reference line, drawn without points
	// Color picks the palette entry (1-based); 0: by position among the
	// panel's series that are not dashed, grey for dashed ones.
	Color int
	// NoLegend leaves the series out of the legend.
	NoLegend bool
}

// A Panel is one plot of a figure.
type Panel struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Series                []Series
	// XTicks, if set, are the labelled ticks of the x axis.
	XTicks []float64
}

// WritePNG draws panels side by side, each width x height points, as one
// PNG image.
func WritePNG(w io.Writer, panels []Panel, width, height vg.Length) error {
	if len(panels) == 0 {
		return fmt.Errorf("scaling: no panels")
	}
	plots := make([][]*plot.Plot, 1)
	for _, p := range panels {
		pl, err := p.plot()
		if err != nil {
			return err
		}
		plots[0] = append(plots[0], pl)
	}
	img := vgimg.New(width*vg.Length(len(panels)), height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2}
	canvases := plot.Align(plots, tiles, dc)
	for i, pl := range plots[0] {
		pl.Draw(canvases[0][i])
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// palette: colour-blind-safe (Okabe-Ito).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{213, 94, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{86, 180, 233, 255},
	color.RGBA{0, 0, 0, 255},
}

func (p Panel) plot() (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text = p.Title
	pl.X.Label.Text = p.XLabel
	pl.Y.Label.Text = p.YLabel
	pl.Legend.Top = true
	pl.Legend.TextStyle.Font.Size = vg.Points(9)
	pl.Add(plotter.NewGrid())
	if p.LogX {
		pl.X.Scale = plot.LogScale{}
		pl.X.Tick.Marker = oneTwoFive{}
	}
	if p.LogY {
		pl.Y.Scale = plot.LogScale{}
		pl.Y.Tick.Marker = oneTwoFive{}
	}
	if len(p.XTicks) > 0 {
		pl.X.Tick.Marker = fixedTicks(p.XTicks)
	}
	solid := 0
	for _, s := range p.Series {
		xys := make(plotter.XYs, 0, len(s.X))
		for j := range s.X {
			x, y := s.X[j], s.Y[j]
			if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) ||
				(p.LogX && x <= 0) || (p.LogY && y <= 0) {
				continue // log axes cannot show it
			}
			xys = append(xys, plotter.XY{X: x, Y: y})
		}
		if len(xys) == 0 {
			continue
		}
		i := solid
		if !s.Dashed {
			solid++
		}
		if s.Color > 0 {
			i = s.Color - 1
		}
		c := palette[i%len(palette)]
		legend := func(th ...plot.Thumbnailer) {
			if !s.NoLegend {
				pl.Legend.Add(s.Name, th...)
			}
		}
		switch {
		case s.Dashed:
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, err
			}
			l.Color = color.Gray{100}
			if s.Color > 0 {
				l.Color = c
			}
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			pl.Add(l)
			legend(l)
		case s.Points:
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, err
			}
			sc.Color = c
			sc.Shape = shapes[i%len(shapes)]
			sc.Radius = vg.Points(3.5)
			pl.Add(sc)
			legend(sc)
		default:
			l, sc, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, err
			}
			l.Color, sc.Color = c, c
			sc.Shape = shapes[i%len(shapes)]
			pl.Add(l, sc)
			legend(l, sc)
		}
	}
	return pl, nil
}

var shapes = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}, draw.RingGlyph{},
}

// oneTwoFive labels a log axis at 1, 2 and 5 times the powers of ten.
type oneTwoFive struct{}

func (oneTwoFive) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	if !(lo > 0) || !(hi >= lo) {
		return ticks
	}
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
				ticks = append(ticks, plot.Tick{Value: v, Label: compact(v)})
			}
		}
	}
	if len(ticks) < 2 { // a narrow range: label its ends too
		ticks = append(ticks, plot.Tick{Value: lo, Label: compact(lo)}, plot.Tick{Value: hi, Label: compact(hi)})
	}
	return ticks
}

// fixedTicks labels the given values (thinned to about 12 labels).
type fixedTicks []float64

func (f fixedTicks) Ticks(lo, hi float64) []plot.Tick {
	step := (len(f) + 11) / 12
	var ticks []plot.Tick
	for i, v := range f {
		if v < lo || v > hi {
			continue
		}
		t := plot.Tick{Value: v}
		if i%step == 0 {
			t.Label = compact(v)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// compact formats v as 3, 0.5, 16k, 2M.
func compact(v float64) string {
	switch {
	case v >= 1e6 && math.Mod(v, 1e6) == 0:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3 && math.Mod(v, 1e3) == 0, v >= 1024 && math.Mod(v, 1024) == 0:
		if math.Mod(v, 1024) == 0 && v >= 1024 {
			return fmt.Sprintf("%gk", v/1024)
		}
		return fmt.Sprintf("%gk", v/1e3)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
