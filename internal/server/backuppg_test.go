package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/signet/signet/internal/cli"
	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/store/pgtest"
)

// TestBackupPostgresDumpRestore: an installation on PostgreSQL is backed
// up with PostgreSQL's own tools, as docs/backup.md says (signet backup
// refuses it and points there): pg_dump -Fc while the server runs, then
// the object data; pg_restore into a new database; a server on the
// restored database (the same master key, the copied objects) answers
// as the original did — a profile, a signing job and its signed object,
// a function deployed through a code signing config and its code, a
// secret, a SecureString — and `signet audit verify` finds the chain
// intact.
func TestBackupPostgresDumpRestore(t *testing.T) {
	var tools []string
	for _, name := range []string{"pg_dump", "pg_restore"} {
		p, err := exec.LookPath(name)
		if err != nil {
			if servertest.RequireAll() {
				t.Fatalf("needs %s (PostgreSQL's client tools; on Debian: apt-get install postgresql-client)", name)
			}
			t.Skipf("needs %s (PostgreSQL's client tools; on Debian: apt-get install postgresql-client)", name)
		}
		tools = append(tools, p)
	}
	pgDump, pgRestore := tools[0], tools[1]
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	tmp := t.TempDir()
	keyFile, objects := filepath.Join(tmp, "master.key"), filepath.Join(tmp, "objects")
	if _, _, err := keys.LoadOrCreateMasterKey(keyFile); err != nil {
		t.Fatal(err)
	}
	old := servertest.StartWith(t, func(c *config.Config) {
		c.DatabaseURL, c.MasterKeyFile, c.ObjectStoreURL = dsn, keyFile, "file://"+objects
	})
	admin := credentials.NewStaticCredentialsProvider(old.Creds.AccessKeyID, old.Creds.SecretAccessKey, "")
	jobID, signedKey, cscARN := signedOnNodes(t, old, old, old, "pg_backup")
	if _, err := lambdaClient(old).CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("pgfn"), Runtime: ltypes.RuntimePython312,
		Handler: aws.String("lambda_function.lambda_handler"), Role: aws.String(old.LambdaRole(t)), CodeSigningConfigArn: aws.String(cscARN),
		Code: &ltypes.FunctionCode{S3Bucket: aws.String("artifacts"), S3Key: aws.String(signedKey)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := smClient(old, admin).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db"), SecretString: aws.String(`{"password":"pg-s3cr3t"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ssmClient(old, admin).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/token"), Value: aws.String("pg-param"), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}

	answers := func(ts *servertest.Server) map[string]string {
		a := map[string]string{}
		admin := credentials.NewStaticCredentialsProvider(ts.Creds.AccessKeyID, ts.Creds.SecretAccessKey, "")
		put := func(k string, err error, f func() string) {
			if err != nil {
				a[k] = err.Error()
			} else {
				a[k] = f()
			}
		}
		p, err := ts.Signer().GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("pg_backup")})
		put("profile", err, func() string { return fmt.Sprint(aws.ToString(p.ProfileVersionArn), p.Status) })
		j, err := ts.Signer().DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: aws.String(jobID)})
		put("job", err, func() string { return fmt.Sprint(j.Status, aws.ToString(j.SignedObject.S3.Key), j.CompletedAt) })
		obj, err := ts.S3().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(signedKey)})
		put("signed object", err, func() string {
			b, _ := io.ReadAll(obj.Body)
			obj.Body.Close()
			return fmt.Sprintf("%x", sha256.Sum256(b))
		})
		f, err := lambdaClient(ts).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("pgfn")})
		put("function", err, func() string {
			return fmt.Sprint(aws.ToString(f.Configuration.CodeSha256), aws.ToString(f.Configuration.RevisionId))
		})
		c, err := lambdaClient(ts).GetFunctionCodeSigningConfig(ctx, &lambda.GetFunctionCodeSigningConfigInput{FunctionName: aws.String("pgfn")})
		put("function's config", err, func() string { return aws.ToString(c.CodeSigningConfigArn) })
		s, err := smClient(ts, admin).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("db")})
		put("secret", err, func() string { return fmt.Sprint(aws.ToString(s.SecretString), aws.ToString(s.VersionId)) })
		pv, err := ssmClient(ts, admin).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/token"), WithDecryption: aws.Bool(true)})
		put("parameter", err, func() string { return fmt.Sprint(aws.ToString(pv.Parameter.Value), pv.Parameter.Version) })
		return a
	}
	before := answers(old)
	for k, v := range before {
		if strings.Contains(v, "operation error") {
			t.Fatalf("before the backup, %s: %s", k, v)
		}
	}

	// signet backup refuses, naming pg_dump.
	cfgFile := filepath.Join(tmp, "signet.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf("database_url: %s\nmaster_key_file: %s\nobject_store_url: file://%s\n", dsn, keyFile, objects)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := cli.Main(ctx, []string{"backup", filepath.Join(tmp, "b"), "--config", cfgFile}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "pg_dump") {
		t.Errorf("signet backup of an installation on PostgreSQL: exit %d: %s", code, errb.String())
	}

	// The database while the server runs, then the objects (written
	// before the records that refer to them: all the dump's are there).
	dump := filepath.Join(tmp, "signet.dump")
	if b, err := exec.Command(pgDump, "-Fc", "-f", dump, "-d", dsn).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v: %s", err, b)
	}
	objCopy := filepath.Join(tmp, "objects-copy")
	copyTree(t, objects, objCopy)
	old.Stop()

	restored := pgtest.DSN(t)
	if b, err := exec.Command(pgRestore, "--no-owner", "--exit-on-error", "-d", restored, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v: %s", err, b)
	}
	rs := servertest.StartWith(t, func(c *config.Config) {
		c.DatabaseURL, c.MasterKeyFile, c.ObjectStoreURL = restored, keyFile, "file://"+objCopy
	})
	after := answers(rs)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: before the backup %q, after the restore %q", k, v, after[k])
		}
	}
	out.Reset()
	errb.Reset()
	if code := cli.Main(ctx, []string{"audit", "verify", "--database-url", restored, "--master-key-file", keyFile}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "intact") {
		t.Errorf("signet audit verify on the restored database: exit %d: %s%s", code, out.String(), errb.String())
	}
}
