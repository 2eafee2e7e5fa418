package awsapi

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

	"github.com/signet/signet/internal/objects"
	"github.com/signet/signet/internal/sigv4"
)

// S3 serves the subset of the S3 REST-XML API that the AWS CLI's s3 and
// s3api commands and aws-sdk-go-v2 need, on the object store, with
// path-style addressing (http://host/bucket/key). Requests reaching it
// are authenticated, and their bodies are already wrapped to verify their
// payload checks while they stream (see sigv4.PayloadCheck); Content-
// Length is the decoded length.
type S3 struct {
	Objects    *objects.Service
	Authorizer Authorizer
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

func (s *S3) bucketARN(req s3Request) string { return "arn:aws:s3:::" + req.bucket }
func (s *S3) objectARN(req s3Request) string { return "arn:aws:s3:::" + req.bucket + "/" + req.key }

// s3Operation is one routed S3 operation.
type s3Operation struct {
	Name     string
	Action   string
	Resource func(s3Request) string // nil means "*"
	Handle   func(w http.ResponseWriter, r *http.Request, req s3Request) error
}

// Handler returns the S3 API handler.
func (s *S3) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// log returns the logger; a nil Log discards.
func (s *S3) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// splitPath splits a path-style request path into bucket and key.
func splitPath(p string) (bucket, key string) {
	p = strings.TrimPrefix(p, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

func (s *S3) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amz-Request-Id", RequestID(r.Context()))
	bucket, key := splitPath(r.URL.Path)
	req := s3Request{bucket: bucket, key: key, query: r.URL.Query()}
	op, err := s.route(r, req)
	if err != nil {
		s.writeError(w, r, "", err)
		return
	}
	caller, _ := CallerFrom(r.Context())
	res := "*"
	if op.Resource != nil {
		res = op.Resource(req)
	}
	if err := s.Authorizer.Authorize(r.Context(), AuthzRequest{Caller: caller, Operation: op.Name, Action: op.Action, Resource: res}); err != nil {
		s.writeError(w, r, op.Name, err)
		return
	}
	if err := op.Handle(w, r, req); err != nil {
		s.writeError(w, r, op.Name, s.hideMissing(r, op, req, err))
		return
	}
	s.log().DebugContext(r.Context(), "request served", "op", op.Name, "request_id", RequestID(r.Context()), "principal", caller.PrincipalARN)
}

// hideMissing answers a key or version that does not exist as S3 does:
// NoSuchKey (NoSuchVersion) only to a caller allowed s3:ListBucket on the
// bucket, AccessDenied to any other, so that reading tells no one which
// keys exist who may not list them.
func (s *S3) hideMissing(r *http.Request, op s3Operation, req s3Request, err error) error {
	if op.Name != "GetObject" && op.Name != "HeadObject" || !errors.Is(err, objects.ErrNoSuchKey) && !errors.Is(err, objects.ErrNoSuchVersion) {
		return err
	}
	var oe *objects.Error
	if errors.As(err, &oe) && oe.DeleteMarker {
		return err
	}
	if AuthorizeAlso(s.Authorizer, r.WithContext(context.WithValue(r.Context(), actionKey{}, op.Action)), s.bucketARN(req), "s3:ListBucket") != nil {
		return &Error{Code: "AccessDenied", Status: http.StatusForbidden, Message: "Access Denied"}
	}
	return err
}

func notImplemented(what string) *Error {
	return &Error{Code: "NotImplemented", Status: http.StatusNotImplemented, Message: "A header or parameter you provided implies functionality that is not implemented: " + what}
}

// route picks the operation by method, path shape and query parameters.
func (s *S3) route(r *http.Request, req s3Request) (s3Operation, error) {
	for _, sub := range s3Subresources {
		if req.has(sub) {
			return s3Operation{}, notImplemented("the ?" + sub + " sub-resource")
		}
	}
	m := r.Method
	switch {
	case req.bucket == "":
		if m == http.MethodGet {
			return s3Operation{Name: "ListBuckets", Action: "s3:ListAllMyBuckets", Handle: s.listBuckets}, nil
		}
	case req.key == "":
		switch {
		case m == http.MethodPut && req.has("versioning"):
			return s3Operation{"PutBucketVersioning", "s3:PutBucketVersioning", s.bucketARN, s.putBucketVersioning}, nil
		case m == http.MethodPut:
			return s3Operation{"CreateBucket", "s3:CreateBucket", s.bucketARN, s.createBucket}, nil
		case m == http.MethodGet && req.has("versioning"):
			return s3Operation{"GetBucketVersioning", "s3:GetBucketVersioning", s.bucketARN, s.getBucketVersioning}, nil
		case m == http.MethodGet && req.has("location"):
			return s3Operation{"GetBucketLocation", "s3:GetBucketLocation", s.bucketARN, s.getBucketLocation}, nil
		case m == http.MethodGet && req.has("versions"):
			return s3Operation{"ListObjectVersions", "s3:ListBucketVersions", s.bucketARN, s.listObjectVersions}, nil
		case m == http.MethodGet && req.has("uploads"):
			return s3Operation{}, notImplemented("ListMultipartUploads")
		case m == http.MethodGet && req.query.Get("list-type") == "2":
			return s3Operation{"ListObjectsV2", "s3:ListBucket", s.bucketARN, s.listObjectsV2}, nil
		case m == http.MethodGet:
			return s3Operation{"ListObjects", "s3:ListBucket", s.bucketARN, s.listObjects}, nil
		case m == http.MethodHead:
			return s3Operation{"HeadBucket", "s3:ListBucket", s.bucketARN, s.headBucket}, nil
		case m == http.MethodDelete:
			return s3Operation{"DeleteBucket", "s3:DeleteBucket", s.bucketARN, s.deleteBucket}, nil
		case m == http.MethodPost && req.has("delete"):
			return s3Operation{"DeleteObjects", "s3:DeleteObject", s.bucketARN, s.deleteObjects}, nil
		}
	default:
		copySource := r.Header.Get("X-Amz-Copy-Source") != ""
		switch {
		case m == http.MethodPut && copySource:
			return s3Operation{}, notImplemented("CopyObject and UploadPartCopy (x-amz-copy-source)")
		case m == http.MethodPut && req.has("uploadId"):
			return s3Operation{"UploadPart", "s3:PutObject", s.objectARN, s.uploadPart}, nil
		case m == http.MethodPut:
			return s3Operation{"PutObject", "s3:PutObject", s.objectARN, s.putObject}, nil
		case m == http.MethodGet && req.has("uploadId"):
			return s3Operation{}, notImplemented("ListParts")
		case (m == http.MethodGet || m == http.MethodHead) && req.has("partNumber"):
			return s3Operation{}, notImplemented("reading one part (partNumber); use a Range instead")
		case m == http.MethodGet || m == http.MethodHead:
			name, action := "GetObject", "s3:GetObject"
			if m == http.MethodHead {
				name = "HeadObject"
			}
			if req.query.Get("versionId") != "" {
				action = "s3:GetObjectVersion"
			}
			return s3Operation{name, action, s.objectARN, s.getObject}, nil
		case m == http.MethodPost && req.has("uploads"):
			return s3Operation{"CreateMultipartUpload", "s3:PutObject", s.objectARN, s.createMultipartUpload}, nil
		case m == http.MethodPost && req.has("uploadId"):
			return s3Operation{"CompleteMultipartUpload", "s3:PutObject", s.objectARN, s.completeMultipartUpload}, nil
		case m == http.MethodDelete && req.has("uploadId"):
			return s3Operation{"AbortMultipartUpload", "s3:AbortMultipartUpload", s.objectARN, s.abortMultipartUpload}, nil
		case m == http.MethodDelete:
			action := "s3:DeleteObject"
			if req.query.Get("versionId") != "" {
				action = "s3:DeleteObjectVersion"
			}
			return s3Operation{"DeleteObject", action, s.objectARN, s.deleteObject}, nil
		}
	}
	return s3Operation{}, &Error{Code: "MethodNotAllowed", Status: http.StatusMethodNotAllowed, Message: "The specified method is not allowed against this resource."}
}

// Errors.

// s3AuthCodes renames the SigV4 verifier's error codes (AWS's JSON
// services' names) to S3's.
var s3AuthCodes = map[string]struct {
	code    string
	status  int
	message string // "" keeps the verifier's
}{
	"MissingAuthenticationTokenException": {"AccessDenied", http.StatusForbidden, "Access Denied"},
	"IncompleteSignatureException":        {"AuthorizationHeaderMalformed", http.StatusBadRequest, ""},
	"InvalidSignatureException":           {"SignatureDoesNotMatch", http.StatusForbidden, ""},
	"UnrecognizedClientException":         {"InvalidAccessKeyId", http.StatusForbidden, "The AWS Access Key Id you provided does not exist in our records."},
	"ExpiredTokenException":               {"ExpiredToken", http.StatusBadRequest, "The provided token has expired."},
	"AccessDeniedException":               {"AccessDenied", http.StatusForbidden, ""},
	"InternalServiceErrorException":       {"InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again."},
}

// s3Codes maps the object store's sentinels to S3's codes.
var s3Codes = []struct {
	kind   error
	code   string
	status int
}{
	{objects.ErrNoSuchBucket, "NoSuchBucket", http.StatusNotFound},
	{objects.ErrNoSuchKey, "NoSuchKey", http.StatusNotFound},
	{objects.ErrNoSuchVersion, "NoSuchVersion", http.StatusNotFound},
	{objects.ErrNoSuchUpload, "NoSuchUpload", http.StatusNotFound},
	{objects.ErrBucketExists, "BucketAlreadyOwnedByYou", http.StatusConflict},
	{objects.ErrBucketNotEmpty, "BucketNotEmpty", http.StatusConflict},
	{objects.ErrInvalidBucketName, "InvalidBucketName", http.StatusBadRequest},
	{objects.ErrKeyTooLong, "KeyTooLongError", http.StatusBadRequest},
	{objects.ErrInvalidKey, "InvalidArgument", http.StatusBadRequest},
	{objects.ErrInvalidPart, "InvalidPart", http.StatusBadRequest},
	{objects.ErrInvalidPartOrder, "InvalidPartOrder", http.StatusBadRequest},
	{objects.ErrEntityTooSmall, "EntityTooSmall", http.StatusBadRequest},
	{objects.ErrEntityTooLarge, "EntityTooLarge", http.StatusBadRequest},
	{objects.ErrBadDigest, "BadDigest", http.StatusBadRequest},
	{objects.ErrInvalidArgument, "InvalidArgument", http.StatusBadRequest},
}

// MapS3Error turns any error into an S3 error: the one place that knows
// S3's names for the object store's errors and for SigV4 failures.
// Unknown errors become InternalError without detail.
func MapS3Error(err error) *Error {
	var ae *sigv4.Error
	if errors.As(err, &ae) {
		if ae.Skewed {
			return &Error{Code: "RequestTimeTooSkewed", Status: http.StatusForbidden, Message: "The difference between the request time and the current time is too large. " + ae.Message}
		}
		return renameAuth(&Error{Code: ae.Code, Status: ae.Status, Message: ae.Message})
	}
	var e *Error
	if errors.As(err, &e) {
		return renameAuth(e)
	}
	var oe *objects.Error
	if errors.As(err, &oe) {
		if errors.Is(oe, objects.ErrNoSuchVersion) && oe.DeleteMarker {
			return &Error{Code: "MethodNotAllowed", Status: http.StatusMethodNotAllowed, Message: "The specified method is not allowed against this resource: the version is a delete marker."}
		}
		for _, c := range s3Codes {
			if errors.Is(err, c.kind) {
				return &Error{Code: c.code, Status: c.status, Message: oe.Msg}
			}
		}
	}
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Code: "IncompleteBody", Status: http.StatusBadRequest, Message: "You did not provide the number of bytes specified by the Content-Length HTTP header."}
	case errors.Is(err, errXMLBodyTooLarge):
		return &Error{Code: "MaxMessageLengthExceeded", Status: http.StatusBadRequest, Message: "Your request was too big."}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return &Error{Code: "RequestTimeout", Status: http.StatusBadRequest, Message: "Your socket connection to the server was not read from or written to within the timeout period."}
	}
	return &Error{Code: "InternalError", Status: http.StatusInternalServerError, Message: "We encountered an internal error. Please try again."}
}

