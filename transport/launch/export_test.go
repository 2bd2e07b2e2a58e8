package launch

import (
	"context"
	"time"

	"github.com/hilo-hpc/hilo/transport/shm"
)

// Hooks for the tests of package launch_test.

func SetTestNode(o *Options, n NodeID) { o.node = &n }

func SetTestJoinShm(o *Options, join func(context.Context, shm.Config) (*shm.Node, error), limit time.Duration) {
	o.joinShm, o.shmJoinLimit = join, limit
}

func SetTestProbeShm(o *Options, probe func() error) { o.probeShm = probe }
