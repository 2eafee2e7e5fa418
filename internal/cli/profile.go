package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"
	"golang.org/x/sys/unix"

	"github.com/signet/signet/internal/signing"
)

func platforms(ctx context.Context, args []string, stdout io.Writer) error {
	var cf clientFlags
	fs := flag.NewFlagSet("platforms", flag.ContinueOnError)
	cf.register(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError("platforms takes no arguments")
	}
	if err := cf.check(); err != nil {
		return err
	}
	c, err := cf.signer(ctx)
	if err != nil {
		return err
	}
	pages := signer.NewListSigningPlatformsPaginator(c, &signer.ListSigningPlatformsInput{})
	all, written, err := listAll(ctx, pages.HasMorePages, pages.NextPage,
		func(o *signer.ListSigningPlatformsOutput) []types.SigningPlatform { return o.Platforms }, &cf, "platforms", stdout)
	if err != nil || written {
		return err
	}
	var rows [][]string
	for _, pl := range all {
		rows = append(rows, []string{aws.ToString(pl.PlatformId), aws.ToString(pl.DisplayName), strconv.Itoa(int(pl.MaxSizeInMB)), strconv.FormatBool(pl.RevocationSupported)})
	}
	return table(stdout, []string{"PLATFORM", "NAME", "MAX MB", "REVOCATION"}, rows)
}

// kvFlags is a repeatable KEY=VALUE flag (tags, signing parameters).
type kvFlags struct {
	what string
	m    map[string]string
}

func (f *kvFlags) String() string { return "" }
func (f *kvFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%s %q must be KEY=VALUE", f.what, v)
	}
	if f.m == nil {
		f.m = map[string]string{}
	}
	f.m[k] = val
	return nil
}

type listFlags []string

func (l *listFlags) String() string     { return strings.Join(*l, ",") }
func (l *listFlags) Set(v string) error { *l = append(*l, v); return nil }

