package secretscan

import (
	"context"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
	"unicode"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"
)

// The engine runs gitleaks' rules as gitleaks does, but reads less.
//
// gitleaks runs a rule's regular expression over the whole file once one
// of the rule's keywords appears anywhere in it. On source code, where
// "key", "token" or "auth" appear in most files, that is nearly every
// rule over nearly every byte, and generic-api-key alone reads at a few
// MB/s. The engine instead runs a rule only over the lines around its
// keywords, which is exact for a rule when two things hold, both checked
// on the rule's parsed expression when the rules are loaded:
//
//   - every match contains one of the rule's keywords (the prefilter's
//     premise, which the expression proves: a required literal, or a
//     small set of them, holding a keyword), and
//   - a match spans at most a bounded number of newlines, n.
//
// Then every match lies within n lines of a keyword occurrence, so the
// windows of whole lines [L-n, L+n] around each occurrence (merged where
// they touch) hold every match the whole-file scan finds, and no match
// crosses a window's edge. A window starts and ends on line boundaries,
// where \b behaves as in the whole file. The one difference is the text
// anchors ^ and $ without (?m): in a window they also hold at its edges,
// which can add a finding, never lose one.
//
// Rules that fail either test (a private key's body is unbounded, some
// rules have no keywords) read whole files as in gitleaks, behind the
// same keyword prefilter. Rules that name files by path alone also run
// on the binary files the scan skips.
type engine struct {
	windowed *detect.Detector  // rules run over keyword windows
	whole    *detect.Detector  // rules run over whole files
	paths    *detect.Detector  // path-only rules, run on every file
	trie     *ahocorasick.Trie // the keywords of the windowed and whole rules
	reach    map[string]reach  // a windowed rule's keyword → the lines a window around it needs
	// wholeKeywords maps the whole rules' keywords to the path
	// conditions of the rules having them (nil: none). With none of them
	// in a file, or only those of rules for other paths, the whole
	// detector has nothing to do, unless wholeAlways (a rule without
	// keywords).
	wholeKeywords map[string][]*regexp.Regexp
	wholeAlways   bool
	pathRules     *regexp.Regexp // the path-only rules' paths

	// skipPaths matches the files gitleaks' global allowlists skip
	// (lock files, vendored dependencies, images), checked once per
	// file: the sub-detectors have those allowlists without paths.
	skipPaths *regexp.Regexp
	// rulePaths matches the paths the rules' own path conditions and
	// allowlists name. A file none of them matches is scanned without
	// its path, which changes nothing and spares matching them again
	// for every window and rule. With pathAlways (a rule path matching
	// the empty path), every file is scanned with its path.
	rulePaths  *regexp.Regexp
	pathAlways bool
}

// reach is how many lines before and after a keyword's line a match
// holding it can extend.
type reach struct{ up, down int }

// windowRadiusMax is the largest radius (in lines) worth windowing; a
// rule whose matches may span more reads whole files.
const windowRadiusMax = 32

func newEngine(d *detect.Detector) *engine {
	e := &engine{reach: map[string]reach{}, wholeKeywords: map[string][]*regexp.Regexp{}}
	required := map[string]bool{}
	for _, r := range d.Config.Rules {
		for _, q := range r.RequiredRules {
			required[q.RuleID] = true
		}
	}
	var windowed, whole, paths []config.Rule
	var skipPaths, rulePaths, pathRules []*regexp.Regexp
	for _, a := range d.Config.Allowlists {
		if a.MatchCondition == config.AllowlistMatchOr {
			skipPaths = append(skipPaths, a.Paths...)
		}
	}
	for _, id := range sortedRuleIDs(d.Config.Rules) {
		r := d.Config.Rules[id]
		for _, a := range r.Allowlists {
			rulePaths = append(rulePaths, a.Paths...)
		}
		switch n, ok := windowable(r); {
		case r.Regex == nil:
			paths = append(paths, r)
			pathRules = append(pathRules, r.Path)
		case ok && !required[id]:
			windowed = append(windowed, r)
			for _, k := range r.Keywords {
				k = strings.ToLower(k)
				e.reach[k] = reach{max(e.reach[k].up, n.up), max(e.reach[k].down, n.down)}
			}
		default:
			whole = append(whole, r)
			if r.Path != nil {
				rulePaths = append(rulePaths, r.Path)
			}
			e.wholeAlways = e.wholeAlways || len(r.Keywords) == 0
			for _, k := range r.Keywords {
				k = strings.ToLower(k)
				e.wholeKeywords[k] = append(e.wholeKeywords[k], r.Path)
			}
		}
	}
	e.windowed = subDetector(d, windowed)
	e.whole = subDetector(d, whole)
	e.paths = subDetector(d, paths)
	keywords := sortedKeys(e.reach)
	for k := range e.wholeKeywords {
		if _, ok := e.reach[k]; !ok {
			keywords = append(keywords, k)
		}
	}
	e.trie = ahocorasick.NewTrieBuilder().AddStrings(keywords).Build()
	e.skipPaths = anyOf(skipPaths)
	e.rulePaths = anyOf(rulePaths)
	e.pathRules = anyOf(pathRules)
	e.pathAlways = e.rulePaths.MatchString("")
	return e
}

