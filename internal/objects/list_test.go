package objects_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/signet/signet/internal/objects"
)

// referenceList computes a whole listing the slow way. A startAfter that
// is itself a common prefix skips everything under it (ListObjects'
// NextMarker).
func referenceList(keys []string, prefix, delimiter, startAfter string) []string {
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	var out []string
	for _, k := range sorted {
		if !strings.HasPrefix(k, prefix) || k <= startAfter {
			continue
		}
		if delimiter != "" {
			if i := strings.Index(k[len(prefix):], delimiter); i >= 0 {
				cp := "P:" + k[:len(prefix)+i+len(delimiter)]
				if cp[2:] == startAfter {
					continue
				}
				if len(out) == 0 || out[len(out)-1] != cp {
					out = append(out, cp)
				}
				continue
			}
		}
		out = append(out, "K:"+k)
	}
	return out
}

var listKeys = []string{
	"a.txt", "dir/a", "dir/b", "dir/sub/c", "dir/sub/d", "dir2/x", "e", "photos/2026/01/x.jpg",
	"photos/2026/02/y.jpg", "photos/2027/z.jpg", "with space/ünïcode ✓.txt", "z/", "z//double", "ü",
}

func TestListPaginationMatchesReference(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.bucket(t, "bkt", objects.VersioningEnabled)
	for _, k := range listKeys {
		e.put(t, "bkt", k, k)
	}
	// A key whose latest version is a delete marker is not listed.
	e.put(t, "bkt", "gone", "x")
	if _, err := e.svc.Delete(ctx, "bkt", "gone", ""); err != nil {
		t.Fatal(err)
	}
	queries := []struct{ prefix, delimiter, startAfter string }{
		{"", "", ""}, {"", "/", ""}, {"dir/", "/", ""}, {"photos/", "/", ""}, {"photos/2026/", "/", ""},
		{"dir", "/", ""}, {"", "/", "dir/a"}, {"z/", "/", ""}, {"nothing", "", ""}, {"", "sub", ""}, {"", "/", "dir2/"},
	}
	for _, q := range queries {
		want := referenceList(listKeys, q.prefix, q.delimiter, q.startAfter)
		for _, max := range []int{1, 2, 3, 1000} {
			t.Run(fmt.Sprintf("ok/prefix=%q delim=%q after=%q max=%d", q.prefix, q.delimiter, q.startAfter, max), func(t *testing.T) {
				var got []string
				in := objects.ListInput{Prefix: q.prefix, Delimiter: q.delimiter, StartAfter: q.startAfter, MaxKeys: max}
				for page := 0; ; page++ {
					if page > len(listKeys)+2 {
						t.Fatal("pagination does not end")
					}
					res, err := e.svc.List(ctx, "bkt", in)
					if err != nil {
						t.Fatal(err)
					}
					if n := len(res.Objects) + len(res.CommonPrefixes); n > max {
						t.Fatalf("page of %d entries, max %d", n, max)
					}
					// Merge objects and prefixes back into key order.
					var entries []string
					for _, o := range res.Objects {
						entries = append(entries, "K:"+o.Key)
						if !o.IsLatest || o.ETag == "" {
							t.Errorf("listed %+v", o)
						}
					}
					for _, p := range res.CommonPrefixes {
						entries = append(entries, "P:"+p)
					}
					slices.SortFunc(entries, func(a, b string) int { return strings.Compare(a[2:], b[2:]) })
					got = append(got, entries...)
					if !res.IsTruncated {
						if res.NextContinuationToken != "" {
							t.Error("NextContinuationToken on the last page")
						}
						break
					}
					in.ContinuationToken = res.NextContinuationToken
				}
				if !slices.Equal(got, want) {
					t.Errorf("listing = %v\nwant %v", got, want)
				}
			})
		}
	}
}

