//go:build pkcs11 && cgo

package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/keys/keystest"
	"github.com/signet/signet/internal/keys/pkcs11"
	"github.com/signet/signet/internal/keys/pkcs11/pkcs11test"
)

// open opens the token of cfg until the test ends.
func open(t *testing.T, cfg pkcs11.Config) *pkcs11.Store {
	t.Helper()
	s, err := pkcs11.Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	keystest.Run(t, func(t *testing.T) keystest.Opener {
		cfg := pkcs11test.NewToken(t)
		return func(t *testing.T) keys.KeyStore { return open(t, cfg) }
	})
}

// session is a PKCS#11 session opened on the token directly, without
// crypto11, as another program on the token would.
type session struct {
	ctx *p11.Ctx
	h   p11.SessionHandle
}

// rawSession logs in to the token of cfg with miekg/pkcs11. A store must be
// open on the token already: the module is initialised in this process
// (C_Initialize answers CKR_CRYPTOKI_ALREADY_INITIALIZED, which is
// harmless), and the session is closed when the test ends but the module
// is not finalised, which is the store's to do.
func rawSession(t *testing.T, cfg pkcs11.Config) session {
	t.Helper()
	module, err := filepath.EvalSymlinks(cfg.Module)
	if err != nil {
		t.Fatal(err)
	}
	ctx := p11.New(module)
	if ctx == nil {
		t.Fatalf("cannot load %s", module)
	}
	if err := ctx.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatalf("C_Initialize: %v", err)
	}
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, slot := range slots {
		info, err := ctx.GetTokenInfo(slot)
		if err != nil || strings.TrimSpace(info.Label) != cfg.TokenLabel {
			continue
		}
		h, err := ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ctx.CloseSession(h) })
		if err := ctx.Login(h, p11.CKU_USER, cfg.PIN); err != nil && !errors.Is(err, p11.Error(p11.CKR_USER_ALREADY_LOGGED_IN)) {
			t.Fatalf("C_Login: %v", err)
		}
		return session{ctx: ctx, h: h}
	}
	t.Fatalf("no token labelled %q", cfg.TokenLabel)
	return session{}
}

// privateKey returns the handle of the one private key labelled label.
func (s session) privateKey(t *testing.T, label string) p11.ObjectHandle {
	t.Helper()
	tmpl := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_LABEL, label),
	}
	if err := s.ctx.FindObjectsInit(s.h, tmpl); err != nil {
		t.Fatal(err)
	}
	found, _, err := s.ctx.FindObjects(s.h, 10)
	s.ctx.FindObjectsFinal(s.h)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("%d private keys labelled %q on the token, want 1", len(found), label)
	}
	return found[0]
}

