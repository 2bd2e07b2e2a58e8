package hilbert

import (
	"math/rand/v2"
	"testing"
)

func FuzzRoundTrip3(f *testing.F) {
	f.Add(uint32(1), uint32(2), uint32(3), uint8(5))
	f.Add(uint32(7), uint32(7), uint32(7), uint8(5))
	f.Add(uint32(0), uint32(0), uint32(0), uint8(1))
	f.Add(uint32(mask21), uint32(0), uint32(mask21), uint8(21))
	f.Add(uint32(0xffffffff), uint32(0x12345678), uint32(0x9abcdef0), uint8(200))
	f.Fuzz(func(t *testing.T, x, y, z uint32, b uint8) {
		bits := 1 + uint(b)%MaxBits3
		m := uint32(1)<<bits - 1
		k := Encode3(x, y, z, bits)
		if k >= 1<<(3*bits) {
			t.Fatalf("Encode3(%d,%d,%d,%d) = %d, beyond 3*bits", x, y, z, bits, k)
		}
		if want := Encode([]uint32{x, y, z}, bits); k != want {
			t.Fatalf("Encode3(%d,%d,%d,%d) = %d, Skilling's loop %d", x, y, z, bits, k, want)
		}
		if dx, dy, dz := Decode3(k, bits); dx != x&m || dy != y&m || dz != z&m {
			t.Fatalf("Decode3(Encode3(%d,%d,%d,%d)) = (%d,%d,%d)", x, y, z, bits, dx, dy, dz)
		}
	})
}

func FuzzRoundTripN(f *testing.F) {
	f.Add(uint8(2), uint8(32), uint64(1))
	f.Add(uint8(4), uint8(3), uint64(2))
	f.Add(uint8(5), uint8(12), uint64(3))
	f.Add(uint8(64), uint8(1), uint64(4))
	f.Add(uint8(7), uint8(9), uint64(5))
	f.Fuzz(func(t *testing.T, dims, b uint8, seed uint64) {
		n := 1 + int(dims)%MaxDims
		maxBits := min(32, 64/n)
		bits := 1 + uint(b)%uint(maxBits)
		r := rand.New(rand.NewPCG(seed, uint64(n)<<8|uint64(bits)))
		var in, out [MaxDims]uint32
		m := uint32(1)<<bits - 1
		for i := range n {
			in[i] = r.Uint32()
		}
		k := Encode(in[:n], bits)
		Decode(k, bits, out[:n])
		for i := range n {
			if out[i] != in[i]&m {
				t.Fatalf("n=%d bits=%d: Decode(Encode(%v)) = %v", n, bits, in[:n], out[:n])
			}
		}
		// And the other way: any key of n*bits bits.
		key := r.Uint64() >> (64 - uint(n)*bits)
		Decode(key, bits, out[:n])
		if got := Encode(out[:n], bits); got != key {
			t.Fatalf("n=%d bits=%d: Encode(Decode(%#x)) = %#x", n, bits, key, got)
		}
	})
}
