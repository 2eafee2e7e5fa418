package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/signet/signet/internal/objects"
)

var _ objects.MetaStore = (*Objects)(nil)

// versionColumns are the columns of a version without its segments.
const versionColumns = `seq, bucket, object_key, version_id, is_latest, delete_marker, size, etag, content_type, created_at`

type segmentJSON struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// scanVersion scans versionColumns, plus segments when withSegments.
func scanVersion(row scanner, withSegments bool) (objects.Version, error) {
	var v objects.Version
	var latest, marker int
	var created int64
	dest := []any{&v.Seq, &v.Bucket, &v.Key, &v.VersionID, &latest, &marker, &v.Size, &v.ETag, &v.ContentType, &created}
	var segs string
	if withSegments {
		dest = append(dest, &segs)
	}
	if err := row.Scan(dest...); err != nil {
		return v, err
	}
	v.IsLatest, v.DeleteMarker, v.LastModified = latest != 0, marker != 0, fromUnixNano(created)
	if withSegments && segs != "" {
		var js []segmentJSON
		if err := json.Unmarshal([]byte(segs), &js); err != nil {
			return v, fmt.Errorf("failed to decode the segments of %s/%s version %s: %w", v.Bucket, v.Key, v.VersionID, err)
		}
		for _, s := range js {
			v.Segments = append(v.Segments, objects.Segment{Path: s.Path, Size: s.Size})
		}
	}
	return v, nil
}

func queryVersions(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, withSegments bool, query string, args ...any) ([]objects.Version, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []objects.Version
	for rows.Next() {
		v, err := scanVersion(rows, withSegments)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// CreateBucket implements objects.MetaStore.
func (s *Objects) CreateBucket(ctx context.Context, b objects.Bucket) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return s.insert(ctx, tx, fmt.Errorf("bucket %s: %w", b.Name, objects.ErrBucketExists), `INSERT INTO buckets (name, versioning, created_at) VALUES (?, ?, ?)`,
			b.Name, b.Versioning, unixNano(b.CreatedAt))
	})
}

// Bucket implements objects.MetaStore.
func (s *Objects) Bucket(ctx context.Context, name string) (objects.Bucket, error) {
	b := objects.Bucket{Name: name}
	var created int64
	err := s.queryRow(ctx, `SELECT versioning, created_at FROM buckets WHERE name = ?`, name).Scan(&b.Versioning, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("bucket %s: %w", name, objects.ErrNoSuchBucket)
	}
	if err != nil {
		return b, fmt.Errorf("failed to read bucket %s: %w", name, err)
	}
	b.CreatedAt = fromUnixNano(created)
	return b, nil
}

// ListBuckets implements objects.MetaStore.
func (s *Objects) ListBuckets(ctx context.Context) ([]objects.Bucket, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT name, versioning, created_at FROM buckets ORDER BY name`))
	if err != nil {
		return nil, fmt.Errorf("failed to list buckets: %w", err)
	}
	defer rows.Close()
	var out []objects.Bucket
	for rows.Next() {
		var b objects.Bucket
		var created int64
		if err := rows.Scan(&b.Name, &b.Versioning, &created); err != nil {
			return nil, err
		}
		b.CreatedAt = fromUnixNano(created)
		out = append(out, b)
	}
	return out, rows.Err()
}

// SetBucketVersioning implements objects.MetaStore.
func (s *Objects) SetBucketVersioning(ctx context.Context, name, status string) error {
	res, err := s.exec(ctx, `UPDATE buckets SET versioning = ? WHERE name = ?`, status, name)
	if err != nil {
		return fmt.Errorf("failed to set versioning of bucket %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("bucket %s: %w", name, objects.ErrNoSuchBucket)
	}
	return nil
}

// DeleteBucket implements objects.MetaStore.
func (s *Objects) DeleteBucket(ctx context.Context, name string) ([]string, error) {
	var orphans []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		orphans = nil // a retried transaction starts again
		orphans = nil
		if err := bucketExists(ctx, s.core, tx, name); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM object_versions WHERE bucket = ?`), name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("bucket %s: %w", name, objects.ErrBucketNotEmpty)
		}
		var err error
		orphans, err = queryStrings(ctx, tx, s.d.rebind(`SELECT p.data_path FROM multipart_parts p JOIN multipart_uploads u ON u.upload_id = p.upload_id WHERE u.bucket = ?`), name)
		if err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM multipart_parts WHERE upload_id IN (SELECT upload_id FROM multipart_uploads WHERE bucket = ?)`,
			`DELETE FROM multipart_uploads WHERE bucket = ?`,
			`DELETE FROM buckets WHERE name = ?`,
		} {
			if _, err := tx.ExecContext(ctx, s.d.rebind(q), name); err != nil {
				return err
			}
		}
		return nil
	})
	return orphans, err
}

func bucketExists(ctx context.Context, s *core, tx *sql.Tx, name string) error {
	var n int
	if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM buckets WHERE name = ?`), name).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("bucket %s: %w", name, objects.ErrNoSuchBucket)
	}
	return nil
}

