package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/server/servertest"
	"log/slog"
)

type rawRequest struct {
	method, path, body string
	sign               bool
	creds              *aws.Credentials // nil: the server's
	at                 time.Duration    // signing time offset from now
	region             string           // "" : us-east-1
	forge              bool             // flip the signature
}

// do sends a request signed as the AWS CLI signs it.
func do(t *testing.T, ts *servertest.Server, rr rawRequest) (int, http.Header, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(rr.method, ts.URL+rr.path, strings.NewReader(rr.body))
	if err != nil {
		t.Fatal(err)
	}
	if rr.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if rr.sign {
		creds := ts.Creds
		if rr.creds != nil {
			creds = *rr.creds
		}
		region := rr.region
		if region == "" {
			region = "us-east-1"
		}
		sum := sha256.Sum256([]byte(rr.body))
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "signer", region, time.Now().Add(rr.at)); err != nil {
			t.Fatal(err)
		}
		if rr.forge {
			a := req.Header.Get("Authorization")
			last := a[len(a)-1]
			flip := byte('0')
			if last == '0' {
				flip = '1'
			}
			req.Header.Set("Authorization", a[:len(a)-1]+string(flip))
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]string
	json.Unmarshal(b, &body)
	return resp.StatusCode, resp.Header, body
}

