package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ConsoleSession is a web console session: the principal signed in, as
// its access key made it, and when the session ends. Only hashes of the
// session's cookie and CSRF token are stored.
type ConsoleSession struct {
	IDHash         string // hash of the session cookie
	PrincipalARN   string
	PrincipalID    string
	AccessKeyID    string
	SourceIdentity string
	CSRFHash       string // hash of the session's CSRF token
	Created        time.Time
	LastSeen       time.Time
	Expires        time.Time
}

const sessionColumns = `id_hash, principal_arn, principal_id, access_key_id, source_identity, csrf_hash, created_at, last_seen_at, expires_at`

// CreateSession stores a new session.
func (s *Console) CreateSession(ctx context.Context, c ConsoleSession) error {
	_, err := s.exec(ctx, `INSERT INTO console_sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.IDHash, c.PrincipalARN, c.PrincipalID, c.AccessKeyID, c.SourceIdentity, c.CSRFHash, unixNano(c.Created), unixNano(c.LastSeen), unixNano(c.Expires))
	return err
}

// Session returns the session whose cookie hashes to idHash, expired or
// not (the caller compares Expires with its clock), or ErrNotFound.
func (s *Console) Session(ctx context.Context, idHash string) (ConsoleSession, error) {
	var c ConsoleSession
	var created, seen, expires int64
	err := s.queryRow(ctx, `SELECT `+sessionColumns+` FROM console_sessions WHERE id_hash = ?`, idHash).
		Scan(&c.IDHash, &c.PrincipalARN, &c.PrincipalID, &c.AccessKeyID, &c.SourceIdentity, &c.CSRFHash, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	c.Created, c.LastSeen, c.Expires = fromUnixNano(created), fromUnixNano(seen), fromUnixNano(expires)
	return c, err
}

// TouchSession records that the session was used at at, or returns
// ErrNotFound.
func (s *Console) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	return s.execOne(ctx, ErrNotFound, `UPDATE console_sessions SET last_seen_at = ? WHERE id_hash = ?`, unixNano(at), idHash)
}

// DeleteSession ends a session; ending one that does not exist is not
// an error.
func (s *Console) DeleteSession(ctx context.Context, idHash string) error {
	_, err := s.exec(ctx, `DELETE FROM console_sessions WHERE id_hash = ?`, idHash)
	return err
}

// DeleteSessionsOfKey ends every session signed in with an access key
// (deleted or deactivated) and returns how many it ended.
func (s *Console) DeleteSessionsOfKey(ctx context.Context, accessKeyID string) (int, error) {
	return s.deleteSessions(ctx, `DELETE FROM console_sessions WHERE access_key_id = ?`, accessKeyID)
}

// ExpireSessions deletes the sessions that expired at or before now and
// returns how many it deleted.
func (s *Console) ExpireSessions(ctx context.Context, now time.Time) (int, error) {
	return s.deleteSessions(ctx, `DELETE FROM console_sessions WHERE expires_at <= ?`, unixNano(now))
}

func (s *Console) deleteSessions(ctx context.Context, q string, arg any) (int, error) {
	res, err := s.exec(ctx, q, arg)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// JobDayCount counts the signing jobs created on one UTC day with one
// status.
type JobDayCount struct {
	Day    time.Time // midnight UTC
	Status string
	Jobs   int
	// Signing is the time the finished ones of these jobs took, from
	// request to completion, in all.
	Signing time.Duration
}

// JobsPerDay counts the signing jobs created on each UTC day from the
// one since falls in, by status, oldest first.
func (s *Signing) JobsPerDay(ctx context.Context, since time.Time) ([]JobDayCount, error) {
	from := since.UTC().Truncate(24 * time.Hour).UnixNano()
	return queryAll(ctx, s.core, func(r scanner) (JobDayCount, error) {
		var c JobDayCount
		var day int64
		var signing int64
		err := r.Scan(&day, &c.Status, &c.Jobs, &signing)
		c.Day, c.Signing = time.Unix(0, day*nanosPerDay).UTC(), time.Duration(signing)
		return c, err
	}, fmt.Sprintf(`SELECT created_at / %d AS day, status, COUNT(*),
		CAST(COALESCE(SUM(CASE WHEN completed_at > created_at THEN completed_at - created_at ELSE 0 END), 0) AS BIGINT)
		FROM signing_jobs WHERE created_at >= ? GROUP BY created_at / %[1]d, status ORDER BY 1, 2`, nanosPerDay), from)
}

// JobsInProgress counts the signing jobs not finished yet.
func (s *Signing) JobsInProgress(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM signing_jobs WHERE status = 'InProgress'`).Scan(&n)
	return n, err
}

// FunctionsSummary counts the functions by their code signing.
type FunctionsSummary struct {
	Total    int
	Enforce  int // with a code signing config whose policy is Enforce
	Warn     int // with one whose policy is Warn
	NoConfig int // with no code signing config
	Unsigned int // whose deployed code ($LATEST) carries no signature
}

// FunctionsSummary counts the functions by their code signing.
func (s *Lambda) FunctionsSummary(ctx context.Context) (FunctionsSummary, error) {
	var f FunctionsSummary
	err := s.queryRow(ctx, `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN c.policy = 'Enforce' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN c.policy = 'Warn' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN c.id IS NULL THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN f.signing_profile_version_arn = '' THEN 1 ELSE 0 END), 0)
		FROM functions f
		LEFT JOIN function_code_signing_configs fc ON fc.function_name = f.name
		LEFT JOIN code_signing_configs c ON c.id = fc.csc_id`).Scan(&f.Total, &f.Enforce, &f.Warn, &f.NoConfig, &f.Unsigned)
	return f, err
}
