// Package sandbox runs a program in a Linux sandbox: new user, mount,
// pid, network, IPC and UTS namespaces (so no network but its own
// loopback), a minimal read-only root made of the host's /usr and the
// directories it is given, a size-limited writable /tmp, and memory, pids
// and CPU limits through cgroups (v1 or v2, detected). The programs it
// starts inherit no descriptor of Signet's, and [Confine] puts them under
// a seccomp filter that denies what a container runtime's default
// profile denies.
//
// The sandbox's first process is this same executable started again with
// an argument that [IsInit] recognises; the caller's main function hands
// control to its own init code, which calls [Enter] to finish building the
// sandbox from the inside before starting the sandboxed program.
package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// initArg marks a process started by Start.
const initArg = "__signet_sandbox_init"

// IsInit reports whether this process is a sandbox's init, started by
// [Host.Start].
func IsInit() bool { return len(os.Args) > 1 && os.Args[1] == initArg }

// UserID is the uid and gid that programs in the sandbox run as (that of
// Lambda's sbx_user1051).
const UserID = 993

// Bind is a host directory mounted read-only inside the sandbox.
type Bind struct {
	Source string // host path
	Target string // absolute path inside the sandbox
}

// Limits bounds a sandbox's resources.
type Limits struct {
	MemoryBytes int64   // memory of all its processes, page cache and /tmp included
	Pids        int64   // processes and threads of the programs the init process starts
	CPUs        float64 // CPU time per wall-clock time
	TmpBytes    int64   // size of /tmp
}

// Config describes one sandbox.
type Config struct {
	Name    string // cgroup name; unique among running sandboxes
	Binds   []Bind
	Limits  Limits
	Payload []byte    // handed to the init process (Inside.Payload)
	Stderr  io.Writer // the init process's own output
}

// Host holds the installation-wide settings of sandboxes.
type Host struct {
	Cgroups      CgroupVersion
	CgroupParent string // group all sandboxes are created under
	// UIDBase is the host uid that root inside a sandbox maps to;
	// UserID inside maps to UIDBase+UserID. Neither owns any host file,
	// so the sandbox can write nothing of the host's.
	UIDBase    int
	Executable string
}

// cgroupRoot holds one group per Signet process (named by its pid), and
// in it one group per sandbox.
const cgroupRoot = "signet"

// DefaultUIDBase is the first host uid sandboxes use.
const DefaultUIDBase = 200000

// NewHost detects the cgroup hierarchy. It fails with a message saying
// what is missing.
func NewHost() (*Host, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("function sandboxes need Signet to run as root: it creates cgroups, maps sandbox users and mounts code into each sandbox")
	}
	v, err := DetectCgroups()
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	removeStale(v, cgroupRoot)
	parent := filepath.Join(cgroupRoot, strconv.Itoa(os.Getpid()))
	return &Host{Cgroups: v, CgroupParent: parent, UIDBase: DefaultUIDBase, Executable: exe}, nil
}

// detachedReadOnly returns a read-only, nosuid, nodev copy of the mount
// of dir, not attached anywhere, for the sandbox's init to attach inside
// its own mount namespace (a bind mount by path could not cross mount
// namespaces, and the init process may not be able to reach dir).
func detachedReadOnly(dir string) (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return nil, fmt.Errorf("open_tree %s: %w", dir, err)
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("making %s read-only: %w", dir, err)
	}
	return os.NewFile(uintptr(fd), dir), nil
}

// Close removes the host's own cgroup once its sandboxes are closed.
func (h *Host) Close() error {
	var dirs []string
	switch h.Cgroups {
	case CgroupV1:
		for _, c := range v1Controllers {
			dirs = append(dirs, filepath.Join(cgroupFS, c, h.CgroupParent))
		}
	case CgroupV2:
		dirs = []string{filepath.Join(cgroupFS, h.CgroupParent)}
	}
	var err error
	for _, d := range dirs {
		if e := os.Remove(d); e != nil && !errors.Is(e, os.ErrNotExist) {
			err = e
		}
	}
	return err
}

// spec is what the init process reads from fd 3.
type spec struct {
	Binds    []string // targets; the sources are fds 5, 6, ...
	TmpBytes int64
	DropUser bool  // run programs as UserID
	Procs    int64 // RLIMIT_NPROC: processes and threads of UserID
	Payload  []byte
}

// Sandbox is a running sandbox.
type Sandbox struct {
	// Control is Signet's end of a socket pair whose other end is the
	// init process's Inside.Control.
	Control *os.File
	// Pid is the host pid of the init process.
	Pid int

	cmd  *exec.Cmd
	cg   *cgroup
	done chan struct{}
	err  error
	once sync.Once
}

