// Package secrets is Signet's Secrets Manager, the domain of its AWS
// Secrets Manager API: secrets whose versions carry staging labels
// (AWSCURRENT, AWSPENDING, AWSPREVIOUS), scheduled deletion with a
// recovery window, resource policies, tags, and rotation by a function
// through Lambda's four steps (rotation.go).
//
// A version's value is encrypted before it is stored, by envelope as AWS
// does: a data key from the secret's KMS key, with the encryption context
// SecretARN and SecretVersionId, encrypts it with AES-256-GCM, and only
// the encrypted data key is kept with the ciphertext. Reading it in clear
// needs kms:Decrypt on that key as well as secretsmanager:GetSecretValue.
package secrets

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/kms"
	"github.com/signet/signet/internal/policy"
)

// Error kinds; the API maps each to AWS's code.
var (
	ErrNotFound         = errors.New("not found")          // ResourceNotFoundException
	ErrExists           = errors.New("exists")             // ResourceExistsException
	ErrInvalidParameter = errors.New("invalid parameter")  // InvalidParameterException
	ErrInvalidRequest   = errors.New("invalid request")    // InvalidRequestException
	ErrLimit            = errors.New("limit exceeded")     // LimitExceededException
	ErrDecryption       = errors.New("decryption failure") // DecryptionFailure
	ErrEncryption       = errors.New("encryption failure") // EncryptionFailure
	ErrPolicy           = errors.New("malformed policy")   // MalformedPolicyDocumentException
)

// Staging labels and limits.
const (
	StageCurrent  = "AWSCURRENT"
	StagePending  = "AWSPENDING"
	StagePrevious = "AWSPREVIOUS"
	// DefaultKeyAlias is the AWS managed key secrets use by default.
	DefaultKeyAlias = "alias/aws/secretsmanager"
	// MaxValue is the largest SecretString or SecretBinary.
	MaxValue = 65536
	// MaxVersions is how many versions a secret keeps; the oldest
	// versions without a label go first.
	MaxVersions = 100
	// MaxStagesPerVersion bounds a version's labels.
	MaxStagesPerVersion = 20
)

// Version is one version of a secret.
type Version struct {
	ID     string
	Stages []string
	// Value is the envelope of the value (see seal); nil for the version
	// a rotation starts (AWSPENDING), which its function's createSecret
	// step fills with PutSecretValue, as on AWS.
	Value     []byte
	Binary    bool
	CreatedAt time.Time
}

// Tag is a secret's tag.
type Tag struct{ Key, Value string }

// Secret is a secret with its versions.
type Secret struct {
	ARN, Name, Description string
	// KeyID is the ARN of the KMS key new versions are encrypted under;
	// CustomerKey says whether the caller chose it (DescribeSecret shows
	// KmsKeyId only then, as AWS does).
	KeyID        string
	CustomerKey  bool
	CreatedAt    time.Time
	ChangedAt    time.Time
	AccessedAt   time.Time // day of the last GetSecretValue
	DeletionDate time.Time // zero unless scheduled for deletion
	DeletedAt    time.Time // when DeleteSecret scheduled it
	Tags         []Tag
	Policy       string
	Rotation     Rotation
	Versions     []Version
}

// Version returns the version with an id or, when id is "", the one with
// a stage.
func (s *Secret) Version(id, stage string) *Version {
	for i := range s.Versions {
		v := &s.Versions[i]
		if id != "" && v.ID == id || id == "" && slices.Contains(v.Stages, stage) {
			return v
		}
	}
	return nil
}

// Deleted reports whether the secret is scheduled for deletion.
func (s *Secret) Deleted() bool { return !s.DeletionDate.IsZero() }

// DueAt is when the secret next needs the background worker: to purge
// it, to run or resume a rotation step, or to start a scheduled
// rotation. Zero means never.
func (s *Secret) DueAt() time.Time {
	switch {
	case s.Deleted():
		return s.DeletionDate
	case s.Rotation.Step != "":
		return s.Rotation.NextAttempt
	case s.Rotation.Enabled && s.Rotation.LambdaARN != "":
		return s.Rotation.Next
	}
	return time.Time{}
}

