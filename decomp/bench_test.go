package decomp

import (
	"runtime"
	"testing"
)

// The speed targets of issue #2, item 5:
//
//	go test -run NONE -bench Decompose1024 -benchtime 3x -benchmem ./decomp
func benchmarkDecompose(b *testing.B, n, ranks int) {
	g := Grid{Dims: [3]int{n, n, n}}
	var peak uint64
	for b.Loop() {
		d, err := Decompose(g, ranks, Options{})
		if err != nil {
			b.Fatal(err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapSys)
		_ = d
	}
	b.ReportMetric(float64(peak)/(1<<20), "MiB-heap-sys")
}

func BenchmarkDecompose1024x4096(b *testing.B)  { benchmarkDecompose(b, 1024, 4096) }
func BenchmarkDecompose1024x32768(b *testing.B) { benchmarkDecompose(b, 1024, 32768) }
func BenchmarkDecompose256x1000(b *testing.B)   { benchmarkDecompose(b, 256, 1000) }

func BenchmarkOwner(b *testing.B) {
	d, err := Decompose(Grid{Dims: [3]int{256, 256, 256}}, 1000, Options{})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i = (i + 7919) & (1<<24 - 1)
		d.Owner([3]int{i & 255, i >> 8 & 255, i >> 16})
	}
}
