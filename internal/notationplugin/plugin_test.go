package notationplugin_test

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/notationplugin"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/signing"
)

// useServer points the AWS default chain and SIGNET_ENDPOINT at srv, as a
// user of the plugin would.
func useServer(t *testing.T, srv *servertest.Server) {
	t.Helper()
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", srv.CredentialsPath())
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("SIGNET_ENDPOINT", srv.URL)
}

// code is a plugin error's code, or "" for no error.
func code(t *testing.T, err error) plugin.ErrorCode {
	t.Helper()
	if err == nil {
		return ""
	}
	var pe *plugin.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a plugin error", err)
	}
	return pe.ErrCode
}

func payload(t *testing.T) []byte {
	t.Helper()
	p, err := notary.Payload(notary.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: "sha256:" + strings.Repeat("ab", 32), Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGetMetadata(t *testing.T) {
	md, err := (&notationplugin.Plugin{}).GetMetadata(context.Background(), &plugin.GetMetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := []plugin.Capability{plugin.CapabilityEnvelopeGenerator, plugin.CapabilityTrustedIdentityVerifier, plugin.CapabilityRevocationCheckVerifier}
	if md.Name != "signet" || !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(md.Version) || !slices.Equal(md.Capabilities, want) ||
		!slices.Equal(md.SupportedContractVersions, []string{"1.0"}) || md.Description == "" || md.URL == "" {
		t.Errorf("metadata = %+v", md)
	}
}

func TestUnsupportedContractVersion(t *testing.T) {
	p := &notationplugin.Plugin{}
	ctx := context.Background()
	_, errKey := p.DescribeKey(ctx, &plugin.DescribeKeyRequest{ContractVersion: "2.0", KeyID: "images"})
	_, errEnv := p.GenerateEnvelope(ctx, &plugin.GenerateEnvelopeRequest{ContractVersion: "2.0", KeyID: "images", PayloadType: notary.PayloadType, SignatureEnvelopeType: notary.MediaTypeJWS, Payload: []byte("{}")})
	_, errVerify := p.VerifySignature(ctx, &plugin.VerifySignatureRequest{ContractVersion: "2.0"})
	for name, err := range map[string]error{"describe-key": errKey, "generate-envelope": errEnv, "verify-signature": errVerify} {
		if c := code(t, err); c != plugin.ErrorCodeUnsupportedContractVersion {
			t.Errorf("%s: code %q, want %s (%v)", name, c, plugin.ErrorCodeUnsupportedContractVersion, err)
		}
	}
}

func TestDescribeKey(t *testing.T) {
	srv := servertest.Start(t)
	useServer(t, srv)
	profileARN := createProfile(t, srv, "images", "Notation-OCI-SHA384-ECDSA")
	lambdaARN := createProfile(t, srv, "functions", "AWSLambda-SHA384-ECDSA")
	cases := []struct {
		name, keyID string
		code        plugin.ErrorCode
		msg         string
	}{
		{"ok/arn", profileARN, "", ""},
		{"ok/name", "images", "", ""},
		{"fail/version-arn", profileARN + "/ABCDEFGHIJ", plugin.ErrorCodeValidation, "give the profile ARN"},
		{"fail/lambda-profile", lambdaARN, plugin.ErrorCodeValidation, "needs a profile of platform Notation-OCI-SHA384-ECDSA"},
		{"fail/no-such-profile", "no_such_profile", plugin.ErrorCodeValidation, "check --id"},
		{"fail/bad-name", "my-images", plugin.ErrorCodeValidation, "neither a signing profile name"},
		{"fail/other-service-arn", "arn:aws:lambda:us-east-1:123456789012:function:f", plugin.ErrorCodeValidation, "not a signing profile ARN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := (&notationplugin.Plugin{}).DescribeKey(context.Background(), &plugin.DescribeKeyRequest{ContractVersion: "1.0", KeyID: c.keyID})
			if got := code(t, err); got != c.code || err != nil && !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("DescribeKey = %v, want code %q with %q", err, c.code, c.msg)
			}
			if err == nil && (resp.KeyID != c.keyID || resp.KeySpec != plugin.KeySpecEC384) {
				t.Errorf("DescribeKey = %+v", resp)
			}
		})
	}
}

func TestGenerateSignatureUnsupported(t *testing.T) {
	_, err := (&notationplugin.Plugin{}).GenerateSignature(context.Background(), &plugin.GenerateSignatureRequest{ContractVersion: "1.0"})
	if c := code(t, err); c != plugin.ErrorCodeValidation || !strings.Contains(err.Error(), "SIGNATURE_GENERATOR.ENVELOPE") {
		t.Errorf("GenerateSignature = %v", err)
	}
}

func TestGenerateEnvelope(t *testing.T) {
	srv := servertest.Start(t)
	useServer(t, srv)
	profileARN := createProfile(t, srv, "images", "Notation-OCI-SHA384-ECDSA")
	p := payload(t)
	// The credentials signet serve writes name the region; these do not.
	noRegion := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(noRegion, []byte("[default]\naws_access_key_id = "+srv.Creds.AccessKeyID+"\naws_secret_access_key = "+srv.Creds.SecretAccessKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		envType  string
		payloadT string
		expiry   uint64
		config   map[string]string
		env      map[string]string // environment changes
		code     plugin.ErrorCode
		msg      string
		withAttr bool // the envelope names the plugin as its verifier
		keyID    string
	}{
		{name: "ok/jws", envType: notary.MediaTypeJWS},
		{name: "ok/cose", envType: notary.MediaTypeCOSE},
		{name: "ok/jws-verification-plugin", envType: notary.MediaTypeJWS, config: map[string]string{"verificationPlugin": "true"}, withAttr: true},
		{name: "ok/cose-verification-plugin", envType: notary.MediaTypeCOSE, config: map[string]string{"verificationPlugin": "true"}, withAttr: true},
		{name: "ok/endpoint-and-region-in-config", envType: notary.MediaTypeJWS, config: map[string]string{"endpoint": srv.URL, "region": "us-east-1"}, env: map[string]string{"SIGNET_ENDPOINT": ""}},
		{name: "ok/name-region-from-env", envType: notary.MediaTypeJWS, keyID: "images", env: map[string]string{"AWS_SHARED_CREDENTIALS_FILE": noRegion, "AWS_REGION": "us-east-1"}},
		{name: "ok/region-from-arn", envType: notary.MediaTypeJWS, env: map[string]string{"AWS_SHARED_CREDENTIALS_FILE": noRegion}},
		{name: "fail/envelope-type", envType: "application/pgp-signature", code: plugin.ErrorCodeValidation, msg: "jws or cose"},
		{name: "fail/payload-type", envType: notary.MediaTypeJWS, payloadT: "application/json", code: plugin.ErrorCodeValidation, msg: notary.PayloadType},
		{name: "fail/expiry", envType: notary.MediaTypeJWS, expiry: 3600, code: plugin.ErrorCodeValidation, msg: "without --expiry"},
		{name: "fail/verification-plugin-value", envType: notary.MediaTypeJWS, config: map[string]string{"verificationPlugin": "yes"}, code: plugin.ErrorCodeValidation, msg: "true or false"},
		{name: "fail/no-endpoint", envType: notary.MediaTypeJWS, env: map[string]string{"SIGNET_ENDPOINT": ""}, code: plugin.ErrorCodeValidation, msg: "no Signet endpoint"},
		{name: "fail/endpoint-not-url", envType: notary.MediaTypeJWS, config: map[string]string{"endpoint": "127.0.0.1:9090"}, code: plugin.ErrorCodeValidation, msg: "not an http:// or https:// URL"},
		{name: "fail/no-region", envType: notary.MediaTypeJWS, keyID: "images", env: map[string]string{"AWS_SHARED_CREDENTIALS_FILE": noRegion}, code: plugin.ErrorCodeValidation, msg: "no AWS region"},
		{name: "fail/wrong-region", envType: notary.MediaTypeJWS, config: map[string]string{"region": "eu-west-1"}, code: plugin.ErrorCodeAccessDenied, msg: "region"},
		{name: "fail/no-credentials", envType: notary.MediaTypeJWS, env: map[string]string{"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none")}, code: plugin.ErrorCodeAccessDenied, msg: "no AWS credentials"},
		{name: "fail/wrong-secret", envType: notary.MediaTypeJWS, env: map[string]string{"AWS_ACCESS_KEY_ID": srv.Creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}, code: plugin.ErrorCodeAccessDenied, msg: "check the AWS credentials"},
		{name: "fail/unknown-profile", envType: notary.MediaTypeJWS, keyID: strings.Replace(profileARN, "/images", "/nope_nope", 1), code: plugin.ErrorCodeValidation, msg: "ResourceNotFoundException"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			keyID := c.keyID
			if keyID == "" {
				keyID = profileARN
			}
			pt := c.payloadT
			if pt == "" {
				pt = notary.PayloadType
			}
			resp, err := (&notationplugin.Plugin{}).GenerateEnvelope(context.Background(), &plugin.GenerateEnvelopeRequest{
				ContractVersion: "1.0", KeyID: keyID, PayloadType: pt, SignatureEnvelopeType: c.envType,
				Payload: p, ExpiryDurationInSeconds: c.expiry, PluginConfig: c.config,
			})
			if got := code(t, err); got != c.code || err != nil && !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("GenerateEnvelope = %v, want code %q with %q", err, c.code, c.msg)
			}
			if err != nil {
				return
			}
			if resp.SignatureEnvelopeType != c.envType {
				t.Errorf("signatureEnvelopeType = %q", resp.SignatureEnvelopeType)
			}
			env, err := signature.ParseEnvelope(c.envType, resp.SignatureEnvelope)
			if err != nil {
				t.Fatal(err)
			}
			content, err := env.Verify()
			if err != nil {
				t.Fatal(err)
			}
			if string(content.Payload.Content) != string(p) && c.envType == notary.MediaTypeCOSE {
				t.Errorf("signed payload %s, sent %s", content.Payload.Content, p)
			}
			a, err := content.SignerInfo.ExtendedAttribute(notary.AttrVerificationPlugin)
			if got := err == nil && a.Value == "signet" && a.Critical; got != c.withAttr {
				t.Errorf("envelope names verification plugin: %v (%+v), want %v", got, a, c.withAttr)
			}
		})
	}
}

