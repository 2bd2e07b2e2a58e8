package launch_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/launch"
	"github.com/hilo-hpc/hilo/transport/launch/launchtest"
	"github.com/hilo-hpc/hilo/transport/shm"
)

var testKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// jobEnv returns the environments of n ranks of a hilo job meeting at rdv
// ("root" or "dir"; the directory is returned too).
func jobEnv(t testing.TB, n int, rdv string, extra ...string) ([][]string, string) {
	common := []string{"HILO_SIZE=" + fmt.Sprint(n), "HILO_JOB_KEY=" + testKey, "HILO_TIMEOUT=20s"}
	dir := ""
	if rdv == "dir" {
		dir = t.TempDir()
		common = append(common, "HILO_RENDEZVOUS="+dir)
	} else {
		common = append(common, fmt.Sprintf("HILO_ROOT=127.0.0.1:%d", freePort(t)))
	}
	common = append(common, extra...)
	envs := make([][]string, n)
	for r := range n {
		envs[r] = append([]string{"HILO_RANK=" + fmt.Sprint(r)}, common...)
	}
	return envs, dir
}

// runJob runs launch.Init and launchtest.Check in one goroutine per rank and
// returns each rank's error and the media of its links.
func runJob(t *testing.T, envs [][]string, opts func(r int, o *launch.Options)) (errs []error, kinds []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs = make([]error, len(envs))
	kinds = make([]string, len(envs))
	var wg sync.WaitGroup
	for r, env := range envs {
		wg.Go(func() {
			o := launch.Options{Environ: env, Logf: func(f string, a ...any) { t.Logf("rank %d: "+f, append([]any{r}, a...)...) }}
			if opts != nil {
				opts(r, &o)
			}
			c, err := launch.Init(ctx, o)
			if err != nil {
				errs[r] = err
				return
			}
			defer c.Close()
			kinds[r] = launchtest.Kinds(c)
			errs[r] = launchtest.Check(ctx, c)
		})
	}
	wg.Wait()
	return errs, kinds
}

