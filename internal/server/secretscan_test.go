package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server/servertest"
)

// generatedSecrets are realistic secrets made for the test: gitleaks
// allowlists keys containing EXAMPLE.
func generatedSecrets(t testing.TB) (awsKey, ghToken, privateKey string) {
	t.Helper()
	pick := func(alphabet string, n int) string {
		b := make([]byte, n)
		for i := range b {
			k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
			if err != nil {
				t.Fatal(err)
			}
			b[i] = alphabet[k.Int64()]
		}
		return string(b)
	}
	for awsKey == "" || strings.Contains(awsKey, "EXAMPLE") {
		awsKey = "AKIA" + pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
	}
	ghToken = "ghp_" + pick("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 36)
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalECPrivateKey(k)
	privateKey = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	return awsKey, ghToken, privateKey
}

// TestSigningJobSecretScan: a package holding secrets fails to sign
// under enforce with file, line and rule, and signs under warn with the
// findings reported; a clean package signs; an allowlisted finding
// passes; the secrets are in no job, log or audit record.
func TestSigningJobSecretScan(t *testing.T) {
	awsKey, ghToken, privateKey := generatedSecrets(t)
	ts := servertest.StartWith(t, func(c *config.Config) {
		c.SecretScan = config.SecretScan{AllowPaths: []string{"tests/*"}, AllowFingerprints: []string{"vendor.zip!settings.py:aws-access-token:1"}}
	})
	e := &jobEnv{ts: ts, s3: ts.S3(), signer: ts.Signer()}
	e.setup(t)
	ctx := context.Background()
	for name, mode := range map[string]string{"warn_profile": "warn", "off_profile": "off", "enforce_profile": "enforce"} {
		if _, err := e.signer.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String(name), PlatformId: aws.String("AWSLambda-SHA384-ECDSA"),
			SigningParameters: map[string]string{"secretScan": mode}}); err != nil {
			t.Fatal(err)
		}
	}
	leaky := zipOf(t, map[string]string{
		"lambda_function.py": "import os\n\nKEY = '" + awsKey + "'\n",
		"certs/key.pem":      privateKey,
		"lib/app.jar":        string(zipOf(t, map[string]string{"conf/gh.properties": "user=ci\ntoken=" + ghToken + "\n"})),
	})
	allowed := zipOf(t, map[string]string{
		"lambda_function.py": helloZip["lambda_function.py"],
		"tests/fixture.py":   "KEY = '" + awsKey + "'\n",
		"vendor.zip":         string(zipOf(t, map[string]string{"settings.py": "KEY = '" + awsKey + "'\n"})),
	})
	var bomb bytes.Buffer
	bw := zip.NewWriter(&bomb)
	bf, _ := bw.Create("zeros.txt")
	bf.Write(make([]byte, 64<<20)) // deflates to about 64 KB
	bw.Close()
	wantFindings := []string{"certs/key.pem:1 private-key", "lambda_function.py:3 aws-access-token", "lib/app.jar!conf/gh.properties:2 github-pat"}
	tests := []struct {
		name, profile string
		pkg           []byte
		status        types.SigningStatus
		reason        []string // substrings of the status reason
		noReason      []string
	}{
		{"enforce by default", "signing_profile_for_lambda", leaky, types.SigningStatusFailed, append([]string{"The package was not signed", "3 secret-scan findings"}, wantFindings...), nil},
		{"enforce", "enforce_profile", leaky, types.SigningStatusFailed, wantFindings, nil},
		{"warn", "warn_profile", leaky, types.SigningStatusSucceeded, append([]string{"Signing Succeeded; signed with 3 secret-scan findings"}, wantFindings...), nil},
		{"off", "off_profile", leaky, types.SigningStatusSucceeded, []string{"Signing Succeeded"}, []string{"secret-scan"}},
		{"clean", "signing_profile_for_lambda", zipOf(t, helloZip), types.SigningStatusSucceeded, []string{"Signing Succeeded"}, []string{"secret-scan"}},
		{"allowlisted", "signing_profile_for_lambda", allowed, types.SigningStatusSucceeded, []string{"Signing Succeeded"}, []string{"secret-scan"}},
		{"zip bomb", "warn_profile", bomb.Bytes(), types.SigningStatusFailed, []string{"The secret scan refused the package", "zeros.txt has a compression ratio over 200:1"}, nil},
	}
	var jobs []string
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "pkg-" + tt.name + ".zip"
			id, err := e.start(t, key, e.put(t, "artifacts", key, tt.pkg), tt.profile, "token-"+string(rune('a'+i)))
			if err != nil {
				t.Fatal(err)
			}
			jobs = append(jobs, id)
			d := e.wait(t, id)
			reason := aws.ToString(d.StatusReason)
			if d.Status != tt.status {
				t.Fatalf("status %s (%s), want %s", d.Status, reason, tt.status)
			}
			for _, s := range tt.reason {
				if !strings.Contains(reason, s) {
					t.Errorf("status reason %q lacks %q", reason, s)
				}
			}
			for _, s := range tt.noReason {
				if strings.Contains(reason, s) {
					t.Errorf("status reason %q holds %q", reason, s)
				}
			}
			j, err := ts.DB().Signing.Job(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(reason, "secret-scan") != (len(j.ScanFindings) > 0) {
				t.Errorf("job record findings %v, status reason %q", j.ScanFindings, reason)
			}
			if tt.status == types.SigningStatusSucceeded && d.SignedObject == nil {
				t.Error("no signed object")
			}
		})
	}
	// The secrets, or recognisable parts of them, appear nowhere.
	var records []byte
	for _, id := range jobs {
		j, err := ts.DB().Signing.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(j)
		records = append(records, b...)
	}
	audit := auditEvents(t, ts, "signer:StartSigningJob")
	for _, want := range []string{`"decision":"Deny"`, `"decision":"AllowWithWarning"`, "lambda_function.py:3 aws-access-token"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %q:\n%s", want, audit)
		}
	}
	recs, err := ts.AuditDB().Audit.AuditRecords(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	allAudit, _ := json.Marshal(recs)
	pemBody := strings.Split(privateKey, "\n")[1]
	for where, text := range map[string]string{"job records": string(records), "server log": ts.Log(), "audit log": string(allAudit)} {
		for _, secret := range []string{awsKey, awsKey[4:14], ghToken, ghToken[4:20], pemBody[:24]} {
			if strings.Contains(text, secret) {
				t.Errorf("%s hold secret text %q", where, secret)
			}
		}
	}
}

// TestSecretScanParameter: secretScan takes enforce, warn or off, on
// Lambda profiles only, refused otherwise with ValidationException.
func TestSecretScanParameter(t *testing.T) {
	ts := servertest.Start(t)
	c := ts.Signer()
	tests := []struct {
		name, platform, value string
		ok                    bool
	}{
		{"warn", "AWSLambda-SHA384-ECDSA", "warn", true},
		{"off", "AWSLambda-SHA384-ECDSA", "off", true},
		{"enforce", "AWSLambda-SHA384-ECDSA", "enforce", true},
		{"unknown", "AWSLambda-SHA384-ECDSA", "sometimes", false},
		{"notation", "Notation-OCI-SHA384-ECDSA", "warn", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.PutSigningProfile(context.Background(), &signer.PutSigningProfileInput{ProfileName: aws.String("p_" + string(rune('a'+i))),
				PlatformId: aws.String(tt.platform), SigningParameters: map[string]string{"secretScan": tt.value}})
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *types.ValidationException
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want ValidationException", err)
			}
			t.Log(err)
		})
	}
}
