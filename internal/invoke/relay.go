package invoke

import (
	"context"
	"encoding/json"
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

// maxRelayHeader bounds a relayed request's header, well under the
// frame header's limit (a larger one gets 431 inside the sandbox).
const maxRelayHeader = 32 << 10

// relayTimeout bounds one relayed request.
const relayTimeout = 2 * time.Minute

// maxRelayed is how many relayed requests of one environment Signet
// serves at once; more wait.
const maxRelayed = 4

// APIRequest is an HTTP request a function made to APIAddr, or to the
// Parameters and Secrets extension's port (Extension).
type APIRequest struct {
	Method    string              `json:"method"`
	URI       string              `json:"uri"` // path and query, as sent
	Host      string              `json:"host"`
	Header    map[string][]string `json:"header"`
	Extension bool                `json:"ext,omitempty"`
	Body      []byte              `json:"-"`
}

// ExtensionPort is where AWS's Parameters and Secrets Lambda extension
// listens (localhost:2773) unless PARAMETERS_SECRETS_EXTENSION_HTTP_PORT
// says otherwise; Signet's init process listens there in every sandbox
// whose function has credentials.
const ExtensionPort = "2773"

// Environment is what Signet knows of the execution environment a
// relayed request came from.
type Environment struct {
	ID          string
	Function    string
	Credentials Credentials
	// Variables are the function's own environment variables (the
	// extension's settings among them).
	Variables map[string]string
}

// APIResponse is the answer to an APIRequest. Body is at most
// MaxRelayBody bytes.
type APIResponse struct {
	Status int                 `json:"status"`
	Header map[string][]string `json:"header"`
	Body   []byte              `json:"-"`
}

// MaxRelayBody is the largest request or response body relayed.
const MaxRelayBody = maxRelayBody

// API serves the requests functions make to APIAddr, and those made to
// the extension's port (ServeExtension), for the environment they came
// from.
type API interface {
	ServeAPI(ctx context.Context, req APIRequest) APIResponse
	ServeExtension(ctx context.Context, env Environment, req APIRequest) APIResponse
}

// apiRequestHeader is the header of frameAPIRequest.
type apiRequestHeader struct {
	ID uint64 `json:"id"`
	APIRequest
}

// apiResponseHeader is the header of frameAPIResponse.
type apiResponseHeader struct {
	ID uint64 `json:"id"`
	APIResponse
}

// Credentials are an execution role's temporary credentials.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

// serveAPI serves one relayed request with the pool's API and sends the
// response back into the sandbox.
func (in *instance) serveAPI(ctx context.Context, api API, f frame) {
	var h apiRequestHeader
	if err := json.Unmarshal(f.hdr, &h); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, relayTimeout)
	defer cancel()
	req := h.APIRequest
	req.Body = f.body
	var resp APIResponse
	if req.Extension {
		resp = api.ServeExtension(ctx, in.environment, req)
	} else {
		resp = api.ServeAPI(ctx, req)
	}
	if len(resp.Body) > maxRelayBody {
		resp = APIResponse{Status: 502, Body: []byte("the response is larger than Signet relays into a sandbox")}
	}
	in.wmu.Lock()
	writeFrame(in.sb.Control, frameAPIResponse, apiResponseHeader{ID: h.ID, APIResponse: resp}, resp.Body)
	in.wmu.Unlock()
}
