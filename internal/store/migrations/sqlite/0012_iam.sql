-- IAM users, roles, managed policies, inline policies and attachments.
CREATE TABLE iam_users (
    name       TEXT PRIMARY KEY,
    id         TEXT NOT NULL,
    path       TEXT NOT NULL,
    boundary   TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE iam_roles (
    name                 TEXT PRIMARY KEY,
    id                   TEXT NOT NULL,
    path                 TEXT NOT NULL,
    description          TEXT NOT NULL,
    trust_policy         TEXT NOT NULL,
    max_session_duration INTEGER NOT NULL,
    boundary             TEXT NOT NULL,
    created_at           BIGINT NOT NULL
);
CREATE TABLE iam_policies (
    name        TEXT PRIMARY KEY,
    id          TEXT NOT NULL,
    path        TEXT NOT NULL,
    description TEXT NOT NULL,
    document    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE TABLE iam_inline_policies (
    kind        TEXT NOT NULL,
    principal   TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (kind, principal, policy_name)
);
CREATE TABLE iam_attachments (
    kind        TEXT NOT NULL,
    principal   TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    PRIMARY KEY (kind, principal, policy_name)
);
CREATE INDEX iam_attachments_policy ON iam_attachments (policy_name);
CREATE INDEX access_keys_principal ON access_keys (principal_arn);