// TestKeyCannotBeExported tries to read and to wrap a key Signet created,
// as a program holding the PIN could, and checks the attributes that
// forbid it.
func TestKeyCannotBeExported(t *testing.T) {
	cfg := pkcs11test.NewToken(t)
	store := open(t, cfg)
	ctx := context.Background()
	id, _, err := store.Create(ctx, keys.KeySpecEC384)
	if err != nil {
		t.Fatal(err)
	}
	s := rawSession(t, cfg)
	priv := s.privateKey(t, cfg.Label(id))

	t.Run("fail/read CKA_VALUE", func(t *testing.T) {
		attrs, err := s.ctx.GetAttributeValue(s.h, priv, []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE, nil)})
		if !errors.Is(err, p11.Error(p11.CKR_ATTRIBUTE_SENSITIVE)) {
			t.Fatalf("C_GetAttributeValue(CKA_VALUE) = %v, %v; want CKR_ATTRIBUTE_SENSITIVE", attrs, err)
		}
	})
	t.Run("fail/wrap with an AES key", func(t *testing.T) {
		wrapping, err := s.ctx.GenerateKey(s.h, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_GEN, nil)}, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
			p11.NewAttribute(p11.CKA_VALUE_LEN, 32),
			p11.NewAttribute(p11.CKA_TOKEN, false),
			p11.NewAttribute(p11.CKA_WRAP, true),
			p11.NewAttribute(p11.CKA_EXTRACTABLE, true),
		})
		if err != nil {
			t.Fatalf("generate a wrapping key: %v", err)
		}
		wrapped, err := s.ctx.WrapKey(s.h, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_WRAP_PAD, nil)}, wrapping, priv)
		if !errors.Is(err, p11.Error(p11.CKR_KEY_UNEXTRACTABLE)) {
			t.Fatalf("C_WrapKey = %d bytes, %v; want CKR_KEY_UNEXTRACTABLE", len(wrapped), err)
		}
	})
	t.Run("ok/attributes", func(t *testing.T) {
		want := []struct {
			name string
			typ  uint
			want bool
		}{
			{"CKA_TOKEN", p11.CKA_TOKEN, true},
			{"CKA_PRIVATE", p11.CKA_PRIVATE, true},
			{"CKA_SENSITIVE", p11.CKA_SENSITIVE, true},
			{"CKA_EXTRACTABLE", p11.CKA_EXTRACTABLE, false},
			{"CKA_ALWAYS_SENSITIVE", p11.CKA_ALWAYS_SENSITIVE, true},
			{"CKA_NEVER_EXTRACTABLE", p11.CKA_NEVER_EXTRACTABLE, true},
			{"CKA_LOCAL", p11.CKA_LOCAL, true}, // generated on the token
		}
		for _, w := range want {
			attrs, err := s.ctx.GetAttributeValue(s.h, priv, []*p11.Attribute{p11.NewAttribute(w.typ, nil)})
			if err != nil {
				t.Errorf("%s: %v", w.name, err)
				continue
			}
			if got := len(attrs[0].Value) == 1 && attrs[0].Value[0] != 0; got != w.want {
				t.Errorf("%s = %v, want %v", w.name, got, w.want)
			}
		}
		attrs, err := s.ctx.GetAttributeValue(s.h, priv, []*p11.Attribute{p11.NewAttribute(p11.CKA_ID, nil)})
		if err != nil || string(attrs[0].Value) != id {
			t.Errorf("CKA_ID = %q, %v; want %q", attrs[0].Value, err, id)
		}
	})
}

// keyAttrs are the private key attributes operatorKey sets.
type keyAttrs struct {
	sensitive, extractable, private, sign bool
}

// adoptableAttrs are those of a key Signet adopts.
var adoptableAttrs = keyAttrs{sensitive: true, private: true, sign: true}

// secp384r1 is CKA_EC_PARAMS for P-384.
func secp384r1(t *testing.T) []byte {
	t.Helper()
	params, err := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 132, 0, 34})
	if err != nil {
		t.Fatal(err)
	}
	return params
}

// operatorKey makes a P-384 key pair labelled label on the token as an
// operator would (pkcs11-tool --keypairgen), its private half with the
// attributes a, and returns the private half's handle.
func operatorKey(t *testing.T, s session, label string, a keyAttrs) p11.ObjectHandle {
	t.Helper()
	id := []byte("operator-" + label)
	_, priv, err := s.ctx.GenerateKeyPair(s.h, []*p11.Mechanism{p11.NewMechanism(p11.CKM_EC_KEY_PAIR_GEN, nil)},
		[]*p11.Attribute{
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_VERIFY, true),
			p11.NewAttribute(p11.CKA_EC_PARAMS, secp384r1(t)),
			p11.NewAttribute(p11.CKA_ID, id),
			p11.NewAttribute(p11.CKA_LABEL, label),
		},
		[]*p11.Attribute{
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, a.private),
			p11.NewAttribute(p11.CKA_SIGN, a.sign),
			p11.NewAttribute(p11.CKA_SENSITIVE, a.sensitive),
			p11.NewAttribute(p11.CKA_EXTRACTABLE, a.extractable),
			p11.NewAttribute(p11.CKA_ID, id),
			p11.NewAttribute(p11.CKA_LABEL, label),
		})
	if err != nil {
		t.Fatalf("generate the operator's key %q: %v", label, err)
	}
	return priv
}

