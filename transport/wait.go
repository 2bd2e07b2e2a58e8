package transport

import (
	"context"
	"fmt"
	"time"
)

// waitLoop is the one place where a Comm waits. It follows the Doorbell
// protocol: read the sequence, make progress on every link and poll the
// condition (both with c.mu held), and sleep on the doorbell only if nothing
// moved. A ring that happens after the sequence was read makes Sleep return
// at once, so no wake-up is lost between the attempt and the sleep.
//
// Each sleep is capped at the check interval (and at ctx's deadline); once per
// interval check runs (with c.mu held) to ask the links waited on whether
// their peers live. A lost peer fails its requests, which poll then sees.
//
// It returns nil once poll reports true, or an error wrapping ErrTimeout and
// ctx's error.
func (c *Comm) waitLoop(ctx context.Context, poll func() bool, check func()) error {
	deadline, hasDeadline := ctx.Deadline()
	var lastCheck time.Time
	cancelHooked := false
	for {
		seq := c.bell.Seq()
		c.mu.Lock()
		moved := c.progressLocked()
		done := poll()
		c.mu.Unlock()
		if done {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", ErrTimeout, err)
		}
		if moved {
			continue
		}
		now := time.Now()
		if lastCheck.IsZero() {
			lastCheck = now
		} else if now.Sub(lastCheck) >= c.checkInterval {
			lastCheck = now
			c.mu.Lock()
			check()
			c.mu.Unlock()
			continue // poll again before sleeping: the check may have failed requests
		}
		d := c.checkInterval - now.Sub(lastCheck)
		if !hasDeadline && !cancelHooked && ctx.Done() != nil {
			// A cancellation without a deadline rings the doorbell, so
			// that it is noticed at once rather than after the interval.
			// (This allocates, on the slow path of a cancellable wait.)
			stop := context.AfterFunc(ctx, c.bell.Ring)
			defer stop()
			cancelHooked = true
		}
		if hasDeadline {
			left := deadline.Sub(now)
			if left <= 0 {
				return fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded)
			}
			d = min(d, left)
		}
		c.bell.Sleep(seq, d)
	}
}
