package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// secretsManager returns a Secrets Manager client. With keepBodies the
// response bodies are kept even in table output, so that a command can
// read the fields the SDK drops (SignetLastRotationFailure).
func (c *clientFlags) secretsManager(ctx context.Context, keepBodies bool) (*secretsmanager.Client, error) {
	cfg, err := c.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	if keepBodies && c.bodies == nil {
		var next aws.HTTPClient = awshttp.NewBuildableClient()
		if cfg.HTTPClient != nil {
			next = cfg.HTTPClient
		}
		c.bodies = &bodyRecorder{next: next}
		cfg.HTTPClient = c.bodies
	}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(c.endpoint) }), nil
}

// secretError renders a Secrets Manager error, with a hint for the
// common ones.
func secretError(err error, name string) error {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return err
	}
	e := apiError(err)
	switch api.ErrorCode() {
	case "ResourceNotFoundException":
		return &hintError{e, []string{"'signet secret list' lists the secrets (--include-deleted also those scheduled for deletion)"}}
	case "ResourceExistsException":
		return &hintError{e, []string{fmt.Sprintf("'signet secret put %s --value-file FILE' stores a new value in the existing secret", name)}}
	case "AccessDeniedException":
		return &hintError{e, []string{"reading a value also needs kms:Decrypt, and storing one kms:GenerateDataKey, on the secret's KMS key (docs/secrets.md)"}}
	}
	return e
}

// secretValue reads the value of --value or --value-file ("-" is
// standard input); neither may be given with the other.
func secretValue(value, file string, valueSet bool) (*string, error) {
	switch {
	case valueSet && file != "":
		return nil, usageError("give --value or --value-file, not both")
	case valueSet:
		return aws.String(value), nil
	case file != "":
		b, err := readValueFile(file)
		if err != nil {
			return nil, err
		}
		return aws.String(string(b)), nil
	}
	return nil, nil
}