func profile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("profile needs a subcommand: create, get, list, cancel or revoke")
	}
	sub, args := args[0], args[1:]
	var cf clientFlags
	fs := flag.NewFlagSet("profile "+sub, flag.ContinueOnError)
	cf.register(fs)
	switch sub {
	case "create":
		platform := fs.String("platform", "", "signing platform id (see 'signet platforms')")
		value := fs.Int("validity", 0, "signature validity (default 135 months, the maximum)")
		unit := fs.String("validity-type", "MONTHS", "unit of --validity: DAYS, MONTHS or YEARS")
		tags, params := &kvFlags{what: "tag"}, &kvFlags{what: "signing parameter"}
		fs.Var(tags, "tag", "tag KEY=VALUE (repeatable)")
		fs.Var(params, "signing-parameter", "signing parameter KEY=VALUE (repeatable): signatureFormat=jws|cose, or on Notation profiles verificationPlugin=PLUGIN such as "+signing.AWSPluginName)
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError("profile create needs exactly one NAME")
		}
		if *platform == "" {
			return usageError("profile create needs --platform (AWSLambda-SHA384-ECDSA or Notation-OCI-SHA384-ECDSA)")
		}
		if err := cf.check(); err != nil {
			return err
		}
		c, err := cf.signer(ctx)
		if err != nil {
			return err
		}
		in := &signer.PutSigningProfileInput{ProfileName: aws.String(pos[0]), PlatformId: platform}
		if *value != 0 {
			in.SignatureValidityPeriod = &types.SignatureValidityPeriod{Value: int32(*value), Type: types.ValidityType(strings.ToUpper(*unit))}
		}
		in.Tags, in.SigningParameters = tags.m, params.m
		out, err := c.PutSigningProfile(ctx, in)
		if err != nil {
			return apiError(err)
		}
		if cf.output == "json" {
			return cf.printRaw(stdout)
		}
		return table(stdout, []string{"PROFILE", "VERSION", "VERSION ARN"}, [][]string{{pos[0], aws.ToString(out.ProfileVersion), aws.ToString(out.ProfileVersionArn)}})
	case "get":
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError("profile get needs exactly one NAME")
		}
		if err := cf.check(); err != nil {
			return err
		}
		c, err := cf.signer(ctx)
		if err != nil {
			return err
		}
		out, err := c.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String(pos[0])})
		if err != nil {
			return apiError(err)
		}
		if cf.output == "json" {
			return cf.printRaw(stdout)
		}
		validity := ""
		if v := out.SignatureValidityPeriod; v != nil {
			validity = fmt.Sprintf("%d %s", v.Value, v.Type)
		}
		rows := [][]string{
			{"Name", aws.ToString(out.ProfileName)},
			{"Status", string(out.Status)},
			{"Platform", aws.ToString(out.PlatformId)},
			{"Version", aws.ToString(out.ProfileVersion)},
			{"Version ARN", aws.ToString(out.ProfileVersionArn)},
			{"Validity", validity},
		}
		for _, k := range slices.Sorted(maps.Keys(out.Tags)) {
			rows = append(rows, []string{"Tag " + k, out.Tags[k]})
		}
		return table(stdout, []string{"FIELD", "VALUE"}, rows)
	case "list":
		inc := fs.Bool("include-canceled", false, "include canceled profiles")
		platform := fs.String("platform", "", "only profiles of this platform")
		var statuses listFlags
		fs.Var(&statuses, "status", "only profiles with this status: Active, Canceled or Revoked (repeatable)")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 0 {
			return usageError("profile list takes no arguments")
		}
		if err := cf.check(); err != nil {
			return err
		}
		c, err := cf.signer(ctx)
		if err != nil {
			return err
		}
		in := &signer.ListSigningProfilesInput{IncludeCanceled: *inc}
		if *platform != "" {
			in.PlatformId = platform
		}
		for _, s := range statuses {
			in.Statuses = append(in.Statuses, types.SigningProfileStatus(s))
		}
		pages := signer.NewListSigningProfilesPaginator(c, in)
		all, written, err := listAll(ctx, pages.HasMorePages, pages.NextPage,
			func(o *signer.ListSigningProfilesOutput) []types.SigningProfile { return o.Profiles }, &cf, "profiles", stdout)
		if err != nil || written {
			return err
		}
		var rows [][]string
		for _, p := range all {
			rows = append(rows, []string{aws.ToString(p.ProfileName), string(p.Status), aws.ToString(p.PlatformId), aws.ToString(p.ProfileVersion)})
		}
		return table(stdout, []string{"NAME", "STATUS", "PLATFORM", "VERSION"}, rows)
	case "cancel":
		yes := fs.Bool("yes", false, "do not ask for confirmation")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError("profile cancel needs exactly one NAME")
		}
		c, err := cf.signer(ctx)
		if err != nil {
			return err
		}
		if !*yes {
			ok, err := confirm(stderr, fmt.Sprintf("cancel signing profile %s? It can no longer sign, and its name can never be used again. [y/N] ", pos[0]))
			if err != nil {
				return err
			}
			if !ok {
				return &exitError{1, errors.New("not canceled")}
			}
		}
		if _, err := c.CancelSigningProfile(ctx, &signer.CancelSigningProfileInput{ProfileName: aws.String(pos[0])}); err != nil {
			return apiError(err)
		}
		if cf.output == "json" {
			return writeJSON(stdout, map[string]string{"profileName": pos[0], "status": "Canceled"})
		}
		fmt.Fprintf(stdout, "canceled signing profile %s; its name cannot be reused\n", pos[0])
		return nil
	}
	if sub == "revoke" {
		return revokeProfile(ctx, &cf, fs, args, stdout)
	}
	return usageError("unknown profile subcommand %q (create, get, list, cancel, revoke)", sub)
}

// Stdin and StdinIsTerminal are where confirm reads its answer; tests
// replace them.
var (
	Stdin           io.Reader = os.Stdin
	StdinIsTerminal           = func() bool {
		_, err := unix.IoctlGetTermios(int(os.Stdin.Fd()), unix.TCGETS)
		return err == nil
	}
)

// confirm asks a yes/no question when stdin is a terminal; without one
// it refuses, since nobody can answer (scripts pass --yes instead).
func confirm(stderr io.Writer, question string) (bool, error) {
	if !StdinIsTerminal() {
		return false, usageError("this cannot be undone and stdin is not a terminal to confirm it: pass --yes")
	}
	fmt.Fprint(stderr, question)
	line, err := bufio.NewReader(Stdin).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}
