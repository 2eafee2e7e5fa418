package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/signet/signet/internal/errs"
)

// The steps of a rotation, in order, as Lambda's rotation template names
// them.
var Steps = []string{"createSecret", "setSecret", "testSecret", "finishSecret"}

// Rotation is a secret's rotation configuration and the state of the
// rotation in progress, if any. The state is stored with the secret, so
// a rotation survives a restart: the step it was at runs again (the
// template's steps are idempotent).
type Rotation struct {
	Enabled   bool
	LambdaARN string
	AfterDays int
	Schedule  string // rate(N days) / rate(N hours)
	Duration  string // the rotation window, as given
	// LastRotated is when a rotation last finished; Next when the next
	// scheduled one starts.
	LastRotated, Next time.Time

	// Token is the version the rotation in progress makes (its
	// ClientRequestToken), Step the step to run next ("" when none is in
	// progress), NextAttempt when to run it: a worker that claims a step
	// moves NextAttempt a lease ahead and renews it while the step runs,
	// so a rotation whose worker died resumes once the lease lapses.
	Token       string
	Step        string
	Attempts    int
	NextAttempt time.Time
	Claimed     bool   // a worker is running Step (until NextAttempt)
	Claim       string `json:",omitempty"` // which claim: only its holder renews or advances it

	// The last failure, shown by DescribeSecret until a rotation
	// finishes.
	FailedAt   time.Time
	FailedStep string
	Failure    string
}

// Rules is RotateSecret's RotationRules.
type Rules struct {
	AfterDays int
	Schedule  string
	Duration  string
}

var rateRE = regexp.MustCompile(`^rate\((\d+) (hours?|days?)\)$`)

// interval is the time between scheduled rotations.
func (r Rotation) interval() (time.Duration, error) {
	if r.Schedule == "" {
		return time.Duration(r.AfterDays) * 24 * time.Hour, nil
	}
	m := rateRE.FindStringSubmatch(r.Schedule)
	if m == nil {
		return 0, errs.Errorf(ErrInvalidParameter, "The schedule expression %s is not supported: use rate(N days) or rate(N hours) (cron() expressions are not supported by Signet), or AutomaticallyAfterDays.", r.Schedule)
	}
	n, _ := strconv.Atoi(m[1])
	unit := 24 * time.Hour
	if m[2][0] == 'h' {
		unit = time.Hour
		if n < 4 {
			return 0, errs.Errorf(ErrInvalidParameter, "The rotation interval must be at least 4 hours.")
		}
	}
	if n < 1 || time.Duration(n)*unit > 1000*24*time.Hour {
		return 0, errs.Errorf(ErrInvalidParameter, "The rotation interval must be between 4 hours and 1000 days.")
	}
	return time.Duration(n) * unit, nil
}

// InProgress reports whether a rotation is under way: a step is to run,
// or a version holds AWSPENDING without AWSCURRENT (a rotation that
// failed and left its version, as AWS judges it).
func (s *Secret) InProgress() bool {
	if s.Rotation.Step != "" {
		return true
	}
	for _, v := range s.Versions {
		if slices.Contains(v.Stages, StagePending) && !slices.Contains(v.Stages, StageCurrent) {
			return true
		}
	}
	return false
}

// RotateInput is RotateSecret's request.
type RotateInput struct {
	SecretID    string
	LambdaARN   string // resolved function ARN, "" to keep
	Rules       *Rules
	Immediately bool
	Token       string
}

