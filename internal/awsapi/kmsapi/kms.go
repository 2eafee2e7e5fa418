// Package kmsapi serves the AWS KMS API (JSON 1.1, X-Amz-Target
// TrentService.*) over internal/kms: keys, aliases, encryption with
// encryption contexts, data keys, rotation, key states and key policies.
// Access to a key is decided by its key policy and IAM together, as AWS
// decides it (awsapi.Service.Gated): the default key policy delegates to
// IAM; a key policy that names no principal of the caller's, nor the
// account, refuses whatever IAM allows.
package kmsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/kms"
	"github.com/signet/signet/internal/policy"
)

// KMS serves the API.
type KMS struct {
	Keys       *kms.Service
	Grants     kms.GrantStore
	Authorizer awsapi.Authorizer
	Log        *slog.Logger
}

var errorCodes = []awsapi.ErrorCode{
	{Err: kms.ErrNotFound, Code: "NotFoundException", Status: http.StatusBadRequest},
	{Err: kms.ErrInvalid, Code: "ValidationException", Status: http.StatusBadRequest},
	{Err: kms.ErrAlreadyExists, Code: "AlreadyExistsException", Status: http.StatusBadRequest},
	{Err: kms.ErrDisabled, Code: "DisabledException", Status: http.StatusBadRequest},
	{Err: kms.ErrInvalidState, Code: "KMSInvalidStateException", Status: http.StatusBadRequest},
	{Err: kms.ErrInvalidCiphertext, Code: "InvalidCiphertextException", Status: http.StatusBadRequest},
	{Err: kms.ErrIncorrectKey, Code: "IncorrectKeyException", Status: http.StatusBadRequest},
	{Err: kms.ErrInvalidKeyUsage, Code: "InvalidKeyUsageException", Status: http.StatusBadRequest},
	{Err: kms.ErrInvalidAlias, Code: "InvalidAliasNameException", Status: http.StatusBadRequest},
	{Err: kms.ErrInvalidSignature, Code: "KMSInvalidSignatureException", Status: http.StatusBadRequest},
	{Err: kms.ErrUnsupported, Code: "UnsupportedOperationException", Status: http.StatusBadRequest},
	{Err: policy.ErrMalformed, Code: "MalformedPolicyDocumentException", Status: http.StatusBadRequest},
}

