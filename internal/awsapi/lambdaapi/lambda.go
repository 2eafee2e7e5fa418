// Package lambdaapi serves the Lambda API (REST-JSON): code signing
// configs, functions, versions, layers, permissions, concurrency and
// Invoke.
package lambdaapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/deploygate"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/invoke"
	"github.com/signet/signet/internal/policy"
)

// Lambda serves the Lambda API (rest-json): code signing configs.
type Lambda struct {
	CSCs      *deploygate.Service
	Functions *functions.Service
	// Invoke runs functions (nil: no Invoke operations).
	Invoke *invoke.Service
	// ReadObject reads a package from a bucket (Code.S3Bucket/S3Key).
	ReadObject func(ctx context.Context, bucket, key, version string, max int64) ([]byte, error)
	// CodeURL returns a short-lived download URL of a function's package.
	CodeURL    func(name, codeSHA256 string) string
	Authorizer awsapi.Authorizer
	Log        *slog.Logger
}

// Service returns the operations of the Lambda API.
func (l *Lambda) Service() *awsapi.Service {
	cscARN := func(r *http.Request) string {
		if id, err := l.CSCs.ID(r.PathValue("arn")); err == nil {
			return l.CSCs.ARN(id)
		}
		return r.PathValue("arn")
	}
	const base = "/2020-04-22/code-signing-configs"
	ops := []awsapi.Operation{
		{Name: "CreateCodeSigningConfig", Pattern: "POST " + base, Action: "lambda:CreateCodeSigningConfig", Resource: awsapi.AllResources, Handle: l.createCSC},
		{Name: "CreateCodeSigningConfig", Pattern: "POST " + base + "/{$}", Action: "lambda:CreateCodeSigningConfig", Resource: awsapi.AllResources, Handle: l.createCSC},
		{Name: "ListCodeSigningConfigs", Pattern: "GET " + base, Action: "lambda:ListCodeSigningConfigs", Resource: awsapi.AllResources, Handle: l.listCSCs},
		{Name: "ListCodeSigningConfigs", Pattern: "GET " + base + "/{$}", Action: "lambda:ListCodeSigningConfigs", Resource: awsapi.AllResources, Handle: l.listCSCs},
		{Name: "GetCodeSigningConfig", Pattern: "GET " + base + "/{arn}", Action: "lambda:GetCodeSigningConfig", Resource: cscARN, Handle: l.getCSC},
		{Name: "UpdateCodeSigningConfig", Pattern: "PUT " + base + "/{arn}", Action: "lambda:UpdateCodeSigningConfig", Resource: cscARN, Handle: l.updateCSC},
		{Name: "DeleteCodeSigningConfig", Pattern: "DELETE " + base + "/{arn}", Action: "lambda:DeleteCodeSigningConfig", Resource: cscARN, Handle: l.deleteCSC},
	}
	if l.Functions != nil {
		ops = append(ops, l.functionOperations()...)
	}
	if l.Invoke != nil {
		ops = append(ops, l.invokeOperations()...)
	}
	for i := range ops {
		ops[i].MaxBody, ops[i].TooLarge = lambdaBodyLimit(ops[i].Name)
		if ops[i].Name == "Invoke" {
			ops[i].Smaller = eventBodyLimit
		}
	}
	return &awsapi.Service{Name: "lambda", Protocol: awsapi.RestJSON{ErrorBody: errorBody}, Operations: ops, Errors: errorCodes,
		Internal:   awsapi.Error{Code: "ServiceException", Status: http.StatusInternalServerError},
		Throttle:   awsapi.Error{Code: "TooManyRequestsException", Status: http.StatusTooManyRequests, Reason: "CallerRateLimitExceeded"},
		Authorizer: l.Authorizer, Log: l.Log, Policies: l}
}

// Lambda's request limits: a package inline in a request (50 MB of zip in
// base64, in JSON) and a synchronous invocation's payload.
const (
	MaxCodeRequest   = 70167211
	MaxInvokeRequest = invoke.MaxSyncPayload
)

