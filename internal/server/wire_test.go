package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/signet/signet/internal/server/servertest"
)

var updateWire = flag.Bool("update", false, "rewrite the expected responses in testdata/wire from the current server")

// TestWire pins the bytes Signet sends back, protocol by protocol. Each
// file in testdata/wire is a script in the spirit of sunlight's webtest
// files, run in order against a fresh server:
//
//	# A comment.
//	sign signer                 how to sign the request that follows
//	> PUT /signing-profiles/p1  the request line, then headers
//	> Content-Type: application/json
//	>
//	> {"platformId":"AWSLambda-SHA384-ECDSA"}
//	< 200 OK                    the expected status, then headers
//	< Content-Type: application/json
//	<
//	< {"arn":"..."}             the expected body, verbatim
//	<\ no newline at end of body
//
// The signing line is "sign SERVICE [REGION] [OPTION...]" or "unsigned".
// REGION defaults to us-east-1. Requests are signed as the SDKs sign
// them, with the server's bootstrap credentials unless an option says
// otherwise: as=unknown, as=wrong-secret, as=expired or as=denied sign
// with newAuthPrincipals' credentials of that name, and forge flips the
// signature's last digit. S3 requests also carry X-Amz-Content-Sha256
// unless the script sets it. A request that declares Content-Length
// gets exactly that header, whatever its body, so that a body over a
// limit need not be sent. The request body is its lines joined by "\n",
// with no final newline. In a request, ${NAME-N} stands for the value
// an earlier response had where the transcript shows the placeholder
// NAME-N, and ${ACCOUNT-ID} for the account id.
//
// The response's headers are those on the wire, in the order and case
// sent, except Date, Connection, Transfer-Encoding, X-Amzn-RequestId
// (whose value stands as REQUEST-ID wherever else it appears), the
// browser sandbox every response but the console's carries
// (Content-Security-Policy: sandbox, X-Content-Type-Options: nosniff,
// which a response lacking fails the test), and
// Content-Length (kept for HEAD requests only: elsewhere the body shows
// its length). What cannot be the same from run to run is replaced by
// placeholders: the account id by ACCOUNT-ID, and the values of
// wireRules.
//
// go test ./internal/server -run TestWire -update rewrites the
// expected responses (lines starting with "<") from the current server
// and keeps everything else in the files.
func TestWire(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "wire", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts in testdata/wire")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runWireScript(t, file)
		})
	}
}

// wireRule replaces what a regexp matches (its first group, if it has
// one) with a placeholder. Numbered rules give each distinct value its
// own number, in order of first appearance in the script, so that a
// value that comes back later (a version id listed after PutObject)
// must come back the same. Time rules replace only times within a day
// of now, so that a time the script sent (a revocation's effective
// time) stays as it is; all such times are the same placeholder, since
// whether two requests fall in the same second is up to the machine.
type wireRule struct {
	re       *regexp.Regexp
	name     string
	numbered bool
	time     func(string) (time.Time, error) // a time rule's parser
}

// wireRules are the values that differ between runs. They run in
// order, after the literal replacements (request id, account id) in
// wireScript.normalize.
var wireRules = []wireRule{
	// Times: ISO 8601 (Lambda's +0000 and fractions of seconds
	// included), HTTP dates, and epoch seconds or milliseconds as JSON
	// numbers.
	{re: regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)`), name: "TIME", time: parseISOTime},
	{re: regexp.MustCompile(`[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT`), name: "HTTP-DATE", time: http.ParseTime},
	{re: regexp.MustCompile(`":(1\d{9}(?:\.\d+)?|1\d{12})\b`), name: "EPOCH", time: parseEpoch},
	// Random identifiers.
	{re: regexp.MustCompile(`(?:"profileVersion":"|/signing-profiles/[A-Za-z0-9_]{2,64}/)([A-Za-z0-9]{10})\b`), name: "PROFILE-VERSION", numbered: true},
	{re: regexp.MustCompile(`\b[0-9A-V]{32}\b`), name: "S3-VERSION", numbered: true},
	{re: regexp.MustCompile(`\b(csc-[a-z0-9]{17})\b`), name: "CSC-ID", numbered: true},
	{re: regexp.MustCompile(`:secret:[A-Za-z0-9/_+=.@-]+?-([A-Za-z0-9]{6})\b`), name: "SECRET-SUFFIX", numbered: true},
	{re: regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), name: "UUID", numbered: true},
	{re: regexp.MustCompile(`<SecretAccessKey>([^<]+)</SecretAccessKey>`), name: "SECRET", numbered: true},
	{re: regexp.MustCompile(`<SessionToken>([^<]+)</SessionToken>`), name: "SESSION-TOKEN", numbered: true},
	{re: regexp.MustCompile(`\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16,17}\b`), name: "IAM-ID", numbered: true},
}

func parseISOTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02T15:04:05.999999999-0700", v) // Lambda's
}

func parseEpoch(v string) (time.Time, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return time.Time{}, err
	}
	if !strings.Contains(v, ".") && len(v) == 13 {
		return time.UnixMilli(int64(f)), nil
	}
	return time.Unix(0, int64(f*1e9)), nil
}

// wireScript is one script being run.
type wireScript struct {
	t       *testing.T
	ts      *servertest.Server
	numbers map[string]string // value → numbered placeholder
	values  map[string]string // numbered placeholder → value
	counts  map[string]int    // placeholder name → values seen
	auth    *authPrincipals   // nil until a request signs as one
}

// wireRequest is a request of a script.
type wireRequest struct {
	service, region string // service "": unsigned
	creds           aws.Credentials
	forge           bool
	method, path    string
	header          [][2]string
	body            string
	contentLength   int64 // -1: len(body)
}

func runWireScript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := &wireScript{t: t, ts: servertest.Start(t), numbers: map[string]string{}, values: map[string]string{}, counts: map[string]int{}}
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var out strings.Builder // the file as -update writes it
	failed := false
	for i := 0; i < len(lines); {
		line := strings.TrimSuffix(lines[i], "\n")
		if line == "" || strings.HasPrefix(line, "#") {
			out.WriteString(lines[i])
			i++
			continue
		}
		start := i + 1
		if !strings.HasPrefix(line, "sign ") && line != "unsigned" {
			t.Fatalf("%s:%d: want a comment, a blank line, \"sign SERVICE ...\" or \"unsigned\"; got %q", file, start, line)
		}
		out.WriteString(lines[i])
		i++
		var reqLines []string
		for ; i < len(lines) && strings.HasPrefix(lines[i], ">"); i++ {
			out.WriteString(lines[i])
			reqLines = append(reqLines, strings.TrimSuffix(lines[i], "\n"))
		}
		var want []string
		for ; i < len(lines) && strings.HasPrefix(lines[i], "<"); i++ {
			want = append(want, strings.TrimSuffix(lines[i], "\n"))
		}
		for j, l := range reqLines {
			reqLines[j] = s.expand(file, start, l)
		}
		req := s.parseRequest(file, start, line, reqLines)
		got := s.do(req)
		for _, l := range got {
			out.WriteString(l + "\n")
		}
		if !*updateWire && !slices.Equal(got, want) {
			failed = true
			t.Errorf("%s:%d: %s %s: the response differs (-want +got):\n%s", file, start, req.method, req.path, lineDiff(want, got))
		}
	}
	if *updateWire {
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if failed {
		t.Log("if the change is intended, rerun with -update and review the diff of testdata/wire")
	}
}

var wireRef = regexp.MustCompile(`\$\{([A-Z0-9-]+)\}`)

// expand replaces ${NAME-N} in a request line with the value an earlier
// response had in place of the numbered placeholder NAME-N, and
// ${ACCOUNT-ID} with the account id.
func (s *wireScript) expand(file string, lineno int, line string) string {
	return wireRef.ReplaceAllStringFunc(line, func(m string) string {
		name := m[2 : len(m)-1]
		if name == "ACCOUNT-ID" {
			return s.ts.AccountID()
		}
		v, ok := s.values[name]
		if !ok {
			s.t.Fatalf("%s:%d: no earlier response had %s", file, lineno, m)
		}
		return v
	})
}

// principals returns the failing principals of newAuthPrincipals,
// made on first use (they add a user, which scripts that list users
// should not see).
func (s *wireScript) principals() authPrincipals {
	if s.auth == nil {
		p := newAuthPrincipals(s.t, s.ts)
		s.auth = &p
	}
	return *s.auth
}

