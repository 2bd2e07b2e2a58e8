package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFDTDCheckpoint: `hilo fdtd -ref 16 -steps 60` prints the same energy
// (and Σ E², Σ H² to 17 digits, so the same bits) as 25 steps on one rank
// checkpointed every 10 steps and at the end, then 35 more restarted from
// the checkpoint on 3 ranks with the block method; a restart from a corrupt
// or mismatched file fails.
func TestFDTDCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "f.ckpt")
	keys := []string{"energy", "sumE2", "sumH2"}
	values := func(args []string, out string) []string {
		t.Helper()
		var v []string
		for _, k := range keys {
			if fieldOf(out, k) == "" {
				t.Fatalf("%v: no %s= in\n%s", args, k, out)
			}
			v = append(v, fieldOf(out, k))
		}
		return v
	}
	runOK := func(args ...string) string {
		t.Helper()
		out, st := hilo(t, args...)
		if st != 0 {
			t.Fatalf("%v: status %d", args, st)
		}
		return out
	}
	whole := []string{"fdtd", "-ref", "16", "-steps", "60"}
	want := values(whole, runOK(whole...))
	first := []string{"fdtd", "-ref", "16", "-steps", "25", "-checkpoint", ck, "-checkpoint-every", "10"}
	out := runOK(first...)
	if fieldOf(out, "checkpoints") != "3" { // at 10, 20 and 25
		t.Errorf("%v: checkpoints=%q, want 3 in\n%s", first, fieldOf(out, "checkpoints"), out)
	}
	second := []string{"fdtd", "-ref", "16", "-restart", ck, "-steps", "35", "-ranks", "3", "-method", "block"}
	out = runOK(second...)
	if got := values(second, out); !slices.Equal(got, want) {
		t.Errorf("restarted: %v, uninterrupted: %v", got, want)
	}
	if fieldOf(out, "restart") != "25" || fieldOf(out, "K") != "35" || fieldOf(out, "ranks") != "3" {
		t.Errorf("%v: restart=%s K=%s ranks=%s, want 25, 35, 3", second, fieldOf(out, "restart"), fieldOf(out, "K"), fieldOf(out, "ranks"))
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "f.ckpt" {
		t.Errorf("checkpoint directory holds %v, want f.ckpt only", ents)
	}

	data, err := os.ReadFile(ck)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	bad := filepath.Join(dir, "bad.ckpt")
	if err := os.WriteFile(bad, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"fdtd", "-ref", "16", "-restart", bad, "-steps", "1", "-ranks", "2"},
		{"fdtd", "-ref", "18", "-restart", ck, "-steps", "1"},
		{"fdtd", "-ref", "16", "-restart", ck, "-steps", "1", "-type", "float32"},
	} {
		if _, st := hilo(t, args...); st == 0 {
			t.Errorf("%v: status 0, want a failure", args)
		}
	}
}

func TestFDTDCheckpointUsage(t *testing.T) {
	for _, args := range [][]string{
		{"fdtd", "-ref", "16", "-checkpoint-every", "5"},
		{"fdtd", "-ref", "16", "-checkpoint", "x", "-checkpoint-every", "-1"},
	} {
		var out, errb strings.Builder
		if st := run(args, &out, &errb); st != exitUsage || !strings.Contains(errb.String(), "-checkpoint") {
			t.Errorf("%v: status %d, want %d (stderr %q)", args, st, exitUsage, errb.String())
		}
	}
}
