// Package signerclient holds client options for Signet's extensions of
// the Signer API (fields of SignPayload that AWS's model, and so the SDK,
// lacks), shared by the signet CLI and the notation-signet plugin.
package signerclient

import (
	"bytes"
	"context"
	"encoding/json"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// BodyFields adds JSON fields to a request body after the SDK
// serialises it and before it is signed: Signet's extensions of
// SignPayload, which AWS's model (and so the SDK) lacks.
func BodyFields(fields map[string]string) func(*signer.Options) {
	return func(o *signer.Options) {
		if len(fields) == 0 {
			return
		}
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Serialize.Add(middleware.SerializeMiddlewareFunc("SignetBodyFields",
				func(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
					req, ok := in.Request.(*smithyhttp.Request)
					if !ok || req.GetStream() == nil {
						return next.HandleSerialize(ctx, in)
					}
					body, err := io.ReadAll(req.GetStream())
					if err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					var doc map[string]any
					if err := json.Unmarshal(body, &doc); err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					for k, v := range fields {
						doc[k] = v
					}
					if body, err = json.Marshal(doc); err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					if in.Request, err = req.SetStream(bytes.NewReader(body)); err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					return next.HandleSerialize(ctx, in)
				}), middleware.After)
		})
	}
}
