package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/store"
)

// auditCmd runs `signet audit verify|tail [--data-dir DIR]`, reading the
// audit log of a data directory directly (it works while the server runs).
func auditCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "tail") {
		return usageError("audit needs a subcommand: verify or tail")
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	dir := fs.String("data-dir", "./signet-data", "data directory of the installation")
	n := fs.Int("n", 20, "tail: how many records")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("audit %s takes no arguments", args[0])
	}
	db, err := store.OpenSQLite(ctx, filepath.Join(*dir, "signet.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	log := &audit.Log{Store: db}
	if args[0] == "verify" {
		count, err := log.Verify(ctx)
		var p *audit.Problem
		if errors.As(err, &p) {
			return fmt.Errorf("the audit log was tampered with: %w (%d records before it are intact)", err, count)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "audit log intact: %d records, hash chain verified\n", count)
		return nil
	}
	var all []audit.Record
	for after := int64(0); ; {
		recs, err := db.AuditRecords(ctx, after, 1000)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		all = append(all, recs...)
		after = recs[len(recs)-1].Seq
	}
	if len(all) > *n {
		all = all[len(all)-*n:]
	}
	var rows [][]string
	for _, r := range all {
		rows = append(rows, []string{fmt.Sprint(r.Seq), r.Event.Time.Format("2006-01-02T15:04:05Z"), r.Event.Principal, r.Event.Action, r.Event.Resource, r.Event.Decision, r.Event.Detail})
	}
	return table(stdout, []string{"SEQ", "TIME", "PRINCIPAL", "ACTION", "RESOURCE", "DECISION", "DETAIL"}, rows)
}