// anyOf is one expression matching what any of res matches; each keeps
// its flags, which end with its group.
func anyOf(res []*regexp.Regexp) *regexp.Regexp {
	if len(res) == 0 {
		return regexp.MustCompile(`[^\x00-\x{10FFFF}]`) // matches nothing
	}
	parts := make([]string, len(res))
	for i, re := range res {
		parts[i] = "(?:" + re.String() + ")"
	}
	return regexp.MustCompile(strings.Join(parts, "|"))
}

// subDetector is a detector of some of d's rules, with d's settings and
// global allowlists but for their paths, which the engine checks once
// per file.
func subDetector(d *detect.Detector, rules []config.Rule) *detect.Detector {
	cfg := config.Config{Rules: map[string]config.Rule{}, Keywords: map[string]struct{}{}}
	for _, a := range d.Config.Allowlists {
		b := *a
		b.Paths = nil
		if len(b.Commits)+len(b.Regexes)+len(b.StopWords) > 0 {
			cfg.Allowlists = append(cfg.Allowlists, &b)
		}
	}
	for _, r := range rules {
		cfg.Rules[r.RuleID] = r
		cfg.OrderedRules = append(cfg.OrderedRules, r.RuleID)
		for _, k := range r.Keywords {
			cfg.Keywords[strings.ToLower(k)] = struct{}{}
		}
	}
	s := detect.NewDetector(cfg)
	s.Redact = d.Redact
	s.MaxDecodeDepth = d.MaxDecodeDepth
	return s
}

// detectPath runs the path-only rules (a .p12 file, say) on a file
// whatever its content.
func (e *engine) detectPath(ctx context.Context, name string) []report.Finding {
	if e.skipPaths.MatchString(name) || !e.pathRules.MatchString(name) {
		return nil
	}
	return e.paths.DetectContext(ctx, detect.Fragment{FilePath: name})
}

