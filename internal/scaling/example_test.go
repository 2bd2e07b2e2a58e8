package scaling_test

import (
	"fmt"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/internal/scaling"
)

// Fit a link to ping-pong figures, then predict the FDTD solver's step on a
// 64³ grid split in 8 ranks, four per node.
func Example() {
	var samples []scaling.Sample
	for _, n := range []int{8, 1024, 65536, 1 << 20} {
		samples = append(samples, scaling.Sample{Bytes: n, Seconds: 2e-6 + float64(n)/4e9})
	}
	shm, _ := scaling.FitLink(samples)
	fmt.Println("shm:", shm)

	d, _ := decomp.Decompose(decomp.Grid{Dims: [3]int{64, 64, 64}}, 8, decomp.Options{RanksPerNode: 4})
	w, _ := scaling.FDTDWorkload(d, d.Node)
	intra, inter := w.PayloadBytes()
	fmt.Println("halo bytes per step within nodes:", intra, "between:", inter)

	m := scaling.Machine{Shm: shm, TCP: scaling.Link{Alpha: 20e-6, Beta: 1e9}, CellRate: 100e6}
	p := m.Predict(w)
	fmt.Printf("step %.0f µs: compute %.0f µs, communication %.1f µs\n", p.Seconds*1e6, p.Compute*1e6, p.Comm*1e6)
	// Output:
	// shm: α=2.00 µs β=4000 MB/s
	// halo bytes per step within nodes: 262144 between: 131072
	// step 376 µs: compute 328 µs, communication 48.6 µs
}
