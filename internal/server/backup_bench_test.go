package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/signing"
)

// BenchmarkBackup times `signet backup` of an embedded installation
// holding SIGNET_BENCH_BACKUP_JOBS signing jobs (10,000 by default), each
// with a signed object, SIGNET_BENCH_BACKUP_MB of object data in all
// (1024 by default), against `cp -r` of the same data directory in the
// same run (SIGNET_BENCH_BACKUP_ROUNDS rounds, 3 by default, each
// command first in every other round), while the server is open on it
// (idle). The jobs and objects
// are written through the store and the object service, not the API
// (10,000 jobs through the API take minutes). It runs only when
// SIGNET_BENCH_BACKUP=1, under TMPDIR (it needs three times the data):
//
//	SIGNET_BENCH_BACKUP=1 go test ./internal/server -run '^$' -bench BenchmarkBackup -benchtime 1x
func BenchmarkBackup(b *testing.B) {
	if os.Getenv("SIGNET_BENCH_BACKUP") != "1" {
		b.Skip("set SIGNET_BENCH_BACKUP=1 to run (it writes about 3 GB under TMPDIR)")
	}
	jobs, mb := envInt(b, "SIGNET_BENCH_BACKUP_JOBS", 10000), envInt(b, "SIGNET_BENCH_BACKUP_MB", 1024)
	rounds := envInt(b, "SIGNET_BENCH_BACKUP_ROUNDS", 3)
	ctx := context.Background()
	root, err := os.MkdirTemp("", "signet-bench-backup-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(root)
	data := filepath.Join(root, "data")
	cfg := config.Defaults()
	cfg.DataDir, cfg.Listen = data, "127.0.0.1:0"
	srv, err := server.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Objects.CreateBucket(ctx, "artifacts"); err != nil {
		b.Fatal(err)
	}
	size := int64(mb) << 20 / int64(jobs)
	body := make([]byte, size)
	start := time.Now()
	for range jobs {
		rand.Read(body)
		id := uuid.NewString()
		key := "signed/" + id + ".zip"
		if _, err := srv.Objects.Put(ctx, "artifacts", key, bytes.NewReader(body), "application/zip"); err != nil {
			b.Fatal(err)
		}
		now := time.Now().UTC()
		if _, _, err := srv.DB().Signing.CreateJob(ctx, signing.Job{ID: id, ClientRequestToken: id, Kind: "package", ProfileName: "bench", ProfileVersion: "ABCDEFGHIJ",
			PlatformID: "AWSLambda-SHA384-ECDSA", SourceBucket: "artifacts", SourceKey: "src.zip", SourceVersion: "v", DestBucket: "artifacts", DestPrefix: "signed/",
			SignedBucket: "artifacts", SignedKey: key, Status: signing.JobSucceeded, CreatedAt: now, CompletedAt: now, SignatureExpiresAt: now.AddDate(1, 0, 0),
			RequestedBy: "arn:aws:iam::123456789012:root", Owner: "123456789012", Invoker: "123456789012", Attempts: 1}); err != nil {
			b.Fatal(err)
		}
	}
	du, _ := exec.Command("du", "-sh", data).Output()
	b.Logf("generated %d jobs and %d objects of %d bytes in %s; data directory: %s", jobs, jobs, size, time.Since(start).Round(time.Second), bytes.TrimSpace(du))

	var cpTime, cpSyncTime, backupTime time.Duration
	// Each step starts with nothing left to write back from the one
	// before (untimed), so that a step's sync flushes only its own data.
	settle := func() {
		b.StopTimer()
		exec.Command("sync").Run()
		b.StartTimer()
	}
	b.ResetTimer()
	for i := range rounds {
		// The order reversed every other round: no step always finds the
		// page cache warmed by another.
		steps := []func(){
			func() {
				dst := filepath.Join(root, fmt.Sprintf("cp-%d", i))
				t0 := time.Now()
				if out, err := exec.Command("cp", "-r", data, dst).CombinedOutput(); err != nil {
					b.Fatalf("cp -r: %v: %s", err, out)
				}
				cpTime += time.Since(t0)
				os.RemoveAll(dst)
			},
			func() {
				// cp -r made as durable as the backup: its file system
				// synced once at the end (syncfs, as signet backup does).
				dst := filepath.Join(root, fmt.Sprintf("cpsync-%d", i))
				t0 := time.Now()
				if out, err := exec.Command("cp", "-r", data, dst).CombinedOutput(); err != nil {
					b.Fatalf("cp -r: %v: %s", err, out)
				}
				if out, err := exec.Command("sync", "-f", dst).CombinedOutput(); err != nil {
					b.Fatalf("sync -f: %v: %s", err, out)
				}
				cpSyncTime += time.Since(t0)
				os.RemoveAll(dst)
			},
			func() {
				dst := filepath.Join(root, fmt.Sprintf("backup-%d", i))
				var out bytes.Buffer
				t0 := time.Now()
				if code := cli.Main(ctx, []string{"backup", dst, "--data-dir", data}, &out, &out); code != 0 {
					b.Fatalf("signet backup: exit %d: %s", code, out.String())
				}
				backupTime += time.Since(t0)
				if i == 0 {
					b.Logf("%s", bytes.TrimSpace(out.Bytes()))
				}
				os.RemoveAll(dst)
			},
		}
		if i%2 == 1 {
			slices.Reverse(steps)
		}
		for _, s := range steps {
			settle()
			s()
		}
	}
	b.StopTimer()
	b.ReportMetric(cpTime.Seconds()/float64(rounds), "cp-s/round")
	b.ReportMetric(backupTime.Seconds()/float64(rounds), "backup-s/round")
	b.ReportMetric(cpSyncTime.Seconds()/float64(rounds), "cp+sync-s/round")
	b.ReportMetric(backupTime.Seconds()/cpTime.Seconds(), "backup/cp")
	b.ReportMetric(backupTime.Seconds()/cpSyncTime.Seconds(), "backup/cp+sync")
}

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
