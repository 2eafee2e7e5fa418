package invoke

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/signet/signet/internal/sandbox"
)

// instance is one execution environment: a sandbox running a function's
// runtime, used by one invocation at a time.
type instance struct {
	id       string
	key      string // pool key (function and version)
	revision string // configuration and code it was started with
	stream   string // its log stream
	sb       *sandbox.Sandbox
	frames   chan frame // results, from read
	lastUsed time.Time
	started  time.Time
	initDur  time.Duration
	// initReported: Init Duration is reported by the first REPORT only.
	initReported bool

	mu  sync.Mutex
	out bytes.Buffer // output not yet attributed to an invocation

	wmu sync.Mutex // serialises frames to the sandbox
	// api serves the AWS API requests the function makes (nil: none);
	// relayed limits how many run at once.
	api     API
	relayed chan struct{}
	// credsExpire is when the execution role's credentials in its
	// environment expire (zero: it has none).
	credsExpire time.Time
	// environment is what relayed requests are served for.
	environment Environment
}

// read relays frames from the sandbox: output is collected, the rest
// delivered on frames, which is closed when the sandbox ends.
func (in *instance) read() {
	defer close(in.frames)
	for {
		f, err := readFrame(in.sb.Control)
		if err != nil {
			return
		}
		if f.typ == frameLog {
			in.mu.Lock()
			if in.out.Len() < maxBufferedOutput {
				in.out.Write(f.body)
			}
			in.mu.Unlock()
			continue
		}
		if f.typ == frameAPIRequest {
			in.relay(f)
			continue
		}
		in.frames <- f
	}
}

// relay serves a relayed API request in the background, at most
// maxRelayed at once; the request's context ends with the sandbox.
func (in *instance) relay(f frame) {
	in.relayed <- struct{}{}
	go func() {
		defer func() { <-in.relayed }()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-in.sb.Done():
				cancel()
			case <-ctx.Done():
			}
		}()
		in.serveAPI(ctx, in.api, f)
	}()
}

// alive reports whether an idle instance can take an invocation: its
// sandbox is running and it has said nothing since its last result (an
// idle runtime that exits or reports an error is not reused).
func (in *instance) alive() bool {
	select {
	case <-in.sb.Done():
		return false
	default:
		return len(in.frames) == 0
	}
}

// maxBufferedOutput bounds the output kept for one invocation.
const maxBufferedOutput = 1 << 20

// takeOutput returns and clears the output collected so far.
func (in *instance) takeOutput() []byte {
	in.mu.Lock()
	defer in.mu.Unlock()
	b := bytes.Clone(in.out.Bytes())
	in.out.Reset()
	return b
}

// outcome is how an invocation or an init phase ended.
type outcome struct {
	payload   []byte
	errorType string // "" on success
	reusable  bool   // the instance can serve another invocation
	timedOut  bool
}

// awaitReady waits for the runtime to ask for its first event.
func (in *instance) awaitReady(timeout time.Duration) outcome {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case f, ok := <-in.frames:
			if !ok {
				return in.ended("")
			}
			switch f.typ {
			case frameReady:
				in.initDur = time.Since(in.started)
				return outcome{reusable: true}
			case frameInitError:
				return outcome{payload: errorBody(f.body, headerType(f.hdr), ""), errorType: "Unhandled"}
			case frameExit:
				return in.exited(f, "")
			}
		case <-t.C:
			msg := fmt.Sprintf("INIT timed out after %.2f seconds", timeout.Seconds())
			return outcome{payload: lambdaError("Sandbox.Timedout", msg), errorType: "Unhandled", timedOut: true}
		}
	}
}

// invoke sends one invocation and waits for its result until deadline.
func (in *instance) invoke(h invokeHeader, payload []byte, timeout time.Duration, abort <-chan struct{}) outcome {
	in.wmu.Lock()
	err := writeFrame(in.sb.Control, frameInvoke, h, payload)
	in.wmu.Unlock()
	if err != nil {
		return in.ended(h.RequestID)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case f, ok := <-in.frames:
			if !ok {
				return in.ended(h.RequestID)
			}
			var rh resultHeader
			json.Unmarshal(f.hdr, &rh)
			switch f.typ {
			case frameResponse:
				if rh.RequestID == h.RequestID {
					return outcome{payload: f.body, reusable: true}
				}
			case frameError:
				if rh.RequestID == h.RequestID {
					return outcome{payload: errorBody(f.body, rh.ErrorType, h.RequestID), errorType: "Unhandled", reusable: true}
				}
			case frameInitError:
				return outcome{payload: errorBody(f.body, rh.ErrorType, h.RequestID), errorType: "Unhandled"}
			case frameExit:
				return in.exited(f, h.RequestID)
			}
		case <-t.C:
			msg := fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", h.RequestID, timeout.Seconds())
			return outcome{payload: lambdaError("Sandbox.Timedout", msg), errorType: "Unhandled", timedOut: true}
		case <-abort:
			msg := fmt.Sprintf("RequestId: %s Error: the server stopped during the invocation", h.RequestID)
			return outcome{payload: lambdaError("Sandbox.Stopped", msg), errorType: "Unhandled"}
		}
	}
}

// exited reports a runtime that ended during an invocation.
func (in *instance) exited(f frame, requestID string) outcome {
	var rh resultHeader
	json.Unmarshal(f.hdr, &rh)
	return in.crashed(requestID, rh.Status)
}

// ended reports a sandbox that went away without a word.
func (in *instance) ended(requestID string) outcome {
	<-in.sb.Done()
	status := "signal: killed"
	if err := in.sb.ExitError(); err != nil {
		status = err.Error()
	}
	return in.crashed(requestID, status)
}

func (in *instance) crashed(requestID, status string) outcome {
	typ := "Runtime.ExitError"
	if in.sb.OOMKilled() {
		typ = "Runtime.OutOfMemory"
	}
	msg := "Error: Runtime exited with error: " + status
	if requestID != "" {
		msg = "RequestId: " + requestID + " " + msg
	}
	return outcome{payload: lambdaError(typ, msg), errorType: "Unhandled"}
}

func headerType(hdr []byte) string {
	var rh resultHeader
	json.Unmarshal(hdr, &rh)
	return rh.ErrorType
}

// errorBody is the payload returned for an error the runtime reported:
// its own JSON when it is Lambda's error shape, otherwise a
// Runtime.Unknown error carrying what it sent.
func errorBody(body []byte, errorType, requestID string) []byte {
	var e struct {
		ErrorMessage *string `json:"errorMessage"`
		ErrorType    *string `json:"errorType"`
	}
	if json.Unmarshal(body, &e) == nil && (e.ErrorMessage != nil || e.ErrorType != nil) {
		return body
	}
	if errorType == "" {
		errorType = "Runtime.Unknown"
	}
	msg := "Unknown application error occurred"
	if len(body) > 0 {
		msg = string(body)
	}
	return lambdaError(errorType, msg)
}

// lambdaError is Lambda's error JSON.
func lambdaError(typ, msg string) []byte {
	b, _ := json.Marshal(struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}{typ, msg})
	return b
}
