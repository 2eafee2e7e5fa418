package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/objects/blobstore"
)

// fileDatabases is Databases on plain files: a snapshot is a copy, and a
// database refers to the object paths it lists, one a line.
type fileDatabases struct{}

func (fileDatabases) Snapshot(_ context.Context, src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

func (fileDatabases) References(_ context.Context, file string) (map[string]bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	refs := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p := strings.TrimSpace(sc.Text()); p != "" {
			refs[p] = true
		}
	}
	return refs, sc.Err()
}

// testObjects are the object data of the installations newInstallation
// makes, which their signet.db refers to.
var testObjects = map[string]string{"data/bucket/0001": "one", "functions/fn/code": "code"}

// newInstallation makes a data directory with the files a backup copies
// (signet.db listing the object data, audit.db, master.key and the
// object data) and returns it.
func newInstallation(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var db strings.Builder
	store, err := blobstore.OpenDir(filepath.Join(dir, objectsDir))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for p, body := range testObjects {
		db.WriteString(p + "\n")
		if _, err := store.Write(context.Background(), p, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{mainDatabase: db.String(), auditDatabase: "audit log\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, masterKeyFile)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newBackup backs up the installation in dataDir, with a configuration
// file, into a new directory and returns it.
func newBackup(t *testing.T, dataDir string, includeKey bool) string {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "backup")
	config := filepath.Join(t.TempDir(), "signet.yaml")
	if err := os.WriteFile(config, []byte("listen: 127.0.0.1:8443\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Options{DataDir: dataDir, ConfigFile: config, Dest: dest, Databases: fileDatabases{}, IncludeMasterKey: includeKey, SignetVersion: "test"}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return dest
}

// TestRestoreKeepsAnotherProcessLock: a process that takes the data
// directory's lock while a restore checks the directory (a server
// started on it, or another restore) makes the restore fail, and keeps
// its lock file: the restore removes only a lock file it created and
// locked.
func TestRestoreKeepsAnotherProcessLock(t *testing.T) {
	src := newBackup(t, newInstallation(t), true)
	tests := map[string]struct {
		hold bool // the other process holds its lock (else it left the file)
	}{
		"fail/lock held":        {hold: true},
		"fail/lock file exists": {hold: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "restored")
			lockPath := filepath.Join(dataDir, lockFile)
			var other *os.File
			testHookLocking = func(dir string) {
				f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
				if err != nil {
					t.Fatal(err)
				}
				if tc.hold {
					if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
						t.Fatal(err)
					}
				}
				f.WriteString("4242\n")
				other = f
			}
			t.Cleanup(func() {
				testHookLocking = nil
				if other != nil {
					other.Close()
				}
			})
			_, err := Restore(context.Background(), RestoreOptions{Src: src, DataDir: dataDir})
			if !errors.Is(err, ErrLiveInstallation) || !strings.Contains(err.Error(), "taken by another process") {
				t.Fatalf("Restore: %v, want ErrLiveInstallation (taken by another process)", err)
			}
			b, err := os.ReadFile(lockPath)
			if err != nil {
				t.Fatalf("the other process's lock file: %v", err)
			}
			if !bytes.Equal(b, []byte("4242\n")) {
				t.Errorf("the other process's lock file holds %q, want its pid", b)
			}
			fi, err := os.Stat(lockPath)
			if err != nil {
				t.Fatal(err)
			}
			if of, err := other.Stat(); err != nil || !os.SameFile(fi, of) {
				t.Errorf("the lock file at %s is not the other process's (%v)", lockPath, err)
			}
			entries, _ := os.ReadDir(dataDir)
			if len(entries) != 1 {
				t.Errorf("the data directory holds %d entries after the refused restore, want the lock file only", len(entries))
			}
		})
	}
}

// TestRestore: a backup restores into a new directory, with the master
// key it holds or the one given, and the lock is gone afterwards.
func TestRestore(t *testing.T) {
	dataDir := newInstallation(t)
	keyFile := filepath.Join(dataDir, masterKeyFile)
	tests := map[string]struct {
		includeKey bool
		keyFile    string
	}{
		"ok/key in the backup": {includeKey: true},
		"ok/key given":         {keyFile: keyFile},
		"ok/both":              {includeKey: true, keyFile: keyFile},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := newBackup(t, dataDir, tc.includeKey)
			dst := filepath.Join(t.TempDir(), "restored")
			r, err := Restore(context.Background(), RestoreOptions{Src: src, DataDir: dst, MasterKeyFile: tc.keyFile})
			if err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if r.Objects != len(r.Manifest.Objects) || r.Objects < len(testObjects) || r.Files != 4 {
				t.Errorf("restored %d files and %d objects, want 4 and the manifest's %d", r.Files, r.Objects, len(r.Manifest.Objects))
			}
			if r.Config != filepath.Join(dst, configFile) {
				t.Errorf("restored configuration: %q", r.Config)
			}
			for _, name := range []string{mainDatabase, auditDatabase, masterKeyFile} {
				want, _ := os.ReadFile(filepath.Join(dataDir, name))
				got, err := os.ReadFile(filepath.Join(dst, name))
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("restored %s differs from the installation's (%v)", name, err)
				}
			}
			for p, body := range testObjects {
				got, err := os.ReadFile(filepath.Join(dst, objectsDir, filepath.FromSlash(p)))
				if err != nil || string(got) != body {
					t.Errorf("restored object %s: %q, %v; want %q", p, got, err, body)
				}
			}
			for _, name := range []string{lockFile, stagingDir} {
				if _, err := os.Lstat(filepath.Join(dst, name)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s is left in the restored directory (%v)", name, err)
				}
			}
		})
	}
}

