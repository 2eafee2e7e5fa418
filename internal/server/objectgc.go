package server

import (
	"context"
	"time"

	"github.com/signet/signet/internal/objects"
)

// The object data store can hold data nothing refers to: a process that
// died between writing an object's data and recording it (or between
// forgetting data and deleting it) leaves it behind. Every hour one node
// (the holder of the "object-gc" lease, when nodes share a database)
// deletes data no metadata refers to and older than an hour, which is
// longer than any write takes between its data and its record.
const (
	objectGCEvery = time.Hour
	objectGCGrace = time.Hour
	objectGCLease = "object-gc"
)

// runObjectGC sweeps the object data store every objectGCEvery until ctx
// ends.
func (s *Server) runObjectGC(ctx context.Context) {
	t := time.NewTicker(objectGCEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.shared() {
			// Held until just before the next sweep: one node sweeps per
			// period, whichever gets there first.
			now := s.now()
			if ok, err := s.db.AcquireLease(ctx, objectGCLease, s.nodeID, now, now.Add(objectGCEvery-time.Minute)); err != nil || !ok {
				continue
			}
		}
		r, err := s.SweepObjects(ctx, objectGCGrace, false)
		if err != nil {
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "failed to sweep the object data store", "err", err)
			}
			continue
		}
		if len(r.Deleted) > 0 {
			s.log.InfoContext(ctx, "deleted object data nothing refers to", "deleted", len(r.Deleted), "listed", r.Listed)
		}
	}
}

// SweepObjects deletes (or, dry, lists) the object data nothing refers
// to that is older than grace.
func (s *Server) SweepObjects(ctx context.Context, grace time.Duration, dry bool) (objects.SweepReport, error) {
	return SweepObjectData(ctx, s.db, s.s3.data, s.now().Add(-grace), dry)
}

// SweepObjectData sweeps data against the metadata in db: what db does not
// refer to and was modified before before goes.
func SweepObjectData(ctx context.Context, db interface {
	ReferencedBlobs(context.Context) (map[string]bool, error)
}, data objects.Lister, before time.Time, dry bool) (objects.SweepReport, error) {
	refs, err := db.ReferencedBlobs(ctx) // before the listing: see objects.Sweep
	if err != nil {
		return objects.SweepReport{}, err
	}
	return objects.Sweep(ctx, data, refs, before, dry)
}
