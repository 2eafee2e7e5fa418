package awsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/signet/signet/internal/deploygate"
	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/invoke"
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
	Authorizer Authorizer
	Log        *slog.Logger
}

// Service returns the operations of the Lambda API.
func (l *Lambda) Service() *Service {
	cscARN := func(r *http.Request) string {
		if id, err := l.CSCs.ID(r.PathValue("arn")); err == nil {
			return l.CSCs.ARN(id)
		}
		return r.PathValue("arn")
	}
	const base = "/2020-04-22/code-signing-configs"
	ops := []Operation{
		{Name: "CreateCodeSigningConfig", Pattern: "POST " + base, Action: "lambda:CreateCodeSigningConfig", Handle: l.createCSC},
		{Name: "CreateCodeSigningConfig", Pattern: "POST " + base + "/{$}", Action: "lambda:CreateCodeSigningConfig", Handle: l.createCSC},
		{Name: "ListCodeSigningConfigs", Pattern: "GET " + base, Action: "lambda:ListCodeSigningConfigs", Handle: l.listCSCs},
		{Name: "ListCodeSigningConfigs", Pattern: "GET " + base + "/{$}", Action: "lambda:ListCodeSigningConfigs", Handle: l.listCSCs},
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
	}
	return &Service{Name: "lambda", Operations: ops, Authorizer: l.Authorizer, Log: l.Log, MapError: lambdaMapError, WriteError: writeLambdaError}
}

// Lambda's request limits: a package inline in a request (50 MB of zip in
// base64, in JSON) and a synchronous invocation's payload.
const (
	MaxCodeRequest   = 70167211
	MaxInvokeRequest = invoke.MaxSyncPayload
)

// lambdaBodyLimit is the largest body operation op takes and the error a
// larger one gets, in Lambda's words (0, nil: the default).
func lambdaBodyLimit(op string) (int64, *Error) {
	switch op {
	case "CreateFunction", "UpdateFunctionCode", "PublishLayerVersion":
		return MaxCodeRequest, &Error{Code: "RequestEntityTooLargeException", Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("Request must be smaller than %d bytes for the %s operation", MaxCodeRequest, op)}
	case "Invoke":
		return MaxInvokeRequest, &Error{Code: "RequestTooLargeException", Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", MaxInvokeRequest)}
	}
	return 0, nil
}

// lambdaMapError maps the deploy gate's errors to Lambda's codes.
func lambdaMapError(op string, err error) *Error {
	if e := functionsMapError(err); e != nil {
		return e
	}
	if e := invokeMapError(err); e != nil {
		return e
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Code == "SerializationException" || e.Code == "RequestEntityTooLargeException" {
			return &Error{Code: "InvalidRequestContentException", Status: 400, Message: e.Message}
		}
		return e
	}
	msg := err.Error()
	var de *deploygate.Error
	if errors.As(err, &de) {
		msg = de.Msg
	}
	switch {
	case errors.Is(err, deploygate.ErrNotFound):
		return &Error{Code: "ResourceNotFoundException", Status: http.StatusNotFound, Message: msg}
	case errors.Is(err, deploygate.ErrInvalid):
		return &Error{Code: "ValidationException", Status: http.StatusBadRequest, Message: msg}
	case errors.Is(err, deploygate.ErrInUse):
		return &Error{Code: "ResourceConflictException", Status: http.StatusConflict, Message: msg}
	}
	return &Error{Code: "ServiceException", Status: http.StatusInternalServerError, Message: "an internal error occurred; retry, and report the request id if it persists"}
}

// writeLambdaError writes Lambda's error shape: {"Type":"User","message"}.
func writeLambdaError(w http.ResponseWriter, r *http.Request, e *Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.Code)
	if e.Code == "TooManyRequestsException" {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(e.Status)
	typ := "User"
	if e.Status >= 500 {
		typ = "Service"
	}
	jsonEncode(w, struct {
		Type    string `json:"Type"`
		Message string `json:"message"`
		Reason  string `json:"Reason,omitempty"`
	}{typ, e.Message, e.Reason})
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
	if err := DecodeJSON(r, &req); err != nil {
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
	return WriteJSONStatus(w, http.StatusCreated, struct {
		CodeSigningConfig cscJSON `json:"CodeSigningConfig"`
	}{l.cscToJSON(created)})
}

func (l *Lambda) getCSC(w http.ResponseWriter, r *http.Request) error {
	c, err := l.CSCs.CSC(r.Context(), r.PathValue("arn"))
	if err != nil {
		return err
	}
	return WriteJSON(w, struct {
		CodeSigningConfig cscJSON `json:"CodeSigningConfig"`
	}{l.cscToJSON(c)})
}

func (l *Lambda) updateCSC(w http.ResponseWriter, r *http.Request) error {
	var req cscRequest
	if err := DecodeJSON(r, &req); err != nil {
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
	return WriteJSON(w, struct {
		CodeSigningConfig cscJSON `json:"CodeSigningConfig"`
	}{l.cscToJSON(c)})
}

func (l *Lambda) deleteCSC(w http.ResponseWriter, r *http.Request) error {
	if err := l.CSCs.DeleteCSC(r.Context(), r.PathValue("arn")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (l *Lambda) listCSCs(w http.ResponseWriter, r *http.Request) error {
	max := 0
	if v := r.URL.Query().Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return &Error{Code: "ValidationException", Status: 400, Message: "1 validation error detected: Value '" + v + "' at 'maxItems' failed to satisfy constraint: Member must be an integer"}
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
	return WriteJSON(w, resp)
}
