// Package iamapi serves the IAM Query-protocol subset that manages users,
// roles, access keys and policies.
package iamapi

import (
	"context"
	"encoding/xml"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/iam"
)

// IAM serves the IAM and STS Query-protocol subsets (form-encoded
// requests, XML responses) that manage principals and policies and issue
// temporary credentials.
type IAM struct {
	IAM        *iam.Service
	Authorizer awsapi.Authorizer
	// Simulator decides SimulatePrincipalPolicy's requests; nil: the
	// operation is refused.
	Simulator Simulator
	Log       *slog.Logger
}

// proto is IAM's Query protocol, in its namespace.
var proto = awsapi.Query{Namespace: "https://iam.amazonaws.com/doc/2010-05-08/"}

// Service returns the IAM operations.
func (x *IAM) Service() *awsapi.Service {
	// The resources are the entities' real ARNs, path included (a Deny
	// on user/admins/* covers user admins/boss whether or not the request
	// spells the path), and an operation whose UserName defaults to the
	// caller acts on the caller's own user.
	user := func(r *http.Request) string {
		name, err := x.callerUser(r)
		if err != nil {
			return "*"
		}
		if u, err := x.IAM.User(r.Context(), name); err == nil {
			return x.IAM.UserARN(u)
		}
		return x.IAM.UserARN(iam.User{Name: name, Path: pathOr(r.Form.Get("Path"))})
	}
	role := func(r *http.Request) string {
		name := r.Form.Get("RoleName")
		if role, err := x.IAM.Role(r.Context(), name); err == nil {
			return x.IAM.RoleARN(role)
		}
		return x.IAM.RoleARN(iam.Role{Name: name, Path: pathOr(r.Form.Get("Path"))})
	}
	pol := func(r *http.Request) string {
		if a := r.Form.Get("PolicyArn"); a != "" {
			return a
		}
		return x.IAM.PolicyARN(iam.ManagedPolicy{Name: r.Form.Get("PolicyName"), Path: pathOr(r.Form.Get("Path"))})
	}
	op := func(name string, res func(*http.Request) string, h func(http.ResponseWriter, *http.Request) error) awsapi.Operation {
		return awsapi.Operation{Name: name, Pattern: "POST /", Target: name, Action: "iam:" + name, Resource: res, Handle: h}
	}
	svc := &awsapi.Service{Name: "iam", Protocol: proto, Errors: ErrorCodes, Throttle: Throttle, Global: true,
		Authorizer: x.Authorizer, Log: x.Log,
		Operations: []awsapi.Operation{
			op("CreateUser", user, x.createUser), op("GetUser", user, x.getUser), op("ListUsers", awsapi.AllResources, x.listUsers), op("DeleteUser", user, x.deleteUser),
			op("CreateAccessKey", user, x.createAccessKey), op("DeleteAccessKey", user, x.deleteAccessKey), op("ListAccessKeys", user, x.listAccessKeys),
			op("CreateRole", role, x.createRole), op("GetRole", role, x.getRole), op("ListRoles", awsapi.AllResources, x.listRoles), op("DeleteRole", role, x.deleteRole),
			op("CreatePolicy", pol, x.createPolicy), op("GetPolicy", pol, x.getPolicy), op("DeletePolicy", pol, x.deletePolicy),
			op("ListPolicies", awsapi.AllResources, x.listPolicies), op("GetPolicyVersion", pol, x.getPolicyVersion),
			op("ListAttachedUserPolicies", user, x.listAttached(iam.KindUser)), op("ListAttachedRolePolicies", role, x.listAttached(iam.KindRole)),
			op("ListUserPolicies", user, x.listInline(iam.KindUser)), op("ListRolePolicies", role, x.listInline(iam.KindRole)),
			op("GetUserPolicy", user, x.getInline(iam.KindUser)), op("GetRolePolicy", role, x.getInline(iam.KindRole)),
			op("SimulatePrincipalPolicy", func(r *http.Request) string { return r.Form.Get("PolicySourceArn") }, x.simulatePrincipalPolicy),
		}}
	for _, p := range []struct {
		kind iam.PrincipalKind
		name string // in action names: User or Role
		res  func(*http.Request) string
	}{{iam.KindUser, "User", user}, {iam.KindRole, "Role", role}} {
		k := p.kind
		for _, o := range []struct {
			action string
			fields []string
			do     func(ctx context.Context, principal string, f url.Values) error
		}{
			{"Put" + p.name + "Policy", []string{"PolicyName", "PolicyDocument"}, func(ctx context.Context, pr string, f url.Values) error {
				return x.IAM.PutInlinePolicy(ctx, k, pr, f.Get("PolicyName"), f.Get("PolicyDocument"))
			}},
			{"Delete" + p.name + "Policy", []string{"PolicyName"}, func(ctx context.Context, pr string, f url.Values) error {
				return x.IAM.DeleteInlinePolicy(ctx, k, pr, f.Get("PolicyName"))
			}},
			{"Attach" + p.name + "Policy", []string{"PolicyArn"}, func(ctx context.Context, pr string, f url.Values) error {
				return x.IAM.AttachPolicy(ctx, k, pr, f.Get("PolicyArn"))
			}},
			{"Detach" + p.name + "Policy", []string{"PolicyArn"}, func(ctx context.Context, pr string, f url.Values) error {
				return x.IAM.DetachPolicy(ctx, k, pr, f.Get("PolicyArn"))
			}},
			{"Put" + p.name + "PermissionsBoundary", []string{"PermissionsBoundary"}, func(ctx context.Context, pr string, f url.Values) error {
				return x.IAM.SetBoundary(ctx, k, pr, f.Get("PermissionsBoundary"))
			}},
			{"Delete" + p.name + "PermissionsBoundary", nil, func(ctx context.Context, pr string, f url.Values) error {
				return x.IAM.DeleteBoundary(ctx, k, pr)
			}},
		} {
			svc.Operations = append(svc.Operations, op(o.action, p.res, x.onPrincipal(k, o.action, o.fields, o.do)))
		}
	}
	return svc
}

