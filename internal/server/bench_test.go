package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
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
