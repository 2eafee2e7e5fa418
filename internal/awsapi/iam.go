package awsapi

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/signet/signet/internal/iam"
)

// IAM serves the IAM and STS Query-protocol subsets (form-encoded
// requests, XML responses) that manage principals and policies and issue
// temporary credentials.
type IAM struct {
	IAM        *iam.Service
	Authorizer Authorizer
	Log        *slog.Logger
	// ContextKeys returns a request's condition keys (for trust policy
	// conditions of AssumeRole).
	ContextKeys func(r *http.Request) map[string][]string
	// Issuer returns a web identity token's issuer (unverified).
	Issuer func(token string) string
}

const (
	iamNS = "https://iam.amazonaws.com/doc/2010-05-08/"
	stsNS = "https://sts.amazonaws.com/doc/2011-06-15/"
)

func queryAction(r *http.Request) string {
	r.ParseForm()
	return r.Form.Get("Action")
}

// Service returns the IAM operations.
func (x *IAM) Service() *Service {
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
	op := func(name string, res func(*http.Request) string, h func(http.ResponseWriter, *http.Request) error) Operation {
		return Operation{Name: name, Pattern: "POST /", Target: name, Action: "iam:" + name, Resource: res, Handle: h}
	}
	svc := &Service{Name: "iam", Authorizer: x.Authorizer, Log: x.Log, Selector: queryAction, MapError: iamMapError,
		WriteError: func(w http.ResponseWriter, r *http.Request, e *Error) { writeQueryError(w, r, iamNS, e) },
		Operations: []Operation{
			op("CreateUser", user, x.createUser), op("GetUser", user, x.getUser), op("ListUsers", nil, x.listUsers), op("DeleteUser", user, x.deleteUser),
			op("CreateAccessKey", user, x.createAccessKey), op("DeleteAccessKey", user, x.deleteAccessKey), op("ListAccessKeys", user, x.listAccessKeys),
			op("CreateRole", role, x.createRole), op("GetRole", role, x.getRole), op("ListRoles", nil, x.listRoles), op("DeleteRole", role, x.deleteRole),
			op("CreatePolicy", pol, x.createPolicy), op("GetPolicy", pol, x.getPolicy), op("DeletePolicy", pol, x.deletePolicy),
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
	svc.AuthCodes = queryAuthCodes
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
		if err := required(r, append([]string{field}, fields...)...); err != nil {
			return err
		}
		if err := do(r.Context(), r.Form.Get(field), r.Form); err != nil {
			return err
		}
		return writeQuery(w, r, iamNS, action, nil)
	}
}

// STSService returns the STS operations.
func (x *IAM) STSService() *Service {
	return &Service{Name: "sts", Authorizer: x.Authorizer, Log: x.Log, Selector: queryAction, MapError: iamMapError, AuthCodes: queryAuthCodes,
		WriteError: func(w http.ResponseWriter, r *http.Request, e *Error) { writeQueryError(w, r, stsNS, e) },
		Operations: []Operation{
			{Name: "AssumeRole", Pattern: "POST /", Target: "AssumeRole", Action: "sts:AssumeRole",
				Resource: func(r *http.Request) string { return r.Form.Get("RoleArn") }, Handle: x.assumeRole},
			{Name: "GetCallerIdentity", Pattern: "POST /", Target: "GetCallerIdentity", Action: "sts:GetCallerIdentity", Handle: x.getCallerIdentity},
			{Name: "AssumeRoleWithWebIdentity", Pattern: "POST /", Target: "AssumeRoleWithWebIdentity", Action: "sts:AssumeRoleWithWebIdentity", Public: true,
				Resource: func(r *http.Request) string { return r.Form.Get("RoleArn") }, Handle: x.assumeRoleWithWebIdentity},
		}}
}

func iamMapError(op string, err error) *Error {
	var ie *iam.Error
	msg := err.Error()
	if errors.As(err, &ie) {
		msg = ie.Msg
	}
	switch {
	case errors.Is(err, iam.ErrNotFound):
		return &Error{Code: "NoSuchEntity", Status: http.StatusNotFound, Message: msg}
	case errors.Is(err, iam.ErrExists):
		return &Error{Code: "EntityAlreadyExists", Status: http.StatusConflict, Message: msg}
	case errors.Is(err, iam.ErrMalformed):
		return &Error{Code: "MalformedPolicyDocument", Status: http.StatusBadRequest, Message: msg}
	case errors.Is(err, iam.ErrConflict):
		return &Error{Code: "DeleteConflict", Status: http.StatusConflict, Message: msg}
	case errors.Is(err, iam.ErrInvalid):
		return &Error{Code: "ValidationError", Status: http.StatusBadRequest, Message: msg}
	case errors.Is(err, iam.ErrDenied):
		return &Error{Code: "AccessDenied", Status: http.StatusForbidden, Message: msg}
	case errors.Is(err, iam.ErrInvalidIdentityToken):
		return &Error{Code: "InvalidIdentityToken", Status: http.StatusBadRequest, Message: msg}
	case errors.Is(err, iam.ErrExpiredToken):
		return &Error{Code: "ExpiredTokenException", Status: http.StatusBadRequest, Message: msg}
	}
	return nil
}

// queryAuthCodes renames the SigV4 verifier's codes (the JSON protocols'
// names) to those IAM and STS answer an unauthenticated request with.
var queryAuthCodes = map[string]string{
	"UnrecognizedClientException":         "InvalidClientTokenId",
	"InvalidSignatureException":           "SignatureDoesNotMatch",
	"ExpiredTokenException":               "ExpiredToken",
	"MissingAuthenticationTokenException": "MissingAuthenticationToken",
	"IncompleteSignatureException":        "IncompleteSignature",
	"InternalServiceErrorException":       "InternalFailure",
	"RequestEntityTooLargeException":      "RequestEntityTooLarge",
}

// queryCodes renames the JSON protocols' codes for the Query protocol.
var queryCodes = map[string]string{"AccessDeniedException": "AccessDenied", "ThrottlingException": "Throttling",
	"SerializationException": "MalformedInput", "ValidationException": "ValidationError", "UnknownOperationException": "InvalidAction"}

func writeQueryError(w http.ResponseWriter, r *http.Request, ns string, e *Error) {
	code := e.Code
	if c, ok := queryCodes[code]; ok {
		code = c
	}
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Type      string   `xml:"Error>Type"`
		Code      string   `xml:"Error>Code"`
		Message   string   `xml:"Error>Message"`
		RequestID string   `xml:"RequestId"`
	}{Xmlns: ns, Type: typ, Code: code, Message: e.Message, RequestID: RequestID(r.Context())})
}

