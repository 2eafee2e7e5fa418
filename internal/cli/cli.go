// Package cli implements the signet command line: `signet serve` runs the
// server; every other subcommand is a client of its HTTP API, found
// through --endpoint or SIGNET_ENDPOINT, with credentials from the
// standard AWS chain (environment, AWS_SHARED_CREDENTIALS_FILE,
// ~/.aws/credentials, AWS_PROFILE).
//
// # Output rules
//
// Results go to stdout, as aligned tables or, with --output json, as the
// API's JSON. Errors go to stderr as one lowercase line prefixed
// "signet: ", with hints on following lines prefixed "signet: hint: ".
// Exit status: 0 success, 1 failure, 2 usage error; signet verify exits 3
// (not signed), 4 (integrity), 5 (authenticity), 6 (expired), 7
// (publisher not allowed) or 8 (revoked, or revocation status unknown) for
// a refused package.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/smithy-go"
)

// Version is the build's version; set with -ldflags "-X .../cli.Version=v1.2.3".
var Version = ""

const usage = `usage: signet COMMAND [flags]

Server:
  signet serve [--data-dir DIR] [--listen ADDR] [--config FILE]

Signing profiles and platforms:
  signet platforms
  signet profile create NAME --platform ID [--validity 135 --validity-type MONTHS] [--tag KEY=VALUE]...
  signet profile get NAME
  signet profile list [--include-canceled] [--platform ID] [--status S]...
  signet profile cancel NAME
  signet profile revoke NAME --version V [--effective-time T] --reason R

Signing and verifying:
  signet sign FILE --profile NAME [-o OUT]       upload, sign, download in one step
  signet sign s3://BUCKET/KEY --profile NAME     sign an object already in a versioned bucket
  signet verify FILE [--trust-store DIR] [--profile ARN]... [--crl-cache DIR | --no-revocation] [--export-sig DIR]

Functions and code signing configs:
  signet csc create --publisher ARN... [--policy Warn|Enforce] [--description D]
  signet csc attach FUNCTION CSC_ARN | detach FUNCTION | get CSC_ARN | list | delete CSC_ARN
  signet function create NAME --zip FILE [--runtime R --handler H --role ARN --code-signing-config ARN]
  signet function update-code NAME --zip FILE | get NAME | list | delete NAME
  signet invoke FUNCTION [--payload JSON | --payload-file FILE] [--qualifier V] [--event] [--log]
  signet logs FUNCTION [--follow] [--since 10m] [--filter PATTERN]

Identity and access (IAM and STS; policies are JSON or file://PATH):
  signet iam create-user NAME | get-user [NAME] | list-users | delete-user NAME
  signet iam create-access-key USER | delete-access-key USER KEY_ID
  signet iam create-role NAME TRUST_POLICY | get-role NAME | delete-role NAME
  signet iam create-policy NAME POLICY | get-policy ARN | delete-policy ARN
  signet iam put-user-policy USER NAME POLICY | put-role-policy ROLE NAME POLICY
  signet iam attach-user-policy USER ARN | attach-role-policy ROLE ARN
  signet iam put-user-permissions-boundary USER ARN | put-role-permissions-boundary ROLE ARN
  signet iam delete-user-policy USER NAME | delete-role-policy ROLE NAME | detach-user-policy USER ARN | detach-role-policy ROLE ARN
  signet iam delete-user-permissions-boundary USER | delete-role-permissions-boundary ROLE
  signet iam whoami | assume-role ROLE_ARN SESSION
Audit:
  signet audit verify [--data-dir DIR]
  signet audit tail [--data-dir DIR] [-n N]
  signet audit query [--principal ARN] [--action A] [--decision D] [--since 24h] [--break-glass]

Revocation:
  signet signature revoke JOB_ID --reason R

Trust:
  signet trust export --profile NAME DIR

Other:
  signet version

Client commands take --endpoint URL (or SIGNET_ENDPOINT; default
http://127.0.0.1:9090) and --output table|json. Credentials come from the
AWS chain; after 'signet serve' use:

  export AWS_SHARED_CREDENTIALS_FILE=./signet-data/credentials

Examples:
  signet serve
  signet profile create signing_profile_for_lambda --platform AWSLambda-SHA384-ECDSA --tag env=dev
  signet trust export --profile signing_profile_for_lambda ~/.config/notation
`

