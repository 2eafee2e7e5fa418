package server_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/signet/signet/internal/server/servertest"
)

// BenchmarkSecretReads: GetParameter WithDecryption of a SecureString and
// GetSecretValue, each by 16 concurrent callers (the SDK over loopback
// HTTP, SigV4, IAM and key policy, envelope decryption, a durable audit
// record before the value leaves), against the API's floor measured the
// same way: an authenticated GetCallerIdentity. It reports requests per
// second and the 99th percentile latency.
func BenchmarkSecretReads(b *testing.B) {
	ts := servertest.Start(b)
	ctx := context.Background()
	creds := adminCreds(ts)
	p := ssmClient(ts, creds)
	if _, err := p.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/bench/token"), Value: aws.String("tok-0123456789abcdef"), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		b.Fatal(err)
	}
	sm := smClient(ts, creds)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bench/db"), SecretString: aws.String(`{"username":"app","password":"0123456789abcdef"}`)}); err != nil {
		b.Fatal(err)
	}
	st := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: creds})
	for _, bc := range []struct {
		name string
		call func() error
	}{
		{"get-caller-identity-16", func() error { _, err := st.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); return err }},
		{"get-parameter-decrypt-16", func() error {
			_, err := p.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/bench/token"), WithDecryption: aws.Bool(true)})
			return err
		}},
		{"get-secret-value-16", func() error {
			_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("bench/db")})
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) { concurrently(b, 16, bc.call) })
	}
}

// concurrently runs b.N calls spread over callers goroutines and reports
// req/s and the p99 latency.
func concurrently(b *testing.B, callers int, call func() error) {
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	next := make(chan struct{}, b.N)
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, b.N/callers+1)
			for range next {
				t0 := time.Now()
				if err := call(); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
