package functions

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"path"
	"strings"
)

// Limits of a deployment package once unpacked. Lambda's unzipped limit
// is 262,144,000 bytes; it sets no number of entries, so Signet's is
// generous (node_modules trees are large) but bounded.
const (
	MaxUnzippedSize = 262144000
	MaxZipEntries   = 100000
)

// unzipMessage begins Lambda's answer to a package it cannot unzip.
const unzipMessage = "Could not unzip uploaded file. Please check your file, then try to upload again."

// checkPackage refuses, at deploy, a package that could not run: not a
// valid zip (every entry is read and its checksum checked), an entry
// whose path leaves the package's root (absolute, "..", or through a
// symbolic link of the package), more than maxSize bytes unpacked or
// more than maxEntries entries.
func checkPackage(zipBytes []byte, maxSize int64, maxEntries int) error {
	zr, err := zip.NewReader(bytes.NewReader(zipBytes), int64(len(zipBytes)))
	if err != nil && err != zip.ErrInsecurePath {
		return invalid("%s (%v)", unzipMessage, err)
	}
	if len(zr.File) > maxEntries {
		return invalid("%s The package has %d entries; at most %d are accepted.", unzipMessage, len(zr.File), maxEntries)
	}
	links := map[string]bool{}
	var total uint64
	for _, zf := range zr.File {
		name := strings.ReplaceAll(zf.Name, "\\", "/")
		clean := path.Clean(name)
		if strings.HasPrefix(name, "/") || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(name, "\x00") {
			return invalid("%s The entry %q leaves the package's root directory: entries must be relative paths inside it.", unzipMessage, zf.Name)
		}
		for dir := path.Dir(clean); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if links[dir] {
				return invalid("%s The entry %q is inside %q, which is a symbolic link: entries may not be written through links.", unzipMessage, zf.Name, dir)
			}
		}
		if zf.Mode()&fs.ModeSymlink != 0 {
			links[clean] = true
		}
		total += zf.UncompressedSize64
		if total > uint64(maxSize) {
			return invalid("Unzipped size must be smaller than %d bytes", maxSize)
		}
		if zf.Mode().IsDir() {
			continue
		}
		r, err := zf.Open()
		if err != nil {
			return invalid("%s The entry %q cannot be read: %v", unzipMessage, zf.Name, err)
		}
		// archive/zip fails a read past the declared size and checks the
		// CRC at the end, so the declared sizes counted above hold.
		_, err = io.Copy(io.Discard, r)
		r.Close()
		if err != nil {
			return invalid("%s The entry %q is corrupt: %v", unzipMessage, zf.Name, err)
		}
	}
	return nil
}

func (s *Service) checkPackage(zipBytes []byte) error {
	maxSize, maxEntries := s.MaxUnzippedSize, s.MaxZipEntries
	if maxSize <= 0 {
		maxSize = MaxUnzippedSize
	}
	if maxEntries <= 0 {
		maxEntries = MaxZipEntries
	}
	return checkPackage(zipBytes, maxSize, maxEntries)
}
