package iam

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/policy"
)

// Resolved is what authorization needs to know about a caller.
type Resolved struct {
	Root      bool   // the account root: allowed everything, always audited
	Principal string // the caller's ARN
	ID        string // the unique id of the user or role (AIDA…, AROA…)
	UserID    string // aws:userid
	Username  string // aws:username (users only)
	Policies  policy.Policies
}

// Resolve returns the policies of the principal an access key belongs
// to: the account root, a user, or a role session. Results are cached
// until any identity changes.
func (s *Service) Resolve(ctx context.Context, principalARN string) (Resolved, error) {
	s.mu.Lock()
	gen := s.gen
	if c, ok := s.cache[principalARN]; ok && c.gen == gen && (s.MaxAge == 0 || s.now().Sub(c.at) < s.MaxAge) {
		s.mu.Unlock()
		return c.p, nil
	}
	s.mu.Unlock()
	r, err := s.resolve(ctx, principalARN)
	if err != nil {
		return r, err
	}
	s.mu.Lock()
	if s.gen == gen {
		if s.cache == nil {
			s.cache = map[string]cached{}
		}
		s.cache[principalARN] = cached{gen: gen, p: r, at: s.now()}
	}
	s.mu.Unlock()
	return r, nil
}

func (s *Service) resolve(ctx context.Context, principalARN string) (Resolved, error) {
	r := Resolved{Principal: principalARN}
	if principalARN == s.RootARN() {
		r.Root, r.UserID = true, s.Account.ID
		return r, nil
	}
	p, err := arn.Parse(principalARN)
	if err != nil || p.Account != s.Account.ID {
		return r, errorf(ErrNotFound, "the principal %s is not of this account", principalARN)
	}
	var kind PrincipalKind
	var name, boundary string
	switch {
	case p.Service == "iam" && strings.HasPrefix(p.Resource, "user/"):
		kind, name = KindUser, p.Resource[strings.LastIndex(p.Resource, "/")+1:]
		u, err := s.User(ctx, name)
		if err != nil {
			return r, err
		}
		if s.UserARN(u) != principalARN {
			return r, errorf(ErrNotFound, "the user %s has the ARN %s now, not %s", name, s.UserARN(u), principalARN)
		}
		r.UserID, r.Username, boundary, r.ID = u.ID, u.Name, u.Boundary, u.ID
	case p.Service == "sts" && strings.HasPrefix(p.Resource, "assumed-role/"):
		parts := strings.Split(p.Resource, "/")
		if len(parts) != 3 {
			return r, errorf(ErrNotFound, "the principal %s is not a role session", principalARN)
		}
		kind, name = KindRole, parts[1]
		role, err := s.Role(ctx, name)
		if err != nil {
			return r, err
		}
		r.UserID, boundary, r.ID = role.ID+":"+parts[2], role.Boundary, role.ID
		r.Policies.RoleARN = s.RoleARN(role)
	default:
		return r, errorf(ErrNotFound, "the principal %s is not a user or role session", principalARN)
	}
	inline, attached, err := s.Store.PrincipalPolicies(ctx, kind, name)
	if err != nil {
		return r, err
	}
	// Each document is named as the policy simulator names it: an
	// inline policy by its name and its holder's kind, a managed one by
	// its name as user-managed (a customer managed policy).
	for _, ip := range inline {
		d, err := policy.Parse([]byte(ip.Document), policy.Identity)
		if err != nil {
			return r, fmt.Errorf("stored policy of %s: %w", principalARN, err)
		}
		d.Source = policy.Source{ID: ip.Name, Type: string(kind)}
		r.Policies.Identity = append(r.Policies.Identity, d)
	}
	for _, pn := range attached {
		mp, err := s.Store.ManagedPolicy(ctx, pn)
		if err != nil {
			return r, err
		}
		d, err := policy.Parse([]byte(mp.Document), policy.Identity)
		if err != nil {
			return r, fmt.Errorf("stored policy %s: %w", pn, err)
		}
		d.Source = policy.Source{ID: mp.Name, Type: "user-managed"}
		r.Policies.Identity = append(r.Policies.Identity, d)
	}
	if boundary != "" {
		mp, err := s.Policy(ctx, boundary)
		if err != nil {
			return r, err
		}
		if r.Policies.Boundary, err = policy.Parse([]byte(mp.Document), policy.Identity); err != nil {
			return r, err
		}
		r.Policies.Boundary.Source = policy.Source{ID: mp.Name, Type: "user-managed"}
	}
	return r, nil
}

