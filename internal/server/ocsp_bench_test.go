package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkOCSP measures the OCSP responder against Go's P-384 signing
// rate in the same run (docs/performance.md):
//
//	cached/in-process   Service.OCSP for a response in the cache
//	cached/http         the same through POST /ocsp/... on loopback
//	signed/nonce        requests with a nonce, so every response is signed
//	p384-sign           ecdsa.SignASN1 over a SHA-384 digest, the cost of
//	                    one uncached response's signature
//
// Each reports ops/s; the sub-benchmarks run with parallel goroutines.
func BenchmarkOCSP(b *testing.B) {
	env := newOCSPEnv(b, map[string]time.Duration{"a": time.Second})
	leaf, inter := env.sigs["a"].chain[0], env.inter
	u := leaf.OCSPServer[0]
	path := strings.TrimPrefix(u, env.ts.URL+"/ocsp/")
	plain := ocspRequest(b, leaf, inter, nil)
	withNonce := ocspRequest(b, leaf, inter, []byte("0123456789abcdef"))
	ctx := context.Background()
	if _, err := env.ts.Profiles.OCSP(ctx, path, plain); err != nil {
		b.Fatal(err)
	}
	perSecond := func(b *testing.B) { b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s") }

	b.Run("cached/in-process", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := env.ts.Profiles.OCSP(ctx, path, plain); err != nil {
					b.Fatal(err)
				}
			}
		})
		perSecond(b)
	})
	b.Run("cached/http", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := http.Post(u, "application/ocsp-request", bytes.NewReader(plain))
				if err != nil {
					b.Fatal(err)
				}
				var buf bytes.Buffer
				buf.ReadFrom(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || buf.Len() < 100 {
					b.Fatalf("%d, %d bytes", resp.StatusCode, buf.Len())
				}
			}
		})
		perSecond(b)
	})
	b.Run("signed/nonce", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := env.ts.Profiles.OCSP(ctx, path, withNonce); err != nil {
					b.Fatal(err)
				}
			}
		})
		perSecond(b)
	})
	b.Run("p384-sign", func(b *testing.B) {
		key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		digest := sha512.Sum384([]byte("an OCSP response's tbsResponseData"))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
		perSecond(b)
	})
}
