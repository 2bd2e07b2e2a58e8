package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image"
	_ "image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
)

// cutFaces counts, cell by cell, the unit faces between cells of different
// ranks, and those between ranks on different nodes (node: rank/2): an
// oracle independent of decomp.Metrics and of the scaling model.
func cutFaces(t *testing.T, dims [3]int, p int, method string) (cut, cross int) {
	t.Helper()
	d, err := decomp.Decompose(decomp.Grid{Dims: dims}, p, decomp.Options{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	for z := range dims[2] {
		for y := range dims[1] {
			for x := range dims[0] {
				a := d.Owner([3]int{x, y, z})
				for axis := range 3 {
					q := [3]int{x, y, z}
					if q[axis]++; q[axis] < dims[axis] {
						if b := d.Owner(q); b != a {
							cut++
							if a/2 != b/2 {
								cross++
							}
						}
					}
				}
			}
		}
	}
	return cut, cross
}

// A small strong-scaling run through hilo's own launcher: the table, CSV
// and JSON agree, the bytes measured on the wire are the decomposition's
// prediction (4 float64 per cut face per step), and the plots decode.
func TestScaleHilo(t *testing.T) {
	dir := t.TempDir()
	out, st := hilo(t, "scale", "-grid", "16x16x16", "-ranks", "1,2", "-methods", "hilbert,slab",
		"-steps", "4", "-warmup", "1", "-o", dir, "-json")
	if st != 0 {
		t.Fatalf("status %d", st)
	}
	var rows []scaleRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("stdout: %v\n%s", err, out)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	for i, r := range rows {
		wantMethod, wantRanks := []string{"hilbert", "slab"}[i/2], []int{1, 2}[i%2]
		if r.Method != wantMethod || r.Ranks != wantRanks || r.Grid != "16x16x16" || r.Steps != 4 {
			t.Errorf("row %d: %+v", i, r)
		}
		cut, _ := cutFaces(t, [3]int{16, 16, 16}, r.Ranks, r.Method)
		if r.CutFaces != cut || r.PredBytes != int64(32*cut) || r.BytesIntra != int64(32*cut) || r.BytesInter != 0 {
			t.Errorf("%s P=%d: measured %d+%d B/step, predicted %d, cut %d; want 4 x %d cut faces x 8 on shm",
				r.Method, r.Ranks, r.BytesIntra, r.BytesInter, r.PredBytes, r.CutFaces, cut)
		}
		if !(r.StepUS > 0) || r.Efficiency <= 0 || (r.Ranks == 1 && r.Efficiency != 1) {
			t.Errorf("%s P=%d: step %g µs, efficiency %g", r.Method, r.Ranks, r.StepUS, r.Efficiency)
		}
		if r.Ranks == 2 && (r.MsgsPerStep != 2 || r.CommMaxUS <= 0) {
			t.Errorf("%s P=2: %d messages per step (want 2: E one way, H the other), comm %g µs", r.Method, r.MsgsPerStep, r.CommMaxUS)
		}
	}
	var saved []scaleRow
	data, err := os.ReadFile(filepath.Join(dir, "scale.json"))
	if err == nil {
		err = json.Unmarshal(data, &saved)
	}
	if err != nil || len(saved) != len(rows) || saved[3] != rows[3] {
		t.Errorf("scale.json: %v, %d rows", err, len(saved))
	}
	f, err := os.Open(filepath.Join(dir, "scale.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != 5 || recs[0][0] != "workload" {
		t.Fatalf("scale.csv: %v, %d records", err, len(recs))
	}
	col := func(name string) int {
		for i, h := range recs[0] {
			if h == name {
				return i
			}
		}
		t.Fatalf("scale.csv has no column %q", name)
		return -1
	}
	for i, r := range rows {
		rec := recs[i+1]
		if rec[col("method")] != r.Method || rec[col("ranks")] != strconv.Itoa(r.Ranks) || rec[col("pred_bytes")] != strconv.FormatInt(r.PredBytes, 10) {
			t.Errorf("csv row %d %v, json %+v", i, rec, r)
		}
	}
	for _, name := range []string{"time.png", "bytes.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
			t.Errorf("%s: %v", name, b)
		}
	}
}

// TestScaleTwoNode runs every method over the two-node test bed: 4 ranks, 2
// per "node", the nodes joined by a veth pair. The bytes per step are the
// prediction exactly, and the bytes that went over TCP are those of the cut
// faces between ranks {0,1} and {2,3}.
func TestScaleTwoNode(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the two-node test bed needs root (network namespaces)")
	}
	for _, tool := range []string{"ip", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	methods := []string{"hilbert", "block", "rcb", "slab"}
	out, st := hilo(t, "scale", "-launcher", "twonode", "-twonode", "../../scripts/twonode.sh",
		"-grid", "16x16x16", "-ranks", "4", "-methods", strings.Join(methods, ","), "-steps", "4", "-warmup", "1", "-json")
	if st == exitNoBed {
		t.Skip("no namespaces here")
	}
	if st != 0 {
		t.Fatalf("status %d", st)
	}
	var rows []scaleRow
	if err := json.NewDecoder(bytes.NewReader([]byte(out))).Decode(&rows); err != nil || len(rows) != len(methods) {
		t.Fatalf("%v: %d rows\n%s", err, len(rows), out)
	}
	for i, r := range rows {
		cut, cross := cutFaces(t, [3]int{16, 16, 16}, 4, methods[i])
		if cross == 0 || cross == cut {
			t.Fatalf("%s: %d of %d cut faces cross nodes; the test needs both kinds", methods[i], cross, cut)
		}
		if r.Method != methods[i] || r.BytesIntra+r.BytesInter != int64(32*cut) || r.BytesInter != int64(32*cross) ||
			r.PredBytes != int64(32*cut) || r.PredBytesInter != int64(32*cross) {
			t.Errorf("%s: measured %d B/step shm + %d tcp, predicted %d (%d inter); want %d with %d over tcp",
				r.Method, r.BytesIntra, r.BytesInter, r.PredBytes, r.PredBytesInter, 32*cut, 32*cross)
		}
	}
}

func TestParseRankList(t *testing.T) {
	for in, want := range map[string]string{
		"1,2,4": "[1 2 4]", "4,1,2,2": "[1 2 4]", "1..32768": "[1 2 4 8 16 32 64 128 256 512 1024 2048 4096 8192 16384 32768]",
		"3..20,1": "[1 3 6 12]",
	} {
		got, err := parseRankList(in)
		if err != nil || fmtInts(got) != want {
			t.Errorf("%q: %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "a", "4..2", "1,,2", "-1"} {
		if _, err := parseRankList(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func fmtInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestScaleUsage(t *testing.T) {
	for _, args := range [][]string{
		{"scale", "-workload", "lbm"},
		{"scale", "-launcher", "twonode", "-ranks", "2"},
		{"scale", "-launcher", "pbs"},
		{"scale", "-methods", "hilbert,voronoi"},
		{"scale", "-weak", "-ranks", "2,3"},
		{"scale", "-worker"},
		{"scale", "-grid", "1x8x8"},
	} {
		if code, _, errOut := runCmd(t, args...); code != exitUsage || !strings.Contains(errOut, "hilo scale") {
			t.Errorf("%v: status %d, stderr %q", args, code, errOut)
		}
	}
}

// Off a terminal the progress display writes one plain line per run.
func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 2)
	p.next("a")
	p.next("b")
	p.done()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "run 1/2: a") || !strings.Contains(lines[1], "run 2/2: b") || strings.Contains(buf.String(), "\r") {
		t.Errorf("%q", buf.String())
	}
}

// checkLauncher runs a 2-rank fdtd scale run through a cluster launcher and
// checks the measured bytes against the cell-by-cell count.
func checkLauncher(t *testing.T, env []string, args ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("spawns ranks")
	}
	bin, err := hiloBinary()
	if err != nil {
		t.Fatal(err)
	}
	argv := append([]string{"scale", "-grid", "16x16x16", "-ranks", "2", "-methods", "rcb", "-steps", "3", "-warmup", "1", "-json"}, args...)
	cmd := exec.Command(bin, argv...)
	cmd.Env = append(os.Environ(), env...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, errb.String())
	}
	var rows []scaleRow
	if err := json.Unmarshal(out, &rows); err != nil || len(rows) != 1 {
		t.Fatalf("%v: %d rows\n%s", err, len(rows), out)
	}
	cut, _ := cutFaces(t, [3]int{16, 16, 16}, 2, "rcb")
	if r := rows[0]; r.BytesIntra != int64(32*cut) || r.BytesInter != 0 || r.Launcher != args[1] {
		t.Errorf("%+v: want %d bytes per step on shm", r, 32*cut)
	}
}

func TestScaleMPIRun(t *testing.T) {
	if _, err := exec.LookPath("mpirun.openmpi"); err != nil {
		t.Skip("Open MPI is not installed (scripts/ci-deps.sh installs it)")
	}
	checkLauncher(t, nil, "-launcher", "mpirun", "-mpirun", "mpirun.openmpi")
}

// TestScaleSrun uses a Slurm that is already up (scripts/slurm-up.sh; the
// launch package's TestSlurm starts one for itself).
func TestScaleSrun(t *testing.T) {
	conf := os.Getenv("SLURM_CONF")
	if conf == "" {
		conf = "/tmp/hilo-slurm/slurm.conf"
	}
	ping := exec.Command("scontrol", "ping")
	ping.Env = append(os.Environ(), "SLURM_CONF="+conf)
	if out, err := ping.Output(); err != nil || !strings.Contains(string(out), "UP") {
		t.Skipf("no Slurm is up at %s (scripts/slurm-up.sh starts one)", conf)
	}
	checkLauncher(t, []string{"SLURM_CONF=" + conf}, "-launcher", "srun")
}

func TestParseTCRate(t *testing.T) {
	for in, want := range map[string]float64{"1gbit": 1e9, "100mbit": 1e8, "2.5Gbit": 2.5e9, "64kbps": 512e3, "800bit": 800} {
		if got, err := parseTCRate(in); err != nil || got != want {
			t.Errorf("%q: %g, %v; want %g", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fast", "mbit", "-1gbit", "1tbit", "NaNmbit"} {
		if _, err := parseTCRate(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// The projection end to end, on given links and compute rate: rows parse
// back, compute falls as 1/P, inter-node bytes appear once ranks span nodes,
// and the plot decodes.
func TestScaleProject(t *testing.T) {
	dir := t.TempDir()
	pp := func(name string, alpha, beta float64) string {
		var b strings.Builder
		for n := 8; n <= 1<<20; n *= 8 {
			b.WriteString(`{"bytes":` + strconv.Itoa(n) + `,"latency_us":` + strconv.FormatFloat((alpha+float64(n)/beta)*1e6, 'g', -1, 64) + "}\n")
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	out, st := hilo(t, "scale", "-project", "-grid", "64x64x64", "-ranks", "1..64", "-ranks-per-node", "8",
		"-methods", "block,hilbert", "-cell-rate", "1e8", "-pingpong-shm", pp("shm.json", 1e-6, 5e9),
		"-pingpong-tcp", pp("tcp.json", 20e-6, 1e9), "-o", dir, "-json")
	if st != 0 {
		t.Fatalf("status %d", st)
	}
	var rows []projRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 14 {
		t.Fatalf("%v, %d rows\n%s", err, len(rows), out)
	}
	for i, r := range rows {
		if want := 64 * 64 * 64 / float64(r.Ranks) / 1e8 * 1e6; math.Abs(r.ComputeUS/want-1) > 0.01 {
			t.Errorf("%s P=%d: compute %g µs, want %g", r.Method, r.Ranks, r.ComputeUS, want)
		}
		if (r.Ranks > 8) != (r.BytesInter > 0) || r.Nodes != (r.Ranks+7)/8 {
			t.Errorf("%s P=%d: %d nodes, %d inter-node bytes", r.Method, r.Ranks, r.Nodes, r.BytesInter)
		}
		if i > 0 && rows[i-1].Method == r.Method && r.StepUS >= rows[i-1].StepUS {
			t.Errorf("%s: step %g µs at P=%d, %g at P=%d", r.Method, r.StepUS, r.Ranks, rows[i-1].StepUS, rows[i-1].Ranks)
		}
	}
	f, err := os.Open(filepath.Join(dir, "projection.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, err := image.Decode(f); err != nil {
		t.Errorf("projection.png: %v", err)
	}
}
