// Package s3api serves the S3 subset (REST-XML, path-style addressing):
// buckets, versioned objects, multipart uploads and listings, over the
// object store.
package s3api

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/objects"
)

// S3 serves the subset of the S3 REST-XML API that the AWS CLI's s3 and
// s3api commands and aws-sdk-go-v2 need, on the object store, with
// path-style addressing (http://host/bucket/key). Requests reaching it
// are authenticated, and their bodies are already wrapped to verify their
// payload checks while they stream (see sigv4.PayloadCheck); Content-
// Length is the decoded length.
type S3 struct {
	Objects    *objects.Service
	Authorizer awsapi.Authorizer
	Log        *slog.Logger
	// Region is the one region the store lives in.
	Region string
	// OwnerID names the owner of every bucket in listings.
	OwnerID string
}

// Limits of request documents.
const (
	maxVersioningBody = 64 << 10
	maxCompleteBody   = 4 << 20
	maxDeleteBody     = 4 << 20
	maxCreateBody     = 64 << 10
)

// s3Subresources are query parameters naming S3 sub-resources this store
// does not implement; a request carrying one is refused with NotImplemented
// rather than mistaken for a plain object or bucket request.
var s3Subresources = []string{
	"accelerate", "acl", "analytics", "attributes", "cors", "encryption", "intelligent-tiering", "inventory",
	"legal-hold", "lifecycle", "logging", "metadataTable", "metrics", "notification", "object-lock",
	"ownershipControls", "policy", "policyStatus", "publicAccessBlock", "replication", "requestPayment",
	"restore", "retention", "select", "session", "tagging", "torrent", "website", "renameObject",
}

// s3Request is a routed request: its bucket, key and query.
type s3Request struct {
	bucket, key string
	query       url.Values
}

func (q s3Request) has(name string) bool { _, ok := q.query[name]; return ok }

func parseRequest(r *http.Request) s3Request {
	bucket, key := awsapi.SplitPath(r.URL.Path)
	return s3Request{bucket: bucket, key: key, query: r.URL.Query()}
}

func bucketARN(r *http.Request) string { return "arn:aws:s3:::" + parseRequest(r).bucket }

func objectARN(r *http.Request) string {
	req := parseRequest(r)
	return "arn:aws:s3:::" + req.bucket + "/" + req.key
}

// Handler returns the S3 API handler.
func (s *S3) Handler() http.Handler { return s.Service().Handler() }

// protocol is S3's REST-XML, with the headers of an error about a delete
// marker.
var protocol = awsapi.RestXML{ErrorHeaders: func(h http.Header, err error) {
	var dm *objects.DeleteMarkerError
	if errors.As(err, &dm) {
		h.Set("X-Amz-Delete-Marker", "true")
		h.Set("X-Amz-Version-Id", dm.VersionID)
	}
}}

