package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/store"
)

// auditInfo is what authorization learned about a request, for its
// audit record.
type auditInfo struct {
	mu         sync.Mutex
	action     string
	resource   string
	decision   string
	breakGlass bool
	// plaintext: an allowed authorization of the request (its own or a
	// second resource's) lets it release a secret in clear.
	plaintext bool
}

type auditInfoKey struct{}

func auditInfoFrom(ctx context.Context) *auditInfo {
	i, _ := ctx.Value(auditInfoKey{}).(*auditInfo)
	if i == nil {
		return &auditInfo{}
	}
	return i
}

func (i *auditInfo) set(action, resource, decision string, breakGlass bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if decision == "Allow" && releasesPlaintext(action) {
		i.plaintext = true
	}
	if i.action == "" || decision != "Allow" {
		i.action, i.resource, i.decision, i.breakGlass = action, resource, decision, breakGlass
	}
}

// readOnly reports whether an action changes nothing, so its audit
// record need not be durable before the response.
func readOnly(action string) bool {
	_, op, _ := strings.Cut(action, ":")
	for _, p := range []string{"Get", "List", "Describe", "Head", "Filter"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	switch action {
	case "lambda:InvokeFunction",
		// KMS operations that change nothing and release no plaintext;
		// Decrypt, GenerateDataKey and ReEncrypt wait for their record,
		// so that no plaintext leaves without a durable audit record,
		// and Sign waits for its, so that no signature leaves without one
		// (Verify uses only the public key).
		"kms:Encrypt", "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateRandom", "kms:Verify":
		return true
	}
	return false
}

// releasesPlaintext reports whether an action lets a response carry a
// secret in clear: such a response waits for its durable audit record
// like a change does, whichever operation asked (GetParameter
// WithDecryption is authorized for kms:Decrypt on its key).
func releasesPlaintext(action string) bool {
	switch action {
	case "kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyPair",
		"secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue":
		return true
	}
	return false
}

// auditWriter holds back the response of an allowed state-changing call
// until its audit record is durable, so that no change is acknowledged
// without its record. Reads and refusals pass straight through.
type auditWriter struct {
	http.ResponseWriter
	info    *auditInfo
	decided bool
	hold    bool
	status  int
	buf     bytes.Buffer
}

func (w *auditWriter) decide() {
	if w.decided {
		return
	}
	w.decided = true
	w.info.mu.Lock()
	// A response that may carry plaintext is held even when another of
	// the request's authorizations was refused (BatchGetSecretValue
	// answers the secrets it may read and refuses the others).
	w.hold = w.info.decision == "Allow" && !readOnly(w.info.action) || w.info.plaintext
	w.info.mu.Unlock()
}

func (w *auditWriter) WriteHeader(code int) {
	w.decide()
	if w.status == 0 {
		w.status = code
	}
	if !w.hold {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *auditWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.hold {
		return w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes through when the response is not held.
func (w *auditWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && !w.hold {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *auditWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// audited serves an authenticated request and appends its audit record:
// principal, action, resource, decision, request id, source address,
// time, outcome.
func (s *Server) audited(w http.ResponseWriter, r *http.Request, caller awsapi.Caller, serve func(http.ResponseWriter, *http.Request)) {
	if s.auditWriter == nil {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		serve(sw, r)
		s.observe(r, sw.status, time.Since(start))
		return
	}
	info := &auditInfo{}
	notes := &awsapi.AuditNotes{}
	r = r.WithContext(awsapi.WithAuditNotes(context.WithValue(r.Context(), auditInfoKey{}, info), notes))
	if viaConsole(r.Context()) {
		awsapi.Note(r.Context(), "via console")
	}
	aw := &auditWriter{ResponseWriter: w, info: info}
	start := time.Now()
	serve(aw, r)
	aw.decide()
	if aw.status == 0 {
		aw.status = http.StatusOK
	}
	info.mu.Lock()
	action, resource, decision, breakGlass := info.action, info.resource, info.decision, info.breakGlass
	info.mu.Unlock()
	if action == "" {
		action, decision = "unknown", "None"
	}
	if decision == "Allow" {
		s.evictAfter(action, resource, aw.status)
	}
	s.observe(r, aw.status, time.Since(start))
	outcome := strconv.Itoa(aw.status)
	if code := w.Header().Get("X-Amzn-ErrorType"); code != "" {
		outcome += " " + code
	}
	// The wait for the record does not end when the client goes away (or
	// its body stops arriving, which cancels the request's context): the
	// record is queued either way, and the response depends on it.
	err := s.auditWriter.Append(context.WithoutCancel(r.Context()), audit.Event{Time: start, Principal: caller.PrincipalARN, AccessKey: caller.AccessKeyID, Action: action,
		Resource: resource, Decision: decision, RequestID: awsapi.RequestID(r.Context()), SourceIP: caller.SourceIP, SourceIdentity: caller.SourceIdentity, Outcome: outcome, BreakGlass: breakGlass,
		Detail: notes.String()}, aw.hold)
	if aw.hold {
		if err != nil {
			s.log.ErrorContext(r.Context(), "a change could not be audited; its response is withheld", "request_id", awsapi.RequestID(r.Context()), "err", err)
			awsapi.WriteError(w, r, &awsapi.Error{Code: "ServiceException", Status: http.StatusInternalServerError,
				Message: "the change was made but its audit record could not be written; check the server log"})
			return
		}
		w.WriteHeader(aw.status)
		w.Write(aw.buf.Bytes())
	}
}

// auditKeySetting names the installation's audit checkpoint key.
const auditKeySetting = "audit_key_id"

// auditDatabaseFile holds the audit log, apart from the main database so
// that the commits of audit records and of the changes they record do not
// wait for each other.
const auditDatabaseFile = "audit.db"

// openAudit opens the audit database and starts the audit writer,
// creating the checkpoint key on first start.
func (s *Server) openAudit(ctx context.Context, ks keys.KeyStore) error {
	var err error
	if s.shared() {
		// PostgreSQL has no single writer to keep audit commits from
		// waiting on: the log lives in the shared database, one chain
		// for every node.
		s.auditDB = s.db
	} else {
		if s.auditDB, err = store.OpenSQLite(ctx, filepath.Join(s.cfg.DataDir, auditDatabaseFile)); err != nil {
			return fmt.Errorf("audit database: %w", err)
		}
		if n, err := s.db.Audit.MoveAuditTo(ctx, s.auditDB); err != nil {
			return fmt.Errorf("moving the audit log to %s: %w", auditDatabaseFile, err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "moved the audit log to its own database", "records", n, "file", auditDatabaseFile)
		}
	}
	// Records written before the audit index existed.
	if n, err := s.auditDB.Audit.IndexAudit(ctx); err != nil {
		return fmt.Errorf("indexing the audit log: %w", err)
	} else if n > 0 {
		s.log.InfoContext(ctx, "indexed the audit log", "records", n)
	}
	id, err := s.db.Setting(ctx, auditKeySetting)
	if errors.Is(err, store.ErrNotFound) || (err == nil && id == "") {
		id, _, err = ks.Create(ctx, keys.KeySpecEC384)
		if err != nil {
			return err
		}
		if _, err := s.db.AddSettings(ctx, []string{auditKeySetting}, map[string]string{auditKeySetting: id}); err != nil {
			return err
		}
		if id, err = s.db.Setting(ctx, auditKeySetting); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	signer, err := ks.Signer(ctx, id)
	if err != nil {
		return fmt.Errorf("audit checkpoint key: %w", err)
	}
	if err := s.recordPublicKey(ctx, id, signer.Public()); err != nil {
		return fmt.Errorf("audit checkpoint key: %w", err)
	}
	s.auditWriter = &audit.Writer{Store: s.auditDB.Audit, Log: s.log, Sign: func(ctx context.Context, digest []byte) (string, []byte, error) {
		sig, err := signer.Sign(rand.Reader, digest, crypto.SHA384)
		return id, sig, err
	}}
	s.auditKey, _ = signer.Public().(*ecdsa.PublicKey)
	// Records written after the last checkpoint of a server that did not
	// stop cleanly are signed now, before anything is appended.
	if err := s.auditWriter.Resume(ctx); err != nil {
		return fmt.Errorf("signing the audit log's unsigned records: %w", err)
	}
	s.auditVerifier = newAuditVerifier(s.auditDB.Audit, id, s.auditKey, s.log, s.now)
	s.auditVerifier.start()
	return nil
}
