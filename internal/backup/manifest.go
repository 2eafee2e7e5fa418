package backup

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// ManifestName is the manifest's file in a backup directory. It is
// written last, after every file it lists is on disk: a directory
// without it is not a backup (or one that did not finish).
const ManifestName = "signet-backup.json"

// manifestFormat and manifestVersion identify the manifest's format.
// Version 2 carries a MAC under the master key; version 1 had none, and
// a restore refuses it as it refuses a version it does not know.
const (
	manifestFormat  = "signet-backup"
	manifestVersion = 2
)

// macInfo is the HKDF info from which the manifest's MAC key is derived
// from the master key.
const macInfo = "signet backup manifest v1"

// maxManifestSize bounds what a restore reads as the manifest: some 200
// bytes an object, so a few million objects.
const maxManifestSize = 1 << 30

// Manifest describes a backup: what it holds, and the size and SHA-256
// of every file, which a restore checks before it uses any. Its MAC,
// under a key derived from the master key, authenticates all of it: a
// backup edited by someone without the master key (its files and the
// checksums the manifest lists for them) is refused.
type Manifest struct {
	Format  string `json:"format"`  // "signet-backup"
	Version int    `json:"version"` // 2
	// SignetVersion is the version of the signet that made the backup.
	SignetVersion string `json:"signet_version"`
	// Started is when the backup began, and SnapshotAt when the database
	// snapshot it holds was taken: the backup's point in time, which
	// every change acknowledged before Started precedes.
	Started    time.Time `json:"started"`
	SnapshotAt time.Time `json:"snapshot_at"`
	Finished   time.Time `json:"finished"`
	// Installation is the installation's id (the object data store's
	// marker), when the store has one.
	Installation string `json:"installation,omitempty"`
	// MasterKey says whether the backup holds the master key, and
	// identifies the key it needs either way.
	MasterKey MasterKeyInfo `json:"master_key"`
	// Files are the databases, the configuration and (when included) the
	// master key, by their path in the backup.
	Files []Entry `json:"files"`
	// Objects are the object data the database snapshot refers to, and
	// the installation marker, by their path in the object data store
	// (stored under objects/ in the backup).
	Objects []Entry `json:"objects"`
	// MAC is the HMAC-SHA256, in hex, of the manifest's compact JSON
	// encoding without it, under a key derived from the master key with
	// HKDF-SHA256 (info "signet backup manifest v1").
	MAC string `json:"mac,omitempty"`
}

// MasterKeyInfo describes the master key a restore needs.
type MasterKeyInfo struct {
	Included bool `json:"included"`
	// Fingerprint is a SHA-256 over a label and the key (not the key,
	// and nothing the key can be recovered from), by which a restore
	// tells whether a key it is given is the installation's.
	Fingerprint string `json:"fingerprint"`
}

// Entry is one file of a backup.
type Entry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Files a backup may hold besides object data.
const (
	mainDatabase  = "signet.db"
	auditDatabase = "audit.db"
	configFile    = "signet.yaml"
	masterKeyFile = "master.key"
	objectsDir    = "objects"
	markerName    = "signet-installation"
)

var knownFiles = map[string]bool{mainDatabase: true, auditDatabase: true, configFile: true, masterKeyFile: true}

// objectNamespaces are the prefixes under which Signet writes object data
// (as the object sweep's namespaces).
var objectNamespaces = []string{"data/", "parts/", "functions/", "layers/"}

// ErrBadManifest is returned (wrapped, with what is wrong) for a manifest
// that cannot be read.
var ErrBadManifest = errors.New("the backup's manifest is not valid")

// ParseManifest reads a manifest and checks that it describes a backup
// this Signet can restore: the format and version, the databases, paths
// that stay inside the backup, and well-formed checksums.
func ParseManifest(b []byte) (*Manifest, error) {
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadManifest, maxManifestSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrBadManifest)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	return &m, nil
}

