package server

import (
	"net/http/httptest"
	"testing"
)

// TestAuditHoldsPlaintext: a response that carries a secret in clear
// waits for its durable audit record like a change does, whether the
// operation itself releases it (Decrypt, GetSecretValue) or a second
// authorization does (GetParameter WithDecryption needs kms:Decrypt);
// other reads pass straight through.
func TestAuditHoldsPlaintext(t *testing.T) {
	type authz struct{ action, decision string }
	tests := []struct {
		name string
		seq  []authz
		hold bool
	}{
		{"a change", []authz{{"signer:PutSigningProfile", "Allow"}}, true},
		{"a read", []authz{{"ssm:GetParameter", "Allow"}}, false},
		{"a read with decryption", []authz{{"ssm:GetParameter", "Allow"}, {"kms:Decrypt", "Allow"}}, true},
		{"a read whose decryption was refused", []authz{{"ssm:GetParameter", "Allow"}, {"kms:Decrypt", "Deny"}}, false},
		{"Decrypt", []authz{{"kms:Decrypt", "Allow"}}, true},
		{"GenerateDataKey", []authz{{"kms:GenerateDataKey", "Allow"}}, true},
		{"Encrypt", []authz{{"kms:Encrypt", "Allow"}}, false},
		{"GetSecretValue", []authz{{"secretsmanager:GetSecretValue", "Allow"}, {"kms:Decrypt", "Allow"}}, true},
		{"DescribeSecret", []authz{{"secretsmanager:DescribeSecret", "Allow"}}, false},
		{"BatchGetSecretValue", []authz{{"secretsmanager:BatchGetSecretValue", "Allow"}}, true},
		{"BatchGetSecretValue, one secret refused", []authz{{"secretsmanager:BatchGetSecretValue", "Allow"}, {"kms:Decrypt", "Allow"}, {"secretsmanager:GetSecretValue", "Deny"}}, true},
	}
	for _, tc := range tests {
		info := &auditInfo{}
		for _, a := range tc.seq {
			info.set(a.action, "*", a.decision, false)
		}
		w := &auditWriter{ResponseWriter: httptest.NewRecorder(), info: info}
		w.WriteHeader(200)
		if w.hold != tc.hold {
			t.Errorf("%s: held %v, want %v", tc.name, w.hold, tc.hold)
		}
	}
}
