package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/signet/signet/internal/server/servertest"
)

// authPrincipals are the credentials each way of failing authentication
// uses: an unknown key, a wrong secret, an expired session, and a user
// with no permissions.
type authPrincipals struct {
	unknown, wrongSecret, expired, denied aws.Credentials
}

func newAuthPrincipals(t *testing.T, ts *servertest.Server) authPrincipals {
	t.Helper()
	ctx := context.Background()
	p := authPrincipals{unknown: aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}}
	p.wrongSecret = ts.Creds
	p.wrongSecret.SecretAccessKey = "not-the-secret"
	p.expired = aws.Credentials{AccessKeyID: "ASIAEXPIREDKEY000001", SecretAccessKey: "expired-secret", SessionToken: "expired-token"}
	if err := ts.AddTemporaryKey(ctx, p.expired.AccessKeyID, p.expired.SecretAccessKey, p.expired.SessionToken, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.IAM.CreateUser(ctx, "nobody", "/"); err != nil {
		t.Fatal(err)
	}
	id, secret, err := ts.IAM.CreateAccessKey(ctx, "nobody")
	if err != nil {
		t.Fatal(err)
	}
	p.denied = aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}
	return p
}

// TestAuthErrorsInEachProtocol: a request that fails authentication or
// authorization gets the error in its own protocol's shape and with
// AWS's code for it: XML <ErrorResponse> for IAM and STS (Query), XML
// <Error> for S3 (REST-XML), JSON for the JSON APIs.
func TestAuthErrorsInEachProtocol(t *testing.T) {
	ts := servertest.Start(t)
	p := newAuthPrincipals(t, ts)
	listUsers := "Action=ListUsers&Version=2010-05-08"
	callerID := "Action=GetCallerIdentity&Version=2011-06-15"
	type call struct {
		service, method, path, form string
	}
	iamCall := call{"iam", "POST", "/", listUsers}
	stsCall := call{"sts", "POST", "/", callerID}
	s3Call := call{"s3", "GET", "/", ""}
	lambdaCall := call{"lambda", "GET", "/2015-03-31/functions", ""}
	cases := map[string]struct {
		call   call
		creds  *aws.Credentials // nil: unsigned
		status int
		shape  string // query, s3, json
		code   string
	}{
		"fail/iam unknown key":        {iamCall, &p.unknown, 403, "query", "InvalidClientTokenId"},
		"fail/iam wrong secret":       {iamCall, &p.wrongSecret, 403, "query", "SignatureDoesNotMatch"},
		"fail/iam expired session":    {iamCall, &p.expired, 403, "query", "ExpiredToken"},
		"fail/iam denied":             {iamCall, &p.denied, 403, "query", "AccessDenied"},
		"fail/iam unsigned":           {iamCall, nil, 403, "query", "MissingAuthenticationToken"},
		"fail/sts unknown key":        {stsCall, &p.unknown, 403, "query", "InvalidClientTokenId"},
		"fail/sts wrong secret":       {stsCall, &p.wrongSecret, 403, "query", "SignatureDoesNotMatch"},
		"fail/sts expired session":    {stsCall, &p.expired, 403, "query", "ExpiredToken"},
		"fail/s3 unknown key":         {s3Call, &p.unknown, 403, "s3", "InvalidAccessKeyId"},
		"fail/s3 wrong secret":        {s3Call, &p.wrongSecret, 403, "s3", "SignatureDoesNotMatch"},
		"fail/s3 expired session":     {s3Call, &p.expired, 400, "s3", "ExpiredToken"},
		"fail/s3 denied":              {s3Call, &p.denied, 403, "s3", "AccessDenied"},
		"fail/s3 unsigned":            {call{"s3", "GET", "/bucket/key", ""}, nil, 403, "s3", "AccessDenied"},
		"fail/s3 unsigned list":       {call{"s3", "GET", "/", ""}, nil, 403, "s3", "AccessDenied"},
		"fail/lambda unknown key":     {lambdaCall, &p.unknown, 403, "json", "UnrecognizedClientException"},
		"fail/lambda wrong secret":    {lambdaCall, &p.wrongSecret, 403, "json", "InvalidSignatureException"},
		"fail/lambda expired session": {lambdaCall, &p.expired, 403, "json", "ExpiredTokenException"},
		"fail/signer unsigned":        {call{"signer", "GET", "/signing-profiles", ""}, nil, 403, "json", "MissingAuthenticationTokenException"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(c.call.method, ts.URL+c.call.path, strings.NewReader(c.call.form))
			if err != nil {
				t.Fatal(err)
			}
			if c.call.form != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			}
			if c.creds != nil {
				sum := sha256.Sum256([]byte(c.call.form))
				if c.call.service == "s3" {
					req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
				}
				if err := v4.NewSigner().SignHTTP(context.Background(), *c.creds, req, hex.EncodeToString(sum[:]), c.call.service, "us-east-1", time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var code string
			switch c.shape {
			case "query":
				var e struct {
					XMLName xml.Name `xml:"ErrorResponse"`
					Code    string   `xml:"Error>Code"`
					Message string   `xml:"Error>Message"`
				}
				if err := xml.Unmarshal(b, &e); err != nil || e.Message == "" {
					t.Fatalf("not a Query error response (%v): %s", err, b)
				}
				code = e.Code
			case "s3":
				var e struct {
					XMLName xml.Name `xml:"Error"`
					Code    string   `xml:"Code"`
				}
				if err := xml.Unmarshal(b, &e); err != nil {
					t.Fatalf("not an S3 error (%v): %s", err, b)
				}
				code = e.Code
			default:
				code = resp.Header.Get("X-Amzn-ErrorType")
				if !json.Valid(b) {
					t.Fatalf("not a JSON error: %s", b)
				}
			}
			if resp.StatusCode != c.status || code != c.code {
				t.Errorf("status %d, code %q; want %d %q\n%s", resp.StatusCode, code, c.status, c.code, b)
			}
		})
	}
}