// importedKey puts a P-384 key pair generated in software on the token
// (C_CreateObject with CKA_VALUE, as pkcs11-tool --write-object does),
// its private half sensitive, not extractable, private and for signing:
// only CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE, which the token
// sets false for a key it did not generate, tell it from one made there.
func importedKey(t *testing.T, s session, label string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dh, err := k.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	point, err := asn1.Marshal(dh.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	id := []byte("operator-" + label)
	objects := [][]*p11.Attribute{
		{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_VERIFY, true),
			p11.NewAttribute(p11.CKA_EC_PARAMS, secp384r1(t)),
			p11.NewAttribute(p11.CKA_EC_POINT, point),
			p11.NewAttribute(p11.CKA_ID, id),
			p11.NewAttribute(p11.CKA_LABEL, label),
		},
		{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, true),
			p11.NewAttribute(p11.CKA_SIGN, true),
			p11.NewAttribute(p11.CKA_SENSITIVE, true),
			p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
			p11.NewAttribute(p11.CKA_EC_PARAMS, secp384r1(t)),
			p11.NewAttribute(p11.CKA_VALUE, dh.Bytes()),
			p11.NewAttribute(p11.CKA_ID, id),
			p11.NewAttribute(p11.CKA_LABEL, label),
		},
	}
	for _, tmpl := range objects {
		if _, err := s.ctx.CreateObject(s.h, tmpl); err != nil {
			t.Fatalf("import the key %q: %v", label, err)
		}
	}
}

// attr returns the private key's boolean attribute typ.
func (s session) attr(t *testing.T, priv p11.ObjectHandle, typ uint) bool {
	t.Helper()
	attrs, err := s.ctx.GetAttributeValue(s.h, priv, []*p11.Attribute{p11.NewAttribute(typ, nil)})
	if err != nil {
		t.Fatal(err)
	}
	return len(attrs[0].Value) == 1 && attrs[0].Value[0] != 0
}

