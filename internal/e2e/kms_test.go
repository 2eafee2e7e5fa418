package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAWSCLIKMS: the real AWS CLI creates a key and an alias, encrypts
// and decrypts with an encryption context (a wrong one is refused),
// generates a data key, and gets AWS's error codes.
func TestAWSCLIKMS(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	run := func(args ...string) map[string]any {
		t.Helper()
		r := s.runAWS(t, append([]string{"kms"}, args...)...)
		if r.code != 0 {
			t.Fatalf("aws kms %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
		var out map[string]any
		if strings.TrimSpace(r.stdout) != "" {
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("aws kms %s: %v\n%s", args[0], err, r.stdout)
			}
		}
		return out
	}
	key := run("create-key", "--description", "walkthrough key")["KeyMetadata"].(map[string]any)
	keyARN := key["Arn"].(string)
	if key["KeyState"] != "Enabled" || key["KeySpec"] != "SYMMETRIC_DEFAULT" {
		t.Errorf("create-key: %v", key)
	}
	run("create-alias", "--alias-name", "alias/walkthrough", "--target-key-id", key["KeyId"].(string))
	if d := run("describe-key", "--key-id", "alias/walkthrough")["KeyMetadata"].(map[string]any); d["Arn"] != keyARN {
		t.Errorf("describe-key by alias: %v", d)
	}
	plain := filepath.Join(s.home, "plain.txt")
	if err := os.WriteFile(plain, []byte("api-token-1234"), 0o600); err != nil {
		t.Fatal(err)
	}
	enc := run("encrypt", "--key-id", "alias/walkthrough", "--plaintext", "fileb://"+plain, "--encryption-context", "app=hello")
	blob, err := base64.StdEncoding.DecodeString(enc["CiphertextBlob"].(string))
	if err != nil || enc["KeyId"] != keyARN {
		t.Fatalf("encrypt: %v %v", enc, err)
	}
	blobFile := filepath.Join(s.home, "blob.bin")
	if err := os.WriteFile(blobFile, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	dec := run("decrypt", "--ciphertext-blob", "fileb://"+blobFile, "--encryption-context", "app=hello")
	if pt, _ := base64.StdEncoding.DecodeString(dec["Plaintext"].(string)); string(pt) != "api-token-1234" || dec["KeyId"] != keyARN {
		t.Errorf("decrypt: %v", dec)
	}
	dk := run("generate-data-key", "--key-id", keyARN, "--key-spec", "AES_256")
	if pt, _ := base64.StdEncoding.DecodeString(dk["Plaintext"].(string)); len(pt) != 32 {
		t.Errorf("generate-data-key: %v", dk)
	}
	for _, c := range []struct {
		name, code string
		args       []string
	}{
		{"wrong context", "InvalidCiphertextException", []string{"decrypt", "--ciphertext-blob", "fileb://" + blobFile, "--encryption-context", "app=other"}},
		{"no context", "InvalidCiphertextException", []string{"decrypt", "--ciphertext-blob", "fileb://" + blobFile}},
		{"not a ciphertext", "InvalidCiphertextException", []string{"decrypt", "--ciphertext-blob", "fileb://" + plain}},
		{"unknown alias", "NotFoundException", []string{"encrypt", "--key-id", "alias/none", "--plaintext", "fileb://" + plain}},
		{"alias twice", "AlreadyExistsException", []string{"create-alias", "--alias-name", "alias/walkthrough", "--target-key-id", keyARN}},
	} {
		r := s.runAWS(t, append([]string{"kms"}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, "("+c.code+")") {
			t.Errorf("%s: exit %d, %s; want (%s)", c.name, r.code, r.stderr, c.code)
		}
	}
	run("disable-key", "--key-id", keyARN)
	if r := s.runAWS(t, "kms", "encrypt", "--key-id", keyARN, "--plaintext", "fileb://"+plain); !strings.Contains(r.stderr, "(DisabledException)") {
		t.Errorf("a disabled key: %s", r.stderr)
	}
}

// TestAWSCLIKMSSign: the real AWS CLI creates an ECC_NIST_P256 signing
// key, signs a message with it and verifies the signature, and the
// public key get-public-key returns verifies the signature too, outside
// Signet.
func TestAWSCLIKMSSign(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	run := func(args ...string) map[string]any {
		t.Helper()
		r := s.runAWS(t, append([]string{"kms"}, args...)...)
		if r.code != 0 {
			t.Fatalf("aws kms %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("aws kms %s: %v\n%s", args[0], err, r.stdout)
		}
		return out
	}
	key := run("create-key", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY", "--description", "release signing")["KeyMetadata"].(map[string]any)
	keyID := key["KeyId"].(string)
	if key["KeySpec"] != "ECC_NIST_P256" || key["KeyUsage"] != "SIGN_VERIFY" || compact(key["SigningAlgorithms"]) != `["ECDSA_SHA_256"]` {
		t.Errorf("create-key: %v", key)
	}
	msg := []byte("release v1.2.3 sha256:0123456789abcdef")
	msgFile := filepath.Join(s.home, "message.txt")
	if err := os.WriteFile(msgFile, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	signed := run("sign", "--key-id", keyID, "--message", "fileb://"+msgFile, "--message-type", "RAW", "--signing-algorithm", "ECDSA_SHA_256")
	sig, err := base64.StdEncoding.DecodeString(signed["Signature"].(string))
	if err != nil || signed["KeyId"] != key["Arn"] {
		t.Fatalf("sign: %v %v", signed, err)
	}
	sigFile := filepath.Join(s.home, "signature.der")
	if err := os.WriteFile(sigFile, sig, 0o600); err != nil {
		t.Fatal(err)
	}
	if v := run("verify", "--key-id", keyID, "--message", "fileb://"+msgFile, "--signature", "fileb://"+sigFile, "--signing-algorithm", "ECDSA_SHA_256"); v["SignatureValid"] != true {
		t.Errorf("verify: %v", v)
	}
	pk := run("get-public-key", "--key-id", keyID)
	der, err := base64.StdEncoding.DecodeString(pk["PublicKey"].(string))
	if err != nil || pk["KeySpec"] != "ECC_NIST_P256" || pk["KeyUsage"] != "SIGN_VERIFY" {
		t.Fatalf("get-public-key: %v %v", pk, err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	digest := sha256.Sum256(msg)
	if !ok || ec.Curve != elliptic.P256() || !ecdsa.VerifyASN1(ec, digest[:], sig) {
		t.Errorf("the public key (%T) does not verify the signature", pub)
	}
	other := filepath.Join(s.home, "other.txt")
	if err := os.WriteFile(other, []byte("release v6.6.6"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, code string
		args       []string
	}{
		{"another message", "KMSInvalidSignatureException", []string{"verify", "--key-id", keyID, "--message", "fileb://" + other, "--signature", "fileb://" + sigFile, "--signing-algorithm", "ECDSA_SHA_256"}},
		{"encrypt with a signing key", "InvalidKeyUsageException", []string{"encrypt", "--key-id", keyID, "--plaintext", "fileb://" + msgFile}},
		{"another curve's algorithm", "InvalidKeyUsageException", []string{"sign", "--key-id", keyID, "--message", "fileb://" + msgFile, "--signing-algorithm", "ECDSA_SHA_384"}},
		{"rotation", "UnsupportedOperationException", []string{"enable-key-rotation", "--key-id", keyID}},
	} {
		r := s.runAWS(t, append([]string{"kms"}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, "("+c.code+")") {
			t.Errorf("%s: exit %d, %s; want (%s)", c.name, r.code, r.stderr, c.code)
		}
	}
}