// Service returns the operations of the S3 API. A ServeMux cannot route
// S3 (keys are arbitrary, uncleaned paths), so route picks the operation
// by method, path shape and query parameters; an operation whose IAM
// action depends on the request (a versionId) is listed once per action.
func (s *S3) Service() *awsapi.Service {
	op := func(target, name, action string, res func(*http.Request) string, h func(http.ResponseWriter, *http.Request, s3Request) error) awsapi.Operation {
		return awsapi.Operation{Name: name, Target: target, Action: action, Resource: res, Handle: func(w http.ResponseWriter, r *http.Request) error {
			return h(w, r, parseRequest(r))
		}}
	}
	return &awsapi.Service{Name: "s3", Protocol: protocol, Errors: errorCodes, Internal: internalError,
		Throttle:  awsapi.Error{Code: "SlowDown", Status: http.StatusServiceUnavailable},
		Streaming: true, RequestIDHeader: "X-Amz-Request-Id", Authorizer: s.Authorizer, Log: s.Log,
		WrongRegion: func(got, want string) *awsapi.Error {
			return &awsapi.Error{Code: "AuthorizationHeaderMalformed", Status: http.StatusBadRequest,
				Message: fmt.Sprintf("The authorization header is malformed; the region '%s' is wrong; expecting '%s'", got, want)}
		},
		Router: func(r *http.Request) (string, error) { return route(r) },
		Operations: []awsapi.Operation{
			op("ListBuckets", "ListBuckets", "s3:ListAllMyBuckets", awsapi.AllResources, s.listBuckets),
			op("PutBucketVersioning", "PutBucketVersioning", "s3:PutBucketVersioning", bucketARN, s.putBucketVersioning),
			op("CreateBucket", "CreateBucket", "s3:CreateBucket", bucketARN, s.createBucket),
			op("GetBucketVersioning", "GetBucketVersioning", "s3:GetBucketVersioning", bucketARN, s.getBucketVersioning),
			op("GetBucketLocation", "GetBucketLocation", "s3:GetBucketLocation", bucketARN, s.getBucketLocation),
			op("ListObjectVersions", "ListObjectVersions", "s3:ListBucketVersions", bucketARN, s.listObjectVersions),
			op("ListObjectsV2", "ListObjectsV2", "s3:ListBucket", bucketARN, s.listObjectsV2),
			op("ListObjects", "ListObjects", "s3:ListBucket", bucketARN, s.listObjects),
			op("HeadBucket", "HeadBucket", "s3:ListBucket", bucketARN, s.headBucket),
			op("DeleteBucket", "DeleteBucket", "s3:DeleteBucket", bucketARN, s.deleteBucket),
			op("DeleteObjects", "DeleteObjects", "s3:DeleteObject", bucketARN, s.deleteObjects),
			op("UploadPart", "UploadPart", "s3:PutObject", objectARN, s.uploadPart),
			op("PutObject", "PutObject", "s3:PutObject", objectARN, s.putObject),
			op("GetObject", "GetObject", "s3:GetObject", objectARN, s.readObject),
			op("GetObjectVersion", "GetObject", "s3:GetObjectVersion", objectARN, s.readObject),
			op("HeadObject", "HeadObject", "s3:GetObject", objectARN, s.readObject),
			op("HeadObjectVersion", "HeadObject", "s3:GetObjectVersion", objectARN, s.readObject),
			op("CreateMultipartUpload", "CreateMultipartUpload", "s3:PutObject", objectARN, s.createMultipartUpload),
			op("CompleteMultipartUpload", "CompleteMultipartUpload", "s3:PutObject", objectARN, s.completeMultipartUpload),
			op("AbortMultipartUpload", "AbortMultipartUpload", "s3:AbortMultipartUpload", objectARN, s.abortMultipartUpload),
			op("DeleteObject", "DeleteObject", "s3:DeleteObject", objectARN, s.deleteObject),
			op("DeleteObjectVersion", "DeleteObject", "s3:DeleteObjectVersion", objectARN, s.deleteObject),
		},
	}
}

// readObject serves GetObject and HeadObject, hiding which keys exist
// from callers who may not list them.
func (s *S3) readObject(w http.ResponseWriter, r *http.Request, req s3Request) error {
	return s.hideMissing(r, req, s.getObject(w, r, req))
}

// log returns the logger; a nil Log discards.
func (s *S3) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// hideMissing answers a key or version that does not exist as S3 does:
// NoSuchKey (NoSuchVersion) only to a caller allowed s3:ListBucket on the
// bucket, AccessDenied to any other, so that reading tells no one which
// keys exist who may not list them.
func (s *S3) hideMissing(r *http.Request, req s3Request, err error) error {
	if !errors.Is(err, objects.ErrNoSuchKey) && !errors.Is(err, objects.ErrNoSuchVersion) {
		return err
	}
	var dm *objects.DeleteMarkerError
	if errors.As(err, &dm) {
		return err
	}
	if awsapi.AuthorizeAlso(s.Authorizer, r, "arn:aws:s3:::"+req.bucket, "s3:ListBucket") != nil {
		return &awsapi.Error{Code: "AccessDenied", Status: http.StatusForbidden, Message: "Access Denied"}
	}
	return err
}

func notImplemented(what string) *awsapi.Error {
	return &awsapi.Error{Code: "NotImplemented", Status: http.StatusNotImplemented, Message: "A header or parameter you provided implies functionality that is not implemented: " + what}
}

