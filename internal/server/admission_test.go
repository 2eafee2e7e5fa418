package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"
	"github.com/google/uuid"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/signet/signet/internal/admission"
	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/images"
	"github.com/signet/signet/internal/images/registrytest"
	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/server/servertest"
)

var updateAdmission = flag.Bool("update-admission", false, "rewrite testdata/admission from the Kubernetes API types")

// Placeholders of the golden AdmissionReviews, replaced per case.
const (
	phImage     = "__IMAGE__"
	phSigned    = "__SIGNED_IMAGE__"
	phNamespace = "__NAMESPACE__"
	phUID       = "__UID__"
)

func raw(t testing.TB, o any) runtime.RawExtension {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return runtime.RawExtension{Raw: b}
}

// goldenReviews builds the AdmissionReview requests kube-apiserver sends
// for each kind the webhook judges, from the Kubernetes API types, with
// and without the break-glass annotation.
func goldenReviews(t testing.TB) map[string]admissionv1.AdmissionReview {
	t.Helper()
	meta := func(name string, bg bool) metav1.ObjectMeta {
		m := metav1.ObjectMeta{Name: name, Namespace: phNamespace, Labels: map[string]string{"app": name}}
		if bg {
			m.Annotations = map[string]string{admission.BreakGlassAnnotation: "incident INC-1234: registry outage"}
		}
		return m
	}
	podSpec := func(init, ephemeral bool) corev1.PodSpec {
		s := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: phImage}}}
		if init {
			s.InitContainers = []corev1.Container{{Name: "migrate", Image: phImage}}
			s.Containers[0].Image = phSigned
		}
		if ephemeral {
			s.Containers[0].Image = phSigned
			s.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: phImage}, TargetContainerName: "app"}}
		}
		return s
	}
	user := authenticationv1.UserInfo{Username: "alice@example.com", UID: "8c1a9f3e", Groups: []string{"developers", "system:authenticated"}}
	ci := authenticationv1.UserInfo{Username: "system:serviceaccount:ci:deployer", UID: "f3b2", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"}}
	req := func(gvk metav1.GroupVersionKind, gvr metav1.GroupVersionResource, sub, name string, op admissionv1.Operation, u authenticationv1.UserInfo, obj, old any) admissionv1.AdmissionReview {
		f := false
		r := &admissionv1.AdmissionRequest{
			UID: phUID, Kind: gvk, Resource: gvr, SubResource: sub, RequestKind: &gvk, RequestResource: &gvr, RequestSubResource: sub,
			Name: name, Namespace: phNamespace, Operation: op, UserInfo: u, Object: raw(t, obj), DryRun: &f,
		}
		if old != nil {
			r.OldObject = raw(t, old)
			r.Options = raw(t, metav1.UpdateOptions{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "UpdateOptions"}})
		} else {
			r.Options = raw(t, metav1.CreateOptions{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "CreateOptions"}})
		}
		return admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: r}
	}
	podGVK, podGVR := metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, metav1.GroupVersionResource{Version: "v1", Resource: "pods"}
	out := map[string]admissionv1.AdmissionReview{}
	for _, bg := range []bool{false, true} {
		suffix := ""
		if bg {
			suffix = "-breakglass"
		}
		pod := func(name string, spec corev1.PodSpec) corev1.Pod {
			return corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: meta(name, bg), Spec: spec}
		}
		out["pod"+suffix] = req(podGVK, podGVR, "", "web", admissionv1.Create, user, pod("web", podSpec(false, false)), nil)
		out["pod-init"+suffix] = req(podGVK, podGVR, "", "web", admissionv1.Create, user, pod("web", podSpec(true, false)), nil)
		debugged := pod("web", podSpec(false, true))
		before := pod("web", podSpec(false, false))
		before.Spec.Containers[0].Image = phSigned
		out["pod-ephemeral"+suffix] = req(podGVK, podGVR, "ephemeralcontainers", "web", admissionv1.Update, user, debugged, before)
		template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}}, Spec: podSpec(false, false)}
		replicas := int32(2)
		dep := appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta("api", bg),
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}, Template: template}}
		out["deployment"+suffix] = req(metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "", "api", admissionv1.Create, ci, dep, nil)
		jobTemplate := template
		jobTemplate.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		cron := batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}, ObjectMeta: meta("nightly", bg),
			Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: jobTemplate}}}}
		out["cronjob"+suffix] = req(metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"},
			metav1.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, "", "nightly", admissionv1.Create, ci, cron, nil)
	}
	return out
}

