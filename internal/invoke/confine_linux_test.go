package invoke

import (
	"encoding/json"
	"strings"
	"testing"
)

// confinedPy probes what a function can reach beyond its own process:
// descriptors other than 0, 1 and 2 (it writes a forged response frame
// to each), and the system calls the seccomp filter denies.
const confinedPy = `
import ctypes, errno, json, os, socket, struct, subprocess

libc = ctypes.CDLL(None, use_errno=True)

def call(f, *args):
    ctypes.set_errno(0)
    r = f(*args)
    return "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))

def handler(event, context):
    written = []
    hdr = json.dumps({"id": context.aws_request_id}).encode()
    body = b'"forged"'
    frame = b"R" + struct.pack(">II", len(hdr), len(body)) + hdr + body
    for fd in range(3, 64):
        try:
            # The runtime client's own connection to the Runtime API is
            # not Signet's: leave it alone.
            s = socket.socket(fileno=fd)
            family = s.family
            s.detach()
            if family in (socket.AF_INET, socket.AF_INET6):
                continue
        except OSError:
            pass
        try:
            os.write(fd, frame)
            written.append(fd)
        except OSError:
            pass
    out = {"written": written}
    out["unshare"] = call(libc.unshare, 0x10000000)  # CLONE_NEWUSER
    out["unshare_ns"] = call(libc.unshare, 0x00020000)  # CLONE_NEWNS
    out["mount"] = call(libc.mount, b"none", b"/tmp", b"tmpfs", 0, None)
    out["ptrace"] = call(libc.ptrace, 0, 0, None, None)  # PTRACE_TRACEME
    out["keyctl"] = call(libc.syscall, 250 if os.uname().machine == "x86_64" else 219, 0, 0, 0, 0, 0)  # keyctl(KEYCTL_GET_KEYRING_ID)
    # clone(CLONE_NEWUSER|SIGCHLD) as fork would call it; a child, if the
    # filter let it through, leaves at once.
    sys_clone = 56 if os.uname().machine == "x86_64" else 220
    ctypes.set_errno(0)
    r = libc.syscall(sys_clone, ctypes.c_ulong(0x10000000 | 17), None, None, None, None)
    if r == 0:
        os._exit(0)
    out["clone_newuser"] = "ok" if r > 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
    if r > 0:
        os.waitpid(r, 0)
    out["personality"] = call(libc.personality, ctypes.c_ulong(0x0040000))  # ADDR_NO_RANDOMIZE
    out["personality_query"] = call(libc.personality, ctypes.c_ulong(0xffffffff))
    p = subprocess.run(["unshare", "-U", "true"], capture_output=True)
    out["unshare_cmd"] = p.returncode
    # A child process still starts (clone without namespace flags).
    out["child"] = subprocess.run(["true"]).returncode
    return out
`

// TestRuntimeConfined checks that function code cannot write to
// Signet's control socket (or any descriptor but 0, 1 and 2), so it
// cannot forge a response or log lines, and that unshare, mount, ptrace
// and keyctl fail inside a function.
func TestRuntimeConfined(t *testing.T) {
	requireTool(t, "python3")
	fx := newFixture(t, Config{})
	f := fx.function(t, "confined", "python3.11", "app.handler", zipFiles(t, map[string]string{"app.py": confinedPy}))
	res := fx.invoke(t, f, `{}`)
	if res.FunctionError != "" || strings.Contains(string(res.Payload), "forged") {
		t.Fatalf("confined function: %q %s\n%s", res.FunctionError, res.Payload, res.Log)
	}
	var out struct {
		Written          []int  `json:"written"`
		Unshare          string `json:"unshare"`
		UnshareNS        string `json:"unshare_ns"`
		Mount            string `json:"mount"`
		Ptrace           string `json:"ptrace"`
		Keyctl           string `json:"keyctl"`
		CloneNewUser     string `json:"clone_newuser"`
		Personality      string `json:"personality"`
		PersonalityQuery string `json:"personality_query"`
		UnshareCmd       int    `json:"unshare_cmd"`
		Child            int    `json:"child"`
	}
	if err := json.Unmarshal(res.Payload, &out); err != nil {
		t.Fatalf("%s: %v", res.Payload, err)
	}
	if len(out.Written) != 0 {
		t.Errorf("the function could write to descriptors %v", out.Written)
	}
	for name, got := range map[string]string{"unshare(CLONE_NEWUSER)": out.Unshare, "unshare(CLONE_NEWNS)": out.UnshareNS,
		"mount": out.Mount, "ptrace(PTRACE_TRACEME)": out.Ptrace, "keyctl": out.Keyctl, "personality(ADDR_NO_RANDOMIZE)": out.Personality,
		"clone(CLONE_NEWUSER)": out.CloneNewUser} {
		if got != "EPERM" {
			t.Errorf("%s inside a function: %s, want EPERM", name, got)
		}
	}
	if out.PersonalityQuery != "ok" {
		t.Errorf("personality(0xffffffff), a query, failed: %s", out.PersonalityQuery)
	}
	if out.UnshareCmd == 0 {
		t.Error("unshare -U true succeeded inside a function")
	}
	if out.Child != 0 {
		t.Errorf("a function could not start a child process: exit %d", out.Child)
	}
}
