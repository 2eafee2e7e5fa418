package deploygate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/errs"
)

// Sentinel errors; caller mistakes are *errs.Error or *errs.FieldError
// values wrapping one.
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid request")
	ErrInUse    = errors.New("in use")
)

// CodeSigningConfig is a Lambda code signing config.
type CodeSigningConfig struct {
	ID                string // csc- + 17 lowercase alphanumerics
	Description       string
	AllowedPublishers []string
	Policy            Policy
	LastModified      time.Time
}

// Store persists code signing configs.
type Store interface {
	// CreateCSC stores a new config.
	CreateCSC(ctx context.Context, c CodeSigningConfig) error
	// CSC returns a config by id, or ErrNotFound.
	CSC(ctx context.Context, id string) (CodeSigningConfig, error)
	// UpdateCSC reads a config, calls fn and writes it back in one
	// transaction; ErrNotFound; fn's error as is.
	UpdateCSC(ctx context.Context, id string, fn func(*CodeSigningConfig) error) error
	// DeleteCSC deletes a config no function uses: ErrNotFound, ErrInUse.
	DeleteCSC(ctx context.Context, id string) error
	// ListCSCs returns up to limit configs with ids after after, by id.
	ListCSCs(ctx context.Context, after string, limit int) ([]CodeSigningConfig, error)
}

// Service implements the code-signing-config operations of the Lambda API.
type Service struct {
	Store   Store
	Account arn.Account
	Now     func() time.Time
	// BeforeEnforce, if set, is asked before a config's policy becomes
	// Enforce; its error refuses the change (the functions using the
	// config set something Enforce does not allow).
	BeforeEnforce func(ctx context.Context, id string) error
	// RequireEnforce refuses to change a config's policy from Enforce to
	// Warn (the installation setting require_enforced_code_signing: the
	// configs that functions rely on stay Enforce).
	RequireEnforce bool
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// ARN is the ARN of a config.
func (s *Service) ARN(id string) string {
	return fmt.Sprintf("arn:%s:lambda:%s:%s:code-signing-config:%s", s.Account.Partition, s.Account.Region, s.Account.ID, id)
}

var (
	cscIDRE     = regexp.MustCompile(`^csc-[a-z0-9]{17}$`)
	publisherRE = regexp.MustCompile(`^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)$`)
)

// MaxPublishers is the most signing profile version ARNs a config allows.
const MaxPublishers = 20

func invalid(format string, args ...any) error {
	return errs.Errorf(ErrInvalid, format, args...)
}

func validate(c CodeSigningConfig) error {
	n := len(c.AllowedPublishers)
	if n < 1 || n > MaxPublishers {
		return errs.Field(ErrInvalid, "allowedPublishers.signingProfileVersionArns", "must have length between 1 and %d, got %d", MaxPublishers, n)
	}
	for _, p := range c.AllowedPublishers {
		if !publisherRE.MatchString(p) || len(p) > 1024 {
			return errs.Value(ErrInvalid, "allowedPublishers.signingProfileVersionArns", p, "must be a signing profile version ARN such as arn:aws:signer:us-east-1:123456789012:/signing-profiles/NAME/VERSION")
		}
	}
	if c.Policy != Warn && c.Policy != Enforce {
		return errs.Value(ErrInvalid, "codeSigningPolicies.untrustedArtifactOnDeployment", string(c.Policy), "must satisfy enum value set: [Warn, Enforce] (case-sensitive)")
	}
	if len(c.Description) > 256 {
		return errs.Field(ErrInvalid, "description", "must have length less than or equal to 256")
	}
	return nil
}

func newID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 17)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "csc-" + string(b)
}

// CreateCSC creates a config; the policy defaults to Warn.
func (s *Service) CreateCSC(ctx context.Context, c CodeSigningConfig) (CodeSigningConfig, error) {
	if c.Policy == "" {
		c.Policy = Warn
	}
	if err := validate(c); err != nil {
		return CodeSigningConfig{}, err
	}
	c.ID, c.LastModified = newID(), s.now()
	if err := s.Store.CreateCSC(ctx, c); err != nil {
		return CodeSigningConfig{}, err
	}
	return c, nil
}

