// Package invoke runs functions: it keeps a pool of execution
// environments per function version, each a sandbox (see package
// sandbox) whose init process serves the Lambda Runtime API to the
// function's runtime, and turns invocations into Lambda's results, logs
// and metrics.
package invoke

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"

	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/sandbox"
	"github.com/signet/signet/internal/telemetry"
)

// Payload limits, as Lambda's.
const (
	MaxSyncPayload  = 6291456 // request of a RequestResponse invocation
	MaxResponse     = 6291556 // a function's response
	MaxAsyncPayload = 262144  // request of an Event invocation
)

// DefaultInitTimeout bounds a runtime's init phase (Lambda's 10 s).
const DefaultInitTimeout = 10 * time.Second

// Config holds the pool's settings.
type Config struct {
	// Concurrency is how many invocations may run at once across all
	// functions (Lambda's account concurrency). Default 16.
	Concurrency int
	// IdleTimeout is how long an unused execution environment is kept.
	// Default 5 minutes.
	IdleTimeout time.Duration
	// InitTimeout bounds a runtime's init phase, or the function's
	// Timeout if longer. Default DefaultInitTimeout (Lambda's 10 s).
	InitTimeout time.Duration
	// TmpBytes is the size of each sandbox's /tmp. Default 512 MB.
	TmpBytes int64
	// Pids bounds the processes and threads of a sandbox. Default 1024.
	Pids int64
	// Region is AWS_REGION in every sandbox.
	Region string
	// StartErrorType names, in the function error's payload and in the
	// log, why a function could not start: ErrBadPackage or
	// ErrUnsupportedRuntime. nil: the sentinel's text.
	StartErrorType func(kind error) string
	// API, when set, serves the AWS API requests functions make to
	// APIAddr inside their sandboxes (relayed over the control socket);
	// AWS_ENDPOINT_URL points the SDKs there.
	API API
	// Credentials, when set, issues the execution role's temporary
	// credentials for a new environment of a function: they are in its
	// environment as Lambda puts them, and the environment is not
	// reused once they are within credsMargin of expiring.
	Credentials func(ctx context.Context, f functions.Function) (Credentials, error)
	// NodeModules, when set, is a node_modules directory mounted
	// read-only at /var/runtime/node_modules in node functions' sandboxes,
	// where Lambda's node runtimes ship the AWS SDK for JavaScript v3.
	NodeModules string
}

// credsMargin is how long before its credentials expire an environment
// stops taking invocations (a new one gets fresh credentials).
const credsMargin = 15 * time.Minute

// Limit names a concurrency limit.
type Limit int

// The limits an invocation may be over.
const (
	// LimitReserved is the function's reserved concurrency.
	LimitReserved Limit = iota + 1
	// LimitUnreserved is the concurrency left to the functions that
	// reserve none.
	LimitUnreserved
)

// ThrottleError is the error of an invocation over a concurrency limit
// (ErrThrottled).
type ThrottleError struct{ Limit Limit }

func (e *ThrottleError) Error() string {
	if e.Limit == LimitReserved {
		return "the function's reserved concurrency is in use"
	}
	return "the unreserved concurrency is in use"
}

// Unwrap returns ErrThrottled.
func (e *ThrottleError) Unwrap() error { return ErrThrottled }

// Request is one invocation.
type Request struct {
	Function functions.Function
	ARN      string // the function's ARN as invoked (with qualifier)
	Version  string // "$LATEST" or a version number
	Payload  []byte
	// ClientContext is the base64 X-Amz-Client-Context header.
	ClientContext string
}

// Result is an invocation's outcome.
type Result struct {
	RequestID string
	Payload   []byte
	// FunctionError is "Unhandled" when the function failed; Payload is
	// then Lambda's error JSON.
	FunctionError string
	// Log is the invocation's log text, START to REPORT.
	Log      []byte
	Duration time.Duration
}

