package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/signet/signet/internal/backup"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/store"
)

// backupCmd runs `signet backup DEST [--data-dir DIR] [--config FILE]
// [--include-master-key]`: a consistent copy of an embedded installation,
// taken while its server runs (see internal/backup and docs/backup.md).
func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "data directory of the installation (default ./signet-data, or the configuration's data_dir)")
	cfgFile := fs.String("config", "", "the configuration file 'signet serve' uses (default DATA_DIR/signet.yaml if present); it is copied into the backup")
	withKey := fs.Bool("include-master-key", false, "copy the master key into the backup (then anyone who reads the backup can decrypt everything in it)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("backup takes one argument: the new backup directory (signet backup DEST)")
	}
	cfg, path, err := loadServeConfig(*dataDir, *cfgFile)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL != "" {
		return &hintError{errors.New("signet backup copies embedded installations (SQLite in the data directory); this one is on PostgreSQL (database_url)"),
			[]string{"back up the database with PostgreSQL's own tools (pg_dump -Fc), and the object store with its own; docs/backup.md says how and in which order"}}
	}
	if cfg.ObjectStoreURL != "" {
		return &hintError{errors.New("signet backup copies embedded installations, whose object data is in the data directory; this one keeps it in object_store_url"),
			[]string{"copy the object store with its own tools after the database; docs/backup.md says how and in which order"}}
	}
	dest := pos[0]
	keyFile := cfg.MasterKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(cfg.DataDir, "master.key")
	}
	absKey, _ := filepath.Abs(keyFile)
	start := time.Now()
	release, err := holdDeletes(ctx, filepath.Join(cfg.DataDir, "signet.db"))
	if err != nil {
		return err
	}
	defer release()
	m, err := backup.Run(ctx, backup.Options{DataDir: cfg.DataDir, ConfigFile: path, MasterKeyFile: keyFile, IncludeMasterKey: *withKey,
		Dest: dest, Databases: sqliteSnapshots{}, SignetVersion: version()})
	if err != nil {
		var hints []string
		switch {
		case errors.Is(err, store.ErrSchemaBehind):
			hints = []string{"run the backup with the signet the server runs (or upgrade the server first)"}
		case errors.Is(err, store.ErrSchemaTooNew):
			hints = []string{"run the backup with the signet the server runs"}
		}
		if hints != nil {
			return &hintError{err, hints}
		}
		return err
	}
	var bytes int64
	for _, e := range append(append([]backup.Entry{}, m.Files...), m.Objects...) {
		bytes += e.Size
	}
	fmt.Fprintf(stdout, "backed up %s to %s: %d files and %d objects, %d bytes, in %s; the database snapshot is of %s\n",
		cfg.DataDir, dest, len(m.Files), len(m.Objects), bytes, time.Since(start).Round(time.Millisecond), m.SnapshotAt.Format(time.RFC3339Nano))
	if *withKey {
		fmt.Fprintf(stderr, "signet: warning: the backup holds the master key, which decrypts every secret and private key in it: keep %s as safe as the key itself\n", dest)
	} else {
		fmt.Fprintf(stderr, "signet: warning: the backup does not hold the master key (%s): it cannot be restored without it; keep a copy of that file apart from the backup (or back up with --include-master-key)\n", absKey)
	}
	return nil
}

