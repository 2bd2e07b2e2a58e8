package launch

import (
	"os"
	"runtime"
	"strconv"
	"strings"
)

// rankProcs returns the GOMAXPROCS a rank should run with, and whether Init
// should set it: the CPUs the process may use, shared evenly among the
// ranks on its node. It changes nothing when the user chose (the GOMAXPROCS
// environment variable is set), when the launcher already bound the process
// to a subset of the node's CPUs (allowed < online: srun --cpu-bind, mpirun
// --bind-to), or when the share is not below the current setting.
//
// Why: Go starts with one P per CPU, so two ranks on a 2-CPU node run two
// schedulers each, whose idle Ps block in the netpoller and get woken by
// every arriving TCP segment, and whose spare threads migrate between the
// cores the ranks are packing on. Measured on 2 CPUs (hilo bench halo over
// TCP, 128³, 2 ranks, interleaved): 516–585 µs per exchange with 2 Ps per
// rank, 355–378 with 1; futex calls per 500 exchanges 6143 -> 1345, CPU
// migrations per 1000 exchanges 488 -> 80. Open MPI's mpirun binds each rank
// to a core by default for the same reason. Init applies it only to ranks
// with TCP peers: ranks on shared memory alone wait in their own goroutine,
// and with one P each, 4 ranks on 2 CPUs exchanged 2x slower (hilo bench
// halo, 128³: 220–395 µs with the default, 517–760 with 1 P).
func rankProcs(allowed, online, localRanks, current int, env string) (int, bool) {
	if env != "" || localRanks < 1 || allowed < 1 {
		return current, false
	}
	if online > 0 && allowed < online {
		return current, false
	}
	n := max(1, allowed/localRanks)
	if n >= current {
		return current, false
	}
	return n, true
}

// onlineCPUs counts the node's online CPUs from
// /sys/devices/system/cpu/online ("0-3,8-11"); 0 if it cannot be read.
func onlineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return 0
	}
	return countCPUList(strings.TrimSpace(string(b)))
}

// countCPUList counts the CPUs in a kernel CPU list such as "0-3,8,10-11";
// 0 if it is malformed.
func countCPUList(s string) int {
	n := 0
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return 0
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0
			}
		}
		n += b - a + 1
	}
	return n
}

// shareCPUs applies rankProcs to this process.
func shareCPUs(localRanks int) {
	if n, ok := rankProcs(runtime.NumCPU(), onlineCPUs(), localRanks, runtime.GOMAXPROCS(0), os.Getenv("GOMAXPROCS")); ok {
		runtime.GOMAXPROCS(n)
	}
}
