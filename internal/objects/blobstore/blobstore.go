// Package blobstore implements objects.DataStore on a gocloud.dev/blob
// bucket: a local directory (fileblob) by default, or any store gocloud
// opens by URL, such as an S3-compatible service (s3blob).
package blobstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/s3blob" // s3:// URLs: any S3-compatible store
	"gocloud.dev/gcerrors"

	"github.com/signet/signet/internal/objects"
	"github.com/signet/signet/internal/telemetry"
)

var _ objects.DataStore = (*Store)(nil)

// Store is a DataStore on a blob bucket.
type Store struct {
	b   *blob.Bucket
	dir string // the root directory when the bucket is a local directory
	// Unsynced leaves a local directory's writes to be made durable by
	// the caller (one sync of the file system when all are written, as a
	// backup does) rather than by an fsync each.
	Unsynced bool
	// HoldDeletes, when set and true, makes Delete keep the path for
	// later rather than delete it: a backup is copying the data its
	// database snapshot refers to. ReleaseHeld deletes what was kept.
	HoldDeletes func(ctx context.Context) bool

	heldMu sync.Mutex
	held   []string
}

// ReleaseHeld deletes the paths Delete kept while deletes were held,
// unless they still are. It returns how many it deleted.
func (s *Store) ReleaseHeld(ctx context.Context) (int, error) {
	if s.HoldDeletes != nil && s.HoldDeletes(ctx) {
		return 0, nil
	}
	s.heldMu.Lock()
	held := s.held
	s.held = nil
	s.heldMu.Unlock()
	for i, p := range held {
		if err := s.delete(ctx, p); err != nil {
			s.heldMu.Lock()
			s.held = append(s.held, held[i:]...)
			s.heldMu.Unlock()
			return i, err
		}
	}
	return len(held), nil
}

// OpenDir opens (creating it if needed) a store in the local directory
// dir. Writes go to a temporary file next to their final path, are
// fsynced, and are renamed into place (then the directory is fsynced), so
// a write is atomic and durable once it returns. A crash mid-write can
// leave a stray "*.tmp" file, which nothing references.
func OpenDir(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("object data directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create object data directory: %w", err)
	}
	b, err := fileblob.OpenBucket(abs, &fileblob.Options{
		DirFileMode: 0o700,
		NoTempDir:   true, // rename within the directory, never across mounts
		Metadata:    fileblob.MetadataDontWrite,
	})
	if err != nil {
		return nil, fmt.Errorf("failed to open object data directory: %w", err)
	}
	return &Store{b: b, dir: abs}, nil
}

// Open opens a store by gocloud.dev URL, for example
// "s3://bucket?endpoint=http://127.0.0.1:9000&use_path_style=true" (the
// scheme's driver must be linked in) or "file:///var/lib/signet/objects".
func Open(ctx context.Context, url string) (*Store, error) {
	if dir, ok := strings.CutPrefix(url, "file://"); ok {
		return OpenDir(dir)
	}
	b, err := blob.OpenBucket(ctx, withDefaults(url))
	if err != nil {
		return nil, fmt.Errorf("failed to open object data store: %w", err)
	}
	return &Store{b: b}, nil
}

// withDefaults adds to an s3:// URL the settings Signet wants unless the
// URL says otherwise: response_checksum_validation=when_required, since
// many S3-compatible stores return no checksums, which the AWS SDK would
// otherwise log a warning about on every read.
func withDefaults(u string) string {
	p, err := neturl.Parse(u)
	if err != nil || p.Scheme != "s3" {
		return u
	}
	q := p.Query()
	if !q.Has("response_checksum_validation") {
		q.Set("response_checksum_validation", "when_required")
	}
	p.RawQuery = q.Encode()
	return p.String()
}

// Close closes the bucket.
func (s *Store) Close() error { return s.b.Close() }

