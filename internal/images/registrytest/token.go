package registrytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The token server's names, as the registry's configuration names them.
const (
	tokenIssuer  = "signet-test-token-server"
	tokenService = "signet-test-registry"
	tokenKeyID   = "signet-test"
)

// startTokenServer runs a token server (the Docker registry token
// authentication protocol) that grants user every action it asks for
// and everyone else pull only, writes its public key as a JWKS file in
// dir, and returns the registry's auth configuration.
func startTokenServer(tb testing.TB, dir, user, password string) string {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	pad := func(b []byte) []byte { return append(make([]byte, 32-len(b)), b...) }
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": tokenKeyID, "alg": "ES256", "use": "sig",
		"x": b64(pad(key.X.Bytes())), "y": b64(pad(key.Y.Bytes())),
	}}})
	if err != nil {
		tb.Fatal(err)
	}
	jwksPath := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksPath, jwks, 0o600); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if ok && (u != user || p != password) {
			http.Error(w, "wrong user name or password", http.StatusUnauthorized)
			return
		}
		owner := ok
		var access []map[string]any
		for _, scope := range r.URL.Query()["scope"] {
			// repository:NAME:ACTION[,ACTION]
			i, j := strings.Index(scope, ":"), strings.LastIndex(scope, ":")
			if i < 0 || j <= i {
				http.Error(w, "malformed scope "+scope, http.StatusBadRequest)
				return
			}
			var granted []string
			for _, a := range strings.Split(scope[j+1:], ",") {
				if owner || a == "pull" {
					granted = append(granted, a)
				}
			}
			access = append(access, map[string]any{"type": scope[:i], "name": scope[i+1 : j], "actions": granted})
		}
		now := time.Now()
		tok, err := signToken(key, map[string]any{
			"iss": tokenIssuer, "sub": u, "aud": tokenService,
			"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(10 * time.Minute).Unix(),
			"jti": fmt.Sprint(now.UnixNano()), "access": access,
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 600, "issued_at": now.UTC().Format(time.RFC3339)})
	}))
	tb.Cleanup(srv.Close)
	return fmt.Sprintf("auth:\n  token:\n    realm: %s/token\n    service: %s\n    issuer: %s\n    jwks: %s\n",
		srv.URL, tokenService, tokenIssuer, jwksPath)
}

// signToken returns the compact JWS (ES256) of claims.
func signToken(key *ecdsa.PrivateKey, claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": tokenKeyID})
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signingInput := b64(header) + "." + b64(body)
	sum := sha256.Sum256([]byte(signingInput))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signingInput + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
