package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/objects/blobstore"
)

// Errors Restore returns (wrapped, with what to do).
var (
	ErrNoManifest        = errors.New("not a complete backup")
	ErrLiveInstallation  = errors.New("a running signet server holds the data directory")
	ErrInstallationThere = errors.New("the data directory holds an installation")
	ErrDirNotEmpty       = errors.New("the data directory is not empty")
	ErrMasterKeyNeeded   = errors.New("the backup does not hold the master key")
	ErrWrongMasterKey    = errors.New("the master key is not the installation's")
	ErrDamaged           = errors.New("the backup is damaged")
)

// RestoreOptions says what to restore where.
type RestoreOptions struct {
	// Src is the backup directory.
	Src string
	// DataDir is the new data directory: absent or empty.
	DataDir string
	// MasterKeyFile is the installation's master key, needed when the
	// backup does not hold it.
	MasterKeyFile string
}

// RestoreReport says what a restore did.
type RestoreReport struct {
	Manifest *Manifest
	// Files and Objects are the counts restored.
	Files, Objects int
	// Config is the restored configuration's path ("" when the backup
	// held none).
	Config string
}

// stagingDir is where a restore writes before it moves everything into
// the data directory, signet.db last.
const stagingDir = ".signet-restore"

// lockFile is the data directory's lock that a running server holds
// (see internal/server/lock.go).
const lockFile = "signet.lock"

// testHookLocking, when set, runs after the data directory is checked
// and before its lock is taken.
var testHookLocking func(dataDir string)

// ReadManifest reads and checks the manifest of the backup in dir.
func ReadManifest(dir string) (*Manifest, error) {
	src, err := openBackup(dir)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return readManifest(src)
}

// openBackup opens the backup directory, from which a restore reads
// every file with openSource.
func openBackup(dir string) (*os.File, error) {
	src, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("the backup directory: %w", err)
	}
	if fi, err := src.Stat(); err != nil || !fi.IsDir() {
		src.Close()
		return nil, fmt.Errorf("the backup directory: %s is not a directory", dir)
	}
	return src, nil
}

// readManifest reads and checks the manifest of the backup src.
func readManifest(src *os.File) (*Manifest, error) {
	f, err := openSource(src, ManifestName)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s (a backup writes it last: this one did not finish, or it is not a backup); use another backup, or take a new one", ErrNoManifest, src.Name(), ManifestName)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, err
	}
	return ParseManifest(b)
}

// Restore checks the backup in o.Src against its manifest and restores
// it into o.DataDir. It refuses a data directory a server holds, one
// that holds an installation or anything else, a backup whose manifest's
// MAC does not verify under the master key, a backup with a missing or
// altered file, and (without the master key) a backup that does not
// hold it. On any failure it leaves o.DataDir as it found it.
func Restore(ctx context.Context, o RestoreOptions) (*RestoreReport, error) {
	src, err := openBackup(o.Src)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	m, err := readManifest(src)
	if err != nil {
		return nil, err
	}
	key, err := masterKeyFor(o, src, m)
	if err != nil {
		return nil, err
	}
	// The manifest is authentic before anything else of the backup is
	// read (but master.key, when the key is the backup's), or anything
	// is written.
	if err := m.verify(key); err != nil {
		return nil, err
	}
	created, err := checkTarget(o.DataDir)
	if err != nil {
		return nil, err
	}
	if testHookLocking != nil {
		testHookLocking(o.DataDir)
	}
	// Hold the lock a server would take, so that none starts on the
	// directory while it is being restored. The lock file is new (the
	// directory was checked empty): one that is there now, or one this
	// process created but another locked first, belongs to that process,
	// and is left alone.
	taken := fmt.Errorf("%w: %s was taken by another process while restoring; stop it and restore into a new directory", ErrLiveInstallation, o.DataDir)
	lock, err := os.OpenFile(filepath.Join(o.DataDir, lockFile), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, taken
	}
	if err != nil {
		if created {
			os.Remove(o.DataDir)
		}
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, taken
	}
	// From here on the lock file is this process's, and so is the
	// staging directory once made: a failure removes them (and the data
	// directory, when this restore created it).
	done, staged := false, false
	defer func() {
		if !done {
			if staged {
				os.RemoveAll(filepath.Join(o.DataDir, stagingDir))
			}
			os.Remove(filepath.Join(o.DataDir, lockFile))
			if created {
				os.Remove(o.DataDir)
			}
		}
		lock.Close()
	}()
	stage := filepath.Join(o.DataDir, stagingDir)
	if err := os.Mkdir(stage, 0o700); err != nil {
		return nil, err
	}
	staged = true
	r := &RestoreReport{Manifest: m}
	var problems []string
	for _, e := range m.Files {
		if e.Path == masterKeyFile {
			continue // written from the key checked above
		}
		err := copyChecked(src, e, func(rd io.Reader) (int64, error) {
			f, err := os.OpenFile(filepath.Join(stage, e.Path), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			n, err := io.Copy(f, rd)
			if err == nil {
				err = f.Sync()
			}
			return n, err
		})
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		r.Files++
	}
	objDst, err := blobstore.OpenDir(filepath.Join(stage, objectsDir))
	if err != nil {
		return nil, err
	}
	defer objDst.Close()
	for _, e := range m.Objects {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err := copyChecked(src, Entry{Path: objectsDir + "/" + e.Path, Size: e.Size, SHA256: e.SHA256},
			func(rd io.Reader) (int64, error) { return objDst.Write(ctx, e.Path, rd) })
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		r.Objects++
	}
	if len(problems) > 0 {
		const most = 10
		more, count := "", len(problems)
		if count > most {
			more = fmt.Sprintf("; and %d more", len(problems)-most)
			problems = problems[:most]
		}
		return nil, fmt.Errorf("%w: %d of its files are missing or differ from its manifest (%s%s); nothing was restored: use another backup", ErrDamaged,
			count, strings.Join(problems, "; "), more)
	}
	if err := writeMasterKey(filepath.Join(stage, masterKeyFile), key); err != nil {
		return nil, err
	}
	if err := syncTree(stage); err != nil {
		return nil, err
	}
	// Into place, signet.db last: a directory without it holds no
	// installation a server would start on.
	order := []string{objectsDir, auditDatabase, configFile, masterKeyFile, mainDatabase}
	for _, name := range order {
		from := filepath.Join(stage, name)
		if _, err := os.Stat(from); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.Rename(from, filepath.Join(o.DataDir, name)); err != nil {
			return nil, err
		}
		if name == mainDatabase {
			done = true // the installation is in place; what fails now is tidying
		}
	}
	if err := syncDir(o.DataDir); err != nil {
		return r, err
	}
	os.Remove(stage)
	os.Remove(filepath.Join(o.DataDir, lockFile))
	if fileExists(filepath.Join(o.DataDir, configFile)) {
		r.Config = filepath.Join(o.DataDir, configFile)
	}
	r.Files++ // the master key
	return r, nil
}

// masterKeyFor returns the key to restore: the backup's, or the one
// given, which must be the installation's either way.
func masterKeyFor(o RestoreOptions, src *os.File, m *Manifest) ([]byte, error) {
	var key []byte
	switch {
	case o.MasterKeyFile != "":
		k, err := keys.LoadMasterKey(o.MasterKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--master-key-file: %w", err)
		}
		key = k
	case m.MasterKey.Included:
		var e Entry
		for _, f := range m.Files {
			if f.Path == masterKeyFile {
				e = f
			}
		}
		var b bytes.Buffer
		b.Grow(maxKeyFileSize + 1)
		defer func() { clear(b.Bytes()) }()
		if err := copyChecked(src, e, func(r io.Reader) (int64, error) { return io.Copy(&b, io.LimitReader(r, maxKeyFileSize+1)) }); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		k, err := keys.ParseMasterKey(b.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%w: its %v", ErrDamaged, err)
		}
		key = k
	default:
		return nil, fmt.Errorf("%w (it was taken without --include-master-key), and its secrets are sealed under it: give it with --master-key-file FILE (the master.key of the data directory that was backed up, or where you keep it)", ErrMasterKeyNeeded)
	}
	if keyFingerprint(key) != m.MasterKey.Fingerprint {
		return nil, fmt.Errorf("%w: the backed-up installation's secrets are sealed under another key; give its master.key with --master-key-file", ErrWrongMasterKey)
	}
	return key, nil
}

// checkTarget refuses a data directory a server holds or that holds
// anything, and creates it when absent (reporting that it did).
func checkTarget(dir string) (created bool, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, err
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("the data directory: %w", err)
	}
	if pid, held := lockHeld(filepath.Join(dir, lockFile)); held {
		return false, fmt.Errorf("%w: %s is locked by pid %s; a restore never replaces a running installation: restore into a new directory (--data-dir), or stop that server and move its directory away first", ErrLiveInstallation, dir, pid)
	}
	if len(entries) == 0 {
		return false, os.Chmod(dir, 0o700)
	}
	for _, e := range entries {
		switch e.Name() {
		case mainDatabase, auditDatabase, masterKeyFile, objectsDir, lockFile, stagingDir:
			return false, fmt.Errorf("%w (%s is there): a restore never overwrites one; restore into a new directory (--data-dir), or move this one away first if it is to be replaced", ErrInstallationThere, filepath.Join(dir, e.Name()))
		}
	}
	return false, fmt.Errorf("%w: %s holds %d entries (such as %s); restore into a new or empty directory", ErrDirNotEmpty, dir, len(entries), entries[0].Name())
}

