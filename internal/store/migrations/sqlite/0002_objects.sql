-- The versioned object store (internal/objects). Object bytes live in the
-- data store under the paths recorded here; these tables only say which
-- data is visible.

CREATE TABLE buckets (
    name       TEXT PRIMARY KEY,
    versioning TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

-- Every version and delete marker. seq is the creation order (never
-- reused); is_latest marks the newest row of each key. segments is a JSON
-- array of {"path","size"}: the data holding the version's bytes, in order.
CREATE TABLE object_versions (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket        TEXT NOT NULL REFERENCES buckets (name),
    object_key    TEXT NOT NULL,
    version_id    TEXT NOT NULL,
    is_latest     INTEGER NOT NULL,
    delete_marker INTEGER NOT NULL,
    size          BIGINT NOT NULL,
    etag          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    segments      TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX object_versions_id ON object_versions (bucket, object_key, version_id);
-- Listing by key: the latest version of each key.
CREATE INDEX object_versions_latest ON object_versions (bucket, object_key) WHERE is_latest = 1;
-- Listing versions: by key, then newest (by creation) first.
CREATE INDEX object_versions_history ON object_versions (bucket, object_key, seq DESC);

CREATE TABLE multipart_uploads (
    upload_id    TEXT PRIMARY KEY,
    bucket       TEXT NOT NULL REFERENCES buckets (name),
    object_key   TEXT NOT NULL,
    content_type TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX multipart_uploads_key ON multipart_uploads (bucket, object_key, created_at);

CREATE TABLE multipart_parts (
    upload_id   TEXT NOT NULL REFERENCES multipart_uploads (upload_id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL,
    size        BIGINT NOT NULL,
    etag        TEXT NOT NULL,
    data_path   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
