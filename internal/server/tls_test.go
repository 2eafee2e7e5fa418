package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/smithy-go"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/server/servertest"
)

func startTLS(t *testing.T) *servertest.Server {
	t.Helper()
	return servertest.StartWith(t, func(c *config.Config) { c.TLS.Mode = config.TLSSelf })
}

// With `tls: self` the listener serves HTTPS with a certificate from
// Signet's TLS CA (not its code-signing root), over HTTP/2 when the
// client offers it, and refuses TLS 1.0 and 1.1.
func TestTLSSelf(t *testing.T) {
	s := startTLS(t)
	ca := s.TLSCA()
	if ca == nil {
		t.Fatal("no TLS CA")
	}
	if ca.Equal(s.Authority.Root.Cert) {
		t.Fatal("the TLS CA is the code-signing root")
	}
	// It issues TLS certificates only: no CA under it, nothing it signs
	// usable for code signing.
	if !ca.MaxPathLenZero || !slices.Equal(ca.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Errorf("TLS CA: path length zero %v, extended key usage %v", ca.MaxPathLenZero, ca.ExtKeyUsage)
	}
	leaf := s.ListenerCertificate()
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		t.Fatalf("the listener's certificate is not issued by the TLS CA: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: poolOf(s.Authority.Root.Cert), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Fatal("the listener's certificate verifies under the code-signing root")
	}
	// The CA bundle is written for clients.
	b, err := os.ReadFile(s.TLSCAPath())
	if err != nil {
		t.Fatal(err)
	}
	if blk, _ := pem.Decode(b); blk == nil || !ca.Equal(mustParse(t, blk.Bytes)) {
		t.Fatalf("%s does not hold the TLS CA", s.TLSCAPath())
	}

	// HTTP/2, the SDK's API calls.
	resp, err := s.HTTPClient().Get(s.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.TLS == nil {
		t.Fatalf("GET /healthz over %s, TLS %v; want HTTP/2 over TLS", resp.Proto, resp.TLS != nil)
	}
	if _, err := s.Signer().ListSigningPlatforms(context.Background(), &signer.ListSigningPlatformsInput{}); err != nil {
		t.Fatalf("ListSigningPlatforms over HTTPS: %v", err)
	}

	addr := strings.TrimPrefix(s.URL, "https://")
	for name, v := range map[string]uint16{"TLS 1.0": tls.VersionTLS10, "TLS 1.1": tls.VersionTLS11} {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: poolOf(ca), ServerName: "localhost", MinVersion: v, MaxVersion: v})
		if err == nil {
			c.Close()
			t.Errorf("%s handshake succeeded", name)
		}
	}
	// A TLS 1.2 client offering only CBC suites finds none in common.
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: poolOf(ca), ServerName: "localhost", MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}})
	if err == nil {
		c.Close()
		t.Error("a TLS 1.2 CBC-only handshake succeeded")
	}
	c, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: poolOf(ca), ServerName: "localhost", MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2 handshake: %v", err)
	}
	c.Close()
}

// A client that trusts another CA refuses the server.
func TestTLSWrongCA(t *testing.T) {
	s := startTLS(t)
	other := selfSignedCA(t)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: poolOf(other)}}
	_, err := (&http.Client{Transport: tr}).Get(s.URL + "/healthz")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("GET with another CA: %v, want an unknown authority error", err)
	}
}

// With TLS on, the same port answers plain HTTP only for what verifiers
// fetch (CRLs, OCSP, certificates) and the health check; an API call
// over plain HTTP is refused in its protocol's error shape and says to
// use HTTPS.
func TestTLSPlainHTTPOnSamePort(t *testing.T) {
	s := startTLS(t)
	plain := "http://" + strings.TrimPrefix(s.URL, "https://")
	for _, path := range []string{"/healthz", "/pki/root.pem", "/pki/tls-ca.pem", "/crl/root.crl", "/crl/tls.crl", "/crl/tsa.crl"} {
		resp, err := http.Get(plain + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s over plain HTTP: %s", path, resp.Status)
		}
	}
	// The listener's certificate names the CRL on that plain URL.
	if dp := s.ListenerCertificate().CRLDistributionPoints; len(dp) != 1 || dp[0] != plain+"/crl/tls.crl" {
		t.Errorf("CRL distribution points %v, want %s/crl/tls.crl", dp, plain)
	}
	// /metrics and unsigned paths other than those are refused.
	for _, path := range []string{"/metrics", "/function-code/x"} {
		resp, err := http.Get(plain + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "HTTPS only") {
			t.Errorf("GET %s over plain HTTP: %s %s", path, resp.Status, b)
		}
	}
	// A signed call over plain HTTP: AccessDeniedException, in JSON.
	sc := signer.New(signer.Options{Region: "us-east-1", BaseEndpoint: aws.String(plain), Retryer: aws.NopRetryer{},
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return s.Creds, nil })})
	_, err := sc.ListSigningPlatforms(context.Background(), &signer.ListSigningPlatformsInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" || !strings.Contains(ae.ErrorMessage(), s.URL) {
		t.Fatalf("signed call over plain HTTP: %v", err)
	}
}