// detect returns what gitleaks' rules find in raw, a file named name;
// lines in the findings are 0-based as gitleaks has them.
func (e *engine) detect(ctx context.Context, name, raw string) []report.Finding {
	if e.skipPaths.MatchString(name) {
		return nil
	}
	path := ""
	if e.pathAlways || e.rulePaths.MatchString(name) {
		path = name
	}
	found := e.detectPath(ctx, name)

	// Keyword occurrences, by line. The lower-cased text (with ſ, which
	// folds to s, made s) has the same lines as raw, if not the same
	// byte offsets.
	low := strings.ToLower(raw)
	if strings.Contains(low, "ſ") {
		low = strings.ReplaceAll(low, "ſ", "s")
	}
	hits := e.trie.MatchString(low)
	whole := e.wholeAlways
	var tried map[string]bool
	for _, h := range hits {
		k := h.MatchString()
		conds, ok := e.wholeKeywords[k]
		if whole || !ok || tried[k] {
			continue
		}
		if tried == nil {
			tried = map[string]bool{}
		}
		tried[k] = true
		for _, p := range conds {
			whole = whole || p == nil || p.MatchString(name)
		}
	}
	if whole {
		found = append(found, e.whole.DetectContext(ctx, detect.Fragment{Raw: raw, FilePath: path})...)
	}
	lowNL := newlineIndex(low)
	rawNL := newlineIndex(raw)
	lines := len(rawNL) + 1
	type span struct{ from, to int } // lines, inclusive
	spans := make([]span, 0, len(hits))
	for _, h := range hits {
		r, ok := e.reach[h.MatchString()]
		if !ok {
			continue // a whole rule's
		}
		l := sort.SearchInts(lowNL, int(h.Pos())) // lines before the hit
		spans = append(spans, span{max(0, l-r.up), min(lines-1, l+r.down)})
	}
	if len(spans) == 0 {
		return found
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from - b.from })
	merged := spans[:1]
	for _, s := range spans[1:] {
		last := &merged[len(merged)-1]
		if s.from <= last.to+1 {
			last.to = max(last.to, s.to)
		} else {
			merged = append(merged, s)
		}
	}
	for _, s := range merged {
		start, end := 0, len(raw)
		if s.from > 0 {
			start = rawNL[s.from-1] + 1
		}
		if s.to < len(rawNL) {
			end = rawNL[s.to] + 1
		}
		for _, f := range e.windowed.DetectContext(ctx, detect.Fragment{Raw: raw[start:end], FilePath: path}) {
			f.StartLine += s.from
			f.EndLine += s.from
			found = append(found, f)
		}
	}
	return found
}

// newlineIndex returns the offsets of the newlines in s.
func newlineIndex(s string) []int {
	var idx []int
	for off := 0; ; {
		i := strings.IndexByte(s[off:], '\n')
		if i < 0 {
			return idx
		}
		idx = append(idx, off+i)
		off += i + 1
	}
}

// windowable reports whether r can run over keyword windows (see
// engine), and the lines its windows need around a keyword's.
func windowable(r config.Rule) (reach, bool) {
	if r.Regex == nil || len(r.Keywords) == 0 || len(r.RequiredRules) > 0 || r.SkipReport || r.Path != nil {
		return reach{}, false
	}
	re, err := syntax.Parse(r.Regex.String(), syntax.Perl)
	if err != nil {
		return reach{}, false
	}
	kws := make([]string, len(r.Keywords))
	for i, k := range r.Keywords {
		kws[i] = strings.ToLower(k)
	}
	if !holdsKeyword(re, kws) {
		return reach{}, false
	}
	n := keywordReach(re, kws)
	if n.up > windowRadiusMax || n.down > windowRadiusMax {
		return reach{}, false
	}
	return n, true
}

// keywordReach bounds the newlines of a match of re before and after
// the keyword it holds (holdsKeyword(re, kws) is true). Where re is a
// sequence with a part that holds the keyword, the parts before it
// bound the lines above and the parts after it those below; otherwise
// the whole match's bound serves both ways.
func keywordReach(re *syntax.Regexp, kws []string) reach {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	n := newlines(re)
	best := reach{n, n}
	if re.Op != syntax.OpConcat {
		return best
	}
	sum := func(subs []*syntax.Regexp) int {
		t := 0
		for _, sub := range subs {
			t = min(unbounded, t+newlines(sub))
		}
		return t
	}
	for i := range re.Sub {
		for j := i + 1; j <= len(re.Sub); j++ {
			part := &syntax.Regexp{Op: syntax.OpConcat, Sub: re.Sub[i:j]}
			if !holdsKeyword(part, kws) {
				continue
			}
			inner := sum(re.Sub[i:j])
			r := reach{min(unbounded, sum(re.Sub[:i])+inner), min(unbounded, inner+sum(re.Sub[j:]))}
			if r.up+r.down < best.up+best.down {
				best = r
			}
			break // a longer part only adds lines
		}
	}
	return best
}

const unbounded = math.MaxInt32

