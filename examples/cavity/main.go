// Command cavity is hilo's main job: a PEC box excited by a broadband
// pulse, solved by the distributed Yee FDTD solver on 4 ranks (processes it
// spawns itself) and checked against physics and against the decomposer.
// It prints
//
//	(a) the resonant frequencies found in the FFT of a probe, next to the
//	    analytic f_mnp = ½√((m/a)²+(n/b)²+(p/d)²) and the Yee-discrete values,
//	(b) the drift of the modified energy W once the pulse is over,
//	(c) per decomposition method, on a finer grid: the cut faces the
//	    decomposer predicts, the halo bytes per step that crossed between
//	    ranks (exactly 4 scalars per cut face), and the time in communication
//	    and in computation,
//	(d) the speed in million cell-updates per second,
//
// and writes a picture of Ez on the middle plane (cavity.png).
//
//	go run ./examples/cavity                     # 4 ranks
//	go run ./examples/cavity -n 2 -steps 4096    # fewer ranks, shorter
//	hilo run -n 4 go run ./examples/cavity       # under a launcher: one rank each
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/solvers/fdtd"
	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/launch"
)

// defaultRanks is the number of processes a bare run spawns.
const defaultRanks = 4

// progressEnv tells rank 0 that the spawning process draws its progress
// bar: rank 0 then writes machine-readable progress lines instead.
const progressEnv = "CAVITY_PROGRESS"

// progressTag starts the lines rank 0 sends to the spawning process.
const progressTag = "\x01progress "

func main() {
	id, err := launch.FromEnv(os.Environ())
	if err != nil {
		fmt.Fprintln(os.Stderr, "cavity:", err)
		os.Exit(2)
	}
	if id.Launcher == launch.LauncherNone {
		n, rest, err := launch.CutRanksFlag(os.Args[1:])
		if err != nil {
			fmt.Fprintln(os.Stderr, "cavity:", err)
			os.Exit(2)
		}
		if n == 0 {
			n = defaultRanks
		}
		if n > 1 {
			os.Exit(spawn(n, rest))
		}
		os.Args = append(os.Args[:1:1], rest...)
	}
	launch.Main(rankMain)
}

// spawn runs the job in n processes and draws rank 0's progress.
func spawn(n int, args []string) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cavity:", err)
		return 1
	}
	bar := newProgress(os.Stderr)
	out := &rankOutput{w: os.Stdout, bar: bar}
	sigs, stop := launch.ForwardSignals()
	defer stop()
	cfg := launch.SpawnConfig{Ranks: n, Env: append(os.Environ(), progressEnv+"=1"),
		Stdout: out, Stderr: os.Stderr, Signals: sigs, Timeout: 30 * time.Minute}
	err = launch.Spawn(context.Background(), cfg, exe, args...)
	out.Flush()
	bar.done()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cavity:", err)
	}
	return launch.ExitCode(err)
}

type config struct {
	grid, tableGrid [3]int
	steps           int
	tableSteps      int
	methods         []string
	png             string
	courant         float64
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("cavity", flag.ContinueOnError)
	grid := fs.String("grid", "20x16x12", "cells of the cavity for the spectrum (a×b×d)")
	steps := fs.Int("steps", 8192, "time steps of the spectrum run (the FFT bin is 1/(steps·S))")
	tableGrid := fs.String("table-grid", "120x96x72", "cells of the same cavity, finer, for the per-method table")
	tableSteps := fs.Int("table-steps", 100, "time steps per method in the table")
	methods := fs.String("methods", strings.Join(decomp.Methods(), ","), "decomposition methods of the table")
	png := fs.String("png", "cavity.png", "picture of Ez on the middle z plane (\"\" for none)")
	courant := fs.Float64("S", 0.5, "Courant number cΔt/Δx")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	cfg := config{steps: *steps, tableSteps: *tableSteps, png: *png, courant: *courant,
		methods: strings.Split(*methods, ",")}
	var err error
	if cfg.grid, err = parseGrid(*grid); err != nil {
		return config{}, err
	}
	if cfg.tableGrid, err = parseGrid(*tableGrid); err != nil {
		return config{}, err
	}
	if cfg.steps < 64 || cfg.tableSteps < 1 {
		return config{}, fmt.Errorf("-steps %d, -table-steps %d: want at least 64 and 1", cfg.steps, cfg.tableSteps)
	}
	for _, m := range cfg.methods {
		if !slices.Contains(decomp.Methods(), m) {
			return config{}, fmt.Errorf("-methods: %q is not one of %v", m, decomp.Methods())
		}
	}
	return cfg, nil
}

