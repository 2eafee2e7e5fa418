package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyStoreValidate(t *testing.T) {
	pkcs11 := KeyStore{Type: "pkcs11", Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "signet", PINFile: "/etc/signet/pin"}
	cases := map[string]struct {
		edit func(*KeyStore)
		err  string
	}{
		"ok/default":                   {func(k *KeyStore) { *k = KeyStore{} }, ""},
		"ok/software":                  {func(k *KeyStore) { *k = KeyStore{Type: "software"} }, ""},
		"ok/pkcs11 pin file":           {func(*KeyStore) {}, ""},
		"ok/pkcs11 pin env":            {func(k *KeyStore) { k.PINFile, k.PINEnv = "", "SIGNET_PKCS11_PIN" }, ""},
		"ok/pkcs11 root key":           {func(k *KeyStore) { k.RootKeyLabel, k.KeyLabelPrefix = "signet-root", "prod/" }, ""},
		"fail/type":                    {func(k *KeyStore) { k.Type = "hsm" }, `key_store.type: "hsm" must be software or pkcs11`},
		"fail/software with module":    {func(k *KeyStore) { k.Type = "" }, "key_store: module, token_label, pin_file apply only with type: pkcs11"},
		"fail/relative module":         {func(k *KeyStore) { k.Module = "libsofthsm2.so" }, "key_store.module:"},
		"fail/no module":               {func(k *KeyStore) { k.Module = "" }, "key_store.module:"},
		"fail/no token label":          {func(k *KeyStore) { k.TokenLabel = "" }, "key_store.token_label:"},
		"fail/long token label":        {func(k *KeyStore) { k.TokenLabel = strings.Repeat("x", 33) }, "1 to 32 bytes"},
		"fail/no pin":                  {func(k *KeyStore) { k.PINFile = "" }, "set pin_file"},
		"fail/both pins":               {func(k *KeyStore) { k.PINEnv = "PIN" }, "only one of pin_file and pin_env"},
		"fail/pin in pin_env":          {func(k *KeyStore) { k.PINFile, k.PINEnv = "", "12-34" }, "key_store.pin_env:"},
		"fail/several problems":        {func(k *KeyStore) { k.Module, k.TokenLabel = "", "" }, "key_store.token_label:"},
		"fail/through config.Validate": {func(k *KeyStore) { k.Type = "HSM" }, "key_store.type:"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := Defaults()
			cfg.KeyStore = pkcs11
			c.edit(&cfg.KeyStore)
			err := cfg.Validate()
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("Validate = %v, want an error containing %q", err, c.err)
			}
		})
	}
}

func TestKeyStoreParse(t *testing.T) {
	c, err := Parse("test.yaml", []byte("key_store:\n  type: pkcs11\n  module: /usr/lib/softhsm/libsofthsm2.so\n  token_label: signet\n  pin_env: SIGNET_PKCS11_PIN\n  key_label_prefix: \"prod/\"\n  root_key_label: signet-root\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := KeyStore{Type: "pkcs11", Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "signet", PINEnv: "SIGNET_PKCS11_PIN", KeyLabelPrefix: "prod/", RootKeyLabel: "signet-root"}
	if c.KeyStore != want || !c.KeyStore.PKCS11() {
		t.Fatalf("key_store = %+v, want %+v", c.KeyStore, want)
	}
	if _, err := Parse("test.yaml", []byte("key_store:\n  type: pkcs11\n  pin: \"1234\"\n")); err == nil || !strings.Contains(err.Error(), "field pin not found") {
		t.Fatalf("an inline PIN: error = %v, want field pin not found", err)
	}
}

func TestKeyStorePIN(t *testing.T) {
	const pin = "pin-2468"
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("SIGNET_TEST_PIN", pin)
	t.Setenv("SIGNET_TEST_EMPTY_PIN", "")
	cases := map[string]struct {
		ks  KeyStore
		err string
	}{
		"ok/file":             {KeyStore{PINFile: write("pin", pin+"\n", 0o600)}, ""},
		"ok/file no newline":  {KeyStore{PINFile: write("pin2", pin, 0o400)}, ""},
		"ok/env":              {KeyStore{PINEnv: "SIGNET_TEST_PIN"}, ""},
		"fail/env unset":      {KeyStore{PINEnv: "SIGNET_TEST_UNSET_PIN"}, "SIGNET_TEST_UNSET_PIN is not set or empty"},
		"fail/env empty":      {KeyStore{PINEnv: "SIGNET_TEST_EMPTY_PIN"}, "is not set or empty"},
		"fail/file missing":   {KeyStore{PINFile: filepath.Join(dir, "absent")}, "no such file"},
		"fail/file readable":  {KeyStore{PINFile: write("pin3", pin, 0o644)}, "has mode 0644, want 0600"},
		"fail/file empty":     {KeyStore{PINFile: write("pin4", "\n", 0o600)}, "must hold the PIN on one line"},
		"fail/file two lines": {KeyStore{PINFile: write("pin5", pin+"\nmore\n", 0o600)}, "must hold the PIN on one line"},
		"fail/directory":      {KeyStore{PINFile: dir}, "must be a file"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := c.ks.PIN()
			if c.err == "" {
				if err != nil || got != pin {
					t.Fatalf("PIN() = %q, %v; want the PIN", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("PIN() error = %v, want one containing %q", err, c.err)
			}
			if strings.Contains(err.Error(), pin) {
				t.Fatalf("error %q shows the PIN", err)
			}
		})
	}
}

func TestKeyStoreCheckFiles(t *testing.T) {
	pin := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pin, []byte("1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	module := filepath.Join(t.TempDir(), "module.so")
	if err := os.WriteFile(module, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		ks  KeyStore
		err string
	}{
		"ok/software":        {KeyStore{}, ""},
		"ok/pkcs11":          {KeyStore{Type: "pkcs11", Module: module, TokenLabel: "t", PINFile: pin}, ""},
		"fail/no module":     {KeyStore{Type: "pkcs11", Module: "/nonexistent/module.so", TokenLabel: "t", PINFile: pin}, "key_store.module: stat /nonexistent/module.so"},
		"fail/pin env unset": {KeyStore{Type: "pkcs11", Module: module, TokenLabel: "t", PINEnv: "SIGNET_TEST_UNSET_PIN"}, "key_store.pin_env:"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := Defaults()
			cfg.KeyStore = c.ks
			err := cfg.CheckFiles()
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("CheckFiles: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("CheckFiles = %v, want an error containing %q", err, c.err)
			}
		})
	}
}
