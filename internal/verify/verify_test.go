package verify

import (
	"archive/zip"
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/pki/pkitest"
	"github.com/signet/signet/internal/signedzip"
)

const (
	profileARN = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/signing_profile_for_lambda"
	versionARN = profileARN + "/ABCDEFGHIJ"
	jobARN     = "arn:aws:signer:us-east-1:123456789012:/signing-jobs/db882524-902e-4bd6-ac03-a66df08e73a0"
)

func makeZip(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, body := range map[string]string{"lambda_function.py": "def lambda_handler(event, context):\n    return event['key1']\n", "lib/util.py": "X = 1\n"} {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(body))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func signZip(t testing.TB, ca *pkitest.Authority, u []byte, signingTime, expiry time.Time, typ signedzip.EnvelopeType) []byte {
	t.Helper()
	sum := sha512.Sum384(u)
	payload, _ := notary.Payload(notary.Descriptor{MediaType: "application/zip", Digest: "sha384:" + hex.EncodeToString(sum[:]), Size: int64(len(u))})
	leaf, key := ca.IssueLeaf(t, pkitest.Subject("signing_profile_for_lambda"))
	env, err := notary.Sign(notary.SignRequest{Payload: payload, MediaType: typ.MediaType(), Key: key, Chain: ca.Chain(leaf),
		SigningTime: signingTime, Expiry: expiry, ProfileVersionARN: versionARN, JobARN: jobARN})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := signedzip.Embed(&out, bytes.NewReader(u), int64(len(u)), env, typ); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestPackage(t *testing.T) {
	ca, other := pkitest.New(t), pkitest.New(t)
	now := time.Now()
	u := makeZip(t)
	signed := signZip(t, ca, u, now, now.Add(time.Hour), signedzip.JWS)
	signedCOSE := signZip(t, ca, u, now, now.Add(time.Hour), signedzip.COSE)
	cases := map[string]struct {
		pkg     []byte
		roots   *pkitest.Authority
		at      time.Time
		allowed []string
		failed  Rule
	}{
		"ok":                         {signed, ca, now, nil, ""},
		"ok/cose":                    {signedCOSE, ca, now, nil, ""},
		"ok/profile-arn-any-version": {signed, ca, now, []string{profileARN}, ""},
		"ok/version-arn":             {signed, ca, now, []string{versionARN}, ""},
		"ok/case-insensitive":        {signed, ca, now, []string{"ARN:AWS:SIGNER:US-EAST-1:123456789012:/signing-profiles/SIGNING_PROFILE_FOR_LAMBDA"}, ""},
		"fail/unsigned":              {u, ca, now, nil, RuleSignature},
		"fail/not-a-zip":             {[]byte("hello"), ca, now, nil, RuleSignature},
		"fail/unreadable-trailer":    {append(bytes.Clone(signed[:len(signed)-17]), signed[len(signed)-16:]...), ca, now, nil, RuleIntegrity},
		"fail/other-root":            {signed, other, now, nil, RuleAuthenticity},
		"fail/expired":               {signed, ca, now.Add(2 * time.Hour), nil, RuleExpiry},
		"fail/other-version":         {signed, ca, now, []string{profileARN + "/ZZZZZZZZZZ"}, RulePublisher},
		"fail/other-profile":         {signed, ca, now, []string{profileARN + "_2"}, RulePublisher},
		"fail/prefix-is-not-a-match": {signed, ca, now, []string{profileARN[:len(profileARN)-3]}, RulePublisher},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rep, err := Package(bytes.NewReader(c.pkg), int64(len(c.pkg)), Options{Roots: []*x509Cert{c.roots.Root.Cert}, Now: c.at, AllowedPublishers: c.allowed})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Failed != c.failed {
				t.Fatalf("failed rule %q, want %q: %+v", rep.Failed, c.failed, rep.Results)
			}
			if c.failed == "" && (rep.ProfileVersionARN != versionARN || rep.JobARN != jobARN || rep.Err() != nil) {
				t.Errorf("report = %+v", rep)
			}
			if c.failed != "" && rep.Err() == nil {
				t.Error("a failed report has no error")
			}
		})
	}
}

// TestTamper flips one byte at ≥1,000 positions across a signed package
// (local headers, file data, central directory, end record, envelope,
// trailer): verification must fail every time.
func TestTamper(t *testing.T) {
	ca := pkitest.New(t)
	now := time.Now()
	u := makeZip(t)
	signed := signZip(t, ca, u, now, now.Add(time.Hour), signedzip.JWS)
	opts := Options{Roots: []*x509Cert{ca.Root.Cert}, Now: now}
	positions := map[int]bool{}
	for i := range len(u) { // every byte of the zip itself
		positions[i] = true
	}
	for i := len(signed) - 200; i < len(signed); i++ { // envelope end and trailer
		positions[i] = true
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for len(positions) < 1000 || len(positions) < len(u)+400 {
		positions[rng.IntN(len(signed))] = true
	}
	failures := map[Rule]int{}
	unchanged := 0
	for pos := range positions {
		b := bytes.Clone(signed)
		b[pos] ^= byte(1 + rng.IntN(255))
		rep, err := Package(bytes.NewReader(b), int64(len(b)), opts)
		if err != nil {
			t.Fatalf("position %d: %v", pos, err)
		}
		if rep.OK() {
			// The certificate chain travels in the JWS's unprotected header
			// as standard base64, whose decoder ignores the unused bits of
			// a final group: such a flip decodes to the same certificates,
			// so nothing verification relies on changed. Anything else is
			// a failure.
			if !sameEnvelope(t, signed, b) {
				t.Fatalf("flipping byte %d of %d still verifies", pos, len(b))
			}
			unchanged++
			continue
		}
		failures[rep.Failed]++
	}
	t.Logf("%d positions of %d bytes: refused %v; %d flips in base64 padding bits of the unsigned certificate chain decode to the same certificates",
		len(positions), len(signed), failures, unchanged)
}

// sameEnvelope reports whether two signed packages carry envelopes that
// decode to the same content (x5c compared as DER, not as base64 text).
func sameEnvelope(t *testing.T, a, b []byte) bool {
	canon := func(pkg []byte) []byte {
		s, err := signedzip.Open(bytes.NewReader(pkg), int64(len(pkg)))
		if err != nil {
			return nil
		}
		var m map[string]any
		if json.Unmarshal(s.Envelope, &m) != nil {
			return nil
		}
		if h, ok := m["header"].(map[string]any); ok {
			if x5c, ok := h["x5c"].([]any); ok {
				for i, c := range x5c {
					str, _ := c.(string)
					der, err := base64.StdEncoding.DecodeString(str)
					if err != nil {
						return nil
					}
					x5c[i] = base64.StdEncoding.EncodeToString(der)
				}
			}
		}
		out, _ := json.Marshal(m)
		return out
	}
	ca, cb := canon(a), canon(b)
	return ca != nil && bytes.Equal(ca, cb)
}

// TestSignedStillUnzips checks the signed package reads like the original.
func TestSignedStillUnzips(t *testing.T) {
	ca := pkitest.New(t)
	u := makeZip(t)
	signed := signZip(t, ca, u, time.Now(), time.Now().Add(time.Hour), signedzip.JWS)
	read := func(b []byte) map[string]string {
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, f := range zr.File {
			rc, _ := f.Open()
			var buf bytes.Buffer
			buf.ReadFrom(rc)
			rc.Close()
			out[f.Name] = buf.String()
		}
		return out
	}
	a, b := read(u), read(signed)
	if len(a) != len(b) {
		t.Fatalf("entries %v vs %v", a, b)
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("entry %s differs", k)
		}
	}
}
