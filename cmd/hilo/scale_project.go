package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/internal/scaling"
)

// projRow is one projected point.
type projRow struct {
	Workload     string  `json:"workload"`
	Method       string  `json:"method"`
	Ranks        int     `json:"ranks"`
	Nodes        int     `json:"nodes"`
	Grid         string  `json:"grid"`
	StepUS       float64 `json:"step_us"`
	ComputeUS    float64 `json:"compute_us"` // the slowest rank's
	CommUS       float64 `json:"comm_us"`
	SlowestRank  int     `json:"slowest_rank"`
	MaxMsgs      int     `json:"max_msgs"` // messages received per step by the busiest rank
	BytesIntra   int64   `json:"bytes_intra"`
	BytesInter   int64   `json:"bytes_inter"`
	Efficiency   float64 `json:"efficiency"`
	CellsPerRank float64 `json:"cells_per_rank"`
}

// pingpongSamples reads a saved `hilo bench pingpong -json` file, or runs
// it (and saves it in dir, if set).
func pingpongSamples(ctx context.Context, exe, file, tr, dir string) ([]scaling.Sample, error) {
	var data []byte
	var err error
	if file != "" {
		data, err = os.ReadFile(file)
	} else {
		cmd := exec.CommandContext(ctx, exe, "bench", "pingpong", "-json", "-transport", tr, "-sizes", "8:4194304")
		var errb bytes.Buffer
		cmd.Stderr = &errb
		data, err = cmd.Output()
		if err != nil {
			err = fmt.Errorf("hilo bench pingpong -transport %s: %w\n%s", tr, err, tail(errb.String(), 10))
		} else if dir != "" {
			err = writeFile(dir, "pingpong-"+tr+".json", data)
		}
	}
	if err != nil {
		return nil, err
	}
	s, err := scaling.ReadPingpong(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s ping-pong: %w", tr, err)
	}
	return s, nil
}

// fitMachine fits the two links (α + n/β) from ping-pong figures.
func (o scaleOptions) fitMachine(ctx context.Context, exe string, stderr io.Writer) (*scaling.Machine, error) {
	m := &scaling.Machine{CellRate: o.cellRate, Cores: float64(o.cores), Wake: o.wake.Seconds()}
	for _, l := range []struct {
		tr, file string
		link     *scaling.LinkModel
	}{{"shm", o.pingpongShm, &m.Shm}, {"tcp", o.pingpongTCP, &m.TCP}} {
		s, err := pingpongSamples(ctx, exe, l.file, l.tr, o.outDir)
		if err != nil {
			return nil, err
		}
		fit, err := scaling.FitLink(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.tr, err)
		}
		fmt.Fprintf(stderr, "hilo scale: %s link fitted: %v\n", l.tr, fit)
		if rate := os.Getenv("TWONODE_RATE"); l.tr == "tcp" && o.launcher == "twonode" && rate != "" {
			// The bed's veth is shaped (tc tbf): no faster than that.
			bps, err := parseTCRate(rate)
			if err != nil {
				return nil, err
			}
			fit.Beta = min(fit.Beta, bps/8)
			fmt.Fprintf(stderr, "hilo scale: tcp link limited by TWONODE_RATE=%s: %v\n", rate, fit)
		}
		*l.link = fit
	}
	return m, nil
}

// modelRows predicts each measured row and its error.
func (o scaleOptions) modelRows(rows []scaleRow, m *scaling.Machine) error {
	for i := range rows {
		r := &rows[i]
		dims, err := parseGrid(r.Grid)
		if err != nil {
			return err
		}
		d, err := decomp.Decompose(decomp.Grid{Dims: dims}, r.Ranks, decomp.Options{Method: r.Method})
		if err != nil {
			return err
		}
		w, err := o.workloadOf(d)
		if err != nil {
			return err
		}
		// The background load is not fed to the model: over the short
		// timed steps /proc/stat's 10 ms ticks measure it to about half a
		// core; it only flags disturbed runs (-quiet avoids them).
		r.ModelUS = m.Predict(w).Seconds * 1e6
		r.ModelErr = (r.ModelUS - r.StepUS) / r.StepUS
	}
	return nil
}

