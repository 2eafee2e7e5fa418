// Package notary builds and checks Notary Project signature envelopes
// (JWS or COSE) the way Signet signs: the notary.x509.signingAuthority
// scheme, a per-signature leaf certificate, an expiry from the profile's
// validity, and the extended attributes that name the signing profile
// version and the signing job (the names AWS Signer's Notation plugin
// reads).
//
// # Verification
//
// [Verify] checks, in order: the envelope's integrity (its signature over
// the payload), that the certificate chain meets the Notary Project
// requirements and chains to a trusted root at the authentic signing time,
// and expiry. Each failure is a *VerifyError whose Check names the rule
// that decided, so that callers can report it and choose exit codes.
// Checking that the payload describes the artifact at hand, which publisher
// is allowed and revocation belong to the caller.
package notary

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-core-go/signature/jws"
	nx509 "github.com/notaryproject/notation-core-go/x509"
	"github.com/notaryproject/tspclient-go"
	gocose "github.com/veraison/go-cose"
)

// Media types.
const (
	PayloadType   = "application/vnd.cncf.notary.payload.v1+json"
	MediaTypeJWS  = jws.MediaTypeEnvelope  // application/jose+json
	MediaTypeCOSE = cose.MediaTypeEnvelope // application/cose
)

// Extended signed attributes Signet puts in every envelope.
const (
	AttrProfileVersion = "com.amazonaws.signer.signingProfileVersion"
	AttrJob            = "com.amazonaws.signer.signingJob"
	// AttrVerificationPlugin names the Notation plugin a verifier must
	// run (its verify-signature command) to accept the signature; Signet
	// adds it only when asked (SignRequest.VerificationPlugin).
	AttrVerificationPlugin = "io.cncf.notary.verificationPlugin"
)

// Descriptor is the artifact a Notary payload describes.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type payloadDoc struct {
	TargetArtifact Descriptor `json:"targetArtifact"`
}

// Payload encodes a Notary payload for an artifact.
func Payload(d Descriptor) ([]byte, error) {
	return json.Marshal(payloadDoc{TargetArtifact: d})
}

// ParsePayload decodes a Notary payload, requiring a target artifact with
// a media type, a digest and a size.
func ParsePayload(b []byte) (Descriptor, error) {
	var doc payloadDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return Descriptor{}, fmt.Errorf("payload is not a Notary payload: %w", err)
	}
	d := doc.TargetArtifact
	if d.MediaType == "" || d.Digest == "" || d.Size < 0 {
		return Descriptor{}, errors.New("payload's targetArtifact needs mediaType, digest and a size")
	}
	return d, nil
}

// SignRequest is one signature to make.
type SignRequest struct {
	Payload           []byte // a Notary payload (see Payload)
	MediaType         string // MediaTypeJWS (default) or MediaTypeCOSE
	Key               *ecdsa.PrivateKey
	Chain             []*x509.Certificate // leaf (for Key), intermediate, root
	SigningTime       time.Time
	Expiry            time.Time
	ProfileVersionARN string
	JobARN            string
	SigningAgent      string
	// VerificationPlugin, if set, is added as the critical signed
	// attribute io.cncf.notary.verificationPlugin: Notation verifiers
	// then refuse the signature unless that plugin is installed, and let
	// it check the trusted identity and revocation.
	VerificationPlugin string
	// Timestamper, if set, countersigns the signature with an RFC 3161
	// timestamp, verified against TSARoots.
	Timestamper tspclient.Timestamper
	TSARoots    *x509.CertPool
}

