package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

var paramSubcommands = []string{"put", "get", "list", "history", "delete"}

// hidden stands for a secret's or a SecureString's value wherever it is
// not to be shown (--show asks for it).
const hidden = "****"

// paramCmd runs `signet param SUBCOMMAND ARGS…`: the SSM Parameter
// Store. SecureString values are shown only with --show, which asks the
// server to decrypt them (and so needs kms:Decrypt on their key).
func paramCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError("param needs a subcommand: %s", strings.Join(paramSubcommands, ", "))
	}
	sub := args[0]
	var cf clientFlags
	fs := flag.NewFlagSet("param "+sub, flag.ContinueOnError)
	cf.register(fs)
	var (
		typ, keyID, description, path string
		overwrite, show, recursive    bool
	)
	switch sub {
	case "put":
		fs.StringVar(&typ, "type", "String", "String, StringList or SecureString")
		fs.StringVar(&keyID, "key-id", "", "the KMS key of a SecureString (default alias/aws/ssm)")
		fs.StringVar(&description, "description", "", "the parameter's description")
		fs.BoolVar(&overwrite, "overwrite", false, "replace the value of an existing parameter (a new version)")
	case "get", "history":
		fs.BoolVar(&show, "show", false, "show SecureString values (decrypted by the server)")
	case "list":
		fs.StringVar(&path, "path", "", "only the parameters under this path, such as /app/")
		fs.BoolVar(&recursive, "recursive", false, "with --path, the parameters at every depth below it")
	}
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	need := func(n int, usage string) error {
		if len(pos) != n {
			return usageError("usage: signet param %s %s", sub, usage)
		}
		return nil
	}
	cfg, err := cf.awsConfig(ctx)
	if err != nil {
		return err
	}
	c := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(cf.endpoint) })
	value := func(t types.ParameterType, v *string) string {
		if t == types.ParameterTypeSecureString && !show {
			return hidden
		}
		return aws.ToString(v)
	}
	switch sub {
	case "put":
		if err := need(2, "NAME VALUE [--type String|StringList|SecureString] [--key-id KEY] [--overwrite]"); err != nil {
			return err
		}
		in := &ssm.PutParameterInput{Name: &pos[0], Value: &pos[1], Type: types.ParameterType(typ), KeyId: nilIfEmpty(keyID),
			Description: nilIfEmpty(description), Overwrite: aws.Bool(overwrite)}
		r, err := c.PutParameter(ctx, in)
		if err != nil {
			return apiError(err)
		}
		if cf.output == "json" {
			return cf.printRaw(stdout)
		}
		_, err = fmt.Fprintf(stdout, "%s version %d (%s, %s tier)\n", pos[0], r.Version, typ, r.Tier)
		return err
	case "get":
		if err := need(1, "NAME[:VERSION|:LABEL] [--show]"); err != nil {
			return err
		}
		r, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: &pos[0], WithDecryption: aws.Bool(show)})
		if err != nil {
			return apiError(err)
		}
		if cf.output == "json" {
			return cf.printRaw(stdout)
		}
		p := r.Parameter
		return table(stdout, []string{"NAME", "TYPE", "VERSION", "MODIFIED", "VALUE"},
			[][]string{{aws.ToString(p.Name), string(p.Type), strconv.FormatInt(p.Version, 10), formatTime(p.LastModifiedDate), value(p.Type, p.Value)}})
	case "list":
		if err := need(0, "[--path P] [--recursive]"); err != nil {
			return err
		}
		var rows [][]string
		if path != "" {
			pages := ssm.NewGetParametersByPathPaginator(c, &ssm.GetParametersByPathInput{Path: &path, Recursive: aws.Bool(recursive)})
			all, written, err := listAll(ctx, pages.HasMorePages, pages.NextPage, func(o *ssm.GetParametersByPathOutput) []types.Parameter { return o.Parameters }, &cf, "Parameters", stdout)
			if err != nil || written {
				return err
			}
			for _, p := range all {
				rows = append(rows, []string{aws.ToString(p.Name), string(p.Type), strconv.FormatInt(p.Version, 10), formatTime(p.LastModifiedDate)})
			}
		} else {
			if recursive {
				return usageError("--recursive needs --path")
			}
			pages := ssm.NewDescribeParametersPaginator(c, &ssm.DescribeParametersInput{})
			all, written, err := listAll(ctx, pages.HasMorePages, pages.NextPage, func(o *ssm.DescribeParametersOutput) []types.ParameterMetadata { return o.Parameters }, &cf, "Parameters", stdout)
			if err != nil || written {
				return err
			}
			for _, p := range all {
				rows = append(rows, []string{aws.ToString(p.Name), string(p.Type), strconv.FormatInt(p.Version, 10), formatTime(p.LastModifiedDate)})
			}
		}
		return table(stdout, []string{"NAME", "TYPE", "VERSION", "MODIFIED"}, rows)
	case "history":
		if err := need(1, "NAME [--show]"); err != nil {
			return err
		}
		pages := ssm.NewGetParameterHistoryPaginator(c, &ssm.GetParameterHistoryInput{Name: &pos[0], WithDecryption: aws.Bool(show)})
		all, written, err := listAll(ctx, pages.HasMorePages, pages.NextPage, func(o *ssm.GetParameterHistoryOutput) []types.ParameterHistory { return o.Parameters }, &cf, "Parameters", stdout)
		if err != nil || written {
			return err
		}
		var rows [][]string
		for _, p := range all {
			labels := strings.Join(p.Labels, ",")
			if labels == "" {
				labels = "-"
			}
			rows = append(rows, []string{strconv.FormatInt(p.Version, 10), string(p.Type), labels, formatTime(p.LastModifiedDate), aws.ToString(p.LastModifiedUser), value(p.Type, p.Value)})
		}
		return table(stdout, []string{"VERSION", "TYPE", "LABELS", "MODIFIED", "BY", "VALUE"}, rows)
	case "delete":
		if err := need(1, "NAME"); err != nil {
			return err
		}
		if _, err := c.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: &pos[0]}); err != nil {
			return apiError(err)
		}
		if cf.output == "json" {
			return cf.printRaw(stdout)
		}
		_, err := fmt.Fprintf(stdout, "deleted parameter %s\n", pos[0])
		return err
	}
	return usageError("unknown param subcommand %q; one of: %s", sub, strings.Join(paramSubcommands, ", "))
}
