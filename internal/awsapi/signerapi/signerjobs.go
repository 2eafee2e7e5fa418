package signerapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/secretscan"
	"github.com/signet/signet/internal/signing"
)

// jobOperations are the Signer API's signing-job operations.
func (s *Signer) jobOperations() []awsapi.Operation {
	return []awsapi.Operation{
		// The profile is named in the body, decoded once.
		awsapi.Typed(awsapi.Operation{Name: "StartSigningJob", Pattern: "POST /signing-jobs", Action: "signer:StartSigningJob"}, awsapi.DecodeJSON,
			func(_ *http.Request, in *startJobInput) string { return s.Profiles.Account.ProfileARN(in.ProfileName) }, nil, s.startJob),
		awsapi.Typed(awsapi.Operation{Name: "SignPayload", Pattern: "POST /signing-jobs/with-payload", Action: "signer:SignPayload"}, awsapi.DecodeJSON,
			func(_ *http.Request, in *signPayloadInput) string {
				return s.Profiles.Account.ProfileARN(in.ProfileName)
			}, nil, s.signPayload),
		{Name: "DescribeSigningJob", Pattern: "GET /signing-jobs/{jobId}", Action: "signer:DescribeSigningJob",
			Resource: func(r *http.Request) string { return s.Profiles.Account.JobARN(r.PathValue("jobId")) }, Handle: s.describeJob},
		{Name: "ListSigningJobs", Pattern: "GET /signing-jobs", Action: "signer:ListSigningJobs", Resource: awsapi.AllResources, Handle: s.listJobs},
		{Name: "RevokeSignature", Pattern: "PUT /signing-jobs/{jobId}/revoke", Action: "signer:RevokeSignature",
			Resource: func(r *http.Request) string { return s.Profiles.Account.JobARN(r.PathValue("jobId")) }, Handle: s.revokeSignature},
		{Name: "RevokeSigningProfile", Pattern: "PUT /signing-profiles/{profileName}/revoke", Action: "signer:RevokeSigningProfile",
			Resource: func(r *http.Request) string { return s.Profiles.Account.ProfileARN(r.PathValue("profileName")) }, Handle: s.revokeProfile},
		{Name: "GetRevocationStatus", Pattern: "GET /revocations", Action: "signer:GetRevocationStatus", Resource: awsapi.AllResources, Handle: s.revocationStatus},
	}
}

type s3ObjectJSON struct {
	BucketName string `json:"bucketName"`
	Key        string `json:"key"`
	Version    string `json:"version,omitempty"`
}

type sourceJSON struct {
	S3 *s3ObjectJSON `json:"s3,omitempty"`
}

type signedObjectJSON struct {
	S3 *s3ObjectJSON `json:"s3,omitempty"`
}

type jobRevocationJSON struct {
	Reason    string  `json:"reason"`
	RevokedAt float64 `json:"revokedAt"`
	RevokedBy string  `json:"revokedBy"`
}

type jobJSON struct {
	JobID               string             `json:"jobId"`
	Source              *sourceJSON        `json:"source,omitempty"`
	PlatformID          string             `json:"platformId"`
	PlatformDisplayName string             `json:"platformDisplayName"`
	ProfileName         string             `json:"profileName"`
	ProfileVersion      string             `json:"profileVersion"`
	CreatedAt           float64            `json:"createdAt"`
	CompletedAt         *float64           `json:"completedAt,omitempty"`
	SignatureExpiresAt  *float64           `json:"signatureExpiresAt,omitempty"`
	RequestedBy         string             `json:"requestedBy,omitempty"`
	Status              string             `json:"status"`
	StatusReason        string             `json:"statusReason,omitempty"`
	SignedObject        *signedObjectJSON  `json:"signedObject,omitempty"`
	JobOwner            string             `json:"jobOwner"`
	JobInvoker          string             `json:"jobInvoker"`
	IsRevoked           *bool              `json:"isRevoked,omitempty"`
	RevocationRecord    *jobRevocationJSON `json:"revocationRecord,omitempty"`
	// SecretScanFindings is Signet's own: the secret scan's findings
	// that failed the job or that it was signed with (file, line, rule,
	// fingerprint; never the secret). AWS SDKs ignore it; the
	// statusReason lists the same findings.
	SecretScanFindings []secretscan.Finding `json:"secretScanFindings,omitempty"`
}

// epoch renders a time as AWS JSON timestamps are: seconds since the epoch.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func optEpoch(t time.Time) *float64 {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

