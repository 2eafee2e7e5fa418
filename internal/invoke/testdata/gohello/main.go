// Command gohello is a Lambda function written against aws-lambda-go,
// used unmodified by the tests as a provided.al2023 bootstrap.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Key1 string `json:"key1"`
	Fail bool   `json:"fail"`
	Noop bool   `json:"noop"`
}

func handle(ctx context.Context, ev event) (map[string]string, error) {
	if ev.Noop {
		return nil, nil
	}
	lc, _ := lambdacontext.FromContext(ctx)
	if ev.Fail {
		return nil, errors.New("asked to fail")
	}
	fmt.Println("go handler got", ev.Key1)
	return map[string]string{"echo": ev.Key1, "function": lambdacontext.FunctionName, "requestId": lc.AwsRequestID}, nil
}

func main() { lambda.Start(handle) }
