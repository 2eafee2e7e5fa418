// Package webhook carries out the inventory's actions over HTTP: it
// notifies webhooks of violations ([Notifier]) and stops ECS tasks through
// a hook that takes the ECS StopTask request ([StopHook]).
//
// # Notification body
//
// [Notifier.Send] POSTs one JSON object, an [Event], with Content-Type
// application/json:
//
//	{
//	  "type": "signet.workload.violation",
//	  "id": "5f0c…",                      // the same for every attempt and URL
//	  "time": "2026-12-01T12:00:00Z",     // when the violation was detected
//	  "workload": {"id": "kubernetes/prod/api-7f9c", "source": "kubernetes",
//	               "namespace": "prod", "name": "api-7f9c", "uid": "…",
//	               "images": ["reg.example/api@sha256:…"],
//	               "principal": "system:serviceaccount:ci:deployer"},
//	  "image": "reg.example/api@sha256:…",
//	  "rule": "revoked",
//	  "reason": "signing job … was revoked",
//	  "action": "evict",
//	  "outcome": "evicted"
//	}
//
// Receivers should treat id as an idempotency key: a retried delivery
// carries the same id.
package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/signet/signet/internal/inventory"
)

// EventType is the type of a violation notification.
const EventType = "signet.workload.violation"

// Defaults of the Notifier.
const (
	DefaultMaxAttempts    = 5
	DefaultAttemptTimeout = 10 * time.Second
)

// Event is the body of a violation notification.
type Event struct {
	Type     string    `json:"type"`
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Workload Workload  `json:"workload"`
	Image    string    `json:"image"`
	Rule     string    `json:"rule"`
	Reason   string    `json:"reason"`
	Action   string    `json:"action"`
	Outcome  string    `json:"outcome"`
}

// Workload is the workload of an [Event].
type Workload struct {
	ID        string   `json:"id"`
	Source    string   `json:"source"`
	Cluster   string   `json:"cluster,omitempty"`
	Namespace string   `json:"namespace,omitempty"`
	Name      string   `json:"name"`
	UID       string   `json:"uid,omitempty"`
	Images    []string `json:"images"`
	Principal string   `json:"principal,omitempty"`
}

// NewEvent returns the notification of v.
func NewEvent(v inventory.Violation) Event {
	w := v.Workload
	id := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%s\x00%d",
		w.ID, w.UID, v.Image, v.Rule, v.DetectedAt.UnixNano()))
	return Event{
		Type: EventType,
		ID:   hex.EncodeToString(id[:16]),
		Time: v.DetectedAt.UTC(),
		Workload: Workload{ID: w.ID, Source: w.Source, Cluster: w.Cluster, Namespace: w.Namespace,
			Name: w.Name, UID: w.UID, Images: w.Images, Principal: w.Principal},
		Image: v.Image, Rule: v.Rule, Reason: v.Reason, Action: string(v.Action), Outcome: v.Outcome,
	}
}

// Notifier POSTs violations to webhooks. Its zero value with URLs is
// ready to use; it is safe for concurrent use.
type Notifier struct {
	// URLs receive every violation.
	URLs []string
	// Client makes the requests; nil means http.DefaultClient.
	Client *http.Client
	// MaxAttempts bounds the deliveries to one URL (default 5).
	MaxAttempts int
	// Backoff is the wait before attempt n+1 after attempt n failed
	// (n ≥ 1); nil means 1s, 2s, 4s, … up to 30s.
	Backoff func(attempt int) time.Duration
	// Sleep waits d or until ctx ends; nil waits on a timer. Tests make
	// it return at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// AttemptTimeout bounds each attempt (default 10s).
	AttemptTimeout time.Duration
}