// TestAdmissionGoldenRequests: the committed AdmissionReviews are what
// the Kubernetes API types marshal to (-update-admission rewrites them).
func TestAdmissionGoldenRequests(t *testing.T) {
	for name, review := range goldenReviews(t) {
		b, err := json.MarshalIndent(review, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, '\n')
		path := filepath.Join("testdata", "admission", name+".json")
		if *updateAdmission {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestAdmissionGoldenRequests -update-admission)", err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s differs from what the Kubernetes API types marshal to; rerun with -update-admission", path)
		}
	}
}

// admissionEnv is a Signet with admission webhooks over TLS, a registry,
// and images in each state.
type admissionEnv struct {
	srv    *servertest.Server
	reg    *registrytest.Registry
	url    string
	client *http.Client
	refs   map[string]string // state → image reference by tag
	jobs   map[string]string // state → signing job id
	mu     sync.Mutex
	events []audit.Event
}

func (e *admissionEnv) audited(uid string) (audit.Event, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.events {
		if ev.RequestID == uid {
			return ev, true
		}
	}
	return audit.Event{}, false
}

// signImage pushes an artifact and signs it with a profile through
// SignPayload; it returns the tag reference and the signing job.
func signImage(t testing.TB, srv *servertest.Server, reg *registrytest.Registry, profile, repo string) (string, string) {
	t.Helper()
	reg.PushArtifact(t, repo, "v1", []byte("image "+repo))
	ref := reg.Host + "/" + repo + ":v1"
	var job string
	sign := func(ctx context.Context, payload []byte) ([]byte, error) {
		out, err := srv.Signer().SignPayload(ctx, &signer.SignPayloadInput{ProfileName: aws.String(profile), Payload: payload, PayloadFormat: aws.String(notary.PayloadType)})
		if err != nil {
			return nil, err
		}
		job = aws.ToString(out.JobId)
		return out.Signature, nil
	}
	if _, err := images.Sign(context.Background(), ref, sign, images.Options{PlainHTTP: true}); err != nil {
		t.Fatalf("sign %s: %v", ref, err)
	}
	return ref, job
}

// envOption changes the configuration of an admissionEnv's server.
type envOption func(reg *registrytest.Registry, c *config.Config)

