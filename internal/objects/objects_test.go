package objects_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/objects"
	"github.com/signet/signet/internal/objects/blobstore"
	"github.com/signet/signet/internal/store"
)

// env is a Service on a real SQLite store and a temporary fileblob.
type env struct {
	svc     *objects.Service
	db      *store.DB
	data    *blobstore.Store
	dataDir string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "signet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dataDir := filepath.Join(dir, "objects")
	data, err := blobstore.OpenDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { data.Close() })
	var mu sync.Mutex
	clock := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	return &env{svc: &objects.Service{Meta: db.Objects, Data: data, Now: now, MinPartSize: 10}, db: db, data: data, dataDir: dataDir}
}

// files returns the data files under the data directory.
func (e *env) files(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(e.dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(e.dataDir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) bucket(t *testing.T, name, versioning string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.svc.CreateBucket(ctx, name); err != nil {
		t.Fatal(err)
	}
	if versioning != "" {
		if err := e.svc.SetVersioning(ctx, name, versioning); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) put(t *testing.T, bucket, key, body string) objects.ObjectInfo {
	t.Helper()
	info, err := e.svc.Put(context.Background(), bucket, key, strings.NewReader(body), "text/plain")
	if err != nil {
		t.Fatalf("Put(%s/%s): %v", bucket, key, err)
	}
	return info
}

// read returns the whole content of a version.
func (e *env) read(t *testing.T, bucket, key, version string) (string, error) {
	t.Helper()
	o, err := e.svc.OpenVersion(context.Background(), bucket, key, version)
	if err != nil {
		return "", err
	}
	defer o.Close()
	b, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	return string(b), err
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestValidBucketName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"abc", true}, {"my-bucket.example", true}, {"a1-b2.c3", true}, {strings.Repeat("a", 63), true},
		{"ab", false}, {strings.Repeat("a", 64), false}, {"Bad_Name", false}, {"UPPER", false},
		{"-abc", false}, {"abc-", false}, {".abc", false}, {"a..b", false}, {"192.168.5.4", false},
		{"xn--abc", false}, {"abc-s3alias", false}, {"a b", false}, {"héllo", false},
	}
	for _, c := range cases {
		label := "ok/"
		if !c.ok {
			label = "fail/"
		}
		t.Run(label+c.name, func(t *testing.T) {
			if got := objects.ValidBucketName(c.name); got != c.ok {
				t.Errorf("ValidBucketName(%q) = %v, want %v", c.name, got, c.ok)
			}
		})
	}
}

func TestBuckets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cases := []struct {
		name    string
		run     func() error
		wantErr error
	}{
		{"ok/create", func() error { _, err := e.svc.CreateBucket(ctx, "alpha"); return err }, nil},
		{"fail/create twice", func() error { _, err := e.svc.CreateBucket(ctx, "alpha"); return err }, objects.ErrBucketExists},
		{"fail/invalid name", func() error { _, err := e.svc.CreateBucket(ctx, "Bad_Name"); return err }, objects.ErrInvalidBucketName},
		{"ok/versioning never enabled", func() error {
			v, err := e.svc.Versioning(ctx, "alpha")
			if err == nil && v != "" {
				err = fmt.Errorf("versioning %q", v)
			}
			return err
		}, nil},
		{"fail/versioning of a missing bucket", func() error { _, err := e.svc.Versioning(ctx, "missing"); return err }, objects.ErrNoSuchBucket},
		{"fail/bad versioning status", func() error { return e.svc.SetVersioning(ctx, "alpha", "On") }, objects.ErrInvalidArgument},
		{"ok/enable versioning", func() error { return e.svc.SetVersioning(ctx, "alpha", objects.VersioningEnabled) }, nil},
		{"ok/put", func() error { _, err := e.svc.Put(ctx, "alpha", "k", strings.NewReader("x"), ""); return err }, nil},
		{"fail/delete not empty", func() error { return e.svc.DeleteBucket(ctx, "alpha") }, objects.ErrBucketNotEmpty},
		{"ok/delete every version", func() error { return e.svc.DeleteAllVersions(ctx, "alpha", "k") }, nil},
		{"ok/delete empty", func() error { return e.svc.DeleteBucket(ctx, "alpha") }, nil},
		{"fail/delete missing", func() error { return e.svc.DeleteBucket(ctx, "alpha") }, objects.ErrNoSuchBucket},
		{"fail/put into missing bucket", func() error { _, err := e.svc.Put(ctx, "alpha", "k", strings.NewReader("x"), ""); return err }, objects.ErrNoSuchBucket},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if c.wantErr == nil && err != nil || !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			var oe *errs.Error
			if err != nil && !errors.As(err, &oe) {
				t.Errorf("err %v is not an *errs.Error", err)
			}
		})
	}
	if got := e.files(t); len(got) != 0 {
		t.Errorf("data left behind: %v", got)
	}
}

