package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hilo-hpc/hilo/decomp"
)

// TestFDTDProcessInvariance: on ranks that are processes (shared memory
// between them), the fields after K steps are bitwise those of one rank, for
// P = 2, 3, 5, 7, 8 and every method. A checkpoint holds every field value in
// global order whatever the decomposition, so the runs' checkpoint files
// must be equal byte for byte. The skew source excites all six components.
func TestFDTDProcessInvariance(t *testing.T) {
	dir := t.TempDir()
	run := func(name string, args ...string) []byte {
		t.Helper()
		path := filepath.Join(dir, name)
		full := append([]string{"fdtd", "-ref", "16", "-steps", "40", "-skew", "-checkpoint", path}, args...)
		if _, st := hilo(t, full...); st != 0 {
			t.Fatalf("hilo %v: status %d", full, st)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	want := run("one", "-ranks", "1")
	for _, method := range decomp.Methods() {
		for _, p := range []int{2, 3, 5, 7, 8} {
			t.Run(fmt.Sprintf("%s/P=%d", method, p), func(t *testing.T) {
				got := run(method+strconv.Itoa(p), "-ranks", strconv.Itoa(p), "-method", method)
				if !bytes.Equal(got, want) {
					t.Errorf("checkpoint after 40 steps differs from one rank's (%d vs %d bytes)", len(got), len(want))
				}
			})
		}
	}
}
