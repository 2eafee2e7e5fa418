package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/signet/signet/internal/server/servertest"
)

// TestKMSSignVerify: the SDK creates an ECC_NIST_P256 signing key, signs
// a message and its digest, verifies them through the API and with the
// public key GetPublicKey returns, and gets AWS's error codes for the
// uses a signing key (or a symmetric one) refuses.
func TestKMSSignVerify(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	c := kmsClient(ts, credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, ""))
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	id := k.KeyMetadata.KeyId
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id})
	if err != nil {
		t.Fatal(err)
	}
	if md := d.KeyMetadata; md.KeySpec != types.KeySpecEccNistP256 || md.CustomerMasterKeySpec != types.CustomerMasterKeySpecEccNistP256 ||
		md.KeyUsage != types.KeyUsageTypeSignVerify || !slices.Equal(md.SigningAlgorithms, []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256}) ||
		len(md.EncryptionAlgorithms) != 0 {
		t.Errorf("DescribeKey = %+v", md)
	}
	pk, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: id})
	if err != nil {
		t.Fatal(err)
	}
	if pk.KeySpec != types.KeySpecEccNistP256 || pk.KeyUsage != types.KeyUsageTypeSignVerify || len(pk.SigningAlgorithms) != 1 {
		t.Errorf("GetPublicKey = %+v", pk)
	}
	pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("artifact sha256:0123")
	digest := sha256.Sum256(msg)
	for _, in := range []kms.SignInput{
		{KeyId: id, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256},
		{KeyId: id, Message: digest[:], MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256},
	} {
		s, err := c.Sign(ctx, &in)
		if err != nil {
			t.Fatalf("Sign(%s) = %v", in.MessageType, err)
		}
		if aws.ToString(s.KeyId) != aws.ToString(k.KeyMetadata.Arn) || s.SigningAlgorithm != types.SigningAlgorithmSpecEcdsaSha256 {
			t.Errorf("Sign = %+v", s)
		}
		if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], s.Signature) {
			t.Errorf("Sign(%s): the public key does not verify the signature", in.MessageType)
		}
		v, err := c.Verify(ctx, &kms.VerifyInput{KeyId: id, Message: in.Message, MessageType: in.MessageType, Signature: s.Signature, SigningAlgorithm: in.SigningAlgorithm})
		if err != nil || !v.SignatureValid {
			t.Errorf("Verify(%s) = %+v, %v", in.MessageType, v, err)
		}
	}
	sym, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  error
		code string
	}{
		{"invalid signature", func() error {
			s, _ := c.Sign(ctx, &kms.SignInput{KeyId: id, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			_, err := c.Verify(ctx, &kms.VerifyInput{KeyId: id, Message: []byte("another"), Signature: s.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			return err
		}(), "KMSInvalidSignatureException"},
		{"encrypt with a signing key", func() error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
			return err
		}(), "InvalidKeyUsageException"},
		{"data key with a signing key", func() error {
			_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: id, KeySpec: types.DataKeySpecAes256})
			return err
		}(), "InvalidKeyUsageException"},
		{"sign with a symmetric key", func() error {
			_, err := c.Sign(ctx, &kms.SignInput{KeyId: sym.KeyMetadata.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			return err
		}(), "InvalidKeyUsageException"},
		{"another curve's algorithm", func() error {
			_, err := c.Sign(ctx, &kms.SignInput{KeyId: id, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384})
			return err
		}(), "InvalidKeyUsageException"},
		{"digest of the wrong length", func() error {
			_, err := c.Sign(ctx, &kms.SignInput{KeyId: id, Message: msg, MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			return err
		}(), "ValidationException"},
		{"public key of a symmetric key", func() error {
			_, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: sym.KeyMetadata.KeyId})
			return err
		}(), "UnsupportedOperationException"},
		{"rotation of a signing key", func() error {
			_, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: id})
			return err
		}(), "UnsupportedOperationException"},
		{"rotation status of a signing key", func() error {
			_, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: id})
			return err
		}(), "UnsupportedOperationException"},
		{"rotate a signing key", func() error {
			_, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: id})
			return err
		}(), "UnsupportedOperationException"},
		{"ECC for encryption", func() error {
			_, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP384, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
			return err
		}(), "ValidationException"},
		{"symmetric for signing", func() error {
			_, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeyUsage: types.KeyUsageTypeSignVerify})
			return err
		}(), "ValidationException"},
		{"disabled", func() error {
			c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id})
			defer c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: id})
			_, err := c.Sign(ctx, &kms.SignInput{KeyId: id, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			return err
		}(), "DisabledException"},
	}
	for _, tc := range cases {
		if got := apiCode(tc.err); got != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, tc.err, tc.code)
		}
	}
}

