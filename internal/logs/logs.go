// Package logs keeps function logs as CloudWatch Logs does: events in
// log streams in log groups (/aws/lambda/FUNCTION), written in batches
// off the invocation path and read back with FilterLogEvents' filters.
package logs

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/signet/signet/internal/invoke"
)

// Event is one stored log event.
type Event struct {
	ID       int64 // ascending in insertion order
	Group    string
	Stream   string
	Time     time.Time
	Ingested time.Time
	Message  string
}

// Query selects events of one group.
type Query struct {
	Group        string
	Streams      []string // exact names; empty: all
	StreamPrefix string
	Start, End   time.Time // zero: unbounded; End exclusive
	AfterID      int64     // continue after this event
	Limit        int
}

// Stream is a log stream's summary.
type Stream struct {
	Name                  string
	FirstEvent, LastEvent time.Time
	LastIngestion         time.Time
}

// Store persists log events.
type Store interface {
	AppendLogEvents(ctx context.Context, events []Event) error
	// LogEvents returns events matching q in (time, id) order.
	LogEvents(ctx context.Context, q Query) ([]Event, error)
	// LogGroups returns the names of groups with the prefix.
	LogGroups(ctx context.Context, prefix string) ([]string, error)
	// LogGroupExists reports whether a group has any event.
	LogGroupExists(ctx context.Context, group string) (bool, error)
	// LogStreams summarises a group's streams, newest first.
	LogStreams(ctx context.Context, group, prefix string) ([]Stream, error)
	// DeleteLogEventsBefore deletes events older than t.
	DeleteLogEventsBefore(ctx context.Context, t time.Time) error
}

// Writer buffers log events and writes them in batches, so invocations
// never wait for storage. Events still buffered when Signet is killed
// are lost (as an execution environment's last lines can be in Lambda).
type Writer struct {
	Store     Store
	Log       *slog.Logger
	Retention time.Duration // events older than this are deleted; 0 keeps all

	mu        sync.Mutex
	pending   []Event
	done      chan struct{}
	stop      chan struct{}
	closeOnce sync.Once
}

// maxPending bounds buffered events; beyond it new events are dropped
// and counted.
const maxPending = 100000

// NewWriter starts a writer that flushes every interval.
func NewWriter(s Store, log *slog.Logger, interval, retention time.Duration) *Writer {
	w := &Writer{Store: s, Log: log, Retention: retention, done: make(chan struct{}), stop: make(chan struct{})}
	go w.loop(interval)
	return w
}

var _ invoke.LogSink = (*Writer)(nil)

// Write implements invoke.LogSink.
func (w *Writer) Write(group, stream string, events []invoke.LogEvent) {
	now := time.Now().UTC()
	w.mu.Lock()
	for _, e := range events {
		if len(w.pending) >= maxPending {
			break
		}
		w.pending = append(w.pending, Event{Group: group, Stream: stream, Time: e.Time.UTC(), Ingested: now, Message: e.Message})
	}
	w.mu.Unlock()
}

// Flush writes buffered events now. A nil Writer (no functions run on
// this host) has nothing to flush.
func (w *Writer) Flush(ctx context.Context) error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	batch := w.pending
	w.pending = nil
	w.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	return w.Store.AppendLogEvents(ctx, batch)
}

func (w *Writer) loop(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		select {
		case <-w.stop:
			w.Flush(context.Background())
			return
		case <-t.C:
		}
		if err := w.Flush(context.Background()); err != nil {
			w.Log.Error("failed to write function logs", "err", err)
		}
		if w.Retention > 0 && time.Since(lastPrune) > time.Hour {
			lastPrune = time.Now()
			w.Store.DeleteLogEventsBefore(context.Background(), time.Now().Add(-w.Retention))
		}
	}
}

// Close flushes and stops the writer; later calls do nothing.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() { close(w.stop) })
	<-w.done
	return nil
}

// Match reports whether a message matches a CloudWatch Logs filter
// pattern in its term form: space-separated terms that must all occur
// (case-sensitive), "quoted phrases", and -term exclusions; an empty
// pattern matches everything. (JSON and space-delimited field patterns
// are not supported.)
func Match(pattern, message string) bool {
	for _, t := range terms(pattern) {
		if neg, ok := strings.CutPrefix(t, "-"); ok && neg != "" {
			if strings.Contains(message, neg) {
				return false
			}
			continue
		}
		if !strings.Contains(message, t) {
			return false
		}
	}
	return true
}

func terms(pattern string) []string {
	var out []string
	for p := strings.TrimSpace(pattern); p != ""; p = strings.TrimSpace(p) {
		if p[0] == '"' {
			if end := strings.IndexByte(p[1:], '"'); end >= 0 {
				out = append(out, p[1:end+1])
				p = p[end+2:]
				continue
			}
		}
		i := strings.IndexAny(p, " \t")
		if i < 0 {
			out = append(out, p)
			break
		}
		out = append(out, p[:i])
		p = p[i:]
	}
	return out
}
