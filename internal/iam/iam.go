// Package iam is Signet's identity store: users and roles with their
// identity-based policies (inline and managed) and permissions
// boundaries, role trust policies, access keys, and the temporary
// credentials STS issues. It resolves a caller's ARN to the policies that
// package policy evaluates.
package iam

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/policy"
)

// Sentinels; caller mistakes are *errs.Error or *errs.FieldError values
// wrapping one, with a message for the caller.
var (
	ErrNotFound  = errors.New("no such entity")
	ErrExists    = errors.New("entity already exists")
	ErrMalformed = errors.New("malformed policy document")
	ErrConflict  = errors.New("delete conflict")
	ErrInvalid   = errors.New("invalid input")
	ErrDenied    = errors.New("access denied")
)

func errorf(kind error, format string, args ...any) error {
	return errs.Errorf(kind, format, args...)
}

// User is an IAM user.
type User struct {
	Name     string
	ID       string // AIDA…
	Path     string
	Boundary string // permissions boundary policy ARN, "" if none
	Created  time.Time
}

// Role is an IAM role.
type Role struct {
	Name               string
	ID                 string // AROA…
	Path               string
	Description        string
	TrustPolicy        string // the AssumeRolePolicyDocument as given
	MaxSessionDuration int    // seconds
	Boundary           string
	Created            time.Time
}

// ManagedPolicy is a customer managed policy (one version, v1).
type ManagedPolicy struct {
	Name        string
	ID          string // ANPA…
	Path        string
	Description string
	Document    string
	Attachments int
	Created     time.Time
}

// InlinePolicy is a policy embedded in one user or role.
type InlinePolicy struct {
	Name     string
	Document string
}

// PrincipalKind is "user" or "role".
type PrincipalKind string

// The kinds of principal that hold policies.
const (
	KindUser PrincipalKind = "user"
	KindRole PrincipalKind = "role"
)

