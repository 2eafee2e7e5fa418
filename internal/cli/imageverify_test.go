package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet/signet/internal/images/registrytest"
	"github.com/signet/signet/internal/server/servertest"
)

// imageVerifyFixture is a registry holding images signed in every way
// signet image verify tells apart, and the Notation configurations
// signet trust export wrote for them.
type imageVerifyFixture struct {
	srv, other *servertest.Server
	reg        *registrytest.Registry
	// expXDG trusts profile shortlived of an installation whose clock
	// runs three days behind, which signed refs["expired"] with a
	// signature valid for one day.
	expXDG string
	// Notation configuration directories (XDG_CONFIG_HOME; the files
	// are in DIR/notation): trusting profile images, profile rotating,
	// and the other installation's profile images.
	xdg, rotXDG, otherXDG string
	refs                  map[string]string
	revokeJob             string // the signing job of refs["revoked"]
}

func (f *imageVerifyFixture) store(xdg string) string { return filepath.Join(xdg, "notation") }

// newImageVerifyFixture signs:
//   - jws, cose: by profile images;
//   - early, late: by profile rotating, whose version is then revoked
//     with an effective time between the two signatures;
//   - other: by profile images of another installation;
//   - moved: its tag then moved to an unsigned manifest;
//   - revoked: by profile images (revoked by the test);
//   - expired: by an installation three days in the past, valid one day;
//
// and pushes unsigned, never signed.
func newImageVerifyFixture(t *testing.T) *imageVerifyFixture {
	t.Helper()
	// The signing service's clock: the real one, except while early and
	// late are signed, at two fixed times in the past either side of the
	// revocation's effective time (whole seconds, as signing times are).
	var fixed atomic.Int64
	now := func() time.Time {
		if ns := fixed.Load(); ns != 0 {
			return time.Unix(0, ns).UTC()
		}
		return time.Now().UTC()
	}
	f := &imageVerifyFixture{
		srv:   servertest.StartWithClock(t, now),
		other: servertest.Start(t),
		reg:   registrytest.Start(t, registrytest.Options{}),
		refs:  map[string]string{},
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	must := func(s *servertest.Server, args ...string) string {
		t.Helper()
		code, stdout, stderr := run(t, s, args...)
		if code != 0 {
			t.Fatalf("signet %v: exit %d\n%s%s", args, code, stdout, stderr)
		}
		return stdout
	}
	must(f.srv, "profile", "create", "images", "--platform", "Notation-OCI-SHA384-ECDSA")
	must(f.srv, "profile", "create", "rotating", "--platform", "Notation-OCI-SHA384-ECDSA")
	must(f.other, "profile", "create", "images", "--platform", "Notation-OCI-SHA384-ECDSA")
	f.xdg, f.rotXDG, f.otherXDG = t.TempDir(), t.TempDir(), t.TempDir()
	must(f.srv, "trust", "export", "--profile", "images", f.store(f.xdg))
	must(f.srv, "trust", "export", "--profile", "rotating", f.store(f.rotXDG))
	must(f.other, "trust", "export", "--profile", "images", f.store(f.otherXDG))
	sign := func(s *servertest.Server, profile, name, format string) (ref, job string) {
		t.Helper()
		repo := "demo/" + name
		desc := f.reg.PushArtifact(t, repo, "v1", []byte("image "+name))
		var out struct{ JobID string }
		if err := json.Unmarshal([]byte(must(s, "image", "sign", f.reg.Host+"/"+repo+":v1", "--profile", profile, "--signature-format", format, "--insecure-registry", "--output", "json")), &out); err != nil {
			t.Fatal(err)
		}
		return f.reg.Host + "/" + repo + "@" + desc.Digest.String(), out.JobID
	}
	early := time.Now().Add(-2 * time.Minute).Truncate(time.Second) // within the 5 minutes certificates are backdated
	effective := early.Add(time.Second)
	fixed.Store(early.UnixNano())
	f.refs["early"], _ = sign(f.srv, "rotating", "early", "jws")
	fixed.Store(early.Add(2 * time.Second).UnixNano())
	f.refs["late"], _ = sign(f.srv, "rotating", "late", "cose")
	fixed.Store(0)
	f.refs["jws"], _ = sign(f.srv, "images", "jws", "jws")
	f.refs["cose"], _ = sign(f.srv, "images", "cose", "cose")
	f.refs["revoked"], f.revokeJob = sign(f.srv, "images", "revoked", "jws")
	f.refs["other"], _ = sign(f.other, "images", "other", "jws")
	// Expiry: signed three days ago (by the clock of a whole installation,
	// so that its root and intermediates were valid then) for one day.
	past := servertest.StartWithClock(t, func() time.Time { return time.Now().Add(-72 * time.Hour).UTC() })
	must(past, "profile", "create", "shortlived", "--platform", "Notation-OCI-SHA384-ECDSA", "--validity", "1", "--validity-type", "DAYS")
	f.expXDG = t.TempDir()
	must(past, "trust", "export", "--profile", "shortlived", f.store(f.expXDG))
	f.refs["expired"], _ = sign(past, "shortlived", "expired", "jws")
	sign(f.srv, "images", "moved", "jws")
	f.reg.PushArtifact(t, "demo/moved", "v1", []byte("changed after signing"))
	f.refs["moved"] = f.reg.Host + "/demo/moved:v1"
	f.reg.PushArtifact(t, "demo/unsigned", "v1", []byte("never signed"))
	f.refs["unsigned"] = f.reg.Host + "/demo/unsigned:v1"

	var prof struct{ ProfileVersion string }
	if err := json.Unmarshal([]byte(must(f.srv, "profile", "get", "rotating", "--output", "json")), &prof); err != nil || prof.ProfileVersion == "" {
		t.Fatalf("profile version: %v", err)
	}
	must(f.srv, "profile", "revoke", "rotating", "--version", prof.ProfileVersion, "--reason", "key ceremony redone",
		"--effective-time", effective.UTC().Format(time.RFC3339))
	return f
}

// policyVariant writes a copy of the trust policy in xdg/notation with
// edit applied to its one statement and returns its path.
func policyVariant(t *testing.T, xdg string, edit func(map[string]any)) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(xdg, "notation", "trustpolicy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc["trustPolicies"].([]any)[0].(map[string]any))
	if b, err = json.MarshalIndent(doc, "", "  "); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trustpolicy.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImageVerify: signet image verify checks every signature of an
// image with notation-go against a Notation trust policy and trust store
// (those signet trust export wrote), reports each rule, and exits with
// the status of the rule that refused it.
func TestImageVerify(t *testing.T) {
	f := newImageVerifyFixture(t)
	badJSON := filepath.Join(t.TempDir(), "trustpolicy.json")
	os.WriteFile(badJSON, []byte("{\n  \"version\": \"1.0\",\n  \"trustPolicies\": [ { \"name\": \"x\", }\n  ]\n}\n"), 0o644)
	typo := filepath.Join(t.TempDir(), "trustpolicy.json")
	os.WriteFile(typo, []byte("{\n  \"version\": \"1.0\",\n  \"trustPolicy\": []\n}\n"), 0o644)
	badLevel := policyVariant(t, f.xdg, func(p map[string]any) { p["signatureVerification"] = map[string]any{"level": "strictest"} })
	otherScope := policyVariant(t, f.xdg, func(p map[string]any) { p["registryScopes"] = []string{"registry.example/team/app"} })
	skip := policyVariant(t, f.xdg, func(p map[string]any) {
		p["signatureVerification"] = map[string]any{"level": "skip"}
		p["trustStores"], p["trustedIdentities"] = []string{}, []string{}
	})
	// A trust store whose tsa store holds another installation's
	// time-stamping root: Signet signs with the signingAuthority scheme,
	// whose authentic signing time is a signed attribute, so notation-go
	// (and notation verify v1.3.2 alike) does not verify the timestamp.
	otherTSA := t.TempDir()
	copyTree(t, filepath.Join(f.store(f.xdg), "truststore"), filepath.Join(otherTSA, "truststore"))
	copyTree(t, filepath.Join(f.store(f.otherXDG), "truststore", "x509", "tsa", "signet-tsa"), filepath.Join(otherTSA, "truststore", "x509", "tsa", "other-tsa"))
	wrongTSA := policyVariant(t, f.xdg, func(p map[string]any) { p["trustStores"] = []string{"signingAuthority:signet", "tsa:other-tsa"} })
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"other-tsa-store", []string{f.refs["jws"], "--trust-store", otherTSA, "--policy", wrongTSA}, 0,
			[]string{"authenticTimestamp  ok", "\nverified\n"}, nil},
		{"jws", []string{f.refs["jws"], "--trust-store", f.store(f.xdg)}, 0,
			[]string{f.refs["jws"], "trust policy: images (level strict)", "application/jose+json", "integrity", "authenticTimestamp", "revocation", "signed at:", "\nverified\n"}, nil},
		{"cose", []string{f.refs["cose"], "--trust-store", f.store(f.xdg)}, 0, []string{"application/cose", "\nverified\n"}, nil},
		{"json", []string{f.refs["jws"], "--trust-store", f.store(f.xdg), "--output", "json"}, 0,
			[]string{`"verified": true`, `"check": "revocation"`, `"result": "ok"`, `"action": "enforce"`, `"trustPolicy": "images"`}, nil},
		{"moved-tag", []string{f.refs["moved"], "--trust-store", f.store(f.xdg)}, 3, nil,
			[]string{"no signature found for " + f.reg.Host + "/demo/moved@sha256:", "hint: a tag may have moved"}},
		{"unsigned", []string{f.refs["unsigned"], "--trust-store", f.store(f.xdg)}, 3, nil, []string{"no signature found", "hint: sign the image"}},
		{"other-installation", []string{f.refs["other"], "--trust-store", f.store(f.xdg)}, 5,
			[]string{"the signature's certificate chain does not contain any trusted certificate", "not verified: the authenticity check failed"}, []string{"the authenticity check failed"}},
		{"json-refused", []string{f.refs["other"], "--trust-store", f.store(f.xdg), "--output", "json"}, 5,
			[]string{`"verified": false`, `"failedCheck": "authenticity"`, `"result": "not checked"`}, nil},
		{"json-unsigned", []string{f.refs["unsigned"], "--trust-store", f.store(f.xdg), "--output", "json"}, 3,
			[]string{`"verified": false`, `"signatures": []`}, []string{"no signature found"}},
		{"expired", []string{f.refs["expired"], "--trust-store", f.store(f.expXDG)}, 6,
			[]string{"expiry", "not verified: the expiry check failed"}, []string{"expired"}},
		{"trusted-identity", []string{f.refs["jws"], "--trust-store", f.store(f.rotXDG)}, 7,
			[]string{"not verified: the trustedIdentity check failed"}, []string{"trusted identit"}},
		{"profile-revoked-after-signing", []string{f.refs["early"], "--trust-store", f.store(f.rotXDG)}, 0, []string{"\nverified\n"}, nil},
		{"profile-revoked-before-signing", []string{f.refs["late"], "--trust-store", f.store(f.rotXDG)}, 8,
			[]string{"revocation", "not verified: the revocation check failed"}, nil},
		{"skip", []string{f.refs["unsigned"], "--trust-store", f.store(f.xdg), "--policy", skip}, 0, []string{"verification skipped"}, nil},
		{"no-scope", []string{f.refs["jws"], "--trust-store", f.store(f.xdg), "--policy", otherScope}, 14, nil,
			[]string{"no trust policy applies to " + f.reg.Host + "/demo/jws", "hint: add the repository"}},
		{"malformed-json", []string{f.refs["jws"], "--policy", badJSON}, 13, nil, []string{badJSON + ":3: malformed trust policy", "hint: fix the JSON syntax"}},
		{"unknown-field", []string{f.refs["jws"], "--policy", typo}, 13, nil, []string{typo + ":3: malformed trust policy (trustPolicy)", "hint: remove or rename the field trustPolicy"}},
		{"bad-level", []string{f.refs["jws"], "--policy", badLevel}, 13, nil, []string{badLevel + ":", `trustPolicies[0] "images"`, "strictest", "hint: see notation's trust policy specification"}},
		{"no-policy", []string{f.refs["jws"], "--trust-store", t.TempDir()}, 13, nil, []string{"no trust policy found", "hint: write one with 'signet trust export"}},
		{"no-such-image", []string{f.reg.Host + "/demo/nothing:v1", "--trust-store", f.store(f.xdg)}, 10, nil, []string{"no such image"}},
		{"unreachable", []string{unusedPort(t) + "/demo/app:v1", "--trust-store", f.store(f.xdg)}, 11, nil, []string{"registry unreachable"}},
		{"no-tag", []string{f.reg.Host + "/demo/jws", "--trust-store", f.store(f.xdg)}, 2, nil, []string{"names no tag or digest"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"image", "verify", "--insecure-registry"}, c.args...)
			if c.name == "unreachable" {
				args = append([]string{"image", "verify"}, c.args...)
			}
			code, stdout, stderr := run(t, f.srv, args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, c.code, stdout, stderr)
			}
			for _, w := range c.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range c.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
	// Revoking the signature refuses it at the next verification (the
	// OCSP responder answers revoked at once).
	verifyRevoked := func() (int, string) {
		code, stdout, stderr := run(t, f.srv, "image", "verify", "--insecure-registry", f.refs["revoked"], "--trust-store", f.store(f.xdg))
		return code, stdout + stderr
	}
	if code, out := verifyRevoked(); code != 0 {
		t.Fatalf("before revocation: exit %d\n%s", code, out)
	}
	if code, _, stderr := run(t, f.srv, "signature", "revoke", f.revokeJob, "--reason", "leaked build"); code != 0 {
		t.Fatal(stderr)
	}
	if code, out := verifyRevoked(); code != 8 || !strings.Contains(out, "revocation") {
		t.Errorf("after revocation: exit %d, want 8\n%s", code, out)
	}
}