// restoreCmd runs `signet restore SRC --data-dir DIR [--master-key-file
// FILE]`.
func restoreCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "the new data directory to restore into (absent or empty)")
	keyFile := fs.String("master-key-file", "", "the installation's master key, when the backup does not hold it")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *dataDir == "" {
		return usageError("restore takes the backup directory and --data-dir DIR (signet restore SRC --data-dir DIR)")
	}
	r, err := backup.Restore(ctx, backup.RestoreOptions{Src: pos[0], DataDir: *dataDir, MasterKeyFile: *keyFile})
	if err != nil {
		return err
	}
	m := r.Manifest
	abs, _ := filepath.Abs(*dataDir)
	fmt.Fprintf(stdout, "restored the backup of %s (taken by signet %s) into %s: %d files and %d objects\n",
		m.SnapshotAt.Format(time.RFC3339Nano), m.SignetVersion, abs, r.Files, r.Objects)
	fmt.Fprintf(stdout, "start it with: signet serve --data-dir %s\n", abs)
	if *keyFile == "" {
		fmt.Fprintf(stderr, "signet: note: the backup was authenticated with the master key it holds, which shows that it is intact but not that it is the installation's (whoever can write a backup can replace its key too); to check it against the installation's key, restore with --master-key-file\n")
	}
	if r.Config != "" {
		if cfg, err := config.Load(r.Config); err == nil && cfg.MasterKeyFile != "" {
			fmt.Fprintf(stderr, "signet: warning: the restored configuration reads the master key from %s (master_key_file); the restored key is %s: point master_key_file there, or put the key at that path\n",
				cfg.MasterKeyFile, filepath.Join(abs, "master.key"))
		}
	}
	return nil
}

// loadServeConfig finds the configuration and data directory as `signet
// serve` does: --config, else DATA_DIR/signet.yaml if present; --data-dir
// overrides the file's data_dir. It returns the file's path ("" for
// none).
func loadServeConfig(dataDir, cfgFile string) (config.Config, string, error) {
	cfg := config.Defaults()
	dir := dataDir
	if dir == "" {
		dir = cfg.DataDir
	}
	path := cfgFile
	if path == "" {
		if _, err := os.Stat(filepath.Join(dir, "signet.yaml")); err == nil {
			path = filepath.Join(dir, "signet.yaml")
		}
	}
	if path != "" {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return cfg, "", err
		}
	}
	if dataDir != "" {
		cfg.DataDir = dataDir
	}
	return cfg, path, nil
}

// sqliteSnapshots is backup.Databases on the store's SQLite.
type sqliteSnapshots struct{}

func (sqliteSnapshots) Snapshot(ctx context.Context, src, dst string) error {
	return store.SnapshotSQLite(ctx, src, dst)
}

func (sqliteSnapshots) References(ctx context.Context, file string) (map[string]bool, error) {
	refs, _, err := store.SnapshotReferences(ctx, file)
	return refs, err
}

// holdSettle is how long a backup waits, after taking the backup lease,
// for a running server to see it (it reads the lease at most a second
// old) before it snapshots.
const holdSettle = 2 * time.Second

// holdDeletes takes the installation's backup lease, renewed until
// release: while it is held, a running server keeps the object data it
// deletes and deletes it once the backup ends, so that the data the
// backup's snapshot refers to stays until it is copied, however busy the
// server is. (Without a database to hold the lease in, there is no
// server to tell.)
func holdDeletes(ctx context.Context, dbFile string) (release func(), err error) {
	if _, err := os.Stat(dbFile); err != nil {
		return func() {}, nil
	}
	db, err := store.OpenUnmigrated(ctx, dbFile)
	if err != nil {
		return nil, err
	}
	holder := "backup-" + uuid.NewString()
	take := func(ctx context.Context) (bool, error) {
		now := time.Now()
		return db.AcquireLease(ctx, backup.DeleteHoldLease, holder, now, now.Add(2*time.Minute))
	}
	ok, err := take(ctx)
	if err != nil || !ok {
		db.Close()
		if err == nil {
			err = errors.New("another backup of this installation is running; wait for it to finish")
		}
		return nil, err
	}
	hctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
				take(hctx)
			}
		}
	}()
	select {
	case <-time.After(holdSettle):
	case <-ctx.Done():
	}
	return func() {
		stop()
		<-done
		db.ReleaseLease(context.WithoutCancel(ctx), backup.DeleteHoldLease, holder)
		db.Close()
	}, nil
}
