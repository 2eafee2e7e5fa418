package server

import (
	"testing"
	"time"
)

// TestExtensionSettings: the extension's variables as AWS's extension
// reads them, with its bounds.
func TestExtensionSettings(t *testing.T) {
	tests := []struct {
		vars    map[string]string
		want    extensionSettings
		wantErr bool
	}{
		{nil, extensionSettings{enabled: true, size: 1000, ssmTTL: 300 * time.Second, smTTL: 300 * time.Second}, false},
		{map[string]string{"SECRETS_MANAGER_TTL": "30", "SSM_PARAMETER_STORE_TTL": "0"}, extensionSettings{enabled: true, size: 1000, ssmTTL: 0, smTTL: 30 * time.Second}, false},
		{map[string]string{"PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED": "false"}, extensionSettings{enabled: false, size: 1000, ssmTTL: 300 * time.Second, smTTL: 300 * time.Second}, false},
		{map[string]string{"PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE": "0"}, extensionSettings{enabled: false, size: 0, ssmTTL: 300 * time.Second, smTTL: 300 * time.Second}, false},
		{map[string]string{"SECRETS_MANAGER_TTL": "301"}, extensionSettings{}, true},
		{map[string]string{"PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE": "1001"}, extensionSettings{}, true},
		{map[string]string{"PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED": "maybe"}, extensionSettings{}, true},
	}
	for _, tc := range tests {
		got, err := settingsOf(tc.vars)
		if (err != nil) != tc.wantErr || err == nil && got != tc.want {
			t.Errorf("%v: %+v %v, want %+v (error %v)", tc.vars, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestExtensionCache: entries expire with their TTL, a full cache drops
// the entry expiring first, and eviction reaches every environment.
func TestExtensionCache(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := &extensionCaches{now: func() time.Time { return now }}
	c.put("env1", "a", extensionEntry{resource: "arn:s1", body: []byte("1"), expires: now.Add(time.Minute)}, 2)
	c.put("env1", "b", extensionEntry{resource: "arn:s2", body: []byte("2"), expires: now.Add(2 * time.Minute)}, 2)
	c.put("env2", "a", extensionEntry{resource: "arn:s1", body: []byte("1"), expires: now.Add(time.Minute)}, 2)
	if b, ok := c.get("env1", "a"); !ok || string(b) != "1" {
		t.Errorf("a fresh entry: %q %v", b, ok)
	}
	c.put("env1", "c", extensionEntry{resource: "arn:s3", body: []byte("3"), expires: now.Add(3 * time.Minute)}, 2)
	if _, ok := c.get("env1", "a"); ok {
		t.Error("a full cache kept the entry expiring first")
	}
	c.evict("arn:s1")
	if _, ok := c.get("env2", "a"); ok {
		t.Error("eviction missed another environment")
	}
	now = now.Add(2 * time.Minute)
	if _, ok := c.get("env1", "b"); ok {
		t.Error("an expired entry was served")
	}
	if _, ok := c.get("env1", "c"); !ok {
		t.Error("an entry within its TTL was dropped")
	}
}