func newAdmissionEnv(t testing.TB, edits ...envOption) *admissionEnv {
	t.Helper()
	reg := registrytest.Start(t, registrytest.Options{})
	// The installation starts three days in the past, when one image is
	// signed for a day; then its clock is the real one.
	var past atomic.Bool
	past.Store(true)
	now := func() time.Time {
		if past.Load() {
			return time.Now().Add(-72 * time.Hour).UTC()
		}
		return time.Now().UTC()
	}
	trusted := []string{"images", "shortlived"}
	policies := []config.AdmissionPolicy{
		{Name: "enforce", Namespaces: []string{"enforce"}, Images: []string{reg.Host + "/*"}, Profiles: trusted},
		{Name: "warn", Namespaces: []string{"warn"}, Images: []string{reg.Host + "/*"}, Mode: "Warn", Profiles: trusted},
		{Name: "dryrun", Namespaces: []string{"dryrun"}, Images: []string{reg.Host + "/*"}, Mode: "DryRun", Profiles: trusted},
	}
	srv := servertest.StartWithConfigAndClock(t, func(c *config.Config) {
		c.Admission = config.Admission{Listen: "127.0.0.1:0", InsecureRegistries: []string{reg.Host}, Policies: policies}
		for _, edit := range edits {
			edit(reg, c)
		}
	}, now)
	ctx := context.Background()
	e := &admissionEnv{srv: srv, reg: reg, refs: map[string]string{}, jobs: map[string]string{}}
	put := func(name string, days int32) {
		in := &signer.PutSigningProfileInput{ProfileName: aws.String(name), PlatformId: aws.String("Notation-OCI-SHA384-ECDSA")}
		if days > 0 {
			in.SignatureValidityPeriod = &types.SignatureValidityPeriod{Value: days, Type: types.ValidityTypeDays}
		}
		if _, err := srv.Signer().PutSigningProfile(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	put("shortlived", 1)
	e.refs["expired"], _ = signImage(t, srv, reg, "shortlived", "demo/expired")
	past.Store(false)
	put("images", 0)
	put("other", 0)
	e.refs["signed"], e.jobs["signed"] = signImage(t, srv, reg, "images", "demo/signed")
	e.refs["revoked"], e.jobs["revoked"] = signImage(t, srv, reg, "images", "demo/revoked")
	e.refs["wrong-identity"], _ = signImage(t, srv, reg, "other", "demo/other")
	reg.PushArtifact(t, "demo/unsigned", "v1", []byte("never signed"))
	e.refs["unsigned"] = reg.Host + "/demo/unsigned:v1"
	if _, err := srv.Signer().RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: aws.String(e.jobs["revoked"]), Reason: aws.String("built from a compromised commit")}); err != nil {
		t.Fatal(err)
	}

	ctl := srv.Admission()
	orig := ctl.Audit
	ctl.Audit = func(ctx context.Context, ev audit.Event) {
		e.mu.Lock()
		e.events = append(e.events, ev)
		e.mu.Unlock()
		orig(ctx, ev)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.ServeAdmission(sctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	pool := x509.NewCertPool()
	pool.AddCert(srv.TLSCA())
	e.url = "https://" + l.Addr().String()
	// As kube-apiserver calls webhooks: HTTP/2 over one TLS connection.
	e.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true, MaxIdleConnsPerHost: admissionBurst}}
	return e
}

// review sends a golden AdmissionReview with its placeholders replaced
// to path (/validate or /mutate) and returns the response.
func (e *admissionEnv) review(t testing.TB, path, golden, namespace, image string) (*admissionv1.AdmissionResponse, string) {
	t.Helper()
	return e.reviewWithin(t, path, golden, namespace, image, 10*time.Second)
}

func (e *admissionEnv) reviewWithin(t testing.TB, path, golden, namespace, image string, timeout time.Duration) (*admissionv1.AdmissionResponse, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "admission", golden+".json"))
	if err != nil {
		t.Fatal(err)
	}
	uid := uuid.NewString()
	body := strings.NewReplacer(phImage, image, phSigned, e.refs["signed"], phNamespace, namespace, phUID, uid).Replace(string(b))
	resp, err := e.client.Post(e.url+path+"?timeout="+timeout.String(), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s\n%s", path, resp.Status, out)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &review); err != nil || review.Response == nil || review.APIVersion != "admission.k8s.io/v1" || review.Kind != "AdmissionReview" {
		t.Fatalf("answer %s: %v", out, err)
	}
	if string(review.Response.UID) != uid {
		t.Fatalf("answer uid %q, want %q", review.Response.UID, uid)
	}
	return review.Response, uid
}

