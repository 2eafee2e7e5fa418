package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/invoke"
	"github.com/signet/signet/internal/kms"
	"github.com/signet/signet/internal/objects"
	"github.com/signet/signet/internal/secrets"
	"github.com/signet/signet/internal/signing"
)

// raceTests run the same operation from many goroutines at once, each on
// a connection of its own as several nodes would: a create must succeed
// once and answer the domain's conflict to the others (never an engine
// error), a claim must go to one claimant, and appends to the audit chain
// must form one chain.
var raceTests = map[string]func(*testing.T, Opener){
	"race/create-same-name":   testRaceCreate,
	"race/claim-same-job":     testRaceClaim,
	"race/finish-same-job":    testRaceFinish,
	"race/audit-append":       testRaceAudit,
	"race/idempotency-tokens": testRaceTokens,
}

const racers = 8

// race runs fn(i) for i in [0, racers) at once and returns the errors.
func race(fn func(i int) error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// once checks that exactly one of errs is nil and the others are want.
func once(t *testing.T, what string, errs []error, want error) {
	t.Helper()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, want):
			t.Errorf("%s: %v, want nil once and %v otherwise", what, err, want)
		}
	}
	if ok != 1 {
		t.Errorf("%s: %d succeeded, want 1", what, ok)
	}
}

func testRaceCreate(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	// IAM names are unique regardless of case: the racers spell it
	// differently.
	spell := []string{"dup", "DUP", "Dup", "dUp", "duP", "DUp", "dUP", "DuP"}
	once(t, "CreateUser", race(func(i int) error {
		return db.IAM.CreateUser(ctx, iam.User{Name: spell[i%len(spell)], ID: fmt.Sprintf("AIDA%d", i), Path: "/", Created: t0})
	}), iam.ErrExists)
	once(t, "CreatePolicy", race(func(i int) error {
		return db.IAM.CreateManagedPolicy(ctx, iam.ManagedPolicy{Name: spell[i%len(spell)], ID: fmt.Sprintf("ANPA%d", i), Path: "/", Document: "{}", Created: t0})
	}), iam.ErrExists)
	once(t, "CreateFunction", race(func(i int) error {
		return db.Lambda.CreateFunction(ctx, functions.Function{Name: "dup", Runtime: "python3.12", Handler: "a.b", Role: "r", Timeout: 3, MemorySize: 128,
			CodePath: fmt.Sprintf("p%d", i), LastModified: t0}, "")
	}), functions.ErrExists)
	once(t, "AddFunctionStatement", race(func(i int) error {
		return db.Lambda.AddFunctionStatement(ctx, "dup", "sid", fmt.Sprintf(`{"Sid":"sid","n":%d}`, i))
	}), functions.ErrExists)
	once(t, "CreateSecret", race(func(i int) error {
		return db.Secrets.CreateSecret(ctx, secrets.Secret{ARN: fmt.Sprintf("arn:aws:secretsmanager:us-east-1:1:secret:dup-%06d", i), Name: "dup", CreatedAt: t0, ChangedAt: t0})
	}), secrets.ErrExists)
	once(t, "CreateBucket", race(func(i int) error {
		return db.Objects.CreateBucket(ctx, objects.Bucket{Name: "dup", CreatedAt: t0})
	}), objects.ErrBucketExists)
	k, m := kmsKey("22222222-2222-4222-8222-222222222222")
	if err := db.KMS.CreateKey(ctx, k, m); err != nil {
		t.Fatal(err)
	}
	once(t, "CreateAlias", race(func(i int) error {
		return db.KMS.PutAlias(ctx, kms.Alias{Name: "alias/dup", KeyID: k.ID, CreatedAt: t0, UpdatedAt: t0}, false)
	}), kms.ErrAlreadyExists)
	once(t, "CreateRole", race(func(i int) error {
		return db.IAM.CreateRole(ctx, iam.Role{Name: "dup", ID: fmt.Sprintf("AROA%d", i), Path: "/", TrustPolicy: "{}", MaxSessionDuration: 3600, Created: t0})
	}), iam.ErrExists)
	once(t, "CreateProfile", race(func(i int) error {
		p, v := profile("dup")
		v.Version = fmt.Sprintf("v%09d", i)
		return db.Signing.CreateProfile(ctx, p, v)
	}), signing.ErrConflict)
	found := 0
	for _, name := range spell {
		if _, err := db.IAM.User(ctx, name); err == nil {
			found++
		}
	}
	if found != 1 {
		t.Errorf("%d users named dup in some case, want 1", found)
	}
}

