package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/signing"
)

// BenchmarkProfileCRL100k measures issuing the CRL of a profile version
// with 100,000 revoked signatures: reading them from SQLite and signing
// the DER. It reports the CRL's size.
func BenchmarkProfileCRL100k(b *testing.B) {
	ctx := context.Background()
	db, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "signet.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ks, err := keys.NewSoftware(make([]byte, 32), db.Keys)
	if err != nil {
		b.Fatal(err)
	}
	acct := arn.Account{Partition: "aws", Region: "us-east-1", ID: "123456789012"}
	base := signing.DefaultSubjectForTest()
	rootKey, root, err := signing.NewRoot(ctx, ks, base, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	rootSigner, _ := ks.Signer(ctx, rootKey)
	auth := &signing.Authority{Keys: ks, Account: acct, BaseURL: "http://127.0.0.1:9090"}
	auth.Root.Cert, auth.Root.Signer = root, rootSigner
	newService := func() *signing.Service {
		return &signing.Service{Store: db.Signing, Jobs: db.Signing, Issuer: auth, Account: acct}
	}
	if _, err := newService().PutProfile(ctx, signing.PutProfileInput{Name: "bulk", PlatformID: signing.PlatformLambda}); err != nil {
		b.Fatal(err)
	}
	p, _ := db.Signing.Profile(ctx, "bulk")
	// 100,000 revoked signatures, inserted in one statement.
	const n = 100000
	_, err = db.db.ExecContext(ctx, `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
INSERT INTO signing_jobs (id, client_request_token, kind, profile_name, profile_version, platform_id, status, created_at, job_owner, job_invoker, leaf_serial, revoked_at, revoked_by, revocation_reason)
SELECT printf('job-%08d', i), printf('t-%d', i), 'object', 'bulk', ?, 'AWSLambda-SHA384-ECDSA', 'Succeeded', ?, '123456789012', '123456789012', printf('%032x', 1000000 + i), ?, 'arn:aws:iam::123456789012:root', 'bulk' FROM seq`,
		n, p.Version, time.Now().UnixNano(), time.Now().UnixNano())
	if err != nil {
		b.Fatal(err)
	}
	var size int
	b.ResetTimer()
	for range b.N {
		der, err := newService().ProfileCRL(ctx, "bulk", p.Version)
		if err != nil {
			b.Fatal(err)
		}
		size = len(der)
	}
	b.ReportMetric(float64(size), "crl-bytes")
	b.ReportMetric(float64(n), "entries")
	_ = fmt.Sprint()
}
