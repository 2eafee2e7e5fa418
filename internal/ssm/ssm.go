// Package ssm is Signet's Parameter Store, the domain of its AWS Systems
// Manager API subset: parameters (String, StringList, SecureString) with
// versions, labels, tiers and allowed patterns. A SecureString's value is
// encrypted before it is stored, by envelope: a data key from the
// parameter's KMS key (encryption context PARAMETER_ARN = the parameter's
// ARN) encrypts it with AES-256-GCM, and only the encrypted data key is
// kept with the ciphertext. Reading it in clear needs kms:Decrypt on that
// key as well as ssm:GetParameter on the parameter.
package ssm

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/kms"
)

// Error kinds; the API maps each to AWS's code.
var (
	ErrNotFound       = errors.New("parameter not found")         // ParameterNotFound
	ErrVersionMissing = errors.New("parameter version not found") // ParameterVersionNotFound
	ErrExists         = errors.New("parameter exists")            // ParameterAlreadyExists
	ErrInvalid        = errors.New("invalid")                     // ValidationException
	ErrPattern        = errors.New("pattern mismatch")            // ParameterPatternMismatchException
	ErrBadPattern     = errors.New("invalid allowed pattern")     // InvalidAllowedPatternException
	ErrTooLarge       = errors.New("value too large")             // ValidationException (AWS words it so)
	ErrKeyID          = errors.New("invalid key id")              // InvalidKeyId
	ErrVersionLimit   = errors.New("version limit")               // ParameterMaxVersionLimitExceeded
	ErrLabel          = errors.New("invalid label")               // ParameterVersionLabelLimitExceeded / ValidationException
)

// Types and tiers.
const (
	TypeString       = "String"
	TypeStringList   = "StringList"
	TypeSecureString = "SecureString"
	TierStandard     = "Standard"
	TierAdvanced     = "Advanced"
	// DefaultKeyAlias is the AWS managed key SecureStrings use by default.
	DefaultKeyAlias = "alias/aws/ssm"
	// MaxVersions is how many versions a parameter keeps.
	MaxVersions = 100
)

// Parameter is one version of a parameter.
type Parameter struct {
	Name           string
	Version        int64
	Type           string
	KeyID          string // the key ARN, for a SecureString
	Value          []byte // clear for String/StringList; the envelope for SecureString
	Description    string
	AllowedPattern string
	Tier           string
	DataType       string
	Labels         []string
	ModifiedAt     time.Time
	ModifiedBy     string
}

// Store persists parameter versions.
type Store interface {
	// PutParameterVersion stores p as the next version of its name (p.Version
	// is set by the store: 1 for a new name), refusing with ErrExists when
	// the name exists and overwrite is false, and dropping the oldest
	// version beyond MaxVersions (ErrVersionLimit when it has a label).
	PutParameterVersion(ctx context.Context, p *Parameter, overwrite bool) error
	// ParameterVersions returns a name's versions, oldest first, or ErrNotFound.
	ParameterVersions(ctx context.Context, name string) ([]Parameter, error)
	// LatestParameters returns the latest version of every name with the
	// prefix, in name order, after after, at most limit.
	LatestParameters(ctx context.Context, prefix, after string, limit int) ([]Parameter, error)
	// DeleteParameter removes every version of a name, or ErrNotFound.
	DeleteParameter(ctx context.Context, name string) error
	// SetLabels replaces the labels of one version, moving them off any
	// other version of the name.
	SetLabels(ctx context.Context, name string, version int64, labels []string) error
}

// Service is the Parameter Store of one account.
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

