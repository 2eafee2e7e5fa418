package server_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/signer"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/server"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/store/pgtest"
)

// TestNodesStartTogether: three nodes started at once on an empty
// PostgreSQL database make one installation (one account, one root, one
// bootstrap key), which each node then serves. A node given another
// master key, or none on an installation that has one, refuses to start
// and says why.
func TestNodesStartTogether(t *testing.T) {
	dsn := pgtest.DSN(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	nodeConfig := func(name, key string) config.Config {
		cfg := config.Defaults()
		cfg.DataDir, cfg.Listen, cfg.DatabaseURL, cfg.MasterKeyFile = filepath.Join(dir, name), "127.0.0.1:0", dsn, key
		return cfg
	}
	// The operator gives every node the same master key.
	if _, _, err := keys.LoadOrCreateMasterKey(keyFile); err != nil {
		t.Fatal(err)
	}
	open := func(cfg config.Config) (*server.Server, error) {
		return server.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	var wg sync.WaitGroup
	nodes := make([]*server.Server, 3)
	errs := make([]error, 3)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = open(nodeConfig("node"+string(rune('a'+i)), keyFile))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer nodes[i].Close()
	}
	creds := map[string]bool{}
	for _, n := range nodes {
		if n.AccountID() != nodes[0].AccountID() {
			t.Errorf("nodes serve accounts %s and %s", nodes[0].AccountID(), n.AccountID())
		}
		b, err := os.ReadFile(n.CredentialsPath())
		if err != nil {
			t.Fatal(err)
		}
		var key []string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "aws_") {
				key = append(key, line)
			}
		}
		creds[strings.Join(key, "\n")] = true
	}
	if len(creds) != 1 {
		t.Errorf("the nodes wrote %d different bootstrap credentials", len(creds))
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var bootstrap, roots int
	db.QueryRow(`SELECT COUNT(*) FROM access_keys WHERE principal_arn LIKE '%:root'`).Scan(&bootstrap)
	db.QueryRow(`SELECT COUNT(*) FROM installation WHERE key = 'root_cert'`).Scan(&roots)
	if bootstrap != 1 || roots != 1 {
		t.Errorf("%d bootstrap keys and %d roots, want one each", bootstrap, roots)
	}

	// Another master key, and none.
	other := filepath.Join(dir, "other.key")
	if _, _, err := keys.LoadOrCreateMasterKey(other); err != nil {
		t.Fatal(err)
	}
	if n, err := open(nodeConfig("other", other)); err == nil {
		n.Close()
		t.Error("a node with a master key of its own joined the installation")
	} else if !strings.Contains(err.Error(), "is not the one this installation's secrets are sealed under") {
		t.Errorf("a node with another master key: %v", err)
	}
	if n, err := open(nodeConfig("none", filepath.Join(dir, "missing", "master.key"))); err == nil {
		n.Close()
		t.Error("a node without the master key joined the installation")
	} else if !strings.Contains(err.Error(), "initialised by another node") {
		t.Errorf("a node without a master key: %v", err)
	}
}