// TestSignPayloadVerificationPluginName: SignPayload refuses a
// verificationPlugin that cannot be a plugin's name.
func TestSignPayloadVerificationPluginName(t *testing.T) {
	srv := servertest.Start(t)
	createProfile(t, srv, "images", "Notation-OCI-SHA384-ECDSA")
	for name, ok := range map[string]bool{"signet": true, "com.example.plugin-1": true, "bad name": false, "../x": false, strings.Repeat("a", 129): false} {
		_, err := srv.Profiles.SignPayload(context.Background(), signing.SignPayloadInput{ProfileName: "images", Payload: payload(t), PayloadFormat: notary.PayloadType, VerificationPlugin: name})
		if (err == nil) != ok || err != nil && !errors.Is(err, signing.ErrInvalid) {
			t.Errorf("SignPayload with verificationPlugin %q = %v, want ok %v", name, err, ok)
		}
	}
}

// verifyRequest builds the verify-signature request notation sends for
// an envelope.
func verifyRequest(t *testing.T, envelope []byte, caps []plugin.Capability, trusted ...string) *plugin.VerifySignatureRequest {
	t.Helper()
	env, err := signature.ParseEnvelope(notary.MediaTypeJWS, envelope)
	if err != nil {
		t.Fatal(err)
	}
	content, err := env.Verify()
	if err != nil {
		t.Fatal(err)
	}
	info := content.SignerInfo
	attrs := map[string]any{}
	var unprocessed []string
	for _, a := range info.SignedAttributes.ExtendedAttributes {
		if k := a.Key.(string); a.Critical && k != notary.AttrVerificationPlugin {
			attrs[k] = a.Value
			unprocessed = append(unprocessed, k)
		}
	}
	var chain [][]byte
	for _, c := range info.CertificateChain {
		chain = append(chain, c.Raw)
	}
	return &plugin.VerifySignatureRequest{
		ContractVersion: "1.0",
		Signature: plugin.Signature{
			CriticalAttributes: plugin.CriticalAttributes{
				ContentType: content.Payload.ContentType, SigningScheme: string(info.SignedAttributes.SigningScheme),
				Expiry: &info.SignedAttributes.Expiry, AuthenticSigningTime: &info.SignedAttributes.SigningTime, ExtendedAttributes: attrs,
			},
			UnprocessedAttributes: unprocessed,
			CertificateChain:      chain,
		},
		TrustPolicy: plugin.TrustPolicy{TrustedIdentities: trusted, SignatureVerification: caps},
	}
}

