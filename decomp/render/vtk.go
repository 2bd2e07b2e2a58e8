package render

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/hilo-hpc/hilo/decomp"
)

// VTKOptions tune WriteVTK.
type VTKOptions struct {
	// Boxes adds a second cell array "box": the number of the box a cell
	// lies in, boxes being numbered 0, 1, ... rank by rank in the order of
	// Decomposition.Boxes.
	Boxes bool
}

// WriteVTK writes d as a VTK XML ImageData file (.vti) with one cell per
// grid cell (point extent 0..N per axis, unit spacing, origin 0) and an
// Int32 cell array "rank", the owner of each cell (x fastest, as VTK
// orders cells), in ASCII. It streams one z layer at a time, so memory does
// not grow with the grid; the file takes a few bytes per cell.
func WriteVTK(w io.Writer, d *decomp.Decomposition, opt VTKOptions) error {
	if d == nil || d.Ranks() == 0 {
		return ErrNoDecomposition
	}
	if err := d.Grid.Validate(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	n := d.Grid.Dims
	ext := fmt.Sprintf("0 %d 0 %d 0 %d", n[0], n[1], n[2])
	fmt.Fprintf(bw, "<?xml version=\"1.0\"?>\n")
	fmt.Fprintf(bw, "<VTKFile type=\"ImageData\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\">\n")
	fmt.Fprintf(bw, "  <ImageData WholeExtent=\"%s\" Origin=\"0 0 0\" Spacing=\"1 1 1\">\n", ext)
	fmt.Fprintf(bw, "    <Piece Extent=\"%s\">\n", ext)
	fmt.Fprintf(bw, "      <CellData Scalars=\"rank\">\n")
	nboxes := 0
	for _, bs := range d.Boxes {
		nboxes += len(bs)
	}
	if d.Ranks()-1 > math.MaxInt32 || nboxes-1 > math.MaxInt32 {
		return fmt.Errorf("render: %d ranks and %d boxes do not fit VTK's Int32", d.Ranks(), nboxes)
	}
	names := []string{"rank"}
	if opt.Boxes {
		names = append(names, "box")
	}
	layer := n[0] * n[1]
	rank, box := make([]int32, layer), make([]int32, layer)
	var line []byte
	for _, name := range names {
		vals, top := rank, d.Ranks()-1
		if name == "box" {
			vals, top = box, nboxes-1
		}
		fmt.Fprintf(bw, "        <DataArray type=\"Int32\" Name=\"%s\" format=\"ascii\" RangeMin=\"0\" RangeMax=\"%d\">\n", name, top)
		p := newLayerPainter(d)
		for z := range n[2] {
			p.paint(z, rank, box)
			for i := 0; i < len(vals); i += 16 {
				line = append(line[:0], "          "...)
				for k, v := range vals[i:min(i+16, len(vals))] {
					if v < 0 {
						return fmt.Errorf("render: cell (%d,%d,%d) belongs to no box", (i+k)%n[0], (i+k)/n[0], z)
					}
					if k > 0 {
						line = append(line, ' ')
					}
					line = strconv.AppendInt(line, int64(v), 10)
				}
				line = append(line, '\n')
				bw.Write(line)
			}
		}
		fmt.Fprintf(bw, "        </DataArray>\n")
	}
	fmt.Fprintf(bw, "      </CellData>\n")
	fmt.Fprintf(bw, "    </Piece>\n")
	fmt.Fprintf(bw, "  </ImageData>\n")
	fmt.Fprintf(bw, "</VTKFile>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("render: writing VTK: %w", err)
	}
	return nil
}
