package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/objects"
	"github.com/signet/signet/internal/store"
)

// objectTests are the conformance tests of objects.MetaStore.
var objectTests = map[string]func(*testing.T, Opener){
	"objects/buckets":          testBuckets,
	"objects/referenced-blobs": testReferencedBlobs,
	"objects/delete-bucket":    testDeleteBucket,
	"objects/null-versions":    testNullVersions,
	"objects/enabled-versions": testEnabledVersions,
	"objects/delete-version":   testDeleteVersion,
	"objects/delete-versions":  testDeleteVersions,
	"objects/list-latest":      testListLatest,
	"objects/list-versions":    testListVersions,
	"objects/uploads":          testUploads,
	"objects/complete-upload":  testCompleteUpload,
	"objects/durability":       testObjectsReopen,
}

func mustBucket(t *testing.T, db *store.DB, name, versioning string) {
	t.Helper()
	ctx := context.Background()
	if err := db.Objects.CreateBucket(ctx, objects.Bucket{Name: name, CreatedAt: t0}); err != nil {
		t.Fatalf("CreateBucket(%s): %v", name, err)
	}
	if versioning != "" {
		if err := db.Objects.SetBucketVersioning(ctx, name, versioning); err != nil {
			t.Fatalf("SetBucketVersioning(%s): %v", name, err)
		}
	}
}

// putVersion stores a version whose single segment is path, with the
// version id id (or "null").
func putVersion(t *testing.T, db *store.DB, bucket, key, id, path string) (objects.Version, []objects.Version) {
	t.Helper()
	v, replaced, err := db.Objects.PutVersion(context.Background(), bucket, key, func(string) (objects.Version, error) {
		return objects.Version{
			ObjectInfo: objects.ObjectInfo{VersionID: id, Size: 3, ETag: "etag-" + path, ContentType: "text/plain", LastModified: t0},
			Segments:   []objects.Segment{{Path: path, Size: 3}},
		}, nil
	})
	if err != nil {
		t.Fatalf("PutVersion(%s, %s, %s): %v", bucket, key, id, err)
	}
	return v, replaced
}

func putMarker(t *testing.T, db *store.DB, bucket, key, id string) objects.Version {
	t.Helper()
	v, _, err := db.Objects.PutVersion(context.Background(), bucket, key, func(string) (objects.Version, error) {
		return objects.Version{ObjectInfo: objects.ObjectInfo{VersionID: id, LastModified: t0, DeleteMarker: true}}, nil
	})
	if err != nil {
		t.Fatalf("PutVersion(marker %s): %v", id, err)
	}
	return v
}

func versionIDs(vs []objects.Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Key+"@"+v.VersionID)
	}
	return out
}

func testBuckets(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	mustBucket(t, db, "beta", "")
	mustBucket(t, db, "alpha", "")
	if err := db.Objects.CreateBucket(ctx, objects.Bucket{Name: "alpha", CreatedAt: t0}); !errors.Is(err, objects.ErrBucketExists) {
		t.Errorf("second CreateBucket = %v, want ErrBucketExists", err)
	}
	b, err := db.Objects.Bucket(ctx, "alpha")
	if err != nil || b.Name != "alpha" || b.Versioning != "" || !b.CreatedAt.Equal(t0) {
		t.Errorf("Bucket(alpha) = %+v, %v", b, err)
	}
	if _, err := db.Objects.Bucket(ctx, "missing"); !errors.Is(err, objects.ErrNoSuchBucket) {
		t.Errorf("Bucket(missing) = %v, want ErrNoSuchBucket", err)
	}
	for _, status := range []string{objects.VersioningEnabled, objects.VersioningSuspended} {
		if err := db.Objects.SetBucketVersioning(ctx, "alpha", status); err != nil {
			t.Fatal(err)
		}
		if b, _ := db.Objects.Bucket(ctx, "alpha"); b.Versioning != status {
			t.Errorf("versioning = %q, want %q", b.Versioning, status)
		}
	}
	if err := db.Objects.SetBucketVersioning(ctx, "missing", objects.VersioningEnabled); !errors.Is(err, objects.ErrNoSuchBucket) {
		t.Errorf("SetBucketVersioning(missing) = %v, want ErrNoSuchBucket", err)
	}
	bs, err := db.Objects.ListBuckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range bs {
		names = append(names, b.Name)
	}
	if !slices.Equal(names, []string{"alpha", "beta"}) {
		t.Errorf("ListBuckets = %v, want [alpha beta]", names)
	}
}

