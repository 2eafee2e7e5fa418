// Command invoke measures the function runtime on this machine: warm
// invocation latency (p50, p99) and throughput of a no-op handler on the
// provided runtime (aws-lambda-go) and on python, the cold start of seed
// 000's python function, and the references they are compared with,
// measured in the same run: two HTTP requests over loopback (what the
// Runtime API costs a runtime per invocation at the least) and
// `python3 -c pass`.
//
//	go run ./bench/invoke -n 2000
//
// It must run as root (sandboxes need it) and prints Markdown.
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/invoke"
	"github.com/signet/signet/internal/sandbox"
)

type dirCode string

func (d dirCode) NewRangeReader(ctx context.Context, path string, off, length int64) (io.ReadCloser, error) {
	return os.Open(filepath.Join(string(d), path))
}

type discard struct{}

func (discard) Write(string, string, []invoke.LogEvent) {}

func main() {
	n := flag.Int("n", 2000, "warm invocations per runtime")
	cold := flag.Int("cold", 20, "cold starts")
	seconds := flag.Duration("t", 5*time.Second, "duration of each throughput run")
	flag.Parse()
	log.SetFlags(0)

	dir, err := os.MkdirTemp("", "signet-bench-invoke-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	host, err := sandbox.NewHost()
	if err != nil {
		log.Fatal(err)
	}
	code := filepath.Join(dir, "packages")
	os.MkdirAll(code, 0o700)
	conc := 2 * runtime.NumCPU()
	pool, err := invoke.NewPool(invoke.Config{Concurrency: conc + 1, Region: "us-east-1"}, host,
		&invoke.Unpacker{Dir: filepath.Join(dir, "sandbox"), Reader: dirCode(code)}, filepath.Join(dir, "sandbox"), discard{},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	// The same, with what functions get since they act as their role:
	// credentials in the environment, the relayed API and the
	// extension's listener (nothing calls them in a no-op).
	rolePool, err := invoke.NewPool(invoke.Config{Concurrency: conc + 1, Region: "us-east-1", API: stubAPI{},
		Credentials: func(context.Context, functions.Function) (invoke.Credentials, error) {
			return invoke.Credentials{AccessKeyID: "ASIABENCHBENCHBENCH0", SecretAccessKey: strings.Repeat("s", 40), SessionToken: strings.Repeat("t", 128),
				Expiration: time.Now().Add(time.Hour)}, nil
		}}, host,
		&invoke.Unpacker{Dir: filepath.Join(dir, "sandbox-role"), Reader: dirCode(code)}, filepath.Join(dir, "sandbox-role"), discard{},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		log.Fatal(err)
	}
	defer rolePool.Close()

	bootstrap := filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-o", bootstrap, ".")
	build.Dir = "internal/invoke/testdata/gohello"
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		log.Fatalf("building the Go handler: %v\n%s", err, out)
	}
	goBin, _ := os.ReadFile(bootstrap)
	fns := []struct {
		label string
		pool  *invoke.Pool
		f     functions.Function
		event string
	}{
		{"provided.al2023, aws-lambda-go no-op", pool, fn(code, "go-noop", "provided.al2023", "bootstrap", map[string]string{"bootstrap": string(goBin)}), `{"noop":true}`},
		{"provided.al2023, aws-lambda-go no-op, with role credentials, the relayed API and the extension", rolePool, fn(code, "go-noop-role", "provided.al2023", "bootstrap", map[string]string{"bootstrap": string(goBin)}), `{"noop":true}`},
		{"python3.11 no-op", pool, fn(code, "py-noop", "python3.11", "app.handler", map[string]string{"app.py": "def handler(event, context):\n    return None\n"}), `{}`},
	}

	fmt.Println("### Warm invocations (Pool.Invoke: sandbox, Runtime API, result; no API front end)")
	fmt.Println()
	ref := loopbackPair(*n)
	fmt.Println("| handler | p50 | p99 | throughput, " + fmt.Sprint(conc) + " concurrent callers | p50 ÷ reference |")
	fmt.Println("|---|---|---|---|---|")
	for _, x := range fns {
		invokeOnce(x.pool, x.f, x.event) // cold start, not measured
		lat := make([]time.Duration, *n)
		for i := range lat {
			t0 := time.Now()
			invokeOnce(x.pool, x.f, x.event)
			lat[i] = time.Since(t0)
		}
		p50, p99 := pct(lat, 50), pct(lat, 99)
		tput := throughput(x.pool, x.f, x.event, conc, *seconds)
		fmt.Printf("| %s | %s | %s | %.0f/s | %.1f× |\n", x.label, ms(p50), ms(p99), tput, float64(p50)/float64(pct(ref, 50)))
	}
	fmt.Printf("| reference: a GET and a POST over loopback HTTP (the two Runtime API calls of an invocation) | %s | %s | — | 1 |\n", ms(pct(ref, 50)), ms(pct(ref, 99)))
	fmt.Println()

	fmt.Println("### Cold start of seed 000's python function")
	fmt.Println()
	seed := fn(code, "hello-world-lambda", "python3.11", "lambda_function.lambda_handler", map[string]string{"lambda_function.py": "import json\n\nprint('Loading function')\n\ndef lambda_handler(event, context):\n    print(\"value1 = \" + event['key1'])\n    return event['key1']\n"})
	coldLat := make([]time.Duration, *cold)
	for i := range coldLat {
		seed.RevisionID = fmt.Sprintf("cold-%d", i) // a new revision never reuses an environment
		t0 := time.Now()
		invokeOnce(pool, seed, `{"key1":"hello, world!"}`)
		coldLat[i] = time.Since(t0)
	}
	pyLat := make([]time.Duration, *cold)
	for i := range pyLat {
		t0 := time.Now()
		if err := exec.Command("/usr/bin/python3", "-c", "pass").Run(); err != nil {
			log.Fatal(err)
		}
		pyLat[i] = time.Since(t0)
	}
	fmt.Println("| measurement | median | p90 | ratio |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| cold invocation: sandbox, python, bootstrap, import, handler, result | %s | %s | %.1f× |\n", ms(pct(coldLat, 50)), ms(pct(coldLat, 90)), float64(pct(coldLat, 50))/float64(pct(pyLat, 50)))
	fmt.Printf("| reference: `python3 -c pass` (fork, exec, interpreter start) | %s | %s | 1 |\n", ms(pct(pyLat, 50)), ms(pct(pyLat, 90)))
}

// stubAPI answers relayed requests; a no-op function makes none.
type stubAPI struct{}

func (stubAPI) ServeAPI(context.Context, invoke.APIRequest) invoke.APIResponse {
	return invoke.APIResponse{Status: http.StatusOK}
}

func (stubAPI) ServeExtension(context.Context, invoke.Environment, invoke.APIRequest) invoke.APIResponse {
	return invoke.APIResponse{Status: http.StatusOK}
}

func fn(dir, name, rt, handler string, files map[string]string) functions.Function {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for n, c := range files {
		h := &zip.FileHeader{Name: n, Method: zip.Deflate}
		h.SetMode(0o755)
		f, _ := w.CreateHeader(h)
		io.WriteString(f, c)
	}
	w.Close()
	sum := sha256.Sum256(b.Bytes())
	path := fmt.Sprintf("%x.zip", sum)
	os.WriteFile(filepath.Join(dir, path), b.Bytes(), 0o600)
	return functions.Function{Name: name, Runtime: rt, Handler: handler, Timeout: 30, MemorySize: 512, RevisionID: "r",
		CodeSHA256: base64.StdEncoding.EncodeToString(sum[:]), CodeSize: int64(b.Len()), CodePath: path}
}

func invokeOnce(p *invoke.Pool, f functions.Function, event string) {
	res, err := p.Invoke(context.Background(), invoke.Request{Function: f, Version: "$LATEST", ARN: "arn:aws:lambda:us-east-1:123456789012:function:" + f.Name, Payload: []byte(event)})
	if err != nil {
		log.Fatal(err)
	}
	if res.FunctionError != "" {
		log.Fatalf("%s failed: %s\n%s", f.Name, res.Payload, res.Log)
	}
}

func throughput(p *invoke.Pool, f functions.Function, event string, workers int, d time.Duration) float64 {
	var count atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				invokeOnce(p, f, event)
				count.Add(1)
			}
		}()
	}
	t0 := time.Now()
	wg.Wait()
	return float64(count.Load()) / time.Since(t0).Seconds()
}

// loopbackPair measures n rounds of the two HTTP requests a runtime makes
// per invocation (GET next, POST response) against a loopback server.
func loopbackPair(n int) []time.Duration {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{}`))
	}))
	c := &http.Client{}
	base := "http://" + ln.Addr().String()
	out := make([]time.Duration, n)
	for i := range out {
		t0 := time.Now()
		for _, req := range []func() (*http.Response, error){
			func() (*http.Response, error) { return c.Get(base + "/2018-06-01/runtime/invocation/next") },
			func() (*http.Response, error) {
				return c.Post(base+"/2018-06-01/runtime/invocation/x/response", "application/json", strings.NewReader("null"))
			},
		} {
			resp, err := req()
			if err != nil {
				log.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		out[i] = time.Since(t0)
	}
	return out
}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }
