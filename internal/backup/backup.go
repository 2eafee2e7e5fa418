// Package backup makes a consistent copy of an embedded installation
// (SQLite databases and object data in its data directory) while its
// server keeps serving, and restores one into a new data directory.
//
// # What a backup holds
//
// A backup is a directory: a snapshot of each database (signet.db, with
// the sealed keys and every record, and audit.db), the object data that
// snapshot refers to and the object store's installation marker (under
// objects/, laid out as the data directory's), the configuration file
// when there is one, the master key only when asked, and, written last,
// the manifest (signet-backup.json) with the size and SHA-256 of every
// file and a MAC under the master key that authenticates it. A directory without a manifest is not a backup: one that was
// interrupted is never mistaken for a complete one.
//
// Left out, because a server makes them again or they hold nothing of
// the installation: the bootstrap credentials file (written again from
// the sealed bootstrap key at start), the lock, the databases'
// write-ahead logs (folded into the snapshots), the unpacked function
// code (sandbox/), the admission trust store and the TLS CA's
// certificate (written at start from the database), the
// object sweep's trash and data nothing refers to.
//
// # Consistency
//
// The snapshot of signet.db is the backup's point in time. Object data
// is written before the record that refers to it commits, and deleted
// after its record is deleted, so every path the snapshot refers to is
// in the store when the snapshot is taken; the copy then reads each of
// them. One deleted since (its record deleted after the snapshot) makes
// the backup take a new snapshot and copy what that one refers to, a few
// times at most. audit.db is snapshotted after signet.db: a change is
// answered only once its audit record is durable, so the audit log
// holds the record of every change acknowledged before the backup began.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/objects/blobstore"
)

// Databases is what a backup needs of SQLite.
type Databases interface {
	// Snapshot writes a consistent copy of the database file src to dst
	// (which does not exist) while other processes keep writing src,
	// and makes it durable before it returns. It never writes src.
	Snapshot(ctx context.Context, src, dst string) error
	// References returns the object data paths the database file (a
	// snapshot nobody writes) refers to.
	References(ctx context.Context, file string) (map[string]bool, error)
}

// Options says what to back up and where.
type Options struct {
	// DataDir is the installation's data directory.
	DataDir string
	// ConfigFile is the configuration file to include ("" for none).
	ConfigFile string
	// MasterKeyFile is the installation's master key (DATA_DIR/master.key
	// when empty). IncludeMasterKey copies it into the backup.
	MasterKeyFile    string
	IncludeMasterKey bool
	// Dest is the backup directory: absent or empty.
	Dest string
	// Databases snapshots and reads the databases.
	Databases Databases
	// SignetVersion is recorded in the manifest.
	SignetVersion string
	// Workers copy object data in parallel (4 when zero).
	Workers int
}

// Errors Run and Restore return (wrapped, with what to do).
var (
	ErrNoInstallation = errors.New("no installation")
	ErrDestNotEmpty   = errors.New("the backup directory is not empty")
	ErrObjectsChurn   = errors.New("object data kept being deleted while the backup copied it")
)

// DeleteHoldLease is the database lease a backup holds while it runs: a
// server seeing it held keeps the object data it deletes until the lease
// ends, so that what a snapshot refers to stays until it is copied.
const DeleteHoldLease = "backup"

// maxAttempts bounds the snapshots a backup takes when object data its
// snapshot refers to is deleted before it is copied.
const maxAttempts = 5