func TestKeyByLabel(t *testing.T) {
	cfg := pkcs11test.NewToken(t)
	// As docs/hsm.md says to make one, before the token is opened here.
	pkcs11test.OperatorKey(t, cfg, "pkcs11-tool")
	store := open(t, cfg)
	s := rawSession(t, cfg)
	operatorKey(t, s, "root", adoptableAttrs)
	operatorKey(t, s, "exportable", keyAttrs{extractable: true, private: true, sign: true})
	operatorKey(t, s, "extractable", keyAttrs{sensitive: true, extractable: true, private: true, sign: true})
	operatorKey(t, s, "public", keyAttrs{sensitive: true, sign: true})
	operatorKey(t, s, "no-sign", keyAttrs{sensitive: true, private: true})
	operatorKey(t, s, "twice", adoptableAttrs)
	operatorKey(t, s, "twice", adoptableAttrs)
	importedKey(t, s, "imported")
	// Made readable, then sensitive: CKA_ALWAYS_SENSITIVE stays false.
	onceReadable := operatorKey(t, s, "once-readable", keyAttrs{private: true, sign: true})
	if err := s.ctx.SetAttributeValue(s.h, onceReadable, []*p11.Attribute{p11.NewAttribute(p11.CKA_SENSITIVE, true)}); err != nil {
		t.Fatalf("make the key sensitive: %v", err)
	}
	// Made extractable, then not: CKA_NEVER_EXTRACTABLE stays false.
	onceExtractable := operatorKey(t, s, "once-extractable", keyAttrs{sensitive: true, extractable: true, private: true, sign: true})
	if err := s.ctx.SetAttributeValue(s.h, onceExtractable, []*p11.Attribute{p11.NewAttribute(p11.CKA_EXTRACTABLE, false)}); err != nil {
		t.Fatalf("make the key not extractable: %v", err)
	}
	// The keys refused for their history pass the checks of
	// CKA_SENSITIVE and CKA_EXTRACTABLE alone.
	for _, label := range []string{"imported", "once-readable", "once-extractable"} {
		priv := s.privateKey(t, label)
		if !s.attr(t, priv, p11.CKA_SENSITIVE) || s.attr(t, priv, p11.CKA_EXTRACTABLE) {
			t.Fatalf("the key %q is not sensitive and unextractable now", label)
		}
	}
	ctx := context.Background()

	tests := []struct {
		label   string
		wantErr string
		wantIs  error
	}{
		{label: "root"},
		{label: "pkcs11-tool"},
		{label: "absent", wantIs: keys.ErrKeyNotFound},
		{label: "exportable", wantErr: "has CKA_SENSITIVE false, want true: it can leave the token"},
		{label: "extractable", wantErr: "has CKA_EXTRACTABLE true, want false: it can leave the token"},
		{label: "imported", wantErr: "has CKA_ALWAYS_SENSITIVE false, want true"},
		{label: "once-readable", wantErr: "has CKA_ALWAYS_SENSITIVE false, want true"},
		{label: "once-extractable", wantErr: "has CKA_NEVER_EXTRACTABLE false, want true"},
		{label: "public", wantErr: "has CKA_PRIVATE false, want true"},
		{label: "no-sign", wantErr: "has CKA_SIGN false, want true"},
		{label: "twice", wantErr: "2 key pairs"},
		{label: "", wantErr: "key label is empty"},
	}
	for _, tt := range tests {
		name := "ok/" + tt.label
		if tt.wantErr != "" || tt.wantIs != nil {
			name = "fail/" + tt.label
		}
		t.Run(name, func(t *testing.T) {
			id, pub, err := store.KeyByLabel(ctx, tt.label)
			switch {
			case tt.wantIs != nil:
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("error = %v, want %v", err, tt.wantIs)
				}
				return
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if tt.label != "" && tt.label != "twice" && !strings.Contains(err.Error(), "generate a new key pair on the token") {
					t.Errorf("error = %v, want it to say to generate the key on the token", err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if id != pkcs11.LabelID(tt.label) {
				t.Errorf("id = %q, want %q", id, pkcs11.LabelID(tt.label))
			}
			signer, err := store.Signer(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			digest := sha512.Sum384([]byte("root certificate"))
			sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA384)
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig) {
				t.Fatal("signature does not verify")
			}
			if err := store.Delete(ctx, id); err == nil || !strings.Contains(err.Error(), "does not destroy it") {
				t.Fatalf("Delete of the operator's key: error = %v, want a refusal", err)
			}
			s.privateKey(t, tt.label) // still there
		})
	}
}

func TestOpenErrors(t *testing.T) {
	cfg := pkcs11test.NewToken(t)
	const wrongPIN = "wrong-pin-86420"
	tests := []struct {
		name    string
		edit    func(*pkcs11.Config)
		wantErr string
	}{
		{name: "fail/wrong PIN", edit: func(c *pkcs11.Config) { c.PIN = wrongPIN }, wantErr: "the PIN is wrong"},
		{name: "fail/unknown token", edit: func(c *pkcs11.Config) { c.TokenLabel = "no-such-token" }, wantErr: `has no token labelled "no-such-token"`},
		{name: "fail/missing module", edit: func(c *pkcs11.Config) { c.Module = "/nonexistent/libpkcs11.so" }, wantErr: "PKCS#11 module /nonexistent/libpkcs11.so"},
		{name: "fail/empty PIN", edit: func(c *pkcs11.Config) { c.PIN = "" }, wantErr: "PIN for token"},
		{name: "fail/empty token label", edit: func(c *pkcs11.Config) { c.TokenLabel = "" }, wantErr: "token label is empty"},
		{name: "fail/empty module", edit: func(c *pkcs11.Config) { c.Module = "" }, wantErr: "module path is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			tt.edit(&c)
			s, err := pkcs11.Open(c)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			for _, pin := range []string{wrongPIN, cfg.PIN} {
				if strings.Contains(err.Error(), pin) {
					t.Fatalf("error %q shows the PIN", err)
				}
			}
		})
	}
	// The token still opens with the right PIN after the failures.
	open(t, cfg)
}
