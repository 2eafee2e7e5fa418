// Package audit is Signet's tamper-evident audit log: events appended to a
// hash chain, so that editing, deleting or reordering a record is
// detected by Verify, which names every record that does not fit.
//
// # Chain
//
// Record n stores hash_n = SHA-256(hash_{n-1} || JSON of event n), with
// hash_0 the SHA-256 of "signet-audit-v1". The JSON hashed is exactly
// the bytes stored ([Record.JSON]): verification never re-encodes an
// event, so what is checked is what is kept. A record edited in place
// no longer matches its hash; a deleted or reordered record breaks the
// link from the next one.
//
// # Caller text
//
// Events carry text that callers choose (paths, names, keys). Before an
// event is hashed, [Event.Clean] escapes in every text field what could
// not be stored or shown faithfully: invalid UTF-8, control and other
// non-printing characters, and the backslash itself, the way Go quotes
// strings (\xff, \n, \u202e, \\). Stored text is therefore always
// printable, valid UTF-8, and decodes back to the caller's bytes.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Event is one audited action.
type Event struct {
	Time      time.Time `json:"time"`
	Principal string    `json:"principal"`
	Action    string    `json:"action"`
	Resource  string    `json:"resource"`
	Decision  string    `json:"decision"` // e.g. Allow, Deny, AllowWithWarning
	RequestID string    `json:"requestId,omitempty"`
	SourceIP  string    `json:"sourceIp,omitempty"`
	Outcome   string    `json:"outcome,omitempty"` // e.g. an error code
	Detail    string    `json:"detail,omitempty"`
	AccessKey string    `json:"accessKey,omitempty"`
	// SourceIdentity is the role session's source identity, if any.
	SourceIdentity string `json:"sourceIdentity,omitempty"`
	// BreakGlass marks a call made with the account root's credentials
	// (the bootstrap administrator), which policies do not restrict.
	BreakGlass bool `json:"breakGlass,omitempty"`
}

// Record is a stored event with its place in the chain.
type Record struct {
	Seq      int64
	Event    Event
	PrevHash string
	Hash     string
	// JSON is the event as stored, the bytes Hash covers. A Store keeps
	// it byte for byte; when it is nil (records built by hand), the
	// Store stores json.Marshal(Event).
	JSON []byte `json:"-"`
}

// NewRecord builds the record of e following the record with hash prev.
func NewRecord(seq int64, prev string, e Event) (Record, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return Record{}, err
	}
	return Record{Seq: seq, Event: e, PrevHash: prev, Hash: HashJSON(prev, b), JSON: b}, nil
}

// Clean returns e with every text field escaped by [Clean].
func (e Event) Clean() Event {
	for _, f := range []*string{&e.Principal, &e.Action, &e.Resource, &e.Decision, &e.RequestID, &e.SourceIP, &e.Outcome, &e.Detail, &e.AccessKey, &e.SourceIdentity} {
		*f = Clean(*f)
	}
	return e
}

