// Command gosdk is a provided.al2023 function (aws-lambda-go) that calls
// Signet as its execution role with aws-sdk-go-v2, which finds the
// endpoint in AWS_ENDPOINT_URL and the credentials in the environment,
// as on Lambda.
package main

import (
	"context"
	"encoding/base64"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

type result struct {
	Identity string `json:"identity"`
	Token    string `json:"token,omitempty"`
	Error    string `json:"error,omitempty"`
}

func handler(ctx context.Context) (result, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return result{}, err
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return result{}, err
	}
	out := result{Identity: *id.Arn}
	blob, _ := base64.StdEncoding.DecodeString(os.Getenv("ENC_API_TOKEN"))
	dec, err := kms.NewFromConfig(cfg).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob})
	if err != nil {
		out.Error = err.Error()
	} else {
		out.Token = string(dec.Plaintext)
	}
	return out, nil
}

func main() { lambda.Start(handler) }
