// Package storetest is the conformance suite for the metadata store. Run
// it against every engine: SQLite always, PostgreSQL when configured. It
// uses only the store's exported methods, so the same suite runs
// unchanged on any engine.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/signing"
	"github.com/signet/signet/internal/store"
)

// Opener returns a fresh, empty store for one test, and a function that
// closes and reopens the same database (to check durability).
type Opener func(t *testing.T) (db *store.DB, reopen func() *store.DB)

// Run runs every conformance test.
func Run(t *testing.T, open Opener) {
	tests := map[string]func(*testing.T, Opener){
		"profiles/create-get":         testCreateGet,
		"profiles/conflict":           testCreateConflict,
		"profiles/versions":           testVersions,
		"profiles/list":               testList,
		"profiles/update-rollback":    testUpdateRollback,
		"profiles/policy":             testPolicy,
		"profiles/concurrent-updates": testConcurrentUpdates,
		"keys/sealed":                 testSealedKeys,
		"installation/once":           testInitializeOnce,
		"installation/nodes":          testNodes,
		"durability/reopen":           testReopen,
	}
	maps.Copy(tests, objectTests)
	maps.Copy(tests, jobTests)
	maps.Copy(tests, functionTests)
	maps.Copy(tests, identityTests)
	maps.Copy(tests, kmsTests)
	maps.Copy(tests, raceTests)
	maps.Copy(tests, workloadTests)
	maps.Copy(tests, consoleTests)
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) { fn(t, open) })
	}
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)

func profile(name string) (signing.Profile, signing.Version) {
	p := signing.Profile{
		Name:              name,
		Version:           "v000000001",
		PlatformID:        signing.PlatformLambda,
		Validity:          signing.Validity{Value: 12, Type: signing.Months},
		SigningParameters: map[string]string{"a": "b"},
		Overrides:         signing.Overrides{HashAlgorithm: "SHA384"},
		Tags:              map[string]string{"env": "dev"},
		Status:            signing.StatusActive,
		CreatedAt:         t0,
	}
	v := signing.Version{ProfileName: name, Version: p.Version, KeyID: "key-1", Certificate: []byte{0x30, 0x01, 0x02}, CreatedAt: t0}
	return p, v
}

func mustCreate(t *testing.T, db *store.DB, name string) (signing.Profile, signing.Version) {
	t.Helper()
	p, v := profile(name)
	if err := db.Signing.CreateProfile(context.Background(), p, v); err != nil {
		t.Fatalf("CreateProfile(%s): %v", name, err)
	}
	return p, v
}

func equalProfiles(a, b signing.Profile) bool {
	return a.Name == b.Name && a.Version == b.Version && a.PlatformID == b.PlatformID && a.Validity == b.Validity &&
		maps.Equal(a.SigningParameters, b.SigningParameters) && a.Overrides == b.Overrides && maps.Equal(a.Tags, b.Tags) &&
		a.Status == b.Status && a.StatusReason == b.StatusReason && a.CreatedAt.Equal(b.CreatedAt) && a.CanceledAt.Equal(b.CanceledAt)
}

