package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/signet/signet/internal/objects/blobstore"
	"github.com/signet/signet/internal/objects/sweep"
	"github.com/signet/signet/internal/store"
)

// The object data store can hold data nothing refers to: a process that
// died between writing an object's data and recording it (or between
// forgetting data and deleting it) leaves it behind. Every hour one node
// (the holder of the "object-gc" lease, when nodes share a database)
// moves to the trash the data no metadata refers to and older than an
// hour, which is longer than any write takes between its data and its
// record, and deletes what has been in the trash a week (sweep.Run).
const (
	objectGCEvery = time.Hour
	objectGCGrace = time.Hour
	objectGCTrash = 7 * 24 * time.Hour
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
			ok, err := s.db.AcquireLease(ctx, objectGCLease, s.nodeID, now, now.Add(objectGCEvery-time.Minute))
			if err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "failed to take the object data sweep's lease", "err", err)
			}
			if !ok {
				continue
			}
		}
		r, err := s.SweepObjects(ctx, objectGCGrace, false)
		if err != nil {
			if ctx.Err() == nil {
				s.log.ErrorContext(ctx, "the object data sweep stopped before moving anything", "err", err)
			}
			continue
		}
		if len(r.Deleted) > 0 || r.Purged > 0 {
			s.log.InfoContext(ctx, "object data nothing refers to moved to the trash", "moved", len(r.Deleted), "purged_from_trash", r.Purged, "listed", r.Listed)
		}
	}
}

// InstallationMarker is the path, in the object data store, of the id of
// the installation whose data it holds. Data nothing of an installation
// refers to is garbage only if the store is that installation's alone:
// two installations on one bucket would sweep each other's data away.
const InstallationMarker = sweep.MarkerName

// InstallationID names an installation: the SHA-256 of its root
// certificate, in hex.
func InstallationID(root *x509.Certificate) string {
	sum := sha256.Sum256(root.Raw)
	return hex.EncodeToString(sum[:16])
}

// ErrStoreOfAnother is returned when the object data store holds another
// installation's data.
var ErrStoreOfAnother = errors.New("the object data store holds another installation's data")

// ClaimObjectStore records the installation in the object data store, or
// checks that the one recorded there is this one.
func ClaimObjectStore(ctx context.Context, data *blobstore.Store, id string) error {
	return checkObjectStore(ctx, data, id, true)
}

// CheckObjectStore checks that the object data store is the one of the
// installation whose database db is (signet store gc does not sweep a
// store it cannot tell is the installation's own).
func CheckObjectStore(ctx context.Context, db *store.DB, data *blobstore.Store) error {
	v, err := db.Setting(ctx, settingRootCert)
	if err != nil {
		return fmt.Errorf("the database holds no installation: %w", err)
	}
	der, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return fmt.Errorf("the installation's root certificate: %w", err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("the installation's root certificate: %w", err)
	}
	return checkObjectStore(ctx, data, InstallationID(root), false)
}

func checkObjectStore(ctx context.Context, data *blobstore.Store, id string, claim bool) error {
	ok, err := data.Exists(ctx, InstallationMarker)
	if err != nil {
		return err
	}
	if !ok && claim {
		// Only if still absent: of two installations starting on one
		// empty store, one records itself and the other is refused.
		err := data.WriteNew(ctx, InstallationMarker, []byte(id+"\n"))
		if err == nil {
			return nil
		}
		if !errors.Is(err, blobstore.ErrExists) {
			return err
		}
	}
	if !ok {
		return fmt.Errorf("the object data store has no %s: start signet serve on it once, so that it records whose data it holds", InstallationMarker)
	}
	r, err := data.NewRangeReader(ctx, InstallationMarker, 0, -1)
	if err != nil {
		return err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 1024))
	if err != nil {
		return err
	}
	if got := string(bytes.TrimSpace(b)); got != id {
		return fmt.Errorf("%w (installation %s; this one is %s): give each installation its own bucket, or a prefix of its own (s3://BUCKET?prefix=NAME/)", ErrStoreOfAnother, got, id)
	}
	return nil
}

// SweepObjects moves to the trash (or, dry, lists) the object data
// nothing refers to that is older than grace.
func (s *Server) SweepObjects(ctx context.Context, grace time.Duration, dry bool) (sweep.Report, error) {
	return SweepObjectData(ctx, s.db, s.s3.data, s.now(), grace, dry)
}

// SweepObjectData sweeps data against the metadata in db, after checking
// that the store is db's installation's.
func SweepObjectData(ctx context.Context, db *store.DB, data *blobstore.Store, now time.Time, grace time.Duration, dry bool) (sweep.Report, error) {
	if err := CheckObjectStore(ctx, db, data); err != nil {
		return sweep.Report{}, err
	}
	refs, newest, err := db.ReferencedBlobs(ctx) // before the listing: see sweep.Run
	if err != nil {
		return sweep.Report{}, err
	}
	return sweep.Run(ctx, data, refs, sweep.Options{Before: now.Add(-grace), Newest: newest, Now: now, KeepTrash: objectGCTrash, Dry: dry})
}
