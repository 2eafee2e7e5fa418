package cli_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/dir"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/signet/signet/internal/server/servertest"
)

func writeZip(t *testing.T, path string) {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, _ := w.Create("lambda_function.py")
	f.Write([]byte("def lambda_handler(event, context):\n    return event['key1']\n"))
	w.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSignVerify signs a local package in one command, verifies it
// offline against the exported trust store, and checks that notation-go's
// blob verifier accepts the exported detached signature.
func TestSignVerify(t *testing.T) {
	srv := servertest.Start(t)
	work := t.TempDir()
	for _, args := range [][]string{
		{"profile", "create", "signing_profile_for_lambda", "--platform", "AWSLambda-SHA384-ECDSA"},
		{"profile", "create", "other_profile", "--platform", "AWSLambda-SHA384-ECDSA"},
	} {
		if code, _, stderr := run(t, srv, args...); code != 0 {
			t.Fatal(stderr)
		}
	}
	pkg := filepath.Join(work, "function.zip")
	writeZip(t, pkg)
	code, stdout, stderr := run(t, srv, "sign", pkg, "--profile", "signing_profile_for_lambda")
	if code != 0 {
		t.Fatalf("sign: exit %d: %s", code, stderr)
	}
	signed := filepath.Join(work, "function-signed.zip")
	if !strings.Contains(stdout, signed) {
		t.Errorf("sign output does not name %s:\n%s", signed, stdout)
	}
	// An object already in a versioned bucket: signed in place.
	zb, _ := os.ReadFile(pkg)
	if _, err := srv.S3().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("signet-uploads"), Key: aws.String("direct/function.zip"), Body: bytes.NewReader(zb)}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run(t, srv, "sign", "s3://signet-uploads/direct/function.zip", "--profile", "signing_profile_for_lambda", "--prefix", "out/")
	if code != 0 || !strings.Contains(stdout, "signed s3://signet-uploads/out/") {
		t.Errorf("sign s3://: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := run(t, srv, "sign", "s3://signet-uploads/missing.zip", "--profile", "signing_profile_for_lambda"); code != 1 || !strings.Contains(stderr, "NotFound") {
		t.Errorf("sign of a missing object: exit %d %s", code, stderr)
	}
	if code, _, stderr := run(t, srv, "sign", pkg, "--profile", "nobody"); code != 1 || !strings.Contains(stderr, "ResourceNotFoundException") {
		t.Errorf("sign with an unknown profile: exit %d %s", code, stderr)
	}
	trustDir := filepath.Join(work, "notation")
	if code, _, stderr := run(t, srv, "trust", "export", "--profile", "signing_profile_for_lambda", trustDir); code != 0 {
		t.Fatal(stderr)
	}
	tampered := filepath.Join(work, "tampered.zip")
	b, _ := os.ReadFile(signed)
	b[40] ^= 0x01
	os.WriteFile(tampered, b, 0o644)
	profileARN := "arn:aws:signer:us-east-1:" + srv.AccountID() + ":/signing-profiles/signing_profile_for_lambda"
	otherARN := "arn:aws:signer:us-east-1:" + srv.AccountID() + ":/signing-profiles/other_profile"
	cases := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"ok/trust-store", []string{"verify", signed, "--trust-store", trustDir}, 0, "verified"},
		{"ok/server-root", []string{"verify", signed}, 0, "verified"},
		{"ok/publisher", []string{"verify", signed, "--trust-store", trustDir, "--profile", profileARN}, 0, "verified"},
		{"ok/json", []string{"verify", signed, "--trust-store", trustDir, "--output", "json"}, 0, `"verified": true`},
		{"fail/unsigned", []string{"verify", pkg, "--trust-store", trustDir}, 3, "signature check failed"},
		{"fail/tampered", []string{"verify", tampered, "--trust-store", trustDir}, 4, "integrity check failed"},
		{"fail/publisher", []string{"verify", signed, "--trust-store", trustDir, "--profile", otherARN}, 7, "publisher check failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := run(t, srv, c.args...)
			if code != c.code || !strings.Contains(stdout+stderr, c.out) {
				t.Errorf("exit %d, want %d; output:\n%s%s", code, c.code, stdout, stderr)
			}
		})
	}
	// A trust store with another root: authenticity.
	otherRoot := filepath.Join(work, "other-root")
	os.MkdirAll(otherRoot, 0o755)
	os.WriteFile(filepath.Join(otherRoot, "root.pem"), []byte(otherRootPEM(t)), 0o644)
	if code, _, _ := run(t, srv, "verify", signed, "--trust-store", otherRoot); code != 5 {
		t.Errorf("verify against another root: exit %d, want 5", code)
	}

	// Export, then notation-go's blob verifier with the exported trust.
	exportDir := filepath.Join(work, "export")
	if code, _, stderr := run(t, srv, "verify", signed, "--trust-store", trustDir, "--export-sig", exportDir); code != 0 {
		t.Fatal(stderr)
	}
	// Named as the original, not as the signed package.
	orig, _ := os.ReadFile(filepath.Join(exportDir, "function.zip"))
	want, _ := os.ReadFile(pkg)
	if !bytes.Equal(orig, want) {
		t.Fatal("the exported package is not the original")
	}
	sig, err := os.ReadFile(filepath.Join(exportDir, "function.zip.jws.sig"))
	if err != nil {
		t.Fatal(err)
	}
	var policy trustpolicy.BlobDocument
	pb, _ := os.ReadFile(filepath.Join(trustDir, "trustpolicy.blob.json"))
	if err := json.Unmarshal(pb, &policy); err != nil {
		t.Fatal(err)
	}
	v, err := verifier.NewVerifierWithOptions(truststore.NewX509TrustStore(dir.NewSysFS(trustDir)), verifier.VerifierOptions{BlobTrustPolicy: &policy})
	if err != nil {
		t.Fatal(err)
	}
	for name, blob := range map[string][]byte{"ok": orig, "fail/changed": append(bytes.Clone(orig), 0)} {
		t.Run("notation-go/"+name, func(t *testing.T) {
			_, outcome, err := notation.VerifyBlob(context.Background(), v, bytes.NewReader(blob), sig, notation.VerifyBlobOptions{
				BlobVerifierVerifyOptions: notation.BlobVerifierVerifyOptions{SignatureMediaType: "application/jose+json"},
				ContentMediaType:          "application/zip",
			})
			if (err == nil) != (name == "ok") {
				t.Fatalf("notation.VerifyBlob = %v", err)
			}
			if err == nil {
				for _, r := range outcome.VerificationResults {
					if r.Error != nil {
						t.Errorf("%s: %v", r.Type, r.Error)
					}
				}
			}
		})
	}
	// Revocation: a CRL cache is filled; a revoked signature exits 8.
	crlCache := filepath.Join(work, "crl-cache")
	if code, stdout, stderr := run(t, srv, "verify", signed, "--trust-store", trustDir, "--crl-cache", crlCache); code != 0 || !strings.Contains(stdout, "revocation") {
		t.Fatalf("verify with a CRL cache: exit %d\n%s%s", code, stdout, stderr)
	}
	jobID := jobOf(t, srv, signed)
	if code, _, stderr := run(t, srv, "signature", "revoke", jobID, "--reason", "leaked build"); code != 0 {
		t.Fatalf("signature revoke: %s", stderr)
	}
	if code, stdout, _ := run(t, srv, "verify", signed, "--trust-store", trustDir); code != 8 || !strings.Contains(stdout, "is revoked") {
		t.Errorf("verify of a revoked signature: exit %d, want 8\n%s", code, stdout)
	}
	// The CRL cached before the revocation is still valid, but the OCSP
	// responder, asked first, answers revoked at once.
	if code, stdout, _ := run(t, srv, "verify", signed, "--trust-store", trustDir, "--crl-cache", crlCache); code != 8 || !strings.Contains(stdout, "is revoked") {
		t.Errorf("verify of a revoked signature with a CRL cached before the revocation: exit %d, want 8\n%s", code, stdout)
	}
	if code, _, _ := run(t, srv, "verify", signed, "--trust-store", trustDir, "--no-revocation"); code != 0 {
		t.Errorf("verify --no-revocation: exit %d", code)
	}
	if code, _, stderr := run(t, srv, "signature", "revoke", jobID, "--reason", "again"); code != 1 || !strings.Contains(stderr, "ValidationException") {
		t.Errorf("revoking twice: exit %d %s", code, stderr)
	}
	if code, _, stderr := run(t, srv, "profile", "revoke", "other_profile", "--version", "AAAAAAAAAA", "--reason", "r"); code != 1 || !strings.Contains(stderr, "ResourceNotFoundException") {
		t.Errorf("revoking an unknown version: exit %d %s", code, stderr)
	}
	if code, _, stderr := run(t, srv, "profile", "revoke", "other_profile", "--version", "AAAAAAAAAA", "--reason", "r", "--effective-time", "tomorrow"); code != 2 {
		t.Errorf("bad --effective-time: exit %d %s", code, stderr)
	}

}

// jobOf reads the signing job ARN out of a signed package.
func jobOf(t *testing.T, srv *servertest.Server, path string) string {
	t.Helper()
	code, stdout, stderr := run(t, srv, "verify", path, "--no-revocation", "--output", "json")
	if code != 0 {
		t.Fatal(stderr)
	}
	var rep struct {
		JobARN string `json:"jobArn"`
	}
	json.Unmarshal([]byte(stdout), &rep)
	_, id, _ := strings.Cut(rep.JobARN, ":/signing-jobs/")
	return id
}

func otherRootPEM(t *testing.T) string {
	t.Helper()
	other := servertest.Start(t)
	var b bytes.Buffer
	pemEncode(&b, other.Authority.Root.Cert.Raw)
	return b.String()
}
