package fdtd

import (
	"context"
	"fmt"
	"testing"

	"github.com/hilo-hpc/hilo/transport"
)

// BenchmarkStep times steps of the reference problem on one rank and
// reports Mcells/s (one cell-update = the six components of one cell).
func BenchmarkStep(b *testing.B) {
	for _, n := range []int{64, 128} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			err := runRanks(b, 1, func(ctx context.Context, c *transport.Comm) error {
				dims := [3]int{n, n, n}
				s, err := New[float64](ctx, c, Options{Dims: dims, Sources: RefSources(dims)})
				if err != nil {
					return err
				}
				defer s.Close()
				if err := s.Run(ctx, 2); err != nil {
					return err
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if err := s.Step(ctx); err != nil {
						return err
					}
				}
				b.ReportMetric(float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mcells/s")
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