func testDeleteBucket(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	mustBucket(t, db, "full", "")
	mustBucket(t, db, "empty", "")
	putVersion(t, db, "full", "k", objects.NullVersion, "d1")
	if err := db.Objects.CreateUpload(ctx, objects.Upload{ID: "u1", Bucket: "empty", Key: "k", ContentType: "a/b", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Objects.PutPart(ctx, objects.Part{UploadID: "u1", Number: 1, Size: 1, ETag: "e", Path: "p1", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, bucket string
		wantErr      error
		wantOrphans  []string
	}{
		{"fail/not empty", "full", objects.ErrBucketNotEmpty, nil},
		{"fail/missing", "missing", objects.ErrNoSuchBucket, nil},
		{"ok/empty with an upload", "empty", nil, []string{"p1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			orphans, err := db.Objects.DeleteBucket(ctx, c.bucket)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("DeleteBucket(%s) = %v, want %v", c.bucket, err, c.wantErr)
			}
			if !slices.Equal(orphans, c.wantOrphans) {
				t.Errorf("orphans = %v, want %v", orphans, c.wantOrphans)
			}
		})
	}
	if _, err := db.Objects.Bucket(ctx, "empty"); !errors.Is(err, objects.ErrNoSuchBucket) {
		t.Errorf("deleted bucket still there: %v", err)
	}
	if _, err := db.Objects.Upload(ctx, "u1"); !errors.Is(err, objects.ErrNoSuchUpload) {
		t.Errorf("deleting a bucket left its upload: %v", err)
	}
	if _, err := db.Objects.Bucket(ctx, "full"); err != nil {
		t.Errorf("refused DeleteBucket removed the bucket: %v", err)
	}
}

func testNullVersions(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	mustBucket(t, db, "b", "")
	if _, _, err := db.Objects.PutVersion(ctx, "missing", "k", func(string) (objects.Version, error) { return objects.Version{}, nil }); !errors.Is(err, objects.ErrNoSuchBucket) {
		t.Errorf("PutVersion(missing bucket) = %v, want ErrNoSuchBucket", err)
	}
	var seen string
	_, _, err := db.Objects.PutVersion(ctx, "b", "k", func(v string) (objects.Version, error) {
		seen = v
		return objects.Version{}, errors.New("refused")
	})
	if err == nil || err.Error() != "refused" || seen != "" {
		t.Errorf("PutVersion with a failing fn = %v (versioning %q), want fn's error", err, seen)
	}
	if _, err := db.Objects.Version(ctx, "b", "k", ""); !errors.Is(err, objects.ErrNoSuchKey) {
		t.Errorf("a refused PutVersion stored something: %v", err)
	}
	v1, replaced := putVersion(t, db, "b", "k", objects.NullVersion, "d1")
	if len(replaced) != 0 || v1.Seq == 0 || !v1.IsLatest {
		t.Errorf("first put = %+v, replaced %v", v1, versionIDs(replaced))
	}
	v2, replaced := putVersion(t, db, "b", "k", objects.NullVersion, "d2")
	if len(replaced) != 1 || replaced[0].Segments[0].Path != "d1" || v2.Seq <= v1.Seq {
		t.Fatalf("second put replaced %+v, want the first null version", replaced)
	}
	got, err := db.Objects.Version(ctx, "b", "k", "")
	if err != nil || got.Segments[0].Path != "d2" || got.VersionID != objects.NullVersion || !got.IsLatest || got.ETag != "etag-d2" ||
		got.ContentType != "text/plain" || got.Size != 3 || !got.LastModified.Equal(t0) {
		t.Errorf("latest = %+v, %v", got, err)
	}
	all, err := db.Objects.ListVersions(ctx, "b", objects.VersionCursor{}, 10)
	if err != nil || len(all) != 1 {
		t.Errorf("ListVersions = %v, %v; want the one null version", versionIDs(all), err)
	}
}

func testEnabledVersions(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	mustBucket(t, db, "b", objects.VersioningEnabled)
	var seen string
	db.Objects.PutVersion(ctx, "b", "k", func(v string) (objects.Version, error) { seen = v; return objects.Version{}, errors.New("no") })
	if seen != objects.VersioningEnabled {
		t.Errorf("fn saw versioning %q, want Enabled", seen)
	}
	putVersion(t, db, "b", "k", "v1", "d1")
	putVersion(t, db, "b", "k", "v2", "d2")
	putMarker(t, db, "b", "k", "v3")
	cases := []struct {
		name, id   string
		wantID     string
		wantMarker bool
		wantLatest bool
		wantErr    error
	}{
		{"ok/latest is the marker", "", "v3", true, true, nil},
		{"ok/old version", "v1", "v1", false, false, nil},
		{"ok/middle version", "v2", "v2", false, false, nil},
		{"fail/unknown version", "v9", "", false, false, objects.ErrNoSuchVersion},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := db.Objects.Version(ctx, "b", "k", c.id)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("Version(%q) = %v, want %v", c.id, err, c.wantErr)
				}
				return
			}
			if err != nil || v.VersionID != c.wantID || v.DeleteMarker != c.wantMarker || v.IsLatest != c.wantLatest {
				t.Errorf("Version(%q) = %+v, %v", c.id, v, err)
			}
		})
	}
	// Suspending: a null put keeps the others and becomes latest.
	if err := db.Objects.SetBucketVersioning(ctx, "b", objects.VersioningSuspended); err != nil {
		t.Fatal(err)
	}
	putVersion(t, db, "b", "k", objects.NullVersion, "d4")
	_, replaced := putVersion(t, db, "b", "k", objects.NullVersion, "d5")
	if got := versionIDs(replaced); !slices.Equal(got, []string{"k@null"}) {
		t.Errorf("replaced %v, want the earlier null version", got)
	}
	all, err := db.Objects.ListVersions(ctx, "b", objects.VersionCursor{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := versionIDs(all); !slices.Equal(got, []string{"k@null", "k@v3", "k@v2", "k@v1"}) {
		t.Errorf("versions = %v, want newest first", got)
	}
	if !all[0].IsLatest || all[1].IsLatest {
		t.Errorf("is-latest flags wrong: %+v", all[:2])
	}
}

func testDeleteVersion(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	mustBucket(t, db, "b", objects.VersioningEnabled)
	putVersion(t, db, "b", "k", "v1", "d1")
	putVersion(t, db, "b", "k", "v2", "d2")
	putMarker(t, db, "b", "k", "v3")
	cases := []struct {
		name, id   string
		wantErr    error
		wantLatest string // "" when no version remains
	}{
		{"ok/delete the latest marker", "v3", nil, "v2"},
		{"ok/delete an old version", "v1", nil, "v2"},
		{"fail/already deleted", "v1", objects.ErrNoSuchVersion, "v2"},
		{"ok/delete the last version", "v2", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := db.Objects.DeleteVersion(ctx, "b", "k", c.id)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("DeleteVersion(%s) = %v, want %v", c.id, err, c.wantErr)
				}
			} else if err != nil || v.VersionID != c.id {
				t.Fatalf("DeleteVersion(%s) = %+v, %v", c.id, v, err)
			}
			latest, err := db.Objects.Version(ctx, "b", "k", "")
			if c.wantLatest == "" {
				if !errors.Is(err, objects.ErrNoSuchKey) {
					t.Errorf("latest = %+v, %v; want ErrNoSuchKey", latest, err)
				}
				return
			}
			if err != nil || latest.VersionID != c.wantLatest || !latest.IsLatest {
				t.Errorf("latest = %+v, %v; want %s", latest, err, c.wantLatest)
			}
		})
	}
}

