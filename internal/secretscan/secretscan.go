// Package secretscan finds hard-coded secrets in a Lambda deployment
// package before it is signed: every file of the zip, and of the zip and
// jar archives nested in it, is run through gitleaks' default rules.
//
// A [Finding] names where a secret is (file, line) and which rule found
// it, never the secret: the matched text is dropped as soon as the
// detector returns it, so nothing built from a Finding (a job's status,
// a log line, an audit record) can carry it.
//
// # Limits
//
// Archives are read with bounded depth ([Options.MaxDepth]), bounded
// total uncompressed bytes ([Options.MaxTotal], Lambda's unzipped limit
// by default) and a bounded compression ratio per entry, so a zip bomb
// ends the scan with [ErrTooLarge] instead of exhausting memory. Binary
// files (a NUL byte in the first 8 KB) are skipped unless tiny.
package secretscan

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
	"github.com/zricethezav/gitleaks/v8/report"
)

// Finding is one secret found: where, and by which rule. It never holds
// the secret or the text that matched.
type Finding struct {
	// Path is the file's name in the package; a file inside a nested
	// archive is named outer.zip!inner/file.
	Path string `json:"path"`
	// Line is the 1-based line the secret starts on.
	Line int `json:"line"`
	// RuleID is the gitleaks rule, such as aws-access-token.
	RuleID string `json:"ruleId"`
	// Fingerprint is Path:RuleID:Line, the form gitleaks uses in its
	// .gitleaksignore files, for allowlisting one finding.
	Fingerprint string `json:"fingerprint"`
}

// String is "path:line rule", the form job status reasons list.
func (f Finding) String() string { return fmt.Sprintf("%s:%d %s", f.Path, f.Line, f.RuleID) }

// Errors Scan returns; test with errors.Is.
var (
	// ErrTooLarge reports a package over the size, ratio or nesting
	// limits: possibly a zip bomb. It is not scanned further.
	ErrTooLarge = errors.New("package too large to scan")
	// ErrNotZip reports a package that is not a zip archive.
	ErrNotZip = errors.New("package is not a zip archive")
	// ErrMalformed reports an entry that cannot be unzipped: a bad
	// checksum, compressed data or size, or an unknown method.
	ErrMalformed = errors.New("malformed zip entry")
)

// Defaults of [Options].
const (
	// DefaultMaxTotal is Lambda's limit on a function's unzipped code
	// (the runtime's invoke.MaxUnzippedSize), counted over every nested
	// archive's content too.
	DefaultMaxTotal = 262144000
	// DefaultMaxDepth is how many archives deep the scan goes (the
	// package itself is depth 1): a jar in a zip in the package is read,
	// an archive below that is treated as an ordinary (binary) file.
	DefaultMaxDepth = 3
	// MaxRatio is the largest compression ratio an entry over
	// ratioFloor bytes may have; more is taken for a zip bomb.
	MaxRatio = 200
	// ratioFloor exempts small entries, which compress well legitimately.
	ratioFloor = 1 << 20
	// binarySniff is how much of a file is looked at for a NUL byte.
	binarySniff = 8 << 10
	// TinyBinary is the size up to which a file with a NUL byte is still
	// scanned.
	TinyBinary = 512
)

// Options bound a scan and filter its findings. The zero value is the
// defaults with no allowlist.
type Options struct {
	MaxTotal  int64 // total uncompressed bytes read; 0: DefaultMaxTotal
	MaxDepth  int   // archive nesting; 0: DefaultMaxDepth
	Allowlist *Allowlist
}

// Result is what Scan found and how much it read.
type Result struct {
	Findings []Finding
	Files    int   // files scanned (not skipped)
	Skipped  int   // binary files skipped
	Bytes    int64 // uncompressed bytes read
}

var (
	detOnce sync.Once
	det     *detect.Detector
	eng     *engine
	detErr  error
)

// detector returns the process's detector with gitleaks' default rules,
// loaded at the first call. Its detection methods only read the rules
// and the keyword prefilter (the byte counter they add to is atomic), so
// one detector serves concurrent scans. Loading uses a global viper
// instance, hence once per process.
func detector() (*detect.Detector, error) {
	detOnce.Do(func() {
		// gitleaks logs findings, secret included, at trace level: the
		// library logs nothing here.
		logging.Logger = zerolog.Nop()
		det, detErr = detect.NewDetectorDefaultConfig()
		if detErr != nil {
			detErr = fmt.Errorf("failed to load the gitleaks rules: %w", detErr)
			return
		}
		det.Redact = 100 // the secret is replaced before we see it
		eng = newEngine(det)
	})
	return det, detErr
}