func TestListMarkerSkipsCommonPrefix(t *testing.T) {
	e := newEnv(t)
	e.bucket(t, "bkt", "")
	for _, k := range listKeys {
		e.put(t, "bkt", k, k)
	}
	// ListObjects v1 resumes from NextMarker, which may be a common prefix.
	res, err := e.svc.List(context.Background(), "bkt", objects.ListInput{Delimiter: "/", MaxKeys: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsTruncated || res.NextMarker != "dir/" {
		t.Fatalf("first page = %+v, want truncated after dir/", res)
	}
	res, err = e.svc.List(context.Background(), "bkt", objects.ListInput{Delimiter: "/", MaxKeys: 2, StartAfter: res.NextMarker})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.CommonPrefixes, []string{"dir2/"}) || len(res.Objects) != 1 || res.Objects[0].Key != "e" {
		t.Errorf("second page = %+v, want dir2/ and e", res)
	}
}

func TestListErrors(t *testing.T) {
	e := newEnv(t)
	e.bucket(t, "bkt", "")
	ctx := context.Background()
	cases := []struct {
		name    string
		run     func() error
		wantErr error
	}{
		{"fail/missing bucket", func() error { _, err := e.svc.List(ctx, "missing", objects.ListInput{}); return err }, objects.ErrNoSuchBucket},
		{"fail/bad token", func() error {
			_, err := e.svc.List(ctx, "bkt", objects.ListInput{ContinuationToken: "!!"})
			return err
		}, objects.ErrInvalidArgument},
		{"fail/versions of missing bucket", func() error {
			_, err := e.svc.ListVersions(ctx, "missing", objects.ListVersionsInput{})
			return err
		}, objects.ErrNoSuchBucket},
		{"fail/version marker without key marker", func() error {
			_, err := e.svc.ListVersions(ctx, "bkt", objects.ListVersionsInput{VersionIDMarker: "x"})
			return err
		}, objects.ErrInvalidArgument},
		{"fail/unknown version marker", func() error {
			_, err := e.svc.ListVersions(ctx, "bkt", objects.ListVersionsInput{KeyMarker: "k", VersionIDMarker: "x"})
			return err
		}, objects.ErrInvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(); !errors.Is(err, c.wantErr) {
				t.Errorf("err = %v, want %v", err, c.wantErr)
			}
		})
	}
}

func TestListVersionsPagination(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.bucket(t, "bkt", objects.VersioningEnabled)
	var want []string
	for _, k := range []string{"a", "b/1", "b/2", "c"} {
		var ids []string
		for i := range 3 {
			ids = append(ids, e.put(t, "bkt", k, fmt.Sprint(k, i)).VersionID)
		}
		d, err := e.svc.Delete(ctx, "bkt", k, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.VersionID)
		slices.Reverse(ids)
		for _, id := range ids {
			want = append(want, k+"@"+id)
		}
	}
	for _, max := range []int{1, 2, 3, 5, 1000} {
		t.Run(fmt.Sprintf("ok/max=%d", max), func(t *testing.T) {
			var got []string
			in := objects.ListVersionsInput{MaxKeys: max}
			for page := 0; ; page++ {
				if page > 20 {
					t.Fatal("pagination does not end")
				}
				res, err := e.svc.ListVersions(ctx, "bkt", in)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range res.Versions {
					got = append(got, v.Key+"@"+v.VersionID)
				}
				if !res.IsTruncated {
					break
				}
				in.KeyMarker, in.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
			}
			if !slices.Equal(got, want) {
				t.Errorf("versions = %v\nwant %v", got, want)
			}
		})
	}
	t.Run("ok/delimiter", func(t *testing.T) {
		var prefixes, keys []string
		in := objects.ListVersionsInput{Delimiter: "/", MaxKeys: 2}
		for {
			res, err := e.svc.ListVersions(ctx, "bkt", in)
			if err != nil {
				t.Fatal(err)
			}
			prefixes = append(prefixes, res.CommonPrefixes...)
			for _, v := range res.Versions {
				keys = append(keys, v.Key)
			}
			if !res.IsTruncated {
				break
			}
			in.KeyMarker, in.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
		}
		if !slices.Equal(prefixes, []string{"b/"}) || len(keys) != 8 || slices.Contains(keys, "b/1") {
			t.Errorf("prefixes %v, keys %v", prefixes, keys)
		}
	})
}

// TestListAcrossBatches runs the listing tests again reading the store a
// few rows at a time, so that every page and common prefix also
// straddles the batches the listings read.
func TestListAcrossBatches(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("batch=%d", n), func(t *testing.T) {
			defer objects.SetListBatch(n)()
			t.Run("latest", TestListPaginationMatchesReference)
			t.Run("marker", TestListMarkerSkipsCommonPrefix)
			t.Run("versions", TestListVersionsPagination)
		})
	}
}
