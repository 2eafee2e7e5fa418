package secrets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/kms"
	"github.com/signet/signet/internal/seal"
	"github.com/signet/signet/internal/secrets"
	"github.com/signet/signet/internal/store"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newService(t *testing.T) (*secrets.Service, *store.DB, *clock) {
	t.Helper()
	db, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "signet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	box, err := seal.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	acct := arn.Account{Partition: "aws", Region: "us-east-1", ID: "123456789012"}
	keys := &kms.Service{Store: db.KMS, Box: box, Account: acct, Now: c.Now}
	return &secrets.Service{Store: db.Secrets, Keys: keys, Account: acct, Now: c.Now}, db, c
}

func str(s string) *string { return &s }

func value(t *testing.T, s *secrets.Service, id, versionID, stage string) string {
	t.Helper()
	sec, err := s.Find(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Select(sec, versionID, stage)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Open(context.Background(), sec, v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVersionsAndStages(t *testing.T) {
	s, db, _ := newService(t)
	ctx := context.Background()
	sec, v1, err := s.Create(ctx, secrets.CreateInput{Name: "prod/db", Value: secrets.Value{String: str(`{"password":"one"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sec.ARN, "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-") || len(sec.ARN) != len("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-")+6 {
		t.Errorf("ARN %s", sec.ARN)
	}
	// The value is sealed: not in the stored row.
	raw, _ := db.Secrets.Secret(ctx, sec.ARN)
	if bytes.Contains(raw.Versions[0].Value, []byte("one")) {
		t.Error("the stored version holds the value in clear")
	}
	_, p2, err := s.Put(ctx, secrets.PutInput{SecretID: "prod/db", Value: secrets.Value{String: str("two")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, s, "prod/db", "", ""); got != "two" {
		t.Errorf("AWSCURRENT = %q, want two", got)
	}
	if got := value(t, s, sec.ARN, "", secrets.StagePrevious); got != `{"password":"one"}` {
		t.Errorf("AWSPREVIOUS = %q", got)
	}
	if got := value(t, s, sec.ARN, v1, ""); got != `{"password":"one"}` {
		t.Errorf("by version id = %q", got)
	}
	// A partial ARN (no suffix) finds it too.
	if _, err := s.Find(ctx, "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db"); err != nil {
		t.Errorf("partial ARN: %v", err)
	}
	// The same token and value is the same request; another value is refused.
	tok := "11111111-2222-3333-4444-555555555555"
	if _, a, err := s.Put(ctx, secrets.PutInput{SecretID: "prod/db", Token: tok, Value: secrets.Value{String: str("three")}, Stages: []string{"custom"}}); err != nil || a.ID != tok {
		t.Fatalf("put with token: %v %v", a, err)
	}
	if _, a, err := s.Put(ctx, secrets.PutInput{SecretID: "prod/db", Token: tok, Value: secrets.Value{String: str("three")}, Stages: []string{"custom"}}); err != nil || a.ID != tok {
		t.Errorf("repeated put: %v %v", a, err)
	}
	if _, _, err := s.Put(ctx, secrets.PutInput{SecretID: "prod/db", Token: tok, Value: secrets.Value{String: str("four")}}); !errors.Is(err, secrets.ErrExists) {
		t.Errorf("token reused with another value: %v, want ResourceExists", err)
	}
	// Moving AWSCURRENT needs the holder named; the old holder gets AWSPREVIOUS.
	if _, err := s.UpdateStage(ctx, "prod/db", secrets.StageCurrent, tok, ""); !errors.Is(err, secrets.ErrInvalidParameter) || !strings.Contains(err.Error(), "RemoveFromVersionId") {
		t.Errorf("move without RemoveFromVersionId: %v", err)
	}
	sec, err = s.UpdateStage(ctx, "prod/db", secrets.StageCurrent, tok, p2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v := sec.Version(p2.ID, ""); !slices.Equal(v.Stages, []string{secrets.StagePrevious}) {
		t.Errorf("old current has %v, want AWSPREVIOUS", v.Stages)
	}
	if v := sec.Version(v1, ""); len(v.Stages) != 0 {
		t.Errorf("the first version still has %v", v.Stages)
	}
	if got := value(t, s, "prod/db", "", ""); got != "three" {
		t.Errorf("AWSCURRENT after the move = %q", got)
	}
	if _, err := s.Select(sec, tok, secrets.StagePending); !errors.Is(err, secrets.ErrInvalidRequest) {
		t.Errorf("version and a stage it lacks: %v", err)
	}
}

func TestErrors(t *testing.T) {
	s, _, c := newService(t)
	ctx := context.Background()
	if _, _, err := s.Create(ctx, secrets.CreateInput{Name: "a", Value: secrets.Value{String: str("x")}}); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", secrets.MaxValue+1)
	tests := []struct {
		name string
		err  error
		want error
		msg  string
	}{
		{"exists", second(s.Create(ctx, secrets.CreateInput{Name: "a"})), secrets.ErrExists, "already exists"},
		{"bad name", second(s.Create(ctx, secrets.CreateInput{Name: "a b"})), secrets.ErrInvalidParameter, "Invalid name"},
		{"both values", second(s.Create(ctx, secrets.CreateInput{Name: "b", Value: secrets.Value{String: str("x"), Binary: []byte("y")}})), secrets.ErrInvalidParameter, "both"},
		{"too large", second(s.Create(ctx, secrets.CreateInput{Name: "b", Value: secrets.Value{String: &big}})), secrets.ErrInvalidParameter, "maximum size"},
		{"unknown", func() error { _, err := s.Find(ctx, "nope"); return err }(), secrets.ErrNotFound, "can't find the specified secret"},
		{"window", func() error { _, err := s.Delete(ctx, "a", 3, false); return err }(), secrets.ErrInvalidParameter, "between 7 and 30"},
		{"window and force", func() error { _, err := s.Delete(ctx, "a", 7, true); return err }(), secrets.ErrInvalidParameter, "ForceDeleteWithoutRecovery"},
		{"short token", func() error {
			_, _, err := s.Put(ctx, secrets.PutInput{SecretID: "a", Token: "short", Value: secrets.Value{String: str("v")}})
			return err
		}(), secrets.ErrInvalidParameter, "clientRequestToken"},
		{"no rotation function", func() error {
			_, _, err := s.Rotate(ctx, secrets.RotateInput{SecretID: "a", Immediately: true})
			return err
		}(), secrets.ErrInvalidRequest, "No Lambda rotation function"},
		{"rotation days", func() error {
			_, _, err := s.Rotate(ctx, secrets.RotateInput{SecretID: "a", LambdaARN: "arn:aws:lambda:us-east-1:123456789012:function:r", Rules: &secrets.Rules{AfterDays: 1001}})
			return err
		}(), secrets.ErrInvalidParameter, "between 1 and 1000"},
		{"cron", func() error {
			_, _, err := s.Rotate(ctx, secrets.RotateInput{SecretID: "a", LambdaARN: "arn:aws:lambda:us-east-1:123456789012:function:r", Rules: &secrets.Rules{Schedule: "cron(0 0 * * ? *)"}})
			return err
		}(), secrets.ErrInvalidParameter, "not supported"},
		{"policy", func() error { _, err := s.SetPolicy(ctx, "a", `{"Statement":[]}`); return err }(), secrets.ErrPolicy, "syntax error"},
		{"password", func() error {
			_, err := secrets.RandomPassword(secrets.PasswordInput{Length: 2})
			return err
		}(), secrets.ErrInvalidParameter, "too short"},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) || !strings.Contains(fmt.Sprint(tc.err), tc.msg) {
			t.Errorf("%s: %v, want %v containing %q", tc.name, tc.err, tc.want, tc.msg)
		}
	}
	// Deletion: scheduled, refused twice, values unreadable, restored,
	// purged after the window.
	if _, err := s.Delete(ctx, "a", 7, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "a", 7, false); !errors.Is(err, secrets.ErrInvalidRequest) || !strings.Contains(err.Error(), "already scheduled for deletion") {
		t.Errorf("second delete: %v", err)
	}
	sec, _ := s.Find(ctx, "a")
	if _, err := s.Select(sec, "", ""); !errors.Is(err, secrets.ErrInvalidRequest) {
		t.Errorf("read of a deleted secret: %v", err)
	}
	if _, _, err := s.Create(ctx, secrets.CreateInput{Name: "a"}); !errors.Is(err, secrets.ErrInvalidRequest) {
		t.Errorf("create over a deleted name: %v", err)
	}
	if _, err := s.Restore(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got := value(t, s, "a", "", ""); got != "x" {
		t.Errorf("restored value %q", got)
	}
	if _, err := s.Delete(ctx, "a", 7, false); err != nil {
		t.Fatal(err)
	}
	w := &secrets.Worker{Service: s}
	c.Add(6 * 24 * time.Hour)
	if n, _ := w.RunDue(ctx); n != 0 {
		t.Errorf("purged %d before the window ended", n)
	}
	c.Add(24*time.Hour + time.Second)
	if n, err := w.RunDue(ctx); n != 1 || err != nil {
		t.Errorf("purge after the window: %d %v", n, err)
	}
	if _, err := s.Find(ctx, "a"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("after the purge: %v", err)
	}
}

func second[A, B any](_ A, _ B, err error) error { return err }

func TestRandomPassword(t *testing.T) {
	for _, tc := range []struct {
		in      secrets.PasswordInput
		allowed string
	}{
		{secrets.PasswordInput{Length: 64, ExcludePunctuation: true}, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"},
		{secrets.PasswordInput{Length: 10, ExcludeLowercase: true, ExcludeUppercase: true, ExcludePunctuation: true}, "0123456789"},
		{secrets.PasswordInput{Length: 40, Exclude: "abc123", ExcludePunctuation: true}, "defghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0456789"},
	} {
		pw, err := secrets.RandomPassword(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != tc.in.Length || strings.Trim(pw, tc.allowed) != "" {
			t.Errorf("%+v: %q", tc.in, pw)
		}
	}
	pw, _ := secrets.RandomPassword(secrets.PasswordInput{Length: 4})
	if !strings.ContainsAny(pw, "0123456789") || !strings.ContainsAny(pw, "abcdefghijklmnopqrstuvwxyz") || !strings.ContainsAny(pw, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t.Errorf("a 4-character password lacks a required class: %q", pw)
	}
}

// templateFunction acts as Lambda's rotation template does, through the
// service: createSecret puts a new AWSPENDING version unless there is
// one, testSecret may fail, finishSecret moves AWSCURRENT.
type templateFunction struct {
	s        *secrets.Service
	failTest bool
	steps    []string
	// block, when set, is closed by the step named blockAt, which then
	// waits for ctx to end (a worker killed during the step).
	blockAt string
	blocked chan struct{}
}

func (f *templateFunction) InvokeRotation(ctx context.Context, fn string, payload []byte) error {
	var p secrets.StepPayload
	if err := jsonUnmarshal(payload, &p); err != nil {
		return err
	}
	f.steps = append(f.steps, p.Step)
	if p.Step == f.blockAt {
		close(f.blocked)
		<-ctx.Done()
		return ctx.Err()
	}
	sec, err := f.s.Find(ctx, p.SecretID)
	if err != nil {
		return err
	}
	switch p.Step {
	case "createSecret":
		// As the template: the token is a version labeled AWSPENDING
		// from the start; it gets a value unless it has one.
		if v := sec.Version(p.ClientRequestToken, ""); v == nil || !slices.Contains(v.Stages, secrets.StagePending) {
			return fmt.Errorf("version %s is not AWSPENDING", p.ClientRequestToken)
		}
		if _, err := f.s.Select(sec, p.ClientRequestToken, secrets.StagePending); err == nil {
			return nil
		}
		_, _, err := f.s.Put(ctx, secrets.PutInput{SecretID: p.SecretID, Token: p.ClientRequestToken,
			Value: secrets.Value{String: str("rotated-" + p.ClientRequestToken)}, Stages: []string{secrets.StagePending}})
		return err
	case "testSecret":
		if f.failTest {
			return errors.New("test connection refused")
		}
	case "finishSecret":
		cur := sec.Version("", secrets.StageCurrent)
		if cur.ID == p.ClientRequestToken {
			return nil
		}
		_, err := f.s.UpdateStage(ctx, p.SecretID, secrets.StageCurrent, p.ClientRequestToken, cur.ID)
		return err
	}
	return nil
}

func TestRotation(t *testing.T) {
	s, _, c := newService(t)
	ctx := context.Background()
	fn := "arn:aws:lambda:us-east-1:123456789012:function:rotator"
	if _, _, err := s.Create(ctx, secrets.CreateInput{Name: "db", Value: secrets.Value{String: str("v1")}}); err != nil {
		t.Fatal(err)
	}
	f := &templateFunction{s: s}
	var observed []string
	w := &secrets.Worker{Service: s, Invoker: f, RetryDelays: []time.Duration{time.Minute},
		Observe: func(_ secrets.Secret, step string, err error) {
			observed = append(observed, fmt.Sprintf("%s:%v", step, err != nil))
		}}
	_, token, err := s.Rotate(ctx, secrets.RotateInput{SecretID: "db", LambdaARN: fn, Rules: &secrets.Rules{AfterDays: 30}, Immediately: true})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing ran yet: RotateSecret only starts it.
	if len(f.steps) != 0 || value(t, s, "db", "", "") != "v1" {
		t.Fatalf("RotateSecret ran steps itself: %v", f.steps)
	}
	if _, _, err := s.Rotate(ctx, secrets.RotateInput{SecretID: "db", Immediately: true}); !errors.Is(err, secrets.ErrInvalidRequest) || !strings.Contains(err.Error(), "A previous rotation isn't complete. That rotation will be reattempted.") {
		t.Errorf("second RotateSecret: %v", err)
	}
	if _, err := w.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.steps, secrets.Steps) {
		t.Errorf("steps %v", f.steps)
	}
	sec, _ := s.Find(ctx, "db")
	if got := value(t, s, "db", "", ""); got != "rotated-"+token {
		t.Errorf("AWSCURRENT after rotation = %q", got)
	}
	if value(t, s, "db", "", secrets.StagePrevious) != "v1" || sec.Version("", secrets.StagePending) != nil {
		t.Errorf("stages after rotation: %+v", sec.Versions)
	}
	if !sec.Rotation.LastRotated.Equal(c.Now()) || !sec.Rotation.Next.Equal(c.Now().Add(30*24*time.Hour)) || sec.InProgress() {
		t.Errorf("rotation state %+v", sec.Rotation)
	}

	// A failing testSecret: AWSCURRENT stays, AWSPENDING stays on the new
	// version, the failure is recorded and retried, then given up; a new
	// RotateSecret is refused while the version holds AWSPENDING.
	f.failTest, f.steps, observed = true, nil, nil
	_, token2, err := s.Rotate(ctx, secrets.RotateInput{SecretID: "db", Immediately: true})
	if err != nil {
		t.Fatal(err)
	}
	w.RunDue(ctx)
	sec, _ = s.Find(ctx, "db")
	if value(t, s, "db", "", "") != "rotated-"+token || sec.Rotation.FailedStep != "testSecret" || !strings.Contains(sec.Rotation.Failure, "connection refused") {
		t.Errorf("after a failed testSecret: current %q, rotation %+v", value(t, s, "db", "", ""), sec.Rotation)
	}
	if v := sec.Version(token2, ""); v == nil || !slices.Equal(v.Stages, []string{secrets.StagePending}) {
		t.Errorf("the new version: %+v", v)
	}
	if n, _ := w.RunDue(ctx); n != 0 {
		t.Errorf("retried before its delay")
	}
	c.Add(time.Minute)
	w.RunDue(ctx)
	if !slices.Equal(observed, []string{"createSecret:false", "setSecret:false", "testSecret:true", "testSecret:true"}) {
		t.Errorf("observed %v", observed)
	}
	sec, _ = s.Find(ctx, "db")
	if sec.Rotation.Step != "" || !sec.InProgress() {
		t.Errorf("after giving up: %+v in progress %v", sec.Rotation, sec.InProgress())
	}
	if _, _, err := s.Rotate(ctx, secrets.RotateInput{SecretID: "db", Immediately: true}); !errors.Is(err, secrets.ErrInvalidRequest) {
		t.Errorf("RotateSecret after a failed rotation: %v", err)
	}
	// The scheduled rotation reattempts it with the same version.
	f.failTest, f.steps = false, nil
	c.Add(31 * 24 * time.Hour)
	w.RunDue(ctx)
	if got := value(t, s, "db", "", ""); got != "rotated-"+token2 {
		t.Errorf("the reattempted rotation: current %q (steps %v)", got, f.steps)
	}
}

// startRotation creates the secret db and starts its rotation, returning
// the version the rotation makes.
func startRotation(t *testing.T, s *secrets.Service) (token string) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := s.Create(ctx, secrets.CreateInput{Name: "db", Value: secrets.Value{String: str("v1")}}); err != nil {
		t.Fatal(err)
	}
	_, token, err := s.Rotate(ctx, secrets.RotateInput{SecretID: "db", LambdaARN: "arn:aws:lambda:us-east-1:123456789012:function:r", Immediately: true})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// TestRotationResumesAfterACrash: a worker that dies during a step leaves
// the step claimed; the next process recovers it and the rotation
// finishes, with the version the first one started.
func TestRotationResumesAfterACrash(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	token := startRotation(t, s)
	f := &templateFunction{s: s, blockAt: "setSecret", blocked: make(chan struct{})}
	wctx, kill := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&secrets.Worker{Service: s, Invoker: f}).RunDue(wctx)
	}()
	<-f.blocked
	kill()
	<-done
	sec, _ := s.Find(ctx, "db")
	if sec.Rotation.Step != "setSecret" || !sec.Rotation.Claimed {
		t.Fatalf("after the crash: %+v", sec.Rotation)
	}
	// A new worker does not run a claimed step before recovering it.
	f2 := &templateFunction{s: s}
	w2 := &secrets.Worker{Service: s, Invoker: f2}
	if n, _ := w2.RunDue(ctx); n != 0 {
		t.Errorf("ran a step another worker holds")
	}
	if err := w2.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	w2.RunDue(ctx)
	if !slices.Equal(f2.steps, []string{"setSecret", "testSecret", "finishSecret"}) {
		t.Errorf("resumed steps %v", f2.steps)
	}
	if got := value(t, s, "db", "", ""); got != "rotated-"+token {
		t.Errorf("current after resuming: %q", got)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// TestRotationLeaseAcrossWorkers: workers sharing one store (nodes) do
// not recover each other's claims; a worker renews its claim while a step
// runs, so another worker does not take the step however long it takes,
// and takes it once the holder is gone (killed) and its lease lapses.
func TestRotationLeaseAcrossWorkers(t *testing.T) {
	s, _, c := newService(t)
	ctx := context.Background()
	token := startRotation(t, s)
	const lease = time.Minute
	f := &templateFunction{s: s, blockAt: "setSecret", blocked: make(chan struct{})}
	wctx, kill := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&secrets.Worker{Service: s, Invoker: f, Lease: lease, RenewEvery: 5 * time.Millisecond}).RunDue(wctx)
	}()
	<-f.blocked
	// The step outlasts its first lease: the holder renews it.
	c.Add(20 * lease)
	renewedPast := c.Now()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		sec, err := s.Find(ctx, "db")
		if err != nil {
			t.Fatal(err)
		}
		if sec.Rotation.NextAttempt.After(renewedPast) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the claim was not renewed: %+v", sec.Rotation)
		}
	}
	f2 := &templateFunction{s: s}
	w2 := &secrets.Worker{Service: s, Invoker: f2, Lease: lease}
	if n, _ := w2.RunDue(ctx); n != 0 || len(f2.steps) != 0 {
		t.Fatalf("another worker ran a step whose holder renews it: %v", f2.steps)
	}
	// The holder dies; its lease lapses; another worker resumes.
	kill()
	<-done
	c.Add(lease + time.Second)
	if _, err := w2.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f2.steps, []string{"setSecret", "testSecret", "finishSecret"}) {
		t.Errorf("resumed steps %v", f2.steps)
	}
	if got := value(t, s, "db", "", ""); got != "rotated-"+token {
		t.Errorf("current after resuming: %q", got)
	}
	sec, _ := s.Find(ctx, "db")
	if sec.Rotation.Claimed || sec.Rotation.Claim != "" || sec.Rotation.Step != "" {
		t.Errorf("rotation state after it finished: %+v", sec.Rotation)
	}
}

// TestRotationStepStopsWhenClaimLost: a worker whose claim was taken
// over stops the step it runs (its context ends) instead of running it
// beside the new holder, and does not advance the rotation.
func TestRotationStepStopsWhenClaimLost(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	startRotation(t, s)
	f := &templateFunction{s: s, blockAt: "setSecret", blocked: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&secrets.Worker{Service: s, Invoker: f, Lease: time.Minute, RenewEvery: 5 * time.Millisecond}).RunDue(ctx)
	}()
	<-f.blocked
	sec, _ := s.Find(ctx, "db")
	if _, err := s.Store.UpdateSecret(ctx, sec.ARN, func(x *secrets.Secret) error { x.Rotation.Claim = "another-worker"; return nil }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the step went on after its claim was taken over")
	}
	sec, _ = s.Find(ctx, "db")
	if sec.Rotation.Step != "setSecret" || sec.Rotation.Claim != "another-worker" {
		t.Errorf("the old holder changed the rotation: %+v", sec.Rotation)
	}
}