// Pool runs invocations in execution environments.
type Pool struct {
	cfg        Config
	host       *sandbox.Host
	code       *Unpacker
	runtimeDir string
	logs       LogSink
	log        *slog.Logger
	Metrics    *Metrics

	mu        sync.Mutex
	fns       map[string]*fnInstances       // by function name and version
	busy      map[string]int                // running invocations by function name
	running   map[string]map[*instance]bool // environments serving an invocation, by function name
	gen       map[string]uint64             // by function name and by pool key; StopFunction increments them
	reserved  map[string]int                // reserved concurrency by function name
	unreserve int                           // running invocations of functions without a reservation
	closed    bool
	stop      chan struct{}
	abort     chan struct{} // closed by Abort: running invocations end
	abortOnce sync.Once
	wg        sync.WaitGroup
}

type fnInstances struct {
	revision string
	idle     []*instance
}

// NewPool returns a pool whose sandboxes are made by host, with code
// unpacked by code under dir/code and the runtime clients written to
// dir/runtime. Logs go to logs.
func NewPool(cfg Config, host *sandbox.Host, code *Unpacker, dir string, logs LogSink, log *slog.Logger) (*Pool, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.InitTimeout <= 0 {
		cfg.InitTimeout = DefaultInitTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.TmpBytes <= 0 {
		cfg.TmpBytes = 512 << 20
	}
	if cfg.Pids <= 0 {
		cfg.Pids = 1024
	}
	// Nothing runs yet: unpacked code left by an earlier process is
	// unpacked again when needed.
	if err := code.Reset(); err != nil {
		return nil, fmt.Errorf("removing the unpacked code of an earlier run: %w", err)
	}
	rt := filepath.Join(dir, "runtime")
	os.RemoveAll(rt)
	if err := os.MkdirAll(rt, 0o755); err != nil {
		return nil, err
	}
	if err := writeBootstraps(rt); err != nil {
		return nil, fmt.Errorf("writing the runtime clients: %w", err)
	}
	// Where NodeModules is mounted (the runtime directory is read-only
	// in the sandbox, so the mount point must exist in it).
	if err := os.MkdirAll(filepath.Join(rt, "node_modules"), 0o755); err != nil {
		return nil, err
	}
	if cfg.NodeModules != "" {
		if fi, err := os.Stat(cfg.NodeModules); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("functions.node_modules_dir %s is not a directory: %v", cfg.NodeModules, err)
		}
	}
	p := &Pool{cfg: cfg, host: host, code: code, runtimeDir: rt, logs: logs, log: log, Metrics: NewMetrics(),
		fns: map[string]*fnInstances{}, busy: map[string]int{}, reserved: map[string]int{}, stop: make(chan struct{}), abort: make(chan struct{}),
		running: map[string]map[*instance]bool{}, gen: map[string]uint64{}}
	p.wg.Add(1)
	go p.reap()
	return p, nil
}

// SetReserved sets (n >= 0) or removes (n < 0) a function's reserved
// concurrency.
func (p *Pool) SetReserved(function string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n < 0 {
		delete(p.reserved, function)
	} else {
		p.reserved[function] = n
	}
}

// Unreserved is the concurrency left to functions without a
// reservation.
func (p *Pool) Unreserved() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.unreservedLocked()
}

func (p *Pool) unreservedLocked() int {
	n := p.cfg.Concurrency
	for _, r := range p.reserved {
		n -= r
	}
	return n
}

// Concurrency is the pool's total concurrency.
func (p *Pool) Concurrency() int { return p.cfg.Concurrency }

// acquire reserves a slot for an invocation of f and returns an idle
// instance, now marked running, or nil when a new one must be started;
// and the function's generation, for track.
func (p *Pool) acquire(key, revision, name string) (*instance, uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, 0, errors.New("the function runtime is shutting down")
	}
	if r, ok := p.reserved[name]; ok {
		if p.busy[name] >= r {
			return nil, 0, &ThrottleError{Limit: LimitReserved}
		}
	} else {
		if p.unreserve >= p.unreservedLocked() {
			return nil, 0, &ThrottleError{Limit: LimitUnreserved}
		}
		p.unreserve++
	}
	p.busy[name]++
	fi := p.fns[key]
	if fi == nil {
		fi = &fnInstances{revision: revision}
		p.fns[key] = fi
	}
	if fi.revision != revision {
		// The function changed: its old environments are not reused.
		for _, in := range fi.idle {
			go in.sb.Close()
		}
		fi.idle, fi.revision = nil, revision
	}
	for n := len(fi.idle); n > 0; n = len(fi.idle) {
		in := fi.idle[n-1]
		fi.idle = fi.idle[:n-1]
		if in.alive() && (in.credsExpire.IsZero() || time.Now().Before(in.credsExpire.Add(-credsMargin))) {
			p.trackLocked(name, in)
			return in, p.genLocked(name, key), nil
		}
		go in.sb.Close() // it ended while idle: start a fresh one
	}
	return nil, p.genLocked(name, key), nil
}

