package halo_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/shm"
	"github.com/hilo-hpc/hilo/transport/tcp"
)

// Multi-process tests re-exec the test binary: the parent starts one process
// per rank running TestProcChild, which learns its role from these
// variables.
const (
	envRank = "HILO_HALO_TEST_RANK"
	envSize = "HILO_HALO_TEST_SIZE"
	envMode = "HILO_HALO_TEST_MODE" // shm, tcp or mixed
	envJob  = "HILO_HALO_TEST_JOB"  // shm job id and directory where TCP addresses meet
	envKey  = "HILO_HALO_TEST_KEY"
)

// TestProcShm: 4 processes on one node, all pairs over shared memory.
func TestProcShm(t *testing.T) { runProcs(t, "shm", 4) }

// TestProcTCP: 3 processes, all pairs over authenticated TCP.
func TestProcTCP(t *testing.T) { runProcs(t, "tcp", 3) }

// TestProcMixed: ranks 0,1 are node A and 2,3 node B; pairs within a node
// use shared memory, pairs across nodes TCP.
func TestProcMixed(t *testing.T) { runProcs(t, "mixed", 4) }

func runProcs(t *testing.T, mode string, n int) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	dir := t.TempDir()
	key := make([]byte, 16)
	rand.Read(key)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	for r := range n {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestProcChild$", "-test.v")
		cmd.Env = append(os.Environ(),
			envRank+"="+strconv.Itoa(r), envSize+"="+strconv.Itoa(n), envMode+"="+mode,
			envJob+"="+dir, envKey+"="+hex.EncodeToString(key))
		outs[r] = new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = outs[r], outs[r]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[r] = cmd
	}
	for r, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("rank %d: %v\n%s", r, err, outs[r])
		} else if !bytes.Contains(outs[r].Bytes(), []byte("--- PASS: TestProcChild")) {
			t.Errorf("rank %d did not pass:\n%s", r, outs[r])
		}
	}
}

// TestProcChild is one rank of a multi-process test; it does nothing when
// run directly.
func TestProcChild(t *testing.T) {
	rankStr := os.Getenv(envRank)
	if rankStr == "" {
		t.Skip("runs only as a child of the multi-process tests")
	}
	rank, _ := strconv.Atoi(rankStr)
	size, _ := strconv.Atoi(os.Getenv(envSize))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	c, err := procComm(ctx, t, os.Getenv(envMode), rank, size, os.Getenv(envJob))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for peer := range size {
		if peer != rank {
			t.Logf("rank %d -> %d over %s", rank, peer, c.LinkKind(peer))
		}
	}
	// Verify with several methods, periodic axes and a mix of fields.
	for i, m := range decomp.Methods() {
		g := decomp.Grid{Dims: [3]int{12, 10, 9}, Periodic: periodicCombo(i + 3)}
		d, err := decomp.Decompose(g, size, decomp.Options{Method: m, RanksPerNode: 2})
		if err != nil {
			t.Fatal(err)
		}
		// Distinct channel ids: tcp does not let an id closed by one plan be
		// opened again by the next.
		if err := verifyOnID(ctx, c, d, fieldMix(i+2), uint32(100+i)); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
	}
	// A Jacobi run: this rank's cells must equal the serial iteration's.
	g := decomp.Grid{Dims: [3]int{12, 10, 9}, Periodic: [3]bool{true, false, true}}
	d, err := decomp.Decompose(g, size, decomp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float64, g.Cells())
	for i := range got {
		got[i] = math.NaN()
	}
	if err := distributedJacobi(ctx, c, d, jacobiSteps, got); err != nil {
		t.Fatal(err)
	}
	want := serialJacobi(g, jacobiSteps)
	for i := range got {
		if !math.IsNaN(got[i]) && math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("jacobi cell %d: got %v, want %v", i, got[i], want[i])
		}
	}
	// Statistics name the medium of every peer.
	f, err := halo.NewField[float64](d, rank, decomp.UniformHalo(1, decomp.Corners))
	if err != nil {
		t.Fatal(err)
	}
	p, err := halo.NewPlan(ctx, c, halo.PlanOptions{ChannelID: 200}, f)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for range 10 {
		if err := p.Exchange(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, ps := range p.Stats().Peers {
		if ps.Kind != c.LinkKind(ps.Peer) || (ps.MsgsSent != 10 && ps.BytesSent > 0) {
			t.Errorf("peer stats %+v", ps)
		}
	}
	if err := c.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
}

// procComm assembles this process's Comm: shared memory with the ranks of
// its node, TCP with the others. Node of rank r: all ranks (shm), none
// (tcp: every rank its own node), or r/2 (mixed).
func procComm(ctx context.Context, t *testing.T, mode string, rank, size int, dir string) (*transport.Comm, error) {
	node := func(r int) int {
		switch mode {
		case "shm":
			return 0
		case "mixed":
			return r / 2
		}
		return r
	}
	var local, remote []int
	for p := range size {
		switch {
		case p == rank:
		case node(p) == node(rank):
			local = append(local, p)
		default:
			remote = append(remote, p)
		}
	}
	links := make([]transport.Link, size)
	var bell transport.Doorbell = transport.NewLocalDoorbell()
	if len(local) > 0 {
		nd, err := shm.Join(ctx, shm.Config{Rank: rank, Peers: local, JobID: "halo-" + filepath.Base(dir) + "-" + strconv.Itoa(node(rank))})
		if err != nil {
			return nil, err
		}
		bell = nd.Doorbell()
		for _, p := range local {
			links[p] = nd.Link(p)
		}
	}
	if len(remote) > 0 {
		ln, err := tcp.Listen("127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { ln.Close() })
		// Publish the address, then wait for every peer's.
		tmp := filepath.Join(dir, fmt.Sprintf("%d.tmp", rank))
		if err := os.WriteFile(tmp, []byte(ln.Addr()), 0o600); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, filepath.Join(dir, fmt.Sprintf("%d.addr", rank))); err != nil {
			return nil, err
		}
		peers := map[int]string{}
		for _, p := range remote {
			for {
				b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.addr", p)))
				if err == nil {
					peers[p] = string(b)
					break
				}
				select {
				case <-ctx.Done():
					return nil, fmt.Errorf("waiting for rank %d's address: %w", p, ctx.Err())
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
		key, _ := hex.DecodeString(os.Getenv(envKey))
		tl, err := tcp.Connect(ctx, tcp.Config{Rank: rank, Size: size, Listener: ln, Peers: peers, Key: key, Bell: bell})
		if err != nil {
			return nil, err
		}
		for _, p := range remote {
			links[p] = tl[p]
		}
	}
	nodeRanks := append([]int{rank}, local...)
	return transport.NewComm(rank, size, links, bell, transport.Options{NodeRanks: nodeRanks})
}
