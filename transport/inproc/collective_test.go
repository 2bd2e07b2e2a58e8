package inproc_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

var collectiveSizes = []int{1, 2, 3, 5, 8, 13}

// TestBarrier: no rank leaves barrier k before every rank has entered it
// (oracle: a shared counter every rank bumps before entering).
func TestBarrier(t *testing.T) {
	for _, n := range collectiveSizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			comms := newComms(t, n)
			var entered atomic.Int64
			runRanks(t, comms, 20*time.Second, func(ctx context.Context, c *transport.Comm) error {
				for round := 1; round <= 20; round++ {
					if c.Rank() == round%n {
						time.Sleep(time.Millisecond) // one late rank per round
					}
					entered.Add(1)
					if err := c.Barrier(ctx); err != nil {
						return err
					}
					if got := entered.Load(); got < int64(round*n) {
						return fmt.Errorf("round %d: left with %d entries, want >= %d", round, got, round*n)
					}
				}
				return nil
			})
		})
	}
}

// TestAllreduce checks AllreduceFloat64 and AllreduceInt64 with each op
// against the reduction computed locally from every rank's input: exactly
// for integers and integer-valued floats, and for random floats within
// rounding, with every rank's result bitwise equal to rank 0's.
func TestAllreduce(t *testing.T) {
	const length = 37
	for _, n := range collectiveSizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			comms := newComms(t, n)
			intsIn := func(r int) []int64 {
				v := make([]int64, length)
				for i := range v {
					v[i] = int64((r+1)*(i+3)*7919%1000) - 500 + int64(r)<<40
				}
				return v
			}
			exactIn := func(r int) []float64 {
				v := make([]float64, length)
				for i, x := range intsIn(r) {
					v[i] = float64(x % 100000)
				}
				return v
			}
			randIn := func(r int) []float64 {
				rng := rand.New(rand.NewPCG(uint64(r), 99))
				v := make([]float64, length)
				for i := range v {
					v[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(12)-6))
				}
				return v
			}
			reduceF := func(op transport.Op, in func(int) []float64) []float64 {
				out := in(0)
				for r := 1; r < n; r++ {
					for i, x := range in(r) {
						switch op {
						case transport.Sum:
							out[i] += x
						case transport.Min:
							out[i] = math.Min(out[i], x)
						case transport.Max:
							out[i] = math.Max(out[i], x)
						}
					}
				}
				return out
			}
			ops := []transport.Op{transport.Sum, transport.Min, transport.Max}
			randResults := make([][][]float64, len(ops)) // [op][rank]
			for i := range randResults {
				randResults[i] = make([][]float64, n)
			}
			runRanks(t, comms, 20*time.Second, func(ctx context.Context, c *transport.Comm) error {
				r := c.Rank()
				for oi, op := range ops {
					out := make([]float64, length)
					if err := c.AllreduceFloat64(ctx, op, exactIn(r), out); err != nil {
						return err
					}
					if want := reduceF(op, exactIn); fmt.Sprint(out) != fmt.Sprint(want) {
						return fmt.Errorf("float64 %v: got %v, want %v", op, out, want)
					}
					// In place, random values.
					v := randIn(r)
					if err := c.AllreduceFloat64(ctx, op, v, v); err != nil {
						return err
					}
					randResults[oi][r] = v
					want := reduceF(op, randIn)
					for i := range v {
						if math.Abs(v[i]-want[i]) > 1e-12*math.Max(1, math.Abs(want[i])) {
							return fmt.Errorf("random float64 %v [%d]: got %g, want %g", op, i, v[i], want[i])
						}
					}
					outI := make([]int64, length)
					if err := c.AllreduceInt64(ctx, op, intsIn(r), outI); err != nil {
						return err
					}
					wantI := intsIn(0)
					for q := 1; q < n; q++ {
						for i, x := range intsIn(q) {
							switch op {
							case transport.Sum:
								wantI[i] += x
							case transport.Min:
								wantI[i] = min(wantI[i], x)
							case transport.Max:
								wantI[i] = max(wantI[i], x)
							}
						}
					}
					if fmt.Sprint(outI) != fmt.Sprint(wantI) {
						return fmt.Errorf("int64 %v: got %v, want %v", op, outI, wantI)
					}
				}
				// Empty vectors are fine too.
				return c.AllreduceFloat64(ctx, transport.Sum, nil, nil)
			})
			for oi, op := range ops {
				for r := 1; r < n; r++ {
					for i := range length {
						if math.Float64bits(randResults[oi][r][i]) != math.Float64bits(randResults[oi][0][i]) {
							t.Fatalf("%v: rank %d [%d] = %v, rank 0 has %v: not bitwise identical", op, r, i, randResults[oi][r][i], randResults[oi][0][i])
						}
					}
				}
			}
		})
	}
}

