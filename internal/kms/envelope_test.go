package kms_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/signet/signet/internal/kms"
)

// TestEnvelope: the stored layout (which SecureString parameters, secret
// versions and function environments already on disk use), the round
// trip, and each way an envelope fails to open.
func TestEnvelope(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	k, err := s.CreateKey(ctx, kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	encCtx := map[string]string{"SecretARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}
	ad := []byte("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf\x00v1")
	value := []byte(`{"password":"hunter2"}`)
	env, used, err := s.SealEnvelope(ctx, s.ARN(k.ID), encCtx, value, ad)
	if err != nil || used.ID != k.ID {
		t.Fatalf("SealEnvelope = %v, key %s", err, used.ID)
	}

	// uint16 blob length, the blob (a ciphertext of k), 12-byte nonce,
	// then the value's ciphertext and 16-byte tag.
	n := int(binary.BigEndian.Uint16(env))
	if len(env) != 2+n+12+len(value)+16 {
		t.Fatalf("envelope of %d bytes, blob %d: not the stored layout", len(env), n)
	}
	if keyARN, err := s.KeyOfCiphertext(env[2 : 2+n]); err != nil || keyARN != s.ARN(k.ID) {
		t.Errorf("the envelope's data key is not a ciphertext of the key: %s, %v", keyARN, err)
	}
	if blob, err := kms.EnvelopeDataKey(env); err != nil || !bytes.Equal(blob, env[2:2+n]) {
		t.Errorf("EnvelopeDataKey = %v", err)
	}
	if bytes.Contains(env, value) {
		t.Errorf("the envelope holds the value in clear")
	}
	if got, err := s.OpenEnvelope(ctx, env, encCtx, ad); err != nil || !bytes.Equal(got, value) {
		t.Fatalf("OpenEnvelope = %q, %v", got, err)
	}

	flipped := bytes.Clone(env)
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name   string
		env    []byte
		encCtx map[string]string
		ad     []byte
		want   error
	}{
		{"empty", nil, encCtx, ad, kms.ErrMalformedEnvelope},
		{"truncated", env[:2+n+12+15], encCtx, ad, kms.ErrMalformedEnvelope},
		{"length past the end", append([]byte{0xff, 0xff}, env[2:]...), encCtx, ad, kms.ErrMalformedEnvelope},
		{"another owner's additional data", env, encCtx, []byte("arn:aws:secretsmanager:us-east-1:123456789012:secret:other-XyZabc\x00v1"), kms.ErrEnvelopeChanged},
		{"changed ciphertext", flipped, encCtx, ad, kms.ErrEnvelopeChanged},
		{"another encryption context", env, map[string]string{"SecretARN": "x"}, ad, kms.ErrInvalidCiphertext},
	}
	for _, tt := range tests {
		if _, err := s.OpenEnvelope(ctx, tt.env, tt.encCtx, tt.ad); !errors.Is(err, tt.want) {
			t.Errorf("%s: OpenEnvelope error %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := s.SetEnabled(ctx, k.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenEnvelope(ctx, env, encCtx, ad); !errors.Is(err, kms.ErrDisabled) {
		t.Errorf("OpenEnvelope under a disabled key: %v", err)
	}
	if _, _, err := s.SealEnvelope(ctx, k.ID, encCtx, value, ad); !errors.Is(err, kms.ErrDisabled) {
		t.Errorf("SealEnvelope under a disabled key: %v", err)
	}
}
