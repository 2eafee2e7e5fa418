package server

import (
	"context"
	"errors"
	"time"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/oidc"
)

// webIdentity adapts an oidc.Provider to iam.WebIdentityProvider.
type webIdentity struct{ p *oidc.Provider }

func (w webIdentity) Host() string { return w.p.Host() }

func (w webIdentity) Verify(ctx context.Context, token string, now time.Time) (iam.WebIdentity, error) {
	c, err := w.p.Verify(ctx, token, now)
	switch {
	case errors.Is(err, oidc.ErrExpired):
		return iam.WebIdentity{}, &errs.Error{Kind: iam.ErrExpiredToken, Msg: "Token expired: " + err.Error()}
	case errors.Is(err, oidc.ErrInvalidToken):
		return iam.WebIdentity{}, &errs.Error{Kind: iam.ErrInvalidIdentityToken, Msg: err.Error()}
	case err != nil:
		return iam.WebIdentity{}, &errs.Error{Kind: iam.ErrInvalidIdentityToken, Msg: "Couldn't retrieve verification key from your identity provider: " + err.Error()}
	}
	return iam.WebIdentity{Subject: c.Subject, Audience: c.Audience}, nil
}

func webIdentityProviders(cfg []config.WebIdentityProvider) []iam.WebIdentityProvider {
	var out []iam.WebIdentityProvider
	for _, p := range cfg {
		out = append(out, webIdentity{&oidc.Provider{Issuer: p.Issuer, JWKSURL: p.JWKSURL, Audiences: p.Audiences}})
	}
	return out
}
