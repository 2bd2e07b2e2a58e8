package inproc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hilo-hpc/hilo/transport"
	"github.com/hilo-hpc/hilo/transport/inproc"
)

// A rank that fails must not leave the others waiting for it: Run cancels
// their ctx and reports the failing rank.
func TestRunCancelsOnFailure(t *testing.T) {
	boom := errors.New("boom")
	start := time.Now()
	err := inproc.Run(context.Background(), 3, func(ctx context.Context, c *transport.Comm) error {
		if c.Rank() == 1 {
			return boom
		}
		buf := make([]byte, 8)
		_, err := c.Recv(ctx, 1, 5, buf) // never sent
		return err
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "rank 1") {
		t.Fatalf("err = %v, want rank 1's error", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v: the other ranks were not cancelled", took)
	}
}

func ExampleRun() {
	err := inproc.Run(context.Background(), 4, func(ctx context.Context, c *transport.Comm) error {
		sum := []float64{float64(c.Rank())}
		if err := c.AllreduceFloat64(ctx, transport.Sum, sum, sum); err != nil {
			return err
		}
		if c.Rank() == 0 {
			fmt.Println("sum of ranks:", sum[0])
		}
		return nil
	})
	fmt.Println("error:", err)
	// Output:
	// sum of ranks: 6
	// error: <nil>
}