// Rotate configures rotation and, when asked to rotate immediately,
// starts a rotation; the background worker (RunDue) runs its steps. It
// returns the secret and the version the rotation makes.
func (s *Service) Rotate(ctx context.Context, in RotateInput) (Secret, string, error) {
	if in.Token != "" {
		if err := checkToken(in.Token); err != nil {
			return Secret{}, "", err
		}
	}
	if in.Rules != nil {
		if in.Rules.AfterDays != 0 && in.Rules.Schedule != "" {
			return Secret{}, "", errs.Errorf(ErrInvalidParameter, "You can't specify both AutomaticallyAfterDays and ScheduleExpression.")
		}
		if in.Rules.AfterDays != 0 && (in.Rules.AfterDays < 1 || in.Rules.AfterDays > 1000) {
			return Secret{}, "", errs.Errorf(ErrInvalidParameter, "The AutomaticallyAfterDays value must be between 1 and 1000.")
		}
	}
	sec, err := s.Find(ctx, in.SecretID)
	if err != nil {
		return Secret{}, "", err
	}
	if sec.Deleted() {
		return Secret{}, "", markedDeleted("RotateSecret")
	}
	var token string
	sec, err = s.Store.UpdateSecret(ctx, sec.ARN, func(x *Secret) error {
		if x.InProgress() {
			return errs.Errorf(ErrInvalidRequest, "A previous rotation isn't complete. That rotation will be reattempted.")
		}
		r := x.Rotation
		if in.LambdaARN != "" {
			r.LambdaARN = in.LambdaARN
		}
		if r.LambdaARN == "" {
			return errs.Errorf(ErrInvalidRequest, "No Lambda rotation function ARN is associated with this secret.")
		}
		if in.Rules != nil {
			r.AfterDays, r.Schedule, r.Duration = in.Rules.AfterDays, in.Rules.Schedule, in.Rules.Duration
		}
		if r.AfterDays == 0 && r.Schedule == "" {
			r.AfterDays = 30
		}
		every, err := r.interval()
		if err != nil {
			return err
		}
		now := s.now()
		r.Enabled = true
		r.Next = now.Add(every)
		if in.Immediately {
			if x.Version("", StageCurrent) == nil {
				return errs.Errorf(ErrInvalidRequest, "The secret has no value to rotate: put a value with PutSecretValue first.")
			}
			token = in.Token
			if token == "" {
				token = uuid.NewString()
			}
			if x.Version(token, "") != nil {
				return errs.Errorf(ErrExists, "You can't use ClientRequestToken %s because that value is already in use for a version of secret %s.", token, x.ARN)
			}
			startVersion(x, token, now)
			r.Token, r.Step, r.Attempts, r.NextAttempt = token, Steps[0], 0, now
		}
		x.Rotation = r
		return nil
	})
	return sec, token, err
}

// startVersion adds the version a rotation makes: labeled AWSPENDING,
// without a value until the function's createSecret step puts one (so
// the template's check that the token is a version with AWSPENDING holds
// from the first step on, as on AWS).
func startVersion(x *Secret, token string, now time.Time) {
	x.Versions = append(x.Versions, Version{ID: token, CreatedAt: now})
	moveStage(x, StagePending, token)
}

// CancelRotation turns rotation off and abandons a rotation in progress;
// a version it made keeps AWSPENDING (remove it with
// UpdateSecretVersionStage), as on AWS.
func (s *Service) CancelRotation(ctx context.Context, secretID string) (Secret, error) {
	sec, err := s.Find(ctx, secretID)
	if err != nil {
		return Secret{}, err
	}
	if sec.Deleted() {
		return Secret{}, markedDeleted("CancelRotateSecret")
	}
	return s.Store.UpdateSecret(ctx, sec.ARN, func(x *Secret) error {
		x.Rotation.Enabled = false
		x.Rotation.Next = time.Time{}
		x.Rotation.Token, x.Rotation.Step, x.Rotation.Attempts, x.Rotation.NextAttempt = "", "", 0, time.Time{}
		return nil
	})
}

// Invoker runs a rotation function: a nil error means the step
// succeeded.
type Invoker interface {
	InvokeRotation(ctx context.Context, functionARN string, payload []byte) error
}

// Worker runs what is due: rotation steps, scheduled rotations and the
// purge of secrets past their recovery window.
type Worker struct {
	Service *Service
	Invoker Invoker
	// StepTimeout bounds one step (the function's own Timeout is
	// shorter).
	StepTimeout time.Duration
	// Lease is how long a claim holds without renewal (default 1
	// minute): the worker renews it every RenewEvery (default Lease/3)
	// while a step runs, and a worker that died (a node killed) leaves
	// its step to another once the lease lapses.
	Lease, RenewEvery time.Duration
	// RetryDelays are the waits before the retries of a failed step;
	// after the last the rotation stays failed.
	RetryDelays []time.Duration
	// Observe, when set, is told of each step's outcome (for logs,
	// audit and metrics); err is nil on success.
	Observe func(sec Secret, step string, err error)
	// Log, when set, receives failures to renew a claim.
	Log *slog.Logger
}

