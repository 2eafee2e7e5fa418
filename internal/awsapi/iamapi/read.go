package iamapi

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/iam"
)

// The operations that read policies: the managed policies, the
// policies of a user or role, and their documents, which IAM returns
// URL-encoded (the CLI and SDKs decode them).

// page returns the page of items a request asks for (Marker, MaxItems:
// 100 items unless it says otherwise, as IAM), in the order of key, and
// the marker of the next page ("" on the last). A marker is the key of
// the last item of the page before, so a page is not shifted by what is
// created or deleted in between.
func page[T any](r *http.Request, items []T, key func(T) string) ([]T, string, error) {
	limit := 100
	if v := r.Form.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, "", awsapi.Validation("ValidationError", http.StatusBadRequest, errs.Value(nil, "maxItems", v, "must have value between 1 and 1000"))
		}
		limit = n
	}
	slices.SortStableFunc(items, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	if m := r.Form.Get("Marker"); m != "" {
		after, err := base64.RawURLEncoding.DecodeString(m)
		if err != nil {
			return nil, "", awsapi.Errorf("ValidationError", http.StatusBadRequest, "Invalid Marker %q: pass the Marker of the previous response as it was given", m)
		}
		items = items[sort.Search(len(items), func(i int) bool { return key(items[i]) > string(after) }):]
	}
	if len(items) > limit {
		return items[:limit], base64.RawURLEncoding.EncodeToString([]byte(key(items[limit-1]))), nil
	}
	return items, "", nil
}

// inPath keeps the items whose path starts with the request's
// PathPrefix, as IAM's list operations do.
func inPath[T any](r *http.Request, items []T, path func(T) string) ([]T, error) {
	prefix := r.Form.Get("PathPrefix")
	if prefix == "" {
		return items, nil
	}
	if !strings.HasPrefix(prefix, "/") || len(prefix) > 512 {
		return nil, awsapi.Validation("ValidationError", http.StatusBadRequest, errs.Value(nil, "pathPrefix", prefix, "must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*"))
	}
	return slices.DeleteFunc(items, func(t T) bool { return !strings.HasPrefix(path(t), prefix) }), nil
}

// paging is the end of a list result.
type paging struct {
	IsTruncated bool   `xml:"IsTruncated"`
	Marker      string `xml:"Marker,omitempty"`
}

func pagingOf(marker string) paging { return paging{IsTruncated: marker != "", Marker: marker} }

func (x *IAM) listPolicies(w http.ResponseWriter, r *http.Request) error {
	scope := r.Form.Get("Scope")
	switch scope {
	case "", "All", "Local", "AWS":
	default:
		return awsapi.Validation("ValidationError", http.StatusBadRequest, errs.Value(nil, "scope", scope, "must satisfy enum value set: [All, AWS, Local]"))
	}
	onlyAttached := false
	if v := r.Form.Get("OnlyAttached"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return awsapi.Validation("ValidationError", http.StatusBadRequest, errs.Value(nil, "onlyAttached", v, "must be true or false"))
		}
		onlyAttached = b
	}
	var policies []iam.ManagedPolicy
	if scope != "AWS" { // Signet has no AWS managed policies.
		var err error
		if policies, err = x.IAM.ListPolicies(r.Context()); err != nil {
			return err
		}
	}
	if onlyAttached {
		policies = slices.DeleteFunc(policies, func(p iam.ManagedPolicy) bool { return p.Attachments == 0 })
	}
	policies, err := inPath(r, policies, func(p iam.ManagedPolicy) string { return p.Path })
	if err != nil {
		return err
	}
	policies, next, err := page(r, policies, func(p iam.ManagedPolicy) string { return p.Name })
	if err != nil {
		return err
	}
	out := struct {
		XMLName  xml.Name    `xml:"ListPoliciesResult"`
		Policies []policyXML `xml:"Policies>member"`
		paging
	}{paging: pagingOf(next)}
	for _, p := range policies {
		out.Policies = append(out.Policies, x.policyXML(p))
	}
	return proto.Write(w, r, "ListPolicies", out)
}

func (x *IAM) getPolicyVersion(w http.ResponseWriter, r *http.Request) error {
	if err := awsapi.Required(r, "PolicyArn", "VersionId"); err != nil {
		return err
	}
	p, err := x.IAM.PolicyVersion(r.Context(), r.Form.Get("PolicyArn"), r.Form.Get("VersionId"))
	if err != nil {
		return err
	}
	return proto.Write(w, r, "GetPolicyVersion", struct {
		XMLName   xml.Name `xml:"GetPolicyVersionResult"`
		Document  string   `xml:"PolicyVersion>Document"`
		VersionID string   `xml:"PolicyVersion>VersionId"`
		Default   bool     `xml:"PolicyVersion>IsDefaultVersion"`
		Created   string   `xml:"PolicyVersion>CreateDate"`
	}{Document: escapeDocument(p.Document), VersionID: iam.DefaultVersion, Default: true, Created: awsapi.QueryTime(p.Created)})
}

