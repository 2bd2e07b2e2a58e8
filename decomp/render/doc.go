// Package render draws a decomp.Decomposition for people and for
// visualization tools: WritePNG (and Slices, the image behind it) shows the
// three mid-plane slices of the grid with every cell coloured by its rank and
// rank boundaries drawn as dark lines, and WriteVTK writes a VTK XML ImageData
// file (.vti) with the owning rank (and box) of every cell as cell data, for
// ParaView or VisIt. Colours come from RankColor, a golden-ratio palette in
// which ranks with consecutive numbers (usually neighbours along a curve)
// differ in both hue and lightness.
//
// The package only reads a decomposition; it computes no metrics, so a
// caller that wants cut faces or halo volumes in a picture's title passes
// them in PNGOptions.Title.
package render