// route picks the operation (its Target) by method, path shape and query
// parameters.
func route(r *http.Request) (string, error) {
	req := parseRequest(r)
	for _, sub := range s3Subresources {
		if req.has(sub) {
			return "", notImplemented("the ?" + sub + " sub-resource")
		}
	}
	m := r.Method
	switch {
	case req.bucket == "":
		if m == http.MethodGet {
			return "ListBuckets", nil
		}
	case req.key == "":
		switch {
		case m == http.MethodPut && req.has("versioning"):
			return "PutBucketVersioning", nil
		case m == http.MethodPut:
			return "CreateBucket", nil
		case m == http.MethodGet && req.has("versioning"):
			return "GetBucketVersioning", nil
		case m == http.MethodGet && req.has("location"):
			return "GetBucketLocation", nil
		case m == http.MethodGet && req.has("versions"):
			return "ListObjectVersions", nil
		case m == http.MethodGet && req.has("uploads"):
			return "", notImplemented("ListMultipartUploads")
		case m == http.MethodGet && req.query.Get("list-type") == "2":
			return "ListObjectsV2", nil
		case m == http.MethodGet:
			return "ListObjects", nil
		case m == http.MethodHead:
			return "HeadBucket", nil
		case m == http.MethodDelete:
			return "DeleteBucket", nil
		case m == http.MethodPost && req.has("delete"):
			return "DeleteObjects", nil
		}
	default:
		copySource := r.Header.Get("X-Amz-Copy-Source") != ""
		versioned := req.query.Get("versionId") != ""
		switch {
		case m == http.MethodPut && copySource:
			return "", notImplemented("CopyObject and UploadPartCopy (x-amz-copy-source)")
		case m == http.MethodPut && req.has("uploadId"):
			return "UploadPart", nil
		case m == http.MethodPut:
			return "PutObject", nil
		case m == http.MethodGet && req.has("uploadId"):
			return "", notImplemented("ListParts")
		case (m == http.MethodGet || m == http.MethodHead) && req.has("partNumber"):
			return "", notImplemented("reading one part (partNumber); use a Range instead")
		case m == http.MethodGet || m == http.MethodHead:
			target := "GetObject"
			if m == http.MethodHead {
				target = "HeadObject"
			}
			if versioned {
				target += "Version"
			}
			return target, nil
		case m == http.MethodPost && req.has("uploads"):
			return "CreateMultipartUpload", nil
		case m == http.MethodPost && req.has("uploadId"):
			return "CompleteMultipartUpload", nil
		case m == http.MethodDelete && req.has("uploadId"):
			return "AbortMultipartUpload", nil
		case m == http.MethodDelete && versioned:
			return "DeleteObjectVersion", nil
		case m == http.MethodDelete:
			return "DeleteObject", nil
		}
	}
	return "", &awsapi.Error{Code: "MethodNotAllowed", Status: http.StatusMethodNotAllowed, Message: "The specified method is not allowed against this resource."}
}

// Errors.

