package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hilo-hpc/hilo/decomp"
)

// Above this many ranks the table shows only the first and last rankRows
// rows unless -all is given.
const (
	manyRanks = 64
	rankRows  = 10
)

func haloString(h decomp.HaloSpec) string {
	w := h.Width
	if w == [3][2]int{{w[0][0], w[0][0]}, {w[0][0], w[0][0]}, {w[0][0], w[0][0]}} {
		return fmt.Sprintf("width %d, stencil %d", w[0][0], int(h.Stencil))
	}
	return fmt.Sprintf("x %d:%d, y %d:%d, z %d:%d, stencil %d", w[0][0], w[0][1], w[1][0], w[1][1], w[2][0], w[2][1], int(h.Stencil))
}

// byteSize is n bytes for people: exact below 10 KiB, else in binary units.
func byteSize(n int64) string {
	if n < 10*1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n), "B"
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// number prints whole numbers exactly and others to two decimals.
func number(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func dur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}

func sum64(v []int64) int64 {
	var s int64
	for _, x := range v {
		s += x
	}
	return s
}

func maxAt(v []int) (int, int) {
	best, at := math.MinInt, -1
	for i, x := range v {
		if x > best {
			best, at = x, i
		}
	}
	return best, at
}

// loadImbalance is max load over mean load (1 if every load is zero).
func loadImbalance(load []float64) float64 {
	var total, peak float64
	for _, l := range load {
		total += l
		peak = max(peak, l)
	}
	if total == 0 {
		return 1
	}
	return peak / (total / float64(len(load)))
}

func writeTable(w io.Writer, cfg *decompConfig, res decompResult) error {
	d, m := res.d, res.m
	var b strings.Builder
	row := func(k, format string, a ...any) { fmt.Fprintf(&b, "%-12s"+format+"\n", append([]any{k}, a...)...) }
	row("grid", "%v (%d cells)", cfg.grid, cfg.grid.Cells())
	if k := cfg.ranksPerNode; k > 0 {
		row("ranks", "%d, %d per node on %d nodes", d.Ranks(), k, (d.Ranks()+k-1)/k)
	} else {
		row("ranks", "%d", d.Ranks())
	}
	row("method", "%s", res.method)
	if d.Note != "" {
		row("note", "%s", d.Note)
	}
	row("halo", "%s; %d field(s) of %d B", haloString(cfg.halo), cfg.fields, cfg.scalarBytes)
	if cfg.weights != nil {
		row("weights", "%s", cfg.weightsFile)
	}
	maxCut, maxCutRank := maxAt(m.RankCut)
	if cfg.ranksPerNode > 0 {
		row("cut faces", "%d (intra-node %d, inter-node %d); max rank cut %d (rank %d)", m.CutFaces, m.IntraNodeCut, m.InterNodeCut, maxCut, maxCutRank)
	} else {
		row("cut faces", "%d; max rank cut %d (rank %d)", m.CutFaces, maxCut, maxCutRank)
	}
	row("imbalance", "%.4f (max %d cells, mean %.1f)", m.Imbalance, m.MaxCells, m.MeanCells)
	if res.load != nil {
		row("weighted", "imbalance %.4f", loadImbalance(res.load))
	}
	total := sum64(m.HaloBytes)
	if cfg.ranksPerNode > 0 {
		row("halo bytes", "%s per exchange (%d B): intra-node %s, inter-node %s", byteSize(total), total, byteSize(m.HaloBytesIntra), byteSize(m.HaloBytesInter))
	} else {
		row("halo bytes", "%s per exchange (%d B)", byteSize(total), total)
	}
	row("time", "decompose %s, metrics %s", dur(res.decompose), dur(res.measure))
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := []string{"rank"}
	if cfg.ranksPerNode > 0 {
		header = append(header, "node")
	}
	header = append(header, "cells")
	if res.load != nil {
		header = append(header, "weight")
	}
	header = append(header, "boxes", "components", "cut faces", "neighbours", "halo cells", "halo bytes")
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	cols := func(r int) []string {
		c := []string{strconv.Itoa(r)}
		if cfg.ranksPerNode > 0 {
			c = append(c, strconv.Itoa(d.Node(r)))
		}
		c = append(c, strconv.Itoa(m.Cells[r]))
		if res.load != nil {
			c = append(c, number(res.load[r]))
		}
		return append(c, strconv.Itoa(m.BoxCount[r]), strconv.Itoa(m.Components[r]), strconv.Itoa(m.RankCut[r]),
			strconv.Itoa(m.Neighbours[r]), strconv.Itoa(m.HaloCells[r]), strconv.FormatInt(m.HaloBytes[r], 10))
	}
	p := d.Ranks()
	for r := range p {
		if !cfg.all && p > manyRanks && r == rankRows {
			fmt.Fprintf(tw, "...\t\n")
		}
		if !cfg.all && p > manyRanks && r >= rankRows && r < p-rankRows {
			continue
		}
		fmt.Fprintln(tw, strings.Join(cols(r), "\t")+"\t")
	}
	if p > 1 {
		// Summary rows: each column's min, median and max over the ranks.
		perRank := [][]float64{}
		add := func(f func(r int) float64) {
			v := make([]float64, p)
			for r := range p {
				v[r] = f(r)
			}
			slices.Sort(v)
			perRank = append(perRank, v)
		}
		add(func(r int) float64 { return float64(m.Cells[r]) })
		if res.load != nil {
			add(func(r int) float64 { return res.load[r] })
		}
		add(func(r int) float64 { return float64(m.BoxCount[r]) })
		add(func(r int) float64 { return float64(m.Components[r]) })
		add(func(r int) float64 { return float64(m.RankCut[r]) })
		add(func(r int) float64 { return float64(m.Neighbours[r]) })
		add(func(r int) float64 { return float64(m.HaloCells[r]) })
		add(func(r int) float64 { return float64(m.HaloBytes[r]) })
		for _, s := range []struct {
			name string
			at   int
		}{{"min", 0}, {"median", (p - 1) / 2}, {"max", p - 1}} {
			c := []string{s.name}
			if cfg.ranksPerNode > 0 {
				c = append(c, "")
			}
			for _, v := range perRank {
				c = append(c, number(v[s.at]))
			}
			fmt.Fprintln(tw, strings.Join(c, "\t")+"\t")
		}
	}
	return tw.Flush()
}

