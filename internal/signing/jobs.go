package signing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/secretscan"
)

// JobStatus is a signing job's status.
type JobStatus string

// Job statuses, as AWS spells them.
const (
	JobInProgress JobStatus = "InProgress"
	JobFailed     JobStatus = "Failed"
	JobSucceeded  JobStatus = "Succeeded"
)

// Job kinds.
const (
	KindObject  = "object"  // StartSigningJob: sign an object in a bucket
	KindPayload = "payload" // SignPayload: sign a Notary payload
)

// Job is a signing job.
type Job struct {
	ID                 string
	ClientRequestToken string
	Kind               string
	ProfileName        string
	ProfileVersion     string
	PlatformID         string
	SourceBucket       string
	SourceKey          string
	SourceVersion      string
	DestBucket         string
	DestPrefix         string
	SignedBucket       string // set on success
	SignedKey          string
	Status             JobStatus
	StatusReason       string
	CreatedAt          time.Time
	CompletedAt        time.Time
	SignatureExpiresAt time.Time
	RequestedBy        string // principal ARN
	Owner              string // account id of the profile
	Invoker            string // account id of the caller
	Attempts           int
	LeaseUntil         time.Time // queue lease; zero when not held
	LeafSerial         string    // hex serial of the signature's leaf certificate
	LeafHash           string    // hex SHA-384 of the leaf's TBS certificate
	RevokedAt          time.Time // zero unless the signature is revoked
	RevokedBy          string
	RevocationReason   string
	// ScanFindings are the secret scan's findings that failed the job
	// (enforce) or that it was signed with (warn); never the secrets.
	ScanFindings []secretscan.Finding
}

// JobQuery selects jobs for ListJobs; zero fields match anything.
type JobQuery struct {
	Status         JobStatus
	PlatformID     string
	RequestedBy    string
	Invoker        string
	ExpiresBefore  time.Time
	ExpiresAfter   time.Time
	Revoked        *bool     // nil: either
	AfterCreatedAt time.Time // page: jobs created strictly before this...
	AfterID        string    // ...or at it with a smaller id
	Limit          int
}

// JobStore persists signing jobs and is their durable queue. Every method
// is durable once it returns and safe for concurrent use.
type JobStore interface {
	// CreateJob stores j unless a job with the same requester and client
	// request token exists, in which case it returns that job and false.
	CreateJob(ctx context.Context, j Job) (Job, bool, error)
	// Job returns a job by id, or ErrNotFound.
	Job(ctx context.Context, id string) (Job, error)
	// ListJobs returns jobs newest first.
	ListJobs(ctx context.Context, q JobQuery) ([]Job, error)
	// ClaimJob leases the oldest in-progress object job whose lease has
	// lapsed, incrementing its attempts; ok is false when there is none.
	ClaimJob(ctx context.Context, now time.Time, lease time.Duration) (j Job, ok bool, err error)
	// RenewJobLease extends the lease of the claim whose attempt number
	// is attempt to until; false when the job is no longer that claim's
	// (finished, or claimed again after the lease lapsed).
	RenewJobLease(ctx context.Context, id string, attempt int, until time.Time) (bool, error)
	// FinishJob reads the job, calls fn and writes back status, reason,
	// signed object, completion and expiry times and clears the lease, in
	// one transaction, provided the job is still InProgress; otherwise
	// ErrConflict.
	FinishJob(ctx context.Context, id string, fn func(*Job) error) error
	// ReleaseLeases clears every lease (at start-up of the only node).
	ReleaseLeases(ctx context.Context) error
	// UpdateJob reads a job, calls fn and writes back its revocation
	// fields, in one transaction. ErrNotFound; fn's error as is.
	UpdateJob(ctx context.Context, id string, fn func(*Job) error) error
	// RevokedLeaves returns the leaf certificates of a profile version's
	// revoked signatures.
	RevokedLeaves(ctx context.Context, profileName, version string) ([]RevokedLeaf, error)
	// LeafJob returns the job whose signature's leaf certificate has the
	// serial (hex, lowercase, as in Job.LeafSerial) and was issued by the
	// profile version's CA, or ErrNotFound.
	LeafJob(ctx context.Context, profileName, version, serial string) (Job, error)
}

// RevokedLeaf is a revoked signature's leaf certificate.
type RevokedLeaf struct {
	Serial    string // hex
	RevokedAt time.Time
}

// Bucket versioning states, as S3 reports them.
const (
	VersioningEnabled = "Enabled"
)

// StartJobInput is StartSigningJob's request.
type StartJobInput struct {
	SourceBucket, SourceKey, SourceVersion string
	DestBucket, DestPrefix                 string
	ProfileName, ProfileOwner              string
	ClientRequestToken                     string
	RequestedBy                            string // principal ARN of the caller
	// Check, if set, approves the job before it is queued: the caller's
	// right to read its source and to write its signed object (see
	// SignedKey), which the job will do on the caller's behalf.
	Check func(ctx context.Context, j Job) error
}

func required(field, v string) error {
	if v == "" {
		return errs.Null(ErrInvalid, field)
	}
	return nil
}

