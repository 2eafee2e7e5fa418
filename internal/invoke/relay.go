package invoke

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// APIAddr is where a function reaches Signet's AWS APIs from inside its
// sandbox (AWS_ENDPOINT_URL): a listener of the init process in the
// sandbox's own network namespace, which relays each request over the
// control socket to Signet. The sandbox still has no route anywhere
// else; the requests are authenticated and authorized as any other.
const APIAddr = "127.0.0.1:9002"

// maxRelayBody bounds a relayed request or response body.
const maxRelayBody = MaxSyncPayload

// relayTimeout bounds one relayed request.
const relayTimeout = 2 * time.Minute

// maxRelayed is how many relayed requests of one environment Signet
// serves at once; more wait.
const maxRelayed = 4

// apiRequestHeader is the header of frameAPIRequest.
type apiRequestHeader struct {
	ID     uint64      `json:"id"`
	Method string      `json:"method"`
	URI    string      `json:"uri"`
	Host   string      `json:"host"`
	Header http.Header `json:"header"`
}

// apiResponseHeader is the header of frameAPIResponse.
type apiResponseHeader struct {
	ID     uint64      `json:"id"`
	Status int         `json:"status"`
	Header http.Header `json:"header"`
}

// Credentials are an execution role's temporary credentials.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

// serveAPI serves one relayed request with the pool's API handler and
// sends the response back into the sandbox.
func (in *instance) serveAPI(ctx context.Context, api http.Handler, f frame) {
	var h apiRequestHeader
	if err := json.Unmarshal(f.hdr, &h); err != nil {
		return
	}
	rec := &relayRecorder{header: http.Header{}}
	func() {
		ctx, cancel := context.WithTimeout(ctx, relayTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, h.Method, "http://"+h.Host+h.URI, bytes.NewReader(f.body))
		if err != nil || api == nil {
			rec.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(rec, "Signet could not relay the request: %v", err)
			return
		}
		req.Header = h.Header
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.Host = h.Host
		req.RequestURI = h.URI
		req.RemoteAddr = "127.0.0.1:0" // from inside a sandbox
		api.ServeHTTP(rec, req)
	}()
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	in.wmu.Lock()
	writeFrame(in.sb.Control, frameAPIResponse, apiResponseHeader{ID: h.ID, Status: rec.status, Header: rec.header}, rec.body.Bytes())
	in.wmu.Unlock()
}

// relayRecorder collects a relayed response, at most maxRelayBody
// bytes of body.
type relayRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *relayRecorder) Header() http.Header { return r.header }

func (r *relayRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *relayRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(b) > maxRelayBody {
		return 0, fmt.Errorf("the response is larger than the %d bytes Signet relays into a sandbox", maxRelayBody)
	}
	return r.body.Write(b)
}

// Flush does nothing: the response is sent whole.
func (r *relayRecorder) Flush() {}
