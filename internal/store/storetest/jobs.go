package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/signet/signet/internal/signing"
)

var jobTests = map[string]func(*testing.T, Opener){
	"jobs/idempotent-create": testJobCreate,
	"jobs/queue":             testJobQueue,
	"jobs/revocation":        testJobRevocation,
	"jobs/lease-renewal":     testJobLeaseRenewal,
}

func job(id, token string, created time.Time) signing.Job {
	return signing.Job{ID: id, ClientRequestToken: token, Kind: signing.KindObject, ProfileName: "alpha", ProfileVersion: "v000000001",
		PlatformID: signing.PlatformLambda, SourceBucket: "b", SourceKey: "k", SourceVersion: "v", DestBucket: "b",
		Status: signing.JobInProgress, CreatedAt: created, RequestedBy: "arn:aws:iam::123456789012:root", Owner: "123456789012", Invoker: "123456789012"}
}

func testJobCreate(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	j, created, err := db.Signing.CreateJob(ctx, job("j1", "tok", t0))
	if err != nil || !created || j.ID != "j1" {
		t.Fatalf("CreateJob = %+v, %v, %v", j, created, err)
	}
	again, created, err := db.Signing.CreateJob(ctx, job("j2", "tok", t0.Add(time.Second)))
	if err != nil || created || again.ID != "j1" {
		t.Errorf("CreateJob with the same token = %s, %v, %v; want j1, false", again.ID, created, err)
	}
	if _, err := db.Signing.Job(ctx, "j2"); !errors.Is(err, signing.ErrNotFound) {
		t.Errorf("the duplicate was stored: %v", err)
	}
}

