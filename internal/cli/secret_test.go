package cli_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/signet/signet/internal/server/servertest"
)

// TestSecretCommands: create, get (the value hidden without --show),
// put, list, describe, delete and restore, and the errors a user meets.
func TestSecretCommands(t *testing.T) {
	srv := servertest.Start(t)
	work := t.TempDir()
	valueFile := filepath.Join(work, "value")
	if err := os.WriteFile(valueFile, []byte("second-value-from-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	binFile := filepath.Join(work, "key.bin")
	bin := []byte{0, 1, 2, 0xfe, 0xff}
	if err := os.WriteFile(binFile, bin, 0o600); err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(work, "out.bin")
	pkg := filepath.Join(work, "rotator.zip")
	writeZip(t, pkg)
	if code, _, stderr := run(t, srv, "function", "create", "rotator", "--zip", pkg); code != 0 {
		t.Fatal(stderr)
	}
	cases := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr []string // substrings
	}{
		{"ok/create", []string{"secret", "create", "prod/db", "--value", "s3cr3t-hunter2", "--description", "the database", "--tag", "env=prod"}, 0,
			[]string{"prod/db", ":secret:prod/db-", "(AWSCURRENT)"}, nil},
		{"ok/create-binary", []string{"secret", "create", "tls-key", "--binary-file", binFile}, 0, []string{"tls-key"}, nil},
		{"ok/create-empty", []string{"secret", "create", "later"}, 0, []string{"none yet"}, nil},
		{"fail/exists", []string{"secret", "create", "prod/db", "--value", "x"}, 1, nil,
			[]string{"signet: ResourceExistsException:", "hint: 'signet secret put prod/db --value-file FILE'"}},
		{"fail/two-values", []string{"secret", "create", "x", "--value", "a", "--value-file", valueFile}, 2, nil, []string{"not both"}},
		{"ok/get-hidden", []string{"secret", "get", "prod/db"}, 0, []string{"AWSCURRENT", "Value (string)", "****"}, nil},
		{"ok/get-hidden-json", []string{"secret", "get", "prod/db", "--output", "json"}, 0, []string{`"SecretString": "****"`, `"VersionStages": [`}, nil},
		{"ok/get-show", []string{"secret", "get", "prod/db", "--show"}, 0, []string{"s3cr3t-hunter2"}, nil},
		{"ok/get-show-json", []string{"secret", "get", "prod/db", "--show", "--output", "json"}, 0, []string{`"SecretString": "s3cr3t-hunter2"`}, nil},
		{"ok/get-binary-base64", []string{"secret", "get", "tls-key", "--show"}, 0, []string{"binary, base64", base64.StdEncoding.EncodeToString(bin)}, nil},
		{"ok/get-binary-out", []string{"secret", "get", "tls-key", "--show", "--out", outFile}, 0, []string{"written to " + outFile}, nil},
		{"fail/out-without-show", []string{"secret", "get", "tls-key", "--out", outFile}, 2, nil, []string{"give --show"}},
		{"ok/put", []string{"secret", "put", "prod/db", "--value-file", valueFile}, 0, []string{"stored version", "of secret prod/db (AWSCURRENT)"}, nil},
		{"ok/get-new", []string{"secret", "get", "prod/db", "--show"}, 0, []string{"second-value-from-file"}, nil},
		{"ok/get-previous", []string{"secret", "get", "prod/db", "--version-stage", "AWSPREVIOUS", "--show"}, 0, []string{"s3cr3t-hunter2", "AWSPREVIOUS"}, nil},
		{"ok/put-staged", []string{"secret", "put", "prod/db", "--value", "staged", "--stage", "TESTING"}, 0, []string{"(TESTING)"}, nil},
		{"fail/put-no-value", []string{"secret", "put", "prod/db"}, 2, nil, []string{"needs --value or --value-file"}},
		{"ok/list", []string{"secret", "list"}, 0, []string{"NAME", "prod/db", "the database", "tls-key", "later"}, nil},
		{"ok/list-filter", []string{"secret", "list", "--filter", "name=prod"}, 0, []string{"prod/db"}, nil},
		{"ok/list-json", []string{"secret", "list", "--output", "json"}, 0, []string{`"SecretList": [`, `"Name": "prod/db"`}, nil},
		{"ok/rotate-configure", []string{"secret", "rotate", "prod/db", "--function", "rotator", "--every-days", "30", "--no-immediately"}, 0,
			[]string{"rotation of secret prod/db is configured"}, nil},
		{"ok/describe", []string{"secret", "describe", "prod/db"}, 0, []string{"the database", "alias/aws/secretsmanager", "Rotation           on",
			":function:rotator", "every 30 days", "Next rotation", "Tag env", "VERSION", "AWSCURRENT", "AWSPREVIOUS", "TESTING"}, nil},
		{"ok/describe-json", []string{"secret", "describe", "prod/db", "--output", "json"}, 0, []string{`"VersionIdsToStages"`, `"RotationEnabled": true`}, nil},
		{"fail/rotate-unknown-function", []string{"secret", "rotate", "prod/db", "--function", "nope"}, 1, nil, []string{"rotation function nope: ResourceNotFoundException"}},
		{"fail/rotate-both-rules", []string{"secret", "rotate", "prod/db", "--every-days", "1", "--schedule", "rate(2 days)"}, 2, nil, []string{"not both"}},
		{"fail/rotate-cron", []string{"secret", "rotate", "prod/db", "--schedule", "cron(0 4 * * ? *)", "--no-immediately"}, 1, nil, []string{"InvalidParameterException", "cron() expressions are not supported"}},
		{"fail/unknown", []string{"secret", "get", "nobody"}, 1, nil, []string{"signet: ResourceNotFoundException:", "hint: 'signet secret list'"}},
		{"fail/describe-unknown", []string{"secret", "describe", "nobody"}, 1, nil, []string{"ResourceNotFoundException"}},
		{"fail/no-name", []string{"secret", "get"}, 2, nil, []string{"takes one argument"}},
		{"fail/unknown-subcommand", []string{"secret", "frob"}, 2, nil, []string{`unknown secret subcommand "frob"`}},
		{"ok/delete", []string{"secret", "delete", "prod/db", "--recovery-days", "7"}, 0, []string{"scheduled for deletion on", "signet secret restore prod/db"}, nil},
		{"fail/get-deleted", []string{"secret", "get", "prod/db"}, 1, nil, []string{"InvalidRequestException", "marked for deletion"}},
		{"ok/list-hides-deleted", []string{"secret", "list", "--filter", "name=prod"}, 0, nil, nil},
		{"ok/list-deleted", []string{"secret", "list", "--include-deleted", "--filter", "name=prod"}, 0, []string{"prod/db"}, nil},
		{"ok/describe-deleted", []string{"secret", "describe", "prod/db"}, 0, []string{"Deletion date"}, nil},
		{"ok/restore", []string{"secret", "restore", "prod/db"}, 0, []string{"restored secret prod/db"}, nil},
		{"ok/get-restored", []string{"secret", "get", "prod/db", "--show"}, 0, []string{"second-value-from-file"}, nil},
		{"fail/recovery-and-force", []string{"secret", "delete", "later", "--force", "--recovery-days", "7"}, 2, nil, []string{"not both"}},
		{"ok/force-delete", []string{"secret", "delete", "later", "--force"}, 0, []string{"cannot be restored"}, nil},
		{"fail/force-deleted", []string{"secret", "describe", "later"}, 1, nil, []string{"ResourceNotFoundException"}},
		{"ok/help", []string{"secret", "get", "--help"}, 0, []string{"signet secret get NAME", "-show"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := run(t, srv, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			for _, s := range c.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range c.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			// A value is printed only with --show.
			if !strings.Contains(strings.Join(c.args, " "), "--show") {
				for _, v := range []string{"s3cr3t-hunter2", "second-value-from-file", "staged", base64.StdEncoding.EncodeToString(bin)} {
					if strings.Contains(stdout+stderr, v) {
						t.Errorf("the value %q was printed without --show:\n%s%s", v, stdout, stderr)
					}
				}
			}
			if c.name == "ok/list-hides-deleted" && strings.Contains(stdout, "prod/db") {
				t.Errorf("a secret scheduled for deletion is listed:\n%s", stdout)
			}
		})
	}
	if got, err := os.ReadFile(outFile); err != nil || !bytes.Equal(got, bin) {
		t.Errorf("--out wrote %x (%v), want %x", got, err, bin)
	}
	if fi, err := os.Stat(outFile); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("--out wrote mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestSecretRotate: secret rotate prints the pending version and returns;
// once the function's testSecret step fails, secret describe shows the
// failure, and AWSCURRENT still holds the old value.
func TestSecretRotate(t *testing.T) {
	srv := servertest.Start(t)
	if srv.Invoke.Pool == nil {
		if servertest.RequireAll() {
			t.Fatalf("functions cannot run here: %v", srv.Invoke.Unavailable)
		}
		t.Skipf("functions cannot run here: %v", srv.Invoke.Unavailable)
	}
	pkg := filepath.Join(t.TempDir(), "rotator.zip")
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	f, _ := zw.Create("lambda_function.py")
	f.Write([]byte("def lambda_handler(event, context):\n    if event['Step'] == 'testSecret':\n        raise ValueError('cannot log in with the pending password')\n"))
	zw.Close()
	if err := os.WriteFile(pkg, zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"function", "create", "rotator", "--zip", pkg}, {"secret", "create", "db", "--value", "original"}} {
		if code, _, stderr := run(t, srv, args...); code != 0 {
			t.Fatal(stderr)
		}
	}
	code, stdout, stderr := run(t, srv, "secret", "rotate", "db", "--function", "rotator", "--schedule", "rate(10 days)")
	if code != 0 || !strings.Contains(stdout, "runs its steps in the background") {
		t.Fatalf("rotate: exit %d\n%s%s", code, stdout, stderr)
	}
	if !regexp.MustCompile(`version [0-9a-f-]{36} is AWSPENDING`).MatchString(stdout) {
		t.Fatalf("rotate printed no pending version:\n%s", stdout)
	}
	if code, _, stderr := run(t, srv, "secret", "rotate", "db"); code != 1 || !strings.Contains(stderr, "A previous rotation isn't complete.") {
		t.Errorf("second rotate: exit %d: %s", code, stderr)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, stdout, stderr = run(t, srv, "secret", "describe", "db")
		if code != 0 {
			t.Fatal(stderr)
		}
		if strings.Contains(stdout, "Last rotation failure") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// (The function makes no AWSPENDING version: its createSecret does
	// nothing.)
	for _, want := range []string{"at step testSecret", "ValueError", "rate(10 days)", "signet audit query --action secretsmanager:RotationStep"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("describe lacks %q:\n%s", want, stdout)
		}
	}
	if code, stdout, _ := run(t, srv, "secret", "get", "db", "--show"); code != 0 || !strings.Contains(stdout, "original") {
		t.Errorf("AWSCURRENT after the failed rotation: %s", stdout)
	}
}
