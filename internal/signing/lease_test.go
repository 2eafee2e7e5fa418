package signing_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet/signet/internal/signing"
	"github.com/signet/signet/internal/store"
)

// TestRunnerHoldsItsLease: while a worker works a job it renews the
// claim's lease, so the job is not claimed again however long the work
// takes; a worker whose claim was taken over (it stalled past the lease)
// is told to stop.
func TestRunnerHoldsItsLease(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "signet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const lease = 300 * time.Millisecond
	r := &signing.Runner{Service: &signing.Service{Jobs: db.Signing}, Lease: lease}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	newJob := func(id string) signing.Job {
		j := signing.Job{ID: id, Kind: signing.KindObject, ClientRequestToken: id, ProfileName: "p", ProfileVersion: "v", PlatformID: signing.PlatformLambda,
			SourceBucket: "b", SourceKey: "k", SourceVersion: "v", DestBucket: "b", Status: signing.JobInProgress,
			CreatedAt: time.Now().Add(-time.Hour), RequestedBy: "arn:aws:iam::123456789012:root", Owner: "123456789012", Invoker: "123456789012"}
		if _, _, err := db.Signing.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		claimed, ok, err := db.Signing.ClaimJob(ctx, time.Now(), lease)
		if err != nil || !ok || claimed.ID != id {
			t.Fatalf("claim = %+v %v %v", claimed, ok, err)
		}
		return claimed
	}
	poll := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s", what)
			}
		}
	}

	j := newJob("held")
	workCtx, stop := r.HoldLease(ctx, j, log)
	first, _ := db.Signing.Job(ctx, "held")
	poll("the lease to be renewed", func() bool {
		now, _ := db.Signing.Job(ctx, "held")
		return now.LeaseUntil.After(first.LeaseUntil)
	})
	// Renewed past any lapse of the first lease: no one can claim it.
	poll("a renewal reaching past the first lease", func() bool {
		now, _ := db.Signing.Job(ctx, "held")
		return now.LeaseUntil.After(first.LeaseUntil.Add(lease))
	})
	if _, ok, _ := db.Signing.ClaimJob(ctx, first.LeaseUntil.Add(lease/2), lease); ok {
		t.Error("a job whose worker renews its lease was claimed again")
	}
	if workCtx.Err() != nil {
		t.Error("the worker was told to stop while it held its lease")
	}
	stop()
	if err := db.Signing.FinishJob(ctx, "held", func(j *signing.Job) error { j.Status = signing.JobSucceeded; return nil }); err != nil {
		t.Fatal(err)
	}

	// A claim taken over: the stalled worker is told to stop.
	k := newJob("stalled")
	if again, ok, _ := db.Signing.ClaimJob(ctx, time.Now().Add(time.Hour), lease); !ok || again.ID != "stalled" {
		t.Fatalf("claim after the lease lapsed = %+v %v", again, ok)
	}
	workCtx, stop = r.HoldLease(ctx, k, log)
	defer stop()
	poll("the stalled worker to be told to stop", func() bool { return workCtx.Err() != nil })
}