// genLocked is the generation of a function version: it changes when
// StopFunction stops the function or that version.
func (p *Pool) genLocked(name, key string) uint64 { return p.gen[name] + p.gen[key] }

func (p *Pool) trackLocked(name string, in *instance) {
	if p.running[name] == nil {
		p.running[name] = map[*instance]bool{}
	}
	p.running[name][in] = true
}

// track marks a new environment of function name running. If the
// function was stopped since acquire returned generation g, the
// environment is killed: the invocation then ends as its runtime's exit.
func (p *Pool) track(name string, in *instance, g uint64) {
	p.mu.Lock()
	stopped := p.genLocked(name, in.key) != g
	p.trackLocked(name, in)
	p.mu.Unlock()
	if stopped {
		in.sb.Kill()
	}
}

// StopFunction ends the environments of a function version ("$LATEST"
// or a number), or of every version when version is "", idle or serving
// an invocation (which then fails as its runtime's exit), and returns
// once their processes are gone. A change of the function's code stops
// $LATEST; its deletion, every version.
func (p *Pool) StopFunction(name, version string) {
	p.mu.Lock()
	match := func(key string) bool {
		if version == "" {
			return strings.HasPrefix(key, name+":")
		}
		return key == name+":"+version
	}
	if version == "" {
		p.gen[name]++
	} else {
		p.gen[name+":"+version]++
	}
	var idle, busy []*instance
	for key, fi := range p.fns {
		if match(key) {
			idle = append(idle, fi.idle...)
			delete(p.fns, key)
		}
	}
	for in := range p.running[name] {
		if match(in.key) {
			busy = append(busy, in)
		}
	}
	p.mu.Unlock()
	for _, in := range busy {
		in.sb.Kill()
	}
	for _, in := range idle {
		in.sb.Close()
	}
	for _, in := range busy {
		<-in.sb.Done()
	}
}

// ForgetCode removes the unpacked files of a package no version uses.
func (p *Pool) ForgetCode(path string) {
	if err := p.code.Remove(path); err != nil {
		p.log.Warn("failed to remove unpacked code", "path", path, "err", err)
	}
}

// release returns a slot and keeps in for reuse when it can serve again.
func (p *Pool) release(name string, in *instance, reusable bool) {
	p.mu.Lock()
	p.busy[name]--
	if p.busy[name] == 0 {
		delete(p.busy, name)
	}
	if _, ok := p.reserved[name]; !ok {
		p.unreserve--
	}
	if in != nil {
		delete(p.running[name], in)
		if len(p.running[name]) == 0 {
			delete(p.running, name)
		}
	}
	keep := false
	if in != nil && reusable && !p.closed {
		if fi := p.fns[in.key]; fi != nil && fi.revision == in.revision {
			in.lastUsed = time.Now()
			fi.idle = append(fi.idle, in)
			keep = true
		}
	}
	p.mu.Unlock()
	if in != nil && !keep {
		go in.sb.Close()
	}
}

// reap closes environments idle for longer than IdleTimeout.
func (p *Pool) reap() {
	defer p.wg.Done()
	every := min(max(p.cfg.IdleTimeout/4, 10*time.Millisecond), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.reapIdle(time.Now())
	}
}

// reapIdle closes the environments that at now have been idle for
// longer than IdleTimeout.
func (p *Pool) reapIdle(now time.Time) {
	cutoff := now.Add(-p.cfg.IdleTimeout)
	var old []*instance
	p.mu.Lock()
	for _, fi := range p.fns {
		keep := fi.idle[:0]
		for _, in := range fi.idle {
			if in.lastUsed.Before(cutoff) {
				old = append(old, in)
			} else {
				keep = append(keep, in)
			}
		}
		fi.idle = keep
	}
	p.mu.Unlock()
	for _, in := range old {
		in.sb.Close()
	}
}

