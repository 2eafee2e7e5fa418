// Package kms is Signet's key management service, the domain of its
// AWS KMS API: symmetric keys whose material never leaves Signet (sealed
// under the master key at rest), aliases, encryption with an encryption
// context bound as authenticated data, data keys, key rotation that keeps
// older material decrypting, and the key states (enabled, disabled,
// pending deletion) that decide what a key may do.
//
// Ciphertexts are Signet's own format (see ciphertext.go): they name the
// key and the material version, so Decrypt needs no key id.
package kms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/seal"
)

// Error kinds; the API maps each to AWS's code.
var (
	ErrNotFound          = errors.New("not found")          // NotFoundException
	ErrInvalid           = errors.New("invalid")            // ValidationException
	ErrAlreadyExists     = errors.New("already exists")     // AlreadyExistsException
	ErrDisabled          = errors.New("disabled")           // DisabledException
	ErrInvalidState      = errors.New("invalid state")      // KMSInvalidStateException
	ErrInvalidCiphertext = errors.New("invalid ciphertext") // InvalidCiphertextException
	ErrIncorrectKey      = errors.New("incorrect key")      // IncorrectKeyException
	ErrInvalidKeyUsage   = errors.New("invalid key usage")  // InvalidKeyUsageException
	ErrInvalidAlias      = errors.New("invalid alias")      // InvalidAliasNameException
	ErrInvalidSignature  = errors.New("invalid signature")  // KMSInvalidSignatureException
	ErrUnsupported       = errors.New("unsupported")        // UnsupportedOperationException
)

// Key states.
const (
	StateEnabled         = "Enabled"
	StateDisabled        = "Disabled"
	StatePendingDeletion = "PendingDeletion"
)

// Key specs and usages.
const (
	SpecSymmetric  = "SYMMETRIC_DEFAULT"
	UsageEncrypt   = "ENCRYPT_DECRYPT"
	ManagerAWS     = "AWS"
	ManagerCustom  = "CUSTOMER"
	MaxPlaintext   = 4096
	MaxRandomBytes = 1024
)

// Key is a KMS key.
type Key struct {
	ID          string
	Description string
	Spec, Usage string
	State       string
	// Manager is CUSTOMER, or AWS for the keys Signet creates for its
	// services (alias/aws/ssm, alias/aws/secretsmanager).
	Manager string
	// Policy is the key policy (JSON).
	Policy       string
	CreatedAt    time.Time
	DeletionDate time.Time // when PendingDeletion
	// Material is the current material version (new encryptions use it).
	Material        uint32
	RotationEnabled bool
	RotationDays    int
	NextRotation    time.Time
	Tags            map[string]string
}

// Material is one version of a key's material, sealed.
type Material struct {
	KeyID     string
	Version   uint32
	Sealed    []byte
	CreatedAt time.Time
}

