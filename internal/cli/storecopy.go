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

	"github.com/signet/signet/internal/store"
)

// storeCmd runs `signet store copy --from sqlite://DATA_DIR --to
// postgres://…`: it moves an embedded installation's metadata (main and
// audit databases) into an empty PostgreSQL database, which nodes then
// share. The server must be stopped: a copy of a database being written
// is not a consistent one.
func storeCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "copy" {
		return usageError("store needs a subcommand: copy")
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
