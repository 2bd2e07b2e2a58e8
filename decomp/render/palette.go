package render

import (
	"image/color"
	"math"
)

// Colours of everything in a picture that is not a cell.
var (
	background = color.RGBA{255, 255, 255, 255}
	ink        = color.RGBA{20, 20, 20, 255} // rank boundaries, frames and text
)

// RankColor is the colour of rank r in pictures. Hues step by the golden
// ratio of a turn, so any two ranks with nearby numbers have clearly
// different hues, and lightness and saturation cycle with periods 3 and 2,
// so consecutive ranks also differ in lightness. No rank colour is as dark
// as the boundary lines or as light as the background. Colours of distinct
// ranks are distinct for at least the first 1024 ranks (8-bit rounding
// makes some coincide beyond that).
func RankColor(r int) color.RGBA {
	const golden = 0.6180339887498949
	h := math.Mod(0.07+float64(r)*golden, 1)
	if h < 0 {
		h++
	}
	light := [3]float64{0.60, 0.45, 0.75}[mod(r, 3)]
	sat := [2]float64{0.80, 0.58}[mod(r/3, 2)]
	c := hsl(h, sat, light)
	// Saturated blues and purples look far darker than their lightness
	// says; lift them towards white so boundary lines stay visible.
	for i := 0; luma(c) < 72 && i < 20; i++ {
		c = mix(c, background, 0.08)
	}
	return c
}

func luma(c color.RGBA) float64 {
	return 0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B)
}

// mix moves c a fraction t of the way to d.
func mix(c, d color.RGBA, t float64) color.RGBA {
	m := func(a, b uint8) uint8 { return uint8(math.Round(float64(a) + t*(float64(b)-float64(a)))) }
	return color.RGBA{m(c.R, d.R), m(c.G, d.G), m(c.B, d.B), 255}
}

func mod(a, n int) int {
	m := a % n
	if m < 0 {
		m += n
	}
	return m
}

// hsl converts hue (turns), saturation and lightness in [0,1] to RGB.
func hsl(h, s, l float64) color.RGBA {
	c := (1 - math.Abs(2*l-1)) * s
	hp := h * 6
	x := c * (1 - math.Abs(math.Mod(hp, 2)-1))
	var r, g, b float64
	switch int(hp) % 6 {
	case 0:
		r, g, b = c, x, 0
	case 1:
		r, g, b = x, c, 0
	case 2:
		r, g, b = 0, c, x
	case 3:
		r, g, b = 0, x, c
	case 4:
		r, g, b = x, 0, c
	default:
		r, g, b = c, 0, x
	}
	m := l - c/2
	to8 := func(v float64) uint8 { return uint8(math.Round(255 * math.Min(1, math.Max(0, v+m)))) }
	return color.RGBA{to8(r), to8(g), to8(b), 255}
}

// shade darkens c by factor f (0..1), used for cell edges inside a rank.
func shade(c color.RGBA, f float64) color.RGBA {
	return color.RGBA{uint8(float64(c.R) * f), uint8(float64(c.G) * f), uint8(float64(c.B) * f), 255}
}
