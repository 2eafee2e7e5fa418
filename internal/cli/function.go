package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func (c *clientFlags) lambda(ctx context.Context) (*lambda.Client, error) {
	cfg, err := c.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(c.endpoint) }), nil
}

func printFunction(w io.Writer, cf *clientFlags, f *ltypes.FunctionConfiguration) error {
	if cf.output == "json" {
		return cf.printRaw(w)
	}
	return table(w, []string{"FIELD", "VALUE"}, [][]string{
		{"Name", aws.ToString(f.FunctionName)},
		{"ARN", aws.ToString(f.FunctionArn)},
		{"Runtime", string(f.Runtime)},
		{"Handler", aws.ToString(f.Handler)},
		{"Code SHA-256", aws.ToString(f.CodeSha256)},
		{"Code size", strconv.FormatInt(f.CodeSize, 10)},
		{"Signing profile version", aws.ToString(f.SigningProfileVersionArn)},
		{"Signing job", aws.ToString(f.SigningJobArn)},
	})
}

// showFunction prints a function's configuration.
func showFunction(ctx context.Context, c *lambda.Client, w io.Writer, cf *clientFlags, name string) error {
	out, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		return apiError(err)
	}
	return printFunction(w, cf, out.Configuration)
}

// basicExecutionRole is the role `signet function create` gives a
// function when --role is not set: it trusts lambda.amazonaws.com and has
// no policies (docs/lambda.md).
const basicExecutionRole = "signet-lambda-basic-execution"

// lambdaTrustPolicy lets Lambda assume a role.
const lambdaTrustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// basicExecutionRole returns the ARN of the caller's account's basic
// execution role, creating the role if it does not exist.
func (c *clientFlags) basicExecutionRole(ctx context.Context) (string, error) {
	cfg, err := c.awsConfig(ctx)
	if err != nil {
		return "", err
	}
	ic := iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(c.endpoint); o.Region = "us-east-1" })
	got, err := ic.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(basicExecutionRole)})
	var missing *iamtypes.NoSuchEntityException
	switch {
	case err == nil:
		return aws.ToString(got.Role.Arn), nil
	case !errors.As(err, &missing):
		return "", apiError(err)
	}
	created, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(basicExecutionRole), AssumeRolePolicyDocument: aws.String(lambdaTrustPolicy),
		Description: aws.String("execution role of functions created by signet function create without --role")})
	if err != nil {
		return "", apiError(err)
	}
	return aws.ToString(created.Role.Arn), nil
}

// function runs `signet function create|update-code|get|list|delete`.
func function(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError("function needs a subcommand: create, update-code, get, list or delete")
	}
	sub, args := args[0], args[1:]
	var cf clientFlags
	fs := flag.NewFlagSet("function "+sub, flag.ContinueOnError)
	cf.register(fs)
	var zipPath, runtime, handler, role, csc *string
	switch sub {
	case "create":
		runtime = fs.String("runtime", "python3.12", "runtime (python3.x, nodejs20.x, provided.al2023)")
		handler = fs.String("handler", "lambda_function.lambda_handler", "handler")
		role = fs.String("role", "", "execution role ARN (default: the role "+basicExecutionRole+", created if missing)")
		csc = fs.String("code-signing-config", "", "code signing config ARN to attach")
		fallthrough
	case "update-code":
		zipPath = fs.String("zip", "", "deployment package (a zip file, signed or not)")
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	need := 1
	if sub == "list" {
		need = 0
	}
	if len(pos) != need {
		return usageError("function %s takes %d argument(s)", sub, need)
	}
	c, err := cf.lambda(ctx)
	if err != nil {
		return err
	}
	var zip []byte
	if zipPath != nil {
		if *zipPath == "" {
			return usageError("function %s needs --zip FILE", sub)
		}
		if zip, err = os.ReadFile(*zipPath); err != nil {
			return err
		}
	}
	switch sub {
	case "create":
		in := &lambda.CreateFunctionInput{FunctionName: aws.String(pos[0]), Runtime: ltypes.Runtime(*runtime), Handler: handler, Code: &ltypes.FunctionCode{ZipFile: zip}}
		if *role != "" {
			in.Role = role
		} else {
			arn, err := cf.basicExecutionRole(ctx)
			if err != nil {
				return err
			}
			in.Role = aws.String(arn)
		}
		if *csc != "" {
			in.CodeSigningConfigArn = csc
		}
		if _, err := c.CreateFunction(ctx, in); err != nil {
			return apiError(err)
		}
		return showFunction(ctx, c, stdout, &cf, pos[0])
	case "update-code":
		if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(pos[0]), ZipFile: zip}); err != nil {
			return apiError(err)
		}
		return showFunction(ctx, c, stdout, &cf, pos[0])
	case "get":
		return showFunction(ctx, c, stdout, &cf, pos[0])
	case "list":
		var rows [][]string
		pages := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{})
		all, written, err := listAll(ctx, pages.HasMorePages, pages.NextPage,
			func(o *lambda.ListFunctionsOutput) []ltypes.FunctionConfiguration { return o.Functions }, &cf, "Functions", stdout)
		if err != nil || written {
			return err
		}
		for _, f := range all {
			rows = append(rows, []string{aws.ToString(f.FunctionName), string(f.Runtime), strconv.FormatInt(f.CodeSize, 10), aws.ToString(f.SigningProfileVersionArn)})
		}
		return table(stdout, []string{"NAME", "RUNTIME", "CODE SIZE", "SIGNED BY"}, rows)
	case "delete":
		if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(pos[0])}); err != nil {
			return apiError(err)
		}
		fmt.Fprintf(stdout, "deleted function %s\n", pos[0])
		return nil
	}
	return usageError("unknown function subcommand %q (create, update-code, get, list, delete)", sub)
}

