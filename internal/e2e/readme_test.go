package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/images/registrytest"
)

// The README's shell blocks each follow a marker line:
//
//	<!-- walkthrough -->              run by TestREADMEWalkthrough, in order
//	<!-- walkthrough: functions -->   the same, when functions can run here
//	<!-- walkthrough: images -->      the same, with a registry and the notation CLI
//	<!-- not run: REASON -->          shown only (building, serving, the test suite)
const (
	markWalkthrough = "<!-- walkthrough -->"
	markFunctions   = "<!-- walkthrough: functions -->"
	markImages      = "<!-- walkthrough: images -->"
	markNotRun      = "<!-- not run: "
	// readmeAddr is the address the README's commands use, which the
	// test replaces by its own server's.
	readmeAddr = "127.0.0.1:9090"
	// readmeRegistry is the registry the README's image commands use,
	// replaced by the test's own.
	readmeRegistry = "registry.example:5000"
)

type readmeBlock struct {
	line  int    // of the opening fence
	needs string // markFunctions, markImages, or "" for every machine
	text  string
}

// readmeBlocks returns the walkthrough blocks of a README in order, and
// the ```yaml block of its Configuration section. Every ```sh block must
// carry a marker, so that a new block is either run or says why not.
func readmeBlocks(t *testing.T, readme string) (blocks []readmeBlock, yaml string) {
	t.Helper()
	lines := strings.Split(readme, "\n")
	marker := ""
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		switch {
		case l == markWalkthrough || l == markFunctions || l == markImages || strings.HasPrefix(l, markNotRun):
			marker = l
			continue
		case strings.HasPrefix(l, "```"):
			lang := strings.TrimPrefix(l, "```")
			start := i
			var body []string
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
				body = append(body, lines[i])
			}
			if i == len(lines) {
				t.Fatalf("README.md:%d: the block is not closed", start+1)
			}
			switch {
			case lang == "yaml" && yaml == "":
				yaml = strings.Join(body, "\n") + "\n"
			case lang == "sh" && marker == "":
				t.Fatalf("README.md:%d: a sh block without a marker: precede it with %s, %s, %s or %sREASON -->", start+1, markWalkthrough, markFunctions, markImages, markNotRun)
			case lang == "sh" && !strings.HasPrefix(marker, markNotRun):
				b := readmeBlock{line: start + 1, text: strings.Join(body, "\n") + "\n"}
				if marker != markWalkthrough {
					b.needs = marker
				}
				blocks = append(blocks, b)
			case lang != "sh" && marker != "":
				t.Fatalf("README.md:%d: the marker %s is on a %q block, not a sh block", start+1, marker, lang)
			}
		case l != "":
			if marker != "" {
				t.Fatalf("README.md:%d: the marker %s is not directly followed by a block", i+1, marker)
			}
		}
		marker = ""
	}
	return blocks, yaml
}