// roleByARN finds a role of this account by ARN.
func (s *Service) roleByARN(ctx context.Context, roleARN string) (Role, error) {
	p, err := arn.Parse(roleARN)
	if err != nil || p.Service != "iam" || !strings.HasPrefix(p.Resource, "role/") {
		return Role{}, errorf(ErrInvalid, "%s is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)", roleARN)
	}
	if p.Account != s.Account.ID {
		return Role{}, errorf(ErrDenied, "Roles of other accounts cannot be assumed here: %s", roleARN)
	}
	// The whole ARN, path included, names the role: a role /admins/x is
	// not role/x.
	r, err := s.Role(ctx, p.Resource[strings.LastIndex(p.Resource, "/")+1:])
	if err != nil || s.RoleARN(r) != roleARN {
		return Role{}, errorf(ErrDenied, "User is not authorized to perform: sts:AssumeRole on resource: %s", roleARN)
	}
	return r, nil
}

// TrustPolicy returns the trust policy of a role, as the resource policy
// of sts:AssumeRole on it.
func (s *Service) TrustPolicy(ctx context.Context, roleARN string) (*policy.Document, error) {
	r, err := s.roleByARN(ctx, roleARN)
	if err != nil {
		return nil, err
	}
	return policy.Parse([]byte(r.TrustPolicy), policy.Trust)
}

// ServiceMayAssume reports whether roleARN (path included) names a role
// of this account whose trust policy lets the service principal (such as
// lambda.amazonaws.com) assume it.
func (s *Service) ServiceMayAssume(ctx context.Context, roleARN, service string) (bool, error) {
	r, err := s.roleByARN(ctx, roleARN)
	if errors.Is(err, ErrDenied) || errors.Is(err, ErrInvalid) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	trust, err := policy.Parse([]byte(r.TrustPolicy), policy.Trust)
	if err != nil {
		return false, nil
	}
	// The service is no principal of the account: a trust policy that
	// names the account (its root) does not admit it.
	d := policy.Evaluate(policy.Policies{Resource: []*policy.Document{trust}}, policy.Request{Action: "sts:AssumeRole", Resource: roleARN,
		Context: map[string][]string{"aws:principalservicename": {service}, "aws:sourceaccount": {s.Account.ID}}})
	return d.Allowed(), nil
}

// Credentials are temporary credentials.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
	AssumedRoleARN  string
	AssumedRoleID   string
	SourceIdentity  string // the session's, if it has one
}

var sessionRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// Assumer is who asks for a role session.
type Assumer struct {
	// Principal is the caller's principal ARN, or the name of the
	// service that asks (lambda.amazonaws.com).
	Principal string
	// SourceIdentity is the source identity of the caller's own role
	// session: a session it assumes keeps it, as in AWS role chaining.
	SourceIdentity string
}

// IsService reports whether a service, not a principal, asks.
func (a Assumer) IsService() bool { return !strings.HasPrefix(a.Principal, "arn:") }