// TestBadInput checks that every kind of bad request gets AWS's error code
// and status and a message saying what to fix.
func TestBadInput(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	c := ts.Signer()
	if _, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("gone"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CancelSigningProfile(ctx, &signer.CancelSigningProfileInput{ProfileName: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	lambda := `{"platformId":"AWSLambda-SHA384-ECDSA"}`
	unknown := aws.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "x"}
	wrongSecret := aws.Credentials{AccessKeyID: ts.Creds.AccessKeyID, SecretAccessKey: "not-the-secret"}
	cases := map[string]struct {
		req    rawRequest
		status int
		code   string
		msg    string // substring of the message
	}{
		"fail/name-with-hyphen":   {rawRequest{method: "PUT", path: "/signing-profiles/my-profile", body: lambda, sign: true}, 400, "ValidationException", "hyphens are not allowed"},
		"fail/name-too-short":     {rawRequest{method: "PUT", path: "/signing-profiles/a", body: lambda, sign: true}, 400, "ValidationException", "profileName"},
		"fail/unknown-platform":   {rawRequest{method: "PUT", path: "/signing-profiles/p1", body: `{"platformId":"AWSIoT-Nope"}`, sign: true}, 400, "ValidationException", "use one of: AWSLambda-SHA384-ECDSA, Notation-OCI-SHA384-ECDSA"},
		"fail/missing-platform":   {rawRequest{method: "PUT", path: "/signing-profiles/p1", body: `{}`, sign: true}, 400, "ValidationException", "platformId"},
		"fail/validity-months":    {rawRequest{method: "PUT", path: "/signing-profiles/p1", body: `{"platformId":"AWSLambda-SHA384-ECDSA","signatureValidityPeriod":{"value":136,"type":"MONTHS"}}`, sign: true}, 400, "ValidationException", "maximum validity of 135 months"},
		"fail/validity-years":     {rawRequest{method: "PUT", path: "/signing-profiles/p1", body: `{"platformId":"AWSLambda-SHA384-ECDSA","signatureValidityPeriod":{"value":12,"type":"YEARS"}}`, sign: true}, 400, "ValidationException", "maximum validity"},
		"fail/validity-days":      {rawRequest{method: "PUT", path: "/signing-profiles/p1", body: `{"platformId":"AWSLambda-SHA384-ECDSA","signatureValidityPeriod":{"value":5000,"type":"DAYS"}}`, sign: true}, 400, "ValidationException", "maximum validity"},
		"fail/validity-zero":      {rawRequest{method: "PUT", path: "/signing-profiles/p1", body: `{"platformId":"AWSLambda-SHA384-ECDSA","signatureValidityPeriod":{"value":0,"type":"DAYS"}}`, sign: true}, 400, "ValidationException", "greater than or equal to 1"},
		"fail/validity-type":      {rawRequest{method: "PUT", path: "/signing-profiles/p1", body: `{"platformId":"AWSLambda-SHA384-ECDSA","signatureValidityPeriod":{"value":1,"type":"WEEKS"}}`, sign: true}, 400, "ValidationException", "[DAYS, MONTHS, YEARS]"},
		"fail/override":           {rawRequest{method: "PUT", path: "/signing-profiles/p1", body: `{"platformId":"AWSLambda-SHA384-ECDSA","overrides":{"signingConfiguration":{"hashAlgorithm":"SHA1"}}}`, sign: true}, 400, "ValidationException", "SHA384"},
		"fail/signing-material":   {rawRequest{method: "PUT", path: "/signing-profiles/p1", body: `{"platformId":"AWSLambda-SHA384-ECDSA","signingMaterial":{"certificateArn":"arn:aws:acm:us-east-1:123456789012:certificate/x"}}`, sign: true}, 400, "ValidationException", "remove signingMaterial"},
		"fail/canceled-name":      {rawRequest{method: "PUT", path: "/signing-profiles/gone", body: lambda, sign: true}, 400, "ValidationException", "cannot be reused"},
		"fail/reserved-tag":       {rawRequest{method: "PUT", path: "/signing-profiles/p1", body: `{"platformId":"AWSLambda-SHA384-ECDSA","tags":{"aws:owner":"x"}}`, sign: true}, 400, "ValidationException", "reserved"},
		"fail/malformed-json":     {rawRequest{method: "PUT", path: "/signing-profiles/p1", body: `{"platformId":`, sign: true}, 400, "SerializationException", "not valid JSON"},
		"fail/wrong-json-type":    {rawRequest{method: "PUT", path: "/signing-profiles/p1", body: `{"platformId":5}`, sign: true}, 400, "SerializationException", `"platformId" must be a JSON string`},
		"fail/two-json-values":    {rawRequest{method: "PUT", path: "/signing-profiles/p1", body: lambda + lambda, sign: true}, 400, "SerializationException", "more than one"},
		"fail/oversized-json":     {rawRequest{method: "PUT", path: "/signing-profiles/p1", body: `{"platformId":"` + strings.Repeat("A", server.MaxAPIBody) + `"}`, sign: true}, 413, "RequestEntityTooLargeException", "limit"},
		"fail/missing-signature":  {rawRequest{method: "GET", path: "/signing-profiles"}, 403, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		"fail/forged-signature":   {rawRequest{method: "GET", path: "/signing-profiles", sign: true, forge: true}, 403, "InvalidSignatureException", "does not match"},
		"fail/wrong-secret":       {rawRequest{method: "GET", path: "/signing-profiles", sign: true, creds: &wrongSecret}, 403, "InvalidSignatureException", "does not match"},
		"fail/unknown-key":        {rawRequest{method: "GET", path: "/signing-profiles", sign: true, creds: &unknown}, 403, "UnrecognizedClientException", "security token included in the request is invalid"},
		"fail/clock-behind":       {rawRequest{method: "GET", path: "/signing-profiles", sign: true, at: -20 * time.Minute}, 403, "InvalidSignatureException", "Signature expired"},
		"fail/clock-ahead":        {rawRequest{method: "GET", path: "/signing-profiles", sign: true, at: 20 * time.Minute}, 403, "InvalidSignatureException", "Signature not yet current"},
		"fail/wrong-region":       {rawRequest{method: "GET", path: "/signing-profiles", sign: true, region: "eu-west-1"}, 403, "InvalidSignatureException", "serves region us-east-1"},
		"fail/max-results":        {rawRequest{method: "GET", path: "/signing-profiles?maxResults=26", sign: true}, 400, "ValidationException", "between 1 and 25"},
		"fail/max-results-nan":    {rawRequest{method: "GET", path: "/signing-profiles?maxResults=ten", sign: true}, 400, "ValidationException", "integer"},
		"fail/next-token":         {rawRequest{method: "GET", path: "/signing-profiles?nextToken=garbage", sign: true}, 400, "ValidationException", "nextToken"},
		"fail/status":             {rawRequest{method: "GET", path: "/signing-profiles?statuses=Paused", sign: true}, 400, "ValidationException", "[Active, Canceled, Revoked]"},
		"fail/profile-not-found":  {rawRequest{method: "GET", path: "/signing-profiles/nobody", sign: true}, 404, "ResourceNotFoundException", "does not exist"},
		"fail/unknown-operation":  {rawRequest{method: "GET", path: "/no-such-thing", sign: true}, 404, "UnknownOperationException", "not an operation"},
		"fail/permission-action":  {rawRequest{method: "POST", path: "/signing-profiles/gone/permissions", body: `{"action":"signer:*","principal":"1","statementId":"s"}`, sign: true}, 400, "ValidationException", "action"},
		"fail/remove-no-revision": {rawRequest{method: "DELETE", path: "/signing-profiles/gone/permissions/s", sign: true}, 400, "ValidationException", "revisionId"},
		"fail/tag-unknown-arn":    {rawRequest{method: "GET", path: "/tags/arn%3Aaws%3Asigner%3Aus-east-1%3A000000000000%3A%2Fsigning-profiles%2Fx", sign: true}, 404, "NotFoundException", "not found"},
		"fail/untag-no-keys":      {rawRequest{method: "DELETE", path: "/tags/arn%3Aaws%3Asigner%3Aus-east-1%3A" + ts.AccountID() + "%3A%2Fsigning-profiles%2Fgone", sign: true}, 400, "BadRequestException", "tagKeys"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			status, h, body := do(t, ts, c.req)
			if status != c.status || h.Get("X-Amzn-ErrorType") != c.code || body["__type"] != c.code {
				t.Fatalf("got %d %q (body %v), want %d %s", status, h.Get("X-Amzn-ErrorType"), body, c.status, c.code)
			}
			if !strings.Contains(body["message"], c.msg) {
				t.Errorf("message %q does not contain %q", body["message"], c.msg)
			}
			if h.Get("X-Amzn-RequestId") == "" {
				t.Error("no X-Amzn-RequestId")
			}
		})
	}
	// Nothing of the refused requests was stored.
	out, err := c.ListSigningProfiles(ctx, &signer.ListSigningProfilesInput{IncludeCanceled: true})
	if err != nil || len(out.Profiles) != 1 {
		t.Errorf("after refused requests %d profiles are stored, want 1", len(out.Profiles))
	}
}

// TestSessionTokens checks temporary credentials: the token must be sent
// and must match, and expired credentials are refused.
func TestSessionTokens(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	if err := ts.AddTemporaryKey(ctx, "ASIATEMPORARY0000001", "tempsecret", "token-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := ts.AddTemporaryKey(ctx, "ASIATEMPORARY0000002", "tempsecret", "token-2", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		creds aws.Credentials
		code  string
	}{
		"ok/token":                    {aws.Credentials{AccessKeyID: "ASIATEMPORARY0000001", SecretAccessKey: "tempsecret", SessionToken: "token-1"}, ""},
		"fail/no-token":               {aws.Credentials{AccessKeyID: "ASIATEMPORARY0000001", SecretAccessKey: "tempsecret"}, "UnrecognizedClientException"},
		"fail/wrong-token":            {aws.Credentials{AccessKeyID: "ASIATEMPORARY0000001", SecretAccessKey: "tempsecret", SessionToken: "token-x"}, "UnrecognizedClientException"},
		"fail/expired":                {aws.Credentials{AccessKeyID: "ASIATEMPORARY0000002", SecretAccessKey: "tempsecret", SessionToken: "token-2"}, "ExpiredTokenException"},
		"fail/token-on-long-term-key": {aws.Credentials{AccessKeyID: ts.Creds.AccessKeyID, SecretAccessKey: ts.Creds.SecretAccessKey, SessionToken: "t"}, "UnrecognizedClientException"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cl := signer.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return c.creds, nil })},
				func(o *signer.Options) { o.BaseEndpoint = aws.String(ts.URL); o.Retryer = aws.NopRetryer{} })
			_, err := cl.ListSigningPlatforms(ctx, &signer.ListSigningPlatformsInput{})
			if got := apiCode(err); got != c.code {
				t.Errorf("got %q (%v), want %q", got, err, c.code)
			}
		})
	}
}

