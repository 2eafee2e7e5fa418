package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/signet/signet/internal/audit"
)

// The audit index (audit_index) has a row per audit record, written in
// the transaction that appends the record, with the fields searches and
// daily counts filter on. It only finds records: what a search returns
// is read from audit_events and checked against the filter again, so an
// edited index row can hide a record but never make one match that does
// not.

const insertAuditIndex = `INSERT INTO audit_index (seq, ts, principal, action, resource, decision, category, break_glass) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

func auditIndexArgs(seq int64, e audit.Event) []any {
	bg := 0
	if e.BreakGlass {
		bg = 1
	}
	return []any{seq, unixNano(e.Time), e.Principal, e.Action, e.Resource, e.Decision, audit.Category(e), bg}
}

// IndexAudit indexes the audit records above the highest one indexed
// (those written before the index existed), 1000 per transaction, and
// returns how many it indexed. Running it again, or alongside appends,
// is harmless.
func (s *Audit) IndexAudit(ctx context.Context) (int, error) {
	total := 0
	for {
		var after int64
		if err := s.queryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_index`).Scan(&after); err != nil {
			return total, err
		}
		recs, err := s.AuditRecords(ctx, after, 1000)
		if err != nil || len(recs) == 0 {
			return total, err
		}
		err = s.tx(ctx, func(tx *sql.Tx) error {
			st, err := tx.PrepareContext(ctx, s.d.rebind(insertAuditIndex+` ON CONFLICT (seq) DO NOTHING`))
			if err != nil {
				return err
			}
			defer st.Close()
			for _, r := range recs {
				if _, err := st.ExecContext(ctx, auditIndexArgs(r.Seq, r.Event)...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(recs)
	}
}

// AuditFilter selects audit records. Each field set must match exactly;
// Action ending in "*" matches the actions that start with what comes
// before it ("signer:*").
type AuditFilter struct {
	Principal, Action, Resource, Decision string
	Category                              string    // audit.Category
	BreakGlass                            bool      // only break-glass calls
	From, To                              time.Time // From ≤ time < To, when set
	Before                                int64     // only records with a lower seq; 0 for the newest
	Limit                                 int       // at most this many; 100 when 0
}

// Match reports whether e matches f (Before and Limit aside).
func (f AuditFilter) Match(e audit.Event) bool {
	if prefix, ok := strings.CutSuffix(f.Action, "*"); ok {
		if !strings.HasPrefix(e.Action, prefix) {
			return false
		}
	} else if f.Action != "" && e.Action != f.Action {
		return false
	}
	return (f.Principal == "" || e.Principal == f.Principal) &&
		(f.Resource == "" || e.Resource == f.Resource) &&
		(f.Decision == "" || e.Decision == f.Decision) &&
		(f.Category == "" || audit.Category(e) == f.Category) &&
		(!f.BreakGlass || e.BreakGlass) &&
		(f.From.IsZero() || !e.Time.Before(f.From)) &&
		(f.To.IsZero() || e.Time.Before(f.To))
}

// maxRune ends the upper bound of a prefix search: no valid UTF-8 text
// sorts, byte by byte, between prefix+maxRune and what starts with prefix.
const maxRune = "\U0010FFFF"

// SearchAudit returns the audit records that match f, newest first.
func (s *Audit) SearchAudit(ctx context.Context, f AuditFilter) ([]audit.Record, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	for _, c := range []struct{ col, v string }{{"i.principal", f.Principal}, {"i.resource", f.Resource}, {"i.decision", f.Decision}, {"i.category", f.Category}} {
		if c.v != "" {
			add(c.col+" = ?", c.v)
		}
	}
	if prefix, ok := strings.CutSuffix(f.Action, "*"); ok {
		if prefix != "" {
			add("i.action >= ? AND i.action < ?", prefix, prefix+maxRune)
		}
	} else if f.Action != "" {
		add("i.action = ?", f.Action)
	}
	if f.BreakGlass {
		add("i.break_glass = 1")
	}
	if !f.From.IsZero() {
		add("i.ts >= ?", unixNano(f.From))
	}
	if !f.To.IsZero() {
		add("i.ts < ?", unixNano(f.To))
	}
	before := f.Before
	var out []audit.Record
	// The index narrows, the decoded event decides: they disagree only
	// where the index was edited. Such rows are walked past, but not
	// without end.
	examined, maxExamined := 0, 50*limit+1000
	for len(out) < limit && examined < maxExamined {
		w, a := where, args
		if before > 0 {
			w, a = append(slices.Clip(w), "i.seq < ?"), append(slices.Clip(a), before)
		}
		q := `SELECT e.seq, e.event, e.prev_hash, e.hash FROM audit_index i JOIN audit_events e ON e.seq = i.seq`
		if len(w) > 0 {
			q += ` WHERE ` + strings.Join(w, " AND ")
		}
		want := limit - len(out)
		recs, err := queryAll(ctx, s.core, scanAuditRecord, q+` ORDER BY i.seq DESC LIMIT ?`, append(a, want)...)
		if err != nil {
			return nil, err
		}
		examined += len(recs)
		for _, r := range recs {
			if f.Match(r.Event) {
				out = append(out, r)
			}
		}
		if len(recs) < want {
			break
		}
		before = recs[len(recs)-1].Seq
	}
	return out, nil
}

// AuditDayCount counts the audit events of one UTC day, category and
// decision.
type AuditDayCount struct {
	Day        time.Time // midnight UTC
	Category   string    // audit.Category; "" for break-glass calls in no category
	Decision   string
	Events     int
	BreakGlass int // of Events, the break-glass calls
}

const nanosPerDay = int64(24 * time.Hour)

// CountAuditByDay counts, for each UTC day from the one since falls in,
// the events in a category (audit.Categories) and the break-glass calls
// in none, by decision, oldest first.
func (s *Audit) CountAuditByDay(ctx context.Context, since time.Time) ([]AuditDayCount, error) {
	from := since.UTC().Truncate(24 * time.Hour).UnixNano()
	scan := func(r scanner) (AuditDayCount, error) {
		var c AuditDayCount
		var day int64
		err := r.Scan(&day, &c.Category, &c.Decision, &c.Events, &c.BreakGlass)
		c.Day = time.Unix(0, day*nanosPerDay).UTC()
		return c, err
	}
	marks := strings.Repeat("?, ", len(audit.Categories)-1) + "?"
	args := []any{}
	for _, c := range audit.Categories {
		args = append(args, c)
	}
	in, err := queryAll(ctx, s.core, scan, fmt.Sprintf(`SELECT ts / %d AS day, category, decision, COUNT(*), COALESCE(SUM(break_glass), 0) FROM audit_index
		WHERE category IN (%s) AND ts >= ? GROUP BY ts / %[1]d, category, decision`, nanosPerDay, marks), append(args, from)...)
	if err != nil {
		return nil, err
	}
	bg, err := queryAll(ctx, s.core, scan, fmt.Sprintf(`SELECT ts / %d AS day, category, decision, COUNT(*), COUNT(*) FROM audit_index
		WHERE break_glass = 1 AND ts >= ? AND category = '' GROUP BY ts / %[1]d, category, decision`, nanosPerDay), from)
	if err != nil {
		return nil, err
	}
	out := append(in, bg...)
	slices.SortFunc(out, func(a, b AuditDayCount) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		if c := strings.Compare(a.Category, b.Category); c != 0 {
			return c
		}
		return strings.Compare(a.Decision, b.Decision)
	})
	return out, nil
}

// AuditSize is the size of the audit log.
type AuditSize struct {
	Records int64 // records stored
	LastSeq int64 // the highest seq; 0 when there is none
	Indexed int64 // records in the audit index
}

// AuditSize returns the size of the audit log.
func (s *Audit) AuditSize(ctx context.Context) (AuditSize, error) {
	var z AuditSize
	err := s.queryRow(ctx, `SELECT (SELECT COUNT(*) FROM audit_events), (SELECT COALESCE(MAX(seq), 0) FROM audit_events), (SELECT COUNT(*) FROM audit_index)`).
		Scan(&z.Records, &z.LastSeq, &z.Indexed)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return z, err
}

// CheckAuditIndex compares the index rows of the records above after
// with what the records say, and returns the records whose row is
// missing or differs (at most max of them), and index rows that name no
// record (a row past the last record would also make the next append
// fail). An edited index cannot forge a search's results, but it can
// hide records from searches and daily counts: the verification of the
// log reports it.
func (s *Audit) CheckAuditIndex(ctx context.Context, after int64, max int) ([]int64, error) {
	var bad []int64
	for len(bad) < max {
		type row struct {
			seq     int64
			ev      string
			indexed bool
			args    []any
		}
		rows, err := queryAll(ctx, s.core, func(r scanner) (row, error) {
			var x row
			var iseq sql.NullInt64
			var ts, bg sql.NullInt64
			var principal, action, resource, decision, category sql.NullString
			if err := r.Scan(&x.seq, &x.ev, &iseq, &ts, &principal, &action, &resource, &decision, &category, &bg); err != nil {
				return x, err
			}
			x.indexed = iseq.Valid
			x.args = []any{iseq.Int64, ts.Int64, principal.String, action.String, resource.String, decision.String, category.String, int(bg.Int64)}
			return x, nil
		}, `SELECT e.seq, e.event, i.seq, i.ts, i.principal, i.action, i.resource, i.decision, i.category, i.break_glass
			FROM audit_events e LEFT JOIN audit_index i ON i.seq = e.seq WHERE e.seq > ? ORDER BY e.seq LIMIT 1000`, after)
		if err != nil {
			return nil, err
		}
		for _, x := range rows {
			var r audit.Record
			decodeAuditEvent(x.ev, &r)
			if !x.indexed || fmt.Sprint(x.args) != fmt.Sprint(auditIndexArgs(x.seq, r.Event)) {
				bad = append(bad, x.seq)
			}
			after = x.seq
		}
		if len(rows) < 1000 {
			break
		}
	}
	orphans, err := queryAll(ctx, s.core, func(r scanner) (int64, error) {
		var n int64
		return n, r.Scan(&n)
	}, `SELECT seq FROM audit_index WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM audit_events) ORDER BY seq LIMIT ?`, max) // records are never deleted: only rows past the last can name none
	if err != nil {
		return nil, err
	}
	bad = append(bad, orphans...)
	return bad[:min(len(bad), max)], nil
}
