package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/awsapi/signetapi"
	"github.com/signet/signet/internal/deploygate"
	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/iam"
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

// BenchmarkConsoleOverview measures the console's overview page, signed
// in as an IAM user, on a server holding 10,000 signing jobs, 1,000
// functions and 200,000 audit records (with -short: 1,000, 100 and
// 10,000), against the one API call that reads most of what it shows,
// GetActivitySummary, measured on the same server: the page makes that
// call, two more (the latest deploy-gate decisions, the violations) and
// one authorization probe per section of its navigation. server-ms/op
// is the page's own time (its Server-Timing), without the client's.
func BenchmarkConsoleOverview(b *testing.B) {
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
	b.Run("api=GetActivitySummary", func(b *testing.B) {
		for b.Loop() {
			if status, code, body := signetGet(b, ts, ts.Creds, "/activity"); status != 200 {
				b.Fatalf("GetActivitySummary = %d %s %s", status, code, body)
			}
		}
	})
	ctx := context.Background()
	if _, err := ts.IAM.CreateUser(ctx, "admin", ""); err != nil {
		b.Fatal(err)
	}
	if err := ts.IAM.PutInlinePolicy(ctx, iam.KindUser, "admin", "all", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`); err != nil {
		b.Fatal(err)
	}
	id, secret, err := ts.IAM.CreateAccessKey(ctx, "admin")
	if err != nil {
		b.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: ts.HTTPClient().Transport}
	resp, err := hc.PostForm(ts.URL+"/console/sign-in", url.Values{"access_key_id": {id}, "secret_access_key": {secret}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	b.Run("page=overview", func(b *testing.B) {
		var server time.Duration
		n, size := 0, 0
		for b.Loop() {
			resp, err := hc.Get(ts.URL + "/console/")
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Contains(body, []byte("signing jobs in progress")) {
				b.Fatalf("overview: %d %.300s", resp.StatusCode, body)
			}
			dur, ok := strings.CutPrefix(resp.Header.Get("Server-Timing"), "app;dur=")
			ms, err := strconv.ParseFloat(dur, 64)
			if !ok || err != nil {
				b.Fatalf("Server-Timing %q", resp.Header.Get("Server-Timing"))
			}
			server += time.Duration(ms * float64(time.Millisecond))
			n, size = n+1, len(body)
		}
		b.ReportMetric(float64(server.Microseconds())/1000/float64(n), "server-ms/op")
		raw, gz := ts.ConsoleAssetSizes()
		b.ReportMetric(float64(size), "page-bytes")
		b.ReportMetric(float64(raw), "asset-bytes")
		b.ReportMetric(float64(gz), "asset-gzip-bytes")
	})
}
