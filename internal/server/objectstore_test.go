package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/objects/s3test"
	"github.com/signet/signet/internal/objects/sweep"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/server/servertest"
)

// TestS3CompatibleObjectStore runs a server whose object data lives in an
// S3-compatible store — another Signet's S3 API, versitygw and MinIO —
// reached through gocloud.dev's s3blob: it signs a package through it,
// and its own S3 API shows the same versioning semantics as on local
// files (versions, delete markers, reads of a version, multipart
// uploads), with the data in the store and nothing of it in the
// data directory.
func TestS3CompatibleObjectStore(t *testing.T) {
	backends := []struct {
		name  string
		start func(*testing.T) (url string, list func() []string)
	}{
		{"signet", func(t *testing.T) (string, func() []string) {
			backend := servertest.Start(t)
			ctx := context.Background()
			if _, err := backend.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("signet-data")}); err != nil {
				t.Fatal(err)
			}
			t.Setenv("AWS_ACCESS_KEY_ID", backend.Creds.AccessKeyID)
			t.Setenv("AWS_SECRET_ACCESS_KEY", backend.Creds.SecretAccessKey)
			return "s3://signet-data?endpoint=" + backend.URL + "&region=us-east-1&use_path_style=true", func() []string {
				return listKeys(t, backend.S3(), "signet-data")
			}
		}},
	}
	for _, k := range s3test.Kinds {
		backends = append(backends, struct {
			name  string
			start func(*testing.T) (string, func() []string)
		}{k.Name, func(t *testing.T) (string, func() []string) {
			st := k.Start(t)
			return st.URL(), func() []string { return listKeys(t, st.Client(), st.Bucket) }
		}})
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
			t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
			url, backendKeys := b.start(t)
			front := servertest.StartWith(t, func(c *config.Config) { c.ObjectStoreURL = url })

			e := &jobEnv{ts: front, s3: front.S3(), signer: front.Signer()}
			e.setup(t)
			ver := e.put(t, "artifacts", "hello.zip", zipOf(t, helloZip))
			id, err := e.start(t, "hello.zip", ver, "signing_profile_for_lambda", "remote")
			if err != nil {
				t.Fatal(err)
			}
			if d := e.wait(t, id); d.Status != "Succeeded" {
				t.Fatalf("job %s: %s %s", id, d.Status, aws.ToString(d.StatusReason))
			}
			if _, err := e.get(t, "artifacts", "signed-"+id+".zip"); err != nil {
				t.Fatal(err)
			}
			keys := backendKeys()
			if len(keys) != 3 || !strings.HasPrefix(keys[0], "data/artifacts/") || keys[2] != server.InstallationMarker {
				t.Errorf("the backend holds %v, want the source and the signed package under data/artifacts/, and the installation marker", keys)
			}
			versioningSemantics(t, front.S3())
		})
	}
}

func listKeys(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	list, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// versioningSemantics checks what Signet's S3 API shows of versions,
// whatever store holds the data.
func versioningSemantics(t *testing.T, c *s3.Client) {
	t.Helper()
	ctx := context.Background()
	bucket := aws.String("semantics")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bucket,
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	get := func(key, version string) (string, error) {
		in := &s3.GetObjectInput{Bucket: bucket, Key: aws.String(key)}
		if version != "" {
			in.VersionId = aws.String(version)
		}
		out, err := c.GetObject(ctx, in)
		if err != nil {
			return "", err
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		return string(b), err
	}
	var ids []string
	for _, body := range []string{"first", "second"} {
		out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("k"), Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.VersionId))
	}
	if got, err := get("k", ""); err != nil || got != "second" {
		t.Errorf("latest = %q, %v", got, err)
	}
	if got, err := get("k", ids[0]); err != nil || got != "first" {
		t.Errorf("version %s = %q, %v", ids[0], got, err)
	}
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String("k")})
	if err != nil || !aws.ToBool(del.DeleteMarker) {
		t.Fatalf("DeleteObject = %+v, %v", del, err)
	}
	var nsk *s3types.NoSuchKey
	if _, err := get("k", ""); !errors.As(err, &nsk) {
		t.Errorf("after the delete marker: %v, want NoSuchKey", err)
	}
	if got, err := get("k", ids[1]); err != nil || got != "second" {
		t.Errorf("version %s after the delete marker = %q, %v", ids[1], got, err)
	}
	vs, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: bucket})
	if err != nil || len(vs.Versions) != 2 || len(vs.DeleteMarkers) != 1 || !aws.ToBool(vs.DeleteMarkers[0].IsLatest) {
		t.Errorf("ListObjectVersions = %d versions, %d markers, %v", len(vs.Versions), len(vs.DeleteMarkers), err)
	}
	// Multipart: two parts (the first at S3's 5 MiB minimum).
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{bytes.Repeat([]byte("a"), 5<<20), []byte("tail")}
	var done []s3types.CompletedPart
	for i, p := range parts {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: aws.String("big"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, s3types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String("big"), UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	if got, err := get("big", ""); err != nil || got != string(parts[0])+string(parts[1]) {
		t.Errorf("multipart object: %d bytes, %v", len(got), err)
	}
}

// TestObjectStoreOfAnotherInstallation: an installation does not start on
// an object store that holds another installation's data (its hourly
// sweep would delete that data, which its own metadata does not refer
// to); a prefix of its own in the same bucket is fine.
func TestObjectStoreOfAnotherInstallation(t *testing.T) {
	backend := servertest.Start(t)
	ctx := context.Background()
	if _, err := backend.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", backend.Creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", backend.Creds.SecretAccessKey)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	url := "s3://shared?endpoint=" + backend.URL + "&region=us-east-1&use_path_style=true"
	first := servertest.StartWith(t, func(c *config.Config) { c.ObjectStoreURL = url })
	cfg := config.Defaults()
	cfg.DataDir, cfg.Listen, cfg.ObjectStoreURL = t.TempDir(), "127.0.0.1:0", url
	srv, err := server.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		srv.Close()
		t.Fatal("a second installation opened on the first one's object store")
	}
	if !errors.Is(err, server.ErrStoreOfAnother) || !strings.Contains(err.Error(), "prefix of its own") {
		t.Errorf("Open = %v", err)
	}
	second := servertest.StartWith(t, func(c *config.Config) { c.ObjectStoreURL = url + "&prefix=second/" })
	// The first one's sweep lists the whole bucket, the second's data
	// included, which its metadata does not refer to: it stops before
	// moving anything.
	if _, err := second.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bucket-two")}); err != nil {
		t.Fatal(err)
	}
	if _, err := second.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket-two"), Key: aws.String("k"), Body: strings.NewReader("second's")}); err != nil {
		t.Fatal(err)
	}
	if _, err := first.SweepObjects(ctx, 0, false); !errors.Is(err, sweep.ErrForeignInstallation) {
		t.Errorf("the first installation's sweep = %v, want ErrForeignInstallation", err)
	}
	got, err := second.S3().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket-two"), Key: aws.String("k")})
	if err != nil {
		t.Fatalf("the second installation's object after the first one's sweep: %v", err)
	}
	got.Body.Close()
}
