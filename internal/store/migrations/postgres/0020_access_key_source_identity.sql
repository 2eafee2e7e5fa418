-- The source identity of a role session (sts:SourceIdentity), which its
-- requests carry as aws:SourceIdentity and the audit log records.
ALTER TABLE access_keys ADD COLUMN source_identity TEXT COLLATE "C" NOT NULL DEFAULT '';