// Rules returns how many rules the detector has, loading it.
func Rules() (int, error) {
	d, err := detector()
	if err != nil {
		return 0, err
	}
	return len(d.Config.Rules), nil
}

// Scan reads the zip r of size bytes and returns the findings that the
// allowlist does not filter, ordered by path and line.
func Scan(ctx context.Context, r io.ReaderAt, size int64, opt Options) (Result, error) {
	if _, err := detector(); err != nil {
		return Result{}, err
	}
	s := &scan{ctx: ctx, eng: eng, opt: opt, seen: map[string]bool{}}
	if s.opt.MaxTotal <= 0 {
		s.opt.MaxTotal = DefaultMaxTotal
	}
	if s.opt.MaxDepth <= 0 {
		s.opt.MaxDepth = DefaultMaxDepth
	}
	// The archive is walked on this goroutine; files are scanned on one
	// worker per CPU.
	workers := runtime.GOMAXPROCS(0)
	s.work = make(chan fileJob, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range s.work {
				s.file(j.name, j.b)
			}
		}()
	}
	err := s.archive(r, size, "", 1)
	close(s.work)
	wg.Wait()
	if err != nil {
		return Result{}, err
	}
	s.res.Bytes = s.bytes
	slices.SortFunc(s.res.Findings, func(a, b Finding) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.RuleID, b.RuleID)
	})
	return s.res, nil
}

// ScanBytes is Scan of a package held in memory.
func ScanBytes(ctx context.Context, b []byte, opt Options) (Result, error) {
	return Scan(ctx, bytes.NewReader(b), int64(len(b)), opt)
}

type scan struct {
	ctx  context.Context
	eng  *engine
	opt  Options
	work chan fileJob

	bytes int64 // read so far, by the walker

	mu   sync.Mutex // guards res (but res.Bytes) and seen, which workers write
	res  Result
	seen map[string]bool
}

type fileJob struct {
	name string
	b    []byte
}

// archive walks one zip; prefix is the archive's own path plus "!" for
// a nested one.
func (s *scan) archive(r io.ReaderAt, size int64, prefix string, depth int) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		if prefix == "" {
			return fmt.Errorf("%w: %v", ErrNotZip, err)
		}
		return err // the caller scans it as a file
	}
	for _, f := range zr.File {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		if f.FileInfo().IsDir() {
			continue
		}
		name := prefix + f.Name
		if f.UncompressedSize64 > uint64(s.opt.MaxTotal-s.bytes) {
			return fmt.Errorf("%w: %s would bring the unzipped total over %d bytes", ErrTooLarge, name, s.opt.MaxTotal)
		}
		if f.UncompressedSize64 > ratioFloor && f.UncompressedSize64/max(f.CompressedSize64, 1) > MaxRatio {
			return fmt.Errorf("%w: %s has a compression ratio over %d:1", ErrTooLarge, name, MaxRatio)
		}
		b, err := s.read(f, name, depth < s.opt.MaxDepth)
		if err != nil {
			return err
		}
		if b == nil {
			continue // binary, skipped
		}
		if depth < s.opt.MaxDepth && isArchive(f.Name, b) {
			if err := s.archive(bytes.NewReader(b), int64(len(b)), name+"!", depth+1); err == nil {
				continue
			} else if errors.Is(err, ErrTooLarge) || s.ctx.Err() != nil {
				return err
			}
			// Not a readable zip after all: scan it as a file.
		}
		select {
		case s.work <- fileJob{name, b}:
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
	}
	return nil
}

// read reads an entry, never more than its declared size nor the
// remaining budget. A binary file that is neither tiny nor an archive to
// recurse into is skipped after its first 8 KB: read returns nil.
func (s *scan) read(f *zip.File, name string, recurse bool) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, readError(name, err)
	}
	defer rc.Close()
	size := int64(f.UncompressedSize64) // checked against the budget
	b := make([]byte, size)
	n, err := io.ReadFull(rc, b[:min(size, binarySniff)])
	if err == nil && n == binarySniff && size > TinyBinary && isBinary(b[:n]) && !(recurse && isArchive(f.Name, b[:n])) {
		s.bytes += int64(n)
		s.skip(name)
		return nil, nil
	}
	if err == nil {
		_, err = io.ReadFull(rc, b[n:])
	}
	if err == nil {
		// archive/zip fails a read past the declared size (ErrFormat).
		_, err = rc.Read(make([]byte, 1))
		if err == io.EOF {
			err = nil
		} else if err == nil {
			err = zip.ErrFormat
		}
	}
	if err != nil {
		return nil, readError(name, err)
	}
	s.bytes += size
	return b, nil
}