func readValueFile(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

// flagSet reports whether a flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// secretCmd runs `signet secret create|get|put|rotate|list|delete|restore|describe`.
func secretCmd(ctx context.Context, args []string, stdout io.Writer) error {
	subs := map[string]int{"create": 1, "get": 1, "put": 1, "rotate": 1, "list": 0, "delete": 1, "restore": 1, "describe": 1}
	if len(args) == 0 {
		return usageError("secret needs a subcommand: create, get, put, rotate, list, describe, delete or restore")
	}
	sub, args := args[0], args[1:]
	need, ok := subs[sub]
	if !ok {
		return usageError("unknown secret subcommand %q (create, get, put, rotate, list, describe, delete, restore)", sub)
	}
	var cf clientFlags
	fs := flag.NewFlagSet("secret "+sub, flag.ContinueOnError)
	cf.register(fs)
	var (
		value, valueFile, binaryFile, description, kmsKey, versionID, stage, out, function, schedule *string
		show, noImmediately, force, includeDeleted                                                   *bool
		everyDays, recoveryDays                                                                      *int
		tags                                                                                         = &kvFlags{what: "tag"}
		filters                                                                                      = &kvFlags{what: "filter"}
		stages                                                                                       listFlags
	)
	switch sub {
	case "create", "put":
		value = fs.String("value", "", "the value, a string (visible to other users of this machine in its process list: prefer --value-file)")
		valueFile = fs.String("value-file", "", "read the value, a string, from FILE (- for standard input), byte for byte")
		if sub == "create" {
			binaryFile = fs.String("binary-file", "", "read the value, binary, from FILE (- for standard input)")
			description = fs.String("description", "", "description")
			kmsKey = fs.String("kms-key-id", "", "KMS key to encrypt the values under: key ID, ARN or alias (default alias/aws/secretsmanager)")
			fs.Var(tags, "tag", "tag KEY=VALUE (repeatable)")
		} else {
			fs.Var(&stages, "stage", "staging label for the new version (repeatable; default AWSCURRENT)")
		}
	case "get":
		versionID = fs.String("version-id", "", "the version to read (default: the one labeled AWSCURRENT)")
		stage = fs.String("version-stage", "", "the staging label of the version to read, such as AWSPREVIOUS or AWSPENDING")
		show = fs.Bool("show", false, "print the value (binary values as base64); without it the value is shown as "+hidden)
		out = fs.String("out", "", "with --show, write the value to FILE (mode 0600), byte for byte, instead of printing it")
	case "rotate":
		function = fs.String("function", "", "rotation function: a name or a function ARN (default: the secret's current one)")
		everyDays = fs.Int("every-days", 0, "rotate every N days (AutomaticallyAfterDays)")
		schedule = fs.String("schedule", "", "rotation schedule: 'rate(N days)' or 'rate(N hours)'")
		noImmediately = fs.Bool("no-immediately", false, "only configure the rotation; the first runs at the next scheduled time")
	case "list":
		fs.Var(filters, "filter", "KEY=VALUE filter: name, description, tag-key, tag-value or all, matching by prefix (repeatable)")
		includeDeleted = fs.Bool("include-deleted", false, "also list the secrets scheduled for deletion")
	case "delete":
		recoveryDays = fs.Int("recovery-days", 30, "days (7 to 30) during which 'signet secret restore' can cancel the deletion")
		force = fs.Bool("force", false, "delete at once, without a recovery window")
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	if len(pos) != need {
		if need == 1 {
			return usageError("secret %s takes one argument, the secret's name or ARN", sub)
		}
		return usageError("secret %s takes no arguments", sub)
	}
	name := ""
	if need == 1 {
		name = pos[0]
	}
	c, err := cf.secretsManager(ctx, sub == "describe")
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		return secretCreate(ctx, c, &cf, stdout, name, fs, *value, *valueFile, *binaryFile, *description, *kmsKey, tags.m)
	case "get":
		if *out != "" && !*show {
			return usageError("--out writes the value: give --show with it")
		}
		return secretGet(ctx, c, &cf, stdout, name, *versionID, *stage, *show, *out)
	case "put":
		v, err := secretValue(*value, *valueFile, flagSet(fs, "value"))
		if err != nil {
			return err
		}
		if v == nil {
			return usageError("secret put needs --value or --value-file")
		}
		res, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: v, VersionStages: stages})
		if err != nil {
			return secretError(err, name)
		}
		if cf.output == "json" {
			return cf.printRaw(stdout)
		}
		fmt.Fprintf(stdout, "stored version %s of secret %s (%s)\n", aws.ToString(res.VersionId), aws.ToString(res.Name), strings.Join(res.VersionStages, ", "))
		return nil
	case "rotate":
		return secretRotate(ctx, c, &cf, stdout, name, *function, *everyDays, *schedule, !*noImmediately)
	case "list":
		return secretList(ctx, c, &cf, stdout, filters.m, *includeDeleted)
	case "describe":
		return secretDescribe(ctx, c, &cf, stdout, name)
	case "delete":
		in := &secretsmanager.DeleteSecretInput{SecretId: aws.String(name)}
		switch {
		case *force && flagSet(fs, "recovery-days"):
			return usageError("give --recovery-days or --force, not both")
		case *force:
			in.ForceDeleteWithoutRecovery = aws.Bool(true)
		default:
			in.RecoveryWindowInDays = aws.Int64(int64(*recoveryDays))
		}
		res, err := c.DeleteSecret(ctx, in)
		if err != nil {
			return secretError(err, name)
		}
		if cf.output == "json" {
			return cf.printRaw(stdout)
		}
		if *force {
			fmt.Fprintf(stdout, "deleted secret %s and all its versions; it cannot be restored\n", aws.ToString(res.Name))
			return nil
		}
		fmt.Fprintf(stdout, "secret %s is scheduled for deletion on %s; until then 'signet secret restore %s' cancels it\n",
			aws.ToString(res.Name), timeString(res.DeletionDate), aws.ToString(res.Name))
		return nil
	case "restore":
		res, err := c.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String(name)})
		if err != nil {
			return secretError(err, name)
		}
		if cf.output == "json" {
			return cf.printRaw(stdout)
		}
		fmt.Fprintf(stdout, "restored secret %s\n", aws.ToString(res.Name))
		return nil
	}
	return nil
}

func timeString(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func secretCreate(ctx context.Context, c *secretsmanager.Client, cf *clientFlags, stdout io.Writer, name string, fs *flag.FlagSet,
	value, valueFile, binaryFile, description, kmsKey string, tags map[string]string) error {
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name)}
	v, err := secretValue(value, valueFile, flagSet(fs, "value"))
	if err != nil {
		return err
	}
	if binaryFile != "" {
		if v != nil {
			return usageError("give one of --value, --value-file and --binary-file")
		}
		if in.SecretBinary, err = readValueFile(binaryFile); err != nil {
			return err
		}
	}
	in.SecretString = v
	if description != "" {
		in.Description = aws.String(description)
	}
	if kmsKey != "" {
		in.KmsKeyId = aws.String(kmsKey)
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	res, err := c.CreateSecret(ctx, in)
	if err != nil {
		return secretError(err, name)
	}
	if cf.output == "json" {
		return cf.printRaw(stdout)
	}
	rows := [][]string{{"Name", aws.ToString(res.Name)}, {"ARN", aws.ToString(res.ARN)}}
	if res.VersionId != nil {
		rows = append(rows, []string{"Version", aws.ToString(res.VersionId) + " (AWSCURRENT)"})
	} else {
		rows = append(rows, []string{"Version", "none yet: 'signet secret put " + name + "' stores the first value"})
	}
	return table(stdout, []string{"FIELD", "VALUE"}, rows)
}

