package notationplugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/signet/signet/internal/arn"
)

// Plugin configuration keys (notation's --plugin-config KEY=VALUE).
const (
	ConfigEndpoint           = "endpoint"           // Signet's URL; else SIGNET_ENDPOINT
	ConfigRegion             = "region"             // else the key's ARN, else the AWS chain
	ConfigProfile            = "profile"            // an AWS shared-config profile; else AWS_PROFILE
	ConfigVerificationPlugin = "verificationPlugin" // "true": signatures name this plugin as their verifier
)

// EnvEndpoint names Signet's URL when the plugin configuration does not.
const EnvEndpoint = "SIGNET_ENDPOINT"

// client is a Signer API client for one plugin request.
type client struct {
	endpoint string
	api      *signer.Client
}

// newClient builds a client from the plugin configuration, the
// environment and the AWS default chain (environment, shared config and
// credentials files, profile). keyRegion is the region of the key's ARN,
// if it has one. The credentials are retrieved here, so that missing
// ones are reported before anything is sent.
func newClient(ctx context.Context, cfg map[string]string, keyRegion string) (*client, error) {
	endpoint := cfg[ConfigEndpoint]
	if endpoint == "" {
		endpoint = os.Getenv(EnvEndpoint)
	}
	if endpoint == "" {
		return nil, plugin.NewValidationErrorf("no Signet endpoint: pass --plugin-config %s=http://HOST:PORT or set %s", ConfigEndpoint, EnvEndpoint)
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, plugin.NewValidationErrorf("Signet endpoint %q is not an http:// or https:// URL", endpoint)
	}
	var opts []func(*config.LoadOptions) error
	if p := cfg[ConfigProfile]; p != "" {
		opts = append(opts, config.WithSharedConfigProfile(p))
	}
	if r := cfg[ConfigRegion]; r != "" {
		opts = append(opts, config.WithRegion(r))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, plugin.NewValidationErrorf("cannot read the AWS configuration: %v (check AWS_PROFILE, AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, or --plugin-config %s=NAME)", err, ConfigProfile)
	}
	if cfg[ConfigRegion] == "" && keyRegion != "" {
		awsCfg.Region = keyRegion
	}
	if awsCfg.Region == "" {
		return nil, plugin.NewValidationErrorf("no AWS region: pass --plugin-config %s=REGION, give --id the profile's ARN, or set AWS_REGION", ConfigRegion)
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		return nil, plugin.NewError(plugin.ErrorCodeAccessDenied, fmt.Sprintf(
			"no AWS credentials for Signet: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE / --plugin-config %s=NAME with AWS_SHARED_CREDENTIALS_FILE (signet serve writes DATA_DIR/credentials): %v",
			ConfigProfile, err))
	}
	api := signer.NewFromConfig(awsCfg, func(o *signer.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		// GetRevocationStatus would go to data-HOST: Signet serves every
		// operation on the one endpoint.
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("SignetNoHostPrefix",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
				}), middleware.Before)
		})
	})
	return &client{endpoint: endpoint, api: api}, nil
}

// profileRef is a signing profile named by --id: a name, or a profile
// ARN (whose account and region are used).
type profileRef struct {
	Name, Owner, Region string
}

// parseKeyID reads --id: a profile name or a profile ARN. A profile
// version ARN is refused: SignPayload signs with the profile's current
// version.
func parseKeyID(id string) (profileRef, error) {
	if !strings.HasPrefix(id, "arn:") {
		if !validName(id) {
			return profileRef{}, plugin.NewValidationErrorf("--id %q is neither a signing profile name (2-64 letters, digits or underscores) nor a profile ARN (arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME)", id)
		}
		return profileRef{Name: id}, nil
	}
	a, err := arn.Parse(id)
	rest, ok := strings.CutPrefix(a.Resource, "/signing-profiles/")
	if err != nil || a.Service != "signer" || !ok {
		return profileRef{}, plugin.NewValidationErrorf("--id %q is not a signing profile ARN (arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME)", id)
	}
	name, version, _ := strings.Cut(rest, "/")
	if version != "" {
		return profileRef{}, plugin.NewValidationErrorf("--id %q is a profile version ARN; give the profile ARN %s (Signet signs with the profile's current version)", id, strings.TrimSuffix(id, "/"+version))
	}
	if !validName(name) {
		return profileRef{}, plugin.NewValidationErrorf("--id %q names no valid signing profile (2-64 letters, digits or underscores)", id)
	}
	return profileRef{Name: name, Owner: a.Account, Region: a.Region}, nil
}

func validName(s string) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// apiError turns a failed Signer API call into a plugin error whose
// message says what to fix.
func (c *client) apiError(op string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		msg := fmt.Sprintf("Signet refused %s: %s: %s", op, api.ErrorCode(), api.ErrorMessage())
		switch api.ErrorCode() {
		case "AccessDeniedException":
			return plugin.NewError(plugin.ErrorCodeAccessDenied, msg+" (the caller's policies must allow signer:"+op+" on the profile)")
		case "UnrecognizedClientException", "InvalidSignatureException", "MissingAuthenticationTokenException", "ExpiredTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch":
			return plugin.NewError(plugin.ErrorCodeAccessDenied, msg+" (check the AWS credentials and that --plugin-config "+ConfigRegion+" matches Signet's region)")
		case "ResourceNotFoundException":
			return plugin.NewValidationError(msg + " (check --id: the signing profile's name or ARN)")
		case "ValidationException", "BadRequestException":
			return plugin.NewValidationError(msg)
		case "TooManyRequestsException", "ThrottlingException":
			return plugin.NewError(plugin.ErrorCodeThrottled, msg+" (retry later)")
		}
		return plugin.NewGenericError(msg)
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return plugin.NewError(plugin.ErrorCodeTimeout, fmt.Sprintf("Signet at %s did not answer %s in time: %v", c.endpoint, op, err))
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var urlErr *url.Error
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.As(err, &urlErr) {
		return plugin.NewGenericError(fmt.Sprintf("cannot reach Signet at %s: %v (check --plugin-config %s=URL or %s, and that signet serve runs there)", c.endpoint, err, ConfigEndpoint, EnvEndpoint))
	}
	return plugin.NewGenericError(fmt.Sprintf("%s at %s failed: %v", op, c.endpoint, err))
}
