// Package ssmapi serves the Parameter Store operations of the AWS Systems
// Manager API (JSON 1.1, X-Amz-Target AmazonSSM.*) over internal/ssm. A
// SecureString's value in clear (WithDecryption) needs kms:Decrypt on its
// key as well as the operation's own ssm: permission, and storing one
// needs kms:GenerateDataKey (or kms:Encrypt) on the key: the key's policy
// and IAM decide both, as for any use of a key.
package ssmapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/kms"
	"github.com/signet/signet/internal/ssm"
)

// SSM serves the API.
type SSM struct {
	Params     *ssm.Service
	Authorizer awsapi.Authorizer
	Log        *slog.Logger
}

var errorCodes = []awsapi.ErrorCode{
	{Err: ssm.ErrNotFound, Code: "ParameterNotFound", Status: http.StatusBadRequest},
	{Err: ssm.ErrVersionMissing, Code: "ParameterVersionNotFound", Status: http.StatusBadRequest},
	{Err: ssm.ErrExists, Code: "ParameterAlreadyExists", Status: http.StatusBadRequest},
	{Err: ssm.ErrInvalid, Code: "ValidationException", Status: http.StatusBadRequest},
	{Err: ssm.ErrTooLarge, Code: "ValidationException", Status: http.StatusBadRequest},
	{Err: ssm.ErrPattern, Code: "ParameterPatternMismatchException", Status: http.StatusBadRequest},
	{Err: ssm.ErrBadPattern, Code: "InvalidAllowedPatternException", Status: http.StatusBadRequest},
	{Err: ssm.ErrKeyID, Code: "InvalidKeyId", Status: http.StatusBadRequest},
	{Err: ssm.ErrVersionLimit, Code: "ParameterMaxVersionLimitExceeded", Status: http.StatusBadRequest},
	{Err: ssm.ErrLabel, Code: "ParameterVersionLabelLimitExceeded", Status: http.StatusBadRequest},
	{Err: kms.ErrNotFound, Code: "InvalidKeyId", Status: http.StatusBadRequest},
	{Err: kms.ErrDisabled, Code: "InvalidKeyId", Status: http.StatusBadRequest},
	{Err: kms.ErrInvalidState, Code: "InvalidKeyId", Status: http.StatusBadRequest},
}

// Service returns the operations.
func (x *SSM) Service() *awsapi.Service {
	op := func(name string) awsapi.Operation {
		return awsapi.Operation{Name: name, Pattern: "POST /", Target: "AmazonSSM." + name, Action: "ssm:" + name}
	}
	param := func(_ *http.Request, in *paramInput) string { return x.arnOf(in.Name) }
	return &awsapi.Service{Name: "ssm", Protocol: awsapi.JSON{}, Errors: errorCodes,
		Internal:   awsapi.Error{Code: "InternalServerError", Status: http.StatusInternalServerError},
		Throttle:   awsapi.Error{Code: "ThrottlingException", Status: http.StatusBadRequest},
		Authorizer: x.Authorizer, Log: x.Log,
		Operations: []awsapi.Operation{
			awsapi.Typed(op("PutParameter"), awsapi.DecodeJSON, param, nil, x.put),
			awsapi.Typed(op("GetParameter"), awsapi.DecodeJSON, param, nil, x.get),
			awsapi.Typed(op("GetParameters"), awsapi.DecodeJSON, x.firstName, nil, x.getMany),
			awsapi.Typed(op("GetParametersByPath"), awsapi.DecodeJSON, func(_ *http.Request, in *paramInput) string { return x.arnOf(in.Path) }, nil, x.byPath),
			awsapi.Typed(op("GetParameterHistory"), awsapi.DecodeJSON, param, nil, x.history),
			awsapi.Typed(op("DeleteParameter"), awsapi.DecodeJSON, param, nil, x.delete),
			awsapi.Typed(op("DeleteParameters"), awsapi.DecodeJSON, x.firstName, nil, x.deleteMany),
			awsapi.Typed(op("LabelParameterVersion"), awsapi.DecodeJSON, param, nil, x.label),
			awsapi.Typed(op("UnlabelParameterVersion"), awsapi.DecodeJSON, param, nil, x.unlabel),
			awsapi.Typed(op("DescribeParameters"), awsapi.DecodeJSON, nil, nil, x.describe),
		}}
}

