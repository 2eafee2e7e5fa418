package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// masterKeyFileMode is the mode a created master key file gets.
const masterKeyFileMode = 0o600

// maxMasterKeyFileSize bounds what LoadOrCreateMasterKey reads: base64 of 32
// bytes is 44 characters, plus a line ending.
const maxMasterKeyFileSize = 256

// ErrInsecureMasterKeyFile: the master key file is accessible by group or
// others.
var ErrInsecureMasterKeyFile = errors.New("master key file is readable or writable by group or others")

// LoadOrCreateMasterKey returns the 32-byte master key stored at path,
// creating the file with a fresh random key if it does not exist; created
// reports whether it did.
//
// The file holds the key as standard padded base64 (44 characters),
// optionally followed by a newline. An existing file must be a regular file
// with no permission bits for group or others (0600 or 0400); otherwise
// LoadOrCreateMasterKey refuses it with an error wrapping
// ErrInsecureMasterKeyFile. A new file is created with mode 0600 and written
// atomically: a temporary file in the same directory is written and fsynced,
// then hard-linked into place, which never replaces a file another process
// created meanwhile (rename is used where the file system has no hard
// links), and the directory is fsynced. The directory must exist.
func LoadOrCreateMasterKey(path string) (key []byte, created bool, err error) {
	key, err = loadMasterKey(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	key, created, err = createMasterKey(path)
	if err != nil {
		return nil, false, err
	}
	return key, created, nil
}

// loadMasterKey reads and checks an existing master key file. It returns an
// error wrapping fs.ErrNotExist when there is no file at path.
func loadMasterKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open master key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat master key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("master key file %s is not a regular file (mode %s)", path, fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %04o, want 0600 (run chmod 600 %s): %w", path, perm, path, ErrInsecureMasterKeyFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxMasterKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read master key file: %w", err)
	}
	defer clear(data)
	if len(data) > maxMasterKeyFileSize {
		return nil, fmt.Errorf("master key file %s is too large: want %d base64 characters", path, base64.StdEncoding.EncodedLen(MasterKeySize))
	}
	key, err := parseMasterKey(data)
	if err != nil {
		return nil, fmt.Errorf("master key file %s %w", path, err)
	}
	return key, nil
}

// ParseMasterKey decodes the contents of a master key file (see
// LoadOrCreateMasterKey for its format).
func ParseMasterKey(data []byte) ([]byte, error) {
	if len(data) > maxMasterKeyFileSize {
		return nil, fmt.Errorf("master key is too large: want %d base64 characters", base64.StdEncoding.EncodedLen(MasterKeySize))
	}
	key, err := parseMasterKey(data)
	if err != nil {
		return nil, fmt.Errorf("master key %w", err)
	}
	return key, nil
}

// parseMasterKey decodes a master key file's contents; its errors read
// after "master key file PATH".
func parseMasterKey(data []byte) ([]byte, error) {
	text := bytes.TrimSpace(data)
	key := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(key, text)
	if err != nil {
		clear(key)
		return nil, fmt.Errorf("is not valid base64: %w", err)
	}
	if n != MasterKeySize {
		clear(key)
		return nil, fmt.Errorf("holds %d bytes, want %d", n, MasterKeySize)
	}
	return key[:n], nil
}

// createMasterKey writes a new random key to path unless a file appears
// there first, in which case that file is loaded.
func createMasterKey(path string) ([]byte, bool, error) {
	key := make([]byte, MasterKeySize)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, false, fmt.Errorf("generate master key: %w", err)
	}
	text := make([]byte, base64.StdEncoding.EncodedLen(MasterKeySize), base64.StdEncoding.EncodedLen(MasterKeySize)+1)
	base64.StdEncoding.Encode(text, key)
	text = append(text, '\n')
	defer clear(text)

	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, false, fmt.Errorf("create master key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // a no-op once the temporary file is linked or renamed and removed
	if err := writeAndSync(tmp, text); err != nil {
		return nil, false, fmt.Errorf("write master key file: %w", err)
	}

	linkErr := os.Link(tmpName, path)
	if errors.Is(linkErr, fs.ErrExist) {
		// Another process created the file meanwhile: use its key.
		clear(key)
		existing, err := loadMasterKey(path)
		if err != nil {
			return nil, false, err
		}
		return existing, false, nil
	}
	if linkErr == nil {
		if err := os.Remove(tmpName); err != nil {
			return nil, false, fmt.Errorf("remove temporary master key file: %w", err)
		}
	} else if err := os.Rename(tmpName, path); err != nil {
		return nil, false, fmt.Errorf("move master key file into place: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, false, fmt.Errorf("sync master key directory: %w", err)
	}
	return key, true, nil
}

func writeAndSync(f *os.File, data []byte) error {
	if err := f.Chmod(masterKeyFileMode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// LoadMasterKey reads an existing master key file (see
// LoadOrCreateMasterKey for its format and permission checks).
func LoadMasterKey(path string) ([]byte, error) { return loadMasterKey(path) }
