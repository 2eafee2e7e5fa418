package pkcs11_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/signet/signet/internal/keys/pkcs11"
)

func TestConfigHidesPIN(t *testing.T) {
	cfg := pkcs11.Config{Module: "/m.so", TokenLabel: "t", PIN: "secret-pin-1357", KeyLabelPrefix: "p:"}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, cfg); strings.Contains(s, cfg.PIN) {
			t.Errorf("%s shows the PIN: %s", format, s)
		}
	}
}

func TestLabel(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		id     string
		want   string
	}{
		{name: "ok/default prefix", id: "key-abc", want: "signet:key-abc"},
		{name: "ok/own prefix", prefix: "prod/", id: "key-abc", want: "prod/key-abc"},
		{name: "ok/adopted key", prefix: "prod/", id: pkcs11.LabelID("root-2026"), want: "root-2026"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (pkcs11.Config{KeyLabelPrefix: tt.prefix}).Label(tt.id); got != tt.want {
				t.Errorf("Label(%q) = %q, want %q", tt.id, got, tt.want)
			}
		})
	}
}
