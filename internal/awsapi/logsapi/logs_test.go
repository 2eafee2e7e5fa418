package logsapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/invoke"
	"github.com/signet/signet/internal/logs"
	"github.com/signet/signet/internal/store"
)

// TestReadsSeePendingEvents checks that the events of an invocation that
// has returned are there to read at once, though the writer stores them
// only every hour here: every read flushes what is pending.
func TestReadsSeePendingEvents(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "signet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w := logs.NewWriter(db.Logs, slog.New(slog.DiscardHandler), time.Hour, 0)
	t.Cleanup(func() { w.Close() })
	group := invoke.LogGroup("fn")
	w.Write(group, "2026/12/04/[$LATEST]abc", []invoke.LogEvent{{Time: time.Now(), Message: "hello from fn"}})

	api := &Logs{Store: db.Logs, Account: arn.Account{Partition: "aws", Region: "us-east-1", ID: "123456789012"},
		Authorizer: awsapi.AllowAll{}, Log: slog.New(slog.DiscardHandler), Pending: w}
	h := api.Service().Handler()
	for _, op := range []string{"FilterLogEvents", "DescribeLogGroups", "DescribeLogStreams"} {
		t.Run(op, func(t *testing.T) {
			body := `{"logGroupName":"` + group + `"}`
			if op == "DescribeLogGroups" {
				body = `{}`
			}
			r, err := http.NewRequest(http.MethodPost, "http://signet/", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("X-Amz-Target", "Logs_20140328."+op)
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", op, rec.Code, rec.Body)
			}
			var out map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"FilterLogEvents": "hello from fn", "DescribeLogGroups": group, "DescribeLogStreams": "[$LATEST]abc"}[op]
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("%s = %s; want it to contain %q", op, rec.Body, want)
			}
		})
	}
}