// Store persists identities. Methods return ErrNotFound, ErrExists or
// ErrConflict (wrapped or bare) as documented.
type Store interface {
	CreateUser(ctx context.Context, u User) error // ErrExists
	User(ctx context.Context, name string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	DeleteUser(ctx context.Context, name string) error // ErrConflict while it has keys or policies
	CreateRole(ctx context.Context, r Role) error
	Role(ctx context.Context, name string) (Role, error)
	ListRoles(ctx context.Context) ([]Role, error)
	DeleteRole(ctx context.Context, name string) error // ErrConflict while it has policies
	SetBoundary(ctx context.Context, kind PrincipalKind, name, policyARN string) error
	CreateManagedPolicy(ctx context.Context, p ManagedPolicy) error
	ManagedPolicy(ctx context.Context, name string) (ManagedPolicy, error)
	// ListManagedPolicies lists the managed policies by name.
	ListManagedPolicies(ctx context.Context) ([]ManagedPolicy, error)
	DeleteManagedPolicy(ctx context.Context, name string) error // ErrConflict while attached or a boundary
	PutInlinePolicy(ctx context.Context, kind PrincipalKind, principal, name, document string) error
	DeleteInlinePolicy(ctx context.Context, kind PrincipalKind, principal, name string) error // ErrNotFound
	AttachPolicy(ctx context.Context, kind PrincipalKind, principal, policyName string) error
	DetachPolicy(ctx context.Context, kind PrincipalKind, principal, policyName string) error // ErrNotFound
	// PrincipalPolicies returns the inline policies and the names of the
	// managed policies attached to a principal, each by name.
	PrincipalPolicies(ctx context.Context, kind PrincipalKind, principal string) (inline []InlinePolicy, attached []string, err error)
}

// Key is an access key to store.
type Key struct {
	ID, Secret string
	Token      string    // session token of temporary credentials
	Expires    time.Time // zero: never
	// PrincipalARN is the user's or the role session's ARN; PrincipalID
	// the user's or role's unique id, which binds the key to that one
	// entity (not to whatever later bears its name).
	PrincipalARN, PrincipalID string
	// SourceIdentity is a role session's source identity: every request
	// made with the key carries it (aws:SourceIdentity) and the audit log
	// records it.
	SourceIdentity string
}

// Keys issues and removes access keys (sealing secrets is the caller's).
type Keys interface {
	CreateKey(ctx context.Context, k Key) error
	DeleteKey(ctx context.Context, id, principalARN string) error // ErrNotFound
	KeysOf(ctx context.Context, principalARN string) ([]KeyInfo, error)
}

// KeyInfo describes an access key without its secret.
type KeyInfo struct {
	ID      string
	Created time.Time
}

// Service manages identities and resolves callers' policies.
type Service struct {
	Store   Store
	Keys    Keys
	Account arn.Account
	Now     func() time.Time
	// WebIdentity are the OpenID Connect issuers AssumeRoleWithWebIdentity
	// trusts (from the configuration).
	WebIdentity []WebIdentityProvider
	// OnChange, if set, is told of every identity change (which drops
	// the cached resolutions).
	OnChange func()
	// MaxAge, if set, is how long a cached resolution is used before the
	// identity is read again.
	MaxAge time.Duration

	mu    sync.Mutex
	gen   uint64
	cache map[string]cached
}

type cached struct {
	gen uint64
	p   Resolved
	at  time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

var nameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

func checkName(field, name string) error {
	if !nameRE.MatchString(name) {
		return errs.Value(ErrInvalid, field, name, "must satisfy regular expression pattern: [\\w+=,.@-]+ (1 to 64 characters)")
	}
	return nil
}

func checkPath(path string) (string, error) {
	if path == "" {
		return "/", nil
	}
	if !strings.HasPrefix(path, "/") || !strings.HasSuffix(path, "/") || len(path) > 512 {
		return "", errorf(ErrInvalid, "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	return path, nil
}

// newID returns an IAM unique id: a 4-letter prefix and 17 base32
// characters.
func newID(prefix string) string {
	b := make([]byte, 11)
	rand.Read(b)
	return prefix + base32.StdEncoding.EncodeToString(b)[:17]
}

// invalidate drops every cached resolution (any identity change) and
// says so to OnChange.
func (s *Service) invalidate() {
	s.Invalidate()
	if s.OnChange != nil {
		s.OnChange()
	}
}

// Invalidate drops every cached resolution: another process sharing the
// database changed an identity.
func (s *Service) Invalidate() {
	s.mu.Lock()
	s.gen++
	s.cache = nil
	s.mu.Unlock()
}

// UserARN, RoleARN and PolicyARN name identities.
func (s *Service) UserARN(u User) string {
	return fmt.Sprintf("arn:%s:iam::%s:user%s%s", s.Account.Partition, s.Account.ID, u.Path, u.Name)
}

// RoleARN is a role's ARN.
func (s *Service) RoleARN(r Role) string {
	return fmt.Sprintf("arn:%s:iam::%s:role%s%s", s.Account.Partition, s.Account.ID, r.Path, r.Name)
}

// PolicyARN is a managed policy's ARN.
func (s *Service) PolicyARN(p ManagedPolicy) string {
	return fmt.Sprintf("arn:%s:iam::%s:policy%s%s", s.Account.Partition, s.Account.ID, p.Path, p.Name)
}

// RootARN is the account root's ARN.
func (s *Service) RootARN() string {
	return fmt.Sprintf("arn:%s:iam::%s:root", s.Account.Partition, s.Account.ID)
}

func notFound(kind, name string) error {
	return errorf(ErrNotFound, "The %s with name %s cannot be found.", kind, name)
}

func wrapStore(err error, kind, name string) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return notFound(kind, name)
	case errors.Is(err, ErrExists):
		return errorf(ErrExists, "%s with name %s already exists.", strings.ToUpper(kind[:1])+kind[1:], name)
	}
	return err
}

// CreateUser creates a user.
func (s *Service) CreateUser(ctx context.Context, name, path string) (User, error) {
	if err := checkName("userName", name); err != nil {
		return User{}, err
	}
	path, err := checkPath(path)
	if err != nil {
		return User{}, err
	}
	u := User{Name: name, ID: newID("AIDA"), Path: path, Created: s.now()}
	if err := s.Store.CreateUser(ctx, u); err != nil {
		return User{}, wrapStore(err, "user", name)
	}
	s.invalidate()
	return u, nil
}

// User returns a user.
func (s *Service) User(ctx context.Context, name string) (User, error) {
	u, err := s.Store.User(ctx, name)
	return u, wrapStore(err, "user", name)
}

// ListUsers lists users by name.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) { return s.Store.ListUsers(ctx) }

// DeleteUser deletes a user without keys or policies.
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	u, err := s.User(ctx, name)
	if err != nil {
		return err
	}
	keys, err := s.Keys.KeysOf(ctx, s.UserARN(u))
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		return errorf(ErrConflict, "Cannot delete entity, must delete access keys first.")
	}
	if err := s.Store.DeleteUser(ctx, name); err != nil {
		if errors.Is(err, ErrConflict) {
			return errorf(ErrConflict, "Cannot delete entity, must delete policies first.")
		}
		return wrapStore(err, "user", name)
	}
	s.invalidate()
	return nil
}

