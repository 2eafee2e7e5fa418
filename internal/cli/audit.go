package cli

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/signet/signet/internal/audit"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/seal"
	"github.com/signet/signet/internal/store"
)

// auditCmd runs `signet audit verify|tail|query [--data-dir DIR]
// [--database-url URL --master-key-file FILE]`, reading the audit log of
// a data directory, or of the PostgreSQL database nodes share, directly
// (it works while the server runs).
func auditCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "tail" && args[0] != "query") {
		return usageError("audit needs a subcommand: verify, tail or query")
	}
	sub := args[0]
	fs := flag.NewFlagSet("audit "+sub, flag.ContinueOnError)
	dir := fs.String("data-dir", "./signet-data", "data directory of the installation")
	dbURL := fs.String("database-url", "", "the installation's PostgreSQL database (its database_url), instead of the data directory's")
	masterKey := fs.String("master-key-file", "", "verify: the master key (default DATA_DIR/master.key)")
	n := fs.Int("n", 20, "tail, query: at most this many records (the newest)")
	principal := fs.String("principal", "", "query: records of this principal ARN (substring)")
	action := fs.String("action", "", "query: records of this action, e.g. signer:StartSigningJob (* matches any run)")
	decision := fs.String("decision", "", "query: Allow, Deny, Throttled, AllowWithWarning")
	since := fs.Duration("since", 0, "query: only records newer than this, e.g. 24h")
	breakGlass := fs.Bool("break-glass", false, "query: only calls made with the account root's credentials")
	output := fs.String("output", "table", "output format: table or json")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("audit %s takes no arguments", sub)
	}
	var db *store.DB
	if *dbURL != "" {
		db, err = store.Open(ctx, *dbURL)
	} else {
		db, err = openAuditDB(ctx, *dir)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	if sub == "verify" {
		keyFile := *masterKey
		if keyFile == "" {
			keyFile = filepath.Join(*dir, "master.key")
		}
		return auditVerify(ctx, db, *dbURL, *dir, keyFile, stdout)
	}
	var match func(audit.Record) bool
	if sub == "query" {
		cutoff := time.Time{}
		if *since > 0 {
			cutoff = time.Now().Add(-*since)
		}
		match = func(r audit.Record) bool {
			e := r.Event
			return strings.Contains(e.Principal, *principal) && (*action == "" || globMatch(*action, e.Action)) &&
				(*decision == "" || e.Decision == *decision) && !e.Time.Before(cutoff) && (!*breakGlass || e.BreakGlass)
		}
	}
	var all []audit.Record
	for after := int64(0); ; {
		recs, err := db.Audit.AuditRecords(ctx, after, 1000)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if match == nil || match(r) {
				all = append(all, r)
			}
		}
		after = recs[len(recs)-1].Seq
	}
	if len(all) > *n {
		all = all[len(all)-*n:]
	}
	if *output == "json" {
		return writeJSON(stdout, all)
	}
	var rows [][]string
	for _, r := range all {
		detail := r.Event.Detail
		if r.Event.BreakGlass {
			detail = strings.TrimSpace("break-glass " + detail)
		}
		rows = append(rows, []string{fmt.Sprint(r.Seq), r.Event.Time.Format("2006-01-02T15:04:05Z"), r.Event.Principal, r.Event.Action, r.Event.Resource,
			r.Event.Decision, r.Event.Outcome, r.Event.SourceIP, detail})
	}
	return table(stdout, []string{"SEQ", "TIME", "PRINCIPAL", "ACTION", "RESOURCE", "DECISION", "OUTCOME", "SOURCE", "DETAIL"}, rows)
}

