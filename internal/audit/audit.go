// Package audit is Signet's tamper-evident audit log: events appended to a
// hash chain, so that editing, deleting or reordering a record is
// detected by Verify, which names the first record that does not fit.
//
// # Chain
//
// Record n stores hash_n = SHA-256(hash_{n-1} || canonical JSON of event
// n), with hash_0 the SHA-256 of "signet-audit-v1". A record edited in
// place no longer matches its hash; a deleted or reordered record breaks
// the link from the next one.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
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

// Hash is a record's hash given its predecessor's.
func Hash(prev string, e Event) (string, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	return hashHex(append([]byte(prev), b...)), nil
}

// Log appends and verifies events.
type Log struct {
	Store Store
}

// Append adds an event to the chain.
func (l *Log) Append(ctx context.Context, e Event) error {
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	return l.Store.AppendAudit(ctx, func(seq int64, prev string) (Record, error) {
		h, err := Hash(prev, e)
		return Record{Seq: seq, Event: e, PrevHash: prev, Hash: h}, err
	})
}

// Problem is a break in the chain.
type Problem struct {
	Seq    int64
	Reason string
}

func (p *Problem) Error() string { return fmt.Sprintf("audit record %d: %s", p.Seq, p.Reason) }

// Verify walks the chain and returns the number of records checked, or a
// *Problem naming the first record that was edited, or that follows a
// deleted or reordered one.
func (l *Log) Verify(ctx context.Context) (int64, error) {
	prev, next, n := Genesis, int64(1), int64(0)
	for {
		recs, err := l.Store.AuditRecords(ctx, next-1, 1000)
		if err != nil {
			return n, err
		}
		if len(recs) == 0 {
			return n, nil
		}
		for _, r := range recs {
			switch {
			case r.Seq != next:
				return n, &Problem{Seq: next, Reason: fmt.Sprintf("missing: the next record is %d (records deleted or reordered)", r.Seq)}
			case r.PrevHash != prev:
				return n, &Problem{Seq: r.Seq, Reason: "does not follow the record before it (a record before it was edited, deleted or reordered)"}
			}
			h, err := Hash(prev, r.Event)
			if err != nil {
				return n, err
			}
			if h != r.Hash {
				return n, &Problem{Seq: r.Seq, Reason: "edited: its contents do not match its hash"}
			}
			prev, next, n = r.Hash, next+1, n+1
		}
	}
}
