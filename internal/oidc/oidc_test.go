package oidc_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/signet/signet/internal/oidc"
	"github.com/signet/signet/internal/oidc/oidctest"
)

func TestVerify(t *testing.T) {
	is := oidctest.NewIssuer(t)
	now := time.Now()
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": is.URL, "sub": "repo:acme/payments:ref:refs/heads/main", "aud": "sts.amazonaws.com", "exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	p := &oidc.Provider{Issuer: is.URL, Audiences: []string{"sts.amazonaws.com"}}
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"RS256", is.Token("RS256", "r1", claims(nil)), nil},
		{"ES256", is.Token("ES256", "e1", claims(nil)), nil},
		{"audience list", is.Token("RS256", "r1", claims(func(c map[string]any) { c["aud"] = []string{"x", "sts.amazonaws.com"} })), nil},
		{"other issuer", is.Token("RS256", "r1", claims(func(c map[string]any) { c["iss"] = "https://evil.example" })), oidc.ErrInvalidToken},
		{"other audience", is.Token("RS256", "r1", claims(func(c map[string]any) { c["aud"] = "other" })), oidc.ErrInvalidToken},
		{"expired", is.Token("RS256", "r1", claims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })), oidc.ErrExpired},
		{"not yet valid", is.Token("RS256", "r1", claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })), oidc.ErrInvalidToken},
		{"no exp", is.Token("RS256", "r1", claims(func(c map[string]any) { delete(c, "exp") })), oidc.ErrInvalidToken},
		{"unknown key", is.Token("RS256", "r9", claims(nil)), oidc.ErrInvalidToken},
		{"alg none", strings.Join(strings.Split(is.Token("RS256", "r1", claims(nil)), ".")[:2], ".") + ".", oidc.ErrInvalidToken},
		{"RS256 header on the EC key", is.Token("RS256", "e1", claims(nil)), oidc.ErrInvalidToken},
		{"tampered claims", func() string {
			parts := strings.Split(is.Token("RS256", "r1", claims(nil)), ".")
			other := strings.Split(is.Token("RS256", "r1", claims(func(c map[string]any) { c["sub"] = "repo:evil/x:ref:main" })), ".")
			return parts[0] + "." + other[1] + "." + parts[2]
		}(), oidc.ErrInvalidToken},
		{"garbage", "not.a.jwt", oidc.ErrInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := p.Verify(context.Background(), tc.token, now)
			if !errors.Is(err, tc.want) || (err == nil && c.Subject != "repo:acme/payments:ref:refs/heads/main") {
				t.Errorf("Verify: %v (%+v), want %v", err, c, tc.want)
			}
		})
	}
}

// FuzzVerify: any token is refused or verified, never a panic.
func FuzzVerify(f *testing.F) {
	is := oidctest.NewIssuer(f)
	f.Add(is.Token("RS256", "r1", map[string]any{"iss": is.URL, "exp": time.Now().Add(time.Hour).Unix()}))
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJFUzI1NiIsImtpZCI6ImUxIn0.e30.AAAA")
	p := &oidc.Provider{Issuer: is.URL}
	p.Verify(context.Background(), "x.y.z", time.Now()) // fetch the keys once
	f.Fuzz(func(t *testing.T, token string) {
		c, err := p.Verify(context.Background(), token, time.Now())
		if err == nil && c.Issuer != is.URL {
			t.Fatalf("accepted a token of issuer %q", c.Issuer)
		}
	})
}
