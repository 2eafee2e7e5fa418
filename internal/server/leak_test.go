package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

// leakServer is a server whose every sink a secret could reach is
// known: its data directory (databases, WAL, audit log), a separate
// object store directory, its log at Debug, and the responses of
// clients made with recorder.
type leakServer struct {
	*servertest.Server
	objects  string
	recorder *recordingClient
}

func startLeakServer(t *testing.T) *leakServer {
	t.Helper()
	objects := t.TempDir()
	ts := servertest.StartWithLogLevel(t, slog.LevelDebug, func(c *config.Config) { c.ObjectStoreURL = "file://" + objects })
	return &leakServer{Server: ts, objects: objects, recorder: &recordingClient{}}
}

// recordingClient is an HTTP client that keeps every response body.
type recordingClient struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (c *recordingClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.bodies = append(c.bodies, b)
	c.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

func (c *recordingClient) all() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.bodies...)
}

// randomValues returns n random secrets: 32 random bytes each, in hex.
func randomValues(t *testing.T, n int) [][]byte {
	t.Helper()
	values := make([][]byte, n)
	for i := range values {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		values[i] = []byte(hex.EncodeToString(b))
	}
	return values
}

// needles finds any of many secrets, in clear or base64, in a text with
// one pass: a window of the first 16 bytes of each form is looked up in
// a map, and a hit is then compared whole.
type needles struct {
	byPrefix map[string][][]byte
	index    map[string]int // form → the value it encodes
}

const needlePrefix = 16

func newNeedles(values [][]byte) *needles {
	n := &needles{byPrefix: map[string][][]byte{}, index: map[string]int{}}
	for i, v := range values {
		for _, enc := range [][]byte{v, []byte(base64.StdEncoding.EncodeToString(v)), []byte(base64.RawURLEncoding.EncodeToString(v))} {
			if _, dup := n.index[string(enc)]; dup {
				continue
			}
			n.byPrefix[string(enc[:needlePrefix])] = append(n.byPrefix[string(enc[:needlePrefix])], enc)
			n.index[string(enc)] = i
		}
	}
	return n
}

// find returns the indexes of the secrets text holds, in any form.
func (n *needles) find(text []byte) []int {
	seen := map[int]bool{}
	var found []int
	for i := 0; i+needlePrefix <= len(text); i++ {
		cands, ok := n.byPrefix[string(text[i:i+needlePrefix])]
		if !ok {
			continue
		}
		for _, c := range cands {
			if v := n.index[string(c)]; bytes.HasPrefix(text[i:], c) && !seen[v] {
				seen[v] = true
				found = append(found, v)
			}
		}
	}
	return found
}

// assertNoLeak checks that none of values, in clear or base64, is in any
// sink of the server: every file of its data directory (the SQLite
// databases with their WAL, the audit log), every file of its object
// store, its Debug log, and every response its recorder kept (the
// responses to principals that may not decrypt). Secrets Manager's
// test calls it the same way.
func assertNoLeak(t *testing.T, ls *leakServer, values [][]byte) {
	t.Helper()
	n := newNeedles(values)
	check := func(sink string, text []byte) {
		t.Helper()
		if found := n.find(text); len(found) > 0 {
			t.Errorf("%s holds %d of the secrets, such as value %d", sink, len(found), found[0])
		}
	}
	scanned := map[string]bool{}
	for _, dir := range []string{ls.Config().DataDir, ls.objects} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			scanned[filepath.Base(path)] = true
			check(path, b)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The sinks that must exist for the check to mean anything: the
	// databases' files, or with PostgreSQL its tables.
	must := []string{"signet.db", "audit.db"}
	if ls.Config().DatabaseURL != "" {
		must = []string{"table installation", "table audit_events", "table access_keys"}
		for sink, b := range ls.DatabaseContent(t) {
			scanned[sink] = len(b) > 0
			check(sink, b)
		}
	}
	for _, f := range must {
		if !scanned[f] {
			t.Errorf("%s was not found or empty: the check did not read it", f)
		}
	}
	log := ls.Log()
	if !strings.Contains(log, "level=DEBUG") {
		t.Error("the server log has no Debug line: the check did not read a Debug log")
	}
	check("the server log", []byte(log))
	bodies := ls.recorder.all()
	if len(bodies) == 0 {
		t.Error("no response was recorded")
	}
	for i, b := range bodies {
		check(fmt.Sprintf("response %d to a principal that may not decrypt", i), b)
	}
}

