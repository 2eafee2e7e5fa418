package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/functions"
)

// Errors of the Invoke operation.
var (
	// ErrPayloadTooLarge: the payload is over the invocation type's limit.
	ErrPayloadTooLarge = errors.New("request payload too large")
	// ErrInvalidPayload: the payload is not JSON.
	ErrInvalidPayload = errors.New("request payload is not JSON")
	// ErrUnavailable: functions cannot run on this host.
	ErrUnavailable = errors.New("function runtime unavailable")
	// ErrThrottled: a concurrency limit is reached (see ThrottleError).
	ErrThrottled = errors.New("concurrency limit reached")
)

// AsyncInvocation is a queued Event invocation.
type AsyncInvocation struct {
	ID            string
	Function      string
	Qualifier     string
	Payload       []byte
	ClientContext string
	CreatedAt     time.Time
	Attempts      int // function errors so far
	NotBefore     time.Time
	// LeaseUntil is when the claim ClaimAsync made lapses; the claim's
	// token for RenewAsyncLease.
	LeaseUntil time.Time
}

// AsyncStore is the durable queue of Event invocations. An invocation
// is claimed under a lease and deleted only once it has run to an end,
// so one that was running when Signet stopped runs again (at least
// once).
type AsyncStore interface {
	EnqueueAsync(ctx context.Context, a AsyncInvocation) error
	// ClaimAsync leases the oldest due invocation; false if none.
	ClaimAsync(ctx context.Context, now time.Time, lease time.Duration) (AsyncInvocation, bool, error)
	// RenewAsyncLease moves a claim's lease from held (its LeaseUntil)
	// to until; false if the claim is not held any more.
	RenewAsyncLease(ctx context.Context, id string, held, until time.Time) (bool, error)
	DeleteAsync(ctx context.Context, id string) error
	// RetryAsync releases an invocation to run again at notBefore.
	RetryAsync(ctx context.Context, id string, attempts int, notBefore time.Time) error
	// ReleaseAsyncLeases voids every lease (at start: this process is
	// the only one using the database).
	ReleaseAsyncLeases(ctx context.Context) error
}

// Service runs invocations of registered functions.
type Service struct {
	Functions *functions.Service
	Pool      *Pool // nil when sandboxes cannot run here
	// Unavailable says why Pool is nil.
	Unavailable error
	Queue       AsyncStore
	Concurrency ConcurrencyStore
	Log         *slog.Logger
	// RetryDelays are the waits before the retries of an Event
	// invocation whose function failed (Lambda: 1 and 2 minutes).
	RetryDelays []time.Duration
	// MaxEventAge is how long an Event invocation may wait for capacity
	// (Lambda: 6 hours).
	MaxEventAge time.Duration
	// SharedQueue says other processes work the same queue: leases are
	// left to lapse (and be claimed again) rather than voided at start.
	SharedQueue bool

	mu   sync.Mutex
	wake chan struct{} // made by RunAsync; InvokeAsync may run before and during it
}

// Input is an invocation request.
type Input struct {
	FunctionName  string // name, name:qualifier, or (partial) ARN
	Qualifier     string
	Payload       []byte
	ClientContext string
}

// resolve finds the function version an invocation runs.
func (s *Service) resolve(ctx context.Context, in Input) (functions.Function, string, error) {
	name, q, err := s.Functions.SplitQualifier(in.FunctionName, in.Qualifier)
	if err != nil {
		return functions.Function{}, "", err
	}
	return s.Functions.GetVersion(ctx, name, q)
}

func checkPayload(p []byte, limit int, op string) error {
	if len(p) > limit {
		return &errs.Error{Kind: ErrPayloadTooLarge, Msg: fmt.Sprintf("Request must be smaller than %d bytes for the %s operation", limit, op)}
	}
	if len(p) > 0 && !json.Valid(p) {
		var v any
		err := json.Unmarshal(p, &v)
		return &errs.Error{Kind: ErrInvalidPayload, Msg: fmt.Sprintf("Could not parse request body into json: %v", err)}
	}
	return nil
}

func (s *Service) pool() (*Pool, error) {
	if s.Pool == nil {
		msg := "functions cannot run on this host"
		if s.Unavailable != nil {
			msg += ": " + s.Unavailable.Error()
		}
		return nil, &errs.Error{Kind: ErrUnavailable, Msg: msg}
	}
	return s.Pool, nil
}

