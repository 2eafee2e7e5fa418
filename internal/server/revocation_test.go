package server_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/signing"
	"github.com/signet/signet/internal/verify"
)

// clock is a settable clock for the signing service.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// memStore is a notation trust store holding one signingAuthority root.
type memStore struct{ root *x509.Certificate }

func (m memStore) GetCertificates(ctx context.Context, typ truststore.Type, name string) ([]*x509.Certificate, error) {
	if typ != truststore.TypeSigningAuthority || name != "signet" {
		return nil, fmt.Errorf("no trust store %s:%s", typ, name)
	}
	return []*x509.Certificate{m.root}, nil
}

// signed is one signed package and what notation-go needs to verify it.
type signed struct {
	job      string
	at       time.Time
	original []byte
	envelope []byte
	leafHash string
}

// notationAccepts verifies a package with notation-go's blob verifier,
// revocation checked against Signet's CRLs over http.
func notationAccepts(t *testing.T, root *x509.Certificate, identity string, s signed) error {
	t.Helper()
	policy := &trustpolicy.BlobDocument{Version: "1.0", TrustPolicies: []trustpolicy.BlobTrustPolicy{{
		Name: "signet", GlobalPolicy: true,
		SignatureVerification: trustpolicy.SignatureVerification{VerificationLevel: "strict"},
		TrustStores:           []string{"signingAuthority:signet"}, TrustedIdentities: []string{identity},
	}}}
	v, err := verifier.NewVerifierWithOptions(memStore{root}, verifier.VerifierOptions{BlobTrustPolicy: policy})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = notation.VerifyBlob(context.Background(), v, bytes.NewReader(s.original), s.envelope, notation.VerifyBlobOptions{
		BlobVerifierVerifyOptions: notation.BlobVerifierVerifyOptions{SignatureMediaType: "application/jose+json"},
		ContentMediaType:          "application/zip",
	})
	return err
}

// revocationStatus calls GetRevocationStatus with a signed raw request
// (SDK clients add a host prefix to this operation).
func revocationStatus(t *testing.T, ts *servertest.Server, q url.Values) (int, []string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+"/revocations?"+q.Encode(), nil)
	sum := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if err := v4.NewSigner().SignHTTP(context.Background(), ts.Creds, req, sum, "signer", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		RevokedEntities []string `json:"revokedEntities"`
		Message         string   `json:"message"`
	}
	json.Unmarshal(b, &out)
	return resp.StatusCode, out.RevokedEntities, resp.Header.Get("X-Amzn-ErrorType")
}

