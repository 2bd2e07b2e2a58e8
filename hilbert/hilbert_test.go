package hilbert

import (
	"math/rand/v2"
	"testing"
)

// skilling3 is the plain Skilling loop for three axes, the oracle for the
// table-driven Encode3.
func skilling3(x, y, z uint32, bits uint) uint64 {
	return Encode([]uint32{x, y, z}, bits)
}

func TestKnownVectors(t *testing.T) {
	tests := []struct {
		x, y, z uint32
		bits    uint
		key     uint64
	}{
		{1, 2, 3, 5, 22},
		{7, 7, 7, 5, 365},
		{0, 0, 0, 5, 0},
	}
	for _, tc := range tests {
		if got := Encode3(tc.x, tc.y, tc.z, tc.bits); got != tc.key {
			t.Errorf("Encode3(%d,%d,%d,%d) = %d, want %d", tc.x, tc.y, tc.z, tc.bits, got, tc.key)
		}
		if got := skilling3(tc.x, tc.y, tc.z, tc.bits); got != tc.key {
			t.Errorf("Encode({%d,%d,%d},%d) = %d, want %d", tc.x, tc.y, tc.z, tc.bits, got, tc.key)
		}
		x, y, z := Decode3(tc.key, tc.bits)
		if x != tc.x || y != tc.y || z != tc.z {
			t.Errorf("Decode3(%d,%d) = (%d,%d,%d), want (%d,%d,%d)", tc.key, tc.bits, x, y, z, tc.x, tc.y, tc.z)
		}
	}
}

// TestOneBitOrder pins the axis convention: x is the high bit of each digit.
func TestOneBitOrder(t *testing.T) {
	want := []string{"000", "001", "011", "010", "110", "111", "101", "100"}
	for key, w := range want {
		x, y, z := Decode3(uint64(key), 1)
		got := string(rune('0'+x)) + string(rune('0'+y)) + string(rune('0'+z))
		if got != w {
			t.Errorf("Decode3(%d, 1) = %s, want %s", key, got, w)
		}
	}
}

// TestEncode3Exhaustive checks, on every cell of the cubes of side 2..64, that
// the table-driven Encode3 gives Skilling's key, that the keys are a bijection
// onto 0..8^bits-1, that Decode3 and Decode invert them, and that consecutive
// keys are face neighbours.
func TestEncode3Exhaustive(t *testing.T) {
	for bits := uint(1); bits <= 6; bits++ {
		side := uint32(1) << bits
		n := uint64(side) * uint64(side) * uint64(side)
		seen := make([]bool, n)
		for x := range side {
			for y := range side {
				for z := range side {
					k := Encode3(x, y, z, bits)
					if want := skilling3(x, y, z, bits); k != want {
						t.Fatalf("bits %d: Encode3(%d,%d,%d) = %d, Skilling gives %d", bits, x, y, z, k, want)
					}
					if k >= n || seen[k] {
						t.Fatalf("bits %d: key %d of (%d,%d,%d) out of range or repeated", bits, k, x, y, z)
					}
					seen[k] = true
				}
			}
		}
		var c [3]uint32
		px, py, pz := Decode3(0, bits)
		if px != 0 || py != 0 || pz != 0 {
			t.Fatalf("bits %d: curve starts at (%d,%d,%d), want the origin", bits, px, py, pz)
		}
		for k := range n {
			x, y, z := Decode3(k, bits)
			if got := Encode3(x, y, z, bits); got != k {
				t.Fatalf("bits %d: Encode3(Decode3(%d)) = %d", bits, k, got)
			}
			Decode(k, bits, c[:])
			if c != [3]uint32{x, y, z} {
				t.Fatalf("bits %d: Decode(%d) = %v, Decode3 gives (%d,%d,%d)", bits, k, c, x, y, z)
			}
			if k > 0 && dist1(x, px)+dist1(y, py)+dist1(z, pz) != 1 {
				t.Fatalf("bits %d: keys %d,%d are (%d,%d,%d),(%d,%d,%d): not face neighbours", bits, k-1, k, px, py, pz, x, y, z)
			}
			px, py, pz = x, y, z
		}
	}
}

