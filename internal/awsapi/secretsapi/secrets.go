// Package secretsapi serves the AWS Secrets Manager API (JSON 1.1,
// X-Amz-Target secretsmanager.*) over internal/secrets. Reading a value
// needs kms:Decrypt on the key it is encrypted under, and storing one
// kms:GenerateDataKey, as well as the operation's own permission; the
// key's policy and IAM decide both (the default key, alias/aws/
// secretsmanager, is usable only through Secrets Manager). A secret's
// resource policy allows as a function policy does. Turning rotation on
// needs lambda:InvokeFunction on the rotation function.
package secretsapi

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/kms"
	"github.com/signet/signet/internal/policy"
	"github.com/signet/signet/internal/secrets"
)

// Secrets serves the API.
type Secrets struct {
	Secrets    *secrets.Service
	Authorizer awsapi.Authorizer
	Log        *slog.Logger
	// Function resolves a rotation function's ARN (with or without a
	// qualifier) to the ARN it is invoked by, or fails saying why.
	Function func(ctx context.Context, arn string) (string, error)
	// Started, when set, is called when a rotation starts, so that the
	// worker runs it now.
	Started func()
}

var errorCodes = []awsapi.ErrorCode{
	{Err: secrets.ErrNotFound, Code: "ResourceNotFoundException", Status: http.StatusBadRequest},
	{Err: secrets.ErrExists, Code: "ResourceExistsException", Status: http.StatusBadRequest},
	{Err: secrets.ErrInvalidParameter, Code: "InvalidParameterException", Status: http.StatusBadRequest},
	{Err: secrets.ErrInvalidRequest, Code: "InvalidRequestException", Status: http.StatusBadRequest},
	{Err: secrets.ErrLimit, Code: "LimitExceededException", Status: http.StatusBadRequest},
	{Err: secrets.ErrDecryption, Code: "DecryptionFailure", Status: http.StatusBadRequest},
	{Err: secrets.ErrEncryption, Code: "EncryptionFailure", Status: http.StatusBadRequest},
	{Err: secrets.ErrPolicy, Code: "MalformedPolicyDocumentException", Status: http.StatusBadRequest},
	{Err: kms.ErrNotFound, Code: "ResourceNotFoundException", Status: http.StatusBadRequest},
}

// Service returns the operations.
func (x *Secrets) Service() *awsapi.Service {
	op := func(name string) awsapi.Operation {
		return awsapi.Operation{Name: name, Pattern: "POST /", Target: "secretsmanager." + name, Action: "secretsmanager:" + name}
	}
	secret := func(r *http.Request, in *input) string { return x.arnOf(r.Context(), in.SecretID) }
	return &awsapi.Service{Name: "secretsmanager", Protocol: awsapi.JSON{}, Errors: errorCodes,
		Internal:   awsapi.Error{Code: "InternalServiceError", Status: http.StatusInternalServerError},
		Throttle:   awsapi.Error{Code: "ThrottlingException", Status: http.StatusBadRequest},
		Authorizer: x.Authorizer, Log: x.Log, Policies: x,
		Operations: []awsapi.Operation{
			awsapi.Typed(op("CreateSecret"), awsapi.DecodeJSON, func(r *http.Request, in *input) string { return x.Secrets.ARNPattern(in.Name) }, tagConditions, x.create),
			awsapi.Typed(op("GetSecretValue"), awsapi.DecodeJSON, secret, nil, x.getValue),
			awsapi.Typed(op("BatchGetSecretValue"), awsapi.DecodeJSON, x.firstSecret, nil, x.batchGet),
			awsapi.Typed(op("PutSecretValue"), awsapi.DecodeJSON, secret, nil, x.putValue),
			awsapi.Typed(op("UpdateSecret"), awsapi.DecodeJSON, secret, nil, x.update),
			awsapi.Typed(op("UpdateSecretVersionStage"), awsapi.DecodeJSON, secret, nil, x.updateStage),
			awsapi.Typed(op("DescribeSecret"), awsapi.DecodeJSON, secret, nil, x.describe),
			awsapi.Typed(op("ListSecrets"), awsapi.DecodeJSON, nil, nil, x.list),
			awsapi.Typed(op("ListSecretVersionIds"), awsapi.DecodeJSON, secret, nil, x.listVersions),
			awsapi.Typed(op("DeleteSecret"), awsapi.DecodeJSON, secret, nil, x.delete),
			awsapi.Typed(op("RestoreSecret"), awsapi.DecodeJSON, secret, nil, x.restore),
			awsapi.Typed(op("GetRandomPassword"), awsapi.DecodeJSON, nil, nil, x.randomPassword),
			awsapi.Typed(op("TagResource"), awsapi.DecodeJSON, secret, tagConditions, x.tag),
			awsapi.Typed(op("UntagResource"), awsapi.DecodeJSON, secret, nil, x.untag),
			awsapi.Typed(op("PutResourcePolicy"), awsapi.DecodeJSON, secret, nil, x.putPolicy),
			awsapi.Typed(op("GetResourcePolicy"), awsapi.DecodeJSON, secret, nil, x.getPolicy),
			awsapi.Typed(op("DeleteResourcePolicy"), awsapi.DecodeJSON, secret, nil, x.deletePolicy),
			awsapi.Typed(op("RotateSecret"), awsapi.DecodeJSON, secret, nil, x.rotate),
			awsapi.Typed(op("CancelRotateSecret"), awsapi.DecodeJSON, secret, nil, x.cancelRotate),
		}}
}