// writeQuery writes ACTIONResponse { result, ResponseMetadata }.
func writeQuery(w http.ResponseWriter, r *http.Request, ns, action string, result any) error {
	w.Header().Set("Content-Type", "text/xml")
	return xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name
		Xmlns     string `xml:"xmlns,attr"`
		Result    any
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}{XMLName: xml.Name{Local: action + "Response"}, Xmlns: ns, Result: result, RequestID: RequestID(r.Context())})
}

func iamTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

type boundaryXML struct {
	Type string `xml:"PermissionsBoundaryType"`
	ARN  string `xml:"PermissionsBoundaryArn"`
}

func boundaryOf(a string) *boundaryXML {
	if a == "" {
		return nil
	}
	return &boundaryXML{Type: "Policy", ARN: a}
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
	return userXML{Path: u.Path, Name: u.Name, ID: u.ID, ARN: x.IAM.UserARN(u), Created: iamTime(u.Created), Boundary: boundaryOf(u.Boundary)}
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
	return roleXML{Path: r.Path, Name: r.Name, ID: r.ID, ARN: x.IAM.RoleARN(r), Created: iamTime(r.Created), Trust: url.QueryEscape(r.TrustPolicy),
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
		Description: p.Description, Created: iamTime(p.Created), Updated: iamTime(p.Created)}
}

func required(r *http.Request, names ...string) error {
	for _, n := range names {
		if r.Form.Get(n) == "" {
			return &Error{Code: "ValidationError", Status: http.StatusBadRequest, Message: fmt.Sprintf("1 validation error detected: Value null at '%s%s' failed to satisfy constraint: Member must not be null", strings.ToLower(n[:1]), n[1:])}
		}
	}
	return nil
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
		return "", &Error{Code: "ValidationError", Status: http.StatusBadRequest, Message: "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"}
	}
	c, _ := CallerFrom(r.Context())
	if strings.Contains(c.PrincipalARN, ":user/") {
		return c.PrincipalARN[strings.LastIndex(c.PrincipalARN, "/")+1:], nil
	}
	return "", &Error{Code: "ValidationError", Status: http.StatusBadRequest, Message: "Must specify userName when calling with non-User credentials"}
}