// Alias names a key.
type Alias struct {
	Name      string // alias/NAME
	KeyID     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Store persists keys, their material and aliases.
type Store interface {
	// CreateKey stores a new key with its first material.
	CreateKey(ctx context.Context, k Key, m Material) error
	// Key returns a key, or an error wrapping ErrNotFound.
	Key(ctx context.Context, id string) (Key, error)
	// ListKeys returns keys with ids after after, in id order, at most limit.
	ListKeys(ctx context.Context, after string, limit int) ([]Key, error)
	// UpdateKey changes a key in one transaction; m, when not nil, is
	// stored as new material in the same transaction.
	UpdateKey(ctx context.Context, id string, update func(*Key) (*Material, error)) error
	// KeyMaterial returns one material version of a key.
	KeyMaterial(ctx context.Context, id string, version uint32) (Material, error)
	// PutAlias creates an alias (ErrAlreadyExists if the name is taken)
	// or, with replace, points an existing one at another key.
	PutAlias(ctx context.Context, a Alias, replace bool) error
	// Alias returns an alias, or ErrNotFound.
	Alias(ctx context.Context, name string) (Alias, error)
	// DeleteAlias removes an alias, or returns ErrNotFound.
	DeleteAlias(ctx context.Context, name string) error
	// ListAliases returns the aliases (of one key when keyID is set).
	ListAliases(ctx context.Context, keyID string) ([]Alias, error)
	// DestroyKeys deletes, in one transaction, every key pending deletion
	// whose deletion date is at or before now, with its material, its
	// aliases and its grants, and returns their ids. A key whose deletion
	// was cancelled first is not pending, and stays.
	DestroyKeys(ctx context.Context, now time.Time) ([]string, error)
}

// Service is the key management service of one account.
type Service struct {
	Store   Store
	Box     *seal.Box // seals key material under the master key
	Account arn.Account
	Now     func() time.Time

	// aeads keeps opened material versions: a version's material never
	// changes, so it is unsealed once per process.
	mu      sync.Mutex
	aeads   map[string]cipher.AEAD
	signers map[string]*ecdsa.PrivateKey
}

// maxOpenMaterial bounds the opened material versions kept.
const maxOpenMaterial = 4096

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// ARN is a key's ARN.
func (s *Service) ARN(id string) string {
	return fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", s.Account.Partition, s.Account.Region, s.Account.ID, id)
}

// AliasARN is an alias's ARN.
func (s *Service) AliasARN(name string) string {
	return fmt.Sprintf("arn:%s:kms:%s:%s:%s", s.Account.Partition, s.Account.Region, s.Account.ID, name)
}

// DefaultPolicy is the key policy AWS gives a key created without one:
// the account (its root) may do everything, so IAM policies decide.
func (s *Service) DefaultPolicy() string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:%s:iam::%s:root"},"Action":"kms:*","Resource":"*"}]}`,
		s.Account.Partition, s.Account.ID)
}

// managedPolicy is the key policy of an AWS managed key: every principal
// of the account may use it through the service (kms:ViaService), and
// read it.
func (s *Service) managedPolicy(service string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Id":"auto-%[1]s","Statement":[`+
		`{"Sid":"Allow access through %[1]s for all principals in the account that are authorized to use %[1]s","Effect":"Allow","Principal":{"AWS":"*"},`+
		`"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*",`+
		`"Condition":{"StringEquals":{"kms:ViaService":"%[1]s.%[2]s.amazonaws.com","kms:CallerAccount":"%[3]s"}}},`+
		`{"Sid":"Allow direct access to key metadata to the account","Effect":"Allow","Principal":{"AWS":"arn:%[4]s:iam::%[3]s:root"},`+
		`"Action":["kms:Describe*","kms:Get*","kms:List*"],"Resource":"*"}]}`, service, s.Account.Region, s.Account.ID, s.Account.Partition)
}

// materialAD is the additional data a material version is sealed with.
func materialAD(id string, version uint32) []byte {
	return fmt.Appendf(nil, "signet-kms-material-v1:%s:%d", id, version)
}

// newMaterial makes and seals a fresh 256-bit material version.
func (s *Service) newMaterial(id string, version uint32) (Material, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Material{}, err
	}
	defer clear(raw)
	return Material{KeyID: id, Version: version, Sealed: s.Box.Seal(raw, materialAD(id, version)), CreatedAt: s.now()}, nil
}

// CreateKeyInput is CreateKey's request.
type CreateKeyInput struct {
	Description, Spec, Usage, Policy string
	Manager                          string // "" is CUSTOMER
	Tags                             map[string]string
}

