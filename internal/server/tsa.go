package server

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"time"

	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/pki"
	"github.com/signet/signet/internal/tsa"
)

// Installation settings of the time-stamping authority.
const (
	settingTSARootKey  = "tsa_root_key_id"
	settingTSARootCert = "tsa_root_cert"
	settingTSAKey      = "tsa_key_id"
	settingTSACert     = "tsa_cert"
)

// tsaValidity is how long the TSA certificates are valid.
const tsaValidity = 25 * 365 * 24 * time.Hour

// openTSA loads the time-stamping authority, creating its own root and
// certificate on the first start that needs them.
func (s *Server) openTSA(ctx context.Context, ks keys.KeyStore) error {
	if _, err := s.db.Setting(ctx, settingTSACert); err != nil {
		if err := s.createTSA(ctx, ks); err != nil {
			return fmt.Errorf("failed to create the time-stamping authority: %w", err)
		}
	}
	get := func(k string) ([]byte, string, error) {
		v, err := s.db.Setting(ctx, k)
		if err != nil {
			return nil, "", fmt.Errorf("installation setting %s: %w", k, err)
		}
		b, _ := base64.StdEncoding.DecodeString(v)
		return b, v, nil
	}
	rootDER, _, err := get(settingTSARootCert)
	if err != nil {
		return err
	}
	certDER, _, err := get(settingTSACert)
	if err != nil {
		return err
	}
	_, keyID, err := get(settingTSAKey)
	if err != nil {
		return err
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return err
	}
	signer, err := ks.Signer(ctx, keyID)
	if err != nil {
		return fmt.Errorf("failed to load the TSA key: %w", err)
	}
	rootKeyID, err := s.db.Setting(ctx, settingTSARootKey)
	if err != nil {
		return err
	}
	rootSigner, err := ks.Signer(ctx, rootKeyID)
	if err != nil {
		return fmt.Errorf("failed to load the TSA root key: %w", err)
	}
	s.tsaRoot = pki.CA{Cert: root, Signer: rootSigner}
	s.TSA = &tsa.Authority{Cert: cert, Chain: []*x509.Certificate{cert, root}, Signer: signer, Now: s.now}
	return nil
}

func (s *Server) createTSA(ctx context.Context, ks keys.KeyStore) error {
	now := s.now()
	subject := s.cfg.Subject.Name()
	rootKeyID, rootPub, err := ks.Create(ctx, keys.KeySpecEC384)
	if err != nil {
		return err
	}
	_ = rootPub
	rootSigner, err := ks.Signer(ctx, rootKeyID)
	if err != nil {
		return err
	}
	subject.CommonName = "Signet Timestamping Root CA"
	root, err := pki.NewRoot(rootSigner, subject, now.Add(-5*time.Minute), now.Add(tsaValidity))
	if err != nil {
		return err
	}
	keyID, pub, err := ks.Create(ctx, keys.KeySpecEC384)
	if err != nil {
		return err
	}
	subject.CommonName = "Signet Timestamping Authority"
	cert, err := pki.CA{Cert: root, Signer: rootSigner}.IssueTimestamping(pki.Template{
		Subject: subject, PublicKey: pub, NotBefore: now.Add(-5 * time.Minute), NotAfter: root.NotAfter,
		CRLURL: s.cfg.BaseURL() + "/crl/tsa.crl",
	})
	if err != nil {
		return err
	}
	_, err = s.db.AddSettings(ctx, []string{settingTSACert, settingTSARootCert, settingTSARootKey, settingTSAKey}, map[string]string{
		settingTSACert:     base64.StdEncoding.EncodeToString(cert.Raw),
		settingTSARootCert: base64.StdEncoding.EncodeToString(root.Raw),
		settingTSARootKey:  rootKeyID,
		settingTSAKey:      keyID,
	})
	return err
}

func (s *Server) tsaRootPEM(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: s.tsaRoot.Cert.Raw})
}

func (s *Server) tsaCRL(w http.ResponseWriter, r *http.Request) {
	der, err := s.Profiles.CAcrl(r.Context(), "tsa", s.tsaRoot)
	s.writeCRL(w, r, der, err)
}