func (s *wireScript) parseRequest(file string, lineno int, signing string, lines []string) wireRequest {
	t := s.t
	t.Helper()
	bad := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s:%d: %s", file, lineno, fmt.Sprintf(format, args...))
	}
	req := wireRequest{region: "us-east-1", creds: s.ts.Creds, contentLength: -1}
	if f := strings.Fields(signing); f[0] == "sign" {
		if len(f) < 2 {
			bad("sign needs a service name")
		}
		req.service = f[1]
		for _, o := range f[2:] {
			switch o {
			case "as=unknown":
				req.creds = s.principals().unknown
			case "as=wrong-secret":
				req.creds = s.principals().wrongSecret
			case "as=expired":
				req.creds = s.principals().expired
			case "as=denied":
				req.creds = s.principals().denied
			case "forge":
				req.forge = true
			default:
				if strings.Contains(o, "=") {
					bad("unknown signing option %q", o)
				}
				req.region = o
			}
		}
	}
	if len(lines) == 0 {
		bad("no request after %q", signing)
	}
	var ok bool
	req.method, req.path, ok = strings.Cut(strings.TrimPrefix(lines[0], "> "), " ")
	if !ok {
		bad("want \"> METHOD PATH\", got %q", lines[0])
	}
	i := 1
	for ; i < len(lines) && lines[i] != ">"; i++ {
		k, v, ok := strings.Cut(strings.TrimPrefix(lines[i], "> "), ": ")
		if !ok {
			bad("want \"> Name: value\", got %q", lines[i])
		}
		if strings.EqualFold(k, "Content-Length") {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				bad("Content-Length: %v", err)
			}
			req.contentLength = n
			continue
		}
		req.header = append(req.header, [2]string{k, v})
	}
	if i < len(lines) {
		var body []string
		for _, l := range lines[i+1:] {
			body = append(body, strings.TrimPrefix(strings.TrimPrefix(l, ">"), " "))
		}
		req.body = strings.Join(body, "\n")
	}
	return req
}