// isTimeout reports a read deadline passing: the body arrived too slowly.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func renameAuth(e *Error) *Error {
	if n, ok := s3AuthCodes[e.Code]; ok {
		msg := e.Message
		if n.message != "" {
			msg = n.message
		}
		return &Error{Code: n.code, Status: n.status, Message: msg}
	}
	return e
}

// WriteError writes err as S3 does: an <Error> document (no body for
// HEAD) with the bucket or key it concerns. It is also how the server
// reports authentication failures of S3 requests.
func (s *S3) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeError(w, r, "", err)
}

func (s *S3) writeError(w http.ResponseWriter, r *http.Request, op string, err error) {
	e := MapS3Error(err)
	log := s.log()
	if e.Status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "op", op, "request_id", RequestID(r.Context()), "err", err)
	} else {
		log.InfoContext(r.Context(), "request refused", "op", op, "request_id", RequestID(r.Context()), "code", e.Code, "err", err)
	}
	bucket, key := splitPath(r.URL.Path)
	doc := s3ErrorDocument{Code: e.Code, Message: e.Message, RequestID: RequestID(r.Context())}
	switch e.Code {
	case "NoSuchBucket", "BucketNotEmpty", "BucketAlreadyOwnedByYou", "InvalidBucketName":
		doc.BucketName = bucket
	case "NoSuchKey", "KeyTooLongError":
		doc.Key = key
	case "NoSuchVersion", "MethodNotAllowed":
		doc.Key, doc.VersionID = key, r.URL.Query().Get("versionId")
	case "NoSuchUpload":
		doc.UploadID = r.URL.Query().Get("uploadId")
	}
	h := w.Header()
	var oe *objects.Error
	if errors.As(err, &oe) && oe.DeleteMarker {
		h.Set("X-Amz-Delete-Marker", "true")
		h.Set("X-Amz-Version-Id", oe.VersionID)
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	body, merr := marshalXML(doc)
	if merr != nil {
		w.WriteHeader(e.Status)
		return
	}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	w.Write(body)
}