func TestVerifySignature(t *testing.T) {
	srv := servertest.Start(t)
	useServer(t, srv)
	ctx := context.Background()
	profileARN := createProfile(t, srv, "images", "Notation-OCI-SHA384-ECDSA")
	otherARN := createProfile(t, srv, "other_images", "Notation-OCI-SHA384-ECDSA")
	prof, err := srv.Signer().GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("images")})
	if err != nil {
		t.Fatal(err)
	}
	versionARN := aws.ToString(prof.ProfileVersionArn)
	sign := func(keyID string) []byte {
		resp, err := (&notationplugin.Plugin{}).GenerateEnvelope(ctx, &plugin.GenerateEnvelopeRequest{ContractVersion: "1.0", KeyID: keyID,
			PayloadType: notary.PayloadType, SignatureEnvelopeType: notary.MediaTypeJWS, Payload: payload(t), PluginConfig: map[string]string{"verificationPlugin": "true"}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.SignatureEnvelope
	}
	env, otherEnv := sign(profileARN), sign(otherARN)
	both := []plugin.Capability{plugin.CapabilityTrustedIdentityVerifier, plugin.CapabilityRevocationCheckVerifier}
	identity := []plugin.Capability{plugin.CapabilityTrustedIdentityVerifier}
	// A chain of another profile under this signature's attributes: the
	// signed profile version and the certificate disagree.
	swapped := verifyRequest(t, env, identity, profileARN)
	swapped.Signature.CertificateChain = verifyRequest(t, otherEnv, identity).Signature.CertificateChain
	noAttrs := verifyRequest(t, env, identity, profileARN)
	noAttrs.Signature.CriticalAttributes.ExtendedAttributes = nil
	leaf, err := x509.ParseCertificate(swapped.Signature.CertificateChain[0])
	if err != nil {
		t.Fatal(err)
	}
	otherSubject := "x509.subject: " + leaf.Subject.String() // the other profile's leaf
	thisSubject := strings.Replace(otherSubject, "CN=other_images", "CN=images", 1)
	noTime := verifyRequest(t, env, []plugin.Capability{plugin.CapabilityRevocationCheckVerifier})
	noTime.Signature.CriticalAttributes.AuthenticSigningTime = nil
	cases := []struct {
		name string
		req  *plugin.VerifySignatureRequest
		code plugin.ErrorCode
		ok   map[plugin.Capability]bool
		msg  string // in a failed result's reason or the error
	}{
		{"ok/profile-arn", verifyRequest(t, env, both, profileARN), "", map[plugin.Capability]bool{both[0]: true, both[1]: true}, ""},
		{"ok/version-arn", verifyRequest(t, env, identity, otherARN, versionARN), "", map[plugin.Capability]bool{both[0]: true}, ""},
		{"ok/wildcard", verifyRequest(t, env, identity, "*"), "", map[plugin.Capability]bool{both[0]: true}, ""},
		{"ok/x509-subject", verifyRequest(t, env, identity, otherSubject, thisSubject), "", map[plugin.Capability]bool{both[0]: true}, ""},
		{"ok/revocation-only", verifyRequest(t, env, both[1:]), "", map[plugin.Capability]bool{both[1]: true}, ""},
		{"fail/other-profile", verifyRequest(t, env, both, otherARN), "", map[plugin.Capability]bool{both[0]: false, both[1]: true}, "do not list"},
		{"fail/other-x509-subject", verifyRequest(t, env, identity, otherSubject), "", map[plugin.Capability]bool{both[0]: false}, "do not list"},
		{"fail/other-version", verifyRequest(t, env, identity, profileARN+"/ABCDEFGHIJ"), "", map[plugin.Capability]bool{both[0]: false}, "do not list"},
		{"fail/certificate-of-another-profile", swapped, "", map[plugin.Capability]bool{both[0]: false}, "does not belong"},
		{"fail/no-signing-time", noTime, "", map[plugin.Capability]bool{both[1]: false}, "authentic signing time"},
		{"fail/not-signet", noAttrs, plugin.ErrorCodeValidation, nil, "not Signet's"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := (&notationplugin.Plugin{}).VerifySignature(ctx, c.req)
			if got := code(t, err); got != c.code || err != nil && !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("VerifySignature = %v, want code %q with %q", err, c.code, c.msg)
			}
			if err != nil {
				return
			}
			if len(resp.VerificationResults) != len(c.ok) {
				t.Errorf("results %v, want one for each of %v", resp.VerificationResults, c.ok)
			}
			for capability, ok := range c.ok {
				r := resp.VerificationResults[capability]
				if r == nil || r.Success != ok || !ok && !strings.Contains(r.Reason, c.msg) {
					t.Errorf("%s: %+v, want success %v with %q", capability, r, ok, c.msg)
				}
			}
			for _, a := range []string{notary.AttrProfileVersion, notary.AttrJob} {
				if !slices.Contains(resp.ProcessedAttributes, any(a)) {
					t.Errorf("processedAttributes %v lacks %s", resp.ProcessedAttributes, a)
				}
			}
		})
	}

	// Revocation through GetRevocationStatus: the signature, then (for
	// the other profile) the profile version from before its signature.
	revoked := func(envelope []byte) string {
		t.Helper()
		resp, err := (&notationplugin.Plugin{}).VerifySignature(ctx, verifyRequest(t, envelope, both[1:]))
		if err != nil {
			t.Fatal(err)
		}
		if r := resp.VerificationResults[both[1]]; !r.Success {
			return r.Reason
		}
		return ""
	}
	jobARN := verifyRequest(t, env, both).Signature.CriticalAttributes.ExtendedAttributes[notary.AttrJob].(string)
	if _, err := srv.Signer().RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: aws.String(jobARN[strings.LastIndex(jobARN, "/")+1:]), Reason: aws.String("test")}); err != nil {
		t.Fatal(err)
	}
	if r := revoked(env); !strings.Contains(r, jobARN) {
		t.Errorf("after RevokeSignature: reason %q, want the job ARN %s", r, jobARN)
	}
	if r := revoked(otherEnv); r != "" {
		t.Errorf("another profile's signature is refused: %s", r)
	}
	otherProf, err := srv.Signer().GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("other_images")})
	if err != nil {
		t.Fatal(err)
	}
	signedAt := *verifyRequest(t, otherEnv, both).Signature.CriticalAttributes.AuthenticSigningTime
	if _, err := srv.Signer().RevokeSigningProfile(ctx, &signer.RevokeSigningProfileInput{ProfileName: aws.String("other_images"),
		ProfileVersion: otherProf.ProfileVersion, Reason: aws.String("key retired"), EffectiveTime: aws.Time(signedAt.Add(-60e9))}); err != nil {
		t.Fatal(err)
	}
	if r := revoked(otherEnv); !strings.Contains(r, aws.ToString(otherProf.ProfileVersionArn)) {
		t.Errorf("after RevokeSigningProfile: reason %q, want the profile version ARN", r)
	}
}