func noErrors(t *testing.T, errs []error) {
	t.Helper()
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

// wantKinds builds the expected media: kind(r, p) for every pair.
func wantKinds(n int, kind func(r, p int) string) []string {
	out := make([]string, n)
	for r := range n {
		k := make([]string, n)
		for p := range n {
			k[p] = kind(r, p)
			if p == r {
				k[p] = "self"
			}
		}
		out[r] = strings.Join(k, ",")
	}
	return out
}

func checkKinds(t *testing.T, got, want []string) {
	t.Helper()
	for r := range want {
		if got[r] != want[r] {
			t.Errorf("rank %d links %q, want %q", r, got[r], want[r])
		}
	}
}

func TestInitInProcess(t *testing.T) {
	for _, rdv := range []string{"root", "dir"} {
		for _, n := range []int{1, 2, 4} {
			for _, tr := range []string{"auto", "tcp"} {
				t.Run(fmt.Sprintf("%s/%d/%s", rdv, n, tr), func(t *testing.T) {
					envs, dir := jobEnv(t, n, rdv, "HILO_TRANSPORT="+tr)
					if n == 1 {
						envs = [][]string{{}}
					}
					errs, kinds := runJob(t, envs, nil)
					noErrors(t, errs)
					want := map[string]string{"auto": "shm", "tcp": "tcp"}[tr]
					checkKinds(t, kinds, wantKinds(n, func(r, p int) string { return want }))
					if dir != "" {
						if ents, _ := os.ReadDir(dir); len(ents) != 0 {
							t.Errorf("rendezvous directory not empty: %v", ents)
						}
					}
				})
			}
		}
	}
}

// Two fake nodes of two ranks each: same-node pairs use shm, the others TCP.
func TestInitTwoFakeNodes(t *testing.T) {
	envs, _ := jobEnv(t, 4, "root")
	real, err := launch.LocalNode()
	if err != nil {
		t.Fatal(err)
	}
	errs, kinds := runJob(t, envs, func(r int, o *launch.Options) {
		n := real
		n.Net += uint64(r / 2) // a network namespace of its own per fake node
		launch.SetTestNode(o, n)
	})
	noErrors(t, errs)
	checkKinds(t, kinds, wantKinds(4, func(r, p int) string {
		if r/2 == p/2 {
			return "shm"
		}
		return "tcp"
	}))
}

// A rank that cannot make shared memory talks TCP with its node; the others
// keep shm among themselves.
func TestInitShmProbeFails(t *testing.T) {
	envs, _ := jobEnv(t, 3, "root")
	errs, kinds := runJob(t, envs, func(r int, o *launch.Options) {
		if r == 2 {
			launch.SetTestProbeShm(o, func() error { return errors.New("memfd_create: operation not permitted") })
		}
	})
	noErrors(t, errs)
	checkKinds(t, kinds, wantKinds(3, func(r, p int) string {
		if r == 2 || p == 2 {
			return "tcp"
		}
		return "shm"
	}))
}

// When the shared-memory join fails (here rank 2's, so the others' wait for
// it times out), the ranks agree on TCP for the pairs that failed.
func TestInitShmJoinFails(t *testing.T) {
	envs, _ := jobEnv(t, 3, "root")
	errs, kinds := runJob(t, envs, func(r int, o *launch.Options) {
		var join func(context.Context, shm.Config) (*shm.Node, error)
		if r == 2 {
			join = func(context.Context, shm.Config) (*shm.Node, error) { return nil, errors.New("no memfd here") }
		}
		launch.SetTestJoinShm(o, join, 300*time.Millisecond)
	})
	noErrors(t, errs)
	checkKinds(t, kinds, wantKinds(3, func(r, p int) string { return "tcp" }))
}

// HILO_TRANSPORT=shm fails when shared memory does.
func TestInitShmForcedFails(t *testing.T) {
	envs, _ := jobEnv(t, 2, "dir", "HILO_TRANSPORT=shm", "HILO_TIMEOUT=1s")
	errs, _ := runJob(t, envs, func(r int, o *launch.Options) {
		if r == 1 {
			launch.SetTestJoinShm(o, func(context.Context, shm.Config) (*shm.Node, error) { return nil, errors.New("no memfd here") }, 0)
		}
	})
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "no memfd here") {
		t.Errorf("rank 1: %v", errs[1])
	}
	if errs[0] == nil {
		t.Errorf("rank 0 succeeded")
	}
	if testing.Verbose() {
		t.Logf("rank 0: %v", errs[0])
	}
}

func TestInitNeedsKey(t *testing.T) {
	// Root rendezvous without a key.
	_, err := launch.Init(context.Background(), launch.Options{Environ: []string{"HILO_RANK=0", "HILO_SIZE=2", "HILO_ROOT=127.0.0.1:1"}})
	if !errors.Is(err, transport.ErrAuth) || !strings.Contains(err.Error(), "HILO_JOB_KEY") {
		t.Errorf("root without key: %v", err)
	}
	// Directory rendezvous, ranks on two nodes: TCP needs the key.
	dir := t.TempDir()
	real, _ := launch.LocalNode()
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Go(func() {
			n := real
			n.Host += fmt.Sprint(r)
			o := launch.Options{Environ: []string{fmt.Sprintf("HILO_RANK=%d", r), "HILO_SIZE=2", "HILO_RENDEZVOUS=" + dir}}
			launch.SetTestNode(&o, n)
			_, errs[r] = launch.Init(context.Background(), o)
		})
	}
	wg.Wait()
	for r, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "HILO_JOB_KEY is not set") {
			t.Errorf("rank %d: %v", r, err)
		}
	}
	dir = t.TempDir()
	// Directory rendezvous, one node: shared memory needs no key.
	envs := [][]string{{"HILO_RANK=0", "HILO_SIZE=2", "HILO_TIMEOUT=3s", "HILO_RENDEZVOUS=" + dir}, {"HILO_RANK=1", "HILO_SIZE=2", "HILO_TIMEOUT=3s", "HILO_RENDEZVOUS=" + dir}}
	errs, kinds := runJob(t, envs, nil)
	noErrors(t, errs)
	checkKinds(t, kinds, wantKinds(2, func(r, p int) string { return "shm" }))
}
