package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/decomp/render"
)

func TestDecompBadInput(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ones := strings.Repeat("1 ", 64)
	short := file("short", strings.Repeat("1 ", 63))
	long := file("long", ones+"1")
	negative := file("negative", "-1 "+strings.Repeat("1 ", 63))
	nan := file("nan", "NaN "+strings.Repeat("1 ", 63))
	word := file("word", "one "+strings.Repeat("1 ", 63))
	inf := file("inf", "+Inf "+strings.Repeat("1 ", 63))
	g := []string{"-grid", "4x4x4", "-ranks", "2"}
	cases := []struct {
		name string
		args []string
		want string // a word the message must contain
	}{
		{"no grid", []string{"-ranks", "2"}, "-grid"},
		{"zero dim", []string{"-grid", "0x4x4", "-ranks", "2"}, "positive"},
		{"negative dim", []string{"-grid", "4x-4x4", "-ranks", "2"}, "positive"},
		{"two dims", []string{"-grid", "4x4", "-ranks", "2"}, "NXxNYxNZ"},
		{"four dims", []string{"-grid", "4x4x4x4", "-ranks", "2"}, "NXxNYxNZ"},
		{"empty dim", []string{"-grid", "4xx4", "-ranks", "2"}, "NXxNYxNZ"},
		{"letters", []string{"-grid", "axbxc", "-ranks", "2"}, "whole number"},
		{"huge grid", []string{"-grid", "2000000x2000000x2000000", "-ranks", "2"}, "grid"},
		{"no ranks", []string{"-grid", "4x4x4"}, "-ranks"},
		{"zero ranks", []string{"-grid", "4x4x4", "-ranks", "0"}, "-ranks"},
		{"negative ranks", []string{"-grid", "4x4x4", "-ranks", "-3"}, "-ranks"},
		{"more ranks than cells", []string{"-grid", "4x4x4", "-ranks", "65"}, "-ranks"},
		{"ranks not a number", []string{"-grid", "4x4x4", "-ranks", "many"}, "-ranks"},
		{"unknown method", append(g, "-method", "voronoi"), "voronoi"},
		{"unknown stencil", append(g, "-stencil", "7"), "-stencil"},
		{"halo word", append(g, "-halo", "wide"), "-halo"},
		{"halo negative", append(g, "-halo", "-1"), "-halo"},
		{"halo two parts", append(g, "-halo", "1,2"), "-halo"},
		{"halo bare pair", append(g, "-halo", "1:2"), "-halo"},
		{"halo bad part", append(g, "-halo", "1:0,1:0,0:x"), "-halo"},
		{"halo three colons", append(g, "-halo", "1:0:1,1,1"), "-halo"},
		{"halo huge", append(g, "-halo", "99999999"), "-halo"},
		{"periodic letter", append(g, "-periodic", "xq"), "-periodic"},
		{"periodic twice", append(g, "-periodic", "xx"), "-periodic"},
		{"ranks per node", append(g, "-ranks-per-node", "-1"), "-ranks-per-node"},
		{"zero fields", append(g, "-fields", "0"), "-fields"},
		{"zero bytes", append(g, "-bytes", "0"), "-bytes"},
		{"weights missing file", append(g, "-weights", filepath.Join(dir, "nope")), "-weights"},
		{"weights too few", append(g, "-weights", short), "63 values"},
		{"weights too many", append(g, "-weights", long), "more than 64"},
		{"weights negative", append(g, "-weights", negative), "negative"},
		{"weights NaN", append(g, "-weights", nan), "finite"},
		{"weights Inf", append(g, "-weights", inf), "finite"},
		{"weights word", append(g, "-weights", word), "finite"},
		{"unknown format", append(g, "-format", "svg"), "svg"},
		{"png without -o", append(g, "-format", "png"), "-o"},
		{"vtk without -o", append(g, "-format", "vtk"), "-o"},
		{"compare png", append(g, "-compare", "-format", "png", "-o", filepath.Join(dir, "x.png")), "-compare"},
		// Passes the command's own checks; decomp rejects it with ErrInvalid.
		{"halo wraps too often", []string{"-grid", "2x2x2", "-ranks", "2", "-periodic", "xyz", "-halo", "100000"}, "halo"},
		{"unknown flag", append(g, "-colour"), "colour"},
		{"stray argument", append(g, "extra"), "extra"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, append([]string{"decomp"}, tc.args...)...)
			if code != exitUsage {
				t.Errorf("status %d, want %d; stderr %q", code, exitUsage, errOut)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.HasSuffix(errOut, "\n") || !strings.HasPrefix(errOut, "hilo decomp: ") {
				t.Errorf("stderr is not one line: %q", errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q does not mention %q", errOut, tc.want)
			}
			if out != "" {
				t.Errorf("stdout not empty: %q", out)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 6 {
		t.Errorf("bad input left files behind: %d entries in %s", len(entries), dir)
	}
}

func TestDecompHelpListsEveryFlag(t *testing.T) {
	code, out, errOut := runCmd(t, "decomp", "-h")
	if code != exitOK || out != "" {
		t.Fatalf("-h: status %d, stdout %q", code, out)
	}
	var cfg decompConfig
	var raw rawDecompFlags
	newDecompFlags(&cfg, &raw).VisitAll(func(f *flag.Flag) {
		if !strings.Contains(errOut, "  -"+f.Name+" ") {
			t.Errorf("usage does not describe -%s", f.Name)
		}
	})
	for _, m := range decomp.Methods() {
		if !strings.Contains(errOut, m) {
			t.Errorf("usage does not name method %s", m)
		}
	}
}

func TestDecompOutputFileError(t *testing.T) {
	code, _, errOut := runCmd(t, "decomp", "-grid", "4x4x4", "-ranks", "2", "-format", "vtk", "-o", filepath.Join(t.TempDir(), "no", "such", "dir.vti"))
	if code != exitFail || strings.Count(errOut, "\n") != 1 {
		t.Errorf("unwritable -o: status %d, stderr %q", code, errOut)
	}
}

// report is the part of -format json the tests check.
type report struct {
	Grid         [3]int  `json:"grid"`
	Periodic     [3]bool `json:"periodic"`
	TotalCells   int     `json:"total_cells"`
	Ranks        int     `json:"ranks"`
	RanksPerNode int     `json:"ranks_per_node"`
	Method       string  `json:"method"`
	Error        string  `json:"error"`
	Halo         struct {
		Width   [3][2]int `json:"width"`
		Stencil int       `json:"stencil"`
	} `json:"halo"`
	Fields       int        `json:"fields"`
	ScalarBytes  int        `json:"scalar_bytes"`
	Cells        []int      `json:"cells"`
	Weight       []float64  `json:"weight"`
	CutFaces     int        `json:"cut_faces"`
	CutRatio     *float64   `json:"cut_ratio"`
	MaxRankCut   int        `json:"max_rank_cut"`
	RankCut      []int      `json:"rank_cut"`
	IntraNodeCut int        `json:"intra_node_cut"`
	InterNodeCut int        `json:"inter_node_cut"`
	Imbalance    float64    `json:"imbalance"`
	Components   []int      `json:"components"`
	Neighbours   []int      `json:"neighbours"`
	HaloCells    []int      `json:"halo_cells"`
	HaloBytes    []int64    `json:"halo_bytes"`
	HaloTotal    int64      `json:"halo_bytes_total"`
	HaloIntra    int64      `json:"halo_bytes_intra"`
	HaloInter    int64      `json:"halo_bytes_inter"`
	Boxes        [][][6]int `json:"boxes"`
}

func decodeReport(t *testing.T, data string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		t.Fatalf("json does not parse: %v\n%s", err, data[:min(len(data), 400)])
	}
}

// owners paints the boxes of a report into a per-cell owner array (x
// fastest), failing the test unless they tile the grid exactly.
func owners(t *testing.T, rep *report) []int {
	t.Helper()
	n := rep.Grid
	own := make([]int, n[0]*n[1]*n[2])
	for i := range own {
		own[i] = -1
	}
	if len(rep.Boxes) != rep.Ranks || len(rep.Cells) != rep.Ranks {
		t.Fatalf("%d box lists and %d cell counts for %d ranks", len(rep.Boxes), len(rep.Cells), rep.Ranks)
	}
	for r, bs := range rep.Boxes {
		count := 0
		for _, b := range bs {
			for a := range 3 {
				if b[a] < 0 || b[a] >= b[a+3] || b[a+3] > n[a] {
					t.Fatalf("%s: rank %d box %v is empty or outside the grid %v", rep.Method, r, b, n)
				}
			}
			for z := b[2]; z < b[5]; z++ {
				for y := b[1]; y < b[4]; y++ {
					for x := b[0]; x < b[3]; x++ {
						i := x + n[0]*(y+n[1]*z)
						if own[i] != -1 {
							t.Fatalf("%s: cell (%d,%d,%d) in boxes of ranks %d and %d", rep.Method, x, y, z, own[i], r)
						}
						own[i] = r
						count++
					}
				}
			}
		}
		if count != rep.Cells[r] {
			t.Errorf("%s: rank %d boxes hold %d cells, cells[%d] = %d", rep.Method, r, count, r, rep.Cells[r])
		}
	}
	for i, r := range own {
		if r < 0 {
			t.Fatalf("%s: cell %d belongs to no box", rep.Method, i)
		}
	}
	return own
}

// checkReport recounts a json report from its boxes alone: tiling, cells,
// cut faces (per rank and total, across periodic boundaries, split by
// node), face-connected components and the halo byte arithmetic.
func checkReport(t *testing.T, rep *report) {
	t.Helper()
	if rep.Error != "" {
		t.Fatalf("%s failed: %s", rep.Method, rep.Error)
	}
	own := owners(t, rep)
	n := rep.Grid
	P := rep.Ranks
	node := func(r int) int {
		if rep.RanksPerNode > 0 {
			return r / rep.RanksPerNode
		}
		return r
	}
	cut, intra, inter := 0, 0, 0
	rankCut := make([]int, P)
	parent := make([]int, len(own))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for z := range n[2] {
		for y := range n[1] {
			for x := range n[0] {
				i := x + n[0]*(y+n[1]*z)
				p := [3]int{x, y, z}
				for a := range 3 {
					q := p
					q[a]++
					wrapped := q[a] == n[a]
					if wrapped {
						if !rep.Periodic[a] || n[a] == 1 {
							continue
						}
						q[a] = 0
					}
					j := q[0] + n[0]*(q[1]+n[1]*q[2])
					if own[j] == own[i] {
						// Components are counted inside the grid, not
						// through a periodic wrap.
						if !wrapped {
							parent[find(i)] = find(j)
						}
						continue
					}
					cut++
					rankCut[own[i]]++
					rankCut[own[j]]++
					if node(own[i]) == node(own[j]) {
						intra++
					} else {
						inter++
					}
				}
			}
		}
	}
	if rep.CutFaces != cut {
		t.Errorf("%s: cut_faces %d, recount %d", rep.Method, rep.CutFaces, cut)
	}
	if !slices.Equal(rep.RankCut, rankCut) {
		t.Errorf("%s: rank_cut %v, recount %v", rep.Method, rep.RankCut, rankCut)
	}
	if rep.MaxRankCut != slices.Max(rankCut) {
		t.Errorf("%s: max_rank_cut %d, recount %d", rep.Method, rep.MaxRankCut, slices.Max(rankCut))
	}
	if rep.RanksPerNode > 0 && (rep.IntraNodeCut != intra || rep.InterNodeCut != inter) {
		t.Errorf("%s: intra/inter node cut %d/%d, recount %d/%d", rep.Method, rep.IntraNodeCut, rep.InterNodeCut, intra, inter)
	}
	roots := make([]map[int]bool, P)
	for i, r := range own {
		if roots[r] == nil {
			roots[r] = map[int]bool{}
		}
		roots[r][find(i)] = true
	}
	for r := range P {
		if rep.Components[r] != len(roots[r]) {
			t.Errorf("%s: rank %d has %d components, recount %d", rep.Method, r, rep.Components[r], len(roots[r]))
		}
	}
	maxCells := slices.Max(rep.Cells)
	if want := float64(maxCells) * float64(P) / float64(rep.TotalCells); math.Abs(rep.Imbalance-want) > 1e-9 {
		t.Errorf("%s: imbalance %g, recount %g", rep.Method, rep.Imbalance, want)
	}
	// Halo: every ghost cell of every box (within the stencil's reach,
	// wrapped across periodic axes, dropped outside the others) that
	// another rank owns is received once per box it borders.
	haloCells := make([]int, P)
	peers := make([]map[int]bool, P)
	for r, bs := range rep.Boxes {
		peers[r] = map[int]bool{}
		for _, b := range bs {
			lo, hi := [3]int{b[0], b[1], b[2]}, [3]int{b[3], b[4], b[5]}
			for z := lo[2] - rep.Halo.Width[2][0]; z < hi[2]+rep.Halo.Width[2][1]; z++ {
				for y := lo[1] - rep.Halo.Width[1][0]; y < hi[1]+rep.Halo.Width[1][1]; y++ {
					for x := lo[0] - rep.Halo.Width[0][0]; x < hi[0]+rep.Halo.Width[0][1]; x++ {
						p := [3]int{x, y, z}
						off := 0
						for a := range 3 {
							if p[a] < lo[a] || p[a] >= hi[a] {
								off++
							}
						}
						if off == 0 || off > map[int]int{6: 1, 18: 2, 26: 3}[rep.Halo.Stencil] {
							continue
						}
						inside := true
						for a := range 3 {
							if p[a] < 0 || p[a] >= n[a] {
								if !rep.Periodic[a] {
									inside = false
								}
								p[a] = (p[a]%n[a] + n[a]) % n[a]
							}
						}
						if !inside {
							continue
						}
						if o := own[p[0]+n[0]*(p[1]+n[1]*p[2])]; o != r {
							haloCells[r]++
							peers[r][o] = true
						}
					}
				}
			}
		}
	}
	for r := range P {
		if rep.HaloCells[r] != haloCells[r] || rep.Neighbours[r] != len(peers[r]) {
			t.Errorf("%s: rank %d receives %d halo cells from %d neighbours, recount %d from %d",
				rep.Method, r, rep.HaloCells[r], rep.Neighbours[r], haloCells[r], len(peers[r]))
		}
	}
	var total int64
	for r := range P {
		if want := int64(rep.HaloCells[r]) * int64(rep.Fields*rep.ScalarBytes); rep.HaloBytes[r] != want {
			t.Errorf("%s: rank %d halo bytes %d, want %d cells x %d x %d", rep.Method, r, rep.HaloBytes[r], rep.HaloCells[r], rep.Fields, rep.ScalarBytes)
		}
		total += rep.HaloBytes[r]
	}
	if rep.HaloTotal != total || (rep.RanksPerNode > 0 && rep.HaloIntra+rep.HaloInter != total) {
		t.Errorf("%s: halo total %d (intra %d + inter %d), per-rank sum %d", rep.Method, rep.HaloTotal, rep.HaloIntra, rep.HaloInter, total)
	}
}

func TestDecompJSONRecounts(t *testing.T) {
	cases := [][]string{
		{"-grid", "16x12x10", "-ranks", "7"},
		{"-grid", "16x12x10", "-ranks", "7", "-method", "block", "-periodic", "xz", "-ranks-per-node", "3"},
		{"-grid", "9x7x5", "-ranks", "13", "-method", "rcb", "-periodic", "xyz", "-halo", "1:0,1:0,0:2", "-stencil", "26", "-fields", "3", "-bytes", "4"},
		{"-grid", "20x1x1", "-ranks", "4", "-method", "slab", "-periodic", "x"},
		{"-grid", "5x5x5", "-ranks", "1", "-method", "morton"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := runCmd(t, append([]string{"decomp", "-format", "json"}, args...)...)
			if code != exitOK {
				t.Fatalf("status %d: %s", code, errOut)
			}
			var rep report
			decodeReport(t, out, &rep)
			checkReport(t, &rep)
		})
	}
}

func TestDecompCompareJSON(t *testing.T) {
	code, out, errOut := runCmd(t, "decomp", "-grid", "18x12x10", "-ranks", "6", "-periodic", "y", "-ranks-per-node", "2", "-compare", "-format", "json")
	if code != exitOK {
		t.Fatalf("status %d: %s", code, errOut)
	}
	var reps []report
	decodeReport(t, out, &reps)
	if len(reps) != len(decomp.Methods()) {
		t.Fatalf("%d reports, want one per method", len(reps))
	}
	best := math.MaxInt
	for i, rep := range reps {
		if rep.Method != decomp.Methods()[i] {
			t.Errorf("report %d is %q, want %q", i, rep.Method, decomp.Methods()[i])
		}
		checkReport(t, &rep)
		if rep.Method == decomp.MethodBlock || rep.Method == decomp.MethodRCB {
			best = min(best, rep.CutFaces)
		}
	}
	for _, rep := range reps {
		if rep.CutRatio == nil || math.Abs(*rep.CutRatio-float64(rep.CutFaces)/float64(best)) > 1e-12 {
			t.Errorf("%s: cut_ratio %v, want %d/%d", rep.Method, rep.CutRatio, rep.CutFaces, best)
		}
	}
}

// headerInt finds "key   N" at the start of a line of the table header.
func headerInt(t *testing.T, table, key string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `\s+(\d+)`).FindStringSubmatch(table)
	if m == nil {
		t.Fatalf("table has no %q line:\n%s", key, table)
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

func TestDecompTable(t *testing.T) {
	args := []string{"decomp", "-grid", "24x20x16", "-ranks", "10", "-periodic", "x", "-ranks-per-node", "4"}
	code, table, errOut := runCmd(t, args...)
	if code != exitOK {
		t.Fatalf("status %d: %s", code, errOut)
	}
	code, js, _ := runCmd(t, append(args, "-format", "json")...)
	if code != exitOK {
		t.Fatal("json run failed")
	}
	var rep report
	decodeReport(t, js, &rep)
	if got := headerInt(t, table, "cut faces"); got != rep.CutFaces {
		t.Errorf("table cut faces %d, json %d", got, rep.CutFaces)
	}
	for _, want := range []string{
		"24x20x16 periodic x", "hilbert", "4 per node on 3 nodes", "imbalance", "intra-node", "inter-node",
		fmt.Sprintf("(%d B)", rep.HaloTotal), fmt.Sprintf("max rank cut %d", rep.MaxRankCut), "decompose",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	// One row per rank: rank, node, cells, boxes, components, cut, ...
	for r := range 10 {
		re := regexp.MustCompile(fmt.Sprintf(`(?m)^\s*%d\s+%d\s+%d\s+%d\s+%d\s+%d\s+%d\s+%d\s+%d\s*$`,
			r, r/4, rep.Cells[r], len(rep.Boxes[r]), rep.Components[r], rep.RankCut[r], rep.Neighbours[r], rep.HaloCells[r], rep.HaloBytes[r]))
		if !re.MatchString(table) {
			t.Errorf("no row for rank %d matching json:\n%s", r, table)
		}
	}
	// -o FILE puts the same table in the file and nothing on stdout.
	path := filepath.Join(t.TempDir(), "table.txt")
	code, out, _ := runCmd(t, append(args, "-o", path)...)
	data, err := os.ReadFile(path)
	if code != exitOK || out != "" || err != nil || headerInt(t, string(data), "cut faces") != rep.CutFaces {
		t.Errorf("-o %s: status %d, stdout %q, file error %v", path, code, out, err)
	}
	for _, s := range []string{"min", "median", "max"} {
		if !regexp.MustCompile(`(?m)^\s*` + s + `\s+\d`).MatchString(table) {
			t.Errorf("no %s row", s)
		}
	}
}

func TestDecompTableManyRanks(t *testing.T) {
	rowRE := regexp.MustCompile(`(?m)^\s*\d+\s+\d+\s+\d+`)
	code, table, errOut := runCmd(t, "decomp", "-grid", "40x40x40", "-ranks", "100", "-method", "block")
	if code != exitOK {
		t.Fatalf("status %d: %s", code, errOut)
	}
	if rows := len(rowRE.FindAllString(table, -1)); rows != 2*rankRows {
		t.Errorf("%d rank rows for 100 ranks, want %d:\n%s", rows, 2*rankRows, table)
	}
	if !strings.Contains(table, "...") || !regexp.MustCompile(`(?m)^\s*99\s`).MatchString(table) {
		t.Errorf("truncated table lacks ... or the last rank:\n%s", table)
	}
	_, all, _ := runCmd(t, "decomp", "-grid", "40x40x40", "-ranks", "100", "-method", "block", "-all")
	if rows := len(rowRE.FindAllString(all, -1)); rows != 100 {
		t.Errorf("-all printed %d rank rows, want 100", rows)
	}
}

func TestDecompCompareTable(t *testing.T) {
	code, table, errOut := runCmd(t, "decomp", "-grid", "32x24x16", "-ranks", "12", "-compare")
	if code != exitOK {
		t.Fatalf("status %d: %s", code, errOut)
	}
	for _, m := range decomp.Methods() {
		if !regexp.MustCompile(`(?m)^\s*` + m + `\s+\d+\s+\d+\.\d{3}x\s`).MatchString(table) {
			t.Errorf("no row for %s:\n%s", m, table)
		}
	}
	if !strings.Contains(table, "1.000x") {
		t.Errorf("neither block nor rcb has ratio 1:\n%s", table)
	}
}

func TestDecompWeights(t *testing.T) {
	// Cells with x < 4 cost 5, the rest 1: a partition balancing weight
	// gives the heavy side more ranks; the report's weights must recount.
	n := [3]int{8, 6, 4}
	var sb strings.Builder
	w := make([]float64, 0, n[0]*n[1]*n[2])
	for range n[2] {
		for range n[1] {
			for x := range n[0] {
				v := 1.0
				if x < 4 {
					v = 5
				}
				w = append(w, v)
				fmt.Fprintf(&sb, "%g\n", v)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "w.txt")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "decomp", "-grid", "8x6x4", "-ranks", "4", "-weights", path, "-format", "json", "-method", "rcb")
	if code != exitOK {
		t.Fatalf("status %d: %s", code, errOut)
	}
	var rep report
	decodeReport(t, out, &rep)
	own := owners(t, &rep)
	load := make([]float64, rep.Ranks)
	for i, r := range own {
		load[r] += w[i]
	}
	if !slices.Equal(load, rep.Weight) {
		t.Errorf("weight per rank %v, recount %v", rep.Weight, load)
	}
	code, table, _ := runCmd(t, "decomp", "-grid", "8x6x4", "-ranks", "4", "-weights", path)
	if code != exitOK || !strings.Contains(table, "weight") || !strings.Contains(table, path) {
		t.Errorf("table with weights: status %d\n%s", code, table)
	}
}

// decompOf rebuilds a Decomposition from a report's boxes, only to lay out
// the picture's panels; ownership is checked against owners' array.
func decompOf(t *testing.T, rep *report) *decomp.Decomposition {
	t.Helper()
	boxes := make([][]decomp.Box, len(rep.Boxes))
	for r, bs := range rep.Boxes {
		for _, b := range bs {
			boxes[r] = append(boxes[r], decomp.Box{Lo: [3]int{b[0], b[1], b[2]}, Hi: [3]int{b[3], b[4], b[5]}})
		}
	}
	d, err := decomp.New(decomp.Grid{Dims: rep.Grid, Periodic: rep.Periodic}, boxes, rep.RanksPerNode)
	if err != nil {
		t.Fatal(err)
	}
	d.Method = rep.Method
	return d
}

func rgba(c color.Color) color.RGBA {
	r, g, b, a := c.RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

func TestDecompPNG(t *testing.T) {
	for _, tc := range []struct {
		grid  string
		ranks int
	}{{"64x32x16", 5}, {"40x40x40", 12}} {
		t.Run(tc.grid, func(t *testing.T) {
			args := []string{"decomp", "-grid", tc.grid, "-ranks", strconv.Itoa(tc.ranks)}
			_, js, _ := runCmd(t, append(args, "-format", "json")...)
			var rep report
			decodeReport(t, js, &rep)
			own := owners(t, &rep)
			path := filepath.Join(t.TempDir(), "d.png")
			code, out, errOut := runCmd(t, append(args, "-format", "png", "-o", path)...)
			if code != exitOK || out != "" || errOut != "" {
				t.Fatalf("status %d, stdout %d bytes, stderr %q", code, len(out), errOut)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			// "-o -" sends the same picture to stdout.
			if _, piped, _ := runCmd(t, append(args, "-format", "png", "-o", "-")...); piped != string(data) {
				t.Errorf("-o - wrote %d bytes, -o file %d", len(piped), len(data))
			}
			pic, err := render.Slices(decompOf(t, &rep), render.PNGOptions{Title: "layout only"})
			if err != nil {
				t.Fatal(err)
			}
			if w := img.Bounds().Dx(); w < 600 || w > 1400 || img.Bounds().Dy() != pic.Image.Bounds().Dy() {
				t.Errorf("picture %v, layout %v", img.Bounds(), pic.Image.Bounds())
			}
			back := map[color.RGBA]int{}
			for r := range rep.Ranks {
				back[render.RankColor(r)] = r
			}
			n := rep.Grid
			checked := 0
			for _, p := range pic.Panels {
				for v := 0; v < p.Cells[1]; v += 3 {
					for u := 0; u < p.Cells[0]; u += 3 {
						c := p.GridCell(u, v)
						want := own[c[0]+n[0]*(c[1]+n[1]*c[2])]
						pt := p.Pixel(u, v)
						got, ok := back[rgba(img.At(pt.X, pt.Y))]
						if !ok || got != want {
							t.Fatalf("cell %v at %v: colour %v is rank %d (%v), owner %d", c, pt, img.At(pt.X, pt.Y), got, ok, want)
						}
						checked++
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
			if len(colours) <= rep.Ranks || checked < 100 {
				t.Errorf("%d colours for %d ranks, %d cells checked", len(colours), rep.Ranks, checked)
			}
		})
	}
}

func TestDecompVTK(t *testing.T) {
	args := []string{"decomp", "-grid", "12x9x7", "-ranks", "6", "-periodic", "y"}
	_, js, _ := runCmd(t, append(args, "-format", "json")...)
	var rep report
	decodeReport(t, js, &rep)
	own := owners(t, &rep)
	path := filepath.Join(t.TempDir(), "d.vti")
	if code, _, errOut := runCmd(t, append(args, "-format", "vtk", "-o", path)...); code != exitOK {
		t.Fatalf("status %d: %s", code, errOut)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Image struct {
			WholeExtent string `xml:"WholeExtent,attr"`
			Arrays      []struct {
				Name string `xml:"Name,attr"`
				Text string `xml:",chardata"`
			} `xml:"Piece>CellData>DataArray"`
		} `xml:"ImageData"`
	}
	if err := xml.Unmarshal(data, &f); err != nil {
		t.Fatalf("not well-formed XML: %v", err)
	}
	if f.Image.WholeExtent != "0 12 0 9 0 7" || len(f.Image.Arrays) != 2 || f.Image.Arrays[0].Name != "rank" || f.Image.Arrays[1].Name != "box" {
		t.Fatalf("extent %q, %d arrays", f.Image.WholeExtent, len(f.Image.Arrays))
	}
	vals := strings.Fields(f.Image.Arrays[0].Text)
	if len(vals) != len(own) {
		t.Fatalf("%d rank values for %d cells", len(vals), len(own))
	}
	for i, s := range vals {
		if v, err := strconv.Atoi(s); err != nil || v != own[i] {
			t.Fatalf("cell %d: rank %q, owner %d", i, s, own[i])
		}
	}
}