// TestREADMEWalkthrough runs the README as a newcomer would: the built
// signet as ./signet, `./signet serve` started in a fresh directory with
// the README's configuration example, then every walkthrough block in
// order in one bash (so that variables carry from block to block), with
// the Debian AWS CLI as `aws` and a fresh HOME. The README's address
// 127.0.0.1:9090 is replaced by the server's, and SIGNET_ENDPOINT points
// ./signet there; nothing else changes.
func TestREADMEWalkthrough(t *testing.T) {
	awsPath := requireTool(t, awsCLI)
	bash := requireTool(t, "bash")
	requireTool(t, "python3")
	bin := signetBinary(t)
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, yaml := readmeBlocks(t, string(raw))
	if len(blocks) < 8 || yaml == "" {
		t.Fatalf("README.md has %d walkthrough blocks and yaml %q", len(blocks), yaml)
	}
	addr := freeAddr(t)
	local := func(s string) string { return strings.ReplaceAll(s, readmeAddr, addr) }

	work := t.TempDir()
	home := filepath.Join(work, "home")
	binDir := filepath.Join(work, "bin")
	for _, d := range []string{home, binDir, filepath.Join(work, "signet-data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// The configuration example, as DATA_DIR/signet.yaml, which serve
	// reads when present: a valid file whose public_base_url verifiers
	// reach.
	cfgPath := filepath.Join(work, "signet-data", "signet.yaml")
	if err := os.WriteFile(cfgPath, []byte(local(yaml)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(cfgPath); err != nil {
		t.Fatalf("README.md's configuration example: %v", err)
	}
	if err := os.Symlink(bin, filepath.Join(work, "signet")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(awsPath, filepath.Join(binDir, "aws")); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "SIGNET_") && !strings.HasPrefix(kv, "HOME=") &&
			!strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "XDG_") {
			env = append(env, kv)
		}
	}
	// SIGNET_ENDPOINT stands for the default endpoint of ./signet, as the
	// address replacement does for the commands that name it.
	env = append(env, "HOME="+home, "PATH="+binDir+":"+os.Getenv("PATH"), "SIGNET_ENDPOINT=http://"+addr)

	// ./signet serve, as the quickstart says (--listen only because the
	// test cannot count on port 9090 being free).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	serve := exec.Command("./signet", "serve", "--listen", addr)
	serve.Dir, serve.Env = work, env
	serverLog := &lockedBuffer{}
	serve.Stdout, serve.Stderr = serverLog, serverLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- serve.Wait() }()
	defer func() {
		serve.Process.Signal(syscall.SIGTERM)
		select {
		case <-served:
		case <-time.After(time.Minute):
			serve.Process.Kill()
			<-served
		}
		if t.Failed() {
			t.Logf("signet serve:\n%s", serverLog)
		}
	}()
	for deadline := time.Now().Add(time.Minute); ; {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-served:
			t.Fatalf("signet serve exited: %v\n%s", err, serverLog)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("signet serve is not healthy after a minute:\n%s", serverLog)
		}
		time.Sleep(50 * time.Millisecond)
	}
	banner := waitServing(t, serverLog)
	functions := !strings.Contains(banner, "functions cannot run here")
	if !functions {
		if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
			t.Fatalf("functions cannot run here, and SIGNET_REQUIRE_ALL=1:\n%s", banner)
		}
		t.Logf("functions cannot run here; leaving out the blocks marked %s:\n%s", markFunctions, banner)
	}
	// The image blocks need a registry holding the README's image and
	// the notation CLI as notation.
	images := imageWalkthrough(t, binDir)
	if images != "" {
		local = func(s string) string {
			return strings.ReplaceAll(strings.ReplaceAll(s, readmeAddr, addr), readmeRegistry, images)
		}
	}

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, b := range blocks {
		if b.needs == markFunctions && !functions || b.needs == markImages && images == "" {
			continue
		}
		fmt.Fprintf(&script, "echo '>>> README.md:%d' >&2\n%s", b.line, local(b.text))
	}
	script.WriteString("echo '>>> the walkthrough is done' >&2\n")
	cmd := exec.CommandContext(ctx, bash, "-c", script.String())
	cmd.Dir, cmd.Env = work, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walkthrough failed (%v) in the last block named:\n%s", err, lastLines(string(out), 60))
	}
	t.Logf("the walkthrough's output:\n%s", out)
	// What the walkthrough shows, it shows.
	want := []string{
		">>> the walkthrough is done",
		"verified",
		"(CodeVerificationFailedException)",
		"the unsigned package was refused",
		"audit log intact",
		"signing_profile_for_images", // in the list of canceled profiles
	}
	if functions {
		want = append(want, `"hello, world!"`, "value1 = hello, world!")
	}
	if images != "" {
		want = append(want,
			"signed "+images+"/team/app@sha256:",                              // by the CI role
			"Successfully verified signature for "+images+"/team/app@sha256:", // notation verify in CD
			"the CD user cannot sign",
		)
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("the walkthrough's output lacks %q:\n%s", w, out)
		}
	}
	for _, f := range []string{"function.zip", "function-signed.zip", "lambda_function.py"} {
		if _, err := os.Stat(filepath.Join(work, f)); err != nil {
			t.Errorf("the walkthrough did not make %s: %v", f, err)
		}
	}
	if functions {
		if b, err := os.ReadFile(filepath.Join(work, "response.json")); err != nil || strings.TrimSpace(string(b)) != `"hello, world!"` {
			t.Errorf("response.json = %q, %v", b, err)
		}
	}
	// Every file the walkthrough leaves in the directory is one the
	// repository's .gitignore names.
	ignore, err := os.ReadFile("../../.gitignore")
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(work)
	for _, e := range entries {
		name := e.Name()
		if name == "home" || name == "bin" || name == "signet" {
			continue
		}
		if e.IsDir() {
			name += "/"
		}
		if !gitignored(string(ignore), name) {
			t.Errorf("the walkthrough leaves %s, which .gitignore does not name", name)
		}
	}
}

// gitignored reports whether a root-anchored line of .gitignore names
// the file (the only form the walkthrough's files need).
func gitignored(ignore, name string) bool {
	sc := bufio.NewScanner(strings.NewReader(ignore))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "/"+name {
			return true
		}
	}
	return false
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// imageWalkthrough makes what the README's image blocks need: a running
// registry holding the image team/app:v1, and the notation CLI as
// binDir/notation. It returns the registry's host:port, or "" when
// either program is missing (a failure under SIGNET_REQUIRE_ALL=1).
func imageWalkthrough(t *testing.T, binDir string) string {
	t.Helper()
	notation, err := registrytest.Find("notation", "SIGNET_NOTATION")
	if err == nil {
		_, err = registrytest.Find("registry", "SIGNET_REGISTRY")
	}
	if err != nil {
		if os.Getenv("SIGNET_REQUIRE_ALL") == "1" {
			t.Fatalf("%v; SIGNET_REQUIRE_ALL=1 makes it mandatory", err)
		}
		t.Logf("%v; leaving out the blocks marked %s", err, markImages)
		return ""
	}
	if err := os.Symlink(notation, filepath.Join(binDir, "notation")); err != nil {
		t.Fatal(err)
	}
	reg := registrytest.Start(t, registrytest.Options{})
	reg.PushArtifact(t, "team/app", "v1", []byte("the application"))
	return reg.Host
}
