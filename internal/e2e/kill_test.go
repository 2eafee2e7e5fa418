package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"

	"github.com/signet/signet/internal/e2e/e2etest"
	_ "modernc.org/sqlite"
)

func TestMain(m *testing.M) {
	code := m.Run()
	e2etest.Cleanup()
	os.Exit(code)
}

func signetBinary(t *testing.T) string { return e2etest.SignetBinary(t) }

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// serverProc is a `signet serve` process.
type serverProc struct {
	cmd    *exec.Cmd
	addr   string
	dir    string
	stderr *lockedBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, once done
}

// spawn starts `signet serve --data-dir dir --listen addr` without waiting
// for it to serve. The process is killed when the test ends.
func spawn(t *testing.T, bin, dir, addr string) *serverProc {
	t.Helper()
	p := &serverProc{addr: addr, dir: dir, stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--data-dir", dir, "--listen", addr)
	p.cmd.Stdout = io.Discard
	p.cmd.Stderr = p.stderr
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "SIGNET_") {
			env = append(env, kv)
		}
	}
	p.cmd.Env = env
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("failed to start signet serve: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("stderr of signet serve (pid %d, %s):\n%s", p.cmd.Process.Pid, addr, p.stderr)
		}
	})
	return p
}

// startServer starts `signet serve` on a free port and waits until
// GET /healthz answers 200. It retries on another port if the chosen one
// was taken in the meantime.
func startServer(t *testing.T, bin, dir string) *serverProc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, retry := tryStartServer(t, bin, dir)
		if p != nil {
			return p
		}
		if !retry || attempt == 3 {
			t.FailNow()
		}
	}
}

func tryStartServer(t *testing.T, bin, dir string) (p *serverProc, retry bool) {
	t.Helper()
	p = spawn(t, bin, dir, freeAddr(t))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-p.done:
			if strings.Contains(p.stderr.String(), "address already in use") {
				t.Logf("port of %s was taken; retrying on another", p.addr)
				return nil, true
			}
			t.Errorf("signet serve exited before serving: %v\n%s", p.err, p.stderr)
			return nil, false
		default:
		}
		// The banner proves this process holds the port; /healthz that
		// it serves.
		resp, err := http.Get("http://" + p.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(p.stderr.String(), "signet: serving http://"+p.addr) {
				return p, false
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("signet serve did not answer /healthz: %v\n%s", err, p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *serverProc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("signet serve (pid %d) did not exit within %s\n%s", p.cmd.Process.Pid, limit, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

// stop sends SIGTERM and expects a clean exit.
func (p *serverProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("signet serve exited with status %d after SIGTERM, want 0\n%s", code, p.stderr)
	}
}

var accountLineRE = regexp.MustCompile(`\(account ([0-9]{12}),`)

// account returns the account id the server printed at start.
func (p *serverProc) account(t *testing.T) string {
	t.Helper()
	m := accountLineRE.FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("signet serve did not print its account id:\n%s", p.stderr)
	}
	return m[1]
}

// client returns an SDK client for the server with the credentials of
// DIR/credentials. With load set it never retries.
func (p *serverProc) client(t *testing.T, load bool) *signer.Client {
	t.Helper()
	creds := readCredentials(t, filepath.Join(p.dir, "credentials"))
	if creds.Region != "us-east-1" {
		t.Fatalf("credentials region = %q, want us-east-1", creds.Region)
	}
	opts := signer.Options{
		Region:       creds.Region,
		BaseEndpoint: aws.String("http://" + p.addr),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, Source: "signet credentials file"}, nil
		}),
		HTTPClient: &http.Client{Timeout: 30 * time.Second},
	}
	if load {
		opts.Retryer = aws.NopRetryer{}
	}
	return signer.New(opts)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// profileState is what must survive a restart of one profile.
type profileState struct {
	Name, Version, VersionARN, ARN, Platform, Status, StatusReason string
	Validity                                                       string
	Tags                                                           map[string]string
	RevisionID                                                     string
	PolicySize                                                     int32
	Permissions                                                    []string
}