func testJobQueue(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	for i, id := range []string{"a", "b"} {
		if _, _, err := db.Signing.CreateJob(ctx, job(id, id, t0.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(time.Minute)
	first, ok, err := db.Signing.ClaimJob(ctx, now, 30*time.Second)
	if err != nil || !ok || first.ID != "a" || first.Attempts != 1 {
		t.Fatalf("first claim = %+v, %v, %v", first, ok, err)
	}
	second, ok, _ := db.Signing.ClaimJob(ctx, now, 30*time.Second)
	if !ok || second.ID != "b" {
		t.Fatalf("second claim = %+v, %v; want b", second, ok)
	}
	if _, ok, _ := db.Signing.ClaimJob(ctx, now, 30*time.Second); ok {
		t.Fatal("a leased job was claimed again before its lease lapsed")
	}
	again, ok, _ := db.Signing.ClaimJob(ctx, now.Add(time.Minute), 30*time.Second)
	if !ok || again.ID != "a" || again.Attempts != 2 {
		t.Errorf("claim after the lease lapsed = %+v, %v; want a, attempt 2", again, ok)
	}
	if err := db.Signing.FinishJob(ctx, "a", func(j *signing.Job) error {
		j.Status, j.StatusReason, j.SignedKey, j.LeafSerial = signing.JobSucceeded, "Signing Succeeded", "out.zip", "abc"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Signing.FinishJob(ctx, "a", func(*signing.Job) error { return nil }); !errors.Is(err, signing.ErrConflict) {
		t.Errorf("finishing a finished job = %v, want ErrConflict", err)
	}
	got, _ := db.Signing.Job(ctx, "a")
	if got.Status != signing.JobSucceeded || got.SignedKey != "out.zip" || got.LeafSerial != "abc" || !got.LeaseUntil.IsZero() {
		t.Errorf("finished job = %+v", got)
	}
	if err := db.Signing.ReleaseLeases(ctx); err != nil {
		t.Fatal(err)
	}
	if b, ok, _ := db.Signing.ClaimJob(ctx, now, 30*time.Second); !ok || b.ID != "b" {
		t.Errorf("after ReleaseLeases the leased job b is not claimable: %+v %v", b, ok)
	}
}

func testJobRevocation(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	j := job("r", "r", t0)
	j.Status, j.LeafSerial = signing.JobSucceeded, "0badc0de"
	if _, _, err := db.Signing.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Signing.RevocationEpoch(ctx); err != nil || n != 0 {
		t.Errorf("RevocationEpoch before any = %d, %v", n, err)
	}
	if err := db.Signing.UpdateJob(ctx, "r", func(j *signing.Job) error {
		j.RevokedAt, j.RevokedBy, j.RevocationReason = t0.Add(time.Hour), "me", "why"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A refused update counts nothing; a revoked profile version counts.
	db.Signing.UpdateJob(ctx, "r", func(*signing.Job) error { return signing.ErrConflict })
	mustCreate(t, db, "epoch")
	if err := db.Signing.RevokeVersion(ctx, "epoch", "v000000001", func(p *signing.Profile, v *signing.Version) error {
		v.RevokedAt, v.EffectiveFrom = t0, t0
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Signing.RevocationEpoch(ctx); err != nil || n != 2 {
		t.Errorf("RevocationEpoch after two revocations = %d, %v", n, err)
	}
	leaves, err := db.Signing.RevokedLeaves(ctx, "alpha", "v000000001")
	if err != nil || len(leaves) != 1 || leaves[0].Serial != "0badc0de" || !leaves[0].RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("RevokedLeaves = %+v, %v", leaves, err)
	}
	yes := true
	if l, _ := db.Signing.ListJobs(ctx, signing.JobQuery{Revoked: &yes, Limit: 10}); len(l) != 1 {
		t.Errorf("ListJobs(revoked) = %d jobs", len(l))
	}
	if err := db.Signing.UpdateJob(ctx, "missing", func(*signing.Job) error { return nil }); !errors.Is(err, signing.ErrNotFound) {
		t.Errorf("UpdateJob(missing) = %v", err)
	}
	for name, c := range map[string]struct {
		profile, version, serial string
		want                     error
	}{
		"ok":                 {"alpha", "v000000001", "0badc0de", nil},
		"fail/other-serial":  {"alpha", "v000000001", "0badc0df", signing.ErrNotFound},
		"fail/other-version": {"alpha", "v000000002", "0badc0de", signing.ErrNotFound},
		"fail/other-profile": {"beta", "v000000001", "0badc0de", signing.ErrNotFound},
	} {
		got, err := db.Signing.LeafJob(ctx, c.profile, c.version, c.serial)
		if !errors.Is(err, c.want) || (c.want == nil && (got.ID != "r" || !got.RevokedAt.Equal(t0.Add(time.Hour)))) {
			t.Errorf("%s: LeafJob = %+v, %v; want job r or %v", name, got.ID, err, c.want)
		}
	}
}

// testJobLeaseRenewal: a worker renews its claim's lease, which keeps
// the job from being claimed again; a stale claim (the job claimed again
// after its lease lapsed) and a finished job renew nothing.
func testJobLeaseRenewal(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	if _, _, err := db.Signing.CreateJob(ctx, job("j", "tok", t0)); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Minute)
	first, ok, err := db.Signing.ClaimJob(ctx, now, 30*time.Second)
	if err != nil || !ok || first.Attempts != 1 {
		t.Fatalf("claim = %+v %v %v", first, ok, err)
	}
	if ok, err := db.Signing.RenewJobLease(ctx, "j", 1, now.Add(2*time.Minute)); err != nil || !ok {
		t.Fatalf("renewing the claim's lease = %v %v", ok, err)
	}
	if _, ok, _ := db.Signing.ClaimJob(ctx, now.Add(time.Minute), 30*time.Second); ok {
		t.Fatal("a job whose lease was renewed was claimed again")
	}
	if ok, _ := db.Signing.RenewJobLease(ctx, "j", 2, now.Add(5*time.Minute)); ok {
		t.Error("a claim that was never made renewed the lease")
	}
	second, ok, _ := db.Signing.ClaimJob(ctx, now.Add(3*time.Minute), 30*time.Second)
	if !ok || second.Attempts != 2 {
		t.Fatalf("claim after the renewed lease lapsed = %+v %v", second, ok)
	}
	if ok, _ := db.Signing.RenewJobLease(ctx, "j", 1, now.Add(10*time.Minute)); ok {
		t.Error("the stale first claim renewed the lease of the second")
	}
	if err := db.Signing.FinishJob(ctx, "j", func(j *signing.Job) error { j.Status = signing.JobSucceeded; return nil }); err != nil {
		t.Fatal(err)
	}
	if ok, _ := db.Signing.RenewJobLease(ctx, "j", 2, now.Add(10*time.Minute)); ok {
		t.Error("a finished job's lease was renewed")
	}
}