// lockHeld reports whether a process holds the lock file (and its pid).
func lockHeld(path string) (string, bool) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return "", false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return "", false
	}
	b, _ := os.ReadFile(path)
	pid := strings.TrimSpace(string(b))
	if _, err := strconv.Atoi(pid); err != nil {
		pid = "unknown"
	}
	return pid, true
}

// maxKeyFileSize bounds what a restore reads of a backup's master.key.
const maxKeyFileSize = 256

// copyChecked streams the backup's file e.Path (read from src with
// openSource) to write, and fails unless it has the entry's size and
// SHA-256.
func copyChecked(src *os.File, e Entry, write func(io.Reader) (int64, error)) error {
	f, err := openSource(src, e.Path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s is missing", e.Path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	// One byte more than the manifest says: a longer file is caught
	// without reading all of it.
	n, err := write(io.TeeReader(io.LimitReader(f, e.Size+1), h))
	if err != nil {
		return fmt.Errorf("%s: %v", e.Path, err)
	}
	if n != e.Size {
		return fmt.Errorf("%s has %d bytes, the manifest says %d", e.Path, n, e.Size)
	}
	if hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
		return fmt.Errorf("%s differs from the manifest's checksum", e.Path)
	}
	return nil
}

// openSource opens the file rel (a slash-separated path the manifest
// checked) of the backup directory src for reading. It follows no
// symbolic link, in rel's directories or as the file itself
// (O_NOFOLLOW), and requires a regular file (opened with O_NONBLOCK, so
// that a FIFO cannot hold the restore up): a link or a special file
// planted in a backup cannot make a restore read anything outside it.
// A missing file is an error wrapping os.ErrNotExist.
func openSource(src *os.File, rel string) (*os.File, error) {
	parts := strings.Split(rel, "/")
	dirfd := int(src.Fd())
	for i, name := range parts {
		last := i == len(parts)-1
		flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if last {
			flags |= unix.O_NONBLOCK
		} else {
			flags |= unix.O_DIRECTORY
		}
		var fd int
		var err error
		for {
			fd, err = unix.Openat(dirfd, name, flags, 0)
			if err != unix.EINTR {
				break
			}
		}
		if dirfd != int(src.Fd()) {
			unix.Close(dirfd)
		}
		switch {
		case last && (err == unix.ELOOP || err == unix.EMLINK):
			return nil, fmt.Errorf("%s in the backup is a symbolic link; a restore reads only regular files of the backup, and follows no link", rel)
		case err == unix.ELOOP || err == unix.EMLINK || err == unix.ENOTDIR:
			return nil, fmt.Errorf("%s: %s in the backup is a symbolic link or not a directory; a restore reads only regular files of the backup, and follows no link", rel, strings.Join(parts[:i+1], "/"))
		case err != nil:
			return nil, &os.PathError{Op: "open", Path: filepath.Join(src.Name(), filepath.FromSlash(rel)), Err: err}
		}
		if !last {
			dirfd = fd
			continue
		}
		f := os.NewFile(uintptr(fd), filepath.Join(src.Name(), filepath.FromSlash(rel)))
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			f.Close()
			return nil, fmt.Errorf("%s in the backup is not a regular file (%s); a restore reads only regular files of the backup", rel, fi.Mode().Type())
		}
		return f, nil
	}
	return nil, fmt.Errorf("%q is not a path in the backup", rel)
}
