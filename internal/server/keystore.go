package server

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/keys/pkcs11"
	"github.com/signet/signet/internal/store"
)

// CheckBuild reports whether this build can run cfg: a pkcs11 key store
// needs a build with the pkcs11 tag (signet serve --check-config asks).
func CheckBuild(cfg config.Config) error { return checkKeyStoreBuild(cfg.KeyStore) }

// checkKeyStoreBuild refuses, before anything is opened, a configuration
// that selects a key store this build does not have.
func checkKeyStoreBuild(cfg config.KeyStore) error {
	if cfg.PKCS11() && !pkcs11.Available {
		return fmt.Errorf("key_store.type is pkcs11: %w", pkcs11.ErrNotBuilt)
	}
	return nil
}

// openKeyStore opens the key store the configuration selects: software
// keys sealed under master in the database, or the keys of a PKCS#11
// token (kept in s.hsm, closed by Close). For a token with
// root_key_label, rootKey is the key id of the operator's root key.
func (s *Server) openKeyStore(ctx context.Context, master []byte) (ks keys.KeyStore, rootKey string, err error) {
	c := s.cfg.KeyStore
	if !c.PKCS11() {
		ks, err := keys.NewSoftware(master, s.db.Keys)
		return ks, "", err
	}
	if err := checkKeyStoreBuild(c); err != nil {
		return nil, "", err
	}
	pin, err := c.PIN()
	if err != nil {
		return nil, "", err
	}
	s.hsm, err = pkcs11.Open(pkcs11.Config{Module: c.Module, TokenLabel: c.TokenLabel, PIN: pin, KeyLabelPrefix: c.KeyLabelPrefix})
	if err != nil {
		return nil, "", fmt.Errorf("key_store: %w", err)
	}
	if c.RootKeyLabel != "" {
		if rootKey, _, err = s.hsm.KeyByLabel(ctx, c.RootKeyLabel); err != nil {
			return nil, "", fmt.Errorf("key_store.root_key_label: %w", err)
		}
	}
	s.log.InfoContext(ctx, "private keys are on a PKCS#11 token", "module", c.Module, "token", c.TokenLabel, "root_key_label", c.RootKeyLabel)
	return s.hsm, rootKey, nil
}

// keyStoreHint explains a key the key store does not have.
func (s *Server) keyStoreHint(err error) error {
	if !errors.Is(err, keys.ErrKeyNotFound) {
		return err
	}
	where := "the software key store (sealed under the master key)"
	if s.cfg.KeyStore.PKCS11() {
		where = fmt.Sprintf("PKCS#11 token %q", s.cfg.KeyStore.TokenLabel)
	}
	return fmt.Errorf("%w; the key store is %s: keys made in another key store (key_store) or on another token are not found there", err, where)
}

// publicKeySetting names the installation setting that holds a key's
// public key sealed under the master key (keys.SealPublicKey). `signet
// audit verify` (internal/cli) reads the audit checkpoint key's there when
// the private key is on a token it does not open.
func publicKeySetting(id string) string { return "public_key:" + id }

// recordPublicKey stores the sealed public key of key id, once.
func (s *Server) recordPublicKey(ctx context.Context, id string, pub crypto.PublicKey) error {
	name := publicKeySetting(id)
	if _, err := s.db.Setting(ctx, name); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	sealed, err := keys.SealPublicKey(s.box, id, pub)
	if err != nil {
		return err
	}
	_, err = s.db.AddSettings(ctx, []string{name}, map[string]string{name: base64.StdEncoding.EncodeToString(sealed)})
	return err
}
