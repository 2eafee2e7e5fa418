// Package objects is Signet's versioned object store: buckets, object
// versions with S3's versioning semantics, delete markers and multipart
// uploads. The S3 API handlers and the signing worker both use [Service].
//
// # Storage
//
// Bytes and metadata live apart. A [DataStore] holds the bytes of every
// version and part under a fresh, never reused path; a [MetaStore] (the
// database) records buckets, versions and uploads in transactions. Every
// write stores the data first, then commits one metadata transaction that
// references it, so a crash in between leaves only unreferenced data, which
// no read can reach. Data that a transaction stops referencing (an
// overwritten "null" version, a deleted version, an aborted upload) is
// deleted after the commit, on a best-effort basis.
//
// # Versioning
//
// A bucket's versioning status is "" (never enabled), "Enabled" or
// "Suspended", as in S3. Until versioning is enabled, and while it is
// suspended, a put writes the version "null", replacing the key's previous
// null version. With versioning enabled every put adds a version with a new
// id and a delete without a version id adds a delete marker.
package objects

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/signet/signet/internal/errs"
)

// Versioning statuses of a bucket. The zero value "" means never enabled.
const (
	VersioningEnabled   = "Enabled"
	VersioningSuspended = "Suspended"
)

// NullVersion is the version id of the version written while versioning
// is not enabled.
const NullVersion = "null"

// Limits, as S3's.
const (
	// MaxObjectSize bounds a single put and a part.
	MaxObjectSize = 5 << 30
	// DefaultMinPartSize is the smallest size of every part of a multipart
	// upload but the last.
	DefaultMinPartSize = 5 << 20
	// MaxPartNumber is the highest part number.
	MaxPartNumber = 10000
	// MaxKeyLength is the longest key, in bytes of UTF-8.
	MaxKeyLength = 1024
	// MaxListKeys is the most entries a list call returns.
	MaxListKeys = 1000
)

// Bucket is a bucket.
type Bucket struct {
	Name       string
	Versioning string // "", VersioningEnabled or VersioningSuspended
	CreatedAt  time.Time
}

// ObjectInfo describes one version of an object, or a delete marker.
type ObjectInfo struct {
	Bucket       string
	Key          string
	VersionID    string
	Size         int64
	ETag         string // hex MD5, or for multipart uploads hex MD5 of the part MD5s, "-", part count; without quotes
	ContentType  string
	LastModified time.Time
	IsLatest     bool
	DeleteMarker bool
}

// Segment is one stored piece of a version's bytes: the whole object for
// a single put, one part for a multipart upload.
type Segment struct {
	Path string
	Size int64
}

// Version is the metadata record of a version, as the MetaStore keeps it.
type Version struct {
	ObjectInfo
	// Seq is the store-assigned creation order of the version: larger is
	// newer, and it is never reused.
	Seq int64
	// Segments hold the version's bytes, in order. Delete markers have none.
	Segments []Segment
}

// Upload is an in-progress multipart upload.
type Upload struct {
	ID          string
	Bucket      string
	Key         string
	ContentType string
	CreatedAt   time.Time
}

// Part is one uploaded part of a multipart upload.
type Part struct {
	UploadID  string
	Number    int
	Size      int64
	ETag      string // hex MD5 of the part, without quotes
	Path      string
	CreatedAt time.Time
}

// VersionCursor is a position in the (key ascending, newest first) order
// of all versions of a bucket: the versions of Key older than BelowSeq
// (all of Key's versions when BelowSeq is 0), then every later key.
type VersionCursor struct {
	Key      string
	BelowSeq int64
}