// Sign makes an envelope.
func Sign(req SignRequest) ([]byte, error) {
	mt := req.MediaType
	if mt == "" {
		mt = MediaTypeJWS
	}
	env, err := signature.NewEnvelope(mt)
	if err != nil {
		return nil, fmt.Errorf("unsupported envelope type %q: %w", mt, err)
	}
	signer, err := signature.NewLocalSigner(req.Chain, req.Key)
	if err != nil {
		return nil, fmt.Errorf("failed to create signer: %w", err)
	}
	attrs := []signature.Attribute{
		{Key: AttrProfileVersion, Value: req.ProfileVersionARN, Critical: true},
		{Key: AttrJob, Value: req.JobARN, Critical: true},
	}
	if req.VerificationPlugin != "" {
		attrs = append(attrs, signature.Attribute{Key: AttrVerificationPlugin, Value: req.VerificationPlugin, Critical: true})
	}
	out, err := env.Sign(&signature.SignRequest{
		Payload:                  signature.Payload{ContentType: PayloadType, Content: req.Payload},
		Signer:                   signer,
		SigningTime:              req.SigningTime.Truncate(time.Second),
		Expiry:                   req.Expiry.Truncate(time.Second),
		SigningAgent:             req.SigningAgent,
		SigningScheme:            signature.SigningSchemeX509SigningAuthority,
		Timestamper:              req.Timestamper,
		TSARootCAs:               req.TSARoots,
		ExtendedSignedAttributes: attrs,
	})
	if err != nil {
		return nil, fmt.Errorf("failed to sign envelope: %w", err)
	}
	if req.Timestamper != nil {
		switch mt {
		case MediaTypeJWS:
			out, err = timestampJWS(out, req)
		case MediaTypeCOSE:
			out, err = timestampCOSE(out, req)
		}
		if err != nil {
			return nil, fmt.Errorf("failed to timestamp the signature: %w", err)
		}
	}
	return out, nil
}

// timestampCOSE adds an RFC 3161 timestamp of the signature value to a
// COSE_Sign1 envelope's unprotected header, under the label notation-core-go
// uses.
func timestampCOSE(envelope []byte, req SignRequest) ([]byte, error) {
	var msg gocose.Sign1Message
	if err := msg.UnmarshalCBOR(envelope); err != nil {
		return nil, err
	}
	token, err := timestampToken(msg.Signature, req)
	if err != nil {
		return nil, err
	}
	msg.Headers.Unprotected["io.cncf.notary.timestampSignature"] = token
	msg.Headers.RawUnprotected = nil // re-encode the unprotected header from the map
	return msg.MarshalCBOR()
}

// timestampToken asks the timestamper for a token over a signature value
// (SHA-384, as the signature's algorithm) and checks it.
func timestampToken(sig []byte, req SignRequest) ([]byte, error) {
	tsReq, err := tspclient.NewRequest(tspclient.RequestOptions{Content: sig, HashAlgorithm: crypto.SHA384})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	resp, err := req.Timestamper.Timestamp(ctx, tsReq)
	if err != nil {
		return nil, err
	}
	if err := resp.Validate(tsReq); err != nil {
		return nil, err
	}
	if req.TSARoots != nil {
		token, err := resp.SignedToken()
		if err != nil {
			return nil, err
		}
		if _, err := token.Verify(ctx, x509.VerifyOptions{Roots: req.TSARoots}); err != nil {
			return nil, err
		}
	}
	return resp.TimestampToken.FullBytes, nil
}

// timestampJWS adds an RFC 3161 timestamp of the signature value to a JWS
// envelope's unprotected header (io.cncf.notary.timestampSignature), as
// notation-core-go does for the notary.x509 scheme; for the
// signingAuthority scheme it does not, so Signet does it itself. The
// token is checked against TSARoots before it is added.
func timestampJWS(envelope []byte, req SignRequest) ([]byte, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, err
	}
	var sigB64 string
	if err := json.Unmarshal(env["signature"], &sigB64); err != nil {
		return nil, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigB64)
	if err != nil {
		return nil, err
	}
	token, err := timestampToken(sig, req)
	if err != nil {
		return nil, err
	}
	header := map[string]json.RawMessage{}
	if h, ok := env["header"]; ok {
		if err := json.Unmarshal(h, &header); err != nil {
			return nil, err
		}
	}
	if header["io.cncf.notary.timestampSignature"], err = json.Marshal(token); err != nil {
		return nil, err
	}
	if env["header"], err = json.Marshal(header); err != nil {
		return nil, err
	}
	return json.Marshal(env)
}

