package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/signet/signet/internal/secretscan"
	"github.com/signet/signet/internal/signing"
)

var _ signing.JobStore = (*Signing)(nil)

const jobColumns = `id, client_request_token, kind, profile_name, profile_version, platform_id, source_bucket, source_key, source_version,
dest_bucket, dest_prefix, signed_bucket, signed_key, status, status_reason, created_at, completed_at, signature_expires_at,
requested_by, job_owner, job_invoker, attempts, lease_until, leaf_serial, leaf_hash, revoked_at, revoked_by, revocation_reason, scan_findings`

func scanJob(row scanner) (signing.Job, error) {
	var j signing.Job
	var status string
	var created, completed, expires, lease, revoked int64
	var findings string
	err := row.Scan(&j.ID, &j.ClientRequestToken, &j.Kind, &j.ProfileName, &j.ProfileVersion, &j.PlatformID, &j.SourceBucket, &j.SourceKey, &j.SourceVersion,
		&j.DestBucket, &j.DestPrefix, &j.SignedBucket, &j.SignedKey, &status, &j.StatusReason, &created, &completed, &expires,
		&j.RequestedBy, &j.Owner, &j.Invoker, &j.Attempts, &lease, &j.LeafSerial, &j.LeafHash, &revoked, &j.RevokedBy, &j.RevocationReason, &findings)
	if err == nil && findings != "" {
		if jerr := json.Unmarshal([]byte(findings), &j.ScanFindings); jerr != nil {
			return j, fmt.Errorf("job %s: bad scan_findings: %w", j.ID, jerr)
		}
	}
	j.Status = signing.JobStatus(status)
	j.CreatedAt, j.CompletedAt, j.SignatureExpiresAt, j.LeaseUntil = fromUnixNano(created), fromUnixNano(completed), fromUnixNano(expires), fromUnixNano(lease)
	j.RevokedAt = fromUnixNano(revoked)
	return j, err
}

func jobArgs(j signing.Job) []any {
	return []any{j.ID, j.ClientRequestToken, j.Kind, j.ProfileName, j.ProfileVersion, j.PlatformID, j.SourceBucket, j.SourceKey, j.SourceVersion,
		j.DestBucket, j.DestPrefix, j.SignedBucket, j.SignedKey, string(j.Status), j.StatusReason, unixNano(j.CreatedAt), unixNano(j.CompletedAt), unixNano(j.SignatureExpiresAt),
		j.RequestedBy, j.Owner, j.Invoker, j.Attempts, unixNano(j.LeaseUntil), j.LeafSerial, j.LeafHash, unixNano(j.RevokedAt), j.RevokedBy, j.RevocationReason, findingsJSON(j.ScanFindings)}
}

// findingsJSON is the scan_findings column: empty for none.
func findingsJSON(fs []secretscan.Finding) string {
	if len(fs) == 0 {
		return ""
	}
	b, _ := json.Marshal(fs) // plain strings and ints: cannot fail
	return string(b)
}

// CreateJob implements signing.JobStore.
func (s *Signing) CreateJob(ctx context.Context, j signing.Job) (signing.Job, bool, error) {
	created := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		created = false // a retried transaction starts again
		got, err := scanJob(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+jobColumns+` FROM signing_jobs WHERE requested_by = ? AND client_request_token = ?`), j.RequestedBy, j.ClientRequestToken))
		if err == nil {
			j = got
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO signing_jobs (`+jobColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), jobArgs(j)...)
		created = err == nil
		return err
	})
	return j, created, err
}

// Job implements signing.JobStore.
func (s *Signing) Job(ctx context.Context, id string) (signing.Job, error) {
	j, err := scanJob(s.queryRow(ctx, `SELECT `+jobColumns+` FROM signing_jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, signing.ErrNotFound
	}
	return j, err
}

// ListJobs implements signing.JobStore.
func (s *Signing) ListJobs(ctx context.Context, q signing.JobQuery) ([]signing.Job, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if q.Status != "" {
		add("status = ?", string(q.Status))
	}
	if q.PlatformID != "" {
		add("platform_id = ?", q.PlatformID)
	}
	if q.RequestedBy != "" {
		add("requested_by = ?", q.RequestedBy)
	}
	if q.Invoker != "" {
		add("job_invoker = ?", q.Invoker)
	}
	if q.Revoked != nil {
		if *q.Revoked {
			where = append(where, "revoked_at > 0")
		} else {
			where = append(where, "revoked_at = 0")
		}
	}
	if !q.ExpiresBefore.IsZero() {
		add("signature_expires_at > 0 AND signature_expires_at < ?", unixNano(q.ExpiresBefore))
	}
	if !q.ExpiresAfter.IsZero() {
		add("signature_expires_at > ?", unixNano(q.ExpiresAfter))
	}
	if !q.AfterCreatedAt.IsZero() {
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		args = append(args, unixNano(q.AfterCreatedAt), unixNano(q.AfterCreatedAt), q.AfterID)
	}
	query := `SELECT ` + jobColumns + ` FROM signing_jobs`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, q.Limit)
	return queryAll(ctx, s.core, scanJob, query, args...)
}

