package athena

import (
	"context"
	"time"
)

// SetSleep replaces the engine's sleep between polls (tests record the
// delays instead of waiting).
func SetSleep(e *Engine, f func(ctx context.Context, d time.Duration) error) { e.sleep = f }

// SetNow replaces the engine's clock.
func SetNow(e *Engine, now func() time.Time) { e.now = now }
