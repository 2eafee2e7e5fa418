package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/deploygate"
	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/signing"
	"github.com/signet/signet/internal/store"
)

// Exec runs a statement on a store's database behind its back, for the
// tests that tamper with it; they are skipped while it is nil. The
// engine's test sets it (the store exports raw SQL to its own tests
// only). Statements take no parameters.
var Exec func(ctx context.Context, db *store.DB, q string) error

var consoleTests = map[string]func(*testing.T, Opener){
	"audit/search":         testAuditSearch,
	"audit/forged-index":   testAuditForgedIndex,
	"audit/backfill":       testAuditBackfill,
	"audit/counts-per-day": testAuditCountsPerDay,
	"console/sessions":     testConsoleSessions,
	"console/activity":     testActivityCounts,
	"console/session-key":  testConsoleSessionsOfKey,
}

// auditFixture appends, oldest first: 1 alice StartSigningJob (day 0),
// 2 bob's deployment the gate refused (day 0), 3 alice's revocation
// (day 1), 4 a break-glass CreateUser (day 1), 5 alice's
// GetSigningProfile (day 2), 6 a gate warning to bob (day 2).
func auditFixture(t *testing.T, db *store.DB) {
	t.Helper()
	const alice, bob, root = "arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/bob", "arn:aws:iam::123456789012:root"
	day := t0.Truncate(24 * time.Hour)
	events := []audit.Event{
		{Time: day.Add(time.Hour), Principal: alice, Action: "signer:StartSigningJob", Resource: "p", Decision: "Allow", Outcome: "200"},
		{Time: day.Add(2 * time.Hour), Principal: bob, Action: "lambda:CreateFunction", Resource: "f", Decision: "Deny", Outcome: "CodeVerificationFailedException",
			Detail: "code signing check unsigned failed: "},
		{Time: day.Add(25 * time.Hour), Principal: alice, Action: "signer:RevokeSignature", Resource: "j", Decision: "Allow", Outcome: "200"},
		{Time: day.Add(26 * time.Hour), Principal: root, Action: "iam:CreateUser", Resource: "u", Decision: "Allow", Outcome: "200", BreakGlass: true},
		{Time: day.Add(49 * time.Hour), Principal: alice, Action: "signer:GetSigningProfile", Resource: "p", Decision: "Allow", Outcome: "200"},
		{Time: day.Add(50 * time.Hour), Principal: bob, Action: "lambda:UpdateFunctionCode", Resource: "f", Decision: "AllowWithWarning",
			Detail: "code signing check expiry failed: expired"},
	}
	log := &audit.Log{Store: db.Audit}
	for _, e := range events {
		if err := log.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

func seqs(recs []audit.Record) []int64 {
	out := []int64{}
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}

func testAuditSearch(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	auditFixture(t, db)
	day := t0.Truncate(24 * time.Hour)
	tests := map[string]struct {
		f    store.AuditFilter
		want []int64
	}{
		"ok/all":               {store.AuditFilter{}, []int64{6, 5, 4, 3, 2, 1}},
		"ok/principal":         {store.AuditFilter{Principal: "arn:aws:iam::123456789012:user/alice"}, []int64{5, 3, 1}},
		"ok/action":            {store.AuditFilter{Action: "signer:RevokeSignature"}, []int64{3}},
		"ok/action-prefix":     {store.AuditFilter{Action: "signer:*"}, []int64{5, 3, 1}},
		"ok/action-prefix-all": {store.AuditFilter{Action: "*"}, []int64{6, 5, 4, 3, 2, 1}},
		"ok/resource":          {store.AuditFilter{Resource: "f"}, []int64{6, 2}},
		"ok/decision":          {store.AuditFilter{Decision: "Deny"}, []int64{2}},
		"ok/category":          {store.AuditFilter{Category: audit.CategoryDeployGate}, []int64{6, 2}},
		"ok/revocations":       {store.AuditFilter{Category: audit.CategoryRevocation}, []int64{3}},
		"ok/break-glass":       {store.AuditFilter{BreakGlass: true}, []int64{4}},
		"ok/time":              {store.AuditFilter{From: day.Add(24 * time.Hour), To: day.Add(49 * time.Hour)}, []int64{4, 3}},
		"ok/combined":          {store.AuditFilter{Principal: "arn:aws:iam::123456789012:user/bob", Category: audit.CategoryDeployGate, Decision: "Deny"}, []int64{2}},
		"ok/page-1":            {store.AuditFilter{Limit: 2}, []int64{6, 5}},
		"ok/page-2":            {store.AuditFilter{Limit: 2, Before: 5}, []int64{4, 3}},
		"ok/page-filtered":     {store.AuditFilter{Principal: "arn:aws:iam::123456789012:user/alice", Limit: 2, Before: 5}, []int64{3, 1}},
		"ok/none":              {store.AuditFilter{Principal: "nobody"}, []int64{}},
		"ok/action-no-prefix":  {store.AuditFilter{Action: "signer:"}, []int64{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := db.Audit.SearchAudit(ctx, tc.f)
			if err != nil || !slices.Equal(seqs(got), tc.want) {
				t.Errorf("SearchAudit(%+v) = %v, %v; want %v", tc.f, seqs(got), err, tc.want)
			}
		})
	}
	recs, _ := db.Audit.SearchAudit(ctx, store.AuditFilter{Action: "signer:RevokeSignature"})
	if len(recs) != 1 || recs[0].Event.Principal != "arn:aws:iam::123456789012:user/alice" || recs[0].Hash == "" || len(recs[0].JSON) == 0 {
		t.Errorf("the record found = %+v", recs)
	}
}

// testAuditForgedIndex: an index row edited to name another principal,
// action or category hides its record from the searches it matched but
// makes no record match a search it does not.
func testAuditForgedIndex(t *testing.T, open Opener) {
	if Exec == nil {
		t.Skip("no raw SQL on this engine")
	}
	db, _ := open(t)
	ctx := context.Background()
	auditFixture(t, db)
	for _, q := range []string{
		`UPDATE audit_index SET principal = 'arn:aws:iam::123456789012:user/alice', category = 'revocation', action = 'signer:RevokeSignature' WHERE seq = 2`,
		`UPDATE audit_index SET principal = 'someone' WHERE seq = 5`,
		`UPDATE audit_index SET break_glass = 1 WHERE seq = 1`,
	} {
		if err := Exec(ctx, db, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		f    store.AuditFilter
		want []int64
	}{
		{store.AuditFilter{Principal: "arn:aws:iam::123456789012:user/alice"}, []int64{3, 1}},
		{store.AuditFilter{Principal: "arn:aws:iam::123456789012:user/alice", Limit: 1}, []int64{3}},
		{store.AuditFilter{Principal: "arn:aws:iam::123456789012:user/alice", Limit: 1, Before: 3}, []int64{1}},
		{store.AuditFilter{Category: audit.CategoryRevocation}, []int64{3}},
		{store.AuditFilter{Action: "signer:RevokeSignature"}, []int64{3}},
		{store.AuditFilter{BreakGlass: true}, []int64{4}},
		{store.AuditFilter{Principal: "someone"}, []int64{}},
	} {
		if got, err := db.Audit.SearchAudit(ctx, tc.f); err != nil || !slices.Equal(seqs(got), tc.want) {
			t.Errorf("after forging the index, SearchAudit(%+v) = %v, %v; want %v", tc.f, seqs(got), err, tc.want)
		}
	}
}

// testAuditBackfill: records written before the index existed are
// indexed by IndexAudit, once.
func testAuditBackfill(t *testing.T, open Opener) {
	if Exec == nil {
		t.Skip("no raw SQL on this engine")
	}
	db, _ := open(t)
	ctx := context.Background()
	auditFixture(t, db)
	if err := Exec(ctx, db, `DELETE FROM audit_index WHERE seq > 2`); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Audit.SearchAudit(ctx, store.AuditFilter{}); !slices.Equal(seqs(got), []int64{2, 1}) {
		t.Fatalf("before the backfill SearchAudit = %v", seqs(got))
	}
	if n, err := db.Audit.IndexAudit(ctx); err != nil || n != 4 {
		t.Errorf("IndexAudit = %d, %v; want 4", n, err)
	}
	if n, err := db.Audit.IndexAudit(ctx); err != nil || n != 0 {
		t.Errorf("IndexAudit again = %d, %v; want 0", n, err)
	}
	if got, _ := db.Audit.SearchAudit(ctx, store.AuditFilter{Category: audit.CategoryDeployGate}); !slices.Equal(seqs(got), []int64{6, 2}) {
		t.Errorf("after the backfill SearchAudit = %v", seqs(got))
	}
	if err := Exec(ctx, db, `DELETE FROM audit_index`); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Audit.IndexAudit(ctx); err != nil || n != 6 {
		t.Errorf("IndexAudit of an empty index = %d, %v; want 6", n, err)
	}
	size, err := db.Audit.AuditSize(ctx)
	if err != nil || size != (store.AuditSize{Records: 6, LastSeq: 6, Indexed: 6}) {
		t.Errorf("AuditSize = %+v, %v", size, err)
	}
}

func testAuditCountsPerDay(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	auditFixture(t, db)
	day := t0.Truncate(24 * time.Hour)
	got, err := db.Audit.CountAuditByDay(ctx, day.Add(5*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.AuditDayCount{
		{Day: day, Category: audit.CategoryDeployGate, Decision: "Deny", Events: 1},
		{Day: day.Add(24 * time.Hour), Category: "", Decision: "Allow", Events: 1, BreakGlass: 1},
		{Day: day.Add(24 * time.Hour), Category: audit.CategoryRevocation, Decision: "Allow", Events: 1},
		{Day: day.Add(48 * time.Hour), Category: audit.CategoryDeployGate, Decision: "AllowWithWarning", Events: 1},
	}
	if !slices.EqualFunc(got, want, func(a, b store.AuditDayCount) bool {
		return a.Day.Equal(b.Day) && a == (store.AuditDayCount{Day: a.Day, Category: b.Category, Decision: b.Decision, Events: b.Events, BreakGlass: b.BreakGlass})
	}) {
		t.Errorf("CountAuditByDay =\n%+v\nwant\n%+v", got, want)
	}
	if got, err := db.Audit.CountAuditByDay(ctx, day.Add(48*time.Hour)); err != nil || len(got) != 1 {
		t.Errorf("CountAuditByDay of the last day = %+v, %v", got, err)
	}
}

func testConsoleSessions(t *testing.T, open Opener) {
	db, reopen := open(t)
	ctx := context.Background()
	s := store.ConsoleSession{IDHash: "h1", PrincipalARN: "arn:aws:iam::123456789012:user/alice", PrincipalID: "AIDA1", AccessKeyID: "AKIA1",
		SourceIdentity: "alice@example.com", CSRFHash: "c1", Created: t0, LastSeen: t0, Expires: t0.Add(time.Hour)}
	if err := db.Console.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := db.Console.CreateSession(ctx, s); err == nil {
		t.Error("a second session with the same id was stored")
	}
	db = reopen()
	got, err := db.Console.Session(ctx, "h1")
	if err != nil || got.PrincipalARN != s.PrincipalARN || got.PrincipalID != "AIDA1" || got.AccessKeyID != "AKIA1" || got.SourceIdentity != s.SourceIdentity ||
		got.CSRFHash != "c1" || !got.Created.Equal(t0) || !got.LastSeen.Equal(t0) || !got.Expires.Equal(s.Expires) {
		t.Errorf("Session = %+v, %v", got, err)
	}
	if err := db.Console.TouchSession(ctx, "h1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Console.Session(ctx, "h1"); !got.LastSeen.Equal(t0.Add(time.Minute)) {
		t.Errorf("LastSeen after TouchSession = %v", got.LastSeen)
	}
	if err := db.Console.TouchSession(ctx, "nope", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession of a missing session = %v, want ErrNotFound", err)
	}
	if _, err := db.Console.Session(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session of a missing session = %v, want ErrNotFound", err)
	}
	s2 := s
	s2.IDHash, s2.Expires = "h2", t0.Add(2*time.Hour)
	if err := db.Console.CreateSession(ctx, s2); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Console.ExpireSessions(ctx, t0.Add(time.Hour-time.Nanosecond)); err != nil || n != 0 {
		t.Errorf("ExpireSessions before any expiry = %d, %v", n, err)
	}
	if n, err := db.Console.ExpireSessions(ctx, t0.Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("ExpireSessions = %d, %v; want 1", n, err)
	}
	if _, err := db.Console.Session(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired session is still there: %v", err)
	}
	if err := db.Console.DeleteSession(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Console.Session(ctx, "h2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a deleted session is still there: %v", err)
	}
	if err := db.Console.DeleteSession(ctx, "h2"); err != nil {
		t.Errorf("deleting a deleted session = %v", err)
	}
}

func testConsoleSessionsOfKey(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	for i, key := range []string{"AKIA1", "AKIA1", "AKIA2"} {
		s := store.ConsoleSession{IDHash: string(rune('a' + i)), PrincipalARN: "p", PrincipalID: "i", AccessKeyID: key, CSRFHash: "c", Created: t0, LastSeen: t0, Expires: t0.Add(time.Hour)}
		if err := db.Console.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.Console.DeleteSessionsOfKey(ctx, "AKIA1"); err != nil || n != 2 {
		t.Errorf("DeleteSessionsOfKey = %d, %v; want 2", n, err)
	}
	if _, err := db.Console.Session(ctx, "c"); err != nil {
		t.Errorf("another key's session was deleted: %v", err)
	}
}

// testActivityCounts: signing jobs per day and status, and functions by
// their code signing.
func testActivityCounts(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	day := t0.Truncate(24 * time.Hour)
	for i, st := range []signing.JobStatus{signing.JobSucceeded, signing.JobSucceeded, signing.JobFailed, signing.JobInProgress} {
		j := job(string(rune('a'+i)), string(rune('a'+i)), day.Add(time.Duration(i)*12*time.Hour))
		j.Status = st
		if st != signing.JobInProgress {
			j.CompletedAt = j.CreatedAt.Add(time.Duration(i+1) * time.Second) // 1 s, 2 s, 3 s
		}
		if _, _, err := db.Signing.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	old := job("old", "old", day.Add(-time.Hour))
	if _, _, err := db.Signing.CreateJob(ctx, old); err != nil {
		t.Fatal(err)
	}
	got, err := db.Signing.JobsPerDay(ctx, day.Add(time.Hour))
	want := []store.JobDayCount{{Day: day, Status: "Succeeded", Jobs: 2, Signing: 3 * time.Second}, {Day: day.Add(24 * time.Hour), Status: "Failed", Jobs: 1, Signing: 3 * time.Second},
		{Day: day.Add(24 * time.Hour), Status: "InProgress", Jobs: 1}}
	if err != nil || !slices.EqualFunc(got, want, func(a, b store.JobDayCount) bool {
		return a.Day.Equal(b.Day) && a.Status == b.Status && a.Jobs == b.Jobs && a.Signing == b.Signing
	}) {
		t.Errorf("JobsPerDay = %+v, %v; want %+v", got, err, want)
	}
	if n, err := db.Signing.JobsInProgress(ctx); err != nil || n != 2 {
		t.Errorf("JobsInProgress = %d, %v; want 2", n, err)
	}

	for _, c := range []deploygate.CodeSigningConfig{
		{ID: "csc-enforce", AllowedPublishers: []string{"p"}, Policy: deploygate.Enforce, LastModified: t0},
		{ID: "csc-warn", AllowedPublishers: []string{"p"}, Policy: deploygate.Warn, LastModified: t0},
	} {
		if err := db.CodeSigning.CreateCSC(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []struct{ name, csc, signedBy string }{
		{"a", "csc-enforce", "arn:aws:signer:us-east-1:123456789012:/signing-profiles/p/v1"},
		{"b", "csc-enforce", "arn:aws:signer:us-east-1:123456789012:/signing-profiles/p/v1"},
		{"c", "csc-warn", ""},
		{"d", "", ""},
		{"e", "", "arn:aws:signer:us-east-1:123456789012:/signing-profiles/p/v1"},
	} {
		fn := functions.Function{Name: f.name, Runtime: "python3.12", Handler: "a.b", Role: "r", Timeout: 3, MemorySize: 128, CodePath: "p" + f.name,
			SigningProfileVersionARN: f.signedBy, LastModified: t0}
		if err := db.Lambda.CreateFunction(ctx, fn, f.csc); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := db.Lambda.FunctionsSummary(ctx)
	if want := (store.FunctionsSummary{Total: 5, Enforce: 2, Warn: 1, NoConfig: 2, Unsigned: 2}); err != nil || sum != want {
		t.Errorf("FunctionsSummary = %+v, %v; want %+v", sum, err, want)
	}
}
