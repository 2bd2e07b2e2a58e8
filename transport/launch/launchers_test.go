package launch_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport/launch"
	"github.com/hilo-hpc/hilo/transport/launch/launchtest"
)

// These tests start the rank program (this test binary) under the real
// launchers installed on the machine; each skips, saying why, where its
// launcher is missing. scripts/ci-deps.sh installs them all.

func scriptsDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts")
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/ci-deps.sh installs it)", tool)
		}
	}
}

// runLauncher runs argv (a launcher and its flags) on the ring rank program
// with env added, and checks that n ranks said ok with the given media.
func runLauncher(t *testing.T, n int, launcher string, kind string, env []string, argv ...string) {
	t.Helper()
	argv = append(argv, os.Args[0], "-test.run=^TestRankProgram$")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), launchtest.ModeVar+"=ring"), env...)
	start := time.Now()
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	t.Logf("%s: %v", strings.Join(argv[:3], " "), time.Since(start))
	if err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, out)
	}
	for r := range n {
		k := make([]string, n)
		for p := range k {
			k[p] = kind
		}
		k[r] = "self"
		want := fmt.Sprintf("ok rank %d of %d via %s kinds %s\n", r, n, launcher, strings.Join(k, ","))
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func mpirunFlags() []string {
	if os.Getuid() == 0 {
		return []string{"--allow-run-as-root", "--oversubscribe"}
	}
	return []string{"--oversubscribe"}
}

func TestOpenMPI(t *testing.T) {
	need(t, "mpirun.openmpi")
	t.Run("one node, private directory", func(t *testing.T) {
		runLauncher(t, 4, launch.LauncherOpenMPI, "shm", nil,
			append(append([]string{"mpirun.openmpi"}, mpirunFlags()...), "-np", "4", "-x", launchtest.ModeVar)...)
	})
	t.Run("root address, tcp", func(t *testing.T) {
		env := []string{"HILO_ROOT=127.0.0.1:" + fmt.Sprint(freePort(t)), "HILO_JOB_KEY=" + launch.NewJobKey(), "HILO_TRANSPORT=tcp"}
		runLauncher(t, 4, launch.LauncherOpenMPI, "tcp", env,
			append(append([]string{"mpirun.openmpi"}, mpirunFlags()...), "-np", "4", "-x", launchtest.ModeVar,
				"-x", "HILO_ROOT", "-x", "HILO_JOB_KEY", "-x", "HILO_TRANSPORT")...)
	})
}

func TestMPICH(t *testing.T) {
	need(t, "mpirun.mpich")
	runLauncher(t, 4, launch.LauncherMPICH, "shm", nil, "mpirun.mpich", "-n", "4")
}

// TestSlurm runs srun -n 4 on the one-node Slurm of scripts/slurm-up.sh,
// starting it (and stopping it after) when it is not up and this is root.
func TestSlurm(t *testing.T) {
	need(t, "srun", "scontrol", "slurmctld", "slurmd", "munged")
	conf := os.Getenv("SLURM_CONF")
	if conf == "" {
		conf = "/tmp/hilo-slurm/slurm.conf"
	}
	up := func() bool {
		cmd := exec.Command("scontrol", "ping")
		cmd.Env = append(os.Environ(), "SLURM_CONF="+conf)
		out, _ := cmd.Output()
		return strings.Contains(string(out), "UP")
	}
	if _, err := os.Stat(conf); err != nil || !up() {
		if os.Getuid() != 0 {
			t.Skip("no Slurm is up and starting one (scripts/slurm-up.sh) needs root")
		}
		cmd := exec.Command("bash", filepath.Join(scriptsDir(t), "slurm-up.sh"))
		cmd.Env = append(os.Environ(), "HILO_SLURM_DIR="+filepath.Dir(conf))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("slurm-up.sh: %v\n%s", err, out)
		}
		t.Cleanup(func() {
			cmd := exec.Command("bash", filepath.Join(scriptsDir(t), "slurm-down.sh"))
			cmd.Env = append(os.Environ(), "HILO_SLURM_DIR="+filepath.Dir(conf))
			cmd.Run()
		})
	}
	env := []string{"SLURM_CONF=" + conf, "HILO_JOB_KEY=" + launch.NewJobKey()}
	t.Run("auto", func(t *testing.T) {
		runLauncher(t, 4, launch.LauncherSlurm, "shm", env, "srun", "-n", "4")
	})
	t.Run("tcp", func(t *testing.T) {
		runLauncher(t, 4, launch.LauncherSlurm, "tcp", append(env, "HILO_TRANSPORT=tcp"), "srun", "-n", "4")
	})
}

// TestTwoNodes runs scripts/twonode.sh: two "nodes" (network, IPC, mount
// and UTS namespaces joined by a veth pair), two ranks each.
func TestTwoNodes(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the two-node test bed needs root (network namespaces)")
	}
	need(t, "ip", "unshare")
	cmd := exec.Command("bash", filepath.Join(scriptsDir(t), "twonode.sh"), os.Args[0], "-test.run=^TestRankProgram$")
	cmd.Env = append(os.Environ(), launchtest.ModeVar+"=ring")
	timer := time.AfterFunc(90*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "twonode: cannot") {
			t.Skipf("no namespaces here: %s", out)
		}
		t.Fatalf("%v\n%s", err, out)
	}
	// Ranks 0 and 1 on node A, 2 and 3 on node B.
	want := []string{"self,shm,tcp,tcp", "shm,self,tcp,tcp", "tcp,tcp,self,shm", "tcp,tcp,shm,self"}
	for r, k := range want {
		line := fmt.Sprintf("ok rank %d of 4 via hilo kinds %s\n", r, k)
		if !strings.Contains(string(out), line) {
			t.Errorf("missing %q in\n%s", line, out)
		}
	}
}