// arnOf is a parameter's ARN from a name or selector ("*" when none).
func (x *SSM) arnOf(name string) string {
	name, _, _ = strings.Cut(name, ":")
	if name == "" {
		return "*"
	}
	return x.Params.ARN(name)
}

// firstName authorizes a many-names operation on its first name; every
// other name is authorized in the handler.
func (x *SSM) firstName(_ *http.Request, in *paramInput) string {
	if len(in.Names) == 0 {
		return "*"
	}
	return x.arnOf(in.Names[0])
}

type paramInput struct {
	Name             string   `json:"Name"`
	Names            []string `json:"Names"`
	Path             string   `json:"Path"`
	Recursive        bool     `json:"Recursive"`
	Value            string   `json:"Value"`
	Type             string   `json:"Type"`
	KeyID            string   `json:"KeyId"`
	Overwrite        bool     `json:"Overwrite"`
	Description      string   `json:"Description"`
	AllowedPattern   string   `json:"AllowedPattern"`
	Tier             string   `json:"Tier"`
	DataType         string   `json:"DataType"`
	WithDecryption   bool     `json:"WithDecryption"`
	MaxResults       int      `json:"MaxResults"`
	NextToken        string   `json:"NextToken"`
	ParameterVersion int64    `json:"ParameterVersion"`
	Labels           []string `json:"Labels"`
	Tags             []struct {
		Key, Value string
	} `json:"Tags"`
}

func (x *SSM) put(w http.ResponseWriter, r *http.Request, in *paramInput) error {
	caller, _ := awsapi.CallerFrom(r.Context())
	typ := in.Type
	keyRef := in.KeyID
	if typ == "" || typ == ssm.TypeSecureString && keyRef == "" {
		// An overwrite keeps the type and key of the latest version.
		if p, err := x.Params.Get(r.Context(), in.Name); err == nil {
			if typ == "" {
				typ = p.Type
			}
			if typ == ssm.TypeSecureString && keyRef == "" && p.Type == ssm.TypeSecureString {
				keyRef = p.KeyID
			}
		}
	}
	if typ == ssm.TypeSecureString {
		// The key is used for the caller: it must be allowed to.
		if keyRef == "" {
			k, err := x.Params.Keys.ServiceKey(r.Context(), ssm.DefaultKeyAlias, "Default key that protects my SSM parameters when no other key is defined")
			if err != nil {
				return err
			}
			keyRef = x.Params.Keys.ARN(k.ID)
		}
		k, err := x.Params.Keys.Resolve(r.Context(), keyRef)
		if err != nil {
			return fmt.Errorf("%w: %v", ssm.ErrKeyID, err)
		}
		keys, err := x.Params.Keys.AliasKeys(r.Context(), k.ID, kms.ConditionKeys(x.Params.EncryptionContext(in.Name)))
		if err != nil {
			return err
		}
		if err := awsapi.AuthorizeAlsoWith(x.Authorizer, r, x.Params.Keys.ARN(k.ID), keys, "kms:GenerateDataKey", "kms:Encrypt"); err != nil {
			return err
		}
		keyRef = x.Params.Keys.ARN(k.ID)
	}
	v, tier, err := x.Params.Put(r.Context(), ssm.PutInput{Name: in.Name, Type: typ, Value: in.Value, KeyID: keyRef, Description: in.Description,
		AllowedPattern: in.AllowedPattern, Tier: in.Tier, DataType: in.DataType, Overwrite: in.Overwrite, By: caller.PrincipalARN})
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"Version": v, "Tier": tier})
}

