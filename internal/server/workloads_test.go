package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/images/registrytest"
	"github.com/signet/signet/internal/inventory"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/store/pgtest"
)

// fakeAPIServer is the part of a Kubernetes API server continuous
// validation uses: the list of pods and the eviction subresource, which
// it records.
type fakeAPIServer struct {
	*httptest.Server
	mu      sync.Mutex
	pods    []corev1.Pod
	evicted []string
}

func startFakeAPIServer(t testing.TB) *fakeAPIServer {
	t.Helper()
	f := &fakeAPIServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/pods", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		list := corev1.PodList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"}, ListMeta: metav1.ListMeta{ResourceVersion: "100"}, Items: f.pods}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(list)
	})
	mux.HandleFunc("POST /api/v1/namespaces/{ns}/pods/{name}/eviction", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.evicted = append(f.evicted, r.PathValue("ns")+"/"+r.PathValue("name"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusSuccess, Code: 201})
	})
	// TLS: client-go sends its bearer token only over https.
	f.Server = httptest.NewTLSServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPIServer) kubeconfig(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority-data: %s
contexts:
- name: test
  context:
    cluster: test
    user: signet
current-context: test
users:
- name: signet
  user:
    token: test-token
`, f.URL, base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Certificate().Raw})))
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fakeAPIServer) evictions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.evicted...)
}

// runningPod is a pod the kubelet reports running image ref (by tag) as
// digest.
func runningPod(ns, name, ref, digest string) corev1.Pod {
	return corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: ref}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Image: ref, ImageID: strings.SplitN(ref, ":v1", 2)[0] + "@" + digest, Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
		}}},
	}
}

// waitFor polls cond until it holds or a deadline far beyond any real
// wait passes (the suite must pass on a loaded machine; the time it
// takes is measured by BenchmarkWorkloadRevocation, not asserted here).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWorkloadsRevocationEvicts: a pod already running a signed image
// is compliant; once the signature is revoked it is a violation at once
// (no check round needed), evicted through the Eviction API, audited,
// listed by the API.
func TestWorkloadsRevocationEvicts(t *testing.T) {
	registrytest.Tool(t, "registry", "SIGNET_REGISTRY")
	api := startFakeAPIServer(t)
	e := newAdmissionEnv(t, func(reg *registrytest.Registry, c *config.Config) {
		c.Admission.Policies = append([]config.AdmissionPolicy{{Name: "running", Namespaces: []string{"shop"}, Images: []string{reg.Host + "/*"}, Profiles: []string{"images"}, Action: "evict"}}, c.Admission.Policies...)
		c.Workloads.Kubernetes.Kubeconfig = api.kubeconfig(t)
		c.Workloads.Kubernetes.ListInterval = "1s"
		c.Workloads.CheckInterval = "1h" // only lists and revocations trigger checks here
	})
	ref, job := signImage(t, e.srv, e.reg, "images", "demo/running")
	digest, err := e.srv.Admission().Policies[0].Verifier.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	_, d, _ := strings.Cut(digest, "@")
	api.mu.Lock()
	api.pods = []corev1.Pod{runningPod("shop", "web-1", ref, d)}
	api.mu.Unlock()
	mon := e.srv.Workloads()
	// The list on start, or the next one, brings the pod in and checks it.
	waitFor(t, "the running pod to be listed and found compliant", func() bool {
		for _, s := range mon.Workloads() {
			if s.Workload.ID == "kubernetes/shop/web-1" && len(s.Images) == 1 && s.Images[0].Checked && s.Images[0].Result.Compliant {
				return true
			}
		}
		return false
	})
	if v := mon.Violations(); len(v) != 0 {
		t.Fatalf("violations before revocation: %+v", v)
	}
	if _, err := e.srv.Signer().RevokeSignature(context.Background(), &signer.RevokeSignatureInput{JobId: aws.String(job), Reason: aws.String("leaked build")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the eviction of shop/web-1 to be recorded", func() bool {
		v := mon.Violations()
		return len(v) == 1 && v[0].Outcome != ""
	})
	if got := api.evictions(); len(got) != 1 || got[0] != "shop/web-1" {
		t.Errorf("evictions %v", got)
	}
	v := mon.Violations()
	if len(v) != 1 || v[0].Rule != "revocation" || v[0].Outcome != inventory.OutcomeEvicted || v[0].Workload.ID != "kubernetes/shop/web-1" {
		t.Fatalf("violations %+v", v)
	}
	// The API (through the CLI), the metrics and the audit log say so.
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", e.srv.CredentialsPath())
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	signet := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := cli.Main(context.Background(), append(args, "--endpoint", e.srv.URL), &out, &errb); code != 0 {
			t.Fatalf("signet %v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	if out := signet("workloads", "violations"); !strings.Contains(out, "kubernetes/shop/web-1") || !strings.Contains(out, "revocation") || !strings.Contains(out, "evicted") {
		t.Errorf("signet workloads violations:\n%s", out)
	}
	if out := signet("workloads", "list", "--output", "json"); !strings.Contains(out, `"id": "kubernetes/shop/web-1"`) && !strings.Contains(out, `"id":"kubernetes/shop/web-1"`) {
		t.Errorf("signet workloads list --output json:\n%s", out)
	}
	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"signet_workloads 1\n", "signet_workload_violations 1\n", `signet_workload_violations_total{rule="revocation"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}
	waitFor(t, "the violation's audit record", func() bool {
		var out, errb bytes.Buffer
		cli.Main(context.Background(), []string{"audit", "query", "--data-dir", e.srv.Config().DataDir, "--database-url", e.srv.Config().DatabaseURL,
			"--action", "workloads:Violation"}, &out, &errb)
		return strings.Contains(out.String(), "kubernetes/shop/web-1") && strings.Contains(out.String(), "revocation")
	})
}

