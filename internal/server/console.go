package server

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/awsapi/signetapi"
	"github.com/signet/signet/internal/store"
)

// consoleData is what Signet's own API reads for the web console: the
// activity of the last days, searches of the audit log and the state of
// its chain.
type consoleData struct {
	db       *store.DB
	auditDB  *store.DB
	verifier *auditVerifier
}

var (
	_ signetapi.Activity = consoleData{}
	_ signetapi.AuditLog = consoleData{}
)

func (c consoleData) JobsPerDay(ctx context.Context, since time.Time) ([]signetapi.JobCount, error) {
	rows, err := c.db.Signing.JobsPerDay(ctx, since)
	out := make([]signetapi.JobCount, len(rows))
	for i, r := range rows {
		out[i] = signetapi.JobCount{Day: r.Day, Status: r.Status, Jobs: r.Jobs, Signing: r.Signing}
	}
	return out, err
}

func (c consoleData) JobsInProgress(ctx context.Context) (int, error) {
	return c.db.Signing.JobsInProgress(ctx)
}

func (c consoleData) AuditPerDay(ctx context.Context, since time.Time) ([]signetapi.AuditCount, error) {
	rows, err := c.auditDB.Audit.CountAuditByDay(ctx, since)
	out := make([]signetapi.AuditCount, len(rows))
	for i, r := range rows {
		out[i] = signetapi.AuditCount{Day: r.Day, Category: r.Category, Decision: r.Decision, Events: r.Events, BreakGlass: r.BreakGlass}
	}
	return out, err
}

func (c consoleData) Functions(ctx context.Context) (signetapi.FunctionsJSON, error) {
	f, err := c.db.Lambda.FunctionsSummary(ctx)
	return signetapi.FunctionsJSON{Total: f.Total, Enforce: f.Enforce, Warn: f.Warn, NoConfig: f.NoConfig, Unsigned: f.Unsigned}, err
}

func (c consoleData) SearchAudit(ctx context.Context, q signetapi.AuditQuery) ([]audit.Record, error) {
	return c.auditDB.Audit.SearchAudit(ctx, store.AuditFilter{Principal: q.Principal, Action: q.Action, Resource: q.Resource, Decision: q.Decision,
		Category: q.Category, BreakGlass: q.BreakGlass, From: q.From, To: q.To, Before: q.Before, Limit: q.Limit})
}

func (c consoleData) AuditStatus(ctx context.Context) (signetapi.AuditStatusJSON, error) {
	size, err := c.auditDB.Audit.AuditSize(ctx)
	if err != nil {
		return signetapi.AuditStatusJSON{}, err
	}
	st := signetapi.AuditStatusJSON{Problems: []string{}}
	if c.verifier != nil {
		st = c.verifier.status()
	}
	st.Records, st.LastSeq, st.Indexed = size.Records, size.LastSeq, size.Indexed
	return st, nil
}

// auditVerifier verifies the audit log in the background and keeps what
// it found, so that the status of the log is answered at once, however
// long the log. Each verification walks the chain from where the last
// one stopped (the records appended since), and checks every signed
// checkpoint; a walk from the start, which finds a later edit of a record
// already walked, runs when the last is older than fullEvery.
type auditVerifier struct {
	log       *audit.Log
	store     *store.Audit
	keyID     string
	key       *ecdsa.PublicKey
	logger    *slog.Logger
	now       func() time.Time
	maxAge    time.Duration // a status older than this starts a verification
	fullEvery time.Duration

	ctx    context.Context // ends at close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	walk sync.Mutex // held by a verification: one at a time

	mu        sync.Mutex
	running   bool // a background verification is started
	verified  audit.Verified
	chain     []*audit.Problem // in the records walked so far
	cps       []*audit.Problem
	cpsOK     int
	lastCp    *audit.Checkpoint
	checkedAt time.Time
	lastFull  time.Time
}

func newAuditVerifier(s *store.Audit, keyID string, key *ecdsa.PublicKey, logger *slog.Logger, now func() time.Time) *auditVerifier {
	ctx, cancel := context.WithCancel(context.Background())
	return &auditVerifier{log: &audit.Log{Store: s}, store: s, keyID: keyID, key: key, logger: logger, now: now,
		maxAge: time.Minute, fullEvery: time.Hour, ctx: ctx, cancel: cancel}
}

// start begins a verification in the background unless one is running.
func (v *auditVerifier) start() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.startLocked()
}

func (v *auditVerifier) startLocked() {
	if v.running || v.ctx.Err() != nil {
		return
	}
	v.running = true
	full := v.lastFull.IsZero() || v.now().Sub(v.lastFull) >= v.fullEvery
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		err := v.verify(v.ctx, full)
		v.mu.Lock()
		v.running = false
		v.mu.Unlock()
		if err != nil && v.ctx.Err() == nil {
			v.logger.Error("failed to verify the audit log", "err", err)
		}
	}()
}

// close stops a verification under way and waits for it.
func (v *auditVerifier) close() {
	v.cancel()
	v.wg.Wait()
}

// verify walks the chain (from the start when full, else from where the
// last walk stopped) and checks the checkpoints, then keeps the result.
func (v *auditVerifier) verify(ctx context.Context, full bool) error {
	v.walk.Lock()
	defer v.walk.Unlock()
	v.mu.Lock()
	from := v.verified
	v.mu.Unlock()
	if full {
		from = audit.Verified{}
	}
	at, err := v.log.VerifyFrom(ctx, from)
	chain := audit.Problems(err)
	if err != nil && chain == nil {
		return err
	}
	// The index that searches and the daily counts read must say what
	// the records say.
	unindexed, err := v.store.CheckAuditIndex(ctx, from.Seq, 20)
	if err != nil {
		return err
	}
	for _, seq := range unindexed {
		chain = append(chain, &audit.Problem{Seq: seq, Reason: "its audit_index row is missing or does not match it, so searches and daily counts may miss it"})
	}
	ok, err := audit.VerifyCheckpoints(ctx, v.store, func(keyID string, digest, sig []byte) error {
		if keyID != v.keyID || v.key == nil {
			return fmt.Errorf("signed with key %q, not the installation's audit key", keyID)
		}
		if !ecdsa.VerifyASN1(v.key, digest, sig) {
			return errors.New("signature invalid")
		}
		return nil
	})
	cps := audit.Problems(err)
	if err != nil && cps == nil {
		return err
	}
	last, err := v.store.LastCheckpoint(ctx)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if full {
		v.chain, v.lastFull = nil, v.now()
	}
	v.verified, v.chain, v.cps, v.cpsOK, v.lastCp, v.checkedAt = at, append(v.chain, chain...), cps, ok, last, v.now()
	return nil
}

// status returns what the last verification found, and starts one in
// the background when that is older than maxAge.
func (v *auditVerifier) status() signetapi.AuditStatusJSON {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.checkedAt.IsZero() || v.now().Sub(v.checkedAt) >= v.maxAge {
		v.startLocked()
	}
	st := signetapi.AuditStatusJSON{VerifiedThrough: v.verified.Seq, CheckpointsVerified: v.cpsOK, Problems: []string{}}
	for _, p := range append(append([]*audit.Problem{}, v.chain...), v.cps...) {
		st.Problems = append(st.Problems, p.Error())
	}
	if !v.checkedAt.IsZero() {
		at := v.checkedAt.UTC()
		st.CheckedAt = &at
		st.Intact = len(st.Problems) == 0
	}
	if v.lastCp != nil {
		st.LastCheckpoint = &signetapi.CheckpointJSON{Seq: v.lastCp.Seq, Time: v.lastCp.Time.UTC()}
	}
	return st
}