// onPrincipal serves an operation that changes a user's or role's
// policies: it checks the required fields, applies do to the principal
// named in UserName or RoleName, and answers with an empty result.
func (x *IAM) onPrincipal(kind iam.PrincipalKind, action string, fields []string, do func(ctx context.Context, principal string, f url.Values) error) func(http.ResponseWriter, *http.Request) error {
	field := "UserName"
	if kind == iam.KindRole {
		field = "RoleName"
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := awsapi.Required(r, append([]string{field}, fields...)...); err != nil {
			return err
		}
		if err := do(r.Context(), r.Form.Get(field), r.Form); err != nil {
			return err
		}
		return proto.Write(w, r, action, nil)
	}
}

// ErrorCodes are the AWS codes of the IAM domain's errors, which IAM and
// STS answer alike.
var ErrorCodes = []awsapi.ErrorCode{
	{Err: iam.ErrNotFound, Code: "NoSuchEntity", Status: http.StatusNotFound},
	{Err: iam.ErrExists, Code: "EntityAlreadyExists", Status: http.StatusConflict},
	{Err: iam.ErrMalformed, Code: "MalformedPolicyDocument", Status: http.StatusBadRequest},
	{Err: iam.ErrConflict, Code: "DeleteConflict", Status: http.StatusConflict},
	{Err: iam.ErrInvalid, Code: "ValidationError", Status: http.StatusBadRequest},
	{Err: iam.ErrDenied, Code: "AccessDenied", Status: http.StatusForbidden},
	{Err: iam.ErrInvalidIdentityToken, Code: "InvalidIdentityToken", Status: http.StatusBadRequest},
	{Err: iam.ErrExpiredToken, Code: "ExpiredTokenException", Status: http.StatusBadRequest},
}