// scaleProject models the step time for every method and rank count.
func scaleProject(o scaleOptions, stdout, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "hilo scale:", err)
		return exitFail
	}
	ctx, stop := signalContext()
	defer stop()
	m, err := o.fitMachine(ctx, exe, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "hilo scale: model:", err)
		return exitFail
	}
	m.Cores = 0 // a core per rank on the projected machine: every core busy
	g := decomp.Grid{Dims: o.dims}
	type point struct {
		method string
		p, rpn int
		w      scaling.Workload
	}
	var points []point
	var cal calibration
	prog := newProgress(stderr, len(o.methods)*len(o.ranks)+1)
	for _, method := range o.methods {
		for _, p := range o.ranks {
			prog.next(fmt.Sprintf("decompose %s P=%d", method, p))
			if p > g.Cells() {
				continue
			}
			rpn := min(o.ranksPerNode, p)
			d, err := decomp.Decompose(g, p, decomp.Options{Method: method, RanksPerNode: rpn})
			if err != nil {
				// Some methods cannot make some counts; the others still
				// stand.
				fmt.Fprintf(stderr, "hilo scale: %s P=%d skipped: %v\n", method, p, err)
				continue
			}
			node := func(r int) int { return r / rpn }
			var w scaling.Workload
			if o.workload == "fdtd" {
				w, err = scaling.FDTDWorkload(d, node)
			} else {
				w, err = scaling.HaloWorkload(d, node, o.fields)
			}
			if err != nil {
				prog.done()
				fmt.Fprintln(stderr, "hilo scale:", err)
				return exitFail
			}
			points = append(points, point{method, p, rpn, w})
		}
	}
	if m.CellRate == 0 && o.workload == "fdtd" {
		// Each box size's rate with every core of this machine busy, as
		// on a full node.
		prog.next("compute rates")
		rate := o
		rate.cores, rate.wake = runtime.NumCPU(), time.Nanosecond
		for range o.repeat {
			if err := rate.calibrate(ctx, exe, m, &cal); err != nil {
				prog.done()
				fmt.Fprintln(stderr, "hilo scale: model:", err)
				return exitFail
			}
		}
		if err := cal.apply(m, stderr); err != nil {
			prog.done()
			fmt.Fprintln(stderr, "hilo scale: model:", err)
			return exitFail
		}
	}
	var rows []projRow
	for _, pt := range points {
		pr := m.Predict(pt.w)
		intra, inter := pt.w.PayloadBytes()
		maxMsgs := 0
		for _, l := range pt.w {
			maxMsgs = max(maxMsgs, len(l.Recv))
		}
		rows = append(rows, projRow{Workload: o.workload, Method: pt.method, Ranks: pt.p, Nodes: (pt.p + pt.rpn - 1) / pt.rpn,
			Grid: fmt.Sprintf("%dx%dx%d", o.dims[0], o.dims[1], o.dims[2]), StepUS: pr.Seconds * 1e6,
			ComputeUS: pr.Compute * 1e6, CommUS: pr.Comm * 1e6, SlowestRank: pr.Slowest, MaxMsgs: maxMsgs,
			BytesIntra: intra, BytesInter: inter, CellsPerRank: float64(g.Cells()) / float64(pt.p)})
	}
	if len(rows) == 0 {
		fmt.Fprintln(stderr, "hilo scale: nothing to project")
		return exitFail
	}
	prog.done()
	for i := range rows {
		var base *projRow
		for j := range rows {
			if rows[j].Method == rows[i].Method && (base == nil || rows[j].Ranks < base.Ranks) {
				base = &rows[j]
			}
		}
		rows[i].Efficiency = base.StepUS * float64(base.Ranks) / (rows[i].StepUS * float64(rows[i].Ranks))
	}
	if o.outDir != "" {
		if err := writeProjection(o, m, rows); err != nil {
			fmt.Fprintln(stderr, "hilo scale:", err)
			return exitFail
		}
	}
	if o.asJSON {
		return encodeOrFail(stdout, stderr, rows)
	}
	fmt.Fprintf(stdout, "projection: %s on %s, %d ranks per node, shm %v, tcp %v\n\n",
		o.workload, rows[0].Grid, o.ranksPerNode, m.Shm, m.TCP)
	fmt.Fprintf(stdout, "%-8s %6s %5s %12s %10s %10s %10s %7s %14s %14s\n",
		"method", "ranks", "nodes", "cells/rank", "step µs", "compute", "comm", "eff", "B/step intra", "B/step inter")
	for _, r := range rows {
		fmt.Fprintf(stdout, "%-8s %6d %5d %12.0f %10.1f %10.1f %10.1f %7.3f %14d %14d\n",
			r.Method, r.Ranks, r.Nodes, r.CellsPerRank, r.StepUS, r.ComputeUS, r.CommUS, r.Efficiency, r.BytesIntra, r.BytesInter)
	}
	return exitOK
}