// StepPayload is the event a rotation function receives.
type StepPayload struct {
	Step               string `json:"Step"`
	SecretID           string `json:"SecretId"`
	ClientRequestToken string `json:"ClientRequestToken"`
	RotationToken      string `json:"RotationToken,omitempty"`
}

// Recover makes rotations claimed by a process that is gone due at
// once: call it at start, before RunDue, when no other process shares
// the store.
func (w *Worker) Recover(ctx context.Context) error {
	all, err := w.Service.Store.ListSecrets(ctx)
	if err != nil {
		return err
	}
	now := w.Service.now()
	for _, sec := range all {
		if sec.Rotation.Step == "" || !sec.Rotation.Claimed {
			continue
		}
		if _, err := w.Service.Store.UpdateSecret(ctx, sec.ARN, func(x *Secret) error {
			if x.Rotation.Step != "" && x.Rotation.Claimed {
				x.Rotation.NextAttempt, x.Rotation.Claimed, x.Rotation.Claim = now, false, ""
			}
			return nil
		}); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// RunDue does everything due now and returns how many secrets it
// handled.
func (w *Worker) RunDue(ctx context.Context) (int, error) {
	due, err := w.Service.Store.DueSecrets(ctx, w.Service.now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range due {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if err := w.runOne(ctx, a); err != nil && !errors.Is(err, errNotDue) && !errors.Is(err, ErrNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}

var errNotDue = errors.New("not due")

func (w *Worker) timeout() time.Duration {
	if w.StepTimeout > 0 {
		return w.StepTimeout
	}
	return 16 * time.Minute
}

func (w *Worker) lease() time.Duration {
	if w.Lease > 0 {
		return w.Lease
	}
	return time.Minute
}

// holdClaim renews the claim's lease until stop. The context it returns
// ends when the claim is lost — taken over (this worker stalled past the
// lease), or not renewed for most of a lease (the store unreachable):
// the step it bounds stops, so that two workers never run it at once
// for long, and its end does not advance the rotation.
func (w *Worker) holdClaim(ctx context.Context, arn, claim string) (context.Context, func()) {
	every := w.RenewEvery
	if every <= 0 {
		every = w.lease() / 3
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		renewed := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			_, err := w.Service.Store.UpdateSecret(ctx, arn, func(x *Secret) error {
				if x.Rotation.Claim != claim || !x.Rotation.Claimed {
					return errNotDue
				}
				x.Rotation.NextAttempt = w.Service.now().Add(w.lease())
				return nil
			})
			switch {
			case err == nil:
				renewed = time.Now()
			case errors.Is(err, errNotDue) || errors.Is(err, ErrNotFound):
				cancel() // taken over, cancelled or deleted
				return
			case ctx.Err() == nil:
				if w.Log != nil {
					w.Log.Warn("failed to renew a rotation step's claim", "secret", arn, "err", err)
				}
				if time.Since(renewed) > w.lease()*7/10 {
					cancel()
					return
				}
			}
		}
	}()
	return ctx, cancel
}

// runOne handles one due secret.
func (w *Worker) runOne(ctx context.Context, secretARN string) error {
	s := w.Service
	now := s.now()
	// Claim: the state moves in one transaction, so two workers cannot
	// both run a step.
	var purge bool
	sec, err := s.Store.UpdateSecret(ctx, secretARN, func(x *Secret) error {
		due := x.DueAt()
		if due.IsZero() || due.After(now) {
			return errNotDue
		}
		switch {
		case x.Deleted():
			purge = true
		case x.Rotation.Step == "":
			// A scheduled rotation starts; one that failed and left its
			// version with AWSPENDING is reattempted with that version.
			if x.Version("", StageCurrent) == nil {
				every, _ := x.Rotation.interval()
				x.Rotation.Next = now.Add(every)
				return nil
			}
			token := ""
			for _, v := range x.Versions {
				if slices.Contains(v.Stages, StagePending) && !slices.Contains(v.Stages, StageCurrent) {
					token = v.ID
				}
			}
			if token == "" {
				token = uuid.NewString()
				startVersion(x, token, now)
			}
			x.Rotation.Token, x.Rotation.Step, x.Rotation.Attempts = token, Steps[0], 0
		}
		x.Rotation.NextAttempt, x.Rotation.Claimed, x.Rotation.Claim = now.Add(w.lease()), true, uuid.NewString()
		return nil
	})
	if err != nil {
		return err
	}
	if purge {
		return s.Store.DeleteSecret(ctx, secretARN)
	}
	claim := sec.Rotation.Claim
	for sec.Rotation.Step != "" {
		step := sec.Rotation.Step
		payload, _ := json.Marshal(StepPayload{Step: step, SecretID: sec.ARN, ClientRequestToken: sec.Rotation.Token})
		held, stop := w.holdClaim(ctx, sec.ARN, claim)
		sctx, cancel := context.WithTimeout(held, w.timeout())
		err := w.Invoker.InvokeRotation(sctx, sec.Rotation.LambdaARN, payload)
		cancel()
		lost := held.Err() != nil && ctx.Err() == nil
		stop()
		if lost {
			// Another worker has the step, or will once the lease lapses.
			return errNotDue
		}
		if err == nil && step == "finishSecret" {
			err = w.finished(ctx, sec)
		}
		if ctx.Err() != nil {
			// Shutting down: the claim lapses and the step runs again.
			return ctx.Err()
		}
		if w.Observe != nil {
			w.Observe(sec, step, err)
		}
		if err != nil {
			return w.failed(ctx, sec, step, err)
		}
		sec, err = s.Store.UpdateSecret(ctx, sec.ARN, func(x *Secret) error {
			if x.Rotation.Token != sec.Rotation.Token || x.Rotation.Step != step || x.Rotation.Claim != claim {
				return errNotDue // cancelled meanwhile, or the claim was lost
			}
			i := slices.Index(Steps, step)
			if i == len(Steps)-1 {
				now := s.now()
				every, _ := x.Rotation.interval()
				if v := x.Version(x.Rotation.Token, ""); v != nil {
					v.Stages = slices.DeleteFunc(v.Stages, func(s string) bool { return s == StagePending })
				}
				x.Rotation.LastRotated, x.Rotation.Next = now, now.Add(every)
				x.Rotation.Token, x.Rotation.Step, x.Rotation.Attempts, x.Rotation.NextAttempt, x.Rotation.Claimed, x.Rotation.Claim = "", "", 0, time.Time{}, false, ""
				x.Rotation.FailedAt, x.Rotation.FailedStep, x.Rotation.Failure = time.Time{}, "", ""
				x.ChangedAt = now
				return nil
			}
			x.Rotation.Step, x.Rotation.Attempts = Steps[i+1], 0
			x.Rotation.NextAttempt = s.now().Add(w.lease())
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// finished checks that finishSecret moved AWSCURRENT to the new version.
func (w *Worker) finished(ctx context.Context, sec Secret) error {
	cur, err := w.Service.Store.Secret(ctx, sec.ARN)
	if err != nil {
		return err
	}
	if v := cur.Version(sec.Rotation.Token, ""); v == nil || !slices.Contains(v.Stages, StageCurrent) {
		return fmt.Errorf("finishSecret returned, but version %s does not have the staging label AWSCURRENT", sec.Rotation.Token)
	}
	return nil
}

// failed records a failed step: AWSCURRENT stays where it is, the step
// is retried after the next delay, and after the last one the rotation
// stays failed (a later RotateSecret is refused while its version holds
// AWSPENDING).
func (w *Worker) failed(ctx context.Context, sec Secret, step string, cause error) error {
	s := w.Service
	_, err := s.Store.UpdateSecret(ctx, sec.ARN, func(x *Secret) error {
		if x.Rotation.Token != sec.Rotation.Token || x.Rotation.Step != step || x.Rotation.Claim != sec.Rotation.Claim {
			return errNotDue
		}
		now := s.now()
		x.Rotation.FailedAt, x.Rotation.FailedStep, x.Rotation.Failure = now, step, truncate(cause.Error(), 1024)
		x.Rotation.Claimed, x.Rotation.Claim = false, ""
		if x.Rotation.Attempts < len(w.RetryDelays) {
			x.Rotation.NextAttempt = now.Add(w.RetryDelays[x.Rotation.Attempts])
			x.Rotation.Attempts++
			return nil
		}
		// Given up: nothing more runs until RotateSecret or
		// CancelRotateSecret.
		x.Rotation.Token, x.Rotation.Step, x.Rotation.Attempts, x.Rotation.NextAttempt = "", "", 0, time.Time{}
		return nil
	})
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
