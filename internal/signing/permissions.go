package signing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/google/uuid"

	"github.com/signet/signet/internal/errs"
)

// Permission is one statement of a profile's cross-account permissions.
type Permission struct {
	StatementID    string `json:"statementId"`
	Action         string `json:"action"`
	Principal      string `json:"principal"`
	ProfileVersion string `json:"profileVersion,omitempty"`
}

// Policy is a profile's permission policy. RevisionID changes on every
// change and is empty while the policy has never been written.
type Policy struct {
	RevisionID  string
	Permissions []Permission
}

// Size is the policy's size in bytes, as reported by policySizeBytes.
func (p Policy) Size() int {
	if len(p.Permissions) == 0 {
		return 0
	}
	b, _ := json.Marshal(p.Permissions)
	return len(b)
}

// MaxPolicySize bounds a profile's permission policy.
const MaxPolicySize = 20 * 1024

// Actions a profile permission may grant.
var permissionActions = map[string]string{
	"signer:StartSigningJob":   PlatformLambda,   // not for container images
	"signer:SignPayload":       PlatformNotation, // not for Lambda
	"signer:GetSigningProfile": "",
	"signer:RevokeSignature":   "",
}

var statementIDRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,100}$`)

// AddPermissionInput is AddProfilePermission's request.
type AddPermissionInput struct {
	ProfileName, Action, Principal, StatementID, ProfileVersion, RevisionID string
}

// AddPermission adds a statement and returns the new revision id.
func (s *Service) AddPermission(ctx context.Context, in AddPermissionInput) (string, error) {
	if err := ValidateProfileName(in.ProfileName); err != nil {
		return "", err
	}
	only, ok := permissionActions[in.Action]
	if !ok {
		return "", validationError("action", in.Action, "must be one of: signer:StartSigningJob, signer:SignPayload, signer:GetSigningProfile, signer:RevokeSignature")
	}
	if !statementIDRE.MatchString(in.StatementID) {
		return "", validationError("statementId", in.StatementID, "must be 1 to 100 letters, digits, hyphens or underscores")
	}
	if in.Principal == "" || len(in.Principal) > 2048 {
		return "", validationError("principal", in.Principal, "must be an AWS account id or principal ARN of 1 to 2048 characters")
	}
	if in.ProfileVersion != "" {
		if err := ValidateVersion(in.ProfileVersion); err != nil {
			return "", err
		}
		if _, err := s.Store.ProfileVersion(ctx, in.ProfileName, in.ProfileVersion); errors.Is(err, ErrNotFound) {
			return "", newError(ErrNotFound, fmt.Sprintf("signing profile %s has no version %s", in.ProfileName, in.ProfileVersion))
		} else if err != nil {
			return "", err
		}
	}
	p, err := s.Store.Profile(ctx, in.ProfileName)
	if errors.Is(err, ErrNotFound) {
		return "", notFound(in.ProfileName)
	} else if err != nil {
		return "", err
	}
	if only != "" && p.PlatformID != only {
		return "", newError(ErrInvalid, fmt.Sprintf("action %s applies only to platform %s; signing profile %s has platform %s", in.Action, only, in.ProfileName, p.PlatformID))
	}
	var rev string
	err = s.Store.UpdatePolicy(ctx, in.ProfileName, func(pol *Policy) error {
		if in.RevisionID != "" && in.RevisionID != pol.RevisionID {
			return newError(ErrConflict, fmt.Sprintf("revisionId %s is not the profile's current revision; call ListProfilePermissions for the current one and retry", in.RevisionID))
		}
		for _, st := range pol.Permissions {
			if st.StatementID == in.StatementID {
				return newError(ErrConflict, fmt.Sprintf("statementId %s already exists on signing profile %s; choose another id or remove it first", in.StatementID, in.ProfileName))
			}
		}
		pol.Permissions = append(pol.Permissions, Permission{StatementID: in.StatementID, Action: in.Action, Principal: in.Principal, ProfileVersion: in.ProfileVersion})
		if pol.Size() > MaxPolicySize {
			return newError(ErrLimitExceeded, fmt.Sprintf("the permission policy of signing profile %s would exceed %d bytes; remove statements first", in.ProfileName, MaxPolicySize))
		}
		pol.RevisionID = uuid.NewString()
		rev = pol.RevisionID
		return nil
	})
	if errors.Is(err, ErrNotFound) && !isSigningError(err) {
		return "", notFound(in.ProfileName)
	}
	return rev, err
}

// RemovePermission removes a statement; revisionID must be current.
func (s *Service) RemovePermission(ctx context.Context, name, statementID, revisionID string) (string, error) {
	if err := ValidateProfileName(name); err != nil {
		return "", err
	}
	if revisionID == "" {
		return "", &errs.FieldError{Kind: ErrInvalid, Field: "revisionId", Null: true, Constraint: "must not be null (pass the revisionId from ListProfilePermissions)"}
	}
	var rev string
	err := s.Store.UpdatePolicy(ctx, name, func(pol *Policy) error {
		if revisionID != pol.RevisionID {
			return newError(ErrConflict, fmt.Sprintf("revisionId %s is not the profile's current revision; call ListProfilePermissions for the current one and retry", revisionID))
		}
		for i, st := range pol.Permissions {
			if st.StatementID == statementID {
				pol.Permissions = append(pol.Permissions[:i], pol.Permissions[i+1:]...)
				pol.RevisionID = uuid.NewString()
				rev = pol.RevisionID
				return nil
			}
		}
		return newError(ErrNotFound, fmt.Sprintf("signing profile %s has no permission statement %s", name, statementID))
	})
	if errors.Is(err, ErrNotFound) && !isSigningError(err) {
		return "", notFound(name)
	}
	return rev, err
}

// Permissions returns the profile's permission policy.
func (s *Service) Permissions(ctx context.Context, name string) (Policy, error) {
	if err := ValidateProfileName(name); err != nil {
		return Policy{}, err
	}
	p, err := s.Store.Policy(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return Policy{}, notFound(name)
	}
	return p, err
}

func isSigningError(err error) bool {
	var e *errs.Error
	return errors.As(err, &e)
}