// Start starts a sandbox whose init process is this executable.
func (h *Host) Start(cfg Config) (sb *Sandbox, err error) {
	var closeLater []*os.File
	defer func() {
		for _, f := range closeLater {
			f.Close()
		}
	}()
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	closeLater = append(closeLater, specR)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		specW.Close()
		return nil, err
	}
	control := os.NewFile(uintptr(pair[0]), "sandbox-control")
	child := os.NewFile(uintptr(pair[1]), "sandbox-control-child")
	closeLater = append(closeLater, child)
	files := []*os.File{specR, child}
	sp := spec{TmpBytes: cfg.Limits.TmpBytes, Payload: cfg.Payload}
	for _, b := range cfg.Binds {
		f, err := detachedReadOnly(b.Source)
		if err != nil {
			specW.Close()
			control.Close()
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		closeLater = append(closeLater, f)
		files = append(files, f)
		sp.Binds = append(sp.Binds, b.Target)
	}
	sp.DropUser = true
	sp.Procs = cfg.Limits.Pids
	ids := []syscall.SysProcIDMap{{ContainerID: 0, HostID: h.UIDBase, Size: 1}, {ContainerID: UserID, HostID: h.UIDBase + UserID, Size: 1}}
	// The init process runs as an unprivileged host user that may not be
	// able to reach the executable's directory, so it is executed through
	// a descriptor opened here.
	exe, err := os.Open(h.Executable)
	if err != nil {
		specW.Close()
		control.Close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	closeLater = append(closeLater, exe)
	files = append(files, exe)
	cmd := &exec.Cmd{Path: fmt.Sprintf("/proc/self/fd/%d", 2+len(files)), Args: []string{h.Executable, initArg}}
	cmd.Env = []string{"GOMAXPROCS=2"} // nothing of Signet's environment
	cmd.Dir = "/"
	cmd.ExtraFiles = files
	cmd.Stdout, cmd.Stderr = cfg.Stderr, cfg.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWNET |
			syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
		UidMappings: ids,
		GidMappings: ids,
		Credential:  &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true},
		Pdeathsig:   syscall.SIGKILL,
	}
	var cg *cgroup
	if h.Cgroups != CgroupNone {
		if cg, err = newCgroup(h.Cgroups, h.CgroupParent, cfg.Name, cfg.Limits); err != nil {
			specW.Close()
			control.Close()
			return nil, err
		}
	}
	if err := cmd.Start(); err != nil {
		specW.Close()
		control.Close()
		if cg != nil {
			cg.remove()
		}
		return nil, fmt.Errorf("sandbox: failed to start the init process: %w", err)
	}
	sb = &Sandbox{Control: control, Pid: cmd.Process.Pid, cmd: cmd, cg: cg, done: make(chan struct{})}
	go func() {
		sb.err = cmd.Wait()
		close(sb.done)
	}()
	// The init process waits for its spec, so it joins the cgroup before
	// it does anything.
	if cg != nil {
		if err := cg.add(sb.Pid); err != nil {
			specW.Close()
			sb.Close()
			return nil, err
		}
	}
	b, _ := json.Marshal(sp)
	_, err = specW.Write(b)
	specW.Close()
	if err != nil {
		sb.Close()
		return nil, fmt.Errorf("sandbox: the init process did not take its configuration: %w", err)
	}
	return sb, nil
}

// Done is closed when the init process has exited.
func (sb *Sandbox) Done() <-chan struct{} { return sb.done }

// ExitError is how the init process ended (after Done is closed).
func (sb *Sandbox) ExitError() error { return sb.err }

// PeakMemory is the most memory the sandbox has used, in bytes (0 when
// no cgroup is used).
func (sb *Sandbox) PeakMemory() int64 {
	if sb.cg == nil {
		return 0
	}
	return sb.cg.peakMemory()
}

// OOMKilled reports whether the kernel killed one of the sandbox's
// processes for exceeding its memory limit.
func (sb *Sandbox) OOMKilled() bool { return sb.cg != nil && sb.cg.oomKilled() }

// Kill kills every process of the sandbox. Killing the init process,
// pid 1 of the sandbox's pid namespace, makes the kernel kill the rest.
func (sb *Sandbox) Kill() {
	syscall.Kill(sb.Pid, syscall.SIGKILL)
	if sb.cg != nil {
		sb.cg.killAll()
	}
}

// Close kills the sandbox, waits for it and removes its cgroup.
func (sb *Sandbox) Close() error {
	var err error
	sb.once.Do(func() {
		sb.Kill()
		<-sb.done
		sb.Control.Close()
		if sb.cg != nil {
			err = sb.cg.remove()
		}
	})
	return err
}

// ErrNotInit is returned by Enter in a process that Start did not start.
var ErrNotInit = errors.New("sandbox: not a sandbox init process")

// Inside is what Enter hands to the init process.
type Inside struct {
	Payload []byte
	// Control is the init process's end of the control socket.
	Control *os.File
	// RunAs is the credential programs started in the sandbox should
	// run as (nil: stay root of the sandbox's user namespace).
	RunAs *syscall.Credential
}
