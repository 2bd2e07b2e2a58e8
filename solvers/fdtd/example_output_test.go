package fdtd_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/hilo-hpc/hilo/solvers/fdtd"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// Two ranks run the reference problem on 16³ cells for 40 steps. Before each
// step and after the last they take the slice z = 8 through the source
// (collective: both ranks get the whole plane) and record Ez at the source as
// a probe; at the end rank 0 draws the last slice as a PNG, both write the
// fields as VTK (one .vti per block and a .pvti), and rank 0 writes the probe
// series as CSV (row n: after n steps, time n·Δt).
func ExampleSolver_Slice() {
	ctx := context.Background()
	dims := [3]int{16, 16, 16}
	dir, err := os.MkdirTemp("", "fdtd-output")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	comms, err := inproc.New(2)
	if err != nil {
		fmt.Println(err)
		return
	}
	var wg sync.WaitGroup
	for _, comm := range comms {
		wg.Go(func() {
			s, err := fdtd.New[float64](ctx, comm, fdtd.Options{Dims: dims, Courant: 0.5, Sources: fdtd.RefSources(dims)})
			if err != nil {
				fmt.Println(err)
				return
			}
			defer s.Close()
			var probe []float64
			var sl fdtd.Slice
			for n := 0; ; n++ { // row n of the probe: the fields after n steps
				if sl, err = s.Slice(ctx, fdtd.Ez, 2, 8); err != nil {
					fmt.Println(err)
					return
				}
				probe = append(probe, sl.At(8, 8))
				if n == 40 {
					break
				}
				if err := s.Step(ctx); err != nil {
					fmt.Println(err)
					return
				}
			}
			if err := s.WriteVTK(ctx, dir, "cavity"); err != nil {
				fmt.Println(err)
				return
			}
			if comm.Rank() != 0 {
				return
			}
			f, err := os.Create(filepath.Join(dir, "ez.png"))
			if err != nil {
				fmt.Println(err)
				return
			}
			defer f.Close()
			if err := fdtd.WriteSlicePNG(f, sl, fdtd.PNGOptions{Title: "step 40"}); err != nil {
				fmt.Println(err)
				return
			}
			big := 0.0
			for _, v := range sl.Values {
				big = max(big, math.Abs(v))
			}
			fmt.Printf("slice %v z=%d: %dx%d cells, max |Ez| %.4f\n", sl.Component, sl.Index, sl.W, sl.H, big)
			var csv strings.Builder
			if err := fdtd.WriteProbesCSV(&csv, s.Dt(), []string{"Ez(8,8,8)"}, [][]float64{probe}); err != nil {
				fmt.Println(err)
				return
			}
			lines := strings.Split(csv.String(), "\n")
			fmt.Printf("%d CSV lines:\n%s\n%s\n...\n%s\n", len(lines)-1, lines[0], lines[1], lines[41])
		})
	}
	wg.Wait()
	for _, comm := range comms {
		comm.Close()
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		if filepath.Ext(e.Name()) != ".vti" {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	fmt.Println(names, len(ents)-len(names) >= 2, "pieces")
	// Output:
	// slice Ez z=8: 16x16 cells, max |Ez| 5.3247
	// 42 CSV lines:
	// step,time,"Ez(8,8,8)"
	// 0,0,0
	// ...
	// 40,20,5.324747029537118
	// [cavity.pvti ez.png] true pieces
}
