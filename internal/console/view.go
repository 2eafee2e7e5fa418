package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/smithy-go"
)

// view is one request of a signed-in session.
type view struct {
	c      *Console
	w      http.ResponseWriter
	r      *http.Request
	p      Principal
	s      Session
	csrf   string
	ip     string
	secure bool
	cl     *clients
}

// clients are the AWS SDK's clients of Signet's APIs, each request run
// in process as the session's principal.
type clients struct {
	signer  *signer.Client
	lambda  *lambda.Client
	iam     *iam.Client
	secrets *secretsmanager.Client
	logs    *cloudwatchlogs.Client
	http    *http.Client // Signet's own API (signet)
}

func endpoint(service string) *string { return aws.String("http://" + service + ".console.invalid") }

func (v *view) api() *clients {
	if v.cl != nil {
		return v.cl
	}
	hc := &http.Client{Transport: v.c.d.Transport(v.p, v.ip, v.secure)}
	anon := aws.AnonymousCredentials{}
	region := v.c.d.Account.Region
	v.cl = &clients{
		signer: signer.New(signer.Options{Region: region, BaseEndpoint: endpoint("signer"), Credentials: anon, HTTPClient: hc, Retryer: aws.NopRetryer{}}),
		lambda: lambda.New(lambda.Options{Region: region, BaseEndpoint: endpoint("lambda"), Credentials: anon, HTTPClient: hc, Retryer: aws.NopRetryer{}}),
		iam:    iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: endpoint("iam"), Credentials: anon, HTTPClient: hc, Retryer: aws.NopRetryer{}}),
		secrets: secretsmanager.New(secretsmanager.Options{Region: region, BaseEndpoint: endpoint("secretsmanager"), Credentials: anon, HTTPClient: hc,
			Retryer: aws.NopRetryer{}}),
		logs: cloudwatchlogs.New(cloudwatchlogs.Options{Region: region, BaseEndpoint: endpoint("logs"), Credentials: anon, HTTPClient: hc, Retryer: aws.NopRetryer{}}),
		http: hc,
	}
	return v.cl
}

// signet calls an operation of Signet's own API (REST-JSON) and decodes
// its answer into out.
func (v *view) signet(path string, q url.Values, out any) error {
	u := "http://signet.console.invalid" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(v.r.Context(), http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := v.api().http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		json.Unmarshal(body, &e)
		code := resp.Header.Get("X-Amzn-ErrorType")
		if code == "" {
			code = e.Type
		}
		code, _, _ = strings.Cut(code, ":")
		return &apiError{status: resp.StatusCode, code: code, msg: e.Message}
	}
	return json.Unmarshal(body, out)
}

// apiError is an API's refusal as the page shows it.
type apiError struct {
	status    int
	code, msg string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

// asAPIError reads the status, code and message of an SDK error.
func asAPIError(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, true
	}
	var se smithy.APIError
	if !errors.As(err, &se) {
		return nil, false
	}
	out := &apiError{status: http.StatusBadRequest, code: se.ErrorCode(), msg: se.ErrorMessage()}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		out.status = re.HTTPStatusCode()
	}
	return out, true
}

// may reports whether the session's principal may perform action on
// resource.
func (v *view) may(action, resource string) bool {
	return v.c.d.May(v.r.Context(), v.p, v.ip, v.secure, action, resource)
}

// navItem is a section of the console, shown to those who may list it.
type navItem struct {
	Path, Label, Action string
	Current             bool
}

var sections = []navItem{
	{"/console/", "Overview", "", false},
	{"/console/profiles", "Signing profiles", "signer:ListSigningProfiles", false},
	{"/console/jobs", "Signing jobs", "signer:ListSigningJobs", false},
	{"/console/functions", "Functions", "lambda:ListFunctions", false},
	{"/console/configs", "Code signing configs", "lambda:ListCodeSigningConfigs", false},
	{"/console/admission", "Images & admission", "signet:ListWorkloads", false},
	{"/console/secrets", "Secrets", "secretsmanager:ListSecrets", false},
	{"/console/iam", "IAM", "iam:ListUsers", false},
	{"/console/audit", "Audit log", "signet:ListAuditEvents", false},
}

// page is what every template gets.
type page struct {
	Title     string
	Nav       []navItem
	Principal Principal
	CSRF      string
	Assets    map[string]string
	PlainHTTP bool
	Notice    string // a change done
	Error     *apiError
	Data      any
	v         *view
}

// May is the templates' probe: {{if $.May "signer:RevokeSignature" .JobArn}}.
func (p *page) May(action, resource string) bool { return p.v.may(action, resource) }