func parseGrid(s string) ([3]int, error) {
	parts := strings.Split(s, "x")
	var g [3]int
	if len(parts) != 3 {
		return g, fmt.Errorf("grid %q: want NXxNYxNZ", s)
	}
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 4 || v > 4096 {
			return g, fmt.Errorf("grid %q: want sizes in 4..4096", s)
		}
		g[i] = v
	}
	return g, nil
}

// rankMain is one rank of the job.
func rankMain(ctx context.Context, comm *transport.Comm) error {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var report io.Writer = io.Discard
	var prog func(phase string, i, n int)
	if comm.Rank() == 0 {
		report = os.Stdout
		prog = lineProgress(os.Stderr)
		if os.Getenv(progressEnv) != "" {
			prog = func(phase string, i, n int) { fmt.Printf("%s%d %d %s\n", progressTag, i, n, phase) }
		}
	} else {
		prog = func(string, int, int) {}
	}
	g := cfg.grid
	fmt.Fprintf(report, "PEC cavity %d×%d×%d cells, S = %g, %d ranks (%s), float64\n\n", g[0], g[1], g[2], cfg.courant, comm.Size(), linkKinds(comm))
	if err := spectrum(ctx, comm, cfg, report, prog); err != nil {
		return err
	}
	return table(ctx, comm, cfg, report, prog)
}

// spectrum runs the coarse cavity for cfg.steps and reports (a) and (b).
func spectrum(ctx context.Context, comm *transport.Comm, cfg config, report io.Writer, prog func(string, int, int)) error {
	g, dt := cfg.grid, cfg.courant
	// A short differentiated Gaussian (no DC part, so no static charge is
	// left) on Ez near a corner, the probe near the opposite one: off every
	// symmetry plane, so they couple to many modes.
	src := fdtd.Source{Component: fdtd.Ez, At: [3]int{g[0] / 4, g[1] / 3, g[2] / 3}, Waveform: fdtd.DiffGaussianPulse(8, 2, dt)}
	probe := fdtd.Probe{Name: "Ez", Component: fdtd.Ez, At: [3]int{g[0] - 1 - g[0]/5, g[1] - 1 - g[1]/4, g[2] / 2}}
	s, err := fdtd.New[float64](ctx, comm, fdtd.Options{Dims: g, Courant: dt, Sources: []fdtd.Source{src}, Probes: []fdtd.Probe{probe}})
	if err != nil {
		return err
	}
	defer s.Close()
	quiet := int(math.Ceil(20/dt)) + 1 // the pulse is over by t = 20
	if err := s.Run(ctx, quiet); err != nil {
		return err
	}
	w0, err := s.ModifiedEnergy(ctx)
	if err != nil {
		return err
	}
	worst := 0.0
	chunk := max(cfg.steps/100, 1)
	for done := quiet; done < cfg.steps; {
		k := min(chunk, cfg.steps-done)
		if err := s.Run(ctx, k); err != nil {
			return err
		}
		done += k
		prog("spectrum", done, cfg.steps)
		if done%(chunk*10) == 0 || done == cfg.steps {
			w, err := s.ModifiedEnergy(ctx)
			if err != nil {
				return err
			}
			worst = math.Max(worst, math.Abs(w-w0)/w0)
		}
	}
	series, err := s.ProbeSeries(ctx)
	if err != nil || comm.Rank() != 0 {
		return err
	}
	freq, amp := fdtd.Spectrum(series[0], dt)
	bin := freq[1]
	peaks := fdtd.Peaks(freq, amp, 0.03, 10)
	slices.Sort(peaks)
	modes := fdtd.CavityModes(g, dt, 0.5/dt, 1)
	fmt.Fprintf(report, "(a) resonances: FFT of %v at %v over %d steps (bin %.2e), strongest %d peaks\n", probe.Component, probe.At, cfg.steps, bin, len(peaks))
	fmt.Fprintf(report, "    %-9s %10s %13s %10s %17s %17s\n", "mode mnp", "analytic", "Yee-discrete", "FFT peak", "peak−discrete", "peak−analytic")
	nearDiscrete, nearAnalytic := 0, 0
	for _, f := range peaks {
		m := nearest(modes, f)
		dd, da := (f-m.Discrete)/bin, (f-m.Analytic)/bin
		if math.Abs(dd) <= 1 {
			nearDiscrete++
		}
		if math.Abs(da) <= 1 {
			nearAnalytic++
		}
		fmt.Fprintf(report, "    %-9s %10.6f %13.6f %10.6f %12.2f bins %12.2f bins\n", fmt.Sprintf("%d %d %d", m.M, m.N, m.P), m.Analytic, m.Discrete, f, dd, da)
	}
	fmt.Fprintf(report, "    %d of %d peaks within one bin of the Yee-discrete frequency, %d of the analytic one\n\n", nearDiscrete, len(peaks), nearAnalytic)
	fmt.Fprintf(report, "(b) modified energy W = ½Σ E² + ½Σ Hⁿ⁻½·Hⁿ⁺½ after the pulse: %.12g; largest drift over steps %d..%d: %.1e relative\n\n", w0, quiet, cfg.steps, worst)
	return nil
}

