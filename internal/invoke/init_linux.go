package invoke

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/signet/signet/internal/sandbox"
)

// RuntimeAPIAddr is where the Lambda Runtime API listens inside every
// sandbox (the value of AWS_LAMBDA_RUNTIME_API).
const RuntimeAPIAddr = "127.0.0.1:9001"

// initPayload is what the init process is told to run.
type initPayload struct {
	Args []string `json:"args"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir"`
	API  string   `json:"api,omitempty"` // APIAddr, when requests are relayed
	// Extension is where the Parameters and Secrets extension listens
	// ("" for none); its requests are relayed too.
	Extension string `json:"ext,omitempty"`
}

// A sandbox's init process is this same executable started again (see
// package sandbox). Any binary that links this package, Signet and the
// test binaries that run servers alike, becomes the init process here,
// before its main function runs.
func init() {
	if sandbox.IsInit() {
		RunInit()
	}
}

// RunInit is the main function of a sandbox's init process (see
// sandbox.IsInit). It builds the sandbox, serves the Lambda Runtime API
// on RuntimeAPIAddr, starts the function's runtime and relays
// invocations, results and output between it and Signet. It does not
// return.
func RunInit() {
	in, err := sandbox.Enter()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox init:", err)
		os.Exit(100)
	}
	var p initPayload
	if err := json.Unmarshal(in.Payload, &p); err != nil || len(p.Args) == 0 {
		fmt.Fprintln(os.Stderr, "sandbox init: bad payload:", err)
		os.Exit(100)
	}
	rt := &rapid{ctrl: in.Control, invocations: make(chan frame, 1), pending: map[uint64]chan frame{}}
	exit := func(status string) {
		rt.mu.Lock()
		rt.drainLogs()
		writeFrame(rt.ctrl, frameExit, resultHeader{Status: status}, nil)
		rt.mu.Unlock()
		os.Exit(0)
	}
	ln, err := net.Listen("tcp", RuntimeAPIAddr)
	if err != nil {
		exit("the Runtime API could not listen: " + err.Error())
	}
	// The runtime's output pipe. Its read end is used as a raw
	// descriptor (an *os.File dropped here would be closed by its
	// finalizer).
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		exit(err.Error())
	}
	rt.logFD = pipe[0]
	unix.SetNonblock(rt.logFD, true)
	logW := os.NewFile(uintptr(pipe[1]), "runtime-output")
	devnull, _ := os.Open("/dev/null")

	// The runtime may not gain privileges (setuid programs) and runs
	// under the sandbox's seccomp filter. Both are per thread, so they
	// are set on the thread that forks, which stays locked to this
	// goroutine (the reaper below) and so runs nothing else.
	runtime.LockOSThread()
	if err := sandbox.Confine(); err != nil {
		exit("the sandbox could not confine the runtime: " + err.Error())
	}
	// The runtime inherits stdin, stdout and stderr and nothing else.
	proc, err := os.StartProcess(p.Args[0], p.Args, &os.ProcAttr{
		Dir: p.Dir, Env: p.Env, Files: []*os.File{devnull, logW, logW},
		Sys: &syscall.SysProcAttr{Credential: in.RunAs, Setsid: true},
	})
	logW.Close()
	if err != nil {
		rt.mu.Lock()
		body, _ := json.Marshal(map[string]string{"errorType": "Runtime.InvalidEntrypoint", "errorMessage": err.Error()})
		writeFrame(rt.ctrl, frameInitError, resultHeader{ErrorType: "Runtime.InvalidEntrypoint"}, body)
		rt.mu.Unlock()
		exit("failed to start the runtime: " + err.Error())
	}
	go rt.pumpLogs()
	go rt.readControl()
	go http.Serve(ln, rt)
	if p.API != "" {
		if api, err := net.Listen("tcp", p.API); err == nil {
			go (&http.Server{Handler: rt.relay(false), ReadHeaderTimeout: 30 * time.Second, MaxHeaderBytes: maxRelayHeader}).Serve(api)
		}
	}
	if p.Extension != "" {
		vars := map[string]string{}
		for _, kv := range p.Env {
			if k, v, ok := strings.Cut(kv, "="); ok {
				vars[k] = v
			}
		}
		rt.sessionToken = vars["AWS_SESSION_TOKEN"]
		rt.extSettings, rt.extErr = ParseExtensionSettings(vars)
		if rt.extErr == nil && rt.extSettings.Enabled {
			rt.ext = newExtensionCache(rt.extSettings.Size, time.Now)
		}
		if ext, err := net.Listen("tcp", p.Extension); err == nil {
			go (&http.Server{Handler: rt.relay(true), ReadHeaderTimeout: 30 * time.Second, MaxHeaderBytes: maxRelayHeader}).Serve(ext)
		}
	}

	// Reap every process; the runtime's end ends the sandbox.
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid == proc.Pid {
			exit(waitStatus(ws))
		}
	}
}

func waitStatus(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return "exit status " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		return "signal: " + ws.Signal().String()
	}
	return "ended"
}

