// Package pingpong measures point-to-point latency and bandwidth between
// ranks 0 and 1 of a transport.Comm the way the OSU micro-benchmarks (and
// bench/mpi/pingpong.c, its MPI twin) do: one-way latency is half a round
// trip, bandwidth is a window of messages in flight followed by an
// acknowledgement; each figure is the median of several rounds after a
// warm-up round.
package pingpong

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hilo-hpc/hilo/transport"
)

// Row is one message size's result, in the JSON form the MPI twin prints.
type Row struct {
	Bytes        int     `json:"bytes"`
	LatencyUS    float64 `json:"latency_us"`
	BandwidthMBs float64 `json:"bandwidth_mbs"`
}

// Options tune a run. Zero values take the defaults.
type Options struct {
	Sizes  []int // message sizes; default DefaultSizes()
	Rounds int   // measured rounds per size (median taken); default 11
	Window int   // messages in flight for bandwidth; default 64
}

// DefaultSizes is 8 B, then 16 B to 4 MiB in powers of 4.
func DefaultSizes() []int { return SizesBetween(8, 4<<20) }

// SizesBetween is lo, then 16 B up to hi in powers of 4 (as the OSU tables).
func SizesBetween(lo, hi int) []int {
	s := []int{lo}
	for n := 16; n <= hi; n *= 4 {
		if n > lo {
			s = append(s, n)
		}
	}
	return s
}

const (
	tagPing = 1
	tagBW   = 2
	tagAck  = 3
)

// Run measures between ranks 0 and 1 of comm (other ranks return at once)
// and returns the rows on rank 0 (nil elsewhere).
func Run(ctx context.Context, comm *transport.Comm, opt Options) ([]Row, error) {
	if comm.Size() < 2 {
		return nil, fmt.Errorf("pingpong: need 2 ranks, have %d", comm.Size())
	}
	rank := comm.Rank()
	if rank > 1 {
		return nil, nil
	}
	if opt.Sizes == nil {
		opt.Sizes = DefaultSizes()
	}
	opt.Rounds = cmpOr(opt.Rounds, 11)
	opt.Window = cmpOr(opt.Window, 64)
	peer := 1 - rank
	maxSize := slices.Max(opt.Sizes)
	slots := max(1, min(opt.Window, (256<<20)/maxSize))
	buf := make([]byte, maxSize*slots)
	for i := range buf {
		buf[i] = byte(i)
	}
	reqs := make([]*transport.Request, opt.Window)
	var rows []Row
	for _, size := range opt.Sizes {
		iters := 1000
		windows := 20
		switch {
		case size > 1<<20:
			iters, windows = 20, 2
		case size > 64<<10:
			iters, windows = 20, 4
		case size > 4<<10:
			iters = 200
		}
		lat := make([]float64, 0, opt.Rounds)
		bw := make([]float64, 0, opt.Rounds)
		msg := buf[:size]
		for r := -1; r < opt.Rounds; r++ { // round -1 warms up
			if err := comm.Barrier(ctx); err != nil {
				return nil, err
			}
			t0 := time.Now()
			for range iters {
				if rank == 0 {
					if err := comm.Send(ctx, peer, tagPing, msg); err != nil {
						return nil, err
					}
					if _, err := comm.Recv(ctx, peer, tagPing, msg); err != nil {
						return nil, err
					}
				} else {
					if _, err := comm.Recv(ctx, peer, tagPing, msg); err != nil {
						return nil, err
					}
					if err := comm.Send(ctx, peer, tagPing, msg); err != nil {
						return nil, err
					}
				}
			}
			oneWay := time.Since(t0).Seconds() / float64(iters) / 2
			if err := comm.Barrier(ctx); err != nil {
				return nil, err
			}
			n := max(1, min(opt.Window, len(buf)/size))
			t0 = time.Now()
			for range windows {
				for k := range opt.Window {
					p := buf[(k%n)*size : (k%n+1)*size]
					if rank == 0 {
						reqs[k] = comm.Isend(peer, tagBW, p)
					} else {
						reqs[k] = comm.Irecv(peer, tagBW, p)
					}
				}
				if err := comm.WaitAll(ctx, reqs...); err != nil {
					return nil, err
				}
				ack := buf[:1]
				if rank == 0 {
					if _, err := comm.Recv(ctx, peer, tagAck, ack); err != nil {
						return nil, err
					}
				} else if err := comm.Send(ctx, peer, tagAck, ack); err != nil {
					return nil, err
				}
			}
			secs := time.Since(t0).Seconds()
			if r >= 0 {
				lat = append(lat, oneWay*1e6)
				bw = append(bw, float64(size)*float64(opt.Window*windows)/secs/1e6)
			}
		}
		if rank == 0 {
			rows = append(rows, Row{Bytes: size, LatencyUS: median(lat), BandwidthMBs: median(bw)})
		}
	}
	return rows, nil
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