// cscCmd runs `signet csc create|attach|detach|get|list|delete`.
func cscCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError("csc needs a subcommand: create, attach, detach, get, list or delete")
	}
	sub, args := args[0], args[1:]
	var cf clientFlags
	fs := flag.NewFlagSet("csc "+sub, flag.ContinueOnError)
	cf.register(fs)
	var publishers listFlags
	policy := fs.String("policy", "Enforce", "UntrustedArtifactOnDeployment: Warn or Enforce")
	description := fs.String("description", "", "description")
	if sub == "create" {
		fs.Var(&publishers, "publisher", "allowed publisher: a signing profile name (its current version, looked up on the server), a profile version ARN, or a profile ARN for any version (repeatable)")
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	c, err := cf.lambda(ctx)
	if err != nil {
		return err
	}
	want := map[string]int{"create": 0, "attach": 2, "detach": 1, "get": 1, "list": 0, "delete": 1}
	n, ok := want[sub]
	if !ok {
		return usageError("unknown csc subcommand %q (create, attach, detach, get, list, delete)", sub)
	}
	if len(pos) != n {
		return usageError("csc %s takes %d argument(s)", sub, n)
	}
	show := func(cfg *ltypes.CodeSigningConfig) error {
		if cf.output == "json" {
			return cf.printRaw(stdout)
		}
		return table(stdout, []string{"ARN", "POLICY", "PUBLISHERS"}, [][]string{{aws.ToString(cfg.CodeSigningConfigArn),
			string(cfg.CodeSigningPolicies.UntrustedArtifactOnDeployment), fmt.Sprint(cfg.AllowedPublishers.SigningProfileVersionArns)}})
	}
	switch sub {
	case "create":
		if len(publishers) == 0 {
			return usageError("csc create needs at least one --publisher NAME or ARN")
		}
		if publishers, err = resolveProfiles(ctx, &cf, "publisher", publishers, true); err != nil {
			return err
		}
		out, err := c.CreateCodeSigningConfig(ctx, &lambda.CreateCodeSigningConfigInput{Description: description,
			AllowedPublishers:   &ltypes.AllowedPublishers{SigningProfileVersionArns: publishers},
			CodeSigningPolicies: &ltypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: ltypes.CodeSigningPolicy(*policy)}})
		if err != nil {
			return apiError(err)
		}
		return show(out.CodeSigningConfig)
	case "get":
		out, err := c.GetCodeSigningConfig(ctx, &lambda.GetCodeSigningConfigInput{CodeSigningConfigArn: aws.String(pos[0])})
		if err != nil {
			return apiError(err)
		}
		return show(out.CodeSigningConfig)
	case "list":
		out, err := c.ListCodeSigningConfigs(ctx, &lambda.ListCodeSigningConfigsInput{})
		if err != nil {
			return apiError(err)
		}
		if cf.output == "json" {
			return cf.printRaw(stdout)
		}
		var rows [][]string
		for _, cfg := range out.CodeSigningConfigs {
			rows = append(rows, []string{aws.ToString(cfg.CodeSigningConfigArn), string(cfg.CodeSigningPolicies.UntrustedArtifactOnDeployment), fmt.Sprint(cfg.AllowedPublishers.SigningProfileVersionArns)})
		}
		return table(stdout, []string{"ARN", "POLICY", "PUBLISHERS"}, rows)
	case "attach":
		if _, err := c.PutFunctionCodeSigningConfig(ctx, &lambda.PutFunctionCodeSigningConfigInput{FunctionName: aws.String(pos[0]), CodeSigningConfigArn: aws.String(pos[1])}); err != nil {
			return apiError(err)
		}
		fmt.Fprintf(stdout, "attached %s to function %s; it applies from the next deployment\n", pos[1], pos[0])
	case "detach":
		if _, err := c.DeleteFunctionCodeSigningConfig(ctx, &lambda.DeleteFunctionCodeSigningConfigInput{FunctionName: aws.String(pos[0])}); err != nil {
			return apiError(err)
		}
		fmt.Fprintf(stdout, "detached the code signing config of function %s\n", pos[0])
	case "delete":
		if _, err := c.DeleteCodeSigningConfig(ctx, &lambda.DeleteCodeSigningConfigInput{CodeSigningConfigArn: aws.String(pos[0])}); err != nil {
			return apiError(err)
		}
		fmt.Fprintf(stdout, "deleted %s\n", pos[0])
	}
	return nil
}
