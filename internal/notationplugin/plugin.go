// Package notationplugin is notation-signet, the Notary Project plugin
// (contract 1.0, notation-plugin-framework-go) through which the notation
// CLI signs with Signet and checks Signet's signatures, as AWS's plugin
// does with AWS Signer.
//
// Signing (SIGNATURE_GENERATOR.ENVELOPE): generate-envelope forwards the
// Notary payload to Signet's SignPayload, so the key never leaves Signet,
// and returns the envelope Signet made (JWS, or COSE through Signet's
// signatureFormat field). The key id is a signing profile's ARN or name.
//
// Verifying (SIGNATURE_VERIFIER.TRUSTED_IDENTITY and REVOCATION_CHECK):
// notation runs verify-signature for signatures that name this plugin in
// io.cncf.notary.verificationPlugin (SignPayload's verificationPlugin
// field; plugin configuration verificationPlugin=true). The trusted
// identities are signing profile ARNs or profile version ARNs, as with
// AWS Signer, or x509.subject names as signet trust export writes them;
// revocation is Signet's GetRevocationStatus.
//
// The Signet endpoint comes from the plugin configuration (endpoint) or
// SIGNET_ENDPOINT, the credentials from the AWS default chain.
package notationplugin

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/go-ldap/ldap/v3"
	"github.com/notaryproject/notation-core-go/signature"
	_ "github.com/notaryproject/notation-core-go/signature/cose" // registers the COSE envelope
	_ "github.com/notaryproject/notation-core-go/signature/jws"  // registers the JWS envelope
	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/signerclient"
	"github.com/signet/signet/internal/signing"
)

// Name is the plugin's name: notation finds it as notation-signet and
// users pass --plugin signet.
const Name = "signet"

// Version is the plugin's version (semantic versioning, as notation
// requires).
const Version = "1.0.0"

// Plugin implements the plugin contract.
type Plugin struct{}

var _ plugin.Plugin = (*Plugin)(nil)

// GetMetadata answers get-plugin-metadata.
func (*Plugin) GetMetadata(context.Context, *plugin.GetMetadataRequest) (*plugin.GetMetadataResponse, error) {
	return &plugin.GetMetadataResponse{
		Name:                      Name,
		Description:               "Signs with and verifies signatures of Signet, the self-hosted code-signing service (AWS Signer API)",
		Version:                   Version,
		URL:                       "https://github.com/signet/signet",
		SupportedContractVersions: []string{plugin.ContractVersion},
		Capabilities: []plugin.Capability{
			plugin.CapabilityEnvelopeGenerator,
			plugin.CapabilityTrustedIdentityVerifier,
			plugin.CapabilityRevocationCheckVerifier,
		},
	}, nil
}

func checkContract(v string) error {
	if v != plugin.ContractVersion {
		return plugin.NewUnsupportedContractVersionError(v)
	}
	return nil
}

// DescribeKey answers describe-key: the key of a Notation signing
// profile is an EC P-384 key (Signet makes a fresh P-384 leaf per
// signature). It checks that the profile exists, is a Notation profile
// and is active.
func (*Plugin) DescribeKey(ctx context.Context, req *plugin.DescribeKeyRequest) (*plugin.DescribeKeyResponse, error) {
	if err := checkContract(req.ContractVersion); err != nil {
		return nil, err
	}
	ref, err := parseKeyID(req.KeyID)
	if err != nil {
		return nil, err
	}
	c, err := newClient(ctx, req.PluginConfig, ref.Region)
	if err != nil {
		return nil, err
	}
	in := &signer.GetSigningProfileInput{ProfileName: aws.String(ref.Name)}
	if ref.Owner != "" {
		in.ProfileOwner = aws.String(ref.Owner)
	}
	p, err := c.api.GetSigningProfile(ctx, in)
	if err != nil {
		return nil, c.apiError("GetSigningProfile", err)
	}
	if err := usable(ref.Name, aws.ToString(p.PlatformId), string(p.Status)); err != nil {
		return nil, err
	}
	return &plugin.DescribeKeyResponse{KeyID: req.KeyID, KeySpec: plugin.KeySpecEC384}, nil
}

func usable(name, platform, status string) error {
	if platform != signing.PlatformNotation {
		return plugin.NewValidationErrorf("signing profile %s has platform %s; notation needs a profile of platform %s (signet profile create NAME --platform %s)", name, platform, signing.PlatformNotation, signing.PlatformNotation)
	}
	if status != "" && status != "Active" {
		return plugin.NewValidationErrorf("signing profile %s is %s and cannot sign; use an active profile", name, status)
	}
	return nil
}

// GenerateSignature is not offered: Signet keeps the key and makes the
// whole envelope (generate-envelope).
func (*Plugin) GenerateSignature(context.Context, *plugin.GenerateSignatureRequest) (*plugin.GenerateSignatureResponse, error) {
	return nil, plugin.NewValidationError("generate-signature is not supported: Signet makes the whole envelope (capability " + string(plugin.CapabilityEnvelopeGenerator) + ")")
}

