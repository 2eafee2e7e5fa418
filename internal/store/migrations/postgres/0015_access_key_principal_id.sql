-- The unique id (AIDA…, AROA…) of the user or role an access key was
-- issued to: a role session dies with its role even if another role of
-- the same name is created. Keys stored before this have ''.
ALTER TABLE access_keys ADD COLUMN principal_id TEXT COLLATE "C" NOT NULL DEFAULT '';
