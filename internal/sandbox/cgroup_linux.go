package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CgroupVersion is the cgroup hierarchy limits are applied through.
type CgroupVersion int

// The hierarchies Signet can use.
const (
	CgroupNone CgroupVersion = iota
	CgroupV1
	CgroupV2
)

func (v CgroupVersion) String() string {
	switch v {
	case CgroupV1:
		return "v1"
	case CgroupV2:
		return "v2"
	}
	return "none"
}

// cgroupFS is where cgroup file systems are mounted.
var cgroupFS = "/sys/fs/cgroup"

// v1Controllers are the v1 hierarchies a sandbox joins.
var v1Controllers = []string{"memory", "pids", "cpu"}

// DetectCgroups reports which hierarchy can enforce memory, pids and CPU
// limits: the unified v2 hierarchy when it has those controllers,
// otherwise v1 when its memory, pids and cpu hierarchies are mounted.
func DetectCgroups() (CgroupVersion, error) {
	if b, err := os.ReadFile(filepath.Join(cgroupFS, "cgroup.controllers")); err == nil {
		have := strings.Fields(string(b))
		if contains(have, "memory") && contains(have, "pids") && contains(have, "cpu") {
			return CgroupV2, nil
		}
		return CgroupNone, fmt.Errorf("the cgroup v2 hierarchy at %s lacks the memory, pids or cpu controller (it has %q)", cgroupFS, have)
	}
	for _, c := range v1Controllers {
		if _, err := os.Stat(filepath.Join(cgroupFS, c, "cgroup.procs")); err != nil {
			return CgroupNone, fmt.Errorf("no cgroup v2 hierarchy with memory, pids and cpu at %s, and no cgroup v1 %s hierarchy: %w", cgroupFS, c, err)
		}
	}
	return CgroupV1, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cgroup is one sandbox's control group (one directory per v1
// controller, or one v2 directory).
type cgroup struct {
	version CgroupVersion
	dirs    []string // v1: memory, pids, cpu; v2: one
}

// initTasks is the room pids.max leaves above Limits.Pids for the init
// process's own threads: the programs it starts are held to Limits.Pids
// by RLIMIT_NPROC (see Enter), so exhausting their budget never keeps the
// init process from starting the thread it needs to report the failure.
const initTasks = 64

// cpuPeriod is the CFS period the CPU quota is expressed in.
const cpuPeriod = 100000

// newCgroup creates the control group parent/name and applies l.
func newCgroup(v CgroupVersion, parent, name string, l Limits) (*cgroup, error) {
	cg := &cgroup{version: v}
	switch v {
	case CgroupV1:
		for _, c := range v1Controllers {
			cg.dirs = append(cg.dirs, filepath.Join(cgroupFS, c, parent, name))
		}
	case CgroupV2:
		// Every level down to the group hands the controllers on.
		dir := cgroupFS
		for _, part := range strings.Split(parent, "/") {
			if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory +pids +cpu"), 0); err != nil {
				return nil, fmt.Errorf("failed to delegate the memory, pids and cpu controllers to %s: %w", dir, err)
			}
			dir = filepath.Join(dir, part)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory +pids +cpu"), 0); err != nil {
			return nil, fmt.Errorf("failed to delegate the memory, pids and cpu controllers to %s: %w", dir, err)
		}
		cg.dirs = []string{filepath.Join(dir, name)}
	default:
		return nil, errors.New("no usable cgroup hierarchy")
	}
	for _, d := range cg.dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			cg.remove()
			return nil, fmt.Errorf("failed to create cgroup %s: %w", d, err)
		}
	}
	if err := cg.apply(l); err != nil {
		cg.remove()
		return nil, err
	}
	return cg, nil
}

