package deploygate

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/pki"
	"github.com/signet/signet/internal/revocation"
	"github.com/signet/signet/internal/signedzip"
)

const (
	profileARN      = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/allowed"
	otherVersionARN = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/someone_else/BBBBBBBBBB"
	cscARN          = "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789abcdefg"
)

// testPKI is a root and an intermediate whose CRLs a local http server
// publishes, as Signet does.
type testPKI struct {
	root, inter pki.CA
	revoked     []*big.Int // leaf serials on the intermediate's CRL
	url         string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ca, entries := p.root, []x509.RevocationListEntry(nil)
		if r.URL.Path == "/inter.crl" {
			ca = p.inter
			for _, s := range p.revoked {
				entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Minute)})
			}
		}
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour), RevokedCertificateEntries: entries}, ca.Cert, ca.Signer)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(der)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	now := time.Now()
	name := pki.Name{Country: "US", Province: "WA", Organization: "Signet Test", CommonName: "root"}
	rk, _ := pki.GenerateKey()
	root, err := pki.NewRoot(rk, name, now.Add(-2*time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p.root = pki.CA{Cert: root, Signer: rk}
	ik, _ := pki.GenerateKey()
	name.CommonName = "intermediate"
	inter, err := p.root.IssueIntermediate(pki.Template{Subject: name, PublicKey: ik.Public(), NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(24 * time.Hour), CRLURL: p.url + "/root.crl"})
	if err != nil {
		t.Fatal(err)
	}
	p.inter = pki.CA{Cert: inter, Signer: ik}
	return p
}

func testZip(t *testing.T) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, _ := w.Create("lambda_function.py")
	f.Write([]byte("def lambda_handler(event, context):\n    return event['key1']\n"))
	w.Close()
	return b.Bytes()
}