// Service returns the operations.
func (x *KMS) Service() *awsapi.Service {
	op := func(name string) awsapi.Operation {
		return awsapi.Operation{Name: name, Pattern: "POST /", Target: "TrentService." + name, Action: "kms:" + name}
	}
	key := func(r *http.Request, in *keyRef) string { return x.keyARN(r.Context(), in.KeyID) }
	keyConds := func(in *keyRef) map[string][]string { return x.conditions(in.KeyID, nil) }
	ctxKeys := func(in *cryptoInput) map[string][]string { return x.conditions(in.KeyID, in.EncryptionContext) }
	svc := &awsapi.Service{Name: "kms", Protocol: awsapi.JSON{}, Errors: errorCodes,
		Internal:   awsapi.Error{Code: "KMSInternalException", Status: http.StatusInternalServerError},
		Throttle:   awsapi.Error{Code: "ThrottlingException", Status: http.StatusBadRequest},
		Authorizer: x.Authorizer, Log: x.Log, Policies: x, Gated: true,
		Operations: []awsapi.Operation{
			awsapi.Typed(op("CreateKey"), awsapi.DecodeJSON, nil, nil, x.createKey),
			awsapi.Typed(op("DescribeKey"), awsapi.DecodeJSON, key, keyConds, x.describeKey),
			awsapi.Typed(op("ListKeys"), awsapi.DecodeJSON, nil, nil, x.listKeys),
			awsapi.Typed(op("CreateAlias"), awsapi.DecodeJSON, func(r *http.Request, in *aliasInput) string { return x.keyARN(r.Context(), in.TargetKeyID) }, nil, x.createAlias),
			awsapi.Typed(op("UpdateAlias"), awsapi.DecodeJSON, func(r *http.Request, in *aliasInput) string { return x.keyARN(r.Context(), in.TargetKeyID) }, nil, x.updateAlias),
			awsapi.Typed(op("DeleteAlias"), awsapi.DecodeJSON, func(r *http.Request, in *aliasInput) string { return x.keyARN(r.Context(), in.AliasName) }, nil, x.deleteAlias),
			awsapi.Typed(op("ListAliases"), awsapi.DecodeJSON, nil, nil, x.listAliases),
			awsapi.Typed(op("Encrypt"), awsapi.DecodeJSON, func(r *http.Request, in *cryptoInput) string { return x.keyARN(r.Context(), in.KeyID) }, ctxKeys, x.encrypt),
			awsapi.Typed(op("Decrypt"), awsapi.DecodeJSON, x.ciphertextKey, ctxKeys, x.decrypt),
			awsapi.Typed(op("GenerateDataKey"), awsapi.DecodeJSON, func(r *http.Request, in *cryptoInput) string { return x.keyARN(r.Context(), in.KeyID) }, ctxKeys, x.generateDataKey(true)),
			awsapi.Typed(op("GenerateDataKeyWithoutPlaintext"), awsapi.DecodeJSON, func(r *http.Request, in *cryptoInput) string { return x.keyARN(r.Context(), in.KeyID) }, ctxKeys, x.generateDataKey(false)),
			awsapi.Typed(reEncryptFrom(op("ReEncrypt")), awsapi.DecodeJSON, x.reEncryptSource, func(in *reEncryptInput) map[string][]string {
				return x.conditions(in.SourceKeyID, in.SourceEncryptionContext)
			}, x.reEncrypt),
			awsapi.Typed(op("Sign"), awsapi.DecodeJSON, func(r *http.Request, in *signInput) string { return x.keyARN(r.Context(), in.KeyID) }, func(in *signInput) map[string][]string { return x.conditions(in.KeyID, nil) }, x.sign),
			awsapi.Typed(op("Verify"), awsapi.DecodeJSON, func(r *http.Request, in *signInput) string { return x.keyARN(r.Context(), in.KeyID) }, func(in *signInput) map[string][]string { return x.conditions(in.KeyID, nil) }, x.verify),
			awsapi.Typed(op("GetPublicKey"), awsapi.DecodeJSON, key, keyConds, x.getPublicKey),
			awsapi.Typed(op("GenerateRandom"), awsapi.DecodeJSON, nil, nil, x.generateRandom),
			awsapi.Typed(op("EnableKey"), awsapi.DecodeJSON, key, keyConds, x.setEnabled(true)),
			awsapi.Typed(op("DisableKey"), awsapi.DecodeJSON, key, keyConds, x.setEnabled(false)),
			awsapi.Typed(op("EnableKeyRotation"), awsapi.DecodeJSON, key, keyConds, x.setRotation(true)),
			awsapi.Typed(op("DisableKeyRotation"), awsapi.DecodeJSON, key, keyConds, x.setRotation(false)),
			awsapi.Typed(op("GetKeyRotationStatus"), awsapi.DecodeJSON, key, keyConds, x.rotationStatus),
			awsapi.Typed(op("RotateKeyOnDemand"), awsapi.DecodeJSON, key, keyConds, x.rotate),
			awsapi.Typed(op("ScheduleKeyDeletion"), awsapi.DecodeJSON, key, keyConds, x.scheduleDeletion),
			awsapi.Typed(op("CancelKeyDeletion"), awsapi.DecodeJSON, key, keyConds, x.cancelDeletion),
			awsapi.Typed(op("GetKeyPolicy"), awsapi.DecodeJSON, key, keyConds, x.getKeyPolicy),
			awsapi.Typed(op("PutKeyPolicy"), awsapi.DecodeJSON, key, keyConds, x.putKeyPolicy),
			awsapi.Typed(op("CreateGrant"), awsapi.DecodeJSON, func(r *http.Request, in *grantInput) string { return x.keyARN(r.Context(), in.KeyID) }, grantConditions, x.createGrant),
			awsapi.Typed(op("ListGrants"), awsapi.DecodeJSON, func(r *http.Request, in *grantInput) string { return x.keyARN(r.Context(), in.KeyID) }, nil, x.listGrants),
			awsapi.Typed(op("RevokeGrant"), awsapi.DecodeJSON, func(r *http.Request, in *grantInput) string { return x.keyARN(r.Context(), in.KeyID) }, nil, x.revokeGrant),
			awsapi.Typed(op("RetireGrant"), awsapi.DecodeJSON, x.retireGrantKey, retireConditions, x.retireGrant),
			awsapi.Typed(op("TagResource"), awsapi.DecodeJSON, func(r *http.Request, in *tagInput) string { return x.keyARN(r.Context(), in.KeyID) }, nil, x.tagResource),
			awsapi.Typed(op("UntagResource"), awsapi.DecodeJSON, func(r *http.Request, in *tagInput) string { return x.keyARN(r.Context(), in.KeyID) }, nil, x.untagResource),
			awsapi.Typed(op("ListResourceTags"), awsapi.DecodeJSON, func(r *http.Request, in *tagInput) string { return x.keyARN(r.Context(), in.KeyID) }, nil, x.listResourceTags),
		}}
	for i, o := range svc.Operations {
		svc.Operations[i] = x.withAliasKeys(o)
	}
	return svc
}

