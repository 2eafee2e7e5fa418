package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"
	corerevocation "github.com/notaryproject/notation-core-go/revocation"
	corecrl "github.com/notaryproject/notation-core-go/revocation/crl"
	"github.com/notaryproject/notation-core-go/revocation/purpose"
	"github.com/notaryproject/notation-core-go/revocation/result"
	notationcrl "github.com/notaryproject/notation-go/verifier/crl"
	"golang.org/x/crypto/ocsp"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/deploygate"
	"github.com/signet/signet/internal/pki"
	"github.com/signet/signet/internal/revocation"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/signing"
	"github.com/signet/signet/internal/verify"
)

// ocspEnv is a server with signatures made at known times.
type ocspEnv struct {
	*jobEnv
	clk   *clock
	t0    time.Time
	root  *x509.Certificate
	inter *x509.Certificate
	sigs  map[string]ocspSig
}

// ocspSig is one signature: the signed package and what verifiers need.
type ocspSig struct {
	signed
	zip   []byte
	chain []*x509.Certificate
}

// newOCSPEnv signs hello.zip once per entry of at, at t0 + that offset.
func newOCSPEnv(t testing.TB, at map[string]time.Duration) *ocspEnv {
	t.Helper()
	clk := &clock{}
	t0 := time.Now().UTC().Truncate(time.Second)
	clk.Set(t0)
	ts := servertest.StartWithClock(t, clk.Now)
	e := &jobEnv{ts: ts, s3: ts.S3(), signer: ts.Signer()}
	e.setup(t)
	ver := e.put(t, "artifacts", "hello.zip", zipOf(t, helloZip))
	env := &ocspEnv{jobEnv: e, clk: clk, t0: t0, root: ts.Authority.Root.Cert, sigs: map[string]ocspSig{}}
	for name, d := range at {
		clk.Set(t0.Add(d))
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
		rep, err := verify.Package(bytes.NewReader(b), int64(len(b)), verify.Options{Roots: []*x509.Certificate{env.root}})
		if err != nil || !rep.OK() {
			t.Fatalf("%s does not verify: %v %+v", name, err, rep)
		}
		var orig bytes.Buffer
		rep.Unsigned.WriteTo(&orig)
		env.sigs[name] = ocspSig{signed: signed{job: id, at: rep.SigningTime, original: orig.Bytes(), envelope: rep.Envelope, leafHash: signing.TBSHash(rep.Chain[0])}, zip: b, chain: rep.Chain}
		env.inter = rep.Chain[1]
	}
	return env
}

func (env *ocspEnv) revokeSignature(t *testing.T, name string, at time.Duration) {
	t.Helper()
	env.clk.Set(env.t0.Add(at))
	if _, err := env.signer.RevokeSignature(context.Background(), &signer.RevokeSignatureInput{JobId: aws.String(env.sigs[name].job), Reason: aws.String("built from a compromised commit")}); err != nil {
		t.Fatal(err)
	}
}

func (env *ocspEnv) revokeProfile(t *testing.T, at, effective time.Duration) {
	t.Helper()
	env.clk.Set(env.t0.Add(at))
	if _, err := env.signer.RevokeSigningProfile(context.Background(), &signer.RevokeSigningProfileInput{ProfileName: aws.String("signing_profile_for_lambda"),
		ProfileVersion: aws.String(env.version), Reason: aws.String("key retired"), EffectiveTime: aws.Time(env.t0.Add(effective))}); err != nil {
		t.Fatal(err)
	}
}

var oidNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}

