package server_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/store/pgtest"
)

// TestNodesStartTogether: three nodes started at once on an empty
// PostgreSQL database make one installation (one account, one root, one
// bootstrap key), which each node then serves. A node given another
// master key, or none on an installation that has one, refuses to start
// and says why.
func TestNodesStartTogether(t *testing.T) {
	dsn := pgtest.DSN(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	nodeConfig := func(name, key string) config.Config {
		cfg := config.Defaults()
		cfg.DataDir, cfg.Listen, cfg.DatabaseURL, cfg.MasterKeyFile = filepath.Join(dir, name), "127.0.0.1:0", dsn, key
		return cfg
	}
	// The operator gives every node the same master key.
	if _, _, err := keys.LoadOrCreateMasterKey(keyFile); err != nil {
		t.Fatal(err)
	}
	open := func(cfg config.Config) (*server.Server, error) {
		return server.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	var wg sync.WaitGroup
	nodes := make([]*server.Server, 3)
	errs := make([]error, 3)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = open(nodeConfig("node"+string(rune('a'+i)), keyFile))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer nodes[i].Close()
	}
	creds := map[string]bool{}
	for _, n := range nodes {
		if n.AccountID() != nodes[0].AccountID() {
			t.Errorf("nodes serve accounts %s and %s", nodes[0].AccountID(), n.AccountID())
		}
		b, err := os.ReadFile(n.CredentialsPath())
		if err != nil {
			t.Fatal(err)
		}
		var key []string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "aws_") {
				key = append(key, line)
			}
		}
		creds[strings.Join(key, "\n")] = true
	}
	if len(creds) != 1 {
		t.Errorf("the nodes wrote %d different bootstrap credentials", len(creds))
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var bootstrap, roots int
	db.QueryRow(`SELECT COUNT(*) FROM access_keys WHERE principal_arn LIKE '%:root'`).Scan(&bootstrap)
	db.QueryRow(`SELECT COUNT(*) FROM installation WHERE key = 'root_cert'`).Scan(&roots)
	if bootstrap != 1 || roots != 1 {
		t.Errorf("%d bootstrap keys and %d roots, want one each", bootstrap, roots)
	}

	// Another master key, and none.
	other := filepath.Join(dir, "other.key")
	if _, _, err := keys.LoadOrCreateMasterKey(other); err != nil {
		t.Fatal(err)
	}
	if n, err := open(nodeConfig("other", other)); err == nil {
		n.Close()
		t.Error("a node with a master key of its own joined the installation")
	} else if !strings.Contains(err.Error(), "is not the one this installation's secrets are sealed under") {
		t.Errorf("a node with another master key: %v", err)
	}
	if n, err := open(nodeConfig("none", filepath.Join(dir, "missing", "master.key"))); err == nil {
		n.Close()
		t.Error("a node without the master key joined the installation")
	} else if !strings.Contains(err.Error(), "initialised by another node") {
		t.Errorf("a node without a master key: %v", err)
	}
}