// AssumeRole issues credentials of a role session to a caller that the
// role's trust policy admits (the caller's own permission to call
// sts:AssumeRole is checked by authorization, with the trust policy as
// the resource policy). ctxKeys are the request's condition keys.
//
// sourceIdentity, if not empty, is the source identity the session is
// to have. A caller whose own session has one passes it on and cannot
// change it. A principal setting one (or passing one on) needs the trust
// policy to allow sts:SetSourceIdentity too, with sts:SourceIdentity in
// its context; a service (Lambda naming a function's sessions after the
// function) sets it as AWS's own services do, without.
func (s *Service) AssumeRole(ctx context.Context, who Assumer, roleARN, session string, duration int, ctxKeys map[string][]string, sourceIdentity string) (Credentials, error) {
	caller := who.Principal
	if who.SourceIdentity != "" {
		if sourceIdentity != "" && sourceIdentity != who.SourceIdentity {
			return Credentials{}, errorf(ErrInvalid, "The source identity of a role session cannot be changed: the caller's session has source identity %s.", who.SourceIdentity)
		}
		sourceIdentity = who.SourceIdentity
	}
	if !sessionRE.MatchString(session) {
		return Credentials{}, errs.Value(ErrInvalid, "roleSessionName", session, "must satisfy regular expression pattern: [\\w+=,.@-]* (2 to 64 characters)")
	}
	role, err := s.roleByARN(ctx, roleARN)
	if err != nil {
		return Credentials{}, err
	}
	if duration == 0 {
		duration = 3600
	}
	if duration < 900 || duration > role.MaxSessionDuration {
		return Credentials{}, errorf(ErrInvalid, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role (900 to %d seconds).", role.MaxSessionDuration)
	}
	trust, err := policy.Parse([]byte(role.TrustPolicy), policy.Trust)
	if err != nil {
		return Credentials{}, err
	}
	if sourceIdentity != "" {
		keys := make(map[string][]string, len(ctxKeys)+1)
		for k, v := range ctxKeys {
			keys[k] = v
		}
		keys["sts:sourceidentity"] = []string{sourceIdentity}
		ctxKeys = keys
	}
	d := policy.Evaluate(policy.Policies{Resource: []*policy.Document{trust}},
		policy.Request{Principal: caller, Account: s.Account.ID, Action: "sts:AssumeRole", Resource: roleARN, Context: ctxKeys})
	if !d.Allowed() {
		return Credentials{}, errorf(ErrDenied, "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller, roleARN)
	}
	if sourceIdentity != "" && !who.IsService() {
		d := policy.Evaluate(policy.Policies{Resource: []*policy.Document{trust}},
			policy.Request{Principal: caller, Account: s.Account.ID, Action: "sts:SetSourceIdentity", Resource: roleARN, Context: ctxKeys})
		if !d.Allowed() {
			return Credentials{}, errorf(ErrDenied, "User: %s is not authorized to perform: sts:SetSourceIdentity on resource: %s", caller, roleARN)
		}
	}
	return s.issue(ctx, role, session, duration, sourceIdentity)
}

func (s *Service) issue(ctx context.Context, role Role, session string, duration int, sourceIdentity string) (Credentials, error) {
	id, secret := NewAccessKey("ASIA")
	tok := make([]byte, 96)
	rand.Read(tok)
	c := Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: base64.StdEncoding.EncodeToString(tok),
		Expiration:     s.now().Add(time.Duration(duration) * time.Second).Truncate(time.Second),
		AssumedRoleARN: fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", s.Account.Partition, s.Account.ID, role.Name, session),
		AssumedRoleID:  role.ID + ":" + session, SourceIdentity: sourceIdentity}
	// The session is bound to the role's unique id: deleting the role
	// and creating another of the same name does not revive it.
	if err := s.Keys.CreateKey(ctx, Key{ID: c.AccessKeyID, Secret: c.SecretAccessKey, Token: c.SessionToken, Expires: c.Expiration,
		PrincipalARN: c.AssumedRoleARN, PrincipalID: role.ID, SourceIdentity: sourceIdentity}); err != nil {
		return Credentials{}, err
	}
	return c, nil
}

// WebIdentityProvider is a trusted OpenID Connect issuer.
type WebIdentityProvider interface {
	Host() string
	Verify(ctx context.Context, token string, now time.Time) (WebIdentity, error)
}

// WebIdentity is a verified token's identity.
type WebIdentity struct {
	Subject  string
	Audience []string
}

// Errors of AssumeRoleWithWebIdentity.
var (
	ErrInvalidIdentityToken = errors.New("invalid identity token")
	ErrExpiredToken         = errors.New("expired identity token")
)

// ProviderARN is an OIDC provider's ARN.
func (s *Service) ProviderARN(host string) string {
	return fmt.Sprintf("arn:%s:iam::%s:oidc-provider/%s", s.Account.Partition, s.Account.ID, host)
}

// AssumeRoleWithWebIdentity issues credentials of a role session to the
// holder of an ID token from a configured issuer that the role's trust
// policy admits (Principal {"Federated": PROVIDER_ARN}, with conditions on
// HOST:sub and HOST:aud).
func (s *Service) AssumeRoleWithWebIdentity(ctx context.Context, issuer string, roleARN, session, token string, duration int) (Credentials, WebIdentity, string, error) {
	if !sessionRE.MatchString(session) {
		return Credentials{}, WebIdentity{}, "", errs.Value(ErrInvalid, "roleSessionName", session, "must satisfy regular expression pattern: [\\w+=,.@-]* (2 to 64 characters)")
	}
	var prov WebIdentityProvider
	for _, p := range s.WebIdentity {
		if strings.TrimSuffix(p.Host(), "/") == strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(issuer, "https://"), "http://"), "/") {
			prov = p
		}
	}
	if prov == nil {
		return Credentials{}, WebIdentity{}, "", errorf(ErrInvalidIdentityToken, "No OpenIDConnect provider found in your account for %s", issuer)
	}
	id, err := prov.Verify(ctx, token, s.now())
	if err != nil {
		return Credentials{}, WebIdentity{}, "", err
	}
	role, err := s.roleByARN(ctx, roleARN)
	if err != nil {
		return Credentials{}, id, "", err
	}
	if duration == 0 {
		duration = 3600
	}
	if duration < 900 || duration > role.MaxSessionDuration {
		return Credentials{}, id, "", errorf(ErrInvalid, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role (900 to %d seconds).", role.MaxSessionDuration)
	}
	trust, err := policy.Parse([]byte(role.TrustPolicy), policy.Trust)
	if err != nil {
		return Credentials{}, id, "", err
	}
	host := prov.Host()
	keys := map[string][]string{
		"aws:federatedprovider":        {s.ProviderARN(host)},
		strings.ToLower(host + ":sub"): {id.Subject},
		strings.ToLower(host + ":aud"): id.Audience,
	}
	d := policy.Evaluate(policy.Policies{Resource: []*policy.Document{trust}},
		policy.Request{Action: "sts:AssumeRoleWithWebIdentity", Resource: roleARN, Context: keys})
	if !d.Allowed() {
		return Credentials{}, id, "", errorf(ErrDenied, "Not authorized to perform sts:AssumeRoleWithWebIdentity")
	}
	c, err := s.issue(ctx, role, session, duration, "")
	return c, id, host, err
}