// TestRestart checks that everything survives a restart and that a second
// server on the same data directory is refused.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	ts := servertest.StartIn(t, dir)
	ctx := context.Background()
	c := ts.Signer()
	put, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("keep"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA"), Tags: map[string]string{"k": "v"},
		SignatureValidityPeriod: &types.SignatureValidityPeriod{Value: 2, Type: types.ValidityTypeYears}})
	if err != nil {
		t.Fatal(err)
	}
	add, err := c.AddProfilePermission(ctx, &signer.AddProfilePermissionInput{ProfileName: aws.String("keep"), Action: aws.String("signer:GetSigningProfile"), Principal: aws.String("111122223333"), StatementId: aws.String("s1")})
	if err != nil {
		t.Fatal(err)
	}

	_, err = server.Open(ctx, ts.Config(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !errors.Is(err, server.ErrDataDirInUse) || !strings.Contains(err.Error(), "stop that server or choose another --data-dir") {
		t.Fatalf("second server on the same directory: %v, want ErrDataDirInUse", err)
	}

	account, root := ts.AccountID(), ts.Authority.Root.Cert.Raw
	creds := ts.Creds
	// Stop the first server and start again.
	ts.Close()
	ts2 := servertest.StartIn(t, dir)
	if ts2.AccountID() != account || !bytes.Equal(ts2.Authority.Root.Cert.Raw, root) || ts2.Creds != creds {
		t.Fatal("account, root CA or credentials changed across a restart")
	}
	c2 := ts2.Signer()
	got, err := c2.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("keep")})
	if err != nil || aws.ToString(got.ProfileVersion) != aws.ToString(put.ProfileVersion) || got.Tags["k"] != "v" || got.SignatureValidityPeriod.Value != 2 {
		t.Errorf("after restart GetSigningProfile = %+v, %v", got, err)
	}
	perms, err := c2.ListProfilePermissions(ctx, &signer.ListProfilePermissionsInput{ProfileName: aws.String("keep")})
	if err != nil || aws.ToString(perms.RevisionId) != aws.ToString(add.RevisionId) {
		t.Errorf("after restart ListProfilePermissions = %+v, %v", perms, err)
	}
}
