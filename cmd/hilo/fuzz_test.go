package main

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func FuzzParseGrid(f *testing.F) {
	for _, s := range []string{"128x128x64", "1x1x1", "0x4x4", "4x4", "4xx4", "-1x2x3", "9999999999999999999x1x1", "4X4x4", " 4x4x4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dims, err := parseGrid(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			return
		}
		for _, d := range dims {
			if d < 1 {
				t.Fatalf("parseGrid(%q) = %v accepted a non-positive dimension", s, dims)
			}
		}
		// What parses names the same grid when written back.
		back, err := parseGrid(fmt.Sprintf("%dx%dx%d", dims[0], dims[1], dims[2]))
		if err != nil || back != dims {
			t.Fatalf("round trip of %q: %v, %v", s, back, err)
		}
	})
}

func FuzzParseHalo(f *testing.F) {
	for _, s := range []string{"1", "0", "2", "1:0,1:0,0:2", "1,2,3", "1:2", "a", "-1", "1:0:1,1,1", ",,", "1048577"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := parseHalo(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			return
		}
		for a := range 3 {
			for side := range 2 {
				if w[a][side] < 0 || w[a][side] > 1<<20 {
					t.Fatalf("parseHalo(%q) = %v out of range", s, w)
				}
			}
		}
		back, err := parseHalo(fmt.Sprintf("%d:%d,%d:%d,%d:%d", w[0][0], w[0][1], w[1][0], w[1][1], w[2][0], w[2][1]))
		if err != nil || back != w {
			t.Fatalf("round trip of %q: %v, %v", s, back, err)
		}
	})
}

func FuzzParseWeights(f *testing.F) {
	f.Add("1 2 3 4", 4)
	f.Add("1\n2\t3  4.5e0\n", 4)
	f.Add("1 2 3", 4)
	f.Add("1 2 3 4 5", 4)
	f.Add("-0 1 NaN 1", 4)
	f.Add("0x10 1e308 1e309 1", 4)
	f.Fuzz(func(t *testing.T, s string, cells int) {
		if cells < 1 || cells > 1<<12 {
			return
		}
		v, err := parseWeights(strings.NewReader(s), cells)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			return
		}
		if len(v) != cells {
			t.Fatalf("%d values for %d cells", len(v), cells)
		}
		for i, x := range v {
			if !(x >= 0) || math.IsInf(x, 0) {
				t.Fatalf("value %d = %g accepted", i, x)
			}
		}
	})
}
