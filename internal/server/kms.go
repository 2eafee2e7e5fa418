package server

import (
	"context"
	"time"
)

// kmsDestroyInterval is how often KMS keys whose pending deletion has
// ended are looked for and destroyed.
const kmsDestroyInterval = time.Minute

// destroyKMSKeys destroys the KMS keys whose deletion date has passed, at
// start and then every kmsDestroyInterval, until ctx ends.
func (s *Server) destroyKMSKeys(ctx context.Context) {
	if s.KMS == nil {
		return
	}
	t := time.NewTicker(kmsDestroyInterval)
	defer t.Stop()
	for {
		n, err := s.KMS.DestroyDue(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.WarnContext(ctx, "failed to destroy the KMS keys due for deletion", "err", err)
		case n > 0:
			s.log.InfoContext(ctx, "destroyed KMS keys whose pending deletion ended", "keys", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