// ResourcePolicies returns a secret's resource policy.
func (x *Secrets) ResourcePolicies(ctx context.Context, action, resource string) ([]*policy.Document, error) {
	if !strings.Contains(resource, ":secret:") || strings.Contains(resource, "??????") {
		return nil, nil
	}
	sec, err := x.Secrets.Store.Secret(ctx, resource)
	if err != nil || sec.Policy == "" {
		return nil, nil
	}
	d, err := policy.Parse([]byte(sec.Policy), policy.Resource)
	if err != nil {
		return nil, err
	}
	return []*policy.Document{d}, nil
}

// arnOf is the ARN a secret reference authorizes against: the secret's
// own, or, when there is no such secret, the ARN its name would have.
func (x *Secrets) arnOf(ctx context.Context, ref string) string {
	if ref == "" {
		return "*"
	}
	if sec, err := x.Secrets.Find(ctx, ref); err == nil {
		return sec.ARN
	}
	if strings.HasPrefix(ref, "arn:") {
		return ref
	}
	return x.Secrets.ARNPattern(ref)
}

// firstSecret authorizes BatchGetSecretValue on its first secret; each
// is authorized in the handler.
func (x *Secrets) firstSecret(r *http.Request, in *input) string {
	if len(in.SecretIDList) == 0 {
		return "*"
	}
	return x.arnOf(r.Context(), in.SecretIDList[0])
}

// tagConditions are aws:RequestTag/* and aws:TagKeys of a request with
// tags.
func tagConditions(in *input) map[string][]string {
	if len(in.Tags) == 0 {
		return nil
	}
	keys := map[string][]string{}
	for _, t := range in.Tags {
		keys["aws:requesttag/"+strings.ToLower(t.Key)] = []string{t.Value}
		keys["aws:tagkeys"] = append(keys["aws:tagkeys"], t.Key)
	}
	return keys
}

// Wire shapes.

