package cli_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/signet/signet/internal/server/servertest"
)

// TestKMSCommands walks a key through its life with `signet kms`: create,
// alias, encrypt and decrypt with an encryption context (the wrong one
// refused), rotate, disable, schedule and cancel deletion, and a signing
// key.
func TestKMSCommands(t *testing.T) {
	srv := servertest.Start(t)
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.txt")
	os.WriteFile(plain, []byte("hunter2"), 0o600)
	blob, raw, back := filepath.Join(dir, "blob.b64"), filepath.Join(dir, "blob.bin"), filepath.Join(dir, "back.txt")

	code, stdout, stderr := run(t, srv, "kms", "create-key", "--description", "app secrets")
	if code != 0 {
		t.Fatalf("create-key: exit %d\n%s%s", code, stdout, stderr)
	}
	m := regexp.MustCompile(`Key ID\s+([0-9a-f-]{36})`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("create-key printed no key id:\n%s", stdout)
	}
	key := m[1]
	steps := []struct {
		args []string
		code int
		out  []string // substrings of stdout+stderr
	}{
		{[]string{"kms", "describe", key}, 0, []string{"Enabled", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "app secrets"}},
		{[]string{"kms", "alias", "create", "app", key}, 0, []string{"created alias alias/app"}},
		{[]string{"kms", "alias", "create", "alias/app", key}, 1, []string{"AlreadyExistsException"}},
		{[]string{"kms", "alias", "list"}, 0, []string{"ALIAS", "alias/app", key}},
		{[]string{"kms", "list"}, 0, []string{"KEY ID", key, "Enabled", "alias/app", "app secrets"}},
		{[]string{"kms", "list", "--output", "json"}, 0, []string{`"Keys": [`, `"KeyId": "` + key + `"`}},
		{[]string{"kms", "describe", "alias/app", "--output", "json"}, 0, []string{`"KeyMetadata"`, `"KeyId": "` + key + `"`}},
		{[]string{"kms", "encrypt", "--key-id", "alias/app", "--plaintext-file", plain, "--context", "app=web", "--out", blob}, 0, nil},
		{[]string{"kms", "encrypt", "--key-id", "alias/app", "--plaintext-file", plain, "--context", "app=web", "--out", raw, "--binary"}, 0, nil},
		{[]string{"kms", "decrypt", "--ciphertext-file", blob, "--context", "app=web"}, 0, []string{"hunter2"}},
		{[]string{"kms", "decrypt", "--ciphertext-file", raw, "--context", "app=web", "--key-id", key, "--out", back}, 0, nil},
		{[]string{"kms", "decrypt", "--ciphertext-file", blob, "--context", "app=api"}, 1, []string{"InvalidCiphertextException"}},
		{[]string{"kms", "encrypt", "--key-id", "alias/none", "--plaintext-file", plain}, 1, []string{"NotFoundException"}},
		{[]string{"kms", "encrypt", "--plaintext-file", plain}, 2, []string{"needs --key-id"}},
		{[]string{"kms", "rotate", key}, 0, []string{"rotated key"}},
		{[]string{"kms", "decrypt", "--ciphertext-file", blob, "--context", "app=web"}, 0, []string{"hunter2"}},
		{[]string{"kms", "disable", key}, 0, []string{"disabled key"}},
		{[]string{"kms", "decrypt", "--ciphertext-file", blob, "--context", "app=web"}, 1, []string{"DisabledException"}},
		{[]string{"kms", "enable", "alias/app"}, 0, []string{"enabled key"}},
		{[]string{"kms", "schedule-deletion", key, "--days", "6"}, 1, []string{"ValidationException"}},
		{[]string{"kms", "schedule-deletion", key, "--days", "7"}, 0, []string{"will be destroyed on"}},
		{[]string{"kms", "describe", key}, 0, []string{"PendingDeletion", "Deletion date"}},
		{[]string{"kms", "cancel-deletion", key}, 0, []string{"cancelled the deletion"}},
		{[]string{"kms", "describe", key}, 0, []string{"Disabled"}},
		{[]string{"kms", "alias", "delete", "app"}, 0, []string{"deleted alias alias/app"}},
		{[]string{"kms", "alias", "delete", "app"}, 1, []string{"NotFoundException"}},
		{[]string{"kms", "create-key", "--key-spec", "ECC_NIST_P256"}, 0, []string{"SIGN_VERIFY", "ECDSA_SHA_256"}},
		{[]string{"kms", "create-key", "--key-spec", "ECC_NIST_P384", "--key-usage", "ENCRYPT_DECRYPT"}, 1, []string{"ValidationException"}},
		{[]string{"kms", "frobnicate"}, 2, []string{"unknown kms subcommand"}},
		{[]string{"kms", "alias"}, 2, []string{"create, delete or list"}},
	}
	for _, s := range steps {
		code, stdout, stderr := run(t, srv, s.args...)
		if code != s.code {
			t.Fatalf("%s: exit %d, want %d:\n%s%s", strings.Join(s.args, " "), code, s.code, stdout, stderr)
		}
		for _, want := range s.out {
			if !strings.Contains(stdout+stderr, want) {
				t.Fatalf("%s: no %q in:\n%s%s", strings.Join(s.args, " "), want, stdout, stderr)
			}
		}
	}
	b64, _ := os.ReadFile(blob)
	rawBlob, _ := os.ReadFile(raw)
	if _, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b64))); err != nil || strings.Contains(string(b64), "hunter2") {
		t.Errorf("the ciphertext file is not base64 of a ciphertext: %q, %v", b64, err)
	}
	if !strings.HasPrefix(string(rawBlob), "SKC1") {
		t.Errorf("--binary wrote %q, not a raw ciphertext", rawBlob)
	}
	if got, err := os.ReadFile(back); err != nil || string(got) != "hunter2" {
		t.Errorf("decrypt --out wrote %q, %v", got, err)
	}
	if fi, err := os.Stat(back); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("decrypt --out made %v, %v; want mode 0600", fi.Mode(), err)
	}
}

