package functions

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/signet/signet/internal/deploygate"
	"github.com/signet/signet/internal/errs"
)

// CodeLoadingVariables are environment variables that make a runtime
// Signet runs (python, node, a provided bootstrap and the programs it may
// start from the host's /usr), or the dynamic loader beneath them, load
// code from outside the function's package. Under an Enforce code
// signing config a function may not set them: the signed package would
// no longer be all the code that runs. AWS allows them; Signet does not.
var CodeLoadingVariables = map[string]string{
	// The dynamic loader (every LD_* variable, see codeLoadingPrefixes) and
	// glibc's character set converters.
	"GCONV_PATH": "glibc loads iconv converter modules from this directory",
	// Python.
	"PYTHONPATH":          "Python imports modules from these directories",
	"PYTHONHOME":          "Python loads its standard library from this directory",
	"PYTHONSTARTUP":       "Python runs this file in interactive mode",
	"PYTHONINSPECT":       "Python enters interactive mode after the script, which runs PYTHONSTARTUP",
	"PYTHONWARNINGS":      "Python imports the module named by a warning filter's category",
	"PYTHONUSERBASE":      "Python adds this user site-packages directory and runs its .pth files",
	"PYTHONPYCACHEPREFIX": "Python reads compiled bytecode from this directory instead of beside the sources",
	"PYTHONBREAKPOINT":    "Python imports and calls this function at breakpoint()",
	"PYTHONPLATLIBDIR":    "Python loads its platform libraries from this directory",
	"PYTHONEXECUTABLE":    "Python sets sys.executable, which subprocesses run",
	"BROWSER":             "Python's webbrowser module runs these commands",
	// Node.js.
	"NODE_OPTIONS":              "Node.js takes --require, --import and --loader modules from it",
	"NODE_PATH":                 "Node.js resolves modules from these directories",
	"NODE_COMPILE_CACHE":        "Node.js loads compiled code from this directory",
	"NODE_REPL_EXTERNAL_MODULE": "Node.js runs this module instead of its REPL",
	// Shells (provided runtimes with a shell bootstrap).
	"BASH_ENV":  "bash runs this file before a non-interactive script",
	"ENV":       "sh runs this file at start",
	"SHELLOPTS": "bash turns on these options (xtrace evaluates PS4)",
	"BASHOPTS":  "bash turns on these options",
	"PS4":       "bash expands (and so runs command substitutions in) PS4 when tracing",
	// Other interpreters a bootstrap may start.
	"PERL5OPT":          "Perl takes -M modules from it",
	"PERL5LIB":          "Perl loads modules from these directories",
	"PERLLIB":           "Perl loads modules from these directories",
	"PERL5DB":           "Perl runs this debugger code",
	"RUBYOPT":           "Ruby takes -r libraries from it",
	"RUBYLIB":           "Ruby loads libraries from these directories",
	"JAVA_TOOL_OPTIONS": "the JVM takes -javaagent and -cp from it",
	"_JAVA_OPTIONS":     "the JVM takes -javaagent and -cp from it",
	"JDK_JAVA_OPTIONS":  "the java launcher takes -javaagent and -cp from it",
	"CLASSPATH":         "the JVM loads classes from these paths",
	"OPENSSL_CONF":      "OpenSSL's configuration loads engines and providers",
	"OPENSSL_ENGINES":   "OpenSSL loads engines from this directory",
	"OPENSSL_MODULES":   "OpenSSL loads providers from this directory",
	// Lambda.
	"AWS_LAMBDA_EXEC_WRAPPER": "Lambda runtimes start this wrapper script instead of the runtime",
}

// codeLoadingPrefixes are prefixes of such variables.
var codeLoadingPrefixes = map[string]string{
	"LD_":        "the dynamic loader reads LD_* variables (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT load libraries)",
	"BASH_FUNC_": "bash imports exported functions from these variables, replacing commands",
}

// codeLoadingVariable returns why the variable name makes a runtime load
// code from outside the package, "" if it does not.
func codeLoadingVariable(name string) string {
	if why, ok := CodeLoadingVariables[name]; ok {
		return why
	}
	for p, why := range codeLoadingPrefixes {
		if strings.HasPrefix(name, p) {
			return why
		}
	}
	return ""
}

// checkEnforcedEnvironment refuses environment variables that would load
// code from outside the signed package of a function whose code signing
// config is Enforce. cfg nil or Warn: anything goes, as in Lambda.
func checkEnforcedEnvironment(function string, env map[string]string, cfg *deploygate.Config) error {
	if cfg == nil || cfg.Policy != deploygate.Enforce {
		return nil
	}
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if why := codeLoadingVariable(k); why != "" {
			return &errs.Error{Kind: ErrInvalid, Msg: fmt.Sprintf(
				"The environment variable %s of function %s is not allowed under code signing config %s, whose policy is Enforce: %s, so code from outside the signed package would run. Remove %s from Environment.Variables (Signet is stricter than Lambda here).",
				k, function, cfg.ARN, why, k)}
		}
	}
	return nil
}

// CheckEnforce reports whether the code signing config cscID may have
// policy Enforce: none of the functions using it sets an environment
// variable that loads code from outside its package. UpdateCodeSigningConfig
// calls it before turning a config to Enforce.
func (s *Service) CheckEnforce(ctx context.Context, cscID string) error {
	cfg := &deploygate.Config{ARN: s.CSCs.ARN(cscID), Policy: deploygate.Enforce}
	after := ""
	for {
		names, err := s.Store.FunctionsByCSC(ctx, cscID, after, 100)
		if err != nil {
			return err
		}
		for _, n := range names {
			f, err := s.Store.Function(ctx, n)
			if err != nil {
				continue // deleted meanwhile
			}
			// Variables under a customer key are checked in clear; one
			// that cannot be decrypted cannot be shown harmless.
			env, err := s.Variables(ctx, f)
			if err != nil {
				return err
			}
			if err := checkEnforcedEnvironment(f.Name, env, cfg); err != nil {
				return err
			}
		}
		if len(names) < 100 {
			return nil
		}
		after = names[len(names)-1]
	}
}
