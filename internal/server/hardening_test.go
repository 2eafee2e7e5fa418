package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestDeployGateNeedsRevocation: a server whose deploy gate cannot check
// revocation does not start, and says why.
func TestDeployGateNeedsRevocation(t *testing.T) {
	restore := server.BreakCRLChecker(errors.New("no CRL fetcher available"))
	defer restore()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	s, err := server.Open(context.Background(), cfg, quietLog())
	if err == nil {
		s.Close()
		t.Fatal("the server started with a deploy gate that cannot check revocation")
	}
	if !strings.Contains(err.Error(), "no CRL fetcher available") || !strings.Contains(err.Error(), "revocation") {
		t.Errorf("error %q does not give the reason", err)
	}
}

// TestDataDirPermissions: a new data directory is 0700 with its files
// 0600; a looser one is tightened at start.
func TestDataDirPermissions(t *testing.T) {
	check := func(t *testing.T, dir string) {
		t.Helper()
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("data directory mode %04o, want 0700", fi.Mode().Perm())
		}
		entries, _ := os.ReadDir(dir)
		dbs := 0
		for _, e := range entries {
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			if strings.Contains(e.Name(), ".db") {
				dbs++
			}
			if info.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s has mode %04o, open to group or others", e.Name(), info.Mode().Perm())
			}
		}
		if dbs < 2 {
			t.Errorf("found %d database files in %s, want signet.db and audit.db at least", dbs, dir)
		}
	}
	t.Run("new", func(t *testing.T) {
		cfg := config.Defaults()
		cfg.DataDir = filepath.Join(t.TempDir(), "data")
		s, err := server.Open(context.Background(), cfg, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, cfg.DataDir)
	})
	t.Run("tightened at start", func(t *testing.T) {
		cfg := config.Defaults()
		cfg.DataDir = t.TempDir()
		s, err := server.Open(context.Background(), cfg, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		os.Chmod(cfg.DataDir, 0o755)
		entries, _ := os.ReadDir(cfg.DataDir)
		for _, e := range entries {
			if e.Type().IsRegular() {
				os.Chmod(filepath.Join(cfg.DataDir, e.Name()), 0o644)
			}
		}
		s, err = server.Open(context.Background(), cfg, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, cfg.DataDir)
	})
}
