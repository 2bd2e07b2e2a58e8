package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/decomp/render"
)

const decompUsage = `usage: hilo decomp -grid NXxNYxNZ -ranks P [flags]

Decompose a structured 3D grid across P ranks and report the partition
(balance, cut faces, connectivity, halo traffic per rank), compare every
method side by side, draw it as a PNG, or write it as VTK for ParaView.

  -grid NXxNYxNZ      grid size in cells, e.g. 128x128x64 (required)
  -ranks P            number of ranks, 1 to the number of cells (required)
  -method M           hilbert (default), sfc, morton, block, slab or rcb
  -periodic AXES      periodic axes: any of the letters x, y, z (e.g. xz)
  -halo W             ghost width W on every side (default 1), or per axis
                      low:high as x-:x+,y-:y+,z-:z+ (e.g. 1:0,1:0,0:2);
                      a bare number in a part means the same on both sides
  -stencil S          6 (faces, default), 18 (and edges), 26 (and corners)
  -ranks-per-node K   ranks 0..K-1 share node 0, K..2K-1 node 1, ...: the
                      partition keeps nodes compact and the report splits
                      cut faces and halo bytes into intra- and inter-node
  -fields F           fields exchanged together (default 1)
  -bytes B            bytes per scalar of a field (default 8)
  -weights FILE       balance these per-cell costs instead of cell counts:
                      whitespace-separated non-negative numbers, one per
                      cell, x fastest (x + NX*(y + NY*z))
  -compare            one row (or JSON object) per method instead of one
                      decomposition; -method is then ignored
  -all                table: print every rank (by default, above 64 ranks
                      only the first and last 10 and a min/median/max summary)
  -format F           table (default), json, png, vtk or html (an interactive 3D viewer in one file)
  -o FILE             write to FILE instead of stdout ("-" means stdout);
                      png and vtk need -o (give "-o -" to pipe them)

json: one object with grid, periodic, ranks, method, halo, the totals
(cut_faces, max_rank_cut, imbalance, halo_bytes_total, ...) and per-rank
arrays (cells, boxes, components, neighbours, rank_cut, halo_cells,
halo_bytes); boxes[r] lists rank r's boxes as [x0,y0,z0,x1,y1,z1],
half-open. With -compare: a JSON array of such objects, one per method in
the order above, each with cut_ratio (cut faces over the best of block and
rcb) and, if that method failed, only error.
png: the mid-plane slices x = NX/2, y = NY/2, z = NZ/2 side by side, cells
coloured by rank, rank boundaries dark, about 1200 px wide.
vtk: VTK XML ImageData (.vti), ASCII, cell arrays "rank" and "box" (the
box's number, counting boxes rank by rank).

Exit status: 0 on success, 2 for bad input, 1 for other failures.
`

// decompConfig is the parsed command line of hilo decomp.
type decompConfig struct {
	grid         decomp.Grid
	ranks        int
	method       string
	halo         decomp.HaloSpec
	haloText     string
	ranksPerNode int
	fields       int
	scalarBytes  int
	weightsFile  string
	weights      *decomp.Weights
	compare, all bool
	format       string
	out          string
}

// rawDecompFlags are the flags kept as text until they are parsed.
type rawDecompFlags struct {
	grid, periodic string
	stencil        int
}