func testDeleteVersions(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	mustBucket(t, db, "b", objects.VersioningEnabled)
	putVersion(t, db, "b", "k", "v1", "d1")
	putMarker(t, db, "b", "k", "v2")
	putVersion(t, db, "b", "other", "v3", "d3")
	vs, err := db.Objects.DeleteVersions(ctx, "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	if got := versionIDs(vs); len(got) != 2 {
		t.Errorf("DeleteVersions returned %v, want both versions of k", got)
	}
	if _, err := db.Objects.Version(ctx, "b", "k", ""); !errors.Is(err, objects.ErrNoSuchKey) {
		t.Errorf("k still has versions: %v", err)
	}
	if _, err := db.Objects.Version(ctx, "b", "other", ""); err != nil {
		t.Errorf("DeleteVersions touched another key: %v", err)
	}
	if vs, err := db.Objects.DeleteVersions(ctx, "b", "k"); err != nil || len(vs) != 0 {
		t.Errorf("second DeleteVersions = %v, %v; want nothing", vs, err)
	}
}

func testListLatest(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	mustBucket(t, db, "b", objects.VersioningEnabled)
	mustBucket(t, db, "other", "")
	for _, k := range []string{"c", "a", "b/2", "b/1", "é", "z"} {
		putVersion(t, db, "b", k, "v-"+k, "d-"+k)
	}
	putVersion(t, db, "b", "a", "v-a2", "d-a2")
	putMarker(t, db, "b", "z", "m-z")
	putVersion(t, db, "other", "a", objects.NullVersion, "x")
	cases := []struct {
		name, from string
		limit      int
		want       []string
	}{
		{"ok/all", "", 10, []string{"a@v-a2", "b/1@v-b/1", "b/2@v-b/2", "c@v-c", "é@v-é"}},
		{"ok/limit", "", 2, []string{"a@v-a2", "b/1@v-b/1"}},
		{"ok/from is inclusive", "b/2", 10, []string{"b/2@v-b/2", "c@v-c", "é@v-é"}},
		{"ok/from after a key", "b/2\x00", 10, []string{"c@v-c", "é@v-é"}},
		{"ok/bytes order puts UTF-8 last", "d", 10, []string{"é@v-é"}},
		{"ok/past the end", "ê", 10, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs, err := db.Objects.ListLatest(ctx, "b", c.from, c.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := versionIDs(vs); !slices.Equal(got, c.want) {
				t.Errorf("ListLatest(%q, %d) = %v, want %v", c.from, c.limit, got, c.want)
			}
		})
	}
}

