package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Credential is what the server knows about one access key.
type Credential struct {
	// AccessKeyID identifies the key, e.g. "AKIA...".
	AccessKeyID string
	// SecretAccessKey is the shared secret the signature is computed with.
	SecretAccessKey string
	// SessionToken is non-empty for temporary credentials; the request must
	// then carry the same X-Amz-Security-Token.
	SessionToken string
	// SessionTokenSHA256, when set (not zero) instead of SessionToken, is
	// the SHA-256 of the session token, for stores that keep only a hash:
	// the request's X-Amz-Security-Token must hash to it.
	SessionTokenSHA256 [sha256.Size]byte
	// Expires is when the credential stops being valid; zero means never.
	Expires time.Time
	// PrincipalARN, PrincipalID and SourceIdentity are opaque to this
	// package and returned in Result.
	PrincipalARN   string
	PrincipalID    string
	SourceIdentity string
}

// CredentialStore looks up access keys.
type CredentialStore interface {
	// LookupAccessKey returns the credential for accessKeyID, or
	// ErrUnknownAccessKey (possibly wrapped) when the key does not exist.
	LookupAccessKey(ctx context.Context, accessKeyID string) (Credential, error)
}

// Verifier verifies SigV4-signed requests against a CredentialStore.
type Verifier struct {
	// Credentials resolves access key IDs to secrets.
	Credentials CredentialStore
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxSkew is how far the request time may be from Now, in either
	// direction; 0 means 15 minutes (AWS's limit).
	MaxSkew time.Duration
}

// Result describes an authenticated request.
type Result struct {
	// Credential is the credential the request was signed with.
	Credential Credential
	// Service and Region are the credential scope the request was signed for.
	Service, Region string
	// Time is the request time from X-Amz-Date (or Date).
	Time time.Time
}

const (
	defaultMaxSkew  = 15 * time.Minute
	unsignedPayload = "UNSIGNED-PAYLOAD"
	streamingPrefix = "STREAMING-"
)

// Verify checks the signature of r. body is the full request body, already
// read by the caller (who restores r.Body). It returns an *Error for every
// authentication failure; other errors, such as the CredentialStore failing,
// are returned wrapped as they are. It is Authenticate followed by
// [Pending.Verify].
func (v *Verifier) Verify(r *http.Request, body []byte) (*Result, error) {
	p, err := v.Authenticate(r)
	if err != nil {
		return nil, err
	}
	return p.Verify(body)
}

// Pending is a request whose signature information has been checked,
// all but the signature itself, which needs the body.
type Pending struct {
	r    *http.Request
	a    *authInfo
	cred Credential
}

// Authenticate checks everything about r's signature that does not
// need its body: the Authorization header (or presigned query) parses,
// the request time is within the allowed skew, the scope's date matches
// it, the access key exists and the session token matches and has not
// expired. A server calls it before it reads a body, so that a request
// with none of that right costs no more than its headers; [Pending.Verify]
// then checks the signature over the body. Failures are *Error values, as
// Verify's are.
func (v *Verifier) Authenticate(r *http.Request) (*Pending, error) {
	a, cred, err := v.authenticate(r)
	if err != nil {
		return nil, err
	}
	return &Pending{r: r, a: a, cred: cred}, nil
}

// Verify checks the request's signature over body, the full request
// body.
func (p *Pending) Verify(body []byte) (*Result, error) {
	payloadHash, streaming, perr := requestPayloadHash(p.r, p.a, body)
	if perr != nil {
		return nil, perr
	}
	if err := checkSignature(p.r, p.a, p.cred, payloadHash, len(body)); err != nil {
		return nil, err
	}
	if streaming {
		return nil, errNotImplemented("Streaming payloads (x-amz-content-sha256: " + payloadHash + ") are not supported.")
	}
	return &Result{Credential: p.cred, Service: p.a.service, Region: p.a.region, Time: p.a.time}, nil
}

