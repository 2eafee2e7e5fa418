package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/signet/signet/internal/store"
)

// migrateCmd runs `signet migrate [--data-dir DIR | --database-url URL]
// [--apply]`: it shows the schema version of the installation's
// databases and the migrations this Signet would apply, and applies them
// with --apply. (`signet serve` applies them at start too; this is for
// doing it first, or for seeing what a new version would change.)
func migrateCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	dir := fs.String("data-dir", "./signet-data", "data directory of an installation on SQLite")
	dbURL := fs.String("database-url", "", "the installation's PostgreSQL database (its database_url)")
	apply := fs.Bool("apply", false, "apply the pending migrations")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("migrate takes no arguments")
	}
	var targets []string
	if *dbURL != "" {
		targets = []string{*dbURL}
	} else {
		for _, f := range []string{"signet.db", "audit.db"} {
			if p := filepath.Join(*dir, f); fileExists(p) {
				targets = append(targets, p)
			}
		}
		if len(targets) == 0 {
			abs, _ := filepath.Abs(*dir)
			return &hintError{fmt.Errorf("no database in %s", abs),
				[]string{"give the data directory 'signet serve' uses (--data-dir DIR), or --database-url for PostgreSQL"}}
		}
	}
	for _, t := range targets {
		if err := migrateOne(ctx, t, *apply, stdout); err != nil {
			return err
		}
	}
	return nil
}

func migrateOne(ctx context.Context, dsn string, apply bool, stdout io.Writer) error {
	name := dsn
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		name = u.Redacted()
	}
	db, err := store.OpenUnmigrated(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	version, pending, err := db.Pending(ctx)
	if errors.Is(err, store.ErrSchemaTooNew) {
		return &exitError{1, fmt.Errorf("%s: %w", name, err)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s (%s): schema version %d, %d migration(s) pending\n", name, db.Engine(), version, len(pending))
	for _, m := range pending {
		fmt.Fprintf(stdout, "  pending %s\n", m.Name)
	}
	if !apply || len(pending) == 0 {
		return nil
	}
	done, err := db.Migrate(ctx)
	for _, m := range done {
		fmt.Fprintf(stdout, "  applied %s\n", m.Name)
	}
	return err
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
