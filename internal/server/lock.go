package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrDataDirInUse is returned by Open when another server holds the data
// directory.
var ErrDataDirInUse = errors.New("data directory is in use by another signet server")

// lockDataDir takes an exclusive advisory lock on DIR/signet.lock for the
// life of the process and records the pid in it. The kernel releases the
// lock when the process exits, however it exits.
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "signet.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("failed to open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		pid := strings.TrimSpace(string(b))
		if _, perr := strconv.Atoi(pid); perr != nil {
			pid = "unknown"
		}
		return nil, fmt.Errorf("%w: %s is locked by pid %s; stop that server or choose another --data-dir", ErrDataDirInUse, dir, pid)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// tightenDataDir makes the data directory 0700 and strips group and
// other permissions from the files in it (databases, master key,
// credentials, lock), reporting what it changed: a directory created
// by hand or copied with looser modes is tightened at every start.
func tightenDataDir(dir string) (changed []string, err error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("failed to restrict the data directory %s to its owner: %w", dir, err)
		}
		changed = append(changed, fmt.Sprintf("%s %04o -> 0700", dir, fi.Mode().Perm()))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return changed, err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		perm := info.Mode().Perm()
		if perm&0o077 == 0 {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Chmod(p, perm&^0o077); err != nil {
			return changed, fmt.Errorf("failed to restrict %s to its owner: %w", p, err)
		}
		changed = append(changed, fmt.Sprintf("%s %04o -> %04o", p, perm, perm&^0o077))
	}
	return changed, nil
}
