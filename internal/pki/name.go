package pki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Name is a certificate subject. Country, Province (ST) and Organization
// are required, as Notation trusted identities need them.
type Name struct {
	Country            string // C: ISO 3166-1 alpha-2 code, two uppercase letters
	Province           string // ST: state or province
	Locality           string // L: optional
	Organization       string // O
	OrganizationalUnit string // OU: optional
	CommonName         string // CN: optional
}

// Attribute type OIDs (RFC 5280 / X.520).
var (
	oidCountry            = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidProvince           = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidLocality           = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidOrganization       = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOrganizationalUnit = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidCommonName         = asn1.ObjectIdentifier{2, 5, 4, 3}
)

// nameAttr is one attribute of a Name, in the order String writes them.
type nameAttr struct {
	label    string // for error messages
	oid      asn1.ObjectIdentifier
	value    string
	required bool
	maxLen   int // RFC 5280 appendix A upper bound, in characters
}

func (n Name) attrs() []nameAttr {
	return []nameAttr{
		{"country (C)", oidCountry, n.Country, true, 2},
		{"province (ST)", oidProvince, n.Province, true, 128},
		{"locality (L)", oidLocality, n.Locality, false, 128},
		{"organization (O)", oidOrganization, n.Organization, true, 64},
		{"organizational unit (OU)", oidOrganizationalUnit, n.OrganizationalUnit, false, 64},
		{"common name (CN)", oidCommonName, n.CommonName, false, 64},
	}
}

// Validate reports whether n can be used as a certificate subject that
// Notation accepts: C (two uppercase letters), ST and O present; every value
// valid UTF-8 without control characters or surrounding white space, within
// the RFC 5280 length bounds, and without the sequence "=#", which Notation
// refuses in an x509.subject identity. Errors wrap ErrInvalidName.
func (n Name) Validate() error {
	for _, a := range n.attrs() {
		if a.value == "" {
			if a.required {
				return fmt.Errorf("%s is required: %w", a.label, ErrInvalidName)
			}
			continue
		}
		if !utf8.ValidString(a.value) {
			return fmt.Errorf("%s is not valid UTF-8: %w", a.label, ErrInvalidName)
		}
		if l := utf8.RuneCountInString(a.value); l > a.maxLen {
			return fmt.Errorf("%s %q is %d characters, at most %d allowed: %w", a.label, a.value, l, a.maxLen, ErrInvalidName)
		}
		if strings.TrimSpace(a.value) != a.value {
			return fmt.Errorf("%s %q has leading or trailing white space: %w", a.label, a.value, ErrInvalidName)
		}
		if strings.IndexFunc(a.value, unicode.IsControl) >= 0 {
			return fmt.Errorf("%s %q contains a control character: %w", a.label, a.value, ErrInvalidName)
		}
		if strings.Contains(a.value, "=#") {
			return fmt.Errorf("%s %q contains \"=#\", which Notation does not accept in a subject: %w", a.label, a.value, ErrInvalidName)
		}
	}
	if c := n.Country; len(c) != 2 || !isUpperASCII(c[0]) || !isUpperASCII(c[1]) {
		return fmt.Errorf("country (C) %q must be a two-letter uppercase ISO 3166-1 code such as \"US\": %w", c, ErrInvalidName)
	}
	return nil
}

func isUpperASCII(b byte) bool { return 'A' <= b && b <= 'Z' }

// ToPKIX returns n as a pkix.Name; empty optional attributes are omitted.
func (n Name) ToPKIX() pkix.Name {
	var p pkix.Name
	add := func(dst *[]string, v string) {
		if v != "" {
			*dst = append(*dst, v)
		}
	}
	add(&p.Country, n.Country)
	add(&p.Province, n.Province)
	add(&p.Locality, n.Locality)
	add(&p.Organization, n.Organization)
	add(&p.OrganizationalUnit, n.OrganizationalUnit)
	p.CommonName = n.CommonName
	return p
}

// String formats n as the value of a Notation trust policy x509.subject
// identity: "C=US, ST=WA, L=Seattle, O=Signet, OU=123456789012, CN=name".
// Attributes appear in the order C, ST, L, O, OU, CN; empty optional ones
// are omitted. Values are escaped exactly as crypto/x509 escapes them in
// Certificate.Subject.String(), which is what Notation parses on the signing
// certificate side, so the two parse to the same attribute values.
func (n Name) String() string {
	var b strings.Builder
	for _, a := range n.attrs() {
		if a.value == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		rdn := pkix.RDNSequence{{{Type: a.oid, Value: a.value}}}
		b.WriteString(rdn.String())
	}
	return b.String()
}

// IdentityString returns the Notation trust policy trusted identity for
// certificates with subject n: "x509.subject: " + n.String().
func (n Name) IdentityString() string {
	return "x509.subject: " + n.String()
}
