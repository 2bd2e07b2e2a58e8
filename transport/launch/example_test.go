package launch_test

import (
	"context"
	"fmt"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/launch"
)

// What a rank started by `srun -n 8` on nodes node[01-04] learns.
func ExampleFromEnv() {
	id, err := launch.FromEnv([]string{
		"SLURM_PROCID=5", "SLURM_NTASKS=8", "SLURM_LOCALID=1", "SLURM_NODEID=2",
		"SLURM_JOB_ID=4242", "SLURM_STEP_ID=0", "SLURM_STEP_NODELIST=node[01-04]",
		"HILO_JOB_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(id.Launcher, id.Rank, id.Size, id.LocalRank, id.JobID, id.Root)
	// Output: slurm 5 8 1 4242.0 node01:21474
}

func ExampleFirstNode() {
	host, err := launch.FirstNode("node[01-04,07],gpu3")
	fmt.Println(host, err)
	_, err = launch.FirstNode("node[04-01]")
	fmt.Println(err)
	// Output:
	// node01 <nil>
	// launch: node list "node[04-01]": entry "node[04-01]": bad range "04-01"
}

// A program that runs as a rank under any launcher, and as four ranks when
// started bare with "-n 4" (go run ./prog -n 4).
func ExampleMain() {
	launch.Main(func(ctx context.Context, comm *transport.Comm) error {
		sum := make([]float64, 1)
		if err := comm.AllreduceFloat64(ctx, transport.Sum, []float64{float64(comm.Rank())}, sum); err != nil {
			return err
		}
		if comm.Rank() == 0 {
			fmt.Printf("%d ranks, sum of ranks %v\n", comm.Size(), sum[0])
		}
		return nil
	})
}

// Init alone: a job of one rank when no launcher started the process.
func ExampleInit() {
	comm, err := launch.Init(context.Background(), launch.Options{Environ: []string{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer comm.Close()
	fmt.Println(comm.Rank(), comm.Size())
	// Output: 0 1
}