// MetaStore is the transactional metadata of buckets, versions and
// uploads. The database implements it; every method is durable once it
// returns and safe for concurrent use. Keys compare as bytes.
type MetaStore interface {
	// CreateBucket stores a new bucket, or returns ErrBucketExists.
	CreateBucket(ctx context.Context, b Bucket) error
	// Bucket returns a bucket, or ErrNoSuchBucket.
	Bucket(ctx context.Context, name string) (Bucket, error)
	// ListBuckets returns every bucket, by name.
	ListBuckets(ctx context.Context) ([]Bucket, error)
	// SetBucketVersioning sets the versioning status. ErrNoSuchBucket.
	SetBucketVersioning(ctx context.Context, name, status string) error
	// DeleteBucket removes an empty bucket and its in-progress uploads,
	// returning the data paths of their parts. ErrNoSuchBucket, or
	// ErrBucketNotEmpty while any version or delete marker remains.
	DeleteBucket(ctx context.Context, name string) (orphans []string, err error)

	// PutVersion adds a version of key as its latest, in one transaction:
	// it reads the bucket's versioning status, calls fn with it for the
	// version to store (fn's error is returned as is), removes the key's
	// existing "null" version if the new one is "null" too, and inserts
	// it. It returns the stored version (with Seq) and the versions it
	// replaced. ErrNoSuchBucket.
	PutVersion(ctx context.Context, bucket, key string, fn func(versioning string) (Version, error)) (Version, []Version, error)
	// Version returns one version of key (with its Segments), or the
	// latest (possibly a delete marker) when versionID is "". ErrNoSuchKey
	// when versionID is "" and the key has no versions; ErrNoSuchVersion
	// when the version does not exist.
	Version(ctx context.Context, bucket, key, versionID string) (Version, error)
	// DeleteVersion permanently removes one version and returns it; the
	// next newest becomes the latest. ErrNoSuchVersion.
	DeleteVersion(ctx context.Context, bucket, key, versionID string) (Version, error)
	// DeleteVersions permanently removes every version and delete marker
	// of key and returns them.
	DeleteVersions(ctx context.Context, bucket, key string) ([]Version, error)
	// ListLatest returns, ordered by key, up to limit latest versions that
	// are not delete markers, with keys >= from. Segments are not loaded.
	ListLatest(ctx context.Context, bucket, from string, limit int) ([]Version, error)
	// ListVersions returns up to limit versions and delete markers from
	// cursor on, ordered by key, then newest first. Segments are not loaded.
	ListVersions(ctx context.Context, bucket string, from VersionCursor, limit int) ([]Version, error)

	// CreateUpload stores a new multipart upload. ErrNoSuchBucket.
	CreateUpload(ctx context.Context, u Upload) error
	// Upload returns an upload, or ErrNoSuchUpload.
	Upload(ctx context.Context, uploadID string) (Upload, error)
	// PutPart stores a part, replacing (and returning the data path of)
	// a previous part with the same number. ErrNoSuchUpload.
	PutPart(ctx context.Context, p Part) (replaced string, err error)
	// CompleteUpload turns an upload into a version in one transaction: it
	// calls fn with the upload, its parts by number and the bucket's
	// versioning status; stores the version fn returns as PutVersion
	// does; and removes the upload and its parts. It returns the stored
	// version and the data paths no longer referenced (parts fn did not
	// use, replaced versions). ErrNoSuchUpload; fn's error as is.
	CompleteUpload(ctx context.Context, uploadID string, fn func(u Upload, parts []Part, versioning string) (Version, error)) (Version, []string, error)
	// AbortUpload removes an upload and its parts and returns their data
	// paths. ErrNoSuchUpload.
	AbortUpload(ctx context.Context, uploadID string) ([]string, error)
}

// DataStore holds bytes by path.
type DataStore interface {
	// Write stores everything r yields at path and returns its length.
	// It is atomic: the data is visible only once Write returned nil, and
	// a failing r (or ctx) leaves nothing at path. Its error wraps r's.
	Write(ctx context.Context, path string, r io.Reader) (n int64, err error)
	// NewRangeReader reads length bytes (-1: to the end) from offset off.
	NewRangeReader(ctx context.Context, path string, off, length int64) (io.ReadCloser, error)
	// Delete removes path; a missing path is not an error.
	Delete(ctx context.Context, path string) error
}

