// Package signing is the domain of AWS Signer–style signing: platforms,
// signing profiles and their versions, cross-account profile permissions,
// tags, and the installation PKI that gives every profile version its own
// intermediate CA ([Authority]).
//
// # Profiles and versions
//
// PutSigningProfile creates a profile with a first version, each version
// identified by 10 random alphanumerics and backed by a fresh P-384 key and
// an intermediate CA certificate under the installation root. Repeating the
// call with the same configuration is idempotent; a changed validity,
// override or signing parameter creates a new version. Canceling a profile
// keeps it listable and retires its name for good.
//
// # Revocation
//
// RevokeSignature and RevokeSigningProfile reach verifiers through each
// issuing CA's CRL ([Service.RootCRL], [Service.ProfileCRL]) and OCSP
// responder ([Service.OCSP]), which say the same thing, are valid for
// [Service.CRLValidity] and are cached until a revocation clears them.
//
// # Errors
//
// Caller mistakes are [*errs.Error] values wrapping one of the sentinels
// ([ErrNotFound], [ErrInvalid], [ErrConflict], [ErrLimitExceeded],
// [ErrCanceled]); their messages say what to fix and are safe to send. A
// field that breaks a constraint is an [*errs.FieldError] wrapping
// ErrInvalid. The API layer maps the sentinels to wire codes.
package signing
