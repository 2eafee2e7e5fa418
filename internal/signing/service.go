package signing

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/notaryproject/tspclient-go"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/secretscan"
)

// Store persists signing profiles. The database implements it; every
// method is durable once it returns and safe for concurrent use.
type Store interface {
	// CreateProfile stores a new profile and its first version in one
	// transaction. It returns ErrConflict if the name exists in any status.
	CreateProfile(ctx context.Context, p Profile, v Version) error
	// AddVersion stores v and makes p (whose Version is v.Version) the
	// profile's current state, in one transaction, provided the stored
	// current version is still prevVersion; otherwise ErrConflict.
	// ErrNotFound if the profile does not exist.
	AddVersion(ctx context.Context, prevVersion string, p Profile, v Version) error
	// Profile returns the named profile, or ErrNotFound.
	Profile(ctx context.Context, name string) (Profile, error)
	// ProfileVersion returns one version of a profile, or ErrNotFound.
	ProfileVersion(ctx context.Context, name, version string) (Version, error)
	// ListProfiles returns up to q.Limit profiles ordered by name, with
	// names after q.After, matching q's filters.
	ListProfiles(ctx context.Context, q ProfileQuery) ([]Profile, error)
	// UpdateProfile reads the named profile, calls fn on it and, if fn
	// returns nil, writes the result back, all in one transaction. Only
	// Status, StatusReason, CanceledAt and Tags are written. ErrNotFound if
	// absent; fn's error is returned as is.
	UpdateProfile(ctx context.Context, name string, fn func(*Profile) error) error
	// UpdatePolicy reads the profile's permission policy, calls fn on it
	// and, if fn returns nil, writes it back, in one transaction.
	// ErrNotFound if the profile is absent; fn's error is returned as is.
	UpdatePolicy(ctx context.Context, name string, fn func(*Policy) error) error
	// Policy returns the profile's permission policy (empty if none), or
	// ErrNotFound if the profile is absent.
	Policy(ctx context.Context, name string) (Policy, error)
	// RevokeVersion reads a profile and one of its versions, calls fn and
	// writes back the profile's status and the version's revocation
	// fields, in one transaction. ErrNotFound; fn's error as is.
	RevokeVersion(ctx context.Context, name, version string, fn func(*Profile, *Version) error) error
	// RevokedVersions returns every revoked profile version.
	RevokedVersions(ctx context.Context) ([]Version, error)
	// NextCRLNumber returns a CRL number for issuer greater than any it
	// returned before.
	NextCRLNumber(ctx context.Context, issuer string) (int64, error)
	// RevocationEpoch counts the revocations committed (RevokeVersion
	// and the revocations of JobStore.UpdateJob, each in its own
	// transaction).
	RevocationEpoch(ctx context.Context) (int64, error)
}

// ProfileQuery selects profiles for ListProfiles.
type ProfileQuery struct {
	After      string   // names strictly after this one
	Limit      int      // at most this many (> 0)
	PlatformID string   // "" for any
	Statuses   []Status // empty for any
}

// Service implements the signing-profile operations of the Signer API.
type Service struct {
	Store   Store
	Issuer  Issuer
	Account arn.Account
	Now     func() time.Time // nil: time.Now

	// Jobs and Objects serve signing jobs; Wake, if set, is called when a
	// job is queued.
	Jobs    JobStore
	Objects Objects
	Wake    func()

	// Timestamper, if set, timestamps every signature (RFC 3161); if
	// TSARoots is set too, each token is verified against it first.
	Timestamper tspclient.Timestamper
	TSARoots    *x509.CertPool

	// CRLValidity is how long CRLs and OCSP responses are valid (their
	// nextUpdate); zero means DefaultCRLValidity.
	CRLValidity time.Duration

	// OnRevocation, if set, is called after each revocation is
	// committed, so that caches of verdicts (admission) and running
	// workloads learn of it at once.
	OnRevocation func(ctx context.Context, r Revocation)
	// OnPayloadSigned, if set, is called after SignPayload signed an
	// artifact, with its digest (sha256:…): a refusal cached for it
	// ("unsigned") may no longer hold.
	OnPayloadSigned func(ctx context.Context, digest string)

	// ScanAllowlist is the installation's secret-scan allowlist: the
	// findings it matches do not fail or mark a signing job.
	ScanAllowlist *secretscan.Allowlist
	// OnScanFindings, if set, is called when a signing job's secret scan
	// found something not allowlisted, before the job ends: failed is
	// true if the profile enforces (the job fails), false if it warns
	// (the job signs). The findings never hold the secrets.
	OnScanFindings func(ctx context.Context, j Job, failed bool, findings []secretscan.Finding)

	// SharedStore says other processes revoke in the same Store (nodes
	// sharing a database): before answering from its cached CRLs and
	// OCSP responses the Service then compares the Store's revocation
	// count with the one they were made under (see Freshen).
	SharedStore bool
	// OnRevocationsElsewhere, if set, is called when Freshen finds
	// revocations another process committed, so that other caches
	// resting on revocation status (admission verdicts) are dropped too.
	OnRevocationsElsewhere func()

	crls       respCache // CRLs and OCSP responses
	responders responders
	epochMu    sync.Mutex
	epoch      int64 // the revocation count the cached responses were made under
	epochs     epochReads
}

