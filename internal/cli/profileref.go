package cli

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"

	"github.com/signet/signet/internal/arn"
)

// profileARNRE is the shape of a signing profile ARN, with an optional
// version: arn:PARTITION:signer:REGION:ACCOUNT:/signing-profiles/NAME[/VERSION].
var profileARNRE = regexp.MustCompile(`^arn:[a-z-]+:signer:[a-z0-9-]+:[0-9]{12}:/signing-profiles/[a-zA-Z0-9_]{2,64}(/[a-zA-Z0-9]{10})?$`)

// profileNameRE is a signing profile name as PutSigningProfile accepts it.
var profileNameRE = regexp.MustCompile(`^[a-zA-Z0-9_]{2,64}$`)

// resolveProfiles turns each --profile or --publisher value into an ARN:
// an ARN is checked for the shape of a signing profile (version) ARN and
// kept; a name is looked up on the server and replaced by the profile's
// ARN, or with version by its current profile version ARN. Anything else
// is a usage error, before any call is made.
func resolveProfiles(ctx context.Context, cf *clientFlags, flagName string, refs []string, version bool) ([]string, error) {
	var names []int
	for i, r := range refs {
		switch {
		case strings.HasPrefix(r, "arn:"):
			if _, err := arn.Parse(r); err != nil || !profileARNRE.MatchString(r) {
				return nil, usageError("--%s %q is not a signing profile ARN (arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME[/VERSION]) nor a profile name", flagName, r)
			}
		case profileNameRE.MatchString(r):
			names = append(names, i)
		default:
			return nil, usageError("--%s %q is neither a signing profile name (2 to 64 letters, digits and underscores) nor a signing profile ARN", flagName, r)
		}
	}
	if len(names) == 0 {
		return refs, nil
	}
	c, err := cf.signer(ctx)
	if err != nil {
		return nil, err
	}
	out := append([]string(nil), refs...)
	for _, i := range names {
		p, err := c.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String(refs[i])})
		if err != nil {
			return nil, fmt.Errorf("--%s %s: %w", flagName, refs[i], apiError(err))
		}
		out[i] = aws.ToString(p.Arn)
		if version {
			out[i] = aws.ToString(p.ProfileVersionArn)
		}
	}
	return out, nil
}
