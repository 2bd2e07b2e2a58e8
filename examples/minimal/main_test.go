package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestMinimal runs the example as a user does: 4 processes it spawns itself.
func TestMinimal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and spawns the program")
	}
	bin := t.TempDir() + "/minimal"
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "-n", "4").CombinedOutput()
	if err != nil {
		t.Fatalf("minimal -n 4: %v\n%s", err, out)
	}
	for r := range 4 {
		if !strings.Contains(string(out), "rank "+string(rune('0'+r))+" of 4:") {
			t.Errorf("rank %d did not report:\n%s", r, out)
		}
	}
	if strings.Count(string(out), "halo verified") != 4 {
		t.Errorf("output:\n%s", out)
	}
}
