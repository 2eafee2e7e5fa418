package invoke

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/signet/signet/internal/functions"
)

// MaxUnzippedSize is the largest a function's code and layers may be once
// unpacked (Lambda's 250 MB).
const MaxUnzippedSize = 262144000

// Unpacker unpacks deployment packages into a cache directory, once per
// package, where sandboxes mount them read-only.
type Unpacker struct {
	Dir    string
	Reader functions.CodeReader
	// Layer resolves a layer version ARN.
	Layer func(ctx context.Context, arn string) (functions.LayerVersion, error)

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// ErrCodeTooLarge reports code over MaxUnzippedSize.
var ErrCodeTooLarge = errors.New("unzipped code too large")

// ErrBadPackage reports a package that cannot be unpacked (not a valid
// zip); it is the function's error, not Signet's.
var ErrBadPackage = errors.New("the deployment package cannot be unpacked")

// codeDir is where the package at path is unpacked: one directory per
// deployment (paths are never reused), removed by Remove once no version
// uses the package.
func (u *Unpacker) codeDir(path string) string {
	sum := sha256.Sum256([]byte(path))
	return filepath.Join(u.Dir, "code", hex.EncodeToString(sum[:]))
}

// Remove deletes the unpacked files of the package at path. Call it once
// no execution environment uses them.
func (u *Unpacker) Remove(path string) error {
	dir := u.codeDir(path)
	l := u.lock(dir)
	l.Lock()
	defer l.Unlock()
	return os.RemoveAll(dir)
}

// Reset deletes every unpacked package (at start, when no environment
// runs): what is needed is unpacked again on first use.
func (u *Unpacker) Reset() error {
	return errors.Join(os.RemoveAll(filepath.Join(u.Dir, "code")), os.RemoveAll(filepath.Join(u.Dir, "layers")))
}

// Unpack returns the host directories of f's code and of its layers
// merged in order ("" when it has none).
func (u *Unpacker) Unpack(ctx context.Context, f functions.Function) (task, opt string, err error) {
	task = u.codeDir(f.CodePath)
	if err := u.once(ctx, task, func(dst string) error {
		return u.extract(ctx, f.CodePath, dst, 0)
	}); err != nil {
		return "", "", err
	}
	if len(f.Layers) == 0 {
		return task, "", nil
	}
	var layers []functions.LayerVersion
	h := sha256.New()
	for _, l := range f.Layers {
		lv, err := u.Layer(ctx, l.ARN)
		if err != nil {
			return "", "", fmt.Errorf("layer %s: %w", l.ARN, err)
		}
		layers = append(layers, lv)
		fmt.Fprintf(h, "%s\n", lv.CodeSHA256)
	}
	opt = filepath.Join(u.Dir, "layers", hex.EncodeToString(h.Sum(nil)))
	err = u.once(ctx, opt, func(dst string) error {
		var total int64
		for _, lv := range layers {
			if err := u.extract(ctx, lv.CodePath, dst, total); err != nil {
				return err
			}
			total += dirSize(dst)
		}
		return nil
	})
	return task, opt, err
}

// once creates dir with fill unless it exists, so that a directory that
// exists is always complete.
func (u *Unpacker) once(ctx context.Context, dir string, fill func(dst string) error) error {
	l := u.lock(dir)
	l.Lock()
	defer l.Unlock()
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".unpack-")
	if err != nil {
		return err
	}
	os.Chmod(tmp, 0o755)
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return os.Rename(tmp, dir)
}

// lock returns the lock of an unpacked directory.
func (u *Unpacker) lock(dir string) *sync.Mutex {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.locks == nil {
		u.locks = map[string]*sync.Mutex{}
	}
	l := u.locks[dir]
	if l == nil {
		l = new(sync.Mutex)
		u.locks[dir] = l
	}
	return l
}

// extract unpacks the zip at path into dst, confined to dst (entries
// and symbolic links cannot write outside it). Files are readable by
// the sandbox user and keep their executable bit.
func (u *Unpacker) extract(ctx context.Context, codePath, dst string, already int64) error {
	rc, err := u.Reader.NewRangeReader(ctx, codePath, 0, -1)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".zip-")
	if err != nil {
		rc.Close()
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, rc)
	rc.Close()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(tmp, n)
	if err != nil {
		return fmt.Errorf("%w: not a valid zip: %v", ErrBadPackage, err)
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer root.Close()
	total := already
	for _, zf := range zr.File {
		name := path.Clean(strings.TrimLeft(strings.ReplaceAll(zf.Name, "\\", "/"), "/"))
		if name == "." || name == ".." || strings.HasPrefix(name, "../") {
			continue
		}
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			if err := root.MkdirAll(name, 0o755); err != nil {
				return entryError(zf.Name, err)
			}
		case mode&fs.ModeSymlink != 0:
			target, err := readAllLimited(zf, 4096)
			if err != nil {
				return entryError(zf.Name, err)
			}
			root.MkdirAll(path.Dir(name), 0o755)
			root.Remove(name)
			if err := root.Symlink(string(target), name); err != nil {
				return entryError(zf.Name, err)
			}
		case mode.IsRegular():
			total += int64(zf.UncompressedSize64)
			if total > MaxUnzippedSize || zf.UncompressedSize64 > MaxUnzippedSize {
				return fmt.Errorf("%w: unzipped size must be smaller than %d bytes", ErrCodeTooLarge, MaxUnzippedSize)
			}
			if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
				return entryError(zf.Name, err)
			}
			perm := fs.FileMode(0o644)
			if mode&0o111 != 0 {
				perm = 0o755
			}
			if err := writeEntry(root, name, zf, perm); err != nil {
				return entryError(zf.Name, err)
			}
		}
	}
	return nil
}

// entryError classifies a failure to unpack an entry: the host's when
// its disk fails or fills up, else the package's (a corrupt entry, one
// that collides with another or leads out of the directory through a
// link), which is ErrBadPackage.
func entryError(name string, err error) error {
	for _, host := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EROFS, syscall.ENOMEM, syscall.EMFILE, syscall.ENFILE} {
		if errors.Is(err, host) {
			return fmt.Errorf("unpacking %s: %w", name, err)
		}
	}
	return fmt.Errorf("%w: entry %s: %v", ErrBadPackage, name, err)
}

func writeEntry(root *os.Root, name string, zf *zip.File, perm fs.FileMode) error {
	r, err := zf.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	root.Remove(name)
	w, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, io.LimitReader(r, MaxUnzippedSize+1)); err != nil {
		w.Close()
		return err
	}
	if err := w.Chmod(perm); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func readAllLimited(zf *zip.File, n int64) ([]byte, error) {
	r, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, n))
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