func testRaceClaim(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	if _, _, err := db.Signing.CreateJob(ctx, job("only", "tok", t0)); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Minute)
	// claimedOnce races claim and checks that one racer got the work.
	claimedOnce := func(what string, claim func() (bool, error)) {
		t.Helper()
		var claimed atomic.Int64
		for _, err := range race(func(int) error {
			ok, err := claim()
			if ok {
				claimed.Add(1)
			}
			return err
		}) {
			if err != nil {
				t.Errorf("%s: %v", what, err)
			}
		}
		if n := claimed.Load(); n != 1 {
			t.Errorf("%s: claimed %d times at once, want once", what, n)
		}
	}
	claimedOnce("ClaimJob", func() (bool, error) {
		_, ok, err := db.Signing.ClaimJob(ctx, now, time.Minute)
		return ok, err
	})
	if err := db.Lambda.EnqueueAsync(ctx, invoke.AsyncInvocation{ID: "inv", Function: "f", Qualifier: "$LATEST", Payload: []byte(`{}`), CreatedAt: t0, NotBefore: t0}); err != nil {
		t.Fatal(err)
	}
	claimedOnce("ClaimAsync", func() (bool, error) {
		_, ok, err := db.Lambda.ClaimAsync(ctx, now, time.Minute)
		return ok, err
	})
}

func testRaceFinish(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	if _, _, err := db.Signing.CreateJob(ctx, job("j", "tok", t0)); err != nil {
		t.Fatal(err)
	}
	once(t, "FinishJob", race(func(i int) error {
		return db.Signing.FinishJob(ctx, "j", func(j *signing.Job) error {
			j.Status, j.StatusReason = signing.JobFailed, fmt.Sprint("finisher ", i)
			return nil
		})
	}), signing.ErrConflict)
}

func testRaceAudit(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	const each = 5
	errs := race(func(i int) error {
		for k := range each {
			err := db.Audit.AppendAudit(ctx, func(seq int64, prev string) (audit.Record, error) {
				return audit.NewRecord(seq, prev, audit.Event{Time: t0, Principal: fmt.Sprint("p", i), Action: fmt.Sprint("a", k)})
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Errorf("AppendAudit: %v", err)
		}
	}
	if n, err := (&audit.Log{Store: db.Audit}).Verify(ctx); err != nil || n != racers*each {
		t.Errorf("Verify = %d, %v; want %d records in one chain", n, err, racers*each)
	}
}

func testRaceTokens(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	ids := make([]string, racers)
	created := make([]bool, racers)
	for _, err := range race(func(i int) error {
		j, c, err := db.Signing.CreateJob(ctx, job(fmt.Sprint("job", i), "same-token", t0.Add(time.Duration(i)*time.Second)))
		ids[i], created[i] = j.ID, c
		return err
	}) {
		if err != nil {
			t.Errorf("CreateJob: %v", err)
		}
	}
	n := 0
	for i := range racers {
		if created[i] {
			n++
		}
		if ids[i] != ids[0] {
			t.Errorf("CreateJob with one token answered jobs %s and %s", ids[0], ids[i])
		}
	}
	if n != 1 {
		t.Errorf("one client token created %d jobs", n)
	}
}