type input struct {
	Name                       string   `json:"Name"`
	SecretID                   string   `json:"SecretId"`
	SecretIDList               []string `json:"SecretIdList"`
	Description                *string  `json:"Description"`
	KmsKeyID                   string   `json:"KmsKeyId"`
	SecretString               *string  `json:"SecretString"`
	SecretBinary               []byte   `json:"SecretBinary"`
	ClientRequestToken         string   `json:"ClientRequestToken"`
	VersionID                  string   `json:"VersionId"`
	VersionStage               string   `json:"VersionStage"`
	VersionStages              []string `json:"VersionStages"`
	MoveToVersionID            string   `json:"MoveToVersionId"`
	RemoveFromVersionID        string   `json:"RemoveFromVersionId"`
	Tags                       []tag    `json:"Tags"`
	TagKeys                    []string `json:"TagKeys"`
	RecoveryWindowInDays       int      `json:"RecoveryWindowInDays"`
	ForceDeleteWithoutRecovery bool     `json:"ForceDeleteWithoutRecovery"`
	Filters                    []filter `json:"Filters"`
	MaxResults                 int      `json:"MaxResults"`
	NextToken                  string   `json:"NextToken"`
	IncludePlannedDeletion     bool     `json:"IncludePlannedDeletion"`
	IncludeDeprecated          bool     `json:"IncludeDeprecated"`
	SortOrder                  string   `json:"SortOrder"`
	ResourcePolicy             string   `json:"ResourcePolicy"`
	BlockPublicPolicy          bool     `json:"BlockPublicPolicy"`
	RotationLambdaARN          string   `json:"RotationLambdaARN"`
	RotationRules              *rules   `json:"RotationRules"`
	RotateImmediately          *bool    `json:"RotateImmediately"`
	AddReplicaRegions          []any    `json:"AddReplicaRegions"`
	passwordOptions
}

