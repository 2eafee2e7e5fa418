package images

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	corerevocation "github.com/notaryproject/notation-core-go/revocation"
	corecrl "github.com/notaryproject/notation-core-go/revocation/crl"
	"github.com/notaryproject/notation-core-go/revocation/purpose"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/dir"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/crl"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/singleflight"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/signet/signet/internal/notary"
)

// Verification failures a caller may want to tell apart.
var (
	ErrNoSignature = errors.New("no signature found")
	ErrNoScope     = errors.New("no trust policy applies")
)

// Rules of a Notation verification, in the order notation-go checks
// them, plus RuleIdentity, the part of authenticity that compares the
// signing certificate with the policy's trusted identities.
const (
	RuleIntegrity          = string(trustpolicy.TypeIntegrity)
	RuleAuthenticity       = string(trustpolicy.TypeAuthenticity)
	RuleExpiry             = string(trustpolicy.TypeExpiry)
	RuleAuthenticTimestamp = string(trustpolicy.TypeAuthenticTimestamp)
	RuleRevocation         = string(trustpolicy.TypeRevocation)
	RuleIdentity           = "trustedIdentity"
)

var ruleOrder = []trustpolicy.ValidationType{
	trustpolicy.TypeIntegrity, trustpolicy.TypeAuthenticity, trustpolicy.TypeExpiry,
	trustpolicy.TypeAuthenticTimestamp, trustpolicy.TypeRevocation,
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Registry are the registry options (PlainHTTP, Credentials,
	// HTTPClient); SignatureMediaType is not used.
	Registry Options
	// Policy is the OCI trust policy (see LoadPolicy).
	Policy *trustpolicy.OCIDocument
	// TrustStoreDir is a Notation configuration directory holding
	// truststore/x509/{ca,signingAuthority,tsa}/NAME/ certificates.
	TrustStoreDir string
	// Revocation checks code signing chains and TimestampRevocation
	// time-stamping chains; nil uses NewRevocationValidator with no cache.
	Revocation, TimestampRevocation corerevocation.Validator
	// Now, when set, is the time the expiry rule compares the
	// signature's expiry with, instead of the wall clock notation-go
	// reads (the other rules keep notation-go's own clock).
	Now func() time.Time
	// ResultTTL, when set, lets a Verifier answer a signature's
	// successful result again for this long without checking it anew
	// (nor its revocation status). Zero checks every time.
	ResultTTL time.Duration
	// MaxSignatures caps the signatures tried (notation's default, 100,
	// when 0).
	MaxSignatures int
}

// Check is the result of one rule on one signature.
type Check struct {
	Rule   string `json:"check"`
	Action string `json:"action"` // enforce, log or skip (from the policy's level)
	Result string `json:"result"` // ok, failed, logged (failed but only logged), skipped, not checked
	Detail string `json:"detail"`
}

// SignatureResult is the verification of one signature.
type SignatureResult struct {
	Digest    string  `json:"signatureManifestDigest"`
	MediaType string  `json:"signatureMediaType"`
	Verified  bool    `json:"verified"`
	Failed    string  `json:"failedCheck,omitempty"` // the rule that refused it
	Error     string  `json:"error,omitempty"`
	Checks    []Check `json:"checks"`
	Signer    string  `json:"signer,omitempty"` // the signing certificate's subject
	SignedAt  string  `json:"signingTime,omitempty"`
	// JobARN and ProfileVersionARN are the signature's signed
	// attributes com.amazonaws.signer.signingJob and
	// …signingProfileVersion, when it has them (Signet's and AWS
	// Signer's signatures do): what a revocation of it names.
	JobARN            string `json:"signingJob,omitempty"`
	ProfileVersionARN string `json:"signingProfileVersion,omitempty"`
	// Expires is when the result stops holding by itself: the
	// signature's expiry or its certificate's, whichever is first.
	Expires time.Time `json:"-"`
}

// Verification is what Verify found.
type Verification struct {
	Reference  string             `json:"reference"` // host/repository@digest
	Artifact   ocispec.Descriptor `json:"-"`
	Policy     string             `json:"trustPolicy"`
	Level      string             `json:"level"`
	Verified   bool               `json:"verified"`
	Skipped    bool               `json:"skipped,omitempty"` // the policy's level is skip
	Signatures []SignatureResult  `json:"signatures"`
}

// Failed returns the rule that refused the image: that of the first
// signature (none verified), or "" when it is verified.
func (v *Verification) Failed() string {
	if v.Verified || len(v.Signatures) == 0 {
		return ""
	}
	return v.Signatures[0].Failed
}

// NewRevocationValidator returns notation's revocation check for chains
// of purpose p: OCSP first, then CRLs, fetched over http, CRLs cached in
// crlCacheDir when it is not empty (notation-go's file cache, as the
// notation CLI keeps one). ocsp carries OCSP requests when not nil.
func NewRevocationValidator(p purpose.Purpose, crlCacheDir string, ocsp http.RoundTripper) (corerevocation.Validator, error) {
	fetcher, err := corecrl.NewHTTPFetcher(&http.Client{Timeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	if crlCacheDir != "" {
		if fetcher.Cache, err = crl.NewFileCache(crlCacheDir); err != nil {
			return nil, fmt.Errorf("CRL cache: %w", err)
		}
	}
	return corerevocation.NewWithOptions(corerevocation.Options{
		OCSPHTTPClient: &http.Client{Timeout: 2 * time.Second, Transport: ocsp}, CRLFetcher: fetcher, CertChainPurpose: p,
	})
}

// Verify verifies every signature of the image ref names against the
// trust policy and trust store, as notation verify does (notation-go in
// process), and reports each rule of each signature. The image is
// verified when one signature is. Registry failures are *Error values;
// an image without signatures gives ErrNoSignature, a reference no
// policy statement covers ErrNoScope.
func Verify(ctx context.Context, ref string, opts VerifyOptions) (*Verification, error) {
	v, err := NewVerifier(opts)
	if err != nil {
		return nil, err
	}
	return v.Verify(ctx, ref)
}

// Verifier verifies images with one trust policy and trust store, for
// repeated verifications in one process (an admission check, a
// benchmark): it keeps each repository's registry client (and so what it
// learnt of the registry's referrers support), the signature envelopes
// (content-addressed, so never stale) and, when VerifyOptions.ResultTTL
// is set, each signature's successful result.
type Verifier struct {
	opts VerifyOptions
	v    notation.Verifier

	resolving singleflight.Group

	mu      sync.Mutex
	repos   map[string]*remote.Repository
	blobs   map[string]sigBlob
	results map[string]cachedResult
}

type sigBlob struct {
	blob      []byte
	mediaType string
}

type cachedResult struct {
	res     SignatureResult
	expires time.Time
}

// maxCached bounds each cache; a full cache is emptied.
const maxCached = 4096

// NewVerifier returns a Verifier; the policy must be valid.
func NewVerifier(opts VerifyOptions) (*Verifier, error) {
	if opts.Policy == nil {
		return nil, errors.New("no trust policy")
	}
	v, err := newVerifier(opts)
	if err != nil {
		return nil, err
	}
	return &Verifier{opts: opts, v: v, repos: map[string]*remote.Repository{}, blobs: map[string]sigBlob{}, results: map[string]cachedResult{}}, nil
}

func (vf *Verifier) now() time.Time {
	if vf.opts.Now != nil {
		return vf.opts.Now()
	}
	return time.Now()
}

func (vf *Verifier) repository(r registry.Reference) (*remote.Repository, error) {
	name := r.Registry + "/" + r.Repository
	vf.mu.Lock()
	defer vf.mu.Unlock()
	if repo, ok := vf.repos[name]; ok {
		return repo, nil
	}
	repo, err := Repository(r, vf.opts.Registry)
	if err != nil {
		return nil, err
	}
	if len(vf.repos) >= maxCached {
		clear(vf.repos)
	}
	vf.repos[name] = repo
	return repo, nil
}

// Policy is the trust policy the Verifier verifies by.
func (vf *Verifier) Policy() *trustpolicy.OCIDocument { return vf.opts.Policy }

// Resolve returns ref as host/repository@digest, asking the registry
// when ref names a tag.
func (vf *Verifier) Resolve(ctx context.Context, ref string) (string, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	if err := r.ValidateReferenceAsDigest(); err == nil {
		return r.Registry + "/" + r.Repository + "@" + r.Reference, nil
	}
	repo, err := vf.repository(r)
	if err != nil {
		return "", err
	}
	// Concurrent resolutions of one tag share one registry request: they
	// would all get the same answer.
	v, err, _ := vf.resolving.Do(ref, func() (any, error) {
		desc, err := repo.Resolve(ctx, r.Reference)
		if err != nil {
			return "", classify("read", ref, err)
		}
		return r.Registry + "/" + r.Repository + "@" + desc.Digest.String(), nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// Verify verifies the image ref names (see the package function Verify).
func (vf *Verifier) Verify(ctx context.Context, ref string) (*Verification, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	// The scope is the repository; notation-go wants a reference by
	// digest, which it cuts at the "@".
	pol, err := vf.opts.Policy.GetApplicableTrustPolicy(r.Registry + "/" + r.Repository + "@")
	if err != nil {
		return nil, fmt.Errorf("%w to %s: %v", ErrNoScope, r.Registry+"/"+r.Repository, err)
	}
	level, err := pol.SignatureVerification.GetVerificationLevel()
	if err != nil {
		return nil, &PolicyError{Where: fmt.Sprintf("trust policy %q", pol.Name), Err: err}
	}
	out := &Verification{Policy: pol.Name, Level: level.Name, Signatures: []SignatureResult{}}
	repo, err := vf.repository(r)
	if err != nil {
		return nil, err
	}
	desc, err := repo.Resolve(ctx, r.Reference)
	if err != nil {
		return nil, classify("read", ref, err)
	}
	out.Artifact = desc
	out.Reference = r.Registry + "/" + r.Repository + "@" + desc.Digest.String()
	if level.Name == trustpolicy.LevelSkip.Name {
		out.Skipped, out.Verified = true, true
		return out, nil
	}
	max := vf.opts.MaxSignatures
	if max <= 0 {
		max = 100
	}
	nrepo := notationregistry.NewRepository(repo)
	errDone := errors.New("enough signatures")
	err = nrepo.ListSignatures(ctx, desc, func(sigs []ocispec.Descriptor) error {
		for _, sd := range sigs {
			if len(out.Signatures) >= max {
				return errDone
			}
			res, err := vf.verifySignature(ctx, nrepo, ref, out.Reference, pol.Name, desc, sd)
			if err != nil {
				return err
			}
			out.Signatures = append(out.Signatures, res)
			if res.Verified {
				out.Verified = true
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDone) {
		var ie *Error
		if errors.As(err, &ie) {
			return nil, err
		}
		return nil, classify("list the signatures of", ref, err)
	}
	if len(out.Signatures) == 0 {
		return out, fmt.Errorf("%w for %s", ErrNoSignature, out.Reference)
	}
	return out, nil
}

// verifySignature verifies one signature manifest sd of the artifact
// desc, or answers its cached successful result.
func (vf *Verifier) verifySignature(ctx context.Context, nrepo notationregistry.Repository, ref, digestRef, policy string, desc, sd ocispec.Descriptor) (SignatureResult, error) {
	key := digestRef + " " + sd.Digest.String() + " " + policy
	now := vf.now()
	vf.mu.Lock()
	c, ok := vf.results[key]
	b, haveBlob := vf.blobs[sd.Digest.String()]
	vf.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.res, nil
	}
	if !haveBlob {
		blob, blobDesc, err := nrepo.FetchSignatureBlob(ctx, sd)
		if err != nil {
			return SignatureResult{}, classify("read the signature "+sd.Digest.String()+" of", ref, err)
		}
		b = sigBlob{blob, blobDesc.MediaType}
		vf.mu.Lock()
		if len(vf.blobs) >= maxCached {
			clear(vf.blobs)
		}
		vf.blobs[sd.Digest.String()] = b
		vf.mu.Unlock()
	}
	outcome, verr := vf.v.Verify(ctx, desc, b.blob, notation.VerifierVerifyOptions{ArtifactReference: digestRef, SignatureMediaType: b.mediaType})
	res := signatureResult(sd.Digest.String(), b.mediaType, outcome, verr, vf.opts.Now)
	if res.Verified && vf.opts.ResultTTL > 0 && outcome != nil && outcome.EnvelopeContent != nil {
		// A result stands until the TTL ends, the signature expires or
		// its certificate does, whichever is first.
		expires := now.Add(vf.opts.ResultTTL)
		si := outcome.EnvelopeContent.SignerInfo
		if e := si.SignedAttributes.Expiry; !e.IsZero() && e.Before(expires) {
			expires = e
		}
		if len(si.CertificateChain) > 0 && si.CertificateChain[0].NotAfter.Before(expires) {
			expires = si.CertificateChain[0].NotAfter
		}
		vf.mu.Lock()
		if len(vf.results) >= maxCached {
			clear(vf.results)
		}
		vf.results[key] = cachedResult{res, expires}
		vf.mu.Unlock()
	}
	return res, nil
}

func newVerifier(opts VerifyOptions) (notation.Verifier, error) {
	rv, tv := opts.Revocation, opts.TimestampRevocation
	var err error
	if rv == nil {
		if rv, err = NewRevocationValidator(purpose.CodeSigning, "", nil); err != nil {
			return nil, err
		}
	}
	if tv == nil {
		if tv, err = NewRevocationValidator(purpose.Timestamping, "", nil); err != nil {
			return nil, err
		}
	}
	v, err := verifier.NewVerifierWithOptions(truststore.NewX509TrustStore(dir.NewSysFS(opts.TrustStoreDir)), verifier.VerifierOptions{
		OCITrustPolicy: opts.Policy, RevocationCodeSigningValidator: rv, RevocationTimestampingValidator: tv,
	})
	if err != nil {
		return nil, &PolicyError{Err: err}
	}
	return v, nil
}

// signatureResult turns notation-go's outcome into a report of the five
// rules.
func signatureResult(digest, mediaType string, o *notation.VerificationOutcome, verr error, now func() time.Time) SignatureResult {
	res := SignatureResult{Digest: digest, MediaType: mediaType, Verified: verr == nil}
	if verr != nil {
		res.Error = verr.Error()
	}
	if o == nil {
		res.Failed = RuleIntegrity
		return res
	}
	if o.EnvelopeContent != nil {
		si := o.EnvelopeContent.SignerInfo
		if len(si.CertificateChain) > 0 {
			res.Signer = si.CertificateChain[0].Subject.String()
		}
		if !si.SignedAttributes.SigningTime.IsZero() {
			res.SignedAt = si.SignedAttributes.SigningTime.UTC().Format(time.RFC3339)
		}
		for _, a := range si.SignedAttributes.ExtendedAttributes {
			v, _ := a.Value.(string)
			switch a.Key {
			case notary.AttrJob:
				res.JobARN = v
			case notary.AttrProfileVersion:
				res.ProfileVersionARN = v
			}
		}
		res.Expires = si.SignedAttributes.Expiry
		if len(si.CertificateChain) > 0 && (res.Expires.IsZero() || si.CertificateChain[0].NotAfter.Before(res.Expires)) {
			res.Expires = si.CertificateChain[0].NotAfter
		}
	}
	got := map[trustpolicy.ValidationType]*notation.ValidationResult{}
	for _, vr := range o.VerificationResults {
		got[vr.Type] = vr
	}
	if now != nil && o.EnvelopeContent != nil && got[trustpolicy.TypeExpiry] != nil && got[trustpolicy.TypeExpiry].Error == nil {
		// Judge expiry at the given time, as notation-go would at it.
		if exp := o.EnvelopeContent.SignerInfo.SignedAttributes.Expiry; !exp.IsZero() && !now().Before(exp) {
			vr := *got[trustpolicy.TypeExpiry]
			vr.Error = fmt.Errorf("digital signature has expired on %q", exp.Format(time.RFC1123Z))
			got[trustpolicy.TypeExpiry] = &vr
			if vr.Action == trustpolicy.ActionEnforce {
				res.Verified = false
				res.Error = vr.Error.Error()
				verr = vr.Error
			}
		}
	}
	for _, t := range ruleOrder {
		c := Check{Rule: string(t), Action: string(o.VerificationLevel.Enforcement[t])}
		vr := got[t]
		switch {
		case c.Action == string(trustpolicy.ActionSkip):
			c.Result, c.Detail = "skipped", "the trust policy skips this check"
		case vr == nil && verr != nil:
			c.Result, c.Detail = "not checked", "an earlier check refused the signature"
		case vr == nil:
			c.Result, c.Detail = "ok", passDetail(t)
		case vr.Error == nil:
			c.Result, c.Detail = "ok", passDetail(t)
		case vr.Action == trustpolicy.ActionEnforce:
			c.Result, c.Detail = "failed", vr.Error.Error()
			if res.Failed == "" {
				res.Failed = string(t)
				if t == trustpolicy.TypeAuthenticity && strings.Contains(vr.Error.Error(), "trusted identit") {
					res.Failed = RuleIdentity
				}
			}
		default:
			c.Result, c.Detail = "logged", vr.Error.Error()
		}
		res.Checks = append(res.Checks, c)
	}
	if verr != nil && res.Failed == "" {
		// notation-go found the payload names another artifact (the
		// "content descriptor mismatch") after every rule passed.
		res.Failed = RuleIntegrity
		res.Checks[0].Result, res.Checks[0].Detail = "failed", "the signature signs another artifact: "+verr.Error()
	}
	return res
}

func passDetail(t trustpolicy.ValidationType) string {
	switch t {
	case trustpolicy.TypeIntegrity:
		return "the envelope is intact and signs this manifest"
	case trustpolicy.TypeAuthenticity:
		return "the chain leads to the trust store and the signer is a trusted identity"
	case trustpolicy.TypeAuthenticTimestamp:
		return "the signing time is authentic (timestamp checked when the policy lists a tsa store)"
	case trustpolicy.TypeExpiry:
		return "the signature has not expired"
	case trustpolicy.TypeRevocation:
		return "no certificate of the chain is revoked (OCSP, then CRLs)"
	}
	return ""
}
