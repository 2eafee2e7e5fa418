package kms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/signet/signet/internal/errs"
)

// Grant lets a principal use a key for some operations, beside its key
// policy, optionally only with a given encryption context.
type Grant struct {
	ID, KeyID, Name   string
	Grantee, Retiring string // principal ARNs
	Operations        []string
	ContextSubset     map[string]string
	ContextEquals     map[string]string
	Issuer            string
	CreatedAt         time.Time
}

// GrantStore persists grants.
type GrantStore interface {
	PutGrant(ctx context.Context, g Grant) error
	Grants(ctx context.Context, keyID string) ([]Grant, error)
	// GrantKey returns the key of a grant, or ErrNotFound.
	GrantKey(ctx context.Context, id string) (string, error)
	DeleteGrant(ctx context.Context, keyID, id string) error
}

// grantOperations are the operations a grant may allow.
var grantOperations = []string{"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
	"CreateGrant", "RetireGrant", "DescribeKey", "Sign", "Verify", "GetPublicKey"}

// The grant operations of each key usage (the others apply to every key).
var (
	encryptOperations = []string{"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo"}
	signOperations    = []string{"Sign", "Verify", "GetPublicKey"}
)

// CreateGrantInput is CreateGrant's request.
type CreateGrantInput struct {
	KeyRef, Name, Grantee, Retiring, Issuer string
	Operations                              []string
	ContextSubset, ContextEquals            map[string]string
}

// CreateGrant records a grant and returns it; its id is also its token.
func (s *Service) CreateGrant(ctx context.Context, gs GrantStore, in CreateGrantInput) (Grant, error) {
	switch {
	case in.Grantee == "":
		return Grant{}, errs.Null(ErrInvalid, "granteePrincipal")
	case !strings.HasPrefix(in.Grantee, "arn:"):
		return Grant{}, errs.Value(ErrInvalid, "granteePrincipal", in.Grantee, "must be a principal ARN")
	case len(in.Operations) == 0:
		return Grant{}, errs.Null(ErrInvalid, "operations")
	case in.ContextSubset != nil && in.ContextEquals != nil:
		return Grant{}, errs.Errorf(ErrInvalid, "Constraints may have EncryptionContextSubset or EncryptionContextEquals, not both")
	}
	for _, op := range in.Operations {
		if !slices.Contains(grantOperations, op) {
			return Grant{}, errs.Value(ErrInvalid, "operations", op, "must be one of %s", strings.Join(grantOperations, ", "))
		}
	}
	k, err := s.Resolve(ctx, in.KeyRef)
	if err != nil {
		return Grant{}, err
	}
	if k.State == StatePendingDeletion {
		return Grant{}, errs.Errorf(ErrInvalidState, "%s is pending deletion.", s.ARN(k.ID))
	}
	for _, op := range in.Operations {
		sign, encrypt := slices.Contains(signOperations, op), slices.Contains(encryptOperations, op)
		if sign && k.Usage != UsageSign || encrypt && k.Usage != UsageEncrypt {
			return Grant{}, errs.Errorf(ErrInvalid, "Grant operation %s is not valid for a %s key (%s)", op, k.Usage, s.ARN(k.ID))
		}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return Grant{}, err
	}
	g := Grant{ID: hex.EncodeToString(b), KeyID: k.ID, Name: in.Name, Grantee: in.Grantee, Retiring: in.Retiring,
		Operations: in.Operations, ContextSubset: in.ContextSubset, ContextEquals: in.ContextEquals, Issuer: in.Issuer, CreatedAt: s.now()}
	return g, gs.PutGrant(ctx, g)
}

// cryptoOperations are the grant operations that take an encryption
// context: a grant's constraints apply to these only, as in AWS
// (DescribeKey is allowed whatever the constraints). CreateGrant keeps
// the constraints too: its request has no encryption context, so a
// constrained grant does not let its grantee create grants (AWS lets it
// create ones at least as constrained; Signet does not yet).
var cryptoOperations = []string{"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo", "CreateGrant"}

// GrantIDKey is the condition key of a RetireGrant request: the grant it
// names (its id or token). Only the statements of RetirePolicy read it.
const GrantIDKey = "signet:grantid"