// readError wraps an error reading entry name: ErrMalformed if the zip
// is at fault, else (an I/O error of the underlying reader) as is.
func readError(name string, err error) error {
	var corrupt flate.CorruptInputError
	if errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrAlgorithm) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &corrupt) {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, name, err)
	}
	return fmt.Errorf("failed to read %s: %w", name, err)
}

func isBinary(head []byte) bool { return bytes.IndexByte(head, 0) >= 0 }

func isArchive(name string, b []byte) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".zip", ".jar", ".war", ".ear", ".aar", ".whl", ".nupkg":
		return true
	}
	return bytes.HasPrefix(b, []byte("PK\x03\x04"))
}

// skip counts a binary file not scanned, after the rules that judge a
// file by its name alone (a .p12 key store, say) have seen it.
func (s *scan) skip(name string) {
	found := s.eng.detectPath(s.ctx, rulePath(name))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.res.Skipped++
	s.add(name, found)
}

// rulePath is the path gitleaks' rules see: a file in a nested archive
// as if the archive were a directory, so that patterns such as
// (?:^|/)node_modules/ match inside it too.
func rulePath(name string) string { return strings.ReplaceAll(name, "!", "/") }

// file scans one file's content; workers call it concurrently.
func (s *scan) file(name string, b []byte) {
	if len(b) > TinyBinary && isBinary(b[:min(len(b), binarySniff)]) {
		s.skip(name)
		return
	}
	found := s.eng.detect(s.ctx, rulePath(name), string(b))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.res.Files++
	s.add(name, found)
}

// add records the findings of file name; s.mu is held.
func (s *scan) add(name string, found []report.Finding) {
	for _, gf := range found {
		gf.Secret, gf.Match, gf.Line = "", "", "" // never kept
		f := Finding{Path: name, Line: gf.StartLine + 1, RuleID: gf.RuleID}
		f.Fingerprint = fmt.Sprintf("%s:%s:%d", f.Path, f.RuleID, f.Line)
		if s.seen[f.Fingerprint] || s.opt.Allowlist.Allows(f) {
			continue
		}
		s.seen[f.Fingerprint] = true
		s.res.Findings = append(s.res.Findings, f)
	}
}

// Allowlist filters findings: a finding is dropped if its path matches
// one of Paths, its rule is one of Rules, or its fingerprint is one of
// Fingerprints.
type Allowlist struct {
	// Paths are globs (path.Match syntax, matched against the whole path
	// and against each of its /- and !-separated suffixes, so "*.pem"
	// and "testdata/*" match anywhere), or regular expressions written
	// "re:EXPR" (matched against the whole path, unanchored).
	Paths        []string
	Rules        []string
	Fingerprints []string

	once sync.Once
	res  []*regexp.Regexp
}

// Validate reports the first malformed path pattern.
func (a *Allowlist) Validate() error {
	for _, p := range a.Paths {
		if expr, ok := strings.CutPrefix(p, "re:"); ok {
			if _, err := regexp.Compile(expr); err != nil {
				return fmt.Errorf("allow path %q: %v", p, err)
			}
		} else if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("allow path %q: %v", p, err)
		}
	}
	return nil
}

// Allows reports whether f is allowlisted. A nil Allowlist allows none.
func (a *Allowlist) Allows(f Finding) bool {
	if a == nil {
		return false
	}
	if slices.Contains(a.Rules, f.RuleID) || slices.Contains(a.Fingerprints, f.Fingerprint) {
		return true
	}
	a.once.Do(func() {
		for _, p := range a.Paths {
			if expr, ok := strings.CutPrefix(p, "re:"); ok {
				if re, err := regexp.Compile(expr); err == nil {
					a.res = append(a.res, re)
				}
			}
		}
	})
	for _, re := range a.res {
		if re.MatchString(f.Path) {
			return true
		}
	}
	for _, p := range a.Paths {
		if strings.HasPrefix(p, "re:") {
			continue
		}
		for suffix := f.Path; ; {
			if ok, _ := path.Match(p, suffix); ok {
				return true
			}
			i := strings.IndexAny(suffix, "/!")
			if i < 0 {
				break
			}
			suffix = suffix[i+1:]
		}
	}
	return false
}