// epochReads shares reads of the revocation count among concurrent
// callers without ever giving one a count read before it asked: at most
// one read is in flight, and callers arriving meanwhile wait for the next
// read, which starts after they arrived (a burst of admission reviews
// costs two reads, not one each).
type epochReads struct {
	mu      sync.Mutex
	running bool
	next    *epochRead // the read that starts when the running one ends
}

type epochRead struct {
	done   chan struct{}
	joined int // callers waiting for it
	n      int64
	err    error
}

func (e *epochReads) read(ctx context.Context, store Store) (int64, error) {
	e.mu.Lock()
	if !e.running {
		e.running = true
		e.mu.Unlock()
		n, err := store.RevocationEpoch(ctx)
		e.finish(ctx, store)
		return n, err
	}
	if e.next == nil {
		e.next = &epochRead{done: make(chan struct{})}
	}
	r := e.next
	r.joined++
	e.mu.Unlock()
	select {
	case <-r.done:
		return r.n, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// finish ends the running read and runs the waiting one, if any, for the
// callers that joined it.
func (e *epochReads) finish(ctx context.Context, store Store) {
	for {
		e.mu.Lock()
		r := e.next
		e.next = nil
		if r == nil {
			e.running = false
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
		r.n, r.err = store.RevocationEpoch(context.WithoutCancel(ctx))
		close(r.done)
	}
}

// Freshen drops the cached CRLs and OCSP responses if a revocation was
// committed since they were made, by this process or another sharing the
// Store, and reports whether it did. Without SharedStore it does nothing
// (this process's own revocations clear the cache as they commit). A
// revocation is thus in force on every node as soon as it is answered,
// whether or not the nodes' notification has arrived.
func (s *Service) Freshen(ctx context.Context) bool {
	if !s.SharedStore {
		return false
	}
	n, err := s.epochs.read(ctx, s.Store)
	// The caches are dropped before the new count is recorded, under one
	// lock: a concurrent caller that sees the new count finds them
	// dropped.
	s.epochMu.Lock()
	defer s.epochMu.Unlock()
	if err == nil && n <= s.epoch {
		return false // nothing new (or a read older than one already taken)
	}
	// A revocation since, or no way to tell: answer from nothing cached
	// (issuing reads the revocations themselves).
	s.crls.clear()
	if s.OnRevocationsElsewhere != nil {
		s.OnRevocationsElsewhere()
	}
	if err == nil {
		s.epoch = n
	}
	return true
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// PutProfileResult is PutSigningProfile's answer.
type PutProfileResult struct {
	ARN, Version, VersionARN string
}

// PutProfile creates a signing profile, or a new version of an active one.
//
// A repeated call with the same configuration returns the current version
// (it is idempotent); a call with a different validity, overrides or
// signing parameters creates a new version with a new intermediate CA. A
// canceled or revoked name cannot be reused.
func (s *Service) PutProfile(ctx context.Context, in PutProfileInput) (PutProfileResult, error) {
	if err := ValidateProfileName(in.Name); err != nil {
		return PutProfileResult{}, err
	}
	if in.PlatformID == "" {
		return PutProfileResult{}, &errs.FieldError{Kind: ErrInvalid, Field: "platformId", Null: true, Constraint: "must not be null (use one of: " + strings.Join(platformIDs(), ", ") + ")"}
	}
	plat, ok := PlatformByID(in.PlatformID)
	if !ok {
		return PutProfileResult{}, newError(ErrInvalid, fmt.Sprintf("platformId %q is not a signing platform of this service; use one of: %s (see ListSigningPlatforms)", in.PlatformID, strings.Join(platformIDs(), ", ")))
	}
	if in.CertificateARN != "" {
		return PutProfileResult{}, newError(ErrInvalid, fmt.Sprintf("signingMaterial is not supported for platform %s: the service creates and manages the signing keys and certificates; remove signingMaterial", plat.ID))
	}
	validity := DefaultValidity
	if in.Validity != nil {
		validity = *in.Validity
	}
	if err := validateValidity(validity); err != nil {
		return PutProfileResult{}, err
	}
	if err := validateOverrides(plat, in.Overrides); err != nil {
		return PutProfileResult{}, err
	}
	if f, ok := in.SigningParameters[SignatureFormatParameter]; ok && !strings.EqualFold(f, "jws") && !strings.EqualFold(f, "cose") {
		return PutProfileResult{}, validationError("signingParameters."+SignatureFormatParameter, f, "must be jws or cose")
	}
	if name, ok := in.SigningParameters[VerificationPluginParameter]; ok {
		switch {
		case plat.ID != PlatformNotation:
			return PutProfileResult{}, newError(ErrInvalid, fmt.Sprintf("signingParameters.%s applies to %s profiles (their SignPayload envelopes), not to %s; remove it", VerificationPluginParameter, PlatformNotation, plat.ID))
		case !validPluginName.MatchString(name):
			return PutProfileResult{}, validationError("signingParameters."+VerificationPluginParameter, name, "must be a Notation plugin name such as "+AWSPluginName+": letters, digits, '.', '_' and '-', at most 128")
		}
	}
	if mode, ok := in.SigningParameters[SecretScanParameter]; ok {
		switch {
		case plat.ID != PlatformLambda:
			return PutProfileResult{}, newError(ErrInvalid, fmt.Sprintf("signingParameters.%s applies to %s profiles (their signing jobs), not to %s; remove it", SecretScanParameter, PlatformLambda, plat.ID))
		case !strings.EqualFold(mode, ScanEnforce) && !strings.EqualFold(mode, ScanWarn) && !strings.EqualFold(mode, ScanOff):
			return PutProfileResult{}, validationError("signingParameters."+SecretScanParameter, mode, "must be enforce, warn or off")
		}
	}
	if len(in.SigningParameters) > 20 {
		return PutProfileResult{}, newError(ErrInvalid, "signingParameters may hold at most 20 entries")
	}
	if err := ValidateTags(in.Tags); err != nil {
		return PutProfileResult{}, err
	}
	now := s.now()
	want := Profile{
		Name:              in.Name,
		PlatformID:        plat.ID,
		Validity:          validity,
		SigningParameters: in.SigningParameters,
		Overrides:         in.Overrides,
		Tags:              in.Tags,
		Status:            StatusActive,
		CreatedAt:         now,
	}
	if want.Tags == nil {
		want.Tags = map[string]string{}
	}
	if want.SigningParameters == nil {
		want.SigningParameters = map[string]string{}
	}

	cur, err := s.Store.Profile(ctx, in.Name)
	switch {
	case errors.Is(err, ErrNotFound):
		v, err := s.newVersion(ctx, in.Name, now)
		if err != nil {
			return PutProfileResult{}, err
		}
		want.Version = v.Version
		if err := s.Store.CreateProfile(ctx, want, v); err != nil {
			if errors.Is(err, ErrConflict) {
				return PutProfileResult{}, newError(ErrConflict, fmt.Sprintf("signing profile %s was created by a concurrent request; retry to read it", in.Name))
			}
			return PutProfileResult{}, fmt.Errorf("failed to store profile: %w", err)
		}
		return s.result(want), nil
	case err != nil:
		return PutProfileResult{}, fmt.Errorf("failed to read profile: %w", err)
	}

	switch cur.Status {
	case StatusCanceled:
		return PutProfileResult{}, newError(ErrInvalid, fmt.Sprintf("signing profile name %s belongs to a profile canceled at %s; canceled names cannot be reused, choose a different name", in.Name, cur.CanceledAt.Format(time.RFC3339)))
	case StatusRevoked:
		return PutProfileResult{}, newError(ErrInvalid, fmt.Sprintf("signing profile %s is revoked and can create no new versions; choose a different name", in.Name))
	}
	if cur.PlatformID != want.PlatformID {
		return PutProfileResult{}, newError(ErrInvalid, fmt.Sprintf("signing profile %s exists with platform %s; a profile's platform cannot change, choose a different name", in.Name, cur.PlatformID))
	}
	if cur.sameConfig(want) && (len(in.Tags) == 0 || maps.Equal(cur.Tags, in.Tags)) {
		return s.result(cur), nil
	}
	if cur.sameConfig(want) {
		// Only tags differ: apply them, keep the version.
		err := s.Store.UpdateProfile(ctx, in.Name, func(p *Profile) error {
			maps.Copy(p.Tags, in.Tags)
			if len(p.Tags) > MaxTags {
				return newError(ErrInvalid, fmt.Sprintf("signing profile %s would carry %d tags; the limit is %d", in.Name, len(p.Tags), MaxTags))
			}
			return nil
		})
		if err != nil {
			return PutProfileResult{}, err
		}
		return s.result(cur), nil
	}
	v, err := s.newVersion(ctx, in.Name, now)
	if err != nil {
		return PutProfileResult{}, err
	}
	next := want
	next.Version = v.Version
	next.CreatedAt = cur.CreatedAt
	next.Tags = maps.Clone(cur.Tags)
	maps.Copy(next.Tags, in.Tags)
	if len(next.Tags) > MaxTags {
		return PutProfileResult{}, newError(ErrInvalid, fmt.Sprintf("signing profile %s would carry %d tags; the limit is %d", in.Name, len(next.Tags), MaxTags))
	}
	if err := s.Store.AddVersion(ctx, cur.Version, next, v); err != nil {
		if errors.Is(err, ErrConflict) {
			return PutProfileResult{}, newError(ErrConflict, fmt.Sprintf("signing profile %s was changed by a concurrent request; retry", in.Name))
		}
		return PutProfileResult{}, fmt.Errorf("failed to store profile version: %w", err)
	}
	return s.result(next), nil
}

func (s *Service) result(p Profile) PutProfileResult {
	return PutProfileResult{
		ARN:        s.Account.ProfileARN(p.Name),
		Version:    p.Version,
		VersionARN: s.Account.ProfileVersionARN(p.Name, p.Version),
	}
}

func (s *Service) newVersion(ctx context.Context, name string, now time.Time) (Version, error) {
	id := newVersionID()
	keyID, cert, err := s.Issuer.IssueProfileCA(ctx, name, id, now)
	if err != nil {
		return Version{}, fmt.Errorf("failed to issue profile CA: %w", err)
	}
	return Version{ProfileName: name, Version: id, KeyID: keyID, Certificate: cert, CreatedAt: now}, nil
}

func notFound(name string) error {
	return newError(ErrNotFound, fmt.Sprintf("signing profile %s does not exist; check the name (ListSigningProfiles lists them)", name))
}

// Profile returns the named profile.
func (s *Service) Profile(ctx context.Context, name, owner string) (Profile, error) {
	if owner != "" && owner != s.Account.ID {
		return Profile{}, newError(ErrNotFound, fmt.Sprintf("signing profile %s of account %s does not exist on this service (its account is %s)", name, owner, s.Account.ID))
	}
	if err := ValidateProfileName(name); err != nil {
		return Profile{}, err
	}
	p, err := s.Store.Profile(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return Profile{}, notFound(name)
	}
	return p, err
}

// ListProfilesInput selects and pages ListSigningProfiles.
type ListProfilesInput struct {
	IncludeCanceled bool
	PlatformID      string
	Statuses        []Status
	MaxResults      int    // 0: 25
	NextToken       string // from a previous page
}

// ListProfiles lists profiles. Canceled profiles are listed only with
// IncludeCanceled or when Statuses names Canceled.
func (s *Service) ListProfiles(ctx context.Context, in ListProfilesInput) ([]Profile, string, error) {
	limit, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeToken(in.NextToken)
	if err != nil {
		return nil, "", err
	}
	statuses := in.Statuses
	for _, st := range statuses {
		if st != StatusActive && st != StatusCanceled && st != StatusRevoked {
			return nil, "", validationError("statuses", string(st), "must satisfy enum value set: [Active, Canceled, Revoked]")
		}
	}
	if len(statuses) == 0 {
		statuses = []Status{StatusActive, StatusRevoked}
		if in.IncludeCanceled {
			statuses = nil
		}
	}
	ps, err := s.Store.ListProfiles(ctx, ProfileQuery{After: after, Limit: limit + 1, PlatformID: in.PlatformID, Statuses: statuses})
	if err != nil {
		return nil, "", fmt.Errorf("failed to list profiles: %w", err)
	}
	next := ""
	if len(ps) > limit {
		ps = ps[:limit]
		next = encodeToken(ps[limit-1].Name)
	}
	return ps, next, nil
}

// CancelProfile cancels a profile: it stays listable but signs nothing new,
// and its name cannot be reused. Canceling a canceled profile succeeds and
// changes nothing.
func (s *Service) CancelProfile(ctx context.Context, name string) error {
	if err := ValidateProfileName(name); err != nil {
		return err
	}
	err := s.Store.UpdateProfile(ctx, name, func(p *Profile) error {
		if p.Status == StatusCanceled {
			return errUnchanged
		}
		p.Status = StatusCanceled
		p.StatusReason = "Canceled by request"
		p.CanceledAt = s.now()
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return nil
	case errors.Is(err, ErrNotFound):
		return notFound(name)
	}
	return err
}

// errUnchanged aborts an update that has nothing to write.
var errUnchanged = errors.New("unchanged")
