package kms_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/kms"
	"github.com/signet/signet/internal/seal"
	"github.com/signet/signet/internal/store"
)

func newService(t *testing.T) *kms.Service {
	t.Helper()
	db, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "signet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	box, err := seal.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &kms.Service{Store: db.KMS, Box: box, Account: arn.Account{Partition: "aws", Region: "us-east-1", ID: "123456789012"}}
}

// TestEncryptDecrypt: a round trip under a key (by id, ARN, alias and
// alias ARN), the encryption context bound exactly, the blob bound to its
// key, material rotation keeping old blobs decrypting, and the key states.
func TestEncryptDecrypt(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	k, err := s.CreateKey(ctx, kms.CreateKeyInput{Description: "app"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := s.CreateKey(ctx, kms.CreateKeyInput{})
	if err := s.CreateAlias(ctx, "alias/app", k.ID); err != nil {
		t.Fatal(err)
	}
	encCtx := map[string]string{"PARAMETER_ARN": "arn:aws:ssm:us-east-1:123456789012:parameter/db/password"}
	for _, ref := range []string{k.ID, s.ARN(k.ID), "alias/app", s.AliasARN("alias/app")} {
		blob, used, err := s.Encrypt(ctx, ref, []byte("s3cr3t"), encCtx)
		if err != nil || used.ID != k.ID {
			t.Fatalf("Encrypt(%s) = %v, key %s", ref, err, used.ID)
		}
		pt, used, err := s.Decrypt(ctx, blob, encCtx, "")
		if err != nil || string(pt) != "s3cr3t" || used.ID != k.ID {
			t.Fatalf("Decrypt = %q, %v", pt, err)
		}
	}
	blob, _, _ := s.Encrypt(ctx, k.ID, []byte("s3cr3t"), encCtx)
	wrong := []map[string]string{
		nil,
		{"PARAMETER_ARN": "arn:aws:ssm:us-east-1:123456789012:parameter/db/other"},
		{"PARAMETER_ARN": encCtx["PARAMETER_ARN"], "extra": "x"},
	}
	for _, c := range wrong {
		if _, _, err := s.Decrypt(ctx, blob, c, ""); !errors.Is(err, kms.ErrInvalidCiphertext) {
			t.Errorf("Decrypt with context %v = %v, want InvalidCiphertext", c, err)
		}
	}
	// Contexts whose concatenations collide still differ.
	b2, _, _ := s.Encrypt(ctx, k.ID, []byte("x"), map[string]string{"ab": "c"})
	if _, _, err := s.Decrypt(ctx, b2, map[string]string{"a": "bc"}, ""); !errors.Is(err, kms.ErrInvalidCiphertext) {
		t.Errorf("a colliding context decrypted: %v", err)
	}
	if _, _, err := s.Decrypt(ctx, blob, encCtx, other.ID); !errors.Is(err, kms.ErrIncorrectKey) {
		t.Errorf("Decrypt naming another key = %v", err)
	}
	for i, mutate := range []func([]byte){
		func(b []byte) { b[len(b)-1] ^= 1 },    // the tag
		func(b []byte) { b[30] ^= 1 },          // the nonce
		func(b []byte) { b[len("SKC1")+19]++ }, // the material version
	} {
		bad := bytes.Clone(blob)
		mutate(bad)
		if _, _, err := s.Decrypt(ctx, bad, encCtx, ""); !errors.Is(err, kms.ErrInvalidCiphertext) {
			t.Errorf("mutation %d: %v, want InvalidCiphertext", i, err)
		}
	}
	// Rotation: new material for new blobs, old blobs still decrypt.
	if _, err := s.Rotate(ctx, "alias/app"); err != nil {
		t.Fatal(err)
	}
	newBlob, _, _ := s.Encrypt(ctx, k.ID, []byte("after"), nil)
	if bytes.Equal(newBlob[4:24], blob[4:24]) {
		t.Error("the blob after rotation names the old material")
	}
	for _, b := range [][]byte{blob, newBlob} {
		c := encCtx
		if bytes.Equal(b, newBlob) {
			c = nil
		}
		if _, _, err := s.Decrypt(ctx, b, c, ""); err != nil {
			t.Errorf("after rotation: %v", err)
		}
	}
	// Key states.
	if err := s.SetEnabled(ctx, k.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Encrypt(ctx, k.ID, []byte("x"), nil); !errors.Is(err, kms.ErrDisabled) {
		t.Errorf("Encrypt with a disabled key = %v", err)
	}
	if _, _, err := s.Decrypt(ctx, blob, encCtx, ""); !errors.Is(err, kms.ErrDisabled) {
		t.Errorf("Decrypt with a disabled key = %v", err)
	}
	if _, err := s.ScheduleDeletion(ctx, k.ID, 6); !errors.Is(err, kms.ErrInvalid) {
		t.Errorf("6 days = %v", err)
	}
	if d, err := s.ScheduleDeletion(ctx, k.ID, 7); err != nil || d.State != kms.StatePendingDeletion || d.DeletionDate.Before(time.Now().Add(6*24*time.Hour)) {
		t.Fatalf("ScheduleDeletion = %+v, %v", d, err)
	}
	if _, _, err := s.Decrypt(ctx, blob, encCtx, ""); !errors.Is(err, kms.ErrInvalidState) {
		t.Errorf("Decrypt pending deletion = %v", err)
	}
	if err := s.SetEnabled(ctx, k.ID, true); !errors.Is(err, kms.ErrInvalidState) {
		t.Errorf("enable pending deletion = %v", err)
	}
	if c, err := s.CancelDeletion(ctx, k.ID); err != nil || c.State != kms.StateDisabled {
		t.Errorf("CancelDeletion = %+v, %v", c, err)
	}
}

func TestKeyErrors(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	k, _ := s.CreateKey(ctx, kms.CreateKeyInput{})
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"empty plaintext", func() error { _, _, err := s.Encrypt(ctx, k.ID, nil, nil); return err }(), kms.ErrInvalid},
		{"4097 bytes", func() error { _, _, err := s.Encrypt(ctx, k.ID, make([]byte, 4097), nil); return err }(), kms.ErrInvalid},
		{"unknown key", func() error {
			_, _, err := s.Encrypt(ctx, "11111111-1111-4111-8111-111111111111", []byte("x"), nil)
			return err
		}(), kms.ErrNotFound},
		{"unknown alias", func() error { _, _, err := s.Encrypt(ctx, "alias/none", []byte("x"), nil); return err }(), kms.ErrNotFound},
		{"another account's ARN", func() error {
			_, _, err := s.Encrypt(ctx, "arn:aws:kms:us-east-1:999999999999:key/"+k.ID, []byte("x"), nil)
			return err
		}(), kms.ErrNotFound},
		{"not a blob", func() error { _, _, err := s.Decrypt(ctx, []byte("hello"), nil, ""); return err }(), kms.ErrInvalidCiphertext},
		{"reserved alias", s.CreateAlias(ctx, "alias/aws/ssm", k.ID), kms.ErrInvalidAlias},
		{"bad alias", s.CreateAlias(ctx, "app", k.ID), kms.ErrInvalid},
		{"data key both", func() error { _, _, _, err := s.GenerateDataKey(ctx, k.ID, 32, "AES_256", nil); return err }(), kms.ErrInvalid},
		{"data key none", func() error { _, _, _, err := s.GenerateDataKey(ctx, k.ID, 0, "", nil); return err }(), kms.ErrInvalid},
		{"random 0", func() error { _, err := kms.GenerateRandom(0); return err }(), kms.ErrInvalid},
		{"random 1025", func() error { _, err := kms.GenerateRandom(1025); return err }(), kms.ErrInvalid},
		{"asymmetric", func() error { _, err := s.CreateKey(ctx, kms.CreateKeyInput{Spec: "RSA_2048"}); return err }(), kms.ErrInvalid},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
	if err := s.CreateAlias(ctx, "alias/app", k.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAlias(ctx, "alias/app", k.ID); !errors.Is(err, kms.ErrAlreadyExists) {
		t.Errorf("alias twice = %v", err)
	}
}

func TestDataKeysAndReEncrypt(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	a, _ := s.CreateKey(ctx, kms.CreateKeyInput{})
	b, _ := s.CreateKey(ctx, kms.CreateKeyInput{})
	pt, blob, _, err := s.GenerateDataKey(ctx, a.ID, 0, "AES_256", map[string]string{"k": "v"})
	if err != nil || len(pt) != 32 {
		t.Fatalf("GenerateDataKey = %d bytes, %v", len(pt), err)
	}
	got, _, err := s.Decrypt(ctx, blob, map[string]string{"k": "v"}, "")
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("the data key does not decrypt to itself: %v", err)
	}
	re, src, dest, err := s.ReEncrypt(ctx, blob, map[string]string{"k": "v"}, "", b.ID, nil)
	if err != nil || src.ID != a.ID || dest.ID != b.ID {
		t.Fatalf("ReEncrypt = %v", err)
	}
	if got, k, err := s.Decrypt(ctx, re, nil, ""); err != nil || !bytes.Equal(got, pt) || k.ID != b.ID {
		t.Fatalf("the re-encrypted blob: %v", err)
	}
	if pt128, _, _, err := s.GenerateDataKey(ctx, a.ID, 0, "AES_128", nil); err != nil || len(pt128) != 16 {
		t.Errorf("AES_128: %d, %v", len(pt128), err)
	}
}

func TestServiceKey(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	k1, err := s.ServiceKey(ctx, "alias/aws/ssm", "Default key that protects my SSM parameters when no other key is defined")
	if err != nil || k1.Manager != kms.ManagerAWS {
		t.Fatalf("ServiceKey = %+v, %v", k1, err)
	}
	k2, err := s.ServiceKey(ctx, "alias/aws/ssm", "")
	if err != nil || k2.ID != k1.ID {
		t.Fatalf("the second ServiceKey made another key: %v", err)
	}
	if _, err := s.ScheduleDeletion(ctx, k1.ID, 7); !errors.Is(err, kms.ErrInvalid) {
		t.Errorf("deleting an AWS managed key = %v", err)
	}
}