// writeXML writes a 200 response with v as an XML document.
func writeXML(w http.ResponseWriter, v any) error {
	body, err := marshalXML(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(body)
	return err
}

// readDocument reads a small request body (an XML document) of at most
// limit bytes, checking its Content-MD5 when present.
func readDocument(r *http.Request, limit int64) ([]byte, error) {
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
			return nil, &Error{Code: "BadDigest", Status: 400, Message: "The Content-MD5 you specified did not match what we received."}
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
		return nil, &Error{Code: "InvalidDigest", Status: 400, Message: "The Content-MD5 you specified is not valid."}
	}
	return b, nil
}

// checkBodyLength refuses bodies of unknown or excessive length before
// reading them.
func checkBodyLength(r *http.Request) error {
	if r.ContentLength < 0 {
		return &Error{Code: "MissingContentLength", Status: http.StatusLengthRequired, Message: "You must provide the Content-Length HTTP header."}
	}
	if r.ContentLength > objects.MaxObjectSize {
		return &Error{Code: "EntityTooLarge", Status: 400, Message: fmt.Sprintf("Your proposed upload exceeds the maximum allowed size of %d bytes.", int64(objects.MaxObjectSize))}
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
		return encoder{}, &Error{Code: "InvalidArgument", Status: 400, Message: "Invalid Encoding Method specified in Request"}
	}
}

