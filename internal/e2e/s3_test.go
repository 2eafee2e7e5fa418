package e2e

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// s3VersionRE matches the version ids Signet makes.
var s3VersionRE = regexp.MustCompile(`^[0-9A-V]{32}$`)

// runAWS runs `aws --endpoint-url http://ADDR ARGS...` (any service) with
// only the server's credentials file for configuration.
func (s *cliServer) runAWS(t *testing.T, args ...string) cliResult {
	t.Helper()
	return s.runService(t, "", args[0], args[1:]...)
}

// s3Case is one AWS CLI call of the S3 tests; arguments may name
// variables ($NAME) set by earlier cases.
type s3Case struct {
	name     string
	args     []string
	wantCode int
	wantErr  string // the error code printed as "(Code)"
	// check inspects stdout of a success: JSON output is decoded into out
	// (nil when stdout is not JSON).
	check func(t *testing.T, out map[string]any, stdout string)
}

func runS3Cases(t *testing.T, s *cliServer, vs vars, cases []s3Case) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := vs.expand(c.args)
			res := s.runAWS(t, args...)
			if res.code != c.wantCode {
				t.Fatalf("aws %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.code, c.wantCode, res.stdout, res.stderr)
			}
			if c.wantCode != 0 {
				if want := "(" + c.wantErr + ")"; !strings.Contains(res.stderr, want) {
					t.Errorf("stderr does not name %s:\n%s", want, res.stderr)
				}
				return
			}
			var out map[string]any
			if json.Unmarshal([]byte(res.stdout), &out) != nil {
				out = nil
			}
			if c.check != nil {
				c.check(t, out, res.stdout)
			} else if strings.TrimSpace(res.stdout) != "" {
				t.Errorf("stdout = %q, want no output", res.stdout)
			}
		})
	}
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes (md5 %s), want %d bytes (md5 %s)", path, len(got), md5Hex(got), len(want), md5Hex(want))
	}
}

// versionIDs returns "Key@VersionId" of each element of out[key].
func versionIDs(t *testing.T, out map[string]any, key string) []string {
	t.Helper()
	if _, ok := out[key]; !ok {
		return nil
	}
	var ids []string
	for _, v := range objects(t, out, key) {
		ids = append(ids, str(t, v, "Key")+"@"+str(t, v, "VersionId"))
	}
	return ids
}

