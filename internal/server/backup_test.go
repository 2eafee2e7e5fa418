package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	stypes "github.com/aws/aws-sdk-go-v2/service/signer/types"

	"github.com/signet/signet/internal/backup"
	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server/servertest"
)

// change is one change a client saw acknowledged, and what the
// installation answered about it then.
type change struct {
	client, seq int
	acked       time.Time
	kind        string // "put", "job", "deploy"
	// put: the package's version and its bytes' hash; job: its id, its
	// signed object's key and that object's hash; deploy: the code's
	// SHA-256 as Lambda reports it.
	version, jobID, key, sum, codeSHA string
}

// TestBackupUnderLoad: a backup taken with `signet backup` while four
// clients sign packages and deploy them through an Enforce code signing
// config, restored with `signet restore` into a new directory: a server
// on it answers for every change acknowledged before the backup began as
// the original did (the package versions, the signing jobs and their
// signed objects, the functions' code through GetFunction's download
// URL), and `signet audit verify` finds its audit log intact.
func TestBackupUnderLoad(t *testing.T) {
	ctx := context.Background()
	ts := servertest.StartEmbedded(t, func(*config.Config) {})
	_, _, cscARN := signedOnNodes(t, ts, ts, ts, "backup")
	role := ts.LambdaRole(t)

	var mu sync.Mutex
	var changes []change
	record := func(c change) {
		c.acked = time.Now()
		mu.Lock()
		changes = append(changes, c)
		mu.Unlock()
	}
	stop := make(chan struct{})
	errs := make(chan error, 4)
	var rounds [4]int
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- runClient(ctx, ts, i, cscARN, role, record, &mu, &rounds[i], stop)
		}()
	}
	failed := func() {
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		t.FailNow()
	}
	// Every client has signed and deployed a few times.
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		least := min(rounds[0], rounds[1], rounds[2], rounds[3])
		mu.Unlock()
		if least >= 3 {
			break
		}
		if len(errs) > 0 || time.Now().After(deadline) {
			t.Errorf("the clients did not each finish 3 rounds (%v)", rounds)
			failed()
		}
	}

	dest := filepath.Join(t.TempDir(), "backup")
	started := time.Now()
	var out, errb bytes.Buffer
	code := cli.Main(ctx, []string{"backup", dest, "--data-dir", ts.Config().DataDir}, &out, &errb)
	mu.Lock()
	during := min(rounds[0], rounds[1], rounds[2], rounds[3])
	mu.Unlock()
	if code != 0 {
		t.Errorf("signet backup: exit %d: %s", code, errb.String())
		failed()
	}
	// The clients go on a little after the backup (their changes then
	// are not in it, and need not be).
	waitUntil(t, 2*time.Minute, "a round after the backup", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return min(rounds[0], rounds[1], rounds[2], rounds[3]) > during || len(errs) > 0
	})
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("signet backup: %s%s", out.String(), errb.String())
	if !strings.Contains(errb.String(), "does not hold the master key") || !strings.Contains(errb.String(), filepath.Join(ts.Config().DataDir, "master.key")) {
		t.Errorf("signet backup without --include-master-key: no warning naming the key: %q", errb.String())
	}

	restored := filepath.Join(t.TempDir(), "restored")
	out.Reset()
	errb.Reset()
	if code := cli.Main(ctx, []string{"restore", dest, "--data-dir", restored, "--master-key-file", filepath.Join(ts.Config().DataDir, "master.key")}, &out, &errb); code != 0 {
		t.Fatalf("signet restore: exit %d: %s", code, errb.String())
	}
	rs := servertest.StartEmbedded(t, func(c *config.Config) { c.DataDir = restored })
	if rs.AccountID() != ts.AccountID() || rs.Creds != ts.Creds {
		t.Errorf("the restored installation is another account or has other bootstrap credentials")
	}

	// Every change acknowledged before the backup began.
	var before []change
	lastDeploy := map[int]int{} // client → index in its deploys of the last one acknowledged before
	deploys := map[int][]string{}
	for _, c := range changes {
		if c.kind == "deploy" {
			deploys[c.client] = append(deploys[c.client], c.codeSHA)
		}
		if !c.acked.Before(started) {
			continue
		}
		before = append(before, c)
		if c.kind == "deploy" {
			lastDeploy[c.client] = len(deploys[c.client]) - 1
		}
	}
	t.Logf("%d changes in all, %d acknowledged before the backup began", len(changes), len(before))
	for _, c := range before {
		switch c.kind {
		case "put":
			obj, err := rs.S3().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(c.key), VersionId: aws.String(c.version)})
			if err != nil {
				t.Errorf("client %d's package %s version %s: %v", c.client, c.key, c.version, err)
				continue
			}
			if got := hashBody(t, obj.Body); got != c.sum {
				t.Errorf("client %d's package %s version %s: other bytes after the restore", c.client, c.key, c.version)
			}
		case "job":
			d, err := rs.Signer().DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: aws.String(c.jobID)})
			if err != nil {
				t.Errorf("job %s: %v", c.jobID, err)
				continue
			}
			if d.Status != stypes.SigningStatusSucceeded || d.SignedObject == nil || aws.ToString(d.SignedObject.S3.Key) != c.key {
				t.Errorf("job %s after the restore: %s, signed object %+v; want Succeeded, %s", c.jobID, d.Status, d.SignedObject, c.key)
				continue
			}
			obj, err := rs.S3().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(c.key)})
			if err != nil {
				t.Errorf("job %s's signed object %s: %v", c.jobID, c.key, err)
				continue
			}
			if got := hashBody(t, obj.Body); got != c.sum {
				t.Errorf("job %s's signed object %s: other bytes after the restore", c.jobID, c.key)
			}
		}
	}
	// Each function runs the code of its last deployment acknowledged
	// before the backup began, or of a later one; GetFunction's download
	// URL serves that code.
	for client, last := range lastDeploy {
		name := fmt.Sprintf("backup-fn-%d", client)
		f, err := lambdaClient(rs).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Errorf("function %s: %v", name, err)
			continue
		}
		got := aws.ToString(f.Configuration.CodeSha256)
		at := -1
		for i, sha := range deploys[client] {
			if sha == got {
				at = i
			}
		}
		if at < last {
			t.Errorf("function %s runs deployment %d (%s) after the restore; deployment %d was acknowledged before the backup began", name, at, got, last)
		}
		csc, err := lambdaClient(rs).GetFunctionCodeSigningConfig(ctx, &lambda.GetFunctionCodeSigningConfigInput{FunctionName: aws.String(name)})
		if err != nil || aws.ToString(csc.CodeSigningConfigArn) != cscARN {
			t.Errorf("function %s's code signing config after the restore: %v", name, err)
		}
		resp, err := http.Get(aws.ToString(f.Code.Location))
		if err != nil {
			t.Errorf("function %s's code: %v", name, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sum := sha256.Sum256(b)
		if resp.StatusCode != http.StatusOK || base64.StdEncoding.EncodeToString(sum[:]) != got {
			t.Errorf("function %s's code from %s: %d, %d bytes not matching CodeSha256", name, aws.ToString(f.Code.Location), resp.StatusCode, len(b))
		}
	}
	out.Reset()
	errb.Reset()
	if code := cli.Main(ctx, []string{"audit", "verify", "--data-dir", restored}, &out, &errb); code != 0 || !strings.Contains(out.String(), "intact") {
		t.Errorf("signet audit verify on the restored installation: exit %d: %s%s", code, out.String(), errb.String())
	}
	// The restored installation goes on: a new job signs.
	if _, err := rs.Signer().StartSigningJob(ctx, &signer.StartSigningJobInput{ProfileName: aws.String("backup"), ClientRequestToken: aws.String("after-restore"),
		Source:      &stypes.Source{S3: &stypes.S3Source{BucketName: aws.String("artifacts"), Key: aws.String(before[0].key), Version: aws.String(firstPut(before).version)}},
		Destination: &stypes.Destination{S3: &stypes.S3Destination{BucketName: aws.String("artifacts"), Prefix: aws.String("after-")}}}); err != nil {
		t.Errorf("a signing job on the restored installation: %v", err)
	}
}

