package server_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"

	"github.com/signet/signet/internal/awsapi/signetapi"
	"github.com/signet/signet/internal/server/servertest"
)

// signetGet sends a GET signed for Signet's own API and returns the
// status, the error code (X-Amzn-ErrorType) and the body.
func signetGet(t testing.TB, ts *servertest.Server, creds aws.Credentials, path string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), signetapi.SigningName, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := ts.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.SplitN(resp.Header.Get("X-Amzn-ErrorType"), ":", 2)[0], body
}

func signetJSON[T any](t testing.TB, ts *servertest.Server, path string) T {
	t.Helper()
	var out T
	status, code, body := signetGet(t, ts, ts.Creds, path)
	if status != 200 {
		t.Fatalf("GET %s = %d %s: %s", path, status, code, body)
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
	return out
}

// TestConsoleActivity: deploy-gate refusals and warnings and a
// revocation made through the real APIs show in GetActivitySummary and
// in ListAuditEvents' category filters; bad parameters are refused with
// ValidationException and a principal without the actions with
// AccessDeniedException.
func TestConsoleActivity(t *testing.T) {
	e := newJobEnv(t)
	ctx := context.Background()
	lc := lambdaClient(e.ts)
	unsigned := zipOf(t, helloZip)
	ver := e.put(t, "artifacts", "hello.zip", unsigned)
	id, err := e.start(t, "hello.zip", ver, "signing_profile_for_lambda", "console")
	if err != nil {
		t.Fatal(err)
	}
	if d := e.wait(t, id); d.Status != types.SigningStatusSucceeded {
		t.Fatalf("job = %s", d.Status)
	}
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("f"), Runtime: ltypes.RuntimePython312,
		Role: aws.String(e.ts.LambdaRole(t)), Handler: aws.String("lambda_function.lambda_handler"), Code: &ltypes.FunctionCode{ZipFile: unsigned}}); err != nil {
		t.Fatal(err)
	}
	csc, err := lc.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{
		AllowedPublishers:   &ltypes.AllowedPublishers{SigningProfileVersionArns: []string{fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-profiles/signing_profile_for_lambda/%s", e.ts.AccountID(), e.version)}},
		CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicyEnforce}})
	if err != nil {
		t.Fatal(err)
	}
	arn := csc.CodeSigningConfig.CodeSigningConfigArn
	if _, err := lc.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("f"), CodeSigningConfigArn: arn}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("f"), ZipFile: unsigned}); apiCode(err) != "CodeVerificationFailedException" {
		t.Fatalf("unsigned update under Enforce = %v", err)
	}
	if _, err := lc.UpdateCodeSigningConfig(ctx, &lambda.UpdateCodeSigningConfigInput{CodeSigningConfigArn: arn,
		CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicyWarn}}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("f"), ZipFile: unsigned}); err != nil {
		t.Fatalf("unsigned update under Warn = %v", err)
	}
	if _, err := e.signer.RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: aws.String(id), Reason: aws.String("compromised")}); err != nil {
		t.Fatal(err)
	}

	sum := signetJSON[signetapi.ActivityJSON](t, e.ts, "/activity")
	if len(sum.Days) != signetapi.DefaultActivityDays {
		t.Fatalf("%d days, want %d", len(sum.Days), signetapi.DefaultActivityDays)
	}
	today := sum.Days[len(sum.Days)-1]
	if today.Day != time.Now().UTC().Format(time.DateOnly) || sum.Days[0].Day != sum.Since.Format(time.DateOnly) {
		t.Errorf("days run from %s to %s, since %s", sum.Days[0].Day, today.Day, sum.Since)
	}
	if today.GateRefusals != 1 || today.GateWarnings != 1 || today.Revocations != 1 || today.Jobs["Succeeded"] != 1 || today.AdmissionDenials != 0 {
		t.Errorf("today = %+v", today)
	}
	if want := (signetapi.FunctionsJSON{Total: 1, Warn: 1, Unsigned: 1}); sum.Functions != want {
		t.Errorf("functions = %+v, want %+v", sum.Functions, want)
	}
	if d := sum.Days[0]; d.Jobs == nil || d.Jobs["Succeeded"] != 0 || d.GateRefusals != 0 {
		t.Errorf("first day = %+v", d)
	}
	if s := signetJSON[signetapi.ActivityJSON](t, e.ts, "/activity?days=1"); len(s.Days) != 1 || s.Days[0].GateRefusals != 1 {
		t.Errorf("days=1: %+v", s.Days)
	}

	gate := signetJSON[signetapi.AuditEventsJSON](t, e.ts, "/audit/events?category=deploy-gate")
	if len(gate.Events) != 2 || gate.Events[0].Decision != "AllowWithWarning" || gate.Events[1].Decision != "Deny" ||
		gate.Events[1].Outcome != "CodeVerificationFailedException" || gate.Events[0].Category != "deploy-gate" || gate.NextToken != "" {
		t.Errorf("deploy-gate events = %+v", gate)
	}
	rev := signetJSON[signetapi.AuditEventsJSON](t, e.ts, "/audit/events?category=revocation")
	if len(rev.Events) != 1 || rev.Events[0].Action != "signer:RevokeSignature" || !strings.HasSuffix(rev.Events[0].Resource, id) {
		t.Errorf("revocation events = %+v", rev)
	}
	if ev := signetJSON[signetapi.AuditEventsJSON](t, e.ts, "/audit/events?action=signer:RevokeSignature&decision=Allow&principal="+url.QueryEscape(rev.Events[0].Principal)); len(ev.Events) != 1 {
		t.Errorf("events by action, decision and principal = %+v", ev)
	}
	p1 := signetJSON[signetapi.AuditEventsJSON](t, e.ts, "/audit/events?action=lambda:*&maxResults=2")
	if len(p1.Events) != 2 || p1.NextToken == "" {
		t.Fatalf("first page = %+v", p1)
	}
	p2 := signetJSON[signetapi.AuditEventsJSON](t, e.ts, "/audit/events?action=lambda:*&maxResults=2&nextToken="+p1.NextToken)
	if len(p2.Events) == 0 || p2.Events[0].Seq >= p1.Events[1].Seq || !strings.HasPrefix(p2.Events[0].Action, "lambda:") {
		t.Errorf("second page = %+v", p2)
	}
	from := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if ev := signetJSON[signetapi.AuditEventsJSON](t, e.ts, "/audit/events?from="+from); len(ev.Events) != 0 || ev.Events == nil {
		t.Errorf("events from the future = %+v", ev)
	}

	for _, path := range []string{"/activity?days=0", "/activity?days=91", "/activity?days=x",
		"/audit/events?maxResults=101", "/audit/events?maxResults=0", "/audit/events?from=yesterday", "/audit/events?category=nope",
		"/audit/events?breakGlass=maybe", "/audit/events?nextToken=abc", "/audit/events?action=s*r:*",
		"/audit/events?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "/audit/events?from=2300-01-01T00:00:00Z", "/audit/events?to=1600-01-01T00:00:00Z"} {
		if status, code, body := signetGet(t, e.ts, e.ts.Creds, path); status != 400 || code != "ValidationException" || !strings.Contains(string(body), "must") {
			t.Errorf("GET %s = %d %s %s, want 400 ValidationException", path, status, code, body)
		}
	}

	u := newUser(t, e.ts, "reader", "signet:ListWorkloads")
	creds, err := u.signer.Options().Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/activity", "/audit/events", "/audit/status"} {
		if status, code, _ := signetGet(t, e.ts, creds, path); status != 403 || code != "AccessDeniedException" {
			t.Errorf("GET %s without the action = %d %s, want 403 AccessDeniedException", path, status, code)
		}
	}
	allow(t, e.ts, "reader", "console", "signet:GetActivitySummary")
	if status, code, _ := signetGet(t, e.ts, creds, "/activity"); status != 200 {
		t.Errorf("GET /activity with the action = %d %s", status, code)
	}
}

