package main

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// referenceEnergy reads the energy of variant at N, K from
// bench/fdtd/reference.txt (made by the C kernel yee.c).
func referenceEnergy(t *testing.T, variant string, n, k int) float64 {
	t.Helper()
	f, err := os.Open("../../bench/fdtd/reference.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) >= 4 && w[0] == variant && w[1] == strconv.Itoa(n) && w[2] == strconv.Itoa(k) {
			e, err := strconv.ParseFloat(w[3], 64)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
	}
	t.Fatalf("reference.txt has no %s N=%d K=%d", variant, n, k)
	return 0
}

// fieldOf is the value of key=value in out ("" if absent).
func fieldOf(out, key string) string {
	for _, w := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(w, key+"="); ok {
			return v
		}
	}
	return ""
}

func TestFDTDReference(t *testing.T) {
	for _, c := range []struct {
		variant string
		args    []string
	}{
		{"ref", []string{"-ranks", "1"}},
		{"ref", []string{"-ranks", "3"}},
		{"skew", []string{"-ranks", "3", "-skew", "-method", "block", "-transport", "tcp"}},
		{"skew", []string{"-ranks", "2", "-skew", "-type", "float32"}},
	} {
		want := referenceEnergy(t, c.variant, 32, 100)
		args := append([]string{"fdtd", "-ref", "32", "-steps", "100"}, c.args...)
		out, st := hilo(t, args...)
		if st != 0 {
			t.Fatalf("%v: status %d", args, st)
		}
		// The line compare.sh reads: energy= and mcells= together.
		var line string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "mcells=") {
				line = l
			}
		}
		got, err := strconv.ParseFloat(fieldOf(line, "energy"), 64)
		if err != nil {
			t.Fatalf("%v: no energy= on the mcells= line of\n%s", args, out)
		}
		tol := 1e-12
		if strings.Contains(strings.Join(c.args, " "), "float32") {
			tol = 1e-5 // float32 fields: measured 8.5e-8 at this size
		}
		if math.Abs(got-want) > tol*want {
			t.Errorf("%v: energy=%.15g, reference %.15g", args, got, want)
		}
		if m, err := strconv.ParseFloat(fieldOf(line, "mcells"), 64); err != nil || !(m > 0) {
			t.Errorf("%v: mcells=%q", args, fieldOf(line, "mcells"))
		}
		if p := fieldOf(out, "ranks"); p != c.args[1] {
			t.Errorf("%v: ran on ranks=%s", args, p)
		}
	}
}

func TestFDTDUsage(t *testing.T) {
	for _, args := range [][]string{
		{"fdtd"}, {"fdtd", "-ref", "31"}, {"fdtd", "-ref", "32", "-transport", "udp"},
		{"fdtd", "-ref", "32", "-method", "nope"}, {"fdtd", "-ref", "32", "-ranks", "0"}, {"fdtd", "-ref", "32", "-type", "int"},
	} {
		var out, errb strings.Builder
		if st := run(args, &out, &errb); st != exitUsage {
			t.Errorf("%v: status %d, want %d (stderr %q)", args, st, exitUsage, errb.String())
		}
	}
	var out, errb strings.Builder
	if st := run([]string{"fdtd", "-h"}, &out, &errb); st != exitOK || !strings.Contains(errb.String(), "-ref") {
		t.Errorf("fdtd -h: status %d, help %q", st, errb.String())
	}
}
