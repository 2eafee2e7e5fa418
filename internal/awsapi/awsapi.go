// Package awsapi is the protocol core of Signet's AWS APIs; it knows no
// service. A service package (signerapi, lambdaapi, s3api, logsapi,
// iamapi, stsapi) describes itself as a [Service]: its SigV4 signing
// name, its [Protocol], its [Operation]s, each with the IAM action it
// performs and the ARN of the resource it acts on, and its error registry
// ([ErrorCode]: domain sentinel → AWS code and HTTP status).
//
// The core dispatches an authenticated request to its operation,
// authorizes it through one [Authorizer] (handing it the resource's own
// policies when the service has them, see [ResourcePolicies]), runs it,
// and writes any error it returns in the protocol's shape: domain
// packages return plain errors and never AWS words. The four protocols
// are [RestJSON] (Signer, Lambda), [JSON] (JSON 1.1 with X-Amz-Target:
// CloudWatch Logs), [Query] (IAM, STS) and [RestXML] (S3).
package awsapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/signet/signet/internal/policy"
)

// Caller is the authenticated principal of a request.
type Caller struct {
	PrincipalARN string
	// PrincipalID is the unique id of the user or role the access key
	// was issued to (AIDA…, AROA…), "" for keys that predate it; a key
	// whose principal was deleted and re-created under the same name is
	// refused.
	PrincipalID string
	// SourceIdentity is the role session's source identity, if any (a
	// function's sessions: the function's ARN).
	SourceIdentity string
	AccessKeyID    string
	SourceIP       string
	Region         string // the region the request was signed for
	Secure         bool   // it came over TLS
}

type callerKey struct{}

// WithCaller returns a context carrying the request's caller.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller stored by WithCaller.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

type requestIDKey struct{}

// WithRequestID returns a context carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id stored by WithRequestID.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// AuthzRequest is what an Authorizer decides on.
type AuthzRequest struct {
	Caller    Caller
	Operation string // e.g. "PutSigningProfile"
	Action    string // e.g. "signer:PutSigningProfile"
	Resource  string // an ARN, or "*"
	// Keys are the operation's service condition keys (lowercased), such
	// as lambda:codesigningconfigarn.
	Keys map[string][]string
	// Public marks an operation that needs no credentials.
	Public bool
	// Also marks the check of a second resource that the operation reads
	// or writes for the caller (see [AuthorizeAlso]): the refusal names
	// Action and Resource, and rate limits do not count it again.
	Also bool
	// OrActions are actions any of which grants the request as well as
	// Action does (s3:GetObject for s3:GetObjectVersion); an explicit
	// Deny of any of them refuses it.
	OrActions []string
	// Service is the signing name of the service the request is for.
	Service string
	// Policies returns the resource's own policies, when its service has
	// them (nil otherwise).
	Policies func(ctx context.Context, action, resource string) ([]*policy.Document, error)
	// Gated: the resource's policies gate all access to it (KMS key
	// policies; see policy.EvaluateGated), when the resource exists.
	Gated bool
	// Probe asks whether the caller may, without refusing the request:
	// the answer shapes the response (see [Allowed]) and is not the
	// request's audit decision.
	Probe bool
}

// Authorizer decides whether a caller may perform an action on a resource.
// Authorize returns nil to allow, or an error (normally *Error with code
// AccessDeniedException) to refuse.
type Authorizer interface {
	Authorize(ctx context.Context, req AuthzRequest) error
}

// AuthorizeAlso authorizes the caller of r for a second resource that
// the operation reads or writes on the caller's behalf (StartSigningJob's
// source and destination objects, CreateFunction's code object, layers
// and role): the operation's own authorization does not cover it, or a
// principal allowed only the operation could reach any resource through
// it. The caller needs action (or one of orActions) on resource; the
// refusal is AccessDeniedException naming both.
//
// The authorizer judges the resource with the resource policies of the
// service it belongs to (a KMS key's key policy for an SSM SecureString).
func AuthorizeAlso(a Authorizer, r *http.Request, resource, action string, orActions ...string) error {
	return AuthorizeAlsoWith(a, r, resource, nil, action, orActions...)
}

// AuthorizeAlsoWith is AuthorizeAlso with the condition keys of the use
// of the second resource (lowercased): the encryption context SSM uses a
// KMS key with, which the key's policy may condition on.
func AuthorizeAlsoWith(a Authorizer, r *http.Request, resource string, keys map[string][]string, action string, orActions ...string) error {
	caller, _ := CallerFrom(r.Context())
	req := AuthzRequest{Caller: caller, Operation: ActionFrom(r.Context()), Action: action, Resource: resource,
		Also: true, OrActions: orActions, Keys: keys}
	if op, ok := r.Context().Value(opKey{}).(opInfo); ok && op.svc != nil {
		req.Service = op.svc.Name // the service acting for the caller (kms:ViaService)
	}
	return a.Authorize(r.Context(), req)
}

// Allowed reports whether the caller of r may perform action on
// resource, for a response that shows more to a caller who may (Lambda's
// GetFunction decrypts a function's variables for a caller allowed
// kms:Decrypt on its key). It does not refuse the request, nor count as
// its audit decision.
func Allowed(a Authorizer, r *http.Request, resource, action string) bool {
	caller, _ := CallerFrom(r.Context())
	req := AuthzRequest{Caller: caller, Operation: ActionFrom(r.Context()), Action: action, Resource: resource, Also: true, Probe: true}
	if op, ok := r.Context().Value(opKey{}).(opInfo); ok && op.svc != nil {
		req.Service = op.svc.Name
	}
	return a.Authorize(r.Context(), req) == nil
}

// AuditNotes collects what a request's audit record should say beyond
// its action and resource (WithAuditNotes, Note).
type AuditNotes struct {
	mu    sync.Mutex
	notes []string
}

// String joins the notes.
func (n *AuditNotes) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.notes, "; ")
}

type notesKey struct{}

// WithAuditNotes returns a context whose requests' notes n collects.
func WithAuditNotes(ctx context.Context, n *AuditNotes) context.Context {
	return context.WithValue(ctx, notesKey{}, n)
}

// Note adds a line to the audit record of the request ctx belongs to (a
// BatchGetSecretValue names each secret version it released); nothing
// when the request is not audited. Never a value.
func Note(ctx context.Context, format string, args ...any) {
	if n, ok := ctx.Value(notesKey{}).(*AuditNotes); ok {
		n.mu.Lock()
		n.notes = append(n.notes, fmt.Sprintf(format, args...))
		n.mu.Unlock()
	}
}

// AllowAll is an Authorizer for tests of one API's wire format: every
// authenticated caller is the installation's administrator.
type AllowAll struct{}

// Authorize allows everything.
func (AllowAll) Authorize(context.Context, AuthzRequest) error { return nil }