// HXConfig is the htmx configuration: no eval, no inline styles, no
// history snapshots (pages hold audit records and secret names).
func (p *page) HXConfig() string {
	return `{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyCacheSize":0,"refreshOnHistoryMiss":true,"selfRequestsOnly":true}`
}

// HXHeaders carries the CSRF token on htmx requests.
func (p *page) HXHeaders() string {
	b, _ := json.Marshal(map[string]string{"X-Signet-CSRF": p.CSRF})
	return string(b)
}

func (v *view) page(title string, data any) *page {
	p := &page{Title: title, Principal: v.p, CSRF: v.csrf, Assets: v.c.assetPaths, PlainHTTP: v.c.d.PlainHTTPWarning, Data: data, v: v}
	cur := v.r.URL.Path
	for _, s := range sections {
		if s.Action != "" && !v.may(s.Action, "*") {
			continue
		}
		s.Current = cur == s.Path || (s.Path != "/console/" && strings.HasPrefix(cur, s.Path))
		p.Nav = append(p.Nav, s)
	}
	return p
}

// fragments are the parts of pages that htmx replaces in place, each a
// template named by the id of its element.
var fragments = map[string]bool{"revoke-panel": true, "revoke-profile": true, "jobs-table": true, "audit-table": true}

// render writes a page, or to an htmx request for one of its fragments,
// that fragment alone.
func (v *view) render(name string, p *page) error {
	return v.renderStatus(http.StatusOK, name, p)
}

func (v *view) renderStatus(status int, name string, p *page) error {
	t, ok := v.c.pages[name]
	if !ok {
		return fmt.Errorf("no console template %s", name)
	}
	block := "layout"
	if target := v.r.Header.Get("HX-Target"); v.r.Header.Get("HX-Request") == "true" && fragments[target] && t.Lookup(target) != nil {
		block = target // a fragment, named by the id of the element it replaces
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, block, p); err != nil {
		return err
	}
	v.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	v.w.WriteHeader(status)
	_, err := v.w.Write(buf.Bytes())
	return err
}

// fail answers an error: an API's refusal with its code and message and
// the API's status; anything else as a server error, logged.
func (v *view) fail(err error) {
	if ae, ok := asAPIError(err); ok {
		p := v.page(ae.code, nil)
		p.Error = ae
		if rerr := v.renderStatus(ae.status, "error.html", p); rerr == nil {
			return
		}
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	v.c.d.Log.ErrorContext(v.r.Context(), "console page", "path", v.r.URL.Path, "err", err)
	p := v.page("Error", nil)
	p.Error = &apiError{status: http.StatusInternalServerError, code: "InternalError", msg: "the page could not be made; the server log says why"}
	v.renderStatus(http.StatusInternalServerError, "error.html", p)
}

var funcs = template.FuncMap{
	"breakGlassParam": func(s string) string {
		if s == "true" {
			return "true"
		}
		return ""
	},
	"msTime":     func(ms int64) time.Time { return time.UnixMilli(ms) },
	"list":       func(s ...string) []string { return s },
	"profileARN": func(p *page, name string) string { return p.v.c.d.Account.ProfileARN(name) },
	"form": func(p *page, f *revokeForm, kind string) map[string]any {
		return map[string]any{"F": f, "CSRF": p.CSRF, "Kind": kind}
	},
	"time": func(t any) string {
		switch x := t.(type) {
		case time.Time:
			if x.IsZero() {
				return ""
			}
			return x.UTC().Format("2006-01-02 15:04:05Z")
		case *time.Time:
			if x == nil || x.IsZero() {
				return ""
			}
			return x.UTC().Format("2006-01-02 15:04:05Z")
		case string:
			return x
		}
		return fmt.Sprint(t)
	},
	"deref": func(p any) any {
		switch x := p.(type) {
		case *string:
			if x == nil {
				return ""
			}
			return *x
		case *int32:
			if x == nil {
				return 0
			}
			return *x
		case *int64:
			if x == nil {
				return 0
			}
			return *x
		case *bool:
			return x != nil && *x
		}
		return p
	},
	"short": func(s string) string {
		if i := strings.LastIndexAny(s, ":/"); i >= 0 && i < len(s)-1 {
			return s[i+1:]
		}
		return s
	},
	"pathesc": url.PathEscape,
	"query": func(kv ...string) string {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		return q.Encode()
	},
}

// Code is the error's AWS code; Message its message (for templates).
func (e *apiError) Code() string    { return e.code }
func (e *apiError) Message() string { return e.msg }
