-- The secret scan's findings of a signing job (JSON array of
-- {path, line, ruleId, fingerprint}; never the secrets), '' when none.
ALTER TABLE signing_jobs ADD COLUMN scan_findings TEXT COLLATE "C" NOT NULL DEFAULT '';
