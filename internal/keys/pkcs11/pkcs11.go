// Package pkcs11 keeps Signet's private keys on a PKCS#11 token (a hardware
// security module, or SoftHSM2 for tests): a [keys.KeyStore] whose keys are
// generated inside the token, used inside it and never leave it.
//
// The implementation uses github.com/ThalesGroup/crypto11, which needs cgo,
// so it is compiled only with the build tag pkcs11:
//
//	CGO_ENABLED=1 go build -tags pkcs11 ./cmd/signet
//
// Without the tag (the default, pure-Go build) [Open] returns an error
// wrapping [ErrNotBuilt] that says how to build with it.
//
// # Keys on the token
//
// Create generates an ECDSA key pair with C_GenerateKeyPair. The private
// key has CKA_TOKEN, CKA_PRIVATE and CKA_SENSITIVE true and CKA_EXTRACTABLE
// false: it persists on the token, is visible only after login, and its
// value can be neither read nor wrapped out. Both halves carry
//
//	CKA_ID    = the Signet key id ("key-" and 26 base32 characters)
//	CKA_LABEL = Config.KeyLabelPrefix + the key id
//
// so a key is found again after a restart by its id alone, and an operator
// listing the token (pkcs11-tool --list-objects) sees which keys are
// Signet's. Nothing about a key is kept outside the token: the database
// holds only key ids.
//
// A key the operator made on the token (for example the installation's
// root key, made before the first start) is adopted with [Store.KeyByLabel]
// when it was generated there and can never leave it; its key id is
// "label:" followed by its CKA_LABEL, and Signet never destroys it.
package pkcs11

import (
	"errors"
	"fmt"
	"strings"

	"github.com/signet/signet/internal/keys"
)

// DefaultKeyLabelPrefix is the CKA_LABEL prefix of the keys Signet creates
// when Config.KeyLabelPrefix is empty.
const DefaultKeyLabelPrefix = "signet:"

// labelIDPrefix starts the key id of a key adopted by label.
const labelIDPrefix = "label:"

// ErrNotBuilt: this build of Signet has no PKCS#11 support.
var ErrNotBuilt = errors.New("this build of Signet has no PKCS#11 support: build it with cgo and the pkcs11 tag (CGO_ENABLED=1 go build -tags pkcs11 ./cmd/signet)")

// Config says which token to use and how to log in to it.
type Config struct {
	// Module is the path of the PKCS#11 module (shared library), such as
	// /usr/lib/softhsm/libsofthsm2.so.
	Module string
	// TokenLabel selects the token (slot numbers change; labels do not).
	TokenLabel string
	// PIN is the user PIN. It is never logged: String leaves it out.
	PIN string
	// KeyLabelPrefix starts the CKA_LABEL of every key Signet creates;
	// DefaultKeyLabelPrefix when empty.
	KeyLabelPrefix string
}

// String describes c without its PIN.
func (c Config) String() string {
	return fmt.Sprintf("pkcs11.Config{Module: %q, TokenLabel: %q, KeyLabelPrefix: %q}", c.Module, c.TokenLabel, c.KeyLabelPrefix)
}

// GoString describes c without its PIN, for %#v.
func (c Config) GoString() string { return c.String() }

// prefix returns the label prefix in use.
func (c Config) prefix() string {
	if c.KeyLabelPrefix == "" {
		return DefaultKeyLabelPrefix
	}
	return c.KeyLabelPrefix
}

// Label returns the CKA_LABEL of the key with the given Signet key id: the
// prefix and the id for a key Signet created, the label itself for an
// adopted key.
func (c Config) Label(id string) string {
	if l, ok := cutLabelID(id); ok {
		return l
	}
	return c.prefix() + id
}

// LabelID returns the key id of an adopted key whose CKA_LABEL is label.
func LabelID(label string) string { return labelIDPrefix + label }

// cutLabelID returns the label of an adopted key's id.
func cutLabelID(id string) (label string, ok bool) {
	return strings.CutPrefix(id, labelIDPrefix)
}

// validID checks a key id before it reaches the token.
func validID(id string) error {
	if id == "" || len(id) > 256 {
		return fmt.Errorf("key id %q: %w", id, keys.ErrKeyNotFound)
	}
	return nil
}