// Service is the object store.
type Service struct {
	Meta MetaStore
	Data DataStore
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MinPartSize is the smallest size of every part of a multipart
	// upload but the last; 0 means DefaultMinPartSize.
	MinPartSize int64
	// Log receives failures to delete unreferenced data; nil discards.
	Log *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) minPartSize() int64 {
	if s.MinPartSize > 0 {
		return s.MinPartSize
	}
	return DefaultMinPartSize
}

// idEncoding is base32 with the "extended hex" alphabet, which sorts like
// the bytes it encodes.
var idEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// newID returns a 32-character id: the time in nanoseconds and 96 random
// bits, so ids are unique, URL-safe and sort by creation time.
func newID(now time.Time) string {
	var b [20]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	if _, err := rand.Read(b[8:]); err != nil {
		panic(fmt.Sprintf("objects: crypto/rand failed: %v", err))
	}
	return idEncoding.EncodeToString(b[:])
}

// validID reports whether s could be an id made by newID.
func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'V') {
			return false
		}
	}
	return true
}

// ValidBucketName reports whether name follows S3's bucket naming rules:
// 3 to 63 lowercase letters, digits, dots and hyphens, beginning and
// ending with a letter or digit, no two adjacent dots, not an IPv4
// address, and none of the reserved prefixes and suffixes.
func ValidBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(name)-1 {
				return false
			}
			if c == '.' && name[i-1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	if looksLikeIPv4(name) {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, p := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, p) {
			return false
		}
	}
	return true
}

func looksLikeIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

func checkBucketName(name string) error {
	if !ValidBucketName(name) {
		return newError(ErrInvalidBucketName, fmt.Sprintf("The specified bucket is not valid: %q. Bucket names are 3 to 63 lowercase letters, digits, dots and hyphens, and begin and end with a letter or digit.", name))
	}
	return nil
}

func checkKey(key string) error {
	switch {
	case key == "":
		return newError(ErrInvalidKey, "The object key must not be empty.")
	case len(key) > MaxKeyLength:
		return newError(ErrKeyTooLong, fmt.Sprintf("Your key is too long: %d bytes; the limit is %d.", len(key), MaxKeyLength))
	case !utf8.ValidString(key):
		return newError(ErrInvalidKey, "The object key must be UTF-8.")
	}
	return nil
}

// noSuchBucket is the caller-facing ErrNoSuchBucket.
func noSuchBucket(bucket string) error {
	return newError(ErrNoSuchBucket, fmt.Sprintf("The specified bucket does not exist: %s", bucket))
}

