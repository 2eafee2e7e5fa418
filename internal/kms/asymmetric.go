package kms

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"fmt"
	"hash"
	"slices"

	"github.com/signet/signet/internal/errs"
)

// Asymmetric key specs, their usage and the message types of Sign and
// Verify.
const (
	SpecP256    = "ECC_NIST_P256"
	SpecP384    = "ECC_NIST_P384"
	UsageSign   = "SIGN_VERIFY"
	MessageRaw  = "RAW"
	MessageHash = "DIGEST"
)

// signingAlgorithms are every signing algorithm AWS KMS names; a key
// signs with the one of its spec (see SigningAlgorithms).
var signingAlgorithms = []string{"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
	"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
	"ECDSA_SHA_256", "ECDSA_SHA_384", "ECDSA_SHA_512", "SM2DSA", "ML_DSA_SHAKE_256"}

// eccSpecs are the elliptic-curve key specs Signet creates: the curve
// and the one signing algorithm (and its hash) of each.
var eccSpecs = map[string]struct {
	curve     elliptic.Curve
	algorithm string
	hash      func() hash.Hash
}{
	SpecP256: {elliptic.P256(), "ECDSA_SHA_256", sha256.New},
	SpecP384: {elliptic.P384(), "ECDSA_SHA_384", sha512.New384},
}

// Asymmetric reports whether a key is an asymmetric (signing) key.
func (k Key) Asymmetric() bool { _, ok := eccSpecs[k.Spec]; return ok }

// SigningAlgorithms are the algorithms a key signs with (none for a
// symmetric key).
func (k Key) SigningAlgorithms() []string {
	if e, ok := eccSpecs[k.Spec]; ok {
		return []string{e.algorithm}
	}
	return nil
}

// keyUsage checks a key spec and usage pair, as CreateKey takes them.
func keyUsage(spec, usage string) error {
	switch spec {
	case SpecSymmetric:
		if usage != UsageEncrypt {
			return errs.Errorf(ErrInvalid, "KeyUsage %s is not compatible with KeySpec %s: a %s key may only be ENCRYPT_DECRYPT", usage, spec, spec)
		}
	case SpecP256, SpecP384:
		if usage != UsageSign {
			return errs.Errorf(ErrInvalid, "KeyUsage %s is not compatible with KeySpec %s: an elliptic-curve key may only be SIGN_VERIFY", usage, spec)
		}
	default:
		return errs.Value(ErrInvalid, "keySpec", spec, "must be one of SYMMETRIC_DEFAULT, ECC_NIST_P256, ECC_NIST_P384 (the key specs Signet creates)")
	}
	return nil
}

// newSigningMaterial makes an elliptic-curve private key and seals it
// (PKCS #8) as a key's only material version.
func (s *Service) newSigningMaterial(id, spec string) (Material, error) {
	priv, err := ecdsa.GenerateKey(eccSpecs[spec].curve, rand.Reader)
	if err != nil {
		return Material{}, err
	}
	raw, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return Material{}, err
	}
	defer clear(raw)
	return Material{KeyID: id, Version: 1, Sealed: s.Box.Seal(raw, materialAD(id, 1)), CreatedAt: s.now()}, nil
}

// signer opens a signing key's private key.
func (s *Service) signer(ctx context.Context, k Key) (*ecdsa.PrivateKey, error) {
	s.mu.Lock()
	p, ok := s.signers[k.ID]
	s.mu.Unlock()
	if ok {
		return p, nil
	}
	m, err := s.Store.KeyMaterial(ctx, k.ID, k.Material)
	if err != nil {
		return nil, fmt.Errorf("key %s material %d: %w", k.ID, k.Material, err)
	}
	raw, err := s.Box.Open(m.Sealed, materialAD(k.ID, k.Material))
	if err != nil {
		return nil, fmt.Errorf("key %s material %d: %w", k.ID, k.Material, err)
	}
	defer clear(raw)
	parsed, err := x509.ParsePKCS8PrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("key %s material %d: %w", k.ID, k.Material, err)
	}
	p, ok = parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key %s material %d is a %T, not an ECDSA key", k.ID, k.Material, parsed)
	}
	s.mu.Lock()
	if s.signers == nil || len(s.signers) >= maxOpenMaterial {
		s.signers = map[string]*ecdsa.PrivateKey{}
	}
	s.signers[k.ID] = p
	s.mu.Unlock()
	return p, nil
}

// SignInput is a Sign or Verify request.
type SignInput struct {
	KeyRef    string
	Message   []byte
	Type      string // RAW (default) or DIGEST
	Algorithm string
	Signature []byte // Verify's
}

