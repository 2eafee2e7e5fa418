package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// iamCmd runs `signet iam SUBCOMMAND ARGS…`, the IAM and STS operations
// Signet serves. Policy documents are given as JSON, or file://PATH.
func iamCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError("iam needs a subcommand: %s", strings.Join(iamSubcommands, ", "))
	}
	sub := args[0]
	var cf clientFlags
	fs := flag.NewFlagSet("iam "+sub, flag.ContinueOnError)
	cf.register(fs)
	path := fs.String("path", "", "path of a new user, role or policy (default /)")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	cfg, err := cf.awsConfig(ctx)
	if err != nil {
		return err
	}
	ic := iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(cf.endpoint); o.Region = "us-east-1" })
	sc := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(cf.endpoint) })
	need := func(n int, usage string) error {
		if len(pos) != n {
			return usageError("usage: signet iam %s %s", sub, usage)
		}
		return nil
	}
	var p *string
	if *path != "" {
		p = path
	}
	var out any
	switch sub {
	case "create-user":
		if err = need(1, "NAME [--path P]"); err == nil {
			out, err = ic.CreateUser(ctx, &iam.CreateUserInput{UserName: &pos[0], Path: p})
		}
	case "get-user":
		in := &iam.GetUserInput{}
		if len(pos) == 1 {
			in.UserName = &pos[0]
		}
		out, err = ic.GetUser(ctx, in)
	case "list-users":
		out, err = ic.ListUsers(ctx, &iam.ListUsersInput{})
	case "delete-user":
		if err = need(1, "NAME"); err == nil {
			out, err = ic.DeleteUser(ctx, &iam.DeleteUserInput{UserName: &pos[0]})
		}
	case "create-access-key":
		if err = need(1, "USER"); err == nil {
			var r *iam.CreateAccessKeyOutput
			if r, err = ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &pos[0]}); err == nil && cf.output != "json" {
				fmt.Fprintf(stdout, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", pos[0], aws.ToString(r.AccessKey.AccessKeyId), aws.ToString(r.AccessKey.SecretAccessKey))
				return nil
			}
			out = r
		}
	case "delete-access-key":
		if err = need(2, "USER ACCESS_KEY_ID"); err == nil {
			out, err = ic.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: &pos[0], AccessKeyId: &pos[1]})
		}
	case "create-role":
		if err = need(2, "NAME TRUST_POLICY"); err == nil {
			var doc string
			if doc, err = document(pos[1]); err == nil {
				out, err = ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &pos[0], AssumeRolePolicyDocument: &doc, Path: p})
			}
		}
	case "get-role":
		if err = need(1, "NAME"); err == nil {
			out, err = ic.GetRole(ctx, &iam.GetRoleInput{RoleName: &pos[0]})
		}
	case "delete-role":
		if err = need(1, "NAME"); err == nil {
			out, err = ic.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: &pos[0]})
		}
	case "create-policy":
		if err = need(2, "NAME POLICY"); err == nil {
			var doc string
			if doc, err = document(pos[1]); err == nil {
				out, err = ic.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: &pos[0], PolicyDocument: &doc, Path: p})
			}
		}
	case "get-policy":
		if err = need(1, "ARN"); err == nil {
			out, err = ic.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &pos[0]})
		}
	case "delete-policy":
		if err = need(1, "ARN"); err == nil {
			out, err = ic.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: &pos[0]})
		}
	case "put-user-policy", "put-role-policy":
		if err = need(3, "PRINCIPAL POLICY_NAME POLICY"); err == nil {
			var doc string
			if doc, err = document(pos[2]); err == nil {
				if sub == "put-user-policy" {
					out, err = ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &pos[0], PolicyName: &pos[1], PolicyDocument: &doc})
				} else {
					out, err = ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &pos[0], PolicyName: &pos[1], PolicyDocument: &doc})
				}
			}
		}
	case "attach-user-policy":
		if err = need(2, "USER POLICY_ARN"); err == nil {
			out, err = ic.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: &pos[0], PolicyArn: &pos[1]})
		}
	case "attach-role-policy":
		if err = need(2, "ROLE POLICY_ARN"); err == nil {
			out, err = ic.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: &pos[0], PolicyArn: &pos[1]})
		}
	case "put-user-permissions-boundary":
		if err = need(2, "USER POLICY_ARN"); err == nil {
			out, err = ic.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: &pos[0], PermissionsBoundary: &pos[1]})
		}
	case "put-role-permissions-boundary":
		if err = need(2, "ROLE POLICY_ARN"); err == nil {
			out, err = ic.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: &pos[0], PermissionsBoundary: &pos[1]})
		}
	case "delete-user-policy", "delete-role-policy":
		if err = need(2, "PRINCIPAL POLICY_NAME"); err == nil {
			if sub == "delete-user-policy" {
				out, err = ic.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: &pos[0], PolicyName: &pos[1]})
			} else {
				out, err = ic.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &pos[0], PolicyName: &pos[1]})
			}
		}
	case "detach-user-policy":
		if err = need(2, "USER POLICY_ARN"); err == nil {
			out, err = ic.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: &pos[0], PolicyArn: &pos[1]})
		}
	case "detach-role-policy":
		if err = need(2, "ROLE POLICY_ARN"); err == nil {
			out, err = ic.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: &pos[0], PolicyArn: &pos[1]})
		}
	case "delete-user-permissions-boundary":
		if err = need(1, "USER"); err == nil {
			out, err = ic.DeleteUserPermissionsBoundary(ctx, &iam.DeleteUserPermissionsBoundaryInput{UserName: &pos[0]})
		}
	case "delete-role-permissions-boundary":
		if err = need(1, "ROLE"); err == nil {
			out, err = ic.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: &pos[0]})
		}
	case "whoami":
		out, err = sc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	case "assume-role":
		if err = need(2, "ROLE_ARN SESSION_NAME"); err == nil {
			var r *sts.AssumeRoleOutput
			if r, err = sc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: &pos[0], RoleSessionName: &pos[1]}); err == nil && cf.output != "json" {
				c := r.Credentials
				fmt.Fprintf(stdout, "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_SESSION_TOKEN=%s\n# expires %s\n",
					aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken), c.Expiration.UTC().Format("2006-01-02T15:04:05Z"))
				return nil
			}
			out = r
		}
	default:
		return usageError("unknown iam subcommand %q; one of: %s", sub, strings.Join(iamSubcommands, ", "))
	}
	if err != nil {
		return apiError(err)
	}
	return writeJSON(stdout, withoutMetadata(out))
}

