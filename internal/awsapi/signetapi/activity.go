package signetapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/awsapi"
)

// Activity is what GetActivitySummary reads. Its methods are called
// concurrently.
type Activity interface {
	// JobsPerDay counts the signing jobs created on each UTC day from
	// the one since falls in, by status.
	JobsPerDay(ctx context.Context, since time.Time) ([]JobCount, error)
	// JobsInProgress counts the signing jobs not finished yet.
	JobsInProgress(ctx context.Context) (int, error)
	// AuditPerDay counts the audit events of each UTC day from the one
	// since falls in, in a category (audit.Category), by decision, and
	// the break-glass calls (those in no category with Category "").
	AuditPerDay(ctx context.Context, since time.Time) ([]AuditCount, error)
	// Functions counts the functions by their code signing.
	Functions(ctx context.Context) (FunctionsJSON, error)
}

// JobCount counts the signing jobs of a day and status.
type JobCount struct {
	Day     time.Time
	Status  string
	Jobs    int
	Signing time.Duration // the time the finished ones took, in all
}

// AuditCount counts the audit events of a day, category and decision.
type AuditCount struct {
	Day        time.Time
	Category   string
	Decision   string
	Events     int
	BreakGlass int // of Events, the break-glass calls
}

// The days GetActivitySummary covers: days=N, today included.
const (
	DefaultActivityDays = 14
	MaxActivityDays     = 90
)

// ActivityJSON is GetActivitySummary's answer.
type ActivityJSON struct {
	Since            time.Time     `json:"since"` // midnight UTC of the first day
	Days             []DayJSON     `json:"days"`  // every day from Since to today, oldest first
	Functions        FunctionsJSON `json:"functions"`
	JobsInProgress   int           `json:"jobsInProgress"`
	ActiveViolations int           `json:"activeViolations"` // 0 when continuous validation is not configured
}

// DayJSON is the activity of one UTC day.
type DayJSON struct {
	Day              string         `json:"day"`  // 2006-01-02
	Jobs             map[string]int `json:"jobs"` // signing jobs created that day, by status (Succeeded, Failed, InProgress)
	GateRefusals     int            `json:"gateRefusals"`
	GateWarnings     int            `json:"gateWarnings"`
	AdmissionDenials int            `json:"admissionDenials"`
	BreakGlass       int            `json:"breakGlass"`
	Revocations      int            `json:"revocations"`
	Violations       int            `json:"violations"`
	// SigningMillis is how long the jobs of the day that finished took
	// on average, from request to completion (0 when none finished).
	SigningMillis int `json:"signingMillis"`
	finished      int
	signing       time.Duration
}

// FunctionsJSON counts the functions by their code signing.
type FunctionsJSON struct {
	Total    int `json:"total"`
	Enforce  int `json:"enforce"`  // with a code signing config whose policy is Enforce
	Warn     int `json:"warn"`     // … whose policy is Warn
	NoConfig int `json:"noConfig"` // with no code signing config
	Unsigned int `json:"unsigned"` // whose deployed code is not signed
}

func (x *API) activity(w http.ResponseWriter, r *http.Request) error {
	days := DefaultActivityDays
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxActivityDays {
			return invalid("days", v, "must be an integer between 1 and %d", MaxActivityDays)
		}
		days = n
	}
	today := x.now().UTC().Truncate(24 * time.Hour)
	since := today.AddDate(0, 0, -(days - 1))
	var (
		jobs  []JobCount
		evs   []AuditCount
		out   = ActivityJSON{Since: since, Days: make([]DayJSON, days)}
		g, gc = errgroup.WithContext(r.Context())
	)
	g.Go(func() (err error) { jobs, err = x.Activity.JobsPerDay(gc, since); return err })
	g.Go(func() (err error) { evs, err = x.Activity.AuditPerDay(gc, since); return err })
	g.Go(func() (err error) { out.Functions, err = x.Activity.Functions(gc); return err })
	g.Go(func() (err error) { out.JobsInProgress, err = x.Activity.JobsInProgress(gc); return err })
	if err := g.Wait(); err != nil {
		return err
	}
	if x.Inventory != nil {
		out.ActiveViolations = len(x.Inventory.Violations())
	}
	for i := range out.Days {
		out.Days[i] = DayJSON{Day: since.AddDate(0, 0, i).Format(time.DateOnly), Jobs: map[string]int{"Succeeded": 0, "Failed": 0, "InProgress": 0}}
	}
	day := func(t time.Time) *DayJSON {
		i := int(t.UTC().Sub(since) / (24 * time.Hour))
		if t.Before(since) || i >= days {
			return nil
		}
		return &out.Days[i]
	}
	for _, c := range jobs {
		if d := day(c.Day); d != nil {
			d.Jobs[c.Status] += c.Jobs
			if c.Status != "InProgress" {
				d.finished, d.signing = d.finished+c.Jobs, d.signing+c.Signing
			}
		}
	}
	for i := range out.Days {
		if d := &out.Days[i]; d.finished > 0 {
			d.SigningMillis = int((d.signing / time.Duration(d.finished)).Milliseconds())
		}
	}
	for _, c := range evs {
		d := day(c.Day)
		if d == nil {
			continue
		}
		d.BreakGlass += c.BreakGlass
		switch {
		case c.Category == audit.CategoryDeployGate && c.Decision == "Deny":
			d.GateRefusals += c.Events
		case c.Category == audit.CategoryDeployGate && c.Decision == "AllowWithWarning":
			d.GateWarnings += c.Events
		case c.Category == audit.CategoryAdmission && c.Decision == "Deny":
			d.AdmissionDenials += c.Events
		case c.Category == audit.CategoryRevocation:
			d.Revocations += c.Events
		case c.Category == audit.CategoryViolation:
			d.Violations += c.Events
		}
	}
	return awsapi.WriteJSON(w, out)
}