// ARN is a parameter's ARN: arn:…:parameter/NAME (the name's leading "/"
// is not doubled).
func (s *Service) ARN(name string) string {
	return fmt.Sprintf("arn:%s:ssm:%s:%s:parameter/%s", s.Account.Partition, s.Account.Region, s.Account.ID, strings.TrimPrefix(name, "/"))
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_.\-/]+$`)

// ValidateName checks a parameter name as AWS does.
func ValidateName(name string) error {
	switch {
	case name == "":
		return errs.Null(ErrInvalid, "name")
	case len(name) > 2048 || !nameRE.MatchString(name):
		return errs.Value(ErrInvalid, "name", name, "must contain only letters, digits, '_', '.', '-' and '/', at most 2048 characters")
	case strings.HasPrefix(strings.ToLower(strings.TrimPrefix(name, "/")), "aws") || strings.HasPrefix(strings.ToLower(strings.TrimPrefix(name, "/")), "ssm"):
		return errs.Errorf(ErrInvalid, "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive).")
	case strings.Count(name, "/") > 15:
		return errs.Errorf(ErrInvalid, "Parameter name %s has more than 15 levels of hierarchy", name)
	case strings.Contains(name, "/") && !strings.HasPrefix(name, "/"):
		return errs.Errorf(ErrInvalid, "Parameter name must be a fully qualified name: a hierarchical name begins with /")
	}
	return nil
}

// PutInput is PutParameter's request.
type PutInput struct {
	Name, Type, Value, KeyID, Description, AllowedPattern, Tier, DataType string
	Overwrite                                                             bool
	By                                                                    string // the caller's ARN
}

// Put stores a new version of a parameter and returns its version and
// tier.
func (s *Service) Put(ctx context.Context, in PutInput) (int64, string, error) {
	if err := ValidateName(in.Name); err != nil {
		return 0, "", err
	}
	var prev *Parameter
	versions, err := s.Store.ParameterVersions(ctx, in.Name)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return 0, "", err
	default:
		prev = &versions[len(versions)-1]
	}
	if in.Type == "" && prev != nil {
		in.Type = prev.Type
	}
	switch in.Type {
	case TypeString, TypeStringList, TypeSecureString:
	case "":
		return 0, "", errs.Errorf(ErrInvalid, "A parameter type is required when you create a parameter.")
	default:
		return 0, "", errs.Value(ErrInvalid, "type", in.Type, "must satisfy enum value set: [SecureString, StringList, String]")
	}
	if prev != nil && !in.Overwrite {
		return 0, "", errs.Errorf(ErrExists, "The parameter already exists. To overwrite this request value, set the overwrite option in the request to true.")
	}
	if in.Value == "" {
		return 0, "", errs.Field(ErrInvalid, "value", "must have length greater than or equal to 1")
	}
	tier := in.Tier
	if tier == "" || tier == "Intelligent-Tiering" {
		tier = TierStandard
		if len(in.Value) > 4096 || prev != nil && prev.Tier == TierAdvanced {
			tier = TierAdvanced
		}
	}
	switch {
	case tier != TierStandard && tier != TierAdvanced:
		return 0, "", errs.Value(ErrInvalid, "tier", in.Tier, "must satisfy enum value set: [Standard, Advanced, Intelligent-Tiering]")
	case tier == TierStandard && len(in.Value) > 4096:
		return 0, "", errs.Errorf(ErrTooLarge, "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier.")
	case len(in.Value) > 8192:
		return 0, "", errs.Errorf(ErrTooLarge, "Advanced tier parameters support a maximum parameter value of 8192 characters.")
	case prev != nil && prev.Tier == TierAdvanced && tier == TierStandard:
		return 0, "", errs.Errorf(ErrInvalid, "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier.")
	}
	if in.AllowedPattern == "" && prev != nil {
		in.AllowedPattern = prev.AllowedPattern
	}
	if in.AllowedPattern != "" {
		if len(in.AllowedPattern) > 1024 {
			return 0, "", errs.Errorf(ErrBadPattern, "The allowed pattern is longer than 1024 characters.")
		}
		re, err := regexp.Compile(in.AllowedPattern)
		if err != nil {
			return 0, "", errs.Errorf(ErrBadPattern, "The allowed pattern %s is not a valid regular expression: %v", in.AllowedPattern, err)
		}
		if !re.MatchString(in.Value) {
			return 0, "", errs.Errorf(ErrPattern, "Parameter value, cannot be validated against allowedPattern: %s", in.AllowedPattern)
		}
	}
	if in.KeyID != "" && in.Type != TypeSecureString {
		return 0, "", errs.Errorf(ErrInvalid, "KeyId is required for SecureString type parameter only.")
	}
	if in.DataType == "" {
		in.DataType = "text"
	}
	if in.DataType != "text" {
		return 0, "", errs.Value(ErrInvalid, "dataType", in.DataType, "must be text (aws:ec2:image parameters are not supported)")
	}
	p := &Parameter{Name: in.Name, Type: in.Type, Description: in.Description, AllowedPattern: in.AllowedPattern, Tier: tier,
		DataType: in.DataType, ModifiedAt: s.now(), ModifiedBy: in.By}
	if in.Description == "" && prev != nil {
		p.Description = prev.Description
	}
	if in.Type == TypeSecureString {
		keyRef := in.KeyID
		if keyRef == "" && prev != nil && prev.Type == TypeSecureString {
			keyRef = prev.KeyID
		}
		if keyRef == "" {
			k, err := s.Keys.ServiceKey(ctx, DefaultKeyAlias, "Default key that protects my SSM parameters when no other key is defined")
			if err != nil {
				return 0, "", err
			}
			keyRef = s.Keys.ARN(k.ID)
		}
		env, keyARN, err := s.seal(ctx, keyRef, in.Name, []byte(in.Value))
		if err != nil {
			return 0, "", err
		}
		p.KeyID, p.Value = keyARN, env
	} else {
		p.Value = []byte(in.Value)
	}
	if err := s.Store.PutParameterVersion(ctx, p, in.Overwrite); err != nil {
		if errors.Is(err, ErrExists) {
			return 0, "", errs.Errorf(ErrExists, "The parameter already exists. To overwrite this request value, set the overwrite option in the request to true.")
		}
		return 0, "", err
	}
	return p.Version, tier, nil
}

// EncryptionContext is the context a SecureString is encrypted under,
// as in AWS: PARAMETER_ARN, its ARN. Key policies may condition on it.
func (s *Service) EncryptionContext(name string) map[string]string {
	return map[string]string{"PARAMETER_ARN": s.ARN(name)}
}

// seal encrypts a value by envelope (kms.SealEnvelope) under keyRef,
// with the parameter's ARN as additional data, and returns the key's ARN.
func (s *Service) seal(ctx context.Context, keyRef, name string, value []byte) ([]byte, string, error) {
	env, k, err := s.Keys.SealEnvelope(ctx, keyRef, s.EncryptionContext(name), value, []byte(s.ARN(name)))
	if errors.Is(err, kms.ErrNotFound) {
		return nil, "", errs.Errorf(ErrKeyID, "%v", err)
	}
	if err != nil {
		return nil, "", err
	}
	return env, s.Keys.ARN(k.ID), nil
}

// Open decrypts a SecureString version's value with its KMS key.
func (s *Service) Open(ctx context.Context, p Parameter) ([]byte, error) {
	v, err := s.Keys.OpenEnvelope(ctx, p.Value, s.EncryptionContext(p.Name), []byte(s.ARN(p.Name)))
	if errors.Is(err, kms.ErrMalformedEnvelope) || errors.Is(err, kms.ErrEnvelopeChanged) {
		return nil, fmt.Errorf("parameter %s version %d: %w", p.Name, p.Version, err)
	}
	return v, err
}

// Get returns the version of a parameter a selector names: NAME (the
// latest), NAME:VERSION or NAME:LABEL.
func (s *Service) Get(ctx context.Context, selector string) (Parameter, error) {
	name, sel, hasSel := strings.Cut(selector, ":")
	if err := ValidateName(name); err != nil {
		return Parameter{}, err
	}
	versions, err := s.Store.ParameterVersions(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return Parameter{}, errs.Errorf(ErrNotFound, "Parameter %s not found.", name)
	}
	if err != nil {
		return Parameter{}, err
	}
	if !hasSel {
		return versions[len(versions)-1], nil
	}
	if v, err := strconv.ParseInt(sel, 10, 64); err == nil {
		for _, p := range versions {
			if p.Version == v {
				return p, nil
			}
		}
		return Parameter{}, errs.Errorf(ErrVersionMissing, "Systems Manager could not find version %d of %s. Verify the version and try again.", v, name)
	}
	for _, p := range versions {
		for _, l := range p.Labels {
			if l == sel {
				return p, nil
			}
		}
	}
	return Parameter{}, errs.Errorf(ErrVersionMissing, "Systems Manager could not find label %s of %s.", sel, name)
}

// History returns every version of a parameter, oldest first.
func (s *Service) History(ctx context.Context, name string) ([]Parameter, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	v, err := s.Store.ParameterVersions(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil, errs.Errorf(ErrNotFound, "Parameter %s not found.", name)
	}
	return v, err
}

// ByPath returns the latest versions of the parameters under a path
// (directly under it unless recursive), in name order, after after.
func (s *Service) ByPath(ctx context.Context, path string, recursive bool, after string, limit int) ([]Parameter, string, error) {
	if path == "" || !strings.HasPrefix(path, "/") {
		return nil, "", errs.Value(ErrInvalid, "path", path, "must begin with /")
	}
	prefix := strings.TrimSuffix(path, "/") + "/"
	if path == "/" {
		prefix = "/"
	}
	var out []Parameter
	for {
		page, err := s.Store.LatestParameters(ctx, prefix, after, limit)
		if err != nil {
			return nil, "", err
		}
		for _, p := range page {
			after = p.Name
			if !recursive && strings.Contains(strings.TrimPrefix(p.Name, prefix), "/") {
				continue
			}
			out = append(out, p)
			if len(out) == limit {
				return out, after, nil
			}
		}
		if len(page) < limit {
			return out, "", nil
		}
	}
}

// Delete removes a parameter and every version of it.
func (s *Service) Delete(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	err := s.Store.DeleteParameter(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return errs.Errorf(ErrNotFound, "Parameter %s not found.", name)
	}
	return err
}

var labelRE = regexp.MustCompile(`^[a-zA-Z0-9_.\-]{1,100}$`)

// Label attaches labels to a version (the latest when version is 0),
// moving each from any other version; a version has at most 10. It
// returns the labels refused (as AWS's InvalidLabels) and the version.
func (s *Service) Label(ctx context.Context, name string, version int64, labels []string) ([]string, int64, error) {
	versions, err := s.History(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	var target *Parameter
	for i := range versions {
		if version == 0 && i == len(versions)-1 || versions[i].Version == version {
			target = &versions[i]
		}
	}
	if target == nil {
		return nil, 0, errs.Errorf(ErrVersionMissing, "Systems Manager could not find version %d of %s.", version, name)
	}
	var invalid, keep []string
	for _, l := range labels {
		lower := strings.ToLower(l)
		if !labelRE.MatchString(l) || strings.HasPrefix(lower, "aws") || strings.HasPrefix(lower, "ssm") || (l[0] >= '0' && l[0] <= '9') {
			invalid = append(invalid, l)
			continue
		}
		keep = append(keep, l)
	}
	set := append([]string{}, target.Labels...)
	for _, l := range keep {
		dup := false
		for _, e := range set {
			dup = dup || e == l
		}
		if !dup {
			set = append(set, l)
		}
	}
	if len(set) > 10 {
		return nil, 0, errs.Errorf(ErrLabel, "A parameter version can have at most 10 labels.")
	}
	return invalid, target.Version, s.Store.SetLabels(ctx, name, target.Version, set)
}

// Unlabel removes labels from a version.
func (s *Service) Unlabel(ctx context.Context, name string, version int64, labels []string) (removed, invalid []string, err error) {
	versions, err := s.History(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range versions {
		if p.Version != version {
			continue
		}
		var keep []string
		for _, e := range p.Labels {
			drop := false
			for _, l := range labels {
				drop = drop || l == e
			}
			if drop {
				removed = append(removed, e)
			} else {
				keep = append(keep, e)
			}
		}
		for _, l := range labels {
			found := false
			for _, r := range removed {
				found = found || r == l
			}
			if !found {
				invalid = append(invalid, l)
			}
		}
		return removed, invalid, s.Store.SetLabels(ctx, name, version, keep)
	}
	return nil, nil, errs.Errorf(ErrVersionMissing, "Systems Manager could not find version %d of %s.", version, name)
}
