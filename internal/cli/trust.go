package cli

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/signing"
)

// TrustStoreName is the default name of the Notation trust store trust
// export writes, of type signingAuthority (--store-name changes it, for
// example to aws-signer-ts, the name AWS's guides use); TSAStoreName that
// of the time-stamping root, of type tsa.
const (
	TrustStoreName = "signet"
	TSAStoreName   = "signet-tsa"
)

func trust(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "export" {
		return usageError("trust needs a subcommand: export")
	}
	var cf clientFlags
	fs := flag.NewFlagSet("trust export", flag.ContinueOnError)
	cf.register(fs)
	name := fs.String("profile", "", "signing profile whose signatures the policy trusts")
	storeName := fs.String("store-name", TrustStoreName, "name of the signingAuthority trust store holding the root (e.g. aws-signer-ts)")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 || *name == "" {
		return usageError("trust export needs --profile NAME and one DIR (a Notation configuration directory)")
	}
	if !validStoreName(*storeName) {
		return usageError("--store-name %q: a Notation trust store name has only letters, digits, '.', '_' and '-'", *storeName)
	}
	dir := pos[0]
	c, err := cf.signer(ctx)
	if err != nil {
		return err
	}
	prof, err := c.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: name})
	if err != nil {
		return apiError(err)
	}
	p, err := arn.Parse(aws.ToString(prof.Arn))
	if err != nil {
		return err
	}
	root, rootPEM, err := fetchRoot(ctx, &cf)
	if err != nil {
		return err
	}
	identity := signing.SignerIdentity(root, p.Account, *name).IdentityString()
	_, tsaPEM, err := fetchPEM(ctx, &cf, "/pki/tsa-root.pem")
	if err != nil {
		return err
	}
	files, err := writeTrust(dir, *storeName, rootPEM, tsaPEM, *name, identity)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		return writeJSON(stdout, map[string]any{"trustStore": "signingAuthority:" + *storeName, "trustedIdentity": identity, "files": files})
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", f)
	}
	fmt.Fprintf(stdout, "trusted identity: %s\n", identity)
	if abs, err := filepath.Abs(dir); err == nil && filepath.Base(abs) == "notation" {
		fmt.Fprintf(stdout, "use with: XDG_CONFIG_HOME=%s notation verify ...\n", filepath.Dir(abs))
	}
	return nil
}

// fetchRoot reads the installation root certificate from GET /pki/root.pem.
func fetchRoot(ctx context.Context, cf *clientFlags) (*x509.Certificate, []byte, error) {
	return fetchPEM(ctx, cf, "/pki/root.pem")
}

// fetchPEM reads a PEM certificate the server publishes at path.
func fetchPEM(ctx context.Context, cf *clientFlags, path string) (*x509.Certificate, []byte, error) {
	endpoint := cf.endpoint
	hc, err := cf.httpClient()
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(endpoint, "/")+path, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to fetch %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("failed to fetch %s: %s %v", path, resp.Status, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("the server's %s is not a PEM certificate", path)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to parse the root certificate: %w", err)
	}
	return cert, b, nil
}

type trustPolicy struct {
	Name                  string            `json:"name"`
	RegistryScopes        []string          `json:"registryScopes,omitempty"`
	SignatureVerification map[string]string `json:"signatureVerification"`
	TrustStores           []string          `json:"trustStores"`
	TrustedIdentities     []string          `json:"trustedIdentities"`
	GlobalPolicy          bool              `json:"globalPolicy,omitempty"`
}

// validStoreName reports whether s is a trust store name Notation
// accepts (notation-go's truststore: letters, digits, '.', '_', '-').
func validStoreName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// ociPolicyFiles are the names under which Notation releases read the
// OCI trust policy: 1.x reads only trustpolicy.json; 2.x reads
// trustpolicy.oci.json and falls back to trustpolicy.json. Both are
// written, with the same content.
var ociPolicyFiles = []string{"trustpolicy.json", "trustpolicy.oci.json"}

// writeTrust writes a Notation configuration directory: the root as a
// signingAuthority trust store named store, the OCI trust policy (under
// each name in ociPolicyFiles) and the blob trust policy, each trusting
// exactly the profile's identity.
func writeTrust(dir, store string, rootPEM, tsaPEM []byte, profile, identity string) ([]string, error) {
	var files []string
	stores := []string{"signingAuthority:" + store}
	for _, st := range []struct {
		typ, name, file string
		pem             []byte
	}{
		{"signingAuthority", store, "signet-root.pem", rootPEM},
		{"tsa", TSAStoreName, "signet-tsa-root.pem", tsaPEM},
	} {
		if st.pem == nil {
			continue
		}
		storeDir := filepath.Join(dir, "truststore", "x509", st.typ, st.name)
		if err := os.MkdirAll(storeDir, 0o755); err != nil {
			return nil, err
		}
		path := filepath.Join(storeDir, st.file)
		if err := os.WriteFile(path, st.pem, 0o644); err != nil {
			return nil, err
		}
		files = append(files, path)
		if st.typ == "tsa" {
			stores = append(stores, "tsa:"+st.name)
		}
	}
	pol := trustPolicy{
		Name:                  profile,
		SignatureVerification: map[string]string{"level": "strict"},
		TrustStores:           stores,
		TrustedIdentities:     []string{identity},
	}
	oci := pol
	oci.RegistryScopes = []string{"*"}
	blob := pol
	blob.GlobalPolicy = true
	docs := []struct {
		file string
		p    trustPolicy
	}{{ociPolicyFiles[0], oci}, {ociPolicyFiles[1], oci}, {"trustpolicy.blob.json", blob}}
	for _, d := range docs {
		file := d.file
		b, err := json.MarshalIndent(map[string]any{"version": "1.0", "trustPolicies": []trustPolicy{d.p}}, "", "  ")
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			return nil, err
		}
		files = append(files, path)
	}
	return files, nil
}
