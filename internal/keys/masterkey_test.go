package keys

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateMasterKeyCreates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")

	key, created, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !created || len(key) != MasterKeySize {
		t.Fatalf("created = %v, len = %d; want true, %d", created, len(key), MasterKeySize)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode = %04o, want 0600", perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := base64.StdEncoding.EncodeToString(key) + "\n"; string(data) != want {
		t.Errorf("file holds %q, want base64 of the key and a newline", data)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file (temporary file left behind?)", len(entries))
	}

	again, created, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if created || !bytes.Equal(again, key) {
		t.Fatalf("second call: created = %v, same key = %v; want false, true", created, bytes.Equal(again, key))
	}
	if _, err := NewSoftware(key, NewMemoryStore()); err != nil {
		t.Fatalf("loaded key unusable: %v", err)
	}
}

func TestLoadOrCreateMasterKeyExisting(t *testing.T) {
	valid := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		dir     bool // create a directory at the path instead
		wantErr string
		wantIs  error
	}{
		{name: "ok/0600 with newline", content: valid + "\n", mode: 0o600},
		{name: "ok/0400 without newline", content: valid, mode: 0o400},
		{name: "ok/CRLF line ending", content: valid + "\r\n", mode: 0o600},
		{name: "fail/group readable", content: valid, mode: 0o640, wantErr: "has mode 0640, want 0600", wantIs: ErrInsecureMasterKeyFile},
		{name: "fail/world readable", content: valid, mode: 0o604, wantErr: "chmod 600", wantIs: ErrInsecureMasterKeyFile},
		{name: "fail/group writable", content: valid, mode: 0o620, wantErr: "has mode 0620", wantIs: ErrInsecureMasterKeyFile},
		{name: "fail/not base64", content: "not a key!\n", mode: 0o600, wantErr: "not valid base64"},
		{name: "fail/raw bytes", content: string(bytes.Repeat([]byte{0xff}, 32)), mode: 0o600, wantErr: "not valid base64"},
		{name: "fail/short key", content: base64.StdEncoding.EncodeToString(make([]byte, 16)), mode: 0o600, wantErr: "holds 16 bytes, want 32"},
		{name: "fail/long key", content: base64.StdEncoding.EncodeToString(make([]byte, 64)), mode: 0o600, wantErr: "holds 64 bytes, want 32"},
		{name: "fail/empty file", content: "", mode: 0o600, wantErr: "holds 0 bytes"},
		{name: "fail/huge file", content: strings.Repeat("A", 4096), mode: 0o600, wantErr: "too large"},
		{name: "fail/directory", dir: true, wantErr: "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			if tt.dir {
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			key, created, err := LoadOrCreateMasterKey(path)
			checkErr(t, err, tt.wantErr)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("error %v does not wrap %v", err, tt.wantIs)
			}
			if err != nil {
				if key != nil || created {
					t.Errorf("on error got key %v, created %v; want nil, false", key, created)
				}
				return
			}
			if created || !bytes.Equal(key, bytes.Repeat([]byte{7}, 32)) {
				t.Errorf("created = %v, key = %x", created, key)
			}
		})
	}
}

func TestLoadOrCreateMasterKeyMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent", "master.key")
	_, _, err := LoadOrCreateMasterKey(path)
	checkErr(t, err, "create master key file")
}

func TestLoadOrCreateMasterKeyConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	const n = 8
	type result struct {
		key     []byte
		created bool
		err     error
	}
	results := make(chan result, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			k, c, err := LoadOrCreateMasterKey(path)
			results <- result{k, c, err}
		}()
	}
	close(start)
	var first []byte
	createdCount := 0
	for range n {
		r := <-results
		if r.err != nil {
			t.Fatalf("LoadOrCreateMasterKey: %v", r.err)
		}
		if r.created {
			createdCount++
		}
		if first == nil {
			first = r.key
		} else if !bytes.Equal(first, r.key) {
			t.Fatal("concurrent callers got different master keys")
		}
	}
	if createdCount != 1 {
		t.Fatalf("%d callers report creating the key, want 1", createdCount)
	}
}
