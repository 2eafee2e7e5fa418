// Package signerapi serves the AWS Signer API (REST-JSON, API version
// 2017-08-25): signing platforms, profiles and their permissions, signing
// jobs, SignPayload and revocation.
package signerapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/policy"
	"github.com/signet/signet/internal/signing"
)

// Signer serves the AWS Signer API (rest-json, API version 2017-08-25).
type Signer struct {
	Profiles   *signing.Service
	Authorizer awsapi.Authorizer
	Log        *slog.Logger
}

// Service returns the operations of the Signer API.
func (s *Signer) Service() *awsapi.Service {
	profileARN := func(r *http.Request) string { return s.Profiles.Account.ProfileARN(r.PathValue("profileName")) }
	tagARN := func(r *http.Request) string { return r.PathValue("resourceArn") }
	ops := []awsapi.Operation{
		{Name: "ListSigningPlatforms", Pattern: "GET /signing-platforms", Action: "signer:ListSigningPlatforms", Resource: awsapi.AllResources, Handle: s.listPlatforms},
		{Name: "GetSigningPlatform", Pattern: "GET /signing-platforms/{platformId}", Action: "signer:GetSigningPlatform", Resource: awsapi.AllResources, Handle: s.getPlatform},
		{Name: "PutSigningProfile", Pattern: "PUT /signing-profiles/{profileName}", Action: "signer:PutSigningProfile", Resource: profileARN, Handle: s.putProfile},
		{Name: "GetSigningProfile", Pattern: "GET /signing-profiles/{profileName}", Action: "signer:GetSigningProfile", Resource: profileARN, Handle: s.getProfile},
		{Name: "ListSigningProfiles", Pattern: "GET /signing-profiles", Action: "signer:ListSigningProfiles", Resource: awsapi.AllResources, Handle: s.listProfiles},
		{Name: "CancelSigningProfile", Pattern: "DELETE /signing-profiles/{profileName}", Action: "signer:CancelSigningProfile", Resource: profileARN, Handle: s.cancelProfile},
		{Name: "TagResource", Pattern: "POST /tags/{resourceArn...}", Action: "signer:TagResource", Resource: tagARN, Handle: s.tagResource},
		{Name: "UntagResource", Pattern: "DELETE /tags/{resourceArn...}", Action: "signer:UntagResource", Resource: tagARN, Handle: s.untagResource},
		{Name: "ListTagsForResource", Pattern: "GET /tags/{resourceArn...}", Action: "signer:ListTagsForResource", Resource: tagARN, Handle: s.listTags},
		{Name: "AddProfilePermission", Pattern: "POST /signing-profiles/{profileName}/permissions", Action: "signer:AddProfilePermission", Resource: profileARN, Handle: s.addPermission},
		{Name: "ListProfilePermissions", Pattern: "GET /signing-profiles/{profileName}/permissions", Action: "signer:ListProfilePermissions", Resource: profileARN, Handle: s.listPermissions},
		{Name: "RemoveProfilePermission", Pattern: "DELETE /signing-profiles/{profileName}/permissions/{statementId}", Action: "signer:RemoveProfilePermission", Resource: profileARN, Handle: s.removePermission},
	}
	ops = append(ops, s.jobOperations()...)
	return &awsapi.Service{Name: "signer", Protocol: awsapi.RestJSON{}, Operations: ops, Errors: errorCodes,
		Internal:   awsapi.Error{Code: "InternalServiceErrorException", Status: http.StatusInternalServerError},
		Throttle:   awsapi.Error{Code: "ThrottlingException", Status: http.StatusTooManyRequests},
		Authorizer: s.Authorizer, Log: s.Log, Policies: s}
}

