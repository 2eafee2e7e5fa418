package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// invokeCmd runs `signet invoke FUNCTION`: the response goes to stdout;
// with --log the invocation's log goes to stderr. A function error exits 1
// after printing the error JSON.
func invokeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	cf.register(fs)
	payload := fs.String("payload", "", "event JSON (default {})")
	payloadFile := fs.String("payload-file", "", "read the event JSON from this file (- for stdin)")
	qualifier := fs.String("qualifier", "", "version to invoke (default $LATEST)")
	event := fs.Bool("event", false, "queue the invocation (InvocationType Event) instead of waiting for it")
	showLog := fs.Bool("log", false, "print the invocation's log (the last 4 KB) to stderr")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("invoke needs exactly one function name or ARN")
	}
	if *payload != "" && *payloadFile != "" {
		return usageError("give --payload or --payload-file, not both")
	}
	body := []byte(*payload)
	if *payloadFile != "" {
		if *payloadFile == "-" {
			body, err = io.ReadAll(os.Stdin)
		} else {
			body, err = os.ReadFile(*payloadFile)
		}
		if err != nil {
			return err
		}
	}
	if len(body) > 0 && !json.Valid(body) {
		return usageError("the payload is not valid JSON")
	}
	c, err := cf.lambda(ctx)
	if err != nil {
		return err
	}
	in := &lambda.InvokeInput{FunctionName: aws.String(pos[0]), Payload: body}
	if *qualifier != "" {
		in.Qualifier = qualifier
	}
	if *event {
		in.InvocationType = ltypes.InvocationTypeEvent
	} else if *showLog {
		in.LogType = ltypes.LogTypeTail
	}
	out, err := c.Invoke(ctx, in)
	if err != nil {
		return apiError(err)
	}
	if *event {
		fmt.Fprintf(stdout, "queued (status %d)\n", out.StatusCode)
		return nil
	}
	if *showLog && out.LogResult != nil {
		if b, err := base64.StdEncoding.DecodeString(*out.LogResult); err == nil {
			stderr.Write(b)
		}
	}
	stdout.Write(out.Payload)
	fmt.Fprintln(stdout)
	if out.FunctionError != nil {
		var e struct {
			ErrorType    string `json:"errorType"`
			ErrorMessage string `json:"errorMessage"`
		}
		json.Unmarshal(out.Payload, &e)
		return fmt.Errorf("the function failed (%s): %s: %s", *out.FunctionError, e.ErrorType, e.ErrorMessage)
	}
	return nil
}

// logsCmd runs `signet logs FUNCTION [--follow]`: the function's log
// events since --since, oldest first, as "TIME MESSAGE" lines.
func logsCmd(ctx context.Context, args []string, stdout io.Writer) error {
	var cf clientFlags
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	cf.register(fs)
	follow := fs.Bool("follow", false, "keep printing new events until interrupted")
	since := fs.Duration("since", 10*time.Minute, "how far back to start")
	filter := fs.String("filter", "", "CloudWatch Logs filter pattern (terms, \"phrases\", -exclusions)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("logs needs exactly one function name")
	}
	name := pos[0]
	if i := strings.LastIndex(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	cfg, err := cf.awsConfig(ctx)
	if err != nil {
		return err
	}
	c := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(cf.endpoint) })
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/" + name), StartTime: aws.Int64(time.Now().Add(-*since).UnixMilli())}
	if *filter != "" {
		in.FilterPattern = filter
	}
	// Following polls from the newest timestamp seen, skipping events
	// already printed (as `aws logs tail --follow` does).
	seen := map[string]int64{} // event id → timestamp
	newest := aws.ToInt64(in.StartTime)
	for {
		out, err := c.FilterLogEvents(ctx, in)
		if err != nil {
			if *follow && ctx.Err() != nil {
				return nil // interrupted during a poll
			}
			if *follow && strings.Contains(err.Error(), "ResourceNotFoundException") {
				// Not invoked yet: its log group appears with the first invocation.
				out = &cloudwatchlogs.FilterLogEventsOutput{}
			} else {
				return apiError(err)
			}
		}
		var raw struct {
			Events []json.RawMessage `json:"events"`
		}
		if cf.output == "json" {
			json.Unmarshal(cf.rawJSON(), &raw)
		}
		for i, e := range out.Events {
			id := aws.ToString(e.EventId)
			if _, ok := seen[id]; ok {
				continue
			}
			seen[id] = aws.ToInt64(e.Timestamp)
			newest = max(newest, aws.ToInt64(e.Timestamp))
			if cf.output == "json" && i < len(raw.Events) {
				writeJSON(stdout, raw.Events[i])
				continue
			}
			fmt.Fprintf(stdout, "%s %s\n", time.UnixMilli(aws.ToInt64(e.Timestamp)).UTC().Format("2006-01-02T15:04:05.000Z"), aws.ToString(e.Message))
		}
		if out.NextToken != nil {
			in.NextToken = out.NextToken
			continue
		}
		if !*follow {
			return nil
		}
		in.NextToken, in.StartTime = nil, aws.Int64(newest)
		for id, ts := range seen {
			if ts < newest {
				delete(seen, id)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}