// rapid serves the Runtime API to the runtime and relays to Signet.
type rapid struct {
	ctrl        *os.File
	invocations chan frame
	logFD       int

	mu      sync.Mutex // serialises frames to Signet and log draining
	ready   bool
	current string // request id of the invocation being handled

	// Relayed API requests waiting for their responses.
	pmu     sync.Mutex
	nextID  uint64
	pending map[uint64]chan frame

	// The Parameters and Secrets extension: the session token its
	// requests must carry, its settings (or why they are wrong) and its
	// cache (nil when caching is off).
	sessionToken string
	extSettings  ExtensionSettings
	extErr       error
	ext          *extensionCache
}

// relay relays the requests the function makes to one of the relayed
// listeners (the API's or the extension's) to Signet, and the responses
// back.
func (rt *rapid) relay(extension bool) http.Handler {
	if extension {
		return http.HandlerFunc(rt.serveExtension)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rt.relayRequest(w, r, false) })
}

func (rt *rapid) relayRequest(w http.ResponseWriter, r *http.Request, extension bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRelayBody+1))
	if err != nil {
		http.Error(w, "reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxRelayBody {
		http.Error(w, fmt.Sprintf("Signet relays requests of at most %d bytes from a function", maxRelayBody), http.StatusRequestEntityTooLarge)
		return
	}
	h, b, err := rt.roundTrip(r, body, extension)
	if err != nil {
		if r.Context().Err() == nil {
			http.Error(w, "relaying the request: "+err.Error(), http.StatusBadGateway)
		}
		return
	}
	writeRelayed(w, h, b)
}

func writeRelayed(w http.ResponseWriter, h apiResponseHeader, body []byte) {
	for k, v := range h.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(h.Status)
	w.Write(body)
}

// roundTrip relays one request and waits for its response.
func (rt *rapid) roundTrip(r *http.Request, body []byte, extension bool) (apiResponseHeader, []byte, error) {
	ch := make(chan frame, 1)
	rt.pmu.Lock()
	rt.nextID++
	id := rt.nextID
	rt.pending[id] = ch
	rt.pmu.Unlock()
	defer func() {
		rt.pmu.Lock()
		delete(rt.pending, id)
		rt.pmu.Unlock()
	}()
	rt.mu.Lock()
	err := writeFrame(rt.ctrl, frameAPIRequest, apiRequestHeader{ID: id, APIRequest: APIRequest{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header, Extension: extension}}, body)
	rt.mu.Unlock()
	if err != nil {
		return apiResponseHeader{}, nil, err
	}
	select {
	case f := <-ch:
		var h apiResponseHeader
		json.Unmarshal(f.hdr, &h)
		return h, f.body, nil
	case <-r.Context().Done():
		return apiResponseHeader{}, nil, r.Context().Err()
	}
}

// serveExtension serves the Parameters and Secrets extension: the token
// is checked here, answers are cached here (this environment's cache),
// and a miss is relayed to Signet, which calls the API as the role.
func (rt *rapid) serveExtension(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/ping" && (rt.sessionToken == "" || r.Header.Get("X-Aws-Parameters-Secrets-Token") != rt.sessionToken) {
		http.Error(w, "X-Aws-Parameters-Secrets-Token must be this environment's AWS_SESSION_TOKEN", http.StatusForbidden)
		return
	}
	if rt.extErr != nil {
		http.Error(w, rt.extErr.Error(), http.StatusBadRequest)
		return
	}
	var ttl time.Duration
	switch r.URL.Path {
	case "/systemsmanager/parameters/get":
		ttl = rt.extSettings.SSMTTL
	case "/secretsmanager/get":
		ttl = rt.extSettings.SMTTL
	}
	key := r.URL.Path + "?" + r.URL.Query().Encode()
	cache := rt.ext != nil && ttl > 0 && r.Method == http.MethodGet
	if cache {
		if b, ok := rt.ext.get(key); ok {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b)
			return
		}
	}
	var gen uint64
	if cache {
		gen = rt.ext.generation()
	}
	h, b, err := rt.roundTrip(r, nil, true)
	if err != nil {
		if r.Context().Err() == nil {
			http.Error(w, "relaying the request: "+err.Error(), http.StatusBadGateway)
		}
		return
	}
	resource := http.Header(h.Header).Get(ExtensionResourceHeader)
	http.Header(h.Header).Del(ExtensionResourceHeader)
	if cache && h.Status == http.StatusOK && resource != "" {
		rt.ext.put(key, resource, b, ttl, gen)
	}
	writeRelayed(w, h, b)
}

// readControl delivers invocations from Signet; Signet closing the
// socket ends the sandbox.
func (rt *rapid) readControl() {
	for {
		f, err := readFrame(rt.ctrl)
		if err != nil {
			os.Exit(0)
		}
		switch f.typ {
		case frameInvoke:
			rt.invocations <- f
		case frameAPIResponse:
			var h apiResponseHeader
			json.Unmarshal(f.hdr, &h)
			rt.pmu.Lock()
			ch := rt.pending[h.ID]
			rt.pmu.Unlock()
			if ch != nil {
				ch <- f
			}
		case frameEvict:
			var h evictHeader
			json.Unmarshal(f.hdr, &h)
			if rt.ext != nil {
				rt.ext.evict(h.Resource)
			}
		}
	}
}

