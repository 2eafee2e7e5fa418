package sandbox

import (
	"fmt"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// deniedSyscalls are the system calls a sandboxed program may not make:
// those a container runtime's default seccomp profile (Docker's, moby
// profiles/seccomp/default.json) withholds from a container without
// extra capabilities. They create namespaces or mounts, load kernel code
// or BPF programs, trace or read other processes, reach the kernel
// keyring, change the clock, the swap or the machine's state. Each fails
// with EPERM. Names that do not exist on the running architecture are
// skipped.
var deniedSyscalls = []string{
	// Namespaces (clone with a CLONE_NEW* flag is denied below).
	"unshare", "setns",
	// Mounts.
	"mount", "umount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick",
	"move_mount", "open_tree", "mount_setattr",
	// Tracing and reading other processes.
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
	// Kernel keyring.
	"keyctl", "add_key", "request_key",
	// BPF, performance counters, fault handling in user space, io_uring.
	"bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
	// Kernel modules and kexec.
	"init_module", "finit_module", "delete_module", "create_module", "query_module", "get_kernel_syms",
	"kexec_load", "kexec_file_load",
	// Machine state.
	"reboot", "swapon", "swapoff", "acct", "settimeofday", "stime", "clock_settime", "clock_adjtime", "adjtimex",
	"sethostname", "setdomainname", "syslog", "quotactl", "quotactl_fd", "nfsservctl", "lookup_dcookie",
	"ioperm", "iopl", "vm86", "vm86old", "uselib", "ustat", "sysfs", "_sysctl",
	// File handles bypass path permissions.
	"open_by_handle_at", "name_to_handle_at",
	// Kernel-side notification of other users' files.
	"fanotify_init",
}

// namespaceFlags are clone's flags that create namespaces.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME

// seccompPolicy is the filter of sandboxed programs.
func seccompPolicy() (seccomp.Policy, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return seccomp.Policy{}, err
	}
	var names []string
	for _, n := range deniedSyscalls {
		if _, ok := info.SyscallNames[n]; ok {
			names = append(names, n)
		}
	}
	return seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{Action: seccomp.ActionErrno, Names: names},
			// clone's flags are its first argument on amd64 and arm64.
			{Action: seccomp.ActionErrno, NamesWithCondtions: []seccomp.NameWithConditions{{
				Name:       "clone",
				Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.BitsSet, Value: namespaceFlags}},
			}}},
			// personality only with the values Docker allows (Linux's
			// default, UNAME26, PER_LINUX32 and queries), not, for
			// example, ADDR_NO_RANDOMIZE.
			{Action: seccomp.ActionErrno, NamesWithCondtions: []seccomp.NameWithConditions{{
				Name: "personality",
				Conditions: seccomp.ArgumentConditions{
					{Argument: 0, Operation: seccomp.NotEqual, Value: 0},
					{Argument: 0, Operation: seccomp.NotEqual, Value: 0x0008},
					{Argument: 0, Operation: seccomp.NotEqual, Value: 0x20000},
					{Argument: 0, Operation: seccomp.NotEqual, Value: 0x20008},
					{Argument: 0, Operation: seccomp.NotEqual, Value: 0xffffffff},
				},
			}}},
			// clone3 passes its flags in memory, which a filter cannot
			// read: it fails with ENOSYS, so that C libraries and
			// runtimes fall back to clone (as under Docker).
			{Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS), Names: []string{"clone3"}},
		},
	}, nil
}

// Confine sets no_new_privs and installs the sandbox's seccomp filter on
// the calling OS thread, which every process it then starts inherits.
// Call it with the goroutine locked to its thread (runtime.LockOSThread),
// on the thread that starts the sandboxed program, after the sandbox is
// built: the filter denies the mounts Enter makes.
func Confine() error {
	p, err := seccompPolicy()
	if err != nil {
		return fmt.Errorf("seccomp filter: %w", err)
	}
	if err := seccomp.LoadFilter(seccomp.Filter{NoNewPrivs: true, Policy: p}); err != nil {
		return fmt.Errorf("seccomp filter: %w", err)
	}
	return nil
}