// TestAdmissionReviews: every state of an image × every mode × every
// kind, through the TLS webhook, with the exact answer and audit event.
func TestAdmissionReviews(t *testing.T) {
	registrytest.Tool(t, "registry", "SIGNET_REGISTRY")
	e := newAdmissionEnv(t)
	kinds := map[string]struct{ kind, name, user string }{
		"pod":           {"Pod", "web", "alice@example.com"},
		"pod-init":      {"Pod", "web", "alice@example.com"},
		"pod-ephemeral": {"Pod", "web", "alice@example.com"},
		"deployment":    {"Deployment", "api", "system:serviceaccount:ci:deployer"},
		"cronjob":       {"CronJob", "nightly", "system:serviceaccount:ci:deployer"},
	}
	states := []struct {
		state, rule string // rule: "" when verified
		breakGlass  bool
	}{
		{"signed", "", false},
		{"unsigned", "unsigned", false},
		{"wrong-identity", "trustedIdentity", false},
		{"revoked", "revocation", false},
		{"expired", "expiry", false},
		{"unsigned", "unsigned", true},
	}
	for golden, k := range kinds {
		for _, s := range states {
			for _, mode := range []string{"enforce", "warn", "dryrun"} {
				name := fmt.Sprintf("%s/%s/%s", golden, s.state, mode)
				file := golden
				if s.breakGlass {
					name, file = fmt.Sprintf("%s/break-glass/%s", golden, mode), golden+"-breakglass"
				}
				t.Run(name, func(t *testing.T) {
					image := e.refs[s.state]
					resp, uid := e.review(t, "/validate", file, mode, image)
					msg := ""
					if resp.Result != nil {
						msg = resp.Result.Message
					}
					wantAllowed := s.rule == "" || s.breakGlass || mode != "enforce"
					if resp.Allowed != wantAllowed {
						t.Fatalf("allowed = %v, want %v (message %q, warnings %q)", resp.Allowed, wantAllowed, msg, resp.Warnings)
					}
					wantDecision := admission.DecisionAllow
					switch {
					case s.breakGlass:
						wantDecision = admission.DecisionBreakGlas
						if len(resp.Warnings) == 0 || !strings.HasPrefix(resp.Warnings[0], `break-glass (signet.io/break-glass="incident INC-1234: registry outage")`) || msg != "" {
							t.Errorf("break-glass: warnings %q, message %q", resp.Warnings, msg)
						}
					case s.rule == "":
						if msg != "" || len(resp.Warnings) != 0 {
							t.Errorf("verified: message %q, warnings %q", msg, resp.Warnings)
						}
					case mode == "enforce":
						wantDecision = admission.DecisionDeny
						want := fmt.Sprintf("signet: image %s: %s: ", image, s.rule)
						if !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, "(policy enforce)") || resp.Result.Code != 403 || resp.Result.Reason != metav1.StatusReasonForbidden || len(resp.Warnings) != 0 {
							t.Errorf("denial: %+v, warnings %q; want a 403 message starting %q", resp.Result, resp.Warnings, want)
						}
					case mode == "warn":
						wantDecision = admission.DecisionWarn
						want := fmt.Sprintf("image %s: %s: ", image, s.rule)
						if msg != "" || len(resp.Warnings) != 1 || !strings.HasPrefix(resp.Warnings[0], want) || !strings.HasSuffix(resp.Warnings[0], "(policy warn, mode Warn: admitted)") {
							t.Errorf("warn: message %q, warnings %q; want one warning starting %q", msg, resp.Warnings, want)
						}
					default:
						wantDecision = admission.DecisionDryRun
						if msg != "" || len(resp.Warnings) != 0 {
							t.Errorf("dry run: message %q, warnings %q", msg, resp.Warnings)
						}
					}
					ev, ok := e.audited(uid)
					if !ok {
						t.Fatalf("no audit event for request %s", uid)
					}
					wantResource := fmt.Sprintf("kubernetes:%s/%s/%s", mode, k.kind, k.name)
					if ev.Principal != k.user || ev.Action != "admission:Validate" || ev.Resource != wantResource || ev.Decision != wantDecision || ev.BreakGlass != s.breakGlass {
						t.Errorf("audit event %+v; want principal %s, resource %s, decision %s, break-glass %v", ev, k.user, wantResource, wantDecision, s.breakGlass)
					}
					if s.rule != "" && !strings.Contains(ev.Detail, s.rule) {
						t.Errorf("audit detail %q does not name the rule %s", ev.Detail, s.rule)
					}
				})
			}
		}
	}
}