// errorCodes are S3's codes for the object store's errors and for the
// failures of reading a request.
var errorCodes = []awsapi.ErrorCode{
	{Match: isDeleteMarkerVersion, Code: "MethodNotAllowed", Status: http.StatusMethodNotAllowed, Message: "The specified method is not allowed against this resource: the version is a delete marker."},
	{Err: objects.ErrNoSuchBucket, Code: "NoSuchBucket", Status: http.StatusNotFound},
	{Err: objects.ErrNoSuchKey, Code: "NoSuchKey", Status: http.StatusNotFound},
	{Err: objects.ErrNoSuchVersion, Code: "NoSuchVersion", Status: http.StatusNotFound},
	{Err: objects.ErrNoSuchUpload, Code: "NoSuchUpload", Status: http.StatusNotFound},
	{Err: objects.ErrBucketExists, Code: "BucketAlreadyOwnedByYou", Status: http.StatusConflict},
	{Err: objects.ErrBucketNotEmpty, Code: "BucketNotEmpty", Status: http.StatusConflict},
	{Err: objects.ErrInvalidBucketName, Code: "InvalidBucketName", Status: http.StatusBadRequest},
	{Err: objects.ErrKeyTooLong, Code: "KeyTooLongError", Status: http.StatusBadRequest},
	{Err: objects.ErrInvalidKey, Code: "InvalidArgument", Status: http.StatusBadRequest},
	{Err: objects.ErrInvalidPart, Code: "InvalidPart", Status: http.StatusBadRequest},
	{Err: objects.ErrInvalidPartOrder, Code: "InvalidPartOrder", Status: http.StatusBadRequest},
	{Err: objects.ErrEntityTooSmall, Code: "EntityTooSmall", Status: http.StatusBadRequest},
	{Err: objects.ErrEntityTooLarge, Code: "EntityTooLarge", Status: http.StatusBadRequest},
	{Err: objects.ErrBadDigest, Code: "BadDigest", Status: http.StatusBadRequest},
	{Err: objects.ErrInvalidArgument, Code: "InvalidArgument", Status: http.StatusBadRequest},
	{Err: io.ErrUnexpectedEOF, Code: "IncompleteBody", Status: http.StatusBadRequest, Message: "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	{Err: errXMLBodyTooLarge, Code: "MaxMessageLengthExceeded", Status: http.StatusBadRequest, Message: "Your request was too big."},
	{Match: isTimeout, Code: "RequestTimeout", Status: http.StatusBadRequest, Message: "Your socket connection to the server was not read from or written to within the timeout period."},
}

var internalError = awsapi.Error{Code: "InternalError", Status: http.StatusInternalServerError, Message: "We encountered an internal error. Please try again."}

// isDeleteMarkerVersion reports a version asked for that is a delete
// marker.
func isDeleteMarkerVersion(err error) bool {
	var dm *objects.DeleteMarkerError
	return errors.As(err, &dm) && errors.Is(dm, objects.ErrNoSuchVersion)
}

// isTimeout reports a request that was canceled or whose body stopped
// arriving (a read deadline passed).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// errorsOnly maps errors as the service does, for MapS3Error.
var errorsOnly = &awsapi.Service{Name: "s3", Errors: errorCodes, Internal: internalError}

// MapS3Error returns the S3 error err is answered with.
func MapS3Error(err error) *awsapi.Error {
	return protocol.Rename(errorsOnly.MapError("", err), err)
}

// readDocument reads a small request body (an XML document) of at most
// limit bytes, checking its Content-MD5 when present.
func readDocument(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%d bytes declared, more than %d: %w", r.ContentLength, limit, errXMLBodyTooLarge)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("more than %d bytes: %w", limit, errXMLBodyTooLarge)
	}
	want, err := contentMD5(r)
	if err != nil {
		return nil, err
	}
	if want != nil {
		if sum := md5.Sum(body); string(sum[:]) != string(want) {
			return nil, &awsapi.Error{Code: "BadDigest", Status: 400, Message: "The Content-MD5 you specified did not match what we received."}
		}
	}
	return body, nil
}

// contentMD5 decodes the Content-MD5 header; nil when absent.
func contentMD5(r *http.Request) ([]byte, error) {
	v := r.Header.Get("Content-Md5")
	if v == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != md5.Size {
		return nil, &awsapi.Error{Code: "InvalidDigest", Status: 400, Message: "The Content-MD5 you specified is not valid."}
	}
	return b, nil
}

// checkBodyLength refuses bodies of unknown or excessive length before
// reading them.
func checkBodyLength(r *http.Request) error {
	if r.ContentLength < 0 {
		return &awsapi.Error{Code: "MissingContentLength", Status: http.StatusLengthRequired, Message: "You must provide the Content-Length HTTP header."}
	}
	if r.ContentLength > objects.MaxObjectSize {
		return &awsapi.Error{Code: "EntityTooLarge", Status: 400, Message: fmt.Sprintf("Your proposed upload exceeds the maximum allowed size of %d bytes.", int64(objects.MaxObjectSize))}
	}
	return nil
}

// s3URLEncode encodes a key or prefix for encoding-type=url: every byte
// but unreserved characters and '/' is percent-encoded, which decodes the
// same with and without '+'-as-space rules.
func s3URLEncode(s string) string {
	const hexUpper = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexUpper[c>>4])
		b.WriteByte(hexUpper[c&15])
	}
	return b.String()
}

// encoder applies the request's encoding-type ("" or "url", echoed in
// the response) to keys and prefixes.
type encoder struct{ typ string }

func (e encoder) enc(s string) string {
	if e.typ == "url" {
		return s3URLEncode(s)
	}
	return s
}

// listParams reads the encoding-type and max-keys every listing takes.
func listParams(q url.Values) (encoder, int, error) {
	e, err := encodingType(q)
	if err != nil {
		return e, 0, err
	}
	max, err := maxKeys(q)
	return e, max, err
}

func encodingType(q url.Values) (encoder, error) {
	switch v := q.Get("encoding-type"); v {
	case "", "url":
		return encoder{typ: v}, nil
	default:
		return encoder{}, &awsapi.Error{Code: "InvalidArgument", Status: 400, Message: "Invalid Encoding Method specified in Request"}
	}
}