// CreateKey creates a symmetric encryption key (SYMMETRIC_DEFAULT,
// ENCRYPT_DECRYPT) or an elliptic-curve signing key (ECC_NIST_P256 or
// ECC_NIST_P384, SIGN_VERIFY).
func (s *Service) CreateKey(ctx context.Context, in CreateKeyInput) (Key, error) {
	if in.Spec == "" {
		in.Spec = SpecSymmetric
	}
	if in.Usage == "" {
		in.Usage = UsageEncrypt
	}
	if err := keyUsage(in.Spec, in.Usage); err != nil {
		return Key{}, err
	}
	switch {
	case len(in.Description) > 8192:
		return Key{}, errs.Field(ErrInvalid, "description", "must have length less than or equal to 8192")
	case len(in.Policy) > 32768:
		return Key{}, errs.Field(ErrInvalid, "policy", "must have length less than or equal to 32768")
	}
	if in.Policy == "" {
		in.Policy = s.DefaultPolicy()
	}
	if in.Manager == "" {
		in.Manager = ManagerCustom
	}
	id := uuid.NewString()
	newMaterial := s.newMaterial
	if in.Usage == UsageSign {
		newMaterial = func(id string, _ uint32) (Material, error) { return s.newSigningMaterial(id, in.Spec) }
	}
	m, err := newMaterial(id, 1)
	if err != nil {
		return Key{}, err
	}
	k := Key{ID: id, Description: in.Description, Spec: in.Spec, Usage: in.Usage, State: StateEnabled, Manager: in.Manager,
		Policy: in.Policy, CreatedAt: m.CreatedAt, Material: 1, RotationDays: 365, Tags: in.Tags}
	if k.Tags == nil {
		k.Tags = map[string]string{}
	}
	if err := s.Store.CreateKey(ctx, k, m); err != nil {
		return Key{}, err
	}
	return k, nil
}

// Resolve finds the key a reference names: a key id, a key ARN, an alias
// name (alias/NAME) or an alias ARN.
func (s *Service) Resolve(ctx context.Context, ref string) (Key, error) {
	if ref == "" {
		return Key{}, errs.Null(ErrInvalid, "keyId")
	}
	id := ref
	prefix := fmt.Sprintf("arn:%s:kms:%s:%s:", s.Account.Partition, s.Account.Region, s.Account.ID)
	if rest, ok := strings.CutPrefix(ref, prefix); ok {
		id = rest
	} else if strings.HasPrefix(ref, "arn:") {
		return Key{}, errs.Errorf(ErrNotFound, "Invalid keyId %s: it is not a key or alias ARN of account %s in %s", ref, s.Account.ID, s.Account.Region)
	}
	if rest, ok := strings.CutPrefix(id, "key/"); ok {
		id = rest
	}
	if strings.HasPrefix(id, "alias/") {
		a, err := s.Store.Alias(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return Key{}, errs.Errorf(ErrNotFound, "Alias %s is not found.", s.AliasARN(id))
		}
		if err != nil {
			return Key{}, err
		}
		id = a.KeyID
	}
	if _, err := uuid.Parse(id); err != nil {
		return Key{}, errs.Errorf(ErrNotFound, "Invalid keyId %s", ref)
	}
	k, err := s.Store.Key(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Key{}, errs.Errorf(ErrNotFound, "Key '%s' does not exist", s.ARN(id))
	}
	return k, err
}

// usable checks that a key may encrypt or decrypt now.
func (s *Service) usable(k Key) error { return s.usableFor(k, UsageEncrypt) }

// usableFor checks that a key is enabled and has a usage.
func (s *Service) usableFor(k Key, usage string) error {
	switch k.State {
	case StateDisabled:
		return errs.Errorf(ErrDisabled, "%s is disabled.", s.ARN(k.ID))
	case StatePendingDeletion:
		return errs.Errorf(ErrInvalidState, "%s is pending deletion.", s.ARN(k.ID))
	}
	if k.Usage != usage {
		return errs.Errorf(ErrInvalidKeyUsage, "%s key usage is %s which is not valid for this operation.", s.ARN(k.ID), k.Usage)
	}
	return nil
}

// gcm opens a material version as an AEAD.
func (s *Service) gcm(ctx context.Context, k Key, version uint32) (cipher.AEAD, error) {
	name := fmt.Sprintf("%s/%d", k.ID, version)
	s.mu.Lock()
	a, ok := s.aeads[name]
	s.mu.Unlock()
	if ok {
		return a, nil
	}
	a, err := s.openMaterial(ctx, k, version)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.aeads == nil || len(s.aeads) >= maxOpenMaterial {
		s.aeads = map[string]cipher.AEAD{}
	}
	s.aeads[name] = a
	s.mu.Unlock()
	return a, nil
}

