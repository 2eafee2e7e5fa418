package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/smithy-go"

	"github.com/signet/signet/internal/store"
)

// TestSignals drives a `signet serve` process with signals: SIGHUP
// reloads the rate limits of an edited configuration file, keeps the
// running configuration when the file is not valid and says why; SIGTERM
// stops it cleanly with the audit log checkpointed up to its last record.
func TestSignals(t *testing.T) {
	bin := signetBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "signet.yaml")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("log_level: info\n")
	p := startServer(t, bin, dir)
	c := p.client(t, true)
	ctx := context.Background()
	list := func() error {
		_, err := c.ListSigningPlatforms(ctx, &signer.ListSigningPlatformsInput{})
		return err
	}
	for range 3 {
		if err := list(); err != nil {
			t.Fatalf("before the reload: %v", err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the log of signet serve:\n%s", p.stderr.String())
		}
	})
	logged := func(what, text string, after int) {
		t.Helper()
		waitFor(t, 2*time.Minute, fmt.Sprintf("signet serve to log %s (%q)", what, text), func() bool { return strings.Contains(p.stderr.String()[after:], text) })
	}

	// A limit of one call, refilled once in ~17 minutes: the second
	// call after the reload is throttled, however slow the machine.
	write("log_level: info\nrate_limits: {actions: {\"signer:ListSigningPlatforms\": {rate: 0.001, burst: 1}}}\n")
	mark := len(p.stderr.String())
	p.cmd.Process.Signal(syscall.SIGHUP)
	logged("the reload", "configuration reloaded", mark)
	if err := list(); err != nil {
		t.Fatalf("first call after the reload: %v", err)
	}
	var ae smithy.APIError
	if err := list(); !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" {
		t.Fatalf("second call after the reload: %v, want ThrottlingException", err)
	}

	// A file that is not valid: nothing changes, the log says why.
	write("rate_limits: {rate: -1}\n")
	mark = len(p.stderr.String())
	p.cmd.Process.Signal(syscall.SIGHUP)
	logged("the refused reload", "configuration not reloaded", mark)
	if !strings.Contains(p.stderr.String()[mark:], "rate_limits") {
		t.Errorf("the refused reload does not name the setting:\n%s", p.stderr.String()[mark:])
	}
	if err := list(); !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" {
		t.Fatalf("after a refused reload the limits changed: %v", err)
	}
	// A change that needs a restart is named as such.
	write("log_level: info\nfunctions: {concurrency: 3}\nrate_limits: {actions: {\"signer:ListSigningPlatforms\": {rate: 0.001, burst: 1}}}\n")
	mark = len(p.stderr.String())
	p.cmd.Process.Signal(syscall.SIGHUP)
	logged("the partial reload", "take effect at the next start", mark)

	p.stop(t) // SIGTERM, exit 0
	if !strings.Contains(p.stderr.String(), "stopping: draining") {
		t.Errorf("the stop did not drain:\n%s", p.stderr)
	}
	db, err := store.OpenSQLite(ctx, filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	last, err := db.Audit.LastAuditRecord(ctx)
	if err != nil || last == nil {
		t.Fatalf("last audit record: %v %v", last, err)
	}
	cps, err := db.Audit.Checkpoints(ctx)
	if err != nil || len(cps) == 0 {
		t.Fatalf("checkpoints: %v %v", cps, err)
	}
	if got := cps[len(cps)-1].Seq; got != last.Seq {
		t.Errorf("the last checkpoint covers record %d; the log ends at %d", got, last.Seq)
	}
}