func maxKeys(q url.Values) (int, error) {
	v := q.Get("max-keys")
	if v == "" {
		return objects.MaxListKeys, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, &awsapi.Error{Code: "InvalidArgument", Status: 400, Message: "Provided max-keys not an integer or within integer range"}
	}
	return min(n, objects.MaxListKeys), nil
}

// versionHeader sets x-amz-version-id unless the bucket never had
// versioning (S3 sends none then).
func (s *S3) versionHeader(ctx context.Context, w http.ResponseWriter, bucket, versionID string) {
	if versionID == "" {
		return
	}
	if versionID == objects.NullVersion {
		if v, err := s.Objects.Versioning(ctx, bucket); err != nil || v == "" {
			return
		}
	}
	w.Header().Set("X-Amz-Version-Id", versionID)
}

// Bucket operations.

func (s *S3) listBuckets(w http.ResponseWriter, r *http.Request, _ s3Request) error {
	bs, err := s.Objects.ListBuckets(r.Context())
	if err != nil {
		return err
	}
	out := listAllMyBucketsResult{Owner: s3Owner{ID: s.OwnerID, DisplayName: "signet"}}
	for _, b := range bs {
		out.Buckets = append(out.Buckets, struct {
			Name         string `xml:"Name"`
			CreationDate string `xml:"CreationDate"`
		}{b.Name, s3Time(b.CreatedAt)})
	}
	return awsapi.WriteXML(w, out)
}

func (s *S3) createBucket(w http.ResponseWriter, r *http.Request, req s3Request) error {
	body, err := readDocument(r, maxCreateBody)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		var cfg struct {
			XMLName            xml.Name
			LocationConstraint string `xml:"LocationConstraint"`
		}
		if err := decodeXML(body, "CreateBucketConfiguration", &cfg); err != nil {
			return err
		}
		if lc := cfg.LocationConstraint; lc != "" && lc != s.Region {
			return &awsapi.Error{Code: "InvalidLocationConstraint", Status: 400, Message: fmt.Sprintf("The specified location-constraint is not valid: this store serves region %s.", s.Region)}
		}
	}
	if _, err := s.Objects.CreateBucket(r.Context(), req.bucket); err != nil {
		return err
	}
	w.Header().Set("Location", "/"+req.bucket)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *S3) headBucket(w http.ResponseWriter, r *http.Request, req s3Request) error {
	if _, err := s.Objects.Bucket(r.Context(), req.bucket); err != nil {
		return err
	}
	w.Header().Set("X-Amz-Bucket-Region", s.Region)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *S3) deleteBucket(w http.ResponseWriter, r *http.Request, req s3Request) error {
	return awsapi.Empty(w, http.StatusNoContent, s.Objects.DeleteBucket(r.Context(), req.bucket))
}

func (s *S3) getBucketLocation(w http.ResponseWriter, r *http.Request, req s3Request) error {
	if _, err := s.Objects.Bucket(r.Context(), req.bucket); err != nil {
		return err
	}
	region := s.Region
	if region == "us-east-1" {
		region = "" // S3's answer for us-east-1
	}
	return awsapi.WriteXML(w, locationConstraint{Region: region})
}

func (s *S3) putBucketVersioning(w http.ResponseWriter, r *http.Request, req s3Request) error {
	body, err := readDocument(r, maxVersioningBody)
	if err != nil {
		return err
	}
	status, err := parseVersioningConfiguration(body)
	if err != nil {
		return err
	}
	if status == "" {
		if _, err := s.Objects.Bucket(r.Context(), req.bucket); err != nil {
			return err
		}
	} else if err := s.Objects.SetVersioning(r.Context(), req.bucket, status); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *S3) getBucketVersioning(w http.ResponseWriter, r *http.Request, req s3Request) error {
	status, err := s.Objects.Versioning(r.Context(), req.bucket)
	if err != nil {
		return err
	}
	return awsapi.WriteXML(w, versioningConfigurationResult{Status: status})
}

// add lists res's objects and common prefixes, encoded by e.
func (out *listBucketResult) add(res objects.ListResult, e encoder) {
	for _, o := range res.Objects {
		out.Contents = append(out.Contents, contents(o, e))
	}
	for _, p := range res.CommonPrefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, s3CommonPrefix{e.enc(p)})
	}
}

func contents(o objects.ObjectInfo, e encoder) s3Contents {
	return s3Contents{Key: e.enc(o.Key), LastModified: s3Time(o.LastModified), ETag: s3ETag(o.ETag), Size: o.Size, StorageClass: "STANDARD"}
}

