package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/invoke"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/server/servertest"
)

// serveEnv makes the test binary a bare server on the data directory it
// names (see TestMain), so a test can measure a server process's memory.
const serveEnv = "SIGNET_TEST_SERVE_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(serveEnv); dir != "" {
		os.Exit(serveForTest(dir))
	}
	os.Exit(m.Run())
}

// serveForTest serves on 127.0.0.1:0, prints the address, and stops
// when stdin closes.
func serveForTest(dir string) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg := config.Defaults()
	cfg.DataDir, cfg.Listen = dir, l.Addr().String()
	srv, err := server.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { io.Copy(io.Discard, os.Stdin); cancel() }()
	fmt.Printf("%s\n", l.Addr())
	if err := srv.Serve(ctx, l); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// procStatus returns a field of /proc/PID/status in kB.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// hostileRequest is a request with a large body that the server must
// refuse without holding it: n bytes, with a Content-Length unless
// chunked.
type hostileRequest struct {
	name         string
	method, path string
	service      string
	creds        *aws.Credentials // nil: an access key that does not exist
	n            int64
	chunked      bool
	wantStatus   int
}

func (h hostileRequest) send(t *testing.T, url string) (int, error) {
	body := io.LimitReader(zeros{}, h.n)
	req, err := http.NewRequest(h.method, url+h.path, body)
	if err != nil {
		return 0, err
	}
	req.ContentLength = h.n
	if h.chunked {
		req.ContentLength = -1
	}
	creds := aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	if h.creds != nil {
		creds = *h.creds
	}
	// The payload hash of a large body is never checked: the server
	// refuses those requests before it reads the body.
	sum := sha256.Sum256(nil)
	if h.n > 0 {
		sum = sha256.Sum256([]byte("not the body"))
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), h.service, "us-east-1", time.Now()); err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestHostileBodiesStayBounded runs a server process and sends it, all
// at once, eight unauthenticated 69 MB requests and authenticated ones
// over their operation's limit, with and without a Content-Length: the
// server's peak resident memory (VmHWM in /proc) grows by far less than
// the bodies sent, because no body is read before the access key, date
// and scope are checked, and then no more than the operation takes.
func TestHostileBodiesStayBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("sends about a gigabyte over loopback")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), serveEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("server process: %v", err)
	}
	url := "http://" + strings.TrimSpace(line)
	creds := servertest.ReadCredentials(t, filepath.Join(dir, "credentials"))
	pid := cmd.Process.Pid

	// Warm up: one ordinary call, then take the baseline and reset the
	// peak.
	if code, err := (hostileRequest{method: "GET", path: "/signing-profiles", service: "signer", creds: &creds}).send(t, url); err != nil || code != 200 {
		t.Fatalf("warm-up: %d %v", code, err)
	}
	base := procStatus(t, pid, "VmRSS")
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Fatalf("resetting the peak RSS: %v", err)
	}

	const big = 69 << 20
	var reqs []hostileRequest
	for i := range 8 {
		reqs = append(reqs, hostileRequest{name: fmt.Sprintf("unauthenticated CreateFunction %d", i), method: "POST", path: "/2015-03-31/functions",
			service: "lambda", n: big, chunked: i%2 == 1, wantStatus: 403})
	}
	for i := range 4 {
		reqs = append(reqs,
			hostileRequest{name: fmt.Sprintf("oversized PutSigningProfile %d", i), method: "PUT", path: "/signing-profiles/p",
				service: "signer", creds: &creds, n: big, chunked: i%2 == 1, wantStatus: 413},
			hostileRequest{name: fmt.Sprintf("oversized Invoke %d", i), method: "POST", path: "/2015-03-31/functions/f/invocations",
				service: "lambda", creds: &creds, n: big, chunked: i%2 == 1, wantStatus: 413},
			hostileRequest{name: fmt.Sprintf("oversized IAM call %d", i), method: "POST", path: "/",
				service: "iam", creds: &creds, n: big, chunked: i%2 == 1, wantStatus: 413})
	}
	var wg sync.WaitGroup
	for _, h := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The server may close the connection while the body is
			// still being sent; a response, when there is one, must be
			// the refusal.
			if code, err := h.send(t, url); err == nil && code != h.wantStatus {
				t.Errorf("%s: status %d, want %d", h.name, code, h.wantStatus)
			}
		}()
	}
	wg.Wait()
	peak := procStatus(t, pid, "VmHWM")
	t.Logf("server RSS: %d MB before, peak %d MB while refusing %d bodies of %d MB", base>>10, peak>>10, len(reqs), big>>20)
	// Chunked oversized Invokes may each be read up to Invoke's 6 MB
	// limit before they are refused; everything else is refused unread.
	// The bodies add up to 1,380 MB, which a server that reads them
	// first holds (it grew to 2.5 GB); the bound leaves room for the
	// race detector's shadow memory, which multiplies the heap.
	if grown := (peak - base) >> 10; grown > 400 {
		t.Errorf("the server's resident memory grew by %d MB (from %d MB to %d MB); want under 400 MB", grown, base>>10, peak>>10)
	}
}

