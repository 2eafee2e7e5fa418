package server_test

import (
	"context"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/notaryproject/notation-core-go/signature"

	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/signing"
)

// awsPluginClient is a Signer client configured as AWS's Signer Notation
// plugin configures its own from aws-signer-endpoint-url: a legacy
// endpoint resolver for the signer service and nothing else, so that the
// SDK's host prefixes stay on. Its HTTP client stands in for DNS: every
// name ending in signet.test (signet.test itself, data-signet.test,
// verification.signet.test) resolves to the loopback address, and the
// names dialed are recorded.
type awsPluginClient struct {
	*signer.Client
	mu     sync.Mutex
	dialed []string
}

func newAWSPluginClient(t *testing.T, ts *servertest.Server) *awsPluginClient {
	t.Helper()
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://signet.test:" + u.Port()
	c := &awsPluginClient{}
	var d net.Dialer
	httpClient := awshttp.NewBuildableClient().WithTimeout(30 * time.Second).WithTransportOptions(func(tr *http.Transport) {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			c.mu.Lock()
			c.dialed = append(c.dialed, host)
			c.mu.Unlock()
			if strings.HasSuffix(host, "signet.test") {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
			return d.DialContext(ctx, network, addr)
		}
	})
	resolver := aws.EndpointResolverWithOptionsFunc(func(service, region string, _ ...any) (aws.Endpoint, error) {
		if service == signer.ServiceID {
			return aws.Endpoint{PartitionID: "aws", URL: endpoint, SigningRegion: region}, nil
		}
		return aws.Endpoint{}, &aws.EndpointNotFoundError{}
	})
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.StaticCredentialsProvider{Value: ts.Creds}),
		config.WithEndpointResolverWithOptions(resolver), config.WithHTTPClient(httpClient))
	if err != nil {
		t.Fatal(err)
	}
	c.Client = signer.NewFromConfig(cfg)
	return c
}

func (c *awsPluginClient) hosts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.dialed)
}

// pluginCertificateHashes names a chain's certificates as AWS's plugin
// does in GetRevocationStatus: hex SHA-384 of each certificate's TBS
// followed by that of the next certificate in the chain (the last one's
// twice).
func pluginCertificateHashes(chain []*x509.Certificate) []string {
	tbs := make([]string, len(chain))
	for i, c := range chain {
		sum := sha512.Sum384(c.RawTBSCertificate)
		tbs[i] = hex.EncodeToString(sum[:])
	}
	out := make([]string, len(chain))
	for i := range tbs {
		next := tbs[i]
		if i+1 < len(tbs) {
			next = tbs[i+1]
		}
		out[i] = tbs[i] + next
	}
	return out
}

