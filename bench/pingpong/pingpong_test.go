package pingpong

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport/inproc"
)

func TestRunOverInproc(t *testing.T) {
	comms, err := inproc.New(2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var rows []Row
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for r, c := range comms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := Run(ctx, c, Options{Sizes: []int{8, 1024, 1 << 20}, Rounds: 3})
			errs[r] = err
			if r == 0 {
				rows = got
			}
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	if len(rows) != 3 {
		t.Fatalf("got %d rows, want 3", len(rows))
	}
	for _, row := range rows {
		if row.LatencyUS <= 0 || row.BandwidthMBs <= 0 {
			t.Errorf("row %+v has a non-positive figure", row)
		}
	}
	// A 1 MiB message cannot cross faster than one memory copy's worth of
	// the machine's bandwidth allows, nor slower than a second.
	if l := rows[2].LatencyUS; l < 1 || l > 1e6 {
		t.Errorf("1 MiB one-way latency %.1f µs is implausible", l)
	}
}

func TestSizes(t *testing.T) {
	got := DefaultSizes()
	want := []int{8, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304}
	if len(got) != len(want) {
		t.Fatalf("sizes %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sizes %v, want %v", got, want)
		}
	}
}