// startWithLimits runs a server whose header and body deadlines are
// small, so a test reaches them at once.
func startWithLimits(t *testing.T, header, bodyIdle time.Duration, minRate, bufferedBodies int64, bodyWait time.Duration) (addr string, creds aws.Credentials) {
	t.Helper()
	_, addr, creds = startServerWithLimits(t, header, bodyIdle, minRate, bufferedBodies, bodyWait)
	return addr, creds
}

func startServerWithLimits(t *testing.T, header, bodyIdle time.Duration, minRate, bufferedBodies int64, bodyWait time.Duration) (srv *server.Server, addr string, creds aws.Credentials) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.DataDir, cfg.Listen = t.TempDir(), l.Addr().String()
	srv, err = server.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv.SetRequestLimits(header, bodyIdle, minRate, bufferedBodies, bodyWait)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	return srv, l.Addr().String(), servertest.ReadCredentials(t, srv.CredentialsPath())
}

// signedHead returns the request line and headers of a signed
// PutSigningProfile whose body (n bytes declared) the caller then sends,
// or not.
func signedHead(t *testing.T, addr string, creds aws.Credentials, n int) string {
	return signedHeadFor(t, addr, creds, "PUT", "/signing-profiles/p", "signer", n)
}

// signedHeadFor is signedHead for any request; S3 requests declare
// UNSIGNED-PAYLOAD.
func signedHeadFor(t *testing.T, addr string, creds aws.Credentials, method, path, service string, n int) string {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(n)
	sum := sha256.Sum256(make([]byte, n))
	payload := hex.EncodeToString(sum[:])
	if service == "s3" {
		payload = "UNSIGNED-PAYLOAD"
		req.Header.Set("X-Amz-Content-Sha256", payload)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payload, service, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", method, path, addr, n)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

// TestSlowClientsAreCut holds a connection open in four slow ways: a
// request whose headers never end, a signed request whose body stops
// after a few bytes, a refused request whose body never comes, and one
// whose body trickles in far below the minimum rate. The server ends
// each (the body ones with RequestTimeoutException) instead of waiting
// for ever.
func TestSlowClientsAreCut(t *testing.T) {
	addr, creds := startWithLimits(t, 200*time.Millisecond, 200*time.Millisecond, 1000, 64<<20, time.Minute)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		// The test's own bound: far beyond the server's deadlines, so
		// that only a server that never ends the request reaches it.
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		return c
	}
	// readReply reads what the server answers until it closes.
	readReply := func(t *testing.T, c net.Conn) string {
		b, err := io.ReadAll(c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the server still holds the connection; it answered %q", b)
		}
		return string(b)
	}
	t.Run("headers never end", func(t *testing.T) {
		c := dial()
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		readReply(t, c) // Go answers 408 or nothing; either way it closes
	})
	t.Run("body stops", func(t *testing.T) {
		c := dial()
		io.WriteString(c, signedHead(t, addr, creds, 1000)+"{\"platformId\"")
		if got := readReply(t, c); !strings.Contains(got, "408") || !strings.Contains(got, "RequestTimeoutException") {
			t.Errorf("reply %q, want 408 RequestTimeoutException", got)
		}
	})
	t.Run("refused, body never sent", func(t *testing.T) {
		c := dial()
		unknown := aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "x"}
		io.WriteString(c, signedHead(t, addr, unknown, 1000)) // refused before its body is read
		if got := readReply(t, c); !strings.Contains(got, "403") {
			t.Errorf("reply %q, want 403", got)
		}
	})
	t.Run("S3 object body stops", func(t *testing.T) {
		c := dial()
		io.WriteString(c, signedHeadFor(t, addr, creds, "PUT", "/slow-bucket", "s3", 0))
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("CreateBucket: %v %v", resp, err)
		}
		c = dial()
		io.WriteString(c, signedHeadFor(t, addr, creds, "PUT", "/slow-bucket/key", "s3", 1000)+"0123456789")
		if got := readReply(t, c); !strings.Contains(got, "400") || !strings.Contains(got, "<Code>RequestTimeout</Code>") {
			t.Errorf("reply %q, want 400 RequestTimeout", got)
		}
	})
	t.Run("body trickles", func(t *testing.T) {
		c := dial()
		io.WriteString(c, signedHead(t, addr, creds, 100000))
		stop := make(chan struct{})
		go func() {
			tick := time.NewTicker(20 * time.Millisecond) // 50 bytes/s, well under 1,000
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := c.Write([]byte{' '}); err != nil {
						return
					}
				}
			}
		}()
		defer close(stop)
		if got := readReply(t, c); !strings.Contains(got, "408") || !strings.Contains(got, "RequestTimeoutException") {
			t.Errorf("reply %q, want 408 RequestTimeoutException", got)
		}
	})
}