// Store persists secrets.
type Store interface {
	// CreateSecret stores a new secret, or returns ErrExists when its
	// name is taken.
	CreateSecret(ctx context.Context, s Secret) error
	// Secret returns the secret with an ARN or a name, or ErrNotFound.
	Secret(ctx context.Context, arnOrName string) (Secret, error)
	// UpdateSecret changes a secret in one transaction.
	UpdateSecret(ctx context.Context, arn string, update func(*Secret) error) (Secret, error)
	// ListSecrets returns every secret, in name order.
	ListSecrets(ctx context.Context) ([]Secret, error)
	// DeleteSecret removes a secret and its versions.
	DeleteSecret(ctx context.Context, arn string) error
	// DueSecrets returns the ARNs of the secrets due at now (see DueAt).
	DueSecrets(ctx context.Context, now time.Time) ([]string, error)
}

// Service is the Secrets Manager of one account.
type Service struct {
	Store   Store
	Keys    *kms.Service
	Account arn.Account
	Now     func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// notFound is AWS's error for an unknown secret.
func notFound() error {
	return errs.Errorf(ErrNotFound, "Secrets Manager can't find the specified secret.")
}

// markedDeleted is AWS's error for using a secret scheduled for deletion.
func markedDeleted(string) error {
	return errs.Errorf(ErrInvalidRequest, "You can't perform this operation on the secret because it was marked for deletion.")
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9/_+=.@-]{1,512}$`)

// ValidateName checks a secret name as AWS does.
func ValidateName(name string) error {
	if name == "" {
		return errs.Null(ErrInvalidParameter, "name")
	}
	if !nameRE.MatchString(name) {
		return errs.Errorf(ErrInvalidParameter, "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	return nil
}

const suffixChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newARN is a secret's ARN: its name and six random characters, so that
// a secret created later under the same name has another ARN.
func (s *Service) newARN(name string) (string, error) {
	b := make([]byte, 6)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(suffixChars))))
		if err != nil {
			return "", err
		}
		b[i] = suffixChars[n.Int64()]
	}
	return fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-%s", s.Account.Partition, s.Account.Region, s.Account.ID, name, b), nil
}

// ARNPattern is the ARN a name authorizes against before the secret is
// found (CreateSecret): the name and any suffix.
func (s *Service) ARNPattern(name string) string {
	return fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-??????", s.Account.Partition, s.Account.Region, s.Account.ID, name)
}

// Find returns a secret by name, ARN or partial ARN (without the six
// characters AWS appends), scheduled for deletion or not.
func (s *Service) Find(ctx context.Context, ref string) (Secret, error) {
	if ref == "" {
		return Secret{}, errs.Null(ErrInvalidParameter, "secretId")
	}
	sec, err := s.Store.Secret(ctx, ref)
	if errors.Is(err, ErrNotFound) && strings.HasPrefix(ref, "arn:") {
		// A partial ARN names the secret without its suffix.
		prefix := fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:", s.Account.Partition, s.Account.Region, s.Account.ID)
		if name, ok := strings.CutPrefix(ref, prefix); ok {
			sec, err = s.Store.Secret(ctx, name)
		}
	}
	if errors.Is(err, ErrNotFound) {
		return Secret{}, notFound()
	}
	return sec, err
}

// Value is a secret value: a string or bytes.
type Value struct {
	String *string
	Binary []byte
}

func (v Value) empty() bool { return v.String == nil && v.Binary == nil }

func (v Value) check() error {
	switch {
	case v.String != nil && v.Binary != nil:
		return errs.Errorf(ErrInvalidParameter, "You can't specify both a binary secret value and a string secret value in the same secret.")
	case v.String != nil && len(*v.String) > MaxValue, len(v.Binary) > MaxValue:
		return errs.Errorf(ErrInvalidParameter, "The secret value is larger than the maximum size of %d bytes.", MaxValue)
	case v.Binary != nil && len(v.Binary) == 0:
		return errs.Field(ErrInvalidParameter, "secretBinary", "must have length greater than or equal to 1")
	}
	return nil
}

func (v Value) bytes() []byte {
	if v.String != nil {
		return []byte(*v.String)
	}
	return v.Binary
}

// CreateInput is CreateSecret's request.
type CreateInput struct {
	Name, Description, KeyID string
	Value                    Value
	Token                    string
	Tags                     []Tag
}

// checkToken checks a ClientRequestToken (a version id).
func checkToken(token string) error {
	if len(token) < 32 || len(token) > 64 {
		return errs.Field(ErrInvalidParameter, "clientRequestToken", "must have length between 32 and 64")
	}
	return nil
}

// DefaultKey returns the ARN of the key secrets use when none is given,
// creating the AWS managed key on first use.
func (s *Service) DefaultKey(ctx context.Context) (string, error) {
	k, err := s.Keys.ServiceKey(ctx, DefaultKeyAlias, "Default key that protects my Secrets Manager data when no other key is defined")
	if err != nil {
		return "", err
	}
	return s.Keys.ARN(k.ID), nil
}

// KeyARN resolves a KmsKeyId (id, ARN, alias or alias ARN) to the key's
// ARN.
func (s *Service) KeyARN(ctx context.Context, ref string) (string, error) {
	if ref == "" {
		return s.DefaultKey(ctx)
	}
	k, err := s.Keys.Resolve(ctx, ref)
	if err != nil {
		return "", errs.Errorf(ErrInvalidParameter, "The KMS key %s is not usable: %v", ref, err)
	}
	return s.Keys.ARN(k.ID), nil
}

// Create creates a secret, with a first version labeled AWSCURRENT when a
// value is given. in.KeyID must be resolved (KeyARN) by the caller, which
// has authorized its use.
func (s *Service) Create(ctx context.Context, in CreateInput) (Secret, string, error) {
	if err := ValidateName(in.Name); err != nil {
		return Secret{}, "", err
	}
	if err := in.Value.check(); err != nil {
		return Secret{}, "", err
	}
	if len(in.Description) > 2048 {
		return Secret{}, "", errs.Field(ErrInvalidParameter, "description", "must have length less than or equal to 2048")
	}
	if err := checkTags(in.Tags); err != nil {
		return Secret{}, "", err
	}
	if existing, err := s.Store.Secret(ctx, in.Name); err == nil {
		if existing.Deleted() {
			return Secret{}, "", errs.Errorf(ErrInvalidRequest, "You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		return Secret{}, "", errs.Errorf(ErrExists, "The operation failed because the secret %s already exists.", in.Name)
	}
	a, err := s.newARN(in.Name)
	if err != nil {
		return Secret{}, "", err
	}
	now := s.now()
	sec := Secret{ARN: a, Name: in.Name, Description: in.Description, KeyID: in.KeyID, CustomerKey: in.KeyID != "",
		CreatedAt: now, ChangedAt: now, Tags: in.Tags}
	if sec.KeyID == "" {
		if sec.KeyID, err = s.DefaultKey(ctx); err != nil {
			return Secret{}, "", err
		}
	}
	var versionID string
	if !in.Value.empty() {
		v, err := s.newVersion(ctx, &sec, in.Token, in.Value)
		if err != nil {
			return Secret{}, "", err
		}
		v.Stages = []string{StageCurrent}
		sec.Versions = []Version{v}
		versionID = v.ID
	}
	if err := s.Store.CreateSecret(ctx, sec); err != nil {
		if errors.Is(err, ErrExists) {
			return Secret{}, "", errs.Errorf(ErrExists, "The operation failed because the secret %s already exists.", in.Name)
		}
		return Secret{}, "", err
	}
	return sec, versionID, nil
}

// newVersion seals a value as a new version of sec (no stages yet).
func (s *Service) newVersion(ctx context.Context, sec *Secret, token string, val Value) (Version, error) {
	if token == "" {
		token = uuid.NewString()
	} else if err := checkToken(token); err != nil {
		return Version{}, err
	}
	env, err := s.seal(ctx, sec, token, val.bytes())
	if err != nil {
		return Version{}, err
	}
	return Version{ID: token, Value: env, Binary: val.Binary != nil, CreatedAt: s.now()}, nil
}

// encryptionContext is the context a version's data key is encrypted
// under, as AWS's.
func encryptionContext(secretARN, versionID string) map[string]string {
	return map[string]string{"SecretARN": secretARN, "SecretVersionId": versionID}
}

// seal encrypts a value by envelope (kms.SealEnvelope) under the
// secret's key, with the secret ARN and version id as additional data.
func (s *Service) seal(ctx context.Context, sec *Secret, versionID string, value []byte) ([]byte, error) {
	env, _, err := s.Keys.SealEnvelope(ctx, sec.KeyID, encryptionContext(sec.ARN, versionID), value, []byte(sec.ARN+"\x00"+versionID))
	if err != nil {
		return nil, errs.Errorf(ErrEncryption, "Secrets Manager can't encrypt the secret value with the KMS key %s: %v", sec.KeyID, err)
	}
	return env, nil
}

// KeyOf returns the ARN of the KMS key a version's value is encrypted
// under (the caller needs kms:Decrypt on it to read the value).
func (s *Service) KeyOf(sec Secret, v Version) (string, error) {
	blob, err := kms.EnvelopeDataKey(v.Value)
	if err != nil {
		return "", errs.Errorf(ErrDecryption, "The secret value's envelope is malformed.")
	}
	keyARN, err := s.Keys.KeyOfCiphertext(blob)
	if err != nil {
		return "", errs.Errorf(ErrDecryption, "Secrets Manager can't decrypt the protected secret text using the provided KMS key.")
	}
	return keyARN, nil
}

// Open decrypts a version's value.
func (s *Service) Open(ctx context.Context, sec Secret, v Version) ([]byte, error) {
	out, err := s.Keys.OpenEnvelope(ctx, v.Value, encryptionContext(sec.ARN, v.ID), []byte(sec.ARN+"\x00"+v.ID))
	switch {
	case errors.Is(err, kms.ErrMalformedEnvelope):
		return nil, errs.Errorf(ErrDecryption, "The secret value's envelope is malformed.")
	case errors.Is(err, kms.ErrEnvelopeChanged):
		return nil, errs.Errorf(ErrDecryption, "Secrets Manager can't decrypt the protected secret text: the ciphertext was changed.")
	case err != nil:
		return nil, errs.Errorf(ErrDecryption, "Secrets Manager can't decrypt the protected secret text using the provided KMS key: %v", err)
	}
	return out, nil
}

// Select returns the version GetSecretValue reads: by id, by stage, or
// AWSCURRENT.
func (s *Service) Select(sec Secret, versionID, stage string) (Version, error) {
	if sec.Deleted() {
		return Version{}, markedDeleted("GetSecretValue")
	}
	if versionID != "" {
		v := sec.Version(versionID, "")
		if v == nil || v.Value == nil {
			return Version{}, errs.Errorf(ErrNotFound, "Secrets Manager can't find the specified secret value for VersionId: %s", versionID)
		}
		if stage != "" && !slices.Contains(v.Stages, stage) {
			return Version{}, errs.Errorf(ErrInvalidRequest, "You provided a VersionStage that is not associated to the provided VersionId.")
		}
		return *v, nil
	}
	if stage == "" {
		stage = StageCurrent
	}
	v := sec.Version("", stage)
	if v == nil || v.Value == nil {
		return Version{}, errs.Errorf(ErrNotFound, "Secrets Manager can't find the specified secret value for staging label: %s", stage)
	}
	return *v, nil
}

// Accessed records the day of a read.
func (s *Service) Accessed(ctx context.Context, sec Secret) {
	day := s.now().Truncate(24 * time.Hour)
	if sec.AccessedAt.Equal(day) {
		return
	}
	s.Store.UpdateSecret(ctx, sec.ARN, func(x *Secret) error {
		x.AccessedAt = day
		return nil
	})
}

// PutInput is PutSecretValue's request.
type PutInput struct {
	SecretID string
	Token    string
	Value    Value
	Stages   []string // default [AWSCURRENT]
}

// Put stores a new version of a secret's value. A token already used
// with the same value returns that version (the request is idempotent);
// with another value it is refused.
func (s *Service) Put(ctx context.Context, in PutInput) (Secret, Version, error) {
	if in.Value.empty() {
		return Secret{}, Version{}, errs.Errorf(ErrInvalidParameter, "You must provide either SecretString or SecretBinary.")
	}
	if err := in.Value.check(); err != nil {
		return Secret{}, Version{}, err
	}
	if in.Stages == nil {
		in.Stages = []string{StageCurrent}
	}
	if err := checkStages(in.Stages); err != nil {
		return Secret{}, Version{}, err
	}
	sec, err := s.Find(ctx, in.SecretID)
	if err != nil {
		return Secret{}, Version{}, err
	}
	if sec.Deleted() {
		return Secret{}, Version{}, markedDeleted("PutSecretValue")
	}
	if in.Token != "" {
		if v := sec.Version(in.Token, ""); v != nil && v.Value != nil {
			return s.samePut(ctx, sec, *v, in)
		}
	}
	nv, err := s.newVersion(ctx, &sec, in.Token, in.Value)
	if err != nil {
		return Secret{}, Version{}, err
	}
	var out Version
	sec, err = s.Store.UpdateSecret(ctx, sec.ARN, func(x *Secret) error {
		switch v := x.Version(nv.ID, ""); {
		case v == nil:
			x.Versions = append(x.Versions, nv)
		case v.Value == nil:
			// The version a rotation started gets its value.
			v.Value, v.Binary, v.CreatedAt = nv.Value, nv.Binary, nv.CreatedAt
		default:
			return errs.Errorf(ErrExists, "You can't use ClientRequestToken %s because that value is already in use for a version of secret %s.", nv.ID, x.ARN)
		}
		for _, st := range in.Stages {
			moveStage(x, st, nv.ID)
		}
		prune(x)
		x.ChangedAt = s.now()
		out = *x.Version(nv.ID, "")
		return nil
	})
	return sec, out, err
}

// samePut answers a PutSecretValue whose token names an existing
// version: the same value is the same request.
func (s *Service) samePut(ctx context.Context, sec Secret, v Version, in PutInput) (Secret, Version, error) {
	old, err := s.Open(ctx, sec, v)
	if err != nil {
		return Secret{}, Version{}, err
	}
	defer clear(old)
	if string(old) != string(in.Value.bytes()) || v.Binary != (in.Value.Binary != nil) {
		return Secret{}, Version{}, errs.Errorf(ErrExists, "You can't use ClientRequestToken %s because that value is already in use for a version of secret %s.", v.ID, sec.ARN)
	}
	return sec, v, nil
}

func checkStages(stages []string) error {
	if len(stages) < 1 || len(stages) > MaxStagesPerVersion {
		return errs.Field(ErrInvalidParameter, "versionStages", "must have between 1 and %d labels", MaxStagesPerVersion)
	}
	for _, st := range stages {
		if st == "" || len(st) > 256 {
			return errs.Value(ErrInvalidParameter, "versionStages", st, "each label must have length between 1 and 256")
		}
	}
	return nil
}

// moveStage attaches a label to a version, taking it off any other; a
// version losing AWSCURRENT gets AWSPREVIOUS, as AWS does.
func moveStage(sec *Secret, stage, to string) {
	var from string
	for i := range sec.Versions {
		v := &sec.Versions[i]
		if v.ID != to && slices.Contains(v.Stages, stage) {
			v.Stages = slices.DeleteFunc(v.Stages, func(s string) bool { return s == stage })
			from = v.ID
		}
	}
	if v := sec.Version(to, ""); v != nil && !slices.Contains(v.Stages, stage) {
		v.Stages = append(v.Stages, stage)
	}
	if stage == StageCurrent && from != "" {
		moveStage(sec, StagePrevious, from)
	}
}

// prune drops the oldest versions without labels beyond MaxVersions.
func prune(sec *Secret) {
	for len(sec.Versions) > MaxVersions {
		i := slices.IndexFunc(sec.Versions, func(v Version) bool { return len(v.Stages) == 0 })
		if i < 0 {
			return
		}
		sec.Versions = slices.Delete(sec.Versions, i, i+1)
	}
}

// UpdateInput is UpdateSecret's request.
type UpdateInput struct {
	SecretID    string
	Description *string
	KeyID       string // resolved key ARN, "" to keep
	Value       Value
	Token       string
}

// Update changes a secret's description or key, and stores a new
// AWSCURRENT version when a value is given.
func (s *Service) Update(ctx context.Context, in UpdateInput) (Secret, string, error) {
	if err := in.Value.check(); err != nil {
		return Secret{}, "", err
	}
	if in.Description != nil && len(*in.Description) > 2048 {
		return Secret{}, "", errs.Field(ErrInvalidParameter, "description", "must have length less than or equal to 2048")
	}
	sec, err := s.Find(ctx, in.SecretID)
	if err != nil {
		return Secret{}, "", err
	}
	if sec.Deleted() {
		return Secret{}, "", markedDeleted("UpdateSecret")
	}
	sec, err = s.Store.UpdateSecret(ctx, sec.ARN, func(x *Secret) error {
		if in.Description != nil {
			x.Description = *in.Description
		}
		if in.KeyID != "" {
			x.KeyID, x.CustomerKey = in.KeyID, true
		}
		x.ChangedAt = s.now()
		return nil
	})
	if err != nil || in.Value.empty() {
		return sec, "", err
	}
	sec, v, err := s.Put(ctx, PutInput{SecretID: sec.ARN, Token: in.Token, Value: in.Value})
	return sec, v.ID, err
}

// UpdateStage moves a staging label: onto moveTo (when set), off
// removeFrom (when set). Moving a label a version holds needs that
// version named in removeFrom, as AWS requires.
func (s *Service) UpdateStage(ctx context.Context, secretID, stage, moveTo, removeFrom string) (Secret, error) {
	if stage == "" || len(stage) > 256 {
		return Secret{}, errs.Field(ErrInvalidParameter, "versionStage", "must have length between 1 and 256")
	}
	sec, err := s.Find(ctx, secretID)
	if err != nil {
		return Secret{}, err
	}
	if sec.Deleted() {
		return Secret{}, markedDeleted("UpdateSecretVersionStage")
	}
	return s.Store.UpdateSecret(ctx, sec.ARN, func(x *Secret) error {
		holder := x.Version("", stage)
		if moveTo != "" && x.Version(moveTo, "") == nil {
			return errs.Errorf(ErrInvalidParameter, "The version %s does not exist for secret %s.", moveTo, x.Name)
		}
		if removeFrom != "" {
			v := x.Version(removeFrom, "")
			if v == nil || !slices.Contains(v.Stages, stage) {
				return errs.Errorf(ErrInvalidParameter, "The staging label %s is not attached to version %s, so you can't remove it.", stage, removeFrom)
			}
		}
		if moveTo != "" && holder != nil && holder.ID != moveTo && holder.ID != removeFrom {
			return errs.Errorf(ErrInvalidParameter, "The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", stage, holder.ID)
		}
		if moveTo == "" && removeFrom == "" {
			return errs.Errorf(ErrInvalidParameter, "You must specify MoveToVersionId, RemoveFromVersionId, or both.")
		}
		if moveTo == "" && stage == StageCurrent {
			return errs.Errorf(ErrInvalidParameter, "You can't remove the staging label AWSCURRENT from a version without moving it to another version.")
		}
		if moveTo != "" {
			if v := x.Version(moveTo, ""); !slices.Contains(v.Stages, stage) && len(v.Stages) >= MaxStagesPerVersion {
				return errs.Errorf(ErrLimit, "A version can have at most %d staging labels.", MaxStagesPerVersion)
			}
			moveStage(x, stage, moveTo)
		} else {
			v := x.Version(removeFrom, "")
			v.Stages = slices.DeleteFunc(v.Stages, func(s string) bool { return s == stage })
		}
		prune(x)
		x.ChangedAt = s.now()
		return nil
	})
}

// Delete schedules a secret for deletion after a recovery window (7–30
// days, default 30), or deletes it at once when force is set.
func (s *Service) Delete(ctx context.Context, secretID string, window int, force bool) (Secret, error) {
	switch {
	case force && window != 0:
		return Secret{}, errs.Errorf(ErrInvalidParameter, "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	case window == 0:
		window = 30
	case window < 7 || window > 30:
		return Secret{}, errs.Errorf(ErrInvalidParameter, "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
	}
	sec, err := s.Find(ctx, secretID)
	if err != nil {
		return Secret{}, err
	}
	if force {
		// A secret already scheduled goes at once too, as on AWS.
		sec.DeletionDate = s.now()
		return sec, s.Store.DeleteSecret(ctx, sec.ARN)
	}
	if sec.Deleted() {
		return Secret{}, errs.Errorf(ErrInvalidRequest, "You can't perform this operation on the secret because it was already scheduled for deletion.")
	}
	return s.Store.UpdateSecret(ctx, sec.ARN, func(x *Secret) error {
		now := s.now()
		x.DeletedAt, x.DeletionDate = now, now.Add(time.Duration(window)*24*time.Hour)
		return nil
	})
}

// Restore cancels a scheduled deletion.
func (s *Service) Restore(ctx context.Context, secretID string) (Secret, error) {
	sec, err := s.Find(ctx, secretID)
	if err != nil {
		return Secret{}, err
	}
	return s.Store.UpdateSecret(ctx, sec.ARN, func(x *Secret) error {
		x.DeletedAt, x.DeletionDate = time.Time{}, time.Time{}
		return nil
	})
}

func checkTags(tags []Tag) error {
	if len(tags) > 50 {
		return errs.Errorf(ErrInvalidParameter, "A secret can have at most 50 tags.")
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return errs.Value(ErrInvalidParameter, "tags", t.Key, "keys must have length between 1 and 128, values at most 256")
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return errs.Errorf(ErrInvalidParameter, "Tag keys can't begin with aws: (reserved for AWS use): %s", t.Key)
		}
	}
	return nil
}

// Tag adds or replaces tags.
func (s *Service) Tag(ctx context.Context, secretID string, tags []Tag) error {
	if err := checkTags(tags); err != nil {
		return err
	}
	sec, err := s.Find(ctx, secretID)
	if err != nil {
		return err
	}
	_, err = s.Store.UpdateSecret(ctx, sec.ARN, func(x *Secret) error {
		for _, t := range tags {
			i := slices.IndexFunc(x.Tags, func(e Tag) bool { return e.Key == t.Key })
			if i >= 0 {
				x.Tags[i] = t
			} else {
				x.Tags = append(x.Tags, t)
			}
		}
		return checkTags(x.Tags)
	})
	return err
}

// Untag removes tags by key.
func (s *Service) Untag(ctx context.Context, secretID string, keys []string) error {
	sec, err := s.Find(ctx, secretID)
	if err != nil {
		return err
	}
	_, err = s.Store.UpdateSecret(ctx, sec.ARN, func(x *Secret) error {
		x.Tags = slices.DeleteFunc(x.Tags, func(t Tag) bool { return slices.Contains(keys, t.Key) })
		return nil
	})
	return err
}

// SetPolicy replaces (or, with "", removes) a secret's resource policy.
func (s *Service) SetPolicy(ctx context.Context, secretID, doc string) (Secret, error) {
	if doc != "" {
		if len(doc) > 20480 {
			return Secret{}, errs.Errorf(ErrPolicy, "The resource policy is larger than 20480 characters.")
		}
		if _, err := policy.Parse([]byte(doc), policy.Resource); err != nil {
			return Secret{}, errs.Errorf(ErrPolicy, "This resource policy contains a syntax error: %v", err)
		}
	}
	sec, err := s.Find(ctx, secretID)
	if err != nil {
		return Secret{}, err
	}
	return s.Store.UpdateSecret(ctx, sec.ARN, func(x *Secret) error {
		x.Policy = doc
		return nil
	})
}

// Filter is one ListSecrets filter: values match by prefix, and a value
// starting with "!" excludes.
type Filter struct {
	Key    string
	Values []string
}

var filterKeys = []string{"description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"}

// List returns the secrets the filters select, in name order (reversed
// for "desc"), without those scheduled for deletion unless asked.
func (s *Service) List(ctx context.Context, filters []Filter, includeDeleted bool, order string) ([]Secret, error) {
	for _, f := range filters {
		if !slices.Contains(filterKeys, f.Key) {
			return nil, errs.Value(ErrInvalidParameter, "filters.key", f.Key, "must be one of %s", strings.Join(filterKeys, ", "))
		}
		if len(f.Values) < 1 || len(f.Values) > 10 {
			return nil, errs.Field(ErrInvalidParameter, "filters.values", "must have between 1 and 10 values")
		}
	}
	if order != "" && order != "asc" && order != "desc" {
		return nil, errs.Value(ErrInvalidParameter, "sortOrder", order, "must be asc or desc")
	}
	all, err := s.Store.ListSecrets(ctx)
	if err != nil {
		return nil, err
	}
	var out []Secret
	for _, sec := range all {
		if sec.Deleted() && !includeDeleted {
			continue
		}
		if matchesAll(sec, filters) {
			out = append(out, sec)
		}
	}
	if order == "desc" {
		sort.SliceStable(out, func(i, j int) bool { return out[i].Name > out[j].Name })
	}
	return out, nil
}

func matchesAll(sec Secret, filters []Filter) bool {
	for _, f := range filters {
		if !matches(sec, f) {
			return false
		}
	}
	return true
}

func matches(sec Secret, f Filter) bool {
	var fields []string
	switch f.Key {
	case "name":
		fields = []string{sec.Name}
	case "description":
		fields = []string{sec.Description}
	case "tag-key":
		for _, t := range sec.Tags {
			fields = append(fields, t.Key)
		}
	case "tag-value":
		for _, t := range sec.Tags {
			fields = append(fields, t.Value)
		}
	case "all":
		fields = []string{sec.Name, sec.Description}
		for _, t := range sec.Tags {
			fields = append(fields, t.Key, t.Value)
		}
	}
	any := false
	for _, v := range f.Values {
		neg := strings.HasPrefix(v, "!")
		v = strings.TrimPrefix(v, "!")
		hit := false
		for _, x := range fields {
			hit = hit || strings.HasPrefix(strings.ToLower(x), strings.ToLower(v))
		}
		if neg && hit {
			return false
		}
		any = any || (!neg && hit) || neg
	}
	return any
}

// PasswordInput is GetRandomPassword's request.
type PasswordInput struct {
	Length                                                                 int
	Exclude                                                                string
	ExcludeNumbers, ExcludePunctuation, ExcludeUppercase, ExcludeLowercase bool
	IncludeSpace                                                           bool
	RequireEachType                                                        *bool
}

// RandomPassword makes a password from the character classes asked for
// (by default it has one of each), with crypto/rand.
func RandomPassword(in PasswordInput) (string, error) {
	if in.Length == 0 {
		in.Length = 32
	}
	if in.Length < 1 || in.Length > 4096 {
		return "", errs.Errorf(ErrInvalidParameter, "The password length must be between 1 and 4096.")
	}
	require := in.RequireEachType == nil || *in.RequireEachType
	var classes []string
	add := func(skip bool, chars string) {
		if skip {
			return
		}
		var kept []rune
		for _, c := range chars {
			if !strings.ContainsRune(in.Exclude, c) {
				kept = append(kept, c)
			}
		}
		if len(kept) > 0 {
			classes = append(classes, string(kept))
		}
	}
	add(in.ExcludeLowercase, "abcdefghijklmnopqrstuvwxyz")
	add(in.ExcludeUppercase, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
	add(in.ExcludeNumbers, "0123456789")
	add(in.ExcludePunctuation, "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
	add(!in.IncludeSpace, " ")
	if len(classes) == 0 {
		return "", errs.Errorf(ErrInvalidParameter, "The request excludes every character, so no password can be generated.")
	}
	if require && in.Length < len(classes) {
		return "", errs.Errorf(ErrInvalidParameter, "The password length %d is too short to include a character of each of the %d included types.", in.Length, len(classes))
	}
	pool := strings.Join(classes, "")
	pick := func(chars string) (rune, error) {
		r := []rune(chars)
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(r))))
		if err != nil {
			return 0, err
		}
		return r[n.Int64()], nil
	}
	out := make([]rune, 0, in.Length)
	if require {
		for _, c := range classes {
			r, err := pick(c)
			if err != nil {
				return "", err
			}
			out = append(out, r)
		}
	}
	for len(out) < in.Length {
		r, err := pick(pool)
		if err != nil {
			return "", err
		}
		out = append(out, r)
	}
	// Shuffle so the required characters are not first.
	for i := len(out) - 1; i > 0; i-- {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", err
		}
		j := n.Int64()
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}