// Run makes a backup and returns its manifest.
func Run(ctx context.Context, o Options) (*Manifest, error) {
	started := time.Now().UTC()
	if o.Workers <= 0 {
		o.Workers = 4
	}
	src := filepath.Join(o.DataDir, mainDatabase)
	if fi, err := os.Stat(src); err != nil || !fi.Mode().IsRegular() {
		abs, _ := filepath.Abs(o.DataDir)
		return nil, fmt.Errorf("%w in %s (no signet.db): give the data directory 'signet serve' uses (--data-dir DIR)", ErrNoInstallation, abs)
	}
	keyFile := o.MasterKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(o.DataDir, masterKeyFile)
	}
	key, err := keys.LoadMasterKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("the installation's master key: %w", err)
	}
	if err := prepareDest(o.Dest); err != nil {
		return nil, err
	}
	m := &Manifest{Format: manifestFormat, Version: manifestVersion, SignetVersion: o.SignetVersion, Started: started,
		MasterKey: MasterKeyInfo{Included: o.IncludeMasterKey, Fingerprint: keyFingerprint(key)}}
	source, err := blobstore.OpenDir(filepath.Join(o.DataDir, objectsDir))
	if err != nil {
		return nil, err
	}
	defer source.Close()
	sink, err := blobstore.OpenDir(filepath.Join(o.Dest, objectsDir))
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	sink.Unsynced = true // syncAll makes the whole backup durable before its manifest

	c := &copier{src: source, dst: sink, workers: o.Workers, copied: map[string]Entry{}}
	for attempt := 1; ; attempt++ {
		m.SnapshotAt, err = snapshot(ctx, o, o.Databases)
		if err != nil {
			return nil, err
		}
		refs, err := o.Databases.References(ctx, filepath.Join(o.Dest, mainDatabase))
		if err != nil {
			return nil, fmt.Errorf("reading what the database snapshot refers to: %w", err)
		}
		missing, err := c.sync(ctx, refs)
		if err != nil {
			return nil, err
		}
		if len(missing) == 0 {
			break
		}
		if attempt == maxAttempts {
			return nil, fmt.Errorf("%w (%d paths, such as %s, after %d snapshots): run the backup again when fewer objects or functions are being deleted", ErrObjectsChurn, len(missing), missing[0], attempt)
		}
	}
	// The installation marker: whose data this is.
	if ok, err := source.Exists(ctx, markerName); err != nil {
		return nil, err
	} else if ok {
		e, err := c.copyOne(ctx, markerName)
		if err != nil {
			return nil, err
		}
		c.copied[markerName] = e
		if b, err := os.ReadFile(filepath.Join(o.Dest, objectsDir, markerName)); err == nil {
			m.Installation = strings.TrimSpace(string(b))
		}
	}
	for _, e := range c.copied {
		m.Objects = append(m.Objects, e)
	}
	slices.SortFunc(m.Objects, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })

	files := []string{mainDatabase}
	if fileExists(filepath.Join(o.Dest, auditDatabase)) {
		files = append(files, auditDatabase)
	}
	if o.ConfigFile != "" {
		if err := copyFile(o.ConfigFile, filepath.Join(o.Dest, configFile)); err != nil {
			return nil, fmt.Errorf("the configuration file: %w", err)
		}
		files = append(files, configFile)
	}
	if o.IncludeMasterKey {
		if err := writeMasterKey(filepath.Join(o.Dest, masterKeyFile), key); err != nil {
			return nil, err
		}
		files = append(files, masterKeyFile)
	}
	for _, f := range files {
		e, err := hashFile(o.Dest, f)
		if err != nil {
			return nil, err
		}
		m.Files = append(m.Files, e)
	}
	m.Finished = time.Now().UTC()
	if m.MAC, err = m.computeMAC(key); err != nil {
		return nil, err
	}
	if err := writeManifest(o.Dest, m); err != nil {
		return nil, err
	}
	return m, nil
}

// prepareDest creates the backup directory, or checks that it is empty.
func prepareDest(dest string) error {
	entries, err := os.ReadDir(dest)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(dest, 0o700)
	case err != nil:
		return fmt.Errorf("the backup directory: %w", err)
	case len(entries) == 0:
		return os.Chmod(dest, 0o700)
	}
	if fileExists(filepath.Join(dest, ManifestName)) {
		return fmt.Errorf("%w: %s already holds a backup; choose a new directory for each backup", ErrDestNotEmpty, dest)
	}
	return fmt.Errorf("%w: %s holds %d entries (such as %s); choose a new or empty directory", ErrDestNotEmpty, dest, len(entries), entries[0].Name())
}

// snapshot replaces the backup's databases with new snapshots: signet.db
// first (the backup's point in time), then audit.db.
func snapshot(ctx context.Context, o Options, dbs Databases) (time.Time, error) {
	var at time.Time
	for _, f := range []string{mainDatabase, auditDatabase} {
		src, dst := filepath.Join(o.DataDir, f), filepath.Join(o.Dest, f)
		if f == auditDatabase && !fileExists(src) {
			continue // the audit log is still in signet.db
		}
		if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
			return at, err
		}
		if f == mainDatabase {
			at = time.Now().UTC()
		}
		if err := dbs.Snapshot(ctx, src, dst); err != nil {
			return at, fmt.Errorf("snapshot of %s: %w", f, err)
		}
	}
	return at, nil
}

