-- Revocation: the leaf certificate of every signature (its serial goes
-- into its issuer's CRL when the signature is revoked), signature and
-- profile-version revocation records, and each CA's CRL number.
ALTER TABLE signing_jobs ADD COLUMN leaf_serial TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE signing_jobs ADD COLUMN leaf_hash TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE signing_jobs ADD COLUMN revoked_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE signing_jobs ADD COLUMN revoked_by TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE signing_jobs ADD COLUMN revocation_reason TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX signing_jobs_revoked ON signing_jobs (profile_name, profile_version, revoked_at);

ALTER TABLE signing_profile_versions ADD COLUMN revoked_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE signing_profile_versions ADD COLUMN revocation_effective_from BIGINT NOT NULL DEFAULT 0;
ALTER TABLE signing_profile_versions ADD COLUMN revoked_by TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE signing_profile_versions ADD COLUMN revocation_reason TEXT COLLATE "C" NOT NULL DEFAULT '';

CREATE TABLE crl_numbers (
    issuer TEXT COLLATE "C" PRIMARY KEY,
    number BIGINT NOT NULL
);