// digest checks a Sign or Verify request's message and algorithm against
// its key and returns the digest to sign.
func (s *Service) digest(ctx context.Context, in SignInput) ([]byte, Key, error) {
	if in.Type == "" {
		in.Type = MessageRaw
	}
	switch {
	case len(in.Message) == 0:
		return nil, Key{}, errs.Null(ErrInvalid, "message")
	case len(in.Message) > MaxPlaintext:
		return nil, Key{}, errs.Field(ErrInvalid, "message", "must have length less than or equal to %d", MaxPlaintext)
	case in.Type != MessageRaw && in.Type != MessageHash:
		return nil, Key{}, errs.Value(ErrInvalid, "messageType", in.Type, "must satisfy enum value set: [RAW, DIGEST]")
	case in.Algorithm == "":
		return nil, Key{}, errs.Null(ErrInvalid, "signingAlgorithm")
	case !slices.Contains(signingAlgorithms, in.Algorithm):
		return nil, Key{}, errs.Value(ErrInvalid, "signingAlgorithm", in.Algorithm, "must satisfy enum value set: %v", signingAlgorithms)
	}
	k, err := s.Resolve(ctx, in.KeyRef)
	if err != nil {
		return nil, Key{}, err
	}
	if err := s.usableFor(k, UsageSign); err != nil {
		return nil, k, err
	}
	e := eccSpecs[k.Spec]
	if in.Algorithm != e.algorithm {
		return nil, k, errs.Errorf(ErrInvalidKeyUsage, "Algorithm %s is incompatible with key spec %s: it signs with %s.", in.Algorithm, k.Spec, e.algorithm)
	}
	h := e.hash()
	if in.Type == MessageHash {
		if len(in.Message) != h.Size() {
			return nil, k, errs.Errorf(ErrInvalid, "Digest is invalid length for algorithm %s: it must be %d bytes.", in.Algorithm, h.Size())
		}
		return in.Message, k, nil
	}
	h.Write(in.Message)
	return h.Sum(nil), k, nil
}

// Sign signs a message (or its digest) with a SIGN_VERIFY key's private
// key, which never leaves the service; the signature is DER (ASN.1), as
// AWS returns it.
func (s *Service) Sign(ctx context.Context, in SignInput) ([]byte, Key, error) {
	d, k, err := s.digest(ctx, in)
	if err != nil {
		return nil, k, err
	}
	p, err := s.signer(ctx, k)
	if err != nil {
		return nil, k, err
	}
	sig, err := ecdsa.SignASN1(rand.Reader, p, d)
	return sig, k, err
}

// Verify checks a signature of a message (or its digest); a signature
// that does not verify is an error wrapping ErrInvalidSignature.
func (s *Service) Verify(ctx context.Context, in SignInput) (Key, error) {
	if len(in.Signature) == 0 {
		return Key{}, errs.Null(ErrInvalid, "signature")
	}
	d, k, err := s.digest(ctx, in)
	if err != nil {
		return k, err
	}
	p, err := s.signer(ctx, k)
	if err != nil {
		return k, err
	}
	if !ecdsa.VerifyASN1(&p.PublicKey, d, in.Signature) {
		return k, errs.Errorf(ErrInvalidSignature, "The signature is not valid for this message, key and signing algorithm.")
	}
	return k, nil
}

// PublicKey returns a signing key's public key as a DER
// SubjectPublicKeyInfo.
func (s *Service) PublicKey(ctx context.Context, keyRef string) ([]byte, Key, error) {
	k, err := s.Resolve(ctx, keyRef)
	if err != nil {
		return nil, Key{}, err
	}
	if !k.Asymmetric() {
		return nil, k, errs.Errorf(ErrUnsupported, "%s is a symmetric key, which has no public key.", s.ARN(k.ID))
	}
	if err := s.usableFor(k, UsageSign); err != nil {
		return nil, k, err
	}
	p, err := s.signer(ctx, k)
	if err != nil {
		return nil, k, err
	}
	der, err := x509.MarshalPKIXPublicKey(&p.PublicKey)
	return der, k, err
}

// RotationStatus returns the key whose rotation status is asked for; an
// asymmetric key has none (UnsupportedOperationException, as in AWS).
func (s *Service) RotationStatus(ctx context.Context, keyRef string) (Key, error) {
	k, err := s.Resolve(ctx, keyRef)
	if err == nil && k.Asymmetric() {
		err = s.errNotRotatable(k)
	}
	return k, err
}

// errNotRotatable refuses rotation of an asymmetric key, as AWS does.
func (s *Service) errNotRotatable(k Key) error {
	return errs.Errorf(ErrUnsupported, "%s is an asymmetric key (%s): only symmetric encryption keys can be rotated.", s.ARN(k.ID), k.Spec)
}
