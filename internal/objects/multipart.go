package objects

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// CreateUpload starts a multipart upload of key. ErrNoSuchBucket,
// ErrInvalidKey.
func (s *Service) CreateUpload(ctx context.Context, bucket, key, contentType string) (Upload, error) {
	if err := checkKey(key); err != nil {
		return Upload{}, err
	}
	if contentType == "" {
		contentType = DefaultContentType
	}
	now := s.now()
	u := Upload{ID: newID(now), Bucket: bucket, Key: key, ContentType: contentType, CreatedAt: now}
	if err := s.Meta.CreateUpload(ctx, u); err != nil {
		return Upload{}, storeError(err, bucket, key, "")
	}
	return u, nil
}

// upload returns the upload uploadID of bucket/key. ErrNoSuchBucket,
// ErrNoSuchUpload.
func (s *Service) upload(ctx context.Context, bucket, key, uploadID string) (Upload, error) {
	if _, err := s.Meta.Bucket(ctx, bucket); err != nil {
		return Upload{}, storeError(err, bucket, key, "")
	}
	u, err := s.Meta.Upload(ctx, uploadID)
	if err == nil && (u.Bucket != bucket || u.Key != key) {
		err = ErrNoSuchUpload
	}
	return u, storeError(err, bucket, key, "")
}

// PartInput is one part of a multipart upload.
type PartInput struct {
	Bucket     string
	Key        string
	UploadID   string
	PartNumber int
	Body       io.Reader
	// ContentMD5, when set, is the MD5 the body must have (ErrBadDigest).
	ContentMD5 []byte
}

// UploadPart stores one part, replacing an earlier part with the same
// number. ErrNoSuchBucket, ErrNoSuchUpload, ErrInvalidArgument (part
// number), ErrBadDigest, ErrEntityTooLarge.
func (s *Service) UploadPart(ctx context.Context, in PartInput) (Part, error) {
	if in.PartNumber < 1 || in.PartNumber > MaxPartNumber {
		return Part{}, newError(ErrInvalidArgument, fmt.Sprintf("Part number must be an integer between 1 and %d, inclusive.", MaxPartNumber))
	}
	if _, err := s.upload(ctx, in.Bucket, in.Key, in.UploadID); err != nil {
		return Part{}, err
	}
	now := s.now()
	path := fmt.Sprintf("parts/%s/%05d-%s", in.UploadID, in.PartNumber, newID(now))
	d := newDigestReader(in.Body, MaxObjectSize, in.ContentMD5)
	n, err := s.Data.Write(ctx, path, d)
	if err != nil {
		return Part{}, bodyError(err)
	}
	p := Part{UploadID: in.UploadID, Number: in.PartNumber, Size: n, ETag: hex.EncodeToString(d.md5.Sum(nil)), Path: path, CreatedAt: now}
	replaced, err := s.Meta.PutPart(ctx, p)
	if err != nil {
		s.deleteData(ctx, path)
		return Part{}, storeError(err, in.Bucket, in.Key, "")
	}
	if replaced != "" {
		s.deleteData(ctx, replaced)
	}
	return p, nil
}

// CompletedPart names one part in a CompleteUpload request.
type CompletedPart struct {
	Number int
	ETag   string // as returned by UploadPart; quotes are ignored
}

// CompleteUpload assembles the listed parts, in ascending order, into the
// key's new latest version. The version's ETag is the hex MD5 of the
// concatenated binary part MD5s, "-", and the number of parts. Parts not
// listed are discarded. ErrNoSuchBucket, ErrNoSuchUpload, ErrInvalidPart,
// ErrInvalidPartOrder, ErrEntityTooSmall.
func (s *Service) CompleteUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletedPart) (ObjectInfo, error) {
	if len(parts) == 0 {
		return ObjectInfo{}, newError(ErrInvalidPart, "You must specify at least one part.")
	}
	for i := 1; i < len(parts); i++ {
		if parts[i].Number <= parts[i-1].Number {
			return ObjectInfo{}, newError(ErrInvalidPartOrder, "The list of parts was not in ascending order. Parts must be ordered by part number.")
		}
	}
	if _, err := s.upload(ctx, bucket, key, uploadID); err != nil {
		return ObjectInfo{}, err
	}
	now := s.now()
	minSize := s.minPartSize()
	v, orphans, err := s.Meta.CompleteUpload(ctx, uploadID, func(u Upload, stored []Part, versioning string) (Version, error) {
		if u.Bucket != bucket || u.Key != key {
			return Version{}, ErrNoSuchUpload
		}
		byNumber := make(map[int]Part, len(stored))
		for _, p := range stored {
			byNumber[p.Number] = p
		}
		sums := md5.New()
		segs := make([]Segment, 0, len(parts))
		var size int64
		for i, cp := range parts {
			p, ok := byNumber[cp.Number]
			if !ok || !etagEqual(cp.ETag, p.ETag) {
				return Version{}, newError(ErrInvalidPart, fmt.Sprintf("Part %d could not be found: it was not uploaded, or its ETag is not %s.", cp.Number, cp.ETag))
			}
			if i < len(parts)-1 && p.Size < minSize {
				return Version{}, newError(ErrEntityTooSmall, fmt.Sprintf("Your proposed upload is smaller than the minimum allowed object size: part %d has %d bytes; every part but the last needs at least %d.", p.Number, p.Size, minSize))
			}
			raw, err := hex.DecodeString(p.ETag)
			if err != nil {
				return Version{}, fmt.Errorf("part %d has a malformed stored ETag %q: %w", p.Number, p.ETag, err)
			}
			sums.Write(raw)
			segs = append(segs, Segment{Path: p.Path, Size: p.Size})
			size += p.Size
		}
		id := NullVersion
		if versioning == VersioningEnabled {
			id = newID(now)
		}
		etag := fmt.Sprintf("%s-%d", hex.EncodeToString(sums.Sum(nil)), len(parts))
		return Version{
			ObjectInfo: ObjectInfo{Bucket: bucket, Key: key, VersionID: id, Size: size, ETag: etag, ContentType: u.ContentType, LastModified: now, IsLatest: true},
			Segments:   segs,
		}, nil
	})
	if err != nil {
		return ObjectInfo{}, storeError(err, bucket, key, "")
	}
	s.deleteData(ctx, orphans...)
	return v.ObjectInfo, nil
}

// etagEqual compares ETags, ignoring surrounding quotes and case.
func etagEqual(a, b string) bool {
	return strings.EqualFold(strings.Trim(strings.TrimSpace(a), `"`), strings.Trim(strings.TrimSpace(b), `"`))
}

// AbortUpload discards a multipart upload and its parts.
// ErrNoSuchBucket, ErrNoSuchUpload.
func (s *Service) AbortUpload(ctx context.Context, bucket, key, uploadID string) error {
	if _, err := s.upload(ctx, bucket, key, uploadID); err != nil {
		return err
	}
	orphans, err := s.Meta.AbortUpload(ctx, uploadID)
	if err != nil {
		return storeError(err, bucket, key, "")
	}
	s.deleteData(ctx, orphans...)
	return nil
}
