package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/invoke"
	"github.com/signet/signet/internal/logs"
)

var identityTests = map[string]func(*testing.T, Opener){
	"iam/principals":     testIAMPrincipals,
	"iam/policies":       testIAMPolicies,
	"invoke/async-queue": testAsyncQueue,
	"invoke/async-lease": testAsyncLeaseRenewal,
	"invoke/concurrency": testConcurrency,
	"logs/events":        testLogEvents,
	"audit/batch-reopen": testAuditBatch,
}

func testIAMPrincipals(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	u := iam.User{Name: "dev", ID: "AIDA1", Path: "/", Created: t0}
	if err := db.IAM.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := db.IAM.CreateUser(ctx, u); !errors.Is(err, iam.ErrExists) {
		t.Errorf("second CreateUser = %v, want ErrExists", err)
	}
	if _, err := db.IAM.User(ctx, "nobody"); !errors.Is(err, iam.ErrNotFound) {
		t.Errorf("User(nobody) = %v, want ErrNotFound", err)
	}
	if err := db.IAM.SetBoundary(ctx, iam.KindUser, "dev", "arn:aws:iam::1:policy/b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.IAM.User(ctx, "dev"); got.Boundary != "arn:aws:iam::1:policy/b" || got.ID != "AIDA1" || !got.Created.Equal(t0) {
		t.Errorf("User = %+v", got)
	}
	r := iam.Role{Name: "ci", ID: "AROA1", Path: "/", TrustPolicy: "{}", MaxSessionDuration: 3600, Created: t0}
	if err := db.IAM.CreateRole(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := db.IAM.PutInlinePolicy(ctx, iam.KindRole, "ci", "p", "{}"); err != nil {
		t.Fatal(err)
	}
	if err := db.IAM.DeleteRole(ctx, "ci"); !errors.Is(err, iam.ErrConflict) {
		t.Errorf("DeleteRole with a policy = %v, want ErrConflict", err)
	}
	if err := db.IAM.DeleteInlinePolicy(ctx, iam.KindRole, "ci", "p"); err != nil {
		t.Fatal(err)
	}
	if err := db.IAM.DeleteRole(ctx, "ci"); err != nil {
		t.Errorf("DeleteRole = %v", err)
	}
	if roles, _ := db.IAM.ListRoles(ctx); len(roles) != 0 {
		t.Errorf("roles after delete: %+v", roles)
	}
}

func testIAMPolicies(t *testing.T, open Opener) {
	db, reopen := open(t)
	ctx := context.Background()
	db.IAM.CreateUser(ctx, iam.User{Name: "dev", ID: "AIDA1", Path: "/", Created: t0})
	if err := db.IAM.CreateManagedPolicy(ctx, iam.ManagedPolicy{Name: "readers", ID: "ANPA1", Path: "/", Document: `{"v":1}`, Created: t0}); err != nil {
		t.Fatal(err)
	}
	db.IAM.PutInlinePolicy(ctx, iam.KindUser, "dev", "b", `{"b":1}`)
	db.IAM.PutInlinePolicy(ctx, iam.KindUser, "dev", "a", `{"a":1}`)
	db.IAM.PutInlinePolicy(ctx, iam.KindUser, "dev", "a", `{"a":2}`) // replaces
	if err := db.IAM.AttachPolicy(ctx, iam.KindUser, "dev", "readers"); err != nil {
		t.Fatal(err)
	}
	db.IAM.AttachPolicy(ctx, iam.KindUser, "dev", "readers") // idempotent
	db = reopen()
	inline, attached, err := db.IAM.PrincipalPolicies(ctx, iam.KindUser, "dev")
	if want := []iam.InlinePolicy{{Name: "a", Document: `{"a":2}`}, {Name: "b", Document: `{"b":1}`}}; err != nil || !slices.Equal(inline, want) || len(attached) != 1 || attached[0] != "readers" {
		t.Errorf("PrincipalPolicies = %q %q %v, want %q [readers]", inline, attached, err, want)
	}
	if p, _ := db.IAM.ManagedPolicy(ctx, "readers"); p.Attachments != 1 {
		t.Errorf("attachments = %d, want 1", p.Attachments)
	}
	if err := db.IAM.CreateManagedPolicy(ctx, iam.ManagedPolicy{Name: "auditors", ID: "ANPA2", Path: "/team/", Document: `{"v":2}`, Created: t0}); err != nil {
		t.Fatal(err)
	}
	list, err := db.IAM.ListManagedPolicies(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "auditors" || list[0].Path != "/team/" || list[0].Attachments != 0 ||
		list[1].Name != "readers" || list[1].Attachments != 1 || list[1].Document != `{"v":1}` || !list[1].Created.Equal(t0) {
		t.Errorf("ListManagedPolicies = %+v, %v", list, err)
	}
	if err := db.IAM.DeleteManagedPolicy(ctx, "auditors"); err != nil {
		t.Fatal(err)
	}
	if err := db.IAM.DeleteManagedPolicy(ctx, "readers"); !errors.Is(err, iam.ErrConflict) {
		t.Errorf("DeleteManagedPolicy while attached = %v, want ErrConflict", err)
	}
	if err := db.IAM.DetachPolicy(ctx, iam.KindUser, "dev", "readers"); err != nil {
		t.Fatal(err)
	}
	if err := db.IAM.DetachPolicy(ctx, iam.KindUser, "dev", "readers"); !errors.Is(err, iam.ErrNotFound) {
		t.Errorf("second DetachPolicy = %v, want ErrNotFound", err)
	}
	db.IAM.SetBoundary(ctx, iam.KindUser, "dev", "arn:aws:iam::1:policy/readers")
	if err := db.IAM.DeleteManagedPolicy(ctx, "readers"); !errors.Is(err, iam.ErrConflict) {
		t.Errorf("DeleteManagedPolicy while a boundary = %v, want ErrConflict", err)
	}
	db.IAM.SetBoundary(ctx, iam.KindUser, "dev", "")
	if err := db.IAM.DeleteManagedPolicy(ctx, "readers"); err != nil {
		t.Errorf("DeleteManagedPolicy = %v", err)
	}
}

func testAsyncQueue(t *testing.T, open Opener) {
	db, reopen := open(t)
	ctx := context.Background()
	for i, id := range []string{"a", "b"} {
		if err := db.Lambda.EnqueueAsync(ctx, invoke.AsyncInvocation{ID: id, Function: "f", Qualifier: "$LATEST", Payload: []byte(`{}`),
			CreatedAt: t0.Add(time.Duration(i) * time.Second), NotBefore: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(time.Minute)
	a, ok, err := db.Lambda.ClaimAsync(ctx, now, time.Minute)
	if err != nil || !ok || a.ID != "a" || string(a.Payload) != "{}" {
		t.Fatalf("claim = %+v %v %v", a, ok, err)
	}
	if b, ok, _ := db.Lambda.ClaimAsync(ctx, now, time.Minute); !ok || b.ID != "b" {
		t.Fatalf("second claim = %+v %v", b, ok)
	}
	if _, ok, _ := db.Lambda.ClaimAsync(ctx, now, time.Minute); ok {
		t.Fatal("a leased invocation was claimed again")
	}
	if err := db.Lambda.RetryAsync(ctx, "a", 1, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if x, ok, _ := db.Lambda.ClaimAsync(ctx, now.Add(2*time.Minute), time.Minute); ok && x.ID == "a" {
		t.Error("an invocation was claimed before its retry time")
	}
	db = reopen()
	if err := db.Lambda.ReleaseAsyncLeases(ctx); err != nil {
		t.Fatal(err)
	}
	if b, ok, _ := db.Lambda.ClaimAsync(ctx, now, time.Minute); !ok || b.ID != "b" {
		t.Errorf("after a restart the leased invocation is not claimable: %+v %v", b, ok)
	}
	db.Lambda.DeleteAsync(ctx, "b")
	if a, ok, _ := db.Lambda.ClaimAsync(ctx, now.Add(2*time.Hour), time.Minute); !ok || a.ID != "a" || a.Attempts != 1 {
		t.Errorf("retried invocation = %+v %v", a, ok)
	}
	db.Lambda.DeleteAsync(ctx, "a")
	if n, _ := db.Lambda.PendingAsync(ctx); n != 0 {
		t.Errorf("%d pending after deletes", n)
	}
}

func testConcurrency(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	if n, err := db.Lambda.FunctionConcurrency(ctx, "f"); err != nil || n != -1 {
		t.Errorf("no reservation = %d %v, want -1", n, err)
	}
	if err := db.Lambda.SetFunctionConcurrency(ctx, "f", 3); !errors.Is(err, functions.ErrNotFound) {
		t.Errorf("reserving for a function that does not exist = %v, want ErrNotFound", err)
	}
	for _, name := range []string{"f", "g"} {
		if err := db.Lambda.CreateFunction(ctx, functions.Function{Name: name, Runtime: "python3.12", Handler: "a.b", Role: "r", Timeout: 3, MemorySize: 128, CodePath: "p", LastModified: t0}, ""); err != nil {
			t.Fatal(err)
		}
	}
	db.Lambda.SetFunctionConcurrency(ctx, "f", 3)
	db.Lambda.SetFunctionConcurrency(ctx, "f", 5)
	db.Lambda.SetFunctionConcurrency(ctx, "g", 0)
	if all, _ := db.Lambda.AllFunctionConcurrency(ctx); len(all) != 2 || all["f"] != 5 || all["g"] != 0 {
		t.Errorf("AllFunctionConcurrency = %v", all)
	}
	db.Lambda.SetFunctionConcurrency(ctx, "f", -1)
	if n, _ := db.Lambda.FunctionConcurrency(ctx, "f"); n != -1 {
		t.Errorf("after removal = %d", n)
	}
}

func testLogEvents(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	var evs []logs.Event
	for i := range 5 {
		stream := "s1"
		if i%2 == 1 {
			stream = "s2"
		}
		evs = append(evs, logs.Event{Group: "/aws/lambda/f", Stream: stream, Time: t0.Add(time.Duration(i) * time.Second), Ingested: t0, Message: string(rune('a' + i))})
	}
	evs = append(evs, logs.Event{Group: "/aws/lambda/g", Stream: "s1", Time: t0, Ingested: t0, Message: "other"})
	if err := db.Logs.AppendLogEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	all, _ := db.Logs.LogEvents(ctx, logs.Query{Group: "/aws/lambda/f"})
	if len(all) != 5 || all[0].Message != "a" || all[4].Message != "e" {
		t.Fatalf("LogEvents = %+v", all)
	}
	page, _ := db.Logs.LogEvents(ctx, logs.Query{Group: "/aws/lambda/f", AfterID: all[1].ID, Limit: 2})
	if len(page) != 2 || page[0].Message != "c" {
		t.Errorf("page after b = %+v", page)
	}
	s2, _ := db.Logs.LogEvents(ctx, logs.Query{Group: "/aws/lambda/f", Streams: []string{"s2"}})
	ranged, _ := db.Logs.LogEvents(ctx, logs.Query{Group: "/aws/lambda/f", Start: t0.Add(time.Second), End: t0.Add(3 * time.Second)})
	if len(s2) != 2 || len(ranged) != 2 || ranged[0].Message != "b" {
		t.Errorf("stream s2 = %+v, range [1s,3s) = %+v", s2, ranged)
	}
	if ok, err := db.Logs.LogGroupExists(ctx, "/aws/lambda/f"); !ok || err != nil {
		t.Errorf("LogGroupExists(f) = %v %v", ok, err)
	}
	if ok, _ := db.Logs.LogGroupExists(ctx, "/aws/lambda/none"); ok {
		t.Error("LogGroupExists(none) = true")
	}
	if groups, _ := db.Logs.LogGroups(ctx, "/aws/lambda/"); len(groups) != 2 {
		t.Errorf("LogGroups = %v", groups)
	}
	if streams, _ := db.Logs.LogStreams(ctx, "/aws/lambda/f", ""); len(streams) != 2 || streams[0].Name != "s1" {
		t.Errorf("LogStreams = %+v", streams)
	}
	db.Logs.DeleteLogEventsBefore(ctx, t0.Add(2*time.Second))
	if left, _ := db.Logs.LogEvents(ctx, logs.Query{Group: "/aws/lambda/f"}); len(left) != 3 {
		t.Errorf("after retention %d events, want 3", len(left))
	}
}

func testAuditBatch(t *testing.T, open Opener) {
	db, reopen := open(t)
	ctx := context.Background()
	events := []audit.Event{{Time: t0, Action: "a"}, {Time: t0, Action: "b"}, {Time: t0, Action: "c"}}
	build := func(i int, seq int64, prev string) (audit.Record, error) {
		h, err := audit.Hash(prev, events[i])
		return audit.Record{Seq: seq, Event: events[i], PrevHash: prev, Hash: h}, err
	}
	if err := db.Audit.AppendAuditBatch(ctx, 2, build); err != nil {
		t.Fatal(err)
	}
	events = events[2:]
	if err := db.Audit.AppendAuditBatch(ctx, 1, build); err != nil {
		t.Fatal(err)
	}
	last, err := db.Audit.LastAuditRecord(ctx)
	if err != nil || last == nil || last.Seq != 3 || last.Event.Action != "c" {
		t.Fatalf("LastAuditRecord = %+v %v", last, err)
	}
	if err := db.Audit.AddCheckpoint(ctx, audit.Checkpoint{Seq: 3, Hash: last.Hash, Time: t0, KeyID: "k", Signature: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	db = reopen()
	if n, err := (&audit.Log{Store: db.Audit}).Verify(ctx); err != nil || n != 3 {
		t.Errorf("Verify after reopen = %d %v", n, err)
	}
	if cps, _ := db.Audit.Checkpoints(ctx); len(cps) != 1 || cps[0].Hash != last.Hash {
		t.Errorf("Checkpoints = %+v", cps)
	}
}

// testAsyncLeaseRenewal: a claim renews its lease by the lease it
// holds; a claim taken over renews nothing.
func testAsyncLeaseRenewal(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	if err := db.Lambda.EnqueueAsync(ctx, invoke.AsyncInvocation{ID: "a", Function: "f", Qualifier: "$LATEST", Payload: []byte(`{}`), CreatedAt: t0, NotBefore: t0}); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Minute)
	a, ok, err := db.Lambda.ClaimAsync(ctx, now, time.Minute)
	if err != nil || !ok || !a.LeaseUntil.Equal(now.Add(time.Minute)) {
		t.Fatalf("claim = %+v %v %v", a, ok, err)
	}
	if ok, err := db.Lambda.RenewAsyncLease(ctx, "a", a.LeaseUntil, now.Add(3*time.Minute)); err != nil || !ok {
		t.Fatalf("renewal = %v %v", ok, err)
	}
	if _, ok, _ := db.Lambda.ClaimAsync(ctx, now.Add(2*time.Minute), time.Minute); ok {
		t.Fatal("an invocation whose lease was renewed was claimed again")
	}
	if ok, _ := db.Lambda.RenewAsyncLease(ctx, "a", a.LeaseUntil, now.Add(5*time.Minute)); ok {
		t.Error("a renewal by the lease it no longer holds succeeded")
	}
	b, ok, _ := db.Lambda.ClaimAsync(ctx, now.Add(4*time.Minute), time.Minute)
	if !ok || b.ID != "a" {
		t.Fatalf("claim after the renewed lease lapsed = %+v %v", b, ok)
	}
	if ok, _ := db.Lambda.RenewAsyncLease(ctx, "a", now.Add(3*time.Minute), now.Add(9*time.Minute)); ok {
		t.Error("the first claim renewed the second's lease")
	}
}
