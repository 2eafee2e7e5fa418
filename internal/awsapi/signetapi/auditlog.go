package signetapi

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/awsapi"
)

// AuditLog is what ListAuditEvents and GetAuditLogStatus read.
type AuditLog interface {
	// SearchAudit returns the records that match q, newest first.
	SearchAudit(ctx context.Context, q AuditQuery) ([]audit.Record, error)
	// AuditStatus returns the state of the log as last verified. It does
	// not wait for a verification: it may start one in the background.
	AuditStatus(ctx context.Context) (AuditStatusJSON, error)
}

// AuditQuery selects audit records: each field set must match exactly;
// an Action ending in "*" matches the actions that start with the rest.
type AuditQuery struct {
	Principal, Action, Resource, Decision, Category string
	BreakGlass                                      bool
	From, To                                        time.Time // From ≤ time < To, when set
	Before                                          int64     // records below this seq; 0 for the newest
	Limit                                           int
}

// The page sizes of ListAuditEvents.
const (
	DefaultAuditPage = 50
	MaxAuditPage     = 100
)

// AuditEventJSON is an audit record on the wire.
type AuditEventJSON struct {
	Seq            int64     `json:"seq"`
	Time           time.Time `json:"time"` // RFC 3339 with nanoseconds
	Principal      string    `json:"principal"`
	AccessKey      string    `json:"accessKey,omitempty"`
	Action         string    `json:"action"`
	Resource       string    `json:"resource"`
	Decision       string    `json:"decision"`
	Outcome        string    `json:"outcome,omitempty"`
	RequestID      string    `json:"requestId,omitempty"`
	SourceIP       string    `json:"sourceIp,omitempty"`
	SourceIdentity string    `json:"sourceIdentity,omitempty"`
	BreakGlass     bool      `json:"breakGlass"`
	Detail         string    `json:"detail,omitempty"`
	Category       string    `json:"category,omitempty"` // audit.Category
}

// AuditEventsJSON is ListAuditEvents' answer.
type AuditEventsJSON struct {
	Events    []AuditEventJSON `json:"events"`
	NextToken string           `json:"nextToken,omitempty"`
}

// AuditStatusJSON is GetAuditLogStatus' answer: the size of the log
// now, and what the last verification of its chain and of its signed
// checkpoints found.
type AuditStatusJSON struct {
	Records             int64           `json:"records"`
	LastSeq             int64           `json:"lastSeq"`
	VerifiedThrough     int64           `json:"verifiedThrough"` // the last record the verification walked
	Intact              bool            `json:"intact"`          // no problem found so far
	Problems            []string        `json:"problems"`
	LastCheckpoint      *CheckpointJSON `json:"lastCheckpoint"`
	CheckpointsVerified int             `json:"checkpointsVerified"`
	CheckedAt           *time.Time      `json:"checkedAt"` // nil before the first verification ends
	Indexed             int64           `json:"indexed"`   // records in the search index
}

// CheckpointJSON is a signed checkpoint of the chain's head.
type CheckpointJSON struct {
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
}

func (x *API) auditEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := AuditQuery{Principal: q.Get("principal"), Action: q.Get("action"), Resource: q.Get("resource"), Decision: q.Get("decision"),
		Category: q.Get("category"), Limit: DefaultAuditPage}
	if f.Category != "" && !slices.Contains(audit.Categories, f.Category) {
		return invalid("category", f.Category, "must be one of %s", strings.Join(audit.Categories, ", "))
	}
	if strings.Contains(strings.TrimSuffix(f.Action, "*"), "*") {
		return invalid("action", f.Action, "must be an action, or a prefix of one followed by a single * at the end (signer:*)")
	}
	if v := q.Get("breakGlass"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return invalid("breakGlass", v, "must be true or false")
		}
		f.BreakGlass = b
	}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(t.name); v != "" {
			tm, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return invalid(t.name, v, "must be a time in RFC 3339 format (2026-12-01T00:00:00Z)")
			}
			if tm.Year() < 1970 || tm.Year() > 2200 {
				return invalid(t.name, v, "must be a time between the years 1970 and 2200")
			}
			*t.to = tm
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return invalid("to", q.Get("to"), "must be after from")
	}
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxAuditPage {
			return invalid("maxResults", v, "must be an integer between 1 and %d", MaxAuditPage)
		}
		f.Limit = n
	}
	if v := q.Get("nextToken"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return invalid("nextToken", v, "must be the nextToken of the previous page")
		}
		f.Before = n
	}
	page := f.Limit
	f.Limit++ // one more tells whether there is a next page
	recs, err := x.AuditLog.SearchAudit(r.Context(), f)
	if err != nil {
		return err
	}
	out := AuditEventsJSON{Events: []AuditEventJSON{}}
	if len(recs) > page {
		recs = recs[:page]
		out.NextToken = strconv.FormatInt(recs[page-1].Seq, 10)
	}
	for _, rec := range recs {
		e := rec.Event
		out.Events = append(out.Events, AuditEventJSON{Seq: rec.Seq, Time: e.Time.UTC(), Principal: e.Principal, AccessKey: e.AccessKey, Action: e.Action,
			Resource: e.Resource, Decision: e.Decision, Outcome: e.Outcome, RequestID: e.RequestID, SourceIP: e.SourceIP, SourceIdentity: e.SourceIdentity,
			BreakGlass: e.BreakGlass, Detail: e.Detail, Category: audit.Category(e)})
	}
	return awsapi.WriteJSON(w, out)
}

func (x *API) auditStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := x.AuditLog.AuditStatus(r.Context())
	if err != nil {
		return err
	}
	if st.Problems == nil {
		st.Problems = []string{}
	}
	return awsapi.WriteJSON(w, st)
}
