package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/secretscan/scantest"
	"github.com/signet/signet/internal/server/servertest"
)

// The API benchmarks go through the full path a client takes: the
// aws-sdk-go-v2 client signs with SigV4, the server verifies, routes,
// reads or writes SQLite, and answers JSON. They run in parallel to
// measure throughput (ns/op is the inverse of requests per second).

func BenchmarkGetSigningProfile(b *testing.B) {
	ts := servertest.Start(b)
	c := ts.Signer()
	ctx := context.Background()
	if _, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("bench"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("bench")}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkPutSigningProfile(b *testing.B) {
	ts := servertest.Start(b)
	c := ts.Signer()
	ctx := context.Background()
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := fmt.Sprintf("bench_%d", n.Add(1))
			if _, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String(name), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkHealthz is the reference for the API benchmarks: the same
// server and HTTP stack, no SigV4, no database read.
func BenchmarkHealthz(b *testing.B) {
	ts := servertest.Start(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := http.Get(ts.URL + "/healthz")
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// BenchmarkPutCryptoCeiling is the crypto ceiling of PutSigningProfile:
// one P-384 key generation (the profile version's CA key), one ECDSA
// P-384/SHA-384 signature (the root signing its certificate) and one
// verification (crypto/x509.CreateCertificate checks every signature it
// makes).
func BenchmarkPutCryptoCeiling(b *testing.B) {
	digest := sha512.Sum384([]byte("tbs certificate"))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			if err != nil {
				b.Error(err)
				return
			}
			sig, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
			if err != nil || !ecdsa.VerifyASN1(&k.PublicKey, digest[:], sig) {
				b.Error("sign or verify failed", err)
				return
			}
		}
	})
}

// BenchmarkSignPayload measures SignPayload through the full path: a
// fresh P-384 leaf key and certificate and a JWS envelope per call.
func BenchmarkSignPayload(b *testing.B) {
	ts := servertest.Start(b)
	c := ts.Signer()
	ctx := context.Background()
	if _, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("images"), PlatformId: aws.String("Notation-OCI-SHA384-ECDSA")}); err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270","size":528}}`)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.SignPayload(ctx, &signer.SignPayloadInput{ProfileName: aws.String("images"), Payload: payload, PayloadFormat: aws.String("application/vnd.cncf.notary.payload.v1+json")}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSignJob50MB signs a 50 MB zip through a signing job: from
// StartSigningJob until DescribeSigningJob says Succeeded (read, SHA-384,
// envelope, embed, write of the signed object).
func BenchmarkSignJob50MB(b *testing.B) {
	e := newJobEnv(b)
	src := bigZip(b, 50<<20)
	ver := e.put(b, "artifacts", "big.zip", src)
	b.SetBytes(int64(len(src)))
	b.ResetTimer()
	for i := range b.N {
		id, err := e.start(b, "big.zip", ver, "signing_profile_for_lambda", fmt.Sprintf("big-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		if d := e.wait(b, id); d.Status != "Succeeded" {
			b.Fatalf("job %s: %s", id, aws.ToString(d.StatusReason))
		}
	}
}

// BenchmarkJobs1000 runs 1,000 signing jobs of a small zip: submit them
// all, then wait until the last is done. ns/op is per 1,000 jobs.
func BenchmarkJobs1000(b *testing.B) {
	e := newJobEnv(b)
	ver := e.put(b, "artifacts", "hello.zip", zipOf(b, helloZip))
	b.ResetTimer()
	for i := range b.N {
		ids := make([]string, 1000)
		for j := range ids {
			id, err := e.start(b, "hello.zip", ver, "signing_profile_for_lambda", fmt.Sprintf("small-%d-%d", i, j))
			if err != nil {
				b.Fatal(err)
			}
			ids[j] = id
		}
		for _, id := range ids {
			if d := e.wait(b, id); d.Status != "Succeeded" {
				b.Fatalf("job %s: %s", id, aws.ToString(d.StatusReason))
			}
		}
	}
}

// bigZip returns a zip of about size bytes of incompressible data.
func bigZip(b *testing.B, size int) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	data := make([]byte, 1<<20)
	for i := 0; buf.Len() < size; i++ {
		f, err := w.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("lib/part%03d.bin", i), Method: zip.Store})
		if err != nil {
			b.Fatal(err)
		}
		rand.Read(data)
		f.Write(data)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkDeploy10MB deploys a 10 MB signed package with
// UpdateFunctionCode under an Enforce code signing config and, as the
// reference in the same run, with no config.
func BenchmarkDeploy10MB(b *testing.B) {
	e := newJobEnv(b)
	ctx := context.Background()
	src := bigZip(b, 10<<20)
	ver := e.put(b, "artifacts", "big.zip", src)
	id, err := e.start(b, "big.zip", ver, "signing_profile_for_lambda", "big")
	if err != nil {
		b.Fatal(err)
	}
	e.wait(b, id)
	signed, err := e.get(b, "artifacts", "signed-"+id+".zip")
	if err != nil {
		b.Fatal(err)
	}
	lc := lambdaClient(e.ts)
	versionARN := fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-profiles/signing_profile_for_lambda/%s", e.ts.AccountID(), e.version)
	csc, err := lc.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &ltypes.AllowedPublishers{SigningProfileVersionArns: []string{versionARN}},
		CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicyEnforce}})
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"none", "enforce"} {
		if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: ltypes.RuntimePython312, Handler: aws.String("a.b"),
			Role: aws.String(e.ts.LambdaRole(b)), Code: &ltypes.FunctionCode{ZipFile: signed}}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := lc.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String("enforce"), CodeSigningConfigArn: csc.CodeSigningConfig.CodeSigningConfigArn}); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"none", "enforce"} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(signed)))
			for range b.N {
				if _, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: signed}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInvokeAPI is a warm Invoke of a python no-op through the whole
