package halo_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/halo"
	"github.com/hilo-hpc/hilo/transport"
)

// TestPlanOrderAndTimeout: calls out of order fail with ErrState without
// breaking the plan; a Wait whose context expires can be called again and
// finishes the step.
func TestPlanOrderAndTimeout(t *testing.T) {
	g := decomp.Grid{Dims: [3]int{8, 6, 4}, Periodic: [3]bool{true, false, false}}
	d, err := decomp.Decompose(g, 2, decomp.Options{Method: decomp.MethodBlock})
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	err = runRanks(t, 2, func(ctx context.Context, c *transport.Comm) error {
		f, err := halo.NewField[float64](d, c.Rank(), decomp.UniformHalo(1, decomp.Faces))
		if err != nil {
			return err
		}
		p, err := halo.NewPlan(ctx, c, halo.PlanOptions{Slots: 1}, f)
		if err != nil {
			return err
		}
		defer p.Close()
		if err := p.Wait(ctx); !errors.Is(err, halo.ErrState) {
			return fmt.Errorf("Wait before Start = %v, want ErrState", err)
		}
		if c.Rank() == 1 {
			<-ready // rank 0 has timed out waiting for this rank's message
			if err := p.Exchange(ctx); err != nil {
				return err
			}
			return halo.Verify(ctx, p)
		}
		if err := p.Start(ctx); err != nil {
			return err
		}
		if err := p.Start(ctx); !errors.Is(err, halo.ErrState) {
			return fmt.Errorf("Start twice = %v, want ErrState", err)
		}
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err = p.Wait(short)
		cancel()
		if !errors.Is(err, transport.ErrTimeout) {
			return fmt.Errorf("Wait with nobody sending = %v, want a timeout", err)
		}
		close(ready)
		if err := p.Wait(ctx); err != nil {
			return fmt.Errorf("Wait after timeout: %w", err)
		}
		return halo.Verify(ctx, p)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStartTimeout: with one slot per channel, Start waits for the peer to
// release the previous message; if ctx expires meanwhile it can be called
// again and the step completes.
func TestStartTimeout(t *testing.T) {
	g := decomp.Grid{Dims: [3]int{8, 6, 4}, Periodic: [3]bool{true, true, false}}
	d, err := decomp.Decompose(g, 2, decomp.Options{Method: decomp.MethodBlock})
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	err = runRanks(t, 2, func(ctx context.Context, c *transport.Comm) error {
		f, err := halo.NewField[float32](d, c.Rank(), decomp.UniformHalo(2, decomp.Edges))
		if err != nil {
			return err
		}
		p, err := halo.NewPlan(ctx, c, halo.PlanOptions{Slots: 1}, f)
		if err != nil {
			return err
		}
		defer p.Close()
		if c.Rank() == 1 {
			if err := p.Start(ctx); err != nil {
				return err
			}
			<-ready // rank 0 has timed out waiting for a free slot
			if err := p.Wait(ctx); err != nil {
				return err
			}
			if err := p.Exchange(ctx); err != nil {
				return err
			}
			return halo.Verify(ctx, p)
		}
		if err := p.Exchange(ctx); err != nil {
			return err
		}
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err = p.Start(short)
		cancel()
		if !errors.Is(err, transport.ErrTimeout) {
			return fmt.Errorf("Start with the slot in use = %v, want a timeout", err)
		}
		close(ready)
		if err := p.Start(ctx); err != nil {
			return fmt.Errorf("Start after timeout: %w", err)
		}
		if err := p.Wait(ctx); err != nil {
			return err
		}
		return halo.Verify(ctx, p)
	})
	if err != nil {
		t.Fatal(err)
	}
}