// copyTree copies the directory src to dst (files and directories only).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRestoreFollowsNoLink: a file or directory of a backup replaced by a
// symbolic link to a copy outside the backup (the same bytes, so that
// the checksums match) or by a FIFO is refused, and the data directory
// is left as it was.
func TestRestoreFollowsNoLink(t *testing.T) {
	dataDir := newInstallation(t)
	plain, withKey := newBackup(t, dataDir, false), newBackup(t, dataDir, true)
	// toLink moves rel out of the backup in dir and links to it there.
	toLink := func(rel string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, filepath.FromSlash(rel))
			outside := filepath.Join(t.TempDir(), "outside")
			if err := os.Rename(p, outside); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := map[string]struct {
		src  string
		edit func(t *testing.T, dir string)
		want string
	}{
		"fail/manifest":          {src: plain, edit: toLink(ManifestName), want: "signet-backup.json in the backup is a symbolic link"},
		"fail/database":          {src: plain, edit: toLink(mainDatabase), want: "signet.db in the backup is a symbolic link"},
		"fail/master key":        {src: withKey, edit: toLink(masterKeyFile), want: "master.key in the backup is a symbolic link"},
		"fail/object":            {src: plain, edit: toLink("objects/data/bucket/0001"), want: "objects/data/bucket/0001 in the backup is a symbolic link"},
		"fail/object directory":  {src: plain, edit: toLink("objects/data"), want: "objects/data in the backup is a symbolic link or not a directory"},
		"fail/objects directory": {src: plain, edit: toLink("objects"), want: "objects in the backup is a symbolic link or not a directory"},
		"fail/database is a FIFO": {src: plain, want: "signet.db in the backup is not a regular file", edit: func(t *testing.T, dir string) {
			p := filepath.Join(dir, mainDatabase)
			os.Remove(p)
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "backup")
			copyTree(t, tc.src, src)
			tc.edit(t, src)
			dst := filepath.Join(t.TempDir(), "restored")
			o := RestoreOptions{Src: src, DataDir: dst}
			if tc.src == plain {
				o.MasterKeyFile = filepath.Join(dataDir, masterKeyFile)
			}
			_, err := Restore(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore: %v, want a refusal saying %q", err, tc.want)
			}
			if _, err := os.Lstat(dst); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the refused restore left %s (%v)", dst, err)
			}
		})
	}
}