// Idle is the number of idle execution environments (for tests and
// metrics).
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, fi := range p.fns {
		n += len(fi.idle)
	}
	return n
}

// Close stops every execution environment.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var all []*instance
	for _, fi := range p.fns {
		all = append(all, fi.idle...)
		fi.idle = nil
	}
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
	for _, in := range all {
		in.sb.Close()
	}
	return nil
}

// Abort ends every running invocation now, with an error, and discards
// their environments: a server stopping past its shutdown timeout.
func (p *Pool) Abort() { p.abortOnce.Do(func() { close(p.abort) }) }

// Running returns how many invocations of the function run now.
func (p *Pool) Running(function string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.busy[function]
}

// ConcurrentExecutions returns how many invocations run now, of every
// function (Lambda's ConcurrentExecutions).
func (p *Pool) ConcurrentExecutions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, b := range p.busy {
		n += b
	}
	return n
}

// Invoke runs one invocation and returns its result. A throttled
// invocation returns a *ThrottleError; other errors are Signet's, not the
// function's (which are in Result.FunctionError).
func (p *Pool) Invoke(ctx context.Context, req Request) (_ Result, err error) {
	f := req.Function
	ctx, span := telemetry.Start(ctx, "sandbox.invoke", attribute.String("faas.name", f.Name), attribute.String("faas.version", req.Version))
	defer telemetry.End(span, &err)
	key := f.Name + ":" + req.Version
	revision := f.RevisionID + "/" + f.CodeSHA256
	in, g, err := p.acquire(key, revision, f.Name)
	if err != nil {
		if _, ok := err.(*ThrottleError); ok {
			p.Metrics.throttle(f.Name)
		}
		return Result{}, err
	}
	reusable := false
	defer func() { p.release(f.Name, in, reusable) }()

	res := Result{RequestID: uuid.NewString()}
	var lines logLines
	timeout := time.Duration(f.Timeout) * time.Second
	if in == nil {
		var init outcome
		in, init, err = p.start(ctx, f, req.Version, key, revision)
		var fe *startError
		if errors.As(err, &fe) {
			// The function cannot start because of its package or
			// runtime: its error, not Signet's.
			lines.addf("START RequestId: %s Version: %s", res.RequestID, req.Version)
			lines.addf("END RequestId: %s", res.RequestID)
			lines.addf("REPORT RequestId: %s\tDuration: 0.00 ms\tBilled Duration: 0 ms\tMemory Size: %d MB\tMax Memory Used: 0 MB\tStatus: error\tError Type: %s",
				res.RequestID, f.MemorySize, p.startErrorType(fe.kind))
			res.Payload, res.FunctionError, res.Log = lambdaError(p.startErrorType(fe.kind), fe.msg), "Unhandled", lines.text()
			stream := fmt.Sprintf("%s/[%s]%s", time.Now().UTC().Format("2006/01/02"), req.Version, randHex(16))
			p.finish(f.Name, stream, lines, res, 0)
			return res, nil
		}
		if err != nil {
			return Result{}, err
		}
		p.track(f.Name, in, g)
		if init.errorType != "" {
			lines.add(in.takeOutput())
			lines.addf("INIT_REPORT Init Duration: %.2f ms\tPhase: init\tStatus: error\tError Type: %s", ms(time.Since(in.started)), errorTypeOf(init.payload))
			lines.addf("START RequestId: %s Version: %s", res.RequestID, req.Version)
			lines.addf("END RequestId: %s", res.RequestID)
			lines.addf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\tStatus: error\tError Type: %s",
				res.RequestID, ms(time.Since(in.started)), billed(time.Since(in.started)), f.MemorySize, mb(in.sb.PeakMemory()), errorTypeOf(init.payload))
			res.Payload, res.FunctionError, res.Log = init.payload, init.errorType, lines.text()
			p.finish(f.Name, in.stream, lines, res, 0)
			return res, nil
		}
	}
	// Output from the init phase precedes START, as in Lambda.
	lines.add(in.takeOutput())
	lines.addf("START RequestId: %s Version: %s", res.RequestID, req.Version)
	h := invokeHeader{RequestID: res.RequestID, DeadlineMs: time.Now().Add(timeout).UnixMilli(), InvokedFunctionArn: req.ARN,
		TraceID: fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), randHex(12), randHex(8))}
	if req.ClientContext != "" {
		if b, err := base64.StdEncoding.DecodeString(req.ClientContext); err == nil {
			h.ClientContext = string(b)
		}
	}
	payload := req.Payload
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	start := time.Now()
	out := in.invoke(h, payload, timeout, p.abort)
	res.Duration = time.Since(start)
	if out.timedOut {
		in.sb.Kill()
	}
	lines.add(in.takeOutput())
	if out.timedOut {
		lines.addf("%s %s Task timed out after %.2f seconds", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), res.RequestID, timeout.Seconds())
	}
	lines.addf("END RequestId: %s", res.RequestID)
	report := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t",
		res.RequestID, ms(res.Duration), billed(res.Duration), f.MemorySize, mb(in.sb.PeakMemory()))
	if !in.initReported {
		in.initReported = true
		report += fmt.Sprintf("Init Duration: %.2f ms\t", ms(in.initDur))
	}
	if out.timedOut {
		report += "Status: timeout"
	} else if out.errorType != "" && !out.reusable {
		report += "Status: error\tError Type: " + errorTypeOf(out.payload)
	}
	lines.addf("%s", report)
	res.Payload, res.FunctionError, res.Log = out.payload, out.errorType, lines.text()
	reusable = out.reusable
	p.finish(f.Name, in.stream, lines, res, res.Duration)
	return res, nil
}