var envelopeFormats = map[string]string{notary.MediaTypeJWS: "jws", notary.MediaTypeCOSE: "cose"}

// GenerateEnvelope answers generate-envelope through SignPayload.
func (*Plugin) GenerateEnvelope(ctx context.Context, req *plugin.GenerateEnvelopeRequest) (*plugin.GenerateEnvelopeResponse, error) {
	if err := checkContract(req.ContractVersion); err != nil {
		return nil, err
	}
	if req.PayloadType != notary.PayloadType {
		return nil, plugin.NewValidationErrorf("payloadType %q is not supported; Signet signs %s", req.PayloadType, notary.PayloadType)
	}
	format, ok := envelopeFormats[req.SignatureEnvelopeType]
	if !ok {
		return nil, plugin.NewValidationErrorf("signatureEnvelopeType %q is not supported; use --signature-format jws or cose", req.SignatureEnvelopeType)
	}
	if req.ExpiryDurationInSeconds != 0 {
		return nil, plugin.NewValidationError("Signet sets a signature's expiry from the signing profile's signature validity period, and SignPayload cannot carry --expiry: sign without --expiry, or use a profile with the validity you want (put-signing-profile --signature-validity-period)")
	}
	withPlugin, err := verificationPluginConfig(req.PluginConfig)
	if err != nil {
		return nil, err
	}
	ref, err := parseKeyID(req.KeyID)
	if err != nil {
		return nil, err
	}
	c, err := newClient(ctx, req.PluginConfig, ref.Region)
	if err != nil {
		return nil, err
	}
	fields := map[string]string{}
	if format != "jws" {
		fields["signatureFormat"] = format
	}
	if withPlugin {
		fields["verificationPlugin"] = Name
	}
	in := &signer.SignPayloadInput{ProfileName: aws.String(ref.Name), Payload: req.Payload, PayloadFormat: aws.String(notary.PayloadType)}
	if ref.Owner != "" {
		in.ProfileOwner = aws.String(ref.Owner)
	}
	out, err := c.api.SignPayload(ctx, in, signerclient.BodyFields(fields))
	if err != nil {
		return nil, c.apiError("SignPayload", err)
	}
	if _, err := signature.ParseEnvelope(req.SignatureEnvelopeType, out.Signature); err != nil {
		return nil, plugin.NewGenericErrorf("Signet at %s answered an envelope that is not %s (is it a Signet server? AWS's SignPayload answers JWS only): %v", c.endpoint, req.SignatureEnvelopeType, err)
	}
	return &plugin.GenerateEnvelopeResponse{
		SignatureEnvelope:     out.Signature,
		SignatureEnvelopeType: req.SignatureEnvelopeType,
	}, nil
}

func verificationPluginConfig(cfg map[string]string) (bool, error) {
	switch v := cfg[ConfigVerificationPlugin]; v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, plugin.NewValidationErrorf("--plugin-config %s=%q: must be true or false", ConfigVerificationPlugin, v)
	}
}

// VerifySignature answers verify-signature for the capabilities the
// trust policy asks for. notation has already checked the envelope's
// integrity, its chain against the trust store, expiry and the
// timestamp.
func (*Plugin) VerifySignature(ctx context.Context, req *plugin.VerifySignatureRequest) (*plugin.VerifySignatureResponse, error) {
	if err := checkContract(req.ContractVersion); err != nil {
		return nil, err
	}
	attrs := req.Signature.CriticalAttributes.ExtendedAttributes
	versionARN, _ := attrs[notary.AttrProfileVersion].(string)
	jobARN, _ := attrs[notary.AttrJob].(string)
	if versionARN == "" || jobARN == "" {
		return nil, plugin.NewValidationErrorf("the signature is not Signet's: it lacks the signed attributes %s and %s", notary.AttrProfileVersion, notary.AttrJob)
	}
	chain := make([]*x509.Certificate, 0, len(req.Signature.CertificateChain))
	for i, der := range req.Signature.CertificateChain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, plugin.NewValidationErrorf("certificate %d of the signature's chain does not parse: %v", i, err)
		}
		chain = append(chain, c)
	}
	resp := &plugin.VerifySignatureResponse{
		VerificationResults: map[plugin.Capability]*plugin.VerificationResult{},
		ProcessedAttributes: []any{},
	}
	for _, a := range req.Signature.UnprocessedAttributes {
		if a == notary.AttrProfileVersion || a == notary.AttrJob {
			resp.ProcessedAttributes = append(resp.ProcessedAttributes, a)
		}
	}
	for _, capability := range req.TrustPolicy.SignatureVerification {
		var res *plugin.VerificationResult
		switch capability {
		case plugin.CapabilityTrustedIdentityVerifier:
			res = trustedIdentity(versionARN, chain, req.TrustPolicy.TrustedIdentities)
		case plugin.CapabilityRevocationCheckVerifier:
			var err error
			if res, err = revocation(ctx, req, versionARN, jobARN, chain); err != nil {
				return nil, err
			}
		default:
			return nil, plugin.NewValidationErrorf("capability %s is not one of this plugin's verifier capabilities", capability)
		}
		resp.VerificationResults[capability] = res
	}
	return resp, nil
}

