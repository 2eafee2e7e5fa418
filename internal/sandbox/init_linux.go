package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hostPaths are the host's system directories, visible read-only in the
// sandbox (symbolic links, as /bin on merged-/usr systems, are recreated).
var hostPaths = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
	"/etc/ssl", "/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime"}

// etcFiles are written into the sandbox's own /etc.
var etcFiles = map[string]string{
	"passwd":        "root:x:0:0:root:/root:/sbin/nologin\nsbx_user1051:x:993:993::/tmp:/sbin/nologin\n",
	"group":         "root:x:0:\nsbx_user1051:x:993:\n",
	"hosts":         "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
	"resolv.conf":   "",
	"nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
}

// devices are the host device nodes bound into the sandbox's /dev.
var devices = []string{"null", "zero", "full", "random", "urandom"}

// Enter builds the sandbox from inside its init process: it reads the
// configuration Start sent, makes a new root file system and moves into
// it, and brings up the loopback interface. Call it first thing when
// IsInit reports true.
func Enter() (*Inside, error) {
	if !IsInit() {
		return nil, ErrNotInit
	}
	specFile := os.NewFile(3, "spec")
	b, err := io.ReadAll(specFile)
	specFile.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the sandbox configuration: %w", err)
	}
	var sp spec
	if err := json.Unmarshal(b, &sp); err != nil {
		return nil, fmt.Errorf("reading the sandbox configuration: %w", err)
	}
	if err := buildRoot(sp); err != nil {
		return nil, err
	}
	if err := loopbackUp(); err != nil {
		return nil, fmt.Errorf("bringing up the loopback interface: %w", err)
	}
	unix.Sethostname([]byte("sandbox"))
	// Nothing in the sandbox may read the init process's memory or fds.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// Every descriptor Start passed (the control socket on fd 4 above
	// all) stays the init process's own: programs it starts inherit only
	// the descriptors they are given explicitly.
	if err := closeOnExec(3); err != nil {
		return nil, fmt.Errorf("marking inherited descriptors close-on-exec: %w", err)
	}
	in := &Inside{Payload: sp.Payload, Control: os.NewFile(4, "control")}
	if sp.DropUser {
		in.RunAs = &syscall.Credential{Uid: UserID, Gid: UserID, NoSetGroups: true}
		// The programs' process budget is their user's: RLIMIT_NPROC
		// counts the tasks of one user in this user namespace, so a fork
		// bomb run as UserID cannot take the threads the init process
		// (root here) still needs; the cgroup's pids.max leaves room for
		// those (initTasks).
		if sp.Procs > 0 {
			lim := &unix.Rlimit{Cur: uint64(sp.Procs), Max: uint64(sp.Procs)}
			if err := unix.Setrlimit(unix.RLIMIT_NPROC, lim); err != nil {
				return nil, fmt.Errorf("limiting the sandbox user's processes: %w", err)
			}
		}
	}
	return in, nil
}

// closeOnExec sets FD_CLOEXEC on every descriptor from first on.
func closeOnExec(first int) error {
	if err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	// Kernels before 5.11: each open descriptor in turn.
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < first {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			return err
		}
	}
	return nil
}

// newRoot is where the sandbox's root is assembled before pivot_root.
// It is a fresh tmpfs mounted over the host's /tmp in the private mount
// namespace, so nothing outside sees it.
const newRoot = "/tmp"

func buildRoot(sp spec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := unix.Mount("signet-root", newRoot, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0755"); err != nil {
		return fmt.Errorf("mounting the root tmpfs: %w", err)
	}
	in := func(p string) string { return filepath.Join(newRoot, p) }
	for _, p := range hostPaths {
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
			continue
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			os.MkdirAll(filepath.Dir(in(p)), 0o755)
			if err := os.Symlink(target, in(p)); err != nil {
				return err
			}
		default:
			if err := bindReadOnly(p, in(p), fi.IsDir()); err != nil {
				return err
			}
		}
	}
	os.MkdirAll(in("/etc"), 0o755)
	for name, content := range etcFiles {
		if err := os.WriteFile(in("/etc/"+name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	for i, target := range sp.Binds {
		if err := os.MkdirAll(in(target), 0o755); err != nil {
			return err
		}
		if err := unix.MoveMount(5+i, "", unix.AT_FDCWD, in(target), unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("attaching %s: %w", target, err)
		}
		unix.Close(5 + i)
	}
	tmp := in("/tmp")
	os.MkdirAll(tmp, 0o755)
	opts := "mode=1777"
	if sp.TmpBytes > 0 {
		opts += ",size=" + strconv.FormatInt(sp.TmpBytes, 10)
	}
	if err := unix.Mount("tmpfs", tmp, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mounting /tmp: %w", err)
	}
	if err := makeDev(in("/dev")); err != nil {
		return err
	}
	os.MkdirAll(in("/proc"), 0o555)
	if err := unix.Mount("proc", in("/proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	for _, d := range []string{"/var/task", "/var/runtime", "/opt", "/root"} {
		os.MkdirAll(in(d), 0o755)
	}
	old := in("/.old-root")
	os.MkdirAll(old, 0o700)
	if err := unix.PivotRoot(newRoot, old); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Unmount("/.old-root", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host root: %w", err)
	}
	os.Remove("/.old-root")
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("making the root read-only: %w", err)
	}
	return nil
}

// bindReadOnly bind-mounts src at dst and makes the mount read-only,
// nosuid and nodev, keeping the flags the kernel locks in a user
// namespace.
func bindReadOnly(src, dst string, dir bool) error {
	if dir {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
	} else {
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, nil, 0o644); err != nil {
			return err
		}
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting %s: %w", src, err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dst, &st); err != nil {
		return err
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			flags |= f.ms
		}
	}
	if err := unix.Mount("", dst, "", flags, ""); err != nil {
		return fmt.Errorf("making %s read-only: %w", dst, err)
	}
	return nil
}

func makeDev(dev string) error {
	os.MkdirAll(dev, 0o755)
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "size=64k,mode=0755"); err != nil {
		return fmt.Errorf("mounting /dev: %w", err)
	}
	for _, d := range devices {
		p := filepath.Join(dev, d)
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			return err
		}
		if err := unix.Mount("/dev/"+d, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("binding /dev/%s: %w", d, err)
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		os.Symlink(target, filepath.Join(dev, name))
	}
	shm := filepath.Join(dev, "shm")
	os.MkdirAll(shm, 0o1777)
	return unix.Mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=16m,mode=1777")
}

// loopbackUp brings up lo, the only interface of the new network
// namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var req [unix.IFNAMSIZ + 24]byte
	copy(req[:], "lo")
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
		return e
	}
	flags := *(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ]))
	*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = flags | unix.IFF_UP | unix.IFF_RUNNING
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
		return e
	}
	return nil
}
