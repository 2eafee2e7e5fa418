package invoke_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/signet/signet/internal/invoke"
	"github.com/signet/signet/internal/store"
)

// TestNotifyWhileRunAsyncStarts: InvokeAsync (on a request's goroutine)
// wakes the Event workers while RunAsync (on the server's) is setting
// them up; under -race the two must not touch the wake channel
// unsynchronized.
func TestNotifyWhileRunAsyncStarts(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	db, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "signet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := &invoke.Service{Queue: db.Lambda, Concurrency: db.Lambda, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.RunAsync(ctx, 2) }()
	go func() {
		defer wg.Done()
		for range 1000 {
			s.Notify()
		}
		cancel()
	}()
	wg.Wait()
}