func TestRevocation(t *testing.T) {
	var clk clock
	t0 := time.Now().UTC().Truncate(time.Second)
	clk.Set(t0)
	ts := servertest.StartWithClock(t, clk.Now)
	e := &jobEnv{ts: ts, s3: ts.S3(), signer: ts.Signer()}
	e.setup(t)
	ctx := context.Background()
	ver := e.put(t, "artifacts", "hello.zip", zipOf(t, helloZip))
	root := ts.Authority.Root.Cert
	acct := ts.AccountID()
	identity := signing.SignerIdentity(root, acct, "signing_profile_for_lambda").IdentityString()
	versionARN := fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-profiles/signing_profile_for_lambda/%s", acct, e.version)
	interHash := ""
	if v, err := ts.Profiles.Store.ProfileVersion(ctx, "signing_profile_for_lambda", e.version); err == nil {
		inter, _ := x509.ParseCertificate(v.Certificate)
		interHash = signing.TBSHash(inter)
	}

	sign := func(name string, at time.Duration) signed {
		t.Helper()
		clk.Set(t0.Add(at))
		id, err := e.start(t, "hello.zip", ver, "signing_profile_for_lambda", name)
		if err != nil {
			t.Fatal(err)
		}
		if d := e.wait(t, id); d.Status != types.SigningStatusSucceeded {
			t.Fatalf("job %s: %s", name, aws.ToString(d.StatusReason))
		}
		b, err := e.get(t, "artifacts", "signed-"+id+".zip")
		if err != nil {
			t.Fatal(err)
		}
		rep, err := verify.Package(bytes.NewReader(b), int64(len(b)), verify.Options{Roots: []*x509.Certificate{root}})
		if err != nil || !rep.OK() {
			t.Fatalf("%s does not verify: %v %+v", name, err, rep)
		}
		var orig bytes.Buffer
		rep.Unsigned.WriteTo(&orig)
		return signed{job: id, at: rep.SigningTime, original: orig.Bytes(), envelope: rep.Envelope, leafHash: signing.TBSHash(rep.Chain[0])}
	}
	a, b, c := sign("a", 10*time.Second), sign("b", 20*time.Second), sign("c", 30*time.Second)
	jobARN := func(s signed) string { return fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-jobs/%s", acct, s.job) }

	// status asks GetRevocationStatus about a signature and returns the
	// revoked entities.
	status := func(s signed) []string {
		t.Helper()
		q := url.Values{}
		q.Set("signatureTimestamp", s.at.Format(time.RFC3339))
		q.Set("platformId", "AWSLambda-SHA384-ECDSA")
		q.Set("profileVersionArn", versionARN)
		q.Set("jobArn", jobARN(s))
		q.Add("certificateHashes", s.leafHash+interHash)
		q.Add("certificateHashes", interHash+signing.TBSHash(root))
		code, revoked, errType := revocationStatus(t, ts, q)
		if code != 200 {
			t.Fatalf("GetRevocationStatus: %d %s", code, errType)
		}
		return revoked
	}
	// check compares notation-go (CRLs over http) and GetRevocationStatus
	// with the expected decision for each package.
	check := func(stage string, want map[string]bool) {
		t.Helper()
		for name, s := range map[string]signed{"a": a, "b": b, "c": c} {
			err := notationAccepts(t, root, identity, s)
			revoked := status(s)
			if (err == nil) != want[name] {
				t.Errorf("%s: notation-go on %s: %v, want accepted=%v", stage, name, err, want[name])
			}
			if (len(revoked) == 0) != want[name] {
				t.Errorf("%s: GetRevocationStatus on %s = %v, want revoked=%v", stage, name, revoked, !want[name])
			}
		}
	}
	check("before any revocation", map[string]bool{"a": true, "b": true, "c": true})

	// Revoke one signature.
	clk.Set(t0.Add(40 * time.Second))
	if _, err := e.signer.RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: aws.String(b.job), Reason: aws.String("built from a compromised commit")}); err != nil {
		t.Fatal(err)
	}
	check("after RevokeSignature(b)", map[string]bool{"a": true, "b": false, "c": true})
	d, err := e.signer.DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: aws.String(b.job)})
	if err != nil || d.RevocationRecord == nil || aws.ToString(d.RevocationRecord.Reason) != "built from a compromised commit" || !strings.HasSuffix(aws.ToString(d.RevocationRecord.RevokedBy), ":root") {
		t.Errorf("DescribeSigningJob revocationRecord = %+v, %v", d.RevocationRecord, err)
	}
	if l, err := e.signer.ListSigningJobs(ctx, &signer.ListSigningJobsInput{IsRevoked: true}); err != nil || len(l.Jobs) != 1 || aws.ToString(l.Jobs[0].JobId) != b.job || !l.Jobs[0].IsRevoked {
		t.Errorf("ListSigningJobs(isRevoked) = %+v, %v", l, err)
	}
	if l, _ := e.signer.ListSigningJobs(ctx, &signer.ListSigningJobsInput{IsRevoked: false}); len(l.Jobs) != 3 {
		// The SDK omits isRevoked=false (a zero bool); all three are listed.
		t.Errorf("ListSigningJobs() = %d jobs", len(l.Jobs))
	}

	// Revoke the profile version from between a and c.
	clk.Set(t0.Add(50 * time.Second))
	revoke := func(at time.Duration) error {
		_, err := e.signer.RevokeSigningProfile(ctx, &signer.RevokeSigningProfileInput{ProfileName: aws.String("signing_profile_for_lambda"),
			ProfileVersion: aws.String(e.version), Reason: aws.String("key retired"), EffectiveTime: aws.Time(t0.Add(at))})
		return err
	}
	if err := revoke(25 * time.Second); err != nil {
		t.Fatal(err)
	}
	check("after RevokeSigningProfile from t0+25s", map[string]bool{"a": true, "b": false, "c": false})
	g, err := e.signer.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("signing_profile_for_lambda")})
	if err != nil || g.Status != types.SigningProfileStatusRevoked || g.RevocationRecord == nil || !aws.ToTime(g.RevocationRecord.RevocationEffectiveFrom).Equal(t0.Add(25*time.Second)) {
		t.Errorf("GetSigningProfile after revocation = %+v %+v, %v", g.Status, g.RevocationRecord, err)
	}
	// A revoked profile signs nothing new.
	clk.Set(t0.Add(55 * time.Second))
	id, err := e.start(t, "hello.zip", ver, "signing_profile_for_lambda", "after-revocation")
	if err != nil {
		t.Fatal(err)
	}
	if d := e.wait(t, id); d.Status != types.SigningStatusFailed || !strings.Contains(aws.ToString(d.StatusReason), "Revoked") {
		t.Errorf("job on a revoked profile: %s %q", d.Status, aws.ToString(d.StatusReason))
	}

	// Bad input, each a clear error; nothing changes.
	clk.Set(t0.Add(60 * time.Second))
	bad := map[string]struct {
		err  error
		code string
	}{
		"fail/effective-time-in-future": {revoke(2 * time.Minute), "ValidationException"},
		"fail/effective-time-later":     {revoke(28 * time.Second), "ValidationException"},
	}
	_, err = e.signer.RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: aws.String(b.job), Reason: aws.String("again")})
	bad["fail/revoke-twice"] = struct {
		err  error
		code string
	}{err, "ValidationException"}
	_, err = e.signer.RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: aws.String("00000000-0000-0000-0000-000000000000"), Reason: aws.String("x")})
	bad["fail/unknown-job"] = struct {
		err  error
		code string
	}{err, "ResourceNotFoundException"}
	_, err = e.signer.RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: aws.String(a.job), Reason: aws.String(strings.Repeat("r", 501))})
	bad["fail/reason-too-long"] = struct {
		err  error
		code string
	}{err, "ValidationException"}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			if apiCode(c.err) != c.code {
				t.Errorf("got %v, want %s", c.err, c.code)
			}
		})
	}
	check("after refused requests", map[string]bool{"a": true, "b": false, "c": false})

	// Moving the effective time earlier revokes a too.
	if err := revoke(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	check("after moving the effective time to t0+5s", map[string]bool{"a": false, "b": false, "c": false})

	// The CRLs: increasing numbers, the leaf of b, the intermediate with
	// its invalidity date.
	rootCRL := fetchCRL(t, ts, "/crl/root.crl", root)
	if len(rootCRL.RevokedCertificateEntries) != 1 || len(rootCRL.RevokedCertificateEntries[0].Extensions) == 0 {
		t.Errorf("root CRL entries = %+v", rootCRL.RevokedCertificateEntries)
	}
	again := fetchCRL(t, ts, "/crl/root.crl", root)
	if again.Number.Cmp(rootCRL.Number) < 0 {
		t.Errorf("CRL number went down: %v then %v", rootCRL.Number, again.Number)
	}
	v, _ := ts.Profiles.Store.ProfileVersion(ctx, "signing_profile_for_lambda", e.version)
	inter, _ := x509.ParseCertificate(v.Certificate)
	leafCRL := fetchCRL(t, ts, "/crl/signing-profiles/signing_profile_for_lambda/"+e.version+".crl", inter)
	var serials []string
	for _, en := range leafCRL.RevokedCertificateEntries {
		serials = append(serials, en.SerialNumber.Text(16))
	}
	job, _ := ts.Profiles.Jobs.Job(ctx, b.job)
	if !slices.Equal(serials, []string{job.LeafSerial}) {
		t.Errorf("profile CRL serials %v, want [%s]", serials, job.LeafSerial)
	}
}

func fetchCRL(t *testing.T, ts *servertest.Server, path string, issuer *x509.Certificate) *x509.RevocationList {
	t.Helper()
	resp, err := http.Get(ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	der, _ := io.ReadAll(resp.Body)
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return crl
}