func queryStrings(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// insertVersion stores v as the latest version of its key within tx,
// first removing the key's "null" version when v is "null" too. It
// returns v with its Seq and the versions it removed.
func (s *Objects) insertVersion(ctx context.Context, tx *sql.Tx, v objects.Version) (objects.Version, []objects.Version, error) {
	var replaced []objects.Version
	if v.VersionID == objects.NullVersion {
		old, err := queryVersions(ctx, tx, true, s.d.rebind(`SELECT `+versionColumns+`, segments FROM object_versions WHERE bucket = ? AND object_key = ? AND version_id = ?`),
			v.Bucket, v.Key, objects.NullVersion)
		if err != nil {
			return v, nil, err
		}
		for _, o := range old {
			if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM object_versions WHERE seq = ?`), o.Seq); err != nil {
				return v, nil, err
			}
		}
		replaced = old
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE object_versions SET is_latest = 0 WHERE bucket = ? AND object_key = ? AND is_latest = 1`), v.Bucket, v.Key); err != nil {
		return v, nil, err
	}
	segs := make([]segmentJSON, 0, len(v.Segments))
	for _, sg := range v.Segments {
		segs = append(segs, segmentJSON{Path: sg.Path, Size: sg.Size})
	}
	js, err := json.Marshal(segs)
	if err != nil {
		return v, nil, err
	}
	err = tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO object_versions (bucket, object_key, version_id, is_latest, delete_marker, size, etag, content_type, segments, created_at)
		VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?) RETURNING seq`),
		v.Bucket, v.Key, v.VersionID, boolInt(v.DeleteMarker), v.Size, v.ETag, v.ContentType, string(js), unixNano(v.LastModified)).Scan(&v.Seq)
	if err != nil {
		return v, nil, fmt.Errorf("failed to insert version %s of %s/%s: %w", v.VersionID, v.Bucket, v.Key, err)
	}
	v.IsLatest = true
	return v, replaced, nil
}

// PutVersion implements objects.MetaStore.
func (s *Objects) PutVersion(ctx context.Context, bucket, key string, fn func(versioning string) (objects.Version, error)) (objects.Version, []objects.Version, error) {
	var put objects.Version
	var replaced []objects.Version
	err := s.tx(ctx, func(tx *sql.Tx) error {
		put, replaced = objects.Version{}, nil // a retried transaction starts again
		var status string
		err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT versioning FROM buckets WHERE name = ?`), bucket).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("bucket %s: %w", bucket, objects.ErrNoSuchBucket)
		}
		if err != nil {
			return err
		}
		v, err := fn(status)
		if err != nil {
			return err
		}
		v.Bucket, v.Key = bucket, key
		put, replaced, err = s.insertVersion(ctx, tx, v)
		return err
	})
	if err != nil {
		return objects.Version{}, nil, err
	}
	return put, replaced, nil
}

// Version implements objects.MetaStore.
func (s *Objects) Version(ctx context.Context, bucket, key, versionID string) (objects.Version, error) {
	q := `SELECT ` + versionColumns + `, segments FROM object_versions WHERE bucket = ? AND object_key = ? AND `
	var row *sql.Row
	if versionID == "" {
		row = s.queryRow(ctx, q+`is_latest = 1`, bucket, key)
	} else {
		row = s.queryRow(ctx, q+`version_id = ?`, bucket, key, versionID)
	}
	v, err := scanVersion(row, true)
	switch {
	case errors.Is(err, sql.ErrNoRows) && versionID == "":
		return v, fmt.Errorf("%s/%s: %w", bucket, key, objects.ErrNoSuchKey)
	case errors.Is(err, sql.ErrNoRows):
		return v, fmt.Errorf("%s/%s version %s: %w", bucket, key, versionID, objects.ErrNoSuchVersion)
	case err != nil:
		return v, fmt.Errorf("failed to read %s/%s: %w", bucket, key, err)
	}
	return v, nil
}

