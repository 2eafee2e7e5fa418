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
// a refused package; signet image sign exits 10 (no such image), 11
// (registry unreachable) or 12 (not authorized by the registry); signet
// image verify exits as signet verify for the same rules (3 no signature,
// 4, 5, 6, 7 trusted identity, 8), 9 (authentic timestamp), 10–12 as
// image sign, 13 (malformed trust policy) or 14 (no policy scope matches).
package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/smithy-go"
)

// Version is the build's version; set with -ldflags "-X .../cli.Version=v1.2.3".
var Version = ""

const usage = `usage: signet COMMAND [flags]

Server:
  signet serve [--data-dir DIR] [--listen ADDR] [--config FILE]
  signet migrate [--data-dir DIR | --database-url URL] [--apply]   show (and apply) pending schema migrations
  signet store copy --from sqlite://DATA_DIR --to postgres://…       move a stopped installation to PostgreSQL
  signet store gc [--data-dir DIR | --database-url URL --object-store-url URL] [--grace 1h] [--dry-run]
                                                                    delete object data nothing refers to
  signet backup DEST [--data-dir DIR] [--config FILE] [--include-master-key]
                                                                    copy a running embedded installation (docs/backup.md)
  signet restore SRC --data-dir DIR [--master-key-file FILE]        restore a backup into a new data directory

Signing profiles and platforms:
  signet platforms
  signet profile create NAME --platform ID [--validity 135 --validity-type MONTHS] [--tag KEY=VALUE]...
  signet profile get NAME
  signet profile list [--include-canceled] [--platform ID] [--status S]...
  signet profile cancel NAME [--yes]
  signet profile revoke NAME --version V [--effective-time T] --reason R

Signing and verifying:
  signet sign FILE --profile NAME [-o OUT]       upload, sign, download in one step
  signet sign s3://BUCKET/KEY --profile NAME     sign an object already in a versioned bucket
  signet verify FILE [--trust-store DIR] [--profile NAME|ARN]... [--crl-cache DIR | --no-revocation] [--export-sig DIR]

Container images (a Notation signature pushed beside the image):
  signet image sign HOST/REPO:TAG|@DIGEST --profile NAME [--signature-format jws|cose] [--insecure-registry]
  signet image verify HOST/REPO:TAG|@DIGEST [--policy FILE] [--trust-store DIR] [--insecure-registry] [--crl-cache DIR]

Kubernetes admission (the webhooks of admission.listen in the configuration):
  signet admission config --url https://HOST:PORT | --service NS/NAME[:PORT] [--mutating] [--ca-file FILE] [--timeout 10] [--exclude-namespace NS]...
  signet workloads list | violations        running workloads and their verdicts (workloads in the configuration)

Functions and code signing configs:
  signet csc create --publisher NAME|ARN... [--policy Warn|Enforce] [--description D]
  signet csc attach FUNCTION CSC_ARN | detach FUNCTION | get CSC_ARN | list | delete CSC_ARN
  signet function create NAME --zip FILE [--runtime R --handler H --role ARN --code-signing-config ARN]
  signet function update-code NAME --zip FILE | get NAME | list | delete NAME
  signet invoke FUNCTION [--payload JSON | --payload-file FILE] [--qualifier V] [--event] [--log]
  signet logs FUNCTION [--follow] [--since 10m] [--filter PATTERN]

Secrets (Secrets Manager; values are shown only with --show):
  signet secret create NAME [--value V | --value-file F | --binary-file F] [--description D] [--kms-key-id K] [--tag KEY=VALUE]...
  signet secret get NAME [--version-id ID] [--version-stage S] [--show [--out FILE]]
  signet secret put NAME --value V | --value-file F [--stage S]...
  signet secret rotate NAME [--function NAME|ARN] [--every-days N | --schedule 'rate(N days)'] [--no-immediately]
  signet secret list [--filter name=PREFIX]... [--include-deleted] | describe NAME
  signet secret delete NAME [--recovery-days N | --force] | restore NAME

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

Keys (KMS; KEY is a key id, key ARN, alias/NAME or alias ARN):
  signet kms create-key [--description D] [--key-spec SYMMETRIC_DEFAULT|ECC_NIST_P256|ECC_NIST_P384] [--key-usage ENCRYPT_DECRYPT|SIGN_VERIFY]
  signet kms list | describe KEY
  signet kms alias create NAME KEY | alias delete NAME | alias list [--key-id KEY]
  signet kms encrypt --key-id KEY --plaintext-file FILE [--context KEY=VALUE]... [--out FILE] [--binary]
  signet kms decrypt --ciphertext-file FILE [--key-id KEY] [--context KEY=VALUE]... [--out FILE]
  signet kms enable KEY | disable KEY | rotate KEY | schedule-deletion KEY [--days 7-30] | cancel-deletion KEY

Parameters (SSM Parameter Store; SecureString values shown as **** unless --show):
  signet param put NAME VALUE [--type String|StringList|SecureString] [--key-id KEY] [--overwrite] [--description D]
  signet param get NAME[:VERSION|:LABEL] [--show]
  signet param list [--path P] [--recursive]
  signet param history NAME [--show]
  signet param delete NAME

Audit (reads DATA_DIR directly, default ./signet-data, or --database-url URL [--master-key-file F]):
  signet audit verify [--data-dir DIR]
  signet audit tail [--data-dir DIR] [-n N]
  signet audit query [--data-dir DIR] [--principal ARN] [--action A] [--decision D] [--since 24h] [--break-glass] [-n N]

Revocation:
  signet signature revoke JOB_ID --reason R

Trust:
  signet trust export --profile NAME [--store-name STORE] DIR

Other:
  signet version

Client commands take --endpoint URL (or SIGNET_ENDPOINT; default
http://127.0.0.1:9090) and --output table|json, before or after the
command; --output json prints the API's JSON response. 'signet COMMAND
--help' prints the usage of one command. Credentials come from the AWS
chain; after 'signet serve' (which prints the file's absolute path) use:

  export AWS_SHARED_CREDENTIALS_FILE=$PWD/signet-data/credentials

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
	var he *helpError
	if errors.As(err, &he) {
		fmt.Fprint(stdout, he.text())
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

// globalFlags are the client flags that may come before the command
// ("signet --endpoint URL profile list"); run moves them after it.
var globalFlags = map[string]bool{"endpoint": true, "output": true, "ca-bundle": true}

// hoistGlobalFlags moves leading global flags after the command and its
// subcommand words, where every client command's flag set parses them.
func hoistGlobalFlags(args []string) ([]string, error) {
	var flags []string
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		if !globalFlags[name] {
			break
		}
		if hasValue {
			flags, args = append(flags, args[0]), args[1:]
			continue
		}
		if len(args) < 2 {
			return nil, usageError("flag needs an argument: -%s", name)
		}
		flags, args = append(flags, args[0], args[1]), args[2:]
	}
	return append(args, flags...), nil
}

// commandGroups are the commands whose first argument is a subcommand.
var commandGroups = map[string]bool{"profile": true, "function": true, "csc": true, "iam": true, "audit": true, "trust": true, "signature": true, "image": true, "admission": true, "workloads": true, "kms": true, "param": true, "secret": true, "store": true}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	args, err := hoistGlobalFlags(args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{2, errors.New("no command given")}
	}
	cmd, rest := args[0], args[1:]
	// "signet help profile", "signet profile --help": the usage of one
	// command (a leaf command's own --help also lists its flags).
	if (cmd == "help" || isHelp(cmd)) && len(rest) > 0 && !isHelp(rest[0]) {
		return run(ctx, append(rest, "--help"), stdout, stderr)
	}
	if len(rest) > 0 && isHelp(rest[0]) && commandGroups[cmd] {
		return &helpError{name: cmd}
	}
	switch cmd {
	case "help", "-h", "-help", "--help":
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
		return profile(ctx, rest, stdout, stderr)
	case "trust":
		return trust(ctx, rest, stdout)
	case "verify":
		return verifyCmd(ctx, rest, stdout)
	case "sign":
		return signCmd(ctx, rest, stdout, stderr)
	case "signature":
		return signature(ctx, rest, stdout)
	case "image":
		return imageCmd(ctx, rest, stdout)
	case "function":
		return function(ctx, rest, stdout)
	case "csc":
		return cscCmd(ctx, rest, stdout)
	case "secret":
		return secretCmd(ctx, rest, stdout)
	case "audit":
		return auditCmd(ctx, rest, stdout)
	case "migrate":
		return migrateCmd(ctx, rest, stdout)
	case "store":
		return storeCmd(ctx, rest, stdout)
	case "backup":
		return backupCmd(ctx, rest, stdout, stderr)
	case "restore":
		return restoreCmd(ctx, rest, stdout, stderr)
	case "invoke":
		return invokeCmd(ctx, rest, stdout, stderr)
	case "logs":
		return logsCmd(ctx, rest, stdout)
	case "iam":
		return iamCmd(ctx, rest, stdout)
	case "admission":
		return admissionCmd(ctx, rest, stdout, stderr)
	case "workloads":
		return workloadsCmd(ctx, rest, stdout)
	case "kms":
		return kmsCmd(ctx, rest, stdout)
	case "param":
		return paramCmd(ctx, rest, stdout)
	}
	return usageError("unknown command %q", cmd)
}

// helpError asks Main to print the usage of one command: its lines of
// the usage text and, for a leaf command, its flags.
type helpError struct {
	name string        // "profile", "profile create"
	fs   *flag.FlagSet // nil for a command group
}

func (e *helpError) Error() string { return "help requested" }

func (e *helpError) text() string {
	var b strings.Builder
	b.WriteString("usage:\n")
	words := strings.Fields(e.name)
	for n := len(words); n > 0 && b.Len() == len("usage:\n"); n-- {
		prefix := "signet " + strings.Join(words[:n], " ")
		commands, _, _ := strings.Cut(usage, "\nClient commands take")
		for _, line := range strings.Split(commands, "\n") {
			l := strings.TrimSpace(line)
			if l == prefix || strings.HasPrefix(l, prefix+" ") {
				fmt.Fprintf(&b, "%s\n", line)
			}
		}
	}
	if b.Len() == len("usage:\n") {
		return usage
	}
	b.WriteString("\n")
	if e.fs != nil {
		b.WriteString("Flags:\n")
		e.fs.SetOutput(&b)
		e.fs.PrintDefaults()
		e.fs.SetOutput(io.Discard)
	} else {
		b.WriteString("Run 'signet " + e.name + " SUBCOMMAND --help' for the flags of one subcommand.\n")
	}
	return b.String()
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
	caBundle string        // PEM CAs trusted for an https:// endpoint, beside the system's
	bodies   *bodyRecorder // with --output json: the responses' bodies
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	def := os.Getenv("SIGNET_ENDPOINT")
	if def == "" {
		def = "http://127.0.0.1:9090"
	}
	fs.StringVar(&c.endpoint, "endpoint", def, "Signet API endpoint URL")
	fs.StringVar(&c.output, "output", "table", "output format: table or json")
	fs.StringVar(&c.caBundle, "ca-bundle", os.Getenv("AWS_CA_BUNDLE"), "PEM file of CAs to trust for an https:// endpoint (default AWS_CA_BUNDLE), such as Signet's DATA_DIR/tls/ca.pem")
}

// httpClient is the client for the server's own endpoints (certificates,
// the workloads API): it trusts --ca-bundle beside the system's CAs.
func (c *clientFlags) httpClient() (*http.Client, error) {
	if c.caBundle == "" {
		return http.DefaultClient, nil
	}
	pool, err := c.caPool()
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t}, nil
}

// caPool is the system's CAs with --ca-bundle's.
func (c *clientFlags) caPool() (*x509.CertPool, error) {
	b, err := os.ReadFile(c.caBundle)
	if err != nil {
		return nil, &exitError{2, fmt.Errorf("--ca-bundle: %w", err)}
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, &exitError{2, fmt.Errorf("--ca-bundle: %s holds no PEM certificate", c.caBundle)}
	}
	return pool, nil
}

func (c *clientFlags) check() error {
	if err := checkOutput(c.output); err != nil {
		return err
	}
	return checkEndpoint(c.endpoint)
}

func checkOutput(output string) error {
	if output != "table" && output != "json" {
		return usageError("--output must be table or json, not %q", output)
	}
	return nil
}

// checkEndpoint refuses an endpoint that is not an http(s) URL, such as
// "127.0.0.1:9090" without its scheme.
func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return nil
	}
	return &exitError{2, &hintError{fmt.Errorf("endpoint %q is not an http:// or https:// URL", endpoint),
		[]string{fmt.Sprintf("give the scheme: --endpoint http://%s (or SIGNET_ENDPOINT)", strings.TrimPrefix(strings.TrimPrefix(endpoint, "//"), "/"))}}}
}

// awsConfig loads the AWS credential chain (without EC2 instance
// metadata, which a Signet client never wants); the region defaults to
// us-east-1 when none is configured. It also checks the flags, so that
// every client command refuses a bad --endpoint or --output before it
// calls anything. With --output json, every response body is kept so
// that the command can print the API's JSON (see rawJSON).
func (c *clientFlags) awsConfig(ctx context.Context) (aws.Config, error) {
	if err := c.check(); err != nil {
		return aws.Config{}, err
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled)}
	if c.caBundle != "" {
		b, err := os.ReadFile(c.caBundle)
		if err != nil {
			return aws.Config{}, &exitError{2, fmt.Errorf("--ca-bundle: %w", err)}
		}
		opts = append(opts, awsconfig.WithCustomCABundle(bytes.NewReader(b)))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("failed to load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	// Fail here, in words, rather than with the SDK's account of every
	// provider of its chain it tried.
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return cfg, &hintError{errors.New("no AWS credentials found (in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials file, or the AWS_PROFILE named)"), credentialsHints()}
	}
	if c.output == "json" {
		if c.bodies == nil {
			var next interface {
				Do(*http.Request) (*http.Response, error)
			} = cfg.HTTPClient // with the CA bundle
			if cfg.HTTPClient == nil {
				next = awshttp.NewBuildableClient()
			}
			c.bodies = &bodyRecorder{next: next}
		}
		cfg.HTTPClient = c.bodies
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

// bodyRecorder is an HTTP client that keeps the body of the last
// response, so that --output json prints what the API answered rather
// than the SDK's Go structures.
type bodyRecorder struct {
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
	mu   sync.Mutex
	last []byte
}

func (b *bodyRecorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := b.next.Do(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.last = body
	b.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// rawJSON returns the JSON body of the last response (nil when there is
// none, or it is not JSON).
func (c *clientFlags) rawJSON() json.RawMessage {
	if c.bodies == nil {
		return nil
	}
	c.bodies.mu.Lock()
	defer c.bodies.mu.Unlock()
	if !json.Valid(c.bodies.last) {
		return nil
	}
	return bytes.Clone(c.bodies.last)
}

// printRaw prints the last response's JSON, indented.
func (c *clientFlags) printRaw(w io.Writer) error {
	raw := c.rawJSON()
	if raw == nil {
		return errors.New("the server's response is not JSON")
	}
	return writeJSON(w, raw)
}

// pageItems collects, across the pages of a paginated call, the elements
// of the list named key in each response body.
// listAll reads every page of a listing (an SDK paginator's
// HasMorePages and NextPage) and returns its items; with --output json it
// writes the raw items under key itself, and reports that it did.
func listAll[Out, Opt, T any](ctx context.Context, more func() bool, next func(context.Context, ...Opt) (Out, error), items func(Out) []T,
	cf *clientFlags, key string, w io.Writer) (all []T, written bool, err error) {
	raw := pageItems{key: key}
	for more() {
		out, err := next(ctx)
		if err != nil {
			return nil, false, apiError(err)
		}
		all = append(all, items(out)...)
		if cf.output == "json" {
			if err := raw.add(cf); err != nil {
				return nil, false, err
			}
		}
	}
	if cf.output == "json" {
		return nil, true, raw.write(w)
	}
	return all, false, nil
}

type pageItems struct {
	key   string
	items []json.RawMessage
}

func (p *pageItems) add(c *clientFlags) error {
	var page map[string]json.RawMessage
	if err := json.Unmarshal(c.rawJSON(), &page); err != nil {
		return fmt.Errorf("the server's response is not a JSON object: %w", err)
	}
	var items []json.RawMessage
	if len(page[p.key]) > 0 {
		if err := json.Unmarshal(page[p.key], &items); err != nil {
			return fmt.Errorf("%s in the server's response: %w", p.key, err)
		}
	}
	p.items = append(p.items, items...)
	return nil
}

func (p *pageItems) write(w io.Writer) error {
	if p.items == nil {
		p.items = []json.RawMessage{}
	}
	return writeJSON(w, map[string]any{p.key: p.items})
}

// parse parses flags that may appear before, between or after positional
// arguments, and returns the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &helpError{name: fs.Name(), fs: fs}
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
	if raw, ok := v.(json.RawMessage); ok {
		var b bytes.Buffer
		if err := json.Indent(&b, raw, "", "  "); err != nil {
			return err
		}
		b.WriteByte('\n')
		_, err := w.Write(b.Bytes())
		return err
	}
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

// hintError is an error that carries its own hints, which replace the
// generic ones hints would guess from the message.
type hintError struct {
	err   error
	hints []string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// hints suggests fixes for common failures: those of every hintError
// in err's chain, outermost first, or else those known for its message.
func hints(err error) []string {
	var all []string
	for e := err; ; {
		var he *hintError
		if !errors.As(e, &he) {
			break
		}
		all = append(all, he.hints...)
		e = he.err
	}
	if all != nil {
		return all
	}
	var api smithy.APIError
	msg := err.Error()
	switch {
	case strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "no EC2 IMDS role found") ||
		strings.Contains(msg, "failed to refresh cached credentials"):
		return credentialsHints()
	case strings.Contains(msg, "connection refused"):
		return []string{"is 'signet serve' running? set --endpoint or SIGNET_ENDPOINT to its address"}
	case errors.As(err, &api) && api.ErrorCode() == "UnrecognizedClientException":
		return []string{"the access key is not known to this server; check AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE"}
	}
	return nil
}

// credentialsHints points at the administrator credentials of
// ./signet-data, where 'signet serve' keeps them by default, by absolute
// path.
func credentialsHints() []string {
	abs, err := filepath.Abs(filepath.Join("signet-data", "credentials"))
	if err != nil {
		return []string{"after 'signet serve' run: export AWS_SHARED_CREDENTIALS_FILE=DATA_DIR/credentials (the path it printed at start)"}
	}
	h := []string{"after 'signet serve' run: export AWS_SHARED_CREDENTIALS_FILE=" + abs}
	if _, err := os.Stat(abs); err != nil {
		h = append(h, "that is where a 'signet serve' started in "+filepath.Dir(filepath.Dir(abs))+" keeps them; otherwise use the path it printed at start")
	}
	return h
}

// apiError renders an AWS API error as "Code: message".
func apiError(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		return fmt.Errorf("%s: %s", api.ErrorCode(), api.ErrorMessage())
	}
	return err
}
