package signing

import (
	"context"
	"fmt"
	"regexp"

	"github.com/google/uuid"

	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/notary"
)

// MaxPayloadSize bounds a SignPayload payload, as in AWS.
const MaxPayloadSize = 4096

// SignPayloadInput is SignPayload's request.
type SignPayloadInput struct {
	ProfileName, ProfileOwner string
	Payload                   []byte
	PayloadFormat             string
	// SignatureFormat is "jws" (or empty: AWS's SignPayload always
	// answers JWS) or "cose".
	SignatureFormat string
	// VerificationPlugin, when set, is a Signet extension too: the name
	// of the Notation plugin written into the envelope as the critical
	// attribute io.cncf.notary.verificationPlugin, so that Notation
	// verifiers run that plugin (notation-signet: "signet") to check the
	// trusted identity and revocation. Empty: the profile's signing
	// parameter verificationPlugin, if any, else no such attribute.
	VerificationPlugin string
	RequestedBy        string
}

// validPluginName is what a Notation plugin name may be: the suffix of
// its executable's name notation-NAME.
var validPluginName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// SignPayloadResult is SignPayload's answer: an envelope (JWS unless
// COSE was asked for) and the metadata Notation keeps as signature
// annotations.
type SignPayloadResult struct {
	Job      Job
	Envelope []byte
	Metadata map[string]string
}

// SignPayload signs a Notary payload (the descriptor of an OCI artifact)
// with a Notation profile, and records the signature as a job that is
// already Succeeded.
func (s *Service) SignPayload(ctx context.Context, in SignPayloadInput) (SignPayloadResult, error) {
	if err := required("profileName", in.ProfileName); err != nil {
		return SignPayloadResult{}, err
	}
	if len(in.Payload) == 0 || len(in.Payload) > MaxPayloadSize {
		return SignPayloadResult{}, errs.Field(ErrInvalid, "payload", "must have length between 1 and %d bytes, got %d", MaxPayloadSize, len(in.Payload))
	}
	if in.PayloadFormat != notary.PayloadType {
		return SignPayloadResult{}, validationError("payloadFormat", in.PayloadFormat, "must be "+notary.PayloadType)
	}
	mediaType, ok := map[string]string{"": notary.MediaTypeJWS, "jws": notary.MediaTypeJWS, "cose": notary.MediaTypeCOSE}[in.SignatureFormat]
	if !ok {
		return SignPayloadResult{}, validationError("signatureFormat", in.SignatureFormat, "must be jws or cose")
	}
	if in.VerificationPlugin != "" && !validPluginName.MatchString(in.VerificationPlugin) {
		return SignPayloadResult{}, validationError("verificationPlugin", in.VerificationPlugin, "must be a Notation plugin name: letters, digits, '.', '_' and '-', at most 128")
	}
	desc, err := notary.ParsePayload(in.Payload)
	if err != nil {
		return SignPayloadResult{}, newError(ErrInvalid, fmt.Sprintf("payload is not a valid Notary payload: %v", err))
	}
	if in.ProfileOwner != "" && in.ProfileOwner != s.Account.ID {
		return SignPayloadResult{}, newError(ErrNotFound, fmt.Sprintf("signing profile %s of account %s does not exist on this service (its account is %s)", in.ProfileName, in.ProfileOwner, s.Account.ID))
	}
	p, err := s.Profile(ctx, in.ProfileName, "")
	if err != nil {
		return SignPayloadResult{}, err
	}
	if p.PlatformID != PlatformNotation {
		return SignPayloadResult{}, newError(ErrInvalid, fmt.Sprintf("signing profile %s has platform %s; SignPayload needs a %s profile", p.Name, p.PlatformID, PlatformNotation))
	}
	if p.Status != StatusActive {
		return SignPayloadResult{}, newError(ErrInvalid, fmt.Sprintf("signing profile %s is %s and cannot sign", p.Name, p.Status))
	}
	v, err := s.Store.ProfileVersion(ctx, p.Name, p.Version)
	if err != nil {
		return SignPayloadResult{}, err
	}
	now := s.now()
	expiry := p.Validity.Expiry(now)
	j := Job{
		ID: uuid.NewString(), ClientRequestToken: uuid.NewString(), Kind: KindPayload,
		ProfileName: p.Name, ProfileVersion: p.Version, PlatformID: p.PlatformID,
		Status: JobSucceeded, StatusReason: "Signing Succeeded",
		CreatedAt: now, CompletedAt: now, SignatureExpiresAt: expiry,
		RequestedBy: in.RequestedBy, Owner: s.Account.ID, Invoker: s.Account.ID,
	}
	plugin := in.VerificationPlugin
	if plugin == "" {
		plugin = p.SigningParameters[VerificationPluginParameter]
	}
	env, leaf, err := s.signPayload(ctx, v, in.Payload, now, expiry, s.Account.JobARN(j.ID), mediaType, plugin)
	if err != nil {
		return SignPayloadResult{}, err
	}
	j.LeafSerial, j.LeafHash = leaf.Serial, leaf.Hash
	if _, _, err := s.Jobs.CreateJob(ctx, j); err != nil {
		return SignPayloadResult{}, fmt.Errorf("failed to record the signing job: %w", err)
	}
	if s.OnPayloadSigned != nil {
		s.OnPayloadSigned(ctx, desc.Digest)
	}
	return SignPayloadResult{
		Job:      j,
		Envelope: env,
		Metadata: map[string]string{
			notary.AttrProfileVersion: s.Account.ProfileVersionARN(p.Name, p.Version),
			notary.AttrJob:            s.Account.JobARN(j.ID),
		},
	}, nil
}
