package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/signet/signet/internal/server/servertest"
)

func lambdaClient(ts *servertest.Server) *lambda.Client {
	cfg := aws.Config{Region: "us-east-1", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return ts.Creds, nil })}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(ts.URL); o.Retryer = aws.NopRetryer{} })
}

// TestCodeSigningConfigs drives the code-signing-config operations with
// the aws-sdk-go-v2 lambda client.
func TestCodeSigningConfigs(t *testing.T) {
	ts := servertest.Start(t)
	c := lambdaClient(ts)
	ctx := context.Background()
	versionARN := fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-profiles/signing_profile_for_lambda/ABCDEFGHIJ", ts.AccountID())
	out, err := c.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{
		Description:         aws.String("functions of the payments team"),
		AllowedPublishers:   &types.AllowedPublishers{SigningProfileVersionArns: []string{versionARN}},
		CodeSigningPolicies: &types.CodeSigningPolicies{UntrustedArtifactOnDeployment: types.CodeSigningPolicyEnforce},
	})
	if err != nil {
		t.Fatal(err)
	}
	csc := out.CodeSigningConfig
	arn := aws.ToString(csc.CodeSigningConfigArn)
	if !strings.HasPrefix(arn, "arn:aws:lambda:us-east-1:"+ts.AccountID()+":code-signing-config:csc-") || len(aws.ToString(csc.CodeSigningConfigId)) != 21 ||
		csc.CodeSigningPolicies.UntrustedArtifactOnDeployment != types.CodeSigningPolicyEnforce || aws.ToString(csc.LastModified) == "" {
		t.Fatalf("CreateCodeSigningConfig = %+v", csc)
	}
	get, err := c.GetCodeSigningConfig(ctx, &lambda.GetCodeSigningConfigInput{CodeSigningConfigArn: aws.String(arn)})
	if err != nil || aws.ToString(get.CodeSigningConfig.Description) != "functions of the payments team" || get.CodeSigningConfig.AllowedPublishers.SigningProfileVersionArns[0] != versionARN {
		t.Errorf("GetCodeSigningConfig = %+v, %v", get, err)
	}
	up, err := c.UpdateCodeSigningConfig(ctx, &lambda.UpdateCodeSigningConfigInput{CodeSigningConfigArn: aws.String(arn), CodeSigningPolicies: &types.CodeSigningPolicies{UntrustedArtifactOnDeployment: types.CodeSigningPolicyWarn}})
	if err != nil || up.CodeSigningConfig.CodeSigningPolicies.UntrustedArtifactOnDeployment != types.CodeSigningPolicyWarn || aws.ToString(up.CodeSigningConfig.Description) != "functions of the payments team" {
		t.Errorf("UpdateCodeSigningConfig = %+v, %v", up, err)
	}
	for range 3 {
		if _, err := c.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &types.AllowedPublishers{SigningProfileVersionArns: []string{versionARN}}}); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	p := lambda.NewListCodeSigningConfigsPaginator(c, &lambda.ListCodeSigningConfigsInput{MaxItems: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.CodeSigningConfigs)
	}
	if n != 4 {
		t.Errorf("ListCodeSigningConfigs paged %d configs, want 4", n)
	}
	if _, err := c.DeleteCodeSigningConfig(ctx, &lambda.DeleteCodeSigningConfigInput{CodeSigningConfigArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	many := make([]string, 21)
	for i := range many {
		many[i] = versionARN
	}
	cases := map[string]struct {
		err  error
		code string
	}{}
	_, err = c.GetCodeSigningConfig(ctx, &lambda.GetCodeSigningConfigInput{CodeSigningConfigArn: aws.String(arn)})
	cases["fail/deleted"] = struct {
		err  error
		code string
	}{err, "ResourceNotFoundException"}
	_, err = c.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &types.AllowedPublishers{SigningProfileVersionArns: many}})
	cases["fail/21-publishers"] = struct {
		err  error
		code string
	}{err, "ValidationException"}
	_, err = c.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &types.AllowedPublishers{SigningProfileVersionArns: []string{versionARN}},
		CodeSigningPolicies: &types.CodeSigningPolicies{UntrustedArtifactOnDeployment: "enforce"}})
	cases["fail/lowercase-enforce"] = struct {
		err  error
		code string
	}{err, "ValidationException"}
	_, err = c.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{AllowedPublishers: &types.AllowedPublishers{SigningProfileVersionArns: []string{"not-an-arn"}}})
	cases["fail/bad-publisher"] = struct {
		err  error
		code string
	}{err, "ValidationException"}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if apiCode(c.err) != c.code {
				t.Errorf("got %v, want %s", c.err, c.code)
			}
		})
	}
}