// storeError turns the store's wrapped sentinels into caller-facing
// errors with S3's wording; other errors are wrapped as they are.
func storeError(err error, bucket, key, versionID string) error {
	switch {
	case err == nil:
		return nil
	case isCallerError(err):
		return err
	case errors.Is(err, ErrNoSuchBucket):
		return noSuchBucket(bucket)
	case errors.Is(err, ErrNoSuchKey):
		return newError(ErrNoSuchKey, "The specified key does not exist.")
	case errors.Is(err, ErrNoSuchVersion):
		return newError(ErrNoSuchVersion, fmt.Sprintf("The specified version does not exist: %s", versionID))
	case errors.Is(err, ErrBucketExists):
		return newError(ErrBucketExists, "Your previous request to create the named bucket succeeded and you already own it.")
	case errors.Is(err, ErrBucketNotEmpty):
		return newError(ErrBucketNotEmpty, fmt.Sprintf("The bucket you tried to delete is not empty: %s", bucket))
	case errors.Is(err, ErrNoSuchUpload):
		return newError(ErrNoSuchUpload, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
	}
	return fmt.Errorf("object store: %w", err)
}

// CreateBucket creates a bucket. ErrInvalidBucketName, ErrBucketExists.
func (s *Service) CreateBucket(ctx context.Context, name string) (Bucket, error) {
	if err := checkBucketName(name); err != nil {
		return Bucket{}, err
	}
	b := Bucket{Name: name, CreatedAt: s.now()}
	if err := s.Meta.CreateBucket(ctx, b); err != nil {
		return Bucket{}, storeError(err, name, "", "")
	}
	return b, nil
}

// Bucket returns a bucket. ErrNoSuchBucket.
func (s *Service) Bucket(ctx context.Context, name string) (Bucket, error) {
	b, err := s.Meta.Bucket(ctx, name)
	return b, storeError(err, name, "", "")
}

// ListBuckets returns every bucket, by name.
func (s *Service) ListBuckets(ctx context.Context) ([]Bucket, error) {
	bs, err := s.Meta.ListBuckets(ctx)
	return bs, storeError(err, "", "", "")
}

// DeleteBucket deletes an empty bucket, aborting its in-progress uploads.
// ErrNoSuchBucket, ErrBucketNotEmpty.
func (s *Service) DeleteBucket(ctx context.Context, name string) error {
	orphans, err := s.Meta.DeleteBucket(ctx, name)
	if err != nil {
		return storeError(err, name, "", "")
	}
	s.deleteData(ctx, orphans...)
	return nil
}

// Versioning reports the bucket's versioning status: "" (never enabled),
// "Enabled" or "Suspended". ErrNoSuchBucket.
func (s *Service) Versioning(ctx context.Context, bucket string) (string, error) {
	b, err := s.Meta.Bucket(ctx, bucket)
	if err != nil {
		return "", storeError(err, bucket, "", "")
	}
	return b.Versioning, nil
}

// SetVersioning sets the bucket's versioning status to "Enabled" or
// "Suspended". ErrNoSuchBucket, ErrInvalidArgument.
func (s *Service) SetVersioning(ctx context.Context, bucket, status string) error {
	if status != VersioningEnabled && status != VersioningSuspended {
		return newError(ErrInvalidArgument, fmt.Sprintf("The versioning status must be Enabled or Suspended, not %q.", status))
	}
	return storeError(s.Meta.SetBucketVersioning(ctx, bucket, status), bucket, "", "")
}

// PutInput is a put of one object.
type PutInput struct {
	Bucket      string
	Key         string
	Body        io.Reader
	ContentType string
	// ContentMD5, when set, is the MD5 the body must have (ErrBadDigest).
	ContentMD5 []byte
	// KnownMD5, when set, is the body's MD5 as computed by the caller
	// that produced the body (a signing job hashes while it reads its
	// source); the body is then not hashed again. Never set it from a
	// client's claim: that is what ContentMD5 is for.
	KnownMD5 []byte
}

// Put stores a new object (version) from r and returns its version id.
func (s *Service) Put(ctx context.Context, bucket, key string, r io.Reader, contentType string) (ObjectInfo, error) {
	return s.PutObject(ctx, PutInput{Bucket: bucket, Key: key, Body: r, ContentType: contentType})
}

// PutObject stores a new object (version) from in.Body, streaming it to
// the data store, and makes it the key's latest version. The body's
// errors (for example a failed payload check) are returned wrapped and
// leave nothing behind. ErrNoSuchBucket, ErrInvalidKey, ErrBadDigest,
// ErrEntityTooLarge.
func (s *Service) PutObject(ctx context.Context, in PutInput) (ObjectInfo, error) {
	if err := checkKey(in.Key); err != nil {
		return ObjectInfo{}, err
	}
	// Refuse before reading a byte of the body.
	if _, err := s.Meta.Bucket(ctx, in.Bucket); err != nil {
		return ObjectInfo{}, storeError(err, in.Bucket, in.Key, "")
	}
	now := s.now()
	path := "data/" + in.Bucket + "/" + newID(now)
	var d *digestReader
	if in.KnownMD5 != nil {
		d = &digestReader{r: in.Body, max: MaxObjectSize}
	} else {
		d = newDigestReader(in.Body, MaxObjectSize, in.ContentMD5)
	}
	n, err := s.Data.Write(ctx, path, d)
	if err != nil {
		return ObjectInfo{}, bodyError(err)
	}
	sum := in.KnownMD5
	if sum == nil {
		sum = d.md5.Sum(nil)
	}
	etag := hex.EncodeToString(sum)
	ct := in.ContentType
	if ct == "" {
		ct = DefaultContentType
	}
	v, replaced, err := s.Meta.PutVersion(ctx, in.Bucket, in.Key, func(versioning string) (Version, error) {
		id := NullVersion
		if versioning == VersioningEnabled {
			id = newID(now)
		}
		return Version{
			ObjectInfo: ObjectInfo{Bucket: in.Bucket, Key: in.Key, VersionID: id, Size: n, ETag: etag, ContentType: ct, LastModified: now, IsLatest: true},
			Segments:   []Segment{{Path: path, Size: n}},
		}, nil
	})
	if err != nil {
		s.deleteData(ctx, path)
		return ObjectInfo{}, storeError(err, in.Bucket, in.Key, "")
	}
	s.deleteVersionsData(ctx, replaced)
	return v.ObjectInfo, nil
}

// DefaultContentType is the content type of objects put without one.
const DefaultContentType = "binary/octet-stream"

// bodyError wraps a failure to store a body.
func bodyError(err error) error {
	if isCallerError(err) {
		return err
	}
	return fmt.Errorf("failed to store the body: %w", err)
}

// digestReader computes the MD5 of what it reads (unless md5 is nil),
// bounds its length, and at EOF checks the MD5 the caller declared.
type digestReader struct {
	r       io.Reader
	md5     hash.Hash
	n, max  int64
	wantMD5 []byte
}

func newDigestReader(r io.Reader, max int64, wantMD5 []byte) *digestReader {
	return &digestReader{r: r, md5: md5.New(), max: max, wantMD5: wantMD5}
}

func (d *digestReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if d.md5 != nil {
		d.md5.Write(p[:n])
	}
	d.n += int64(n)
	if d.n > d.max {
		return n, newError(ErrEntityTooLarge, fmt.Sprintf("Your proposed upload exceeds the maximum allowed size of %d bytes.", d.max))
	}
	if err == io.EOF && d.wantMD5 != nil {
		if got := d.md5.Sum(nil); string(got) != string(d.wantMD5) {
			return n, newError(ErrBadDigest, "The Content-MD5 you specified did not match what we received.")
		}
	}
	return n, err
}

// deleteData removes data no metadata references any more. Failures only
// leave unreferenced data behind, so they are logged, not returned.
func (s *Service) deleteData(ctx context.Context, paths ...string) {
	ctx = context.WithoutCancel(ctx)
	for _, p := range paths {
		if err := s.Data.Delete(ctx, p); err != nil && s.Log != nil {
			s.Log.WarnContext(ctx, "failed to delete unreferenced object data", "path", p, "err", err)
		}
	}
}

func (s *Service) deleteVersionsData(ctx context.Context, vs []Version) {
	for _, v := range vs {
		for _, seg := range v.Segments {
			s.deleteData(ctx, seg.Path)
		}
	}
}

// Stat returns one version of an object: the latest when versionID is
// "". A delete marker is a *DeleteMarkerError: ErrNoSuchKey
// when it is the latest version, ErrNoSuchVersion when it was asked for
// by id. ErrNoSuchBucket, ErrNoSuchKey, ErrNoSuchVersion.
func (s *Service) Stat(ctx context.Context, bucket, key, versionID string) (ObjectInfo, error) {
	v, err := s.version(ctx, bucket, key, versionID)
	return v.ObjectInfo, err
}

func (s *Service) version(ctx context.Context, bucket, key, versionID string) (Version, error) {
	if versionID != "" && versionID != NullVersion && !validID(versionID) {
		if _, err := s.Meta.Bucket(ctx, bucket); err != nil {
			return Version{}, storeError(err, bucket, key, versionID)
		}
		return Version{}, newError(ErrNoSuchVersion, fmt.Sprintf("The specified version does not exist: %s", versionID))
	}
	v, err := s.Meta.Version(ctx, bucket, key, versionID)
	if errors.Is(err, ErrNoSuchKey) || errors.Is(err, ErrNoSuchVersion) {
		if _, berr := s.Meta.Bucket(ctx, bucket); berr != nil {
			return Version{}, storeError(berr, bucket, key, versionID)
		}
	}
	if err != nil {
		return Version{}, storeError(err, bucket, key, versionID)
	}
	if v.DeleteMarker {
		if versionID == "" {
			return v, &DeleteMarkerError{Err: &errs.Error{Kind: ErrNoSuchKey, Msg: "The specified key does not exist."}, VersionID: v.VersionID}
		}
		return v, &DeleteMarkerError{Err: &errs.Error{Kind: ErrNoSuchVersion, Msg: fmt.Sprintf("The specified version is a delete marker: %s", versionID)}, VersionID: v.VersionID}
	}
	return v, nil
}

// Open opens one version of an object (the latest when versionID is "")
// for reading, with Stat's errors: a delete marker is a
// *DeleteMarkerError.
func (s *Service) Open(ctx context.Context, bucket, key, versionID string) (*Object, error) {
	v, err := s.version(ctx, bucket, key, versionID)
	if err != nil {
		return nil, err
	}
	return newObject(ctx, s.Data, v), nil
}

// OpenVersion opens one version of an object for random access; version
// "" means the latest. ErrNoSuchBucket, ErrNoSuchKey (no version, or the
// latest is a delete marker), ErrNoSuchVersion (a version asked for that
// is a delete marker is ErrNoSuchVersion too).
func (s *Service) OpenVersion(ctx context.Context, bucket, key, version string) (*Object, error) {
	return s.Open(ctx, bucket, key, version)
}

// DeleteResult says what a delete did.
type DeleteResult struct {
	// VersionID is the version removed or the delete marker added; ""
	// when an unversioned object was removed.
	VersionID string
	// DeleteMarker is set when a delete marker was added, or when the
	// version removed was one.
	DeleteMarker bool
}

// Delete deletes an object as S3's DeleteObject does. With a versionID it
// permanently removes that version (succeeding when there is none).
// Without one it adds a delete marker when versioning is enabled; when
// suspended, it replaces the null version with a null delete marker; and
// when never enabled it removes the null version. ErrNoSuchBucket.
func (s *Service) Delete(ctx context.Context, bucket, key, versionID string) (DeleteResult, error) {
	if err := checkKey(key); err != nil {
		return DeleteResult{}, err
	}
	b, err := s.Meta.Bucket(ctx, bucket)
	if err != nil {
		return DeleteResult{}, storeError(err, bucket, key, versionID)
	}
	if versionID != "" || b.Versioning == "" {
		id := versionID
		if id == "" {
			id = NullVersion
		}
		v, err := s.Meta.DeleteVersion(ctx, bucket, key, id)
		if errors.Is(err, ErrNoSuchVersion) {
			return DeleteResult{VersionID: versionID}, nil
		}
		if err != nil {
			return DeleteResult{}, storeError(err, bucket, key, versionID)
		}
		s.deleteVersionsData(ctx, []Version{v})
		return DeleteResult{VersionID: versionID, DeleteMarker: v.DeleteMarker}, nil
	}
	now := s.now()
	v, replaced, err := s.Meta.PutVersion(ctx, bucket, key, func(versioning string) (Version, error) {
		id := NullVersion
		if versioning == VersioningEnabled {
			id = newID(now)
		}
		return Version{ObjectInfo: ObjectInfo{Bucket: bucket, Key: key, VersionID: id, LastModified: now, IsLatest: true, DeleteMarker: true}}, nil
	})
	if err != nil {
		return DeleteResult{}, storeError(err, bucket, key, "")
	}
	s.deleteVersionsData(ctx, replaced)
	return DeleteResult{VersionID: v.VersionID, DeleteMarker: true}, nil
}

// DeleteAllVersions permanently removes every version and delete marker
// of key (used to withdraw the output of a failed job). A key without
// versions is not an error. ErrNoSuchBucket.
func (s *Service) DeleteAllVersions(ctx context.Context, bucket, key string) error {
	if _, err := s.Meta.Bucket(ctx, bucket); err != nil {
		return storeError(err, bucket, key, "")
	}
	vs, err := s.Meta.DeleteVersions(ctx, bucket, key)
	if err != nil {
		return storeError(err, bucket, key, "")
	}
	s.deleteVersionsData(ctx, vs)
	return nil
}
