package halo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// runRanks runs fn on n goroutine ranks over inproc (bounded by a deadline
// so a hung exchange fails the test) and returns the first failure.
func runRanks(t testing.TB, n int, fn func(ctx context.Context, c *transport.Comm) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return inproc.Run(ctx, n, fn)
}

// fieldSpec describes one field of a verify case.
type fieldSpec struct {
	spec  decomp.HaloSpec
	dtype string // "f32", "f64", "c128"
	pad   int
}

func newAnyField(d *decomp.Decomposition, rank int, fs fieldSpec, name string) (halo.AnyField, error) {
	opts := []halo.FieldOption{halo.Name(name), halo.Pad(fs.pad)}
	switch fs.dtype {
	case "f32":
		return halo.NewField[float32](d, rank, fs.spec, opts...)
	case "c128":
		return halo.NewField[complex128](d, rank, fs.spec, opts...)
	}
	return halo.NewField[float64](d, rank, fs.spec, opts...)
}

// verifyOn builds the fields and a plan on comm's rank and runs Verify.
func verifyOn(ctx context.Context, c *transport.Comm, d *decomp.Decomposition, fss []fieldSpec) error {
	return verifyOnID(ctx, c, d, fss, 0)
}

// verifyOnID is verifyOn with the plan's channel id (0: default).
func verifyOnID(ctx context.Context, c *transport.Comm, d *decomp.Decomposition, fss []fieldSpec, id uint32) error {
	var fields []halo.AnyField
	for i, fs := range fss {
		f, err := newAnyField(d, c.Rank(), fs, fmt.Sprintf("f%d", i))
		if err != nil {
			return err
		}
		fields = append(fields, f)
	}
	p, err := halo.NewPlan(ctx, c, halo.PlanOptions{ChannelID: id}, fields...)
	if err != nil {
		return err
	}
	defer p.Close()
	return halo.Verify(ctx, p)
}