// Invoke runs a RequestResponse invocation and returns its result and
// the version that ran.
func (s *Service) Invoke(ctx context.Context, in Input) (Result, string, error) {
	if err := checkPayload(in.Payload, MaxSyncPayload, "Invoke"); err != nil {
		return Result{}, "", err
	}
	f, version, err := s.resolve(ctx, in)
	if err != nil {
		return Result{}, "", err
	}
	p, err := s.pool()
	if err != nil {
		return Result{}, "", err
	}
	if f.EncryptedEnvironment != nil {
		// Lambda decrypts variables under a customer key for each
		// invocation's environment; a key that cannot is the
		// invocation's KMS*Exception.
		if f.Environment, err = s.Functions.Variables(ctx, f); err != nil {
			return Result{}, "", err
		}
		f.EncryptedEnvironment = nil
	}
	fnARN := s.Functions.ARN(f.Name)
	if version != "$LATEST" {
		fnARN += ":" + version
	}
	res, err := p.Invoke(ctx, Request{Function: f, ARN: fnARN, Version: version, Payload: in.Payload, ClientContext: in.ClientContext})
	return res, version, err
}

// DryRun checks that an invocation would be accepted.
func (s *Service) DryRun(ctx context.Context, in Input) (string, error) {
	if err := checkPayload(in.Payload, MaxSyncPayload, "Invoke"); err != nil {
		return "", err
	}
	_, version, err := s.resolve(ctx, in)
	return version, err
}

// InvokeAsync queues an Event invocation and returns its request id.
func (s *Service) InvokeAsync(ctx context.Context, in Input) (string, string, error) {
	if err := checkPayload(in.Payload, MaxAsyncPayload, "Invoke"); err != nil {
		return "", "", err
	}
	f, version, err := s.resolve(ctx, in)
	if err != nil {
		return "", "", err
	}
	if _, err := s.pool(); err != nil {
		return "", "", err
	}
	a := AsyncInvocation{ID: uuid.NewString(), Function: f.Name, Qualifier: version, Payload: in.Payload, ClientContext: in.ClientContext,
		CreatedAt: time.Now().UTC(), NotBefore: time.Now().UTC()}
	if err := s.Queue.EnqueueAsync(ctx, a); err != nil {
		return "", "", err
	}
	s.notify()
	return a.ID, version, nil
}

func (s *Service) notify() {
	s.mu.Lock()
	wake := s.wake
	s.mu.Unlock()
	if wake != nil {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// asyncLease is how long a claim on an Event invocation lasts unless
// renewed: the worker running it renews it every third of that, so an
// invocation whose node died runs again (on any node sharing the queue)
// within a minute.
const asyncLease = time.Minute

// RunAsync runs queued Event invocations with the given number of
// workers until ctx ends.
func (s *Service) RunAsync(ctx context.Context, workers int) { s.RunAsyncDraining(ctx, ctx, workers) }

// RunAsyncDraining is RunAsync that stops taking invocations when claim
// is done but lets those running finish until run is done (a graceful
// stop: SIGTERM drains what runs within the shutdown timeout).
func (s *Service) RunAsyncDraining(claim, run context.Context, workers int) {
	ctx := claim
	wake := make(chan struct{}, workers)
	s.mu.Lock()
	s.wake = wake
	s.mu.Unlock()
	if len(s.RetryDelays) == 0 {
		s.RetryDelays = []time.Duration{time.Minute, 2 * time.Minute}
	}
	if s.MaxEventAge == 0 {
		s.MaxEventAge = 6 * time.Hour
	}
	if !s.SharedQueue {
		s.Queue.ReleaseAsyncLeases(ctx)
	}
	done := make(chan struct{})
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				if !s.runOne(ctx, run) {
					select {
					case <-ctx.Done():
					case <-wake:
					case <-time.After(250 * time.Millisecond):
					}
				}
			}
		}()
	}
	for range workers {
		<-done
	}
}

// runOne runs the next due Event invocation; false if none was due.
func (s *Service) runOne(claim, ctx context.Context) bool {
	a, ok, err := s.Queue.ClaimAsync(claim, time.Now().UTC(), asyncLease)
	if err != nil || !ok {
		return false
	}
	stop := s.holdAsyncLease(ctx, a)
	res, _, err := s.Invoke(ctx, Input{FunctionName: a.Function, Qualifier: a.Qualifier, Payload: a.Payload, ClientContext: a.ClientContext})
	stop()
	var te *ThrottleError
	switch {
	case ctx.Err() != nil:
		// Stopping: the lease lapses and the invocation runs again.
	case errors.As(err, &te) || errors.Is(err, ErrUnavailable):
		if time.Since(a.CreatedAt) > s.MaxEventAge {
			s.Log.Warn("event invocation dropped: it waited longer than the maximum event age", "function", a.Function, "request_id", a.ID)
			s.Queue.DeleteAsync(ctx, a.ID)
			break
		}
		s.Queue.RetryAsync(ctx, a.ID, a.Attempts, time.Now().Add(time.Second))
	case errors.Is(err, functions.ErrNotFound):
		s.Log.Warn("event invocation dropped: the function no longer exists", "function", a.Function, "request_id", a.ID)
		s.Queue.DeleteAsync(ctx, a.ID)
	case err != nil:
		s.Log.Error("event invocation failed; retrying", "function", a.Function, "request_id", a.ID, "err", err)
		s.Queue.RetryAsync(ctx, a.ID, a.Attempts, time.Now().Add(5*time.Second))
	case res.FunctionError != "" && a.Attempts < len(s.RetryDelays):
		s.Log.Warn("event invocation failed; retrying", "function", a.Function, "request_id", a.ID, "attempt", a.Attempts+1,
			"error_type", res.FunctionError, "retry_in", s.RetryDelays[a.Attempts])
		s.Queue.RetryAsync(ctx, a.ID, a.Attempts+1, time.Now().Add(s.RetryDelays[a.Attempts]))
	default:
		if res.FunctionError != "" {
			s.Log.Warn("event invocation failed on every attempt", "function", a.Function, "request_id", a.ID, "attempts", a.Attempts+1)
		}
		s.Queue.DeleteAsync(ctx, a.ID)
	}
	return true
}