// TestAWSCLIS3Versioning walks the seed scenario with s3api: a versioned
// bucket, puts, reads by version, a delete marker and permanent deletes.
func TestAWSCLIS3Versioning(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	dir := t.TempDir()
	first := []byte("first version of the function code\n")
	second := bytes.Repeat([]byte("second version "), 1000)
	firstPath := writeFile(t, dir, "first.zip", first)
	secondPath := writeFile(t, dir, "second.zip", second)
	outPath := filepath.Join(dir, "out.bin")
	vs := vars{"FIRST": firstPath, "SECOND": secondPath, "OUT": outPath}
	wantVersion := func(name string) func(t *testing.T, out map[string]any, _ string) {
		return func(t *testing.T, out map[string]any, _ string) {
			v := str(t, out, "VersionId")
			if !s3VersionRE.MatchString(v) {
				t.Errorf("VersionId = %q, want 32 base32hex characters", v)
			}
			vs[name] = v
		}
	}
	runS3Cases(t, s, vs, []s3Case{
		{name: "ok/create-bucket", args: []string{"s3api", "create-bucket", "--bucket", "artifacts"}, check: func(t *testing.T, out map[string]any, _ string) {
			wantEqual(t, "Location", str(t, out, "Location"), "/artifacts")
		}},
		{name: "ok/get-bucket-versioning before enabling", args: []string{"s3api", "get-bucket-versioning", "--bucket", "artifacts"}},
		{name: "ok/put-bucket-versioning", args: []string{"s3api", "put-bucket-versioning", "--bucket", "artifacts", "--versioning-configuration", "Status=Enabled"}},
		{name: "ok/get-bucket-versioning", args: []string{"s3api", "get-bucket-versioning", "--bucket", "artifacts"}, check: func(t *testing.T, out map[string]any, _ string) {
			wantEqual(t, "Status", str(t, out, "Status"), "Enabled")
		}},
		{name: "ok/put-object", args: []string{"s3api", "put-object", "--bucket", "artifacts", "--key", "fn/code.zip", "--body", "$FIRST"}, check: func(t *testing.T, out map[string]any, stdout string) {
			wantVersion("V1")(t, out, stdout)
			wantEqual(t, "ETag", str(t, out, "ETag"), `"`+md5Hex(first)+`"`)
		}},
		{name: "ok/put-object again", args: []string{"s3api", "put-object", "--bucket", "artifacts", "--key", "fn/code.zip", "--body", "$SECOND"}, check: wantVersion("V2")},
		{name: "ok/head-object --version-id", args: []string{"s3api", "head-object", "--bucket", "artifacts", "--key", "fn/code.zip", "--version-id", "$V1"}, check: func(t *testing.T, out map[string]any, _ string) {
			wantEqual(t, "VersionId", str(t, out, "VersionId"), vs["V1"])
			wantEqual(t, "ContentLength", num(t, out, "ContentLength"), float64(len(first)))
			wantEqual(t, "ETag", str(t, out, "ETag"), `"`+md5Hex(first)+`"`)
			wantEqual(t, "AcceptRanges", str(t, out, "AcceptRanges"), "bytes")
			str(t, out, "LastModified")
		}},
		{name: "ok/get-object --version-id", args: []string{"s3api", "get-object", "--bucket", "artifacts", "--key", "fn/code.zip", "--version-id", "$V1", "$OUT"}, check: func(t *testing.T, out map[string]any, _ string) {
			wantEqual(t, "VersionId", str(t, out, "VersionId"), vs["V1"])
			sameFile(t, outPath, first)
		}},
		{name: "ok/get-object latest", args: []string{"s3api", "get-object", "--bucket", "artifacts", "--key", "fn/code.zip", "$OUT"}, check: func(t *testing.T, out map[string]any, _ string) {
			wantEqual(t, "VersionId", str(t, out, "VersionId"), vs["V2"])
			sameFile(t, outPath, second)
		}},
		{name: "ok/get-object --range", args: []string{"s3api", "get-object", "--bucket", "artifacts", "--key", "fn/code.zip", "--range", "bytes=7-13", "$OUT"}, check: func(t *testing.T, out map[string]any, _ string) {
			wantEqual(t, "ContentRange", str(t, out, "ContentRange"), "bytes 7-13/15000")
			sameFile(t, outPath, second[7:14])
		}},
		{name: "ok/delete-object adds a delete marker", args: []string{"s3api", "delete-object", "--bucket", "artifacts", "--key", "fn/code.zip"}, check: func(t *testing.T, out map[string]any, stdout string) {
			wantEqual(t, "DeleteMarker", boolean(t, out, "DeleteMarker"), true)
			wantVersion("MARKER")(t, out, stdout)
		}},
		{name: "ok/list-object-versions", args: []string{"s3api", "list-object-versions", "--bucket", "artifacts", "--prefix", "fn/"}, check: func(t *testing.T, out map[string]any, _ string) {
			if got, want := versionIDs(t, out, "Versions"), []string{"fn/code.zip@" + vs["V2"], "fn/code.zip@" + vs["V1"]}; !slices.Equal(got, want) {
				t.Errorf("Versions = %v, want %v (newest first)", got, want)
			}
			if got, want := versionIDs(t, out, "DeleteMarkers"), []string{"fn/code.zip@" + vs["MARKER"]}; !slices.Equal(got, want) {
				t.Errorf("DeleteMarkers = %v, want %v", got, want)
			}
			for _, v := range objects(t, out, "Versions") {
				wantEqual(t, "IsLatest of "+str(t, v, "VersionId"), boolean(t, v, "IsLatest"), false)
				wantEqual(t, "StorageClass", str(t, v, "StorageClass"), "STANDARD")
				num(t, v, "Size")
			}
			wantEqual(t, "marker IsLatest", boolean(t, objects(t, out, "DeleteMarkers")[0], "IsLatest"), true)
		}},
		{name: "fail/get-object behind the delete marker", args: []string{"s3api", "get-object", "--bucket", "artifacts", "--key", "fn/code.zip", "$OUT"},
			wantCode: cliServiceError, wantErr: "NoSuchKey"},
		{name: "ok/old versions stay readable", args: []string{"s3api", "get-object", "--bucket", "artifacts", "--key", "fn/code.zip", "--version-id", "$V1", "$OUT"}, check: func(t *testing.T, _ map[string]any, _ string) {
			sameFile(t, outPath, first)
		}},
		{name: "ok/delete-object --version-id removes the marker", args: []string{"s3api", "delete-object", "--bucket", "artifacts", "--key", "fn/code.zip", "--version-id", "$MARKER"}, check: func(t *testing.T, out map[string]any, _ string) {
			wantEqual(t, "DeleteMarker", boolean(t, out, "DeleteMarker"), true)
			wantEqual(t, "VersionId", str(t, out, "VersionId"), vs["MARKER"])
		}},
		{name: "ok/delete-object --version-id removes a version", args: []string{"s3api", "delete-object", "--bucket", "artifacts", "--key", "fn/code.zip", "--version-id", "$V2"}, check: func(t *testing.T, out map[string]any, _ string) {
			wantEqual(t, "VersionId", str(t, out, "VersionId"), vs["V2"])
		}},
		{name: "ok/the first version is the latest again", args: []string{"s3api", "list-object-versions", "--bucket", "artifacts"}, check: func(t *testing.T, out map[string]any, _ string) {
			if got := versionIDs(t, out, "Versions"); !slices.Equal(got, []string{"fn/code.zip@" + vs["V1"]}) {
				t.Errorf("Versions = %v", got)
			}
			if _, ok := out["DeleteMarkers"]; ok {
				t.Errorf("delete markers remain: %v", out["DeleteMarkers"])
			}
			wantEqual(t, "IsLatest", boolean(t, objects(t, out, "Versions")[0], "IsLatest"), true)
		}},
		{name: "fail/get-object unknown version", args: []string{"s3api", "get-object", "--bucket", "artifacts", "--key", "fn/code.zip", "--version-id", "0123456789ABCDEFGHIJKLMNOPQRSTUV", "$OUT"},
			wantCode: cliServiceError, wantErr: "NoSuchVersion"},
		{name: "fail/get-object unknown key", args: []string{"s3api", "get-object", "--bucket", "artifacts", "--key", "nope.zip", "$OUT"},
			wantCode: cliServiceError, wantErr: "NoSuchKey"},
		{name: "fail/get-object unknown bucket", args: []string{"s3api", "get-object", "--bucket", "no-such-bucket", "--key", "k", "$OUT"},
			wantCode: cliServiceError, wantErr: "NoSuchBucket"},
		{name: "fail/create-bucket bad name", args: []string{"s3api", "create-bucket", "--bucket", "Bad_Bucket"},
			wantCode: cliServiceError, wantErr: "InvalidBucketName"},
		{name: "fail/create-bucket twice", args: []string{"s3api", "create-bucket", "--bucket", "artifacts"},
			wantCode: cliServiceError, wantErr: "BucketAlreadyOwnedByYou"},
		{name: "fail/delete-bucket not empty", args: []string{"s3api", "delete-bucket", "--bucket", "artifacts"},
			wantCode: cliServiceError, wantErr: "BucketNotEmpty"},
		{name: "ok/put-object into an unversioned bucket", args: []string{"s3api", "create-bucket", "--bucket", "plain-bucket"}, check: func(t *testing.T, _ map[string]any, _ string) {}},
		{name: "ok/unversioned put has no VersionId", args: []string{"s3api", "put-object", "--bucket", "plain-bucket", "--key", "k", "--body", "$FIRST"}, check: func(t *testing.T, out map[string]any, _ string) {
			if _, ok := out["VersionId"]; ok {
				t.Errorf("VersionId = %v on an unversioned bucket", out["VersionId"])
			}
		}},
		{name: "ok/delete-object unversioned", args: []string{"s3api", "delete-object", "--bucket", "plain-bucket", "--key", "k"}},
		{name: "ok/delete-bucket empty", args: []string{"s3api", "delete-bucket", "--bucket", "plain-bucket"}},
		{name: "ok/list-buckets", args: []string{"s3api", "list-buckets"}, check: func(t *testing.T, out map[string]any, _ string) {
			bs := objects(t, out, "Buckets")
			if len(bs) != 1 || str(t, bs[0], "Name") != "artifacts" {
				t.Errorf("Buckets = %v", bs)
			}
			str(t, bs[0], "CreationDate")
		}},
	})
}

