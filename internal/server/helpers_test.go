package server

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"

	"github.com/signet/signet/internal/config"
)

type testServer struct {
	*Server
	URL   string
	Creds aws.Credentials
}

// start runs a server on a fresh data directory (or dir, if given).
func start(t testing.TB, dir string) *testServer {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.Listen = l.Addr().String()
	srv, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	return &testServer{Server: srv, URL: "http://" + l.Addr().String(), Creds: readCredentials(t, srv.CredentialsPath())}
}

func readCredentials(t testing.TB, path string) aws.Credentials {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c aws.Credentials
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " = ")
		if !ok {
			continue
		}
		switch k {
		case "aws_access_key_id":
			c.AccessKeyID = v
		case "aws_secret_access_key":
			c.SecretAccessKey = v
		}
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		t.Fatalf("credentials file %s lacks a key", path)
	}
	return c
}

// client returns an aws-sdk-go-v2 Signer client for the server.
func (ts *testServer) client(opts ...func(*signer.Options)) *signer.Client {
	cfg := aws.Config{Region: "us-east-1", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return ts.Creds, nil })}
	return signer.NewFromConfig(cfg, append([]func(*signer.Options){func(o *signer.Options) {
		o.BaseEndpoint = aws.String(ts.URL)
		o.Retryer = aws.NopRetryer{}
	}}, opts...)...)
}