// copyTree copies the regular files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestImageVerifyRegistryCredentials: signet image verify reads a
// registry's credentials from Docker's config.json, as image sign does.
func TestImageVerifyRegistryCredentials(t *testing.T) {
	srv := servertest.Start(t)
	reg := registrytest.Start(t, registrytest.Options{User: "ci", Password: "pushing-images"})
	creds := reg.DockerConfig(t, t.TempDir())
	t.Setenv("DOCKER_CONFIG", creds)
	xdg := t.TempDir()
	for _, args := range [][]string{
		{"profile", "create", "images", "--platform", "Notation-OCI-SHA384-ECDSA"},
		{"trust", "export", "--profile", "images", filepath.Join(xdg, "notation")},
	} {
		if code, _, stderr := run(t, srv, args...); code != 0 {
			t.Fatal(stderr)
		}
	}
	desc := reg.PushArtifact(t, "demo/app", "v1", []byte("app"))
	ref := reg.Host + "/demo/app@" + desc.Digest.String()
	if code, _, stderr := run(t, srv, "image", "sign", ref, "--profile", "images", "--insecure-registry"); code != 0 {
		t.Fatal(stderr)
	}
	cases := []struct {
		name, dockerConfig string
		code               int
	}{
		{"credentials", creds, 0},
		{"none", t.TempDir(), 12},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("DOCKER_CONFIG", c.dockerConfig)
			if code, stdout, stderr := run(t, srv, "image", "verify", ref, "--insecure-registry", "--trust-store", filepath.Join(xdg, "notation")); code != c.code {
				t.Errorf("exit %d, want %d\n%s%s", code, c.code, stdout, stderr)
			}
		})
	}
}