// auditSQL runs a statement on the server's audit database behind its
// back.
func auditSQL(t testing.TB, ts *servertest.Server, q string) {
	t.Helper()
	driver, dsn := "sqlite", filepath.Join(ts.Config().DataDir, "audit.db")
	if u := ts.Config().DatabaseURL; u != "" {
		driver, dsn = "pgx", u
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

// TestAuditLogStatus: GetAuditLogStatus reports the log intact, then
// the record edited in the database.
func TestAuditLogStatus(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	sc := ts.Signer()
	for range 3 {
		if _, err := sc.ListSigningProfiles(ctx, &signer.ListSigningProfilesInput{}); err != nil {
			t.Fatal(err)
		}
	}
	waitForAuditRecord(t, ts, 3)
	if err := ts.VerifyAuditLog(ctx); err != nil {
		t.Fatal(err)
	}
	st := signetJSON[signetapi.AuditStatusJSON](t, ts, "/audit/status")
	if !st.Intact || st.CheckedAt == nil || len(st.Problems) != 0 || st.VerifiedThrough < 3 || st.Records < st.VerifiedThrough || st.LastSeq != st.Records || st.Indexed != st.Records {
		t.Errorf("status = %+v", st)
	}
	// A record the verification has not walked yet.
	edited := st.VerifiedThrough + 1
	waitForAuditRecord(t, ts, edited)
	auditSQL(t, ts, fmt.Sprintf(`UPDATE audit_events SET event = replace(event, '"Allow"', '"Deny"') WHERE seq = %d`, edited))
	if err := ts.VerifyAuditLog(ctx); err != nil {
		t.Fatal(err)
	}
	st = signetJSON[signetapi.AuditStatusJSON](t, ts, "/audit/status")
	// The edited record no longer matches its hash, nor its index row.
	if st.Intact || len(st.Problems) != 2 || !strings.Contains(st.Problems[0], fmt.Sprintf("audit record %d: edited", edited)) ||
		!strings.Contains(st.Problems[1], fmt.Sprintf("audit record %d: its audit_index row", edited)) {
		t.Errorf("after an edit, status = %+v", st)
	}
	// An edit of the index alone (hiding a record from the break-glass
	// searches and counts) is reported too.
	for range 2 {
		if _, err := sc.ListSigningProfiles(ctx, &signer.ListSigningProfilesInput{}); err != nil {
			t.Fatal(err)
		}
	}
	hidden := st.VerifiedThrough + 1
	waitForAuditRecord(t, ts, hidden)
	auditSQL(t, ts, fmt.Sprintf(`UPDATE audit_index SET break_glass = 0, category = 'console' WHERE seq = %d`, hidden))
	if err := ts.VerifyAuditLog(ctx); err != nil {
		t.Fatal(err)
	}
	st = signetJSON[signetapi.AuditStatusJSON](t, ts, "/audit/status")
	if st.Intact || !slices.ContainsFunc(st.Problems, func(p string) bool {
		return strings.Contains(p, fmt.Sprintf("audit record %d: its audit_index row", hidden))
	}) {
		t.Errorf("after an edit of the index, status = %+v", st)
	}
}

// waitForAuditRecord waits until the audit log holds record seq (reads
// are audited without waiting for their record).
func waitForAuditRecord(t *testing.T, ts *servertest.Server, seq int64) {
	t.Helper()
	waitUntil(t, time.Minute, fmt.Sprintf("audit record %d", seq), func() bool {
		size, err := ts.AuditDB().Audit.AuditSize(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return size.LastSeq >= seq
	})
}
