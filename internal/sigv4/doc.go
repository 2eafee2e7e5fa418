// Package sigv4 verifies AWS Signature Version 4 on incoming requests, the
// way AWS services do, so that the AWS CLI (v1 and v2) and aws-sdk-go-v2 can
// talk to Signet with nothing but --endpoint-url and ordinary credentials.
//
// The verifier rebuilds the canonical request from exactly what the client
// says it signed (the SignedHeaders list, the path as sent on the wire, the
// raw query string) and recomputes the signature with the secret key from a
// [CredentialStore]. Both the Authorization header form and presigned URLs
// (X-Amz-Signature in the query string) are accepted. [Verifier.Verify]
// takes the whole body and refuses STREAMING-* payloads (aws-chunked
// bodies) with a NotImplemented [Error] once their seed signature is
// checked.
//
// # S3 and streamed bodies
//
// [Verifier.VerifyStreaming] authenticates an S3 request without reading its
// body: the signature covers the payload hash the client declared in
// X-Amz-Content-Sha256, and the returned [PayloadCheck] wraps the body
// ([PayloadCheck.Reader]) so that it is verified while it streams to
// storage: a hex SHA-256 is compared at EOF (XAmzContentSHA256Mismatch),
// x-amz-checksum-* headers likewise (BadDigest), and aws-chunked bodies
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] and
// STREAMING-UNSIGNED-PAYLOAD-TRAILER) are decoded by [NewChunkedReader],
// which checks every chunk signature, the trailer signature, checksum
// trailers and X-Amz-Decoded-Content-Length. A failed check is an [*Error]
// returned by Read instead of io.EOF, so the consumer discards what it
// wrote.
//
// Every authentication failure is an [*Error] carrying the error code, HTTP
// status and message AWS JSON and REST-JSON services send, so a handler can
// write it back unchanged. Any other error (for example the credential store
// being unavailable) is returned wrapped and should become a 500.
//
// # Usage
//
// A server checks what it can before it reads a body: [Verifier.Authenticate]
// parses the signature information and checks the time, scope date,
// access key and session token, so that a request that gets any of them
// wrong is refused unread; [Pending.Verify] then checks the signature over
// the body, read under the operation's own limit.
//
//	v := &sigv4.Verifier{Credentials: store}
//
//	func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
//		service, _, ok := sigv4.Scope(r) // cheap: route before reading the body
//		if !ok || service != "signer" {
//			// not for us, or not signed at all: Authenticate reports why
//		}
//		p, err := v.Authenticate(r)
//		if err != nil { ... } // as below
//		if r.ContentLength > maxBody { ... } // too large: refuse unread
//		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
//		if err != nil { ... }
//		r.Body = io.NopCloser(bytes.NewReader(body))
//		res, err := p.Verify(body)
//		var aerr *sigv4.Error
//		switch {
//		case errors.As(err, &aerr):
//			writeJSONError(w, aerr.Status, aerr.Code, aerr.Message)
//			return
//		case err != nil:
//			writeJSONError(w, http.StatusInternalServerError, "InternalFailure", "")
//			return
//		}
//		// res.Credential.PrincipalARN is the caller; res.Region the region it signed for.
//	}
package sigv4