// value is a version's value as the API answers it: in clear, or, for a
// SecureString, decrypted when asked (with kms:Decrypt on its key) or
// else its envelope, base64.
func (x *SSM) value(r *http.Request, p ssm.Parameter, decrypt bool) (string, error) {
	if p.Type != ssm.TypeSecureString {
		return string(p.Value), nil
	}
	if !decrypt {
		return base64.StdEncoding.EncodeToString(p.Value), nil
	}
	// The key's condition keys as KMS gives them: the encryption
	// context SSM uses, and the key's aliases.
	keys := kms.ConditionKeys(x.Params.EncryptionContext(p.Name))
	if id, ok := strings.CutPrefix(p.KeyID, x.Params.Keys.ARN("")); ok {
		var err error
		if keys, err = x.Params.Keys.AliasKeys(r.Context(), id, keys); err != nil {
			return "", err
		}
	}
	if err := awsapi.AuthorizeAlsoWith(x.Authorizer, r, p.KeyID, keys, "kms:Decrypt"); err != nil {
		return "", err
	}
	v, err := x.Params.Open(r.Context(), p)
	if err != nil {
		return "", err
	}
	return string(v), nil
}

func (x *SSM) parameterJSON(r *http.Request, p ssm.Parameter, selector string, decrypt bool) (map[string]any, error) {
	v, err := x.value(r, p, decrypt)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"Name": p.Name, "Type": p.Type, "Value": v, "Version": p.Version, "LastModifiedDate": float64(p.ModifiedAt.UnixMilli()) / 1000,
		"ARN": x.Params.ARN(p.Name), "DataType": p.DataType}
	if _, sel, ok := strings.Cut(selector, ":"); ok {
		out["Selector"] = ":" + sel
	}
	return out, nil
}

func (x *SSM) get(w http.ResponseWriter, r *http.Request, in *paramInput) error {
	p, err := x.Params.Get(r.Context(), in.Name)
	if err != nil {
		return err
	}
	out, err := x.parameterJSON(r, p, in.Name, in.WithDecryption)
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"Parameter": out})
}

func (x *SSM) getMany(w http.ResponseWriter, r *http.Request, in *paramInput) error {
	if len(in.Names) < 1 || len(in.Names) > 10 {
		return errs.Field(ssm.ErrInvalid, "names", "must have length between 1 and 10, got %d", len(in.Names))
	}
	params, invalid := []map[string]any{}, []string{}
	for i, n := range in.Names {
		if i > 0 {
			if err := awsapi.AuthorizeAlso(x.Authorizer, r, x.arnOf(n), "ssm:GetParameters"); err != nil {
				return err
			}
		}
		p, err := x.Params.Get(r.Context(), n)
		if errors.Is(err, ssm.ErrNotFound) || errors.Is(err, ssm.ErrVersionMissing) || errors.Is(err, ssm.ErrInvalid) {
			invalid = append(invalid, n)
			continue
		}
		if err != nil {
			return err
		}
		out, err := x.parameterJSON(r, p, n, in.WithDecryption)
		if err != nil {
			return err
		}
		params = append(params, out)
	}
	return awsapi.JSON{}.Write(w, map[string]any{"Parameters": params, "InvalidParameters": invalid})
}

func maxResults(n, max int) (int, error) {
	if n == 0 {
		return max, nil
	}
	if n < 1 || n > max {
		return 0, errs.Value(ssm.ErrInvalid, "maxResults", fmt.Sprint(n), "must have value between 1 and %d", max)
	}
	return n, nil
}

func (x *SSM) byPath(w http.ResponseWriter, r *http.Request, in *paramInput) error {
	n, err := maxResults(in.MaxResults, 10)
	if err != nil {
		return err
	}
	after, err := decodeToken(in.NextToken)
	if err != nil {
		return err
	}
	ps, next, err := x.Params.ByPath(r.Context(), in.Path, in.Recursive, after, n)
	if err != nil {
		return err
	}
	list := []map[string]any{}
	for _, p := range ps {
		out, err := x.parameterJSON(r, p, p.Name, in.WithDecryption)
		if err != nil {
			return err
		}
		list = append(list, out)
	}
	resp := map[string]any{"Parameters": list}
	if next != "" {
		resp["NextToken"] = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	return awsapi.JSON{}.Write(w, resp)
}

func (x *SSM) history(w http.ResponseWriter, r *http.Request, in *paramInput) error {
	versions, err := x.Params.History(r.Context(), in.Name)
	if err != nil {
		return err
	}
	list := []map[string]any{}
	for _, p := range versions {
		v, err := x.value(r, p, in.WithDecryption)
		if err != nil {
			return err
		}
		e := map[string]any{"Name": p.Name, "Type": p.Type, "LastModifiedDate": float64(p.ModifiedAt.UnixMilli()) / 1000, "LastModifiedUser": p.ModifiedBy,
			"Description": p.Description, "Value": v, "AllowedPattern": p.AllowedPattern, "Version": p.Version, "Labels": p.Labels,
			"Tier": p.Tier, "Policies": []any{}, "DataType": p.DataType}
		if p.KeyID != "" {
			e["KeyId"] = p.KeyID
		}
		list = append(list, e)
	}
	return awsapi.JSON{}.Write(w, map[string]any{"Parameters": list})
}

func (x *SSM) delete(w http.ResponseWriter, r *http.Request, in *paramInput) error {
	if err := x.Params.Delete(r.Context(), in.Name); err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, struct{}{})
}