// TestParamCommands: String and SecureString parameters with `signet
// param`, the SecureString's value hidden unless --show, versions,
// paths and history.
func TestParamCommands(t *testing.T) {
	srv := servertest.Start(t)
	steps := []struct {
		args []string
		code int
		out  []string
		not  []string // substrings stdout+stderr must not have
	}{
		{[]string{"param", "put", "/app/db/host", "db.internal"}, 0, []string{"/app/db/host version 1 (String"}, nil},
		{[]string{"param", "put", "/app/db/password", "s3cr3t-v1", "--type", "SecureString"}, 0, []string{"version 1 (SecureString"}, nil},
		{[]string{"param", "put", "/app/db/password", "s3cr3t-v2", "--type", "SecureString"}, 1, []string{"ParameterAlreadyExists"}, nil},
		{[]string{"param", "put", "/app/db/password", "s3cr3t-v2", "--type", "SecureString", "--overwrite"}, 0, []string{"version 2"}, nil},
		{[]string{"param", "put", "/app/hosts", "a,b", "--type", "StringList"}, 0, []string{"version 1"}, nil},
		{[]string{"param", "get", "/app/db/host"}, 0, []string{"NAME", "db.internal", "String"}, nil},
		{[]string{"param", "get", "/app/db/password"}, 0, []string{"SecureString", "****"}, []string{"s3cr3t"}},
		{[]string{"param", "get", "/app/db/password", "--show"}, 0, []string{"s3cr3t-v2"}, nil},
		{[]string{"param", "get", "/app/db/password:1", "--show"}, 0, []string{"s3cr3t-v1"}, nil},
		{[]string{"param", "get", "/app/db/password", "--output", "json"}, 0, []string{`"Type": "SecureString"`}, []string{"s3cr3t"}},
		{[]string{"param", "list"}, 0, []string{"NAME", "/app/db/host", "/app/db/password", "/app/hosts"}, []string{"s3cr3t"}},
		{[]string{"param", "list", "--path", "/app"}, 0, []string{"/app/hosts"}, []string{"/app/db/host"}},
		{[]string{"param", "list", "--path", "/app", "--recursive"}, 0, []string{"/app/hosts", "/app/db/host", "/app/db/password"}, []string{"s3cr3t"}},
		{[]string{"param", "list", "--recursive"}, 2, []string{"--recursive needs --path"}, nil},
		{[]string{"param", "history", "/app/db/password"}, 0, []string{"VERSION", "1", "2", "****"}, []string{"s3cr3t"}},
		{[]string{"param", "history", "/app/db/password", "--show"}, 0, []string{"s3cr3t-v1", "s3cr3t-v2"}, nil},
		{[]string{"param", "delete", "/app/hosts"}, 0, []string{"deleted parameter /app/hosts"}, nil},
		{[]string{"param", "get", "/app/hosts"}, 1, []string{"ParameterNotFound"}, nil},
		{[]string{"param", "delete", "/app/hosts"}, 1, []string{"ParameterNotFound"}, nil},
		{[]string{"param", "put", "/app/x"}, 2, []string{"usage: signet param put"}, nil},
	}
	for _, s := range steps {
		code, stdout, stderr := run(t, srv, s.args...)
		if code != s.code {
			t.Fatalf("%s: exit %d, want %d:\n%s%s", strings.Join(s.args, " "), code, s.code, stdout, stderr)
		}
		for _, want := range s.out {
			if !strings.Contains(stdout+stderr, want) {
				t.Fatalf("%s: no %q in:\n%s%s", strings.Join(s.args, " "), want, stdout, stderr)
			}
		}
		for _, bad := range s.not {
			if strings.Contains(stdout+stderr, bad) {
				t.Fatalf("%s: %q shown:\n%s%s", strings.Join(s.args, " "), bad, stdout, stderr)
			}
		}
	}
}