// TestAdmissionRevocationAtOnce: a digest cached as allowed is denied by
// the very next review after RevokeSignature returns, with no waiting.
func TestAdmissionRevocationAtOnce(t *testing.T) {
	registrytest.Tool(t, "registry", "SIGNET_REGISTRY")
	e := newAdmissionEnv(t)
	ref, job := signImage(t, e.srv, e.reg, "images", "demo/soon-revoked")
	if resp, _ := e.review(t, "/validate", "pod", "enforce", ref); !resp.Allowed {
		t.Fatalf("before revocation: %+v", resp.Result)
	}
	if v := e.srv.Admission().Check(context.Background(), "enforce", ref); !v.Allowed || !v.Cached || !slices.Contains(v.Deps, e.srv.Profiles.Account.JobARN(job)) {
		t.Fatalf("the verdict is not cached with its job: %+v", v)
	}
	if _, err := e.srv.Signer().RevokeSignature(context.Background(), &signer.RevokeSignatureInput{JobId: aws.String(job), Reason: aws.String("leaked")}); err != nil {
		t.Fatal(err)
	}
	resp, _ := e.review(t, "/validate", "pod", "enforce", ref)
	if resp.Allowed || resp.Result == nil || !strings.Contains(resp.Result.Message, ": revocation: ") {
		t.Fatalf("the next review after RevokeSignature: allowed %v, %+v", resp.Allowed, resp.Result)
	}
}

// TestAdmissionMutatePinsDigests: the mutating webhook replaces a
// verified image's tag by tag@digest, and leaves refused images alone.
func TestAdmissionMutatePinsDigests(t *testing.T) {
	registrytest.Tool(t, "registry", "SIGNET_REGISTRY")
	e := newAdmissionEnv(t)
	ctx := context.Background()
	digest, err := e.srv.Admission().Policies[0].Verifier.Resolve(ctx, e.refs["signed"])
	if err != nil {
		t.Fatal(err)
	}
	_, d, _ := strings.Cut(digest, "@")
	cases := []struct {
		golden, image, patch string
	}{
		{"pod", e.refs["signed"], `[{"op":"replace","path":"/spec/containers/0/image","value":"` + e.refs["signed"] + "@" + d + `"}]`},
		{"deployment", e.refs["signed"], `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"` + e.refs["signed"] + "@" + d + `"}]`},
		{"cronjob", e.refs["signed"], `[{"op":"replace","path":"/spec/jobTemplate/spec/template/spec/containers/0/image","value":"` + e.refs["signed"] + "@" + d + `"}]`},
		{"pod-init", e.refs["signed"], `[{"op":"replace","path":"/spec/initContainers/0/image","value":"` + e.refs["signed"] + "@" + d + `"},{"op":"replace","path":"/spec/containers/0/image","value":"` + e.refs["signed"] + "@" + d + `"}]`},
		{"pod", e.refs["unsigned"], ""},
		{"pod", digest, ""},
	}
	for _, c := range cases {
		t.Run(c.golden+"/"+c.image, func(t *testing.T) {
			resp, _ := e.review(t, "/mutate", c.golden, "enforce", c.image)
			if !resp.Allowed || string(resp.Patch) != c.patch {
				t.Fatalf("allowed %v, patch %s; want %s", resp.Allowed, resp.Patch, c.patch)
			}
			if c.patch != "" && (resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch) {
				t.Errorf("patch type %v", resp.PatchType)
			}
		})
	}
}