// Check names a verification rule.
type Check string

// Verification rules, in the order Verify applies them.
const (
	CheckFormat       Check = "format"       // the envelope cannot be parsed
	CheckIntegrity    Check = "integrity"    // the signature does not match the payload
	CheckAuthenticity Check = "authenticity" // the chain is invalid or not rooted in a trusted root
	CheckExpiry       Check = "expiry"       // the signature has expired
)

// VerifyError is a failed verification and the rule that decided it.
type VerifyError struct {
	Check Check
	Err   error
}

func (e *VerifyError) Error() string { return fmt.Sprintf("%s check failed: %v", e.Check, e.Err) }

// Unwrap returns the underlying error.
func (e *VerifyError) Unwrap() error { return e.Err }

// Verified is what a valid envelope says.
type Verified struct {
	MediaType         string
	Artifact          Descriptor
	SigningTime       time.Time
	Expiry            time.Time // zero: none
	Chain             []*x509.Certificate
	ProfileVersionARN string
	JobARN            string
	SigningAgent      string
}

// Verify checks an envelope against trusted roots at time now. When the
// envelope's own signature verifies but a later check fails, it returns
// the (integrity-checked) content along with the *VerifyError.
func Verify(envelope []byte, mediaType string, roots []*x509.Certificate, now time.Time) (*Verified, error) {
	env, err := signature.ParseEnvelope(mediaType, envelope)
	if err != nil {
		return nil, &VerifyError{CheckFormat, err}
	}
	content, err := env.Verify()
	if err != nil {
		return nil, &VerifyError{CheckIntegrity, err}
	}
	info := content.SignerInfo
	if content.Payload.ContentType != PayloadType {
		return nil, &VerifyError{CheckFormat, fmt.Errorf("payload content type is %q, want %q", content.Payload.ContentType, PayloadType)}
	}
	art, err := ParsePayload(content.Payload.Content)
	if err != nil {
		return nil, &VerifyError{CheckFormat, err}
	}
	v := &Verified{
		MediaType:    mediaType,
		Artifact:     art,
		SigningTime:  info.SignedAttributes.SigningTime,
		Expiry:       info.SignedAttributes.Expiry,
		Chain:        info.CertificateChain,
		SigningAgent: info.UnsignedAttributes.SigningAgent,
	}
	if a, err := info.ExtendedAttribute(AttrProfileVersion); err == nil {
		v.ProfileVersionARN, _ = a.Value.(string)
	}
	if a, err := info.ExtendedAttribute(AttrJob); err == nil {
		v.JobARN, _ = a.Value.(string)
	}
	// From here on the content is authentic to the envelope's key; the
	// remaining failures return it along with the error.
	signingTime, err := info.AuthenticSigningTime()
	if err != nil {
		return v, &VerifyError{CheckAuthenticity, err}
	}
	if err := verifyChain(info.CertificateChain, roots, signingTime); err != nil {
		return v, &VerifyError{CheckAuthenticity, err}
	}
	if exp := v.Expiry; !exp.IsZero() && !now.Before(exp) {
		return v, &VerifyError{CheckExpiry, fmt.Errorf("the signature expired at %s", exp.UTC().Format(time.RFC3339))}
	}
	return v, nil
}

// verifyChain checks the envelope's chain: Notary Project certificate
// rules at the signing time, and a root that is one of the trusted roots.
func verifyChain(chain, roots []*x509.Certificate, at time.Time) error {
	if len(chain) == 0 {
		return errors.New("the envelope carries no certificate chain")
	}
	if err := nx509.ValidateCodeSigningCertChain(chain, &at); err != nil {
		return err
	}
	top := chain[len(chain)-1]
	for _, r := range roots {
		if r.Equal(top) {
			return nil
		}
	}
	return fmt.Errorf("the chain ends in %q, which is not a trusted root", top.Subject)
}