// TestBufferedBodiesBudget: bodies held in memory share a budget. While
// one request holds all of it (its body arriving slowly), another waits
// for room and, when none comes in time, gets the API's throttling
// error.
func TestBufferedBodiesBudget(t *testing.T) {
	addr, creds := startWithLimits(t, 10*time.Second, 10*time.Second, 1, 1000, 100*time.Millisecond)
	hog, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer hog.Close()
	io.WriteString(hog, signedHead(t, addr, creds, 1000)+"{") // takes the whole budget, then waits
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, signedHead(t, addr, creds, 2)+"{}")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		c.Close()
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("X-Amzn-ErrorType") == "ThrottlingException" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a request beside one holding the whole budget got %d %s", resp.StatusCode, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRelayedBodiesOwnBudget: requests functions make from their
// sandboxes hold their bodies under a budget of their own. Functions
// holding all of theirs do not throttle the server's other clients, and
// other clients holding all of theirs do not throttle functions.
func TestRelayedBodiesOwnBudget(t *testing.T) {
	srv, addr, creds := startServerWithLimits(t, 10*time.Second, 10*time.Second, 1, 1000, 100*time.Millisecond)
	direct := func() int {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, signedHead(t, addr, creds, 2)+"{}")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// A signed relayed request with a body, while other clients hold the
	// whole shared budget.
	put := func() invoke.APIResponse {
		body := []byte(`{"platformId":"AWSLambda-SHA384-ECDSA"}`)
		req, err := http.NewRequest("PUT", "http://"+addr+"/signing-profiles/relayed", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "signer", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		return srv.ServeRelayed(context.Background(), invoke.APIRequest{Method: "PUT", URI: "/signing-profiles/relayed", Host: addr, Header: req.Header, Body: body})
	}
	release := srv.HoldBodies(false)
	if resp := put(); resp.Status != http.StatusOK {
		t.Errorf("relayed PutSigningProfile while clients hold the shared budget: %d %s", resp.Status, resp.Body)
	}
	if code := direct(); code != http.StatusTooManyRequests {
		t.Errorf("direct request while clients hold the shared budget: %d, want 429", code)
	}
	release()

	release = srv.HoldBodies(true)
	defer release()
	if code := direct(); code == http.StatusTooManyRequests {
		t.Errorf("direct request throttled while functions hold their budget")
	}
	if resp := put(); resp.Status != http.StatusTooManyRequests || resp.Header["X-Amzn-Errortype"][0] != "ThrottlingException" {
		t.Errorf("relayed request while functions hold their budget: %d %s", resp.Status, resp.Body)
	}
}