// Throttle is the error IAM and STS answer a throttled request with.
var Throttle = awsapi.Error{Code: "ThrottlingException", Status: http.StatusBadRequest}

type boundaryXML struct {
	Type string `xml:"PermissionsBoundaryType"`
	ARN  string `xml:"PermissionsBoundaryArn"`
}

func boundaryOf(a string) *boundaryXML {
	if a == "" {
		return nil
	}
	return &boundaryXML{Type: "PermissionsBoundaryPolicy", ARN: a} // AWS's only type
}

type userXML struct {
	Path     string       `xml:"Path"`
	Name     string       `xml:"UserName"`
	ID       string       `xml:"UserId"`
	ARN      string       `xml:"Arn"`
	Created  string       `xml:"CreateDate"`
	Boundary *boundaryXML `xml:"PermissionsBoundary,omitempty"`
}

func (x *IAM) userXML(u iam.User) userXML {
	return userXML{Path: u.Path, Name: u.Name, ID: u.ID, ARN: x.IAM.UserARN(u), Created: awsapi.QueryTime(u.Created), Boundary: boundaryOf(u.Boundary)}
}

type roleXML struct {
	Path        string       `xml:"Path"`
	Name        string       `xml:"RoleName"`
	ID          string       `xml:"RoleId"`
	ARN         string       `xml:"Arn"`
	Created     string       `xml:"CreateDate"`
	Trust       string       `xml:"AssumeRolePolicyDocument"`
	Description string       `xml:"Description,omitempty"`
	MaxSession  int          `xml:"MaxSessionDuration"`
	Boundary    *boundaryXML `xml:"PermissionsBoundary,omitempty"`
}

func (x *IAM) roleXML(r iam.Role) roleXML {
	// IAM returns the trust policy URL-encoded; the CLI and SDKs decode it.
	return roleXML{Path: r.Path, Name: r.Name, ID: r.ID, ARN: x.IAM.RoleARN(r), Created: awsapi.QueryTime(r.Created), Trust: escapeDocument(r.TrustPolicy),
		Description: r.Description, MaxSession: r.MaxSessionDuration, Boundary: boundaryOf(r.Boundary)}
}

type policyXML struct {
	Name        string `xml:"PolicyName"`
	ID          string `xml:"PolicyId"`
	ARN         string `xml:"Arn"`
	Path        string `xml:"Path"`
	Default     string `xml:"DefaultVersionId"`
	Attachments int    `xml:"AttachmentCount"`
	Attachable  bool   `xml:"IsAttachable"`
	Description string `xml:"Description,omitempty"`
	Created     string `xml:"CreateDate"`
	Updated     string `xml:"UpdateDate"`
}

func (x *IAM) policyXML(p iam.ManagedPolicy) policyXML {
	return policyXML{Name: p.Name, ID: p.ID, ARN: x.IAM.PolicyARN(p), Path: p.Path, Default: "v1", Attachments: p.Attachments, Attachable: true,
		Description: p.Description, Created: awsapi.QueryTime(p.Created), Updated: awsapi.QueryTime(p.Created)}
}

// callerUser is the user name of the request: UserName, or for the
// operations where it may be left out (GetUser, CreateAccessKey,
// DeleteAccessKey, ListAccessKeys) the caller's own user, as IAM does.
func (x *IAM) callerUser(r *http.Request) (string, error) {
	if n := r.Form.Get("UserName"); n != "" {
		return n, nil
	}
	switch r.Form.Get("Action") {
	case "GetUser", "CreateAccessKey", "DeleteAccessKey", "ListAccessKeys":
	default:
		return "", awsapi.Validation("ValidationError", http.StatusBadRequest, errs.Null(nil, "userName"))
	}
	c, _ := awsapi.CallerFrom(r.Context())
	if strings.Contains(c.PrincipalARN, ":user/") {
		return c.PrincipalARN[strings.LastIndex(c.PrincipalARN, "/")+1:], nil
	}
	return "", &awsapi.Error{Code: "ValidationError", Status: http.StatusBadRequest, Message: "Must specify userName when calling with non-User credentials"}
}

// pathOr is an IAM path as given, "/" if none.
func pathOr(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func (x *IAM) createUser(w http.ResponseWriter, r *http.Request) error {
	if err := awsapi.Required(r, "UserName"); err != nil {
		return err
	}
	u, err := x.IAM.CreateUser(r.Context(), r.Form.Get("UserName"), r.Form.Get("Path"))
	if err != nil {
		return err
	}
	return proto.Write(w, r, "CreateUser", struct {
		XMLName xml.Name `xml:"CreateUserResult"`
		User    userXML  `xml:"User"`
	}{User: x.userXML(u)})
}

func (x *IAM) getUser(w http.ResponseWriter, r *http.Request) error {
	name, err := x.callerUser(r)
	if err != nil {
		return err
	}
	u, err := x.IAM.User(r.Context(), name)
	if err != nil {
		return err
	}
	return proto.Write(w, r, "GetUser", struct {
		XMLName xml.Name `xml:"GetUserResult"`
		User    userXML  `xml:"User"`
	}{User: x.userXML(u)})
}

func (x *IAM) listUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := x.IAM.ListUsers(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		XMLName     xml.Name  `xml:"ListUsersResult"`
		Users       []userXML `xml:"Users>member"`
		IsTruncated bool      `xml:"IsTruncated"`
	}{}
	for _, u := range users {
		out.Users = append(out.Users, x.userXML(u))
	}
	return proto.Write(w, r, "ListUsers", out)
}

func (x *IAM) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := awsapi.Required(r, "UserName"); err != nil {
		return err
	}
	if err := x.IAM.DeleteUser(r.Context(), r.Form.Get("UserName")); err != nil {
		return err
	}
	return proto.Write(w, r, "DeleteUser", nil)
}

func (x *IAM) createAccessKey(w http.ResponseWriter, r *http.Request) error {
	name, err := x.callerUser(r)
	if err != nil {
		return err
	}
	id, secret, err := x.IAM.CreateAccessKey(r.Context(), name)
	if err != nil {
		return err
	}
	return proto.Write(w, r, "CreateAccessKey", struct {
		XMLName xml.Name `xml:"CreateAccessKeyResult"`
		User    string   `xml:"AccessKey>UserName"`
		ID      string   `xml:"AccessKey>AccessKeyId"`
		Status  string   `xml:"AccessKey>Status"`
		Secret  string   `xml:"AccessKey>SecretAccessKey"`
		Created string   `xml:"AccessKey>CreateDate"`
	}{User: name, ID: id, Status: "Active", Secret: secret, Created: awsapi.QueryTime(time.Now())})
}

func (x *IAM) deleteAccessKey(w http.ResponseWriter, r *http.Request) error {
	if err := awsapi.Required(r, "AccessKeyId"); err != nil {
		return err
	}
	name, err := x.callerUser(r)
	if err != nil {
		return err
	}
	if err := x.IAM.DeleteAccessKey(r.Context(), name, r.Form.Get("AccessKeyId")); err != nil {
		return err
	}
	return proto.Write(w, r, "DeleteAccessKey", nil)
}

func (x *IAM) listAccessKeys(w http.ResponseWriter, r *http.Request) error {
	name, err := x.callerUser(r)
	if err != nil {
		return err
	}
	keys, err := x.IAM.AccessKeys(r.Context(), name)
	if err != nil {
		return err
	}
	type keyXML struct {
		User    string `xml:"UserName"`
		ID      string `xml:"AccessKeyId"`
		Status  string `xml:"Status"`
		Created string `xml:"CreateDate"`
	}
	out := struct {
		XMLName     xml.Name `xml:"ListAccessKeysResult"`
		Keys        []keyXML `xml:"AccessKeyMetadata>member"`
		IsTruncated bool     `xml:"IsTruncated"`
	}{}
	for _, k := range keys {
		out.Keys = append(out.Keys, keyXML{User: name, ID: k.ID, Status: "Active", Created: awsapi.QueryTime(k.Created)})
	}
	return proto.Write(w, r, "ListAccessKeys", out)
}