// errorCodes are the AWS codes of the signing service's errors. The
// tagging operations answer NotFoundException and BadRequestException,
// never ResourceNotFound or Validation.
var errorCodes = []awsapi.ErrorCode{
	{Err: signing.ErrNotFound, Code: "NotFoundException", Status: http.StatusNotFound, Ops: tagOps},
	{Err: signing.ErrInvalid, Code: "BadRequestException", Status: http.StatusBadRequest, Ops: tagOps},
	{Err: signing.ErrCanceled, Code: "BadRequestException", Status: http.StatusBadRequest, Ops: tagOps},
	{Err: signing.ErrNotFound, Code: "ResourceNotFoundException", Status: http.StatusNotFound},
	{Err: signing.ErrInvalid, Code: "ValidationException", Status: http.StatusBadRequest},
	{Err: signing.ErrConflict, Code: "ConflictException", Status: http.StatusConflict},
	{Err: signing.ErrLimitExceeded, Code: "ServiceLimitExceededException", Status: http.StatusPaymentRequired},
	{Err: signing.ErrCanceled, Code: "ValidationException", Status: http.StatusBadRequest},
}

var tagOps = []string{"TagResource", "UntagResource", "ListTagsForResource"}

// Wire shapes. Field names are AWS's.

type validityJSON struct {
	Value int    `json:"value"`
	Type  string `json:"type"`
}

type signingConfigurationOverridesJSON struct {
	EncryptionAlgorithm string `json:"encryptionAlgorithm,omitempty"`
	HashAlgorithm       string `json:"hashAlgorithm,omitempty"`
}

type overridesJSON struct {
	SigningConfiguration *signingConfigurationOverridesJSON `json:"signingConfiguration,omitempty"`
	SigningImageFormat   string                             `json:"signingImageFormat,omitempty"`
}

type signingMaterialJSON struct {
	CertificateArn string `json:"certificateArn"`
}

type profileRevocationJSON struct {
	RevocationEffectiveFrom float64 `json:"revocationEffectiveFrom"`
	RevokedAt               float64 `json:"revokedAt"`
	RevokedBy               string  `json:"revokedBy"`
}

type profileJSON struct {
	ProfileName             string                 `json:"profileName"`
	ProfileVersion          string                 `json:"profileVersion"`
	ProfileVersionArn       string                 `json:"profileVersionArn"`
	SigningMaterial         *signingMaterialJSON   `json:"signingMaterial,omitempty"`
	PlatformID              string                 `json:"platformId"`
	PlatformDisplayName     string                 `json:"platformDisplayName"`
	SignatureValidityPeriod validityJSON           `json:"signatureValidityPeriod"`
	Overrides               *overridesJSON         `json:"overrides,omitempty"`
	SigningParameters       map[string]string      `json:"signingParameters,omitempty"`
	Status                  string                 `json:"status"`
	StatusReason            string                 `json:"statusReason,omitempty"`
	Arn                     string                 `json:"arn"`
	Tags                    map[string]string      `json:"tags,omitempty"`
	RevocationRecord        *profileRevocationJSON `json:"revocationRecord,omitempty"`
}

func (s *Signer) profileJSON(p signing.Profile) profileJSON {
	plat, _ := signing.PlatformByID(p.PlatformID)
	out := profileJSON{
		ProfileName:             p.Name,
		ProfileVersion:          p.Version,
		ProfileVersionArn:       s.Profiles.Account.ProfileVersionARN(p.Name, p.Version),
		PlatformID:              p.PlatformID,
		PlatformDisplayName:     plat.DisplayName,
		SignatureValidityPeriod: validityJSON{Value: p.Validity.Value, Type: string(p.Validity.Type)},
		SigningParameters:       p.SigningParameters,
		Status:                  string(p.Status),
		StatusReason:            p.StatusReason,
		Arn:                     s.Profiles.Account.ProfileARN(p.Name),
		Tags:                    p.Tags,
	}
	if o := p.Overrides; o != (signing.Overrides{}) {
		out.Overrides = &overridesJSON{SigningImageFormat: o.ImageFormat}
		if o.EncryptionAlgorithm != "" || o.HashAlgorithm != "" {
			out.Overrides.SigningConfiguration = &signingConfigurationOverridesJSON{o.EncryptionAlgorithm, o.HashAlgorithm}
		}
	}
	return out
}

type optionsJSON struct {
	AllowedValues []string `json:"allowedValues"`
	DefaultValue  string   `json:"defaultValue"`
}