type passwordOptions struct {
	PasswordLength          int    `json:"PasswordLength"`
	ExcludeCharacters       string `json:"ExcludeCharacters"`
	ExcludeNumbers          bool   `json:"ExcludeNumbers"`
	ExcludePunctuation      bool   `json:"ExcludePunctuation"`
	ExcludeUppercase        bool   `json:"ExcludeUppercase"`
	ExcludeLowercase        bool   `json:"ExcludeLowercase"`
	IncludeSpace            bool   `json:"IncludeSpace"`
	RequireEachIncludedType *bool  `json:"RequireEachIncludedType"`
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type filter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

type rules struct {
	AutomaticallyAfterDays int    `json:"AutomaticallyAfterDays"`
	ScheduleExpression     string `json:"ScheduleExpression"`
	Duration               string `json:"Duration"`
}

func epoch(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return float64(t.UnixMilli()) / 1000
}

func tagsOf(in []tag) []secrets.Tag {
	out := make([]secrets.Tag, len(in))
	for i, t := range in {
		out[i] = secrets.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

func write(w http.ResponseWriter, v map[string]any) error {
	for k, x := range v {
		if x == nil {
			delete(v, k)
		}
	}
	return awsapi.JSON{}.Write(w, v)
}

// keyFor resolves a KmsKeyId and authorizes the caller to encrypt under
// it (a new value's data key is generated for the caller).
func (x *Secrets) keyFor(r *http.Request, ref string) (string, error) {
	keyARN, err := x.Secrets.KeyARN(r.Context(), ref)
	if err != nil {
		return "", err
	}
	if err := awsapi.AuthorizeAlso(x.Authorizer, r, keyARN, "kms:GenerateDataKey", "kms:Encrypt"); err != nil {
		return "", err
	}
	return keyARN, nil
}

func (x *Secrets) create(w http.ResponseWriter, r *http.Request, in *input) error {
	if len(in.AddReplicaRegions) > 0 {
		return errs.Errorf(secrets.ErrInvalidRequest, "Signet does not replicate secrets to other regions: remove AddReplicaRegions.")
	}
	if in.Name == "" {
		return errs.Null(secrets.ErrInvalidParameter, "name")
	}
	keyARN := ""
	if in.SecretString != nil || in.SecretBinary != nil || in.KmsKeyID != "" {
		var err error
		if keyARN, err = x.keyFor(r, in.KmsKeyID); err != nil {
			return err
		}
	}
	customer := in.KmsKeyID
	if customer != "" {
		customer = keyARN
	}
	sec, version, err := x.Secrets.Create(r.Context(), secrets.CreateInput{Name: in.Name, Description: deref(in.Description), KeyID: customer,
		Value: secrets.Value{String: in.SecretString, Binary: in.SecretBinary}, Token: in.ClientRequestToken, Tags: tagsOf(in.Tags)})
	if err != nil {
		return err
	}
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name}
	if version != "" {
		out["VersionId"] = version
	}
	return write(w, out)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// value reads a version's value for the caller, who needs kms:Decrypt
// on its key.
func (x *Secrets) value(r *http.Request, sec secrets.Secret, versionID, stage string) (map[string]any, error) {
	v, err := x.Secrets.Select(sec, versionID, stage)
	if err != nil {
		return nil, err
	}
	keyARN, err := x.Secrets.KeyOf(sec, v)
	if err != nil {
		return nil, err
	}
	if err := awsapi.AuthorizeAlso(x.Authorizer, r, keyARN, "kms:Decrypt"); err != nil {
		return nil, err
	}
	plain, err := x.Secrets.Open(r.Context(), sec, v)
	if err != nil {
		return nil, err
	}
	x.Secrets.Accessed(r.Context(), sec)
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name, "VersionId": v.ID, "VersionStages": v.Stages, "CreatedDate": epoch(v.CreatedAt)}
	if v.Binary {
		out["SecretBinary"] = plain
	} else {
		out["SecretString"] = string(plain)
	}
	return out, nil
}

func (x *Secrets) getValue(w http.ResponseWriter, r *http.Request, in *input) error {
	sec, err := x.Secrets.Find(r.Context(), in.SecretID)
	if err != nil {
		return err
	}
	out, err := x.value(r, sec, in.VersionID, in.VersionStage)
	if err != nil {
		return err
	}
	return write(w, out)
}

func (x *Secrets) batchGet(w http.ResponseWriter, r *http.Request, in *input) error {
	if len(in.Filters) > 0 {
		return errs.Errorf(secrets.ErrInvalidParameter, "Signet's BatchGetSecretValue takes SecretIdList; Filters are not supported.")
	}
	if len(in.SecretIDList) < 1 || len(in.SecretIDList) > 20 {
		return errs.Field(secrets.ErrInvalidParameter, "secretIdList", "must have between 1 and 20 secret ids")
	}
	var values, failures []map[string]any
	for _, id := range in.SecretIDList {
		fail := func(err error) {
			e := x.Service().MapError("BatchGetSecretValue", err)
			failures = append(failures, map[string]any{"SecretId": id, "ErrorCode": e.Code, "Message": e.Message})
		}
		// Each secret needs GetSecretValue, the first included (the
		// operation's own permission is BatchGetSecretValue).
		if err := awsapi.AuthorizeAlso(x.Authorizer, r, x.arnOf(r.Context(), id), "secretsmanager:GetSecretValue"); err != nil {
			fail(err)
			continue
		}
		sec, err := x.Secrets.Find(r.Context(), id)
		if err != nil {
			fail(err)
			continue
		}
		out, err := x.value(r, sec, "", "")
		if err != nil {
			fail(err)
			continue
		}
		// The record names every secret version released, whatever
		// its decision says of the ones refused.
		awsapi.Note(r.Context(), "released %s version %s", sec.ARN, out["VersionId"])
		values = append(values, out)
	}
	return awsapi.JSON{}.Write(w, map[string]any{"SecretValues": nonNil(values), "Errors": nonNil(failures)})
}

func nonNil(v []map[string]any) []map[string]any {
	if v == nil {
		return []map[string]any{}
	}
	return v
}

func (x *Secrets) putValue(w http.ResponseWriter, r *http.Request, in *input) error {
	sec, err := x.Secrets.Find(r.Context(), in.SecretID)
	if err != nil {
		return err
	}
	if err := awsapi.AuthorizeAlso(x.Authorizer, r, sec.KeyID, "kms:GenerateDataKey", "kms:Encrypt"); err != nil {
		return err
	}
	sec, v, err := x.Secrets.Put(r.Context(), secrets.PutInput{SecretID: sec.ARN, Token: in.ClientRequestToken,
		Value: secrets.Value{String: in.SecretString, Binary: in.SecretBinary}, Stages: in.VersionStages})
	if err != nil {
		return err
	}
	return write(w, map[string]any{"ARN": sec.ARN, "Name": sec.Name, "VersionId": v.ID, "VersionStages": v.Stages})
}

func (x *Secrets) update(w http.ResponseWriter, r *http.Request, in *input) error {
	sec, err := x.Secrets.Find(r.Context(), in.SecretID)
	if err != nil {
		return err
	}
	keyARN := ""
	if in.KmsKeyID != "" {
		if keyARN, err = x.keyFor(r, in.KmsKeyID); err != nil {
			return err
		}
	} else if in.SecretString != nil || in.SecretBinary != nil {
		if err := awsapi.AuthorizeAlso(x.Authorizer, r, sec.KeyID, "kms:GenerateDataKey", "kms:Encrypt"); err != nil {
			return err
		}
	}
	sec, version, err := x.Secrets.Update(r.Context(), secrets.UpdateInput{SecretID: sec.ARN, Description: in.Description, KeyID: keyARN,
		Value: secrets.Value{String: in.SecretString, Binary: in.SecretBinary}, Token: in.ClientRequestToken})
	if err != nil {
		return err
	}
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name}
	if version != "" {
		out["VersionId"] = version
	}
	return write(w, out)
}

func (x *Secrets) updateStage(w http.ResponseWriter, r *http.Request, in *input) error {
	sec, err := x.Secrets.UpdateStage(r.Context(), in.SecretID, in.VersionStage, in.MoveToVersionID, in.RemoveFromVersionID)
	if err != nil {
		return err
	}
	return write(w, map[string]any{"ARN": sec.ARN, "Name": sec.Name})
}

// describeJSON is a secret's metadata as DescribeSecret and ListSecrets
// answer it.
func (x *Secrets) describeJSON(sec secrets.Secret, list bool) map[string]any {
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name, "CreatedDate": epoch(sec.CreatedAt), "LastChangedDate": epoch(sec.ChangedAt),
		"LastAccessedDate": epoch(sec.AccessedAt), "DeletedDate": epoch(sec.DeletionDate)}
	if sec.Description != "" {
		out["Description"] = sec.Description
	}
	if sec.CustomerKey {
		out["KmsKeyId"] = sec.KeyID
	}
	rot := sec.Rotation
	out["RotationEnabled"] = rot.Enabled
	if rot.LambdaARN != "" {
		out["RotationLambdaARN"] = rot.LambdaARN
		rr := map[string]any{}
		if rot.Schedule != "" {
			rr["ScheduleExpression"] = rot.Schedule
		} else if rot.AfterDays != 0 {
			rr["AutomaticallyAfterDays"] = rot.AfterDays
		}
		if rot.Duration != "" {
			rr["Duration"] = rot.Duration
		}
		out["RotationRules"] = rr
	}
	out["LastRotatedDate"] = epoch(rot.LastRotated)
	if rot.Enabled {
		out["NextRotationDate"] = epoch(rot.Next)
	}
	if !rot.FailedAt.IsZero() {
		// Signet's own: why the last rotation failed (AWS shows it only
		// in CloudTrail).
		out["SignetLastRotationFailure"] = map[string]any{"Date": epoch(rot.FailedAt), "Step": rot.FailedStep, "Message": rot.Failure}
	}
	if len(sec.Tags) > 0 {
		tags := make([]tag, len(sec.Tags))
		for i, t := range sec.Tags {
			tags[i] = tag{Key: t.Key, Value: t.Value}
		}
		out["Tags"] = tags
	}
	stages := map[string][]string{}
	for _, v := range sec.Versions {
		if len(v.Stages) > 0 || !list {
			stages[v.ID] = v.Stages
		}
	}
	if list {
		out["SecretVersionsToStages"] = stages
	} else {
		out["VersionIdsToStages"] = stages
	}
	return out
}

