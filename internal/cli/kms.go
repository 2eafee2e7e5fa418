package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

var kmsSubcommands = []string{"create-key", "list", "describe", "alias", "encrypt", "decrypt", "enable", "disable", "schedule-deletion", "cancel-deletion", "rotate"}

// kmsCmd runs `signet kms SUBCOMMAND ARGS…`: keys, aliases, encryption
// and the key states, through Signet's KMS API.
func kmsCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError("kms needs a subcommand: %s", strings.Join(kmsSubcommands, ", "))
	}
	sub := args[0]
	name := "kms " + sub
	if sub == "alias" {
		if len(args) < 2 || (args[1] != "create" && args[1] != "delete" && args[1] != "list") {
			return usageError("kms alias needs a subcommand: create, delete or list")
		}
		name, args = "kms alias "+args[1], args[1:]
	}
	var cf clientFlags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cf.register(fs)
	var (
		description, keySpec, keyUsage, keyID, in, out string
		days                                           int
		binary                                         bool
		encCtx                                         = &kvFlags{what: "--context"}
	)
	switch name {
	case "kms create-key":
		fs.StringVar(&description, "description", "", "the key's description")
		fs.StringVar(&keySpec, "key-spec", "SYMMETRIC_DEFAULT", "SYMMETRIC_DEFAULT, ECC_NIST_P256 or ECC_NIST_P384")
		fs.StringVar(&keyUsage, "key-usage", "", "ENCRYPT_DECRYPT (default for SYMMETRIC_DEFAULT) or SIGN_VERIFY (default for ECC keys)")
	case "kms alias list":
		fs.StringVar(&keyID, "key-id", "", "only the aliases of this key")
	case "kms encrypt":
		fs.StringVar(&keyID, "key-id", "", "the key: id, ARN, alias/NAME or alias ARN (required)")
		fs.StringVar(&in, "plaintext-file", "", "the file to encrypt, at most 4096 bytes; - for stdin (required)")
		fs.Var(encCtx, "context", "encryption context KEY=VALUE (repeatable); decrypt needs the same")
		fs.StringVar(&out, "out", "", "write the ciphertext to this file instead of stdout")
		fs.BoolVar(&binary, "binary", false, "write the raw ciphertext, not base64")
	case "kms decrypt":
		fs.StringVar(&keyID, "key-id", "", "the key the ciphertext must be under (optional: the ciphertext names its key)")
		fs.StringVar(&in, "ciphertext-file", "", "the ciphertext, raw or base64; - for stdin (required)")
		fs.Var(encCtx, "context", "encryption context KEY=VALUE (repeatable), as given to encrypt")
		fs.StringVar(&out, "out", "", "write the plaintext to this file (mode 0600) instead of stdout")
	case "kms schedule-deletion":
		fs.IntVar(&days, "days", 30, "waiting period in days, 7 to 30")
	}
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	need := func(n int, usage string) error {
		if len(pos) != n {
			return usageError("usage: signet %s %s", name, usage)
		}
		return nil
	}
	cfg, err := cf.awsConfig(ctx)
	if err != nil {
		return err
	}
	c := kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(cf.endpoint) })
	// show prints a response: the API's JSON with --output json, else
	// what the table function prints.
	show := func(err error, table func() error) error {
		if err != nil {
			return apiError(err)
		}
		if cf.output == "json" {
			return cf.printRaw(stdout)
		}
		return table()
	}
	switch name {
	case "kms create-key":
		if err := need(0, "[--description D] [--key-spec S] [--key-usage U]"); err != nil {
			return err
		}
		if keyUsage == "" && strings.HasPrefix(keySpec, "ECC_") {
			keyUsage = string(types.KeyUsageTypeSignVerify)
		}
		r, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: nilIfEmpty(description), KeySpec: types.KeySpec(keySpec), KeyUsage: types.KeyUsageType(keyUsage)})
		return show(err, func() error { return keyDetails(stdout, r.KeyMetadata, nil) })
	case "kms describe":
		if err := need(1, "KEY"); err != nil {
			return err
		}
		r, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &pos[0]})
		if err != nil || cf.output == "json" {
			return show(err, nil)
		}
		aliases, err := kmsAliases(ctx, c, aws.ToString(r.KeyMetadata.KeyId))
		if err != nil {
			return apiError(err)
		}
		return keyDetails(stdout, r.KeyMetadata, aliases[aws.ToString(r.KeyMetadata.KeyId)])
	case "kms list":
		if err := need(0, ""); err != nil {
			return err
		}
		pages := kms.NewListKeysPaginator(c, &kms.ListKeysInput{})
		keys, written, err := listAll(ctx, pages.HasMorePages, pages.NextPage, func(o *kms.ListKeysOutput) []types.KeyListEntry { return o.Keys }, &cf, "Keys", stdout)
		if err != nil || written {
			return err
		}
		aliases, err := kmsAliases(ctx, c, "")
		if err != nil {
			return apiError(err)
		}
		var rows [][]string
		for _, k := range keys {
			d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
			if err != nil {
				return apiError(err)
			}
			m := d.KeyMetadata
			rows = append(rows, []string{aws.ToString(m.KeyId), string(m.KeyState), string(m.KeySpec), string(m.KeyUsage), string(m.KeyManager),
				strings.Join(aliases[aws.ToString(m.KeyId)], ","), aws.ToString(m.Description)})
		}
		return table(stdout, []string{"KEY ID", "STATE", "SPEC", "USAGE", "MANAGER", "ALIASES", "DESCRIPTION"}, rows)
	case "kms alias create":
		if err := need(2, "NAME KEY"); err != nil {
			return err
		}
		_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(aliasName(pos[0])), TargetKeyId: &pos[1]})
		return show(err, func() error {
			_, err := fmt.Fprintf(stdout, "created alias %s for key %s\n", aliasName(pos[0]), pos[1])
			return err
		})
	case "kms alias delete":
		if err := need(1, "NAME"); err != nil {
			return err
		}
		_, err := c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String(aliasName(pos[0]))})
		return show(err, func() error { _, err := fmt.Fprintf(stdout, "deleted alias %s\n", aliasName(pos[0])); return err })
	case "kms alias list":
		if err := need(0, "[--key-id KEY]"); err != nil {
			return err
		}
		pages := kms.NewListAliasesPaginator(c, &kms.ListAliasesInput{KeyId: nilIfEmpty(keyID)})
		all, written, err := listAll(ctx, pages.HasMorePages, pages.NextPage, func(o *kms.ListAliasesOutput) []types.AliasListEntry { return o.Aliases }, &cf, "Aliases", stdout)
		if err != nil || written {
			return err
		}
		var rows [][]string
		for _, a := range all {
			rows = append(rows, []string{aws.ToString(a.AliasName), aws.ToString(a.TargetKeyId), formatTime(a.CreationDate)})
		}
		return table(stdout, []string{"ALIAS", "KEY ID", "CREATED"}, rows)
	case "kms encrypt":
		if err := need(0, "--key-id KEY --plaintext-file FILE [--context KEY=VALUE]... [--out FILE] [--binary]"); err != nil {
			return err
		}
		if keyID == "" || in == "" {
			return usageError("kms encrypt needs --key-id and --plaintext-file")
		}
		pt, err := readInput(in)
		if err != nil {
			return err
		}
		defer clear(pt)
		r, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: &keyID, Plaintext: pt, EncryptionContext: encCtx.m})
		return show(err, func() error {
			blob := r.CiphertextBlob
			if !binary {
				blob = append([]byte(base64.StdEncoding.EncodeToString(blob)), '\n')
			}
			return writeOutput(stdout, out, blob, 0o644)
		})
	case "kms decrypt":
		if err := need(0, "--ciphertext-file FILE [--key-id KEY] [--context KEY=VALUE]... [--out FILE]"); err != nil {
			return err
		}
		if in == "" {
			return usageError("kms decrypt needs --ciphertext-file")
		}
		blob, err := readInput(in)
		if err != nil {
			return err
		}
		if b, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(blob))); err == nil {
			blob = b
		}
		r, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, KeyId: nilIfEmpty(keyID), EncryptionContext: encCtx.m})
		if err != nil {
			return apiError(err)
		}
		defer clear(r.Plaintext)
		// The plaintext, even with --output json: the JSON would carry
		// the same secret, only encoded.
		return writeOutput(stdout, out, r.Plaintext, 0o600)
	case "kms enable", "kms disable", "kms cancel-deletion", "kms rotate", "kms schedule-deletion":
		usage := "KEY"
		if sub == "schedule-deletion" {
			usage = "KEY [--days N]"
		}
		if err := need(1, usage); err != nil {
			return err
		}
		key := &pos[0]
		var msg string
		switch sub {
		case "enable":
			_, err = c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: key})
			msg = "enabled key " + pos[0]
		case "disable":
			_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: key})
			msg = "disabled key " + pos[0]
		case "cancel-deletion":
			_, err = c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: key})
			msg = "cancelled the deletion of key " + pos[0] + "; it is disabled (signet kms enable to use it again)"
		case "rotate":
			_, err = c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: key})
			msg = "rotated key " + pos[0] + ": new encryptions use new material, older ciphertexts still decrypt"
		case "schedule-deletion":
			var r *kms.ScheduleKeyDeletionOutput
			r, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: key, PendingWindowInDays: aws.Int32(int32(days))})
			if err == nil {
				msg = fmt.Sprintf("key %s will be destroyed on %s; until then it refuses every use (signet kms cancel-deletion to keep it)", pos[0], formatTime(r.DeletionDate))
			}
		}
		return show(err, func() error { _, err := fmt.Fprintln(stdout, msg); return err })
	}
	return usageError("unknown kms subcommand %q; one of: %s", sub, strings.Join(kmsSubcommands, ", "))
}

