package halo_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// BenchmarkExchange: 2 ranks, 6 float64 fields, halo 1, 6 faces. Bytes per
// op are the message bytes both ranks send in one exchange (local copies
// across periodic axes not counted).
func BenchmarkExchange(b *testing.B) {
	for _, medium := range []string{"inproc", "shm"} {
		for _, n := range []int{64, 128} {
			for _, periodic := range []bool{false, true} {
				for _, cut := range []string{"block", "x"} {
					name := fmt.Sprintf("%s/%d^3/periodic=%v/cut=%s", medium, n, periodic, cut)
					b.Run(name, func(b *testing.B) {
						g := decomp.Grid{Dims: [3]int{n, n, n}, Periodic: [3]bool{periodic, periodic, periodic}}
						var d *decomp.Decomposition
						var err error
						if cut == "block" {
							d, err = decomp.Decompose(g, 2, decomp.Options{Method: decomp.MethodBlock})
						} else {
							d, err = decomp.New(g, [][]decomp.Box{
								{{Lo: [3]int{0, 0, 0}, Hi: [3]int{n / 2, n, n}}},
								{{Lo: [3]int{n / 2, 0, 0}, Hi: [3]int{n, n, n}}},
							}, 0)
						}
						if err != nil {
							b.Fatal(err)
						}
						benchExchange(b, medium, d, 6)
					})
				}
			}
		}
	}
}

func benchComms(b *testing.B, medium string, n int) []*transport.Comm {
	switch medium {
	case "inproc":
		comms, err := inproc.New(n)
		if err != nil {
			b.Fatal(err)
		}
		return comms
	case "shm":
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		comms, err := shmComms(ctx, n, fmt.Sprintf("halo-bench-%d", time.Now().UnixNano()))
		if err != nil {
			b.Skip("shm:", err)
		}
		return comms
	}
	b.Fatal("unknown medium", medium)
	return nil
}

func benchExchange(b *testing.B, medium string, d *decomp.Decomposition, nfields int) {
	comms := benchComms(b, medium, d.Ranks())
	defer func() {
		for _, c := range comms {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	plans := make([]*halo.Plan, len(comms))
	var wg sync.WaitGroup
	errs := make([]error, len(comms))
	for r, c := range comms {
		wg.Go(func() {
			var fields []halo.AnyField
			for range nfields {
				f, err := halo.NewField[float64](d, r, decomp.UniformHalo(1, decomp.Faces), halo.Pad(8))
				if err != nil {
					errs[r] = err
					return
				}
				fields = append(fields, f)
			}
			plans[r], errs[r] = halo.NewPlan(ctx, c, halo.PlanOptions{}, fields...)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	var bytes int
	for _, p := range plans {
		bytes += p.Stats().SendBytes
	}
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	b.ResetTimer()
	for r := range plans {
		wg.Go(func() {
			for range b.N {
				if err := plans[r].Exchange(ctx); err != nil {
					errs[r] = err
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	s := plans[0].Stats()
	if s.Exchanges > 0 {
		per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(s.Exchanges) }
		b.ReportMetric(per(s.Pack), "pack-ns/op")
		b.ReportMetric(per(s.Unpack), "unpack-ns/op")
		b.ReportMetric(per(s.Wait), "wait-ns/op")
		b.ReportMetric(per(s.Local), "local-ns/op")
	}
	for _, p := range plans {
		p.Close()
	}
}