func (s *S3) listObjectsV2(w http.ResponseWriter, r *http.Request, req s3Request) error {
	q := req.query
	e, max, err := listParams(q)
	if err != nil {
		return err
	}
	in := objects.ListInput{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), StartAfter: q.Get("start-after"), ContinuationToken: q.Get("continuation-token"), MaxKeys: max}
	res, err := s.Objects.List(r.Context(), req.bucket, in)
	if err != nil {
		return err
	}
	n := len(res.Objects) + len(res.CommonPrefixes)
	out := listBucketResult{
		Name: req.bucket, EncodingType: e.typ, Prefix: e.enc(in.Prefix), Delimiter: e.enc(in.Delimiter), MaxKeys: max, IsTruncated: res.IsTruncated,
		KeyCount: &n, ContinuationToken: in.ContinuationToken, NextContinuationToken: res.NextContinuationToken, StartAfter: e.enc(in.StartAfter),
	}
	out.add(res, e)
	return awsapi.WriteXML(w, out)
}

func (s *S3) listObjects(w http.ResponseWriter, r *http.Request, req s3Request) error {
	q := req.query
	e, max, err := listParams(q)
	if err != nil {
		return err
	}
	marker := q.Get("marker")
	in := objects.ListInput{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), StartAfter: marker, MaxKeys: max}
	res, err := s.Objects.List(r.Context(), req.bucket, in)
	if err != nil {
		return err
	}
	m := e.enc(marker)
	out := listBucketResult{Name: req.bucket, EncodingType: e.typ, Prefix: e.enc(in.Prefix), Marker: &m, Delimiter: e.enc(in.Delimiter), MaxKeys: max, IsTruncated: res.IsTruncated}
	if res.IsTruncated && in.Delimiter != "" {
		out.NextMarker = e.enc(res.NextMarker)
	}
	out.add(res, e)
	return awsapi.WriteXML(w, out)
}

func (s *S3) listObjectVersions(w http.ResponseWriter, r *http.Request, req s3Request) error {
	q := req.query
	e, max, err := listParams(q)
	if err != nil {
		return err
	}
	in := objects.ListVersionsInput{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), KeyMarker: q.Get("key-marker"), VersionIDMarker: q.Get("version-id-marker"), MaxKeys: max}
	res, err := s.Objects.ListVersions(r.Context(), req.bucket, in)
	if err != nil {
		return err
	}
	out := listVersionsResult{
		Name: req.bucket, EncodingType: e.typ, Prefix: e.enc(in.Prefix), KeyMarker: e.enc(in.KeyMarker), VersionIDMarker: in.VersionIDMarker,
		MaxKeys: max, Delimiter: e.enc(in.Delimiter), IsTruncated: res.IsTruncated,
	}
	if res.IsTruncated {
		out.NextKeyMarker, out.NextVersionIDMarker = e.enc(res.NextKeyMarker), res.NextVersionIDMarker
	}
	for _, v := range res.Versions {
		entry := versionEntry{Key: e.enc(v.Key), VersionID: v.VersionID, IsLatest: v.IsLatest, LastModified: s3Time(v.LastModified)}
		if v.DeleteMarker {
			entry.Marker = true
		} else {
			size := v.Size
			entry.ETag, entry.Size, entry.StorageClass = s3ETag(v.ETag), &size, "STANDARD"
		}
		out.Entries = append(out.Entries, entry)
	}
	for _, p := range res.CommonPrefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, s3CommonPrefix{e.enc(p)})
	}
	return awsapi.WriteXML(w, out)
}

