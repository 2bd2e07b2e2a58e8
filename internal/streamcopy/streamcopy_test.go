package streamcopy_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hilo-hpc/hilo/internal/streamcopy"
)

// TestCopy: Copy gives exactly copy's result for every length around the
// threshold and the line size and every alignment of dst and src, and
// writes nothing outside dst.
func TestCopy(t *testing.T) {
	const guard = 0x5a
	src := make([]byte, 4096+64)
	for i := range src {
		src[i] = byte(i*31 + 7)
	}
	buf := make([]byte, 4096+256)
	for _, n := range []int{0, 1, 63, 64, 127, 255, 256, 257, 319, 320, 511, 512, 1000, 1024, 4000} {
		for shift := range 72 {
			for i := range buf {
				buf[i] = guard
			}
			dst := buf[64+shift : 64+shift+n]
			s := src[shift%13 : shift%13+n]
			if got := streamcopy.Copy(dst, s); got != n {
				t.Fatalf("n=%d shift=%d: Copy returned %d", n, shift, got)
			}
			streamcopy.Fence()
			if !bytes.Equal(dst, s) {
				t.Fatalf("n=%d shift=%d: copy differs", n, shift)
			}
			for i, b := range buf {
				if (i < 64+shift || i >= 64+shift+n) && b != guard {
					t.Fatalf("n=%d shift=%d: byte %d outside dst written", n, shift, i)
				}
			}
		}
	}
}

// TestCopyShorter: like copy, Copy stops at the shorter slice.
func TestCopyShorter(t *testing.T) {
	src := bytes.Repeat([]byte{1, 2, 3}, 400)
	dst := make([]byte, 700)
	if n := streamcopy.Copy(dst, src); n != 700 || !bytes.Equal(dst, src[:700]) {
		t.Fatalf("Copy into a shorter dst: n=%d", n)
	}
	dst = make([]byte, 2000)
	if n := streamcopy.Copy(dst, src); n != 1200 || !bytes.Equal(dst[:1200], src) || dst[1200] != 0 {
		t.Fatalf("Copy from a shorter src: n=%d", n)
	}
}

func BenchmarkCopy(b *testing.B) {
	for _, n := range []int{4 << 10, 256 << 10} {
		src := make([]byte, n)
		dst := make([]byte, n)
		b.Run(fmt.Sprintf("%dKiB/streaming", n>>10), func(b *testing.B) {
			b.SetBytes(int64(n))
			for range b.N {
				streamcopy.Copy(dst, src)
			}
			streamcopy.Fence()
		})
		b.Run(fmt.Sprintf("%dKiB/copy", n>>10), func(b *testing.B) {
			b.SetBytes(int64(n))
			for range b.N {
				copy(dst, src)
			}
		})
	}
}