// TestAdmissionBadRequests: what is not an AdmissionReview v1 gets a
// 4xx that says what is wrong.
func TestAdmissionBadRequests(t *testing.T) {
	registrytest.Tool(t, "registry", "SIGNET_REGISTRY")
	e := newAdmissionEnv(t)
	cases := []struct {
		name, contentType, body string
		status                  int
		says                    string
	}{
		{"not-json", "application/json", "{", 400, "not an AdmissionReview"},
		{"v1beta1", "application/json", `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"1"}}`, 400, "admissionReviewVersions: [v1]"},
		{"no-request", "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, 400, "has no request"},
		{"yaml", "application/yaml", `{}`, 415, "application/json"},
		{"too-large", "application/json", `{"apiVersion":"` + strings.Repeat("a", 5<<20) + `"}`, 413, "at most"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := e.client.Post(e.url+"/validate", c.contentType, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status || !strings.Contains(string(b), c.says) {
				t.Errorf("%s %s; want %d saying %q", resp.Status, b, c.status, c.says)
			}
		})
	}
}

// flakyProxy forwards TCP connections to a registry, or refuses them
// (down), or holds them without an answer (hang).
type flakyProxy struct {
	host       string
	down, hang atomic.Bool
}

func startFlakyProxy(t testing.TB, target string) *flakyProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{host: l.Addr().String()}
	var held sync.WaitGroup
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); l.Close(); held.Wait() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			switch {
			case p.down.Load():
				c.Close()
			case p.hang.Load():
				held.Add(1)
				go func() { defer held.Done(); <-stop; c.Close() }()
			default:
				go func() {
					defer c.Close()
					u, err := net.Dial("tcp", target)
					if err != nil {
						return
					}
					defer u.Close()
					go io.Copy(u, c)
					io.Copy(c, u)
				}()
			}
		}
	}()
	return p
}

// TestAdmissionRegistryDown: when the registry cannot be asked, the
// policy's failure mode decides, nothing is cached, and the first
// review after it is back verifies afresh; a registry that does not
// answer is given up within the review's timeout.
func TestAdmissionRegistryDown(t *testing.T) {
	registrytest.Tool(t, "registry", "SIGNET_REGISTRY")
	var proxy *flakyProxy
	e := newAdmissionEnv(t, func(reg *registrytest.Registry, c *config.Config) {
		a := &c.Admission
		proxy = startFlakyProxy(t, reg.Host)
		a.InsecureRegistries = append(a.InsecureRegistries, proxy.host)
		trusted := []string{"images"}
		a.Policies = append(a.Policies,
			config.AdmissionPolicy{Name: "proxied", Namespaces: []string{"enforce"}, Images: []string{proxy.host + "/*"}, Profiles: trusted},
			config.AdmissionPolicy{Name: "proxied-open", Namespaces: []string{"failopen"}, Images: []string{proxy.host + "/*"}, FailureMode: "Ignore", Profiles: trusted})
	})
	image := proxy.host + "/demo/signed:v1"
	cached := e.srv.Admission().Cache.Len()

	proxy.down.Store(true)
	resp, _ := e.review(t, "/validate", "pod", "enforce", image)
	if resp.Allowed || resp.Result == nil || !strings.Contains(resp.Result.Message, "image "+image+" could not be verified (policy proxied, failure mode Fail): ") {
		t.Errorf("registry down, failure mode Fail: allowed %v, %+v", resp.Allowed, resp.Result)
	}
	resp, _ = e.review(t, "/validate", "pod", "failopen", image)
	if !resp.Allowed || len(resp.Warnings) != 1 || !strings.HasPrefix(resp.Warnings[0], "image "+image+" admitted unverified (policy proxied-open, failure mode Ignore): ") {
		t.Errorf("registry down, failure mode Ignore: allowed %v, warnings %q", resp.Allowed, resp.Warnings)
	}
	proxy.down.Store(false)
	proxy.hang.Store(true)
	// The review's own timeout (2 s) ends the wait: the answer comes,
	// and it is a denial, not a cached verdict.
	resp, _ = e.reviewWithin(t, "/validate", "pod", "enforce", image, 2*time.Second)
	if resp.Allowed || resp.Result == nil || !strings.Contains(resp.Result.Message, "could not be verified") || !strings.Contains(resp.Result.Message, "context deadline exceeded") {
		t.Errorf("registry hanging: allowed %v, %+v", resp.Allowed, resp.Result)
	}
	if n := e.srv.Admission().Cache.Len(); n != cached {
		t.Errorf("the cache went from %d to %d entries while the registry was down", cached, n)
	}

	proxy.hang.Store(false)
	resp, _ = e.review(t, "/validate", "pod", "enforce", image)
	if !resp.Allowed {
		t.Fatalf("after recovery: %+v", resp.Result)
	}
	if v := e.srv.Admission().Check(context.Background(), "enforce", image); !v.Allowed || !v.Cached {
		t.Errorf("after recovery the verdict is not cached: %+v", v)
	}
}