// auditVerify checks the hash chain, then every signed checkpoint with
// the installation key (unsealed with the data directory's master key).
// It reports every damaged record, one a line, and fails if there is
// any.
func auditVerify(ctx context.Context, db *store.DB, dbURL, dir, keyFile string, stdout io.Writer) error {
	log := &audit.Log{Store: db.Audit}
	count, err := log.Verify(ctx)
	problems := audit.Problems(err)
	if err != nil && problems == nil {
		return err
	}
	master, err := keys.LoadMasterKey(keyFile)
	if err != nil {
		if len(problems) > 0 {
			return tampered(stdout, problems, count)
		}
		return fmt.Errorf("the hash chain of %d records is intact, but the signed checkpoints cannot be checked without the master key: %w", count, err)
	}
	main := db // the audit log shares a PostgreSQL database
	if dbURL == "" {
		if main, err = store.OpenSQLite(ctx, filepath.Join(dir, "signet.db")); err != nil {
			return err
		}
		defer main.Close()
	}
	ks, err := keys.NewSoftware(master, main.Keys)
	if err != nil {
		return err
	}
	n, err := audit.VerifyCheckpoints(ctx, db.Audit, func(keyID string, digest, sig []byte) error {
		key, err := checkpointKey(ctx, main, ks, master, keyID)
		if err != nil {
			return err
		}
		pub, ok := key.(*ecdsa.PublicKey)
		if !ok || !ecdsa.VerifyASN1(pub, digest, sig) {
			return errors.New("signature invalid")
		}
		return nil
	})
	cpProblems := audit.Problems(err)
	if err != nil && cpProblems == nil {
		return err
	}
	if problems = append(problems, cpProblems...); len(problems) > 0 {
		return tampered(stdout, problems, count)
	}
	fmt.Fprintf(stdout, "audit log intact: %d records, hash chain verified, %d signed checkpoints verified\n", count, n)
	return nil
}

// checkpointKey returns the public key of an audit checkpoint key: from
// the software key store, or, for a key on a PKCS#11 token, the copy the
// server sealed under the master key in the setting public_key:ID
// (internal/server, publicKeySetting).
func checkpointKey(ctx context.Context, db *store.DB, ks keys.KeyStore, master []byte, id string) (crypto.PublicKey, error) {
	signer, err := ks.Signer(ctx, id)
	if err == nil {
		return signer.Public(), nil
	}
	if !errors.Is(err, keys.ErrKeyNotFound) {
		return nil, err
	}
	v, serr := db.Setting(ctx, "public_key:"+id)
	if serr != nil {
		return nil, err
	}
	sealed, serr := base64.StdEncoding.DecodeString(v)
	if serr != nil {
		return nil, fmt.Errorf("public key of %s: %w", id, serr)
	}
	box, serr := seal.New(master)
	if serr != nil {
		return nil, serr
	}
	return keys.OpenPublicKey(box, id, sealed)
}

// tampered prints every problem, sorted by record, and returns the
// error that makes `signet audit verify` fail.
func tampered(stdout io.Writer, problems []*audit.Problem, intact int64) error {
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Seq < problems[j].Seq })
	for _, p := range problems {
		fmt.Fprintln(stdout, p.Error())
	}
	return fmt.Errorf("the audit log was tampered with: %d problems (listed above); %d records are intact", len(problems), intact)
}

// globMatch matches * as any run of characters.
func globMatch(p, s string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// openAuditDB opens the audit database of a data directory (audit.db;
// installations whose server has not started since the log moved there
// still have it in signet.db). A directory with neither is refused with
// its absolute path and a hint, rather than given a new empty database.
func openAuditDB(ctx context.Context, dir string) (*store.DB, error) {
	path := filepath.Join(dir, "audit.db")
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join(dir, "signet.db")
	}
	if _, err := os.Stat(path); err != nil {
		abs, aerr := filepath.Abs(dir)
		if aerr != nil {
			abs = dir
		}
		return nil, &hintError{fmt.Errorf("no audit log in %s (neither audit.db nor signet.db is there)", abs),
			[]string{"give the data directory 'signet serve' uses: --data-dir DIR (the default ./signet-data is relative to the current directory)"}}
	}
	return store.OpenSQLite(ctx, path)
}