// Send POSTs v to every URL at once. A network error, a 5xx, 408 or 429
// answer is retried after Backoff, up to MaxAttempts; any other 4xx is
// not retried, since the same request would fail again. Send returns
// when every URL has answered 2xx or given up, with an error naming each
// URL that gave up.
func (n *Notifier) Send(ctx context.Context, v inventory.Violation) error {
	body, err := json.Marshal(NewEvent(v))
	if err != nil {
		return fmt.Errorf("webhook: encoding the violation: %w", err)
	}
	errs := make([]error, len(n.URLs))
	var wg sync.WaitGroup
	for i, u := range n.URLs {
		wg.Go(func() {
			if err := n.deliver(ctx, u, body); err != nil {
				errs[i] = fmt.Errorf("webhook %d (%s): %w", i+1, redact(u), err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (n *Notifier) deliver(ctx context.Context, u string, body []byte) error {
	attempts := max(n.MaxAttempts, 1)
	if n.MaxAttempts == 0 {
		attempts = DefaultMaxAttempts
	}
	var last error
	for a := 1; a <= attempts; a++ {
		retry, err := n.attempt(ctx, u, body)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			return fmt.Errorf("%w (not retried)", err)
		}
		if a == attempts {
			break
		}
		if err := n.sleep(ctx, n.backoff(a)); err != nil {
			return fmt.Errorf("%w; gave up after %d attempts: %w", last, a, err)
		}
	}
	return fmt.Errorf("%w; gave up after %d attempts", last, attempts)
}

// attempt makes one delivery and reports whether a failure may be
// retried.
func (n *Notifier) attempt(ctx context.Context, u string, body []byte) (retry bool, err error) {
	timeout := n.AttemptTimeout
	if timeout <= 0 {
		timeout = DefaultAttemptTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("bad URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "signet")
	req.Header.Set("X-Signet-Event", EventType)
	resp, err := client(n.Client).Do(req)
	if err != nil {
		return true, stripURL(err)
	}
	defer resp.Body.Close()
	excerpt := readExcerpt(resp.Body)
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c >= 500, c == http.StatusRequestTimeout, c == http.StatusTooManyRequests:
		return true, statusError(resp, excerpt)
	default:
		return false, statusError(resp, excerpt)
	}
}

func (n *Notifier) backoff(attempt int) time.Duration {
	if n.Backoff != nil {
		return n.Backoff(attempt)
	}
	return min(time.Second<<min(attempt-1, 5), 30*time.Second)
}

func (n *Notifier) sleep(ctx context.Context, d time.Duration) error {
	if n.Sleep != nil {
		return n.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// StopTarget is the X-Amz-Target of the ECS StopTask operation.
const StopTarget = "AmazonEC2ContainerServiceV20141113.StopTask"

// DefaultStopReason is the reason a StopHook gives when it has none.
const DefaultStopReason = "Stopped by Signet: an image of the task failed verification"

// StopRequest is the body a StopHook POSTs: the ECS StopTask request.
type StopRequest struct {
	Cluster string `json:"cluster,omitempty"`
	Task    string `json:"task"`
	Reason  string `json:"reason,omitempty"`
}

// StopHook stops ECS tasks by POSTing the ECS StopTask request (JSON 1.1,
// with X-Amz-Target) to URL: a small service of the operator's that holds
// the AWS credentials, or anything that speaks StopTask.
type StopHook struct {
	// URL receives the requests.
	URL string
	// Client makes the requests; nil means http.DefaultClient. Its
	// Timeout bounds each request.
	Client *http.Client
	// Secret, when set, is sent as "Authorization: Bearer SECRET".
	Secret string
	// Reason is the stop reason (ECS keeps at most 255 characters);
	// "" means DefaultStopReason.
	Reason string
}

// Stop asks the hook to stop the ECS task w. An answer other than 2xx is
// an error naming the status and the start of the body.
func (h *StopHook) Stop(ctx context.Context, w inventory.Workload) error {
	if w.Source != inventory.SourceECS {
		return fmt.Errorf("stop hook: %s is a %s workload, not an ECS task", w.ID, w.Source)
	}
	if h.URL == "" {
		return errors.New("stop hook: no URL configured")
	}
	reason := h.Reason
	if reason == "" {
		reason = DefaultStopReason
	}
	if len(reason) > 255 {
		reason = reason[:255]
	}
	body, err := json.Marshal(StopRequest{Cluster: w.Cluster, Task: w.ID, Reason: reason})
	if err != nil {
		return fmt.Errorf("stop hook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("stop hook: bad URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", StopTarget)
	req.Header.Set("User-Agent", "signet")
	if h.Secret != "" {
		req.Header.Set("Authorization", "Bearer "+h.Secret)
	}
	resp, err := client(h.Client).Do(req)
	if err != nil {
		return fmt.Errorf("stop hook %s: StopTask %s: %w", redact(h.URL), w.ID, stripURL(err))
	}
	defer resp.Body.Close()
	excerpt := readExcerpt(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("stop hook %s: StopTask %s: %w", redact(h.URL), w.ID, statusError(resp, excerpt))
	}
	return nil
}

func client(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return http.DefaultClient
}

// readExcerpt reads the start of a body and drains a little more so that
// the connection may be reused.
func readExcerpt(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 512))
	io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	return strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
}

func statusError(resp *http.Response, excerpt string) error {
	if excerpt == "" {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return fmt.Errorf("HTTP %s: %q", resp.Status, excerpt)
}

// redact returns the scheme and host of a URL: webhook paths and queries
// often hold secrets.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "an unparsable URL"
	}
	return p.Scheme + "://" + p.Host
}

// stripURL returns the error under a *url.Error, whose message would
// repeat the whole URL.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
