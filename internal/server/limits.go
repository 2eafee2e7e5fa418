package server

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// requestLimits hold slow and large requests in check: a client must
// send its headers within header, and its body without pausing longer
// than bodyIdle and, after the first bodyIdle, at minRate bytes per
// second on average, which still lets a 70 MB package arrive over a slow
// link. At most bufferedBodies bytes of request bodies are held at once;
// a request that would exceed it waits up to bodyWait for room. Requests
// functions make from their sandboxes have a budget of their own,
// relayedBodies, so that functions cannot crowd out the server's other
// clients (nor those clients the functions).
type requestLimits struct {
	header         time.Duration
	bodyIdle       time.Duration
	minRate        int64
	bufferedBodies int64
	relayedBodies  int64
	bodyWait       time.Duration
}

var defaultLimits = requestLimits{
	header:         10 * time.Second,
	bodyIdle:       30 * time.Second,
	minRate:        16 << 10,
	bufferedBodies: 256 << 20,
	relayedBodies:  64 << 20,
	bodyWait:       30 * time.Second,
}

// deadlines wraps a request body so that every read has a deadline: the
// sooner of bodyIdle from now and the time by which the bytes read so
// far should have arrived at minRate (after a first bodyIdle of grace).
// A read past it fails with a timeout and the connection is closed.
func (l requestLimits) deadlines(w http.ResponseWriter, body io.ReadCloser) io.ReadCloser {
	if body == nil || body == http.NoBody {
		return body
	}
	return &deadlineBody{ReadCloser: body, rc: http.NewResponseController(w), l: l, start: time.Now()}
}

type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	l     requestLimits
	start time.Time
	n     int64
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	d := time.Now().Add(b.l.bodyIdle)
	if b.l.minRate > 0 {
		byRate := b.start.Add(b.l.bodyIdle + time.Duration(float64(b.n)/float64(b.l.minRate)*float64(time.Second)))
		if byRate.Before(d) {
			d = byRate
		}
	}
	b.rc.SetReadDeadline(d)
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err == io.EOF {
		// Once the body is read, the server watches the connection
		// for the client going away, and a read deadline would end the
		// request (a long invocation) when it passes.
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// finish bounds, once the handler is done, the time the server spends
// discarding a body the handler did not read (up to 256 KiB before it
// gives up on the connection), which no Read of deadlineBody bounded.
func (l requestLimits) finish(w http.ResponseWriter) {
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(l.bodyIdle))
}

// bodyBudget is a weighted semaphore over the bytes of request bodies
// held in memory.
type bodyBudget struct {
	mu      sync.Mutex
	free    int64
	max     int64
	changed chan struct{} // closed and replaced at every release
}

func newBodyBudget(max int64) *bodyBudget {
	return &bodyBudget{free: max, max: max, changed: make(chan struct{})}
}

// acquire takes n bytes of the budget (at most all of it), waiting up to
// wait for them; release gives them back.
func (b *bodyBudget) acquire(ctx context.Context, n int64, wait time.Duration) (release func(), err error) {
	n = min(n, b.max)
	var timeout <-chan time.Time
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.mu.Unlock()
			var once sync.Once
			return func() { once.Do(func() { b.release(n) }) }, nil
		}
		changed := b.changed
		b.mu.Unlock()
		if timeout == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return nil, context.DeadlineExceeded
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (b *bodyBudget) release(n int64) {
	b.mu.Lock()
	b.free += n
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}