// newDecompFlags defines hilo decomp's flags, storing into cfg and raw.
func newDecompFlags(cfg *decompConfig, raw *rawDecompFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("hilo decomp", flag.ContinueOnError)
	fs.StringVar(&raw.grid, "grid", "", "grid size NXxNYxNZ")
	fs.IntVar(&cfg.ranks, "ranks", 0, "number of ranks")
	fs.StringVar(&cfg.method, "method", decomp.MethodHilbert, "partition method")
	fs.StringVar(&raw.periodic, "periodic", "", "periodic axes")
	fs.StringVar(&cfg.haloText, "halo", "1", "halo width")
	fs.IntVar(&raw.stencil, "stencil", 6, "stencil 6, 18 or 26")
	fs.IntVar(&cfg.ranksPerNode, "ranks-per-node", 0, "ranks per node")
	fs.IntVar(&cfg.fields, "fields", 1, "fields")
	fs.IntVar(&cfg.scalarBytes, "bytes", 8, "bytes per scalar")
	fs.StringVar(&cfg.weightsFile, "weights", "", "per-cell weights file")
	fs.BoolVar(&cfg.compare, "compare", false, "compare methods")
	fs.BoolVar(&cfg.all, "all", false, "print every rank")
	fs.StringVar(&cfg.format, "format", "table", "table, json, png, vtk or html")
	fs.StringVar(&cfg.out, "o", "", "output file")
	return fs
}

func parseDecompFlags(args []string, stderr io.Writer) (*decompConfig, error) {
	var (
		cfg decompConfig
		raw rawDecompFlags
	)
	fs := newDecompFlags(&cfg, &raw)
	// The flag package would print its error and the whole usage; we want
	// one line, so it stays quiet unless -h asked for the usage.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, decompUsage)
			return nil, err
		}
		return nil, fmt.Errorf("%v (run 'hilo decomp -h' for usage)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (run 'hilo decomp -h' for usage)", fs.Arg(0))
	}
	if raw.grid == "" {
		return nil, fmt.Errorf("-grid NXxNYxNZ is required")
	}
	dims, err := parseGrid(raw.grid)
	if err != nil {
		return nil, err
	}
	cfg.grid.Dims = dims
	if cfg.grid.Periodic, err = parsePeriodic(raw.periodic); err != nil {
		return nil, err
	}
	if err := cfg.grid.Validate(); err != nil {
		return nil, fmt.Errorf("-grid %s: %w", raw.grid, err)
	}
	if cfg.ranks < 1 || cfg.ranks > cfg.grid.Cells() {
		return nil, fmt.Errorf("-ranks %d: want 1 to %d (the number of cells)", cfg.ranks, cfg.grid.Cells())
	}
	if !cfg.compare && !validMethod(cfg.method) {
		return nil, fmt.Errorf("unknown -method %q (want one of %s)", cfg.method, strings.Join(decomp.Methods(), ", "))
	}
	width, err := parseHalo(cfg.haloText)
	if err != nil {
		return nil, err
	}
	cfg.halo = decomp.HaloSpec{Width: width, Stencil: decomp.Stencil(raw.stencil)}
	if !cfg.halo.Stencil.Valid() {
		return nil, fmt.Errorf("-stencil %d: want 6, 18 or 26", raw.stencil)
	}
	if err := cfg.halo.Validate(); err != nil {
		return nil, fmt.Errorf("-halo %s: %w", cfg.haloText, err)
	}
	if cfg.ranksPerNode < 0 {
		return nil, fmt.Errorf("-ranks-per-node %d is negative", cfg.ranksPerNode)
	}
	if cfg.fields < 1 || cfg.scalarBytes < 1 {
		return nil, fmt.Errorf("-fields %d -bytes %d: both must be at least 1", cfg.fields, cfg.scalarBytes)
	}
	switch cfg.format {
	case "table", "json":
	case "png", "vtk", "html":
		if cfg.compare {
			return nil, fmt.Errorf("-compare draws no picture: use -format table or json")
		}
		if cfg.out == "" {
			return nil, fmt.Errorf("-format %s needs -o FILE (or -o - for stdout)", cfg.format)
		}
	default:
		return nil, fmt.Errorf("unknown -format %q (want table, json, png, vtk or html)", cfg.format)
	}
	if cfg.weightsFile != "" {
		f, err := os.Open(cfg.weightsFile)
		if err != nil {
			return nil, fmt.Errorf("-weights: %w", err)
		}
		values, err := parseWeights(f, cfg.grid.Cells())
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("-weights %s: %w", cfg.weightsFile, err)
		}
		cfg.weights = &decomp.Weights{Brick: [3]int{1, 1, 1}, Values: values}
	}
	return &cfg, nil
}