// TestSecretsDoNotLeak stores 1,000 random secrets through each API and
// finds none of them anywhere but in the answers of principals allowed
// to decrypt them.
func TestSecretsDoNotLeak(t *testing.T) {
	const n = 1000
	ctx := context.Background()
	t.Run("kms", func(t *testing.T) {
		ls := startLeakServer(t)
		values := randomValues(t, n)
		admin := kmsClient(ls.Server, credentials.NewStaticCredentialsProvider(ls.Creds.AccessKeyID, ls.Creds.SecretAccessKey, ""))
		k, err := admin.CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		noDecrypt := kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(ls.URL), Retryer: aws.NopRetryer{}, HTTPClient: ls.recorder,
			Credentials: userCredentials(t, ls.Server, "no-decrypt", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:DescribeKey"],"Resource":"*"}]}`)})
		for i, v := range values {
			out, err := admin.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: v, EncryptionContext: map[string]string{"n": fmt.Sprint(i)}})
			if err != nil {
				t.Fatal(err)
			}
			if i%10 != 0 {
				continue
			}
			// Every tenth: the ciphertext offered to a principal without
			// kms:Decrypt, which is refused; and the ciphertext itself.
			ls.recorder.mu.Lock()
			ls.recorder.bodies = append(ls.recorder.bodies, out.CiphertextBlob)
			ls.recorder.mu.Unlock()
			if _, err := noDecrypt.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: map[string]string{"n": fmt.Sprint(i)}}); apiCode(err) != "AccessDeniedException" {
				t.Fatalf("Decrypt without kms:Decrypt: %v", err)
			}
		}
		// The principal may encrypt: its own Encrypt answers are recorded
		// too (it sends the value, and must get only ciphertext back).
		for _, v := range values[:50] {
			if _, err := noDecrypt.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: v}); err != nil {
				t.Fatal(err)
			}
		}
		assertNoLeak(t, ls, values)
	})
	t.Run("ssm", func(t *testing.T) {
		ls := startLeakServer(t)
		values := randomValues(t, n)
		admin := ssmClient(ls.Server, credentials.NewStaticCredentialsProvider(ls.Creds.AccessKeyID, ls.Creds.SecretAccessKey, ""))
		for i, v := range values {
			if _, err := admin.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(fmt.Sprintf("/leak/p%04d", i)), Value: aws.String(string(v)), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
				t.Fatal(err)
			}
		}
		// A role that may read the parameters but is denied kms:Decrypt.
		reader := ssm.New(ssm.Options{Region: "us-east-1", BaseEndpoint: aws.String(ls.URL), Retryer: aws.NopRetryer{}, HTTPClient: ls.recorder,
			Credentials: roleSession(t, ls.Server, "reader", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter*","Resource":"*"},
				{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}`)})
		for i := 0; i < n; i += 10 {
			name := aws.String(fmt.Sprintf("/leak/p%04d", i))
			if _, err := reader.GetParameter(ctx, &ssm.GetParameterInput{Name: name, WithDecryption: aws.Bool(true)}); apiCode(err) != "AccessDeniedException" {
				t.Fatalf("GetParameter WithDecryption without kms:Decrypt: %v", err)
			}
			out, err := reader.GetParameter(ctx, &ssm.GetParameterInput{Name: name})
			if err != nil || out.Parameter.Type != ssmtypes.ParameterTypeSecureString || aws.ToString(out.Parameter.Value) == "" {
				t.Fatalf("GetParameter without decryption = %+v, %v", out, err)
			}
		}
		var token *string
		for pages := 0; ; pages++ {
			out, err := reader.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/leak"), NextToken: token})
			if err != nil {
				t.Fatal(err)
			}
			if token = out.NextToken; token == nil || pages > n {
				break
			}
		}
		if _, err := reader.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/leak/p0001")}); err != nil {
			t.Fatal(err)
		}
		// The values are there for a principal that may decrypt: the
		// check above is not vacuous.
		got, err := admin.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/leak/p0007"), WithDecryption: aws.Bool(true)})
		if err != nil || aws.ToString(got.Parameter.Value) != string(values[7]) {
			t.Fatalf("GetParameter WithDecryption by the administrator = %v", err)
		}
		assertNoLeak(t, ls, values)
	})
	t.Run("secretsmanager", func(t *testing.T) {
		ls := startLeakServer(t)
		values := randomValues(t, n)
		admin := smClient(ls.Server, credentials.NewStaticCredentialsProvider(ls.Creds.AccessKeyID, ls.Creds.SecretAccessKey, ""))
		for i, v := range values {
			in := &secretsmanager.CreateSecretInput{Name: aws.String(fmt.Sprintf("leak/s%04d", i))}
			if i%2 == 0 {
				in.SecretString = aws.String(string(v))
			} else {
				in.SecretBinary = v
			}
			if _, err := admin.CreateSecret(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		// A role that may read and describe the secrets but is denied
		// kms:Decrypt; and one that may decrypt but not read them.
		reader := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(ls.URL), Retryer: aws.NopRetryer{}, HTTPClient: ls.recorder,
			Credentials: roleSession(t, ls.Server, "sm-reader", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"},
				{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}`)})
		decrypter := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(ls.URL), Retryer: aws.NopRetryer{}, HTTPClient: ls.recorder,
			Credentials: roleSession(t, ls.Server, "sm-decrypter", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Decrypt","secretsmanager:DescribeSecret","secretsmanager:ListSecrets"],"Resource":"*"}]}`)})
		for i := 0; i < n; i += 10 {
			id := aws.String(fmt.Sprintf("leak/s%04d", i))
			if _, err := reader.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id}); apiCode(err) != "AccessDeniedException" {
				t.Fatalf("GetSecretValue without kms:Decrypt: %v", err)
			}
			if _, err := decrypter.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id}); apiCode(err) != "AccessDeniedException" {
				t.Fatalf("GetSecretValue without secretsmanager:GetSecretValue: %v", err)
			}
			if _, err := reader.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: id}); err != nil {
				t.Fatal(err)
			}
			if _, err := reader.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: id}); err != nil {
				t.Fatal(err)
			}
		}
		if out, err := reader.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"leak/s0000", "leak/s0001"}}); err != nil || len(out.SecretValues) != 0 || len(out.Errors) != 2 {
			t.Fatalf("BatchGetSecretValue without kms:Decrypt = %+v, %v", out, err)
		}
		var token *string
		for pages := 0; ; pages++ {
			out, err := reader.ListSecrets(ctx, &secretsmanager.ListSecretsInput{NextToken: token})
			if err != nil {
				t.Fatal(err)
			}
			if token = out.NextToken; token == nil || pages > n {
				break
			}
		}
		got, err := admin.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("leak/s0008")})
		if err != nil || aws.ToString(got.SecretString) != string(values[8]) {
			t.Fatalf("GetSecretValue by the administrator = %v", err)
		}
		assertNoLeak(t, ls, values)
	})
	t.Run("lambda-environment", func(t *testing.T) {
		ls := startLeakServer(t)
		values := randomValues(t, n)
		admin := credentials.NewStaticCredentialsProvider(ls.Creds.AccessKeyID, ls.Creds.SecretAccessKey, "")
		key, err := kmsClient(ls.Server, admin).CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		lc := lambdaClient(ls.Server)
		zip := zipOf(t, map[string]string{"app.py": "def handler(e, c):\n    return None\n"})
		const perFunction = 50 // 50 × (3 + 64) bytes: under Lambda's 4 KB
		for f := 0; f*perFunction < n; f++ {
			env := map[string]string{}
			for i := f * perFunction; i < min(n, (f+1)*perFunction); i++ {
				env[fmt.Sprintf("V%02d", i-f*perFunction)] = string(values[i])
			}
			if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(fmt.Sprintf("leak%02d", f)), Runtime: ltypes.RuntimePython311,
				Handler: aws.String("app.handler"), Role: aws.String(ls.LambdaRole(t)), Code: &ltypes.FunctionCode{ZipFile: zip},
				Environment: &ltypes.Environment{Variables: env}, KMSKeyArn: key.KeyMetadata.Arn}); err != nil {
				t.Fatal(err)
			}
		}
		// A principal that may read functions but not decrypt with the key.
		viewer := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(ls.URL), Retryer: aws.NopRetryer{}, HTTPClient: ls.recorder,
			Credentials: roleSession(t, ls.Server, "fn-viewer", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:*","Resource":"*"},
				{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}`)})
		for f := 0; f*perFunction < n; f++ {
			name := aws.String(fmt.Sprintf("leak%02d", f))
			if _, err := viewer.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: name}); err != nil {
				t.Fatal(err)
			}
			if _, err := viewer.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: name}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := viewer.ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
			t.Fatal(err)
		}
		if _, err := viewer.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("leak00")}); err != nil {
			t.Fatal(err)
		}
		// The values are there for a principal that may decrypt.
		got, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("leak00")})
		if err != nil || got.Environment == nil || got.Environment.Variables["V07"] != string(values[7]) {
			t.Fatalf("GetFunctionConfiguration by the administrator: %v", err)
		}
		assertNoLeak(t, ls, values)
	})
}

// TestSecretsDoNotLeakThroughTheExtension: functions read every secret
// through the Parameters and Secrets extension (localhost:2773), half of
// them twice (the second read from the environment's cache), and some
// they may not read; none of the values reaches the server's database,
// object store, log, audit log or the responses its clients get.
func TestSecretsDoNotLeakThroughTheExtension(t *testing.T) {
	ctx := context.Background()
	n := 1000
	if testing.Short() {
		n = 100
	}
	ls := startLeakServer(t)
	requireSandbox(t, ls.Server.Server)
	values := randomValues(t, n)
	admin := smClient(ls.Server, credentials.NewStaticCredentialsProvider(ls.Creds.AccessKeyID, ls.Creds.SecretAccessKey, ""))
	for i, v := range values {
		if _, err := admin.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(fmt.Sprintf("leak/e%04d", i)), SecretString: aws.String(string(v))}); err != nil {
			t.Fatal(err)
		}
	}
	// The role reads every secret but the last ten.
	role, err := ls.IAM.CreateRole(ctx, "leak-fn", "/", "", servertest.LambdaTrustPolicy, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ls.IAM.PutInlinePolicy(ctx, iam.KindRole, "leak-fn", "read", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["secretsmanager:GetSecretValue","kms:Decrypt"],"Resource":"*"},
		{"Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:*:*:secret:leak/e099*"}]}`); err != nil {
		t.Fatal(err)
	}
	code := `import hashlib, json, os, urllib.request, urllib.error
def handler(event, context):
    h, n, refused = hashlib.sha256(), 0, 0
    port = os.environ.get('PARAMETERS_SECRETS_EXTENSION_HTTP_PORT', '2773')
    for i in range(event['from'], event['to']):
        for _ in range(2 if i % 2 == 0 else 1):
            req = urllib.request.Request('http://localhost:%s/secretsmanager/get?secretId=leak/e%04d' % (port, i),
                headers={'X-Aws-Parameters-Secrets-Token': os.environ['AWS_SESSION_TOKEN']})
            try:
                v = json.load(urllib.request.urlopen(req, timeout=120))['SecretString']
            except urllib.error.HTTPError as e:
                refused += 1
                v = None
        if v is not None:
            h.update(v.encode())
            n += 1
    return {'n': n, 'refused': refused, 'digest': h.hexdigest()}
`
	lc := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(ls.URL), Retryer: aws.NopRetryer{}, HTTPClient: ls.recorder,
		Credentials: credentials.NewStaticCredentialsProvider(ls.Creds.AccessKeyID, ls.Creds.SecretAccessKey, "")})
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("leak-reader"), Runtime: ltypes.RuntimePython311,
		Handler: aws.String("app.handler"), Role: aws.String(ls.IAM.RoleARN(role)), Timeout: aws.Int32(900),
		Code: &ltypes.FunctionCode{ZipFile: zipOf(t, map[string]string{"app.py": code})}}); err != nil {
		t.Fatal(err)
	}
	const batch = 250
	for from := 0; from < n; from += batch {
		to := min(n, from+batch)
		out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("leak-reader"), Payload: []byte(fmt.Sprintf(`{"from":%d,"to":%d}`, from, to))})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("Invoke: %v %s", err, out.Payload)
		}
		h := sha256.New()
		read, refused := 0, 0
		for i := from; i < to; i++ {
			if i >= 990 && n == 1000 {
				refused += 1 + (1 - i%2)
				continue
			}
			h.Write(values[i])
			read++
		}
		want := fmt.Sprintf(`{"n": %d, "refused": %d, "digest": "%x"}`, read, refused, h.Sum(nil))
		if string(out.Payload) != want {
			t.Errorf("secrets %d–%d read through the extension: %s, want %s", from, to-1, out.Payload, want)
		}
	}
	assertNoLeak(t, ls, values)
}

// TestLeakNeedles: the search of assertNoLeak finds a secret in clear
// and in base64 anywhere in a text, and nothing else.
func TestLeakNeedles(t *testing.T) {
	values := [][]byte{[]byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")}
	n := newNeedles(values)
	cases := []struct {
		name string
		text string
		want int
	}{
		{"clear, mid-text", "xx" + string(values[0]) + "yy", 1},
		{"base64", `{"v":"` + base64.StdEncoding.EncodeToString(values[1]) + `"}`, 1},
		{"both", string(values[0]) + base64.RawURLEncoding.EncodeToString(values[1]), 2},
		{"a prefix only", string(values[0][:20]), 0},
		{"nothing", "hello", 0},
	}
	for _, c := range cases {
		if got := len(n.find([]byte(c.text))); got != c.want {
			t.Errorf("%s: found %d, want %d", c.name, got, c.want)
		}
	}
}