func jobToJSON(j signing.Job) jobJSON {
	plat, _ := signing.PlatformByID(j.PlatformID)
	out := jobJSON{
		JobID: j.ID, PlatformID: j.PlatformID, PlatformDisplayName: plat.DisplayName,
		ProfileName: j.ProfileName, ProfileVersion: j.ProfileVersion,
		CreatedAt: epoch(j.CreatedAt), CompletedAt: optEpoch(j.CompletedAt), SignatureExpiresAt: optEpoch(j.SignatureExpiresAt),
		RequestedBy: j.RequestedBy, Status: string(j.Status), StatusReason: j.StatusReason,
		JobOwner: j.Owner, JobInvoker: j.Invoker,
		SecretScanFindings: j.ScanFindings,
	}
	if j.Kind == signing.KindObject {
		out.Source = &sourceJSON{S3: &s3ObjectJSON{BucketName: j.SourceBucket, Key: j.SourceKey, Version: j.SourceVersion}}
	}
	if j.SignedKey != "" {
		out.SignedObject = &signedObjectJSON{S3: &s3ObjectJSON{BucketName: j.SignedBucket, Key: j.SignedKey}}
	}
	if !j.RevokedAt.IsZero() {
		out.RevocationRecord = &jobRevocationJSON{Reason: j.RevocationReason, RevokedAt: epoch(j.RevokedAt), RevokedBy: j.RevokedBy}
	}
	return out
}

// startJobInput is StartSigningJob's request.
type startJobInput struct {
	Source *struct {
		S3 *s3ObjectJSON `json:"s3"`
	} `json:"source"`
	Destination *struct {
		S3 *struct {
			BucketName string `json:"bucketName"`
			Prefix     string `json:"prefix"`
		} `json:"s3"`
	} `json:"destination"`
	ProfileName        string `json:"profileName"`
	ProfileOwner       string `json:"profileOwner"`
	ClientRequestToken string `json:"clientRequestToken"`
}

func (s *Signer) startJob(w http.ResponseWriter, r *http.Request, req *startJobInput) error {
	in := signing.StartJobInput{ProfileName: req.ProfileName, ProfileOwner: req.ProfileOwner, ClientRequestToken: req.ClientRequestToken}
	if req.Source != nil && req.Source.S3 != nil {
		in.SourceBucket, in.SourceKey, in.SourceVersion = req.Source.S3.BucketName, req.Source.S3.Key, req.Source.S3.Version
	}
	if req.Destination != nil && req.Destination.S3 != nil {
		in.DestBucket, in.DestPrefix = req.Destination.S3.BucketName, req.Destination.S3.Prefix
	}
	if c, ok := awsapi.CallerFrom(r.Context()); ok {
		in.RequestedBy = c.PrincipalARN
	}
	// The job reads the source version and writes the signed object for
	// the caller, who must be allowed both.
	in.Check = func(ctx context.Context, j signing.Job) error {
		src := "arn:aws:s3:::" + j.SourceBucket + "/" + j.SourceKey
		if err := awsapi.AuthorizeAlso(s.Authorizer, r, src, "s3:GetObjectVersion", "s3:GetObject"); err != nil {
			return err
		}
		return awsapi.AuthorizeAlso(s.Authorizer, r, "arn:aws:s3:::"+j.DestBucket+"/"+signing.SignedKey(j), "s3:PutObject")
	}
	j, err := s.Profiles.StartJob(r.Context(), in)
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, struct {
		JobID    string `json:"jobId"`
		JobOwner string `json:"jobOwner"`
	}{j.ID, j.Owner})
}

func (s *Signer) describeJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.Profiles.Job(r.Context(), r.PathValue("jobId"))
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, jobToJSON(j))
}

func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, awsapi.Validation("ValidationException", 400, errs.Value(nil, name, v, "must be an ISO 8601 timestamp such as 2026-11-23T10:00:00Z"))
}

