package kms_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/signet/signet/internal/kms"
)

// TestSignVerify: an elliptic-curve key signs a message and its digest,
// its public key verifies them outside the service, Verify accepts them
// and refuses a signature of another message.
func TestSignVerify(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	msg := []byte("release v1.2.3")
	d256, d384 := sha256.Sum256(msg), sha512.Sum384(msg)
	cases := []struct {
		spec, algorithm string
		digest          []byte
	}{
		{kms.SpecP256, "ECDSA_SHA_256", d256[:]},
		{kms.SpecP384, "ECDSA_SHA_384", d384[:]},
	}
	for _, c := range cases {
		t.Run(c.spec, func(t *testing.T) {
			k, err := s.CreateKey(ctx, kms.CreateKeyInput{Spec: c.spec, Usage: kms.UsageSign})
			if err != nil {
				t.Fatal(err)
			}
			if got := k.SigningAlgorithms(); len(got) != 1 || got[0] != c.algorithm {
				t.Errorf("SigningAlgorithms = %v", got)
			}
			der, _, err := s.PublicKey(ctx, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := x509.ParsePKIXPublicKey(der)
			if err != nil {
				t.Fatal(err)
			}
			ec, ok := pub.(*ecdsa.PublicKey)
			if !ok {
				t.Fatalf("public key is a %T", pub)
			}
			for _, in := range []kms.SignInput{
				{KeyRef: k.ID, Message: msg, Algorithm: c.algorithm},
				{KeyRef: s.ARN(k.ID), Message: msg, Type: kms.MessageRaw, Algorithm: c.algorithm},
				{KeyRef: k.ID, Message: c.digest, Type: kms.MessageHash, Algorithm: c.algorithm},
			} {
				sig, _, err := s.Sign(ctx, in)
				if err != nil {
					t.Fatalf("Sign(%s) = %v", in.Type, err)
				}
				if !ecdsa.VerifyASN1(ec, c.digest, sig) {
					t.Errorf("Sign(%s): the public key does not verify the signature", in.Type)
				}
				in.Signature = sig
				if _, err := s.Verify(ctx, in); err != nil {
					t.Errorf("Verify(%s) = %v", in.Type, err)
				}
				in.Message = append(bytes.Clone(in.Message[:len(in.Message)-1]), in.Message[len(in.Message)-1]^1)
				if _, err := s.Verify(ctx, in); !errors.Is(err, kms.ErrInvalidSignature) {
					t.Errorf("Verify(%s) of another message = %v, want ErrInvalidSignature", in.Type, err)
				}
			}
		})
	}
}

func TestAsymmetricErrors(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	sym, err := s.CreateKey(ctx, kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	p256, err := s.CreateKey(ctx, kms.CreateKeyInput{Spec: kms.SpecP256, Usage: kms.UsageSign})
	if err != nil {
		t.Fatal(err)
	}
	disabled, _ := s.CreateKey(ctx, kms.CreateKeyInput{Spec: kms.SpecP256, Usage: kms.UsageSign})
	if err := s.SetEnabled(ctx, disabled.ID, false); err != nil {
		t.Fatal(err)
	}
	pending, _ := s.CreateKey(ctx, kms.CreateKeyInput{Spec: kms.SpecP384, Usage: kms.UsageSign})
	if _, err := s.ScheduleDeletion(ctx, pending.ID, 7); err != nil {
		t.Fatal(err)
	}
	sign := func(in kms.SignInput) error { _, _, err := s.Sign(ctx, in); return err }
	createKey := func(spec, usage string) error {
		_, err := s.CreateKey(ctx, kms.CreateKeyInput{Spec: spec, Usage: usage})
		return err
	}
	grant := func(key string, ops ...string) error {
		_, err := s.CreateGrant(ctx, s.Store.(kms.GrantStore), kms.CreateGrantInput{KeyRef: key, Grantee: "arn:aws:iam::123456789012:user/a", Operations: ops})
		return err
	}
	msg := []byte("m")
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"symmetric SIGN_VERIFY", createKey(kms.SpecSymmetric, kms.UsageSign), kms.ErrInvalid},
		{"ECC ENCRYPT_DECRYPT", createKey(kms.SpecP256, kms.UsageEncrypt), kms.ErrInvalid},
		{"ECC without a usage", createKey(kms.SpecP384, ""), kms.ErrInvalid},
		{"ECC_NIST_P521", createKey("ECC_NIST_P521", kms.UsageSign), kms.ErrInvalid},
		{"unknown usage", createKey(kms.SpecP256, "WRAP"), kms.ErrInvalid},
		{"sign with a symmetric key", sign(kms.SignInput{KeyRef: sym.ID, Message: msg, Algorithm: "ECDSA_SHA_256"}), kms.ErrInvalidKeyUsage},
		{"encrypt with a signing key", func() error { _, _, err := s.Encrypt(ctx, p256.ID, msg, nil); return err }(), kms.ErrInvalidKeyUsage},
		{"data key with a signing key", func() error { _, _, _, err := s.GenerateDataKey(ctx, p256.ID, 32, "", nil); return err }(), kms.ErrInvalidKeyUsage},
		{"another curve's algorithm", sign(kms.SignInput{KeyRef: p256.ID, Message: msg, Algorithm: "ECDSA_SHA_384"}), kms.ErrInvalidKeyUsage},
		{"RSA algorithm", sign(kms.SignInput{KeyRef: p256.ID, Message: msg, Algorithm: "RSASSA_PSS_SHA_256"}), kms.ErrInvalidKeyUsage},
		{"unknown algorithm", sign(kms.SignInput{KeyRef: p256.ID, Message: msg, Algorithm: "ECDSA"}), kms.ErrInvalid},
		{"no algorithm", sign(kms.SignInput{KeyRef: p256.ID, Message: msg}), kms.ErrInvalid},
		{"empty message", sign(kms.SignInput{KeyRef: p256.ID, Algorithm: "ECDSA_SHA_256"}), kms.ErrInvalid},
		{"4097 bytes", sign(kms.SignInput{KeyRef: p256.ID, Message: make([]byte, 4097), Algorithm: "ECDSA_SHA_256"}), kms.ErrInvalid},
		{"short digest", sign(kms.SignInput{KeyRef: p256.ID, Message: make([]byte, 31), Type: kms.MessageHash, Algorithm: "ECDSA_SHA_256"}), kms.ErrInvalid},
		{"unknown message type", sign(kms.SignInput{KeyRef: p256.ID, Message: msg, Type: "HASH", Algorithm: "ECDSA_SHA_256"}), kms.ErrInvalid},
		{"disabled", sign(kms.SignInput{KeyRef: disabled.ID, Message: msg, Algorithm: "ECDSA_SHA_256"}), kms.ErrDisabled},
		{"pending deletion", sign(kms.SignInput{KeyRef: pending.ID, Message: msg, Algorithm: "ECDSA_SHA_384"}), kms.ErrInvalidState},
		{"verify without a signature", func() error {
			_, err := s.Verify(ctx, kms.SignInput{KeyRef: p256.ID, Message: msg, Algorithm: "ECDSA_SHA_256"})
			return err
		}(), kms.ErrInvalid},
		{"verify garbage", func() error {
			_, err := s.Verify(ctx, kms.SignInput{KeyRef: p256.ID, Message: msg, Algorithm: "ECDSA_SHA_256", Signature: []byte("not DER")})
			return err
		}(), kms.ErrInvalidSignature},
		{"public key of a symmetric key", func() error { _, _, err := s.PublicKey(ctx, sym.ID); return err }(), kms.ErrUnsupported},
		{"rotate a signing key", func() error { _, err := s.Rotate(ctx, p256.ID); return err }(), kms.ErrUnsupported},
		{"rotation of a signing key", s.SetRotation(ctx, p256.ID, true, 0), kms.ErrUnsupported},
		{"rotation status of a signing key", func() error { _, err := s.RotationStatus(ctx, p256.ID); return err }(), kms.ErrUnsupported},
		{"rotation status of a symmetric key", func() error { _, err := s.RotationStatus(ctx, sym.ID); return err }(), nil},
		{"a Decrypt grant on a signing key", grant(p256.ID, "Decrypt"), kms.ErrInvalid},
		{"a Sign grant on a symmetric key", grant(sym.ID, "Sign"), kms.ErrInvalid},
		{"a Sign grant on a signing key", grant(p256.ID, "Sign", "DescribeKey"), nil},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
}

// TestDestroyDue: a key whose pending deletion has ended is destroyed
// with its material and aliases when the clock passes its deletion date;
// one still pending, one cancelled and one never scheduled stay.
func TestDestroyDue(t *testing.T) {
	s := newService(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	ctx := context.Background()
	newKey := func(in kms.CreateKeyInput) kms.Key {
		t.Helper()
		k, err := s.CreateKey(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	doomed, signer := newKey(kms.CreateKeyInput{}), newKey(kms.CreateKeyInput{Spec: kms.SpecP256, Usage: kms.UsageSign})
	later, cancelled, kept := newKey(kms.CreateKeyInput{}), newKey(kms.CreateKeyInput{}), newKey(kms.CreateKeyInput{})
	if err := s.CreateAlias(ctx, "alias/doomed", doomed.ID); err != nil {
		t.Fatal(err)
	}
	blob, _, err := s.Encrypt(ctx, doomed.ID, []byte("s3cr3t"), nil)
	if err != nil {
		t.Fatal(err)
	}
	keptBlob, _, _ := s.Encrypt(ctx, kept.ID, []byte("kept"), nil)
	for _, k := range []struct {
		id   string
		days int
	}{{doomed.ID, 7}, {signer.ID, 7}, {later.ID, 8}, {cancelled.ID, 7}} {
		if _, err := s.ScheduleDeletion(ctx, k.id, k.days); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CancelDeletion(ctx, cancelled.ID); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		after     time.Duration
		destroyed int
	}{
		{7*24*time.Hour - time.Second, 0},
		{7 * 24 * time.Hour, 2},
		{7*24*time.Hour + time.Hour, 0},
		{8 * 24 * time.Hour, 1},
		{30 * 24 * time.Hour, 0},
	}
	start := now
	for _, st := range steps {
		now = start.Add(st.after)
		n, err := s.DestroyDue(ctx)
		if err != nil || n != st.destroyed {
			t.Fatalf("DestroyDue at +%v = %d, %v; want %d", st.after, n, err, st.destroyed)
		}
	}
	for _, id := range []string{doomed.ID, signer.ID, later.ID, "alias/doomed"} {
		if _, err := s.Resolve(ctx, id); !errors.Is(err, kms.ErrNotFound) {
			t.Errorf("Resolve(%s) after destruction = %v, want ErrNotFound", id, err)
		}
	}
	if _, _, err := s.Decrypt(ctx, blob, nil, ""); !errors.Is(err, kms.ErrNotFound) {
		t.Errorf("Decrypt under a destroyed key = %v, want ErrNotFound", err)
	}
	if _, err := s.Store.KeyMaterial(ctx, doomed.ID, 1); !errors.Is(err, kms.ErrNotFound) {
		t.Errorf("the destroyed key's material: %v, want ErrNotFound", err)
	}
	for _, id := range []string{cancelled.ID, kept.ID} {
		if _, err := s.Resolve(ctx, id); err != nil {
			t.Errorf("Resolve(%s) = %v", id, err)
		}
	}
	if pt, _, err := s.Decrypt(ctx, keptBlob, nil, ""); err != nil || string(pt) != "kept" {
		t.Errorf("Decrypt under a kept key = %q, %v", pt, err)
	}
}