// withAliasKeys adds kms:ResourceAliases, the aliases of the key an
// operation acts on, to its condition keys (kms.Service.AliasKeys).
func (x *KMS) withAliasKeys(op awsapi.Operation) awsapi.Operation {
	resource, conditions := op.Resource, op.Conditions
	if resource == nil {
		return op
	}
	op.Conditions = func(r *http.Request) map[string][]string {
		var keys map[string][]string
		if conditions != nil {
			keys = conditions(r)
		}
		id, ok := strings.CutPrefix(resource(r), x.Keys.ARN(""))
		if !ok || uuid.Validate(id) != nil {
			return keys
		}
		keys, _ = x.Keys.AliasKeys(r.Context(), id, keys) // without them, a condition on them does not hold
		return keys
	}
	return op
}

// grantConditions are CreateGrant's condition keys: the grant's
// grantee, retiring principal, operations and constraint type.
func grantConditions(in *grantInput) map[string][]string {
	keys := map[string][]string{}
	if in.GranteePrincipal != "" {
		keys["kms:granteeprincipal"] = []string{in.GranteePrincipal}
	}
	if in.RetiringPrincipal != "" {
		keys["kms:retiringprincipal"] = []string{in.RetiringPrincipal}
	}
	if len(in.Operations) > 0 {
		keys["kms:grantoperations"] = in.Operations
	}
	if c := in.Constraints; c != nil {
		if c.EncryptionContextSubset != nil {
			keys["kms:grantconstrainttype"] = append(keys["kms:grantconstrainttype"], "EncryptionContextSubset")
		}
		if c.EncryptionContextEquals != nil {
			keys["kms:grantconstrainttype"] = append(keys["kms:grantconstrainttype"], "EncryptionContextEquals")
		}
	}
	return keys
}

// retireConditions name the grant a RetireGrant request retires, which
// the statements of kms.RetirePolicy match.
func retireConditions(in *grantInput) map[string][]string {
	id := in.GrantID
	if id == "" {
		id = in.GrantToken
	}
	return map[string][]string{kms.GrantIDKey: {id}}
}

