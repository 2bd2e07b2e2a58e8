package render

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
)

// vtiFile is the part of a VTK ImageData file the tests read back.
type vtiFile struct {
	XMLName xml.Name `xml:"VTKFile"`
	Type    string   `xml:"type,attr"`
	Image   struct {
		WholeExtent string `xml:"WholeExtent,attr"`
		Piece       struct {
			Extent string `xml:"Extent,attr"`
			Arrays []struct {
				Type   string `xml:"type,attr"`
				Name   string `xml:"Name,attr"`
				Format string `xml:"format,attr"`
				Text   string `xml:",chardata"`
			} `xml:"CellData>DataArray"`
		} `xml:"Piece"`
	} `xml:"ImageData"`
}

func parseVTI(t *testing.T, data []byte) (vtiFile, map[string][]int) {
	t.Helper()
	var f vtiFile
	if err := xml.Unmarshal(data, &f); err != nil {
		t.Fatalf("VTK file is not well-formed XML: %v", err)
	}
	arrays := map[string][]int{}
	for _, a := range f.Image.Piece.Arrays {
		if a.Type != "Int32" || a.Format != "ascii" {
			t.Errorf("array %q is %s/%s", a.Name, a.Type, a.Format)
		}
		var vals []int
		for _, w := range strings.Fields(a.Text) {
			v, err := strconv.Atoi(w)
			if err != nil {
				t.Fatalf("array %q: %v", a.Name, err)
			}
			vals = append(vals, v)
		}
		arrays[a.Name] = vals
	}
	return f, arrays
}

func TestWriteVTK(t *testing.T) {
	for _, d := range []*decomp.Decomposition{
		blocks(t, decomp.Grid{Dims: [3]int{10, 7, 5}, Periodic: [3]bool{true, false, true}}, 3, 2, 1),
		scattered(t, decomp.Grid{Dims: [3]int{9, 8, 7}}, 2, 13),
		blocks(t, decomp.Grid{Dims: [3]int{1, 1, 1}}, 1, 1, 1),
	} {
		t.Run(d.Grid.String(), func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteVTK(&buf, d, VTKOptions{Boxes: true}); err != nil {
				t.Fatal(err)
			}
			f, arrays := parseVTI(t, buf.Bytes())
			n := d.Grid.Dims
			ext := fmt.Sprintf("0 %d 0 %d 0 %d", n[0], n[1], n[2])
			if f.Type != "ImageData" || f.Image.WholeExtent != ext || f.Image.Piece.Extent != ext {
				t.Fatalf("type %q extents %q %q, want ImageData %q", f.Type, f.Image.WholeExtent, f.Image.Piece.Extent, ext)
			}
			rank, box := arrays["rank"], arrays["box"]
			if len(rank) != d.Grid.Cells() || len(box) != d.Grid.Cells() {
				t.Fatalf("%d rank and %d box values for %d cells", len(rank), len(box), d.Grid.Cells())
			}
			var all []decomp.Box
			var boxRank []int
			for r, bs := range d.Boxes {
				for _, b := range bs {
					all = append(all, b)
					boxRank = append(boxRank, r)
				}
			}
			i := 0
			for z := range n[2] {
				for y := range n[1] {
					for x := range n[0] {
						p := [3]int{x, y, z}
						if want := d.Owner(p); rank[i] != want {
							t.Fatalf("cell %v: rank %d, Owner %d", p, rank[i], want)
						}
						b := box[i]
						if b < 0 || b >= len(all) || !all[b].Contains(p) || boxRank[b] != rank[i] {
							t.Fatalf("cell %v of rank %d: box %d does not hold it", p, rank[i], b)
						}
						i++
					}
				}
			}
		})
	}
}

func TestWriteVTKWithoutBoxes(t *testing.T) {
	d := blocks(t, decomp.Grid{Dims: [3]int{4, 4, 4}}, 2, 1, 1)
	var buf bytes.Buffer
	if err := WriteVTK(&buf, d, VTKOptions{}); err != nil {
		t.Fatal(err)
	}
	_, arrays := parseVTI(t, buf.Bytes())
	if _, ok := arrays["box"]; ok || len(arrays["rank"]) != 64 {
		t.Errorf("arrays %d rank values, box present %v", len(arrays["rank"]), ok)
	}
}

// failWriter fails every write, as a full disk does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }

func TestWriteErrorsSurface(t *testing.T) {
	d := blocks(t, decomp.Grid{Dims: [3]int{40, 40, 40}}, 2, 1, 1)
	if err := WriteVTK(failWriter{}, d, VTKOptions{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteVTK to a failing writer: %v", err)
	}
	if err := WritePNG(failWriter{}, d, PNGOptions{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WritePNG to a failing writer: %v", err)
	}
}