// trustedIdentity checks the profile version that signed (the signed
// attribute, which must agree with the leaf certificate's subject:
// OU = account, CN = profile name) against the trusted identities: a
// profile ARN trusts every version of the profile, a profile version ARN
// that version, an x509.subject name the certificates whose subject has
// its attributes, "*" any.
func trustedIdentity(versionARN string, chain []*x509.Certificate, trusted []string) *plugin.VerificationResult {
	a, err := arn.Parse(versionARN)
	rest, ok := strings.CutPrefix(a.Resource, "/signing-profiles/")
	name, version, _ := strings.Cut(rest, "/")
	if err != nil || a.Service != "signer" || !ok || name == "" || version == "" {
		return &plugin.VerificationResult{Reason: fmt.Sprintf("the signature's %s %q is not a signing profile version ARN", notary.AttrProfileVersion, versionARN)}
	}
	leaf := chain[0].Subject
	if leaf.CommonName != name || !slices.Contains(leaf.OrganizationalUnit, a.Account) {
		return &plugin.VerificationResult{Reason: fmt.Sprintf("the signing certificate (%s) does not belong to the signature's profile version %s", leaf, versionARN)}
	}
	profileARN := strings.TrimSuffix(versionARN, "/"+version)
	for _, t := range trusted {
		if t == "*" || t == profileARN || t == versionARN || subjectMatches(t, leaf) {
			return &plugin.VerificationResult{Success: true, Reason: "signed by " + versionARN + ", trusted as " + t}
		}
	}
	return &plugin.VerificationResult{Reason: fmt.Sprintf("signed by profile version %s, which the trust policy's trustedIdentities %q do not list (list %s or the version ARN)", versionARN, trusted, profileARN)}
}

// subjectMatches applies notation's rule for an x509.subject identity
// (the policy signet trust export writes): every attribute of the
// identity's distinguished name is in the leaf's subject with the same
// value. Because the plugin takes over the trusted identity check,
// notation does not apply it itself.
func subjectMatches(identity string, leaf pkix.Name) bool {
	value, ok := strings.CutPrefix(identity, "x509.subject:")
	if !ok {
		return false
	}
	want, err := parseDN(strings.TrimSpace(value))
	if err != nil || len(want) == 0 {
		return false
	}
	have, err := parseDN(leaf.String())
	if err != nil {
		return false
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// parseDN reads a distinguished name (RFC 4514) as attribute type →
// value, with S an alias of ST, as notation does.
func parseDN(s string) (map[string]string, error) {
	dn, err := ldap.ParseDN(s)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, rdn := range dn.RDNs {
		for _, a := range rdn.Attributes {
			t := a.Type
			if t == "S" {
				t = "ST"
			}
			if _, dup := m[t]; dup || len(rdn.Attributes) > 1 {
				return nil, fmt.Errorf("distinguished name %q has a repeated or multi-valued attribute", s)
			}
			m[t] = a.Value
		}
	}
	return m, nil
}

// revocation asks Signet's GetRevocationStatus whether the signing job,
// the profile version or a certificate of the chain is revoked for a
// signature made at the authentic signing time.
func revocation(ctx context.Context, req *plugin.VerifySignatureRequest, versionARN, jobARN string, chain []*x509.Certificate) (*plugin.VerificationResult, error) {
	at := req.Signature.CriticalAttributes.AuthenticSigningTime
	if at == nil || at.IsZero() {
		return &plugin.VerificationResult{Reason: "the signature has no authentic signing time (Signet signs with the notary.x509.signingAuthority scheme)"}, nil
	}
	hashes := make([]string, 0, len(chain))
	for i := 0; i+1 < len(chain); i++ {
		hashes = append(hashes, signing.TBSHash(chain[i])+signing.TBSHash(chain[i+1]))
	}
	if len(hashes) == 0 {
		return nil, plugin.NewValidationError("the signature's certificate chain has no issuer")
	}
	a, _ := arn.Parse(versionARN)
	c, err := newClient(ctx, req.PluginConfig, a.Region)
	if err != nil {
		return nil, err
	}
	out, err := c.api.GetRevocationStatus(ctx, &signer.GetRevocationStatusInput{
		SignatureTimestamp: aws.Time(at.UTC().Truncate(time.Second)),
		PlatformId:         aws.String(signing.PlatformNotation),
		ProfileVersionArn:  aws.String(versionARN),
		JobArn:             aws.String(jobARN),
		CertificateHashes:  hashes,
	})
	if err != nil {
		return nil, c.apiError("GetRevocationStatus", err)
	}
	if len(out.RevokedEntities) > 0 {
		return &plugin.VerificationResult{Reason: fmt.Sprintf("revoked in Signet: %s", strings.Join(out.RevokedEntities, ", "))}, nil
	}
	return &plugin.VerificationResult{Success: true, Reason: "not revoked in Signet"}, nil
}