// JobQueue returns how many signing jobs are in progress (queued or
// being signed) and when the oldest was created.
func (s *Signing) JobQueue(ctx context.Context) (n int, oldest time.Time, err error) {
	var min sql.NullInt64
	err = s.queryRow(ctx, `SELECT COUNT(*), MIN(created_at) FROM signing_jobs WHERE status = ? AND kind = ?`,
		string(signing.JobInProgress), signing.KindObject).Scan(&n, &min)
	if min.Valid {
		oldest = fromUnixNano(min.Int64)
	}
	return n, oldest, err
}

// ClaimJob implements signing.JobStore.
func (s *Signing) ClaimJob(ctx context.Context, now time.Time, lease time.Duration) (signing.Job, bool, error) {
	var j signing.Job
	ok := false
	err := s.claimTx(ctx, func(tx *sql.Tx) error {
		j, ok = signing.Job{}, false // a retried transaction starts again
		var err error
		j, err = scanJob(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+jobColumns+` FROM signing_jobs WHERE status = ? AND kind = ? AND lease_until < ? ORDER BY created_at, id LIMIT 1`+s.d.skipLocked),
			string(signing.JobInProgress), signing.KindObject, unixNano(now)))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		j.Attempts++
		j.LeaseUntil = now.Add(lease)
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE signing_jobs SET attempts = ?, lease_until = ? WHERE id = ?`), j.Attempts, unixNano(j.LeaseUntil), j.ID); err != nil {
			return err
		}
		ok = true
		return nil
	})
	return j, ok, err
}

// RenewJobLease implements signing.JobStore.
func (s *Signing) RenewJobLease(ctx context.Context, id string, attempt int, until time.Time) (bool, error) {
	res, err := s.exec(ctx, `UPDATE signing_jobs SET lease_until = ? WHERE id = ? AND attempts = ? AND status = ?`,
		unixNano(until), id, attempt, string(signing.JobInProgress))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// FinishJob implements signing.JobStore.
func (s *Signing) FinishJob(ctx context.Context, id string, fn func(*signing.Job) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		j, err := scanJob(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+jobColumns+` FROM signing_jobs WHERE id = ?`), id))
		if errors.Is(err, sql.ErrNoRows) {
			return signing.ErrNotFound
		}
		if err != nil {
			return err
		}
		if j.Status != signing.JobInProgress {
			return fmt.Errorf("job %s is already %s: %w", id, j.Status, signing.ErrConflict)
		}
		if err := fn(&j); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE signing_jobs SET status = ?, status_reason = ?, signed_bucket = ?, signed_key = ?, completed_at = ?, signature_expires_at = ?, leaf_serial = ?, leaf_hash = ?, scan_findings = ?, lease_until = 0 WHERE id = ?`),
			string(j.Status), j.StatusReason, j.SignedBucket, j.SignedKey, unixNano(j.CompletedAt), unixNano(j.SignatureExpiresAt), j.LeafSerial, j.LeafHash, findingsJSON(j.ScanFindings), id)
		return err
	})
}

// ReleaseLeases implements signing.JobStore.
func (s *Signing) ReleaseLeases(ctx context.Context) error {
	_, err := s.exec(ctx, `UPDATE signing_jobs SET lease_until = 0 WHERE lease_until <> 0`)
	return err
}

// UpdateJob implements signing.JobStore.
func (s *Signing) UpdateJob(ctx context.Context, id string, fn func(*signing.Job) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		j, err := scanJob(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+jobColumns+` FROM signing_jobs WHERE id = ?`), id))
		if errors.Is(err, sql.ErrNoRows) {
			return signing.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := fn(&j); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE signing_jobs SET revoked_at = ?, revoked_by = ?, revocation_reason = ? WHERE id = ?`),
			unixNano(j.RevokedAt), j.RevokedBy, j.RevocationReason, id); err != nil {
			return err
		}
		return s.bumpRevocationEpoch(ctx, tx)
	})
}

// RevokedLeaves implements signing.JobStore.
func (s *Signing) RevokedLeaves(ctx context.Context, profileName, version string) ([]signing.RevokedLeaf, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT leaf_serial, revoked_at FROM signing_jobs WHERE profile_name = ? AND profile_version = ? AND revoked_at > 0 AND leaf_serial <> '' ORDER BY revoked_at, id`), profileName, version)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []signing.RevokedLeaf
	for rows.Next() {
		var l signing.RevokedLeaf
		var at int64
		if err := rows.Scan(&l.Serial, &at); err != nil {
			return nil, err
		}
		l.RevokedAt = fromUnixNano(at)
		out = append(out, l)
	}
	return out, rows.Err()
}

// LeafJob implements signing.JobStore.
func (s *Signing) LeafJob(ctx context.Context, profileName, version, serial string) (signing.Job, error) {
	j, err := scanJob(s.queryRow(ctx, `SELECT `+jobColumns+` FROM signing_jobs WHERE profile_name = ? AND profile_version = ? AND leaf_serial = ?`, profileName, version, serial))
	if errors.Is(err, sql.ErrNoRows) {
		return signing.Job{}, signing.ErrNotFound
	}
	return j, err
}