// TestAWSCLIS3Transfer copies a 20 MB file up and down with `aws s3 cp`
// (multipart upload of 8 MiB parts, ranged downloads) and lists with
// `aws s3 ls` and list-objects-v2, with keys holding spaces and unicode.
func TestAWSCLIS3Transfer(t *testing.T) {
	t.Parallel()
	s := startCLIServer(t)
	dir := t.TempDir()
	big := make([]byte, 20<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	bigPath := writeFile(t, dir, "big.bin", big)
	small := writeFile(t, dir, "small.txt", []byte("small"))
	down := filepath.Join(dir, "down.bin")
	const unicodeKey = "docs/with space/ünïcode ✓.txt"
	vs := vars{"BIG": bigPath, "SMALL": small, "DOWN": down}
	runS3Cases(t, s, vs, []s3Case{
		{name: "ok/create-bucket", args: []string{"s3api", "create-bucket", "--bucket", "transfer"}, check: func(*testing.T, map[string]any, string) {}},
		{name: "ok/s3 cp up (multipart)", args: []string{"s3", "cp", "--no-progress", "$BIG", "s3://transfer/releases/big.bin"}, check: func(t *testing.T, _ map[string]any, stdout string) {
			if !strings.Contains(stdout, "upload:") {
				t.Errorf("stdout = %q", stdout)
			}
		}},
		{name: "ok/the upload was multipart", args: []string{"s3api", "head-object", "--bucket", "transfer", "--key", "releases/big.bin"}, check: func(t *testing.T, out map[string]any, _ string) {
			wantEqual(t, "ContentLength", num(t, out, "ContentLength"), float64(len(big)))
			if etag := str(t, out, "ETag"); !strings.HasSuffix(etag, `-3"`) {
				t.Errorf("ETag = %s, want a 3-part multipart ETag", etag)
			}
		}},
		{name: "ok/s3 cp down (ranged gets)", args: []string{"s3", "cp", "--no-progress", "s3://transfer/releases/big.bin", "$DOWN"}, check: func(t *testing.T, _ map[string]any, _ string) {
			sameFile(t, down, big)
		}},
		{name: "ok/s3 cp unicode key", args: []string{"s3", "cp", "--no-progress", "$SMALL", "s3://transfer/" + unicodeKey}, check: func(*testing.T, map[string]any, string) {}},
		{name: "ok/put-object readme", args: []string{"s3api", "put-object", "--bucket", "transfer", "--key", "docs/readme.md", "--body", "$SMALL"}, check: func(*testing.T, map[string]any, string) {}},
		{name: "ok/put-object nested", args: []string{"s3api", "put-object", "--bucket", "transfer", "--key", "docs/sub/deep.txt", "--body", "$SMALL"}, check: func(*testing.T, map[string]any, string) {}},
		{name: "ok/s3 ls", args: []string{"s3", "ls", "s3://transfer/"}, check: func(t *testing.T, _ map[string]any, stdout string) {
			for _, want := range []string{"PRE docs/", "PRE releases/"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("s3 ls lacks %q:\n%s", want, stdout)
				}
			}
		}},
		{name: "ok/s3 ls --recursive", args: []string{"s3", "ls", "--recursive", "s3://transfer/"}, check: func(t *testing.T, _ map[string]any, stdout string) {
			for _, want := range []string{"20971520 releases/big.bin", "5 " + unicodeKey, "5 docs/readme.md"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("s3 ls --recursive lacks %q:\n%s", want, stdout)
				}
			}
		}},
		{name: "ok/list-objects-v2 with prefix and delimiter", args: []string{"s3api", "list-objects-v2", "--bucket", "transfer", "--prefix", "docs/", "--delimiter", "/"}, check: func(t *testing.T, out map[string]any, _ string) {
			var keys, prefixes []string
			for _, o := range objects(t, out, "Contents") {
				keys = append(keys, str(t, o, "Key"))
			}
			for _, p := range objects(t, out, "CommonPrefixes") {
				prefixes = append(prefixes, str(t, p, "Prefix"))
			}
			if !slices.Equal(keys, []string{"docs/readme.md"}) || !slices.Equal(prefixes, []string{"docs/sub/", "docs/with space/"}) {
				t.Errorf("Contents %v, CommonPrefixes %v", keys, prefixes)
			}
		}},
		{name: "ok/list-objects-v2 unicode prefix", args: []string{"s3api", "list-objects-v2", "--bucket", "transfer", "--prefix", "docs/with space/"}, check: func(t *testing.T, out map[string]any, _ string) {
			cs := objects(t, out, "Contents")
			if len(cs) != 1 || str(t, cs[0], "Key") != unicodeKey {
				t.Errorf("Contents = %v, want the unicode key", cs)
			}
		}},
		{name: "ok/list-objects-v2 paginated", args: []string{"s3api", "list-objects-v2", "--bucket", "transfer", "--page-size", "1"}, check: func(t *testing.T, out map[string]any, _ string) {
			var keys []string
			for _, o := range objects(t, out, "Contents") {
				keys = append(keys, str(t, o, "Key"))
			}
			want := []string{"docs/readme.md", "docs/sub/deep.txt", unicodeKey, "releases/big.bin"}
			if !slices.Equal(keys, want) {
				t.Errorf("keys = %v, want %v", keys, want)
			}
		}},
		{name: "ok/get-object unicode key", args: []string{"s3api", "get-object", "--bucket", "transfer", "--key", unicodeKey, "$DOWN"}, check: func(t *testing.T, _ map[string]any, _ string) {
			sameFile(t, down, []byte("small"))
		}},
		{name: "ok/s3 rm --recursive", args: []string{"s3", "rm", "--recursive", "s3://transfer/docs/"}, check: func(t *testing.T, _ map[string]any, stdout string) {
			if strings.Count(stdout, "delete:") != 3 {
				t.Errorf("stdout = %q, want three deletes", stdout)
			}
		}},
	})
}
