// Command empty is the empty hilo job of the start-up comparison: every rank
// joins the job (rendezvous, links, a barrier) and leaves.
package main

import (
	"context"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/launch"
)

func main() {
	launch.Main(func(context.Context, *transport.Comm) error { return nil })
}