// ResourcePolicies returns a key's policy; nil for a key that does not
// exist (IAM alone then decides whether the caller may learn that).
func (x *KMS) ResourcePolicies(ctx context.Context, action, resource string) ([]*policy.Document, error) {
	id, ok := strings.CutPrefix(resource, x.Keys.ARN(""))
	if !ok || id == "" {
		return nil, nil
	}
	k, err := x.Keys.Store.Key(ctx, id)
	if errors.Is(err, kms.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d, err := policy.Parse([]byte(k.Policy), policy.Resource)
	if err != nil {
		return nil, fmt.Errorf("key %s has an unreadable policy: %w", id, err)
	}
	if strings.EqualFold(action, "kms:RetireGrant") {
		return x.retirePolicies(ctx, id)
	}
	docs := []*policy.Document{d}
	// The key's grants allow what they grant, as statements of their own.
	if x.Grants != nil {
		grants, err := x.Grants.Grants(ctx, id)
		if err != nil {
			return nil, err
		}
		gp, err := kms.GrantPolicy(grants)
		if err != nil {
			return nil, err
		}
		if gp != nil {
			g, err := policy.Parse(gp, policy.Resource)
			if err != nil {
				return nil, fmt.Errorf("key %s: its grants: %w", id, err)
			}
			docs = append(docs, g)
		}
	}
	return docs, nil
}

// retirePolicies stand in for a key's policy for RetireGrant: its
// grants alone say who may retire them (kms.RetirePolicy). The result
// is never nil, so that the grants gate the request.
func (x *KMS) retirePolicies(ctx context.Context, id string) ([]*policy.Document, error) {
	docs := []*policy.Document{}
	if x.Grants == nil {
		return docs, nil
	}
	grants, err := x.Grants.Grants(ctx, id)
	if err != nil {
		return nil, err
	}
	rp, err := kms.RetirePolicy(grants)
	if err != nil || rp == nil {
		return docs, err
	}
	d, err := policy.Parse(rp, policy.Resource)
	if err != nil {
		return nil, fmt.Errorf("key %s: its grants' retiring principals: %w", id, err)
	}
	return append(docs, d), nil
}

// keyARN is the ARN of the key a reference names (an alias resolved to
// its key), or the reference's own ARN when it names nothing.
func (x *KMS) keyARN(ctx context.Context, ref string) string {
	if ref == "" {
		return "*"
	}
	// A key id or key ARN names its key without a look-up.
	if id, ok := strings.CutPrefix(ref, x.Keys.ARN("")); ok && uuid.Validate(id) == nil {
		return ref
	}
	if uuid.Validate(ref) == nil {
		return x.Keys.ARN(ref)
	}
	if k, err := x.Keys.Resolve(ctx, ref); err == nil {
		return x.Keys.ARN(k.ID)
	}
	if strings.HasPrefix(ref, "arn:") {
		return ref
	}
	if strings.HasPrefix(ref, "alias/") {
		return x.Keys.AliasARN(ref)
	}
	return x.Keys.ARN(strings.TrimPrefix(ref, "key/"))
}

func (x *KMS) ciphertextKey(_ *http.Request, in *cryptoInput) string {
	a, err := x.Keys.KeyOfCiphertext(in.CiphertextBlob)
	if err != nil {
		return "*"
	}
	return a
}

func (x *KMS) reEncryptSource(_ *http.Request, in *reEncryptInput) string {
	a, err := x.Keys.KeyOfCiphertext(in.CiphertextBlob)
	if err != nil {
		return "*"
	}
	return a
}

// conditions are KMS's condition keys of a request naming a key (by
// keyRef) with an encryption context.
func (x *KMS) conditions(keyRef string, encCtx map[string]string) map[string][]string {
	keys := map[string][]string{"kms:calleraccount": {x.Keys.Account.ID}}
	if a := requestAlias(keyRef); a != "" {
		keys["kms:requestalias"] = []string{a}
	}
	for k, v := range kms.ConditionKeys(encCtx) {
		keys[k] = v
	}
	return keys
}

// requestAlias is kms:RequestAlias: the alias a request names its key
// by, as an alias name (alias/NAME) also when given as an alias ARN;
// "" when the request names the key otherwise.
func requestAlias(ref string) string {
	if strings.HasPrefix(ref, "alias/") {
		return ref
	}
	if strings.HasPrefix(ref, "arn:") {
		if parts := strings.SplitN(ref, ":", 6); len(parts) == 6 && parts[2] == "kms" && strings.HasPrefix(parts[5], "alias/") {
			return parts[5]
		}
	}
	return ""
}

type keyRef struct {
	KeyID                string `json:"KeyId"`
	PendingWindowInDays  int    `json:"PendingWindowInDays"`
	RotationPeriodInDays int    `json:"RotationPeriodInDays"`
	PolicyName           string `json:"PolicyName"`
	Policy               string `json:"Policy"`
}

type tag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

type createKeyInput struct {
	Description string `json:"Description"`
	KeySpec     string `json:"KeySpec"`
	KeyUsage    string `json:"KeyUsage"`
	CMKSpec     string `json:"CustomerMasterKeySpec"`
	Policy      string `json:"Policy"`
	Tags        []tag  `json:"Tags"`
	Origin      string `json:"Origin"`
	MultiRegion bool   `json:"MultiRegion"`
}

type aliasInput struct {
	AliasName   string `json:"AliasName"`
	TargetKeyID string `json:"TargetKeyId"`
	KeyID       string `json:"KeyId"`
	Limit       int    `json:"Limit"`
	Marker      string `json:"Marker"`
}

type cryptoInput struct {
	KeyID               string            `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
	NumberOfBytes       int               `json:"NumberOfBytes"`
	KeySpec             string            `json:"KeySpec"`
	Limit               int               `json:"Limit"`
	Marker              string            `json:"Marker"`
}

type reEncryptInput struct {
	CiphertextBlob               []byte            `json:"CiphertextBlob"`
	SourceEncryptionContext      map[string]string `json:"SourceEncryptionContext"`
	SourceKeyID                  string            `json:"SourceKeyId"`
	DestinationKeyID             string            `json:"DestinationKeyId"`
	DestinationEncryptionContext map[string]string `json:"DestinationEncryptionContext"`
}

type keyMetadata struct {
	AWSAccountID          string   `json:"AWSAccountId"`
	KeyID                 string   `json:"KeyId"`
	Arn                   string   `json:"Arn"`
	CreationDate          float64  `json:"CreationDate"`
	Enabled               bool     `json:"Enabled"`
	Description           string   `json:"Description"`
	KeyUsage              string   `json:"KeyUsage"`
	KeyState              string   `json:"KeyState"`
	DeletionDate          *float64 `json:"DeletionDate,omitempty"`
	Origin                string   `json:"Origin"`
	KeyManager            string   `json:"KeyManager"`
	CustomerMasterKeySpec string   `json:"CustomerMasterKeySpec"`
	KeySpec               string   `json:"KeySpec"`
	EncryptionAlgorithms  []string `json:"EncryptionAlgorithms,omitempty"`
	SigningAlgorithms     []string `json:"SigningAlgorithms,omitempty"`
	MultiRegion           bool     `json:"MultiRegion"`
}

func (x *KMS) metadata(k kms.Key) keyMetadata {
	m := keyMetadata{AWSAccountID: x.Keys.Account.ID, KeyID: k.ID, Arn: x.Keys.ARN(k.ID), CreationDate: float64(k.CreatedAt.UnixMilli()) / 1000,
		Enabled: k.State == kms.StateEnabled, Description: k.Description, KeyUsage: k.Usage, KeyState: k.State, Origin: "AWS_KMS",
		KeyManager: k.Manager, CustomerMasterKeySpec: k.Spec, KeySpec: k.Spec}
	if k.Usage == kms.UsageEncrypt {
		m.EncryptionAlgorithms = []string{"SYMMETRIC_DEFAULT"}
	}
	m.SigningAlgorithms = k.SigningAlgorithms()
	if !k.DeletionDate.IsZero() {
		d := float64(k.DeletionDate.UnixMilli()) / 1000
		m.DeletionDate = &d
	}
	return m
}

func algorithm(a string) error {
	if a != "" && a != "SYMMETRIC_DEFAULT" {
		return &awsapi.Error{Code: "ValidationException", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("1 validation error detected: Value '%s' at 'encryptionAlgorithm' failed to satisfy constraint: a symmetric key encrypts with SYMMETRIC_DEFAULT only", a)}
	}
	return nil
}

func (x *KMS) createKey(w http.ResponseWriter, r *http.Request, in *createKeyInput) error {
	if in.Origin != "" && in.Origin != "AWS_KMS" {
		return &awsapi.Error{Code: "UnsupportedOperationException", Status: http.StatusBadRequest, Message: fmt.Sprintf("Origin %s is not supported: Signet creates the key material (AWS_KMS)", in.Origin)}
	}
	if in.MultiRegion {
		return &awsapi.Error{Code: "UnsupportedOperationException", Status: http.StatusBadRequest, Message: "multi-Region keys are not supported: Signet serves one region"}
	}
	if in.Policy != "" {
		if _, err := policy.Parse([]byte(in.Policy), policy.Resource); err != nil {
			return err
		}
	}
	tags := map[string]string{}
	for _, t := range in.Tags {
		tags[t.TagKey] = t.TagValue
	}
	spec := in.KeySpec
	if spec == "" {
		spec = in.CMKSpec // its older name
	}
	k, err := x.Keys.CreateKey(r.Context(), kms.CreateKeyInput{Description: in.Description, Spec: spec, Usage: in.KeyUsage, Policy: in.Policy, Tags: tags})
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"KeyMetadata": x.metadata(k)})
}

func (x *KMS) describeKey(w http.ResponseWriter, r *http.Request, in *keyRef) error {
	k, err := x.Keys.Resolve(r.Context(), in.KeyID)
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"KeyMetadata": x.metadata(k)})
}

func limit(l int) (int, error) {
	if l == 0 {
		return 100, nil
	}
	if l < 1 || l > 1000 {
		return 0, &awsapi.Error{Code: "ValidationException", Status: http.StatusBadRequest, Message: fmt.Sprintf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000", l)}
	}
	return l, nil
}

func (x *KMS) listKeys(w http.ResponseWriter, r *http.Request, in *cryptoInput) error {
	n, err := limit(in.Limit)
	if err != nil {
		return err
	}
	keys, err := x.Keys.Store.ListKeys(r.Context(), in.Marker, n+1)
	if err != nil {
		return err
	}
	out := map[string]any{"Truncated": len(keys) > n}
	if len(keys) > n {
		keys = keys[:n]
		out["NextMarker"] = keys[n-1].ID
	}
	list := []map[string]string{}
	for _, k := range keys {
		list = append(list, map[string]string{"KeyId": k.ID, "KeyArn": x.Keys.ARN(k.ID)})
	}
	out["Keys"] = list
	return awsapi.JSON{}.Write(w, out)
}

func (x *KMS) createAlias(w http.ResponseWriter, r *http.Request, in *aliasInput) error {
	if err := x.Keys.CreateAlias(r.Context(), in.AliasName, in.TargetKeyID); err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, struct{}{})
}

func (x *KMS) updateAlias(w http.ResponseWriter, r *http.Request, in *aliasInput) error {
	if err := x.Keys.UpdateAlias(r.Context(), in.AliasName, in.TargetKeyID); err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, struct{}{})
}

func (x *KMS) deleteAlias(w http.ResponseWriter, r *http.Request, in *aliasInput) error {
	if err := x.Keys.DeleteAlias(r.Context(), in.AliasName); err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, struct{}{})
}

func (x *KMS) listAliases(w http.ResponseWriter, r *http.Request, in *aliasInput) error {
	keyID := ""
	if in.KeyID != "" {
		k, err := x.Keys.Resolve(r.Context(), in.KeyID)
		if err != nil {
			return err
		}
		keyID = k.ID
	}
	aliases, err := x.Keys.Store.ListAliases(r.Context(), keyID)
	if err != nil {
		return err
	}
	list := []map[string]any{}
	for _, a := range aliases {
		list = append(list, map[string]any{"AliasName": a.Name, "AliasArn": x.Keys.AliasARN(a.Name), "TargetKeyId": a.KeyID,
			"CreationDate": float64(a.CreatedAt.UnixMilli()) / 1000, "LastUpdatedDate": float64(a.UpdatedAt.UnixMilli()) / 1000})
	}
	return awsapi.JSON{}.Write(w, map[string]any{"Aliases": list, "Truncated": false})
}

func (x *KMS) encrypt(w http.ResponseWriter, r *http.Request, in *cryptoInput) error {
	if err := algorithm(in.EncryptionAlgorithm); err != nil {
		return err
	}
	blob, k, err := x.Keys.Encrypt(r.Context(), in.KeyID, in.Plaintext, in.EncryptionContext)
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"CiphertextBlob": blob, "KeyId": x.Keys.ARN(k.ID), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
}

func (x *KMS) decrypt(w http.ResponseWriter, r *http.Request, in *cryptoInput) error {
	if err := algorithm(in.EncryptionAlgorithm); err != nil {
		return err
	}
	pt, k, err := x.Keys.Decrypt(r.Context(), in.CiphertextBlob, in.EncryptionContext, in.KeyID)
	if err != nil {
		return err
	}
	defer clear(pt)
	return awsapi.JSON{}.Write(w, map[string]any{"Plaintext": pt, "KeyId": x.Keys.ARN(k.ID), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
}

func (x *KMS) generateDataKey(withPlaintext bool) func(http.ResponseWriter, *http.Request, *cryptoInput) error {
	return func(w http.ResponseWriter, r *http.Request, in *cryptoInput) error {
		pt, blob, k, err := x.Keys.GenerateDataKey(r.Context(), in.KeyID, in.NumberOfBytes, in.KeySpec, in.EncryptionContext)
		if err != nil {
			return err
		}
		defer clear(pt)
		out := map[string]any{"CiphertextBlob": blob, "KeyId": x.Keys.ARN(k.ID)}
		if withPlaintext {
			out["Plaintext"] = pt
		}
		return awsapi.JSON{}.Write(w, out)
	}
}

func (x *KMS) reEncrypt(w http.ResponseWriter, r *http.Request, in *reEncryptInput) error {
	if in.DestinationKeyID == "" {
		return &awsapi.Error{Code: "ValidationException", Status: http.StatusBadRequest, Message: "1 validation error detected: Value null at 'destinationKeyId' failed to satisfy constraint: Member must not be null"}
	}
	// The destination key is used too: its policy must allow
	// kms:ReEncryptTo, as the source's allows kms:ReEncryptFrom (the
	// operation's own action).
	if err := awsapi.AuthorizeAlsoWith(x.Authorizer, r, x.keyARN(r.Context(), in.DestinationKeyID), x.conditions(in.DestinationKeyID, in.DestinationEncryptionContext), "kms:ReEncryptTo"); err != nil {
		return err
	}
	blob, src, dest, err := x.Keys.ReEncrypt(r.Context(), in.CiphertextBlob, in.SourceEncryptionContext, in.SourceKeyID, in.DestinationKeyID, in.DestinationEncryptionContext)
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"CiphertextBlob": blob, "SourceKeyId": x.Keys.ARN(src.ID), "KeyId": x.Keys.ARN(dest.ID),
		"SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
}

type signInput struct {
	KeyID            string   `json:"KeyId"`
	Message          []byte   `json:"Message"`
	MessageType      string   `json:"MessageType"`
	SigningAlgorithm string   `json:"SigningAlgorithm"`
	Signature        []byte   `json:"Signature"`
	GrantTokens      []string `json:"GrantTokens"`
	DryRun           bool     `json:"DryRun"`
}

func (in *signInput) domain() kms.SignInput {
	return kms.SignInput{KeyRef: in.KeyID, Message: in.Message, Type: in.MessageType, Algorithm: in.SigningAlgorithm, Signature: in.Signature}
}

func (x *KMS) sign(w http.ResponseWriter, r *http.Request, in *signInput) error {
	sig, k, err := x.Keys.Sign(r.Context(), in.domain())
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"KeyId": x.Keys.ARN(k.ID), "Signature": sig, "SigningAlgorithm": in.SigningAlgorithm})
}

func (x *KMS) verify(w http.ResponseWriter, r *http.Request, in *signInput) error {
	k, err := x.Keys.Verify(r.Context(), in.domain())
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"KeyId": x.Keys.ARN(k.ID), "SignatureValid": true, "SigningAlgorithm": in.SigningAlgorithm})
}

func (x *KMS) getPublicKey(w http.ResponseWriter, r *http.Request, in *keyRef) error {
	der, k, err := x.Keys.PublicKey(r.Context(), in.KeyID)
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"KeyId": x.Keys.ARN(k.ID), "PublicKey": der, "KeySpec": k.Spec, "CustomerMasterKeySpec": k.Spec,
		"KeyUsage": k.Usage, "SigningAlgorithms": k.SigningAlgorithms()})
}

func (x *KMS) generateRandom(w http.ResponseWriter, r *http.Request, in *cryptoInput) error {
	b, err := kms.GenerateRandom(in.NumberOfBytes)
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"Plaintext": b})
}

func (x *KMS) setEnabled(enabled bool) func(http.ResponseWriter, *http.Request, *keyRef) error {
	return func(w http.ResponseWriter, r *http.Request, in *keyRef) error {
		if err := x.Keys.SetEnabled(r.Context(), in.KeyID, enabled); err != nil {
			return err
		}
		return awsapi.JSON{}.Write(w, struct{}{})
	}
}

func (x *KMS) setRotation(enabled bool) func(http.ResponseWriter, *http.Request, *keyRef) error {
	return func(w http.ResponseWriter, r *http.Request, in *keyRef) error {
		if err := x.Keys.SetRotation(r.Context(), in.KeyID, enabled, in.RotationPeriodInDays); err != nil {
			return err
		}
		return awsapi.JSON{}.Write(w, struct{}{})
	}
}

func (x *KMS) rotationStatus(w http.ResponseWriter, r *http.Request, in *keyRef) error {
	k, err := x.Keys.RotationStatus(r.Context(), in.KeyID)
	if err != nil {
		return err
	}
	out := map[string]any{"KeyRotationEnabled": k.RotationEnabled, "KeyId": x.Keys.ARN(k.ID)}
	if k.RotationEnabled {
		out["RotationPeriodInDays"] = k.RotationDays
		out["NextRotationDate"] = float64(k.NextRotation.UnixMilli()) / 1000
	}
	return awsapi.JSON{}.Write(w, out)
}

func (x *KMS) rotate(w http.ResponseWriter, r *http.Request, in *keyRef) error {
	k, err := x.Keys.Rotate(r.Context(), in.KeyID)
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"KeyId": x.Keys.ARN(k.ID)})
}

func (x *KMS) scheduleDeletion(w http.ResponseWriter, r *http.Request, in *keyRef) error {
	k, err := x.Keys.ScheduleDeletion(r.Context(), in.KeyID, in.PendingWindowInDays)
	if err != nil {
		return err
	}
	days := in.PendingWindowInDays
	if days == 0 {
		days = 30
	}
	return awsapi.JSON{}.Write(w, map[string]any{"KeyId": x.Keys.ARN(k.ID), "DeletionDate": float64(k.DeletionDate.UnixMilli()) / 1000,
		"KeyState": k.State, "PendingWindowInDays": days})
}

func (x *KMS) cancelDeletion(w http.ResponseWriter, r *http.Request, in *keyRef) error {
	k, err := x.Keys.CancelDeletion(r.Context(), in.KeyID)
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"KeyId": x.Keys.ARN(k.ID)})
}

func policyName(n string) error {
	if n != "" && n != "default" {
		return &awsapi.Error{Code: "NotFoundException", Status: http.StatusBadRequest, Message: fmt.Sprintf("No such policy exists: %s (a key has one policy, named default)", n)}
	}
	return nil
}

func (x *KMS) getKeyPolicy(w http.ResponseWriter, r *http.Request, in *keyRef) error {
	if err := policyName(in.PolicyName); err != nil {
		return err
	}
	k, err := x.Keys.Resolve(r.Context(), in.KeyID)
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"Policy": k.Policy, "PolicyName": "default"})
}

func (x *KMS) putKeyPolicy(w http.ResponseWriter, r *http.Request, in *keyRef) error {
	if err := policyName(in.PolicyName); err != nil {
		return err
	}
	if _, err := policy.Parse([]byte(in.Policy), policy.Resource); err != nil {
		return err
	}
	if err := x.Keys.SetPolicy(r.Context(), in.KeyID, in.Policy); err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, struct{}{})
}

// reEncryptFrom makes ReEncrypt's own action kms:ReEncryptFrom, on the
// source key, as in AWS (there is no kms:ReEncrypt action).
func reEncryptFrom(op awsapi.Operation) awsapi.Operation {
	op.Action = "kms:ReEncryptFrom"
	return op
}

type grantInput struct {
	KeyID             string   `json:"KeyId"`
	GranteePrincipal  string   `json:"GranteePrincipal"`
	RetiringPrincipal string   `json:"RetiringPrincipal"`
	Operations        []string `json:"Operations"`
	Name              string   `json:"Name"`
	GrantID           string   `json:"GrantId"`
	GrantToken        string   `json:"GrantToken"`
	Constraints       *struct {
		EncryptionContextSubset map[string]string `json:"EncryptionContextSubset"`
		EncryptionContextEquals map[string]string `json:"EncryptionContextEquals"`
	} `json:"Constraints"`
}

func (x *KMS) createGrant(w http.ResponseWriter, r *http.Request, in *grantInput) error {
	caller, _ := awsapi.CallerFrom(r.Context())
	gi := kms.CreateGrantInput{KeyRef: in.KeyID, Name: in.Name, Grantee: in.GranteePrincipal, Retiring: in.RetiringPrincipal, Issuer: caller.PrincipalARN, Operations: in.Operations}
	if in.Constraints != nil {
		gi.ContextSubset, gi.ContextEquals = in.Constraints.EncryptionContextSubset, in.Constraints.EncryptionContextEquals
	}
	g, err := x.Keys.CreateGrant(r.Context(), x.Grants, gi)
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"GrantId": g.ID, "GrantToken": g.ID})
}

func (x *KMS) listGrants(w http.ResponseWriter, r *http.Request, in *grantInput) error {
	k, err := x.Keys.Resolve(r.Context(), in.KeyID)
	if err != nil {
		return err
	}
	grants, err := x.Grants.Grants(r.Context(), k.ID)
	if err != nil {
		return err
	}
	list := []map[string]any{}
	for _, g := range grants {
		e := map[string]any{"KeyId": x.Keys.ARN(k.ID), "GrantId": g.ID, "Name": g.Name, "CreationDate": float64(g.CreatedAt.UnixMilli()) / 1000,
			"GranteePrincipal": g.Grantee, "IssuingAccount": "arn:aws:iam::" + x.Keys.Account.ID + ":root", "Operations": g.Operations}
		if g.Retiring != "" {
			e["RetiringPrincipal"] = g.Retiring
		}
		if g.ContextSubset != nil || g.ContextEquals != nil {
			c := map[string]any{}
			if g.ContextSubset != nil {
				c["EncryptionContextSubset"] = g.ContextSubset
			}
			if g.ContextEquals != nil {
				c["EncryptionContextEquals"] = g.ContextEquals
			}
			e["Constraints"] = c
		}
		list = append(list, e)
	}
	return awsapi.JSON{}.Write(w, map[string]any{"Grants": list, "Truncated": false})
}

func (x *KMS) revokeGrant(w http.ResponseWriter, r *http.Request, in *grantInput) error {
	if err := x.Keys.RetireGrant(r.Context(), x.Grants, in.KeyID, in.GrantID); err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, struct{}{})
}

// retireGrantKey is the key of a RetireGrant request: KeyId, or the key
// of the grant its token names.
func (x *KMS) retireGrantKey(r *http.Request, in *grantInput) string {
	if in.KeyID != "" {
		return x.keyARN(r.Context(), in.KeyID)
	}
	if k, err := x.Grants.GrantKey(r.Context(), in.GrantToken); err == nil {
		return x.Keys.ARN(k)
	}
	return "*"
}

func (x *KMS) retireGrant(w http.ResponseWriter, r *http.Request, in *grantInput) error {
	id := in.GrantID
	if id == "" {
		id = in.GrantToken
	}
	keyRef := in.KeyID
	if keyRef == "" {
		k, err := x.Grants.GrantKey(r.Context(), id)
		if err != nil {
			return &awsapi.Error{Code: "InvalidGrantTokenException", Status: http.StatusBadRequest, Message: "The grant token is not valid: no grant has it"}
		}
		keyRef = k
	}
	if err := x.Keys.RetireGrant(r.Context(), x.Grants, keyRef, id); err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, struct{}{})
}

type tagInput struct {
	KeyID   string   `json:"KeyId"`
	Tags    []tag    `json:"Tags"`
	TagKeys []string `json:"TagKeys"`
}

func (x *KMS) tagResource(w http.ResponseWriter, r *http.Request, in *tagInput) error {
	tags := map[string]string{}
	for _, t := range in.Tags {
		tags[t.TagKey] = t.TagValue
	}
	if err := x.Keys.Tag(r.Context(), in.KeyID, tags); err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, struct{}{})
}

func (x *KMS) untagResource(w http.ResponseWriter, r *http.Request, in *tagInput) error {
	if err := x.Keys.Untag(r.Context(), in.KeyID, in.TagKeys); err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, struct{}{})
}

func (x *KMS) listResourceTags(w http.ResponseWriter, r *http.Request, in *tagInput) error {
	k, err := x.Keys.Resolve(r.Context(), in.KeyID)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(k.Tags))
	for t := range k.Tags {
		keys = append(keys, t)
	}
	sort.Strings(keys)
	list := []tag{}
	for _, t := range keys {
		list = append(list, tag{t, k.Tags[t]})
	}
	return awsapi.JSON{}.Write(w, map[string]any{"Tags": list, "Truncated": false})
}
