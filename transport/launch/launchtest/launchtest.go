package launchtest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/launch"
)

// ModeVar is the environment variable that selects the mode of a rank.
const ModeVar = "RANKTEST_MODE"

// Run runs the rank in mode and returns its exit status.
//
//	ring    Init, a ring exchange and an allreduce checked against closed
//	        forms; prints "ok rank R of N kinds K" (K: the medium per peer)
//	fail3   rank 2 exits with status 3 after Init; the others sleep
//	kill9   after an allreduce rank 2 kills itself with SIGKILL; the others
//	        wait for a message from it and print the error they get
//	hang    the last rank never calls Init; the others print Init's error
//	loop    allreduces until a signal cancels the context
//	empty   Init and Close
//	ring1000  1,000 rounds of a ring exchange plus an Allreduce, checked
func Run(mode string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	id, err := launch.FromEnv(os.Environ())
	if err != nil {
		fmt.Println("env:", err)
		return 1
	}
	if mode == "hang" && id.Rank == id.Size-1 {
		fmt.Println("hanging")
		time.Sleep(time.Minute)
		return 0
	}
	comm, err := launch.Init(ctx, launch.Options{Identity: &id})
	if err != nil {
		fmt.Println("init:", err)
		return 1
	}
	defer comm.Close()
	r, n := comm.Rank(), comm.Size()
	switch mode {
	case "empty":
		return 0
	case "ring1000":
		start := time.Now()
		if err := RingRounds(ctx, comm, 1000); err != nil {
			fmt.Println("ring1000:", err)
			return 1
		}
		if r == 0 {
			fmt.Printf("ring1000 ok: %d ranks, 1000 rounds in %.2fs\n", n, time.Since(start).Seconds())
		}
		return 0
	case "ring":
		if err := Check(ctx, comm); err != nil {
			fmt.Println("check:", err)
			return 1
		}
		fmt.Printf("ok rank %d of %d via %s kinds %s\n", r, n, id.Launcher, Kinds(comm))
		return 0
	case "fail3":
		if err := comm.Barrier(ctx); err != nil {
			fmt.Println("barrier:", err)
			return 1
		}
		if r == 2 {
			fmt.Println("exiting with status 3")
			return 3
		}
		fmt.Printf("sleeping pid %d\n", os.Getpid())
		time.Sleep(time.Minute)
		return 0
	case "kill9":
		sum := make([]float64, 1)
		if err := comm.AllreduceFloat64(ctx, transport.Sum, []float64{1}, sum); err != nil {
			fmt.Println("allreduce:", err)
			return 1
		}
		if r == 2 {
			fmt.Printf("killing myself at %d\n", time.Now().UnixNano())
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, err := comm.Recv(ctx, 2, 9, make([]byte, 8))
		fmt.Printf("lost at %d lost-peer=%v: %v\n", time.Now().UnixNano(), errors.Is(err, transport.ErrPeerLost), err)
		return 1
	case "loop":
		fmt.Printf("looping pid %d\n", os.Getpid())
		sum := make([]float64, 1)
		for {
			if err := comm.AllreduceFloat64(ctx, transport.Sum, []float64{1}, sum); err != nil {
				fmt.Println("stopped:", err)
				return 1
			}
			time.Sleep(time.Millisecond)
		}
	}
	fmt.Println("unknown mode", mode)
	return 1
}

// Kinds lists the medium towards every peer ("self" for this rank), comma
// separated, by rank.
func Kinds(c *transport.Comm) string {
	k := make([]string, c.Size())
	for p := range k {
		k[p] = c.LinkKind(p)
	}
	return strings.Join(k, ",")
}

// Check runs a ring exchange (1 MiB, so that it streams through the links)
// and an allreduce, and compares with values computed independently.
func Check(ctx context.Context, c *transport.Comm) error {
	n, r := c.Size(), c.Rank()
	const size = 1 << 20
	out := make([]byte, size)
	for i := range out {
		out[i] = byte(i*31 + r)
	}
	in := make([]byte, size)
	from := (r + n - 1) % n
	s := c.Isend((r+1)%n, 7, out)
	rr := c.Irecv(from, 7, in)
	if err := c.WaitAll(ctx, s, rr); err != nil {
		return err
	}
	for i := range in {
		if in[i] != byte(i*31+from) {
			return fmt.Errorf("rank %d: byte %d from rank %d is %d", r, i, from, in[i])
		}
	}
	// The bytes went over the links Kinds reports.
	if n > 1 {
		st := c.Stats()
		if to := st[(r+1)%n]; to.BytesSent < size || to.Kind != c.LinkKind((r+1)%n) {
			return fmt.Errorf("rank %d: stats towards rank %d: %+v", r, (r+1)%n, to)
		}
		if fr := st[from]; fr.BytesRecv < size || fr.Kind != c.LinkKind(from) {
			return fmt.Errorf("rank %d: stats from rank %d: %+v", r, from, fr)
		}
	}
	sum := make([]float64, 2)
	if err := c.AllreduceFloat64(ctx, transport.Sum, []float64{float64(r * r), 1}, sum); err != nil {
		return err
	}
	want := 0.0
	for q := range n {
		want += float64(q * q)
	}
	if sum[0] != want || sum[1] != float64(n) {
		return fmt.Errorf("rank %d: allreduce gave %v, want [%v %d]", r, sum, want, n)
	}
	return c.Barrier(ctx)
}

// RingRounds does rounds rounds of: send a word to the right neighbour,
// receive one from the left, and AllreduceFloat64 a sum; it checks every
// value against what the round must give.
func RingRounds(ctx context.Context, comm *transport.Comm, rounds int) error {
	r, n := comm.Rank(), comm.Size()
	right, left := (r+1)%n, (r+n-1)%n
	out, in := make([]byte, 8), make([]byte, 8)
	sum := make([]float64, 1)
	for k := range rounds {
		binary.LittleEndian.PutUint64(out, uint64(k*n+r))
		rq := comm.Irecv(left, 7, in)
		if err := comm.Send(ctx, right, 7, out); err != nil {
			return err
		}
		if _, err := rq.Wait(ctx); err != nil {
			return err
		}
		if got := binary.LittleEndian.Uint64(in); got != uint64(k*n+left) {
			return fmt.Errorf("round %d: got %d from rank %d, want %d", k, got, left, k*n+left)
		}
		if err := comm.AllreduceFloat64(ctx, transport.Sum, []float64{float64(r + k)}, sum); err != nil {
			return err
		}
		if want := float64(n*(n-1)/2 + n*k); sum[0] != want {
			return fmt.Errorf("round %d: allreduce gave %v, want %v", k, sum[0], want)
		}
	}
	return nil
}
