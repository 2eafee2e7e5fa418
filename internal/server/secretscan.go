package server

import (
	"context"
	"strings"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/secretscan"
	"github.com/signet/signet/internal/signing"
)

// onScanFindings records a signing job's secret-scan findings in the
// audit log: Deny if the profile enforces (the job fails),
// AllowWithWarning if it warns (the job signs). The detail lists
// path:line rule for each finding, never a secret.
func (s *Server) onScanFindings(ctx context.Context, j signing.Job, failed bool, findings []secretscan.Finding) {
	if s.auditWriter == nil {
		return
	}
	decision, outcome := "AllowWithWarning", "SecretScanWarning"
	if failed {
		decision, outcome = "Deny", "SecretScanFailed"
	}
	list := make([]string, len(findings))
	for i, f := range findings {
		list[i] = f.String()
	}
	err := s.auditWriter.Append(context.WithoutCancel(ctx), audit.Event{
		Time: s.now(), Principal: j.RequestedBy, Action: "signer:StartSigningJob", Resource: s.Profiles.Account.JobARN(j.ID),
		Decision: decision, Outcome: outcome,
		Detail: "secret scan of s3://" + j.SourceBucket + "/" + j.SourceKey + ": " + strings.Join(list, ", "),
	}, true)
	if err != nil {
		s.log.ErrorContext(ctx, "failed to write an audit event", "err", err)
	}
}
