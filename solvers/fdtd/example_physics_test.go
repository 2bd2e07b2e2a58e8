package fdtd_test

import (
	"context"
	"fmt"
	"math"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/solvers/fdtd"
	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// The lowest resonances of a 20×16×12-cell PEC cavity: the continuum value
// and the one the Yee scheme gives at S = 0.5 (a little lower).
func ExampleCavityModes() {
	for _, m := range fdtd.CavityModes([3]int{20, 16, 12}, 0.5, 0.06, 1)[:3] {
		fmt.Printf("mode %d%d%d: analytic %.5f, Yee %.5f\n", m.M, m.N, m.P, m.Analytic, m.Discrete)
	}
	// Output:
	// mode 110: analytic 0.04002, Yee 0.03999
	// mode 101: analytic 0.04859, Yee 0.04852
	// mode 011: analytic 0.05208, Yee 0.05202
}

// A plane pulse travels along x between two CPML layers (periodic across,
// so the wave is plane) on two ranks; a probe records it passing, and once
// it has left, the layers have absorbed it.
func ExampleOptions_pml() {
	across := [2]fdtd.Boundary{fdtd.Periodic, fdtd.Periodic}
	opt := fdtd.Options{
		Dims:       [3]int{100, 2, 2},
		Boundaries: [3][2]fdtd.Boundary{{fdtd.PML, fdtd.PML}, across, across},
		Sources: []fdtd.Source{{Component: fdtd.Ez, Region: decomp.Box{Lo: [3]int{50, 0, 0}, Hi: [3]int{51, 2, 2}},
			Waveform: fdtd.RickerPulse(0.05, 30, 0.5)}},
		Probes: []fdtd.Probe{{Name: "Ez", Component: fdtd.Ez, At: [3]int{70, 0, 0}}},
	}
	err := inproc.Run(context.Background(), 2, func(ctx context.Context, comm *transport.Comm) error {
		s, err := fdtd.New[float64](ctx, comm, opt)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Run(ctx, 600); err != nil {
			return err
		}
		series, err := s.ProbeSeries(ctx)
		if err != nil || comm.Rank() != 0 {
			return err
		}
		peak, late := 0.0, 0.0
		for n, v := range series[0] {
			peak = math.Max(peak, math.Abs(v))
			if n >= 400 {
				late = math.Max(late, math.Abs(v))
			}
		}
		fmt.Printf("pulse passed the probe: %v; left after it was absorbed: below 1e-3 of the peak: %v\n", peak > 0.1, late < 1e-3*peak)
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// pulse passed the probe: true; left after it was absorbed: below 1e-3 of the peak: true
}