// TestKMSSignAuthorization: kms:Sign, kms:Verify and kms:GetPublicKey are
// each their own action, decided by IAM under the default key policy.
func TestKMSSignAuthorization(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	admin := kmsClient(ts, credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, ""))
	k, err := admin.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP384, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(k.KeyMetadata.Arn)
	msg := []byte("m")
	sig, err := admin.Sign(ctx, &kms.SignInput{KeyId: k.KeyMetadata.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384})
	if err != nil {
		t.Fatal(err)
	}
	policy := func(actions string) string {
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[%s],"Resource":%q}]}`, actions, arn)
	}
	verifier := kmsUser(t, ts, "verifier", policy(`"kms:Verify","kms:GetPublicKey"`))
	signer := kmsUser(t, ts, "signer", policy(`"kms:Sign"`))
	sign := func(c *kms.Client) error {
		_, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(arn), Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384})
		return err
	}
	verify := func(c *kms.Client) error {
		_, err := c.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(arn), Message: msg, Signature: sig.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384})
		return err
	}
	publicKey := func(c *kms.Client) error {
		_, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(arn)})
		return err
	}
	cases := []struct {
		name string
		err  error
		code string
	}{
		{"verifier signs", sign(verifier), "AccessDeniedException"},
		{"verifier verifies", verify(verifier), ""},
		{"verifier gets the public key", publicKey(verifier), ""},
		{"signer signs", sign(signer), ""},
		{"signer verifies", verify(signer), "AccessDeniedException"},
		{"signer gets the public key", publicKey(signer), "AccessDeniedException"},
	}
	for _, tc := range cases {
		if got := apiCode(tc.err); got != tc.code {
			t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.code)
		}
	}
}

// TestKMSKeyDestruction: once the clock passes a key's deletion date,
// DestroyDue destroys it: DescribeKey and its alias answer
// NotFoundException, and so does Decrypt of what it encrypted.
func TestKMSKeyDestruction(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	ts := servertest.StartWithClock(t, func() time.Time { return time.Unix(0, now.Load()) })
	ctx := context.Background()
	c := kmsClient(ts, credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, ""))
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := k.KeyMetadata.KeyId
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/doomed"), TargetKeyId: id}); err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("s3cr3t")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	now.Add(int64(7*24*time.Hour - time.Minute))
	if n, err := ts.KMS.DestroyDue(ctx); err != nil || n != 0 {
		t.Fatalf("DestroyDue before the deletion date = %d, %v", n, err)
	}
	if d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id}); err != nil || d.KeyMetadata.KeyState != types.KeyStatePendingDeletion {
		t.Fatalf("DescribeKey before the deletion date = %v", err)
	}
	now.Add(int64(time.Minute))
	if n, err := ts.KMS.DestroyDue(ctx); err != nil || n != 1 {
		t.Fatalf("DestroyDue at the deletion date = %d, %v", n, err)
	}
	cases := []struct {
		name string
		err  error
	}{
		{"DescribeKey", func() error { _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id}); return err }()},
		{"DescribeKey by alias", func() error {
			_, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/doomed")})
			return err
		}()},
		{"Decrypt", func() error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
			return err
		}()},
		{"CancelKeyDeletion", func() error { _, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: id}); return err }()},
	}
	for _, tc := range cases {
		if got := apiCode(tc.err); got != "NotFoundException" {
			t.Errorf("%s after destruction: %v, want NotFoundException", tc.name, tc.err)
		}
	}
}
