// Package signetapi serves Signet's own API (REST-JSON, SigV4 signing
// name "signet"), the operations no AWS service has:
//
//   - continuous validation: the running workloads Signet knows of, with
//     the last verdict on each image, and the violations
//     (signet:ListWorkloads, signet:ListWorkloadViolations);
//   - what the web console shows: the activity of the last days
//     (signet:GetActivitySummary), a search of the audit log
//     (signet:ListAuditEvents) and the state of its chain
//     (signet:GetAuditLogStatus).
//
// Every operation is authorized like any other, on resource "*". The
// JSON types are exported for clients (the console, the CLI) to decode.
package signetapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/errs"
)

// API serves the operations. Inventory nil answers that continuous
// validation is not configured; Activity and AuditLog must be set.
type API struct {
	Inventory  Inventory
	Activity   Activity
	AuditLog   AuditLog
	Authorizer awsapi.Authorizer
	Log        *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SigningName is the SigV4 signing name of the API.
const SigningName = "signet"

// Service returns the operations.
func (x *API) Service() *awsapi.Service {
	return &awsapi.Service{Name: SigningName, Protocol: awsapi.RestJSON{},
		Internal:   awsapi.Error{Code: "InternalServiceErrorException", Status: http.StatusInternalServerError},
		Throttle:   awsapi.Error{Code: "ThrottlingException", Status: http.StatusTooManyRequests},
		Authorizer: x.Authorizer, Log: x.Log,
		Operations: []awsapi.Operation{
			{Name: "ListWorkloads", Pattern: "GET /workloads", Action: "signet:ListWorkloads", Resource: awsapi.AllResources, Handle: x.list},
			{Name: "ListWorkloadViolations", Pattern: "GET /workloads/violations", Action: "signet:ListWorkloadViolations", Resource: awsapi.AllResources, Handle: x.violations},
			{Name: "GetActivitySummary", Pattern: "GET /activity", Action: "signet:GetActivitySummary", Resource: awsapi.AllResources, Handle: x.activity},
			{Name: "ListAuditEvents", Pattern: "GET /audit/events", Action: "signet:ListAuditEvents", Resource: awsapi.AllResources, Handle: x.auditEvents},
			{Name: "GetAuditLogStatus", Pattern: "GET /audit/status", Action: "signet:GetAuditLogStatus", Resource: awsapi.AllResources, Handle: x.auditStatus},
		}}
}

func (x *API) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

// invalid is the ValidationException of a query parameter.
func invalid(name, value, constraint string, args ...any) error {
	return awsapi.Validation("ValidationException", http.StatusBadRequest, errs.Value(nil, name, value, constraint, args...))
}