// TestImageVerifyAgreesWithNotation: signet image verify and the real
// notation verify v1.3.2 accept and refuse the same images with the same
// configuration.
func TestImageVerifyAgreesWithNotation(t *testing.T) {
	notation := registrytest.Notation(t)
	f := newImageVerifyFixture(t)
	dockerConfig := os.Getenv("DOCKER_CONFIG")
	cases := []struct {
		name, ref, xdg string
		ok             bool
		notationSays   string // in notation's output when it refuses
	}{
		{"jws", f.refs["jws"], f.xdg, true, ""},
		{"cose", f.refs["cose"], f.xdg, true, ""},
		{"moved-tag", f.refs["moved"], f.xdg, false, ""},
		{"unsigned", f.refs["unsigned"], f.xdg, false, ""},
		{"other-installation", f.refs["other"], f.xdg, false, ""},
		{"other-installation-trusted", f.refs["other"], f.otherXDG, true, ""},
		{"trusted-identity", f.refs["jws"], f.rotXDG, false, ""},
		{"expired", f.refs["expired"], f.expXDG, false, "expired"},
		{"profile-revoked-after-signing", f.refs["early"], f.rotXDG, true, ""},
		{"profile-revoked-before-signing", f.refs["late"], f.rotXDG, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := run(t, f.srv, "image", "verify", "--insecure-registry", c.ref, "--trust-store", f.store(c.xdg))
			out, err := notationVerify(t, notation, c.xdg, dockerConfig, c.ref)
			if (code == 0) != c.ok || (err == nil) != c.ok {
				t.Errorf("want ok=%v: signet exit %d, notation %v\nsignet:\n%s%s\nnotation:\n%s", c.ok, code, err, stdout, stderr, out)
			}
			if !strings.Contains(out, c.notationSays) {
				t.Errorf("notation's output lacks %q:\n%s", c.notationSays, out)
			}
		})
	}
}