// finish writes an invocation's log and metrics.
func (p *Pool) finish(fn, stream string, lines logLines, res Result, d time.Duration) {
	if p.logs != nil {
		p.logs.Write(LogGroup(fn), stream, lines.events)
	}
	p.Metrics.record(fn, d, res.FunctionError != "")
}

// start starts an execution environment for f and waits for its
// runtime to be ready.
func (p *Pool) start(ctx context.Context, f functions.Function, version, key, revision string) (*instance, outcome, error) {
	args, err := runtimeCommand(f.Runtime)
	if err != nil {
		return nil, outcome{}, &startError{kind: ErrUnsupportedRuntime, msg: err.Error()}
	}
	task, opt, err := p.code.Unpack(ctx, f)
	if errors.Is(err, ErrBadPackage) || errors.Is(err, ErrCodeTooLarge) {
		return nil, outcome{}, &startError{kind: ErrBadPackage, msg: "Lambda could not unzip the deployment package: " + err.Error()}
	}
	if err != nil {
		return nil, outcome{}, err
	}
	id := randHex(16)
	now := time.Now().UTC()
	in := &instance{id: id, key: key, revision: revision, started: time.Now(), frames: make(chan frame, 4),
		stream: fmt.Sprintf("%s/[%s]%s", now.Format("2006/01/02"), version, id)}
	env := p.environment(f, version, in.stream)
	if p.cfg.Credentials != nil {
		c, err := p.cfg.Credentials(ctx, f)
		if err != nil {
			return nil, outcome{}, &errs.Error{Kind: ErrExecutionRole, Msg: "The role defined for the function cannot be assumed by Lambda. (" + err.Error() + ")"}
		}
		env = append(env, "AWS_ACCESS_KEY_ID="+c.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+c.SecretAccessKey, "AWS_SESSION_TOKEN="+c.SessionToken)
		in.credsExpire = c.Expiration
		in.environment = Environment{ID: id, Function: f.Name, Credentials: c, Variables: f.Environment}
	}
	api := ""
	if p.cfg.API != nil {
		api = APIAddr
		in.api, in.relayed = p.cfg.API, make(chan struct{}, maxRelayed)
		env = append(env, "AWS_ENDPOINT_URL=http://"+APIAddr)
	}
	ext := ""
	if api != "" && p.cfg.Credentials != nil {
		ext = "127.0.0.1:" + ExtensionPort
		if port := f.Environment["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"]; port != "" {
			ext = "127.0.0.1:" + port
		}
	}
	payload, _ := json.Marshal(initPayload{Args: args, Env: env, Dir: "/var/task", API: api, Extension: ext})
	binds := []sandbox.Bind{{Source: task, Target: "/var/task"}, {Source: p.runtimeDir, Target: "/var/runtime"}}
	if opt != "" {
		binds = append(binds, sandbox.Bind{Source: opt, Target: "/opt"})
	}
	if p.cfg.NodeModules != "" && strings.HasPrefix(f.Runtime, "nodejs") {
		binds = append(binds, sandbox.Bind{Source: p.cfg.NodeModules, Target: "/var/runtime/node_modules"})
	}
	in.sb, err = p.host.Start(sandbox.Config{
		Name:  "fn-" + id,
		Binds: binds,
		Limits: sandbox.Limits{
			MemoryBytes: int64(f.MemorySize) << 20,
			Pids:        p.cfg.Pids,
			CPUs:        math.Ceil(float64(f.MemorySize) / 1769),
			TmpBytes:    p.cfg.TmpBytes,
		},
		Payload: payload,
		Stderr:  slogWriter{p.log, f.Name},
	})
	if err != nil {
		return nil, outcome{}, err
	}
	go in.read()
	out := in.awaitReady(max(p.cfg.InitTimeout, time.Duration(f.Timeout)*time.Second))
	if out.timedOut {
		in.sb.Kill()
	}
	return in, out, nil
}

