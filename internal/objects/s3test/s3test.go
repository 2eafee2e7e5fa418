// Package s3test gives a test an S3-compatible object store of its own,
// one of the stores Signet's object_store_url is tested against:
// versitygw (posix backend, object versioning on) or MinIO, started from
// the binary an environment variable names (SIGNET_VERSITYGW,
// SIGNET_MINIO) on free loopback ports, with one empty bucket; stopped
// when the test ends. ./scripts/test builds both binaries. Without the
// variable a test skips, naming the store, unless SIGNET_REQUIRE_ALL=1
// makes it fail.
package s3test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Environment variables naming the binaries.
const (
	VersityGWEnv = "SIGNET_VERSITYGW"
	MinIOEnv     = "SIGNET_MINIO"
)

// Access keys of every store started here.
const (
	AccessKey = "signettest"
	SecretKey = "signettestsecret123"
)

// Store is a running S3-compatible store with a bucket.
type Store struct {
	Name     string // versitygw or minio
	Endpoint string // http://127.0.0.1:PORT
	Bucket   string
}

// URL is the gocloud.dev blob URL of the bucket (object_store_url);
// the credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
// which the start functions set for the test.
func (s Store) URL() string {
	return fmt.Sprintf("s3://%s?endpoint=%s&region=us-east-1&use_path_style=true", s.Bucket, s.Endpoint)
}

// Client is an S3 client of the store itself.
func (s Store) Client() *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, "")})
}

// Kinds are the stores, by name, for tests run against each.
var Kinds = []struct {
	Name  string
	Start func(*testing.T) Store
}{{"versitygw", VersityGW}, {"minio", MinIO}}

// VersityGW runs versitygw for t and creates a bucket in it.
func VersityGW(t *testing.T) Store {
	t.Helper()
	bin := binary(t, VersityGWEnv, "versitygw")
	dir := t.TempDir()
	root, versions := filepath.Join(dir, "root"), filepath.Join(dir, "versions")
	os.MkdirAll(root, 0o700)
	os.MkdirAll(versions, 0o700)
	addr := freeAddr(t)
	return start(t, "versitygw", addr, dir, nil, bin, "--port", addr, "--access", AccessKey, "--secret", SecretKey,
		"posix", "--versioning-dir", versions, root)
}

// MinIO runs a single-drive MinIO server for t and creates a bucket in
// it. (MinIO is AGPL: Signet only talks to it over S3, as a separate
// program.)
func MinIO(t *testing.T) Store {
	t.Helper()
	bin := binary(t, MinIOEnv, "minio")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	addr := freeAddr(t)
	env := []string{"MINIO_ROOT_USER=" + AccessKey, "MINIO_ROOT_PASSWORD=" + SecretKey, "MINIO_BROWSER=off",
		"MINIO_UPDATE=off", "MINIO_CONFIG_ENV_FILE=" + filepath.Join(dir, "none"), "HOME=" + dir}
	return start(t, "minio", addr, dir, env, bin, "server", data, "--address", addr, "--console-address", freeAddr(t), "--quiet")
}

func binary(t *testing.T, env, name string) string {
	t.Helper()
	bin := os.Getenv(env)
	if bin == "" {
		if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
			t.Fatalf("needs %s: set %s to its binary (./scripts/test builds it)", name, env)
		}
		t.Skipf("needs %s: set %s to its binary (./scripts/test builds it)", name, env)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs the store's command, logging to dir, and waits (with a
// deadline, not a pause) until it takes a bucket.
func start(t *testing.T, name, addr, dir string, env []string, bin string, args ...string) Store {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	if env != nil {
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	}
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("failed to start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s's log:\n%s", name, b)
		}
	})
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	s := Store{Name: name, Endpoint: "http://" + addr, Bucket: "signet-objects"}
	c := s.Client()
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)})
		if err == nil {
			return s
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("%s exited before serving:\n%s", name, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s at %s did not take a bucket: %v", name, addr, err)
		}
	}
}