func dist1(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestEncode3Random21 compares the tables with Skilling at full depth and
// at every depth, on random points.
func TestEncode3Random21(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		bits := uint(21)
		if i%2 == 1 {
			bits = 1 + uint(r.IntN(21))
		}
		x, y, z := r.Uint32(), r.Uint32(), r.Uint32()
		k := Encode3(x, y, z, bits)
		if want := skilling3(x, y, z, bits); k != want {
			t.Fatalf("bits %d: Encode3(%d,%d,%d) = %d, Skilling gives %d", bits, x, y, z, k, want)
		}
		m := uint32(1)<<bits - 1
		if dx, dy, dz := Decode3(k, bits); dx != x&m || dy != y&m || dz != z&m {
			t.Fatalf("bits %d: Decode3(%d) = (%d,%d,%d), want (%d,%d,%d)", bits, k, dx, dy, dz, x&m, y&m, z&m)
		}
		// Key bits above 3*bits are ignored, by both decoders.
		junk := k | r.Uint64()<<(3*bits)
		if dx, dy, dz := Decode3(junk, bits); dx != x&m || dy != y&m || dz != z&m {
			t.Fatalf("bits %d: Decode3(%#x) with high junk = (%d,%d,%d), want (%d,%d,%d)", bits, junk, dx, dy, dz, x&m, y&m, z&m)
		}
		var c [3]uint32
		Decode(junk, bits, c[:])
		if c != [3]uint32{x & m, y & m, z & m} {
			t.Fatalf("bits %d: Decode(%#x) with high junk = %v, want (%d,%d,%d)", bits, junk, c, x&m, y&m, z&m)
		}
	}
}

// TestHilbertNDRoundTrip checks Encode/Decode in 2, 4 and 5 dimensions:
// bijection, round trip and unit steps on every cell of small cubes.
func TestHilbertNDRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		n    int
		bits uint
	}{{1, 5}, {2, 1}, {2, 3}, {2, 6}, {4, 1}, {4, 2}, {4, 3}, {5, 1}, {5, 2}, {5, 3}} {
		total := uint64(1) << (uint(tc.n) * tc.bits)
		seen := make([]bool, total)
		c := make([]uint32, tc.n)
		prev := make([]uint32, tc.n)
		for k := range total {
			Decode(k, tc.bits, c)
			var d uint32
			for i := range c {
				if c[i] >= 1<<tc.bits {
					t.Fatalf("n=%d bits=%d: Decode(%d) = %v out of range", tc.n, tc.bits, k, c)
				}
				d += dist1(c[i], prev[i])
			}
			if k == 0 && d != 0 {
				t.Fatalf("n=%d bits=%d: curve starts at %v", tc.n, tc.bits, c)
			}
			if k > 0 && d != 1 {
				t.Fatalf("n=%d bits=%d: keys %d,%d at %v,%v not face neighbours", tc.n, tc.bits, k-1, k, prev, c)
			}
			// Row-major index as a bijection check independent of Encode.
			var idx uint64
			for _, v := range c {
				idx = idx<<tc.bits | uint64(v)
			}
			if seen[idx] {
				t.Fatalf("n=%d bits=%d: cell %v visited twice", tc.n, tc.bits, c)
			}
			seen[idx] = true
			if got := Encode(c, tc.bits); got != k {
				t.Fatalf("n=%d bits=%d: Encode(Decode(%d)) = %d", tc.n, tc.bits, k, got)
			}
			copy(prev, c)
		}
	}
	// Full-width keys: n*bits == 64.
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		n    int
		bits uint
	}{{2, 32}, {4, 16}, {8, 8}, {64, 1}, {3, 21}, {5, 12}} {
		c := make([]uint32, tc.n)
		for range 2000 {
			k := r.Uint64() >> (64 - uint(tc.n)*tc.bits)
			Decode(k, tc.bits, c)
			if got := Encode(c, tc.bits); got != k {
				t.Fatalf("n=%d bits=%d: Encode(Decode(%#x)) = %#x", tc.n, tc.bits, k, got)
			}
		}
	}
}

func TestEncodePanicsOnBadDepth(t *testing.T) {
	for _, f := range []func(){
		func() { Encode3(0, 0, 0, 0) },
		func() { Encode3(0, 0, 0, 22) },
		func() { Decode3(0, 22) },
		func() { Encode(make([]uint32, 3), 22) },
		func() { Encode(nil, 1) },
		func() { Decode(0, 33, make([]uint32, 1)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic on an impossible bit depth")
				}
			}()
			f()
		}()
	}
}

func TestEncodeAllocs(t *testing.T) {
	c := []uint32{1, 2, 3, 4}
	n := testing.AllocsPerRun(100, func() {
		k := Encode(c, 16)
		Decode(k, 16, c)
		k = Encode3(c[0], c[1], c[2], 21)
		Decode3(k, 21)
	})
	if n != 0 {
		t.Errorf("Encode/Decode allocate %v times per call", n)
	}
}