// Statements are a grant as key policy statements that allow exactly
// what the grant does: its grantee, its operations, its constraints
// (for the cryptographic operations). RetireGrant is not among them: who
// may retire a grant is RetirePolicy's.
func (g Grant) Statements() ([]json.RawMessage, error) {
	var constrained, free []string
	for _, op := range g.Operations {
		switch {
		case op == "RetireGrant":
		case slices.Contains(cryptoOperations, op):
			constrained = append(constrained, "kms:"+op)
		default:
			free = append(free, "kms:"+op)
		}
	}
	var out []json.RawMessage
	statement := func(sid string, actions []string, cond map[string]map[string]any) error {
		if len(actions) == 0 {
			return nil
		}
		st := map[string]any{"Sid": sid, "Effect": "Allow", "Principal": map[string]string{"AWS": g.Grantee}, "Action": actions, "Resource": "*"}
		if len(cond) > 0 {
			st["Condition"] = cond
		}
		b, err := json.Marshal(st)
		out = append(out, b)
		return err
	}
	if err := statement("grant-"+g.ID[:12], constrained, g.constraints()); err != nil {
		return nil, err
	}
	if err := statement("grant-"+g.ID[:12]+"-unconstrained", free, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// constraints are a grant's EncryptionContextSubset or
// EncryptionContextEquals as policy conditions. As in AWS, a
// constraint's keys match whatever their case (condition keys are
// case-insensitive), its values exactly.
func (g Grant) constraints() map[string]map[string]any {
	cond := map[string]map[string]any{}
	add := func(op, key string, v any) {
		if cond[op] == nil {
			cond[op] = map[string]any{}
		}
		cond[op][key] = v
	}
	for k, v := range g.ContextSubset {
		add("StringEquals", "kms:EncryptionContext:"+k, v)
	}
	if g.ContextEquals != nil {
		keys := make([]string, 0, len(g.ContextEquals))
		for k, v := range g.ContextEquals {
			add("StringEquals", "kms:EncryptionContext:"+k, v)
			keys = append(keys, k)
		}
		slices.Sort(keys)
		// Exactly these keys: none other, and all of them.
		add("ForAllValues:StringEqualsIgnoreCase", "kms:EncryptionContextKeys", keys)
		add("Null", "kms:EncryptionContextKeys", "false")
	}
	return cond
}

// retirers are the principals a grant lets retire it: its retiring
// principal, and its grantee when it grants RetireGrant.
func (g Grant) retirers() []string {
	var p []string
	if g.Retiring != "" {
		p = append(p, g.Retiring)
	}
	if slices.Contains(g.Operations, "RetireGrant") && g.Grantee != g.Retiring {
		p = append(p, g.Grantee)
	}
	return p
}

// GrantPolicy is a key's grants as one policy document (nil when none).
func GrantPolicy(grants []Grant) ([]byte, error) {
	if len(grants) == 0 {
		return nil, nil
	}
	var sts []json.RawMessage
	for _, g := range grants {
		st, err := g.Statements()
		if err != nil {
			return nil, err
		}
		sts = append(sts, st...)
	}
	return json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": sts})
}

// RetirePolicy is who may retire a key's grants, as one policy document
// that stands in for the key policy when RetireGrant is authorized: in
// AWS the grant alone decides, and kms:RetireGrant in a key policy has
// no effect. Each grant allows its retiring principal (and its grantee,
// when it grants RetireGrant) to retire it, and no other grant
// (GrantIDKey); a retiring principal that is an account delegates to
// the account's IAM policies. It is nil when no grant names a retiring
// principal.
func RetirePolicy(grants []Grant) ([]byte, error) {
	var sts []any
	for _, g := range grants {
		p := g.retirers()
		if len(p) == 0 {
			continue
		}
		sts = append(sts, map[string]any{"Sid": "retire-" + g.ID[:12], "Effect": "Allow", "Principal": map[string][]string{"AWS": p},
			"Action": "kms:RetireGrant", "Resource": "*", "Condition": map[string]any{"StringEquals": map[string]string{GrantIDKey: g.ID}}})
	}
	if sts == nil {
		return nil, nil
	}
	return json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": sts})
}

// RetireGrant removes a grant (RetireGrant and RevokeGrant: the caller
// was authorized for it, by RetirePolicy or by the key's policies).
func (s *Service) RetireGrant(ctx context.Context, gs GrantStore, keyRef, grantID string) error {
	if grantID == "" {
		return errs.Null(ErrInvalid, "grantId")
	}
	k, err := s.Resolve(ctx, keyRef)
	if err != nil {
		return err
	}
	grants, err := gs.Grants(ctx, k.ID)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if g.ID == grantID {
			return gs.DeleteGrant(ctx, k.ID, g.ID)
		}
	}
	return errs.Errorf(ErrNotFound, "Grant %s of key %s does not exist", grantID, s.ARN(k.ID))
}

// Tag adds or replaces tags of a key (at most 50 in all).
func (s *Service) Tag(ctx context.Context, keyRef string, tags map[string]string) error {
	k, err := s.Resolve(ctx, keyRef)
	if err != nil {
		return err
	}
	return s.Store.UpdateKey(ctx, k.ID, func(k *Key) (*Material, error) {
		for t, v := range tags {
			if t == "" || len(t) > 128 || len(v) > 256 {
				return nil, errs.Errorf(ErrInvalid, "tag key %q: keys are 1–128 characters, values at most 256", t)
			}
			k.Tags[t] = v
		}
		if len(k.Tags) > 50 {
			return nil, errs.Errorf(ErrInvalid, "a key has at most 50 tags; this would give it %d", len(k.Tags))
		}
		return nil, nil
	})
}

// Untag removes tags of a key.
func (s *Service) Untag(ctx context.Context, keyRef string, keys []string) error {
	k, err := s.Resolve(ctx, keyRef)
	if err != nil {
		return err
	}
	return s.Store.UpdateKey(ctx, k.ID, func(k *Key) (*Material, error) {
		for _, t := range keys {
			delete(k.Tags, t)
		}
		return nil, nil
	})
}

func (g Grant) String() string { return fmt.Sprintf("grant %s on %s for %s", g.ID, g.KeyID, g.Grantee) }
