// Package pkcs11test makes SoftHSM2 tokens for tests of the PKCS#11 key
// store: each test gets a token of its own in a temporary directory.
package pkcs11test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/signet/signet/internal/keys/pkcs11"
)

// Module is SoftHSM2's PKCS#11 module as Debian's softhsm2 package
// installs it.
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// PINs of the tokens NewToken makes.
const (
	PIN   = "1234"
	SOPIN = "5678"
)

// RequireAll reports whether tests must fail, not skip, when SoftHSM2 is
// missing (SIGNET_REQUIRE_ALL=1, as scripts/test sets it).
func RequireAll() bool { return os.Getenv("SIGNET_REQUIRE_ALL") == "1" }

// Available reports why SoftHSM2 cannot be used, or "" when it can.
func Available() string {
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		return "softhsm2-util not found (install Debian's softhsm2)"
	}
	if _, err := os.Stat(Module); err != nil {
		return fmt.Sprintf("the SoftHSM2 module %s is missing (install Debian's softhsm2)", Module)
	}
	if !pkcs11.Available {
		return "this test binary was built without PKCS#11 support (go test -tags pkcs11, with cgo)"
	}
	return ""
}

// skip skips tb when SoftHSM2 cannot be used: always when the test binary
// has no PKCS#11 support (scripts/test runs these tests again with it),
// and otherwise unless RequireAll, which fails tb instead.
func skip(tb testing.TB) {
	tb.Helper()
	why := Available()
	switch {
	case why == "":
		return
	case pkcs11.Available && RequireAll():
		tb.Fatalf("%s; SIGNET_REQUIRE_ALL=1 makes it mandatory", why)
	}
	tb.Skip(why)
}

// NewToken makes a SoftHSM2 token for the test tb: a configuration of its
// own (SOFTHSM2_CONF, set for the rest of the test) with its token
// directory in a temporary directory, and a token initialised with a
// random label and the PINs above. It returns the Config that opens it.
// When SoftHSM2 is missing it skips the test, or fails it if RequireAll;
// a test binary built without -tags pkcs11 always skips.
//
// SoftHSM2 reads SOFTHSM2_CONF when the module is initialised, which
// happens once until the last store on it is closed: tests using NewToken
// must not run in parallel, and must close their stores before they end
// (the stores opened with t.Cleanup are).
func NewToken(tb testing.TB) pkcs11.Config {
	tb.Helper()
	skip(tb)
	dir := tb.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		tb.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Setenv("SOFTHSM2_CONF", conf)
	b := make([]byte, 6)
	rand.Read(b)
	label := "signet-test-" + hex.EncodeToString(b)
	out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SOPIN, "--pin", PIN).CombinedOutput()
	if err != nil {
		tb.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return pkcs11.Config{Module: Module, TokenLabel: label, PIN: PIN}
}

// OperatorKey makes an ECDSA P-384 key pair labelled label on the token of
// cfg with OpenSC's pkcs11-tool, as an operator does before the first
// start (sensitive and never extractable: pkcs11-tool's default). Call it
// before anything in the test process opens the token. Without
// pkcs11-tool it skips the test, or fails it if RequireAll.
func OperatorKey(tb testing.TB, cfg pkcs11.Config, label string) {
	tb.Helper()
	if _, err := exec.LookPath("pkcs11-tool"); err != nil {
		if RequireAll() {
			tb.Fatal("pkcs11-tool not found (install Debian's opensc); SIGNET_REQUIRE_ALL=1 makes it mandatory")
		}
		tb.Skip("pkcs11-tool not found (install Debian's opensc)")
	}
	out, err := exec.Command("pkcs11-tool", "--module", cfg.Module, "--token-label", cfg.TokenLabel, "--login", "--pin", cfg.PIN,
		"--keypairgen", "--key-type", "EC:secp384r1", "--id", hex.EncodeToString([]byte(label)), "--label", label).CombinedOutput()
	if err != nil {
		tb.Fatalf("pkcs11-tool --keypairgen: %v\n%s", err, out)
	}
}
