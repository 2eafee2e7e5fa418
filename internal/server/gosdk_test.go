package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/signet/signet/internal/iam"
	"github.com/signet/signet/internal/server/servertest"
)

// TestGoFunctionSDK: a provided.al2023 function built with aws-lambda-go
// and aws-sdk-go-v2 (testdata/gosdk) loads its configuration the
// standard way and reaches Signet as its role: GetCallerIdentity names
// the function's session, and kms:Decrypt on the key decrypts seed 003's
// helper ciphertext.
func TestGoFunctionSDK(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		if servertest.RequireAll() {
			t.Fatal("needs the go command to build testdata/gosdk")
		}
		t.Skip("needs the go command to build testdata/gosdk")
	}
	ts := servertest.Start(t)
	requireSandbox(t, ts.Server)
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("testdata", "gosdk")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/gosdk: %v\n%s", err, out)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(exe)
	zw.Close()

	ctx := context.Background()
	kc := kmsClient(ts, adminCreds(ts))
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := kc.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.Arn, Plaintext: []byte("tok-go-2b7e")})
	if err != nil {
		t.Fatal(err)
	}
	role, err := ts.IAM.CreateRole(ctx, "go-role", "/", "", servertest.LambdaTrustPolicy, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.IAM.PutInlinePolicy(ctx, iam.KindRole, "go-role", "p",
		fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":%q}]}`, aws.ToString(key.KeyMetadata.Arn))); err != nil {
		t.Fatal(err)
	}
	lc := lambdaClient(ts)
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("go-sdk"), Runtime: ltypes.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Role: aws.String(ts.IAM.RoleARN(role)), Timeout: aws.Int32(60), Code: &ltypes.FunctionCode{ZipFile: zb.Bytes()},
		Environment: &ltypes.Environment{Variables: map[string]string{"ENC_API_TOKEN": base64.StdEncoding.EncodeToString(enc.CiphertextBlob)}}}); err != nil {
		t.Fatal(err)
	}
	out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("go-sdk")})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("Invoke: %v %s", err, out.Payload)
	}
	var got struct{ Identity, Token, Error string }
	json.Unmarshal(out.Payload, &got)
	if got.Identity != "arn:aws:sts::"+ts.AccountID()+":assumed-role/go-role/go-sdk" || got.Token != "tok-go-2b7e" {
		t.Errorf("inside the Go function: %s", out.Payload)
	}
}