func (s *Signer) listJobs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	max, err := queryInt(r, "maxResults")
	if err != nil {
		return err
	}
	in := signing.ListJobsInput{Status: q.Get("status"), PlatformID: q.Get("platformId"), RequestedBy: q.Get("requestedBy"), Invoker: q.Get("jobInvoker"), MaxResults: max, NextToken: q.Get("nextToken")}
	if in.ExpiresBefore, err = queryTime(r, "signatureExpiresBefore"); err != nil {
		return err
	}
	if in.ExpiresAfter, err = queryTime(r, "signatureExpiresAfter"); err != nil {
		return err
	}
	if q.Get("isRevoked") != "" {
		b, err := queryBool(r, "isRevoked")
		if err != nil {
			return err
		}
		in.IsRevoked = &b
	}
	jobs, next, err := s.Profiles.ListJobs(r.Context(), in)
	if err != nil {
		return err
	}
	resp := struct {
		Jobs      []jobJSON `json:"jobs"`
		NextToken string    `json:"nextToken,omitempty"`
	}{Jobs: make([]jobJSON, 0, len(jobs)), NextToken: next}
	for _, j := range jobs {
		jj := jobToJSON(j)
		revoked := !j.RevokedAt.IsZero()
		jj.StatusReason, jj.CompletedAt, jj.RequestedBy, jj.RevocationRecord = "", nil, "", nil
		jj.SecretScanFindings = nil
		jj.IsRevoked = &revoked
		resp.Jobs = append(resp.Jobs, jj)
	}
	return awsapi.WriteJSON(w, resp)
}

// signPayloadInput is SignPayload's request.
type signPayloadInput struct {
	ProfileName   string `json:"profileName"`
	ProfileOwner  string `json:"profileOwner"`
	Payload       []byte `json:"payload"` // base64 in JSON
	PayloadFormat string `json:"payloadFormat"`
	// SignatureFormat is Signet's extension: "cose" asks for a COSE
	// envelope; absent or "jws" gives JWS, as AWS does.
	SignatureFormat string `json:"signatureFormat"`
	// VerificationPlugin is Signet's extension too: a Notation plugin
	// name written into the envelope as io.cncf.notary.verificationPlugin.
	VerificationPlugin string `json:"verificationPlugin"`
}

func (s *Signer) signPayload(w http.ResponseWriter, r *http.Request, req *signPayloadInput) error {
	in := signing.SignPayloadInput{ProfileName: req.ProfileName, ProfileOwner: req.ProfileOwner, Payload: req.Payload, PayloadFormat: req.PayloadFormat, SignatureFormat: req.SignatureFormat, VerificationPlugin: req.VerificationPlugin}
	if c, ok := awsapi.CallerFrom(r.Context()); ok {
		in.RequestedBy = c.PrincipalARN
	}
	res, err := s.Profiles.SignPayload(r.Context(), in)
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, struct {
		JobID     string            `json:"jobId"`
		JobOwner  string            `json:"jobOwner"`
		Metadata  map[string]string `json:"metadata"`
		Signature string            `json:"signature"`
	}{res.Job.ID, res.Job.Owner, res.Metadata, base64.StdEncoding.EncodeToString(res.Envelope)})
}

func caller(r *http.Request) string {
	c, _ := awsapi.CallerFrom(r.Context())
	return c.PrincipalARN
}

func (s *Signer) revokeSignature(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Reason   string `json:"reason"`
		JobOwner string `json:"jobOwner"`
	}
	if err := awsapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	return awsapi.Empty(w, http.StatusOK, s.Profiles.RevokeSignature(r.Context(), r.PathValue("jobId"), req.Reason, req.JobOwner, caller(r)))
}

func (s *Signer) revokeProfile(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ProfileVersion string   `json:"profileVersion"`
		Reason         string   `json:"reason"`
		EffectiveTime  *float64 `json:"effectiveTime"` // epoch seconds
	}
	if err := awsapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	in := signing.RevokeProfileInput{ProfileName: r.PathValue("profileName"), ProfileVersion: req.ProfileVersion, Reason: req.Reason, RevokedBy: caller(r)}
	if req.EffectiveTime != nil {
		in.EffectiveTime = time.UnixMilli(int64(*req.EffectiveTime * 1000)).UTC()
	}
	return awsapi.Empty(w, http.StatusOK, s.Profiles.RevokeProfile(r.Context(), in))
}

func (s *Signer) revocationStatus(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ts, err := queryTime(r, "signatureTimestamp")
	if err != nil {
		return err
	}
	revoked, err := s.Profiles.RevocationStatus(r.Context(), signing.RevocationQuery{
		SignatureTimestamp: ts, PlatformID: q.Get("platformId"), ProfileVersionARN: q.Get("profileVersionArn"),
		JobARN: q.Get("jobArn"), CertificateHashes: q["certificateHashes"],
	})
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, struct {
		RevokedEntities []string `json:"revokedEntities"`
	}{revoked})
}