// exitError carries an exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{2, fmt.Errorf(format, args...)}
}

// Main runs the command line and returns the process exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := run(ctx, args, stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintf(stderr, "signet: %s\n", err)
	for _, h := range hints(err) {
		fmt.Fprintf(stderr, "signet: hint: %s\n", h)
	}
	if code == 2 {
		fmt.Fprint(stderr, "signet: hint: run 'signet help' for usage\n")
	}
	return code
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{2, errors.New("no command given")}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version":
		fmt.Fprintln(stdout, version())
		return nil
	case "serve":
		return serve(ctx, rest, stderr)
	case "platforms":
		return platforms(ctx, rest, stdout)
	case "profile":
		return profile(ctx, rest, stdout)
	case "trust":
		return trust(ctx, rest, stdout)
	case "verify":
		return verifyCmd(ctx, rest, stdout)
	case "sign":
		return signCmd(ctx, rest, stdout, stderr)
	case "signature":
		return signature(ctx, rest, stdout)
	case "function":
		return function(ctx, rest, stdout)
	case "csc":
		return cscCmd(ctx, rest, stdout)
	case "audit":
		return auditCmd(ctx, rest, stdout)
	case "invoke":
		return invokeCmd(ctx, rest, stdout, stderr)
	case "logs":
		return logsCmd(ctx, rest, stdout)
	case "iam":
		return iamCmd(ctx, rest, stdout)
	}
	return usageError("unknown command %q", cmd)
}

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// clientFlags are the flags every client command takes.
type clientFlags struct {
	endpoint string
	output   string
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	def := os.Getenv("SIGNET_ENDPOINT")
	if def == "" {
		def = "http://127.0.0.1:9090"
	}
	fs.StringVar(&c.endpoint, "endpoint", def, "Signet API endpoint URL")
	fs.StringVar(&c.output, "output", "table", "output format: table or json")
}

func (c *clientFlags) check() error {
	if c.output != "table" && c.output != "json" {
		return usageError("--output must be table or json, not %q", c.output)
	}
	return nil
}

// awsConfig loads the AWS credential chain; the region defaults to
// us-east-1 when none is configured.
func (c *clientFlags) awsConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return cfg, fmt.Errorf("failed to load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return cfg, nil
}

func (c *clientFlags) signer(ctx context.Context) (*signer.Client, error) {
	cfg, err := c.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	return signer.NewFromConfig(cfg, func(o *signer.Options) { o.BaseEndpoint = aws.String(c.endpoint) }), nil
}

// parse parses flags that may appear before, between or after positional
// arguments, and returns the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// hints suggests fixes for common failures.
func hints(err error) []string {
	var api smithy.APIError
	msg := err.Error()
	switch {
	case strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "no EC2 IMDS role found"):
		return []string{"no AWS credentials found; after 'signet serve' run: export AWS_SHARED_CREDENTIALS_FILE=./signet-data/credentials"}
	case strings.Contains(msg, "connection refused"):
		return []string{"is 'signet serve' running? set --endpoint or SIGNET_ENDPOINT to its address"}
	case errors.As(err, &api) && api.ErrorCode() == "UnrecognizedClientException":
		return []string{"the access key is not known to this server; check AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE"}
	}
	return nil
}

// apiError renders an AWS API error as "Code: message".
func apiError(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		return fmt.Errorf("%s: %s", api.ErrorCode(), api.ErrorMessage())
	}
	return err
}