// TestBcast broadcasts from every root in turn, small and streaming sizes.
func TestBcast(t *testing.T) {
	for _, n := range collectiveSizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			comms := newComms(t, n)
			runRanks(t, comms, 20*time.Second, func(ctx context.Context, c *transport.Comm) error {
				for root := range n {
					for _, size := range []int{0, 5, 200_000} {
						buf := make([]byte, size)
						seed := uint64(root*1000 + size)
						if c.Rank() == root {
							pattern(buf, seed)
						}
						if err := c.Bcast(ctx, root, buf); err != nil {
							return err
						}
						if err := checkPattern(buf, seed); err != nil {
							return fmt.Errorf("root %d size %d: %w", root, size, err)
						}
					}
				}
				return nil
			})
		})
	}
}

// TestAllgather gathers contributions of different lengths (rank r gives
// r*37 % 11 bytes, some empty).
func TestAllgather(t *testing.T) {
	for _, n := range collectiveSizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			comms := newComms(t, n)
			contribution := func(r, round int) []byte {
				p := make([]byte, (r*37+round)%11)
				pattern(p, uint64(r*100+round))
				return p
			}
			runRanks(t, comms, 20*time.Second, func(ctx context.Context, c *transport.Comm) error {
				for round := range 3 {
					got, err := c.Allgather(ctx, contribution(c.Rank(), round))
					if err != nil {
						return err
					}
					if len(got) != n {
						return fmt.Errorf("%d contributions", len(got))
					}
					for r := range n {
						if want := contribution(r, round); string(got[r]) != string(want) {
							return fmt.Errorf("round %d rank %d: got %x, want %x", round, r, got[r], want)
						}
					}
				}
				return nil
			})
		})
	}
}

// TestRingAndAllreduce16: 16 goroutine ranks do 1000 rounds of a ring
// exchange (content checked) and an AllreduceFloat64 (against the known
// sum) each.
func TestRingAndAllreduce16(t *testing.T) {
	const n, rounds = 16, 1000
	comms := newComms(t, n)
	start := time.Now()
	runRanks(t, comms, 50*time.Second, func(ctx context.Context, c *transport.Comm) error {
		r := c.Rank()
		right, left := (r+1)%n, (r+n-1)%n
		out, in := make([]byte, 256), make([]byte, 256)
		sum := make([]float64, 2)
		for round := range rounds {
			pattern(out, uint64(r*rounds+round))
			rr := c.Irecv(left, 1, in)
			if err := c.Send(ctx, right, 1, out); err != nil {
				return err
			}
			if _, err := rr.Wait(ctx); err != nil {
				return err
			}
			if err := checkPattern(in, uint64(left*rounds+round)); err != nil {
				return fmt.Errorf("round %d: %w", round, err)
			}
			if err := c.AllreduceFloat64(ctx, transport.Sum, []float64{float64(r), float64(round)}, sum); err != nil {
				return err
			}
			if sum[0] != n*(n-1)/2 || sum[1] != float64(n*round) {
				return fmt.Errorf("round %d: sum %v", round, sum)
			}
		}
		return nil
	})
	t.Logf("16 ranks, %d rounds: %v", rounds, time.Since(start))
}
