package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

// nodeHelper is seed 003's encrypted helper in node: it decrypts a KMS
// ciphertext from its variables with the AWS SDK for JavaScript v3, which
// it finds where Lambda's node runtimes ship it, unbundled.
const nodeHelper = `const { KMSClient, DecryptCommand } = require("@aws-sdk/client-kms");
const kms = new KMSClient({});
exports.handler = async () => {
  try {
    const out = await kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(process.env.ENC_API_TOKEN, "base64") }));
    return { token: Buffer.from(out.Plaintext).toString() };
  } catch (e) {
    return { error: e.name };
  }
};
`

// TestNodeFunctionSDK: a node function using the AWS SDK for JavaScript
// v3 (functions.node_modules_dir) reaches Signet through
// AWS_ENDPOINT_URL as its role: kms:Decrypt on the key decrypts, a role
// without it gets AccessDeniedException.
func TestNodeFunctionSDK(t *testing.T) {
	dir := os.Getenv("SIGNET_NODE_MODULES")
	if dir == "" {
		if servertest.RequireAll() {
			t.Fatal("SIGNET_NODE_MODULES is not set: ./scripts/test installs the AWS SDK for JavaScript v3 and sets it")
		}
		t.Skip("needs the AWS SDK for JavaScript v3: set SIGNET_NODE_MODULES to a node_modules directory with @aws-sdk/client-kms (./scripts/test does)")
	}
	ts := servertest.StartWith(t, func(c *config.Config) { c.Functions.NodeModulesDir = dir })
	requireSandbox(t, ts.Server)
	ctx := context.Background()
	kc := kmsClient(ts, adminCreds(ts))
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := kc.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.Arn, Plaintext: []byte("tok-node-61f3")})
	if err != nil {
		t.Fatal(err)
	}
	lc := lambdaClient(ts)
	for _, tc := range []struct{ name, resource, want string }{
		{"node-allowed", aws.ToString(key.KeyMetadata.Arn), `{"token":"tok-node-61f3"}`},
		{"node-denied", fmt.Sprintf("arn:aws:kms:us-east-1:%s:key/00000000-0000-0000-0000-000000000000", ts.AccountID()), `{"error":"AccessDeniedException"}`},
	} {
		role, err := ts.IAM.CreateRole(ctx, tc.name+"-role", "/", "", servertest.LambdaTrustPolicy, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := ts.IAM.PutInlinePolicy(ctx, iam.KindRole, tc.name+"-role", "p",
			fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":%q}]}`, tc.resource)); err != nil {
			t.Fatal(err)
		}
		if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(tc.name), Runtime: ltypes.RuntimeNodejs20x,
			Handler: aws.String("index.handler"), Role: aws.String(ts.IAM.RoleARN(role)), Timeout: aws.Int32(60), MemorySize: aws.Int32(256),
			Code:        &ltypes.FunctionCode{ZipFile: zipOf(t, map[string]string{"index.js": nodeHelper})},
			Environment: &ltypes.Environment{Variables: map[string]string{"ENC_API_TOKEN": base64.StdEncoding.EncodeToString(enc.CiphertextBlob)}}}); err != nil {
			t.Fatal(err)
		}
		out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(tc.name)})
		if err != nil || out.FunctionError != nil || strings.TrimSpace(string(out.Payload)) != tc.want {
			t.Errorf("%s: %v %s, want %s", tc.name, err, out.Payload, tc.want)
		}
	}
}