// CreateAccessKey issues a long-term access key for a user.
func (s *Service) CreateAccessKey(ctx context.Context, user string) (id, secret string, err error) {
	u, err := s.User(ctx, user)
	if err != nil {
		return "", "", err
	}
	keys, err := s.Keys.KeysOf(ctx, s.UserARN(u))
	if err != nil {
		return "", "", err
	}
	if len(keys) >= 2 {
		return "", "", errorf(ErrInvalid, "Cannot exceed quota for AccessKeysPerUser: 2")
	}
	id, secret = NewAccessKey("AKIA")
	if err := s.Keys.CreateKey(ctx, Key{ID: id, Secret: secret, PrincipalARN: s.UserARN(u), PrincipalID: u.ID}); err != nil {
		return "", "", err
	}
	return id, secret, nil
}

// DeleteAccessKey deletes a user's access key.
func (s *Service) DeleteAccessKey(ctx context.Context, user, id string) error {
	u, err := s.User(ctx, user)
	if err != nil {
		return err
	}
	if err := s.Keys.DeleteKey(ctx, id, s.UserARN(u)); err != nil {
		if errors.Is(err, ErrNotFound) {
			return errorf(ErrNotFound, "The Access Key with id %s cannot be found.", id)
		}
		return err
	}
	return nil
}

// AccessKeys lists a user's access keys.
func (s *Service) AccessKeys(ctx context.Context, user string) ([]KeyInfo, error) {
	u, err := s.User(ctx, user)
	if err != nil {
		return nil, err
	}
	return s.Keys.KeysOf(ctx, s.UserARN(u))
}

// NewAccessKey returns an access key id with the prefix (AKIA for
// users, ASIA for temporary credentials) and a 40-character secret.
func NewAccessKey(prefix string) (id, secret string) {
	b := make([]byte, 40)
	rand.Read(b)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	sec := make([]byte, 40)
	for i := range sec {
		sec[i] = alphabet[int(b[i])%len(alphabet)]
	}
	idb := make([]byte, 10)
	rand.Read(idb)
	return prefix + base32.StdEncoding.EncodeToString(idb)[:16], string(sec)
}

// CreateRole creates a role with a trust policy.
func (s *Service) CreateRole(ctx context.Context, name, path, description, trust string, maxSession int) (Role, error) {
	if err := checkName("roleName", name); err != nil {
		return Role{}, err
	}
	path, err := checkPath(path)
	if err != nil {
		return Role{}, err
	}
	if _, err := policy.Parse([]byte(trust), policy.Trust); err != nil {
		return Role{}, errorf(ErrMalformed, "%s", strings.TrimPrefix(err.Error(), "malformed policy document: "))
	}
	if maxSession == 0 {
		maxSession = 3600
	}
	if maxSession < 3600 || maxSession > 43200 {
		return Role{}, errs.Value(ErrInvalid, "maxSessionDuration", strconv.Itoa(maxSession), "must have value between 3600 and 43200")
	}
	r := Role{Name: name, ID: newID("AROA"), Path: path, Description: description, TrustPolicy: trust, MaxSessionDuration: maxSession, Created: s.now()}
	if err := s.Store.CreateRole(ctx, r); err != nil {
		return Role{}, wrapStore(err, "role", name)
	}
	s.invalidate()
	return r, nil
}

// Role returns a role.
func (s *Service) Role(ctx context.Context, name string) (Role, error) {
	r, err := s.Store.Role(ctx, name)
	return r, wrapStore(err, "role", name)
}

// ListRoles lists roles by name.
func (s *Service) ListRoles(ctx context.Context) ([]Role, error) { return s.Store.ListRoles(ctx) }

// DeleteRole deletes a role without policies.
func (s *Service) DeleteRole(ctx context.Context, name string) error {
	if err := s.Store.DeleteRole(ctx, name); err != nil {
		if errors.Is(err, ErrConflict) {
			return errorf(ErrConflict, "Cannot delete entity, must delete policies first.")
		}
		return wrapStore(err, "role", name)
	}
	s.invalidate()
	return nil
}

