package signing

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/errs"
)

// MaxRevocationReason bounds a revocation reason, as in AWS.
const MaxRevocationReason = 500

func checkReason(reason string) error {
	if n := len([]rune(reason)); n < 1 || n > MaxRevocationReason {
		return validationError("reason", truncate(reason, 32), fmt.Sprintf("must have length between 1 and %d, got %d", MaxRevocationReason, n))
	}
	return nil
}

// RevokeSignature revokes the signature a signing job made. It is
// irreversible: revoking it again is refused.
func (s *Service) RevokeSignature(ctx context.Context, jobID, reason, jobOwner, by string) error {
	if err := checkReason(reason); err != nil {
		return err
	}
	if jobOwner != "" && jobOwner != s.Account.ID {
		return newError(ErrNotFound, fmt.Sprintf("signing job %s of account %s does not exist on this service (its account is %s)", jobID, jobOwner, s.Account.ID))
	}
	if _, err := s.Job(ctx, jobID); err != nil {
		return err
	}
	err := s.Jobs.UpdateJob(ctx, jobID, func(j *Job) error {
		if j.Status != JobSucceeded {
			return newError(ErrInvalid, fmt.Sprintf("signing job %s is %s and made no signature to revoke", jobID, j.Status))
		}
		if !j.RevokedAt.IsZero() {
			return newError(ErrInvalid, fmt.Sprintf("the signature of signing job %s was already revoked at %s; revocation is irreversible", jobID, j.RevokedAt.Format(time.RFC3339)))
		}
		j.RevokedAt, j.RevokedBy, j.RevocationReason = s.now(), by, reason
		return nil
	})
	if err == nil {
		s.crls.clear() // after the commit, so no stale CRL can be cached
		s.revoked(ctx, Revocation{JobARN: s.Account.JobARN(jobID)})
	}
	return err
}

// Revocation is a revocation just committed: of one signature (JobARN),
// or of a profile version from EffectiveFrom on (ProfileVersionARN).
type Revocation struct {
	JobARN            string
	ProfileVersionARN string
	EffectiveFrom     time.Time
}

// Deps returns what the revocation affects, as the ARNs a verdict
// records it rests on.
func (r Revocation) Deps() []string {
	var d []string
	for _, a := range []string{r.JobARN, r.ProfileVersionARN} {
		if a != "" {
			d = append(d, a)
		}
	}
	return d
}

func (s *Service) revoked(ctx context.Context, r Revocation) {
	if s.OnRevocation != nil {
		s.OnRevocation(ctx, r)
	}
}

// RevokeProfileInput is RevokeSigningProfile's request.
type RevokeProfileInput struct {
	ProfileName, ProfileVersion, Reason string
	EffectiveTime                       time.Time
	RevokedBy                           string
}

// RevokeProfile revokes a profile version from an effective time on:
// signatures it made at or after that time are no longer trusted, earlier
// ones stay valid. The effective time must be in the past; a repeated
// revocation may move it earlier, never later. The profile becomes
// Revoked and signs nothing more.
func (s *Service) RevokeProfile(ctx context.Context, in RevokeProfileInput) error {
	if err := ValidateProfileName(in.ProfileName); err != nil {
		return err
	}
	if err := required("profileVersion", in.ProfileVersion); err != nil {
		return err
	}
	if err := ValidateVersion(in.ProfileVersion); err != nil {
		return err
	}
	if err := checkReason(in.Reason); err != nil {
		return err
	}
	now := s.now()
	if in.EffectiveTime.IsZero() {
		return errs.Null(ErrInvalid, "effectiveTime")
	}
	if in.EffectiveTime.After(now) {
		return newError(ErrInvalid, fmt.Sprintf("effectiveTime %s is in the future; it must be in the past (signatures made from then on stop being trusted)", in.EffectiveTime.UTC().Format(time.RFC3339)))
	}
	err := s.Store.RevokeVersion(ctx, in.ProfileName, in.ProfileVersion, func(p *Profile, v *Version) error {
		if !v.RevokedAt.IsZero() {
			if in.EffectiveTime.After(v.EffectiveFrom) {
				return newError(ErrInvalid, fmt.Sprintf("profile version %s is already revoked from %s; a new effectiveTime may only be earlier, not %s",
					in.ProfileVersion, v.EffectiveFrom.UTC().Format(time.RFC3339), in.EffectiveTime.UTC().Format(time.RFC3339)))
			}
			v.EffectiveFrom = in.EffectiveTime.UTC()
			return nil
		}
		v.RevokedAt, v.EffectiveFrom, v.RevokedBy, v.RevocationReason = now, in.EffectiveTime.UTC(), in.RevokedBy, in.Reason
		p.Status, p.StatusReason = StatusRevoked, "Revoked: "+in.Reason
		return nil
	})
	if err == nil {
		s.crls.clear()
		s.revoked(ctx, Revocation{ProfileVersionARN: s.Account.ProfileVersionARN(in.ProfileName, in.ProfileVersion), EffectiveFrom: in.EffectiveTime.UTC()})
	}
	if errors.Is(err, ErrNotFound) && !isSigningError(err) {
		return newError(ErrNotFound, fmt.Sprintf("signing profile %s has no version %s", in.ProfileName, in.ProfileVersion))
	}
	return err
}

