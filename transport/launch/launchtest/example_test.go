package launchtest_test

import (
	"os"

	"github.com/hilo-hpc/hilo/transport/launch/launchtest"
)

// A test binary re-executed as a rank runs the mode its environment names
// (see the TestRankProgram functions of launch and cmd/hilo).
func ExampleRun() {
	if mode := os.Getenv(launchtest.ModeVar); mode != "" {
		os.Exit(launchtest.Run(mode))
	}
}