// bestCartesian is the smaller cut of block and rcb, or 0 if neither ran.
func bestCartesian(results []decompResult) int {
	best := 0
	for _, r := range results {
		if r.err == nil && (r.method == decomp.MethodBlock || r.method == decomp.MethodRCB) && (best == 0 || r.m.CutFaces < best) {
			best = r.m.CutFaces
		}
	}
	return best
}

func cutRatio(cut, best int) (float64, bool) {
	if best == 0 {
		return 0, false // no cut to compare with (one rank, or both failed)
	}
	return float64(cut) / float64(best), true
}

func mean(v []int) float64 {
	s := 0
	for _, x := range v {
		s += x
	}
	return float64(s) / float64(len(v))
}

func writeCompareTable(w io.Writer, cfg *decompConfig, results []decompResult) error {
	fmt.Fprintf(w, "grid %v, %d ranks", cfg.grid, cfg.ranks)
	if cfg.ranksPerNode > 0 {
		fmt.Fprintf(w, ", %d per node", cfg.ranksPerNode)
	}
	fmt.Fprintf(w, ", halo %s, %d field(s) of %d B", haloString(cfg.halo), cfg.fields, cfg.scalarBytes)
	if cfg.weights != nil {
		fmt.Fprintf(w, ", weights %s", cfg.weightsFile)
	}
	fmt.Fprintf(w, "\n\n")
	best := bestCartesian(results)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	imb := "imbalance"
	if cfg.weights != nil {
		imb = "imbalance (weight)"
	}
	fmt.Fprintf(tw, "method\tcut faces\tvs block/rcb\tmax rank cut\t%s\tmax components\tmean neighbours\thalo bytes\tdecompose\t\n", imb)
	for _, res := range results {
		if res.err != nil {
			fmt.Fprintf(tw, "%s\tfailed: %s\t\n", res.method, oneLine(res.err))
			continue
		}
		m := res.m
		ratio := "-"
		if r, ok := cutRatio(m.CutFaces, best); ok {
			ratio = fmt.Sprintf("%.3fx", r)
		}
		maxCut, _ := maxAt(m.RankCut)
		maxComp, _ := maxAt(m.Components)
		im := m.Imbalance
		if res.load != nil {
			im = loadImbalance(res.load)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%.4f\t%d\t%.2f\t%s\t%s\t\n", res.method, m.CutFaces, ratio, maxCut, im, maxComp,
			mean(m.Neighbours), byteSize(sum64(m.HaloBytes)), dur(res.decompose))
	}
	return tw.Flush()
}

// jsonReport is one decomposition in -format json. Metric fields sit in
// an embedded pointer so a failed method (in -compare) shows only error.
type jsonReport struct {
	Grid         [3]int   `json:"grid"`
	Periodic     [3]bool  `json:"periodic"`
	TotalCells   int      `json:"total_cells"`
	Ranks        int      `json:"ranks"`
	RanksPerNode int      `json:"ranks_per_node"`
	Method       string   `json:"method"`
	Halo         jsonHalo `json:"halo"`
	Fields       int      `json:"fields"`
	ScalarBytes  int      `json:"scalar_bytes"`
	Error        string   `json:"error,omitempty"`
	*jsonMetrics
}