// Clean escapes what in s is not printable valid UTF-8 the way Go
// quotes strings (without the quotes): invalid bytes as \xff, control
// and other non-printing characters as \n, \x1b or \u202e, and the
// backslash as \\, so that the result is unambiguous. Printable text,
// spaces included, is kept as it is.
func Clean(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || r == '\\' || (r != ' ' && !unicode.IsPrint(r)) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r != ' ' && !unicode.IsPrint(r):
			q := strconv.QuoteRuneToASCII(r) // 'x' with x escaped
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Store persists the chain.
type Store interface {
	// AppendAudit stores a record computed by build from the hash of the
	// last record (or the genesis hash), atomically with respect to other
	// appends.
	AppendAudit(ctx context.Context, build func(seq int64, prevHash string) (Record, error)) error
	// AuditRecords returns records with Seq > after, in order, at most limit.
	AuditRecords(ctx context.Context, after int64, limit int) ([]Record, error)
}

// Genesis is the hash the chain starts from.
var Genesis = hashHex([]byte("signet-audit-v1"))

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Hash is the hash of a record holding json.Marshal(e), given its
// predecessor's.
func Hash(prev string, e Event) (string, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	return HashJSON(prev, b), nil
}

// HashJSON is the hash of a record holding the event JSON b, given its
// predecessor's.
func HashJSON(prev string, b []byte) string {
	return hashHex(append([]byte(prev), b...))
}

// storedJSON is the JSON a record's hash covers.
func storedJSON(r Record) ([]byte, error) {
	if r.JSON != nil {
		return r.JSON, nil
	}
	return json.Marshal(r.Event)
}

// Log appends and verifies events.
type Log struct {
	Store Store
}

// Append adds an event to the chain.
func (l *Log) Append(ctx context.Context, e Event) error {
	e = e.Clean()
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	return l.Store.AppendAudit(ctx, func(seq int64, prev string) (Record, error) {
		return NewRecord(seq, prev, e)
	})
}

// Problem is a break in the chain.
type Problem struct {
	Seq    int64
	Reason string
}

func (p *Problem) Error() string { return fmt.Sprintf("audit record %d: %s", p.Seq, p.Reason) }

// DamageError lists every damaged record Verify or VerifyCheckpoints
// found, in order. errors.As finds the first *Problem.
type DamageError struct {
	Problems []*Problem
}

func (d *DamageError) Error() string {
	lines := make([]string, len(d.Problems))
	for i, p := range d.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems.
func (d *DamageError) Unwrap() []error {
	errs := make([]error, len(d.Problems))
	for i, p := range d.Problems {
		errs[i] = p
	}
	return errs
}

// Problems returns the problems of err (a *DamageError or a *Problem),
// or nil.
func Problems(err error) []*Problem {
	var d *DamageError
	if errors.As(err, &d) {
		return d.Problems
	}
	var p *Problem
	if errors.As(err, &p) {
		return []*Problem{p}
	}
	return nil
}

func damage(ps []*Problem) error {
	if len(ps) == 0 {
		return nil
	}
	return &DamageError{Problems: ps}
}

// Verify walks the whole chain and returns the number of intact records
// and, when some are not, a *DamageError naming every record that was
// edited, that is missing, or that does not follow the record before it
// (reordered, or after a deleted one). It goes on after each problem,
// linking each record to the hash its predecessor stores, so one
// damaged record does not hide a later one.
func (l *Log) Verify(ctx context.Context) (int64, error) {
	v, err := l.VerifyFrom(ctx, Verified{})
	return v.Intact, err
}

// Verified is how far a walk of the chain went.
type Verified struct {
	Seq    int64  // the last record walked; 0 before the first
	Hash   string // its stored hash, which the next record must follow
	Intact int64  // records walked that were intact
}

// VerifyFrom walks the chain from the record after from.Seq, as Verify
// does from the start (the zero Verified), and returns how far it went,
// with Intact counting from from.Intact, and the problems it found
// there. Records up to from.Seq are not read again: a later edit of
// one is found by a walk from the start.
func (l *Log) VerifyFrom(ctx context.Context, from Verified) (Verified, error) {
	var problems []*Problem
	prev, next, n := from.Hash, from.Seq+1, from.Intact
	if from.Seq == 0 {
		prev = Genesis
	}
	at := func() Verified { return Verified{Seq: next - 1, Hash: prev, Intact: n} }
	for {
		recs, err := l.Store.AuditRecords(ctx, next-1, 1000)
		if err != nil {
			return at(), err
		}
		if len(recs) == 0 {
			return at(), damage(problems)
		}
		bySeqHash := make(map[string]int64, len(recs)) // this page's stored hashes
		for _, r := range recs {
			bySeqHash[r.Hash] = r.Seq
		}
		for _, r := range recs {
			intact := true
			if r.Seq != next {
				reason := "missing: deleted from the log"
				if r.Seq != next+1 {
					reason = fmt.Sprintf("missing: records %d to %d were deleted from the log", next, r.Seq-1)
				}
				problems = append(problems, &Problem{Seq: next, Reason: reason})
				intact = false
			} else if r.PrevHash != prev {
				reason := "does not follow the record before it (reordered, or a record before it was deleted or rewritten)"
				if seq, ok := bySeqHash[r.PrevHash]; ok {
					reason = fmt.Sprintf("does not follow the record before it: it follows record %d (reordered)", seq)
				}
				problems = append(problems, &Problem{Seq: r.Seq, Reason: reason})
				intact = false
			}
			b, err := storedJSON(r)
			if err != nil {
				return at(), err
			}
			if HashJSON(r.PrevHash, b) != r.Hash {
				problems = append(problems, &Problem{Seq: r.Seq, Reason: "edited: its contents do not match its hash"})
				intact = false
			}
			if intact {
				n++
			}
			prev, next = r.Hash, r.Seq+1
		}
	}
}
