package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/google/uuid"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/signet/signet/internal/images"
	"github.com/signet/signet/internal/images/registrytest"
)

// admissionBurst is how many AdmissionReviews are in flight at once.
const admissionBurst = 100

// burst sends one pod review per image, all at once, and returns each
// one's latency; every review must get the allowed answer want.
func (e *admissionEnv) burst(b *testing.B, imgs []string, want bool) []time.Duration {
	b.Helper()
	golden, err := os.ReadFile(filepath.Join("testdata", "admission", "pod.json"))
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, len(imgs))
	errs := make([]error, len(imgs))
	var wg sync.WaitGroup
	for i, img := range imgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.NewReplacer(phImage, img, phSigned, img, phNamespace, "enforce", phUID, uuid.NewString()).Replace(string(golden))
			start := time.Now()
			resp, err := e.client.Post(e.url+"/validate?timeout=10s", "application/json", strings.NewReader(body))
			if err != nil {
				errs[i] = err
				return
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			lat[i] = time.Since(start)
			var r admissionv1.AdmissionReview
			if err := json.Unmarshal(out, &r); err != nil || r.Response == nil || r.Response.Allowed != want {
				errs[i] = fmt.Errorf("review of %s: %s %v", img, out, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return lat
}

func reportLatencies(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// notationVerifyTime is the wall time of one `notation verify` of ref
// with the admission policy's trust policy and store, the reference the
// cold figures are compared with.
func (e *admissionEnv) notationVerifyTime(b *testing.B, ref string) time.Duration {
	b.Helper()
	bin, err := registrytest.Find("notation", "SIGNET_NOTATION")
	if err != nil {
		b.Skipf("%v: the cold figures need notation verify as their reference", err)
	}
	xdg := b.TempDir()
	store := filepath.Join(e.srv.Config().DataDir, "admission", "notation", "truststore")
	if err := os.CopyFS(filepath.Join(xdg, "notation", "truststore"), os.DirFS(store)); err != nil {
		b.Fatal(err)
	}
	doc, err := json.Marshal(e.srv.Admission().Policies[0].Verifier.(*images.Verifier).Policy())
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(xdg, "notation", "trustpolicy.json"), doc, 0o600); err != nil {
		b.Fatal(err)
	}
	var best time.Duration
	for range 3 {
		cmd := exec.Command(bin, "verify", "--insecure-registry", ref)
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+xdg)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("notation verify: %v\n%s", err, out)
		}
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
	}
	return best
}

// BenchmarkAdmissionWarm: 100 concurrent reviews of pods whose image's
// verdict is cached, named by tag (each review asks the registry what
// the tag points at) or by digest (as the mutating webhook pins them:
// no registry round trip).
func BenchmarkAdmissionWarm(b *testing.B) {
	registrytest.Tool(b, "registry", "SIGNET_REGISTRY")
	e := newAdmissionEnv(b)
	var tags, digests []string
	for i := range 10 {
		ref, _ := signImage(b, e.srv, e.reg, "images", fmt.Sprintf("bench/warm-%d", i))
		d, err := e.srv.Admission().Policies[0].Verifier.Resolve(context.Background(), ref)
		if err != nil {
			b.Fatal(err)
		}
		tags, digests = append(tags, ref), append(digests, d)
	}
	for _, c := range []struct {
		name string
		imgs []string
	}{{"tag", tags}, {"digest", digests}} {
		b.Run(c.name, func(b *testing.B) {
			var burst []string
			for i := range admissionBurst {
				burst = append(burst, c.imgs[i%len(c.imgs)])
			}
			e.burst(b, c.imgs, true) // warm the cache
			var lat []time.Duration
			b.ResetTimer()
			for range b.N {
				lat = append(lat, e.burst(b, burst, true)...)
			}
			b.StopTimer()
			reportLatencies(b, lat)
		})
	}
}

// BenchmarkAdmissionCold: reviews of images never verified before
// (every one resolved, its signatures listed, fetched and verified, its
// revocation checked): one at a time, and 100 at once; notation verify
// of one image in the same run is the reference.
func BenchmarkAdmissionCold(b *testing.B) {
	registrytest.Tool(b, "registry", "SIGNET_REGISTRY")
	e := newAdmissionEnv(b)
	var last string
	for _, n := range []int{1, admissionBurst} {
		b.Run(fmt.Sprintf("concurrent-%d", n), func(b *testing.B) {
			var lat []time.Duration
			for it := range b.N {
				b.StopTimer()
				var imgs []string
				for i := range n {
					ref, _ := signImage(b, e.srv, e.reg, "images", fmt.Sprintf("bench/cold-%d-%d-%d", n, it, i))
					imgs = append(imgs, ref)
				}
				last = imgs[0]
				b.StartTimer()
				lat = append(lat, e.burst(b, imgs, true)...)
			}
			b.StopTimer()
			reportLatencies(b, lat)
		})
	}
	b.Run("notation-verify", func(b *testing.B) {
		for range b.N {
			b.ReportMetric(float64(e.notationVerifyTime(b, last).Microseconds())/1000, "ms")
		}
	})
}

// BenchmarkAdmissionRevocation: from RevokeSignature returning to the
// next review of the image (cached as allowed) answering a denial.
func BenchmarkAdmissionRevocation(b *testing.B) {
	registrytest.Tool(b, "registry", "SIGNET_REGISTRY")
	e := newAdmissionEnv(b)
	ctx := context.Background()
	var took []time.Duration
	for n := range b.N {
		b.StopTimer()
		ref, job := signImage(b, e.srv, e.reg, "images", fmt.Sprintf("bench/revoked-%d", n))
		e.burst(b, []string{ref}, true)
		b.StartTimer()
		if _, err := e.srv.Signer().RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: aws.String(job), Reason: aws.String("bench")}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		e.burst(b, []string{ref}, false)
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	reportLatencies(b, took)
}