// do sends req on a connection of its own (Connection: close, so the
// server's reply is all the connection carries) and returns the
// response as script lines.
func (s *wireScript) do(wr wireRequest) []string {
	t := s.t
	t.Helper()
	host := strings.TrimPrefix(s.ts.URL, "http://")
	req, err := http.NewRequest(wr.method, s.ts.URL+wr.path, strings.NewReader(wr.body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range wr.header {
		req.Header.Add(h[0], h[1])
	}
	n := wr.contentLength
	if n < 0 {
		n = int64(len(wr.body))
	}
	req.ContentLength = n
	if wr.service != "" {
		sum := sha256.Sum256([]byte(wr.body))
		payload := hex.EncodeToString(sum[:])
		if wr.service == "s3" {
			if p := req.Header.Get("X-Amz-Content-Sha256"); p != "" {
				payload = p
			} else {
				req.Header.Set("X-Amz-Content-Sha256", payload)
			}
		}
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = wr.service == "s3" })
		if err := signer.SignHTTP(context.Background(), wr.creds, req, payload, wr.service, wr.region, time.Now()); err != nil {
			t.Fatal(err)
		}
		if wr.forge {
			a := req.Header.Get("Authorization")
			flip := "0"
			if strings.HasSuffix(a, "0") {
				flip = "1"
			}
			req.Header.Set("Authorization", a[:len(a)-1]+flip)
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", wr.method, wr.path, host)
	if n > 0 || wr.method == "POST" || wr.method == "PUT" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", n)
	}
	keys := make([]string, 0, len(req.Header))
	for k := range req.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range req.Header[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("Connection: close\r\n\r\n")
	if int64(len(wr.body)) <= n {
		b.WriteString(wr.body)
	}

	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil && len(raw) == 0 {
		t.Fatalf("%s %s: %v", wr.method, wr.path, err)
	}
	head, _, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("%s %s: no complete response head in %q", wr.method, wr.path, raw)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), req)
	if err != nil {
		t.Fatalf("%s %s: %v", wr.method, wr.path, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", wr.method, wr.path, err)
	}
	return s.transcript(wr.method, string(head), string(body))
}

// transcript renders a response as the lines a script expects,
// normalized.
func (s *wireScript) transcript(method, head, body string) []string {
	hl := strings.Split(head, "\r\n")
	status := strings.TrimPrefix(hl[0], "HTTP/1.1 ")
	var requestID string
	var header []string
	sandbox := 0
	for _, l := range hl[1:] {
		k, v, _ := strings.Cut(l, ": ")
		switch strings.ToLower(k) {
		case "x-amzn-requestid":
			requestID = v
			continue
		case "date", "connection", "transfer-encoding":
			continue
		case "content-security-policy", "x-content-type-options":
			if v == "sandbox; default-src 'none'" || v == "nosniff" {
				sandbox++ // on every response: checked here, not written in every transcript
				continue
			}
		case "content-length":
			if method != "HEAD" {
				continue
			}
		}
		header = append(header, l)
	}
	if sandbox != 2 {
		header = append(header, "X-Missing: the browser sandbox (Content-Security-Policy: sandbox; default-src 'none', X-Content-Type-Options: nosniff)")
	}
	lines := []string{"< " + status}
	for _, h := range header {
		lines = append(lines, "< "+s.normalize(h, requestID))
	}
	lines = append(lines, "<")
	if body == "" {
		return lines
	}
	body = s.normalize(body, requestID)
	bl := strings.Split(body, "\n")
	noEOL := bl[len(bl)-1] != ""
	if !noEOL {
		bl = bl[:len(bl)-1]
	}
	for _, l := range bl {
		if l == "" {
			lines = append(lines, "<")
		} else {
			lines = append(lines, "< "+l)
		}
	}
	if noEOL {
		lines = append(lines, `<\ no newline at end of body`)
	}
	return lines
}

// normalize replaces what differs between runs: the request id and the
// account id by name, then wireRules.
func (s *wireScript) normalize(text, requestID string) string {
	if requestID != "" {
		text = strings.ReplaceAll(text, requestID, "REQUEST-ID")
	}
	text = strings.ReplaceAll(text, s.ts.AccountID(), "ACCOUNT-ID")
	for _, r := range wireRules {
		text = r.re.ReplaceAllStringFunc(text, func(m string) string {
			sub := r.re.FindStringSubmatchIndex(m)
			lo, hi := 0, len(m)
			if len(sub) > 2 && sub[2] >= 0 {
				lo, hi = sub[2], sub[3]
			}
			v := m[lo:hi]
			if r.time != nil {
				if t, err := r.time(v); err != nil || t.Sub(time.Now()).Abs() > 24*time.Hour {
					return m
				}
			}
			return m[:lo] + s.placeholder(r, v) + m[hi:]
		})
	}
	return text
}

func (s *wireScript) placeholder(r wireRule, value string) string {
	if !r.numbered {
		return r.name
	}
	p, ok := s.numbers[value]
	if !ok {
		s.counts[r.name]++
		p = fmt.Sprintf("%s-%d", r.name, s.counts[r.name])
		s.numbers[value] = p
		s.values[p] = value
	}
	return p
}

// lineDiff is a line diff of want and got, for failure messages.
func lineDiff(want, got []string) string {
	// lcs[i][j] is the length of the longest common subsequence of
	// want[i:] and got[j:].
	lcs := make([][]int, len(want)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(got)+1)
	}
	for i := len(want) - 1; i >= 0; i-- {
		for j := len(got) - 1; j >= 0; j-- {
			if want[i] == got[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case i < len(want) && j < len(got) && want[i] == got[j]:
			fmt.Fprintf(&b, "  %s\n", want[i])
			i, j = i+1, j+1
		case i < len(want) && (j == len(got) || lcs[i+1][j] >= lcs[i][j+1]):
			fmt.Fprintf(&b, "- %s\n", want[i])
			i++
		default:
			fmt.Fprintf(&b, "+ %s\n", got[j])
			j++
		}
	}
	// Point at the first byte that differs, which a long line hides.
	for k := range min(len(want), len(got)) {
		if want[k] != got[k] {
			n := 0
			for n < len(want[k]) && n < len(got[k]) && want[k][n] == got[k][n] {
				n++
			}
			fmt.Fprintf(&b, "first difference: line %d of the response, byte %d: want %q, got %q\n",
				k+1, n+1, want[k][n:min(n+20, len(want[k]))], got[k][n:min(n+20, len(got[k]))])
			break
		}
	}
	return b.String()
}
