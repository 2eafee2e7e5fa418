package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/signet/signet/internal/objects/blobstore"
	"github.com/signet/signet/internal/objects/sweep"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/store"
)

// storeCmd runs `signet store copy --from sqlite://DATA_DIR --to
// postgres://…`: it moves an embedded installation's metadata (main and
// audit databases) into an empty PostgreSQL database, which nodes then
// share. The server must be stopped: a copy of a database being written
// is not a consistent one.
func storeCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "gc" {
		return storeGC(ctx, args[1:], stdout)
	}
	if len(args) == 0 || args[0] != "copy" {
		return usageError("store needs a subcommand: copy or gc")
	}
	fs := flag.NewFlagSet("store copy", flag.ContinueOnError)
	from := fs.String("from", "", "the embedded installation: sqlite://DATA_DIR (or the data directory's path)")
	to := fs.String("to", "", "the target: postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=…, an empty database")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 || *from == "" || *to == "" {
		return usageError("store copy takes --from sqlite://DATA_DIR --to postgres://…")
	}
	if !strings.HasPrefix(*to, "postgres://") && !strings.HasPrefix(*to, "postgresql://") {
		return usageError("store copy --to must be a postgres:// URL")
	}
	dir := strings.TrimPrefix(*from, "sqlite://")
	mainPath, auditPath := dir, ""
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		mainPath = filepath.Join(dir, "signet.db")
	}
	if p := filepath.Join(filepath.Dir(mainPath), "audit.db"); fileExists(p) {
		auditPath = p
	}
	if !fileExists(mainPath) {
		return &hintError{fmt.Errorf("no signet.db at %s", mainPath), []string{"give the data directory of the stopped 'signet serve': --from sqlite://DATA_DIR"}}
	}
	main, err := store.Open(ctx, mainPath) // brings it to this version's schema first
	if err != nil {
		return err
	}
	defer main.Close()
	audit := main
	if auditPath != "" {
		if audit, err = store.Open(ctx, auditPath); err != nil {
			return err
		}
		defer audit.Close()
	}
	dst, err := store.Open(ctx, *to)
	if err != nil {
		return err
	}
	defer dst.Close()
	report, err := store.CopyInstallation(ctx, dst, main, audit)
	if err != nil {
		return err
	}
	var names []string
	total := 0
	for t, n := range report {
		names = append(names, t)
		total += n
	}
	slices.Sort(names)
	for _, t := range names {
		if report[t] > 0 {
			fmt.Fprintf(stdout, "%-32s %d\n", t, report[t])
		}
	}
	fmt.Fprintf(stdout, "copied %d rows of %d tables; start the nodes with database_url set to the target and master_key_file set to %s\n",
		total, len(report), filepath.Join(filepath.Dir(mainPath), "master.key"))
	return nil
}

// storeGC runs `signet store gc`: it moves to trash/ the object data
// nothing in the metadata refers to and older than --grace (what a
// process that died between writing data and recording it left), and
// deletes what has been in the trash a week, as the server does every
// hour. It is safe while the server runs: data younger than the grace
// period is left alone.
func storeGC(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("store gc", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "an embedded installation: its data directory (signet.db and objects/)")
	dbURL := fs.String("database-url", "", "nodes sharing a database: its postgres:// URL (with --object-store-url)")
	objURL := fs.String("object-store-url", "", "nodes sharing a database: their object_store_url (credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
	grace := fs.Duration("grace", time.Hour, "leave data younger than this alone (data is written a moment before it is recorded)")
	dry := fs.Bool("dry-run", false, "list what would be moved to the trash, move nothing")
	force := fs.Bool("force", false, "allow --grace under a minute (only with every node stopped)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || (*dataDir == "") == (*dbURL == "") || (*dbURL == "") != (*objURL == "") {
		return usageError("store gc takes --data-dir DIR, or --database-url postgres://… --object-store-url URL")
	}
	if *grace < 0 {
		return usageError("store gc --grace must not be negative")
	}
	dsn, dataURL := *dbURL, *objURL
	if *dataDir != "" {
		dsn, dataURL = filepath.Join(*dataDir, "signet.db"), "file://"+filepath.Join(*dataDir, "objects")
		if !fileExists(dsn) {
			return &hintError{fmt.Errorf("no signet.db in %s", *dataDir), []string{"give the data directory of 'signet serve' (--data-dir)"}}
		}
	}
	// Never migrate a database nodes are running on from here.
	db, err := store.OpenUnmigrated(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, pending, err := db.Pending(ctx); err != nil {
		return err
	} else if len(pending) > 0 {
		return &hintError{fmt.Errorf("the database's schema is %d migrations behind this signet", len(pending)), []string{"run store gc with the signet the nodes run, or apply the migrations first (signet migrate --apply)"}}
	}
	data, err := blobstore.Open(ctx, dataURL)
	if err != nil {
		return err
	}
	defer data.Close()
	if *grace < time.Minute && !*force {
		return &hintError{fmt.Errorf("--grace %s could delete data a running node wrote a moment ago and is about to record", *grace),
			[]string{"use --grace 1m or more while any signet serve runs on this installation; with every node stopped, add --force"}}
	}
	r, err := server.SweepObjectData(ctx, db, data, time.Now(), *grace, *dry)
	if err != nil {
		return err
	}
	verb := "moved to the trash"
	if *dry {
		verb = "would move to the trash"
	}
	for _, p := range r.Deleted {
		fmt.Fprintf(stdout, "%s: %s (now %s%s)\n", verb, p, sweep.TrashPrefix, p)
	}
	fmt.Fprintf(stdout, "%d paths in the object data store: %d unreferenced but younger than %s, %d outside Signet's namespaces, %d %s, %d purged from the trash\n",
		r.Listed, r.Young, *grace, r.Other, len(r.Deleted), verb, r.Purged)
	return nil
}
