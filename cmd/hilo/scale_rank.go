package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/solvers/fdtd"
	"github.com/hilo-hpc/hilo/transport"
)

// scaleRankResult is what rank 0 of one `hilo scale` run hands back: the
// figures of every rank, per step (means over the timed steps).
type scaleRankResult struct {
	Ranks int    `json:"ranks"`
	Steps int    `json:"steps"`
	Kinds string `json:"kinds"` // rank 0's media to its peers, for the record
	// StepSeconds[i] is step i's time on the slowest rank.
	StepSeconds []float64 `json:"step_seconds"`
	// Per rank: mean step time, communication time (halo pack + wait +
	// unpack), payload bytes sent over shm and over tcp, per step.
	RankStep  []float64 `json:"rank_step"`
	RankComm  []float64 `json:"rank_comm"`
	RankShmB  []float64 `json:"rank_shm_bytes"`
	RankTCPB  []float64 `json:"rank_tcp_bytes"`
	RankMsgs  []float64 `json:"rank_msgs"`
	RankCells []float64 `json:"rank_cells"`
	// Background is the CPU other processes used during the timed steps,
	// in cores: the machine's busy time (/proc/stat) minus the ranks' own
	// CPU time, over the wall time (-1 if /proc/stat cannot be read).
	Background float64 `json:"background"`
	// RanksCPU is the ranks' own CPU time over the wall time of the timed
	// steps, in cores (below the cores they have: cores stood idle).
	RanksCPU float64 `json:"ranks_cpu"`
}

// scaleWork is one run's workload, as the ranks see it.
type scaleWork struct {
	workload string // "fdtd" or "halo"
	dims     [3]int
	method   string
	fields   int
	steps    int
	warmup   int
}

// runScaleRank runs the workload on comm and gathers every rank's figures
// on all ranks (rank 0 reports them).
func runScaleRank(ctx context.Context, comm *transport.Comm, w scaleWork) (scaleRankResult, error) {
	var plans []*halo.Plan
	var step func(context.Context) error
	var cells int
	switch w.workload {
	case "fdtd":
		s, err := fdtd.New[float64](ctx, comm, fdtd.Options{Dims: w.dims, Courant: 0.5, Method: w.method, Sources: fdtd.RefSources(w.dims)})
		if err != nil {
			return scaleRankResult{}, err
		}
		defer s.Close()
		plans = []*halo.Plan{s.EPlan(), s.HPlan()}
		step = s.Step
		cells = s.Decomposition().Cells(comm.Rank())
	default:
		d, err := decomp.Decompose(decomp.Grid{Dims: w.dims}, comm.Size(), decomp.Options{Method: w.method})
		if err != nil {
			return scaleRankResult{}, err
		}
		var fs []halo.AnyField
		for range w.fields {
			f, err := halo.NewField[float64](d, comm.Rank(), decomp.UniformHalo(1, decomp.Faces), halo.Pad(8))
			if err != nil {
				return scaleRankResult{}, err
			}
			fs = append(fs, f)
		}
		plan, err := halo.NewPlan(ctx, comm, halo.PlanOptions{}, fs...)
		if err != nil {
			return scaleRankResult{}, err
		}
		defer plan.Close()
		plans = []*halo.Plan{plan}
		step = plan.Exchange
		cells = d.Cells(comm.Rank())
	}
	for range w.warmup {
		if err := step(ctx); err != nil {
			return scaleRankResult{}, err
		}
	}
	before := make([]halo.Stats, len(plans))
	for i, p := range plans {
		before[i] = p.Stats()
	}
	if err := comm.Barrier(ctx); err != nil {
		return scaleRankResult{}, err
	}
	busy0, busyErr := machineBusySeconds()
	cpu0, wall0 := cpuSeconds(), time.Now()
	times := make([]float64, w.steps)
	for i := range times {
		t0 := time.Now()
		if err := step(ctx); err != nil {
			return scaleRankResult{}, err
		}
		times[i] = time.Since(t0).Seconds()
	}
	busy1, busyErr1 := machineBusySeconds()
	ownCPU, wall := cpuSeconds()-cpu0, time.Since(wall0).Seconds()
	n := float64(w.steps)
	var commSec, shmB, tcpB, msgs float64
	kinds := make([]string, comm.Size())
	kinds[comm.Rank()] = "self"
	for i, p := range plans {
		after := p.Stats()
		commSec += (after.Pack + after.Wait + after.Unpack - before[i].Pack - before[i].Wait - before[i].Unpack).Seconds()
		for j, ps := range after.Peers {
			b := before[i].Peers[j]
			m := float64(ps.MsgsSent - b.MsgsSent)
			// Payload: the message bytes without halo's 8-byte header
			// (float64 regions need no alignment padding).
			pay := float64(ps.BytesSent-b.BytesSent) - 8*m
			if ps.Kind == "tcp" {
				tcpB += pay
			} else {
				shmB += pay
			}
			msgs += m
			kinds[ps.Peer] = ps.Kind
		}
	}
	var total float64
	for _, t := range times {
		total += t
	}
	p, r := comm.Size(), comm.Rank()
	const k = 7
	mine := make([]float64, k*p)
	for j, v := range []float64{total / n, commSec / n, shmB / n, tcpB / n, msgs / n, float64(cells), ownCPU} {
		mine[j*p+r] = v
	}
	all := make([]float64, k*p)
	if err := comm.AllreduceFloat64(ctx, transport.Sum, mine, all); err != nil {
		return scaleRankResult{}, err
	}
	var ranksCPU float64
	for _, c := range all[6*p : 7*p] {
		ranksCPU += c
	}
	background := -1.0
	if busyErr == nil && busyErr1 == nil && wall > 0 {
		background = max(0, (busy1-busy0)-ranksCPU) / wall
	}
	slowest := make([]float64, w.steps)
	if err := comm.AllreduceFloat64(ctx, transport.Max, times, slowest); err != nil {
		return scaleRankResult{}, err
	}
	kindList := ""
	for i, s := range kinds {
		if i > 0 {
			kindList += ","
		}
		if s == "" {
			s = "-"
		}
		kindList += s
	}
	return scaleRankResult{Ranks: p, Steps: w.steps, Kinds: kindList, StepSeconds: slowest,
		RankStep: slices.Clone(all[0:p]), RankComm: slices.Clone(all[p : 2*p]),
		RankShmB: slices.Clone(all[2*p : 3*p]), RankTCPB: slices.Clone(all[3*p : 4*p]),
		RankMsgs: slices.Clone(all[4*p : 5*p]), RankCells: slices.Clone(all[5*p : 6*p]), Background: background, RanksCPU: ranksCPU / wall}, nil
}

// machineBusySeconds is the CPU time every core of the machine has spent
// busy since boot (the "cpu" line of /proc/stat: all but idle and iowait).
func machineBusySeconds() (float64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var busy float64
	for i, s := range f[1:] {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		if i != 3 && i != 4 && i < 8 { // not idle, iowait; not guest (counted in user)
			busy += v
		}
	}
	return busy / 100, nil // USER_HZ is 100 on Linux
}