// ocspRequest is an OCSP request for cert (SHA-1 CertID, as notation
// sends), with a nonce when nonce is not nil.
func ocspRequest(t testing.TB, cert, issuer *x509.Certificate, nonce []byte) []byte {
	t.Helper()
	der, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	if nonce == nil {
		return der
	}
	var req struct {
		TBS struct{ RequestList []asn1.RawValue }
	}
	if _, err := asn1.Unmarshal(der, &req); err != nil {
		t.Fatal(err)
	}
	val, _ := asn1.Marshal(nonce)
	withNonce := struct {
		TBS struct {
			RequestList []asn1.RawValue
			Extensions  []pkix.Extension `asn1:"explicit,tag:2"`
		}
	}{}
	withNonce.TBS.RequestList = req.TBS.RequestList
	withNonce.TBS.Extensions = []pkix.Extension{{Id: oidNonce, Value: val}}
	der, err = asn1.Marshal(withNonce)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// responseNonce returns the nonce of a response's responseExtensions.
func responseNonce(t *testing.T, der []byte) []byte {
	t.Helper()
	var resp struct {
		Status asn1.Enumerated
		Bytes  struct {
			Type     asn1.ObjectIdentifier
			Response []byte
		} `asn1:"explicit,tag:0"`
	}
	var basic struct {
		TBS struct {
			Version     int `asn1:"optional,default:0,explicit,tag:0"`
			ResponderID asn1.RawValue
			ProducedAt  time.Time `asn1:"generalized"`
			Responses   []asn1.RawValue
			Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
		}
	}
	if _, err := asn1.Unmarshal(der, &resp); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(resp.Bytes.Response, &basic); err != nil {
		t.Fatal(err)
	}
	for _, e := range basic.TBS.Extensions {
		if e.Id.Equal(oidNonce) {
			var n []byte
			asn1.Unmarshal(e.Value, &n)
			return n
		}
	}
	return nil
}

// askOCSP sends der to the responder at base by method and returns the
// body, which must be an OCSP response.
func askOCSP(t *testing.T, base, method string, der []byte) []byte {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodGet {
		resp, err = http.Get(base + "/" + url.QueryEscape(base64.StdEncoding.EncodeToString(der)))
	} else {
		resp, err = http.Post(base, "application/ocsp-request", bytes.NewReader(der))
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/ocsp-response" {
		t.Fatalf("%s %s: %d %s %q", method, base, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return body
}

// checkResponder checks the delegated responder of a response: issued by
// issuer, OCSPSigning, id-pkix-ocsp-nocheck, chaining to the root.
func checkResponder(t *testing.T, r *ocsp.Response, issuer, root *x509.Certificate) {
	t.Helper()
	c := r.Certificate
	if c == nil {
		t.Fatal("no responder certificate in the response")
	}
	if err := c.CheckSignatureFrom(issuer); err != nil {
		t.Errorf("responder not issued by %s: %v", issuer.Subject, err)
	}
	nocheck := false
	for _, e := range c.Extensions {
		nocheck = nocheck || e.Id.Equal(pki.OIDOCSPNoCheck)
	}
	if !nocheck || c.NotAfter.Sub(c.NotBefore) > signing.ResponderValidity+10*time.Minute {
		t.Errorf("responder: nocheck %v, validity %s", nocheck, c.NotAfter.Sub(c.NotBefore))
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inters.AddCert(issuer)
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: r.ThisUpdate, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}}); err != nil {
		t.Errorf("responder chain: %v", err)
	}
}

func TestOCSP(t *testing.T) {
	env := newOCSPEnv(t, map[string]time.Duration{"a": 10 * time.Second, "b": 20 * time.Second})
	a, b := env.sigs["a"], env.sigs["b"]
	leafURL, interURL := a.chain[0].OCSPServer, env.inter.OCSPServer
	if len(leafURL) != 1 || len(interURL) != 1 || !strings.HasPrefix(leafURL[0], env.ts.URL+"/ocsp/signing-profiles/") || !strings.HasPrefix(interURL[0], env.ts.URL+"/ocsp/root/") {
		t.Fatalf("AIA OCSP: leaf %v, intermediate %v", leafURL, interURL)
	}
	other := *a.chain[0]
	other.SerialNumber = new(big.Int).Add(other.SerialNumber, big.NewInt(1))

	cases := map[string]struct {
		cert, issuer *x509.Certificate
		url, method  string
		nonce        []byte
		raw          []byte // sent instead of a request for cert
		want         int    // ocsp.Good, ocsp.Revoked, ocsp.Unknown
		wantError    []byte // an error response instead
	}{
		"ok/leaf/get":                 {cert: a.chain[0], issuer: env.inter, url: leafURL[0], method: "GET", want: ocsp.Good},
		"ok/leaf/post":                {cert: a.chain[0], issuer: env.inter, url: leafURL[0], method: "POST", want: ocsp.Good},
		"ok/intermediate":             {cert: env.inter, issuer: env.root, url: interURL[0], method: "GET", want: ocsp.Good},
		"ok/nonce":                    {cert: b.chain[0], issuer: env.inter, url: leafURL[0], method: "POST", nonce: []byte("0123456789abcdef"), want: ocsp.Good},
		"ok/unknown-serial":           {cert: &other, issuer: env.inter, url: leafURL[0], method: "POST", want: ocsp.Unknown},
		"ok/unknown-intermediate":     {cert: &other, issuer: env.root, url: interURL[0], method: "POST", want: ocsp.Unknown},
		"fail/malformed/post":         {url: leafURL[0], method: "POST", raw: []byte("not DER"), wantError: ocsp.MalformedRequestErrorResponse},
		"fail/malformed/empty":        {url: leafURL[0], method: "POST", raw: []byte{}, wantError: ocsp.MalformedRequestErrorResponse},
		"fail/too-large":              {url: leafURL[0], method: "POST", raw: bytes.Repeat([]byte{0x30}, signing.MaxOCSPRequest+1), wantError: ocsp.MalformedRequestErrorResponse},
		"fail/nonce-too-long":         {cert: a.chain[0], issuer: env.inter, url: leafURL[0], method: "POST", nonce: bytes.Repeat([]byte{1}, 33), wantError: ocsp.MalformedRequestErrorResponse},
		"fail/other-issuer":           {cert: a.chain[0], issuer: env.inter, url: interURL[0], method: "POST", wantError: ocsp.UnauthorizedErrorResponse},
		"fail/unknown-version":        {cert: a.chain[0], issuer: env.inter, url: env.ts.URL + "/ocsp/signing-profiles/signing_profile_for_lambda/ABCDEFGHIJ", method: "GET", wantError: ocsp.UnauthorizedErrorResponse},
		"fail/unknown-responder-kind": {cert: a.chain[0], issuer: env.inter, url: env.ts.URL + "/ocsp/tsa/x/y", method: "POST", wantError: ocsp.UnauthorizedErrorResponse},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			der := c.raw
			if der == nil {
				der = ocspRequest(t, c.cert, c.issuer, c.nonce)
			}
			body := askOCSP(t, c.url, c.method, der)
			if c.wantError != nil {
				if !bytes.Equal(body, c.wantError) {
					t.Fatalf("got %x, want the error response %x", body, c.wantError)
				}
				return
			}
			r, err := ocsp.ParseResponseForCert(body, c.cert, c.issuer)
			if err != nil {
				t.Fatalf("response does not verify: %v", err)
			}
			if r.Status != c.want {
				t.Errorf("status %d, want %d", r.Status, c.want)
			}
			if got := r.NextUpdate.Sub(r.ThisUpdate); got != time.Hour {
				t.Errorf("nextUpdate - thisUpdate = %s, want crl_validity 1h", got)
			}
			checkResponder(t, r, c.issuer, env.root)
			if n := responseNonce(t, body); !bytes.Equal(n, c.nonce) {
				t.Errorf("nonce %x, want %x", n, c.nonce)
			}
		})
	}

	// Responses are cached (an ECDSA signature is never made twice the
	// same) until a revocation touches them.
	get := func(cert, issuer *x509.Certificate, u string) ([]byte, *ocsp.Response) {
		t.Helper()
		body := askOCSP(t, u, "GET", ocspRequest(t, cert, issuer, nil))
		r, err := ocsp.ParseResponseForCert(body, cert, issuer)
		if err != nil {
			t.Fatal(err)
		}
		return body, r
	}
	b1, _ := get(b.chain[0], env.inter, leafURL[0])
	b2, _ := get(b.chain[0], env.inter, leafURL[0])
	i1, _ := get(env.inter, env.root, interURL[0])
	if !bytes.Equal(b1, b2) {
		t.Error("a second request for the same certificate was signed again, not served from the cache")
	}
	env.revokeSignature(t, "b", 40*time.Second)
	b3, rb := get(b.chain[0], env.inter, leafURL[0])
	if bytes.Equal(b1, b3) || rb.Status != ocsp.Revoked || !rb.RevokedAt.Equal(env.t0.Add(40*time.Second)) || rb.RevocationReason != ocsp.CessationOfOperation || len(rb.Extensions) != 0 {
		t.Errorf("after RevokeSignature: status %d at %s reason %d extensions %v", rb.Status, rb.RevokedAt, rb.RevocationReason, rb.Extensions)
	}
	if _, ra := get(a.chain[0], env.inter, leafURL[0]); ra.Status != ocsp.Good {
		t.Errorf("a after b's revocation: status %d", ra.Status)
	}
	env.revokeProfile(t, 50*time.Second, 15*time.Second)
	i2, ri := get(env.inter, env.root, interURL[0])
	var invalid time.Time
	for _, e := range ri.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 24}) {
			asn1.UnmarshalWithParams(e.Value, &invalid, "generalized")
		}
	}
	if bytes.Equal(i1, i2) || ri.Status != ocsp.Revoked || !ri.RevokedAt.Equal(env.t0.Add(50*time.Second)) || ri.RevocationReason != ocsp.KeyCompromise || !invalid.Equal(env.t0.Add(15*time.Second)) {
		t.Errorf("intermediate after RevokeSigningProfile: status %d at %s reason %d invalidity %s", ri.Status, ri.RevokedAt, ri.RevocationReason, invalid)
	}
	// The CRL says the same.
	crl := fetchCRL(t, env.ts, "/crl/root.crl", env.root)
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].ReasonCode != ocsp.KeyCompromise || !crl.NextUpdate.Equal(crl.ThisUpdate.Add(time.Hour+5*time.Minute)) {
		t.Errorf("root CRL: %+v, thisUpdate %s nextUpdate %s", crl.RevokedCertificateEntries, crl.ThisUpdate, crl.NextUpdate)
	}
}

