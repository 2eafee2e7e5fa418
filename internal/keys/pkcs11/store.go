//go:build pkcs11 && cgo

package pkcs11

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"

	"github.com/signet/signet/internal/keys"
)

// Available reports whether this build has PKCS#11 support.
const Available = true

// Store is a KeyStore on one PKCS#11 token. It is safe for concurrent
// use: crypto11 keeps a pool of logged-in sessions.
type Store struct {
	cfg Config
	ctx *crypto11.Context

	// signers caches the key pairs found on the token by key id, so that
	// a signature costs one C_Sign and no object search.
	mu      sync.Mutex
	signers map[string]crypto11.Signer
}

var _ keys.KeyStore = (*Store)(nil)

// Open logs in to the token labelled cfg.TokenLabel of the module
// cfg.Module. Close the store when done with it.
//
// The module is loaded and initialised once per process, whatever path
// names it (symbolic links are resolved first); a second store on the
// same module shares it.
func Open(cfg Config) (*Store, error) {
	switch {
	case cfg.Module == "":
		return nil, errors.New("PKCS#11 module path is empty")
	case cfg.TokenLabel == "":
		return nil, errors.New("PKCS#11 token label is empty")
	case cfg.PIN == "":
		return nil, fmt.Errorf("PIN for token %q is empty", cfg.TokenLabel)
	}
	// One path per library: crypto11 initialises a module once per path,
	// and C_Initialize on a library already initialised in this process
	// fails with CKR_CRYPTOKI_ALREADY_INITIALIZED.
	module, err := filepath.EvalSymlinks(cfg.Module)
	if err != nil {
		return nil, fmt.Errorf("PKCS#11 module %s: %w", cfg.Module, err)
	}
	if fi, err := os.Stat(module); err != nil {
		return nil, fmt.Errorf("PKCS#11 module %s: %w", cfg.Module, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("PKCS#11 module %s is not a file", cfg.Module)
	}
	c, err := crypto11.Configure(&crypto11.Config{Path: module, TokenLabel: cfg.TokenLabel, Pin: cfg.PIN})
	if err != nil {
		return nil, openError(cfg, err)
	}
	return &Store{cfg: cfg, ctx: c, signers: map[string]crypto11.Signer{}}, nil
}

// openError explains a failed crypto11.Configure without the PIN (which
// crypto11's errors never hold either).
func openError(cfg Config, err error) error {
	var code p11.Error
	switch {
	case errors.As(err, &code) && (code == p11.CKR_PIN_INCORRECT || code == p11.CKR_PIN_INVALID || code == p11.CKR_PIN_LEN_RANGE):
		return fmt.Errorf("log in to PKCS#11 token %q: the PIN is wrong (%v)", cfg.TokenLabel, code)
	case errors.As(err, &code) && code == p11.CKR_PIN_LOCKED:
		return fmt.Errorf("log in to PKCS#11 token %q: the PIN is locked (%v); the security officer must unlock it", cfg.TokenLabel, code)
	case err.Error() == "could not find PKCS#11 token":
		return fmt.Errorf("PKCS#11 module %s has no token labelled %q (list them with pkcs11-tool --module %s --list-token-slots)", cfg.Module, cfg.TokenLabel, cfg.Module)
	}
	return fmt.Errorf("open PKCS#11 token %q of module %s: %w", cfg.TokenLabel, cfg.Module, err)
}

// Close releases the store's sessions, and the module when no other store
// uses it. Signers handed out stop working.
func (s *Store) Close() error {
	return s.ctx.Close()
}

// Create generates a key pair of spec (DefaultKeySpec if empty) on the
// token, private half non-extractable, and returns its id and
// *ecdsa.PublicKey.
func (s *Store) Create(ctx context.Context, spec keys.KeySpec) (string, crypto.PublicKey, error) {
	spec, err := keys.SpecOrDefault(spec)
	if err != nil {
		return "", nil, err
	}
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	curve, _ := spec.Curve()
	id, err := keys.NewID()
	if err != nil {
		return "", nil, err
	}
	label := s.cfg.Label(id)
	public, err := crypto11.NewAttributeSetWithIDAndLabel([]byte(id), []byte(label))
	if err != nil {
		return "", nil, err
	}
	private := public.Copy()
	for _, a := range []struct {
		t crypto11.AttributeType
		v bool
	}{
		{crypto11.CkaToken, true},
		{crypto11.CkaPrivate, true},
		{crypto11.CkaSensitive, true},
		{crypto11.CkaExtractable, false},
		{crypto11.CkaSign, true},
		{crypto11.CkaDerive, false},
	} {
		if err := private.Set(a.t, a.v); err != nil {
			return "", nil, err
		}
	}
	if err := public.Set(crypto11.CkaToken, true); err != nil {
		return "", nil, err
	}
	k, err := s.ctx.GenerateECDSAKeyPairWithAttributes(public, private, curve)
	if err != nil {
		return "", nil, fmt.Errorf("generate %s key on PKCS#11 token %q: %w", spec, s.cfg.TokenLabel, err)
	}
	s.mu.Lock()
	s.signers[id] = k
	s.mu.Unlock()
	return id, k.Public(), nil
}

// Signer finds the key pair on the token and returns a crypto.Signer that
// signs with it there. It returns an error wrapping keys.ErrKeyNotFound
// when the token has no key with that id.
func (s *Store) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	k, err := s.find(ctx, id)
	if err != nil {
		return nil, err
	}
	return &signer{key: k, token: s.cfg.TokenLabel}, nil
}

