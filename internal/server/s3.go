package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/backup"
	"github.com/signet/signet/internal/objects"
	"github.com/signet/signet/internal/objects/blobstore"
)

// objectsDir holds object data inside the data directory.
const objectsDir = "objects"

// s3Endpoint is the data store the S3 API owns.
type s3Endpoint struct {
	data *blobstore.Store
}

// openObjects opens the object store (data under DATA_DIR/objects,
// metadata in the database) and the S3 API on it.
func (s *Server) openObjects(ctx context.Context) error {
	var data *blobstore.Store
	var err error
	if s.cfg.ObjectStoreURL != "" {
		data, err = blobstore.Open(ctx, s.cfg.ObjectStoreURL)
	} else {
		data, err = blobstore.OpenDir(filepath.Join(s.cfg.DataDir, objectsDir))
	}
	if err != nil {
		return fmt.Errorf("failed to open the object store: %w", err)
	}
	// While a backup runs (it holds the backup lease), deleted object data
	// is kept until it ends (releaseHeldDeletes).
	data.HoldDeletes = s.backupRunning
	s.Objects = &objects.Service{Meta: s.db.Objects, Data: data, Log: s.log}
	s.s3 = s3Endpoint{data: data}
	return nil
}

// closeObjects releases the object data store.
func (s *Server) closeObjects() error {
	if s.s3.data == nil {
		return nil
	}
	return s.s3.data.Close()
}

// serveStreaming serves a request to a streaming service (S3). Unlike
// the other APIs its body is never read here: SigV4 is verified against
// the payload hash the client declared, and the body is handed on
// wrapped so that the handler, streaming it to storage, verifies it (hex
// SHA-256, aws-chunked signatures and checksums) and gets the decoded
// bytes.
func (s *Server) serveStreaming(w http.ResponseWriter, r *http.Request, h *awsapi.Endpoint, region string) {
	res, check, err := s.verifier.VerifyStreaming(r)
	if err != nil {
		h.WriteFailure(w, r, err)
		return
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{check.Reader(r.Body), r.Body}
	if check.Chunked() {
		r.ContentLength = check.DecodedLength
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	caller := awsapi.Caller{PrincipalARN: res.Credential.PrincipalARN, PrincipalID: res.Credential.PrincipalID, SourceIdentity: res.Credential.SourceIdentity,
		AccessKeyID: res.Credential.AccessKeyID, SourceIP: host, Region: region, Secure: r.TLS != nil}
	s.audited(w, r.WithContext(awsapi.WithCaller(r.Context(), caller)), caller, h.ServeHTTP)
}

// backupRunning reports whether a backup holds the backup lease, read
// at most once a second.
func (s *Server) backupRunning(ctx context.Context) bool {
	s.backupMu.Lock()
	defer s.backupMu.Unlock()
	if now := time.Now(); now.Sub(s.backupRead) >= time.Second {
		held, err := s.db.LeaseHeld(ctx, backup.DeleteHoldLease, s.now())
		s.backupHeld = held || err != nil // in doubt, keep the data: the sweep removes it later
		s.backupRead = now
	}
	return s.backupHeld
}

// releaseHeldDeletes deletes the object data kept during a backup once it
// has ended, until ctx ends.
func (s *Server) releaseHeldDeletes(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.s3.data.ReleaseHeld(ctx); err != nil {
				s.log.WarnContext(ctx, "failed to delete object data kept during a backup (the object sweep removes it later)", "err", err)
			} else if n > 0 {
				s.log.InfoContext(ctx, "deleted object data kept during a backup", "paths", n)
			}
		}
	}
}
