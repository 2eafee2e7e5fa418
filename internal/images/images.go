// Package images signs container images (any OCI artifact) in a
// registry the way the notation CLI does: it resolves the reference to
// the manifest's descriptor, has the Notary payload for that descriptor
// signed by a caller-supplied function (Signet's SignPayload, so the key
// never leaves the server), and pushes a standard Notation signature
// manifest (artifact type application/vnd.cncf.notary.signature, the
// envelope as its one layer, the image as its subject) to the image's
// repository. oras-go pushes it through the OCI referrers API when the
// registry has one, and otherwise updates the referrers tag
// (sha256-<digest>) as the distribution specification's fallback says.
//
// It also verifies images as notation verify does ([Verify],
// [Verifier]): every signature listed through the referrers API or the
// tag fallback is checked by notation-go against an OCI trust policy
// ([LoadPolicy]) and a Notation trust store directory, with revocation
// checked over OCSP then CRLs ([NewRevocationValidator], [OCSPCache],
// [RevocationMemo]).
//
// Registry credentials come from Docker's config.json and its credential
// helpers (DOCKER_CONFIG, else ~/.docker), as notation reads them.
// Registry I/O lives here and in the CLI, not in the signing domain.
package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	_ "github.com/notaryproject/notation-core-go/signature/cose" // registers the COSE envelope
	_ "github.com/notaryproject/notation-core-go/signature/jws"  // registers the JWS envelope
	notationregistry "github.com/notaryproject/notation-go/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/signet/signet/internal/notary"
)

// ArtifactTypeSignature is the artifact type of a Notation signature
// manifest.
const ArtifactTypeSignature = notationregistry.ArtifactTypeNotation

// annotationThumbprints is the signature manifest annotation listing the
// SHA-256 thumbprints of the envelope's certificate chain, as notation
// writes it.
const annotationThumbprints = "io.cncf.notary.x509chain.thumbprint#S256"

// Kinds of failure a caller may want to tell apart.
var (
	ErrReference    = errors.New("invalid image reference")
	ErrNotFound     = errors.New("no such image")
	ErrUnreachable  = errors.New("registry unreachable")
	ErrUnauthorized = errors.New("not authorized")
)

// OpPush is the Op of an Error pushing a signature: the signature was
// made but is not in the registry.
const OpPush = "push the signature of"

// Error is a failure of one registry operation on an image.
type Error struct {
	Kind error  // one of the Err values above, or nil
	Op   string // what was being done: "read", OpPush, …
	Ref  string // the image reference
	Err  error
}

func (e *Error) Error() string {
	switch e.Kind {
	case ErrNotFound:
		return fmt.Sprintf("no such image: %s (%v)", e.Ref, e.Err)
	case ErrUnreachable:
		return fmt.Sprintf("registry unreachable for %s: %v", e.Ref, e.Err)
	case ErrUnauthorized:
		return fmt.Sprintf("not authorized to %s %s: %v", e.Op, e.Ref, e.Err)
	}
	return fmt.Sprintf("failed to %s %s: %v", e.Op, e.Ref, e.Err)
}

func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// SignFunc signs a Notary payload and returns the signature envelope.
type SignFunc func(ctx context.Context, payload []byte) ([]byte, error)

// Options configure Sign.
type Options struct {
	// PlainHTTP talks to the registry over http (notation's
	// --insecure-registry).
	PlainHTTP bool
	// PlainHTTPHosts are registries (HOST:PORT) talked to over http
	// when PlainHTTP is false.
	PlainHTTPHosts []string
	// Credentials looks up registry credentials; nil reads Docker's
	// config.json and credential helpers.
	Credentials credentials.Store
	// SignatureMediaType is the envelope's media type: notary.MediaTypeJWS
	// (the default) or notary.MediaTypeCOSE. Sign refuses an envelope of
	// another type.
	SignatureMediaType string
	// HTTPClient carries the registry requests; nil uses a client with a
	// 60 s timeout per request.
	HTTPClient *http.Client
}

// Result is what Sign did.
type Result struct {
	// Reference is the signed image by digest: host/repository@digest.
	Reference string
	// Artifact is the descriptor of the signed manifest.
	Artifact ocispec.Descriptor
	// Signature is the descriptor of the pushed signature manifest.
	Signature ocispec.Descriptor
	// SignerInfo is the envelope's content.
	SignerInfo *signature.SignerInfo
}

// ParseReference checks an image reference: host[:port]/repository
// followed by :tag or @digest.
func ParseReference(ref string) (registry.Reference, error) {
	r, err := registry.ParseReference(ref)
	if err != nil {
		return registry.Reference{}, fmt.Errorf("%w %q: %v", ErrReference, ref, err)
	}
	if r.Reference == "" {
		return registry.Reference{}, fmt.Errorf("%w %q: it names no tag or digest (add :TAG or @sha256:DIGEST)", ErrReference, ref)
	}
	return r, nil
}