func firstPut(cs []change) change {
	for _, c := range cs {
		if c.kind == "put" {
			return c
		}
	}
	return change{}
}

// zipBytes is zipOf for goroutines, which must not end the test.
func zipBytes(files map[string]string) ([]byte, error) {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, body := range files {
		f, err := w.Create(name)
		if err != nil {
			return nil, err
		}
		io.WriteString(f, body)
	}
	err := w.Close()
	return b.Bytes(), err
}

func hashBody(t *testing.T, r io.ReadCloser) string {
	t.Helper()
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Error(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// runClient signs and deploys until stop: each round uploads a new
// package version, signs it, and deploys the signed package to the
// client's function through the code signing config, recording each
// acknowledged change.
func runClient(ctx context.Context, ts *servertest.Server, client int, cscARN, role string, record func(change), mu *sync.Mutex, rounds *int, stop chan struct{}) error {
	s3c, sc, lc := ts.S3(), ts.Signer(), lambdaClient(ts)
	name := fmt.Sprintf("backup-fn-%d", client)
	key := fmt.Sprintf("pkg-%d.zip", client)
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return nil
		default:
		}
		pkg, err := zipBytes(map[string]string{"lambda_function.py": fmt.Sprintf("def lambda_handler(event, context):\n    return %d\n", seq)})
		if err != nil {
			return err
		}
		put, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(key), Body: bytes.NewReader(pkg)})
		if err != nil {
			return fmt.Errorf("client %d: PutObject: %w", client, err)
		}
		record(change{client: client, seq: seq, kind: "put", key: key, version: aws.ToString(put.VersionId), sum: fmt.Sprintf("%x", sha256.Sum256(pkg))})
		job, err := sc.StartSigningJob(ctx, &signer.StartSigningJobInput{ProfileName: aws.String("backup"), ClientRequestToken: aws.String(fmt.Sprintf("c%d-%d", client, seq)),
			Source:      &stypes.Source{S3: &stypes.S3Source{BucketName: aws.String("artifacts"), Key: aws.String(key), Version: put.VersionId}},
			Destination: &stypes.Destination{S3: &stypes.S3Destination{BucketName: aws.String("artifacts"), Prefix: aws.String(fmt.Sprintf("signed-%d-", client))}}})
		if err != nil {
			return fmt.Errorf("client %d: StartSigningJob: %w", client, err)
		}
		var signedKey string
		for deadline := time.Now().Add(2 * time.Minute); signedKey == ""; time.Sleep(20 * time.Millisecond) {
			d, err := sc.DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: job.JobId})
			if err != nil {
				return fmt.Errorf("client %d: DescribeSigningJob: %w", client, err)
			}
			switch d.Status {
			case stypes.SigningStatusFailed:
				return fmt.Errorf("client %d: job %s failed: %s", client, aws.ToString(job.JobId), aws.ToString(d.StatusReason))
			case stypes.SigningStatusSucceeded:
				signedKey = aws.ToString(d.SignedObject.S3.Key)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("client %d: job %s did not finish in 2 minutes", client, aws.ToString(job.JobId))
			}
		}
		obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(signedKey)})
		if err != nil {
			return fmt.Errorf("client %d: GetObject %s: %w", client, signedKey, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, obj.Body)
		obj.Body.Close()
		if err != nil {
			return err
		}
		record(change{client: client, seq: seq, kind: "job", jobID: aws.ToString(job.JobId), key: signedKey, sum: fmt.Sprintf("%x", h.Sum(nil))})
		var codeSHA string
		if seq == 0 {
			f, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: ltypes.RuntimePython312,
				Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(role), CodeSigningConfigArn: aws.String(cscARN),
				Code: &ltypes.FunctionCode{S3Bucket: aws.String("artifacts"), S3Key: aws.String(signedKey)}})
			if err != nil {
				return fmt.Errorf("client %d: CreateFunction: %w", client, err)
			}
			codeSHA = aws.ToString(f.CodeSha256)
		} else {
			f, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), S3Bucket: aws.String("artifacts"), S3Key: aws.String(signedKey)})
			if err != nil {
				return fmt.Errorf("client %d: UpdateFunctionCode: %w", client, err)
			}
			codeSHA = aws.ToString(f.CodeSha256)
		}
		record(change{client: client, seq: seq, kind: "deploy", codeSHA: codeSHA})
		mu.Lock()
		*rounds = seq + 1
		mu.Unlock()
	}
}

