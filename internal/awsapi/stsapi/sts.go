// Package stsapi serves the STS Query-protocol subset: AssumeRole,
// AssumeRoleWithWebIdentity and GetCallerIdentity.
package stsapi

import (
	"context"
	"encoding/xml"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/awsapi/iamapi"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/policy"
)

// STS serves the STS API over the IAM domain.
type STS struct {
	IAM        *iam.Service
	Authorizer awsapi.Authorizer
	Log        *slog.Logger
	// ContextKeys returns a request's condition keys (for trust policy
	// conditions of AssumeRole).
	ContextKeys func(r *http.Request) map[string][]string
	// Issuer returns a web identity token's issuer (unverified).
	Issuer func(token string) string
}

// sourceIdentityRE is AssumeRole's pattern for SourceIdentity.
var sourceIdentityRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// proto is STS's Query protocol, in its namespace.
var proto = awsapi.Query{Namespace: "https://sts.amazonaws.com/doc/2011-06-15/"}

// ResourcePolicies returns a role's trust policy, the resource policy
// of sts:AssumeRole.
func (x *STS) ResourcePolicies(ctx context.Context, action, resource string) ([]*policy.Document, error) {
	if action != "sts:AssumeRole" {
		return nil, nil
	}
	d, err := x.IAM.TrustPolicy(ctx, resource)
	if err != nil {
		return nil, nil // authorization refuses; AssumeRole explains
	}
	return []*policy.Document{d}, nil
}

// Service returns the STS operations.
func (x *STS) Service() *awsapi.Service {
	return &awsapi.Service{Name: "sts", Protocol: proto, Errors: iamapi.ErrorCodes, Throttle: iamapi.Throttle,
		Authorizer: x.Authorizer, Log: x.Log, Policies: x,
		Operations: []awsapi.Operation{
			{Name: "AssumeRole", Pattern: "POST /", Target: "AssumeRole", Action: "sts:AssumeRole",
				Resource: func(r *http.Request) string { return r.Form.Get("RoleArn") }, Handle: x.assumeRole},
			{Name: "GetCallerIdentity", Pattern: "POST /", Target: "GetCallerIdentity", Action: "sts:GetCallerIdentity", Resource: awsapi.AllResources, Handle: x.getCallerIdentity},
			{Name: "AssumeRoleWithWebIdentity", Pattern: "POST /", Target: "AssumeRoleWithWebIdentity", Action: "sts:AssumeRoleWithWebIdentity", Public: true,
				Resource: func(r *http.Request) string { return r.Form.Get("RoleArn") }, Handle: x.assumeRoleWithWebIdentity},
		}}
}

func (x *STS) assumeRole(w http.ResponseWriter, r *http.Request) error {
	if err := awsapi.Required(r, "RoleArn", "RoleSessionName"); err != nil {
		return err
	}
	c, _ := awsapi.CallerFrom(r.Context())
	duration, _ := strconv.Atoi(r.Form.Get("DurationSeconds"))
	var keys map[string][]string
	if x.ContextKeys != nil {
		keys = x.ContextKeys(r)
	}
	source := r.Form.Get("SourceIdentity")
	if _, set := r.Form["SourceIdentity"]; set && (!sourceIdentityRE.MatchString(source) || strings.HasPrefix(strings.ToLower(source), "aws:")) {
		return &awsapi.Error{Code: "ValidationError", Status: http.StatusBadRequest,
			Message: "1 validation error detected: Value at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* (2 to 64 characters, not starting with aws:)"}
	}
	creds, err := x.IAM.AssumeRole(r.Context(), iam.Assumer{Principal: c.PrincipalARN, SourceIdentity: c.SourceIdentity},
		r.Form.Get("RoleArn"), r.Form.Get("RoleSessionName"), duration, keys, source)
	if err != nil {
		return err
	}
	return proto.Write(w, r, "AssumeRole", struct {
		XMLName        xml.Name `xml:"AssumeRoleResult"`
		KeyID          string   `xml:"Credentials>AccessKeyId"`
		Secret         string   `xml:"Credentials>SecretAccessKey"`
		Token          string   `xml:"Credentials>SessionToken"`
		Expiration     string   `xml:"Credentials>Expiration"`
		RoleID         string   `xml:"AssumedRoleUser>AssumedRoleId"`
		RoleARN        string   `xml:"AssumedRoleUser>Arn"`
		SourceIdentity string   `xml:"SourceIdentity,omitempty"`
	}{KeyID: creds.AccessKeyID, Secret: creds.SecretAccessKey, Token: creds.SessionToken, Expiration: awsapi.QueryTime(creds.Expiration),
		RoleID: creds.AssumedRoleID, RoleARN: creds.AssumedRoleARN, SourceIdentity: creds.SourceIdentity})
}

func (x *STS) getCallerIdentity(w http.ResponseWriter, r *http.Request) error {
	c, _ := awsapi.CallerFrom(r.Context())
	res, err := x.IAM.Resolve(r.Context(), c.PrincipalARN)
	if err != nil {
		return err
	}
	return proto.Write(w, r, "GetCallerIdentity", struct {
		XMLName xml.Name `xml:"GetCallerIdentityResult"`
		UserID  string   `xml:"UserId"`
		Account string   `xml:"Account"`
		ARN     string   `xml:"Arn"`
	}{UserID: res.UserID, Account: x.IAM.Account.ID, ARN: c.PrincipalARN})
}

func (x *STS) assumeRoleWithWebIdentity(w http.ResponseWriter, r *http.Request) error {
	if err := awsapi.Required(r, "RoleArn", "RoleSessionName", "WebIdentityToken"); err != nil {
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
	return proto.Write(w, r, "AssumeRoleWithWebIdentity", struct {
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
	}{KeyID: creds.AccessKeyID, Secret: creds.SecretAccessKey, Token: creds.SessionToken, Expiration: awsapi.QueryTime(creds.Expiration),
		Subject: id.Subject, RoleID: creds.AssumedRoleID, RoleARN: creds.AssumedRoleARN, Provider: provider, Audience: aud})
}
