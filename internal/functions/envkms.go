package functions

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/signet/signet/internal/errs"
)

// EnvironmentKeys encrypts and decrypts the environment variables of
// functions that name a customer managed key (KMSKeyArn): AWS KMS
// envelope encryption under the key, with the encryption context
// aws:lambda:FunctionArn, as Lambda uses.
type EnvironmentKeys interface {
	// KeyARN resolves a key id, ARN, alias or alias ARN to the key's ARN.
	KeyARN(ctx context.Context, ref string) (string, error)
	Seal(ctx context.Context, keyARN string, plaintext []byte, encCtx map[string]string) ([]byte, error)
	Open(ctx context.Context, sealed []byte, encCtx map[string]string) ([]byte, error)
}

// Errors of a customer key that cannot decrypt a function's variables;
// the API answers Lambda's KMS*Exception (502) for them at Invoke.
var (
	ErrKMSDisabled     = errors.New("KMS key disabled")
	ErrKMSInvalidState = errors.New("KMS key in an invalid state")
	ErrKMSNotFound     = errors.New("KMS key not found")
	ErrKMSAccessDenied = errors.New("KMS access denied")
)

// MaxEnvironment is the largest total size of a function's variable
// names and values (Lambda's 4 KB).
const MaxEnvironment = 4096

// envNameRE is Lambda's pattern for a variable name.
var envNameRE = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9_])+$`)

// reservedVariables are the names Lambda sets itself and refuses to
// take from a function's configuration.
var reservedVariables = []string{"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
	"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
	"AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"}

// checkEnvironment refuses variables Lambda refuses: names outside its
// pattern (a name is the whole NAME=VALUE entry's key: one holding "="
// or a NUL would smuggle another variable into the runtime's
// environment), its reserved names, and more than 4 KB. The messages give
// names and sizes, never values (Lambda's 4 KB message echoes them).
func checkEnvironment(env map[string]string) error {
	var reserved []string
	n := 0
	for k, v := range env {
		if !envNameRE.MatchString(k) {
			return invalid("1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+] (the name %q does not)", k)
		}
		if slices.Contains(reservedVariables, k) {
			reserved = append(reserved, k)
		}
		n += len(k) + len(v)
	}
	if len(reserved) > 0 {
		sort.Strings(reserved)
		return invalid("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", strings.Join(reserved, ","))
	}
	if n > MaxEnvironment {
		return invalid("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. (Their names and values measure %d bytes.)", n)
	}
	return nil
}

// encryptionContext is the context a function's variables are
// encrypted under.
func (s *Service) encryptionContext(name string) map[string]string {
	return map[string]string{"aws:lambda:FunctionArn": s.ARN(name)}
}

// sealEnvironment encrypts f's variables under keyARN (when set), moving
// them from Environment to EncryptedEnvironment.
func (s *Service) sealEnvironment(ctx context.Context, f *Function, keyARN string) error {
	f.KMSKeyARN, f.EncryptedEnvironment = keyARN, nil
	if keyARN == "" || len(f.Environment) == 0 {
		return nil
	}
	if s.EnvKeys == nil {
		return invalid("KMSKeyArn: this installation has no key management service")
	}
	b, err := json.Marshal(f.Environment)
	if err != nil {
		return err
	}
	sealed, err := s.EnvKeys.Seal(ctx, keyARN, b, s.encryptionContext(f.Name))
	clear(b)
	if err != nil {
		return s.kmsError(err)
	}
	f.EncryptedEnvironment, f.Environment = sealed, nil
	return nil
}

// Variables returns a function's environment variables in clear,
// decrypting them with its customer key when it has one.
func (s *Service) Variables(ctx context.Context, f Function) (map[string]string, error) {
	if f.EncryptedEnvironment == nil {
		return f.Environment, nil
	}
	if s.EnvKeys == nil {
		return nil, &errs.Error{Kind: ErrKMSNotFound, Msg: "Lambda was unable to decrypt the environment variables: this installation has no key management service"}
	}
	b, err := s.EnvKeys.Open(ctx, f.EncryptedEnvironment, s.encryptionContext(f.Name))
	if err != nil {
		return nil, s.kmsError(err)
	}
	defer clear(b)
	var env map[string]string
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, err
	}
	return env, nil
}

// KMSErrorKinds maps the key service's errors to the kinds above; set by
// whoever provides EnvKeys (the domain does not know the key service's
// errors).
type KMSErrorKinds func(err error) error

// kmsError names a key failure as Lambda does.
func (s *Service) kmsError(err error) error {
	kind := ErrKMSAccessDenied
	if s.KMSErrorKind != nil {
		if k := s.KMSErrorKind(err); k != nil {
			kind = k
		}
	}
	var code string
	switch kind {
	case ErrKMSDisabled:
		code = "DisabledException"
	case ErrKMSInvalidState:
		code = "KMSInvalidStateException"
	case ErrKMSNotFound:
		code = "NotFoundException"
	default:
		code = "AccessDeniedException"
	}
	return &errs.Error{Kind: kind, Msg: "Lambda was unable to decrypt the environment variables because KMS access failed. Please check the function's KMS key settings. KMS Exception: " + code + " KMS Message: " + err.Error()}
}