func maxKeys(q url.Values) (int, error) {
	v := q.Get("max-keys")
	if v == "" {
		return objects.MaxListKeys, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, &Error{Code: "InvalidArgument", Status: 400, Message: "Provided max-keys not an integer or within integer range"}
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
	return writeXML(w, out)
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
			return &Error{Code: "InvalidLocationConstraint", Status: 400, Message: fmt.Sprintf("The specified location-constraint is not valid: this store serves region %s.", s.Region)}
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
	if err := s.Objects.DeleteBucket(r.Context(), req.bucket); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *S3) getBucketLocation(w http.ResponseWriter, r *http.Request, req s3Request) error {
	if _, err := s.Objects.Bucket(r.Context(), req.bucket); err != nil {
		return err
	}
	region := s.Region
	if region == "us-east-1" {
		region = "" // S3's answer for us-east-1
	}
	return writeXML(w, locationConstraint{Region: region})
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
	return writeXML(w, versioningConfigurationResult{Status: status})
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
	return writeXML(w, out)
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
	return writeXML(w, out)
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
	return writeXML(w, out)
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
	caller, _ := CallerFrom(r.Context())
	quiet := strings.TrimSpace(d.Quiet) == "true"
	var out deleteResult
	for _, o := range d.Objects {
		action := "s3:DeleteObject"
		if o.VersionID != "" {
			action = "s3:DeleteObjectVersion"
		}
		// Each key is a resource of its own, authorized for the caller
		// (and not counted again against the rate limit).
		err := s.Authorizer.Authorize(r.Context(), AuthzRequest{Caller: caller, Operation: "s3:DeleteObjects", Action: action, Resource: "arn:aws:s3:::" + req.bucket + "/" + o.Key, Also: true})
		var res objects.DeleteResult
		if err == nil {
			res, err = s.Objects.Delete(r.Context(), req.bucket, o.Key, o.VersionID)
		}
		if err != nil {
			e := MapS3Error(err)
			if e.Status >= 500 {
				s.log().ErrorContext(r.Context(), "delete failed", "request_id", RequestID(r.Context()), "key", o.Key, "err", err)
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
	return writeXML(w, out)
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
	return writeXML(w, initiateMultipartUploadResult{Bucket: req.bucket, Key: req.key, UploadID: u.ID})
}

func (s *S3) uploadPart(w http.ResponseWriter, r *http.Request, req s3Request) error {
	n, err := strconv.Atoi(req.query.Get("partNumber"))
	if err != nil {
		return &Error{Code: "InvalidArgument", Status: 400, Message: fmt.Sprintf("Part number must be an integer between 1 and %d, inclusive.", objects.MaxPartNumber)}
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
	return writeXML(w, completeMultipartUploadResult{Location: loc, Bucket: req.bucket, Key: req.key, ETag: s3ETag(info.ETag)})
}

func (s *S3) abortMultipartUpload(w http.ResponseWriter, r *http.Request, req s3Request) error {
	if err := s.Objects.AbortUpload(r.Context(), req.bucket, req.key, req.query.Get("uploadId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
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
	invalid := &Error{Code: "InvalidRange", Status: http.StatusRequestedRangeNotSatisfiable, Message: "The requested range is not satisfiable"}
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
	failed := &Error{Code: "PreconditionFailed", Status: http.StatusPreconditionFailed, Message: "At least one of the pre-conditions you specified did not hold"}
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
		s.log().WarnContext(r.Context(), "object body not fully sent", "request_id", RequestID(r.Context()), "bucket", req.bucket, "key", req.key, "err", err)
	}
	return nil
}
