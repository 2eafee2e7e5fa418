package objects

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
)

// listBatch is how many rows a list call reads from the store at a time.
var listBatch = 250

// ListInput selects the objects of a bucket, as ListObjectsV2 does.
type ListInput struct {
	Prefix    string
	Delimiter string
	// StartAfter lists only keys after this one. A StartAfter that is a
	// common prefix (ListObjects' NextMarker) skips the whole prefix.
	StartAfter string
	// ContinuationToken is a previous ListResult's NextContinuationToken.
	ContinuationToken string
	// MaxKeys bounds Objects plus CommonPrefixes; it is capped at
	// MaxListKeys, and 0 lists nothing.
	MaxKeys int
}

// ListResult is one page of objects.
type ListResult struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	IsTruncated    bool
	// NextContinuationToken resumes the listing when IsTruncated.
	NextContinuationToken string
	// NextMarker is the last key or common prefix returned when
	// IsTruncated (ListObjects' NextMarker).
	NextMarker string
}

// successor returns the first string after every string that has p as a
// prefix (p is never empty and holds UTF-8, whose bytes are below 0xff).
func successor(p string) string {
	return p[:len(p)-1] + string([]byte{p[len(p)-1] + 1})
}

// commonPrefix returns the common prefix key rolls up into, or "".
func commonPrefix(key, prefix, delimiter string) string {
	if delimiter == "" || !strings.HasPrefix(key, prefix) {
		return ""
	}
	if i := strings.Index(key[len(prefix):], delimiter); i >= 0 {
		return key[:len(prefix)+i+len(delimiter)]
	}
	return ""
}

// afterMarker returns the first key to list after marker: the next
// possible key, or past the whole common prefix when marker is one.
func afterMarker(marker, prefix, delimiter string) string {
	if cp := commonPrefix(marker, prefix, delimiter); cp != "" && cp == marker {
		return successor(cp)
	}
	return marker + "\x00"
}

func maxString(a, b string) string {
	if a > b {
		return a
	}
	return b
}

func capKeys(n int) int {
	if n < 0 || n > MaxListKeys {
		return MaxListKeys
	}
	return n
}

// List returns a page of the latest versions of a bucket's keys, skipping
// keys whose latest version is a delete marker, with keys sharing a
// prefix up to the delimiter rolled up into CommonPrefixes.
// ErrNoSuchBucket, ErrInvalidArgument (continuation token).
func (s *Service) List(ctx context.Context, bucket string, in ListInput) (ListResult, error) {
	if _, err := s.Meta.Bucket(ctx, bucket); err != nil {
		return ListResult{}, storeError(err, bucket, "", "")
	}
	from := in.Prefix
	if in.StartAfter != "" {
		from = maxString(from, afterMarker(in.StartAfter, in.Prefix, in.Delimiter))
	}
	if in.ContinuationToken != "" {
		tok, err := base64.RawURLEncoding.DecodeString(in.ContinuationToken)
		if err != nil || len(tok) == 0 {
			return ListResult{}, newError(ErrInvalidArgument, "The continuation token provided is incorrect.")
		}
		from = maxString(from, string(tok))
	}
	var res ListResult
	next := ""     // where the entry after the last one returned starts
	lastItem := "" // the last key or common prefix returned
	truncated, err := rollUp(in.Prefix, in.Delimiter, capKeys(in.MaxKeys),
		func() ([]Version, error) { return s.Meta.ListLatest(ctx, bucket, from, listBatch) },
		func(last Version, lastCP string) {
			from = last.Key + "\x00"
			if lastCP != "" && strings.HasPrefix(from, lastCP) {
				from = successor(lastCP)
			}
		},
		func(v Version, cp string) {
			if cp != "" {
				res.CommonPrefixes = append(res.CommonPrefixes, cp)
				lastItem, next = cp, successor(cp)
				return
			}
			res.Objects = append(res.Objects, v.ObjectInfo)
			lastItem, next = v.Key, v.Key+"\x00"
		})
	if err != nil {
		return ListResult{}, storeError(err, bucket, "", "")
	}
	if truncated {
		res.IsTruncated = true
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(next))
		res.NextMarker = lastItem
	}
	return res, nil
}

