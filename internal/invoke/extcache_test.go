package invoke

import (
	"testing"
	"time"
)

// TestExtensionSettings: the extension's variables as AWS's extension
// reads them, with its bounds.
func TestExtensionSettings(t *testing.T) {
	def := ExtensionSettings{Enabled: true, Size: 1000, SSMTTL: 300 * time.Second, SMTTL: 300 * time.Second}
	tests := []struct {
		vars    map[string]string
		want    ExtensionSettings
		wantErr bool
	}{
		{nil, def, false},
		{map[string]string{"SECRETS_MANAGER_TTL": "30", "SSM_PARAMETER_STORE_TTL": "0"}, ExtensionSettings{Enabled: true, Size: 1000, SSMTTL: 0, SMTTL: 30 * time.Second}, false},
		{map[string]string{"PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED": "false"}, ExtensionSettings{Enabled: false, Size: 1000, SSMTTL: 300 * time.Second, SMTTL: 300 * time.Second}, false},
		{map[string]string{"PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE": "0"}, ExtensionSettings{Enabled: false, Size: 0, SSMTTL: 300 * time.Second, SMTTL: 300 * time.Second}, false},
		{map[string]string{"SECRETS_MANAGER_TTL": "301"}, ExtensionSettings{}, true},
		{map[string]string{"PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE": "1001"}, ExtensionSettings{}, true},
		{map[string]string{"PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED": "maybe"}, ExtensionSettings{}, true},
	}
	for _, tc := range tests {
		got, err := ParseExtensionSettings(tc.vars)
		if (err != nil) != tc.wantErr || err == nil && got != tc.want {
			t.Errorf("%v: %+v %v, want %+v (error %v)", tc.vars, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestExtensionCache: entries expire with their TTL, a full cache drops
// the entry expiring first, and eviction drops a resource's entries.
func TestExtensionCache(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := newExtensionCache(2, func() time.Time { return now })
	c.put("a", "arn:aws:secretsmanager:s1", []byte("1"), time.Minute, c.generation())
	c.put("b", "arn:aws:ssm:p2", []byte("2"), 2*time.Minute, c.generation())
	if b, ok := c.get("a"); !ok || string(b) != "1" {
		t.Errorf("a fresh entry: %q %v", b, ok)
	}
	c.put("c", "arn:aws:ssm:p3", []byte("3"), 3*time.Minute, c.generation())
	if _, ok := c.get("a"); ok {
		t.Error("a full cache kept the entry expiring first")
	}
	c.evict("ssm:*")
	if _, ok := c.get("b"); ok {
		t.Error("ssm:* left a parameter")
	}
	c.put("d", "arn:aws:secretsmanager:s4", []byte("4"), time.Minute, c.generation())
	c.evict("arn:aws:secretsmanager:s4")
	if _, ok := c.get("d"); ok {
		t.Error("eviction left the resource's entry")
	}
	c.put("e", "arn:aws:secretsmanager:s5", []byte("5"), time.Minute, c.generation())
	now = now.Add(time.Minute)
	// An answer fetched across an eviction is not cached: it may predate
	// the write.
	gen := c.generation()
	c.evict("arn:aws:secretsmanager:other")
	c.put("f", "arn:aws:secretsmanager:s6", []byte("6"), time.Minute, gen)
	if _, ok := c.get("f"); ok {
		t.Error("an answer fetched across an eviction was cached")
	}
	if _, ok := c.get("e"); ok {
		t.Error("an expired entry was served")
	}
}