// Delete destroys both halves of a key pair Signet created, or returns an
// error wrapping keys.ErrKeyNotFound. Keys adopted by label are the
// operator's and are not destroyed.
func (s *Store) Delete(ctx context.Context, id string) error {
	if l, ok := cutLabelID(id); ok {
		return fmt.Errorf("key %s is the operator's key labelled %q on token %q: Signet does not destroy it", id, l, s.cfg.TokenLabel)
	}
	k, err := s.find(ctx, id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.signers, id)
	s.mu.Unlock()
	if err := k.Delete(); err != nil {
		return fmt.Errorf("destroy key %s on PKCS#11 token %q: %w", id, s.cfg.TokenLabel, err)
	}
	return nil
}

// KeyByLabel adopts a key pair the operator made on the token: exactly
// one private key labelled label, with a CKA_ID and a public half of the
// same CKA_ID, ECDSA P-384 or P-256, generated on the token and unable to
// leave it (see adoptable). It returns the key id to use it by
// (LabelID(label)) and its public key.
func (s *Store) KeyByLabel(ctx context.Context, label string) (string, crypto.PublicKey, error) {
	if label == "" {
		return "", nil, errors.New("key label is empty")
	}
	id := LabelID(label)
	k, err := s.find(ctx, id)
	if err != nil {
		return "", nil, err
	}
	if _, err := keys.SpecOf(k.Public()); err != nil {
		return "", nil, fmt.Errorf("key labelled %q on PKCS#11 token %q: %w", label, s.cfg.TokenLabel, err)
	}
	types := make([]crypto11.AttributeType, len(adoptable))
	for i, a := range adoptable {
		types[i] = a.typ
	}
	attrs, err := s.ctx.GetAttributes(k, types)
	if err != nil {
		return "", nil, fmt.Errorf("key labelled %q on PKCS#11 token %q: read its attributes: %w", label, s.cfg.TokenLabel, err)
	}
	for _, a := range adoptable {
		if attrTrue(attrs[a.typ]) != a.want {
			return "", nil, fmt.Errorf("key labelled %q on PKCS#11 token %q has %s %v, want %v: %s; generate a new key pair on the token, never imported nor extractable (pkcs11-tool --keypairgen --login, without --extractable), and adopt that one",
				label, s.cfg.TokenLabel, a.name, !a.want, a.want, a.why)
		}
	}
	return id, k.Public(), nil
}

// adoptable are the private key attributes KeyByLabel requires of an
// operator's key: generated inside the token (a key imported, or once
// readable or extractable, has CKA_ALWAYS_SENSITIVE or
// CKA_NEVER_EXTRACTABLE false), never to leave it, usable only after
// login, and for signing.
var adoptable = []struct {
	typ  crypto11.AttributeType
	name string
	want bool
	why  string
}{
	{crypto11.CkaSensitive, "CKA_SENSITIVE", true, "it can leave the token (its value can be read)"},
	{crypto11.CkaExtractable, "CKA_EXTRACTABLE", false, "it can leave the token (wrapped under another key)"},
	{crypto11.CkaAlwaysSensitive, "CKA_ALWAYS_SENSITIVE", true, "it has not always been sensitive: it was imported or was once readable, so a copy may exist outside the token"},
	{crypto11.CkaNeverExtractable, "CKA_NEVER_EXTRACTABLE", true, "it has been extractable: it was imported or could once be wrapped, so a copy may exist outside the token"},
	{crypto11.CkaPrivate, "CKA_PRIVATE", true, "it can be used without logging in to the token"},
	{crypto11.CkaSign, "CKA_SIGN", true, "the token does not let it sign"},
}

// find returns the key pair with the given id, from the cache or the
// token.
func (s *Store) find(ctx context.Context, id string) (crypto11.Signer, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	k, ok := s.signers[id]
	s.mu.Unlock()
	if ok {
		return k, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	label := s.cfg.Label(id)
	var ckaID []byte
	if _, adopted := cutLabelID(id); !adopted {
		ckaID = []byte(id)
	}
	found, err := s.ctx.FindKeyPairs(ckaID, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("find key %s on PKCS#11 token %q: %w", id, s.cfg.TokenLabel, err)
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("key %s (label %q) on PKCS#11 token %q: %w", id, label, s.cfg.TokenLabel, keys.ErrKeyNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("%d key pairs on PKCS#11 token %q are labelled %q: give each key a label of its own", len(found), s.cfg.TokenLabel, label)
	}
	k = found[0]
	s.mu.Lock()
	s.signers[id] = k
	s.mu.Unlock()
	return k, nil
}

// attrTrue reports whether a boolean attribute is set and true.
func attrTrue(a *crypto11.Attribute) bool {
	return a != nil && len(a.Value) == 1 && a.Value[0] != 0
}

// signer signs with a key on the token, hiding crypto11's Delete.
type signer struct {
	key   crypto11.Signer
	token string
}

var _ crypto.Signer = (*signer)(nil)

// Public returns the *ecdsa.PublicKey.
func (s *signer) Public() crypto.PublicKey { return s.key.Public() }

// Sign signs digest on the token (CKM_ECDSA), returning an ASN.1 DER
// ECDSA signature. The token supplies the randomness; r is not used.
func (s *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := keys.CheckDigest(digest, opts); err != nil {
		return nil, err
	}
	sig, err := s.key.Sign(nil, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("sign on PKCS#11 token %q: %w", s.token, err)
	}
	return sig, nil
}