type platformJSON struct {
	PlatformID           string `json:"platformId"`
	DisplayName          string `json:"displayName"`
	Partner              string `json:"partner"`
	Target               string `json:"target"`
	Category             string `json:"category"`
	SigningConfiguration struct {
		EncryptionAlgorithmOptions optionsJSON `json:"encryptionAlgorithmOptions"`
		HashAlgorithmOptions       optionsJSON `json:"hashAlgorithmOptions"`
	} `json:"signingConfiguration"`
	SigningImageFormat struct {
		SupportedFormats []string `json:"supportedFormats"`
		DefaultFormat    string   `json:"defaultFormat"`
	} `json:"signingImageFormat"`
	MaxSizeInMB         int  `json:"maxSizeInMB"`
	RevocationSupported bool `json:"revocationSupported"`
}

func platformToJSON(p signing.Platform) platformJSON {
	var out platformJSON
	out.PlatformID, out.DisplayName, out.Partner, out.Target, out.Category = p.ID, p.DisplayName, p.Partner, p.Target, p.Category
	out.SigningConfiguration.EncryptionAlgorithmOptions = optionsJSON{p.EncryptionAlgorithms, p.EncryptionAlgorithms[0]}
	out.SigningConfiguration.HashAlgorithmOptions = optionsJSON{p.HashAlgorithms, p.HashAlgorithms[0]}
	out.SigningImageFormat.SupportedFormats = p.ImageFormats
	out.SigningImageFormat.DefaultFormat = p.ImageFormats[0]
	out.MaxSizeInMB, out.RevocationSupported = p.MaxSizeInMB, p.RevocationSupported
	return out
}

// queryInt parses an optional integer query parameter.
func queryInt(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, awsapi.Validation("ValidationException", 400, errs.Value(nil, name, v, "must be an integer"))
	}
	return n, nil
}

func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, awsapi.Validation("ValidationException", 400, errs.Value(nil, name, v, "must be true or false"))
	}
	return b, nil
}

func (s *Signer) listPlatforms(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	max, err := queryInt(r, "maxResults")
	if err != nil {
		return err
	}
	if max != 0 && (max < 1 || max > signing.MaxPageSize) {
		return awsapi.Validation("ValidationException", 400, errs.Value(nil, "maxResults", strconv.Itoa(max), "must be between 1 and %d", signing.MaxPageSize))
	}
	if max == 0 {
		max = signing.MaxPageSize
	}
	start := 0
	if tok := q.Get("nextToken"); tok != "" {
		start, err = strconv.Atoi(tok)
		if err != nil || start < 0 {
			return &awsapi.Error{Code: "ValidationException", Status: 400, Message: "nextToken is not valid; pass the nextToken of the previous page unchanged"}
		}
	}
	var matched []platformJSON
	for _, p := range signing.Platforms {
		if c := q.Get("category"); c != "" && c != p.Category {
			continue
		}
		if c := q.Get("partner"); c != "" && c != p.Partner {
			continue
		}
		if c := q.Get("target"); c != "" && c != p.Target {
			continue
		}
		matched = append(matched, platformToJSON(p))
	}
	resp := struct {
		Platforms []platformJSON `json:"platforms"`
		NextToken string         `json:"nextToken,omitempty"`
	}{Platforms: []platformJSON{}}
	if start < len(matched) {
		end := min(start+max, len(matched))
		resp.Platforms = matched[start:end]
		if end < len(matched) {
			resp.NextToken = strconv.Itoa(end)
		}
	}
	return awsapi.WriteJSON(w, resp)
}

func (s *Signer) getPlatform(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("platformId")
	p, ok := signing.PlatformByID(id)
	if !ok {
		return &awsapi.Error{Code: "ResourceNotFoundException", Status: 404, Message: fmt.Sprintf("signing platform %s does not exist; ListSigningPlatforms lists the platforms", id)}
	}
	return awsapi.WriteJSON(w, platformToJSON(p))
}