// startError is a function that cannot start because of its package or
// runtime (kind: ErrBadPackage or ErrUnsupportedRuntime); the invocation
// fails as a function error of the type Config.StartErrorType names.
type startError struct {
	kind error
	msg  string
}

func (e *startError) Error() string { return e.msg }

// Unwrap returns the kind.
func (e *startError) Unwrap() error { return e.kind }

// ErrUnsupportedRuntime reports a function whose runtime Signet does not
// run; like ErrBadPackage, it is the function's error, not Signet's.
var ErrUnsupportedRuntime = errors.New("unsupported runtime")

// ErrExecutionRole reports a function whose execution role cannot be
// assumed (its trust policy changed, or it is gone).
var ErrExecutionRole = errors.New("execution role cannot be assumed")

// startErrorType names a start failure of kind.
func (p *Pool) startErrorType(kind error) string {
	if p.cfg.StartErrorType == nil {
		return kind.Error()
	}
	return p.cfg.StartErrorType(kind)
}

// environment is the runtime's environment: the function's variables,
// then Lambda's reserved ones, which the function cannot override.
func (p *Pool) environment(f functions.Function, version, stream string) []string {
	vars := map[string]string{}
	for k, v := range f.Environment {
		vars[k] = v
	}
	for k, v := range map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          RuntimeAPIAddr,
		"_HANDLER":                        f.Handler,
		"LAMBDA_TASK_ROOT":                "/var/task",
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
		"AWS_LAMBDA_FUNCTION_NAME":        f.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(f.MemorySize),
		"AWS_LAMBDA_LOG_GROUP_NAME":       LogGroup(f.Name),
		"AWS_LAMBDA_LOG_STREAM_NAME":      stream,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_EXECUTION_ENV":               "AWS_Lambda_" + f.Runtime,
		"AWS_REGION":                      p.cfg.Region,
		"AWS_DEFAULT_REGION":              p.cfg.Region,
		"TZ":                              ":UTC",
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH":                 "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
		"PYTHONPATH":                      "/var/runtime",
		"NODE_PATH":                       "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task",
	} {
		vars[k] = v
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// LogGroup is a function's log group.
func LogGroup(function string) string { return "/aws/lambda/" + function }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func billed(d time.Duration) int64 { return int64(math.Ceil(float64(d.Microseconds()) / 1000)) }

func mb(b int64) int64 { return (b + 1<<20 - 1) >> 20 }

func errorTypeOf(payload []byte) string {
	var e struct {
		ErrorType string `json:"errorType"`
	}
	json.Unmarshal(payload, &e)
	return e.ErrorType
}

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// slogWriter logs what a sandbox's init process prints about itself.
type slogWriter struct {
	log *slog.Logger
	fn  string
}

func (w slogWriter) Write(b []byte) (int, error) {
	w.log.Warn("function sandbox", "function", w.fn, "message", string(b))
	return len(b), nil
}

var _ io.Writer = slogWriter{}