func validMethod(m string) bool {
	for _, k := range decomp.Methods() {
		if m == k {
			return true
		}
	}
	return false
}

// parseGrid reads "NXxNYxNZ" (an X works too) into positive dimensions.
func parseGrid(s string) ([3]int, error) {
	var dims [3]int
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == 'x' || r == 'X' })
	if len(parts) != 3 || strings.Count(strings.ToLower(s), "x") != 2 {
		return dims, fmt.Errorf("-grid %q: want NXxNYxNZ, e.g. 128x128x64", s)
	}
	for a, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return dims, fmt.Errorf("-grid %q: %q is not a whole number", s, p)
		}
		if n < 1 {
			return dims, fmt.Errorf("-grid %q: %c dimension %d must be positive", s, "xyz"[a], n)
		}
		dims[a] = n
	}
	return dims, nil
}

// parsePeriodic reads a set of axis letters ("", "x", "xz", "xyz").
func parsePeriodic(s string) ([3]bool, error) {
	var p [3]bool
	for _, c := range strings.ToLower(s) {
		a := strings.IndexRune("xyz", c)
		if a < 0 || p[a] {
			return p, fmt.Errorf("-periodic %q: want distinct letters from x, y, z", s)
		}
		p[a] = true
	}
	return p, nil
}

// parseHalo reads "W" (every side) or three comma-separated parts, one per
// axis, each "W" (both sides) or "LO:HI".
func parseHalo(s string) ([3][2]int, error) {
	var w [3][2]int
	bad := func(why string) ([3][2]int, error) {
		return w, fmt.Errorf("-halo %q: %s (want W or x-:x+,y-:y+,z-:z+, e.g. 1:0,1:0,0:2)", s, why)
	}
	num := func(t string) (int, bool) {
		n, err := strconv.Atoi(strings.TrimSpace(t))
		return n, err == nil && n >= 0 && n <= 1<<20
	}
	parts := strings.Split(s, ",")
	switch len(parts) {
	case 1:
		n, ok := num(s)
		if !ok {
			return bad("not a non-negative whole number")
		}
		return [3][2]int{{n, n}, {n, n}, {n, n}}, nil
	case 3:
	default:
		return bad("want 1 or 3 parts")
	}
	for a, p := range parts {
		lo, hi, pair := strings.Cut(p, ":")
		if !pair {
			hi = lo
		}
		l, ok1 := num(lo)
		h, ok2 := num(hi)
		if !ok1 || !ok2 {
			return bad(fmt.Sprintf("%c part %q is not W or LO:HI with non-negative whole numbers", "xyz"[a], p))
		}
		w[a] = [2]int{l, h}
	}
	return w, nil
}