// keyDetails prints a key's metadata as aligned lines.
func keyDetails(w io.Writer, m *types.KeyMetadata, aliases []string) error {
	rows := [][]string{
		{"Key ID", aws.ToString(m.KeyId)},
		{"ARN", aws.ToString(m.Arn)},
		{"State", string(m.KeyState)},
		{"Key spec", string(m.KeySpec)},
		{"Key usage", string(m.KeyUsage)},
		{"Manager", string(m.KeyManager)},
		{"Created", formatTime(m.CreationDate)},
	}
	if m.Description != nil && *m.Description != "" {
		rows = append(rows, []string{"Description", *m.Description})
	}
	if len(m.SigningAlgorithms) > 0 {
		var algs []string
		for _, a := range m.SigningAlgorithms {
			algs = append(algs, string(a))
		}
		rows = append(rows, []string{"Signing algorithms", strings.Join(algs, ", ")})
	}
	if m.DeletionDate != nil {
		rows = append(rows, []string{"Deletion date", formatTime(m.DeletionDate)})
	}
	if len(aliases) > 0 {
		rows = append(rows, []string{"Aliases", strings.Join(aliases, ", ")})
	}
	return table(w, []string{"FIELD", "VALUE"}, rows)
}

// kmsAliases returns the alias names of each key (of one key when keyID
// is set), sorted.
func kmsAliases(ctx context.Context, c *kms.Client, keyID string) (map[string][]string, error) {
	out := map[string][]string{}
	pages := kms.NewListAliasesPaginator(c, &kms.ListAliasesInput{KeyId: nilIfEmpty(keyID)})
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range p.Aliases {
			k := aws.ToString(a.TargetKeyId)
			out[k] = append(out[k], aws.ToString(a.AliasName))
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out, nil
}

// aliasName adds the alias/ prefix to a bare alias name.
func aliasName(n string) string {
	if strings.HasPrefix(n, "alias/") {
		return n
	}
	return "alias/" + n
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func formatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// readInput reads a file, or stdin for "-".
func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

// writeOutput writes b to the file path (created with perm), or to w
// when path is empty.
func writeOutput(w io.Writer, path string, b []byte, perm os.FileMode) error {
	if path == "" {
		_, err := w.Write(b)
		return err
	}
	return os.WriteFile(path, b, perm)
}