// TestRestoreRefuses: `signet restore` restores a backup with the master
// key it holds or one given with --master-key-file, and refuses, leaving
// the target as it was: a live installation's directory, a directory
// holding an installation or anything else, a backup without its
// manifest or with a missing or altered file (also one whose manifest
// was rewritten to match), and a backup without the master key when
// none (or another installation's) is given. `signet backup` refuses a
// directory that is not empty.
func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	ts := servertest.StartEmbedded(t, func(*config.Config) {})
	jobID, signedKey, _ := signedOnNodes(t, ts, ts, ts, "refusals")
	dataDir := ts.Config().DataDir
	keyFile := filepath.Join(dataDir, "master.key")
	tmp := t.TempDir()
	signet := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := cli.Main(ctx, args, &out, &errb)
		return code, out.String() + errb.String()
	}
	plain, withKey := filepath.Join(tmp, "plain"), filepath.Join(tmp, "with-key")
	if code, out := signet("backup", plain, "--data-dir", dataDir); code != 0 {
		t.Fatalf("signet backup: exit %d: %s", code, out)
	}
	code, out := signet("backup", withKey, "--data-dir", dataDir, "--include-master-key")
	if code != 0 {
		t.Fatalf("signet backup --include-master-key: exit %d: %s", code, out)
	}
	if !strings.Contains(out, "holds the master key, which decrypts every secret") {
		t.Errorf("signet backup --include-master-key: no warning that the backup holds the key: %s", out)
	}
	for _, dest := range []string{plain, dataDir} {
		if code, out := signet("backup", dest, "--data-dir", dataDir); code == 0 || !strings.Contains(out, "not empty") {
			t.Errorf("signet backup into %s (not empty): exit %d: %s", dest, code, out)
		}
	}
	otherKey := filepath.Join(tmp, "other.key")
	if err := os.WriteFile(otherKey, []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A stopped installation's directory: a restore of the backup.
	occupied := filepath.Join(tmp, "occupied")
	if code, out := signet("restore", withKey, "--data-dir", occupied); code != 0 {
		t.Fatalf("signet restore: exit %d: %s", code, out)
	}
	notEmpty := filepath.Join(tmp, "not-empty")
	os.MkdirAll(notEmpty, 0o700)
	os.WriteFile(filepath.Join(notEmpty, "notes.txt"), []byte("mine"), 0o600)

	// damaged returns a copy of the backup changed by edit.
	n := 0
	damaged := func(edit func(dir string)) string {
		n++
		dir := filepath.Join(tmp, fmt.Sprintf("damaged-%d", n))
		copyTree(t, plain, dir)
		edit(dir)
		return dir
	}
	anObject := func(dir string) string {
		var p string
		filepath.WalkDir(filepath.Join(dir, "objects", "data"), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && p == "" {
				p = path
			}
			return nil
		})
		if p == "" {
			t.Fatal("the backup holds no object data")
		}
		return p
	}
	tests := map[string]struct {
		src, dir, key string
		want          string // in the output; "" for success
	}{
		"ok/master key given":              {src: plain, key: keyFile},
		"ok/master key in the backup":      {src: withKey},
		"ok/both, the same key":            {src: withKey, key: keyFile},
		"fail/no master key":               {src: plain, want: "does not hold the master key"},
		"fail/another master key":          {src: plain, key: otherKey, want: "not the installation's"},
		"fail/another key than the one in": {src: withKey, key: otherKey, want: "not the installation's"},
		"fail/live installation":           {src: withKey, dir: dataDir, want: "locked by pid"},
		"fail/installation there":          {src: withKey, dir: occupied, want: "holds an installation"},
		"fail/directory not empty":         {src: withKey, dir: notEmpty, want: "not empty"},
		"fail/no manifest": {src: damaged(func(d string) { os.Remove(filepath.Join(d, "signet-backup.json")) }), key: keyFile,
			want: "has no signet-backup.json"},
		"fail/manifest cut short": {src: damaged(func(d string) {
			b, _ := os.ReadFile(filepath.Join(d, "signet-backup.json"))
			os.WriteFile(filepath.Join(d, "signet-backup.json"), b[:len(b)/2], 0o600)
		}), key: keyFile, want: "manifest is not valid"},
		"fail/object missing": {src: damaged(func(d string) { os.Remove(anObject(d)) }), key: keyFile, want: "is missing"},
		"fail/object altered": {src: damaged(func(d string) {
			p := anObject(d)
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 1
			os.WriteFile(p, b, 0o600)
		}), key: keyFile, want: "differs from the manifest's checksum"},
		"fail/database altered": {src: damaged(func(d string) {
			f, _ := os.OpenFile(filepath.Join(d, "signet.db"), os.O_WRONLY, 0)
			f.WriteAt([]byte("x"), 5000)
			f.Close()
		}), key: keyFile, want: "signet.db differs"},
		"fail/database cut short": {src: damaged(func(d string) { os.Truncate(filepath.Join(d, "signet.db"), 4096) }), key: keyFile,
			want: "signet.db has 4096 bytes"},
		"fail/audit log missing": {src: damaged(func(d string) { os.Remove(filepath.Join(d, "audit.db")) }), key: keyFile, want: "audit.db is missing"},
		"fail/database altered, checksum recomputed": {src: damaged(func(d string) {
			f, _ := os.OpenFile(filepath.Join(d, "signet.db"), os.O_WRONLY, 0)
			f.WriteAt([]byte("x"), 5000)
			f.Close()
			rehash(t, d, "signet.db")
		}), key: keyFile, want: "altered after it was made, or was made under another master key"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := tc.dir
			if dir == "" {
				dir = filepath.Join(t.TempDir(), "restored")
			}
			live := dir == dataDir // its server may write its files meanwhile
			before := listTree(t, dir, !live)
			args := []string{"restore", tc.src, "--data-dir", dir}
			if tc.key != "" {
				args = append(args, "--master-key-file", tc.key)
			}
			code, out := signet(args...)
			if tc.want != "" {
				if code == 0 || !strings.Contains(out, tc.want) {
					t.Fatalf("signet restore: exit %d, want a refusal saying %q: %s", code, tc.want, out)
				}
				if after := listTree(t, dir, !live); after != before {
					t.Errorf("the refused restore changed %s:\nbefore:\n%s\nafter:\n%s", dir, before, after)
				}
				return
			}
			if code != 0 {
				t.Fatalf("signet restore: exit %d: %s", code, out)
			}
			if noted := strings.Contains(out, "authenticated with the master key it holds"); noted != (tc.key == "") {
				t.Errorf("signet restore with --master-key-file %q: a note that the backup was checked with its own key: %v, want %v: %s", tc.key, noted, tc.key == "", out)
			}
			got, _ := os.ReadFile(filepath.Join(dir, "master.key"))
			want, _ := os.ReadFile(keyFile)
			if !bytes.Equal(got, want) {
				t.Errorf("the restored master key differs from the installation's")
			}
			rs := servertest.StartEmbedded(t, func(c *config.Config) { c.DataDir = dir })
			d, err := rs.Signer().DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: aws.String(jobID)})
			if err != nil || aws.ToString(d.SignedObject.S3.Key) != signedKey {
				t.Errorf("the restored installation's signing job: %v", err)
			}
		})
	}
}

