package invoke

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// bootstraps are the runtime clients Signet ships for the managed
// runtimes; they are mounted at /var/runtime in every sandbox.
//
//go:embed bootstrap
var bootstraps embed.FS

// Interpreters of the managed runtimes, from the host's /usr (visible in
// every sandbox).
const (
	pythonPath = "/usr/bin/python3"
	nodePath   = "/usr/bin/node"
)

// runtimeCommand is the program that runs a function of runtime rt.
func runtimeCommand(rt string) ([]string, error) {
	switch {
	case strings.HasPrefix(rt, "python3."):
		return []string{pythonPath, "-u", "/var/runtime/python/bootstrap.py"}, nil
	case strings.HasPrefix(rt, "nodejs") && strings.HasSuffix(rt, ".x"):
		return []string{nodePath, "/var/runtime/nodejs/bootstrap.js"}, nil
	case rt == "provided" || rt == "provided.al2" || rt == "provided.al2023":
		return []string{"/var/task/bootstrap"}, nil
	}
	return nil, fmt.Errorf("runtime %s cannot run here: Signet runs python3.x, nodejs*.x, provided, provided.al2 and provided.al2023", rt)
}

// RuntimeAvailable reports whether the interpreter of runtime rt is
// installed (provided runtimes need none).
func RuntimeAvailable(rt string) error {
	args, err := runtimeCommand(rt)
	if err != nil {
		return err
	}
	if strings.HasPrefix(args[0], "/usr/") {
		if _, err := os.Stat(args[0]); err != nil {
			return fmt.Errorf("runtime %s needs %s, which is not installed", rt, args[0])
		}
	}
	return nil
}

// writeBootstraps writes the embedded runtime clients under dir.
func writeBootstraps(dir string) error {
	return fs.WalkDir(bootstraps, "bootstrap", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, strings.TrimPrefix(path, "bootstrap"))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := bootstraps.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}