// failingTransport fails every request: a verifier whose OCSP requests
// never reach a responder.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("OCSP unreachable")
}

// noCRLs fails every CRL fetch.
type noCRLs struct{}

func (noCRLs) Fetch(context.Context, string) (*corecrl.Bundle, error) {
	return nil, errors.New("CRL unreachable")
}

// validatorRevoked runs notation-core-go's validator on chain and
// reports whether a certificate is revoked; an unknown status fails t.
func validatorRevoked(t *testing.T, v corerevocation.Validator, chain []*x509.Certificate, at time.Time) (bool, []result.RevocationMethod) {
	t.Helper()
	results, err := v.ValidateContext(context.Background(), corerevocation.ValidateContextOptions{CertChain: chain, AuthenticSigningTime: at})
	if err != nil {
		t.Fatal(err)
	}
	revoked := false
	var methods []result.RevocationMethod
	for i, r := range results[:len(results)-1] {
		methods = append(methods, r.RevocationMethod)
		switch r.Result {
		case result.ResultRevoked:
			revoked = true
		case result.ResultOK:
		default:
			t.Errorf("certificate %d (%s): %s %+v", i, chain[i].Subject.CommonName, r.Result, r.ServerResults[len(r.ServerResults)-1].Error)
		}
	}
	return revoked, methods
}

