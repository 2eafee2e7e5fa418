package sigv4

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"
	"github.com/aws/smithy-go"
)

// TestVerifySignerClient runs the real aws-sdk-go-v2 signer client against
// an httptest server that verifies every request, and writes failures back
// the way an AWS REST-JSON service does.
func TestVerifySignerClient(t *testing.T) {
	var (
		mu      sync.Mutex
		results []*Result
		uris    []string
	)
	// The SDK signs with the real clock, so expiries are relative to it.
	temp, expired := tempCred, expiredCred
	temp.Expires, expired.Expires = time.Now().Add(time.Hour), time.Now().Add(-time.Minute)
	v := &Verifier{Credentials: memStore{
		longTermCred.AccessKeyID: longTermCred,
		temp.AccessKeyID:         temp,
		expired.AccessKeyID:      expired,
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res, err := v.Verify(r, body)
		w.Header().Set("Content-Type", "application/json")
		var aerr *Error
		if errors.As(err, &aerr) {
			w.Header().Set("X-Amzn-Errortype", aerr.Code)
			w.WriteHeader(aerr.Status)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": aerr.Code, "message": aerr.Message})
			return
		}
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		mu.Lock()
		results = append(results, res)
		uris = append(uris, r.Method+" "+r.RequestURI)
		mu.Unlock()
		_, _ = io.WriteString(w, "{}")
	}))
	defer srv.Close()

	client := func(c Credential, secret string) *signer.Client {
		return signer.New(signer.Options{
			Region:           "us-west-2",
			BaseEndpoint:     aws.String(srv.URL),
			RetryMaxAttempts: 1,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: secret, SessionToken: c.SessionToken}, nil
			}),
		})
	}
	const profileARN = "arn:aws:signer:us-west-2:123456789012:/signing-profiles/my_profile"
	calls := map[string]func(context.Context, *signer.Client) error{
		"list-signing-profiles": func(ctx context.Context, c *signer.Client) error {
			_, err := c.ListSigningProfiles(ctx, &signer.ListSigningProfilesInput{
				Statuses:   []types.SigningProfileStatus{types.SigningProfileStatusActive, types.SigningProfileStatusCanceled},
				MaxResults: aws.Int32(10),
				NextToken:  aws.String("a+b/c=="),
			})
			return err
		},
		"put-signing-profile": func(ctx context.Context, c *signer.Client) error {
			_, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{
				ProfileName: aws.String("my_profile"),
				PlatformId:  aws.String("AWSLambda-SHA384-ECDSA"),
				SignatureValidityPeriod: &types.SignatureValidityPeriod{
					Type: types.ValidityTypeMonths, Value: 135,
				},
				Tags: map[string]string{"team": "platform"},
			})
			return err
		},
		"get-signing-profile": func(ctx context.Context, c *signer.Client) error {
			_, err := c.GetSigningProfile(ctx, &signer.GetSigningProfileInput{
				ProfileName: aws.String("my_profile"), ProfileOwner: aws.String("123456789012"),
			})
			return err
		},
		"tag-resource-arn-path": func(ctx context.Context, c *signer.Client) error {
			_, err := c.TagResource(ctx, &signer.TagResourceInput{
				ResourceArn: aws.String(profileARN), Tags: map[string]string{"env": "prod"},
			})
			return err
		},
		"untag-resource-arn-path": func(ctx context.Context, c *signer.Client) error {
			_, err := c.UntagResource(ctx, &signer.UntagResourceInput{
				ResourceArn: aws.String(profileARN), TagKeys: []string{"env", "team"},
			})
			return err
		},
	}

	// What the SDK sends, to be sure the paths and queries that need care are covered.
	const escapedARN = "arn%3Aaws%3Asigner%3Aus-west-2%3A123456789012%3A%2Fsigning-profiles%2Fmy_profile"
	wantRequest := map[string]string{
		"list-signing-profiles":   "GET /signing-profiles?maxResults=10&nextToken=a%2Bb%2Fc%3D%3D&statuses=Active&statuses=Canceled",
		"put-signing-profile":     "PUT /signing-profiles/my_profile",
		"get-signing-profile":     "GET /signing-profiles/my_profile?profileOwner=123456789012",
		"tag-resource-arn-path":   "POST /tags/" + escapedARN,
		"untag-resource-arn-path": "DELETE /tags/" + escapedARN + "?tagKeys=env&tagKeys=team",
	}

	cases := []struct {
		name   string
		cred   Credential
		secret string
		code   string // expected AWS error code; "" means success
	}{
		{"ok/long-term-key", longTermCred, longTermCred.SecretAccessKey, ""},
		{"ok/session-token", temp, temp.SecretAccessKey, ""},
		{"fail/wrong-secret", longTermCred, "wrong", "InvalidSignatureException"},
		{"fail/unknown-key", unknownCred, unknownCred.SecretAccessKey, "UnrecognizedClientException"},
		{"fail/expired-token", expired, expired.SecretAccessKey, "ExpiredTokenException"},
	}
	for _, tc := range cases {
		for name, call := range calls {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				mu.Lock()
				results, uris = nil, nil
				mu.Unlock()
				err := call(context.Background(), client(tc.cred, tc.secret))
				if tc.code == "" {
					if err != nil {
						t.Fatalf("call failed: %v", err)
					}
					mu.Lock()
					defer mu.Unlock()
					if len(uris) != 1 || uris[0] != wantRequest[name] {
						t.Errorf("request = %q, want %q", uris, wantRequest[name])
					}
					if len(results) != 1 || results[0].Credential != tc.cred || results[0].Service != "signer" || results[0].Region != "us-west-2" {
						t.Fatalf("results = %+v", results)
					}
					return
				}
				var apiErr smithy.APIError
				if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.code {
					t.Fatalf("err = %v, want API error %s", err, tc.code)
				}
			})
		}
	}
}
