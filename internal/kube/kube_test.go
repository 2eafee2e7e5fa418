package kube

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/signet/signet/internal/inventory"
)

const token = "test-token"

// fakeAPI is a Kubernetes API server with a list of pods, paginated, and
// the eviction subresource, which it records.
type fakeAPI struct {
	t    *testing.T
	pods []corev1.Pod
	// guarded pods are protected by a PodDisruptionBudget: their eviction
	// is answered 429.
	guarded map[string]bool

	mu        sync.Mutex
	evictions []string // NAMESPACE/NAME
	pages     []string // the continue tokens asked for
	selectors []string // the field selectors asked for
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+token {
		f.status(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/pods":
		f.list(w, r)
	case r.Method == http.MethodPost && len(parts) == 7 && parts[2] == "namespaces" && parts[4] == "pods" && parts[6] == "eviction":
		f.evict(w, r, parts[3], parts[5])
	default:
		f.status(w, http.StatusNotFound, metav1.StatusReasonNotFound, "no route for "+r.Method+" "+r.URL.Path)
	}
}

func (f *fakeAPI) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	start, _ := strconv.Atoi(q.Get("continue"))
	f.mu.Lock()
	f.pages = append(f.pages, q.Get("continue"))
	f.selectors = append(f.selectors, q.Get("fieldSelector"))
	f.mu.Unlock()
	if limit <= 0 {
		limit = len(f.pods)
	}
	end := min(start+limit, len(f.pods))
	list := corev1.PodList{
		TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		ListMeta: metav1.ListMeta{ResourceVersion: "1000"},
		Items:    f.pods[start:end],
	}
	if end < len(f.pods) {
		list.Continue = strconv.Itoa(end)
	}
	f.json(w, http.StatusOK, list)
}

func (f *fakeAPI) evict(w http.ResponseWriter, r *http.Request, ns, name string) {
	var ev policyv1.Eviction
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || ev.Name != name || ev.Namespace != ns {
		f.t.Errorf("eviction of %s/%s with body %+v (%v)", ns, name, ev, err)
	}
	switch {
	case f.guarded[name]:
		f.status(w, http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests,
			"Cannot evict pod as it would violate the pod's disruption budget.")
	case !slices.ContainsFunc(f.pods, func(p corev1.Pod) bool { return p.Namespace == ns && p.Name == name }):
		f.status(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("pods %q not found", name))
	default:
		f.mu.Lock()
		f.evictions = append(f.evictions, ns+"/"+name)
		f.mu.Unlock()
		f.json(w, http.StatusCreated, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusSuccess, Code: http.StatusCreated})
	}
}

func (f *fakeAPI) status(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	f.json(w, code, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status: metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg})
}

