package hilbert

import (
	"testing"
	"time"
)

// benchPoints is a fixed set of scattered 21-bit points, so the benchmarks
// measure the key arithmetic and not a predictable pattern.
func benchPoints() (xs, ys, zs [1024]uint32, keys [1024]uint64) {
	s := uint64(0x9e3779b97f4a7c15)
	for i := range xs {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		xs[i], ys[i], zs[i] = uint32(s)&mask21, uint32(s>>21)&mask21, uint32(s>>42)&mask21
		keys[i] = s >> 1
	}
	return
}

var sink uint64

// reportCPU adds the CPU time per operation since cpu0: on a shared machine
// wall time per op also counts time spent waiting for a core.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

func BenchmarkEncode3(b *testing.B) {
	xs, ys, zs, _ := benchPoints()
	var acc uint64
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for i := 0; b.Loop(); i++ {
		j := i & 1023
		acc += Encode3(xs[j], ys[j], zs[j], 21)
	}
	sink = acc
}

func BenchmarkDecode3(b *testing.B) {
	_, _, _, keys := benchPoints()
	var acc uint32
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for i := 0; b.Loop(); i++ {
		x, y, z := Decode3(keys[i&1023], 21)
		acc += x ^ y ^ z
	}
	sink = uint64(acc)
}

// BenchmarkEncode3Skilling is the plain loop (Encode with three axes), for
// comparison with the table-driven Encode3.
func BenchmarkEncode3Skilling(b *testing.B) {
	xs, ys, zs, _ := benchPoints()
	var acc uint64
	var c [3]uint32
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for i := 0; b.Loop(); i++ {
		j := i & 1023
		c = [3]uint32{xs[j], ys[j], zs[j]}
		acc += Encode(c[:], 21)
	}
	sink = acc
}

func BenchmarkDecode3Skilling(b *testing.B) {
	_, _, _, keys := benchPoints()
	var acc uint32
	var c [3]uint32
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for i := 0; b.Loop(); i++ {
		Decode(keys[i&1023], 21, c[:])
		acc += c[0] ^ c[1] ^ c[2]
	}
	sink = uint64(acc)
}

func BenchmarkMorton3(b *testing.B) {
	xs, ys, zs, _ := benchPoints()
	var acc uint64
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for i := 0; b.Loop(); i++ {
		j := i & 1023
		acc += Morton3(xs[j], ys[j], zs[j])
	}
	sink = acc
}

func BenchmarkMortonDecode3(b *testing.B) {
	_, _, _, keys := benchPoints()
	var acc uint32
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for i := 0; b.Loop(); i++ {
		x, y, z := MortonDecode3(keys[i&1023])
		acc += x ^ y ^ z
	}
	sink = uint64(acc)
}