func writeProjection(o scaleOptions, m *scaling.Machine, rows []projRow) error {
	data, err := csvOf(rows)
	if err != nil {
		return err
	}
	if err := writeFile(o.outDir, "projection.csv", data); err != nil {
		return err
	}
	if data, err = json.MarshalIndent(rows, "", "  "); err != nil {
		return err
	}
	if err := writeFile(o.outDir, "projection.json", append(data, '\n')); err != nil {
		return err
	}
	var timeS, effS []scaling.Series
	var ranks []float64
	for _, r := range rows {
		if !slices.Contains(ranks, float64(r.Ranks)) {
			ranks = append(ranks, float64(r.Ranks))
		}
	}
	slices.Sort(ranks)
	for _, meth := range methodsOf(rows, func(r projRow) string { return r.Method }) {
		t, e := scaling.Series{Name: meth}, scaling.Series{Name: meth}
		for _, r := range rows {
			if r.Method == meth {
				t.X, t.Y = append(t.X, float64(r.Ranks)), append(t.Y, r.StepUS/1e3)
				e.X, e.Y = append(e.X, float64(r.Ranks)), append(e.Y, r.Efficiency)
			}
		}
		timeS, effS = append(timeS, t), append(effS, e)
	}
	title := fmt.Sprintf("%s %s, %d ranks/node", o.workload, rows[0].Grid, o.ranksPerNode)
	var buf bytes.Buffer
	err = scaling.WritePNG(&buf, []scaling.Panel{
		{Title: "projected time per step: " + title, XLabel: "ranks", YLabel: "ms per step", LogX: true, LogY: true, Series: timeS, XTicks: ranks},
		{Title: "projected strong-scaling efficiency", XLabel: "ranks", YLabel: "efficiency", LogX: true, Series: effS, XTicks: ranks},
	}, 5*vg.Inch, 3.6*vg.Inch)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(o.outDir, "projection.png"), buf.Bytes(), 0o644)
}

// computeGrids are the 1-rank runs the compute model is fitted to: the
// same 64x64 planes in rows of 16, 32 and 64 cells.
var computeGrids = [][3]int{{16, 64, 64}, {32, 64, 64}, {64, 64, 64}}

// calibration holds the model's measured machine figures, the best (least
// disturbed) over -repeat rounds.
type calibration struct {
	stepTimes []float64 // per computeGrids, seconds (0: not measured)
	wake      float64   // seconds of CPU per message when ranks outnumber cores
	wakeRuns  int
}