func nearest(modes []fdtd.CavityMode, f float64) fdtd.CavityMode {
	best := modes[0]
	for _, m := range modes {
		if math.Abs(m.Discrete-f) < math.Abs(best.Discrete-f) {
			best = m
		}
	}
	return best
}

// methodRow is one line of the table, as rank 0 sees it.
type methodRow struct {
	method                   string
	cutFaces                 int
	predicted, measured      float64 // halo payload bytes per step, all ranks
	wall, commMax, commMed   float64 // seconds per step
	computeMax, computeMed   float64
	mcells, mcellsPerProcess float64
}

// table runs the fine cavity once per method and reports (c) and (d).
func table(ctx context.Context, comm *transport.Comm, cfg config, report io.Writer, prog func(string, int, int)) error {
	g := cfg.tableGrid
	cells := float64(g[0]) * float64(g[1]) * float64(g[2])
	var rows []methodRow
	for mi, method := range cfg.methods {
		prog("methods: "+method, mi, len(cfg.methods))
		row, err := runMethod(ctx, comm, cfg, method, mi == 0)
		if err != nil {
			return fmt.Errorf("method %s: %w", method, err)
		}
		rows = append(rows, row)
	}
	prog("methods", len(cfg.methods), len(cfg.methods))
	if comm.Rank() != 0 {
		return nil
	}
	fmt.Fprintf(report, "(c) the same cavity at %d×%d×%d cells, %d ranks, %d steps per method: halo bytes per step = 4 × cut faces × 8\n", g[0], g[1], g[2], comm.Size(), cfg.tableSteps)
	fmt.Fprintf(report, "    %-8s %9s %12s %12s %8s %14s %14s %9s\n", "method", "cut faces", "predicted B", "measured B", "equal", "comm ms max/med", "compute ms max/med", "Mcells/s")
	for _, r := range rows {
		eq := "yes"
		if r.predicted != r.measured {
			eq = "NO"
		}
		fmt.Fprintf(report, "    %-8s %9d %12.0f %12.0f %8s %7.2f/%-7.2f %8.2f/%-8.2f %9.1f\n", r.method, r.cutFaces, r.predicted, r.measured, eq,
			1e3*r.commMax, 1e3*r.commMed, 1e3*r.computeMax, 1e3*r.computeMed, r.mcells)
	}
	best := slices.MaxFunc(rows, func(a, b methodRow) int { return int(math.Copysign(1, a.mcells-b.mcells)) })
	fmt.Fprintf(report, "\n(d) speed: %.1f million cell-updates per second (%.0f cells in %.2f ms per step, slowest rank) with %s on %d ranks, %.1f per rank\n",
		best.mcells, cells, 1e3*best.wall, best.method, comm.Size(), best.mcellsPerProcess)
	if cfg.png != "" {
		fmt.Fprintf(report, "    Ez on the plane z = %d after %d steps: %s\n", g[2]/2, cfg.tableSteps, cfg.png)
	}
	return nil
}