// TestNodesShareChanges: two nodes on one database. A user's access key
// and policy, used through node B (which caches both), stop working
// there once node A deletes them, without a restart: A tells B
// (PostgreSQL NOTIFY), and B would read them again within cacheMaxAge
// anyway.
func TestNodesShareChanges(t *testing.T) {
	dsn := pgtest.DSN(t)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if _, _, err := keys.LoadOrCreateMasterKey(keyFile); err != nil {
		t.Fatal(err)
	}
	node := func() *servertest.Server {
		return servertest.StartWith(t, func(c *config.Config) { c.DatabaseURL, c.MasterKeyFile = dsn, keyFile })
	}
	a, b := node(), node()
	if a.AccountID() != b.AccountID() {
		t.Fatalf("nodes serve accounts %s and %s", a.AccountID(), b.AccountID())
	}
	ctx := context.Background()
	admin := clientsOf(a, a.Creds.AccessKeyID, a.Creds.SecretAccessKey, "")
	if _, err := admin.iam.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.iam.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("list"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:ListUsers","iam:ListRoles"],"Resource":"*"}}`)}); err != nil {
		t.Fatal(err)
	}
	k1, err := admin.iam.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String("dev")})
	if err != nil {
		t.Fatal(err)
	}
	k2, err := admin.iam.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String("dev")})
	if err != nil {
		t.Fatal(err)
	}
	viaB := func(k *awsiam.CreateAccessKeyOutput) principal {
		return clientsOf(b, *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey, "")
	}
	// B serves (and caches) both keys and the user's policy.
	for _, k := range []*awsiam.CreateAccessKeyOutput{k1, k2} {
		if _, err := viaB(k).iam.ListUsers(ctx, &awsiam.ListUsersInput{}); err != nil {
			t.Fatalf("ListUsers through node B: %v", err)
		}
	}
	// A deletes the first key: B refuses it.
	if _, err := admin.iam.DeleteAccessKey(ctx, &awsiam.DeleteAccessKeyInput{UserName: aws.String("dev"), AccessKeyId: k1.AccessKey.AccessKeyId}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "node B to refuse the key node A deleted", func() bool {
		_, err := viaB(k1).iam.ListUsers(ctx, &awsiam.ListUsersInput{})
		return apiCode(err) == "InvalidClientTokenId"
	})
	// A takes iam:ListUsers away: B refuses it and still allows the rest.
	if _, err := admin.iam.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("list"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}}`)}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "node B to apply the policy node A changed", func() bool {
		_, err := viaB(k2).iam.ListUsers(ctx, &awsiam.ListUsersInput{})
		return apiCode(err) == "AccessDenied"
	})
	if _, err := viaB(k2).iam.ListRoles(ctx, &awsiam.ListRolesInput{}); err != nil {
		t.Errorf("ListRoles through node B after the change: %v", err)
	}
}

// TestNodesShareRateLimits: nodes sharing a database count each other by
// their heartbeats and divide the rate limits among them, so a burst
// spread over two nodes gets the configured burst in all (not twice it);
// when one node is gone, the other has the whole limit again. The
// limiter's clock is the test's.
func TestNodesShareRateLimits(t *testing.T) {
	dsn := pgtest.DSN(t)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if _, _, err := keys.LoadOrCreateMasterKey(keyFile); err != nil {
		t.Fatal(err)
	}
	var clk clock
	clk.Set(time.Now())
	node := func() *servertest.Server {
		return servertest.StartWithConfigAndClock(t, func(c *config.Config) {
			c.DatabaseURL, c.MasterKeyFile = dsn, keyFile
			c.RateLimits = config.RateLimits{Rate: 100, Burst: 100, Actions: map[string]config.RateLimit{"signer:GetSigningPlatform": {Rate: 8, Burst: 4}}}
		}, clk.Now)
	}
	a, b := node(), node()
	ctx := context.Background()
	a.Heartbeat(ctx) // b started after a's first count
	if a.LiveNodes() != 2 || b.LiveNodes() != 2 {
		t.Fatalf("live nodes: A counts %d, B %d; want 2", a.LiveNodes(), b.LiveNodes())
	}
	viaA := userClient(t, a, "reader", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"signer:*","Resource":"*"}}`)
	creds := viaA.Options().Credentials
	viaB := signer.New(signer.Options{Region: "us-east-1", BaseEndpoint: aws.String(b.URL), Credentials: creds})
	in := &signer.GetSigningPlatformInput{PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}
	noRetry := func(o *signer.Options) { o.RetryMaxAttempts = 1 }
	burst := func(clients ...*signer.Client) (passed int) {
		t.Helper()
		for i := range 20 {
			_, err := clients[i%len(clients)].GetSigningPlatform(ctx, in, noRetry)
			switch {
			case err == nil:
				passed++
			case apiCode(err) != "ThrottlingException":
				t.Fatal(err)
			}
		}
		return passed
	}
	// A burst of 20 at one instant, alternating between the nodes: the
	// limit's burst of 4 in all.
	if n := burst(viaA, viaB); n != 4 {
		t.Errorf("a burst over two nodes at a limit of 8/s (burst 4): %d passed, want 4", n)
	}
	// B is gone; once its heartbeat is older than the window, A has the
	// whole limit.
	b.Stop()
	clk.Set(clk.Now().Add(time.Minute))
	a.Heartbeat(ctx)
	if a.LiveNodes() != 1 {
		t.Fatalf("A counts %d live nodes after B stopped, want 1", a.LiveNodes())
	}
	if n := burst(viaA); n != 4 {
		t.Errorf("a burst on the only node left: %d passed, want 4", n)
	}
}