type jsonHalo struct {
	Width   [3][2]int `json:"width"` // [axis][low, high]
	Stencil int       `json:"stencil"`
}

type jsonMetrics struct {
	Note             string     `json:"note,omitempty"`
	CutFaces         int        `json:"cut_faces"`
	CutRatio         *float64   `json:"cut_ratio,omitempty"`
	MaxRankCut       int        `json:"max_rank_cut"`
	IntraNodeCut     int        `json:"intra_node_cut"`
	InterNodeCut     int        `json:"inter_node_cut"`
	Imbalance        float64    `json:"imbalance"`
	WeightImbalance  *float64   `json:"weight_imbalance,omitempty"`
	HaloBytesTotal   int64      `json:"halo_bytes_total"`
	HaloBytesIntra   int64      `json:"halo_bytes_intra"`
	HaloBytesInter   int64      `json:"halo_bytes_inter"`
	DecomposeSeconds float64    `json:"decompose_seconds"`
	MetricsSeconds   float64    `json:"metrics_seconds"`
	Cells            []int      `json:"cells"`
	Weight           []float64  `json:"weight,omitempty"`
	RankCut          []int      `json:"rank_cut"`
	Components       []int      `json:"components"`
	Neighbours       []int      `json:"neighbours"`
	HaloCells        []int      `json:"halo_cells"`
	HaloBytes        []int64    `json:"halo_bytes"`
	Boxes            [][][6]int `json:"boxes"`
}

func newJSONReport(cfg *decompConfig, res decompResult) jsonReport {
	rep := jsonReport{
		Grid: cfg.grid.Dims, Periodic: cfg.grid.Periodic, TotalCells: cfg.grid.Cells(),
		Ranks: cfg.ranks, RanksPerNode: cfg.ranksPerNode, Method: res.method,
		Halo:   jsonHalo{Width: cfg.halo.Width, Stencil: int(cfg.halo.Stencil)},
		Fields: cfg.fields, ScalarBytes: cfg.scalarBytes,
	}
	if res.err != nil {
		rep.Error = oneLine(res.err)
		return rep
	}
	d, m := res.d, res.m
	boxes := make([][][6]int, d.Ranks())
	for r, bs := range d.Boxes {
		boxes[r] = make([][6]int, len(bs))
		for i, b := range bs {
			boxes[r][i] = [6]int{b.Lo[0], b.Lo[1], b.Lo[2], b.Hi[0], b.Hi[1], b.Hi[2]}
		}
	}
	maxCut, _ := maxAt(m.RankCut)
	jm := &jsonMetrics{
		Note:     d.Note,
		CutFaces: m.CutFaces, MaxRankCut: maxCut,
		IntraNodeCut: m.IntraNodeCut, InterNodeCut: m.InterNodeCut,
		Imbalance:        m.Imbalance,
		HaloBytesTotal:   sum64(m.HaloBytes),
		HaloBytesIntra:   m.HaloBytesIntra,
		HaloBytesInter:   m.HaloBytesInter,
		DecomposeSeconds: res.decompose.Seconds(),
		MetricsSeconds:   res.measure.Seconds(),
		Cells:            m.Cells,
		Weight:           res.load,
		RankCut:          m.RankCut,
		Components:       m.Components,
		Neighbours:       m.Neighbours,
		HaloCells:        m.HaloCells,
		HaloBytes:        m.HaloBytes,
		Boxes:            boxes,
	}
	if res.load != nil {
		wi := loadImbalance(res.load)
		jm.WeightImbalance = &wi
	}
	rep.jsonMetrics = jm
	return rep
}

func writeJSON(w io.Writer, cfg *decompConfig, res decompResult) error {
	return encodeJSON(w, newJSONReport(cfg, res))
}

func writeCompareJSON(w io.Writer, cfg *decompConfig, results []decompResult) error {
	best := bestCartesian(results)
	reps := make([]jsonReport, len(results))
	for i, res := range results {
		reps[i] = newJSONReport(cfg, res)
		if res.err == nil {
			if r, ok := cutRatio(res.m.CutFaces, best); ok {
				reps[i].CutRatio = &r
			}
		}
	}
	return encodeJSON(w, reps)
}

func encodeJSON(w io.Writer, v any) error {
	// Compact: per-rank arrays and boxes would take a line per number
	// indented; jq or python -m json.tool pretty-print it when wanted.
	return json.NewEncoder(w).Encode(v)
}