func secretGet(ctx context.Context, c *secretsmanager.Client, cf *clientFlags, stdout io.Writer, name, versionID, stage string, show bool, out string) error {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	if stage != "" {
		in.VersionStage = aws.String(stage)
	}
	res, err := c.GetSecretValue(ctx, in)
	if err != nil {
		return secretError(err, name)
	}
	shown := hidden
	if show {
		value := res.SecretBinary
		if res.SecretString != nil {
			value = []byte(*res.SecretString)
		}
		if out != "" {
			if err := os.WriteFile(out, value, 0o600); err != nil {
				return err
			}
			shown = "written to " + out
		} else if res.SecretString != nil {
			shown = *res.SecretString
		} else {
			shown = base64.StdEncoding.EncodeToString(res.SecretBinary)
		}
	}
	if cf.output == "json" {
		var body map[string]any
		if err := json.Unmarshal(cf.rawJSON(), &body); err != nil {
			return fmt.Errorf("the server's response is not a JSON object: %w", err)
		}
		for _, k := range []string{"SecretString", "SecretBinary"} {
			if _, ok := body[k]; ok && (!show || out != "") {
				body[k] = shown
			}
		}
		return writeJSON(stdout, body)
	}
	kind := "string"
	if res.SecretString == nil {
		kind = "binary"
		if show && out == "" {
			kind = "binary, base64"
		}
	}
	return table(stdout, []string{"FIELD", "VALUE"}, [][]string{
		{"Name", aws.ToString(res.Name)},
		{"ARN", aws.ToString(res.ARN)},
		{"Version", aws.ToString(res.VersionId)},
		{"Stages", strings.Join(res.VersionStages, ", ")},
		{"Created", timeString(res.CreatedDate)},
		{"Value (" + kind + ")", shown},
	})
}

func secretRotate(ctx context.Context, c *secretsmanager.Client, cf *clientFlags, stdout io.Writer, name, function string, everyDays int, schedule string, immediately bool) error {
	in := &secretsmanager.RotateSecretInput{SecretId: aws.String(name), RotateImmediately: aws.Bool(immediately)}
	switch {
	case everyDays != 0 && schedule != "":
		return usageError("give --every-days or --schedule, not both")
	case everyDays < 0:
		return usageError("--every-days must be positive")
	case everyDays > 0:
		in.RotationRules = &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(int64(everyDays))}
	case schedule != "":
		in.RotationRules = &smtypes.RotationRulesType{ScheduleExpression: aws.String(schedule)}
	}
	if function != "" {
		arn, err := functionARN(ctx, cf, function)
		if err != nil {
			return err
		}
		in.RotationLambdaARN = aws.String(arn)
	}
	res, err := c.RotateSecret(ctx, in)
	if err != nil {
		return secretError(err, name)
	}
	if cf.output == "json" {
		return cf.printRaw(stdout)
	}
	if res.VersionId != nil {
		fmt.Fprintf(stdout, "rotation of secret %s started: version %s is AWSPENDING\n", aws.ToString(res.Name), aws.ToString(res.VersionId))
		fmt.Fprintf(stdout, "the rotation function runs its steps in the background; 'signet secret describe %s' shows how it went\n", aws.ToString(res.Name))
		return nil
	}
	fmt.Fprintf(stdout, "rotation of secret %s is configured; it was not rotated now\n", aws.ToString(res.Name))
	return nil
}

// functionARN resolves a function name to its ARN; an ARN is returned
// as it is.
func functionARN(ctx context.Context, cf *clientFlags, function string) (string, error) {
	if strings.HasPrefix(function, "arn:") {
		return function, nil
	}
	lc, err := cf.lambda(ctx)
	if err != nil {
		return "", err
	}
	f, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(function)})
	if err != nil {
		return "", fmt.Errorf("rotation function %s: %w", function, apiError(err))
	}
	return aws.ToString(f.Configuration.FunctionArn), nil
}

