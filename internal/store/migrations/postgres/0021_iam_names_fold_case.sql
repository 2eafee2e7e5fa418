-- IAM user, role and policy names are unique regardless of case, as in
-- IAM ("names are not distinguished by case"): creating Bob beside bob
-- is EntityAlreadyExists. Names are ASCII ([\w+=,.@-]), which lower()
-- folds on both engines.
CREATE UNIQUE INDEX iam_users_name_fold ON iam_users (lower(name));
CREATE UNIQUE INDEX iam_roles_name_fold ON iam_roles (lower(name));
CREATE UNIQUE INDEX iam_policies_name_fold ON iam_policies (lower(name));