// DeleteVersion implements objects.MetaStore.
func (s *Objects) DeleteVersion(ctx context.Context, bucket, key, versionID string) (objects.Version, error) {
	var deleted objects.Version
	err := s.tx(ctx, func(tx *sql.Tx) error {
		deleted = objects.Version{} // a retried transaction starts again
		vs, err := queryVersions(ctx, tx, true, s.d.rebind(`SELECT `+versionColumns+`, segments FROM object_versions WHERE bucket = ? AND object_key = ? AND version_id = ?`),
			bucket, key, versionID)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return fmt.Errorf("%s/%s version %s: %w", bucket, key, versionID, objects.ErrNoSuchVersion)
		}
		deleted = vs[0]
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM object_versions WHERE seq = ?`), deleted.Seq); err != nil {
			return err
		}
		if deleted.IsLatest {
			_, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE object_versions SET is_latest = 1
				WHERE seq = (SELECT MAX(seq) FROM object_versions WHERE bucket = ? AND object_key = ?)`), bucket, key)
			return err
		}
		return nil
	})
	return deleted, err
}

// DeleteVersions implements objects.MetaStore.
func (s *Objects) DeleteVersions(ctx context.Context, bucket, key string) ([]objects.Version, error) {
	var deleted []objects.Version
	err := s.tx(ctx, func(tx *sql.Tx) error {
		deleted = nil // a retried transaction starts again
		var err error
		deleted, err = queryVersions(ctx, tx, true, s.d.rebind(`SELECT `+versionColumns+`, segments FROM object_versions WHERE bucket = ? AND object_key = ?`), bucket, key)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`DELETE FROM object_versions WHERE bucket = ? AND object_key = ?`), bucket, key)
		return err
	})
	return deleted, err
}

// keyFrom is the condition on object_key of a listing that starts at
// from, inclusive. Callers ask for the keys after k as from k+"\x00";
// PostgreSQL's text holds no NUL (nor, then, any key), so there it is
// "> k".
func (s *Objects) keyFrom(from string) (op, key string) {
	if s.d.name == "postgres" && strings.HasSuffix(from, "\x00") {
		return ">", strings.TrimRight(from, "\x00")
	}
	return ">=", from
}

// ListLatest implements objects.MetaStore.
func (s *Objects) ListLatest(ctx context.Context, bucket, from string, limit int) ([]objects.Version, error) {
	op, from := s.keyFrom(from)
	vs, err := queryVersions(ctx, s.db, false, s.d.rebind(`SELECT `+versionColumns+` FROM object_versions
		WHERE bucket = ? AND is_latest = 1 AND delete_marker = 0 AND object_key `+op+` ? ORDER BY object_key LIMIT ?`), bucket, from, limit)
	if err != nil {
		return nil, fmt.Errorf("failed to list bucket %s: %w", bucket, err)
	}
	return vs, nil
}

// ListVersions implements objects.MetaStore.
func (s *Objects) ListVersions(ctx context.Context, bucket string, from objects.VersionCursor, limit int) ([]objects.Version, error) {
	var out []objects.Version
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		out = nil
		if from.BelowSeq > 0 {
			vs, err := queryVersions(ctx, tx, false, s.d.rebind(`SELECT `+versionColumns+` FROM object_versions
				WHERE bucket = ? AND object_key = ? AND seq < ? ORDER BY seq DESC LIMIT ?`), bucket, from.Key, from.BelowSeq, limit)
			if err != nil {
				return err
			}
			out = vs
			if len(out) == limit {
				return nil
			}
			vs, err = queryVersions(ctx, tx, false, s.d.rebind(`SELECT `+versionColumns+` FROM object_versions
				WHERE bucket = ? AND object_key > ? ORDER BY object_key, seq DESC LIMIT ?`), bucket, from.Key, limit-len(out))
			out = append(out, vs...)
			return err
		}
		op, key := s.keyFrom(from.Key)
		vs, err := queryVersions(ctx, tx, false, s.d.rebind(`SELECT `+versionColumns+` FROM object_versions
			WHERE bucket = ? AND object_key `+op+` ? ORDER BY object_key, seq DESC LIMIT ?`), bucket, key, limit)
		out = vs
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list versions of bucket %s: %w", bucket, err)
	}
	return out, nil
}