// lambdaBodyLimit is the largest body operation op takes and the error a
// larger one gets, in Lambda's words (0, nil: the default).
func lambdaBodyLimit(op string) (int64, *awsapi.Error) {
	switch op {
	case "CreateFunction", "UpdateFunctionCode", "PublishLayerVersion":
		return MaxCodeRequest, &awsapi.Error{Code: "RequestEntityTooLargeException", Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("Request must be smaller than %d bytes for the %s operation", MaxCodeRequest, op)}
	case "Invoke":
		return MaxInvokeRequest, &awsapi.Error{Code: "RequestTooLargeException", Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", MaxInvokeRequest)}
	}
	return 0, nil
}

// eventBodyLimit is the smaller limit of an Event invocation's payload,
// so that the server refuses a larger one before reading it; the error is
// the one the runtime gives a larger Event payload.
func eventBodyLimit(r *http.Request) (int64, *awsapi.Error) {
	if r.Header.Get("X-Amz-Invocation-Type") != "Event" {
		return 0, nil
	}
	return invoke.MaxAsyncPayload, &awsapi.Error{Code: "RequestTooLargeException", Status: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("Request must be smaller than %d bytes for the Invoke operation", invoke.MaxAsyncPayload)}
}

// errorCodes are the AWS codes of the Lambda API's errors: those of the
// function registry, the runtime and the deploy gate, and Lambda's names
// for a body that is not JSON.
var errorCodes = []awsapi.ErrorCode{
	{Err: functions.ErrTooLarge, Code: "RequestTooLargeException", Status: http.StatusRequestEntityTooLarge},
	{Err: functions.ErrRevisionMismatch, Code: "PreconditionFailedException", Status: http.StatusPreconditionFailed},
	{Err: functions.ErrNotFound, Code: "ResourceNotFoundException", Status: http.StatusNotFound},
	{Err: functions.ErrExists, Code: "ResourceConflictException", Status: http.StatusConflict},
	{Err: functions.ErrInvalid, Code: "InvalidParameterValueException", Status: http.StatusBadRequest},
	{Err: functions.ErrCSCNotFound, Code: "CodeSigningConfigNotFoundException", Status: http.StatusNotFound},
	{Err: deploygate.ErrVerificationFailed, Code: "CodeVerificationFailedException", Status: http.StatusBadRequest},
	{Err: deploygate.ErrSignatureInvalid, Code: "InvalidCodeSignatureException", Status: http.StatusBadRequest},
	{Err: invoke.ErrThrottled, Code: "TooManyRequestsException", Status: http.StatusTooManyRequests, Message: "Rate Exceeded.", Reason: throttleReason},
	{Err: invoke.ErrCodeTooLarge, Code: "CodeStorageExceededException", Status: http.StatusBadRequest},
	{Err: invoke.ErrBadPackage, Code: "InvalidZipFileException", Status: http.StatusBadGateway},
	{Err: invoke.ErrUnsupportedRuntime, Code: "InvalidRuntimeException", Status: http.StatusBadGateway},
	{Err: invoke.ErrExecutionRole, Code: "InvalidParameterValueException", Status: http.StatusBadRequest},
	{Err: functions.ErrKMSDisabled, Code: "KMSDisabledException", Status: http.StatusBadGateway},
	{Err: functions.ErrKMSInvalidState, Code: "KMSInvalidStateException", Status: http.StatusBadGateway},
	{Err: functions.ErrKMSNotFound, Code: "KMSNotFoundException", Status: http.StatusBadGateway},
	{Err: functions.ErrKMSAccessDenied, Code: "KMSAccessDeniedException", Status: http.StatusBadGateway},
	{Err: invoke.ErrPayloadTooLarge, Code: "RequestTooLargeException", Status: http.StatusRequestEntityTooLarge},
	{Err: invoke.ErrInvalidPayload, Code: "InvalidRequestContentException", Status: http.StatusBadRequest},
	// 501, not Lambda's usual 500: the AWS CLI and the SDKs retry 500,
	// 502, 503 and 504, and retrying cannot help here.
	{Err: invoke.ErrUnavailable, Code: "ServiceException", Status: http.StatusNotImplemented},
	{Err: deploygate.ErrNotFound, Code: "ResourceNotFoundException", Status: http.StatusNotFound},
	{Err: deploygate.ErrInvalid, Code: "ValidationException", Status: http.StatusBadRequest},
	{Err: deploygate.ErrInUse, Code: "ResourceConflictException", Status: http.StatusConflict},
	{From: "SerializationException", Code: "InvalidRequestContentException", Status: http.StatusBadRequest},
	{From: "RequestEntityTooLargeException", Code: "InvalidRequestContentException", Status: http.StatusBadRequest},
}

// throttleReason is the Reason of a TooManyRequestsException: the limit
// reached.
func throttleReason(err error) string {
	var te *invoke.ThrottleError
	if !errors.As(err, &te) {
		return ""
	}
	switch te.Limit {
	case invoke.LimitReserved:
		return "ReservedFunctionConcurrentInvocationLimitExceeded"
	case invoke.LimitUnreserved:
		return "ConcurrentInvocationLimitExceeded"
	}
	return ""
}

// StartErrorType is Lambda's errorType, in a function error's payload
// and the log, for why a function could not start
// (invoke.Config.StartErrorType): its code in the error table.
func StartErrorType(kind error) string {
	if c := ErrorCode(kind); c != "" {
		return c
	}
	return kind.Error()
}

// ErrorCode returns the code Lambda answers err with, "" for nil or an
// error the table does not name. The audit log records a refused
// deployment (a deploygate.Decision's Refusal) by it.
func ErrorCode(err error) string {
	for _, c := range errorCodes {
		if err != nil && c.Err != nil && errors.Is(err, c.Err) {
			return c.Code
		}
	}
	return ""
}

// errorBody is Lambda's error shape: {"Type":"User","message"}, with
// Retry-After on throttling.
func errorBody(h http.Header, e *awsapi.Error) any {
	if e.Code == "TooManyRequestsException" {
		h.Set("Retry-After", "1")
	}
	typ := "User"
	if e.Status >= 500 {
		typ = "Service"
	}
	return struct {
		Type    string `json:"Type"`
		Message string `json:"message"`
		Reason  string `json:"Reason,omitempty"`
	}{typ, e.Message, e.Reason}
}

type cscJSON struct {
	CodeSigningConfigID  string `json:"CodeSigningConfigId"`
	CodeSigningConfigArn string `json:"CodeSigningConfigArn"`
	Description          string `json:"Description"`
	AllowedPublishers    struct {
		SigningProfileVersionArns []string `json:"SigningProfileVersionArns"`
	} `json:"AllowedPublishers"`
	CodeSigningPolicies struct {
		UntrustedArtifactOnDeployment string `json:"UntrustedArtifactOnDeployment"`
	} `json:"CodeSigningPolicies"`
	LastModified string `json:"LastModified"`
}

// lambdaTime is Lambda's timestamp format, e.g. 2026-11-23T10:00:00.000+0000.
const lambdaTime = "2006-01-02T15:04:05.000-0700"

func (l *Lambda) cscToJSON(c deploygate.CodeSigningConfig) cscJSON {
	var out cscJSON
	out.CodeSigningConfigID, out.CodeSigningConfigArn, out.Description = c.ID, l.CSCs.ARN(c.ID), c.Description
	out.AllowedPublishers.SigningProfileVersionArns = c.AllowedPublishers
	out.CodeSigningPolicies.UntrustedArtifactOnDeployment = string(c.Policy)
	out.LastModified = c.LastModified.UTC().Format(lambdaTime)
	return out
}

type cscRequest struct {
	Description       *string `json:"Description"`
	AllowedPublishers *struct {
		SigningProfileVersionArns []string `json:"SigningProfileVersionArns"`
	} `json:"AllowedPublishers"`
	CodeSigningPolicies *struct {
		UntrustedArtifactOnDeployment string `json:"UntrustedArtifactOnDeployment"`
	} `json:"CodeSigningPolicies"`
}

func (l *Lambda) createCSC(w http.ResponseWriter, r *http.Request) error {
	var req cscRequest
	if err := awsapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	c := deploygate.CodeSigningConfig{}
	if req.Description != nil {
		c.Description = *req.Description
	}
	if req.AllowedPublishers != nil {
		c.AllowedPublishers = req.AllowedPublishers.SigningProfileVersionArns
	}
	if req.CodeSigningPolicies != nil {
		c.Policy = deploygate.Policy(req.CodeSigningPolicies.UntrustedArtifactOnDeployment)
	}
	created, err := l.CSCs.CreateCSC(r.Context(), c)
	if err != nil {
		return err
	}
	return awsapi.WriteJSONStatus(w, http.StatusCreated, struct {
		CodeSigningConfig cscJSON `json:"CodeSigningConfig"`
	}{l.cscToJSON(created)})
}

func (l *Lambda) getCSC(w http.ResponseWriter, r *http.Request) error {
	c, err := l.CSCs.CSC(r.Context(), r.PathValue("arn"))
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, struct {
		CodeSigningConfig cscJSON `json:"CodeSigningConfig"`
	}{l.cscToJSON(c)})
}