// principalOf is the kind of principal and the field naming it of an
// operation on a user's or a role's policies.
func principalOf(kind iam.PrincipalKind) (field, title string) {
	if kind == iam.KindRole {
		return "RoleName", "Role"
	}
	return "UserName", "User"
}

// listAttached serves ListAttachedUserPolicies and
// ListAttachedRolePolicies.
func (x *IAM) listAttached(kind iam.PrincipalKind) func(http.ResponseWriter, *http.Request) error {
	field, title := principalOf(kind)
	action := "ListAttached" + title + "Policies"
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := awsapi.Required(r, field); err != nil {
			return err
		}
		policies, err := x.IAM.AttachedPolicies(r.Context(), kind, r.Form.Get(field))
		if err != nil {
			return err
		}
		if policies, err = inPath(r, policies, func(p iam.ManagedPolicy) string { return p.Path }); err != nil {
			return err
		}
		policies, next, err := page(r, policies, func(p iam.ManagedPolicy) string { return p.Name })
		if err != nil {
			return err
		}
		type attachedXML struct {
			Name string `xml:"PolicyName"`
			ARN  string `xml:"PolicyArn"`
		}
		out := struct {
			XMLName  xml.Name
			Attached []attachedXML `xml:"AttachedPolicies>member"`
			paging
		}{XMLName: xml.Name{Local: action + "Result"}, paging: pagingOf(next)}
		for _, p := range policies {
			out.Attached = append(out.Attached, attachedXML{Name: p.Name, ARN: x.IAM.PolicyARN(p)})
		}
		return proto.Write(w, r, action, out)
	}
}

// listInline serves ListUserPolicies and ListRolePolicies: the names of
// the inline policies.
func (x *IAM) listInline(kind iam.PrincipalKind) func(http.ResponseWriter, *http.Request) error {
	field, title := principalOf(kind)
	action := "List" + title + "Policies"
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := awsapi.Required(r, field); err != nil {
			return err
		}
		inline, err := x.IAM.InlinePolicies(r.Context(), kind, r.Form.Get(field))
		if err != nil {
			return err
		}
		inline, next, err := page(r, inline, func(p iam.InlinePolicy) string { return p.Name })
		if err != nil {
			return err
		}
		out := struct {
			XMLName xml.Name
			Names   []string `xml:"PolicyNames>member"`
			paging
		}{XMLName: xml.Name{Local: action + "Result"}, Names: []string{}, paging: pagingOf(next)}
		for _, p := range inline {
			out.Names = append(out.Names, p.Name)
		}
		return proto.Write(w, r, action, out)
	}
}

// getInline serves GetUserPolicy and GetRolePolicy.
func (x *IAM) getInline(kind iam.PrincipalKind) func(http.ResponseWriter, *http.Request) error {
	field, title := principalOf(kind)
	action := "Get" + title + "Policy"
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := awsapi.Required(r, field, "PolicyName"); err != nil {
			return err
		}
		p, err := x.IAM.InlinePolicy(r.Context(), kind, r.Form.Get(field), r.Form.Get("PolicyName"))
		if err != nil {
			return err
		}
		type principalXML struct {
			XMLName xml.Name
			Name    string `xml:",chardata"`
		}
		return proto.Write(w, r, action, struct {
			XMLName   xml.Name
			Principal principalXML
			Name      string `xml:"PolicyName"`
			Document  string `xml:"PolicyDocument"`
		}{XMLName: xml.Name{Local: action + "Result"}, Principal: principalXML{XMLName: xml.Name{Local: field}, Name: r.Form.Get(field)},
			Name: p.Name, Document: escapeDocument(p.Document)})
	}
}

// escapeDocument URL-encodes a policy document as IAM does (RFC 3986:
// a space is %20, not +), which both the CLI's unquote and the SDKs'
// query unescaping decode.
func escapeDocument(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

// members returns a Query list parameter's values: NAME.member.1, …
func members(f url.Values, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := f[fmt.Sprintf("%s.member.%d", name, i)]
		if !ok {
			return out
		}
		out = append(out, v...)
	}
}
