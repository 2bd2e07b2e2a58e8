package main

import (
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestCavityProcesses runs the program as a user does, as processes it
// spawns itself, on a small cavity, and checks what it prints against the
// physics and the decomposer: the FFT peaks sit on the Yee-discrete modes,
// W is conserved, every method's measured halo bytes equal 4 × cut faces ×
// 8, and the picture is a PNG.
func TestCavityProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and spawns the program")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "cavity")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	pic := filepath.Join(dir, "ez.png")
	cmd := exec.Command(bin, "-n", "3", "-grid", "12x10x8", "-steps", "2048", "-table-grid", "30x24x18", "-table-steps", "5", "-png", pic)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("cavity -n 3: %v", err)
	}
	text := string(out)
	m := regexp.MustCompile(`(\d+) of (\d+) peaks within one bin of the Yee-discrete`).FindStringSubmatch(text)
	if m == nil || m[1] != m[2] || m[2] == "0" {
		t.Errorf("peaks off the discrete modes: %v", m)
	}
	d := regexp.MustCompile(`largest drift over steps \d+\.\.\d+: (\S+) relative`).FindStringSubmatch(text)
	if d == nil {
		t.Fatal("no energy drift line")
	}
	if v, err := strconv.ParseFloat(d[1], 64); err != nil || v > 1e-12 {
		t.Errorf("W drift %s", d[1])
	}
	rows := regexp.MustCompile(`(?m)^\s+(hilbert|sfc|morton|block|slab|rcb)\s+(\d+)\s+(\d+)\s+(\d+)\s+(yes|NO)`).FindAllStringSubmatch(text, -1)
	if len(rows) != 6 {
		t.Fatalf("%d method rows, want 6", len(rows))
	}
	for _, r := range rows {
		cut, _ := strconv.Atoi(r[2])
		if r[3] != strconv.Itoa(32*cut) || r[4] != r[3] || r[5] != "yes" {
			t.Errorf("%s: cut %s, predicted %s, measured %s", r[1], r[2], r[3], r[4])
		}
	}
	if strings.Contains(text, "progress") || strings.Contains(text, "\x01") {
		t.Errorf("progress lines leaked into the output")
	}
	f, err := os.Open(pic)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() < 30 {
		t.Fatalf("picture: %v, %v", err, img)
	}
}