func (f *fakeAPI) json(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		f.t.Error(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// newServer starts f over TLS: client-go sends credentials only over TLS.
func newServer(f *fakeAPI) *httptest.Server {
	return httptest.NewTLSServer(f)
}

// kubeconfig writes a kubeconfig whose context "fake" (the current one)
// points at url and whose context "other" at otherURL; both trust the
// certificate of httptest's TLS servers.
func kubeconfig(t *testing.T, url, otherURL string) string {
	t.Helper()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	srv.Close()
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: %s
    certificate-authority-data: %s
- name: other
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: signet
  user:
    token: %s
contexts:
- name: fake
  context:
    cluster: fake
    user: signet
- name: other
  context:
    cluster: other
    user: signet
current-context: fake
`, url, ca, otherURL, ca, token)
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runningPod(ns, name string, containers ...corev1.ContainerStatus) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: containers},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c.Name, Image: c.Image})
	}
	return p
}

const digest = "sha256:4f0c7e9d1b2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"

func TestListPods(t *testing.T) {
	f := &fakeAPI{t: t}
	for i := range 1203 {
		f.pods = append(f.pods, runningPod("ns"+strconv.Itoa(i%3), fmt.Sprint("pod-", i), corev1.ContainerStatus{
			Name: "app", Image: "reg.example/app:v1", ImageID: "reg.example/app@" + digest,
		}))
	}
	pending := runningPod("ns0", "pending")
	pending.Status.Phase = corev1.PodPending
	f.pods = append(f.pods, pending) // a server that ignores the field selector
	srv := newServer(f)
	defer srv.Close()
	c, err := New(Config{Kubeconfig: kubeconfig(t, srv.URL, "https://127.0.0.1:1")})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := c.ListPods(t.Context())
	if err != nil {
		t.Fatalf("ListPods: %v", err)
	}
	if len(ws) != 1203 {
		t.Fatalf("ListPods returned %d workloads, want 1203", len(ws))
	}
	want := inventory.Workload{ID: "kubernetes/ns2/pod-5", Source: inventory.SourceKubernetes, Namespace: "ns2",
		Name: "pod-5", UID: "uid-pod-5", Images: []string{"reg.example/app@" + digest}}
	if got := ws[5]; got.ID != want.ID || got.Namespace != want.Namespace || got.Name != want.Name ||
		got.UID != want.UID || !slices.Equal(got.Images, want.Images) || got.Source != want.Source {
		t.Errorf("workload 5 = %+v, want %+v", got, want)
	}
	if !slices.Equal(f.pages, []string{"", "500", "1000"}) {
		t.Errorf("pages asked for = %q, want three of 500", f.pages)
	}
	if f.selectors[0] != "status.phase=Running" {
		t.Errorf("field selector = %q", f.selectors[0])
	}
}

func TestWorkloadImages(t *testing.T) {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "api", UID: "u"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "migrate", Image: "reg.example/migrate:3"}},
			Containers: []corev1.Container{
				{Name: "app", Image: "reg.example/app:v1"},
				{Name: "sidecar", Image: "docker.io/library/envoy:1.30"},
				{Name: "local", Image: "reg.example/local:dev"},
				{Name: "starting", Image: "reg.example/late:2"},
			},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox:1.36"}}},
		},
		Status: corev1.PodStatus{
			Phase:                 corev1.PodRunning,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "migrate", Image: "reg.example/migrate:3", ImageID: "reg.example/migrate@sha256:0001"}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", Image: "reg.example/app:v1", ImageID: "docker-pullable://reg.example/app@sha256:0002"},
				{Name: "sidecar", Image: "envoy:1.30", ImageID: "docker.io/library/envoy@sha256:0003"},
				{Name: "local", Image: "reg.example/local:dev", ImageID: "docker://sha256:0004"},
			},
			EphemeralContainerStatuses: []corev1.ContainerStatus{{Name: "debug", Image: "busybox:1.36", ImageID: "sha256:0005"}},
		},
	}
	got := Workload(&p).Images
	want := []string{
		"reg.example/migrate@sha256:0001",
		"reg.example/app@sha256:0002",
		"docker.io/library/envoy@sha256:0003",
		"reg.example/local:dev", // a local image ID: the spec image
		"busybox:1.36",
		"reg.example/late:2", // no status yet: the spec image
	}
	if !slices.Equal(got, want) {
		t.Errorf("images =\n%q\nwant\n%q", got, want)
	}
}

func TestEvict(t *testing.T) {
	f := &fakeAPI{t: t, guarded: map[string]bool{"guarded": true}}
	f.pods = []corev1.Pod{runningPod("prod", "bad"), runningPod("prod", "guarded")}
	srv := newServer(f)
	defer srv.Close()
	c, err := New(Config{Kubeconfig: kubeconfig(t, srv.URL, "https://127.0.0.1:1")})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		ns, name string
		wantErr  string
	}{
		"ok":              {ns: "prod", name: "bad"},
		"ok/already gone": {ns: "prod", name: "vanished"},
		"fail/pdb":        {ns: "prod", name: "guarded", wantErr: "PodDisruptionBudget does not allow it now (429)"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := c.EvictWorkload(t.Context(), inventory.Workload{
				ID: inventory.KubernetesID(tt.ns, tt.name), Source: inventory.SourceKubernetes, Namespace: tt.ns, Name: tt.name})
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Evict: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Evict: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	if !slices.Equal(f.evictions, []string{"prod/bad"}) {
		t.Errorf("evictions = %q, want only prod/bad", f.evictions)
	}
	if err := c.EvictWorkload(t.Context(), inventory.Workload{ID: "arn:aws:ecs:…", Source: inventory.SourceECS}); err == nil {
		t.Error("EvictWorkload of an ECS task succeeded")
	}
}

func TestNew(t *testing.T) {
	f := &fakeAPI{t: t, pods: []corev1.Pod{runningPod("other", "p", corev1.ContainerStatus{Name: "c", Image: "i"})}}
	srv := newServer(f)
	defer srv.Close()
	path := kubeconfig(t, "https://127.0.0.1:1", srv.URL)

	// The context "other" is the one that reaches the server.
	c, err := New(Config{Kubeconfig: path, Context: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if ws, err := c.ListPods(t.Context()); err != nil || len(ws) != 1 {
		t.Errorf("ListPods through context other: %v, %v", ws, err)
	}

	tests := map[string]struct {
		cfg     Config
		wantErr string
	}{
		"fail/nothing":          {Config{}, "set Kubeconfig"},
		"fail/both":             {Config{InCluster: true, Kubeconfig: path}, "either InCluster or Kubeconfig"},
		"fail/missing file":     {Config{Kubeconfig: filepath.Join(t.TempDir(), "none")}, "kubeconfig"},
		"fail/unknown context":  {Config{Kubeconfig: path, Context: "nope"}, "nope"},
		"fail/not in a cluster": {Config{InCluster: true}, "in-cluster"},
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New(%+v): %v, want an error containing %q", tt.cfg, err, tt.wantErr)
			}
		})
	}
}

func TestListPodsUnauthorized(t *testing.T) {
	f := &fakeAPI{t: t}
	srv := newServer(f)
	defer srv.Close()
	cfg := strings.ReplaceAll(readFile(t, kubeconfig(t, srv.URL, srv.URL)), token, "wrong")
	p := filepath.Join(t.TempDir(), "kc")
	os.WriteFile(p, []byte(cfg), 0o600)
	c, err := New(Config{Kubeconfig: p})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListPods(t.Context())
	if err == nil || !strings.Contains(err.Error(), `needs "list" on pods`) {
		t.Fatalf("ListPods: %v, want an error saying what to grant", err)
	}
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestImageOf(t *testing.T) {
	tests := []struct{ id, spec, want string }{
		{"docker-pullable://reg/app@sha256:01", "reg/app:1", "reg/app@sha256:01"},
		{"reg/app@sha256:01", "reg/app:1", "reg/app@sha256:01"},
		{"sha256:01", "reg/app:1", "reg/app:1"},
		{"docker://sha256:01", "reg/app:1", "reg/app:1"},
		{"", "reg/app:1", "reg/app:1"},
		{"@sha256:01", "reg/app:1", "reg/app:1"},
	}
	for _, tt := range tests {
		if got := ImageOf(tt.id, tt.spec); got != tt.want {
			t.Errorf("ImageOf(%q, %q) = %q, want %q", tt.id, tt.spec, got, tt.want)
		}
	}
}
