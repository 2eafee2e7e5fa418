//go:build !linux

package backup

// syncAll makes every file and directory written under dir durable.
func syncAll(dir string) error { return syncEach(dir) }
