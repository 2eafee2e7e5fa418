package signing

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/signet/signet/internal/errs"
)

// Status is a signing profile's status.
type Status string

// Profile statuses, as AWS spells them.
const (
	StatusActive   Status = "Active"
	StatusCanceled Status = "Canceled"
	StatusRevoked  Status = "Revoked"
)

// ValidityType is the unit of a signature validity period.
type ValidityType string

// Validity units.
const (
	Days   ValidityType = "DAYS"
	Months ValidityType = "MONTHS"
	Years  ValidityType = "YEARS"
)

// MaxValidityMonths is both the default and the maximum signature validity
// of a signing profile, as in AWS Signer.
const MaxValidityMonths = 135

// Validity is how long signatures made with a profile stay valid.
type Validity struct {
	Value int
	Type  ValidityType
}

// DefaultValidity is 135 months.
var DefaultValidity = Validity{Value: MaxValidityMonths, Type: Months}

// Expiry is the time a signature made at t expires.
func (v Validity) Expiry(t time.Time) time.Time {
	switch v.Type {
	case Days:
		return t.AddDate(0, 0, v.Value)
	case Years:
		return t.AddDate(v.Value, 0, 0)
	default:
		return t.AddDate(0, v.Value, 0)
	}
}

// Overrides are a profile's signing configuration overrides.
type Overrides struct {
	EncryptionAlgorithm string
	HashAlgorithm       string
	ImageFormat         string
}

// Profile is a signing profile: its current version and configuration.
type Profile struct {
	Name              string
	Version           string // current version
	PlatformID        string
	Validity          Validity
	SigningParameters map[string]string
	Overrides         Overrides
	Tags              map[string]string
	Status            Status
	StatusReason      string
	CreatedAt         time.Time
	CanceledAt        time.Time // zero unless canceled
}

// sameConfig reports whether a repeated PutSigningProfile asks for what p
// already is (tags aside).
func (p Profile) sameConfig(q Profile) bool {
	return p.PlatformID == q.PlatformID && p.Validity == q.Validity && p.Overrides == q.Overrides &&
		maps.Equal(p.SigningParameters, q.SigningParameters)
}

// Version is one version of a signing profile. Each version has its own
// intermediate CA, whose key stays in the key store.
type Version struct {
	ProfileName string
	Version     string
	KeyID       string // the intermediate CA's key in the key store
	Certificate []byte // the intermediate CA certificate, DER
	CreatedAt   time.Time
	// Revocation of the version: signatures it made from EffectiveFrom
	// on are not trusted. Zero RevokedAt: not revoked.
	RevokedAt        time.Time
	EffectiveFrom    time.Time
	RevokedBy        string
	RevocationReason string
}

// PutProfileInput is what PutSigningProfile asks for.
type PutProfileInput struct {
	Name              string
	PlatformID        string
	CertificateARN    string // signingMaterial; not supported: Signet manages keys
	Validity          *Validity
	SigningParameters map[string]string
	Overrides         Overrides
	Tags              map[string]string
}

var (
	profileNameRE = regexp.MustCompile(`^[a-zA-Z0-9_]{2,64}$`)
	versionRE     = regexp.MustCompile(`^[a-zA-Z0-9]{10}$`)
)

func validationError(field, value, constraint string) error {
	return &errs.FieldError{Kind: ErrInvalid, Field: field, Value: value, Constraint: constraint}
}

// ValidateProfileName checks a profile name against AWS's constraint.
func ValidateProfileName(name string) error {
	if !profileNameRE.MatchString(name) {
		return validationError("profileName", name,
			"must satisfy regular expression pattern: ^[a-zA-Z0-9_]{2,64}$ (2 to 64 letters, digits or underscores; hyphens are not allowed)")
	}
	return nil
}

// ValidateVersion checks a profile version's shape.
func ValidateVersion(v string) error {
	if !versionRE.MatchString(v) {
		return validationError("profileVersion", v, "must satisfy regular expression pattern: ^[a-zA-Z0-9]{10}$")
	}
	return nil
}