// withoutMetadata drops the SDK's empty ResultMetadata from an output.
func withoutMetadata(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return v
	}
	delete(m, "ResultMetadata")
	return dropNulls(m)
}

// dropNulls removes the members the SDK's structures hold as nil, which
// the API leaves out of its response.
func dropNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
			} else {
				x[k] = dropNulls(e)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = dropNulls(e)
		}
	}
	return v
}

var iamSubcommands = []string{"create-user", "get-user", "list-users", "delete-user", "create-access-key", "delete-access-key",
	"create-role", "get-role", "delete-role", "create-policy", "get-policy", "delete-policy", "put-user-policy", "put-role-policy",
	"attach-user-policy", "attach-role-policy", "put-user-permissions-boundary", "put-role-permissions-boundary",
	"delete-user-policy", "delete-role-policy", "detach-user-policy", "detach-role-policy",
	"delete-user-permissions-boundary", "delete-role-permissions-boundary", "whoami", "assume-role"}

// document reads a policy given as JSON or file://PATH.
func document(arg string) (string, error) {
	if path, ok := strings.CutPrefix(arg, "file://"); ok {
		b, err := os.ReadFile(path)
		return string(b), err
	}
	if d, err := url.QueryUnescape(arg); err == nil && strings.HasPrefix(strings.TrimSpace(d), "{") {
		return d, nil
	}
	return arg, nil
}
