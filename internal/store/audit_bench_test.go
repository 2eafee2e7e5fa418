package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet/signet/internal/audit"
)

func benchEvent() audit.Event {
	return audit.Event{Time: time.Now(), Principal: "arn:aws:iam::123456789012:user/dev", Action: "signer:StartSigningJob",
		Resource: "arn:aws:signer:us-east-1:123456789012:/signing-profiles/p", Decision: "Allow", RequestID: "0f02dfa6-126d-40d1-bda0-0de09ae1b054",
		SourceIP: "127.0.0.1", Outcome: "200", AccessKey: "AKIAEXAMPLEEXAMPLE00"}
}

// BenchmarkAuditAppend measures durable audit appends: through the
// batching Writer with many concurrent callers each waiting for its
// record to be durable, and the reference, one transaction per record.
func BenchmarkAuditAppend(b *testing.B) {
	open := func(b *testing.B) *DB {
		db, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "signet.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}
	b.Run("writer-64-callers", func(b *testing.B) {
		db := open(b)
		w := &audit.Writer{Store: db.Audit}
		defer w.Close()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := w.Append(context.Background(), benchEvent(), true); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("one-transaction-per-record", func(b *testing.B) {
		db := open(b)
		l := &audit.Log{Store: db.Audit}
		for b.Loop() {
			if err := l.Append(context.Background(), benchEvent()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