// ID extracts a config id from its ARN (or accepts a bare id).
func (s *Service) ID(cscARN string) (string, error) {
	id := cscARN
	if strings.HasPrefix(cscARN, "arn:") {
		var ok bool
		prefix := fmt.Sprintf("arn:%s:lambda:%s:%s:code-signing-config:", s.Account.Partition, s.Account.Region, s.Account.ID)
		if id, ok = strings.CutPrefix(cscARN, prefix); !ok {
			return "", &errs.Error{Kind: ErrNotFound, Msg: fmt.Sprintf("The Lambda code signing configuration %s can not be found.", cscARN)}
		}
	}
	if !cscIDRE.MatchString(id) {
		return "", errs.Value(ErrInvalid, "codeSigningConfigArn", cscARN, "must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1}:\\d{12}:code-signing-config:csc-[a-z0-9]{17}")
	}
	return id, nil
}

func (s *Service) notFound(id string) error {
	return &errs.Error{Kind: ErrNotFound, Msg: fmt.Sprintf("The Lambda code signing configuration %s can not be found.", s.ARN(id))}
}

// CSC returns a config by ARN.
func (s *Service) CSC(ctx context.Context, cscARN string) (CodeSigningConfig, error) {
	id, err := s.ID(cscARN)
	if err != nil {
		return CodeSigningConfig{}, err
	}
	c, err := s.Store.CSC(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return c, s.notFound(id)
	}
	return c, err
}

// UpdateCSC changes the fields given (nil: unchanged).
func (s *Service) UpdateCSC(ctx context.Context, cscARN string, description *string, publishers []string, policy *Policy) (CodeSigningConfig, error) {
	id, err := s.ID(cscARN)
	if err != nil {
		return CodeSigningConfig{}, err
	}
	if policy != nil && *policy == Enforce && s.BeforeEnforce != nil {
		if err := s.BeforeEnforce(ctx, id); err != nil {
			return CodeSigningConfig{}, err
		}
	}
	var out CodeSigningConfig
	err = s.Store.UpdateCSC(ctx, id, func(c *CodeSigningConfig) error {
		if description != nil {
			c.Description = *description
		}
		if publishers != nil {
			c.AllowedPublishers = publishers
		}
		if policy != nil {
			if s.RequireEnforce && c.Policy == Enforce && *policy != Enforce {
				return invalid("This installation requires code signing configs to stay UntrustedArtifactOnDeployment=Enforce: %s cannot be changed to %s", s.ARN(id), *policy)
			}
			c.Policy = *policy
		}
		if err := validate(*c); err != nil {
			return err
		}
		c.LastModified = s.now()
		out = *c
		return nil
	})
	if errors.Is(err, ErrNotFound) && !errors.As(err, new(*errs.Error)) {
		return out, s.notFound(id)
	}
	return out, err
}

// DeleteCSC deletes a config that no function uses.
func (s *Service) DeleteCSC(ctx context.Context, cscARN string) error {
	id, err := s.ID(cscARN)
	if err != nil {
		return err
	}
	switch err := s.Store.DeleteCSC(ctx, id); {
	case errors.Is(err, ErrNotFound):
		return s.notFound(id)
	case errors.Is(err, ErrInUse):
		return &errs.Error{Kind: ErrInUse, Msg: fmt.Sprintf("The code signing configuration %s cannot be deleted because it is used by one or more functions; detach it first (DeleteFunctionCodeSigningConfig).", s.ARN(id))}
	default:
		return err
	}
}

// ListCSCs pages through configs; maxItems 1–10000 (default 50).
func (s *Service) ListCSCs(ctx context.Context, marker string, maxItems int) ([]CodeSigningConfig, string, error) {
	if maxItems == 0 {
		maxItems = 50
	}
	if maxItems < 1 || maxItems > 10000 {
		return nil, "", errs.Value(ErrInvalid, "maxItems", strconv.Itoa(maxItems), "must be between 1 and 10000")
	}
	cs, err := s.Store.ListCSCs(ctx, marker, maxItems+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(cs) > maxItems {
		cs = cs[:maxItems]
		next = cs[maxItems-1].ID
	}
	return cs, next, nil
}