func (x *SSM) deleteMany(w http.ResponseWriter, r *http.Request, in *paramInput) error {
	if len(in.Names) < 1 || len(in.Names) > 10 {
		return errs.Field(ssm.ErrInvalid, "names", "must have length between 1 and 10, got %d", len(in.Names))
	}
	deleted, invalid := []string{}, []string{}
	for i, n := range in.Names {
		if i > 0 {
			if err := awsapi.AuthorizeAlso(x.Authorizer, r, x.arnOf(n), "ssm:DeleteParameters"); err != nil {
				return err
			}
		}
		if err := x.Params.Delete(r.Context(), n); err != nil {
			if errors.Is(err, ssm.ErrNotFound) || errors.Is(err, ssm.ErrInvalid) {
				invalid = append(invalid, n)
				continue
			}
			return err
		}
		deleted = append(deleted, n)
	}
	return awsapi.JSON{}.Write(w, map[string]any{"DeletedParameters": deleted, "InvalidParameters": invalid})
}

func (x *SSM) label(w http.ResponseWriter, r *http.Request, in *paramInput) error {
	invalid, v, err := x.Params.Label(r.Context(), in.Name, in.ParameterVersion, in.Labels)
	if err != nil {
		return err
	}
	if invalid == nil {
		invalid = []string{}
	}
	return awsapi.JSON{}.Write(w, map[string]any{"InvalidLabels": invalid, "ParameterVersion": v})
}

func (x *SSM) unlabel(w http.ResponseWriter, r *http.Request, in *paramInput) error {
	removed, invalid, err := x.Params.Unlabel(r.Context(), in.Name, in.ParameterVersion, in.Labels)
	if err != nil {
		return err
	}
	if removed == nil {
		removed = []string{}
	}
	if invalid == nil {
		invalid = []string{}
	}
	return awsapi.JSON{}.Write(w, map[string]any{"RemovedLabels": removed, "InvalidLabels": invalid})
}

func (x *SSM) describe(w http.ResponseWriter, r *http.Request, in *paramInput) error {
	n, err := maxResults(in.MaxResults, 50)
	if err != nil {
		return err
	}
	after, err := decodeToken(in.NextToken)
	if err != nil {
		return err
	}
	ps, err := x.Params.Store.LatestParameters(r.Context(), "", after, n)
	if err != nil {
		return err
	}
	list := []map[string]any{}
	for _, p := range ps {
		e := map[string]any{"Name": p.Name, "ARN": x.Params.ARN(p.Name), "Type": p.Type, "LastModifiedDate": float64(p.ModifiedAt.UnixMilli()) / 1000,
			"LastModifiedUser": p.ModifiedBy, "Description": p.Description, "AllowedPattern": p.AllowedPattern, "Version": p.Version,
			"Tier": p.Tier, "Policies": []any{}, "DataType": p.DataType}
		if p.KeyID != "" {
			e["KeyId"] = p.KeyID
		}
		list = append(list, e)
	}
	resp := map[string]any{"Parameters": list}
	if len(ps) == n {
		resp["NextToken"] = base64.RawURLEncoding.EncodeToString([]byte(ps[n-1].Name))
	}
	return awsapi.JSON{}.Write(w, resp)
}

// decodeToken reads a NextToken this service gave (the last name of the
// previous page); "" is the first page.
func decodeToken(t string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return "", errs.Errorf(ssm.ErrInvalid, "The nextToken is not valid: it is not one this service gave.")
	}
	return string(b), nil
}
