package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport/launch/launchtest"
)

// TestRankProgram is the program `hilo run` starts in these tests: the test
// binary re-executed with RANKTEST_MODE set.
func TestRankProgram(t *testing.T) {
	mode := os.Getenv(launchtest.ModeVar)
	if mode == "" {
		t.Skip("run as a rank by the other tests")
	}
	os.Exit(launchtest.Run(mode))
}

// TestHiloRunProcess is `hilo run` as a process of its own (for signals):
// the test binary re-executed with HILORUN_ARGS set.
func TestHiloRunProcess(t *testing.T) {
	raw := os.Getenv("HILORUN_ARGS")
	if raw == "" {
		t.Skip("run as hilo run by TestRunSIGINT")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	os.Exit(cmdRun(args, os.Stdout, os.Stderr))
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of Spawn's
// copiers and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hiloRun runs cmdRun with the rank program in mode; extra flags go before
// the program.
func hiloRun(t *testing.T, mode string, flags ...string) (code int, stdout, stderr string, took time.Duration) {
	t.Helper()
	t.Setenv(launchtest.ModeVar, mode)
	args := append(slices.Clone(flags), "--", os.Args[0], "-test.run=^TestRankProgram$")
	var out, errb syncBuffer
	start := time.Now()
	code = cmdRun(args, &out, &errb)
	return code, out.String(), errb.String(), time.Since(start)
}

func shmListing(t *testing.T) []string {
	ents, err := os.ReadDir("/dev/shm")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// newShmEntries lists entries of after not in before, leaving out those
// of MPI libraries (tests of other packages may run mpirun meanwhile).
func newShmEntries(before, after []string) []string {
	var out []string
	for _, e := range after {
		if slices.Contains(before, e) {
			continue
		}
		foreign := false
		for _, p := range []string{"vader_segment", "sm_segment", "pmix", "mpich", "sem.", "psm"} {
			foreign = foreign || strings.HasPrefix(e, p)
		}
		if !foreign {
			out = append(out, e)
		}
	}
	return out
}

func rdvDirs(t *testing.T) []string {
	m, _ := filepath.Glob(filepath.Join(os.TempDir(), "hilo-rdv-*"))
	return m
}

// pids returns the pids ranks printed as "pid N".
func pids(out string) []int {
	var ps []int
	for _, m := range regexp.MustCompile(`pid (\d+)`).FindAllStringSubmatch(out, -1) {
		p, _ := strconv.Atoi(m[1])
		ps = append(ps, p)
	}
	return ps
}

func alive(pid int) bool {
	// A zombie still has a /proc entry; ranks are reaped by hilo run.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(b), ") Z ")
}

func TestRunRing(t *testing.T) {
	for _, c := range []struct{ transport, rdv, kind string }{
		{"auto", "root", "shm"}, {"tcp", "root", "tcp"}, {"auto", "dir", "shm"}, {"shm", "dir", "shm"},
	} {
		t.Run(c.transport+"/"+c.rdv, func(t *testing.T) {
			code, out, errs, took := hiloRun(t, "ring", "-n", "4", "-transport", c.transport, "-rendezvous", c.rdv)
			t.Logf("hilo run -n 4 took %v", took)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
			}
			for r := range 4 {
				kinds := make([]string, 4)
				for p := range kinds {
					kinds[p] = c.kind
				}
				kinds[r] = "self"
				want := fmt.Sprintf("[%d] ok rank %d of 4 via hilo kinds %s\n", r, r, strings.Join(kinds, ","))
				if !strings.Contains(out, want) {
					t.Errorf("missing %q in\n%s", want, out)
				}
			}
		})
	}
}

func TestRunRankFails(t *testing.T) {
	before := rdvDirs(t)
	code, out, errs, took := hiloRun(t, "fail3", "-n", "4", "-grace", "300ms")
	if code != 3 {
		t.Errorf("exit %d, want 3", code)
	}
	if !strings.Contains(errs, "hilo run: rank 2 exited with status 3") {
		t.Errorf("stderr does not name rank 2:\n%s", errs)
	}
	if !strings.Contains(errs, "killed rank(s) 0, 1, 3") {
		t.Errorf("stderr does not say the others were killed:\n%s", errs)
	}
	ps := pids(out)
	if len(ps) != 3 {
		t.Fatalf("want 3 sleeping ranks, got pids %v in\n%s", ps, out)
	}
	for _, p := range ps {
		if alive(p) {
			t.Errorf("rank pid %d still alive", p)
		}
	}
	if took > 10*time.Second {
		t.Errorf("took %v", took)
	}
	if after := rdvDirs(t); len(after) != len(before) {
		t.Errorf("rendezvous dirs before %v after %v", before, after)
	}
}

func TestRunKill9(t *testing.T) {
	for _, tr := range []string{"auto", "tcp"} {
		for _, rdv := range []string{"root", "dir"} {
			t.Run(tr+"/"+rdv, func(t *testing.T) {
				shmBefore, dirsBefore := shmListing(t), rdvDirs(t)
				code, out, errs, _ := hiloRun(t, "kill9", "-n", "4", "-transport", tr, "-rendezvous", rdv, "-grace", "5s")
				if code != 128+9 {
					t.Errorf("exit %d, want %d", code, 128+9)
				}
				if !strings.Contains(errs, "rank 2 killed by signal 9") {
					t.Errorf("stderr does not name rank 2:\n%s", errs)
				}
				m := regexp.MustCompile(`killing myself at (\d+)`).FindStringSubmatch(out)
				if m == nil {
					t.Fatalf("rank 2 did not say when it died:\n%s", out)
				}
				killed, _ := strconv.ParseInt(m[1], 10, 64)
				for _, r := range []int{0, 1, 3} {
					re := regexp.MustCompile(fmt.Sprintf(`\[%d\] lost at (\d+) lost-peer=true: .*peer 2`, r))
					m := re.FindStringSubmatch(out)
					if m == nil {
						t.Errorf("rank %d did not report losing rank 2:\n%s", r, out)
						continue
					}
					at, _ := strconv.ParseInt(m[1], 10, 64)
					if d := time.Duration(at - killed); d > 5*time.Second {
						t.Errorf("rank %d noticed after %v", r, d)
					} else {
						t.Logf("rank %d noticed after %v", r, d)
					}
				}
				if leaked := newShmEntries(shmBefore, shmListing(t)); len(leaked) > 0 {
					t.Errorf("/dev/shm has new entries %v", leaked)
				}
				if after := rdvDirs(t); !slices.Equal(after, dirsBefore) {
					t.Errorf("rendezvous dirs before %v after %v", dirsBefore, after)
				}
			})
		}
	}
}

func TestRunRankNeverShowsUp(t *testing.T) {
	for _, rdv := range []string{"root", "dir"} {
		t.Run(rdv, func(t *testing.T) {
			code, out, errs, took := hiloRun(t, "hang", "-n", "4", "-init-timeout", "1s", "-grace", "200ms", "-rendezvous", rdv)
			if code == 0 {
				t.Errorf("exit 0")
			}
			for r := range 3 {
				if !regexp.MustCompile(fmt.Sprintf(`\[%d\] init: .*rank 3 did not show up`, r)).MatchString(out) {
					t.Errorf("rank %d does not name rank 3:\n%s", r, out)
				}
			}
			if took > 10*time.Second {
				t.Errorf("took %v", took)
			}
			t.Log(errs)
		})
	}
}

func TestRunSIGINT(t *testing.T) {
	args, _ := json.Marshal([]string{"-n", "3", "--", os.Args[0], "-test.run=^TestRankProgram$"})
	cmd := exec.Command(os.Args[0], "-test.run=^TestHiloRunProcess$")
	cmd.Env = append(os.Environ(), "HILORUN_ARGS="+string(args), launchtest.ModeVar+"=loop")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(pids(out.String())) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ps := pids(out.String())
	if len(ps) < 3 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("ranks did not start:\n%s", out.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("hilo run did not stop:\n%s", out.String())
	}
	if cmd.ProcessState.ExitCode() != 128+int(syscall.SIGINT) {
		t.Errorf("exit %d, want %d", cmd.ProcessState.ExitCode(), 128+int(syscall.SIGINT))
	}
	for _, p := range ps {
		if alive(p) {
			t.Errorf("rank pid %d still alive", p)
		}
	}
	if !strings.Contains(out.String(), "forwarding interrupt to 3 rank(s)") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-n", "2"}, {"-n", "0", "x"}, {"-n", "2", "-transport", "udp", "x"}, {"-bogus"}} {
		var out, errb bytes.Buffer
		if code := cmdRun(args, &out, &errb); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := cmdRun([]string{"-n", "1", "--", "/nonexistent/prog"}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "rank 0") {
		t.Errorf("missing program: exit %d, stderr %s", code, errb.String())
	}
}