// Repository returns an oras-go client for ref's repository with the
// options' transport and credentials.
func Repository(ref registry.Reference, opts Options) (*remote.Repository, error) {
	repo, err := remote.NewRepository(ref.Registry + "/" + ref.Repository)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReference, err)
	}
	repo.PlainHTTP = opts.PlainHTTP || slices.Contains(opts.PlainHTTPHosts, ref.Registry)
	store := opts.Credentials
	if store == nil {
		if store, err = credentials.NewStoreFromDocker(credentials.StoreOptions{}); err != nil {
			return nil, fmt.Errorf("failed to read Docker's credentials configuration: %w", err)
		}
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	repo.Client = &auth.Client{Client: hc, Cache: auth.NewCache(), Credential: credentials.Credential(store)}
	return repo, nil
}

// Sign signs the image ref names (a tag is resolved to its digest first)
// and pushes the signature beside it.
func Sign(ctx context.Context, ref string, sign SignFunc, opts Options) (Result, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return Result{}, err
	}
	mediaType := opts.SignatureMediaType
	if mediaType == "" {
		mediaType = notary.MediaTypeJWS
	}
	repo, err := Repository(r, opts)
	if err != nil {
		return Result{}, err
	}
	desc, err := repo.Resolve(ctx, r.Reference)
	if err != nil {
		return Result{}, classify("read", ref, err)
	}
	payload, err := notary.Payload(notary.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest.String(), Size: desc.Size})
	if err != nil {
		return Result{}, err
	}
	env, err := sign(ctx, payload)
	if err != nil {
		return Result{}, err
	}
	info, err := checkEnvelope(env, mediaType, payload)
	if err != nil {
		return Result{}, err
	}
	annotations, err := signatureAnnotations(info)
	if err != nil {
		return Result{}, err
	}
	_, sigDesc, err := notationregistry.NewRepository(repo).PushSignature(ctx, mediaType, env, desc, annotations)
	if err != nil {
		var re *remote.ReferrersError
		if !errors.As(err, &re) || !re.IsReferrersIndexDelete() {
			return Result{}, classify(OpPush, ref, err)
		}
		// The signature is pushed; only removing the previous referrers
		// index failed, which leaves a stale index and no harm.
	}
	return Result{
		Reference:  r.Registry + "/" + r.Repository + "@" + desc.Digest.String(),
		Artifact:   desc,
		Signature:  sigDesc,
		SignerInfo: info,
	}, nil
}

// checkEnvelope parses the envelope and checks that it is of the wanted
// type and signs exactly payload.
func checkEnvelope(env []byte, mediaType string, payload []byte) (*signature.SignerInfo, error) {
	e, err := signature.ParseEnvelope(mediaType, env)
	if err != nil {
		return nil, fmt.Errorf("the signing service answered an envelope that is not %s: %w", mediaType, err)
	}
	content, err := e.Content()
	if err != nil {
		return nil, fmt.Errorf("the signing service answered an unreadable envelope: %w", err)
	}
	// A JWS envelope re-encodes the payload (its keys in another order),
	// so the payloads are compared as JSON values.
	var got, sent any
	if content.Payload.ContentType != notary.PayloadType || json.Unmarshal(content.Payload.Content, &got) != nil ||
		json.Unmarshal(payload, &sent) != nil || !reflect.DeepEqual(got, sent) {
		return nil, fmt.Errorf("the signing service signed another payload than the one sent: %s", content.Payload.Content)
	}
	return &content.SignerInfo, nil
}

// signatureAnnotations are the annotations notation puts on a signature
// manifest: the chain's thumbprints and the signing time.
func signatureAnnotations(info *signature.SignerInfo) (map[string]string, error) {
	thumbprints := make([]string, 0, len(info.CertificateChain))
	for _, c := range info.CertificateChain {
		sum := sha256.Sum256(c.Raw)
		thumbprints = append(thumbprints, hex.EncodeToString(sum[:]))
	}
	b, err := json.Marshal(thumbprints)
	if err != nil {
		return nil, err
	}
	if info.SignedAttributes.SigningTime.IsZero() {
		return nil, errors.New("the signature has no signing time")
	}
	return map[string]string{
		annotationThumbprints:     string(b),
		ocispec.AnnotationCreated: info.SignedAttributes.SigningTime.UTC().Format(time.RFC3339),
	}, nil
}

// classify turns a registry client error into an *Error of a known kind
// where it can tell.
func classify(op, ref string, err error) error {
	e := &Error{Op: op, Ref: ref, Err: err}
	var resp *errcode.ErrorResponse
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var urlErr *url.Error
	switch {
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		e.Kind = ErrUnauthorized
	case errors.As(err, &resp) && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden):
		e.Kind = ErrUnauthorized
	case errors.Is(err, errdef.ErrNotFound), errors.As(err, &resp) && resp.StatusCode == http.StatusNotFound:
		e.Kind = ErrNotFound
	case errors.As(err, &opErr), errors.As(err, &dnsErr), errors.As(err, &urlErr):
		e.Kind = ErrUnreachable
	}
	if e.Kind == ErrUnreachable && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		e.Err = fmt.Errorf("%v (the registry speaks plain http: use --insecure-registry)", err)
	}
	return e
}
