package server_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/signet/signet/internal/server/servertest"
)

// BenchmarkKMS: Encrypt and Decrypt of 1 KiB through the API (SDK,
// loopback HTTP, SigV4, authorization by key policy and IAM), against
// raw AES-256-GCM of 1 KiB in the same process and the API's own floor,
// an authenticated GetCallerIdentity.
func BenchmarkKMS(b *testing.B) {
	ts := servertest.Start(b)
	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, "")
	c := kmsClient(ts, creds)
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		b.Fatal(err)
	}
	plain := make([]byte, 1024)
	rand.Read(plain)
	encCtx := map[string]string{"purpose": "bench"}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: plain, EncryptionContext: encCtx})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("raw-aes-256-gcm", func(b *testing.B) {
		key := make([]byte, 32)
		rand.Read(key)
		blk, _ := aes.NewCipher(key)
		aead, _ := cipher.NewGCM(blk)
		nonce := make([]byte, 12)
		b.SetBytes(1024)
		for range b.N {
			rand.Read(nonce)
			out := aead.Seal(nil, nonce, plain, nil)
			if _, err := aead.Open(nil, nonce, out, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get-caller-identity", func(b *testing.B) {
		s := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: creds})
		for range b.N {
			if _, err := s.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encrypt-1KiB", func(b *testing.B) {
		b.SetBytes(1024)
		for range b.N {
			if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: plain, EncryptionContext: encCtx}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decrypt-1KiB", func(b *testing.B) {
		b.SetBytes(1024)
		for range b.N {
			if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