// sign signs u at signingTime, valid until expiry, naming versionARN.
func (p *testPKI) sign(t *testing.T, u []byte, signingTime, expiry time.Time, versionARN string) ([]byte, *x509.Certificate) {
	t.Helper()
	key, _ := pki.GenerateKey()
	leaf, err := p.inter.IssueLeaf(pki.Template{Subject: pki.Name{Country: "US", Province: "WA", Organization: "Signet Test", CommonName: "allowed"},
		PublicKey: key.Public(), NotBefore: signingTime.Add(-time.Minute), NotAfter: signingTime.Add(12 * time.Hour), CRLURL: p.url + "/inter.crl"})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum384(u)
	payload, _ := notary.Payload(notary.Descriptor{MediaType: "application/zip", Digest: "sha384:" + hex.EncodeToString(sum[:]), Size: int64(len(u))})
	env, err := notary.Sign(notary.SignRequest{Payload: payload, Key: key, Chain: []*x509.Certificate{leaf, p.inter.Cert, p.root.Cert},
		SigningTime: signingTime, Expiry: expiry, ProfileVersionARN: versionARN, JobARN: "arn:aws:signer:us-east-1:123456789012:/signing-jobs/j"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := signedzip.Embed(&out, bytes.NewReader(u), int64(len(u)), env, signedzip.JWS); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), leaf
}

// TestGate is the table {unsigned, signed, tampered, expired, revoked,
// other profile} × {Warn, Enforce}: outcome, error type and the
// SignatureValidationErrors count of each cell.
func TestGate(t *testing.T) {
	p := newTestPKI(t)
	now := time.Now()
	u := testZip(t)
	allowedVersion := profileARN + "/AAAAAAAAAA"
	signed, _ := p.sign(t, u, now.Add(-10*time.Minute), now.Add(time.Hour), allowedVersion)
	tampered := bytes.Clone(signed)
	tampered[40] ^= 0x01
	expired, _ := p.sign(t, u, now.Add(-30*time.Minute), now.Add(-time.Minute), allowedVersion)
	revoked, leaf := p.sign(t, u, now.Add(-10*time.Minute), now.Add(time.Hour), allowedVersion)
	p.revoked = append(p.revoked, leaf.SerialNumber)
	other, _ := p.sign(t, u, now.Add(-10*time.Minute), now.Add(time.Hour), otherVersionARN)
	// Packages that end with a signature trailer that cannot be read.
	truncated := append(bytes.Clone(signed[:len(signed)-17]), signed[len(signed)-16:]...)
	futureVersion := bytes.Clone(signed)
	futureVersion[len(futureVersion)-10]++
	unknownType := bytes.Clone(signed)
	unknownType[len(unknownType)-9] = 0x7f

	checker, err := revocation.NewCRLChecker("")
	if err != nil {
		t.Fatal(err)
	}
	g := &Gate{Roots: []*x509.Certificate{p.root.Cert}, Revocation: checker}
	type cell struct {
		allowed bool
		refusal error
		failed  Check
		metric  int
	}
	ok := cell{true, nil, "", 0}
	cases := []struct {
		name    string
		pkg     []byte
		warn    cell
		enforce cell
	}{
		{"unsigned", u, cell{true, nil, CheckUnsigned, 1}, cell{false, ErrVerificationFailed, CheckUnsigned, 0}},
		{"signed", signed, ok, ok},
		{"tampered", tampered, cell{false, ErrSignatureInvalid, CheckIntegrity, 0}, cell{false, ErrSignatureInvalid, CheckIntegrity, 0}},
		{"expired", expired, cell{true, nil, CheckExpiry, 1}, cell{false, ErrVerificationFailed, CheckExpiry, 0}},
		{"revoked", revoked, cell{true, nil, CheckRevocation, 1}, cell{false, ErrVerificationFailed, CheckRevocation, 0}},
		{"unreadable-truncated", truncated, cell{false, ErrSignatureInvalid, CheckIntegrity, 0}, cell{false, ErrSignatureInvalid, CheckIntegrity, 0}},
		{"unreadable-version", futureVersion, cell{false, ErrSignatureInvalid, CheckIntegrity, 0}, cell{false, ErrSignatureInvalid, CheckIntegrity, 0}},
		{"unreadable-type", unknownType, cell{false, ErrSignatureInvalid, CheckIntegrity, 0}, cell{false, ErrSignatureInvalid, CheckIntegrity, 0}},
		{"other-profile", other, cell{true, nil, CheckMismatch, 1}, cell{false, ErrVerificationFailed, CheckMismatch, 0}},
	}
	for _, c := range cases {
		for policy, want := range map[Policy]cell{Warn: c.warn, Enforce: c.enforce} {
			t.Run(c.name+"/"+string(policy), func(t *testing.T) {
				d, err := g.Check(context.Background(), bytes.NewReader(c.pkg), int64(len(c.pkg)), &Config{ARN: cscARN, AllowedPublishers: []string{profileARN}, Policy: policy})
				if err != nil {
					t.Fatal(err)
				}
				metric := 0
				if d.Warned {
					metric = 1
				}
				if d.Allowed != want.allowed || d.Refusal != want.refusal || d.Failed != want.failed || metric != want.metric {
					t.Errorf("got allowed=%v refusal=%v failed=%q metric=%d (%s), want %+v", d.Allowed, d.Refusal, d.Failed, metric, d.Detail, want)
				}
				if !d.Allowed && d.Message == "" {
					t.Error("a refusal without a message")
				}
				if c.name == "signed" && (d.ProfileVersionARN != allowedVersion || d.JobARN == "") {
					t.Errorf("signature details not reported: %+v", d)
				}
			})
		}
	}
	// A gate without a revocation checker decides nothing.
	if _, err := (&Gate{Roots: g.Roots}).Check(context.Background(), bytes.NewReader(signed), int64(len(signed)), &Config{ARN: cscARN, Policy: Warn}); !errors.Is(err, ErrNoRevocation) {
		t.Errorf("gate without revocation checker: %v, want ErrNoRevocation", err)
	}
	// No config: everything but nothing is checked deploys.
	for _, c := range cases {
		d, err := g.Check(context.Background(), bytes.NewReader(c.pkg), int64(len(c.pkg)), nil)
		if err != nil || !d.Allowed || d.Warned {
			t.Errorf("%s without a config: %+v %v", c.name, d, err)
		}
	}
}