// editManifest rewrites the manifest of the backup in dir with edit
// applied, as someone who can write to the backup could.
func editManifest(t *testing.T, dir string, edit func(m *Manifest)) {
	t.Helper()
	p := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = m.marshal(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// replaceFile writes body as the backup's file rel and puts its size and
// SHA-256 in the manifest, leaving the MAC as it was.
func replaceFile(rel, body string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(rel)), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(body))
		editManifest(t, dir, func(m *Manifest) {
			for _, list := range [][]Entry{m.Files, m.Objects} {
				for i := range list {
					if list[i].Path == rel || objectsDir+"/"+list[i].Path == rel {
						list[i].Size, list[i].SHA256 = int64(len(body)), hex.EncodeToString(sum[:])
					}
				}
			}
		})
	}
}

// TestRestoreRefusesTampering: a backup whose files were edited and
// whose manifest was rewritten to match (checksums recomputed, or a MAC
// under another key) is refused before any of its other files is read,
// and the data directory is left as it was; so is a manifest of
// version 1, which has no MAC.
func TestRestoreRefusesTampering(t *testing.T) {
	dataDir := newInstallation(t)
	keyFile := filepath.Join(dataDir, masterKeyFile)
	plain, withKey := newBackup(t, dataDir, false), newBackup(t, dataDir, true)
	otherKey := bytes.Repeat([]byte{7}, 32)
	tests := map[string]struct {
		src     string
		keyFile string
		edit    func(t *testing.T, dir string)
		wantIs  error
		want    string
	}{
		"fail/database":                {src: plain, keyFile: keyFile, edit: replaceFile(mainDatabase, "data/bucket/0001\n"), wantIs: ErrAltered},
		"fail/database, key in backup": {src: withKey, edit: replaceFile(mainDatabase, "data/bucket/0001\n"), wantIs: ErrAltered},
		"fail/configuration":           {src: plain, keyFile: keyFile, edit: replaceFile(configFile, "listen: 0.0.0.0:80\n"), wantIs: ErrAltered},
		"fail/audit log":               {src: withKey, edit: replaceFile(auditDatabase, ""), wantIs: ErrAltered},
		"fail/object":                  {src: plain, keyFile: keyFile, edit: replaceFile("objects/data/bucket/0001", "two"), wantIs: ErrAltered},
		"fail/installation":            {src: plain, keyFile: keyFile, edit: func(t *testing.T, dir string) { editManifest(t, dir, func(m *Manifest) { m.Installation = "x" }) }, wantIs: ErrAltered},
		"fail/MAC under another key": {src: plain, keyFile: keyFile, wantIs: ErrAltered, edit: func(t *testing.T, dir string) {
			replaceFile(mainDatabase, "data/bucket/0001\n")(t, dir)
			editManifest(t, dir, func(m *Manifest) { m.MAC, _ = m.computeMAC(otherKey) })
		}},
		"fail/altered, with a link planted": {src: plain, keyFile: keyFile, wantIs: ErrAltered, edit: func(t *testing.T, dir string) {
			replaceFile(configFile, "listen: 0.0.0.0:80\n")(t, dir)
			os.Remove(filepath.Join(dir, mainDatabase))
			os.Symlink("/dev/zero", filepath.Join(dir, mainDatabase))
		}},
		"fail/no MAC": {src: plain, keyFile: keyFile, wantIs: ErrBadManifest, want: "mac is not", edit: func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *Manifest) { m.MAC = "" })
		}},
		"fail/version 1": {src: plain, keyFile: keyFile, wantIs: ErrBadManifest, want: "version 1 is a backup made before backups were authenticated", edit: func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *Manifest) { m.Version, m.MAC = 1, "" })
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "backup")
			copyTree(t, tc.src, src)
			tc.edit(t, src)
			dst := filepath.Join(t.TempDir(), "restored")
			_, err := Restore(context.Background(), RestoreOptions{Src: src, DataDir: dst, MasterKeyFile: tc.keyFile})
			if !errors.Is(err, tc.wantIs) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore: %v, want %v saying %q", err, tc.wantIs, tc.want)
			}
			if tc.wantIs == ErrAltered && !strings.Contains(err.Error(), "altered after it was made, or was made under another master key") {
				t.Errorf("Restore: %v, want it to say the backup was altered or made under another key", err)
			}
			if _, err := os.Lstat(dst); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the refused restore left %s (%v)", dst, err)
			}
		})
	}
}
