package backup

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const sum = "0000000000000000000000000000000000000000000000000000000000000000"

// manifestJSON is a valid manifest with replace applied (old, new pairs).
func manifestJSON(replace ...string) string {
	m := `{"format":"signet-backup","version":1,"signet_version":"devel",
"started":"2026-12-04T00:00:00Z","snapshot_at":"2026-12-04T00:00:01Z","finished":"2026-12-04T00:00:02Z",
"master_key":{"included":false,"fingerprint":"` + sum + `"},
"files":[{"path":"signet.db","size":4096,"sha256":"` + sum + `"},{"path":"audit.db","size":4096,"sha256":"` + sum + `"}],
"objects":[{"path":"data/bucket/0001","size":3,"sha256":"` + sum + `"},{"path":"signet-installation","size":33,"sha256":"` + sum + `"}]}`
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
		"fail/version":          {in: manifestJSON(`"version":1`, `"version":2`), want: "version 2"},
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
				if m.Version != 1 || len(m.Files) == 0 {
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
	f.Add([]byte(`{"format":"signet-backup","version":1}`))
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