// TestOCSPReachesNotationAtOnce: notation-core-go's validator, as
// notation runs it (OCSP first, CRLs from a cache kept until their
// nextUpdate), sees a revocation on its very next check, although the
// CRL it cached before the revocation is still valid.
func TestOCSPReachesNotationAtOnce(t *testing.T) {
	env := newOCSPEnv(t, map[string]time.Duration{"a": 10 * time.Second})
	a := env.sigs["a"]
	fetcher, err := corecrl.NewHTTPFetcher(&http.Client{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if fetcher.Cache, err = notationcrl.NewFileCache(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	notation, err := corerevocation.NewWithOptions(corerevocation.Options{CRLFetcher: fetcher, CertChainPurpose: purpose.CodeSigning})
	if err != nil {
		t.Fatal(err)
	}
	crlOnly, err := corerevocation.NewWithOptions(corerevocation.Options{CRLFetcher: fetcher, OCSPHTTPClient: &http.Client{Transport: failingTransport{}}, CertChainPurpose: purpose.CodeSigning})
	if err != nil {
		t.Fatal(err)
	}
	revoked, methods := validatorRevoked(t, notation, a.chain, a.at)
	if revoked || methods[0] != result.RevocationMethodOCSP || methods[1] != result.RevocationMethodOCSP {
		t.Fatalf("before revocation: revoked %v by %v, want good by OCSP", revoked, methods)
	}
	// Fill the CRL cache, as an earlier verification would have.
	if revoked, _ := validatorRevoked(t, crlOnly, a.chain, a.at); revoked {
		t.Fatal("CRL says revoked before any revocation")
	}
	cached, err := fetcher.Cache.Get(context.Background(), a.chain[0].CRLDistributionPoints[0])
	if err != nil {
		t.Fatalf("the leaf's CRL is not cached: %v", err)
	}

	env.revokeSignature(t, "a", 20*time.Second)
	if time.Now().After(cached.BaseCRL.NextUpdate) {
		t.Fatal("the cached CRL expired during the test")
	}
	revoked, methods = validatorRevoked(t, notation, a.chain, a.at)
	if !revoked || methods[0] != result.RevocationMethodOCSP {
		t.Errorf("the very next check after RevokeSignature: revoked %v by %v, want revoked by OCSP", revoked, methods)
	}
	// Without OCSP the cached CRL would still answer good until its
	// nextUpdate: crl_validity bounds that delay.
	if revoked, _ := validatorRevoked(t, crlOnly, a.chain, a.at); revoked {
		t.Error("the CRL cached before the revocation already says revoked; this test no longer shows what OCSP adds")
	}
	if err := notationAccepts(t, env.root, signing.SignerIdentity(env.root, env.ts.AccountID(), "signing_profile_for_lambda").IdentityString(), a.signed); err == nil {
		t.Error("notation-go's verifier accepts the revoked signature")
	}
}

// TestRevocationAgreement: CRL, OCSP, GetRevocationStatus, signet verify
// and the deploy gate reach the same decision for every signature,
// through a signature revocation and a profile revocation whose effective
// time falls between signatures.
func TestRevocationAgreement(t *testing.T) {
	env := newOCSPEnv(t, map[string]time.Duration{"a": 10 * time.Second, "b": 20 * time.Second, "c": 30 * time.Second})
	ctx := context.Background()
	acct := env.ts.AccountID()
	versionARN := fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-profiles/signing_profile_for_lambda/%s", acct, env.version)
	interHash := signing.TBSHash(env.inter)

	crlFetcher, err := corecrl.NewHTTPFetcher(&http.Client{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	byCRL, err := corerevocation.NewWithOptions(corerevocation.Options{CRLFetcher: crlFetcher, OCSPHTTPClient: &http.Client{Transport: failingTransport{}}, CertChainPurpose: purpose.CodeSigning})
	if err != nil {
		t.Fatal(err)
	}
	byOCSP, err := corerevocation.NewWithOptions(corerevocation.Options{CRLFetcher: noCRLs{}, CertChainPurpose: purpose.CodeSigning})
	if err != nil {
		t.Fatal(err)
	}
	signetVerify, err := revocation.NewCRLChecker("")
	if err != nil {
		t.Fatal(err)
	}
	// The admission webhook's check: Signet's records, no OCSP at all
	// (its fallback fails, so a fallback would show).
	local := &revocation.Local{Service: env.ts.Profiles, Root: env.root, Fallback: byNothing{}}
	decide := func(s ocspSig) map[string]bool {
		t.Helper()
		out := map[string]bool{}
		out["crl"], _ = validatorRevoked(t, byCRL, s.chain, s.at)
		out["ocsp"], _ = validatorRevoked(t, byOCSP, s.chain, s.at)
		out["admission (records)"], _ = validatorRevoked(t, local, s.chain, s.at)
		q := url.Values{}
		q.Set("signatureTimestamp", s.at.Format(time.RFC3339))
		q.Set("platformId", "AWSLambda-SHA384-ECDSA")
		q.Set("profileVersionArn", versionARN)
		q.Set("jobArn", fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-jobs/%s", acct, s.job))
		q.Add("certificateHashes", s.leafHash+interHash)
		code, revoked, errType := revocationStatus(t, env.ts, q)
		if code != 200 {
			t.Fatalf("GetRevocationStatus: %d %s", code, errType)
		}
		out["GetRevocationStatus"] = len(revoked) > 0
		rep, err := verify.Package(bytes.NewReader(s.zip), int64(len(s.zip)), verify.Options{Roots: []*x509.Certificate{env.root}, Revocation: signetVerify})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() && rep.Failed != verify.RuleRevocation {
			t.Fatalf("signet verify failed %s: %v", rep.Failed, rep.Err())
		}
		out["signet verify"] = !rep.OK()
		d, err := env.ts.Functions.Gate.Check(ctx, bytes.NewReader(s.zip), int64(len(s.zip)), &deploygate.Config{Policy: deploygate.Enforce})
		if err != nil {
			t.Fatal(err)
		}
		out["deploy gate"] = !d.Allowed
		return out
	}
	stages := []struct {
		name    string
		do      func()
		revoked map[string]bool
	}{
		{"none revoked", func() {}, map[string]bool{}},
		{"signature b revoked", func() { env.revokeSignature(t, "b", 40*time.Second) }, map[string]bool{"b": true}},
		{"profile revoked from between a and c", func() { env.revokeProfile(t, 50*time.Second, 25*time.Second) }, map[string]bool{"b": true, "c": true}},
		{"profile revocation moved before a", func() { env.revokeProfile(t, 60*time.Second, 5*time.Second) }, map[string]bool{"a": true, "b": true, "c": true}},
	}
	for _, st := range stages {
		st.do()
		for _, name := range []string{"a", "b", "c"} {
			for by, revoked := range decide(env.sigs[name]) {
				if revoked != st.revoked[name] {
					t.Errorf("%s: %s says %s revoked=%v, want %v", st.name, by, name, revoked, st.revoked[name])
				}
			}
		}
	}
}

// TestOCSPResponderReused: an issuer's delegated responder is created on
// first need, then reused, also after a restart, until half its validity
// has passed.
func TestOCSPResponderReused(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{}
	t0 := time.Now().UTC().Truncate(time.Second)
	clk.Set(t0)
	start := func() *servertest.Server {
		return servertest.StartWithConfigAndClock(t, func(c *config.Config) { c.DataDir = dir }, clk.Now)
	}
	ts := start()
	ctx := context.Background()
	put, err := ts.Signer().PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("reuse"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ts.Profiles.Store.ProfileVersion(ctx, "reuse", aws.ToString(put.ProfileVersion))
	if err != nil {
		t.Fatal(err)
	}
	inter, _ := x509.ParseCertificate(v.Certificate)
	root := ts.Authority.Root.Cert
	path := "root/reuse/" + aws.ToString(put.ProfileVersion)
	responder := func(ts *servertest.Server, nonce string) *x509.Certificate {
		t.Helper()
		body, err := ts.Profiles.OCSP(ctx, path, ocspRequest(t, inter, root, []byte(nonce)))
		if err != nil {
			t.Fatal(err)
		}
		r, err := ocsp.ParseResponseForCert(body, inter, root)
		if err != nil || r.Status != ocsp.Good {
			t.Fatalf("response: %+v, %v", r, err)
		}
		if r.NextUpdate.After(r.Certificate.NotAfter) {
			t.Errorf("response valid until %s, after its responder (%s)", r.NextUpdate, r.Certificate.NotAfter)
		}
		return r.Certificate
	}
	first := responder(ts, "1")
	if again := responder(ts, "2"); !bytes.Equal(again.Raw, first.Raw) {
		t.Error("a second response has a new responder certificate")
	}
	ts.Close()
	ts = start()
	if restarted := responder(ts, "3"); !bytes.Equal(restarted.Raw, first.Raw) {
		t.Error("after a restart the responder certificate is new")
	}
	clk.Set(t0.Add(signing.ResponderValidity/2 + time.Minute))
	renewed := responder(ts, "4")
	if bytes.Equal(renewed.Raw, first.Raw) || !renewed.NotAfter.After(first.NotAfter) {
		t.Errorf("past half its validity the responder was not replaced: %s to %s", renewed.NotBefore, renewed.NotAfter)
	}
	if kept := responder(ts, "5"); !bytes.Equal(kept.Raw, renewed.Raw) {
		t.Error("the replacement responder is not reused")
	}
}

// byNothing is a revocation check that always fails.
type byNothing struct{}

func (byNothing) ValidateContext(context.Context, corerevocation.ValidateContextOptions) ([]*result.CertRevocationResult, error) {
	return nil, errors.New("the fallback revocation check was used")
}