func testCreateGet(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	p, v := mustCreate(t, db, "alpha")
	got, err := db.Signing.Profile(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if !equalProfiles(got, p) {
		t.Errorf("Profile = %+v, want %+v", got, p)
	}
	gv, err := db.Signing.ProfileVersion(ctx, "alpha", v.Version)
	if err != nil {
		t.Fatal(err)
	}
	if gv.KeyID != v.KeyID || !bytes.Equal(gv.Certificate, v.Certificate) || !gv.CreatedAt.Equal(v.CreatedAt) {
		t.Errorf("ProfileVersion = %+v, want %+v", gv, v)
	}
	if _, err := db.Signing.Profile(ctx, "missing"); !errors.Is(err, signing.ErrNotFound) {
		t.Errorf("Profile(missing) = %v, want ErrNotFound", err)
	}
	if _, err := db.Signing.ProfileVersion(ctx, "alpha", "nope000000"); !errors.Is(err, signing.ErrNotFound) {
		t.Errorf("ProfileVersion(missing) = %v, want ErrNotFound", err)
	}
}

func testCreateConflict(t *testing.T, open Opener) {
	db, _ := open(t)
	mustCreate(t, db, "alpha")
	p, v := profile("alpha")
	v.Version = "v000000002"
	if err := db.Signing.CreateProfile(context.Background(), p, v); !errors.Is(err, signing.ErrConflict) {
		t.Fatalf("second CreateProfile = %v, want ErrConflict", err)
	}
	if _, err := db.Signing.ProfileVersion(context.Background(), "alpha", "v000000002"); !errors.Is(err, signing.ErrNotFound) {
		t.Errorf("a refused CreateProfile left its version behind: %v", err)
	}
}

func testVersions(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	p, _ := mustCreate(t, db, "alpha")
	next := p
	next.Version = "v000000002"
	next.Validity = signing.Validity{Value: 3, Type: signing.Years}
	v2 := signing.Version{ProfileName: "alpha", Version: next.Version, KeyID: "key-2", Certificate: []byte{1}, CreatedAt: t0.Add(time.Hour)}
	if err := db.Signing.AddVersion(ctx, "stale00000", next, v2); !errors.Is(err, signing.ErrConflict) {
		t.Fatalf("AddVersion with a stale version = %v, want ErrConflict", err)
	}
	if err := db.Signing.AddVersion(ctx, p.Version, next, v2); err != nil {
		t.Fatal(err)
	}
	got, _ := db.Signing.Profile(ctx, "alpha")
	if got.Version != "v000000002" || got.Validity != next.Validity {
		t.Errorf("after AddVersion profile = %+v", got)
	}
	for _, ver := range []string{p.Version, v2.Version} {
		if _, err := db.Signing.ProfileVersion(ctx, "alpha", ver); err != nil {
			t.Errorf("version %s: %v", ver, err)
		}
	}
	if err := db.Signing.AddVersion(ctx, "x", signing.Profile{Name: "missing"}, signing.Version{ProfileName: "missing", Version: "v3"}); !errors.Is(err, signing.ErrNotFound) {
		t.Errorf("AddVersion(missing) = %v, want ErrNotFound", err)
	}
}

func testList(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	for i := range 7 {
		p, v := profile(fmt.Sprintf("p%02d", i))
		if i%2 == 1 {
			p.PlatformID = signing.PlatformNotation
		}
		if i == 4 {
			p.Status = signing.StatusCanceled
		}
		if err := db.Signing.CreateProfile(ctx, p, v); err != nil {
			t.Fatal(err)
		}
	}
	names := func(ps []signing.Profile) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		if out == nil {
			return "[]"
		}
		return fmt.Sprint(out)
	}
	cases := map[string]struct {
		q    signing.ProfileQuery
		want string
	}{
		"ok/all":        {signing.ProfileQuery{Limit: 100}, "[p00 p01 p02 p03 p04 p05 p06]"},
		"ok/page":       {signing.ProfileQuery{Limit: 3}, "[p00 p01 p02]"},
		"ok/after":      {signing.ProfileQuery{After: "p02", Limit: 3}, "[p03 p04 p05]"},
		"ok/platform":   {signing.ProfileQuery{Limit: 100, PlatformID: signing.PlatformNotation}, "[p01 p03 p05]"},
		"ok/statuses":   {signing.ProfileQuery{Limit: 100, Statuses: []signing.Status{signing.StatusCanceled}}, "[p04]"},
		"ok/two-filter": {signing.ProfileQuery{Limit: 100, PlatformID: signing.PlatformLambda, Statuses: []signing.Status{signing.StatusActive, signing.StatusRevoked}}, "[p00 p02 p06]"},
		"ok/past-end":   {signing.ProfileQuery{After: "p06", Limit: 3}, "[]"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ps, err := db.Signing.ListProfiles(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(ps); got != c.want {
				t.Errorf("ListProfiles(%+v) = %s, want %s", c.q, got, c.want)
			}
		})
	}
}