func testListVersions(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	mustBucket(t, db, "b", objects.VersioningEnabled)
	seqs := map[string]int64{}
	for _, kv := range [][2]string{{"a", "1"}, {"b", "2"}, {"a", "3"}, {"c", "4"}, {"a", "5"}} {
		v, _ := putVersion(t, db, "b", kv[0], kv[1], "d"+kv[1])
		seqs[kv[1]] = v.Seq
	}
	cases := []struct {
		name  string
		from  objects.VersionCursor
		limit int
		want  []string
	}{
		{"ok/all", objects.VersionCursor{}, 10, []string{"a@5", "a@3", "a@1", "b@2", "c@4"}},
		{"ok/limit", objects.VersionCursor{}, 2, []string{"a@5", "a@3"}},
		{"ok/within a key", objects.VersionCursor{Key: "a", BelowSeq: seqs["3"]}, 10, []string{"a@1", "b@2", "c@4"}},
		{"ok/within a key, limited", objects.VersionCursor{Key: "a", BelowSeq: seqs["5"]}, 3, []string{"a@3", "a@1", "b@2"}},
		{"ok/from a later key", objects.VersionCursor{Key: "b\x00"}, 10, []string{"c@4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs, err := db.Objects.ListVersions(ctx, "b", c.from, c.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := versionIDs(vs); !slices.Equal(got, c.want) {
				t.Errorf("ListVersions(%+v, %d) = %v, want %v", c.from, c.limit, got, c.want)
			}
		})
	}
}