// rollUp walks a listing in batches: fetch reads the batch at the
// cursor, advance moves the cursor past the batch's last row (or past
// lastCP, the common prefix it is in). Keys sharing a prefix up to the
// delimiter are rolled up: take gets each object with cp "" and each
// common prefix once, with its first row. The walk ends when the keys
// leave the prefix, the rows run out, or max entries have been taken with
// more to come (truncated).
func rollUp(prefix, delimiter string, max int, fetch func() ([]Version, error), advance func(last Version, lastCP string), take func(v Version, cp string)) (truncated bool, err error) {
	lastCP := ""
	count := 0
	for {
		rows, err := fetch()
		if err != nil {
			return false, err
		}
		for _, v := range rows {
			if !strings.HasPrefix(v.Key, prefix) {
				return false, nil
			}
			if lastCP != "" && strings.HasPrefix(v.Key, lastCP) {
				continue
			}
			if count == max {
				return true, nil
			}
			count++
			cp := commonPrefix(v.Key, prefix, delimiter)
			if cp != "" {
				lastCP = cp
			}
			take(v, cp)
		}
		if len(rows) < listBatch {
			return false, nil
		}
		advance(rows[len(rows)-1], lastCP)
	}
}

// ListVersionsInput selects versions, as ListObjectVersions does.
type ListVersionsInput struct {
	Prefix    string
	Delimiter string
	// KeyMarker and VersionIDMarker resume after that version; a
	// KeyMarker alone resumes after every version of that key (or past
	// the whole common prefix when it is one).
	KeyMarker       string
	VersionIDMarker string
	// MaxKeys bounds Versions plus CommonPrefixes; it is capped at
	// MaxListKeys, and 0 lists nothing.
	MaxKeys int
}

// ListVersionsResult is one page of versions.
type ListVersionsResult struct {
	// Versions holds versions and delete markers, by key, newest first.
	Versions       []ObjectInfo
	CommonPrefixes []string
	IsTruncated    bool
	// NextKeyMarker and NextVersionIDMarker resume the listing when
	// IsTruncated. NextVersionIDMarker is "" after a common prefix.
	NextKeyMarker       string
	NextVersionIDMarker string
}

// ListVersions returns a page of every version and delete marker of a
// bucket, by key and newest first, with keys sharing a prefix up to the
// delimiter rolled up into CommonPrefixes. ErrNoSuchBucket,
// ErrInvalidArgument (markers).
func (s *Service) ListVersions(ctx context.Context, bucket string, in ListVersionsInput) (ListVersionsResult, error) {
	if _, err := s.Meta.Bucket(ctx, bucket); err != nil {
		return ListVersionsResult{}, storeError(err, bucket, "", "")
	}
	cur := VersionCursor{Key: in.Prefix}
	switch {
	case in.VersionIDMarker != "" && in.KeyMarker == "":
		return ListVersionsResult{}, newError(ErrInvalidArgument, "A version-id marker cannot be specified without a key marker.")
	case in.VersionIDMarker != "":
		v, err := s.Meta.Version(ctx, bucket, in.KeyMarker, in.VersionIDMarker)
		if err != nil {
			return ListVersionsResult{}, newError(ErrInvalidArgument, fmt.Sprintf("Invalid version id marker %q for key %q.", in.VersionIDMarker, in.KeyMarker))
		}
		if in.KeyMarker >= in.Prefix {
			cur = VersionCursor{Key: in.KeyMarker, BelowSeq: v.Seq}
		}
	case in.KeyMarker != "":
		if k := afterMarker(in.KeyMarker, in.Prefix, in.Delimiter); k > cur.Key {
			cur = VersionCursor{Key: k}
		}
	}
	var res ListVersionsResult
	var nextKey, nextVersion string
	truncated, err := rollUp(in.Prefix, in.Delimiter, capKeys(in.MaxKeys),
		func() ([]Version, error) { return s.Meta.ListVersions(ctx, bucket, cur, listBatch) },
		func(last Version, lastCP string) {
			cur = VersionCursor{Key: last.Key, BelowSeq: last.Seq}
			if lastCP != "" && strings.HasPrefix(last.Key, lastCP) {
				cur = VersionCursor{Key: successor(lastCP)}
			}
		},
		func(v Version, cp string) {
			if cp != "" {
				res.CommonPrefixes = append(res.CommonPrefixes, cp)
				nextKey, nextVersion = cp, ""
				return
			}
			res.Versions = append(res.Versions, v.ObjectInfo)
			nextKey, nextVersion = v.Key, v.VersionID
		})
	if err != nil {
		return ListVersionsResult{}, storeError(err, bucket, "", "")
	}
	if truncated {
		res.IsTruncated = true
		res.NextKeyMarker, res.NextVersionIDMarker = nextKey, nextVersion
	}
	return res, nil
}