// CreatePolicy creates a managed policy.
func (s *Service) CreatePolicy(ctx context.Context, name, path, description, document string) (ManagedPolicy, error) {
	if err := checkName("policyName", name); err != nil {
		return ManagedPolicy{}, err
	}
	path, err := checkPath(path)
	if err != nil {
		return ManagedPolicy{}, err
	}
	if err := checkIdentityDocument(document); err != nil {
		return ManagedPolicy{}, err
	}
	p := ManagedPolicy{Name: name, ID: newID("ANPA"), Path: path, Description: description, Document: document, Created: s.now()}
	if err := s.Store.CreateManagedPolicy(ctx, p); err != nil {
		if errors.Is(err, ErrExists) {
			return ManagedPolicy{}, errorf(ErrExists, "A policy called %s already exists. Duplicate names are not allowed.", name)
		}
		return ManagedPolicy{}, err
	}
	return p, nil
}

func checkIdentityDocument(doc string) error {
	if len(doc) > 6144 {
		return errorf(ErrInvalid, "Cannot exceed quota for PolicySize: 6144")
	}
	if _, err := policy.Parse([]byte(doc), policy.Identity); err != nil {
		return errorf(ErrMalformed, "%s", strings.TrimPrefix(err.Error(), "malformed policy document: "))
	}
	return nil
}

// policyName resolves a managed policy ARN of this account to its name.
func (s *Service) policyName(policyARN string) (string, error) {
	p, err := arn.Parse(policyARN)
	if err != nil || p.Service != "iam" || p.Account != s.Account.ID || !strings.HasPrefix(p.Resource, "policy/") {
		return "", errorf(ErrInvalid, "ARN %s is not valid: use a policy ARN of this account, arn:aws:iam::%s:policy/NAME", policyARN, s.Account.ID)
	}
	return p.Resource[strings.LastIndex(p.Resource, "/")+1:], nil
}

// Policy returns a managed policy by ARN.
func (s *Service) Policy(ctx context.Context, policyARN string) (ManagedPolicy, error) {
	name, err := s.policyName(policyARN)
	if err != nil {
		return ManagedPolicy{}, err
	}
	p, err := s.Store.ManagedPolicy(ctx, name)
	if errors.Is(err, ErrNotFound) || err == nil && s.PolicyARN(p) != policyARN {
		// The whole ARN, path included, names the policy.
		return ManagedPolicy{}, errorf(ErrNotFound, "Policy %s does not exist or is not attachable.", policyARN)
	}
	return p, err
}

// ListPolicies lists the managed policies by name.
func (s *Service) ListPolicies(ctx context.Context) ([]ManagedPolicy, error) {
	return s.Store.ListManagedPolicies(ctx)
}

// DefaultVersion is the version id of every managed policy: Signet keeps
// one version of each, the document it was created with.
const DefaultVersion = "v1"

var versionRE = regexp.MustCompile(`^v[1-9][0-9]*(\.[A-Za-z0-9-]*)?$`)

// PolicyVersion returns a managed policy by ARN if versionID names its
// version (DefaultVersion, the only one).
func (s *Service) PolicyVersion(ctx context.Context, policyARN, versionID string) (ManagedPolicy, error) {
	if !versionRE.MatchString(versionID) {
		return ManagedPolicy{}, errs.Value(ErrInvalid, "versionId", versionID, "must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?")
	}
	p, err := s.Policy(ctx, policyARN)
	if err != nil {
		return ManagedPolicy{}, err
	}
	if versionID != DefaultVersion {
		return ManagedPolicy{}, errorf(ErrNotFound, "Policy %s version %s does not exist or is not attachable.", policyARN, versionID)
	}
	return p, nil
}

// InlinePolicies returns the inline policies of a user or role, by name.
func (s *Service) InlinePolicies(ctx context.Context, kind PrincipalKind, principal string) ([]InlinePolicy, error) {
	if err := s.principal(ctx, kind, principal); err != nil {
		return nil, err
	}
	inline, _, err := s.Store.PrincipalPolicies(ctx, kind, principal)
	return inline, err
}

// InlinePolicy returns one inline policy of a user or role.
func (s *Service) InlinePolicy(ctx context.Context, kind PrincipalKind, principal, name string) (InlinePolicy, error) {
	inline, err := s.InlinePolicies(ctx, kind, principal)
	if err != nil {
		return InlinePolicy{}, err
	}
	for _, p := range inline {
		if p.Name == name {
			return p, nil
		}
	}
	return InlinePolicy{}, errorf(ErrNotFound, "The %s policy with name %s cannot be found.", kind, name)
}