// deleteObjects deletes up to 1000 keys, authorizing each one.
func (s *S3) deleteObjects(w http.ResponseWriter, r *http.Request, req s3Request) error {
	body, err := readDocument(r, maxDeleteBody)
	if err != nil {
		return err
	}
	d, err := parseDelete(body)
	if err != nil {
		return err
	}
	if _, err := s.Objects.Bucket(r.Context(), req.bucket); err != nil {
		return err
	}
	caller, _ := awsapi.CallerFrom(r.Context())
	quiet := strings.TrimSpace(d.Quiet) == "true"
	var out deleteResult
	for _, o := range d.Objects {
		action := "s3:DeleteObject"
		if o.VersionID != "" {
			action = "s3:DeleteObjectVersion"
		}
		// Each key is a resource of its own, authorized for the caller
		// (and not counted again against the rate limit).
		err := s.Authorizer.Authorize(r.Context(), awsapi.AuthzRequest{Caller: caller, Operation: "s3:DeleteObjects", Action: action, Resource: "arn:aws:s3:::" + req.bucket + "/" + o.Key, Also: true})
		var res objects.DeleteResult
		if err == nil {
			res, err = s.Objects.Delete(r.Context(), req.bucket, o.Key, o.VersionID)
		}
		if err != nil {
			e := MapS3Error(err)
			if e.Status >= 500 {
				s.log().ErrorContext(r.Context(), "delete failed", "request_id", awsapi.RequestID(r.Context()), "key", o.Key, "err", err)
			}
			out.Errors = append(out.Errors, s3DeleteError{Key: o.Key, VersionID: o.VersionID, Code: e.Code, Message: e.Message})
			continue
		}
		if quiet {
			continue
		}
		entry := struct {
			Key                   string `xml:"Key"`
			VersionID             string `xml:"VersionId,omitempty"`
			DeleteMarker          bool   `xml:"DeleteMarker,omitempty"`
			DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId,omitempty"`
		}{Key: o.Key, VersionID: o.VersionID, DeleteMarker: res.DeleteMarker}
		if res.DeleteMarker && o.VersionID == "" {
			entry.DeleteMarkerVersionID = res.VersionID
		}
		out.Deleted = append(out.Deleted, entry)
	}
	return awsapi.WriteXML(w, out)
}

// Object operations.

