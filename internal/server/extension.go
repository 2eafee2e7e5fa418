package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/signet/signet/internal/invoke"
)

// The Parameters and Secrets extension, as AWS's Lambda extension serves
// it inside an execution environment (localhost:2773): GET
// /systemsmanager/parameters/get and /secretsmanager/get answer what
// GetParameter and GetSecretValue answer, called with the environment's
// role credentials, after checking X-Aws-Parameters-Secrets-Token against
// its session token. Answers are cached per environment with the
// extension's settings (PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED,
// _CACHE_SIZE 0–1000, SSM_PARAMETER_STORE_TTL / SECRETS_MANAGER_TTL,
// default and at most 300 s). Unlike AWS's extension, a write to a
// parameter or a secret (a new value, a stage moved, a deletion) evicts it
// from every environment's cache at once: the next read sees it.

// extensionCaches are the extension's caches, one per environment.
type extensionCaches struct {
	mu     sync.Mutex
	envs   map[string]*extensionCache // by environment id
	now    func() time.Time
	hits   int64
	misses int64
}

type extensionCache struct {
	lastUsed time.Time
	entries  map[string]extensionEntry // by request
}

type extensionEntry struct {
	resource string // the ARN of the parameter or secret
	body     []byte
	expires  time.Time
}

// extensionIdle is how long the cache of an environment that made no
// request is kept (an entry lives at most 300 s anyway).
const extensionIdle = 10 * time.Minute

func (c *extensionCaches) get(env, key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	ec := c.envs[env]
	if ec == nil {
		c.misses++
		return nil, false
	}
	ec.lastUsed = now
	e, ok := ec.entries[key]
	if !ok || !now.Before(e.expires) {
		delete(ec.entries, key)
		c.misses++
		return nil, false
	}
	c.hits++
	return e.body, true
}

func (c *extensionCaches) put(env, key string, e extensionEntry, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.envs == nil {
		c.envs = map[string]*extensionCache{}
	}
	for id, ec := range c.envs {
		if now.Sub(ec.lastUsed) > extensionIdle {
			delete(c.envs, id)
		}
	}
	ec := c.envs[env]
	if ec == nil {
		ec = &extensionCache{entries: map[string]extensionEntry{}}
		c.envs[env] = ec
	}
	ec.lastUsed = now
	if len(ec.entries) >= size {
		// Full: expired entries go first, else the one expiring first.
		oldest := ""
		for k, x := range ec.entries {
			if !now.Before(x.expires) {
				delete(ec.entries, k)
			} else if oldest == "" || x.expires.Before(ec.entries[oldest].expires) {
				oldest = k
			}
		}
		if len(ec.entries) >= size && oldest != "" {
			delete(ec.entries, oldest)
		}
	}
	ec.entries[key] = e
}

// evict drops every cached answer about a resource (an ARN), in every
// environment; "ssm:*" drops every parameter.
func (c *extensionCaches) evict(resource string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ec := range c.envs {
		for k, e := range ec.entries {
			if e.resource == resource || resource == "ssm:*" && strings.Contains(e.resource, ":ssm:") {
				delete(ec.entries, k)
			}
		}
	}
}

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
	switch {
	case action == "ssm:DeleteParameters":
		s.extension.evict("ssm:*")
	case evictingActions[action]:
		s.extension.evict(resource)
	}
}

// extensionSettings are an environment's extension settings.
type extensionSettings struct {
	enabled       bool
	size          int
	ssmTTL, smTTL time.Duration
}

func settingsOf(vars map[string]string) (extensionSettings, error) {
	st := extensionSettings{enabled: true, size: 1000, ssmTTL: 300 * time.Second, smTTL: 300 * time.Second}
	if v, ok := vars["PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return st, fmt.Errorf("PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED=%q is not true or false", v)
		}
		st.enabled = b
	}
	if v, ok := vars["PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000 {
			return st, fmt.Errorf("PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE=%q is not a number from 0 to 1000", v)
		}
		st.size = n
	}
	for name, d := range map[string]*time.Duration{"SSM_PARAMETER_STORE_TTL": &st.ssmTTL, "SECRETS_MANAGER_TTL": &st.smTTL} {
		if v, ok := vars[name]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 300 {
				return st, fmt.Errorf("%s=%q is not a number of seconds from 0 to 300", name, v)
			}
			*d = time.Duration(n) * time.Second
		}
	}
	if st.size == 0 {
		st.enabled = false
	}
	return st, nil
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
	tok := http.Header(in.Header).Get("X-Aws-Parameters-Secrets-Token")
	if tok == "" || env.Credentials.SessionToken == "" || tok != env.Credentials.SessionToken {
		return text(http.StatusForbidden, "X-Aws-Parameters-Secrets-Token must be this environment's AWS_SESSION_TOKEN")
	}
	st, err := settingsOf(env.Variables)
	if err != nil {
		return text(http.StatusBadRequest, err.Error())
	}
	q := u.Query()
	var target string
	var body map[string]any
	var ttl time.Duration
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
		target, body, ttl = "AmazonSSM.GetParameter", map[string]any{"Name": name, "WithDecryption": decrypt}, st.ssmTTL
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
		target, ttl = "secretsmanager.GetSecretValue", st.smTTL
	default:
		return text(http.StatusNotFound, "the extension serves /systemsmanager/parameters/get and /secretsmanager/get")
	}
	key := target + "?" + u.Query().Encode()
	cache := st.enabled && ttl > 0
	if cache {
		if b, ok := f.s.extension.get(env.ID, key); ok {
			return invoke.APIResponse{Status: http.StatusOK, Header: map[string][]string{"Content-Type": {"application/json"}}, Body: b}
		}
	}
	resp, err := f.call(ctx, env, target, body)
	if err != nil {
		return text(http.StatusInternalServerError, err.Error())
	}
	if resp.Status == http.StatusOK && cache {
		var out struct {
			ARN       string
			Parameter struct{ ARN string }
		}
		json.Unmarshal(resp.Body, &out)
		resource := out.ARN
		if resource == "" {
			resource = out.Parameter.ARN
		}
		f.s.extension.put(env.ID, key, extensionEntry{resource: resource, body: resp.Body, expires: f.s.extension.now().Add(ttl)}, st.size)
	}
	return invoke.APIResponse{Status: resp.Status, Header: map[string][]string{"Content-Type": {"application/json"}}, Body: resp.Body}
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