// ecsEvent is an EventBridge "ECS Task State Change" event.
func ecsEvent(task, status string, version int, image, digest string) string {
	return fmt.Sprintf(`{"version":"0","id":"%d","detail-type":"ECS Task State Change","source":"aws.ecs","account":"111122223333","time":"2026-12-04T10:00:00Z","region":"us-east-1",
"resources":["%s"],"detail":{"clusterArn":"arn:aws:ecs:us-east-1:111122223333:cluster/shop","taskArn":"%s","lastStatus":"%s","desiredStatus":"%s","version":%d,"startedBy":"ecs-svc/1234",
"containers":[{"name":"app","image":"%s","imageDigest":"%s","lastStatus":"%s"}]}}`, version, task, task, status, status, version, image, digest, status)
}

// TestWorkloadsECSEvents: a task reported running with an unsigned image
// through an ECS event is a violation at once and the stop hook gets its
// ARN; the same event again, or an older one, changes nothing; events
// need the secret.
func TestWorkloadsECSEvents(t *testing.T) {
	registrytest.Tool(t, "registry", "SIGNET_REGISTRY")
	var mu sync.Mutex
	var stops []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Cluster, Task, Reason string }
		json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		stops = append(stops, req.Task+" "+r.Header.Get("X-Amz-Target"))
		mu.Unlock()
		w.Write([]byte(`{"task":{}}`))
	}))
	defer hook.Close()
	const secret = "a-long-enough-shared-secret"
	e := newAdmissionEnv(t, func(reg *registrytest.Registry, c *config.Config) {
		c.Admission.Policies = append(c.Admission.Policies, config.AdmissionPolicy{Name: "ecs", Images: []string{reg.Host + "/*"}, Profiles: []string{"images"}, Action: "evict"}) // no namespaces: ECS tasks fall under it
		c.Workloads.ECSEventsSecret = secret
		c.Workloads.ECSStopHook.URL = hook.URL
	})
	digest, err := e.srv.Admission().Policies[0].Verifier.Resolve(context.Background(), e.refs["unsigned"])
	if err != nil {
		t.Fatal(err)
	}
	_, d, _ := strings.Cut(digest, "@")
	task := "arn:aws:ecs:us-east-1:111122223333:task/shop/0123456789abcdef"
	post := func(body, auth string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/ecs/events", strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		json.Unmarshal(b, &out)
		return resp.StatusCode, out
	}
	if code, _ := post(ecsEvent(task, "RUNNING", 3, e.refs["unsigned"], d), "Bearer wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d", code)
	}
	// answered: what the event changed; on a shared database (the run
	// with SIGNET_TEST_STORE=postgres) the event may be answered as
	// queued when the node running continuous validation takes longer
	// than the bounded wait (a loaded machine): its effect is awaited.
	answered := func(out map[string]any, want bool) bool { return out["changed"] == want || out["queued"] == true }
	if code, out := post(ecsEvent(task, "RUNNING", 3, e.refs["unsigned"], d), "Bearer "+secret); code != 200 || !answered(out, true) {
		t.Fatalf("running event: %d %v", code, out)
	}
	mon := e.srv.Workloads()
	waitFor(t, "the stop to be recorded", func() bool {
		v := mon.Violations()
		return len(v) == 1 && v[0].Outcome != ""
	})
	v := mon.Violations()
	if len(v) != 1 || v[0].Rule != "unsigned" || v[0].Workload.ID != task || v[0].Outcome != inventory.OutcomeStopped {
		t.Fatalf("violations %+v", v)
	}
	for name, body := range map[string]string{
		"duplicate":    ecsEvent(task, "RUNNING", 3, e.refs["unsigned"], d),
		"out-of-order": ecsEvent(task, "PENDING", 2, e.refs["unsigned"], d),
	} {
		if code, out := post(body, "Bearer "+secret); code != 200 || !answered(out, false) {
			t.Errorf("%s: %d %v", name, code, out)
		}
	}
	mu.Lock()
	if len(stops) != 1 || !strings.HasPrefix(stops[0], task+" AmazonEC2ContainerServiceV20141113.StopTask") {
		t.Errorf("stop hook calls %v", stops)
	}
	mu.Unlock()
	if code, _ := post(`{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2"}`, "Bearer "+secret); code != http.StatusBadRequest {
		t.Errorf("another event type: %d", code)
	}
	if code, out := post(ecsEvent(task, "STOPPED", 4, e.refs["unsigned"], d), "Bearer "+secret); code != 200 || !answered(out, true) {
		t.Errorf("stopped: %d %v", code, out)
	}
	waitFor(t, "the stopped task's violation to go", func() bool { return len(mon.Violations()) == 0 })
}