// limitFiles returns the files and values that enforce l.
func limitFiles(v CgroupVersion, dirs []string, l Limits) []struct{ path, value string } {
	type fv = struct{ path, value string }
	var out []fv
	quota := int64(l.CPUs * cpuPeriod)
	shares := int64(l.CPUs * 1024)
	switch v {
	case CgroupV1:
		mem, pids, cpu := dirs[0], dirs[1], dirs[2]
		out = append(out,
			fv{filepath.Join(mem, "memory.limit_in_bytes"), strconv.FormatInt(l.MemoryBytes, 10)},
			fv{filepath.Join(mem, "memory.swappiness"), "0"},
			// Optional: exists only when swap accounting is on.
			fv{filepath.Join(mem, "memory.memsw.limit_in_bytes"), strconv.FormatInt(l.MemoryBytes, 10)},
			fv{filepath.Join(pids, "pids.max"), strconv.FormatInt(l.Pids+initTasks, 10)},
			fv{filepath.Join(cpu, "cpu.cfs_period_us"), strconv.Itoa(cpuPeriod)},
			fv{filepath.Join(cpu, "cpu.cfs_quota_us"), strconv.FormatInt(quota, 10)},
			fv{filepath.Join(cpu, "cpu.shares"), strconv.FormatInt(max(shares, 2), 10)},
		)
	case CgroupV2:
		d := dirs[0]
		out = append(out,
			fv{filepath.Join(d, "memory.max"), strconv.FormatInt(l.MemoryBytes, 10)},
			fv{filepath.Join(d, "memory.swap.max"), "0"},
			fv{filepath.Join(d, "pids.max"), strconv.FormatInt(l.Pids+initTasks, 10)},
			fv{filepath.Join(d, "cpu.max"), fmt.Sprintf("%d %d", quota, cpuPeriod)},
			fv{filepath.Join(d, "cpu.weight"), strconv.FormatInt(min(max(shares*100/1024, 1), 10000), 10)},
		)
	}
	return out
}

func (cg *cgroup) apply(l Limits) error {
	for _, f := range limitFiles(cg.version, cg.dirs, l) {
		err := os.WriteFile(f.path, []byte(f.value), 0)
		if err != nil && !(errors.Is(err, os.ErrNotExist) && (strings.HasSuffix(f.path, "memsw.limit_in_bytes") || strings.HasSuffix(f.path, "swap.max"))) {
			return fmt.Errorf("failed to set %s to %s: %w", f.path, f.value, err)
		}
	}
	return nil
}

// add moves process pid into the group.
func (cg *cgroup) add(pid int) error {
	for _, d := range cg.dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("failed to move pid %d into %s: %w", pid, d, err)
		}
	}
	return nil
}

// peakMemory is the most memory the group has used, in bytes.
func (cg *cgroup) peakMemory() int64 {
	name := "memory.max_usage_in_bytes"
	if cg.version == CgroupV2 {
		name = "memory.peak"
	}
	b, err := os.ReadFile(filepath.Join(cg.dirs[0], name))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// oomKilled reports whether the kernel killed a process of the group for
// exceeding its memory limit.
func (cg *cgroup) oomKilled() bool {
	if cg.version == CgroupV2 {
		b, _ := os.ReadFile(filepath.Join(cg.dirs[0], "memory.events"))
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" && f[1] != "0" {
				return true
			}
		}
		return false
	}
	b, _ := os.ReadFile(filepath.Join(cg.dirs[0], "memory.oom_control"))
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" {
			return f[1] != "0"
		}
	}
	// Kernels before 4.13 have no oom_kill counter; hitting the limit is
	// the next best sign.
	b, _ = os.ReadFile(filepath.Join(cg.dirs[0], "memory.failcnt"))
	n := strings.TrimSpace(string(b))
	return n != "" && n != "0"
}

// killAll kills every process left in the group.
func (cg *cgroup) killAll() {
	if cg.version == CgroupV2 {
		if os.WriteFile(filepath.Join(cg.dirs[0], "cgroup.kill"), []byte("1"), 0) == nil {
			return
		}
	}
	for range 3 {
		b, err := os.ReadFile(filepath.Join(cg.dirs[len(cg.dirs)-1], "cgroup.procs"))
		if err != nil || len(strings.TrimSpace(string(b))) == 0 {
			return
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// remove deletes the group's directories, waiting briefly for killed
// processes to leave them.
func (cg *cgroup) remove() error {
	var err error
	for _, d := range cg.dirs {
		for i := 0; ; i++ {
			err = os.Remove(d)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			if i == 100 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return err
}

// removeStale removes the groups that processes which no longer exist
// left under root/PID (a server killed before it could clean up).
func removeStale(v CgroupVersion, root string) {
	var bases []string
	switch v {
	case CgroupV1:
		for _, c := range v1Controllers {
			bases = append(bases, filepath.Join(cgroupFS, c, root))
		}
	case CgroupV2:
		bases = []string{filepath.Join(cgroupFS, root)}
	}
	for _, base := range bases {
		entries, _ := os.ReadDir(base)
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || !e.IsDir() || syscall.Kill(pid, 0) != syscall.ESRCH {
				continue
			}
			dir := filepath.Join(base, e.Name())
			children, _ := os.ReadDir(dir)
			for _, c := range children {
				if c.IsDir() {
					old := &cgroup{version: v, dirs: []string{filepath.Join(dir, c.Name())}}
					old.killAll()
					os.Remove(old.dirs[0])
				}
			}
			os.Remove(dir)
		}
	}
}
