package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/server/servertest"
)

// BenchmarkProduction measures what production settings cost on the
// cheapest signed call, GetSigningProfile, with 8 concurrent callers
// through the aws-sdk-go-v2 client (ns/op is the inverse of the
// throughput): plain HTTP against HTTPS (tls: self; HTTP/1.1 as the
// AWS CLI and boto3 speak it, and HTTP/2), and per-request telemetry
// (metrics and spans) off against metrics alone (http), and metrics with
// tracing sampling every request or one in ten, exported over OTLP to a
// collector in the same process. Run
// with -count to interleave the variants:
//
//	go test ./internal/server -run '^$' -bench BenchmarkProduction -count 3
func BenchmarkProduction(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	variants := []struct {
		name  string
		edit  func(*config.Config)
		opts  []server.Option
		http2 bool
	}{
		{name: "http", edit: func(*config.Config) {}},
		{name: "https", edit: func(c *config.Config) { c.TLS.Mode = config.TLSSelf }},
		{name: "https-h2", edit: func(c *config.Config) { c.TLS.Mode = config.TLSSelf }, http2: true},
		{name: "telemetry-off", edit: func(*config.Config) {}, opts: []server.Option{server.WithoutRequestTelemetry()}},
		{name: "metrics+tracing", edit: func(c *config.Config) { c.Tracing.OTLPEndpoint = collector.URL; c.Tracing.SampleRatio = 1 }},
		{name: "metrics+tracing-10pct", edit: func(c *config.Config) { c.Tracing.OTLPEndpoint = collector.URL; c.Tracing.SampleRatio = 0.1 }},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			ts := servertest.StartWithOptions(b, v.edit, v.opts...)
			// The same transport for every variant: keep-alive, enough
			// idle connections for the callers.
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.MaxIdleConnsPerHost = 64
			t.ForceAttemptHTTP2 = v.http2
			if tc, ok := ts.HTTPClient().Transport.(*http.Transport); ok {
				t.TLSClientConfig = tc.TLSClientConfig.Clone()
				if !v.http2 {
					t.TLSClientConfig.NextProtos = []string{"http/1.1"}
				}
			}
			c := signer.New(signer.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Retryer: aws.NopRetryer{},
				HTTPClient:  &http.Client{Transport: t},
				Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return ts.Creds, nil })})
			ctx := context.Background()
			if _, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("bench"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(4)
			cpu0 := cpuTime()
			b.ResetTimer()
			defer func() {
				// CPU time of the whole process (clients, server, collector)
				// per call: steadier than wall time on a shared machine.
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			}()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("bench")}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
