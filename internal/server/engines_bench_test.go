package server_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/signer"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/store/pgtest"
)

// BenchmarkEngines measures, on SQLite and on PostgreSQL in one run, the
// latency of single operations through the whole API path, one caller
// at a time, and (PostgreSQL) the statements sent to the database per
// operation, background polling of the job runners included:
// GetSigningProfile, StartSigningJob until the job succeeded,
// UpdateFunctionCode of a small package, and a warm Invoke.
func BenchmarkEngines(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			var ts *servertest.Server
			if engine == "sqlite" {
				ts = servertest.StartEmbedded(b, func(*config.Config) {})
			} else {
				dsn := pgtest.DSN(b)
				ts = servertest.StartWith(b, func(c *config.Config) { c.DatabaseURL = dsn })
			}
			e := &jobEnv{ts: ts, s3: ts.S3(), signer: ts.Signer()}
			e.setup(b)
			ctx := context.Background()
			ver := e.put(b, "artifacts", "hello.zip", zipOf(b, helloZip))
			lc := lambdaClient(ts)
			code := zipOf(b, map[string]string{"app.py": "def handler(event, context):\n    return None\n"})
			if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("noop"), Runtime: ltypes.RuntimePython312,
				Handler: aws.String("app.handler"), Role: aws.String(ts.LambdaRole(b)), Code: &ltypes.FunctionCode{ZipFile: code}}); err != nil {
				b.Fatal(err)
			}
			jobs := 0
			ops := []struct {
				name string
				fn   func(b *testing.B)
			}{
				{"GetSigningProfile", func(b *testing.B) {
					if _, err := e.signer.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("signing_profile_for_lambda")}); err != nil {
						b.Fatal(err)
					}
				}},
				{"StartSigningJob", func(b *testing.B) {
					jobs++
					id, err := e.start(b, "hello.zip", ver, "signing_profile_for_lambda", fmt.Sprint("engines-", jobs))
					if err != nil {
						b.Fatal(err)
					}
					if d := e.wait(b, id); d.Status != "Succeeded" {
						b.Fatalf("job %s: %s", id, aws.ToString(d.StatusReason))
					}
				}},
				{"UpdateFunctionCode", func(b *testing.B) {
					if _, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("noop"), ZipFile: code}); err != nil {
						b.Fatal(err)
					}
				}},
				{"Invoke", func(b *testing.B) {
					if out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("noop"), Payload: []byte(`{}`)}); err != nil || out.FunctionError != nil {
						b.Fatal(err)
					}
				}},
			}
			for _, op := range ops {
				if op.name == "Invoke" && ts.Invoke.Pool == nil {
					continue
				}
				b.Run(op.name, func(b *testing.B) {
					op.fn(b) // warm
					before := ts.DBStatements()
					for b.Loop() {
						op.fn(b)
					}
					b.ReportMetric(float64(ts.DBStatements()-before)/float64(b.N), "stmts/op")
				})
			}
		})
	}
}
