package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet/signet/internal/inventory"
)

var detected = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func violation() inventory.Violation {
	return inventory.Violation{
		Workload: inventory.Workload{ID: "kubernetes/prod/api", Source: inventory.SourceKubernetes,
			Namespace: "prod", Name: "api", UID: "u-1", Images: []string{"reg.example/api@sha256:01"},
			Principal: "system:serviceaccount:ci:deployer"},
		Image: "reg.example/api@sha256:01", Rule: "revoked", Reason: "signing job revoked",
		Action: inventory.ActionEvict, Outcome: inventory.OutcomeEvicted, DetectedAt: detected,
	}
}

// flaky answers fail (status) to the first n requests, then 204, and
// keeps the bodies it received.
type flaky struct {
	mu     sync.Mutex
	n      int
	status int
	bodies [][]byte
	hdr    []http.Header
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies = append(f.bodies, b)
	f.hdr = append(f.hdr, r.Header.Clone())
	if len(f.bodies) <= f.n {
		http.Error(w, "temporarily broken", f.status)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (f *flaky) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bodies)
}

func TestNotifierSend(t *testing.T) {
	tests := map[string]struct {
		failures, status int
		maxAttempts      int
		wantRequests     int
		wantErr          string // "" for success
		wantSleeps       []time.Duration
	}{
		"ok/first time":          {wantRequests: 1},
		"ok/after two 500s":      {failures: 2, status: 500, wantRequests: 3, wantSleeps: []time.Duration{time.Second, 2 * time.Second}},
		"ok/after a 429":         {failures: 1, status: 429, wantRequests: 2, wantSleeps: []time.Duration{time.Second}},
		"fail/400 not retried":   {failures: 9, status: 400, wantRequests: 1, wantErr: "400 Bad Request"},
		"fail/404 not retried":   {failures: 9, status: 404, wantRequests: 1, wantErr: "(not retried)"},
		"fail/503 until give up": {failures: 9, status: 503, maxAttempts: 3, wantRequests: 3, wantErr: "gave up after 3 attempts", wantSleeps: []time.Duration{time.Second, 2 * time.Second}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			f := &flaky{n: tt.failures, status: tt.status}
			srv := httptest.NewServer(f)
			defer srv.Close()
			var sleeps []time.Duration
			n := &Notifier{
				URLs: []string{srv.URL + "/hooks/SECRET-PATH"}, Client: srv.Client(), MaxAttempts: tt.maxAttempts,
				Sleep: func(ctx context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil },
			}
			err := n.Send(t.Context(), violation())
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Send: %v", err)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Send: %v, want an error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "SECRET-PATH") {
					t.Errorf("error shows the URL's path: %v", err)
				}
			}
			if got := f.requests(); got != tt.wantRequests {
				t.Errorf("requests = %d, want %d", got, tt.wantRequests)
			}
			if len(sleeps) != len(tt.wantSleeps) {
				t.Errorf("sleeps = %v, want %v", sleeps, tt.wantSleeps)
			} else {
				for i := range sleeps {
					if sleeps[i] != tt.wantSleeps[i] {
						t.Errorf("sleeps = %v, want %v", sleeps, tt.wantSleeps)
					}
				}
			}
			// Every attempt carries the same event.
			for i, b := range f.bodies {
				if string(b) != string(f.bodies[0]) {
					t.Errorf("attempt %d body differs from the first", i+1)
				}
				if ct := f.hdr[i].Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
			}
		})
	}
}