func testUpdateRollback(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	mustCreate(t, db, "alpha")
	boom := errors.New("boom")
	err := db.Signing.UpdateProfile(ctx, "alpha", func(p *signing.Profile) error {
		p.Status = signing.StatusCanceled
		p.Tags["x"] = "y"
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateProfile = %v, want the callback's error", err)
	}
	got, _ := db.Signing.Profile(ctx, "alpha")
	if got.Status != signing.StatusActive || got.Tags["x"] != "" {
		t.Errorf("a failed update was written: %+v", got)
	}
	err = db.Signing.UpdateProfile(ctx, "alpha", func(p *signing.Profile) error {
		p.Status, p.StatusReason, p.CanceledAt = signing.StatusCanceled, "because", t0
		p.Tags = map[string]string{"k": "v"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = db.Signing.Profile(ctx, "alpha")
	if got.Status != signing.StatusCanceled || got.StatusReason != "because" || !got.CanceledAt.Equal(t0) || !maps.Equal(got.Tags, map[string]string{"k": "v"}) {
		t.Errorf("after update: %+v", got)
	}
	if err := db.Signing.UpdateProfile(ctx, "missing", func(*signing.Profile) error { return nil }); !errors.Is(err, signing.ErrNotFound) {
		t.Errorf("UpdateProfile(missing) = %v, want ErrNotFound", err)
	}
}

func testPolicy(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	mustCreate(t, db, "alpha")
	pol, err := db.Signing.Policy(ctx, "alpha")
	if err != nil || pol.RevisionID != "" || len(pol.Permissions) != 0 {
		t.Fatalf("empty Policy = %+v, %v", pol, err)
	}
	want := signing.Permission{StatementID: "s1", Action: "signer:StartSigningJob", Principal: "123456789012", ProfileVersion: "v000000001"}
	err = db.Signing.UpdatePolicy(ctx, "alpha", func(p *signing.Policy) error {
		p.Permissions = append(p.Permissions, want)
		p.RevisionID = "rev-1"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pol, _ = db.Signing.Policy(ctx, "alpha")
	if pol.RevisionID != "rev-1" || len(pol.Permissions) != 1 || pol.Permissions[0] != want {
		t.Errorf("Policy = %+v", pol)
	}
	if err := db.Signing.UpdatePolicy(ctx, "alpha", func(p *signing.Policy) error { p.RevisionID = "x"; return errors.New("no") }); err == nil {
		t.Error("UpdatePolicy ignored the callback's error")
	}
	if pol, _ := db.Signing.Policy(ctx, "alpha"); pol.RevisionID != "rev-1" {
		t.Errorf("a failed policy update was written: %+v", pol)
	}
	if _, err := db.Signing.Policy(ctx, "missing"); !errors.Is(err, signing.ErrNotFound) {
		t.Errorf("Policy(missing) = %v, want ErrNotFound", err)
	}
}

// testConcurrentUpdates checks that read-modify-write updates serialize:
// no update is lost.
func testConcurrentUpdates(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	mustCreate(t, db, "alpha")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.Signing.UpdatePolicy(ctx, "alpha", func(p *signing.Policy) error {
				p.Permissions = append(p.Permissions, signing.Permission{StatementID: fmt.Sprint(i), Action: "signer:GetSigningProfile", Principal: "p"})
				return nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	pol, _ := db.Signing.Policy(ctx, "alpha")
	if len(pol.Permissions) != n {
		t.Errorf("after %d concurrent appends the policy has %d statements", n, len(pol.Permissions))
	}
}

func testSealedKeys(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	k := keys.SealedKey{ID: "key-a", Spec: keys.KeySpecEC384, Ciphertext: []byte{1, 2, 3}, CreatedAt: t0}
	if err := db.Keys.PutSealedKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := db.Keys.PutSealedKey(ctx, k); !errors.Is(err, keys.ErrKeyExists) {
		t.Errorf("second PutSealedKey = %v, want ErrKeyExists", err)
	}
	got, err := db.Keys.SealedKey(ctx, "key-a")
	if err != nil || got.Spec != k.Spec || !bytes.Equal(got.Ciphertext, k.Ciphertext) || !got.CreatedAt.Equal(t0) {
		t.Errorf("SealedKey = %+v, %v", got, err)
	}
	if err := db.Keys.DeleteSealedKey(ctx, "key-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Keys.SealedKey(ctx, "key-a"); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Errorf("SealedKey after delete = %v, want ErrKeyNotFound", err)
	}
	if err := db.Keys.DeleteSealedKey(ctx, "key-a"); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Errorf("second DeleteSealedKey = %v, want ErrKeyNotFound", err)
	}
}

func testInitializeOnce(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	k := store.AccessKey{ID: "AKIAFIRST", SealedSecret: []byte("s"), PrincipalARN: "arn:aws:iam::123456789012:root", CreatedAt: t0}
	ok, err := db.Initialize(ctx, map[string]string{"initialized": "yes", "account_id": "123456789012"}, k)
	if err != nil || !ok {
		t.Fatalf("Initialize = %v, %v", ok, err)
	}
	k2 := k
	k2.ID = "AKIASECOND"
	ok, err = db.Initialize(ctx, map[string]string{"initialized": "again", "account_id": "999999999999"}, k2)
	if err != nil || ok {
		t.Fatalf("second Initialize = %v, %v; want false, nil", ok, err)
	}
	if v, _ := db.Setting(ctx, "account_id"); v != "123456789012" {
		t.Errorf("account_id = %q after a second Initialize", v)
	}
	if _, err := db.IAM.AccessKey(ctx, "AKIASECOND"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Initialize stored its access key: %v", err)
	}
	got, err := db.IAM.AccessKey(ctx, "AKIAFIRST")
	if err != nil || got.PrincipalARN != k.PrincipalARN || !got.CreatedAt.Equal(t0) || !got.Expires.IsZero() {
		t.Errorf("AccessKey = %+v, %v", got, err)
	}
	tmp := store.AccessKey{ID: "ASIATEMP", SealedSecret: []byte("t"), SessionTokenHash: store.HashSessionToken("tok"), Expires: t0.Add(time.Hour), PrincipalARN: "arn:aws:sts::123456789012:assumed-role/r/s", CreatedAt: t0}
	if err := db.IAM.CreateAccessKey(ctx, tmp); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.IAM.AccessKey(ctx, "ASIATEMP"); got.SessionTokenHash != store.HashSessionToken("tok") || !got.Expires.Equal(tmp.Expires) {
		t.Errorf("temporary AccessKey = %+v", got)
	}
	if _, err := db.Setting(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Setting(missing) = %v, want ErrNotFound", err)
	}
}

func testReopen(t *testing.T, open Opener) {
	db, reopen := open(t)
	p, _ := mustCreate(t, db, "alpha")
	db = reopen()
	got, err := db.Signing.Profile(context.Background(), "alpha")
	if err != nil || !equalProfiles(got, p) {
		t.Errorf("after reopen Profile = %+v, %v", got, err)
	}
}

// testNodes: heartbeats count the live nodes; a node not seen within the
// window is not counted, and one not seen for an hour is forgotten.
func testNodes(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	for _, hb := range []struct {
		id string
		at time.Time
	}{{"a", t0}, {"b", t0.Add(20 * time.Second)}, {"a", t0.Add(25 * time.Second)}, {"c", t0.Add(-2 * time.Hour)}} {
		if err := db.Heartbeat(ctx, hb.id, t0, hb.at); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		since time.Time
		want  int
	}{{t0.Add(-time.Minute), 2}, {t0.Add(22 * time.Second), 1}, {t0.Add(time.Minute), 0}, {t0.Add(-3 * time.Hour), 3}}
	for _, c := range cases {
		if n, err := db.LiveNodes(ctx, c.since); err != nil || n != c.want {
			t.Errorf("LiveNodes(since %s) = %d, %v; want %d", c.since.Sub(t0), n, err, c.want)
		}
	}
	// c's heartbeat came last but was stamped two hours back: a later
	// heartbeat forgets it.
	if err := db.Heartbeat(ctx, "b", t0, t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.LiveNodes(ctx, t0.Add(-3*time.Hour)); n != 2 {
		t.Errorf("%d nodes known after the forgetting, want 2", n)
	}
	if err := db.ForgetNode(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.LiveNodes(ctx, t0.Add(-3*time.Hour)); n != 1 {
		t.Errorf("%d nodes known after a stopped, want 1", n)
	}
}
