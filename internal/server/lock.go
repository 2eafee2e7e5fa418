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