// calibrate measures, once per round, (1) the compute model: 1-rank runs
// of the reference problem on computeGrids, as many copies at once as
// there are cores (a full machine, as in every run that fills the cores);
// and (2) the cost of a message when ranks outnumber cores: an exchange of
// two fields (halo 1, block) among twice as many ranks as cores, through
// the study's launcher (4 ranks on the two-node bed), whose step time, all
// cores' worth, is spread over its messages once their link times (at both
// ends, as the model counts them) are taken off.
func (o scaleOptions) calibrate(ctx context.Context, exe string, m *scaling.Machine, cal *calibration) error {
	if err := waitQuiet(ctx, o.quiet, 30*time.Second); err != nil {
		return err
	}
	if o.workload == "fdtd" && o.cellRate == 0 {
		if cal.stepTimes == nil {
			cal.stepTimes = make([]float64, len(computeGrids))
		}
		one := o
		one.launcher, one.transport, one.workload, one.steps, one.warmup = "hilo", "", "fdtd", 20, 3
		copies := max(1, o.cores)
		for gi, g := range computeGrids {
			times := make([]float64, copies)
			errs := make([]error, copies)
			var wg sync.WaitGroup
			for i := range copies {
				wg.Go(func() {
					res, err := one.launchRun(ctx, exe, 1, one.workerArgs(g, decomp.MethodBlock))
					if err == nil {
						times[i] = scaling.Median(res.StepSeconds)
					}
					errs[i] = err
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				return fmt.Errorf("compute rate on %v: %w", g, err)
			}
			if t := scaling.Median(times); cal.stepTimes[gi] == 0 || t < cal.stepTimes[gi] {
				cal.stepTimes[gi] = t
			}
		}
	}
	if o.wake > 0 || o.cores < 1 {
		return nil
	}
	if err := waitQuiet(ctx, o.quiet, 30*time.Second); err != nil {
		return err
	}
	// The exchange moves two float64 fields (the FDTD solver's messages
	// carry two components per face) on the study's grid (at most 64 per
	// axis), so that its messages are the size of the study's.
	w := o
	w.workload, w.fields, w.steps, w.warmup = "halo", 2, 100, 10
	p := 2 * o.cores
	if o.launcher == "twonode" {
		p = 4
	}
	dims := [3]int{min(o.dims[0], 64), min(o.dims[1], 64), min(o.dims[2], 64)}
	res, err := w.launchRun(ctx, exe, p, w.workerArgs(dims, decomp.MethodBlock))
	if err != nil {
		return fmt.Errorf("wake-up cost: %w", err)
	}
	d, err := decomp.Decompose(decomp.Grid{Dims: dims}, p, decomp.Options{Method: decomp.MethodBlock})
	if err != nil {
		return err
	}
	wl, err := w.workloadOf(d)
	if err != nil {
		return err
	}
	var links float64
	msgs := 0
	for _, l := range wl {
		for _, msg := range l.Recv {
			link := m.Shm
			if msg.Remote {
				link = m.TCP
			}
			links += link.Time(msg.Bytes)
			msgs++
		}
	}
	wake := max(0, scaling.Median(res.StepSeconds)*float64(o.cores)-2*links) / float64(msgs)
	if cal.wakeRuns == 0 || wake < cal.wake {
		cal.wake = wake
	}
	cal.wakeRuns++
	return nil
}

// apply puts the calibration into the machine and says what it found.
func (cal *calibration) apply(m *scaling.Machine, stderr io.Writer) error {
	if cal.stepTimes != nil && m.CellRate == 0 {
		var cells, rows []float64
		for _, g := range computeGrids {
			cells = append(cells, float64(g[0]*g[1]*g[2]))
			rows = append(rows, float64(g[1]*g[2]))
		}
		c, r, err := scaling.FitCompute(cells, rows, cal.stepTimes)
		if err != nil {
			return err
		}
		m.CellTime, m.RowTime = c, r
		fmt.Fprintf(stderr, "hilo scale: compute: %.3f ns per cell + %.1f ns per x row (fitted to 1-rank runs on", c*1e9, r*1e9)
		for i, g := range computeGrids {
			fmt.Fprintf(stderr, " %dx%dx%d: %.1f Mcells/s", g[0], g[1], g[2], cells[i]/cal.stepTimes[i]/1e6)
		}
		fmt.Fprintln(stderr, ")")
	}
	if cal.wakeRuns > 0 {
		m.Wake = cal.wake
		fmt.Fprintf(stderr, "hilo scale: cost per message with ranks outnumbering cores %.1f µs\n", cal.wake*1e6)
	}
	return nil
}

// parseTCRate reads a tc rate: a number with a unit bit, kbit, mbit, gbit
// (or bps, kbps, mbps, gbps: bytes), as TWONODE_RATE gives it to tc.
// It returns bits per second.
func parseTCRate(s string) (float64, error) {
	units := []struct {
		suffix string
		bits   float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}, {"gbps", 8e9}, {"mbps", 8e6}, {"kbps", 8e3}, {"bps", 8}}
	low := strings.ToLower(strings.TrimSpace(s))
	for _, u := range units {
		if num, ok := strings.CutSuffix(low, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || !(v > 0) || math.IsInf(v, 0) {
				break
			}
			return v * u.bits, nil
		}
	}
	return 0, fmt.Errorf("TWONODE_RATE=%q: want a tc rate such as 1gbit or 100mbit", s)
}
