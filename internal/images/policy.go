package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"
)

// ErrPolicy marks a trust policy that cannot be used: unreadable, not
// JSON of the expected shape, or refused by notation-go's validation.
var ErrPolicy = errors.New("malformed trust policy")

// OCIPolicyFiles are the names of the OCI trust policy in a Notation
// configuration directory, in the order they are read (notation 2.x reads
// trustpolicy.oci.json and falls back to trustpolicy.json, which is all
// notation 1.x reads). signet trust export writes both.
var OCIPolicyFiles = []string{"trustpolicy.oci.json", "trustpolicy.json"}

// PolicyError says which trust policy file is wrong, where, and what to
// fix.
type PolicyError struct {
	File  string
	Line  int    // 0 when unknown
	Where string // a field path or a policy statement, when known
	Err   error
	Fix   string
}

func (e *PolicyError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": malformed trust policy")
	if e.Where != "" {
		fmt.Fprintf(&b, " (%s)", e.Where)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *PolicyError) Unwrap() []error { return []error{ErrPolicy, e.Err} }

// FindPolicy returns the OCI trust policy file in the Notation
// configuration directory dir, the first of OCIPolicyFiles that exists.
func FindPolicy(dir string) (string, error) {
	for _, name := range OCIPolicyFiles {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", &PolicyError{File: filepath.Join(dir, OCIPolicyFiles[0]), Err: errors.New("no trust policy found (neither " + strings.Join(OCIPolicyFiles, " nor ") + ")"),
		Fix: "write one with 'signet trust export --profile NAME DIR', or pass --policy FILE"}
}

// LoadPolicy reads and validates an OCI trust policy file.
func LoadPolicy(path string) (*trustpolicy.OCIDocument, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &PolicyError{File: path, Err: err, Fix: "pass --policy FILE naming a readable trust policy"}
	}
	return ParsePolicy(path, b)
}

// ParsePolicy parses and validates an OCI trust policy (the document
// notation reads as trustpolicy.json / trustpolicy.oci.json). Errors are
// *PolicyError values naming the line (for JSON errors) or the field
// and policy statement (for validation errors).
func ParsePolicy(name string, b []byte) (*trustpolicy.OCIDocument, error) {
	var doc trustpolicy.OCIDocument
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		pe := &PolicyError{File: name, Err: err, Fix: "the file must be one JSON object: {\"version\": \"1.0\", \"trustPolicies\": [...]}"}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			pe.Line = lineAt(b, se.Offset)
			pe.Fix = "fix the JSON syntax at that line"
		case errors.As(err, &te):
			pe.Line = lineAt(b, te.Offset)
			pe.Where = te.Field
			pe.Err = fmt.Errorf("%s must be a JSON %s, not %s", te.Field, te.Type.Kind(), te.Value)
			pe.Fix = "give " + te.Field + " the type notation expects (see docs/images.md)"
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			pe.Line = lineAt(b, int64(bytes.Index(b, []byte(`"`+field+`"`))))
			pe.Where = field
			pe.Fix = "remove or rename the field " + field + " (notation ignores it, so it is most likely a typo)"
		}
		return nil, pe
	}
	if dec.More() {
		return nil, &PolicyError{File: name, Line: lineAt(b, dec.InputOffset()), Err: errors.New("data after the JSON object"), Fix: "remove what follows the closing brace"}
	}
	if err := doc.Validate(); err != nil {
		pe := &PolicyError{File: name, Err: err, Fix: "see notation's trust policy specification: each statement needs a name, registryScopes, signatureVerification.level (strict, permissive, audit or skip), trustStores (TYPE:NAME) and trustedIdentities (\"*\" or x509.subject with C, ST and O)"}
		for i, p := range doc.TrustPolicies {
			if p.Name != "" && strings.Contains(err.Error(), fmt.Sprintf("%q", p.Name)) {
				pe.Where = fmt.Sprintf("trustPolicies[%d] %q", i, p.Name)
				pe.Line = lineAt(b, int64(bytes.Index(b, []byte(`"`+p.Name+`"`))))
				break
			}
		}
		return nil, pe
	}
	return &doc, nil
}

// lineAt returns the 1-based line of byte offset off in b.
func lineAt(b []byte, off int64) int {
	if off < 0 {
		return 0
	}
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}
