package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/awsapi/signetapi"
	"github.com/signet/signet/internal/deploygate"
	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/signing"
	"github.com/signet/signet/internal/store"
)

// seedActivity writes, straight through the store, what the console's
// overview reads: jobs signing jobs over the last 14 days (mostly
// Succeeded, some Failed and InProgress), functions functions (half with
// a code signing config, Enforce or Warn, a third of them unsigned), and
// events audit records over the same days in every category (gate
// refusals and warnings, admission decisions, violations, revocations,
// break-glass calls) among plain API calls. main is the server's
// database (ts.DB()), auditDB its audit database (ts.AuditDB()).
func seedActivity(tb testing.TB, main, auditDB *store.DB, jobs, fns, events int) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	span := 14 * 24 * time.Hour
	at := func(i, n int) time.Time { return now.Add(-span + time.Duration(int64(span)/int64(n)*int64(i))) }
	statuses := []signing.JobStatus{signing.JobSucceeded, signing.JobSucceeded, signing.JobSucceeded, signing.JobSucceeded, signing.JobSucceeded,
		signing.JobSucceeded, signing.JobSucceeded, signing.JobFailed, signing.JobFailed, signing.JobInProgress}
	for i := range jobs {
		j := signing.Job{ID: fmt.Sprintf("seed-%08d", i), ClientRequestToken: fmt.Sprintf("seed-%d", i), Kind: signing.KindObject,
			ProfileName: "seed", ProfileVersion: "v000000001", PlatformID: signing.PlatformLambda, SourceBucket: "b", SourceKey: "k", SourceVersion: "v",
			DestBucket: "b", Status: statuses[i%len(statuses)], CreatedAt: at(i, jobs), RequestedBy: "arn:aws:iam::123456789012:user/seed",
			Owner: "123456789012", Invoker: "123456789012"}
		if _, _, err := main.Signing.CreateJob(ctx, j); err != nil {
			tb.Fatal(err)
		}
	}
	cscs := []deploygate.CodeSigningConfig{
		{ID: "csc-seedenforce0000", AllowedPublishers: []string{"arn:aws:signer:us-east-1:123456789012:/signing-profiles/seed"}, Policy: deploygate.Enforce, LastModified: now},
		{ID: "csc-seedwarn0000000", AllowedPublishers: []string{"arn:aws:signer:us-east-1:123456789012:/signing-profiles/seed"}, Policy: deploygate.Warn, LastModified: now},
	}
	for _, c := range cscs {
		if err := main.CodeSigning.CreateCSC(ctx, c); err != nil {
			tb.Fatal(err)
		}
	}
	for i := range fns {
		f := functions.Function{Name: fmt.Sprintf("seed-%05d", i), Runtime: "python3.12", Handler: "a.b", Role: "r", Timeout: 3, MemorySize: 128,
			CodePath: fmt.Sprintf("seed/%d", i), LastModified: now}
		if i%3 != 0 {
			f.SigningProfileVersionARN = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/seed/v000000001"
		}
		csc := ""
		if i%2 == 0 {
			csc = cscs[i/2%2].ID
		}
		if err := main.Lambda.CreateFunction(ctx, f, csc); err != nil {
			tb.Fatal(err)
		}
	}
	kinds := []audit.Event{
		{Action: "lambda:UpdateFunctionCode", Decision: "Deny", Outcome: "CodeVerificationFailedException", Detail: "code signing check unsigned failed: "},
		{Action: "lambda:UpdateFunctionCode", Decision: "AllowWithWarning", Detail: "code signing check expiry failed: expired"},
		{Action: "admission:Validate", Decision: "Deny", Principal: "system:serviceaccount:kube-system:deployer"},
		{Action: "admission:Validate", Decision: "Allow", Principal: "system:serviceaccount:kube-system:deployer"},
		{Action: "workloads:Violation", Decision: "Violation"},
		{Action: "signer:RevokeSignature", Decision: "Allow", Outcome: "200"},
		{Action: "iam:CreateUser", Decision: "Allow", Outcome: "200", BreakGlass: true, Principal: "arn:aws:iam::123456789012:root"},
		{Action: "signer:GetSigningProfile", Decision: "Allow", Outcome: "200"},
		{Action: "signer:StartSigningJob", Decision: "Allow", Outcome: "200"},
		{Action: "lambda:InvokeFunction", Decision: "Allow", Outcome: "200"},
	}
	const batch = 1000
	for done := 0; done < events; done += batch {
		n := min(batch, events-done)
		err := auditDB.Audit.AppendAuditBatch(ctx, n, func(k int, seq int64, prev string) (audit.Record, error) {
			i := done + k
			e := kinds[i%len(kinds)]
			if e.Principal == "" {
				e.Principal = fmt.Sprintf("arn:aws:iam::123456789012:user/u%d", i%50)
			}
			e.Resource = fmt.Sprintf("arn:aws:lambda:us-east-1:123456789012:function:seed-%05d", i%1000)
			e.Time = at(i, events).Truncate(time.Microsecond)
			return audit.NewRecord(seq, prev, e)
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkActivitySummary measures GetActivitySummary over HTTP on a
// server holding 10,000 signing jobs, 1,000 functions and 200,000 audit
// records (with -short: 1,000, 100 and 10,000).
func BenchmarkActivitySummary(b *testing.B) {
	jobs, fns, events := 10_000, 1_000, 200_000
	if testing.Short() {
		jobs, fns, events = 1_000, 100, 10_000
	}
	ts := servertest.Start(b)
	start := time.Now()
	seedActivity(b, ts.DB(), ts.AuditDB(), jobs, fns, events)
	b.Logf("seeded %d jobs, %d functions, %d audit records in %v", jobs, fns, events, time.Since(start).Round(time.Millisecond))
	sum := signetJSON[signetapi.ActivityJSON](b, ts, "/activity")
	if sum.Functions.Total != fns {
		b.Fatalf("functions = %+v", sum.Functions)
	}
	b.ResetTimer()
	for b.Loop() {
		if status, code, body := signetGet(b, ts, ts.Creds, "/activity"); status != 200 {
			b.Fatalf("GetActivitySummary = %d %s %s", status, code, body)
		}
	}
}