// readTx runs fn in a read-only transaction, for reads that must see one
// state across several queries.
func (s *Objects) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("failed to begin transaction: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// CreateUpload implements objects.MetaStore.
func (s *Objects) CreateUpload(ctx context.Context, u objects.Upload) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := bucketExists(ctx, s.core, tx, u.Bucket); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO multipart_uploads (upload_id, bucket, object_key, content_type, created_at) VALUES (?, ?, ?, ?, ?)`),
			u.ID, u.Bucket, u.Key, u.ContentType, unixNano(u.CreatedAt))
		return err
	})
}

func scanUpload(row scanner, id string) (objects.Upload, error) {
	u := objects.Upload{ID: id}
	var created int64
	err := row.Scan(&u.Bucket, &u.Key, &u.ContentType, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("upload %s: %w", id, objects.ErrNoSuchUpload)
	}
	if err != nil {
		return u, fmt.Errorf("failed to read upload %s: %w", id, err)
	}
	u.CreatedAt = fromUnixNano(created)
	return u, nil
}

const uploadQuery = `SELECT bucket, object_key, content_type, created_at FROM multipart_uploads WHERE upload_id = ?`

// Upload implements objects.MetaStore.
func (s *Objects) Upload(ctx context.Context, uploadID string) (objects.Upload, error) {
	return scanUpload(s.queryRow(ctx, uploadQuery, uploadID), uploadID)
}

// PutPart implements objects.MetaStore.
func (s *Objects) PutPart(ctx context.Context, p objects.Part) (string, error) {
	var replaced string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		replaced = "" // a retried transaction starts again
		replaced = ""
		if _, err := scanUpload(tx.QueryRowContext(ctx, s.d.rebind(uploadQuery), p.UploadID), p.UploadID); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT data_path FROM multipart_parts WHERE upload_id = ? AND part_number = ?`), p.UploadID, p.Number).Scan(&replaced)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM multipart_parts WHERE upload_id = ? AND part_number = ?`), p.UploadID, p.Number); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO multipart_parts (upload_id, part_number, size, etag, data_path, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
			p.UploadID, p.Number, p.Size, p.ETag, p.Path, unixNano(p.CreatedAt))
		return err
	})
	return replaced, err
}

func (s *Objects) uploadParts(ctx context.Context, tx *sql.Tx, uploadID string) ([]objects.Part, error) {
	rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT part_number, size, etag, data_path, created_at FROM multipart_parts WHERE upload_id = ? ORDER BY part_number`), uploadID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []objects.Part
	for rows.Next() {
		p := objects.Part{UploadID: uploadID}
		var created int64
		if err := rows.Scan(&p.Number, &p.Size, &p.ETag, &p.Path, &created); err != nil {
			return nil, err
		}
		p.CreatedAt = fromUnixNano(created)
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *Objects) deleteUpload(ctx context.Context, tx *sql.Tx, uploadID string) error {
	if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM multipart_parts WHERE upload_id = ?`), uploadID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM multipart_uploads WHERE upload_id = ?`), uploadID)
	return err
}

// CompleteUpload implements objects.MetaStore.
func (s *Objects) CompleteUpload(ctx context.Context, uploadID string, fn func(u objects.Upload, parts []objects.Part, versioning string) (objects.Version, error)) (objects.Version, []string, error) {
	var put objects.Version
	var orphans []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		put, orphans = objects.Version{}, nil // a retried transaction starts again
		orphans = nil
		u, err := scanUpload(tx.QueryRowContext(ctx, s.d.rebind(uploadQuery), uploadID), uploadID)
		if err != nil {
			return err
		}
		var status string
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT versioning FROM buckets WHERE name = ?`), u.Bucket).Scan(&status); err != nil {
			return fmt.Errorf("failed to read bucket %s: %w", u.Bucket, err)
		}
		parts, err := s.uploadParts(ctx, tx, uploadID)
		if err != nil {
			return err
		}
		v, err := fn(u, parts, status)
		if err != nil {
			return err
		}
		v.Bucket, v.Key = u.Bucket, u.Key
		used := make(map[string]bool, len(v.Segments))
		for _, sg := range v.Segments {
			used[sg.Path] = true
		}
		for _, p := range parts {
			if !used[p.Path] {
				orphans = append(orphans, p.Path)
			}
		}
		var replaced []objects.Version
		if put, replaced, err = s.insertVersion(ctx, tx, v); err != nil {
			return err
		}
		for _, r := range replaced {
			for _, sg := range r.Segments {
				orphans = append(orphans, sg.Path)
			}
		}
		return s.deleteUpload(ctx, tx, uploadID)
	})
	if err != nil {
		return objects.Version{}, nil, err
	}
	return put, orphans, nil
}

// AbortUpload implements objects.MetaStore.
func (s *Objects) AbortUpload(ctx context.Context, uploadID string) ([]string, error) {
	var orphans []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		orphans = nil // a retried transaction starts again
		if _, err := scanUpload(tx.QueryRowContext(ctx, s.d.rebind(uploadQuery), uploadID), uploadID); err != nil {
			return err
		}
		var err error
		orphans, err = queryStrings(ctx, tx, s.d.rebind(`SELECT data_path FROM multipart_parts WHERE upload_id = ?`), uploadID)
		if err != nil {
			return err
		}
		return s.deleteUpload(ctx, tx, uploadID)
	})
	return orphans, err
}
