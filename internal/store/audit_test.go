package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet/signet/internal/audit"
)

// TestAuditChain appends events and checks that Verify finds a record
// edited in place, a deleted record and swapped records.
func TestAuditChain(t *testing.T) {
	ctx := context.Background()
	fill := func(t *testing.T) (*DB, *audit.Log) {
		db, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "signet.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		l := &audit.Log{Store: db.Audit}
		for i := range 5 {
			if err := l.Append(ctx, audit.Event{Time: time.Now(), Principal: "arn:aws:iam::123456789012:root", Action: "lambda:UpdateFunctionCode",
				Resource: fmt.Sprintf("arn:aws:lambda:us-east-1:123456789012:function:f%d", i), Decision: "AllowWithWarning", Detail: "unsigned"}); err != nil {
				t.Fatal(err)
			}
		}
		return db, l
	}
	cases := map[string]struct {
		tamper func(db *DB) error
		seq    int64 // 0: intact
	}{
		"ok/intact": {func(*DB) error { return nil }, 0},
		"fail/edited": {func(db *DB) error {
			_, err := db.exec(ctx, `UPDATE audit_events SET event = replace(event, 'AllowWithWarning', 'Deny') WHERE seq = 3`)
			return err
		}, 3},
		"fail/deleted": {func(db *DB) error { _, err := db.exec(ctx, `DELETE FROM audit_events WHERE seq = 2`); return err }, 2},
		"fail/reordered": {func(db *DB) error {
			_, err := db.exec(ctx, `UPDATE audit_events SET seq = CASE seq WHEN 4 THEN 40 ELSE seq END`)
			if err == nil {
				_, err = db.exec(ctx, `UPDATE audit_events SET seq = 4 WHERE seq = 5`)
			}
			if err == nil {
				_, err = db.exec(ctx, `UPDATE audit_events SET seq = 5 WHERE seq = 40`)
			}
			return err
		}, 4},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			db, l := fill(t)
			if err := c.tamper(db); err != nil {
				t.Fatal(err)
			}
			n, err := l.Verify(ctx)
			if c.seq == 0 {
				if err != nil || n != 5 {
					t.Fatalf("Verify = %d, %v; want 5 records, no error", n, err)
				}
				return
			}
			var p *audit.Problem
			if !errors.As(err, &p) || p.Seq != c.seq {
				t.Errorf("Verify = %v, want a problem at record %d", err, c.seq)
			}
		})
	}
}