// A certificate from files: served, and reloaded (SIGHUP reloads it
// through Reload).
func TestTLSCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	ca := selfSignedCA(t)
	caKey := testCAKeys[ca]
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeLeaf(t, ca, caKey, "first", certFile, keyFile)
	s := servertest.StartWith(t, func(c *config.Config) { c.TLS.CertFile, c.TLS.KeyFile = certFile, keyFile })
	if !strings.HasPrefix(s.URL, "https://") {
		t.Fatalf("URL %s", s.URL)
	}
	if s.ListenerCertificate().CheckSignatureFrom(s.TLSCA()) == nil {
		t.Error("the listener serves a certificate of Signet's TLS CA, not the files'")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: poolOf(ca)}}}
	served := func() string {
		t.Helper()
		client.CloseIdleConnections()
		resp, err := client.Get(s.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].Subject.OrganizationalUnit[0]
	}
	if got := served(); got != "first" {
		t.Fatalf("served %q", got)
	}
	writeLeaf(t, ca, caKey, "second", certFile, keyFile)
	if err := s.Reload(context.Background(), s.Config()); err != nil {
		t.Fatal(err)
	}
	if got := served(); got != "second" {
		t.Fatalf("after reload served %q, want second", got)
	}
	// A bad file on reload keeps the certificate served and says why.
	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	if err := s.Reload(context.Background(), s.Config()); err == nil || !strings.Contains(err.Error(), "tls_cert_file") {
		t.Fatalf("reload with a bad key: %v", err)
	}
	if got := served(); got != "second" {
		t.Fatalf("after a failed reload served %q, want second", got)
	}
}

// The admission webhooks' self-issued certificate comes from the TLS CA
// too, and with client_ca_file they require a client certificate.
func TestAdmissionClientCertificates(t *testing.T) {
	dir := t.TempDir()
	clientCA := selfSignedCA(t)
	caFile := filepath.Join(dir, "client-ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: clientCA.Raw}), 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := servertest.StartWith(t, func(c *config.Config) {
		c.Admission.Listen = addr
		c.Admission.ClientCAFile = caFile
	})
	al, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeAdmission(ctx, al) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := s.AdmissionCertificate().CheckSignatureFrom(s.TLSCA()); err != nil {
		t.Fatalf("the webhooks' certificate is not from the TLS CA: %v", err)
	}
	get := func(certs ...tls.Certificate) error {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: poolOf(s.TLSCA()), Certificates: certs}}
		resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der := issue(t, clientCA, testCAKeys[clientCA], &x509.Certificate{Subject: pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, &key.PublicKey)
	if err := get(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}); err != nil {
		t.Fatalf("a client with a certificate from client_ca_file: %v", err)
	}
	// With client_names, only the named client is served.
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr2 := l2.Addr().String()
	l2.Close()
	named := servertest.StartWith(t, func(c *config.Config) {
		c.Admission.Listen = addr2
		c.Admission.ClientCAFile = caFile
		c.Admission.ClientNames = []string{"kube-apiserver"}
	})
	al2, err := net.Listen("tcp", addr2)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- named.ServeAdmission(ctx2, al2) }()
	t.Cleanup(func() { cancel2(); <-done2 })
	getNamed := func(certs ...tls.Certificate) error {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: poolOf(named.TLSCA()), Certificates: certs}}
		resp, err := (&http.Client{Transport: tr}).Get("https://" + addr2 + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := getNamed(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}); err != nil {
		t.Fatalf("kube-apiserver's certificate with client_names: %v", err)
	}
	nodeDER := issue(t, clientCA, testCAKeys[clientCA], &x509.Certificate{Subject: pkix.Name{CommonName: "system:node:worker-1"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, &key.PublicKey)
	if err := getNamed(tls.Certificate{Certificate: [][]byte{nodeDER}, PrivateKey: key}); err == nil {
		t.Fatal("a node's certificate of the same CA was served despite client_names")
	}
	stranger := selfSignedCA(t)
	der = issue(t, stranger, testCAKeys[stranger], &x509.Certificate{Subject: pkix.Name{CommonName: "other"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, &key.PublicKey)
	if err := get(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}); err == nil {
		t.Fatal("a client with a certificate from another CA was served")
	}
}

var testCAKeys = map[*x509.Certificate]*ecdsa.PrivateKey{}

func selfSignedCA(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, der)
	testCAKeys[c] = key
	return c
}

func issue(t *testing.T, ca *x509.Certificate, key *ecdsa.PrivateKey, tmpl *x509.Certificate, pub any) []byte {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writeLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, unit, certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der := issue(t, ca, caKey, &x509.Certificate{Subject: pkix.Name{CommonName: "localhost", OrganizationalUnit: []string{unit}},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, &key.PublicKey)
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var _ = server.TLSCAFile
