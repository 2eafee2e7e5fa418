package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"

	"github.com/signet/signet/internal/awsapi"
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
