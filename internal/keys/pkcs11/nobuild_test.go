//go:build !(pkcs11 && cgo)

package pkcs11_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/signet/signet/internal/keys/pkcs11"
)

func TestOpenWithoutPKCS11Support(t *testing.T) {
	_, err := pkcs11.Open(pkcs11.Config{Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "t", PIN: "1234"})
	if !errors.Is(err, pkcs11.ErrNotBuilt) {
		t.Fatalf("error = %v, want ErrNotBuilt", err)
	}
	if !strings.Contains(err.Error(), "-tags pkcs11") || !strings.Contains(err.Error(), "CGO_ENABLED=1") {
		t.Errorf("error %q does not say how to build with PKCS#11 support", err)
	}
}