func TestNotifierBody(t *testing.T) {
	f := &flaky{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	if err := (&Notifier{URLs: []string{srv.URL}}).Send(t.Context(), violation()); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(f.bodies[0], &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type": "signet.workload.violation", "time": "2026-12-01T12:00:00Z",
		"image": "reg.example/api@sha256:01", "rule": "revoked", "reason": "signing job revoked",
		"action": "evict", "outcome": "evicted",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	wl, _ := got["workload"].(map[string]any)
	if wl["id"] != "kubernetes/prod/api" || wl["namespace"] != "prod" || wl["principal"] != "system:serviceaccount:ci:deployer" {
		t.Errorf("workload = %v", wl)
	}
	if id, _ := got["id"].(string); len(id) != 32 {
		t.Errorf("id = %v, want 32 hex digits", got["id"])
	}
}

func TestNotifierManyURLs(t *testing.T) {
	good, bad := &flaky{}, &flaky{n: 99, status: 401}
	s1, s2 := httptest.NewServer(good), httptest.NewServer(bad)
	defer s1.Close()
	defer s2.Close()
	n := &Notifier{URLs: []string{s1.URL, s2.URL}, Sleep: func(context.Context, time.Duration) error { return nil }}
	err := n.Send(t.Context(), violation())
	if err == nil || !strings.Contains(err.Error(), "webhook 2") || strings.Contains(err.Error(), "webhook 1") {
		t.Fatalf("Send: %v, want an error for webhook 2 only", err)
	}
	if good.requests() != 1 || bad.requests() != 1 {
		t.Errorf("requests = %d, %d; want 1, 1", good.requests(), bad.requests())
	}
}

func TestNotifierAttemptTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	n := &Notifier{URLs: []string{srv.URL}, MaxAttempts: 2, AttemptTimeout: 50 * time.Millisecond,
		Sleep: func(context.Context, time.Duration) error { return nil }}
	err := n.Send(t.Context(), violation())
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") || !strings.Contains(err.Error(), "gave up after 2 attempts") {
		t.Fatalf("Send: %v, want a timeout after 2 attempts", err)
	}
}

func TestStopHook(t *testing.T) {
	ecs := inventory.Workload{ID: "arn:aws:ecs:eu-west-1:111122223333:task/prod/abc", Source: inventory.SourceECS,
		Cluster: "arn:aws:ecs:eu-west-1:111122223333:cluster/prod", Name: "abc"}
	tests := map[string]struct {
		secret  string
		status  int
		answer  string
		w       inventory.Workload
		wantErr string
	}{
		"ok":                   {status: 200, answer: `{"task":{}}`, w: ecs},
		"ok/with secret":       {secret: "s3cret", status: 200, w: ecs},
		"fail/403":             {status: 403, answer: `{"__type":"AccessDeniedException","message":"not allowed"}`, w: ecs, wantErr: `HTTP 403 Forbidden: "{\"__type\":\"AccessDeniedException\"`},
		"fail/500 empty body":  {status: 500, w: ecs, wantErr: "HTTP 500 Internal Server Error"},
		"fail/not an ECS task": {status: 200, w: inventory.Workload{ID: "kubernetes/a/b", Source: inventory.SourceKubernetes}, wantErr: "not an ECS task"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var got *http.Request
			var body StopRequest
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r
				json.NewDecoder(r.Body).Decode(&body)
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.answer)
			}))
			defer srv.Close()
			h := &StopHook{URL: srv.URL, Client: srv.Client(), Secret: tt.secret}
			err := h.Stop(t.Context(), tt.w)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Stop: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if got.Method != http.MethodPost || got.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
				got.Header.Get("X-Amz-Target") != "AmazonEC2ContainerServiceV20141113.StopTask" {
				t.Errorf("request %s with headers %v", got.Method, got.Header)
			}
			wantAuth := ""
			if tt.secret != "" {
				wantAuth = "Bearer " + tt.secret
			}
			if a := got.Header.Get("Authorization"); a != wantAuth {
				t.Errorf("Authorization = %q, want %q", a, wantAuth)
			}
			if body.Cluster != ecs.Cluster || body.Task != ecs.ID || body.Reason != DefaultStopReason {
				t.Errorf("body = %+v", body)
			}
		})
	}
}

// The hook's Stop fits the Monitor's.
var _ func(context.Context, inventory.Workload) error = (&StopHook{}).Stop
