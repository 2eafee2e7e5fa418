// Package oidc verifies OpenID Connect ID tokens (JWTs) against an
// issuer's published keys (JWKS), as STS does for
// AssumeRoleWithWebIdentity: RS256/384/512 and ES256/384 signatures,
// issuer, audience, expiry and not-before.
package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ErrInvalidToken reports a token that is malformed, badly signed or not
// for this issuer or audience.
var ErrInvalidToken = errors.New("invalid identity token")

// ErrExpired reports a token past its expiry.
var ErrExpired = errors.New("identity token expired")

// Provider is one trusted issuer.
type Provider struct {
	Issuer    string   // e.g. https://token.actions.githubusercontent.com
	JWKSURL   string   // optional: else from the issuer's discovery document
	Audiences []string // accepted aud values; empty accepts any
	Client    *http.Client

	mu      sync.Mutex
	keys    map[string]crypto.PublicKey
	fetched time.Time
}

// Host is the issuer without its scheme: the provider's name in ARNs
// (oidc-provider/HOST) and condition keys (HOST:sub, HOST:aud).
func (p *Provider) Host() string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(p.Issuer, "https://"), "http://"), "/")
}

// Claims are a verified token's claims.
type Claims struct {
	Issuer   string
	Subject  string
	Audience []string
	Expiry   time.Time
	Raw      map[string]any
}

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// Split decodes a JWT's header and claims without verifying it.
func Split(token string) (h header, claims map[string]any, signed, sig []byte, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return h, nil, nil, nil, fmt.Errorf("%w: a JWT has three dot-separated parts, this has %d", ErrInvalidToken, len(parts))
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return h, nil, nil, nil, fmt.Errorf("%w: not base64url: %v", ErrInvalidToken, err)
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return h, nil, nil, nil, fmt.Errorf("%w: header: %v", ErrInvalidToken, err)
	}
	if err := json.Unmarshal(cb, &claims); err != nil {
		return h, nil, nil, nil, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	return h, claims, []byte(parts[0] + "." + parts[1]), sig, nil
}

// IssuerOf returns a token's iss claim, unverified (to pick a provider).
func IssuerOf(token string) string {
	_, c, _, _, err := Split(token)
	if err != nil {
		return ""
	}
	s, _ := c["iss"].(string)
	return s
}

// leeway tolerates clock differences.
const leeway = time.Minute

// Verify checks a token and returns its claims.
func (p *Provider) Verify(ctx context.Context, token string, now time.Time) (Claims, error) {
	h, raw, signed, sig, err := Split(token)
	if err != nil {
		return Claims{}, err
	}
	key, err := p.key(ctx, h.Kid)
	if err != nil {
		return Claims{}, err
	}
	if err := verifySignature(h.Alg, key, signed, sig); err != nil {
		return Claims{}, err
	}
	c := Claims{Raw: raw}
	c.Issuer, _ = raw["iss"].(string)
	c.Subject, _ = raw["sub"].(string)
	switch a := raw["aud"].(type) {
	case string:
		c.Audience = []string{a}
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok {
				c.Audience = append(c.Audience, s)
			}
		}
	}
	if c.Issuer != strings.TrimSuffix(p.Issuer, "/") && c.Issuer != p.Issuer {
		return c, fmt.Errorf("%w: issuer %q is not %q", ErrInvalidToken, c.Issuer, p.Issuer)
	}
	if len(p.Audiences) > 0 && !intersects(c.Audience, p.Audiences) {
		return c, fmt.Errorf("%w: audience %q is not one of the provider's client ids %q", ErrInvalidToken, c.Audience, p.Audiences)
	}
	exp, ok := raw["exp"].(float64)
	if !ok {
		return c, fmt.Errorf("%w: no exp claim", ErrInvalidToken)
	}
	c.Expiry = time.Unix(int64(exp), 0)
	if now.After(c.Expiry.Add(leeway)) {
		return c, fmt.Errorf("%w: it expired at %s", ErrExpired, c.Expiry.UTC().Format(time.RFC3339))
	}
	if nbf, ok := raw["nbf"].(float64); ok && now.Add(leeway).Before(time.Unix(int64(nbf), 0)) {
		return c, fmt.Errorf("%w: not valid before %s", ErrInvalidToken, time.Unix(int64(nbf), 0).UTC().Format(time.RFC3339))
	}
	return c, nil
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func verifySignature(alg string, key crypto.PublicKey, signed, sig []byte) error {
	var h crypto.Hash
	switch alg {
	case "RS256", "ES256":
		h = crypto.SHA256
	case "RS384", "ES384":
		h = crypto.SHA384
	case "RS512":
		h = crypto.SHA512
	default:
		return fmt.Errorf("%w: algorithm %q is not accepted (RS256, RS384, RS512, ES256, ES384)", ErrInvalidToken, alg)
	}
	var digest []byte
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(signed)
		digest = s[:]
	case crypto.SHA384:
		s := sha512.Sum384(signed)
		digest = s[:]
	default:
		s := sha512.Sum512(signed)
		digest = s[:]
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if alg[0] != 'R' || rsa.VerifyPKCS1v15(k, h, digest, sig) != nil {
			return fmt.Errorf("%w: signature does not verify", ErrInvalidToken)
		}
	case *ecdsa.PublicKey:
		n := (k.Curve.Params().BitSize + 7) / 8
		if alg[0] != 'E' || len(sig) != 2*n ||
			!ecdsa.Verify(k, digest, new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])) {
			return fmt.Errorf("%w: signature does not verify", ErrInvalidToken)
		}
	default:
		return fmt.Errorf("%w: unsupported key", ErrInvalidToken)
	}
	return nil
}