// copier copies object data from the installation's store to the
// backup's, remembering what it copied.
type copier struct {
	src, dst *blobstore.Store
	workers  int
	copied   map[string]Entry
}

// sync makes the backup's object data the paths of refs: it copies those
// not yet copied and removes those copied for an earlier snapshot that
// this one no longer refers to. It returns the paths missing from the
// installation's store (deleted since the snapshot).
func (c *copier) sync(ctx context.Context, refs map[string]bool) (missing []string, err error) {
	for p := range c.copied {
		if !refs[p] && p != markerName {
			if err := c.dst.Delete(ctx, p); err != nil {
				return nil, err
			}
			delete(c.copied, p)
		}
	}
	var todo []string
	for p := range refs {
		if _, ok := c.copied[p]; !ok {
			todo = append(todo, p)
		}
	}
	slices.Sort(todo)
	var mu sync.Mutex
	var firstErr error
	work := make(chan string)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				e, err := c.copyOne(ctx, p)
				mu.Lock()
				switch {
				case errors.Is(err, errMissing):
					missing = append(missing, p)
				case err != nil:
					if firstErr == nil {
						firstErr = err
						cancel()
					}
				default:
					c.copied[p] = e
				}
				mu.Unlock()
			}
		}()
	}
	for _, p := range todo {
		select {
		case work <- p:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	slices.Sort(missing)
	return missing, firstErr
}

var errMissing = errors.New("not in the object data store")

// copyOne copies one path, hashing it on the way.
func (c *copier) copyOne(ctx context.Context, p string) (Entry, error) {
	if err := checkObjectPath(p); err != nil {
		return Entry{}, fmt.Errorf("the database refers to object data at %w", err)
	}
	r, err := c.src.NewRangeReader(ctx, p, 0, -1)
	if err != nil {
		if ok, xerr := c.src.Exists(ctx, p); xerr == nil && !ok {
			return Entry{}, errMissing
		}
		return Entry{}, err
	}
	defer r.Close()
	h := sha256.New()
	n, err := c.dst.Write(ctx, p, io.TeeReader(r, h))
	if err != nil {
		return Entry{}, err
	}
	return Entry{Path: p, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// hashFile returns the entry of a file of the backup.
func hashFile(dir, name string) (Entry, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return Entry{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Entry{}, fmt.Errorf("failed to read %s: %w", name, err)
	}
	return Entry{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// copyFile copies src to a new file dst (mode 0600), durably.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeFile(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// writeFile writes a new file (mode 0600) with fill. It is made durable
// with the rest of the backup, by syncAll before the manifest.
func writeFile(dst string, fill func(io.Writer) error) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		os.Remove(dst)
		return fmt.Errorf("failed to write %s: %w", dst, err)
	}
	return f.Close()
}

// writeMasterKey writes key in the master key file's format.
func writeMasterKey(path string, key []byte) error {
	return writeFile(path, func(w io.Writer) error {
		_, err := io.WriteString(w, base64.StdEncoding.EncodeToString(key)+"\n")
		return err
	})
}

// writeManifest writes the manifest atomically, last: a temporary file,
// synced, renamed into place, and the directory synced.
func writeManifest(dir string, m *Manifest) error {
	b, err := m.marshal()
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ManifestName+".tmp")
	os.Remove(tmp)
	if err := writeFile(tmp, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return err
	}
	// Everything written so far, durable before the manifest says the
	// backup is complete.
	if err := syncAll(dir); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestName)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("failed to sync directory %s: %w", dir, err)
	}
	return nil
}

// syncEach syncs every file and directory under root, one by one: where
// the file system cannot be synced as a whole.
func syncEach(root string) error {
	return filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := f.Sync(); err != nil {
			return fmt.Errorf("failed to sync %s: %w", p, err)
		}
		return nil
	})
}

// syncTree syncs every directory under root (the entries of the files
// written in them), so that no file the manifest lists can be lost in a
// crash after the manifest is written.
func syncTree(root string) error {
	return filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return syncDir(p)
		}
		return nil
	})
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
