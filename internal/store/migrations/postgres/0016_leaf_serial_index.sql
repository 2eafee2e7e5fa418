-- The OCSP responder of a profile version looks a leaf up by serial.
CREATE INDEX signing_jobs_leaf ON signing_jobs (profile_name, profile_version, leaf_serial);