// RevokedVersion returns the revocation of a profile's current version, if
// any (for GetSigningProfile's revocationRecord).
func (s *Service) RevokedVersion(ctx context.Context, p Profile) (Version, bool, error) {
	v, err := s.Store.ProfileVersion(ctx, p.Name, p.Version)
	if err != nil {
		return Version{}, false, err
	}
	return v, !v.RevokedAt.IsZero(), nil
}

// RevocationQuery is GetRevocationStatus's request: every field required.
type RevocationQuery struct {
	SignatureTimestamp time.Time
	PlatformID         string
	ProfileVersionARN  string
	JobARN             string
	CertificateHashes  []string
}

// RevocationStatus answers GetRevocationStatus: the entities among the
// query's that are revoked for a signature made at SignatureTimestamp —
// the job ARN if its signature is revoked, the profile version ARN if the
// version is revoked from a time at or before the signature, and the
// certificate hashes (hex SHA-384 of a certificate's TBS, followed by its
// issuer's) of the revoked leaf or intermediate. It agrees with the CRLs.
func (s *Service) RevocationStatus(ctx context.Context, q RevocationQuery) ([]string, error) {
	switch {
	case q.SignatureTimestamp.IsZero():
		return nil, required("signatureTimestamp", "")
	case q.PlatformID == "":
		return nil, required("platformId", "")
	case q.ProfileVersionARN == "":
		return nil, required("profileVersionArn", "")
	case q.JobARN == "":
		return nil, required("jobArn", "")
	case len(q.CertificateHashes) == 0:
		return nil, required("certificateHashes", "")
	}
	if _, ok := PlatformByID(q.PlatformID); !ok {
		return nil, newError(ErrInvalid, fmt.Sprintf("platformId %q is not a signing platform of this service", q.PlatformID))
	}
	name, version, err := s.Account.SigningProfile(q.ProfileVersionARN)
	if err != nil || version == "" {
		return nil, newError(ErrInvalid, fmt.Sprintf("profileVersionArn %q is not a signing profile version ARN of this account and partition", q.ProfileVersionARN))
	}
	jobID, err := s.jobIDFromARN(q.JobARN)
	if err != nil {
		return nil, err
	}
	revoked := []string{}
	hashes := map[string]bool{}
	for _, h := range q.CertificateHashes {
		hashes[strings.ToLower(h)] = true
	}
	v, err := s.Store.ProfileVersion(ctx, name, version)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return nil, err
	case !v.RevokedAt.IsZero() && !q.SignatureTimestamp.Before(v.EffectiveFrom):
		revoked = append(revoked, q.ProfileVersionARN)
		if inter, err := x509.ParseCertificate(v.Certificate); err == nil {
			if h := TBSHash(inter) + s.rootHash(); hashes[h] {
				revoked = append(revoked, h)
			}
		}
	}
	j, err := s.Jobs.Job(ctx, jobID)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return nil, err
	case !j.RevokedAt.IsZero():
		revoked = append(revoked, q.JobARN)
		if inter, err := x509.ParseCertificate(v.Certificate); err == nil && j.LeafHash != "" {
			if h := j.LeafHash + TBSHash(inter); hashes[h] {
				revoked = append(revoked, h)
			}
		}
	}
	return revoked, nil
}

func (s *Service) rootHash() string {
	if a, ok := s.Issuer.(*Authority); ok {
		return TBSHash(a.Root.Cert)
	}
	return ""
}

func (s *Service) jobIDFromARN(jobARN string) (string, error) {
	p, err := arn.Parse(jobARN)
	if err != nil || p.Service != "signer" || p.Partition != s.Account.Partition || p.Account != s.Account.ID {
		return "", newError(ErrInvalid, fmt.Sprintf("jobArn %q is not a signing job ARN of this account and partition", jobARN))
	}
	id, ok := strings.CutPrefix(p.Resource, "/signing-jobs/")
	if !ok || id == "" {
		return "", newError(ErrInvalid, fmt.Sprintf("jobArn %q is not a signing job ARN (resource must start with /signing-jobs/)", jobARN))
	}
	return id, nil
}
