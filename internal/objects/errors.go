package objects

import (
	"errors"

	"github.com/signet/signet/internal/errs"
)

// Sentinel errors. Every error the Service returns for a caller mistake is
// an *errs.Error (or a *DeleteMarkerError) wrapping one of these, with a
// message that says what is wrong; the API layer maps each sentinel to a
// wire code.
var (
	// ErrNoSuchBucket: the bucket does not exist.
	ErrNoSuchBucket = errors.New("no such bucket")
	// ErrNoSuchKey: the key has no current version (absent, or its latest
	// version is a delete marker).
	ErrNoSuchKey = errors.New("no such key")
	// ErrNoSuchVersion: the version does not exist (or is a delete marker
	// when an object was asked for).
	ErrNoSuchVersion = errors.New("no such version")
	// ErrBucketExists: the bucket already exists (there is one owner, so
	// it is always already owned by the caller).
	ErrBucketExists = errors.New("bucket already exists")
	// ErrBucketNotEmpty: the bucket still holds versions or delete markers.
	ErrBucketNotEmpty = errors.New("bucket not empty")
	// ErrInvalidBucketName: the name breaks S3's bucket naming rules.
	ErrInvalidBucketName = errors.New("invalid bucket name")
	// ErrInvalidKey: the key is empty or not UTF-8.
	ErrInvalidKey = errors.New("invalid key")
	// ErrKeyTooLong: the key is longer than MaxKeyLength bytes.
	ErrKeyTooLong = errors.New("key too long")
	// ErrNoSuchUpload: the multipart upload does not exist (never did, or
	// was completed or aborted).
	ErrNoSuchUpload = errors.New("no such upload")
	// ErrInvalidPart: a listed part was not uploaded or its ETag differs.
	ErrInvalidPart = errors.New("invalid part")
	// ErrInvalidPartOrder: the listed parts are not in ascending order.
	ErrInvalidPartOrder = errors.New("invalid part order")
	// ErrEntityTooSmall: a part other than the last is below the minimum size.
	ErrEntityTooSmall = errors.New("entity too small")
	// ErrEntityTooLarge: the body exceeds the maximum object or part size.
	ErrEntityTooLarge = errors.New("entity too large")
	// ErrBadDigest: the body does not match the MD5 the caller declared.
	ErrBadDigest = errors.New("bad digest")
	// ErrInvalidArgument: another malformed argument (versioning status,
	// part number, version id marker, ...).
	ErrInvalidArgument = errors.New("invalid argument")
)

// DeleteMarkerError is the error of a delete marker: the latest version
// of a key or the version asked for. It wraps the caller-facing
// *errs.Error (ErrNoSuchKey or ErrNoSuchVersion) and adds the marker's
// version id.
type DeleteMarkerError struct {
	Err       *errs.Error
	VersionID string
}

func (e *DeleteMarkerError) Error() string { return e.Err.Error() }

// Unwrap returns the caller-facing error.
func (e *DeleteMarkerError) Unwrap() error { return e.Err }

func newError(kind error, msg string) error { return &errs.Error{Kind: kind, Msg: msg} }

// isCallerError reports an error that is already caller-facing.
func isCallerError(err error) bool {
	var e *errs.Error
	return errors.As(err, &e)
}