func (m *Manifest) check() error {
	if m.Format != manifestFormat {
		return fmt.Errorf("format is %q, want %q", m.Format, manifestFormat)
	}
	if m.Version == 1 {
		return fmt.Errorf("version 1 is a backup made before backups were authenticated under the master key, which this signet does not restore: take a new backup with this signet (version %d)", manifestVersion)
	}
	if m.Version != manifestVersion {
		return fmt.Errorf("version %d: this signet restores version %d (restore with the signet that made the backup, %q, or a newer one)", m.Version, manifestVersion, m.SignetVersion)
	}
	if !validHex(m.MasterKey.Fingerprint, sha256.Size) {
		return errors.New("master_key.fingerprint is not a SHA-256 in hex")
	}
	if !validHex(m.MAC, sha256.Size) {
		return errors.New("mac is not an HMAC-SHA256 in lowercase hex")
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if !knownFiles[f.Path] {
			return fmt.Errorf("files: %q is not a file a backup holds (signet.db, audit.db, signet.yaml, master.key)", f.Path)
		}
		if err := f.check(seen); err != nil {
			return fmt.Errorf("files: %w", err)
		}
	}
	if !seen[mainDatabase] {
		return errors.New("files: no signet.db")
	}
	if seen[masterKeyFile] != m.MasterKey.Included {
		return errors.New("master_key.included does not match whether files lists master.key")
	}
	seen = map[string]bool{}
	for _, o := range m.Objects {
		if err := checkObjectPath(o.Path); err != nil {
			return fmt.Errorf("objects: %w", err)
		}
		if err := o.check(seen); err != nil {
			return fmt.Errorf("objects: %w", err)
		}
	}
	return nil
}

func (e Entry) check(seen map[string]bool) error {
	if seen[e.Path] {
		return fmt.Errorf("%q is listed twice", e.Path)
	}
	seen[e.Path] = true
	if e.Size < 0 {
		return fmt.Errorf("%q has a negative size", e.Path)
	}
	if !validHex(e.SHA256, sha256.Size) {
		return fmt.Errorf("%q: sha256 is not a SHA-256 in lowercase hex", e.Path)
	}
	return nil
}

// checkObjectPath accepts the installation marker and clean relative
// paths in Signet's namespaces, nothing that could leave the objects
// directory.
func checkObjectPath(p string) error {
	if p == markerName {
		return nil
	}
	if p == "" || strings.IndexFunc(p, func(r rune) bool { return r < 32 || r == '\\' || r == 0x7f }) >= 0 || path.Clean(p) != p || strings.HasPrefix(p, "/") ||
		p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
		return fmt.Errorf("%q is not a clean relative path", p)
	}
	for _, ns := range objectNamespaces {
		if strings.HasPrefix(p, ns) && len(p) > len(ns) {
			for _, seg := range strings.Split(p, "/") {
				if seg == "." || seg == ".." || seg == "" {
					return fmt.Errorf("%q is not a clean relative path", p)
				}
			}
			return nil
		}
	}
	return fmt.Errorf("%q is outside Signet's object namespaces (%s)", p, strings.Join(objectNamespaces, ", "))
}

func validHex(s string, n int) bool {
	if len(s) != 2*n || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// marshal encodes the manifest, indented, with a final newline.
func (m *Manifest) marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ErrAltered is returned (wrapped, with what to do) for a backup whose
// manifest's MAC does not verify under the master key.
var ErrAltered = errors.New("the backup was altered after it was made, or was made under another master key")

// computeMAC returns the manifest's MAC under the master key: an
// HMAC-SHA256 of its compact JSON encoding without the MAC, so of every
// field a restore reads.
func (m *Manifest) computeMAC(masterKey []byte) (string, error) {
	macKey, err := hkdf.Key(sha256.New, masterKey, nil, macInfo, sha256.Size)
	if err != nil {
		return "", err
	}
	defer clear(macKey)
	c := *m
	c.MAC = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	h := hmac.New(sha256.New, macKey)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verify checks the manifest's MAC under the master key.
func (m *Manifest) verify(masterKey []byte) error {
	want, err := m.computeMAC(masterKey)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(want), []byte(m.MAC)) {
		return fmt.Errorf("%w: its manifest's MAC does not verify under the installation's master key; nothing was read from it beyond the manifest, and nothing was restored: use another backup, and find out who could write to this one", ErrAltered)
	}
	return nil
}

// keyFingerprint identifies a master key without revealing it.
func keyFingerprint(key []byte) string {
	h := sha256.New()
	h.Write([]byte("signet backup master key fingerprint\x00"))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil))
}