func snapshot(t *testing.T, c *signer.Client, name string) profileState {
	t.Helper()
	ctx := ctxT(t)
	p, err := c.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String(name)})
	if err != nil {
		t.Fatalf("GetSigningProfile %s: %v", name, err)
	}
	s := profileState{
		Name: aws.ToString(p.ProfileName), Version: aws.ToString(p.ProfileVersion), VersionARN: aws.ToString(p.ProfileVersionArn),
		ARN: aws.ToString(p.Arn), Platform: aws.ToString(p.PlatformId), Status: string(p.Status), StatusReason: aws.ToString(p.StatusReason),
		Tags: p.Tags,
	}
	if v := p.SignatureValidityPeriod; v != nil {
		s.Validity = fmt.Sprintf("%d %s", v.Value, v.Type)
	}
	tags, err := c.ListTagsForResource(ctx, &signer.ListTagsForResourceInput{ResourceArn: p.Arn})
	if err != nil {
		t.Fatalf("ListTagsForResource %s: %v", name, err)
	}
	if !maps.Equal(tags.Tags, p.Tags) {
		t.Errorf("ListTagsForResource %s = %v, GetSigningProfile tags = %v", name, tags.Tags, p.Tags)
	}
	perms, err := c.ListProfilePermissions(ctx, &signer.ListProfilePermissionsInput{ProfileName: aws.String(name)})
	if err != nil {
		t.Fatalf("ListProfilePermissions %s: %v", name, err)
	}
	s.RevisionID, s.PolicySize = aws.ToString(perms.RevisionId), perms.PolicySizeBytes
	for _, q := range perms.Permissions {
		s.Permissions = append(s.Permissions, strings.Join([]string{aws.ToString(q.StatementId), aws.ToString(q.Action), aws.ToString(q.Principal), aws.ToString(q.ProfileVersion)}, " "))
	}
	return s
}

func (a profileState) equal(b profileState) bool {
	return a.Name == b.Name && a.Version == b.Version && a.VersionARN == b.VersionARN && a.ARN == b.ARN &&
		a.Platform == b.Platform && a.Status == b.Status && a.StatusReason == b.StatusReason && a.Validity == b.Validity &&
		maps.Equal(a.Tags, b.Tags) && a.RevisionID == b.RevisionID && a.PolicySize == b.PolicySize && slices.Equal(a.Permissions, b.Permissions)
}