func testUploads(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	mustBucket(t, db, "b", "")
	if err := db.Objects.CreateUpload(ctx, objects.Upload{ID: "u0", Bucket: "missing", Key: "k", CreatedAt: t0}); !errors.Is(err, objects.ErrNoSuchBucket) {
		t.Errorf("CreateUpload(missing bucket) = %v, want ErrNoSuchBucket", err)
	}
	u := objects.Upload{ID: "u1", Bucket: "b", Key: "k", ContentType: "text/plain", CreatedAt: t0}
	if err := db.Objects.CreateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := db.Objects.Upload(ctx, "u1")
	if err != nil || got.Bucket != "b" || got.Key != "k" || got.ContentType != "text/plain" || !got.CreatedAt.Equal(t0) {
		t.Errorf("Upload = %+v, %v", got, err)
	}
	cases := []struct {
		name         string
		part         objects.Part
		wantReplaced string
		wantErr      error
	}{
		{"ok/first part", objects.Part{UploadID: "u1", Number: 1, Size: 5, ETag: "e1", Path: "p1"}, "", nil},
		{"ok/second part", objects.Part{UploadID: "u1", Number: 2, Size: 5, ETag: "e2", Path: "p2"}, "", nil},
		{"ok/replace part 1", objects.Part{UploadID: "u1", Number: 1, Size: 6, ETag: "e1b", Path: "p1b"}, "p1", nil},
		{"fail/unknown upload", objects.Part{UploadID: "nope", Number: 1, Path: "px"}, "", objects.ErrNoSuchUpload},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			replaced, err := db.Objects.PutPart(ctx, c.part)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("PutPart = %v, want %v", err, c.wantErr)
			}
			if replaced != c.wantReplaced {
				t.Errorf("replaced = %q, want %q", replaced, c.wantReplaced)
			}
		})
	}
	orphans, err := db.Objects.AbortUpload(ctx, "u1")
	slices.Sort(orphans)
	if err != nil || !slices.Equal(orphans, []string{"p1b", "p2"}) {
		t.Errorf("AbortUpload = %v, %v; want the two parts' paths", orphans, err)
	}
	if _, err := db.Objects.AbortUpload(ctx, "u1"); !errors.Is(err, objects.ErrNoSuchUpload) {
		t.Errorf("second AbortUpload = %v, want ErrNoSuchUpload", err)
	}
	if _, err := db.Objects.Upload(ctx, "u1"); !errors.Is(err, objects.ErrNoSuchUpload) {
		t.Errorf("Upload after abort = %v, want ErrNoSuchUpload", err)
	}
}