func (s *S3) putObject(w http.ResponseWriter, r *http.Request, req s3Request) error {
	if err := checkBodyLength(r); err != nil {
		return err
	}
	md5sum, err := contentMD5(r)
	if err != nil {
		return err
	}
	info, err := s.Objects.PutObject(r.Context(), objects.PutInput{Bucket: req.bucket, Key: req.key, Body: r.Body, ContentType: r.Header.Get("Content-Type"), ContentMD5: md5sum})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", s3ETag(info.ETag))
	s.versionHeader(r.Context(), w, req.bucket, info.VersionID)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *S3) createMultipartUpload(w http.ResponseWriter, r *http.Request, req s3Request) error {
	u, err := s.Objects.CreateUpload(r.Context(), req.bucket, req.key, r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	return awsapi.WriteXML(w, initiateMultipartUploadResult{Bucket: req.bucket, Key: req.key, UploadID: u.ID})
}

func (s *S3) uploadPart(w http.ResponseWriter, r *http.Request, req s3Request) error {
	n, err := strconv.Atoi(req.query.Get("partNumber"))
	if err != nil {
		return &awsapi.Error{Code: "InvalidArgument", Status: 400, Message: fmt.Sprintf("Part number must be an integer between 1 and %d, inclusive.", objects.MaxPartNumber)}
	}
	if err := checkBodyLength(r); err != nil {
		return err
	}
	md5sum, err := contentMD5(r)
	if err != nil {
		return err
	}
	p, err := s.Objects.UploadPart(r.Context(), objects.PartInput{Bucket: req.bucket, Key: req.key, UploadID: req.query.Get("uploadId"), PartNumber: n, Body: r.Body, ContentMD5: md5sum})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", s3ETag(p.ETag))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *S3) completeMultipartUpload(w http.ResponseWriter, r *http.Request, req s3Request) error {
	body, err := readDocument(r, maxCompleteBody)
	if err != nil {
		return err
	}
	parts, err := parseCompleteMultipartUpload(body)
	if err != nil {
		return err
	}
	info, err := s.Objects.CompleteUpload(r.Context(), req.bucket, req.key, req.query.Get("uploadId"), parts)
	if err != nil {
		return err
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	loc := (&url.URL{Scheme: scheme, Host: r.Host, Path: "/" + req.bucket + "/" + req.key}).String()
	s.versionHeader(r.Context(), w, req.bucket, info.VersionID)
	return awsapi.WriteXML(w, completeMultipartUploadResult{Location: loc, Bucket: req.bucket, Key: req.key, ETag: s3ETag(info.ETag)})
}

func (s *S3) abortMultipartUpload(w http.ResponseWriter, r *http.Request, req s3Request) error {
	return awsapi.Empty(w, http.StatusNoContent, s.Objects.AbortUpload(r.Context(), req.bucket, req.key, req.query.Get("uploadId")))
}

func (s *S3) deleteObject(w http.ResponseWriter, r *http.Request, req s3Request) error {
	res, err := s.Objects.Delete(r.Context(), req.bucket, req.key, req.query.Get("versionId"))
	if err != nil {
		return err
	}
	if res.DeleteMarker {
		w.Header().Set("X-Amz-Delete-Marker", "true")
	}
	if res.VersionID != "" {
		w.Header().Set("X-Amz-Version-Id", res.VersionID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// byteRange is a satisfiable Range of an object.
type byteRange struct{ start, length int64 }

// parseRange interprets a Range header for an object of size bytes. ok is
// false when the header is absent or not one bytes range (the whole
// object is then sent); an unsatisfiable range is InvalidRange.
func parseRange(h string, size int64) (byteRange, bool, error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return byteRange{}, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return byteRange{}, false, nil
	}
	invalid := &awsapi.Error{Code: "InvalidRange", Status: http.StatusRequestedRangeNotSatisfiable, Message: "The requested range is not satisfiable"}
	if first == "" { // suffix: the last N bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return byteRange{}, false, nil
		}
		if n == 0 || size == 0 {
			return byteRange{}, false, invalid
		}
		n = min(n, size)
		return byteRange{size - n, n}, true, nil
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return byteRange{}, false, nil
	}
	end := size - 1
	if last != "" {
		if end, err = strconv.ParseInt(last, 10, 64); err != nil || end < start {
			return byteRange{}, false, nil
		}
		end = min(end, size-1)
	}
	if start >= size {
		return byteRange{}, false, invalid
	}
	return byteRange{start, end - start + 1}, true, nil
}

// checkConditions applies If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since; done means the response (304) is written.
func checkConditions(w http.ResponseWriter, r *http.Request, o *objects.Object) (done bool, err error) {
	etag := s3ETag(o.ETag)
	matches := func(list string) bool {
		for _, t := range strings.Split(list, ",") {
			if t = strings.TrimSpace(t); t == "*" || t == etag || t == o.ETag {
				return true
			}
		}
		return false
	}
	modified := o.LastModified.Truncate(time.Second)
	failed := &awsapi.Error{Code: "PreconditionFailed", Status: http.StatusPreconditionFailed, Message: "At least one of the pre-conditions you specified did not hold"}
	if v := r.Header.Get("If-Match"); v != "" {
		if !matches(v) {
			return false, failed
		}
	} else if v := r.Header.Get("If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && modified.After(t) {
			return false, failed
		}
	}
	notModified := false
	if v := r.Header.Get("If-None-Match"); v != "" {
		notModified = matches(v)
	} else if v := r.Header.Get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !modified.After(t) {
			notModified = true
		}
	}
	if notModified {
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", modified.UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusNotModified)
		return true, nil
	}
	return false, nil
}

// responseOverrides are the query parameters that set GetObject's
// response headers.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

// getObject serves GetObject and HeadObject, with Range (206) support.
func (s *S3) getObject(w http.ResponseWriter, r *http.Request, req s3Request) error {
	o, err := s.Objects.Open(r.Context(), req.bucket, req.key, req.query.Get("versionId"))
	if err != nil {
		return err
	}
	defer o.Close()
	if done, err := checkConditions(w, r, o); done || err != nil {
		return err
	}
	size := o.Size()
	rng, partial, err := parseRange(r.Header.Get("Range"), size)
	if err != nil {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		return err
	}
	if !partial {
		rng = byteRange{0, size}
	}
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	h.Set("ETag", s3ETag(o.ETag))
	h.Set("Last-Modified", o.LastModified.UTC().Format(http.TimeFormat))
	h.Set("Content-Type", o.ContentType)
	h.Set("Content-Length", strconv.FormatInt(rng.length, 10))
	s.versionHeader(r.Context(), w, req.bucket, o.VersionID)
	for param, header := range responseOverrides {
		if v := req.query.Get(param); v != "" {
			h.Set(header, v)
		}
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.start, rng.start+rng.length-1, size))
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return nil
	}
	body, err := o.NewReader(rng.start, rng.length)
	if err != nil {
		return err
	}
	defer body.Close()
	w.WriteHeader(status)
	if _, err := io.Copy(w, body); err != nil {
		// The status line is sent: the client sees a short body.
		s.log().WarnContext(r.Context(), "object body not fully sent", "request_id", awsapi.RequestID(r.Context()), "bucket", req.bucket, "key", req.key, "err", err)
	}
	return nil
}