func (s *Signer) putProfile(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		PlatformID              string               `json:"platformId"`
		SigningMaterial         *signingMaterialJSON `json:"signingMaterial"`
		SignatureValidityPeriod *validityJSON        `json:"signatureValidityPeriod"`
		Overrides               *overridesJSON       `json:"overrides"`
		SigningParameters       map[string]string    `json:"signingParameters"`
		Tags                    map[string]string    `json:"tags"`
	}
	if err := awsapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	in := signing.PutProfileInput{
		Name:              r.PathValue("profileName"),
		PlatformID:        req.PlatformID,
		SigningParameters: req.SigningParameters,
		Tags:              req.Tags,
	}
	if req.SigningMaterial != nil {
		in.CertificateARN = req.SigningMaterial.CertificateArn
		if in.CertificateARN == "" {
			in.CertificateARN = "(empty)"
		}
	}
	if v := req.SignatureValidityPeriod; v != nil {
		in.Validity = &signing.Validity{Value: v.Value, Type: signing.ValidityType(v.Type)}
	}
	if o := req.Overrides; o != nil {
		in.Overrides.ImageFormat = o.SigningImageFormat
		if c := o.SigningConfiguration; c != nil {
			in.Overrides.EncryptionAlgorithm, in.Overrides.HashAlgorithm = c.EncryptionAlgorithm, c.HashAlgorithm
		}
	}
	res, err := s.Profiles.PutProfile(r.Context(), in)
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, struct {
		Arn               string `json:"arn"`
		ProfileVersion    string `json:"profileVersion"`
		ProfileVersionArn string `json:"profileVersionArn"`
	}{res.ARN, res.Version, res.VersionARN})
}

func (s *Signer) getProfile(w http.ResponseWriter, r *http.Request) error {
	p, err := s.Profiles.Profile(r.Context(), r.PathValue("profileName"), r.URL.Query().Get("profileOwner"))
	if err != nil {
		return err
	}
	out := s.profileJSON(p)
	if v, revoked, err := s.Profiles.RevokedVersion(r.Context(), p); err != nil {
		return err
	} else if revoked {
		out.RevocationRecord = &profileRevocationJSON{RevocationEffectiveFrom: epoch(v.EffectiveFrom), RevokedAt: epoch(v.RevokedAt), RevokedBy: v.RevokedBy}
	}
	return awsapi.WriteJSON(w, out)
}

func (s *Signer) listProfiles(w http.ResponseWriter, r *http.Request) error {
	max, err := queryInt(r, "maxResults")
	if err != nil {
		return err
	}
	inc, err := queryBool(r, "includeCanceled")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	in := signing.ListProfilesInput{IncludeCanceled: inc, PlatformID: q.Get("platformId"), MaxResults: max, NextToken: q.Get("nextToken")}
	for _, st := range q["statuses"] {
		// The CLI may send a list as repeated keys or comma-joined.
		for _, one := range strings.Split(st, ",") {
			in.Statuses = append(in.Statuses, signing.Status(one))
		}
	}
	ps, next, err := s.Profiles.ListProfiles(r.Context(), in)
	if err != nil {
		return err
	}
	resp := struct {
		Profiles  []profileJSON `json:"profiles"`
		NextToken string        `json:"nextToken,omitempty"`
	}{Profiles: make([]profileJSON, 0, len(ps)), NextToken: next}
	for _, p := range ps {
		pj := s.profileJSON(p)
		pj.StatusReason, pj.Overrides = "", nil // not part of SigningProfile list items
		resp.Profiles = append(resp.Profiles, pj)
	}
	return awsapi.WriteJSON(w, resp)
}

func (s *Signer) cancelProfile(w http.ResponseWriter, r *http.Request) error {
	return awsapi.Empty(w, http.StatusOK, s.Profiles.CancelProfile(r.Context(), r.PathValue("profileName")))
}

func (s *Signer) tagResource(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Tags map[string]string `json:"tags"`
	}
	if err := awsapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := s.Profiles.TagResource(r.Context(), r.PathValue("resourceArn"), req.Tags); err != nil {
		return err
	}
	return awsapi.WriteJSON(w, struct{}{})
}