// pumpLogs forwards the runtime's output as it is written.
func (rt *rapid) pumpLogs() {
	fds := []unix.PollFd{{Fd: int32(rt.logFD), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil && err != unix.EINTR {
			return
		}
		rt.mu.Lock()
		eof := rt.drainLogs()
		rt.mu.Unlock()
		if eof {
			return
		}
	}
}

// drainLogs forwards whatever output is waiting, without blocking, and
// reports whether the output has ended. Called with mu held, it puts
// output written before a result ahead of the result.
func (rt *rapid) drainLogs() bool {
	var buf [32 << 10]byte
	for {
		n, err := unix.Read(rt.logFD, buf[:])
		if n > 0 {
			writeFrame(rt.ctrl, frameLog, nil, buf[:n])
			continue
		}
		return err == nil // n == 0: every writer has gone
	}
}

func (rt *rapid) send(typ byte, hdr resultHeader, body []byte) {
	rt.mu.Lock()
	rt.drainLogs()
	writeFrame(rt.ctrl, typ, hdr, body)
	rt.mu.Unlock()
}

const runtimePrefix = "/2018-06-01/runtime/"

func (rt *rapid) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, runtimePrefix)
	switch {
	case !ok:
	case path == "invocation/next" && r.Method == http.MethodGet:
		rt.next(w, r)
		return
	case path == "init/error" && r.Method == http.MethodPost:
		body := readLimited(r.Body, maxErrorBody)
		rt.send(frameInitError, resultHeader{ErrorType: r.Header.Get("Lambda-Runtime-Function-Error-Type")}, body)
		accepted(w)
		return
	case strings.HasPrefix(path, "invocation/") && r.Method == http.MethodPost:
		id, what, _ := strings.Cut(strings.TrimPrefix(path, "invocation/"), "/")
		rt.mu.Lock()
		cur := rt.current
		rt.mu.Unlock()
		if id != cur || cur == "" {
			runtimeError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
			return
		}
		switch what {
		case "response":
			body := readLimited(r.Body, MaxSyncPayload+1)
			if len(body) > MaxSyncPayload {
				msg := fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxSyncPayload)
				b, _ := json.Marshal(map[string]string{"errorMessage": msg, "errorType": "Function.ResponseSizeTooLarge"})
				rt.finish(frameError, resultHeader{RequestID: id, ErrorType: "Function.ResponseSizeTooLarge"}, b)
				runtimeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", msg)
				return
			}
			rt.finish(frameResponse, resultHeader{RequestID: id}, body)
			accepted(w)
			return
		case "error":
			body := readLimited(r.Body, maxErrorBody)
			rt.finish(frameError, resultHeader{RequestID: id, ErrorType: r.Header.Get("Lambda-Runtime-Function-Error-Type")}, body)
			accepted(w)
			return
		}
	}
	runtimeError(w, http.StatusNotFound, "InvalidRequest", "not a Runtime API path: "+r.Method+" "+r.URL.Path)
}

// maxErrorBody bounds an error report.
const maxErrorBody = 1 << 20

func (rt *rapid) finish(typ byte, hdr resultHeader, body []byte) {
	rt.mu.Lock()
	rt.current = ""
	rt.drainLogs()
	writeFrame(rt.ctrl, typ, hdr, body)
	rt.mu.Unlock()
}

func (rt *rapid) next(w http.ResponseWriter, r *http.Request) {
	rt.mu.Lock()
	if !rt.ready {
		rt.ready = true
		rt.drainLogs()
		writeFrame(rt.ctrl, frameReady, nil, nil)
	}
	rt.mu.Unlock()
	var f frame
	select {
	case f = <-rt.invocations:
	case <-r.Context().Done():
		return // the runtime went away: the invocation waits for the next /next
	}
	var h invokeHeader
	json.Unmarshal(f.hdr, &h)
	rt.mu.Lock()
	rt.current = h.RequestID
	rt.mu.Unlock()
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Lambda-Runtime-Aws-Request-Id", h.RequestID)
	hd.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(h.DeadlineMs, 10))
	hd.Set("Lambda-Runtime-Invoked-Function-Arn", h.InvokedFunctionArn)
	if h.TraceID != "" {
		hd.Set("Lambda-Runtime-Trace-Id", h.TraceID)
	}
	if h.ClientContext != "" {
		hd.Set("Lambda-Runtime-Client-Context", h.ClientContext)
	}
	if h.CognitoIdentity != "" {
		hd.Set("Lambda-Runtime-Cognito-Identity", h.CognitoIdentity)
	}
	hd.Set("Content-Length", strconv.Itoa(len(f.body)))
	w.Write(f.body)
}

func readLimited(r io.Reader, n int64) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, n))
	return b
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"OK"}`)
}

func runtimeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"errorMessage": msg, "errorType": typ})
}