// holdAsyncLease renews a claimed invocation's lease while it runs, until
// stop. A claim lost anyway (this process stalled past the lease) is
// only logged: the invocation may run twice, which Event invocations
// allow (at least once, as on Lambda).
func (s *Service) holdAsyncLease(ctx context.Context, a AsyncInvocation) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(asyncLease / 3)
		defer t.Stop()
		held := a.LeaseUntil
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			until := time.Now().UTC().Add(asyncLease)
			ok, err := s.Queue.RenewAsyncLease(ctx, a.ID, held, until)
			switch {
			case err != nil:
				s.Log.Warn("failed to renew an event invocation's lease", "request_id", a.ID, "err", err)
			case !ok:
				s.Log.Warn("lost an event invocation's lease: it may run again elsewhere", "request_id", a.ID)
				return
			default:
				held = until
			}
		}
	}()
	return func() { close(done) }
}

// ConcurrencyStore persists reserved concurrency.
type ConcurrencyStore interface {
	FunctionConcurrency(ctx context.Context, name string) (int, error) // -1: none
	// SetFunctionConcurrency sets (n >= 0) or removes (n < 0) a
	// reservation; setting returns functions.ErrNotFound unless the
	// function exists at that moment.
	SetFunctionConcurrency(ctx context.Context, name string, n int) error
}

// minUnreserved is the concurrency reservations must leave to the other
// functions (Lambda keeps 100 of its 1,000).
const minUnreserved = 1

// PutConcurrency reserves n concurrent executions for a function
// (n = 0 stops it from running at all).
func (s *Service) PutConcurrency(ctx context.Context, nameOrARN string, n int) (int, error) {
	f, err := s.Functions.Get(ctx, nameOrARN)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, errs.Value(functions.ErrInvalid, "reservedConcurrentExecutions", strconv.Itoa(n), "must have value greater than or equal to 0")
	}
	if s.Pool != nil {
		cur, err := s.Concurrency.FunctionConcurrency(ctx, f.Name)
		if err != nil {
			return 0, err
		}
		free := s.Pool.Unreserved() + max(cur, 0)
		if free-n < minUnreserved {
			return 0, &errs.Error{Kind: functions.ErrInvalid,
				Msg: fmt.Sprintf("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", minUnreserved)}
		}
	}
	if err := s.Concurrency.SetFunctionConcurrency(ctx, f.Name, n); errors.Is(err, functions.ErrNotFound) { // deleted meanwhile
		return 0, &errs.Error{Kind: functions.ErrNotFound, Msg: "Function not found: " + s.Functions.ARN(f.Name)}
	} else if err != nil {
		return 0, err
	}
	if s.Pool != nil {
		s.Pool.SetReserved(f.Name, n)
	}
	return n, nil
}

// ReservedConcurrency returns a function's reservation, -1 if none.
func (s *Service) ReservedConcurrency(ctx context.Context, nameOrARN string) (int, error) {
	f, err := s.Functions.Get(ctx, nameOrARN)
	if err != nil {
		return 0, err
	}
	return s.Concurrency.FunctionConcurrency(ctx, f.Name)
}

// DeleteConcurrency removes a function's reservation.
func (s *Service) DeleteConcurrency(ctx context.Context, nameOrARN string) error {
	f, err := s.Functions.Get(ctx, nameOrARN)
	if err != nil {
		return err
	}
	if err := s.Concurrency.SetFunctionConcurrency(ctx, f.Name, -1); err != nil {
		return err
	}
	if s.Pool != nil {
		s.Pool.SetReserved(f.Name, -1)
	}
	return nil
}