func validateValidity(v Validity) error {
	if v.Value < 1 {
		return validationError("signatureValidityPeriod.value", fmt.Sprint(v.Value), "must be greater than or equal to 1")
	}
	var months int
	switch v.Type {
	case Days:
		// Compare against the shortest 135-month span (from a date where
		// the months are shortest does not matter at day granularity:
		// AWS documents the limit in months, so allow up to 135*30 days
		// plus the extra days of 31-day months, i.e. the span from now).
		now := time.Now().UTC()
		if now.AddDate(0, 0, v.Value).After(now.AddDate(0, MaxValidityMonths, 0)) {
			return validationError("signatureValidityPeriod", fmt.Sprintf("%d DAYS", v.Value),
				fmt.Sprintf("must not exceed the maximum validity of %d months", MaxValidityMonths))
		}
		return nil
	case Months:
		months = v.Value
	case Years:
		months = v.Value * 12
	default:
		return validationError("signatureValidityPeriod.type", string(v.Type), "must satisfy enum value set: [DAYS, MONTHS, YEARS]")
	}
	if months > MaxValidityMonths {
		return validationError("signatureValidityPeriod", fmt.Sprintf("%d %s", v.Value, v.Type),
			fmt.Sprintf("must not exceed the maximum validity of %d months", MaxValidityMonths))
	}
	return nil
}

func validateOverrides(p Platform, o Overrides) error {
	check := func(field, v string, allowed []string) error {
		if v != "" && !slices.Contains(allowed, v) {
			return validationError(field, v, fmt.Sprintf("must be one of the values platform %s supports: [%s]", p.ID, strings.Join(allowed, ", ")))
		}
		return nil
	}
	if err := check("overrides.signingConfiguration.encryptionAlgorithm", o.EncryptionAlgorithm, p.EncryptionAlgorithms); err != nil {
		return err
	}
	if err := check("overrides.signingConfiguration.hashAlgorithm", o.HashAlgorithm, p.HashAlgorithms); err != nil {
		return err
	}
	return check("overrides.signingImageFormat", o.ImageFormat, p.ImageFormats)
}

// MaxTags is the most tags one resource may carry.
const MaxTags = 50

// ValidateTagKey checks a tag key: 1–128 characters of
// [a-zA-Z+-=._:/], not starting with "aws:". field names the request
// member in the error ("tags" or "tagKeys").
func ValidateTagKey(field, k string) error {
	if len(k) < 1 || len(k) > 128 {
		return validationError(field, k, "must have length between 1 and 128")
	}
	if strings.HasPrefix(strings.ToLower(k), "aws:") {
		return validationError(field, k, "must not start with 'aws:', which is reserved")
	}
	for _, c := range k {
		ok := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '+' && c <= '=') || c == '.' || c == '_' || c == ':' || c == '/'
		if !ok {
			return validationError(field, k, "must satisfy regular expression pattern: ^(?!aws:)[a-zA-Z+-=._:/]+$")
		}
	}
	return nil
}

// ValidateTags checks a set of tags to add.
func ValidateTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return errs.Field(ErrInvalid, "tags", "must have at most %d entries, got %d", MaxTags, len(tags))
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if err := ValidateTagKey("tags", k); err != nil {
			return err
		}
		if len(tags[k]) > 256 {
			return validationError("tags."+k, tags[k][:32]+"...", "must have length less than or equal to 256")
		}
	}
	return nil
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newVersionID returns 10 random alphanumerics, as AWS profile versions are.
func newVersionID() string {
	b := make([]byte, 10)
	for i := range b {
		b[i] = alnum[randIntn(len(alnum))]
	}
	return string(b)
}

func randIntn(n int) int {
	// Rejection sampling over one byte; n <= 62.
	var b [1]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic("signing: crypto/rand failed: " + err.Error())
		}
		if int(b[0]) < 256-256%n {
			return int(b[0]) % n
		}
	}
}

// Issuer is the PKI as signing uses it (see Authority).
type Issuer interface {
	// IssueProfileCA creates the intermediate CA of a new profile version:
	// a new key in the key store and a certificate under the root.
	IssueProfileCA(ctx context.Context, profileName, version string, at time.Time) (keyID string, certDER []byte, err error)
	// IssueLeaf issues a signature's leaf certificate under a profile
	// version's CA and returns the chain leaf, intermediate, root.
	IssueLeaf(ctx context.Context, req LeafRequest) ([]*x509.Certificate, error)
}