// pathOr is an IAM path as given, "/" if none.
func pathOr(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func (x *IAM) createUser(w http.ResponseWriter, r *http.Request) error {
	if err := required(r, "UserName"); err != nil {
		return err
	}
	u, err := x.IAM.CreateUser(r.Context(), r.Form.Get("UserName"), r.Form.Get("Path"))
	if err != nil {
		return err
	}
	return writeQuery(w, r, iamNS, "CreateUser", struct {
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
	return writeQuery(w, r, iamNS, "GetUser", struct {
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
	return writeQuery(w, r, iamNS, "ListUsers", out)
}

func (x *IAM) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := required(r, "UserName"); err != nil {
		return err
	}
	if err := x.IAM.DeleteUser(r.Context(), r.Form.Get("UserName")); err != nil {
		return err
	}
	return writeQuery(w, r, iamNS, "DeleteUser", nil)
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
	return writeQuery(w, r, iamNS, "CreateAccessKey", struct {
		XMLName xml.Name `xml:"CreateAccessKeyResult"`
		User    string   `xml:"AccessKey>UserName"`
		ID      string   `xml:"AccessKey>AccessKeyId"`
		Status  string   `xml:"AccessKey>Status"`
		Secret  string   `xml:"AccessKey>SecretAccessKey"`
		Created string   `xml:"AccessKey>CreateDate"`
	}{User: name, ID: id, Status: "Active", Secret: secret, Created: iamTime(time.Now())})
}

func (x *IAM) deleteAccessKey(w http.ResponseWriter, r *http.Request) error {
	if err := required(r, "AccessKeyId"); err != nil {
		return err
	}
	name, err := x.callerUser(r)
	if err != nil {
		return err
	}
	if err := x.IAM.DeleteAccessKey(r.Context(), name, r.Form.Get("AccessKeyId")); err != nil {
		return err
	}
	return writeQuery(w, r, iamNS, "DeleteAccessKey", nil)
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
		out.Keys = append(out.Keys, keyXML{User: name, ID: k.ID, Status: "Active", Created: iamTime(k.Created)})
	}
	return writeQuery(w, r, iamNS, "ListAccessKeys", out)
}

func (x *IAM) createRole(w http.ResponseWriter, r *http.Request) error {
	if err := required(r, "RoleName", "AssumeRolePolicyDocument"); err != nil {
		return err
	}
	maxSession, _ := strconv.Atoi(r.Form.Get("MaxSessionDuration"))
	role, err := x.IAM.CreateRole(r.Context(), r.Form.Get("RoleName"), r.Form.Get("Path"), r.Form.Get("Description"), r.Form.Get("AssumeRolePolicyDocument"), maxSession)
	if err != nil {
		return err
	}
	return writeQuery(w, r, iamNS, "CreateRole", struct {
		XMLName xml.Name `xml:"CreateRoleResult"`
		Role    roleXML  `xml:"Role"`
	}{Role: x.roleXML(role)})
}

func (x *IAM) getRole(w http.ResponseWriter, r *http.Request) error {
	if err := required(r, "RoleName"); err != nil {
		return err
	}
	role, err := x.IAM.Role(r.Context(), r.Form.Get("RoleName"))
	if err != nil {
		return err
	}
	return writeQuery(w, r, iamNS, "GetRole", struct {
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
	return writeQuery(w, r, iamNS, "ListRoles", out)
}

func (x *IAM) deleteRole(w http.ResponseWriter, r *http.Request) error {
	if err := required(r, "RoleName"); err != nil {
		return err
	}
	if err := x.IAM.DeleteRole(r.Context(), r.Form.Get("RoleName")); err != nil {
		return err
	}
	return writeQuery(w, r, iamNS, "DeleteRole", nil)
}

func (x *IAM) createPolicy(w http.ResponseWriter, r *http.Request) error {
	if err := required(r, "PolicyName", "PolicyDocument"); err != nil {
		return err
	}
	p, err := x.IAM.CreatePolicy(r.Context(), r.Form.Get("PolicyName"), r.Form.Get("Path"), r.Form.Get("Description"), r.Form.Get("PolicyDocument"))
	if err != nil {
		return err
	}
	return writeQuery(w, r, iamNS, "CreatePolicy", struct {
		XMLName xml.Name  `xml:"CreatePolicyResult"`
		Policy  policyXML `xml:"Policy"`
	}{Policy: x.policyXML(p)})
}

func (x *IAM) getPolicy(w http.ResponseWriter, r *http.Request) error {
	if err := required(r, "PolicyArn"); err != nil {
		return err
	}
	p, err := x.IAM.Policy(r.Context(), r.Form.Get("PolicyArn"))
	if err != nil {
		return err
	}
	return writeQuery(w, r, iamNS, "GetPolicy", struct {
		XMLName xml.Name  `xml:"GetPolicyResult"`
		Policy  policyXML `xml:"Policy"`
	}{Policy: x.policyXML(p)})
}

func (x *IAM) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	if err := required(r, "PolicyArn"); err != nil {
		return err
	}
	if err := x.IAM.DeletePolicy(r.Context(), r.Form.Get("PolicyArn")); err != nil {
		return err
	}
	return writeQuery(w, r, iamNS, "DeletePolicy", nil)
}

func (x *IAM) assumeRole(w http.ResponseWriter, r *http.Request) error {
	if err := required(r, "RoleArn", "RoleSessionName"); err != nil {
		return err
	}
	c, _ := CallerFrom(r.Context())
	duration, _ := strconv.Atoi(r.Form.Get("DurationSeconds"))
	var keys map[string][]string
	if x.ContextKeys != nil {
		keys = x.ContextKeys(r)
	}
	creds, err := x.IAM.AssumeRole(r.Context(), c.PrincipalARN, r.Form.Get("RoleArn"), r.Form.Get("RoleSessionName"), duration, keys)
	if err != nil {
		return err
	}
	return writeQuery(w, r, stsNS, "AssumeRole", struct {
		XMLName    xml.Name `xml:"AssumeRoleResult"`
		KeyID      string   `xml:"Credentials>AccessKeyId"`
		Secret     string   `xml:"Credentials>SecretAccessKey"`
		Token      string   `xml:"Credentials>SessionToken"`
		Expiration string   `xml:"Credentials>Expiration"`
		RoleID     string   `xml:"AssumedRoleUser>AssumedRoleId"`
		RoleARN    string   `xml:"AssumedRoleUser>Arn"`
	}{KeyID: creds.AccessKeyID, Secret: creds.SecretAccessKey, Token: creds.SessionToken, Expiration: iamTime(creds.Expiration),
		RoleID: creds.AssumedRoleID, RoleARN: creds.AssumedRoleARN})
}

func (x *IAM) getCallerIdentity(w http.ResponseWriter, r *http.Request) error {
	c, _ := CallerFrom(r.Context())
	res, err := x.IAM.Resolve(r.Context(), c.PrincipalARN)
	if err != nil {
		return err
	}
	return writeQuery(w, r, stsNS, "GetCallerIdentity", struct {
		XMLName xml.Name `xml:"GetCallerIdentityResult"`
		UserID  string   `xml:"UserId"`
		Account string   `xml:"Account"`
		ARN     string   `xml:"Arn"`
	}{UserID: res.UserID, Account: x.IAM.Account.ID, ARN: c.PrincipalARN})
}

func (x *IAM) assumeRoleWithWebIdentity(w http.ResponseWriter, r *http.Request) error {
	if err := required(r, "RoleArn", "RoleSessionName", "WebIdentityToken"); err != nil {
		return err
	}
	duration, _ := strconv.Atoi(r.Form.Get("DurationSeconds"))
	token := r.Form.Get("WebIdentityToken")
	creds, id, provider, err := x.IAM.AssumeRoleWithWebIdentity(r.Context(), x.Issuer(token), r.Form.Get("RoleArn"), r.Form.Get("RoleSessionName"), token, duration)
	if err != nil {
		return err
	}
	aud := ""
	if len(id.Audience) > 0 {
		aud = id.Audience[0]
	}
	return writeQuery(w, r, stsNS, "AssumeRoleWithWebIdentity", struct {
		XMLName    xml.Name `xml:"AssumeRoleWithWebIdentityResult"`
		KeyID      string   `xml:"Credentials>AccessKeyId"`
		Secret     string   `xml:"Credentials>SecretAccessKey"`
		Token      string   `xml:"Credentials>SessionToken"`
		Expiration string   `xml:"Credentials>Expiration"`
		Subject    string   `xml:"SubjectFromWebIdentityToken"`
		RoleID     string   `xml:"AssumedRoleUser>AssumedRoleId"`
		RoleARN    string   `xml:"AssumedRoleUser>Arn"`
		Provider   string   `xml:"Provider"`
		Audience   string   `xml:"Audience"`
	}{KeyID: creds.AccessKeyID, Secret: creds.SecretAccessKey, Token: creds.SessionToken, Expiration: iamTime(creds.Expiration),
		Subject: id.Subject, RoleID: creds.AssumedRoleID, RoleARN: creds.AssumedRoleARN, Provider: provider, Audience: aud})
}
