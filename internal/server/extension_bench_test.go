package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

// readLoop reads a SecureString n times from inside a function, through
// the extension (cached after the first read) or through boto3 (each a
// GetParameter WithDecryption relayed to Signet), and returns the
// seconds the reads took, measured inside.
const readLoop = `import json, os, time, urllib.request
import boto3

def handler(event, context):
    n, name = event["n"], event["name"]
    if event["mode"] == "extension":
        token = os.environ["AWS_SESSION_TOKEN"]
        def read():
            req = urllib.request.Request("http://localhost:2773/systemsmanager/parameters/get?withDecryption=true&name=" + name)
            req.add_header("X-Aws-Parameters-Secrets-Token", token)
            with urllib.request.urlopen(req) as r:
                r.read()
        read()  # the first read fills the cache
    else:
        client = boto3.client("ssm")
        def read():
            client.get_parameter(Name=name, WithDecryption=True)
        read()  # the client's first call sets it up
    start = time.perf_counter()
    for _ in range(n):
        read()
    return {"seconds": time.perf_counter() - start}
`

// BenchmarkExtensionRead: a cached read through the Parameters and
// Secrets extension on localhost:2773 against an uncached GetParameter
// WithDecryption through the relayed API with boto3, both from inside
// the same function and timed there.
func BenchmarkExtensionRead(b *testing.B) {
	ts := servertest.Start(b)
	if ts.Server.Invoke.Pool == nil {
		b.Skip("functions cannot run here")
	}
	if exec.Command("/usr/bin/python3", "-c", "import boto3").Run() != nil {
		b.Skip("needs Debian's python3-boto3")
	}
	ctx := context.Background()
	if _, err := ssmClient(ts, adminCreds(ts)).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/bench/token"), Type: ssmtypes.ParameterTypeSecureString,
		Value: aws.String("tok-0123456789")}); err != nil {
		b.Fatal(err)
	}
	role, err := ts.IAM.CreateRole(ctx, "bench-role", "/", "", servertest.LambdaTrustPolicy, 0)
	if err != nil {
		b.Fatal(err)
	}
	if err := ts.IAM.PutInlinePolicy(ctx, iam.KindRole, "bench-role", "p", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:GetParameter","kms:Decrypt"],"Resource":"*"}]}`); err != nil {
		b.Fatal(err)
	}
	lc := lambdaClient(ts)
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("reader"), Runtime: ltypes.RuntimePython311, Handler: aws.String("app.handler"),
		Role: aws.String(ts.IAM.RoleARN(role)), Timeout: aws.Int32(900), MemorySize: aws.Int32(512),
		Code: &ltypes.FunctionCode{ZipFile: zipOf(b, map[string]string{"app.py": readLoop})}}); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"extension", "relayed-getparameter"} {
		b.Run(mode, func(b *testing.B) {
			out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("reader"), Payload: []byte(fmt.Sprintf(`{"mode":%q,"n":%d,"name":"/bench/token"}`, mode, b.N))})
			if err != nil || out.FunctionError != nil {
				b.Fatalf("%v %s", err, out.Payload)
			}
			var r struct{ Seconds float64 }
			json.Unmarshal(out.Payload, &r)
			b.ReportMetric(r.Seconds*1e6/float64(b.N), "µs/read")
		})
	}
}
