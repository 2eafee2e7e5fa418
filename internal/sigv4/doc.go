// Package sigv4 verifies AWS Signature Version 4 on incoming requests, the
// way AWS services do, so that the AWS CLI (v1 and v2) and aws-sdk-go-v2 can
// talk to Signet with nothing but --endpoint-url and ordinary credentials.
//
// The verifier rebuilds the canonical request from exactly what the client
// says it signed (the SignedHeaders list, the path as sent on the wire, the
// raw query string) and recomputes the signature with the secret key from a
// [CredentialStore]. Both the Authorization header form and presigned URLs
// (X-Amz-Signature in the query string) are accepted. Payloads sent with a
// STREAMING-* X-Amz-Content-Sha256 (aws-chunked bodies) are authenticated by
// their seed signature and then refused with a NotImplemented [Error]: their
// chunk signatures are not verified yet.
//
// Every authentication failure is an [*Error] carrying the error code, HTTP
// status and message AWS JSON and REST-JSON services send, so a handler can
// write it back unchanged. Any other error (for example the credential store
// being unavailable) is returned wrapped and should become a 500.
//
// # Usage
//
//	v := &sigv4.Verifier{Credentials: store}
//
//	func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
//		service, _, ok := sigv4.Scope(r) // cheap: route before reading the body
//		if !ok || service != "signer" {
//			// not for us, or not signed at all: Verify reports why
//		}
//		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
//		if err != nil { ... }
//		r.Body = io.NopCloser(bytes.NewReader(body))
//		res, err := v.Verify(r, body)
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
