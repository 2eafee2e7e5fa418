-- IAM user, role and policy names are unique regardless of case, as in
-- IAM ("names are not distinguished by case"): creating Bob beside bob
-- is EntityAlreadyExists. Names are ASCII ([\w+=,.@-]), which lower()
-- folds on both engines. An installation that already has two names
-- differing only in case (bob and Bob) refuses this migration: delete or
-- re-create one of them under another name with the previous Signet
-- (aws iam delete-user / create-user), then start again.
CREATE UNIQUE INDEX iam_users_name_fold ON iam_users (lower(name));
CREATE UNIQUE INDEX iam_roles_name_fold ON iam_roles (lower(name));
CREATE UNIQUE INDEX iam_policies_name_fold ON iam_policies (lower(name));