func testCompleteUpload(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	mustBucket(t, db, "b", "")
	putVersion(t, db, "b", "k", objects.NullVersion, "old")
	if err := db.Objects.CreateUpload(ctx, objects.Upload{ID: "u1", Bucket: "b", Key: "k", ContentType: "a/b", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if _, err := db.Objects.PutPart(ctx, objects.Part{UploadID: "u1", Number: i, Size: int64(i), ETag: fmt.Sprint("e", i), Path: fmt.Sprint("p", i), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	// A refusing fn changes nothing.
	if _, _, err := db.Objects.CompleteUpload(ctx, "u1", func(objects.Upload, []objects.Part, string) (objects.Version, error) {
		return objects.Version{}, objects.ErrInvalidPart
	}); !errors.Is(err, objects.ErrInvalidPart) {
		t.Fatalf("CompleteUpload with a refusing fn = %v", err)
	}
	var gotParts []int
	v, orphans, err := db.Objects.CompleteUpload(ctx, "u1", func(u objects.Upload, parts []objects.Part, versioning string) (objects.Version, error) {
		if u.Key != "k" || versioning != "" {
			return objects.Version{}, fmt.Errorf("fn got upload %+v, versioning %q", u, versioning)
		}
		for _, p := range parts {
			gotParts = append(gotParts, p.Number)
		}
		return objects.Version{
			ObjectInfo: objects.ObjectInfo{VersionID: objects.NullVersion, Size: 4, ETag: "x-2", ContentType: u.ContentType, LastModified: t0},
			Segments:   []objects.Segment{{Path: "p1", Size: 1}, {Path: "p3", Size: 3}},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotParts, []int{1, 2, 3}) {
		t.Errorf("fn saw parts %v, want 1, 2, 3 in order", gotParts)
	}
	slices.Sort(orphans)
	if !slices.Equal(orphans, []string{"old", "p2"}) {
		t.Errorf("orphans = %v, want the unused part and the replaced version", orphans)
	}
	got, err := db.Objects.Version(ctx, "b", "k", "")
	if err != nil || got.Seq != v.Seq || got.ETag != "x-2" || len(got.Segments) != 2 || got.Segments[1] != (objects.Segment{Path: "p3", Size: 3}) {
		t.Errorf("completed version = %+v, %v", got, err)
	}
	if _, err := db.Objects.Upload(ctx, "u1"); !errors.Is(err, objects.ErrNoSuchUpload) {
		t.Errorf("completed upload still exists: %v", err)
	}
	if _, _, err := db.Objects.CompleteUpload(ctx, "u1", nil); !errors.Is(err, objects.ErrNoSuchUpload) {
		t.Errorf("second CompleteUpload = %v, want ErrNoSuchUpload", err)
	}
}

func testObjectsReopen(t *testing.T, open Opener) {
	db, reopen := open(t)
	ctx := context.Background()
	mustBucket(t, db, "b", objects.VersioningEnabled)
	putVersion(t, db, "b", "k", "v1", "d1")
	if err := db.Objects.CreateUpload(ctx, objects.Upload{ID: "u1", Bucket: "b", Key: "k", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	db = reopen()
	if b, err := db.Objects.Bucket(ctx, "b"); err != nil || b.Versioning != objects.VersioningEnabled {
		t.Errorf("bucket after reopen = %+v, %v", b, err)
	}
	if v, err := db.Objects.Version(ctx, "b", "k", "v1"); err != nil || v.Segments[0].Path != "d1" {
		t.Errorf("version after reopen = %+v, %v", v, err)
	}
	if _, err := db.Objects.Upload(ctx, "u1"); err != nil {
		t.Errorf("upload after reopen: %v", err)
	}
}

// testReferencedBlobs: every path the metadata refers to, from every
// table that holds one, and none other.
func testReferencedBlobs(t *testing.T, open Opener) {
	db, _ := open(t)
	ctx := context.Background()
	mustBucket(t, db, "b", objects.VersioningEnabled)
	putVersion(t, db, "b", "k", "v1", "data/b/1")
	putVersion(t, db, "b", "k", "v2", "data/b/2")
	putMarker(t, db, "b", "k", "v3")
	if err := db.Objects.CreateUpload(ctx, objects.Upload{ID: "u1", Bucket: "b", Key: "big", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Objects.PutPart(ctx, objects.Part{UploadID: "u1", Number: 1, Size: 1, ETag: "e", Path: "parts/u1/00001", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	f := functions.Function{Name: "f", Runtime: "python3.12", Handler: "a.b", Role: "r", Timeout: 3, MemorySize: 128, CodePath: "functions/f/1", LastModified: t0}
	if err := db.Lambda.CreateFunction(ctx, f, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Lambda.PublishVersion(ctx, "f", t0); err != nil {
		t.Fatal(err)
	}
	if err := db.Lambda.UpdateFunction(ctx, "f", func(f *functions.Function) error { f.CodePath = "functions/f/2"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Lambda.PublishLayer(ctx, functions.LayerVersion{Name: "deps", CodePath: "layers/deps/1", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	refs, newest, err := db.ReferencedBlobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !newest.Equal(t0) {
		t.Errorf("the newest record is of %s, want %s", newest, t0)
	}
	want := []string{"data/b/1", "data/b/2", "functions/f/1", "functions/f/2", "layers/deps/1", "parts/u1/00001"}
	got := slices.Sorted(maps.Keys(refs))
	if !slices.Equal(got, want) {
		t.Errorf("ReferencedBlobs = %v, want %v", got, want)
	}
}