// API path (aws-sdk-go-v2 → HTTP → SigV4 → Lambda API → sandbox), one
// caller at a time, so ns/op is the end-to-end latency.
func BenchmarkInvokeAPI(b *testing.B) {
	ts := servertest.Start(b)
	if ts.Invoke.Pool == nil {
		b.Skipf("functions cannot run here: %v", ts.Invoke.Unavailable)
	}
	lc := lambdaClient(ts)
	ctx := context.Background()
	_, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("noop"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("app.handler"), Role: aws.String(ts.LambdaRole(b)), MemorySize: aws.Int32(512),
		Code: &ltypes.FunctionCode{ZipFile: zipOf(b, map[string]string{"app.py": "def handler(event, context):\n    return None\n"})}})
	if err != nil {
		b.Fatal(err)
	}
	in := &lambda.InvokeInput{FunctionName: aws.String("noop"), Payload: []byte(`{}`)}
	if _, err := lc.Invoke(ctx, in); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if out, err := lc.Invoke(ctx, in); err != nil || out.FunctionError != nil {
			b.Fatal(err, out.FunctionError)
		}
	}
}

// BenchmarkAuthzAudit measures API throughput with authorization and
// audit on (a user whose policies are evaluated on every call, every call
// audited) and off (every call allowed, none audited), in the same run:
// a read (GetSigningProfile, audited asynchronously) and a write
// (PutSigningProfile, answered only once its audit record is durable).
func BenchmarkAuthzAudit(b *testing.B) {
	for _, mode := range []string{"on", "off"} {
		b.Run(mode, func(b *testing.B) {
			ts := servertest.Start(b)
			ctx := context.Background()
			if _, err := ts.IAM.CreateUser(ctx, "bench", ""); err != nil {
				b.Fatal(err)
			}
			pol := `{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Action":["signer:Get*","signer:List*","signer:PutSigningProfile"],"Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}},
				{"Effect":"Deny","Action":"signer:Revoke*","Resource":"*"}]}`
			if err := ts.IAM.PutInlinePolicy(ctx, iam.KindUser, "bench", "p", pol); err != nil {
				b.Fatal(err)
			}
			id, secret, err := ts.IAM.CreateAccessKey(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			if mode == "off" {
				ts.DisableAuthorizationAndAudit()
			}
			c := signer.New(signer.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
			if _, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("bench"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}); err != nil {
				b.Fatal(err)
			}
			b.Run("GetSigningProfile", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := c.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("bench")}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			var n atomic.Int64
			b.Run("PutSigningProfile", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						name := fmt.Sprintf("bench_%d", n.Add(1))
						if _, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String(name), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkSignJob50MBScan signs a 50 MB zip with the profile's secret
// scan off and on (warn, so that a chance finding does not fail the
// job): the scan's share of a signing job. text: code-like text files of
// about 64 KB each, all scanned; source: real source code (Go's own, as
// rich in "key", "token" and "auth" as code gets); binary:
// BenchmarkSignJob50MB's random 1 MB files, skipped after their first
// 8 KB.
func BenchmarkSignJob50MBScan(b *testing.B) {
	e := newJobEnv(b)
	for _, mode := range []string{"off", "warn"} {
		if _, err := e.signer.PutSigningProfile(context.Background(), &signer.PutSigningProfileInput{ProfileName: aws.String("scan_" + mode),
			PlatformId: aws.String("AWSLambda-SHA384-ECDSA"), SigningParameters: map[string]string{"secretScan": mode}}); err != nil {
			b.Fatal(err)
		}
	}
	for _, content := range []string{"text", "source", "binary"} {
		var src []byte
		switch content {
		case "text":
			src = textZip(b, 50<<20)
		case "source":
			src = sourceZip(b, 50<<20)
		case "binary":
			src = bigZip(b, 50<<20)
		}
		ver := e.put(b, "artifacts", content+".zip", src)
		for _, mode := range []string{"off", "warn"} {
			b.Run(content+"/scan="+mode, func(b *testing.B) {
				b.SetBytes(int64(len(src)))
				for range b.N {
					id, err := e.start(b, content+".zip", ver, "scan_"+mode, fmt.Sprintf("%s-%s-%d", content, mode, scanJobs.Add(1)))
					if err != nil {
						b.Fatal(err)
					}
					if d := e.wait(b, id); d.Status != "Succeeded" {
						b.Fatalf("job %s: %s", id, aws.ToString(d.StatusReason))
					}
				}
			})
		}
	}
}

var scanJobs atomic.Int64 // client request tokens of BenchmarkSignJob50MBScan

// sourceZip returns a stored zip of about size bytes of Go's own
// source files.
func sourceZip(b *testing.B, size int) []byte {
	z, _ := scantest.SourceZip(b, size)
	return z
}

// textZip returns a stored zip of about size bytes of code-like text
// files of about 64 KB each.
func textZip(b *testing.B, size int) []byte {
	r := mrand.New(mrand.NewPCG(1, 2))
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for n := 0; buf.Len() < size; n++ {
		f, err := w.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("src/pkg%02d/module%04d.py", n%37, n), Method: zip.Store})
		if err != nil {
			b.Fatal(err)
		}
		var t bytes.Buffer
		for t.Len() < 64<<10 {
			fmt.Fprintf(&t, "def handle_%08x(event, context):\n    value = event.get(\"field_%x\", %d)\n    # compute the result for item %d\n    return {\"status\": %d, \"body\": \"done %x\"}\n\n",
				r.Uint32(), r.Uint32(), r.IntN(1000), r.IntN(100000), 200+r.IntN(300), r.Uint64())
		}
		f.Write(t.Bytes())
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}