// authenticate parses r's signature information, checks its time and
// looks up and checks its credential: everything but the signature itself.
func (v *Verifier) authenticate(r *http.Request) (*authInfo, Credential, error) {
	if v == nil || v.Credentials == nil {
		return nil, Credential{}, errors.New("sigv4: verifier has no credential store")
	}
	if r == nil {
		return nil, Credential{}, errors.New("sigv4: nil request")
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = defaultMaxSkew
	}

	a, aerr := parseAuth(r)
	if aerr != nil {
		return nil, Credential{}, aerr
	}
	if err := checkTime(a, now, skew); err != nil {
		return nil, Credential{}, err
	}
	if want := a.time.Format(dateFormat); a.date != want {
		return nil, Credential{}, errInvalidSignature(fmt.Sprintf(
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			a.date, want, a.amzDate))
	}
	if a.accessKeyID == "" {
		return nil, Credential{}, errInvalidToken()
	}

	cred, err := v.Credentials.LookupAccessKey(r.Context(), a.accessKeyID)
	if errors.Is(err, ErrUnknownAccessKey) {
		return nil, Credential{}, errInvalidToken()
	}
	if err != nil {
		return nil, Credential{}, fmt.Errorf("sigv4: look up access key: %w", err)
	}
	if err := checkToken(a, cred, now); err != nil {
		return nil, Credential{}, err
	}
	return a, cred, nil
}

// checkSignature compares the request's signature with the one computed
// for payloadHash.
func checkSignature(r *http.Request, a *authInfo, cred Credential, payloadHash string, bodyLen int) error {
	for _, sig := range expectedSignatures(r, a, cred.SecretAccessKey, payloadHash, bodyLen) {
		if hmac.Equal([]byte(sig), []byte(a.signature)) {
			return nil
		}
	}
	return errSignatureMismatch()
}

// checkTime enforces the allowed clock skew and, for presigned URLs,
// X-Amz-Expires.
func checkTime(a *authInfo, now time.Time, skew time.Duration) *Error {
	if a.time.After(now.Add(skew)) {
		return errSignatureNotYetCurrent(a.time, now, skew)
	}
	if a.presigned && a.hasExpires {
		if now.After(a.time.Add(a.expires)) {
			return errPresignExpired(a.service)
		}
		return nil
	}
	if a.time.Before(now.Add(-skew)) {
		return errSignatureExpired(a.time, now, skew)
	}
	return nil
}

// checkToken matches the request's session token with the credential's and
// checks the credential's expiry.
func checkToken(a *authInfo, cred Credential, now time.Time) *Error {
	if cred.SessionTokenSHA256 != [sha256.Size]byte{} {
		sum := sha256.Sum256([]byte(a.token))
		if a.token == "" || subtle.ConstantTimeCompare(sum[:], cred.SessionTokenSHA256[:]) != 1 {
			return errInvalidToken()
		}
	} else if cred.SessionToken == "" {
		if a.hasTok && a.token != "" {
			return errInvalidToken()
		}
	} else if subtle.ConstantTimeCompare([]byte(a.token), []byte(cred.SessionToken)) != 1 {
		return errInvalidToken()
	}
	if !cred.Expires.IsZero() && !now.Before(cred.Expires) {
		return errExpiredToken()
	}
	return nil
}

// requestPayloadHash returns the payload hash line of the canonical request.
// An X-Amz-Content-Sha256 value is used as sent, after checking that a hex
// SHA-256 value matches the body. STREAMING-* values are reported so that
// the caller can refuse them once the seed signature is checked.
func requestPayloadHash(r *http.Request, a *authInfo, body []byte) (hash string, streaming bool, err *Error) {
	v := r.Header.Get(headerContentSHA256)
	if v == "" && a.presigned {
		v = a.contentSHA
	}
	s3 := a.service == "s3"
	switch {
	case v == "":
		if a.presigned && s3 {
			return unsignedPayload, false, nil
		}
		return bodyHash(body), false, nil
	case v == unsignedPayload:
		return v, false, nil
	case strings.HasPrefix(v, streamingPrefix):
		return v, true, nil
	case isHexSHA256(v):
		if !strings.EqualFold(v, bodyHash(body)) {
			if s3 {
				return "", false, &Error{Code: codeContentSHA256Mismatch, Status: http.StatusBadRequest, Message: msgContentSHA256}
			}
			return "", false, errSignatureMismatch()
		}
		return v, false, nil
	default:
		if s3 {
			return "", false, &Error{Code: codeInvalidArgument, Status: http.StatusBadRequest, Message: msgBadContentSHA256}
		}
		return "", false, errSignatureMismatch()
	}
}

func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func isHexSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