// StartJob queues a signing job for an object version, or returns the job
// an earlier request with the same client request token started.
func (s *Service) StartJob(ctx context.Context, in StartJobInput) (Job, error) {
	for _, r := range []struct{ f, v string }{
		{"source.s3.bucketName", in.SourceBucket}, {"source.s3.key", in.SourceKey}, {"source.s3.version", in.SourceVersion},
		{"destination.s3.bucketName", in.DestBucket}, {"profileName", in.ProfileName}, {"clientRequestToken", in.ClientRequestToken},
	} {
		if err := required(r.f, r.v); err != nil {
			return Job{}, err
		}
	}
	if len(in.ClientRequestToken) > 64 {
		return Job{}, validationError("clientRequestToken", in.ClientRequestToken[:16]+"...", "must have length less than or equal to 64")
	}
	if in.ProfileOwner != "" && in.ProfileOwner != s.Account.ID {
		return Job{}, newError(ErrNotFound, fmt.Sprintf("signing profile %s of account %s does not exist on this service (its account is %s)", in.ProfileName, in.ProfileOwner, s.Account.ID))
	}
	p, err := s.Profile(ctx, in.ProfileName, "")
	if err != nil {
		return Job{}, err
	}
	if p.PlatformID != PlatformLambda {
		return Job{}, newError(ErrInvalid, fmt.Sprintf("signing profile %s has platform %s, which signs payloads (SignPayload), not objects; StartSigningJob needs a %s profile", p.Name, p.PlatformID, PlatformLambda))
	}
	if s.Objects != nil {
		st, err := s.Objects.Versioning(ctx, in.SourceBucket)
		switch {
		case err == nil && st != VersioningEnabled:
			return Job{}, newError(ErrInvalid, fmt.Sprintf("source bucket %s must have versioning enabled (aws s3api put-bucket-versioning --bucket %s --versioning-configuration Status=Enabled)", in.SourceBucket, in.SourceBucket))
		case err != nil && !isNotFound(err):
			return Job{}, fmt.Errorf("failed to read bucket versioning: %w", err)
		}
	}
	caller := s.Account.ID
	j := Job{
		ID:                 uuid.NewString(),
		ClientRequestToken: in.ClientRequestToken,
		Kind:               KindObject,
		ProfileName:        p.Name,
		ProfileVersion:     p.Version,
		PlatformID:         p.PlatformID,
		SourceBucket:       in.SourceBucket,
		SourceKey:          in.SourceKey,
		SourceVersion:      in.SourceVersion,
		DestBucket:         in.DestBucket,
		DestPrefix:         in.DestPrefix,
		Status:             JobInProgress,
		StatusReason:       "Signing job queued",
		CreatedAt:          s.now(),
		RequestedBy:        in.RequestedBy,
		Owner:              s.Account.ID,
		Invoker:            caller,
	}
	if in.Check != nil {
		if err := in.Check(ctx, j); err != nil {
			return Job{}, err
		}
	}
	got, created, err := s.Jobs.CreateJob(ctx, j)
	if err != nil {
		return Job{}, fmt.Errorf("failed to store job: %w", err)
	}
	if !created && !sameRequest(got, j) {
		return Job{}, newError(ErrConflict, fmt.Sprintf("clientRequestToken %s was already used for a different signing job (%s); use a new token for a new request", in.ClientRequestToken, got.ID))
	}
	if created && s.Wake != nil {
		s.Wake()
	}
	return got, nil
}

func sameRequest(a, b Job) bool {
	return a.Kind == b.Kind && a.ProfileName == b.ProfileName && a.SourceBucket == b.SourceBucket && a.SourceKey == b.SourceKey &&
		a.SourceVersion == b.SourceVersion && a.DestBucket == b.DestBucket && a.DestPrefix == b.DestPrefix
}

func isNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}

// Job returns a signing job.
func (s *Service) Job(ctx context.Context, id string) (Job, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Job{}, newError(ErrNotFound, fmt.Sprintf("signing job %s does not exist; job ids are UUIDs as StartSigningJob returns them", id))
	}
	j, err := s.Jobs.Job(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Job{}, newError(ErrNotFound, fmt.Sprintf("signing job %s does not exist", id))
	}
	return j, err
}

// ListJobsInput selects and pages ListSigningJobs.
type ListJobsInput struct {
	Status        string
	PlatformID    string
	RequestedBy   string
	Invoker       string
	ExpiresBefore time.Time
	ExpiresAfter  time.Time
	IsRevoked     *bool
	MaxResults    int
	NextToken     string
}

// ListJobs lists jobs newest first.
func (s *Service) ListJobs(ctx context.Context, in ListJobsInput) ([]Job, string, error) {
	limit, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, "", err
	}
	switch JobStatus(in.Status) {
	case "", JobInProgress, JobFailed, JobSucceeded:
	default:
		return nil, "", validationError("status", in.Status, "must satisfy enum value set: [InProgress, Failed, Succeeded]")
	}
	q := JobQuery{Status: JobStatus(in.Status), PlatformID: in.PlatformID, RequestedBy: in.RequestedBy, Invoker: in.Invoker,
		ExpiresBefore: in.ExpiresBefore, ExpiresAfter: in.ExpiresAfter, Limit: limit + 1}
	q.Revoked = in.IsRevoked
	if in.NextToken != "" {
		tok, err := decodeToken(in.NextToken)
		if err != nil {
			return nil, "", err
		}
		ns, id, ok := strings.Cut(tok, "|")
		var n int64
		if _, err := fmt.Sscan(ns, &n); !ok || err != nil {
			return nil, "", newError(ErrInvalid, "nextToken is not valid; pass the nextToken of the previous page unchanged")
		}
		q.AfterCreatedAt, q.AfterID = time.Unix(0, n).UTC(), id
	}
	jobs, err := s.Jobs.ListJobs(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("failed to list jobs: %w", err)
	}
	next := ""
	if len(jobs) > limit {
		jobs = jobs[:limit]
		last := jobs[limit-1]
		next = encodeToken(fmt.Sprintf("%d|%s", last.CreatedAt.UnixNano(), last.ID))
	}
	return jobs, next, nil
}