// runMethod runs the fine cavity with one decomposition method.
func runMethod(ctx context.Context, comm *transport.Comm, cfg config, method string, picture bool) (methodRow, error) {
	g, dt := cfg.tableGrid, cfg.courant
	src := fdtd.Source{Component: fdtd.Ez, At: [3]int{g[0] / 3, g[1] / 2, g[2] / 2}, Waveform: fdtd.RickerPulse(0.08, 15, dt)}
	s, err := fdtd.New[float64](ctx, comm, fdtd.Options{Dims: g, Courant: dt, Method: method, Sources: []fdtd.Source{src}})
	if err != nil {
		return methodRow{}, err
	}
	defer s.Close()
	const warm = 3
	if err := s.Run(ctx, warm); err != nil {
		return methodRow{}, err
	}
	before := commTime(s)
	if err := comm.Barrier(ctx); err != nil {
		return methodRow{}, err
	}
	t0 := time.Now()
	if err := s.Run(ctx, cfg.tableSteps); err != nil {
		return methodRow{}, err
	}
	wall := time.Since(t0).Seconds() / float64(cfg.tableSteps)
	commSec := (commTime(s) - before).Seconds() / float64(cfg.tableSteps)
	var payload float64 // bytes sent per step by this rank's counters, minus the 8-byte message headers
	for _, p := range []*halo.Plan{s.EPlan(), s.HPlan()} {
		st := p.Stats()
		for _, ps := range st.Peers {
			payload += float64(ps.BytesSent-8*ps.MsgsSent) / float64(st.Exchanges)
		}
	}
	all, err := gatherFloats(ctx, comm, []float64{wall, commSec, wall - commSec, payload})
	if err != nil {
		return methodRow{}, err
	}
	if picture && cfg.png != "" {
		sl, err := s.Slice(ctx, fdtd.Ez, 2, g[2]/2)
		if err != nil {
			return methodRow{}, err
		}
		if comm.Rank() == 0 {
			if err := writePNG(cfg.png, sl, fmt.Sprintf("step %d", s.Steps())); err != nil {
				return methodRow{}, err
			}
		}
	}
	d := s.Decomposition()
	m, err := d.Metrics(decomp.UniformHalo(1, decomp.Faces), 1, 8)
	if err != nil {
		return methodRow{}, err
	}
	row := methodRow{method: method, cutFaces: m.CutFaces, predicted: float64(4 * m.CutFaces * 8)}
	var walls, comms, computes []float64
	for _, v := range all {
		walls = append(walls, v[0])
		comms = append(comms, v[1])
		computes = append(computes, v[2])
		row.measured += v[3]
	}
	row.wall = slices.Max(walls)
	row.commMax, row.commMed = slices.Max(comms), median(comms)
	row.computeMax, row.computeMed = slices.Max(computes), median(computes)
	cells := float64(g[0]) * float64(g[1]) * float64(g[2])
	row.mcells = cells / row.wall / 1e6
	row.mcellsPerProcess = row.mcells / float64(comm.Size())
	return row, nil
}

// commTime is the time this rank spent in the two plans' pack, wait and
// unpack so far.
func commTime(s *fdtd.Solver[float64]) time.Duration {
	var t time.Duration
	for _, p := range []*halo.Plan{s.EPlan(), s.HPlan()} {
		st := p.Stats()
		t += st.Pack + st.Wait + st.Unpack + st.Local
	}
	return t
}

