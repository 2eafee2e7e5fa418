package pki_test

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/signet/signet/internal/pki"
)

func TestNameValidate(t *testing.T) {
	base := subject("signer")
	tests := []struct {
		name    string
		mod     func(*pki.Name)
		wantErr string
	}{
		{name: "ok/all attributes", mod: func(*pki.Name) {}},
		{name: "ok/required only", mod: func(n *pki.Name) { *n = pki.Name{Country: "DE", Province: "Berlin", Organization: "Signet"} }},
		{name: "ok/special characters", mod: func(n *pki.Name) { n.Organization = `Signet, Inc. + "Labs" <x>; a\b #1` }},
		{name: "ok/leading hash", mod: func(n *pki.Name) { n.OrganizationalUnit = "#ops" }},
		{name: "ok/non-ASCII", mod: func(n *pki.Name) { n.Locality = "Zürich" }},
		{name: "ok/64-character O", mod: func(n *pki.Name) { n.Organization = strings.Repeat("o", 64) }},
		{name: "fail/missing C", mod: func(n *pki.Name) { n.Country = "" }, wantErr: "country (C) is required"},
		{name: "fail/missing ST", mod: func(n *pki.Name) { n.Province = "" }, wantErr: "province (ST) is required"},
		{name: "fail/missing O", mod: func(n *pki.Name) { n.Organization = "" }, wantErr: "organization (O) is required"},
		{name: "fail/lowercase C", mod: func(n *pki.Name) { n.Country = "us" }, wantErr: "two-letter uppercase"},
		{name: "fail/three-letter C", mod: func(n *pki.Name) { n.Country = "USA" }, wantErr: "at most 2 allowed"},
		{name: "fail/one-letter C", mod: func(n *pki.Name) { n.Country = "U" }, wantErr: "two-letter uppercase"},
		{name: "fail/digits in C", mod: func(n *pki.Name) { n.Country = "U1" }, wantErr: "two-letter uppercase"},
		{name: "fail/65-character O", mod: func(n *pki.Name) { n.Organization = strings.Repeat("o", 65) }, wantErr: "65 characters, at most 64"},
		{name: "fail/129-character ST", mod: func(n *pki.Name) { n.Province = strings.Repeat("s", 129) }, wantErr: "at most 128"},
		{name: "fail/65-character CN", mod: func(n *pki.Name) { n.CommonName = strings.Repeat("c", 65) }, wantErr: "common name (CN)"},
		{name: "fail/trailing space", mod: func(n *pki.Name) { n.Organization = "Signet " }, wantErr: "white space"},
		{name: "fail/leading space", mod: func(n *pki.Name) { n.CommonName = " signer" }, wantErr: "white space"},
		{name: "fail/control character", mod: func(n *pki.Name) { n.OrganizationalUnit = "a\nb" }, wantErr: "control character"},
		{name: "fail/invalid UTF-8", mod: func(n *pki.Name) { n.Locality = "\xff" }, wantErr: "not valid UTF-8"},
		{name: "fail/equals hash", mod: func(n *pki.Name) { n.CommonName = "a=#b" }, wantErr: `contains "=#"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := base
			tt.mod(&n)
			err := n.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, pki.ErrInvalidName) {
				t.Fatalf("error = %v, want ErrInvalidName", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestNameString(t *testing.T) {
	tests := []struct {
		name         string
		in           pki.Name
		want         string
		wantIdentity string
	}{
		{
			name:         "ok/all attributes",
			in:           subject("name"),
			want:         "C=US, ST=WA, L=Seattle, O=Signet, OU=123456789012, CN=name",
			wantIdentity: "x509.subject: C=US, ST=WA, L=Seattle, O=Signet, OU=123456789012, CN=name",
		},
		{
			name:         "ok/required only",
			in:           pki.Name{Country: "US", Province: "WA", Organization: "Signet"},
			want:         "C=US, ST=WA, O=Signet",
			wantIdentity: "x509.subject: C=US, ST=WA, O=Signet",
		},
		{
			name: "ok/escaped specials",
			in:   pki.Name{Country: "US", Province: "WA", Organization: `Signet, Inc.+"x"<y>;z\w`, CommonName: "#1"},
			want: `C=US, ST=WA, O=Signet\, Inc.\+\"x\"\<y\>\;z\\w, CN=\#1`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if tt.wantIdentity != "" {
				if got := tt.in.IdentityString(); got != tt.wantIdentity {
					t.Errorf("IdentityString() = %q, want %q", got, tt.wantIdentity)
				}
			}
		})
	}
}

// TestNameStringMatchesCertificate checks that Name.String, as a trust
// policy identity, parses to the same attributes as the issued certificate's
// Subject.String(), which is what Notation compares.
func TestNameStringMatchesCertificate(t *testing.T) {
	h := newHierarchy(t)
	tests := []struct {
		name string
		in   pki.Name
	}{
		{name: "ok/plain", in: subject("signer")},
		{name: "ok/specials", in: pki.Name{Country: "US", Province: "New York", Locality: "a;b", Organization: `Signet, Inc. "Labs"`, OrganizationalUnit: "#1+2", CommonName: `x\y<z>`}},
		{name: "ok/non-ASCII", in: pki.Name{Country: "CH", Province: "Zürich", Organization: "Signet Straße"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := h.leafTemplate(&mustKey(t).PublicKey)
			tmpl.Subject = tt.in
			leaf, err := h.inter.IssueLeaf(tmpl)
			if err != nil {
				t.Fatal(err)
			}
			fromCert := parseDN(t, leaf.Subject.String())
			fromIdentity := parseDN(t, strings.TrimPrefix(tt.in.IdentityString(), "x509.subject:"))
			if !maps.Equal(fromCert, fromIdentity) {
				t.Fatalf("certificate subject %v != identity %v", fromCert, fromIdentity)
			}
			for _, k := range []string{"C", "ST", "O"} {
				if fromIdentity[k] == "" {
					t.Errorf("identity lacks %s", k)
				}
			}
		})
	}
}

// parseDN is a minimal RFC 4514 parser for single-valued RDNs, enough to
// compare the attribute values two DN strings denote.
func parseDN(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var typ, val strings.Builder
	inValue, escaped := false, false
	flush := func() {
		k := strings.TrimSpace(typ.String())
		if _, dup := out[k]; dup {
			t.Fatalf("duplicate attribute %s in %q", k, s)
		}
		out[k] = strings.TrimLeft(val.String(), " ")
		typ.Reset()
		val.Reset()
		inValue = false
	}
	for _, r := range s {
		switch {
		case escaped:
			val.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == ',':
			flush()
		case r == '=' && !inValue:
			inValue = true
		case inValue:
			val.WriteRune(r)
		default:
			typ.WriteRune(r)
		}
	}
	flush()
	return out
}