func (x *Secrets) describe(w http.ResponseWriter, r *http.Request, in *input) error {
	sec, err := x.Secrets.Find(r.Context(), in.SecretID)
	if err != nil {
		return err
	}
	out := x.describeJSON(sec, false)
	// DescribeSecret lists only versions with a label.
	stages := out["VersionIdsToStages"].(map[string][]string)
	for id, st := range stages {
		if len(st) == 0 {
			delete(stages, id)
		}
	}
	return write(w, out)
}

// page is a page of a list: NextToken is the offset of the next item.
func page(n, max int, token string) (int, int, string, error) {
	if max == 0 {
		max = 100
	}
	if max < 1 || max > 100 {
		return 0, 0, "", errs.Field(secrets.ErrInvalidParameter, "maxResults", "must be between 1 and 100")
	}
	start := 0
	if token != "" {
		var err error
		if start, err = strconv.Atoi(token); err != nil || start < 0 || start > n {
			return 0, 0, "", errs.Errorf(secrets.ErrInvalidParameter, "The NextToken %q is not one this API returned.", token)
		}
	}
	end := min(start+max, n)
	next := ""
	if end < n {
		next = strconv.Itoa(end)
	}
	return start, end, next, nil
}

func (x *Secrets) list(w http.ResponseWriter, r *http.Request, in *input) error {
	filters := make([]secrets.Filter, len(in.Filters))
	for i, f := range in.Filters {
		filters[i] = secrets.Filter{Key: f.Key, Values: f.Values}
	}
	all, err := x.Secrets.List(r.Context(), filters, in.IncludePlannedDeletion, in.SortOrder)
	if err != nil {
		return err
	}
	// Only the secrets the caller may describe are listed.
	var visible []secrets.Secret
	for _, sec := range all {
		if awsapi.Allowed(x.Authorizer, r, sec.ARN, "secretsmanager:DescribeSecret") {
			visible = append(visible, sec)
		}
	}
	start, end, next, err := page(len(visible), in.MaxResults, in.NextToken)
	if err != nil {
		return err
	}
	list := []map[string]any{}
	for _, sec := range visible[start:end] {
		list = append(list, x.describeJSON(sec, true))
	}
	out := map[string]any{"SecretList": list}
	if next != "" {
		out["NextToken"] = next
	}
	return write(w, out)
}

