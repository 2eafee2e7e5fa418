package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/signet/signet/internal/invoke"
)

// The Parameters and Secrets extension, as AWS's Lambda extension serves
// it inside an execution environment (localhost:2773): GET
// /systemsmanager/parameters/get and /secretsmanager/get answer what
// GetParameter and GetSecretValue answer, called with the environment's
// role credentials. The environment's init process checks
// X-Aws-Parameters-Secrets-Token and keeps the cache (see package
// invoke); a miss comes here. Unlike AWS's extension, a write to a
// parameter or a secret (a new value, a stage moved, a deletion) evicts it
// from every environment's cache at once: the next read sees it.

// evictingActions change what the extension answers about the resource
// they act on.
var evictingActions = map[string]bool{
	"ssm:PutParameter": true, "ssm:DeleteParameter": true, "ssm:LabelParameterVersion": true, "ssm:UnlabelParameterVersion": true,
	"secretsmanager:PutSecretValue": true, "secretsmanager:UpdateSecret": true, "secretsmanager:UpdateSecretVersionStage": true,
	"secretsmanager:DeleteSecret": true, "secretsmanager:RestoreSecret": true,
}

// evictAfter evicts what a successful request changed.
func (s *Server) evictAfter(action, resource string, status int) {
	if status/100 != 2 {
		return
	}
	target := ""
	switch {
	case action == "ssm:DeleteParameters":
		target = "ssm:*"
	case evictingActions[action]:
		target = resource
	default:
		return
	}
	if s.Invoke != nil && s.Invoke.Pool != nil {
		s.Invoke.Pool.Evict(target)
	}
	s.publish(context.Background(), busEvict, target) // the other nodes' environments
}

// ServeExtension serves a request made to the extension's port.
func (f functionAPI) ServeExtension(ctx context.Context, env invoke.Environment, in invoke.APIRequest) invoke.APIResponse {
	text := func(status int, msg string) invoke.APIResponse {
		return invoke.APIResponse{Status: status, Header: map[string][]string{"Content-Type": {"text/plain; charset=utf-8"}}, Body: []byte(msg + "\n")}
	}
	u, err := url.ParseRequestURI(in.URI)
	if err != nil {
		return text(http.StatusBadRequest, "not a request URI: "+err.Error())
	}
	if u.Path == "/ping" {
		return text(http.StatusOK, "healthy")
	}
	if in.Method != http.MethodGet {
		return text(http.StatusMethodNotAllowed, "the extension answers GET requests")
	}
	// Checked by the init process too; the relay is not trusted for it.
	tok := http.Header(in.Header).Get("X-Aws-Parameters-Secrets-Token")
	if tok == "" || env.Credentials.SessionToken == "" || tok != env.Credentials.SessionToken {
		return text(http.StatusForbidden, "X-Aws-Parameters-Secrets-Token must be this environment's AWS_SESSION_TOKEN")
	}
	q := u.Query()
	var target string
	var body map[string]any
	switch u.Path {
	case "/systemsmanager/parameters/get":
		name := q.Get("name")
		if name == "" {
			return text(http.StatusBadRequest, "the name query parameter is required")
		}
		if q.Get("version") != "" && q.Get("label") != "" {
			return text(http.StatusBadRequest, "give version or label, not both")
		}
		if v := q.Get("version"); v != "" {
			name += ":" + v
		} else if l := q.Get("label"); l != "" {
			name += ":" + l
		}
		decrypt, _ := strconv.ParseBool(q.Get("withDecryption"))
		target, body = "AmazonSSM.GetParameter", map[string]any{"Name": name, "WithDecryption": decrypt}
	case "/secretsmanager/get":
		id := q.Get("secretId")
		if id == "" {
			return text(http.StatusBadRequest, "the secretId query parameter is required")
		}
		body = map[string]any{"SecretId": id}
		if v := q.Get("versionId"); v != "" {
			body["VersionId"] = v
		}
		if v := q.Get("versionStage"); v != "" {
			body["VersionStage"] = v
		}
		target = "secretsmanager.GetSecretValue"
	default:
		return text(http.StatusNotFound, "the extension serves /systemsmanager/parameters/get and /secretsmanager/get")
	}
	resp, err := f.call(ctx, env, target, body)
	if err != nil {
		return text(http.StatusInternalServerError, err.Error())
	}
	header := map[string][]string{"Content-Type": {"application/json"}}
	if resp.Status == http.StatusOK {
		// What the answer is about, for the environment's cache.
		var out struct {
			ARN       string
			Parameter struct{ ARN string }
		}
		json.Unmarshal(resp.Body, &out)
		resource := out.ARN
		if resource == "" {
			resource = out.Parameter.ARN
		}
		header[invoke.ExtensionResourceHeader] = []string{resource}
	}
	return invoke.APIResponse{Status: resp.Status, Header: header, Body: resp.Body}
}

// call makes an API call as the environment's role, through the
// server's own handler.
func (f functionAPI) call(ctx context.Context, env invoke.Environment, target string, body map[string]any) (invoke.APIResponse, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return invoke.APIResponse{}, err
	}
	service := "ssm"
	if strings.HasPrefix(target, "secretsmanager.") {
		service = "secretsmanager"
	}
	host := invoke.APIAddr
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+host+"/", bytes.NewReader(b))
	if err != nil {
		return invoke.APIResponse{}, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	sum := sha256.Sum256(b)
	c := aws.Credentials{AccessKeyID: env.Credentials.AccessKeyID, SecretAccessKey: env.Credentials.SecretAccessKey, SessionToken: env.Credentials.SessionToken}
	if err := v4.NewSigner().SignHTTP(ctx, c, req, hex.EncodeToString(sum[:]), service, f.s.inst.Account.Region, time.Now()); err != nil {
		return invoke.APIResponse{}, err
	}
	return f.ServeAPI(ctx, invoke.APIRequest{Method: req.Method, URI: "/", Host: host, Header: req.Header, Body: b}), nil
}