func (l *Lambda) updateCSC(w http.ResponseWriter, r *http.Request) error {
	var req cscRequest
	if err := awsapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	var pubs []string
	if req.AllowedPublishers != nil {
		pubs = req.AllowedPublishers.SigningProfileVersionArns
		if pubs == nil {
			pubs = []string{}
		}
	}
	var policy *deploygate.Policy
	if req.CodeSigningPolicies != nil {
		p := deploygate.Policy(req.CodeSigningPolicies.UntrustedArtifactOnDeployment)
		policy = &p
	}
	c, err := l.CSCs.UpdateCSC(r.Context(), r.PathValue("arn"), req.Description, pubs, policy)
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, struct {
		CodeSigningConfig cscJSON `json:"CodeSigningConfig"`
	}{l.cscToJSON(c)})
}

func (l *Lambda) deleteCSC(w http.ResponseWriter, r *http.Request) error {
	return awsapi.Empty(w, http.StatusNoContent, l.CSCs.DeleteCSC(r.Context(), r.PathValue("arn")))
}

func (l *Lambda) listCSCs(w http.ResponseWriter, r *http.Request) error {
	max := 0
	if v := r.URL.Query().Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return awsapi.Validation("ValidationException", http.StatusBadRequest, errs.Value(nil, "maxItems", v, "must be an integer"))
		}
		max = n
	}
	cs, next, err := l.CSCs.ListCSCs(r.Context(), r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	resp := struct {
		CodeSigningConfigs []cscJSON `json:"CodeSigningConfigs"`
		NextMarker         string    `json:"NextMarker,omitempty"`
	}{CodeSigningConfigs: []cscJSON{}, NextMarker: next}
	for _, c := range cs {
		resp.CodeSigningConfigs = append(resp.CodeSigningConfigs, l.cscToJSON(c))
	}
	return awsapi.WriteJSON(w, resp)
}

// ResourcePolicies returns a function's policy (AddPermission).
func (l *Lambda) ResourcePolicies(ctx context.Context, action, resource string) ([]*policy.Document, error) {
	if l.Functions == nil || !strings.Contains(resource, ":function:") {
		return nil, nil
	}
	doc, _, err := l.Functions.Policy(ctx, resource)
	if err != nil || doc == "" {
		return nil, nil
	}
	d, err := policy.Parse([]byte(doc), policy.Resource)
	if err != nil {
		return nil, err
	}
	return []*policy.Document{d}, nil
}