// parseWeights reads exactly cells whitespace-separated non-negative finite
// numbers.
func parseWeights(r io.Reader, cells int) ([]float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	sc.Split(bufio.ScanWords)
	values := make([]float64, 0, min(cells, 1<<24))
	for sc.Scan() {
		if len(values) == cells {
			return nil, fmt.Errorf("more than %d values, one per cell", cells)
		}
		v, err := strconv.ParseFloat(sc.Text(), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("value %d %q is not a finite number", len(values), truncate(sc.Text(), 20))
		}
		if v < 0 {
			return nil, fmt.Errorf("value %d is negative (%g)", len(values), v)
		}
		values = append(values, v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading after value %d: %v", len(values), err)
	}
	if len(values) != cells {
		return nil, fmt.Errorf("%d values for %d cells", len(values), cells)
	}
	return values, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// A decompResult is one method's decomposition and its measures.
type decompResult struct {
	method    string
	d         *decomp.Decomposition
	m         *decomp.Metrics
	load      []float64 // weight per rank, with -weights
	decompose time.Duration
	measure   time.Duration
	err       error
}

func decomposeOne(cfg *decompConfig, method string, withMetrics bool) decompResult {
	res := decompResult{method: method}
	start := time.Now()
	d, err := decomp.Decompose(cfg.grid, cfg.ranks, decomp.Options{
		Method: method, RanksPerNode: cfg.ranksPerNode, Weights: cfg.weights,
	})
	res.decompose = time.Since(start)
	if err != nil {
		res.err = err
		return res
	}
	if d.Method == "" {
		d.Method = method
	}
	res.d = d
	if !withMetrics {
		return res
	}
	start = time.Now()
	res.m, res.err = d.Metrics(cfg.halo, cfg.fields, cfg.scalarBytes)
	res.measure = time.Since(start)
	if res.err == nil && cfg.weights != nil {
		res.load = rankLoads(d, cfg.weights.Values)
	}
	return res
}

// rankLoads sums the per-cell weights (x fastest) over each rank's boxes.
func rankLoads(d *decomp.Decomposition, w []float64) []float64 {
	n := d.Grid.Dims
	load := make([]float64, d.Ranks())
	for r, bs := range d.Boxes {
		for _, b := range bs {
			for z := b.Lo[2]; z < b.Hi[2]; z++ {
				for y := b.Lo[1]; y < b.Hi[1]; y++ {
					row := (z*n[1] + y) * n[0]
					for _, v := range w[row+b.Lo[0] : row+b.Hi[0]] {
						load[r] += v
					}
				}
			}
		}
	}
	return load
}

func cmdDecomp(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseDecompFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "hilo decomp: %v\n", oneLine(err))
		return exitUsage
	}
	methods := []string{cfg.method}
	if cfg.compare {
		methods = decomp.Methods()
	}
	var results []decompResult
	failed := false
	for _, m := range methods {
		res := decomposeOne(cfg, m, cfg.format != "vtk")
		if res.err != nil {
			if errors.Is(res.err, decomp.ErrInvalid) {
				fmt.Fprintf(stderr, "hilo decomp: %s: %v\n", m, oneLine(res.err))
				return exitUsage
			}
			if !cfg.compare {
				fmt.Fprintf(stderr, "hilo decomp: %s: %v\n", m, oneLine(res.err))
				return exitFail
			}
			failed = true
		}
		results = append(results, res)
	}

	w, closeOut, err := openOutput(cfg.out, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "hilo decomp: %v\n", oneLine(err))
		return exitFail
	}
	switch {
	case cfg.compare && cfg.format == "json":
		err = writeCompareJSON(w, cfg, results)
	case cfg.compare:
		err = writeCompareTable(w, cfg, results)
	case cfg.format == "json":
		err = writeJSON(w, cfg, results[0])
	case cfg.format == "png":
		res := results[0]
		err = render.WritePNG(w, res.d, render.PNGOptions{Title: fmt.Sprintf("grid %v, %d ranks, method %s, %d cut faces",
			cfg.grid, cfg.ranks, res.method, res.m.CutFaces)})
	case cfg.format == "vtk":
		err = render.WriteVTK(w, results[0].d, render.VTKOptions{Boxes: true})
	case cfg.format == "html":
		err = render.WriteHTML(w, results[0].d, results[0].m, render.HTMLOptions{Halo: cfg.halo})
	default:
		err = writeTable(w, cfg, results[0])
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "hilo decomp: writing %s: %v\n", outName(cfg.out), oneLine(err))
		return exitFail
	}
	if failed {
		for _, res := range results {
			if res.err != nil {
				fmt.Fprintf(stderr, "hilo decomp: %s: %v\n", res.method, oneLine(res.err))
			}
		}
		return exitFail
	}
	return exitOK
}

// openOutput opens the -o destination: stdout for "" or "-", else a new file.
func openOutput(name string, stdout io.Writer) (io.Writer, func() error, error) {
	if name == "" || name == "-" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	return bw, func() error {
		err := bw.Flush()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}, nil
}

func outName(name string) string {
	if name == "" || name == "-" {
		return "stdout"
	}
	return name
}

// oneLine keeps an error message on one line of stderr.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