func (s *Signer) untagResource(w http.ResponseWriter, r *http.Request) error {
	var keys []string
	for _, k := range r.URL.Query()["tagKeys"] {
		keys = append(keys, k)
	}
	if err := s.Profiles.UntagResource(r.Context(), r.PathValue("resourceArn"), keys); err != nil {
		return err
	}
	return awsapi.WriteJSON(w, struct{}{})
}

func (s *Signer) listTags(w http.ResponseWriter, r *http.Request) error {
	tags, err := s.Profiles.Tags(r.Context(), r.PathValue("resourceArn"))
	if err != nil {
		return err
	}
	if tags == nil {
		tags = map[string]string{}
	}
	return awsapi.WriteJSON(w, struct {
		Tags map[string]string `json:"tags"`
	}{tags})
}

type permissionJSON struct {
	Action         string `json:"action"`
	Principal      string `json:"principal"`
	StatementID    string `json:"statementId"`
	ProfileVersion string `json:"profileVersion,omitempty"`
}

func (s *Signer) addPermission(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		permissionJSON
		RevisionID string `json:"revisionId"`
	}
	if err := awsapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	rev, err := s.Profiles.AddPermission(r.Context(), signing.AddPermissionInput{
		ProfileName: r.PathValue("profileName"), Action: req.Action, Principal: req.Principal,
		StatementID: req.StatementID, ProfileVersion: req.ProfileVersion, RevisionID: req.RevisionID,
	})
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, struct {
		RevisionID string `json:"revisionId"`
	}{rev})
}

func (s *Signer) removePermission(w http.ResponseWriter, r *http.Request) error {
	rev, err := s.Profiles.RemovePermission(r.Context(), r.PathValue("profileName"), r.PathValue("statementId"), r.URL.Query().Get("revisionId"))
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, struct {
		RevisionID string `json:"revisionId"`
	}{rev})
}

func (s *Signer) listPermissions(w http.ResponseWriter, r *http.Request) error {
	if tok := r.URL.Query().Get("nextToken"); tok != "" {
		return &awsapi.Error{Code: "ValidationException", Status: 400, Message: "nextToken is not valid: the permissions of a profile fit in one page"}
	}
	pol, err := s.Profiles.Permissions(r.Context(), r.PathValue("profileName"))
	if err != nil {
		return err
	}
	resp := struct {
		RevisionID      string           `json:"revisionId,omitempty"`
		PolicySizeBytes int              `json:"policySizeBytes"`
		Permissions     []permissionJSON `json:"permissions"`
	}{RevisionID: pol.RevisionID, PolicySizeBytes: pol.Size(), Permissions: []permissionJSON{}}
	for _, p := range pol.Permissions {
		resp.Permissions = append(resp.Permissions, permissionJSON{p.Action, p.Principal, p.StatementID, p.ProfileVersion})
	}
	return awsapi.WriteJSON(w, resp)
}

// ResourcePolicies returns a signing profile's permissions
// (AddProfilePermission) as a resource policy on the profile and its
// versions.
func (s *Signer) ResourcePolicies(ctx context.Context, action, resource string) ([]*policy.Document, error) {
	const marker = ":/signing-profiles/"
	i := strings.Index(resource, marker)
	if i < 0 {
		return nil, nil
	}
	name, _, _ := strings.Cut(resource[i+len(marker):], "/")
	pol, err := s.Profiles.Permissions(ctx, name)
	if err != nil || len(pol.Permissions) == 0 {
		return nil, nil
	}
	d := &policy.Document{Version: "2012-10-17"}
	base := s.Profiles.Account.ProfileARN(name)
	for _, perm := range pol.Permissions {
		d.Statements = append(d.Statements, policy.Statement{Sid: perm.StatementID, Allow: true,
			Principal: policy.Principals{"AWS": {perm.Principal}}, Actions: []string{strings.ToLower(perm.Action)},
			Resources: []string{base, base + "/*"}})
	}
	return []*policy.Document{d}, nil
}
