package backup

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncAll makes every file and directory written under dir durable: one
// syncfs(2) of its file system, rather than an fsync per file (the
// backup of a large installation writes tens of thousands), falling back
// to those where syncfs fails.
func syncAll(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err == nil {
		return nil
	}
	if err := syncEach(dir); err != nil {
		return fmt.Errorf("failed to sync the backup: %w", err)
	}
	return nil
}