// Write implements objects.DataStore.
func (s *Store) Write(ctx context.Context, path string, r io.Reader) (n int64, err error) {
	ctx, span := telemetry.Start(ctx, "objectstore.write", attribute.String("objectstore.path", path))
	defer telemetry.End(span, &err)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var f *os.File
	w, err := s.b.NewWriter(wctx, path, &blob.WriterOptions{
		ContentType: "application/octet-stream",
		BeforeWrite: func(as func(any) bool) error {
			as(&f) // fileblob exposes its temporary file
			return nil
		},
	})
	if err != nil {
		return 0, fmt.Errorf("failed to create %s: %w", path, err)
	}
	n, err = io.Copy(w, r)
	if err == nil && f != nil && !s.Unsynced {
		if serr := f.Sync(); serr != nil {
			err = fmt.Errorf("failed to sync %s: %w", path, serr)
		}
	}
	if err != nil {
		cancel() // a cancelled writer discards what it wrote
		w.Close()
		return n, err
	}
	if err := w.Close(); err != nil {
		return n, fmt.Errorf("failed to store %s: %w", path, err)
	}
	if f != nil && !s.Unsynced {
		if err := syncDir(filepath.Dir(f.Name())); err != nil {
			return n, err
		}
	}
	return n, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("failed to sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("failed to sync directory %s: %w", dir, err)
	}
	return nil
}

// NewRangeReader implements objects.DataStore.
func (s *Store) NewRangeReader(ctx context.Context, path string, off, length int64) (_ io.ReadCloser, err error) {
	ctx, span := telemetry.Start(ctx, "objectstore.open", attribute.String("objectstore.path", path))
	defer telemetry.End(span, &err)
	r, err := s.b.NewRangeReader(ctx, path, off, length, nil)
	if err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", path, err)
	}
	return r, nil
}

// Delete implements objects.DataStore. For a local directory it also
// removes the per-upload directory under parts/ once it is empty (never
// the per-bucket directories, where concurrent writes may be starting).
func (s *Store) Delete(ctx context.Context, path string) error {
	if s.HoldDeletes != nil && s.HoldDeletes(ctx) {
		s.heldMu.Lock()
		s.held = append(s.held, path)
		s.heldMu.Unlock()
		return nil
	}
	return s.delete(ctx, path)
}

func (s *Store) delete(ctx context.Context, path string) error {
	ctx, span := telemetry.Start(ctx, "objectstore.delete", attribute.String("objectstore.path", path))
	defer span.End()
	err := s.b.Delete(ctx, path)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("failed to delete %s: %w", path, err)
	}
	if s.dir != "" && strings.HasPrefix(path, "parts/") && strings.Count(path, "/") == 2 {
		os.Remove(filepath.Join(s.dir, filepath.FromSlash(path[:strings.LastIndexByte(path, '/')]))) // fails unless empty
	}
	return nil
}

// Exists reports whether path holds data; tests use it.
func (s *Store) Exists(ctx context.Context, path string) (bool, error) {
	ok, err := s.b.Exists(ctx, path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	return ok, nil
}

// List calls fn with every path the store holds and its modification
// time, in no particular order, until fn returns an error.
func (s *Store) List(ctx context.Context, fn func(path string, modified time.Time) error) error {
	it := s.b.List(nil)
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("failed to list the object data store: %w", err)
		}
		if obj.IsDir {
			continue
		}
		if err := fn(obj.Key, obj.ModTime); err != nil {
			return err
		}
	}
}

// Copy copies src to dst within the store.
func (s *Store) Copy(ctx context.Context, dst, src string) error {
	if err := s.b.Copy(ctx, dst, src, nil); err != nil {
		return fmt.Errorf("failed to copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// ErrExists is returned by WriteNew when the path holds data.
var ErrExists = errors.New("blobstore: the path holds data")

// WriteNew writes b at path only if nothing is there (a conditional
// write: If-None-Match on S3, an exclusive create on a directory), and
// returns ErrExists otherwise. A store that cannot write conditionally
// gets a plain write.
func (s *Store) WriteNew(ctx context.Context, path string, b []byte) error {
	w, err := s.b.NewWriter(ctx, path, &blob.WriterOptions{ContentType: "application/octet-stream", IfNotExist: true})
	if err == nil {
		if _, err = w.Write(b); err != nil {
			w.Close()
			return fmt.Errorf("failed to store %s: %w", path, err)
		}
		err = w.Close()
	}
	switch code := gcerrors.Code(err); {
	case err == nil:
		return nil
	case code == gcerrors.FailedPrecondition || code == gcerrors.AlreadyExists:
		return ErrExists
	case code == gcerrors.Unimplemented:
		_, err := s.Write(ctx, path, bytes.NewReader(b))
		return err
	}
	return fmt.Errorf("failed to store %s: %w", path, err)
}