// TestAdmissionTrustStoreChange: a policy reading a trust store directory
// stops using its cached verdicts once the store changes: an image
// allowed while its root was trusted is denied after the root is
// replaced.
func TestAdmissionTrustStoreChange(t *testing.T) {
	registrytest.Tool(t, "registry", "SIGNET_REGISTRY")
	storeDir := t.TempDir()
	policyFile := filepath.Join(t.TempDir(), "trustpolicy.json")
	e := newAdmissionEnv(t, func(reg *registrytest.Registry, c *config.Config) {
		c.Admission.Policies = append([]config.AdmissionPolicy{{Name: "files", Namespaces: []string{"files"}, TrustPolicy: policyFile, TrustStore: storeDir}}, c.Admission.Policies...)
		doc := `{"version":"1.0","trustPolicies":[{"name":"files","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["signingAuthority:mine"],"trustedIdentities":["*"]}]}`
		if err := os.WriteFile(policyFile, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		// The store is filled below, once the server's root exists; an
		// empty store is a valid one.
		if err := os.MkdirAll(filepath.Join(storeDir, "truststore", "x509", "signingAuthority", "mine"), 0o700); err != nil {
			t.Fatal(err)
		}
	})
	rootFile := filepath.Join(storeDir, "truststore", "x509", "signingAuthority", "mine", "root.pem")
	root := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.srv.Authority.Root.Cert.Raw})
	if err := os.WriteFile(rootFile, root, 0o600); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.RefreshAdmissionTrust(context.Background()); n != 1 {
		t.Fatalf("adding the root changed %d policies, want 1", n)
	}
	if resp, _ := e.review(t, "/validate", "pod", "files", e.refs["signed"]); !resp.Allowed {
		t.Fatalf("with Signet's root in the store: %+v", resp.Result)
	}
	if v := e.srv.Admission().Check(context.Background(), "files", e.refs["signed"]); !v.Cached {
		t.Fatalf("the verdict is not cached: %+v", v)
	}
	// Another root replaces Signet's.
	other := servertest.Start(t)
	if err := os.WriteFile(rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Authority.Root.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.RefreshAdmissionTrust(context.Background()); n != 1 {
		t.Fatalf("replacing the root changed %d policies, want 1", n)
	}
	resp, _ := e.review(t, "/validate", "pod", "files", e.refs["signed"])
	if resp.Allowed || resp.Result == nil || !strings.Contains(resp.Result.Message, ": authenticity: ") {
		t.Fatalf("after the store changed: allowed %v, %+v", resp.Allowed, resp.Result)
	}
	if n := e.srv.RefreshAdmissionTrust(context.Background()); n != 0 {
		t.Errorf("an unchanged store changed %d policies", n)
	}
}
