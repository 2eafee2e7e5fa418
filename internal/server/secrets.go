package server

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/invoke"
	"github.com/signet/signet/internal/secrets"
)

// secretsPoll is how often the secrets worker looks for due work when
// nothing wakes it: scheduled rotations, retries and purges.
const secretsPoll = 30 * time.Second

// rotationRetryDelays are the waits before the retries of a failed
// rotation step.
var rotationRetryDelays = []time.Duration{time.Minute, 5 * time.Minute}

// rotationInvoker runs rotation steps as RequestResponse invocations.
type rotationInvoker struct{ s *Server }

func (ri rotationInvoker) InvokeRotation(ctx context.Context, fn string, payload []byte) error {
	res, _, err := ri.s.Invoke.Invoke(ctx, invoke.Input{FunctionName: fn, Payload: payload})
	if err != nil {
		return fmt.Errorf("invoking %s: %w", fn, err)
	}
	if res.FunctionError != "" {
		var e struct{ ErrorType string }
		json.Unmarshal(res.Payload, &e)
		return &rotationError{typ: e.ErrorType}
	}
	return nil
}

// rotationError is a rotation function's error.
type rotationError struct{ typ string }

// Error names the function's error type only: its message may hold
// anything the function put there, a secret included, and this text is
// kept with the secret and shown by DescribeSecret to callers who may not
// read its value. The message is in the function's own log.
func (e *rotationError) Error() string {
	return fmt.Sprintf("the rotation function failed with %s (its message is in the function's log)", e.typ)
}

// openSecrets makes the Secrets Manager and its worker.
func (s *Server) openSecrets() {
	s.Secrets = &secrets.Service{Store: s.db.Secrets, Keys: s.KMS, Account: s.inst.Account, Now: s.now}
	s.secretsWork = &secrets.Worker{Service: s.Secrets, Invoker: rotationInvoker{s}, RetryDelays: rotationRetryDelays, Log: s.log,
		Observe: s.observeRotation}
	s.secretsWake = make(chan struct{}, 1)
}

// wakeSecrets makes the worker look for due work now.
func (s *Server) wakeSecrets() {
	select {
	case s.secretsWake <- struct{}{}:
	default:
	}
}

// observeRotation logs and audits a rotation step: the secret and the
// version, never a value (the function's error message is not recorded
// either: a function may put anything in it).
func (s *Server) observeRotation(sec secrets.Secret, step string, err error) {
	ctx := context.Background()
	decision, outcome, detail := "Allow", "", fmt.Sprintf("rotation step %s of version %s by %s", step, sec.Rotation.Token, sec.Rotation.LambdaARN)
	if err != nil {
		outcome = "RotationFailed"
		typ := "Signet.RotationError"
		if re, ok := err.(*rotationError); ok {
			typ = re.typ
		}
		detail += " failed: " + typ
		s.log.WarnContext(ctx, "secret rotation step failed", "secret", sec.ARN, "version", sec.Rotation.Token, "step", step, "error_type", typ)
	} else {
		s.log.InfoContext(ctx, "secret rotation step done", "secret", sec.ARN, "version", sec.Rotation.Token, "step", step)
	}
	if aerr := s.auditWriter.Append(ctx, audit.Event{Time: s.now(), Principal: "secretsmanager.amazonaws.com", Action: "secretsmanager:RotationStep",
		Resource: sec.ARN, Decision: decision, Outcome: outcome, Detail: detail}, true); aerr != nil {
		s.log.ErrorContext(ctx, "failed to write an audit event", "err", aerr)
	}
}

// runSecrets runs the secrets worker until ctx is done.
func (s *Server) runSecrets(ctx context.Context) {
	// The only node on its database takes back the steps an earlier
	// process claimed; nodes sharing one let claims lapse, since another
	// node may be running the step.
	if !s.shared() {
		if err := s.secretsWork.Recover(ctx); err != nil {
			s.log.ErrorContext(ctx, "failed to recover the rotations in progress", "err", err)
		}
	}
	t := time.NewTicker(secretsPoll)
	defer t.Stop()
	for {
		if _, err := s.secretsWork.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "the secrets worker failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.secretsWake:
		}
	}
}

// rotationFunction checks that a rotation function exists and returns the
// ARN it is invoked by.
func (s *Server) rotationFunction(ctx context.Context, fnARN string) (string, error) {
	name, q, err := s.Functions.SplitQualifier(fnARN, "")
	if err != nil {
		return "", err
	}
	if _, _, err := s.Functions.GetVersion(ctx, name, q); err != nil {
		return "", err
	}
	return fnARN, nil
}