func (x *Secrets) listVersions(w http.ResponseWriter, r *http.Request, in *input) error {
	sec, err := x.Secrets.Find(r.Context(), in.SecretID)
	if err != nil {
		return err
	}
	var vs []secrets.Version
	for _, v := range slices.Backward(sec.Versions) {
		if len(v.Stages) > 0 || in.IncludeDeprecated {
			vs = append(vs, v)
		}
	}
	start, end, next, err := page(len(vs), in.MaxResults, in.NextToken)
	if err != nil {
		return err
	}
	list := []map[string]any{}
	for _, v := range vs[start:end] {
		e := map[string]any{"VersionId": v.ID, "VersionStages": v.Stages, "CreatedDate": epoch(v.CreatedAt)}
		if e["VersionStages"] == nil || len(v.Stages) == 0 {
			e["VersionStages"] = []string{}
		}
		list = append(list, e)
	}
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name, "Versions": list}
	if next != "" {
		out["NextToken"] = next
	}
	return write(w, out)
}

func (x *Secrets) delete(w http.ResponseWriter, r *http.Request, in *input) error {
	sec, err := x.Secrets.Delete(r.Context(), in.SecretID, in.RecoveryWindowInDays, in.ForceDeleteWithoutRecovery)
	if err != nil {
		return err
	}
	return write(w, map[string]any{"ARN": sec.ARN, "Name": sec.Name, "DeletionDate": epoch(sec.DeletionDate)})
}

func (x *Secrets) restore(w http.ResponseWriter, r *http.Request, in *input) error {
	sec, err := x.Secrets.Restore(r.Context(), in.SecretID)
	if err != nil {
		return err
	}
	return write(w, map[string]any{"ARN": sec.ARN, "Name": sec.Name})
}

func (x *Secrets) randomPassword(w http.ResponseWriter, r *http.Request, in *input) error {
	p := in.passwordOptions
	pw, err := secrets.RandomPassword(secrets.PasswordInput{Length: p.PasswordLength, Exclude: p.ExcludeCharacters,
		ExcludeNumbers: p.ExcludeNumbers, ExcludePunctuation: p.ExcludePunctuation, ExcludeUppercase: p.ExcludeUppercase,
		ExcludeLowercase: p.ExcludeLowercase, IncludeSpace: p.IncludeSpace, RequireEachType: p.RequireEachIncludedType})
	if err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{"RandomPassword": pw})
}

