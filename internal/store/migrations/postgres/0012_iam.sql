-- IAM users, roles, managed policies, inline policies and attachments.
CREATE TABLE iam_users (
    name       TEXT COLLATE "C" PRIMARY KEY,
    id         TEXT COLLATE "C" NOT NULL,
    path       TEXT COLLATE "C" NOT NULL,
    boundary   TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE iam_roles (
    name                 TEXT COLLATE "C" PRIMARY KEY,
    id                   TEXT COLLATE "C" NOT NULL,
    path                 TEXT COLLATE "C" NOT NULL,
    description          TEXT COLLATE "C" NOT NULL,
    trust_policy         TEXT COLLATE "C" NOT NULL,
    max_session_duration BIGINT NOT NULL,
    boundary             TEXT COLLATE "C" NOT NULL,
    created_at           BIGINT NOT NULL
);
CREATE TABLE iam_policies (
    name        TEXT COLLATE "C" PRIMARY KEY,
    id          TEXT COLLATE "C" NOT NULL,
    path        TEXT COLLATE "C" NOT NULL,
    description TEXT COLLATE "C" NOT NULL,
    document    TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE TABLE iam_inline_policies (
    kind        TEXT COLLATE "C" NOT NULL,
    principal   TEXT COLLATE "C" NOT NULL,
    policy_name TEXT COLLATE "C" NOT NULL,
    document    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (kind, principal, policy_name)
);
CREATE TABLE iam_attachments (
    kind        TEXT COLLATE "C" NOT NULL,
    principal   TEXT COLLATE "C" NOT NULL,
    policy_name TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (kind, principal, policy_name)
);
CREATE INDEX iam_attachments_policy ON iam_attachments (policy_name);
CREATE INDEX access_keys_principal ON access_keys (principal_arn);
