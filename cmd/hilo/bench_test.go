package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hilo-hpc/hilo/bench/pingpong"
	"github.com/hilo-hpc/hilo/decomp"
)

var hiloBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hilo-bin-*")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hilo")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", &exec.ExitError{Stderr: out}
	}
	return bin, nil
})

// hilo runs the built command (the benchmarks spawn it as their ranks, so a
// test binary cannot stand in for it).
func hilo(t *testing.T, args ...string) (stdout string, status int) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and spawns the hilo binary")
	}
	bin, err := hiloBinary()
	if err != nil {
		t.Fatalf("building hilo: %v", err)
	}
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	status = cmd.ProcessState.ExitCode()
	if err != nil && status == 0 {
		t.Fatal(err)
	}
	if status != 0 {
		t.Logf("hilo %s: status %d, stderr:\n%s", strings.Join(args, " "), status, errb.String())
	}
	return out.String(), status
}

func TestBenchPingpong(t *testing.T) {
	for _, tr := range []string{"shm", "tcp"} {
		out, st := hilo(t, "bench", "pingpong", "-transport", tr, "-sizes", "8:1024", "-rounds", "2", "-json")
		if st != 0 {
			t.Fatalf("%s: status %d", tr, st)
		}
		var sizes []int
		dec := json.NewDecoder(strings.NewReader(out))
		for dec.More() {
			var r pingpong.Row
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("%s: %v in %q", tr, err, out)
			}
			if r.LatencyUS <= 0 || r.BandwidthMBs <= 0 {
				t.Errorf("%s: row %+v", tr, r)
			}
			sizes = append(sizes, r.Bytes)
		}
		if want := []int{8, 16, 64, 256, 1024}; len(sizes) != len(want) {
			t.Errorf("%s: sizes %v, want %v", tr, sizes, want)
		}
	}
}

func TestBenchHaloBytesMatchDecomposition(t *testing.T) {
	out, st := hilo(t, "bench", "halo", "-grid", "24x20x16", "-ranks", "3", "-fields", "2",
		"-periodic", "x", "-rounds", "5", "-json")
	if st != 0 {
		t.Fatalf("status %d", st)
	}
	var res haloResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	g := decomp.Grid{Dims: [3]int{24, 20, 16}, Periodic: [3]bool{true, false, false}}
	d, err := decomp.Decompose(g, 3, decomp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.Metrics(decomp.UniformHalo(1, decomp.Faces), 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	// Every message carries the halo plan's 8-byte header (hash, sequence).
	var want int64
	for r, b := range m.HaloBytes {
		want += b + 8*int64(m.Neighbours[r])
	}
	if res.TotalBytes != want || res.Ranks != 3 || res.US <= 0 {
		t.Errorf("result %+v: total bytes %d, decomposition predicts %d", res, res.TotalBytes, want)
	}
}

func TestBenchBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"bench"}, {"bench", "nope"},
		{"bench", "pingpong", "-transport", "udp"}, {"bench", "pingpong", "-sizes", "9"},
		{"bench", "halo", "-grid", "0x4x4"}, {"bench", "halo", "-stencil", "7"},
		{"bench", "halo", "-ranks", "0"}, {"bench", "halo", "-type", "int"},
	} {
		var out, errb bytes.Buffer
		if st := run(args, &out, &errb); st != exitUsage {
			t.Errorf("%v: status %d, want %d (stderr %q)", args, st, exitUsage, errb.String())
		}
	}
}