func (x *Secrets) tag(w http.ResponseWriter, r *http.Request, in *input) error {
	if err := x.Secrets.Tag(r.Context(), in.SecretID, tagsOf(in.Tags)); err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{})
}

func (x *Secrets) untag(w http.ResponseWriter, r *http.Request, in *input) error {
	if err := x.Secrets.Untag(r.Context(), in.SecretID, in.TagKeys); err != nil {
		return err
	}
	return awsapi.JSON{}.Write(w, map[string]any{})
}

func (x *Secrets) putPolicy(w http.ResponseWriter, r *http.Request, in *input) error {
	if in.ResourcePolicy == "" {
		return errs.Null(secrets.ErrInvalidParameter, "resourcePolicy")
	}
	sec, err := x.Secrets.SetPolicy(r.Context(), in.SecretID, in.ResourcePolicy)
	if err != nil {
		return err
	}
	return write(w, map[string]any{"ARN": sec.ARN, "Name": sec.Name})
}

func (x *Secrets) getPolicy(w http.ResponseWriter, r *http.Request, in *input) error {
	sec, err := x.Secrets.Find(r.Context(), in.SecretID)
	if err != nil {
		return err
	}
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name}
	if sec.Policy != "" {
		out["ResourcePolicy"] = sec.Policy
	}
	return write(w, out)
}

func (x *Secrets) deletePolicy(w http.ResponseWriter, r *http.Request, in *input) error {
	sec, err := x.Secrets.SetPolicy(r.Context(), in.SecretID, "")
	if err != nil {
		return err
	}
	return write(w, map[string]any{"ARN": sec.ARN, "Name": sec.Name})
}

func (x *Secrets) rotate(w http.ResponseWriter, r *http.Request, in *input) error {
	sec, err := x.Secrets.Find(r.Context(), in.SecretID)
	if err != nil {
		return err
	}
	fn := in.RotationLambdaARN
	if fn == "" {
		fn = sec.Rotation.LambdaARN
	}
	if fn != "" {
		if !strings.HasPrefix(fn, "arn:") || !strings.Contains(fn, ":function:") {
			return errs.Value(secrets.ErrInvalidParameter, "rotationLambdaARN", fn, "must be a function ARN")
		}
		if x.Function != nil {
			if fn, err = x.Function(r.Context(), fn); err != nil {
				return errs.Errorf(secrets.ErrInvalidRequest, "Secrets Manager cannot invoke the specified Lambda function: %v", err)
			}
		}
		// The rotation runs the function for the caller.
		if err := awsapi.AuthorizeAlso(x.Authorizer, r, fn, "lambda:InvokeFunction"); err != nil {
			return err
		}
	}
	var rr *secrets.Rules
	if in.RotationRules != nil {
		rr = &secrets.Rules{AfterDays: in.RotationRules.AutomaticallyAfterDays, Schedule: in.RotationRules.ScheduleExpression, Duration: in.RotationRules.Duration}
	}
	now := in.RotateImmediately == nil || *in.RotateImmediately
	lambdaARN := ""
	if in.RotationLambdaARN != "" {
		lambdaARN = fn
	}
	sec, version, err := x.Secrets.Rotate(r.Context(), secrets.RotateInput{SecretID: sec.ARN, LambdaARN: lambdaARN, Rules: rr, Immediately: now, Token: in.ClientRequestToken})
	if err != nil {
		return err
	}
	if version != "" && x.Started != nil {
		x.Started()
	}
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name}
	if version != "" {
		out["VersionId"] = version
	}
	return write(w, out)
}

func (x *Secrets) cancelRotate(w http.ResponseWriter, r *http.Request, in *input) error {
	sec, err := x.Secrets.CancelRotation(r.Context(), in.SecretID)
	if err != nil {
		return err
	}
	return write(w, map[string]any{"ARN": sec.ARN, "Name": sec.Name})
}