// TestAWSSignerPluginPath: what AWS's Signer Notation plugin does against
// Signet, call by call, with the SDK set up as the plugin sets it up
// (the plugin's source is not served by the module proxy here, so the
// binary itself cannot be built for the tests):
//   - generate-envelope: SignPayload by profile name with profileOwner
//     and no Signet fields, JWS; on a profile whose signing parameter
//     verificationPlugin names AWS's plugin, the envelope names it as the
//     critical attribute io.cncf.notary.verificationPlugin, as AWS
//     Signer's envelopes do; without the parameter it is absent;
//   - verify-signature reads the signingAuthority scheme, the authentic
//     signing time and the critical signingProfileVersion and signingJob
//     attributes from the envelope;
//   - its revocation check calls GetRevocationStatus at the SDK's
//     host-prefixed name (data-HOST with the SDK pinned here,
//     verification.HOST in the API model and older SDKs) with the
//     chain's hashes, and
//     learns of a revoked signature and of a profile version revoked
//     from a time before the signature at once.
func TestAWSSignerPluginPath(t *testing.T) {
	ts := servertest.Start(t)
	admin := ts.Signer()
	ctx := context.Background()
	if _, err := admin.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("aws_style"), PlatformId: aws.String(signing.PlatformNotation),
		SigningParameters: map[string]string{signing.VerificationPluginParameter: signing.AWSPluginName}}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("plain"), PlatformId: aws.String(signing.PlatformNotation)}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ platform, plugin, msg string }{
		"lambda_plugin": {"AWSLambda-SHA384-ECDSA", signing.AWSPluginName, "applies to Notation-OCI-SHA384-ECDSA profiles"},
		"bad_plugin":    {signing.PlatformNotation, "../notation-evil", "must be a Notation plugin name"},
	} {
		_, err := admin.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String(name), PlatformId: aws.String(c.platform),
			SigningParameters: map[string]string{signing.VerificationPluginParameter: c.plugin}})
		if apiCode(err) != "ValidationException" || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("PutSigningProfile %s = %v, want ValidationException saying %q", name, err, c.msg)
		}
	}

	pc := newAWSPluginClient(t, ts)
	payload := []byte(`{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270","size":528}}`)
	sign := func(profile string) (*signer.SignPayloadOutput, *signature.SignerInfo) {
		t.Helper()
		out, err := pc.SignPayload(ctx, &signer.SignPayloadInput{ProfileName: aws.String(profile), ProfileOwner: aws.String(ts.AccountID()),
			Payload: payload, PayloadFormat: aws.String(notary.PayloadType)})
		if err != nil {
			t.Fatalf("SignPayload %s: %v", profile, err)
		}
		env, err := signature.ParseEnvelope(notary.MediaTypeJWS, out.Signature)
		if err != nil {
			t.Fatalf("SignPayload %s answered no JWS envelope: %v", profile, err)
		}
		content, err := env.Content()
		if err != nil {
			t.Fatal(err)
		}
		return out, &content.SignerInfo
	}
	attr := func(si *signature.SignerInfo, key string) (string, bool) {
		a, err := si.ExtendedAttribute(key)
		if err != nil {
			return "", false
		}
		v, _ := a.Value.(string)
		return v, a.Critical
	}

	out, si := sign("aws_style")
	if v, critical := attr(si, notary.AttrVerificationPlugin); v != signing.AWSPluginName || !critical {
		t.Errorf("%s = %q (critical %v), want %q, critical", notary.AttrVerificationPlugin, v, critical, signing.AWSPluginName)
	}
	versionARN, vCrit := attr(si, notary.AttrProfileVersion)
	jobARN, jCrit := attr(si, notary.AttrJob)
	if !vCrit || !jCrit || versionARN != out.Metadata[notary.AttrProfileVersion] || jobARN != out.Metadata[notary.AttrJob] ||
		!strings.HasSuffix(jobARN, "/signing-jobs/"+aws.ToString(out.JobId)) {
		t.Errorf("profile version %q (critical %v), job %q (critical %v); metadata %v", versionARN, vCrit, jobARN, jCrit, out.Metadata)
	}
	if si.SignedAttributes.SigningScheme != signature.SigningSchemeX509SigningAuthority || si.SignedAttributes.SigningTime.IsZero() {
		t.Errorf("signing scheme %q, signing time %v", si.SignedAttributes.SigningScheme, si.SignedAttributes.SigningTime)
	}
	if _, plainSI := sign("plain"); func() bool { _, ok := attr(plainSI, notary.AttrVerificationPlugin); return ok }() {
		t.Errorf("a profile without the signing parameter names a verification plugin")
	}

	hashes := pluginCertificateHashes(si.CertificateChain)
	status := func() []string {
		t.Helper()
		res, err := pc.GetRevocationStatus(ctx, &signer.GetRevocationStatusInput{
			CertificateHashes: hashes, JobArn: aws.String(jobARN), PlatformId: aws.String(signing.PlatformNotation),
			ProfileVersionArn: aws.String(versionARN), SignatureTimestamp: aws.Time(si.SignedAttributes.SigningTime),
		})
		if err != nil {
			t.Fatalf("GetRevocationStatus: %v", err)
		}
		return res.RevokedEntities
	}
	if got := status(); len(got) != 0 {
		t.Errorf("before any revocation: revoked %v", got)
	}
	if h := pc.hosts(); !slices.Contains(h, "signet.test") || !slices.Contains(h, "data-signet.test") && !slices.Contains(h, "verification.signet.test") {
		t.Errorf("names dialed %v: want signet.test for SignPayload and a prefixed name for GetRevocationStatus", h)
	}

	if _, err := admin.RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: out.JobId, Reason: aws.String("leaked build")}); err != nil {
		t.Fatal(err)
	}
	if got, want := status(), []string{jobARN, hashes[0]}; !sameSet(got, want) {
		t.Errorf("after RevokeSignature: revoked %v, want the job and the leaf's hash %v", got, want)
	}

	version := versionARN[strings.LastIndex(versionARN, "/")+1:]
	if _, err := admin.RevokeSigningProfile(ctx, &signer.RevokeSigningProfileInput{ProfileName: aws.String("aws_style"), ProfileVersion: aws.String(version),
		Reason: aws.String("key ceremony redone"), EffectiveTime: aws.Time(si.SignedAttributes.SigningTime)}); err != nil {
		t.Fatal(err)
	}
	if got, want := status(), []string{jobARN, hashes[0], versionARN, hashes[1]}; !sameSet(got, want) {
		t.Errorf("after RevokeSigningProfile: revoked %v, want the job, the profile version and both hashes %v", got, want)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
