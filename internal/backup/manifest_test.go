package backup

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const (
	sum = "0000000000000000000000000000000000000000000000000000000000000000"
	mac = "1111111111111111111111111111111111111111111111111111111111111111"
)

// manifestJSON is a valid manifest with replace applied (old, new pairs).
func manifestJSON(replace ...string) string {
	m := `{"format":"signet-backup","version":2,"signet_version":"devel",
"started":"2026-12-04T00:00:00Z","snapshot_at":"2026-12-04T00:00:01Z","finished":"2026-12-04T00:00:02Z",
"master_key":{"included":false,"fingerprint":"` + sum + `"},
"files":[{"path":"signet.db","size":4096,"sha256":"` + sum + `"},{"path":"audit.db","size":4096,"sha256":"` + sum + `"}],
"objects":[{"path":"data/bucket/0001","size":3,"sha256":"` + sum + `"},{"path":"signet-installation","size":33,"sha256":"` + sum + `"}],
"mac":"` + mac + `"}`
	return strings.NewReplacer(replace...).Replace(m)
}

func TestParseManifest(t *testing.T) {
	tests := map[string]struct {
		in   string
		want string // in the error; "" for success
	}{
		"ok":                    {in: manifestJSON()},
		"ok/function code":      {in: manifestJSON("data/bucket/0001", "functions/fn/ab12-uuid")},
		"ok/master key":         {in: manifestJSON(`"included":false`, `"included":true`, `"path":"audit.db"`, `"path":"master.key"`)},
		"fail/empty":            {in: "", want: "EOF"},
		"fail/not json":         {in: "signet", want: "invalid character"},
		"fail/trailing data":    {in: manifestJSON() + "{}", want: "data after the JSON object"},
		"fail/format":           {in: manifestJSON(`"signet-backup"`, `"tarball"`), want: `format is "tarball"`},
		"fail/version":          {in: manifestJSON(`"version":2`, `"version":3`), want: "version 3"},
		"fail/version 1":        {in: manifestJSON(`"version":2`, `"version":1`), want: "before backups were authenticated"},
		"fail/no mac":           {in: manifestJSON(`,`+"\n"+`"mac":"`+mac+`"`, ""), want: "mac is not an HMAC-SHA256"},
		"fail/short mac":        {in: manifestJSON(mac, mac[2:]), want: "mac is not an HMAC-SHA256"},
		"fail/upper mac":        {in: manifestJSON(mac, strings.Repeat("A", 64)), want: "mac is not an HMAC-SHA256"},
		"fail/no main database": {in: manifestJSON(`"path":"signet.db"`, `"path":"signet.yaml"`), want: "no signet.db"},
		"fail/unknown file":     {in: manifestJSON(`"path":"audit.db"`, `"path":"credentials"`), want: `"credentials" is not a file`},
		"fail/file twice":       {in: manifestJSON(`"path":"audit.db"`, `"path":"signet.db"`), want: "listed twice"},
		"fail/escaping object":  {in: manifestJSON("data/bucket/0001", "data/../../etc/passwd"), want: "not a clean relative path"},
		"fail/absolute object":  {in: manifestJSON("data/bucket/0001", "/etc/passwd"), want: "not a clean relative path"},
		"fail/dot object":       {in: manifestJSON("data/bucket/0001", "data/./x"), want: "not a clean relative path"},
		"fail/control char":     {in: manifestJSON("data/bucket/0001", `data/a\u0001b`), want: "not a clean relative path"},
		"fail/outside ns":       {in: manifestJSON("data/bucket/0001", "trash/data/x"), want: "outside Signet's object namespaces"},
		"fail/namespace only":   {in: manifestJSON("data/bucket/0001", "data/"), want: "not a clean relative path"},
		"fail/negative size":    {in: manifestJSON(`"size":3`, `"size":-3`), want: "negative size"},
		"fail/short checksum":   {in: manifestJSON(`"size":3,"sha256":"`+sum, `"size":3,"sha256":"00`), want: "not a SHA-256"},
		"fail/upper checksum":   {in: manifestJSON(`"size":3,"sha256":"`+sum, `"size":3,"sha256":"`+strings.Repeat("A", 64)), want: "not a SHA-256"},
		"fail/key not listed":   {in: manifestJSON(`"included":false`, `"included":true`), want: "master_key.included"},
		"fail/key listed":       {in: manifestJSON(`"path":"audit.db"`, `"path":"master.key"`), want: "master_key.included"},
		"fail/no fingerprint":   {in: manifestJSON(`"fingerprint":"`+sum+`"`, `"fingerprint":""`), want: "fingerprint"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := ParseManifest([]byte(tc.in))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if m.Version != 2 || len(m.Files) == 0 || m.MAC != mac {
					t.Errorf("parsed %+v", m)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrBadManifest) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseManifest: %v, want ErrBadManifest saying %q", err, tc.want)
			}
		})
	}
}