func TestUnversionedPutOverwritesNull(t *testing.T) {
	e := newEnv(t)
	e.bucket(t, "bkt", "")
	first := e.put(t, "bkt", "k", "one")
	second := e.put(t, "bkt", "k", "two!")
	if first.VersionID != objects.NullVersion || second.VersionID != objects.NullVersion {
		t.Errorf("version ids = %q, %q; want null", first.VersionID, second.VersionID)
	}
	if second.ETag != md5hex("two!") || second.Size != 4 || second.ContentType != "text/plain" {
		t.Errorf("info = %+v", second)
	}
	if got, err := e.read(t, "bkt", "k", ""); err != nil || got != "two!" {
		t.Errorf("content = %q, %v", got, err)
	}
	if got := e.files(t); len(got) != 1 {
		t.Errorf("data files = %v, want only the current version's", got)
	}
	res, err := e.svc.ListVersions(context.Background(), "bkt", objects.ListVersionsInput{MaxKeys: 10})
	if err != nil || len(res.Versions) != 1 {
		t.Errorf("versions = %+v, %v; want one", res.Versions, err)
	}
	// Delete without versioning removes the object for good.
	d, err := e.svc.Delete(context.Background(), "bkt", "k", "")
	if err != nil || d.DeleteMarker {
		t.Errorf("Delete = %+v, %v", d, err)
	}
	if _, err := e.read(t, "bkt", "k", ""); !errors.Is(err, objects.ErrNoSuchKey) {
		t.Errorf("read after delete = %v, want ErrNoSuchKey", err)
	}
	if got := e.files(t); len(got) != 0 {
		t.Errorf("data left after delete: %v", got)
	}
}

func TestVersionedLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.bucket(t, "bkt", objects.VersioningEnabled)
	v1 := e.put(t, "bkt", "k", "first")
	v2 := e.put(t, "bkt", "k", "second")
	if v1.VersionID == v2.VersionID || len(v1.VersionID) != 32 || v1.VersionID > v2.VersionID {
		t.Fatalf("version ids %q, %q: want distinct, 32 chars, increasing", v1.VersionID, v2.VersionID)
	}
	del, err := e.svc.Delete(ctx, "bkt", "k", "")
	if err != nil || !del.DeleteMarker || len(del.VersionID) != 32 {
		t.Fatalf("Delete = %+v, %v; want a delete marker", del, err)
	}
	cases := []struct {
		name, version string
		want          string
		wantErr       error
		wantMarker    bool
	}{
		{"ok/first version", v1.VersionID, "first", nil, false},
		{"ok/second version", v2.VersionID, "second", nil, false},
		{"fail/latest is a delete marker", "", "", objects.ErrNoSuchKey, true},
		{"fail/the marker by id", del.VersionID, "", objects.ErrNoSuchVersion, true},
		{"fail/unknown version", "0123456789ABCDEFGHIJKLMNOPQRSTUV", "", objects.ErrNoSuchVersion, false},
		{"fail/malformed version", "nope", "", objects.ErrNoSuchVersion, false},
		{"fail/null version", objects.NullVersion, "", objects.ErrNoSuchVersion, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, serr := e.svc.Stat(ctx, "bkt", "k", c.version)
			got, err := e.read(t, "bkt", "k", c.version)
			if c.wantErr != nil {
				if !errors.Is(serr, c.wantErr) {
					t.Errorf("Stat = %v, want %v", serr, c.wantErr)
				}
				var dm *objects.DeleteMarkerError
				if errors.As(serr, &dm) != c.wantMarker {
					t.Errorf("Stat error %#v: want DeleteMarker %v", serr, c.wantMarker)
				}
				if !errors.Is(err, objects.ErrNoSuchVersion) && !errors.Is(err, objects.ErrNoSuchKey) {
					t.Errorf("OpenVersion = %v", err)
				}
				if c.wantMarker && !errors.Is(err, objects.ErrNoSuchVersion) && c.version != "" {
					t.Errorf("OpenVersion of a marker = %v, want ErrNoSuchVersion", err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("content = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	// Removing the marker brings the second version back.
	if d, err := e.svc.Delete(ctx, "bkt", "k", del.VersionID); err != nil || !d.DeleteMarker || d.VersionID != del.VersionID {
		t.Fatalf("Delete(marker) = %+v, %v", d, err)
	}
	if got, err := e.read(t, "bkt", "k", ""); err != nil || got != "second" {
		t.Errorf("latest after removing the marker = %q, %v", got, err)
	}
	// Deleting a version for good removes its data too.
	if _, err := e.svc.Delete(ctx, "bkt", "k", v2.VersionID); err != nil {
		t.Fatal(err)
	}
	if got, err := e.read(t, "bkt", "k", ""); err != nil || got != "first" {
		t.Errorf("latest after deleting v2 = %q, %v", got, err)
	}
	if n := len(e.files(t)); n != 1 {
		t.Errorf("%d data files, want 1", n)
	}
	// Deleting a missing version succeeds, as S3's does.
	if _, err := e.svc.Delete(ctx, "bkt", "k", v2.VersionID); err != nil {
		t.Errorf("Delete(missing version) = %v", err)
	}
	if _, err := e.svc.Delete(ctx, "missing", "k", ""); !errors.Is(err, objects.ErrNoSuchBucket) {
		t.Errorf("Delete in a missing bucket = %v", err)
	}
}

func TestSuspendedVersioning(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.bucket(t, "bkt", objects.VersioningEnabled)
	v1 := e.put(t, "bkt", "k", "kept")
	if err := e.svc.SetVersioning(ctx, "bkt", objects.VersioningSuspended); err != nil {
		t.Fatal(err)
	}
	n1 := e.put(t, "bkt", "k", "null one")
	n2 := e.put(t, "bkt", "k", "null two")
	if n1.VersionID != objects.NullVersion || n2.VersionID != objects.NullVersion {
		t.Errorf("suspended puts got ids %q, %q", n1.VersionID, n2.VersionID)
	}
	d, err := e.svc.Delete(ctx, "bkt", "k", "")
	if err != nil || !d.DeleteMarker || d.VersionID != objects.NullVersion {
		t.Fatalf("suspended Delete = %+v, %v; want a null delete marker", d, err)
	}
	res, err := e.svc.ListVersions(ctx, "bkt", objects.ListVersionsInput{MaxKeys: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range res.Versions {
		got = append(got, fmt.Sprintf("%s/%v/%v", v.VersionID, v.DeleteMarker, v.IsLatest))
	}
	want := []string{"null/true/true", v1.VersionID + "/false/false"}
	if !slices.Equal(got, want) {
		t.Errorf("versions = %v, want %v", got, want)
	}
	if n := len(e.files(t)); n != 1 {
		t.Errorf("%d data files, want only v1's", n)
	}
}

func TestDeleteAllVersions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.bucket(t, "bkt", objects.VersioningEnabled)
	e.put(t, "bkt", "out.zip", "a")
	e.put(t, "bkt", "out.zip", "b")
	e.svc.Delete(ctx, "bkt", "out.zip", "")
	e.put(t, "bkt", "other", "c")
	if err := e.svc.DeleteAllVersions(ctx, "bkt", "out.zip"); err != nil {
		t.Fatal(err)
	}
	res, _ := e.svc.ListVersions(ctx, "bkt", objects.ListVersionsInput{MaxKeys: 10})
	if len(res.Versions) != 1 || res.Versions[0].Key != "other" {
		t.Errorf("versions left = %+v", res.Versions)
	}
	if err := e.svc.DeleteAllVersions(ctx, "bkt", "out.zip"); err != nil {
		t.Errorf("second DeleteAllVersions = %v", err)
	}
	if err := e.svc.DeleteAllVersions(ctx, "missing", "k"); !errors.Is(err, objects.ErrNoSuchBucket) {
		t.Errorf("DeleteAllVersions(missing bucket) = %v", err)
	}
	if n := len(e.files(t)); n != 1 {
		t.Errorf("%d data files, want 1", n)
	}
}

// failAtEOF yields its data, then err instead of io.EOF.
type failAtEOF struct {
	r   io.Reader
	err error
}

func (f *failAtEOF) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestRejectedBodiesLeaveNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.bucket(t, "bkt", "")
	e.put(t, "bkt", "k", "original")
	errPayload := errors.New("payload hash mismatch")
	wrongMD5 := md5.Sum([]byte("something else"))
	cases := []struct {
		name    string
		in      objects.PutInput
		wantErr error
	}{
		{"fail/body fails at EOF", objects.PutInput{Bucket: "bkt", Key: "k", Body: &failAtEOF{strings.NewReader("replacement"), errPayload}}, errPayload},
		{"fail/body fails midway", objects.PutInput{Bucket: "bkt", Key: "k", Body: iotest.TimeoutReader(strings.NewReader(strings.Repeat("x", 1<<16)))}, iotest.ErrTimeout},
		{"fail/content-md5 mismatch", objects.PutInput{Bucket: "bkt", Key: "k", Body: strings.NewReader("replacement"), ContentMD5: wrongMD5[:]}, objects.ErrBadDigest},
		{"fail/empty key", objects.PutInput{Bucket: "bkt", Key: "", Body: strings.NewReader("x")}, objects.ErrInvalidKey},
		{"fail/key too long", objects.PutInput{Bucket: "bkt", Key: strings.Repeat("k", 1025), Body: strings.NewReader("x")}, objects.ErrKeyTooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := e.svc.PutObject(ctx, c.in); !errors.Is(err, c.wantErr) {
				t.Fatalf("PutObject = %v, want %v", err, c.wantErr)
			}
			if got, err := e.read(t, "bkt", "k", ""); err != nil || got != "original" {
				t.Errorf("content = %q, %v; want the original", got, err)
			}
			if n := len(e.files(t)); n != 1 {
				t.Errorf("%d data files, want 1: %v", n, e.files(t))
			}
		})
	}
	right := md5.Sum([]byte("replacement"))
	if _, err := e.svc.PutObject(ctx, objects.PutInput{Bucket: "bkt", Key: "k", Body: strings.NewReader("replacement"), ContentMD5: right[:]}); err != nil {
		t.Errorf("PutObject with the right Content-MD5 = %v", err)
	}
}

// failingMeta fails PutVersion and CompleteUpload as a crash between
// writing data and committing metadata would.
type failingMeta struct {
	objects.MetaStore
}

var errCrash = errors.New("simulated crash before commit")

func (failingMeta) PutVersion(context.Context, string, string, func(string) (objects.Version, error)) (objects.Version, []objects.Version, error) {
	return objects.Version{}, nil, errCrash
}

func (failingMeta) CompleteUpload(context.Context, string, func(objects.Upload, []objects.Part, string) (objects.Version, error)) (objects.Version, []string, error) {
	return objects.Version{}, nil, errCrash
}

func TestCrashBetweenDataAndMetadata(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.bucket(t, "bkt", objects.VersioningEnabled)
	// Data written under a fresh path, as a put does, but whose metadata
	// transaction never ran: nothing can see it.
	if _, err := e.data.Write(ctx, "data/b/ORPHANED0000000000000000000000", strings.NewReader("lost")); err != nil {
		t.Fatal(err)
	}
	crashed := &objects.Service{Meta: failingMeta{e.db.Objects}, Data: e.data}
	if _, err := crashed.Put(ctx, "bkt", "k", strings.NewReader("never visible"), ""); !errors.Is(err, errCrash) {
		t.Fatalf("Put with a failing commit = %v", err)
	}
	check := func(t *testing.T) {
		t.Helper()
		if _, err := e.svc.Stat(ctx, "bkt", "k", ""); !errors.Is(err, objects.ErrNoSuchKey) {
			t.Errorf("Stat = %v, want ErrNoSuchKey", err)
		}
		l, err := e.svc.List(ctx, "bkt", objects.ListInput{MaxKeys: 100})
		if err != nil || len(l.Objects) != 0 {
			t.Errorf("List = %+v, %v; want nothing", l, err)
		}
		v, err := e.svc.ListVersions(ctx, "bkt", objects.ListVersionsInput{MaxKeys: 100})
		if err != nil || len(v.Versions) != 0 {
			t.Errorf("ListVersions = %+v, %v; want nothing", v, err)
		}
	}
	t.Run("fail/put", check)
	// A multipart upload whose completion never committed stays an upload.
	u, err := crashed.CreateUpload(ctx, "bkt", "k", "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := crashed.UploadPart(ctx, objects.PartInput{Bucket: "bkt", Key: "k", UploadID: u.ID, PartNumber: 1, Body: strings.NewReader("part")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crashed.CompleteUpload(ctx, "bkt", "k", u.ID, []objects.CompletedPart{{Number: 1, ETag: p.ETag}}); !errors.Is(err, errCrash) {
		t.Fatalf("CompleteUpload with a failing commit = %v", err)
	}
	t.Run("fail/complete", check)
	// The failed put removed its own data; the orphan and the part remain
	// on disk, unreferenced.
	if got := e.files(t); len(got) != 2 {
		t.Errorf("data files = %v, want the orphan and the part", got)
	}
}

func TestMultipart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.bucket(t, "bkt", objects.VersioningEnabled)
	u, err := e.svc.CreateUpload(ctx, "bkt", "big", "application/zip")
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{"0123456789AB", "second-part!", "end"}
	var etags []string
	for i, body := range parts {
		p, err := e.svc.UploadPart(ctx, objects.PartInput{Bucket: "bkt", Key: "big", UploadID: u.ID, PartNumber: i + 1, Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		etags = append(etags, p.ETag)
	}
	small, err := e.svc.CreateUpload(ctx, "bkt", "small", "")
	if err != nil {
		t.Fatal(err)
	}
	for i, body := range []string{"tiny", "last"} {
		if _, err := e.svc.UploadPart(ctx, objects.PartInput{Bucket: "bkt", Key: "small", UploadID: small.ID, PartNumber: i + 1, Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	q := func(s string) string { return `"` + s + `"` }
	cases := []struct {
		name    string
		run     func() error
		wantErr error
	}{
		{"fail/part number 0", func() error {
			_, err := e.svc.UploadPart(ctx, objects.PartInput{Bucket: "bkt", Key: "big", UploadID: u.ID, PartNumber: 0, Body: strings.NewReader("x")})
			return err
		}, objects.ErrInvalidArgument},
		{"fail/part of unknown upload", func() error {
			_, err := e.svc.UploadPart(ctx, objects.PartInput{Bucket: "bkt", Key: "big", UploadID: "nope", PartNumber: 1, Body: strings.NewReader("x")})
			return err
		}, objects.ErrNoSuchUpload},
		{"fail/part for another key", func() error {
			_, err := e.svc.UploadPart(ctx, objects.PartInput{Bucket: "bkt", Key: "other", UploadID: u.ID, PartNumber: 1, Body: strings.NewReader("x")})
			return err
		}, objects.ErrNoSuchUpload},
		{"fail/no parts", func() error { _, err := e.svc.CompleteUpload(ctx, "bkt", "big", u.ID, nil); return err }, objects.ErrInvalidPart},
		{"fail/descending parts", func() error {
			_, err := e.svc.CompleteUpload(ctx, "bkt", "big", u.ID, []objects.CompletedPart{{2, etags[1]}, {1, etags[0]}})
			return err
		}, objects.ErrInvalidPartOrder},
		{"fail/wrong etag", func() error {
			_, err := e.svc.CompleteUpload(ctx, "bkt", "big", u.ID, []objects.CompletedPart{{1, etags[1]}})
			return err
		}, objects.ErrInvalidPart},
		{"fail/part not uploaded", func() error {
			_, err := e.svc.CompleteUpload(ctx, "bkt", "big", u.ID, []objects.CompletedPart{{1, etags[0]}, {7, etags[0]}})
			return err
		}, objects.ErrInvalidPart},
		{"fail/part too small", func() error {
			_, err := e.svc.CompleteUpload(ctx, "bkt", "small", small.ID, []objects.CompletedPart{{1, md5hex("tiny")}, {2, md5hex("last")}})
			return err
		}, objects.ErrEntityTooSmall},
		{"ok/abort", func() error { return e.svc.AbortUpload(ctx, "bkt", "small", small.ID) }, nil},
		{"fail/abort twice", func() error { return e.svc.AbortUpload(ctx, "bkt", "small", small.ID) }, objects.ErrNoSuchUpload},
		{"ok/complete with quoted etags", func() error {
			info, err := e.svc.CompleteUpload(ctx, "bkt", "big", u.ID, []objects.CompletedPart{{1, q(etags[0])}, {2, q(etags[1])}, {3, q(etags[2])}})
			if err != nil {
				return err
			}
			sums := md5.New()
			for _, p := range parts {
				s := md5.Sum([]byte(p))
				sums.Write(s[:])
			}
			if want := hex.EncodeToString(sums.Sum(nil)) + "-3"; info.ETag != want || info.Size != 27 || info.ContentType != "application/zip" {
				return fmt.Errorf("completed %+v, want ETag %s, size 27", info, want)
			}
			return nil
		}, nil},
		{"fail/complete twice", func() error {
			_, err := e.svc.CompleteUpload(ctx, "bkt", "big", u.ID, []objects.CompletedPart{{1, etags[0]}})
			return err
		}, objects.ErrNoSuchUpload},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if c.wantErr == nil && err != nil || !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
		})
	}
	if got, err := e.read(t, "bkt", "big", ""); err != nil || got != strings.Join(parts, "") {
		t.Errorf("content = %q, %v", got, err)
	}
	if n := len(e.files(t)); n != 3 {
		t.Errorf("%d data files, want the three parts: %v", n, e.files(t))
	}
}

// TestReadAtAcrossParts reads a zip stored as a multipart object of odd
// part sizes with archive/zip, which reads the central directory at the
// end and then each entry, through ReadAt.
func TestReadAtAcrossParts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.bucket(t, "bkt", "")
	rng := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	contents := map[string][]byte{}
	for i := range 5 {
		name := fmt.Sprintf("file-%d.bin", i)
		data := make([]byte, 1000+rng.IntN(50000))
		for j := range data {
			data[j] = byte(rng.UintN(256))
		}
		contents[name] = data
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		w.Write(data)
	}
	zw.Close()
	whole := buf.Bytes()
	u, _ := e.svc.CreateUpload(ctx, "bkt", "fn.zip", "")
	var done []objects.CompletedPart
	for i, off := 0, 0; off < len(whole); i++ {
		n := min(len(whole)-off, 10000+i*3333)
		p, err := e.svc.UploadPart(ctx, objects.PartInput{Bucket: "bkt", Key: "fn.zip", UploadID: u.ID, PartNumber: i + 1, Body: bytes.NewReader(whole[off : off+n])})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, objects.CompletedPart{Number: p.Number, ETag: p.ETag})
		off += n
	}
	if _, err := e.svc.CompleteUpload(ctx, "bkt", "fn.zip", u.ID, done); err != nil {
		t.Fatal(err)
	}
	o, err := e.svc.OpenVersion(ctx, "bkt", "fn.zip", objects.NullVersion)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Size() != int64(len(whole)) || o.VersionID != objects.NullVersion || o.ETag == "" {
		t.Fatalf("object = size %d, version %q, etag %q", o.Size(), o.VersionID, o.ETag)
	}
	zr, err := zip.NewReader(o, o.Size())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, contents[f.Name]) {
			t.Errorf("%s: %d bytes, %v; want %d identical bytes", f.Name, len(got), err, len(contents[f.Name]))
		}
	}
	// Random ReadAt calls, including ones past the end.
	for range 200 {
		off := rng.Int64N(int64(len(whole)) + 10)
		p := make([]byte, rng.IntN(40000))
		n, err := o.ReadAt(p, off)
		want := whole[min(off, int64(len(whole))):]
		if len(want) > len(p) {
			want = want[:len(p)]
		}
		if n != len(want) || !bytes.Equal(p[:n], want) {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v", len(p), off, n, err)
		}
		if (n < len(p)) != (err == io.EOF) {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v: want io.EOF exactly when short", len(p), off, n, err)
		}
	}
	// Ranges of the sequential reader.
	for _, r := range [][2]int64{{0, 0}, {0, 1}, {9999, 2}, {5, int64(len(whole)) - 5}, {int64(len(whole)) - 1, 1}} {
		rc, err := o.NewReader(r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, whole[r[0]:r[0]+r[1]]) {
			t.Errorf("NewReader(%d, %d) = %d bytes, %v", r[0], r[1], len(got), err)
		}
	}
	if _, err := o.NewReader(int64(len(whole)), 1); err == nil {
		t.Error("NewReader past the end succeeded")
	}
}

func TestEmptyObject(t *testing.T) {
	e := newEnv(t)
	e.bucket(t, "bkt", "")
	info := e.put(t, "bkt", "empty", "")
	if info.Size != 0 || info.ETag != md5hex("") {
		t.Errorf("info = %+v", info)
	}
	if got, err := e.read(t, "bkt", "empty", ""); err != nil || got != "" {
		t.Errorf("content = %q, %v", got, err)
	}
}