func secretList(ctx context.Context, c *secretsmanager.Client, cf *clientFlags, stdout io.Writer, filters map[string]string, includeDeleted bool) error {
	in := &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(includeDeleted)}
	for k, v := range filters {
		in.Filters = append(in.Filters, smtypes.Filter{Key: smtypes.FilterNameStringType(k), Values: []string{v}})
	}
	slices.SortFunc(in.Filters, func(a, b smtypes.Filter) int { return strings.Compare(string(a.Key), string(b.Key)) })
	pages := secretsmanager.NewListSecretsPaginator(c, in)
	all, written, err := listAll(ctx, pages.HasMorePages, pages.NextPage,
		func(o *secretsmanager.ListSecretsOutput) []smtypes.SecretListEntry { return o.SecretList }, cf, "SecretList", stdout)
	if err != nil || written {
		return err
	}
	var rows [][]string
	for _, s := range all {
		rot := "off"
		if aws.ToBool(s.RotationEnabled) {
			rot = "next " + timeString(s.NextRotationDate)
		}
		rows = append(rows, []string{aws.ToString(s.Name), aws.ToString(s.Description), timeString(s.LastChangedDate), rot, timeString(s.DeletedDate)})
	}
	return table(stdout, []string{"NAME", "DESCRIPTION", "LAST CHANGED", "ROTATION", "DELETION DATE"}, rows)
}

func secretDescribe(ctx context.Context, c *secretsmanager.Client, cf *clientFlags, stdout io.Writer, name string) error {
	d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err != nil {
		return secretError(err, name)
	}
	if cf.output == "json" {
		return cf.printRaw(stdout)
	}
	// Signet's own field, which the SDK does not know.
	var extra struct {
		SignetLastRotationFailure *struct {
			Date    float64
			Step    string
			Message string
		}
	}
	json.Unmarshal(cf.rawJSON(), &extra)
	key := aws.ToString(d.KmsKeyId)
	if key == "" {
		key = "alias/aws/secretsmanager (the default)"
	}
	rows := [][]string{
		{"Name", aws.ToString(d.Name)},
		{"ARN", aws.ToString(d.ARN)},
		{"Description", aws.ToString(d.Description)},
		{"KMS key", key},
		{"Created", timeString(d.CreatedDate)},
		{"Last changed", timeString(d.LastChangedDate)},
		{"Last accessed", timeString(d.LastAccessedDate)},
	}
	if d.DeletedDate != nil {
		rows = append(rows, []string{"Deletion date", timeString(d.DeletedDate) + " (scheduled; 'signet secret restore' cancels it)"})
	}
	rotation := "off"
	if aws.ToBool(d.RotationEnabled) {
		rotation = "on"
	}
	rows = append(rows, []string{"Rotation", rotation})
	if d.RotationLambdaARN != nil {
		rows = append(rows, []string{"Rotation function", aws.ToString(d.RotationLambdaARN)})
	}
	if r := d.RotationRules; r != nil {
		switch {
		case r.ScheduleExpression != nil:
			rows = append(rows, []string{"Rotation schedule", aws.ToString(r.ScheduleExpression)})
		case r.AutomaticallyAfterDays != nil:
			rows = append(rows, []string{"Rotation schedule", "every " + strconv.FormatInt(*r.AutomaticallyAfterDays, 10) + " days"})
		}
		if r.Duration != nil {
			rows = append(rows, []string{"Rotation window", aws.ToString(r.Duration)})
		}
	}
	if d.LastRotatedDate != nil {
		rows = append(rows, []string{"Last rotated", timeString(d.LastRotatedDate)})
	}
	if d.NextRotationDate != nil {
		rows = append(rows, []string{"Next rotation", timeString(d.NextRotationDate)})
	}
	if f := extra.SignetLastRotationFailure; f != nil {
		at := time.UnixMilli(int64(f.Date * 1000))
		rows = append(rows, []string{"Last rotation failure", fmt.Sprintf("%s at step %s: %s", timeString(&at), f.Step, f.Message)})
	}
	keys := make([]string, 0, len(d.Tags))
	tags := map[string]string{}
	for _, t := range d.Tags {
		keys = append(keys, aws.ToString(t.Key))
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	slices.Sort(keys)
	for _, k := range keys {
		rows = append(rows, []string{"Tag " + k, tags[k]})
	}
	if err := table(stdout, []string{"FIELD", "VALUE"}, rows); err != nil {
		return err
	}
	if extra.SignetLastRotationFailure != nil {
		fmt.Fprintln(stdout, "\na failed step is retried after 1 and 5 minutes, then at the next scheduled rotation;")
		fmt.Fprintln(stdout, "'signet audit query --action secretsmanager:RotationStep' lists the steps run")
	}
	// The versions with a staging label, newest first.
	vs, err := c.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(name)})
	if err != nil {
		return secretError(err, name)
	}
	var vrows [][]string
	for _, v := range vs.Versions {
		vrows = append(vrows, []string{aws.ToString(v.VersionId), strings.Join(v.VersionStages, ", "), timeString(v.CreatedDate)})
	}
	fmt.Fprintln(stdout)
	return table(stdout, []string{"VERSION", "STAGES", "CREATED"}, vrows)
}