// rehash puts the size and SHA-256 of the backup's file name in its
// manifest, as someone who can write to the backup could.
func rehash(t *testing.T, dir, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	mb, err := os.ReadFile(filepath.Join(dir, "signet-backup.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range m["files"].([]any) {
		if e := f.(map[string]any); e["path"] == name {
			e["size"], e["sha256"], found = len(b), fmt.Sprintf("%x", sha256.Sum256(b)), true
		}
	}
	if !found {
		t.Fatalf("the manifest lists no %s", name)
	}
	if mb, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "signet-backup.json"), mb, 0o600); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// listTree lists the paths and modes under dir, and with sizes the
// files' sizes ("" when it does not exist).
func listTree(t *testing.T, dir string, sizes bool) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		size := fi.Size()
		if fi.IsDir() || !sizes {
			size = 0
		}
		fmt.Fprintf(&b, "%s %d %s\n", p, size, fi.Mode())
		return nil
	})
	return b.String()
}

// TestBackupHoldsDeletes: while a backup holds the backup lease, object
// data the server deletes (a function's replaced code) stays, so that a
// snapshot taken then can still copy it however busy the server is; once
// the lease ends the server deletes it. (Before, a backup under steady
// deployments could fail after its snapshots' data kept vanishing.)
func TestBackupHoldsDeletes(t *testing.T) {
	ts := servertest.Start(t)
	ctx := context.Background()
	lc := lambdaClient(ts)
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("held"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(ts.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: zipOf(t, helloZip)}}); err != nil {
		t.Fatal(err)
	}
	codeFiles := func() int {
		entries, _ := os.ReadDir(filepath.Join(ts.Config().DataDir, "objects", "functions", "held"))
		n := 0
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".attrs") {
				n++
			}
		}
		return n
	}
	if n := codeFiles(); n != 1 {
		t.Fatalf("%d code files, want 1", n)
	}
	if ok, err := ts.DB().AcquireLease(ctx, backup.DeleteHoldLease, "test-backup", time.Now(), time.Now().Add(10*time.Minute)); err != nil || !ok {
		t.Fatalf("backup lease: %v %v", ok, err)
	}
	// The server reads the lease at most a second old: deploy until a
	// replaced package is kept.
	version := 0
	waitUntil(t, 2*time.Minute, "a replaced package to be kept during the backup", func() bool {
		version++
		zip := zipOf(t, map[string]string{"lambda_function.py": fmt.Sprintf("def lambda_handler(e, c):\n    return %d\n", version)})
		if _, err := lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("held"), ZipFile: zip}); err != nil {
			t.Fatal(err)
		}
		return codeFiles() >= 2
	})
	if err := ts.DB().ReleaseLease(ctx, backup.DeleteHoldLease, "test-backup"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 2*time.Minute, "the kept packages to be deleted after the backup", func() bool { return codeFiles() == 1 })
}
