package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/signet/signet/internal/store"
)

var workloadTests = map[string]func(*testing.T, Opener){
	"workloads/lease":       testLease,
	"workloads/inputs":      testWorkloadInputs,
	"race/lease-one-holder": testRaceLease,
}

func testLease(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	steps := []struct {
		holder string
		at     time.Duration // from t0; the lease runs 30 s from then
		want   bool
	}{
		{"a", 0, true},
		{"b", 10 * time.Second, false}, // a holds it
		{"a", 10 * time.Second, true},  // renewed: until 40 s
		{"b", 35 * time.Second, false},
		{"b", 40 * time.Second, true}, // expired
		{"a", 41 * time.Second, false},
	}
	for i, s := range steps {
		now := t0.Add(s.at)
		if got, err := db.AcquireLease(ctx, "work", s.holder, now, now.Add(30*time.Second)); err != nil || got != s.want {
			t.Errorf("step %d: AcquireLease(%s at %s) = %v, %v; want %v", i, s.holder, s.at, got, err, s.want)
		}
	}
	if err := db.Workloads.SaveWorkloadState(ctx, "work", "a", []byte(`{}`), nil, t0.Add(41*time.Second), time.Minute); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("a save by the old holder = %v, want ErrLeaseLost", err)
	}
	if err := db.ReleaseLease(ctx, "work", "a"); err != nil { // not a's: nothing
		t.Fatal(err)
	}
	if got, _ := db.AcquireLease(ctx, "work", "c", t0.Add(42*time.Second), t0.Add(72*time.Second)); got {
		t.Error("c took a lease b holds after a released it")
	}
	if err := db.ReleaseLease(ctx, "work", "b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.AcquireLease(ctx, "work", "c", t0.Add(42*time.Second), t0.Add(72*time.Second)); !got {
		t.Error("c could not take the lease b released")
	}
}

func testWorkloadInputs(t *testing.T, open Opener) {
	db, reopen := open(t)
	ctx := context.Background()
	w := db.Workloads
	if _, _, err := w.WorkloadState(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("WorkloadState before a save = %v, want ErrNotFound", err)
	}
	var seqs []int64
	for i := range 3 {
		seq, err := w.AppendWorkloadInput(ctx, []byte(fmt.Sprintf(`{"n":%d}`, i)), t0)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	if !(seqs[0] < seqs[1] && seqs[1] < seqs[2]) {
		t.Errorf("sequence numbers %v are not increasing", seqs)
	}
	if ok, _ := db.AcquireLease(ctx, "workloads", "n1", t0, t0.Add(time.Minute)); !ok {
		t.Fatal("no lease")
	}
	pending, err := w.PendingWorkloadInputs(ctx, 2)
	if err != nil || len(pending) != 2 || pending[0].Seq != seqs[0] || string(pending[1].Input) != `{"n":1}` {
		t.Fatalf("PendingWorkloadInputs = %+v, %v", pending, err)
	}
	if err := w.SaveWorkloadState(ctx, "workloads", "n1", []byte(`{"Workloads":[]}`), map[int64]bool{seqs[0]: true, seqs[1]: false}, t0.Add(time.Second), time.Hour); err != nil {
		t.Fatal(err)
	}
	db = reopen()
	w = db.Workloads
	for i, want := range []struct{ applied, changed bool }{{true, true}, {true, false}, {false, false}} {
		if a, c, err := w.WorkloadInputResult(ctx, seqs[i]); err != nil || a != want.applied || c != want.changed {
			t.Errorf("input %d: applied %v changed %v (%v), want %+v", i, a, c, err, want)
		}
	}
	if pending, _ := w.PendingWorkloadInputs(ctx, 10); len(pending) != 1 || pending[0].Seq != seqs[2] {
		t.Errorf("pending after the save: %+v", pending)
	}
	st, at, err := w.WorkloadState(ctx)
	if err != nil || string(st) != `{"Workloads":[]}` || !at.Equal(t0.Add(time.Second)) {
		t.Errorf("WorkloadState = %s, %s, %v", st, at, err)
	}
	// Applied inputs older than keep go with a later save.
	if err := w.SaveWorkloadState(ctx, "workloads", "n1", st, nil, t0.Add(30*time.Second), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.WorkloadInputResult(ctx, seqs[0]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an applied input past keep: %v, want ErrNotFound", err)
	}
	if a, _, err := w.WorkloadInputResult(ctx, seqs[2]); err != nil || a {
		t.Errorf("the pending input after the cleanup: applied %v, %v", a, err)
	}
}

func testRaceLease(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	won := 0
	for i, err := range race(func(i int) error {
		ok, err := db.AcquireLease(ctx, "race", fmt.Sprint("node-", i), t0, t0.Add(time.Minute))
		if err == nil && !ok {
			return errNotHeld
		}
		return err
	}) {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, errNotHeld):
			t.Errorf("racer %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d racers hold the lease, want 1", won)
	}
}

var errNotHeld = errors.New("not held")
