package audit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/store"
)

func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func fakeSign(context.Context, []byte) (string, []byte, error) { return "k", []byte{1}, nil }

// waitCheckpoints polls until the store holds n checkpoints.
func waitCheckpoints(t *testing.T, db *store.DB, n int) []audit.Checkpoint {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cps, err := db.Audit.Checkpoints(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(cps) >= n || time.Now().After(deadline) {
			if len(cps) != n {
				t.Fatalf("%d checkpoints, want %d", len(cps), n)
			}
			return cps
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWriterCheckpointInterval drives the writer's Interval with an
// injected clock: every tick that follows new records signs a
// checkpoint, including a tick that comes right after the previous
// checkpoint (which used to be skipped, doubling the interval), and a
// tick with nothing new signs nothing.
func TestWriterCheckpointInterval(t *testing.T) {
	db := openStore(t)
	ticks := make(chan time.Time)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	w := &audit.Writer{Store: db.Audit, Sign: fakeSign, Interval: time.Minute, Now: func() time.Time { return now }}
	audit.SetTick(w, ticks)
	defer w.Close()
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		if err := w.Append(ctx, audit.Event{Time: now, Action: "iam:CreateUser"}, true); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
		ticks <- now // the writer takes the tick once the record is written
		cps := waitCheckpoints(t, db, i)
		if c := cps[i-1]; c.Seq != int64(i) || !c.Time.Equal(now) {
			t.Fatalf("checkpoint %d covers record %d at %v, want record %d at %v", i, c.Seq, c.Time, i, now)
		}
	}
	ticks <- now.Add(time.Minute) // nothing new
	ticks <- now.Add(time.Minute) // the first tick has been handled
	waitCheckpoints(t, db, 3)
}

// TestWriterResume signs, at start, the records a writer that was never
// closed (a crash) left after its last checkpoint.
func TestWriterResume(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	l := &audit.Log{Store: db.Audit}
	for range 2 {
		if err := l.Append(ctx, audit.Event{Time: time.Now(), Action: "iam:CreateUser"}); err != nil {
			t.Fatal(err)
		}
	}
	w := &audit.Writer{Store: db.Audit, Sign: fakeSign}
	if err := w.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Resume(ctx); err != nil { // covered: nothing to sign
		t.Fatal(err)
	}
	if cps := waitCheckpoints(t, db, 1); cps[0].Seq != 2 {
		t.Errorf("checkpoint covers record %d, want 2", cps[0].Seq)
	}
}