// newlines returns the most newlines a match of re can contain, or
// unbounded.
func newlines(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return strings.Count(string(re.Rune), "\n")
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i] <= '\n' && '\n' <= re.Rune[i+1] {
				return 1
			}
		}
		return 0
	case syntax.OpAnyChar:
		return 1
	case syntax.OpCapture, syntax.OpQuest:
		return newlines(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		if newlines(re.Sub[0]) > 0 {
			return unbounded
		}
		return 0
	case syntax.OpRepeat:
		n := newlines(re.Sub[0])
		if n == 0 {
			return 0
		}
		if re.Max < 0 || n >= unbounded || n*re.Max >= unbounded {
			return unbounded
		}
		return n * re.Max
	case syntax.OpConcat:
		sum := 0
		for _, sub := range re.Sub {
			sum += newlines(sub)
			if sum >= unbounded {
				return unbounded
			}
		}
		return sum
	case syntax.OpAlternate:
		m := 0
		for _, sub := range re.Sub {
			m = max(m, newlines(sub))
		}
		return m
	}
	return 0 // empty-width assertions, no match, empty match
}

// maxLiterals bounds the strings literals expands a node into.
const maxLiterals = 256

// holdsKeyword reports whether every string re matches holds, once
// lower-cased, one of the keywords kws.
func holdsKeyword(re *syntax.Regexp, kws []string) bool {
	if lits, ok := literals(re); ok {
		return len(lits) > 0 && allHold(lits, kws)
	}
	switch re.Op {
	case syntax.OpCapture, syntax.OpPlus:
		return holdsKeyword(re.Sub[0], kws)
	case syntax.OpRepeat:
		return re.Min >= 1 && holdsKeyword(re.Sub[0], kws)
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if !holdsKeyword(sub, kws) {
				return false
			}
		}
		return true
	case syntax.OpConcat:
		// One part holds a keyword, or a run of adjacent parts with
		// finitely many strings does (the parser factors "access|auth"
		// into "a" then "ccess|uth").
		for i, sub := range re.Sub {
			if holdsKeyword(sub, kws) {
				return true
			}
			run := []string{""}
			for _, next := range re.Sub[i:] {
				lits, ok := literals(next)
				if !ok || len(run)*len(lits) > maxLiterals {
					break
				}
				run = product(run, lits)
				if allHold(run, kws) {
					return true
				}
			}
		}
	}
	return false
}

// literals returns the lower-cased strings re matches, if there are
// few; a rune that case-folds to an ASCII letter (K, ſ) is that letter,
// as the keyword prefilter sees it.
func literals(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpLiteral:
		var b strings.Builder
		for _, r := range re.Rune {
			b.WriteRune(fold(r))
		}
		return []string{b.String()}, true
	case syntax.OpCharClass:
		var set []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if int(re.Rune[i+1]-re.Rune[i]) >= maxLiterals-len(set) {
				return nil, false
			}
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if s := string(fold(r)); !slices.Contains(set, s) {
					set = append(set, s)
				}
			}
		}
		return set, true
	case syntax.OpCapture:
		return literals(re.Sub[0])
	case syntax.OpQuest:
		lits, ok := literals(re.Sub[0])
		return append(lits, ""), ok
	case syntax.OpAlternate:
		var set []string
		for _, sub := range re.Sub {
			lits, ok := literals(sub)
			if !ok || len(set)+len(lits) > maxLiterals {
				return nil, false
			}
			set = append(set, lits...)
		}
		return set, true
	case syntax.OpConcat:
		run := []string{""}
		for _, sub := range re.Sub {
			lits, ok := literals(sub)
			if !ok || len(run)*len(lits) > maxLiterals {
				return nil, false
			}
			run = product(run, lits)
		}
		return run, true
	}
	return nil, false
}

// fold maps r to the ASCII letter it case-folds with, if any, else to
// its lower case.
func fold(r rune) rune {
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < unicode.MaxASCII && unicode.IsLetter(f) {
			return unicode.ToLower(f)
		}
	}
	return unicode.ToLower(r)
}

func product(a, b []string) []string {
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return out
}

func allHold(lits, kws []string) bool {
	for _, l := range lits {
		if !slices.ContainsFunc(kws, func(k string) bool { return strings.Contains(l, k) }) {
			return false
		}
	}
	return true
}

func sortedRuleIDs(m map[string]config.Rule) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func sortedKeys(m map[string]reach) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