// refetchEvery bounds JWKS fetches when tokens name unknown keys.
const refetchEvery = 30 * time.Second

func (p *Provider) key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k, ok := p.keys[kid]; ok {
		return k, nil
	}
	if time.Since(p.fetched) < refetchEvery && p.keys != nil {
		return nil, fmt.Errorf("%w: no key %q in the issuer's JWKS", ErrInvalidToken, kid)
	}
	keys, err := p.fetch(ctx)
	p.fetched = time.Now()
	if err != nil {
		return nil, fmt.Errorf("fetching the JWKS of %s: %w", p.Issuer, err)
	}
	p.keys = keys
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	if kid == "" && len(keys) == 1 {
		for _, k := range keys {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: no key %q in the issuer's JWKS", ErrInvalidToken, kid)
}

func (p *Provider) get(ctx context.Context, url string, v any) error {
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

func (p *Provider) fetch(ctx context.Context) (map[string]crypto.PublicKey, error) {
	url := p.JWKSURL
	if url == "" {
		var disc struct {
			JWKSURI string `json:"jwks_uri"`
		}
		if err := p.get(ctx, strings.TrimSuffix(p.Issuer, "/")+"/.well-known/openid-configuration", &disc); err != nil {
			return nil, err
		}
		url = disc.JWKSURI
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := p.get(ctx, url, &set); err != nil {
		return nil, err
	}
	return ParseJWKS(set.Keys)
}

// ParseJWKS reads the RSA and EC (P-256, P-384) keys of a JWKS; others
// are skipped.
func ParseJWKS(keys []json.RawMessage) (map[string]crypto.PublicKey, error) {
	out := map[string]crypto.PublicKey{}
	for _, raw := range keys {
		var k struct {
			Kty, Kid, Use, N, E, Crv, X, Y string
		}
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, err
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		dec := base64.RawURLEncoding.DecodeString
		switch k.Kty {
		case "RSA":
			n, err1 := dec(k.N)
			e, err2 := dec(k.E)
			if err1 != nil || err2 != nil || len(e) > 4 || len(n) < 256 {
				continue
			}
			out[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case "EC":
			var curve elliptic.Curve
			switch k.Crv {
			case "P-256":
				curve = elliptic.P256()
			case "P-384":
				curve = elliptic.P384()
			default:
				continue
			}
			x, err1 := dec(k.X)
			y, err2 := dec(k.Y)
			if err1 != nil || err2 != nil {
				continue
			}
			pub := &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
			if !curve.IsOnCurve(pub.X, pub.Y) {
				continue
			}
			out[k.Kid] = pub
		}
	}
	return out, nil
}