// gatherFloats gives every rank every rank's values.
func gatherFloats(ctx context.Context, comm *transport.Comm, mine []float64) ([][]float64, error) {
	buf := make([]byte, 0, 8*len(mine))
	for _, v := range mine {
		buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
		buf = append(buf, ' ')
	}
	parts, err := comm.Allgather(ctx, buf)
	if err != nil {
		return nil, err
	}
	out := make([][]float64, len(parts))
	for r, p := range parts {
		for _, f := range strings.Fields(string(p)) {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				return nil, fmt.Errorf("figures from rank %d: %w", r, err)
			}
			out[r] = append(out[r], v)
		}
		if len(out[r]) != len(mine) {
			return nil, fmt.Errorf("figures from rank %d: %d values, want %d", r, len(out[r]), len(mine))
		}
	}
	return out, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func writePNG(path string, sl fdtd.Slice, title string) error {
	var buf bytes.Buffer
	if err := fdtd.WriteSlicePNG(&buf, sl, fdtd.PNGOptions{Title: title, Scale: 4}); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// linkKinds says what carries the messages between this rank and the others.
func linkKinds(comm *transport.Comm) string {
	kinds := map[string]bool{}
	for p := range comm.Size() {
		if p != comm.Rank() {
			kinds[comm.LinkKind(p)] = true
		}
	}
	if len(kinds) == 0 {
		return "one process"
	}
	var ks []string
	for k := range kinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return "processes over " + strings.Join(ks, ", ")
}

// lineProgress writes "phase i/n" lines at most every 10 % (for logs and
// launchers other than our own spawn).
func lineProgress(w io.Writer) func(string, int, int) {
	last := -1
	return func(phase string, i, n int) {
		pct := 100 * i / max(n, 1)
		if pct/10 != last/10 || i == n {
			last = pct
			fmt.Fprintf(w, "%s %d/%d (%d%%)\n", phase, i, n, pct)
		}
	}
}

// rankOutput is the spawned ranks' stdout: lines come prefixed "[rank] ".
// Rank 0's progress lines go to the bar, its other lines are printed
// without the prefix (they are the report); other ranks' lines keep it.
type rankOutput struct {
	w       io.Writer
	bar     *progress
	pending []byte
}

func (o *rankOutput) Write(p []byte) (int, error) {
	o.pending = append(o.pending, p...)
	for {
		i := bytes.IndexByte(o.pending, '\n')
		if i < 0 {
			return len(p), nil
		}
		o.line(string(o.pending[:i]))
		o.pending = o.pending[i+1:]
	}
}

// Flush prints a last line without a newline.
func (o *rankOutput) Flush() {
	if len(o.pending) > 0 {
		o.line(string(o.pending))
		o.pending = nil
	}
}

func (o *rankOutput) line(s string) {
	rest, ok := strings.CutPrefix(s, "[0] ")
	if !ok {
		o.bar.clear()
		fmt.Fprintln(o.w, s)
		return
	}
	if msg, ok := strings.CutPrefix(rest, progressTag); ok {
		var i, n int
		var phase string
		if k, _ := fmt.Sscanf(msg, "%d %d", &i, &n); k == 2 {
			if f := strings.SplitN(msg, " ", 3); len(f) == 3 {
				phase = f[2]
			}
			o.bar.set(phase, i, n)
		}
		return
	}
	o.bar.clear()
	fmt.Fprintln(o.w, rest)
}

// progress draws a one-line bar on a terminal (redrawn in place) and
// nothing otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	shown bool
	start time.Time
	phase string
	last  time.Time
}

func newProgress(f *os.File) *progress {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return &progress{w: f, tty: err == nil, start: time.Now()}
}

func (p *progress) set(phase string, i, n int) {
	if !p.tty || (time.Since(p.last) < 100*time.Millisecond && i < n && phase == p.phase) {
		return
	}
	p.phase, p.last = phase, time.Now()
	const width = 30
	fill := width * i / max(n, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %3d%% %-22s %5.1fs", strings.Repeat("#", fill), strings.Repeat("-", width-fill), 100*i/max(n, 1), phase, time.Since(p.start).Seconds())
	p.shown = true
}

func (p *progress) clear() {
	if p.shown {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 72))
		p.shown = false
	}
}

func (p *progress) done() { p.clear() }
