package server

import "testing"

// TestReadOnlyKMS: which KMS calls answer before their audit record is
// durable. Whatever releases a plaintext or a signature waits; what only
// encrypts, verifies with the public key or reads does not.
func TestReadOnlyKMS(t *testing.T) {
	cases := []struct {
		action string
		want   bool
	}{
		{"kms:Sign", false},
		{"kms:Decrypt", false},
		{"kms:GenerateDataKey", false},
		{"kms:ReEncryptFrom", false},
		{"kms:CreateKey", false},
		{"kms:ScheduleKeyDeletion", false},
		{"kms:Verify", true},
		{"kms:GetPublicKey", true},
		{"kms:Encrypt", true},
		{"kms:DescribeKey", true},
	}
	for _, c := range cases {
		if got := readOnly(c.action); got != c.want {
			t.Errorf("readOnly(%s) = %v, want %v", c.action, got, c.want)
		}
	}
}