func (x *IAM) createRole(w http.ResponseWriter, r *http.Request) error {
	if err := awsapi.Required(r, "RoleName", "AssumeRolePolicyDocument"); err != nil {
		return err
	}
	maxSession, _ := strconv.Atoi(r.Form.Get("MaxSessionDuration"))
	role, err := x.IAM.CreateRole(r.Context(), r.Form.Get("RoleName"), r.Form.Get("Path"), r.Form.Get("Description"), r.Form.Get("AssumeRolePolicyDocument"), maxSession)
	if err != nil {
		return err
	}
	return proto.Write(w, r, "CreateRole", struct {
		XMLName xml.Name `xml:"CreateRoleResult"`
		Role    roleXML  `xml:"Role"`
	}{Role: x.roleXML(role)})
}

func (x *IAM) getRole(w http.ResponseWriter, r *http.Request) error {
	if err := awsapi.Required(r, "RoleName"); err != nil {
		return err
	}
	role, err := x.IAM.Role(r.Context(), r.Form.Get("RoleName"))
	if err != nil {
		return err
	}
	return proto.Write(w, r, "GetRole", struct {
		XMLName xml.Name `xml:"GetRoleResult"`
		Role    roleXML  `xml:"Role"`
	}{Role: x.roleXML(role)})
}

func (x *IAM) listRoles(w http.ResponseWriter, r *http.Request) error {
	roles, err := x.IAM.ListRoles(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		XMLName     xml.Name  `xml:"ListRolesResult"`
		Roles       []roleXML `xml:"Roles>member"`
		IsTruncated bool      `xml:"IsTruncated"`
	}{}
	for _, role := range roles {
		out.Roles = append(out.Roles, x.roleXML(role))
	}
	return proto.Write(w, r, "ListRoles", out)
}

func (x *IAM) deleteRole(w http.ResponseWriter, r *http.Request) error {
	if err := awsapi.Required(r, "RoleName"); err != nil {
		return err
	}
	if err := x.IAM.DeleteRole(r.Context(), r.Form.Get("RoleName")); err != nil {
		return err
	}
	return proto.Write(w, r, "DeleteRole", nil)
}

func (x *IAM) createPolicy(w http.ResponseWriter, r *http.Request) error {
	if err := awsapi.Required(r, "PolicyName", "PolicyDocument"); err != nil {
		return err
	}
	p, err := x.IAM.CreatePolicy(r.Context(), r.Form.Get("PolicyName"), r.Form.Get("Path"), r.Form.Get("Description"), r.Form.Get("PolicyDocument"))
	if err != nil {
		return err
	}
	return proto.Write(w, r, "CreatePolicy", struct {
		XMLName xml.Name  `xml:"CreatePolicyResult"`
		Policy  policyXML `xml:"Policy"`
	}{Policy: x.policyXML(p)})
}

func (x *IAM) getPolicy(w http.ResponseWriter, r *http.Request) error {
	if err := awsapi.Required(r, "PolicyArn"); err != nil {
		return err
	}
	p, err := x.IAM.Policy(r.Context(), r.Form.Get("PolicyArn"))
	if err != nil {
		return err
	}
	return proto.Write(w, r, "GetPolicy", struct {
		XMLName xml.Name  `xml:"GetPolicyResult"`
		Policy  policyXML `xml:"Policy"`
	}{Policy: x.policyXML(p)})
}

func (x *IAM) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	if err := awsapi.Required(r, "PolicyArn"); err != nil {
		return err
	}
	if err := x.IAM.DeletePolicy(r.Context(), r.Form.Get("PolicyArn")); err != nil {
		return err
	}
	return proto.Write(w, r, "DeletePolicy", nil)
}