func (s *Service) openMaterial(ctx context.Context, k Key, version uint32) (cipher.AEAD, error) {
	m, err := s.Store.KeyMaterial(ctx, k.ID, version)
	if errors.Is(err, ErrNotFound) {
		return nil, errs.Errorf(ErrInvalidCiphertext, "the ciphertext names material version %d, which key %s does not have", version, s.ARN(k.ID))
	}
	if err != nil {
		return nil, err
	}
	raw, err := s.Box.Open(m.Sealed, materialAD(k.ID, version))
	if err != nil {
		return nil, fmt.Errorf("key %s material %d: %w", k.ID, version, err)
	}
	defer clear(raw)
	b, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Encrypt encrypts up to 4,096 bytes under a key's current material,
// binding the encryption context.
func (s *Service) Encrypt(ctx context.Context, keyRef string, plaintext []byte, encCtx map[string]string) ([]byte, Key, error) {
	if len(plaintext) == 0 || len(plaintext) > MaxPlaintext {
		return nil, Key{}, errs.Field(ErrInvalid, "plaintext", "must have length between 1 and %d", MaxPlaintext)
	}
	k, err := s.Resolve(ctx, keyRef)
	if err != nil {
		return nil, Key{}, err
	}
	if err := s.usable(k); err != nil {
		return nil, k, err
	}
	out, err := s.seal(ctx, k, plaintext, encCtx)
	return out, k, err
}

func (s *Service) seal(ctx context.Context, k Key, plaintext []byte, encCtx map[string]string) ([]byte, error) {
	aead, err := s.gcm(ctx, k, k.Material)
	if err != nil {
		return nil, err
	}
	h, err := header(k.ID, k.Material)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append(append(h, nonce...), make([]byte, 0, len(plaintext)+tagSize)...)
	return aead.Seal(out, nonce, plaintext, aad(h, encCtx)), nil
}

// Decrypt decrypts a ciphertext blob with the key it names, which must
// be keyRef's when keyRef is set, and the same encryption context.
func (s *Service) Decrypt(ctx context.Context, ciphertext []byte, encCtx map[string]string, keyRef string) ([]byte, Key, error) {
	b, err := parseBlob(ciphertext)
	if err != nil {
		return nil, Key{}, errs.Errorf(ErrInvalidCiphertext, "The ciphertext is invalid: %v", err)
	}
	k, err := s.Store.Key(ctx, b.KeyID)
	if errors.Is(err, ErrNotFound) {
		// A deleted key, as AWS reports it.
		return nil, Key{}, errs.Errorf(ErrNotFound, "Key '%s' does not exist", s.ARN(b.KeyID))
	}
	if err != nil {
		return nil, Key{}, err
	}
	if keyRef != "" {
		want, err := s.Resolve(ctx, keyRef)
		if err != nil {
			return nil, Key{}, err
		}
		if want.ID != k.ID {
			return nil, Key{}, errs.Errorf(ErrIncorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
		}
	}
	if err := s.usable(k); err != nil {
		return nil, k, err
	}
	aead, err := s.gcm(ctx, k, b.Version)
	if err != nil {
		return nil, k, err
	}
	pt, err := aead.Open(nil, b.Nonce, b.Sealed, aad(b.Header, encCtx))
	if err != nil {
		// A wrong encryption context and a damaged blob look alike, as in
		// AWS: neither says which.
		return nil, k, errs.Errorf(ErrInvalidCiphertext, "The ciphertext or its encryption context is invalid.")
	}
	return pt, k, nil
}

// KeyOfCiphertext returns the key a ciphertext blob names, without
// decrypting it (authorization needs it before Decrypt).
func (s *Service) KeyOfCiphertext(ciphertext []byte) (string, error) {
	b, err := parseBlob(ciphertext)
	if err != nil {
		return "", errs.Errorf(ErrInvalidCiphertext, "The ciphertext is invalid: %v", err)
	}
	return s.ARN(b.KeyID), nil
}

// GenerateDataKey returns a fresh data key (numberOfBytes 1–1024, or
// keySpec AES_128/AES_256) in plaintext and encrypted under a key.
func (s *Service) GenerateDataKey(ctx context.Context, keyRef string, numberOfBytes int, keySpec string, encCtx map[string]string) (plaintext, ciphertext []byte, k Key, err error) {
	switch {
	case keySpec != "" && numberOfBytes != 0:
		return nil, nil, Key{}, errs.Errorf(ErrInvalid, "Please specify either number of bytes or key spec.")
	case keySpec == "AES_256":
		numberOfBytes = 32
	case keySpec == "AES_128":
		numberOfBytes = 16
	case keySpec != "":
		return nil, nil, Key{}, errs.Value(ErrInvalid, "keySpec", keySpec, "must satisfy enum value set: [AES_256, AES_128]")
	case numberOfBytes == 0:
		return nil, nil, Key{}, errs.Errorf(ErrInvalid, "Please specify either number of bytes or key spec.")
	case numberOfBytes < 1 || numberOfBytes > MaxRandomBytes:
		return nil, nil, Key{}, errs.Value(ErrInvalid, "numberOfBytes", fmt.Sprint(numberOfBytes), "must have value less than or equal to %d", MaxRandomBytes)
	}
	k, err = s.Resolve(ctx, keyRef)
	if err != nil {
		return nil, nil, Key{}, err
	}
	if err := s.usable(k); err != nil {
		return nil, nil, k, err
	}
	plaintext = make([]byte, numberOfBytes)
	if _, err := rand.Read(plaintext); err != nil {
		return nil, nil, k, err
	}
	ciphertext, err = s.seal(ctx, k, plaintext, encCtx)
	return plaintext, ciphertext, k, err
}

// ReEncrypt decrypts a blob and encrypts its plaintext under another key
// (or the same key's current material) without returning the plaintext.
func (s *Service) ReEncrypt(ctx context.Context, ciphertext []byte, srcCtx map[string]string, srcKeyRef, destKeyRef string, destCtx map[string]string) (out []byte, src, dest Key, err error) {
	pt, src, err := s.Decrypt(ctx, ciphertext, srcCtx, srcKeyRef)
	if err != nil {
		return nil, src, Key{}, err
	}
	defer clear(pt)
	dest, err = s.Resolve(ctx, destKeyRef)
	if err != nil {
		return nil, src, Key{}, err
	}
	if err := s.usable(dest); err != nil {
		return nil, src, dest, err
	}
	out, err = s.seal(ctx, dest, pt, destCtx)
	return out, src, dest, err
}

// GenerateRandom returns 1–1024 random bytes.
func GenerateRandom(n int) ([]byte, error) {
	if n < 1 || n > MaxRandomBytes {
		return nil, errs.Value(ErrInvalid, "numberOfBytes", fmt.Sprint(n), "must have value between 1 and %d", MaxRandomBytes)
	}
	b := make([]byte, n)
	_, err := rand.Read(b)
	return b, err
}

// SetEnabled enables or disables a key (not one pending deletion).
func (s *Service) SetEnabled(ctx context.Context, keyRef string, enabled bool) error {
	k, err := s.Resolve(ctx, keyRef)
	if err != nil {
		return err
	}
	return s.Store.UpdateKey(ctx, k.ID, func(k *Key) (*Material, error) {
		if k.State == StatePendingDeletion {
			return nil, errs.Errorf(ErrInvalidState, "%s is pending deletion.", s.ARN(k.ID))
		}
		k.State = StateDisabled
		if enabled {
			k.State = StateEnabled
		}
		return nil, nil
	})
}

// ScheduleDeletion puts a key in PendingDeletion for 7–30 days (default
// 30); it refuses every use until then, and CancelDeletion brings it back
// disabled.
func (s *Service) ScheduleDeletion(ctx context.Context, keyRef string, days int) (Key, error) {
	if days == 0 {
		days = 30
	}
	if days < 7 || days > 30 {
		return Key{}, errs.Value(ErrInvalid, "pendingWindowInDays", fmt.Sprint(days), "must have value between 7 and 30")
	}
	k, err := s.Resolve(ctx, keyRef)
	if err != nil {
		return Key{}, err
	}
	var out Key
	err = s.Store.UpdateKey(ctx, k.ID, func(k *Key) (*Material, error) {
		if k.State == StatePendingDeletion {
			return nil, errs.Errorf(ErrInvalidState, "%s is pending deletion.", s.ARN(k.ID))
		}
		if k.Manager == ManagerAWS {
			return nil, errs.Errorf(ErrInvalid, "%s is an AWS managed key, which cannot be deleted", s.ARN(k.ID))
		}
		k.State, k.DeletionDate = StatePendingDeletion, s.now().Add(time.Duration(days)*24*time.Hour)
		out = *k
		return nil, nil
	})
	return out, err
}

// DestroyDue destroys the keys whose pending deletion has ended: the key,
// its material and its aliases are gone, so what it encrypted can no
// longer be decrypted (Decrypt reports the key as not found), and it
// returns how many it destroyed.
func (s *Service) DestroyDue(ctx context.Context) (int, error) {
	ids, err := s.Store.DestroyKeys(ctx, s.now())
	if err != nil || len(ids) == 0 {
		return len(ids), err
	}
	s.mu.Lock()
	for _, id := range ids {
		delete(s.signers, id)
		for name := range s.aeads {
			if strings.HasPrefix(name, id+"/") {
				delete(s.aeads, name)
			}
		}
	}
	s.mu.Unlock()
	return len(ids), nil
}

// CancelDeletion ends a key's pending deletion; the key is Disabled.
func (s *Service) CancelDeletion(ctx context.Context, keyRef string) (Key, error) {
	k, err := s.Resolve(ctx, keyRef)
	if err != nil {
		return Key{}, err
	}
	var out Key
	err = s.Store.UpdateKey(ctx, k.ID, func(k *Key) (*Material, error) {
		if k.State != StatePendingDeletion {
			return nil, errs.Errorf(ErrInvalidState, "%s is not pending deletion.", s.ARN(k.ID))
		}
		k.State, k.DeletionDate = StateDisabled, time.Time{}
		out = *k
		return nil, nil
	})
	return out, err
}

// Rotate gives a key new material for new encryptions; every older
// material version keeps decrypting what it encrypted.
func (s *Service) Rotate(ctx context.Context, keyRef string) (Key, error) {
	k, err := s.Resolve(ctx, keyRef)
	if err != nil {
		return Key{}, err
	}
	var out Key
	if k.Asymmetric() {
		return Key{}, s.errNotRotatable(k)
	}
	err = s.Store.UpdateKey(ctx, k.ID, func(k *Key) (*Material, error) {
		if k.State != StateEnabled {
			return nil, errs.Errorf(ErrInvalidState, "%s is %s; only an enabled key can be rotated.", s.ARN(k.ID), k.State)
		}
		m, err := s.newMaterial(k.ID, k.Material+1)
		if err != nil {
			return nil, err
		}
		k.Material = m.Version
		if k.RotationEnabled {
			k.NextRotation = m.CreatedAt.Add(time.Duration(k.RotationDays) * 24 * time.Hour)
		}
		out = *k
		return &m, nil
	})
	return out, err
}

// SetRotation turns automatic rotation on (every 90–2560 days, default
// 365) or off.
func (s *Service) SetRotation(ctx context.Context, keyRef string, enabled bool, days int) error {
	if days == 0 {
		days = 365
	}
	if days < 90 || days > 2560 {
		return errs.Value(ErrInvalid, "rotationPeriodInDays", fmt.Sprint(days), "must have value between 90 and 2560")
	}
	k, err := s.Resolve(ctx, keyRef)
	if err != nil {
		return err
	}
	if k.Asymmetric() {
		return s.errNotRotatable(k)
	}
	return s.Store.UpdateKey(ctx, k.ID, func(k *Key) (*Material, error) {
		if k.State != StateEnabled {
			return nil, errs.Errorf(ErrInvalidState, "%s is %s.", s.ARN(k.ID), k.State)
		}
		k.RotationEnabled, k.RotationDays = enabled, days
		k.NextRotation = time.Time{}
		if enabled {
			k.NextRotation = s.now().Add(time.Duration(days) * 24 * time.Hour)
		}
		return nil, nil
	})
}

// SetPolicy replaces a key's policy (JSON, already validated by the
// caller against the policy grammar).
func (s *Service) SetPolicy(ctx context.Context, keyRef, doc string) error {
	if len(doc) > 32768 {
		return errs.Field(ErrInvalid, "policy", "must have length less than or equal to 32768")
	}
	k, err := s.Resolve(ctx, keyRef)
	if err != nil {
		return err
	}
	return s.Store.UpdateKey(ctx, k.ID, func(k *Key) (*Material, error) {
		if k.State == StatePendingDeletion {
			return nil, errs.Errorf(ErrInvalidState, "%s is pending deletion.", s.ARN(k.ID))
		}
		k.Policy = doc
		return nil, nil
	})
}

// aliasName checks an alias name: alias/ and 1–250 letters, digits, /_-,
// not in the reserved alias/aws/ space unless aws is set.
func aliasName(name string, aws bool) error {
	rest, ok := strings.CutPrefix(name, "alias/")
	if !ok || rest == "" || len(name) > 256 || strings.Trim(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-") != "" {
		return errs.Errorf(ErrInvalid, "Alias %q must begin with alias/ followed by letters, digits, '/', '_' or '-' (at most 256 characters in all)", name)
	}
	if strings.HasPrefix(name, "alias/aws/") && !aws {
		return errs.Errorf(ErrInvalidAlias, "Alias must not begin with alias/aws/: that prefix is reserved for AWS managed keys")
	}
	return nil
}

// CreateAlias names a key (a customer key: aliases of AWS managed keys
// are made by the services).
func (s *Service) CreateAlias(ctx context.Context, name, keyRef string) error {
	if err := aliasName(name, false); err != nil {
		return err
	}
	k, err := s.Resolve(ctx, keyRef)
	if err != nil {
		return err
	}
	if strings.HasPrefix(keyRef, "alias/") || strings.Contains(keyRef, ":alias/") {
		return errs.Errorf(ErrInvalid, "Aliases must refer to keys. Not aliases")
	}
	now := s.now()
	err = s.Store.PutAlias(ctx, Alias{Name: name, KeyID: k.ID, CreatedAt: now, UpdatedAt: now}, false)
	if errors.Is(err, ErrAlreadyExists) {
		return errs.Errorf(ErrAlreadyExists, "An alias with the name %s already exists", s.AliasARN(name))
	}
	return err
}

// UpdateAlias points an alias at another key.
func (s *Service) UpdateAlias(ctx context.Context, name, keyRef string) error {
	if err := aliasName(name, false); err != nil {
		return err
	}
	old, err := s.Store.Alias(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return errs.Errorf(ErrNotFound, "Alias %s is not found.", s.AliasARN(name))
	}
	if err != nil {
		return err
	}
	k, err := s.Resolve(ctx, keyRef)
	if err != nil {
		return err
	}
	return s.Store.PutAlias(ctx, Alias{Name: name, KeyID: k.ID, CreatedAt: old.CreatedAt, UpdatedAt: s.now()}, true)
}

// DeleteAlias removes an alias (the key stays).
func (s *Service) DeleteAlias(ctx context.Context, name string) error {
	if err := aliasName(name, false); err != nil {
		return err
	}
	err := s.Store.DeleteAlias(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return errs.Errorf(ErrNotFound, "Alias %s is not found.", s.AliasARN(name))
	}
	return err
}

// ServiceKey returns the AWS managed key a service encrypts with by
// default (alias/aws/ssm, alias/aws/secretsmanager), creating it on first
// use.
func (s *Service) ServiceKey(ctx context.Context, alias, description string) (Key, error) {
	if err := aliasName(alias, true); err != nil {
		return Key{}, err
	}
	k, err := s.Resolve(ctx, alias)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return k, err
	}
	service := strings.TrimPrefix(alias, "alias/aws/")
	k, err = s.CreateKey(ctx, CreateKeyInput{Description: description, Manager: ManagerAWS, Policy: s.managedPolicy(service)})
	if err != nil {
		return Key{}, err
	}
	now := s.now()
	err = s.Store.PutAlias(ctx, Alias{Name: alias, KeyID: k.ID, CreatedAt: now, UpdatedAt: now}, false)
	if errors.Is(err, ErrAlreadyExists) {
		// Another request made it first: use that one (this key stays
		// unused).
		return s.Resolve(ctx, alias)
	}
	return k, err
}
