package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/server/servertest"
)

// TestS3CompatibleObjectStore runs a server whose object data lives in an
// S3-compatible store (another Signet's S3 API, reached through
// gocloud.dev's s3blob), and signs a package through it.
func TestS3CompatibleObjectStore(t *testing.T) {
	backend := servertest.Start(t)
	ctx := context.Background()
	if _, err := backend.S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("signet-data")}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", backend.Creds.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", backend.Creds.SecretAccessKey)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	url := "s3://signet-data?endpoint=" + backend.URL + "&region=us-east-1&use_path_style=true"
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
	list, err := backend.S3().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("signet-data")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if len(keys) != 2 || !strings.HasPrefix(keys[0], "data/artifacts/") {
		t.Errorf("the backend holds %v, want the source and the signed package under data/artifacts/", keys)
	}
}
