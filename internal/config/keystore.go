package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Key store types.
const (
	KeyStoreSoftware = "software"
	KeyStorePKCS11   = "pkcs11"
)

// KeyStore says where Signet's private keys live: the installation's root
// CA, the time-stamping authority and its root, every signing profile
// version's intermediate CA, the OCSP signers and the audit checkpoint key.
// See docs/hsm.md.
type KeyStore struct {
	// Type is software (the default: keys sealed under the master key in
	// the database) or pkcs11 (keys generated and used inside a PKCS#11
	// token, never extractable). pkcs11 needs a Signet built with cgo and
	// the pkcs11 tag: CGO_ENABLED=1 go build -tags pkcs11 ./cmd/signet.
	// The type is chosen when a data directory is initialised; keys made
	// under one type are not found under the other.
	Type string `yaml:"type"`
	// Module is the absolute path of the PKCS#11 module (shared library),
	// such as /usr/lib/softhsm/libsofthsm2.so. pkcs11 only.
	Module string `yaml:"module"`
	// TokenLabel selects the token by its label (at most 32 bytes).
	// pkcs11 only.
	TokenLabel string `yaml:"token_label"`
	// PINFile is a file holding the token's user PIN (one line, readable
	// by its owner only). Set PINFile or PINEnv, not both; the PIN is never
	// written in this file, the logs, the database or a response.
	PINFile string `yaml:"pin_file"`
	// PINEnv is the name of an environment variable holding the user PIN.
	PINEnv string `yaml:"pin_env"`
	// KeyLabelPrefix starts the CKA_LABEL of every key Signet creates on
	// the token (CKA_LABEL = prefix + key id, CKA_ID = key id). Default
	// "signet:". pkcs11 only.
	KeyLabelPrefix string `yaml:"key_label_prefix"`
	// RootKeyLabel, when set, is the CKA_LABEL of a key pair the operator
	// made on the token before the first start (ECDSA P-384 or P-256,
	// sensitive, not extractable, with a CKA_ID): the installation's root
	// CA is made with it instead of a key Signet generates. It applies when
	// a data directory is initialised; later starts check that the
	// installation's root key is still that key. pkcs11 only.
	RootKeyLabel string `yaml:"root_key_label"`
}

// PKCS11 reports whether keys live on a PKCS#11 token.
func (k KeyStore) PKCS11() bool { return k.Type == KeyStorePKCS11 }

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxTokenLabel is the size of CK_TOKEN_INFO's label field.
const maxTokenLabel = 32

func (k KeyStore) validate() error {
	var errs []error
	switch k.Type {
	case "", KeyStoreSoftware:
		var set []string
		for _, f := range []struct{ name, v string }{
			{"module", k.Module}, {"token_label", k.TokenLabel}, {"pin_file", k.PINFile}, {"pin_env", k.PINEnv},
			{"key_label_prefix", k.KeyLabelPrefix}, {"root_key_label", k.RootKeyLabel},
		} {
			if f.v != "" {
				set = append(set, f.name)
			}
		}
		if len(set) > 0 {
			errs = append(errs, fmt.Errorf("key_store: %s apply only with type: pkcs11", strings.Join(set, ", ")))
		}
	case KeyStorePKCS11:
		if k.Module == "" || !filepath.IsAbs(k.Module) {
			errs = append(errs, fmt.Errorf("key_store.module: %q must be the absolute path of the PKCS#11 module, such as /usr/lib/softhsm/libsofthsm2.so", k.Module))
		}
		if k.TokenLabel == "" || len(k.TokenLabel) > maxTokenLabel {
			errs = append(errs, fmt.Errorf("key_store.token_label: %q must be the token's label, 1 to %d bytes", k.TokenLabel, maxTokenLabel))
		}
		switch {
		case k.PINFile == "" && k.PINEnv == "":
			errs = append(errs, errors.New("key_store: set pin_file (a file holding the token's user PIN) or pin_env (the name of an environment variable holding it)"))
		case k.PINFile != "" && k.PINEnv != "":
			errs = append(errs, errors.New("key_store: set only one of pin_file and pin_env"))
		case k.PINEnv != "" && !envName.MatchString(k.PINEnv):
			errs = append(errs, fmt.Errorf("key_store.pin_env: %q must be the name of an environment variable, such as SIGNET_PKCS11_PIN (not the PIN)", k.PINEnv))
		}
	default:
		errs = append(errs, fmt.Errorf("key_store.type: %q must be software or pkcs11", k.Type))
	}
	return errors.Join(errs...)
}

// maxPINFileSize bounds what PIN reads from pin_file.
const maxPINFileSize = 1024

// PIN reads the token's user PIN from pin_file or pin_env. Its errors name
// the file or variable, never the PIN.
func (k KeyStore) PIN() (string, error) {
	if k.PINEnv != "" {
		pin, ok := os.LookupEnv(k.PINEnv)
		if !ok || pin == "" {
			return "", fmt.Errorf("key_store.pin_env: the environment variable %s is not set or empty", k.PINEnv)
		}
		return pin, nil
	}
	fi, err := os.Stat(k.PINFile)
	if err != nil {
		return "", fmt.Errorf("key_store.pin_file: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxPINFileSize {
		return "", fmt.Errorf("key_store.pin_file: %s must be a file of one line holding the PIN", k.PINFile)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("key_store.pin_file: %s has mode %04o, want 0600 or 0400 (run chmod 600 %s)", k.PINFile, perm, k.PINFile)
	}
	b, err := os.ReadFile(k.PINFile)
	if err != nil {
		return "", fmt.Errorf("key_store.pin_file: %w", err)
	}
	pin := strings.TrimRight(string(b), "\r\n")
	if pin == "" || strings.ContainsAny(pin, "\r\n") {
		return "", fmt.Errorf("key_store.pin_file: %s must hold the PIN on one line", k.PINFile)
	}
	return pin, nil
}

// checkFiles checks what a pkcs11 key store names outside the file: the
// module exists and the PIN can be read (it is not kept).
func (k KeyStore) checkFiles() error {
	if !k.PKCS11() {
		return nil
	}
	var errs []error
	if fi, err := os.Stat(k.Module); err != nil {
		errs = append(errs, fmt.Errorf("key_store.module: %w", err))
	} else if !fi.Mode().IsRegular() {
		errs = append(errs, fmt.Errorf("key_store.module: %s is not a file", k.Module))
	}
	if _, err := k.PIN(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
