package cli_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/server/servertest"
)

// TestStoreGC: signet store gc deletes the object data nothing refers to
// and older than the grace period — what a process killed between
// writing data and recording it leaves — and nothing else: referenced
// data stays readable, younger strays stay, a dry run deletes nothing.
func TestStoreGC(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	if _, err := srv.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("keep")}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("keep"), Key: aws.String("k"), Body: strings.NewReader("kept")}); err != nil {
		t.Fatal(err)
	}
	dir := srv.Config().DataDir
	stray := func(name string, age time.Duration) string {
		p := filepath.Join(dir, "objects", "data", "keep", name)
		if err := os.WriteFile(p, []byte("left behind"), 0o600); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-age)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old, young := stray("OLDSTRAY", 2*time.Hour), stray("YOUNGSTRAY", time.Minute)
	gc := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cli.Main(ctx, append([]string{"store", "gc", "--data-dir", dir}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, stderr := gc("--dry-run"); code != 0 || !strings.Contains(out, "would move to the trash: data/keep/OLDSTRAY") || strings.Contains(out, "YOUNGSTRAY") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("the dry run deleted: %v", err)
	}
	code, out, stderr := gc()
	if code != 0 || !strings.Contains(out, "moved to the trash: data/keep/OLDSTRAY (now trash/data/keep/OLDSTRAY)") || !strings.Contains(out, "1 unreferenced but younger than 1h0m0s, 0 outside Signet's namespaces, 1 moved to the trash") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the old stray is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "objects", "trash", "data", "keep", "OLDSTRAY")); err != nil {
		t.Errorf("the old stray is not in the trash: %v", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("the young stray went: %v", err)
	}
	got, err := srv.S3().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("keep"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if string(b) != "kept" {
		t.Errorf("the referenced object reads %q", b)
	}
	// A store that records another installation is not swept.
	if err := os.WriteFile(filepath.Join(dir, "objects", "signet-installation"), []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := gc(); code != 1 || !strings.Contains(stderr, "holds another installation's data") {
		t.Errorf("a store of another installation: exit %d\n%s%s", code, out, stderr)
	}
	if code, _, stderr := gc("--grace", "10s"); code == 0 || !strings.Contains(stderr, "could delete data a running node wrote") {
		t.Errorf("a grace under a minute without --force: exit %d %s", code, stderr)
	}
	for _, args := range [][]string{{"store", "gc"}, {"store", "gc", "--data-dir", dir, "--database-url", "postgres://x"}, {"store", "gc", "--database-url", "postgres://x"}} {
		var out, errb bytes.Buffer
		if code := cli.Main(ctx, args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "store gc takes --data-dir DIR") {
			t.Errorf("%v: exit %d %s", args, code, errb.String())
		}
	}
}
