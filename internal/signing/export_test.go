package signing

import (
	"context"
	"log/slog"
)

// HoldLease exposes holdLease to the external tests.
func (r *Runner) HoldLease(ctx context.Context, j Job, log *slog.Logger) (context.Context, func()) {
	r.init()
	return r.holdLease(ctx, j, log)
}