// TestNodesShareWorkloads: continuous validation on two nodes sharing a
// database. One node holds the work; events sent to the other are queued
// for it and answered with what they changed; a violation is acted on
// once, and both nodes list it. When the holder stops, the other takes
// over from the saved state (acting on nothing twice) and a revocation
// made there stops the task whose signature it revokes.
func TestNodesShareWorkloads(t *testing.T) {
	registrytest.Tool(t, "registry", "SIGNET_REGISTRY")
	dsn := pgtest.DSN(t)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if _, _, err := keys.LoadOrCreateMasterKey(keyFile); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	stops := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Task string }
		json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		stops[req.Task]++
		mu.Unlock()
		w.Write([]byte(`{"task":{}}`))
	}))
	defer hook.Close()
	stopped := func(task string) int { mu.Lock(); defer mu.Unlock(); return stops[task] }
	const secret = "a-long-enough-shared-secret"
	e := newAdmissionEnv(t, func(reg *registrytest.Registry, c *config.Config) {
		c.DatabaseURL, c.MasterKeyFile = dsn, keyFile
		c.Admission.Policies = append(c.Admission.Policies, config.AdmissionPolicy{Name: "ecs", Images: []string{reg.Host + "/*"}, Profiles: []string{"images"}, Action: "evict"})
		c.Workloads.ECSEventsSecret = secret
		c.Workloads.ECSStopHook.URL = hook.URL
		c.Workloads.LeaderLease = "2s"
	})
	acfg := e.srv.Config()
	other := servertest.StartWith(t, func(c *config.Config) {
		c.DatabaseURL, c.MasterKeyFile = dsn, keyFile
		c.Admission, c.Workloads = acfg.Admission, acfg.Workloads
		c.Admission.Listen = "127.0.0.1:0"
	})
	nodes := []*servertest.Server{e.srv, other}
	var leader, follower *servertest.Server
	waitFor(t, "one node to run continuous validation", func() bool {
		switch {
		case nodes[0].WorkloadsLeader() && !nodes[1].WorkloadsLeader():
			leader, follower = nodes[0], nodes[1]
		case nodes[1].WorkloadsLeader() && !nodes[0].WorkloadsLeader():
			leader, follower = nodes[1], nodes[0]
		}
		return leader != nil
	})
	digestOf := func(ref string) string {
		digest, err := e.srv.Admission().Policies[0].Verifier.Resolve(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		_, d, _ := strings.Cut(digest, "@")
		return d
	}
	post := func(srv *servertest.Server, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/ecs/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST /ecs/events: %d %v", resp.StatusCode, err)
		}
		return out
	}
	// answered: the holder's answer came (changed as want), or the event
	// is queued (a loaded machine: the answer is bounded in time).
	answered := func(out map[string]any, want bool) {
		t.Helper()
		if out["queued"] != true && out["changed"] != want {
			t.Errorf("answer %v, want changed: %v", out, want)
		}
	}
	unsignedTask := "arn:aws:ecs:us-east-1:111122223333:task/shop/unsigned0001"
	signedTask := "arn:aws:ecs:us-east-1:111122223333:task/shop/signed000001"
	answered(post(follower, ecsEvent(unsignedTask, "RUNNING", 3, e.refs["unsigned"], digestOf(e.refs["unsigned"]))), true)
	answered(post(follower, ecsEvent(signedTask, "RUNNING", 3, e.refs["signed"], digestOf(e.refs["signed"]))), true)
	for _, n := range nodes {
		waitFor(t, "both nodes to list the stopped violation", func() bool {
			v := n.Workloads().Violations()
			return len(v) == 1 && v[0].Workload.ID == unsignedTask && v[0].Outcome == inventory.OutcomeStopped
		})
		waitFor(t, "both nodes to list the compliant task", func() bool {
			for _, st := range n.Workloads().Workloads() {
				if st.Workload.ID == signedTask && len(st.Images) == 1 && st.Images[0].Checked && st.Images[0].Result.Compliant {
					return true
				}
			}
			return false
		})
	}
	answered(post(leader, ecsEvent(unsignedTask, "RUNNING", 3, e.refs["unsigned"], digestOf(e.refs["unsigned"]))), false) // a duplicate

	// The holder stops; the other takes over from the saved state.
	leader.Stop()
	waitFor(t, "the other node to take over", follower.WorkloadsLeader)
	if _, err := follower.Signer().RevokeSignature(context.Background(), &signer.RevokeSignatureInput{JobId: aws.String(e.jobs["signed"]),
		Reason: aws.String("built from a compromised commit")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the revoked task to be stopped", func() bool { return stopped(signedTask) == 1 })
	if n := stopped(unsignedTask); n != 1 {
		t.Errorf("the unsigned task was stopped %d times, want once", n)
	}
	v := follower.Workloads().Violations()
	if len(v) != 2 {
		t.Errorf("violations after the takeover: %+v", v)
	}
}