// AttachedPolicies returns the managed policies attached to a user or
// role, by name.
func (s *Service) AttachedPolicies(ctx context.Context, kind PrincipalKind, principal string) ([]ManagedPolicy, error) {
	if err := s.principal(ctx, kind, principal); err != nil {
		return nil, err
	}
	_, names, err := s.Store.PrincipalPolicies(ctx, kind, principal)
	if err != nil {
		return nil, err
	}
	out := make([]ManagedPolicy, 0, len(names))
	for _, n := range names {
		p, err := s.Store.ManagedPolicy(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// DeletePolicy deletes a managed policy that nothing uses.
func (s *Service) DeletePolicy(ctx context.Context, policyARN string) error {
	p, err := s.Policy(ctx, policyARN)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteManagedPolicy(ctx, p.Name); err != nil {
		if errors.Is(err, ErrConflict) {
			return errorf(ErrConflict, "Cannot delete a policy attached to entities or used as a permissions boundary.")
		}
		return err
	}
	s.invalidate()
	return nil
}

func (s *Service) principal(ctx context.Context, kind PrincipalKind, name string) error {
	var err error
	if kind == KindUser {
		_, err = s.User(ctx, name)
	} else {
		_, err = s.Role(ctx, name)
	}
	return err
}

// PutInlinePolicy adds or replaces an inline policy of a user or role.
func (s *Service) PutInlinePolicy(ctx context.Context, kind PrincipalKind, principal, name, document string) error {
	if err := checkName("policyName", name); err != nil {
		return err
	}
	if err := s.principal(ctx, kind, principal); err != nil {
		return err
	}
	if err := checkIdentityDocument(document); err != nil {
		return err
	}
	if err := s.Store.PutInlinePolicy(ctx, kind, principal, name, document); err != nil {
		return err
	}
	s.invalidate()
	return nil
}

// AttachPolicy attaches a managed policy to a user or role.
func (s *Service) AttachPolicy(ctx context.Context, kind PrincipalKind, principal, policyARN string) error {
	if err := s.principal(ctx, kind, principal); err != nil {
		return err
	}
	p, err := s.Policy(ctx, policyARN)
	if err != nil {
		return err
	}
	if err := s.Store.AttachPolicy(ctx, kind, principal, p.Name); err != nil {
		return err
	}
	s.invalidate()
	return nil
}

// SetBoundary sets a user's or role's permissions boundary.
func (s *Service) SetBoundary(ctx context.Context, kind PrincipalKind, principal, policyARN string) error {
	if err := s.principal(ctx, kind, principal); err != nil {
		return err
	}
	if _, err := s.Policy(ctx, policyARN); err != nil {
		return err
	}
	if err := s.Store.SetBoundary(ctx, kind, principal, policyARN); err != nil {
		return err
	}
	s.invalidate()
	return nil
}

// DeleteInlinePolicy deletes an inline policy of a user or role.
func (s *Service) DeleteInlinePolicy(ctx context.Context, kind PrincipalKind, principal, name string) error {
	if err := s.principal(ctx, kind, principal); err != nil {
		return err
	}
	if err := s.Store.DeleteInlinePolicy(ctx, kind, principal, name); err != nil {
		if errors.Is(err, ErrNotFound) {
			return errorf(ErrNotFound, "The %s policy with name %s cannot be found.", kind, name)
		}
		return err
	}
	s.invalidate()
	return nil
}

// DetachPolicy detaches a managed policy from a user or role.
func (s *Service) DetachPolicy(ctx context.Context, kind PrincipalKind, principal, policyARN string) error {
	if err := s.principal(ctx, kind, principal); err != nil {
		return err
	}
	p, err := s.Policy(ctx, policyARN)
	if errors.Is(err, ErrNotFound) {
		return errorf(ErrNotFound, "Policy %s was not found.", policyARN)
	}
	if err != nil {
		return err
	}
	if err := s.Store.DetachPolicy(ctx, kind, principal, p.Name); err != nil {
		if errors.Is(err, ErrNotFound) {
			return errorf(ErrNotFound, "Policy %s was not found.", policyARN)
		}
		return err
	}
	s.invalidate()
	return nil
}

// DeleteBoundary removes a user's or role's permissions boundary.
func (s *Service) DeleteBoundary(ctx context.Context, kind PrincipalKind, principal string) error {
	if err := s.principal(ctx, kind, principal); err != nil {
		return err
	}
	if err := s.Store.SetBoundary(ctx, kind, principal, ""); err != nil {
		return err
	}
	s.invalidate()
	return nil
}
