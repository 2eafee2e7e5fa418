package server

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/pki"
	"github.com/signet/signet/internal/seal"
	"github.com/signet/signet/internal/signing"
	"github.com/signet/signet/internal/store"
)

// Installation settings keys.
const (
	settingInitialized  = "initialized"
	settingAccountID    = "account_id"
	settingRegion       = "region"
	settingRootKeyID    = "root_key_id"
	settingRootCert     = "root_cert"
	settingBootstrapKey = "bootstrap_access_key_id"
)

// installation is what first start fixes for the life of a data directory.
type installation struct {
	Account        arn.Account
	RootKeyID      string
	RootCert       *x509.Certificate
	BootstrapKeyID string
}

// initialize creates the installation on first start (account id, root
// CA, bootstrap access key, all in one transaction) or loads it. The root
// CA's key is a new key of ks, or rootKey when set (the operator's key on
// a token, key_store.root_key_label), which a loaded installation must
// have as its root key.
func initialize(ctx context.Context, cfg *config.Config, db *store.DB, ks keys.KeyStore, rootKey string, box *seal.Box, now time.Time) (installation, bool, error) {
	if _, err := db.Setting(ctx, settingInitialized); errors.Is(err, store.ErrNotFound) {
		account := cfg.AccountID
		if account == "" {
			account = newAccountID()
		}
		rootKeyID, root, err := newRoot(ctx, ks, rootKey, cfg.Subject.Name(), now)
		if err != nil {
			return installation{}, false, err
		}
		acct := arn.Account{Partition: "aws", Region: cfg.Region, ID: account}
		akid, secret := newAccessKey()
		key := store.AccessKey{ID: akid, SealedSecret: box.Seal([]byte(secret), iam.SecretAD(akid)), PrincipalARN: acct.RootARN(), CreatedAt: now}
		stored, err := db.Initialize(ctx, map[string]string{
			settingInitialized:  now.Format(time.RFC3339),
			settingAccountID:    account,
			settingRegion:       cfg.Region,
			settingRootKeyID:    rootKeyID,
			settingRootCert:     base64.StdEncoding.EncodeToString(root.Raw),
			settingBootstrapKey: akid,
		}, key)
		if err != nil {
			return installation{}, false, fmt.Errorf("failed to initialise: %w", err)
		}
		// Another node sharing the database may have initialised it
		// first: then its installation is the one, and this node's root
		// key is never used.
		inst, err := loadInstallation(ctx, cfg, db, rootKey)
		return inst, stored, err
	} else if err != nil {
		return installation{}, false, err
	}
	inst, err := loadInstallation(ctx, cfg, db, rootKey)
	return inst, false, err
}

// newRoot creates the root CA with a new key, or with the key rootKey.
func newRoot(ctx context.Context, ks keys.KeyStore, rootKey string, subject pki.Name, now time.Time) (string, *x509.Certificate, error) {
	if rootKey == "" {
		return signing.NewRoot(ctx, ks, subject, now)
	}
	cert, err := signing.NewRootWithKey(ctx, ks, rootKey, subject, now)
	return rootKey, cert, err
}

func loadInstallation(ctx context.Context, cfg *config.Config, db *store.DB, rootKey string) (installation, error) {
	get := func(k string) (string, error) {
		v, err := db.Setting(ctx, k)
		if err != nil {
			return "", fmt.Errorf("installation setting %s: %w", k, err)
		}
		return v, nil
	}
	var inst installation
	var errs []error
	acct, err := get(settingAccountID)
	errs = append(errs, err)
	region, err := get(settingRegion)
	errs = append(errs, err)
	inst.RootKeyID, err = get(settingRootKeyID)
	errs = append(errs, err)
	rootB64, err := get(settingRootCert)
	errs = append(errs, err)
	inst.BootstrapKeyID, err = get(settingBootstrapKey)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return inst, err
	}
	der, err := base64.StdEncoding.DecodeString(rootB64)
	if err != nil {
		return inst, fmt.Errorf("installation root certificate: %w", err)
	}
	if inst.RootCert, err = x509.ParseCertificate(der); err != nil {
		return inst, fmt.Errorf("installation root certificate: %w", err)
	}
	inst.Account = arn.Account{Partition: "aws", Region: region, ID: acct}
	if cfg.Region != region {
		return inst, fmt.Errorf("the data directory was initialised for region %s but the configuration says %s; region cannot change after first start", region, cfg.Region)
	}
	if rootKey != "" && inst.RootKeyID != rootKey {
		return inst, fmt.Errorf("key_store.root_key_label is %q, but the data directory was initialised with another root key (%s); root_key_label applies only when a data directory is initialised", cfg.KeyStore.RootKeyLabel, inst.RootKeyID)
	}
	if cfg.AccountID != "" && cfg.AccountID != acct {
		return inst, fmt.Errorf("the data directory was initialised for account %s but the configuration says %s; account_id cannot change after first start", acct, cfg.AccountID)
	}
	return inst, nil
}

func newAccountID() string {
	// 12 digits, not starting with 0, as AWS account ids look.
	n, err := rand.Int(rand.Reader, big.NewInt(9e11))
	if err != nil {
		panic(err)
	}
	return strconv.FormatInt(n.Int64()+1e11, 10)
}

// newAccessKey returns an AWS-shaped access key id (AKIA + 16 base32
// characters) and a 40-character secret.
func newAccessKey() (id, secret string) {
	b := make([]byte, 10)
	rand.Read(b)
	id = "AKIA" + base32.StdEncoding.EncodeToString(b)[:16]
	s := make([]byte, 30)
	rand.Read(s)
	return id, base64.StdEncoding.EncodeToString(s)
}

// writeCredentials writes the bootstrap access key to DIR/credentials in
// the AWS shared-credentials format, mode 0600, atomically.
func writeCredentials(path, region, akid, secret string) error {
	body := fmt.Sprintf("# Signet bootstrap administrator. Use with:\n#   AWS_SHARED_CREDENTIALS_FILE=%s aws --endpoint-url URL ...\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n", path, akid, secret, region)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".credentials-*")
	if err != nil {
		return fmt.Errorf("failed to write credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