// TestAuthErrorsAWSCLI runs the AWS CLI with credentials that fail: it
// parses each error and prints AWS's code (which it cannot when the
// error comes in another protocol's shape). TestAuthErrorsInEachProtocol
// covers every case over HTTP; this runs the CLI on a few of each
// protocol, since each run costs seconds.
func TestAuthErrorsAWSCLI(t *testing.T) {
	const awsCLI = "/usr/bin/aws"
	if _, err := os.Stat(awsCLI); err != nil {
		if servertest.RequireAll() {
			t.Fatalf("%s not found (%v); SIGNET_REQUIRE_ALL=1 makes it mandatory", awsCLI, err)
		}
		t.Skipf("%s not found (%v); skipping (set SIGNET_REQUIRE_ALL=1 to make this a failure)", awsCLI, err)
	}
	ts := servertest.Start(t)
	p := newAuthPrincipals(t, ts)
	home := t.TempDir()
	cases := []struct {
		args  []string
		creds aws.Credentials
		code  string
	}{
		{[]string{"iam", "list-users"}, p.wrongSecret, "SignatureDoesNotMatch"},
		{[]string{"iam", "list-users"}, p.unknown, "InvalidClientTokenId"},
		{[]string{"iam", "list-users"}, p.expired, "ExpiredToken"},
		{[]string{"iam", "list-users"}, p.denied, "AccessDenied"},
		{[]string{"sts", "get-caller-identity"}, p.unknown, "InvalidClientTokenId"},
		{[]string{"s3api", "list-buckets"}, p.wrongSecret, "SignatureDoesNotMatch"},
		{[]string{"s3api", "list-buckets"}, p.expired, "ExpiredToken"},
		{[]string{"lambda", "list-functions"}, p.wrongSecret, "InvalidSignatureException"},
	}
	for _, c := range cases {
		cmd := exec.Command(awsCLI, append(c.args, "--endpoint-url", ts.URL, "--region", "us-east-1", "--no-cli-pager")...)
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "AWS_CONFIG_FILE=" + filepath.Join(home, "none"),
			"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"), "AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1",
			"AWS_ACCESS_KEY_ID=" + c.creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.creds.SecretAccessKey, "AWS_SESSION_TOKEN=" + c.creds.SessionToken}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if want := "(" + c.code + ")"; err == nil || !strings.Contains(stderr.String(), want) {
			t.Errorf("aws %s as %s: %v, stderr %q; want it to print %s", strings.Join(c.args, " "), c.creds.AccessKeyID, err, stderr.String(), want)
		}
	}
}