func TestServeBinary(t *testing.T) {
	bin := signetBinary(t)
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{name: "fail/second server", run: func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			first := startServer(t, bin, dir)
			second := spawn(t, bin, dir, freeAddr(t))
			if code := second.wait(t, time.Minute); code == 0 {
				t.Fatalf("second server exited with status 0, want non-zero\n%s", second.stderr)
			}
			stderr := second.stderr.String()
			for _, want := range []string{"in use by another signet server", strconv.Itoa(first.cmd.Process.Pid)} {
				if !strings.Contains(stderr, want) {
					t.Errorf("second server's stderr does not contain %q:\n%s", want, stderr)
				}
			}
			// The first server is unaffected and still owns the lock.
			resp, err := http.Get("http://" + first.addr + "/healthz")
			if err != nil {
				t.Fatalf("first server stopped answering: %v", err)
			}
			resp.Body.Close()
			wantEqual(t, "first server /healthz status", resp.StatusCode, http.StatusOK)
			b, err := os.ReadFile(filepath.Join(dir, "signet.lock"))
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "pid in signet.lock", strings.TrimSpace(string(b)), strconv.Itoa(first.cmd.Process.Pid))
		}},
		{name: "ok/restart", run: func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			p := startServer(t, bin, dir)
			account := p.account(t)
			credsBefore, err := os.ReadFile(filepath.Join(dir, "credentials"))
			if err != nil {
				t.Fatal(err)
			}
			c := p.client(t, false)
			ctx := ctxT(t)
			put := func(name, platform string, validity *types.SignatureValidityPeriod, tags map[string]string) {
				t.Helper()
				if _, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String(name), PlatformId: aws.String(platform),
					SignatureValidityPeriod: validity, Tags: tags}); err != nil {
					t.Fatalf("PutSigningProfile %s: %v", name, err)
				}
			}
			put("restart_lambda", lambdaPlatform, &types.SignatureValidityPeriod{Value: 30, Type: types.ValidityTypeDays}, map[string]string{"team": "build"})
			put("restart_notation", notationPlatform, nil, nil)
			put("restart_canceled", notationPlatform, nil, map[string]string{"gone": "soon"})
			arn := "arn:aws:signer:us-east-1:" + account + ":/signing-profiles/restart_notation"
			if _, err := c.TagResource(ctx, &signer.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"env": "prod", "owner": "ci"}}); err != nil {
				t.Fatalf("TagResource: %v", err)
			}
			if _, err := c.UntagResource(ctx, &signer.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"owner"}}); err != nil {
				t.Fatalf("UntagResource: %v", err)
			}
			add, err := c.AddProfilePermission(ctx, &signer.AddProfilePermissionInput{ProfileName: aws.String("restart_lambda"),
				Action: aws.String("signer:GetSigningProfile"), Principal: aws.String("111122223333"), StatementId: aws.String("s1")})
			if err != nil {
				t.Fatalf("AddProfilePermission: %v", err)
			}
			if _, err := c.AddProfilePermission(ctx, &signer.AddProfilePermissionInput{ProfileName: aws.String("restart_lambda"),
				Action: aws.String("signer:StartSigningJob"), Principal: aws.String("444455556666"), StatementId: aws.String("s2"), RevisionId: add.RevisionId}); err != nil {
				t.Fatalf("AddProfilePermission: %v", err)
			}
			if _, err := c.CancelSigningProfile(ctx, &signer.CancelSigningProfileInput{ProfileName: aws.String("restart_canceled")}); err != nil {
				t.Fatalf("CancelSigningProfile: %v", err)
			}
			names := []string{"restart_lambda", "restart_notation", "restart_canceled"}
			before := map[string]profileState{}
			for _, n := range names {
				before[n] = snapshot(t, c, n)
			}
			if got := before["restart_lambda"].RevisionID; got == "" || got == aws.ToString(add.RevisionId) {
				t.Errorf("revision after two adds = %q, want a new non-empty one (first %q)", got, aws.ToString(add.RevisionId))
			}

			p.stop(t)
			p2 := startServer(t, bin, dir)
			wantEqual(t, "account id after restart", p2.account(t), account)
			credsAfter, err := os.ReadFile(filepath.Join(dir, "credentials"))
			if err != nil {
				t.Fatal(err)
			}
			if string(credsAfter) != string(credsBefore) {
				t.Errorf("credentials file changed across the restart:\nbefore:\n%s\nafter:\n%s", credsBefore, credsAfter)
			}
			c2 := p2.client(t, false) // reads the credentials file again
			for _, n := range names {
				if after := snapshot(t, c2, n); !after.equal(before[n]) {
					t.Errorf("profile %s changed across the restart:\nbefore %+v\nafter  %+v", n, before[n], after)
				}
			}
			list, err := c2.ListSigningProfiles(ctxT(t), &signer.ListSigningProfilesInput{IncludeCanceled: true})
			if err != nil {
				t.Fatalf("ListSigningProfiles: %v", err)
			}
			var listed []string
			for _, lp := range list.Profiles {
				listed = append(listed, aws.ToString(lp.ProfileName))
				if !strings.Contains(aws.ToString(lp.Arn), ":"+account+":") {
					t.Errorf("profile ARN %s does not carry account %s", aws.ToString(lp.Arn), account)
				}
			}
			slices.Sort(listed)
			if want := slices.Sorted(slices.Values(names)); !slices.Equal(listed, want) {
				t.Errorf("ListSigningProfiles after restart = %v, want %v", listed, want)
			}
			if _, err := c2.PutSigningProfile(ctxT(t), &signer.PutSigningProfileInput{ProfileName: aws.String("after_restart"), PlatformId: aws.String(lambdaPlatform)}); err != nil {
				t.Errorf("PutSigningProfile after restart: %v", err)
			}
		}},
		{name: "ok/sigkill mid-request", run: func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			p := startServer(t, bin, dir)
			c := p.client(t, true)
			var (
				mu       sync.Mutex
				acked    = map[string]string{} // name → profileVersionArn
				failures []string              // errors before the kill
				killed   atomic.Bool
				stop     = make(chan struct{})
				wg       sync.WaitGroup
			)
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						name := fmt.Sprintf("load_%d_%05d", g, i)
						ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
						out, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String(name),
							PlatformId: aws.String(notationPlatform), Tags: map[string]string{"load": name}})
						cancel()
						mu.Lock()
						switch {
						case err == nil:
							acked[name] = aws.ToString(out.ProfileVersionArn)
						case !killed.Load():
							failures = append(failures, fmt.Sprintf("%s: %v", name, err))
						}
						mu.Unlock()
						if err != nil && killed.Load() {
							return
						}
					}
				}()
			}
			// Kill once some calls were acknowledged, while the others
			// are in flight, however fast the server answers.
			for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
				mu.Lock()
				n, failed := len(acked), len(failures)
				mu.Unlock()
				if n >= 20 || failed > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("only %d PutSigningProfile calls acknowledged in 2 minutes", n)
				}
			}
			killed.Store(true)
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			close(stop)
			wg.Wait()
			p.wait(t, 30*time.Second)
			if len(failures) > 0 {
				t.Errorf("%d PutSigningProfile calls failed before the kill; first: %s", len(failures), failures[0])
			}
			if len(acked) == 0 {
				t.Fatal("no PutSigningProfile call succeeded before the kill")
			}
			t.Logf("%d profiles acknowledged before SIGKILL", len(acked))

			p2 := startServer(t, bin, dir)
			c2 := p2.client(t, false)
			for name, versionARN := range acked {
				got, err := c2.GetSigningProfile(ctxT(t), &signer.GetSigningProfileInput{ProfileName: aws.String(name)})
				if err != nil {
					t.Errorf("acknowledged profile %s lost: %v", name, err)
					continue
				}
				wantEqual(t, name+" profileVersionArn", aws.ToString(got.ProfileVersionArn), versionARN)
				wantEqual(t, name+" status", string(got.Status), "Active")
				wantEqual(t, name+" tag load", got.Tags["load"], name)
			}
			listed := map[string]bool{}
			pages := signer.NewListSigningProfilesPaginator(c2, &signer.ListSigningProfilesInput{IncludeCanceled: true})
			for pages.HasMorePages() {
				page, err := pages.NextPage(ctxT(t))
				if err != nil {
					t.Fatalf("ListSigningProfiles: %v", err)
				}
				for _, lp := range page.Profiles {
					name := aws.ToString(lp.ProfileName)
					if listed[name] {
						t.Errorf("profile %s listed twice", name)
					}
					listed[name] = true
					ver := aws.ToString(lp.ProfileVersion)
					if !versionRE.MatchString(ver) {
						t.Errorf("listed profile %s has profileVersion %q, want 10 alphanumerics", name, ver)
					}
					wantEqual(t, name+" profileVersionArn", aws.ToString(lp.ProfileVersionArn), aws.ToString(lp.Arn)+"/"+ver)
					got, err := c2.GetSigningProfile(ctxT(t), &signer.GetSigningProfileInput{ProfileName: lp.ProfileName})
					if err != nil {
						t.Errorf("listed profile %s cannot be read: %v", name, err)
						continue
					}
					wantEqual(t, name+" version (get vs list)", aws.ToString(got.ProfileVersion), ver)
					wantEqual(t, name+" tag load", got.Tags["load"], name)
				}
			}
			for name := range acked {
				if !listed[name] {
					t.Errorf("acknowledged profile %s missing from ListSigningProfiles", name)
				}
			}
			t.Logf("%d profiles listed after restart", len(listed))
			if _, err := c2.PutSigningProfile(ctxT(t), &signer.PutSigningProfileInput{ProfileName: aws.String("after_kill"), PlatformId: aws.String(notationPlatform)}); err != nil {
				t.Errorf("PutSigningProfile after restart: %v", err)
			}
			p2.stop(t)

			db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "signet.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			rows, err := db.QueryContext(ctxT(t), "PRAGMA integrity_check")
			if err != nil {
				t.Fatalf("PRAGMA integrity_check: %v", err)
			}
			var results []string
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				results = append(results, s)
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(results, []string{"ok"}) {
				t.Errorf("PRAGMA integrity_check = %q, want [ok]", results)
			}
		}},
		{name: "ok/cold start", run: func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			p := startServer(t, bin, dir)
			st, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "data dir mode", st.Mode().Perm(), os.FileMode(0o700))
			for _, f := range []string{"credentials", "master.key"} {
				st, err := os.Stat(filepath.Join(dir, f))
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				wantEqual(t, f+" mode", st.Mode().Perm(), os.FileMode(0o600))
			}
			b, err := os.ReadFile(filepath.Join(dir, "credentials"))
			if err != nil {
				t.Fatal(err)
			}
			for _, re := range []string{
				`(?m)^\[default\]$`,
				`(?m)^aws_access_key_id = AKIA[A-Z0-9]{16}$`,
				`(?m)^aws_secret_access_key = \S{20,}$`,
				`(?m)^region = us-east-1$`,
			} {
				if !regexp.MustCompile(re).Match(b) {
					t.Errorf("credentials file does not match %s:\n%s", re, b)
				}
			}
			resp, err := http.Get("http://" + p.addr + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantEqual(t, "/healthz status", resp.StatusCode, http.StatusOK)
			wantEqual(t, "/healthz body", strings.TrimSpace(string(body)), "ok")
			// The credentials just written authenticate.
			if _, err := p.client(t, false).ListSigningPlatforms(ctxT(t), &signer.ListSigningPlatformsInput{}); err != nil {
				t.Errorf("ListSigningPlatforms with the new credentials: %v", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}
