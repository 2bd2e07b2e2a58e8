package hilbert

import (
	"math/rand/v2"
	"testing"
)

// naiveMorton interleaves bit by bit: the oracle for the magic masks.
func naiveMorton(x, y, z uint32) uint64 {
	var k uint64
	for b := 20; b >= 0; b-- {
		k = k<<3 | uint64(x>>b&1)<<2 | uint64(y>>b&1)<<1 | uint64(z>>b&1)
	}
	return k
}

func TestMortonKnownValues(t *testing.T) {
	for _, tc := range []struct {
		x, y, z uint32
		key     uint64
	}{
		{0, 0, 0, 0},
		{1, 0, 0, 4},
		{0, 1, 0, 2},
		{0, 0, 1, 1},
		{1, 2, 3, 29}, // x bit 0 -> 2, y bit 1 -> 4, z bits 0,1 -> 0,3
		{mask21, mask21, mask21, 1<<63 - 1},
		{mask21, 0, 0, 0x4924924924924924},
	} {
		if got := naiveMorton(tc.x, tc.y, tc.z); got != tc.key {
			t.Fatalf("oracle disagrees with the table: naive(%d,%d,%d) = %#x, want %#x", tc.x, tc.y, tc.z, got, tc.key)
		}
		if got := Morton3(tc.x, tc.y, tc.z); got != tc.key {
			t.Errorf("Morton3(%d,%d,%d) = %#x, want %#x", tc.x, tc.y, tc.z, got, tc.key)
		}
	}
}

func TestMortonRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 100000 {
		x, y, z := r.Uint32(), r.Uint32(), r.Uint32()
		k := Morton3(x, y, z)
		if want := naiveMorton(x, y, z); k != want {
			t.Fatalf("Morton3(%d,%d,%d) = %#x, naive %#x", x, y, z, k, want)
		}
		if dx, dy, dz := MortonDecode3(k); dx != x&mask21 || dy != y&mask21 || dz != z&mask21 {
			t.Fatalf("MortonDecode3(Morton3(%d,%d,%d)) = (%d,%d,%d)", x, y, z, dx, dy, dz)
		}
		k = r.Uint64() >> 1
		if got := Morton3(MortonDecode3(k)); got != k {
			t.Fatalf("Morton3(MortonDecode3(%#x)) = %#x", k, got)
		}
	}
	// The 1-bit order, x highest: 000, 001, 010, ..., 111.
	for k := range uint64(8) {
		x, y, z := MortonDecode3(k)
		if uint64(x<<2|y<<1|z) != k {
			t.Errorf("MortonDecode3(%d) = (%d,%d,%d)", k, x, y, z)
		}
	}
}