// FuzzParseManifest: any input is parsed or refused without a panic; a
// manifest accepted is accepted again after a round trip, and names no
// path that leaves the backup.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(manifestJSON()))
	f.Add([]byte(manifestJSON("data/bucket/0001", "data/../x")))
	f.Add([]byte(`{"format":"signet-backup","version":2}`))
	f.Add([]byte(manifestJSON(`"version":2`, `"version":1`)))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		for _, o := range m.Objects {
			if strings.Contains(o.Path, "..") && strings.Contains("/"+o.Path+"/", "/../") || strings.HasPrefix(o.Path, "/") {
				t.Fatalf("accepted object path %q", o.Path)
			}
		}
		again, err := m.marshal()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseManifest(again)
		if err != nil {
			t.Fatalf("a manifest accepted once is refused after a round trip: %v", err)
		}
		if again2, _ := m2.marshal(); !bytes.Equal(again, again2) {
			t.Fatalf("the round trip changed the manifest")
		}
	})
}

// TestManifestMAC: the MAC made under a master key verifies under that
// key only, and not after any field of the manifest changes.
func TestManifestMAC(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	signed := func(t *testing.T) *Manifest {
		t.Helper()
		m, err := ParseManifest([]byte(manifestJSON()))
		if err != nil {
			t.Fatal(err)
		}
		if m.MAC, err = m.computeMAC(key); err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := map[string]struct {
		edit func(m *Manifest)
		key  []byte
		ok   bool
	}{
		"ok":                    {ok: true},
		"fail/another key":      {key: bytes.Repeat([]byte{2}, 32)},
		"fail/file checksum":    {edit: func(m *Manifest) { m.Files[0].SHA256 = strings.Repeat("a", 64) }},
		"fail/file size":        {edit: func(m *Manifest) { m.Files[0].Size++ }},
		"fail/file dropped":     {edit: func(m *Manifest) { m.Files = m.Files[:1] }},
		"fail/object added":     {edit: func(m *Manifest) { m.Objects = append(m.Objects, Entry{Path: "data/x", SHA256: sum}) }},
		"fail/object path":      {edit: func(m *Manifest) { m.Objects[0].Path = "data/bucket/0002" }},
		"fail/installation":     {edit: func(m *Manifest) { m.Installation = "another" }},
		"fail/key included":     {edit: func(m *Manifest) { m.MasterKey.Included, m.Files[1].Path = true, masterKeyFile }},
		"fail/fingerprint":      {edit: func(m *Manifest) { m.MasterKey.Fingerprint = strings.Repeat("b", 64) }},
		"fail/snapshot time":    {edit: func(m *Manifest) { m.SnapshotAt = m.SnapshotAt.Add(1) }},
		"fail/signet version":   {edit: func(m *Manifest) { m.SignetVersion = "v9" }},
		"fail/mac of other key": {edit: func(m *Manifest) { m.MAC, _ = m.computeMAC(bytes.Repeat([]byte{2}, 32)) }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := signed(t)
			if tc.edit != nil {
				tc.edit(m)
			}
			k := key
			if tc.key != nil {
				k = tc.key
			}
			// As a restore reads it: from the file a backup writes.
			b, err := m.marshal()
			if err != nil {
				t.Fatal(err)
			}
			read, err := ParseManifest(b)
			if err != nil {
				t.Fatal(err)
			}
			err = read.verify(k)
			if tc.ok {
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrAltered) {
				t.Fatalf("verify: %v, want ErrAltered", err)
			}
		})
	}
}
