// Package picture holds the few drawing primitives hilo's PNG writers
// share (decomp/render's decomposition slices, solvers/fdtd's field
// slices): a frame around a rectangle and one line of text in a fixed
// bitmap font.
package picture

import (
	"image"
	"image/color"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Face is the font of every label: 7×13 pixels per character.
var Face = basicfont.Face7x13

// Frame draws a one-pixel rectangle of colour ink just outside r.
func Frame(img *image.RGBA, r image.Rectangle, ink color.RGBA) {
	o := r.Inset(-1)
	for x := o.Min.X; x < o.Max.X; x++ {
		img.SetRGBA(x, o.Min.Y, ink)
		img.SetRGBA(x, o.Max.Y-1, ink)
	}
	for y := o.Min.Y; y < o.Max.Y; y++ {
		img.SetRGBA(o.Min.X, y, ink)
		img.SetRGBA(o.Max.X-1, y, ink)
	}
}

// TextWidth is the width of s in pixels.
func TextWidth(s string) int { return font.MeasureString(Face, s).Ceil() }

// Text writes s in colour ink with its top-left corner at (x, y).
func Text(img *image.RGBA, x, y int, s string, ink color.RGBA) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(ink), Face: Face, Dot: fixed.P(x, y+Face.Ascent)}
	d.DrawString(s)
}
