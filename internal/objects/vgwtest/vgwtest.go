// Package vgwtest gives a test an S3-compatible object store of its own:
// versitygw (posix backend, object versioning on) started from the
// binary the environment variable SIGNET_VERSITYGW names, on a free
// loopback port, with one empty bucket; stopped when the test ends.
// ./scripts/test builds the binary. Without the variable a test skips,
// naming versitygw, unless SIGNET_REQUIRE_ALL=1 makes it fail.
package vgwtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Env names the versitygw binary.
const Env = "SIGNET_VERSITYGW"

// Access keys of the store.
const (
	AccessKey = "signettest"
	SecretKey = "signettestsecret123"
)

// Store is a running versitygw with a bucket.
type Store struct {
	Endpoint string // http://127.0.0.1:PORT
	Bucket   string
}

// URL is the gocloud.dev blob URL of the bucket (object_store_url);
// the credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
// which Start sets for the test.
func (s Store) URL() string {
	return fmt.Sprintf("s3://%s?endpoint=%s&region=us-east-1&use_path_style=true", s.Bucket, s.Endpoint)
}

// Start runs versitygw for t and creates a bucket in it.
func Start(t *testing.T) Store {
	t.Helper()
	bin := os.Getenv(Env)
	if bin == "" {
		if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
			t.Fatalf("needs versitygw: set %s to its binary (./scripts/test builds it)", Env)
		}
		t.Skipf("needs versitygw: set %s to its binary (./scripts/test builds it)", Env)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	root, versions := filepath.Join(dir, "root"), filepath.Join(dir, "versions")
	os.MkdirAll(root, 0o700)
	os.MkdirAll(versions, 0o700)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--port", addr, "--access", AccessKey, "--secret", SecretKey,
		"posix", "--versioning-dir", versions, root)
	log, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("failed to start versitygw: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("versitygw's log:\n%s", b)
		}
	})
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	s := Store{Endpoint: "http://" + addr, Bucket: "signet-objects"}
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, "")})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw at %s did not take a bucket: %v", addr, err)
		}
		if resp, herr := http.Get(s.Endpoint); herr == nil {
			resp.Body.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}
