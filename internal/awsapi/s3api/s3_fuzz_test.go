package s3api

import (
	"errors"
	"net/http"
	"testing"

	"github.com/signet/signet/internal/awsapi"
)

// FuzzParseRange checks that a Range header never panics the parser and
// that what it accepts lies inside the object: a range is either ignored,
// satisfiable, or InvalidRange (416).
func FuzzParseRange(f *testing.F) {
	for _, tc := range []struct {
		h    string
		size int64
	}{
		{"bytes=0-99", 1000}, {"bytes=-10", 1000}, {"bytes=990-", 1000},
		{"bytes=1000-", 1000}, {"bytes=-0", 1000}, {"bytes=5-2", 1000},
		{"bytes=0-0,5-9", 1000}, {"items=0-1", 1000}, {"bytes=-5", 0},
		{" bytes= 3-9223372036854775807", 10}, {"bytes=-9223372036854775808", 10},
	} {
		f.Add(tc.h, tc.size)
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return // object sizes are never negative
		}
		r, ok, err := parseRange(h, size)
		if err != nil {
			var e *awsapi.Error
			if ok || !errors.As(err, &e) || e.Code != "InvalidRange" || e.Status != http.StatusRequestedRangeNotSatisfiable {
				t.Fatalf("parseRange(%q, %d) = %v, %v, %v", h, size, r, ok, err)
			}
			return
		}
		if ok && (r.start < 0 || r.length < 1 || r.start > size-r.length) {
			t.Fatalf("parseRange(%q, %d) = %+v outside the object", h, size, r)
		}
	})
}

// FuzzParseDelete checks that the DeleteObjects parser never panics,
// fails only with 400 S3 errors, and accepts only 1 to 1,000 keys with a
// valid Quiet.
func FuzzParseDelete(f *testing.F) {
	f.Add([]byte(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object><Quiet>true</Quiet></Delete>`))
	f.Add([]byte(`<Delete><Object><Key>a</Key><VersionId>v1</VersionId></Object><Object><Key>b</Key></Object></Delete>`))
	f.Add([]byte(`<Delete></Delete>`))
	f.Add([]byte(`<Delete><Object><Key>a</Key></Object><Quiet>maybe</Quiet></Delete>`))
	f.Add([]byte(`<Other><Object><Key>a</Key></Object></Other>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := parseDelete(body)
		if err != nil {
			var e *awsapi.Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Fatalf("error %v is not a 400 S3 error", err)
			}
			return
		}
		if len(d.Objects) < 1 || len(d.Objects) > maxDeleteObjects {
			t.Fatalf("%d objects accepted", len(d.Objects))
		}
	})
}
