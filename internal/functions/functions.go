// Package functions is the registry of Lambda-compatible functions: their
// configuration and code, and the deploy gate every code change passes.
// Code is only ever changed by a deployment (CreateFunction,
// UpdateFunctionCode) that the function's code signing config admits;
// nothing edits it in place.
package functions

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/deploygate"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/telemetry"
)

// Sentinels; caller mistakes are *errs.Error or *errs.FieldError values
// wrapping one. A package the deploy gate refuses is an *errs.Error
// wrapping the Decision's Refusal (deploygate.ErrSignatureInvalid or
// deploygate.ErrVerificationFailed).
var (
	ErrNotFound    = errors.New("not found")
	ErrExists      = errors.New("already exists")
	ErrInvalid     = errors.New("invalid request")
	ErrCSCNotFound = errors.New("code signing config not found")
	// ErrTooLarge: a package over the size a function may have.
	ErrTooLarge = errors.New("package too large")
	// ErrRevisionMismatch: the caller's revision id is not the latest.
	ErrRevisionMismatch = errors.New("revision id mismatch")
)

// Function is a function's $LATEST configuration and code.
type Function struct {
	Name        string
	Runtime     string
	Handler     string
	Role        string
	Description string
	Timeout     int
	MemorySize  int
	Environment map[string]string
	// KMSKeyARN is the customer managed key the variables are encrypted
	// under ("": sealed under the master key only); EncryptedEnvironment
	// then holds them (see Variables) and Environment is nil.
	KMSKeyARN                string
	EncryptedEnvironment     []byte
	CodeSHA256               string // base64 SHA-256 of the package, as Lambda reports it
	CodeSize                 int64
	CodePath                 string // where the package is stored
	SigningProfileVersionARN string
	SigningJobARN            string
	LastModified             time.Time
	RevisionID               string
	Layers                   []LayerUse
	Tags                     map[string]string
}

// Store persists functions.
type Store interface {
	CreateFunction(ctx context.Context, f Function, cscID string) error // ErrExists
	Function(ctx context.Context, name string) (Function, error)        // ErrNotFound
	UpdateFunction(ctx context.Context, name string, fn func(*Function) error) error
	DeleteFunction(ctx context.Context, name string) error // ErrNotFound
	ListFunctions(ctx context.Context, after string, limit int) ([]Function, error)
	FunctionCSC(ctx context.Context, name string) (string, error) // "" if none; ErrNotFound
	// SetFunctionCSC attaches a config (cscID "" detaches); attaching
	// returns ErrNotFound unless the function exists at that moment.
	SetFunctionCSC(ctx context.Context, name, cscID string) error
	FunctionsByCSC(ctx context.Context, cscID, after string, limit int) ([]string, error)
	// PublishVersion snapshots $LATEST as the next version number.
	PublishVersion(ctx context.Context, name string, at time.Time) (Function, int, error)
	// FunctionVersion returns a published version, or ErrNotFound.
	FunctionVersion(ctx context.Context, name string, version int) (Function, error)
	// CodePathInUse reports whether $LATEST or a version uses a package.
	CodePathInUse(ctx context.Context, path string) (bool, error)
	// DeleteFunctionVersions deletes a function's versions and returns
	// the package paths they used.
	DeleteFunctionVersions(ctx context.Context, name string) ([]string, error)
}

// CodeStore keeps function packages.
type CodeStore interface {
	Write(ctx context.Context, path string, r io.Reader) (int64, error)
	Delete(ctx context.Context, path string) error
}

// Service implements the function operations.
type Service struct {
	Store       Store
	Layers      LayerStore
	Permissions PermissionStore
	Code        CodeStore
	CodeReader  CodeReader
	CSCs        *deploygate.Service
	Gate        *deploygate.Gate
	Account     arn.Account
	Log         *slog.Logger
	Now         func() time.Time
	// EnvKeys encrypts the variables of functions with a KMSKeyArn;
	// KMSErrorKind names its errors (ErrKMSDisabled, …).
	EnvKeys      EnvironmentKeys
	KMSErrorKind KMSErrorKinds
	// RequireEnforce refuses new functions without an Enforce code
	// signing config, and refuses to detach a function's config or to
	// attach one that is not Enforce (an installation setting).
	RequireEnforce bool
	// OnWarning is called when Warn lets a failed check through (the
	// SignatureValidationErrors metric and the audit event).
	OnWarning func(ctx context.Context, function string, d deploygate.Decision)
	// OnRefused is called when the gate refuses a package.
	OnRefused func(ctx context.Context, function string, d deploygate.Decision)
	// OnDecision, if set, is told of every decision the gate makes
	// (allowed, warned or refused), for metrics.
	OnDecision func(d deploygate.Decision)
	// LambdaMayAssume reports whether a role ARN names a role of this
	// account that exists and that Lambda may assume (nil: any role).
	LambdaMayAssume func(ctx context.Context, roleARN string) (bool, error)
	// MaxUnzippedSize and MaxZipEntries bound a package once unpacked
	// (0: MaxUnzippedSize and MaxZipEntries).
	MaxUnzippedSize int64
	MaxZipEntries   int
	// Runner, if set, runs the functions: it is told when a function's
	// code stops running.
	Runner Runner
}

// Runner runs functions.
type Runner interface {
	// StopFunction ends the execution environments of a function version
	// ("$LATEST" or a number; "" for every version) and their processes,
	// idle or running, and returns once they are gone.
	StopFunction(name, version string)
	// ForgetCode removes what was prepared to run the package at path
	// (its unpacked files), which no version uses any more.
	ForgetCode(path string)
}

// stopFunction ends the environments of a function version ("" every
// version): its code changed or it is gone.
func (s *Service) stopFunction(name, version string) {
	if s.Runner != nil {
		s.Runner.StopFunction(name, version)
	}
}

// checkRole refuses a role Lambda cannot assume, as Lambda does.
func (s *Service) checkRole(ctx context.Context, role string) error {
	if s.LambdaMayAssume == nil {
		return nil
	}
	ok, err := s.LambdaMayAssume(ctx, role)
	if err != nil {
		return err
	}
	if !ok {
		return invalid("The role defined for the function cannot be assumed by Lambda. (%s must be the ARN of a role of account %s whose trust policy allows lambda.amazonaws.com to call sts:AssumeRole)", role, s.Account.ID)
	}
	return nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// ARN is a function's ARN.
func (s *Service) ARN(name string) string {
	return fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", s.Account.Partition, s.Account.Region, s.Account.ID, name)
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9-_]{1,64}$`)

// MaxZipSize is the largest deployment package (Lambda's 50 MB direct
// upload limit).
const MaxZipSize = 50 << 20

// CreateInput is CreateFunction's request.
type CreateInput struct {
	Function
	Zip                  []byte
	CodeSigningConfigARN string
	LayerARNs            []string
}

func invalid(format string, args ...any) error {
	return errs.Errorf(ErrInvalid, format, args...)
}

// FunctionName extracts a function name from a name, a partial ARN
// (ACCOUNT:function:NAME) or an ARN.
func (s *Service) FunctionName(nameOrARN string) (string, error) {
	name := nameOrARN
	if acct, rest, ok := strings.Cut(nameOrARN, ":function:"); ok && !strings.Contains(acct, ":") {
		if acct != s.Account.ID {
			return "", &errs.Error{Kind: ErrNotFound, Msg: "Function not found: " + nameOrARN}
		}
		name = rest
	} else if p, err := arn.Parse(nameOrARN); err == nil {
		if p.Service != "lambda" || p.Account != s.Account.ID {
			return "", &errs.Error{Kind: ErrNotFound, Msg: "Function not found: " + nameOrARN}
		}
		if n, ok := cutPrefix(p.Resource, "function:"); ok {
			name = n
		}
	}
	if !nameRE.MatchString(name) {
		return "", errs.Value(ErrInvalid, "functionName", nameOrARN, "must satisfy regular expression pattern: [a-zA-Z0-9-_]+ (1 to 64 characters)")
	}
	return name, nil
}

// SplitQualifier resolves a function named as Invoke names it — a name,
// NAME:QUALIFIER, a partial ARN (ACCOUNT:function:NAME[:QUALIFIER]) or an
// ARN (…:function:NAME[:QUALIFIER]) — with an optional separate
// qualifier, to the function's name and the qualifier ("" for none).
// Authorization and the operation both use it, so that they act on the
// same function.
func (s *Service) SplitQualifier(nameOrARN, qualifier string) (string, string, error) {
	rest := nameOrARN
	if acct, r, ok := strings.Cut(nameOrARN, ":function:"); ok && !strings.Contains(acct, ":") {
		if acct != s.Account.ID {
			return "", "", &errs.Error{Kind: ErrNotFound, Msg: "Function not found: " + nameOrARN}
		}
		rest = r
	} else if p, err := arn.Parse(nameOrARN); err == nil {
		r, ok := cutPrefix(p.Resource, "function:")
		if p.Service != "lambda" || p.Account != s.Account.ID || !ok {
			return "", "", &errs.Error{Kind: ErrNotFound, Msg: "Function not found: " + nameOrARN}
		}
		rest = r
	}
	name, q, _ := strings.Cut(rest, ":")
	if !nameRE.MatchString(name) {
		return "", "", errs.Value(ErrInvalid, "functionName", nameOrARN, "must satisfy regular expression pattern: [a-zA-Z0-9-_]+ (1 to 64 characters)")
	}
	if q != "" && qualifier != "" && q != qualifier {
		return "", "", invalid("The derived qualifier from the function name does not match the specified qualifier: %s vs %s.", q, qualifier)
	}
	if qualifier == "" {
		qualifier = q
	}
	return name, qualifier, nil
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

// config resolves a code signing config ARN to the gate's config.
func (s *Service) config(ctx context.Context, cscARN string) (*deploygate.Config, string, error) {
	if cscARN == "" {
		return nil, "", nil
	}
	c, err := s.CSCs.CSC(ctx, cscARN)
	if errors.Is(err, deploygate.ErrNotFound) {
		return nil, "", &errs.Error{Kind: ErrCSCNotFound, Msg: fmt.Sprintf("The code signing configuration cannot be found. Check that the provided configuration is not deleted: %s.", cscARN)}
	}
	if err != nil {
		return nil, "", err
	}
	return &deploygate.Config{ARN: s.CSCs.ARN(c.ID), AllowedPublishers: c.AllowedPublishers, Policy: c.Policy}, c.ID, nil
}

// functionConfig returns the gate's config of the code signing config
// attached to a function, nil if none.
func (s *Service) functionConfig(ctx context.Context, name string) (*deploygate.Config, error) {
	cscID, err := s.Store.FunctionCSC(ctx, name)
	if err != nil || cscID == "" {
		return nil, err
	}
	cfg, _, err := s.config(ctx, s.CSCs.ARN(cscID))
	return cfg, err
}

// checkLimits validates the timeout (1–900 s) and memory (128–10240 MB).
func checkLimits(timeout, memory int) error {
	if timeout < 1 || timeout > 900 {
		return errs.Value(ErrInvalid, "timeout", strconv.Itoa(timeout), "must be between 1 and 900")
	}
	if memory < 128 || memory > 10240 {
		return errs.Value(ErrInvalid, "memorySize", strconv.Itoa(memory), "must be between 128 and 10240")
	}
	return nil
}

// admit runs the deploy gate and stores the package; it returns the code
// fields of the function.
func (s *Service) admit(ctx context.Context, name string, zip []byte, cfg *deploygate.Config) (Function, error) {
	if len(zip) == 0 {
		return Function{}, invalid("the deployment package is empty; pass a zip file")
	}
	if len(zip) > MaxZipSize {
		return Function{}, &errs.Error{Kind: ErrTooLarge, Msg: fmt.Sprintf("Request must be smaller than %d bytes for the CreateFunction operation", MaxZipSize)}
	}
	if len(zip) < 4 || !bytes.Equal(zip[:2], []byte("PK")) {
		return Function{}, invalid(unzipMessage)
	}
	if err := s.checkPackage(zip); err != nil {
		return Function{}, err
	}
	// The package is written while the gate checks it (the write waits on
	// the disk, the check on the CPU); a refused package's file is removed.
	// Every deployment gets its own path, so removing it never touches
	// code that is deployed.
	sum := sha256.Sum256(zip)
	path := fmt.Sprintf("functions/%s/%x-%s", name, sum[:8], uuid.NewString())
	written := make(chan error, 1)
	go func() {
		_, err := s.Code.Write(ctx, path, bytes.NewReader(zip))
		written <- err
	}()
	d, err := s.check(ctx, zip, cfg)
	werr := <-written
	if err == nil && !d.Allowed {
		err = s.refused(ctx, name, cfg, d)
	}
	if err != nil {
		if werr == nil {
			s.Code.Delete(ctx, path)
		}
		return Function{}, err
	}
	if werr != nil {
		return Function{}, fmt.Errorf("failed to store the package: %w", werr)
	}
	if d.Warned {
		s.Log.WarnContext(ctx, "deployment allowed with a signature validation error", "function", name, "check", d.Failed, "detail", d.Detail, "config", cfg.ARN, "policy", cfg.Policy)
		if s.OnWarning != nil {
			s.OnWarning(ctx, name, d)
		}
	}
	return Function{CodeSHA256: base64.StdEncoding.EncodeToString(sum[:]), CodeSize: int64(len(zip)), CodePath: path,
		SigningProfileVersionARN: d.ProfileVersionARN, SigningJobARN: d.JobARN}, nil
}

// check runs the deploy gate on a package.
func (s *Service) check(ctx context.Context, zip []byte, cfg *deploygate.Config) (d deploygate.Decision, err error) {
	var attrs []attribute.KeyValue
	if cfg != nil {
		attrs = append(attrs, attribute.String("lambda.code_signing_config", cfg.ARN))
	}
	ctx, span := telemetry.Start(ctx, "deploygate.check", attrs...)
	defer telemetry.End(span, &err)
	d, err = s.Gate.Check(ctx, bytes.NewReader(zip), int64(len(zip)), cfg)
	if err == nil && cfg != nil && s.OnDecision != nil {
		s.OnDecision(d)
	}
	return d, err
}

// refused is the error for a package the gate refused.
func (s *Service) refused(ctx context.Context, name string, cfg *deploygate.Config, d deploygate.Decision) error {
	s.Log.WarnContext(ctx, "deployment refused by the code signing config", "function", name, "check", d.Failed, "detail", d.Detail, "config", cfg.ARN)
	if s.OnRefused != nil {
		s.OnRefused(ctx, name, d)
	}
	return &errs.Error{Kind: d.Refusal, Msg: d.Message}
}

// Create creates a function, checking its package against the code
// signing config given (if any).
func (s *Service) Create(ctx context.Context, in CreateInput) (Function, error) {
	name, err := s.FunctionName(in.Name)
	if err != nil {
		return Function{}, err
	}
	if in.Runtime == "" || in.Handler == "" && in.Runtime != "provided" && in.Runtime != "provided.al2023" {
		return Function{}, invalid("Runtime and Handler are required for a zip deployment package")
	}
	if len(in.Tags) > 50 {
		return Function{}, invalid("a function may carry at most 50 tags, got %d", len(in.Tags))
	}
	for k, v := range in.Tags {
		if k == "" || len(k) > 128 || len(v) > 256 || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return Function{}, invalid("tag %q: keys are 1 to 128 characters not starting with aws:, values at most 256", k)
		}
	}
	if in.Role == "" {
		return Function{}, errs.Null(ErrInvalid, "role")
	}
	if err := s.checkRole(ctx, in.Role); err != nil {
		return Function{}, err
	}
	if in.Timeout == 0 {
		in.Timeout = 3
	}
	if in.MemorySize == 0 {
		in.MemorySize = 128
	}
	if err := checkLimits(in.Timeout, in.MemorySize); err != nil {
		return Function{}, err
	}
	if _, err := s.Store.Function(ctx, name); err == nil {
		return Function{}, &errs.Error{Kind: ErrExists, Msg: "Function already exist: " + name}
	}
	cfg, cscID, err := s.config(ctx, in.CodeSigningConfigARN)
	if err != nil {
		return Function{}, err
	}
	if s.RequireEnforce && (cfg == nil || cfg.Policy != deploygate.Enforce) {
		return Function{}, invalid("This installation requires every new function to have a code signing config with UntrustedArtifactOnDeployment=Enforce: pass CodeSigningConfigArn of such a config (create one with CreateCodeSigningConfig)")
	}
	if err := checkEnforcedEnvironment(name, in.Environment, cfg); err != nil {
		return Function{}, err
	}
	if err := checkEnvironment(in.Environment); err != nil {
		return Function{}, err
	}
	keyARN := ""
	if in.KMSKeyARN != "" {
		if s.EnvKeys == nil {
			return Function{}, invalid("KMSKeyArn: this installation has no key management service")
		}
		if keyARN, err = s.EnvKeys.KeyARN(ctx, in.KMSKeyARN); err != nil {
			return Function{}, invalid("KMSKeyArn %s is not a usable key: %v", in.KMSKeyARN, err)
		}
	}
	layers, err := s.checkLayers(ctx, name, in.LayerARNs, cfg)
	if err != nil {
		return Function{}, err
	}
	code, err := s.admit(ctx, name, in.Zip, cfg)
	if err != nil {
		return Function{}, err
	}
	f := in.Function
	f.Layers = layers
	f.Name = name
	if err := s.sealEnvironment(ctx, &f, keyARN); err != nil {
		return Function{}, err
	}
	f.CodeSHA256, f.CodeSize, f.CodePath = code.CodeSHA256, code.CodeSize, code.CodePath
	f.SigningProfileVersionARN, f.SigningJobARN = code.SigningProfileVersionARN, code.SigningJobARN
	f.LastModified, f.RevisionID = s.now(), uuid.NewString()
	if err := s.Store.CreateFunction(ctx, f, cscID); err != nil {
		s.Code.Delete(ctx, code.CodePath)
		if errors.Is(err, ErrExists) {
			return Function{}, &errs.Error{Kind: ErrExists, Msg: "Function already exist: " + name}
		}
		return Function{}, err
	}
	return f, nil
}

// ConfigUpdate is UpdateFunctionConfiguration's request; nil fields are
// unchanged.
type ConfigUpdate struct {
	Runtime, Handler, Role, Description *string
	Timeout, MemorySize                 *int
	Environment                         map[string]string // nil: unchanged
	Layers                              []string          // nil: unchanged; checked like code
	KMSKeyARN                           *string           // nil: unchanged; "": the master key only
}

// UpdateConfiguration changes a function's configuration (never its code).
func (s *Service) UpdateConfiguration(ctx context.Context, nameOrARN string, u ConfigUpdate) (Function, error) {
	f, err := s.Get(ctx, nameOrARN)
	if err != nil {
		return Function{}, err
	}
	timeout, memory := f.Timeout, f.MemorySize
	if u.Timeout != nil {
		timeout = *u.Timeout
	}
	if u.MemorySize != nil {
		memory = *u.MemorySize
	}
	if err := checkLimits(timeout, memory); err != nil {
		return Function{}, err
	}
	if u.Role != nil {
		if err := s.checkRole(ctx, *u.Role); err != nil {
			return Function{}, err
		}
	}
	// Variables under a customer key are re-encrypted when the variables
	// or the key change.
	env, keyARN := u.Environment, f.KMSKeyARN
	if u.KMSKeyARN != nil {
		keyARN = *u.KMSKeyARN
		if keyARN != "" {
			if s.EnvKeys == nil {
				return Function{}, invalid("KMSKeyArn: this installation has no key management service")
			}
			if keyARN, err = s.EnvKeys.KeyARN(ctx, keyARN); err != nil {
				return Function{}, invalid("KMSKeyArn %s is not a usable key: %v", *u.KMSKeyARN, err)
			}
		}
		if env == nil {
			if env, err = s.Variables(ctx, f); err != nil {
				return Function{}, err
			}
		}
	}
	if env != nil {
		if err := checkEnvironment(env); err != nil {
			return Function{}, err
		}
	}
	var sealed Function
	if env != nil {
		sealed = Function{Name: f.Name, Environment: env}
		if err := s.sealEnvironment(ctx, &sealed, keyARN); err != nil {
			return Function{}, err
		}
	}
	var layers []LayerUse
	if u.Layers != nil || u.Environment != nil {
		cfg, err := s.functionConfig(ctx, f.Name)
		if err != nil {
			return Function{}, err
		}
		if err := checkEnforcedEnvironment(f.Name, u.Environment, cfg); err != nil {
			return Function{}, err
		}
		if u.Layers != nil {
			if layers, err = s.checkLayers(ctx, f.Name, u.Layers, cfg); err != nil {
				return Function{}, err
			}
		}
	}
	var out Function
	err = s.Store.UpdateFunction(ctx, f.Name, func(g *Function) error {
		if u.Layers != nil {
			g.Layers = layers
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&g.Runtime, u.Runtime)
		set(&g.Handler, u.Handler)
		set(&g.Role, u.Role)
		set(&g.Description, u.Description)
		if u.Timeout != nil {
			g.Timeout = *u.Timeout
		}
		if u.MemorySize != nil {
			g.MemorySize = *u.MemorySize
		}
		if env != nil {
			g.Environment, g.KMSKeyARN, g.EncryptedEnvironment = sealed.Environment, sealed.KMSKeyARN, sealed.EncryptedEnvironment
		}
		g.LastModified, g.RevisionID = s.now(), uuid.NewString()
		out = *g
		return nil
	})
	if err == nil && u.Layers != nil {
		// Layers are code: environments running the old ones end now.
		s.stopFunction(f.Name, "$LATEST")
	}
	return out, err
}

// Get returns a function.
func (s *Service) Get(ctx context.Context, nameOrARN string) (Function, error) {
	name, err := s.FunctionName(nameOrARN)
	if err != nil {
		return Function{}, err
	}
	f, err := s.Store.Function(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return f, &errs.Error{Kind: ErrNotFound, Msg: "Function not found: " + s.ARN(name)}
	}
	return f, err
}

// UpdateCode deploys new code through the gate of the function's code
// signing config: the only way a function's code changes.
func (s *Service) UpdateCode(ctx context.Context, nameOrARN string, zip []byte) (Function, error) {
	f, err := s.Get(ctx, nameOrARN)
	if err != nil {
		return Function{}, err
	}
	cfg, err := s.functionConfig(ctx, f.Name)
	if err != nil {
		return Function{}, err
	}
	code, err := s.admit(ctx, f.Name, zip, cfg)
	if err != nil {
		return Function{}, err
	}
	var out Function
	old := ""
	err = s.Store.UpdateFunction(ctx, f.Name, func(g *Function) error {
		old = g.CodePath
		g.CodeSHA256, g.CodeSize, g.CodePath = code.CodeSHA256, code.CodeSize, code.CodePath
		g.SigningProfileVersionARN, g.SigningJobARN = code.SigningProfileVersionARN, code.SigningJobARN
		g.LastModified, g.RevisionID = s.now(), uuid.NewString()
		out = *g
		return nil
	})
	if err != nil {
		s.Code.Delete(ctx, code.CodePath)
		return Function{}, err
	}
	// The old code's environments end now, not when next invoked
	// (published versions keep their own code).
	s.stopFunction(f.Name, "$LATEST")
	if old != "" && old != code.CodePath {
		s.deleteUnused(ctx, old)
	}
	return out, nil
}

// deleteUnused removes a package, and its unpacked files, once neither
// $LATEST nor a published version uses it.
func (s *Service) deleteUnused(ctx context.Context, path string) {
	if used, err := s.Store.CodePathInUse(ctx, path); err == nil && !used {
		s.Code.Delete(ctx, path)
		if s.Runner != nil {
			s.Runner.ForgetCode(path)
		}
	}
}

// PublishVersion publishes $LATEST as an immutable numbered version.
func (s *Service) PublishVersion(ctx context.Context, nameOrARN string) (Function, int, error) {
	f, err := s.Get(ctx, nameOrARN)
	if err != nil {
		return Function{}, 0, err
	}
	return s.Store.PublishVersion(ctx, f.Name, s.now())
}

// GetVersion returns $LATEST (qualifier "" or "$LATEST") or a published
// version.
func (s *Service) GetVersion(ctx context.Context, nameOrARN, qualifier string) (Function, string, error) {
	f, err := s.Get(ctx, nameOrARN)
	if err != nil || qualifier == "" || qualifier == "$LATEST" {
		return f, "$LATEST", err
	}
	n, err := strconv.Atoi(qualifier)
	if err != nil || n < 1 {
		return Function{}, "", errs.Value(ErrInvalid, "qualifier", qualifier, "must be $LATEST or a version number")
	}
	v, err := s.Store.FunctionVersion(ctx, f.Name, n)
	if errors.Is(err, ErrNotFound) {
		return Function{}, "", &errs.Error{Kind: ErrNotFound, Msg: fmt.Sprintf("Function not found: %s:%d", s.ARN(f.Name), n)}
	}
	return v, qualifier, err
}

// Delete deletes a function and detaches its code signing config.
func (s *Service) Delete(ctx context.Context, nameOrARN string) error {
	f, err := s.Get(ctx, nameOrARN)
	if err != nil {
		return err
	}
	paths, err := s.Store.DeleteFunctionVersions(ctx, f.Name)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteFunction(ctx, f.Name); err != nil {
		return err
	}
	s.stopFunction(f.Name, "")
	for _, p := range append(paths, f.CodePath) {
		s.deleteUnused(ctx, p)
	}
	return nil
}

// List pages through functions.
func (s *Service) List(ctx context.Context, marker string, maxItems int) ([]Function, string, error) {
	if maxItems == 0 {
		maxItems = 50
	}
	if maxItems < 1 || maxItems > 10000 {
		return nil, "", errs.Value(ErrInvalid, "maxItems", strconv.Itoa(maxItems), "must be between 1 and 10000")
	}
	fs, err := s.Store.ListFunctions(ctx, marker, maxItems+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(fs) > maxItems {
		fs = fs[:maxItems]
		next = fs[maxItems-1].Name
	}
	return fs, next, nil
}

// PutCSC attaches a code signing config; it applies from the next
// deployment on.
func (s *Service) PutCSC(ctx context.Context, nameOrARN, cscARN string) (string, error) {
	f, err := s.Get(ctx, nameOrARN)
	if err != nil {
		return "", err
	}
	cfg, cscID, err := s.config(ctx, cscARN)
	if err != nil {
		return "", err
	}
	if cscID == "" {
		return "", errs.Null(ErrInvalid, "codeSigningConfigArn")
	}
	if s.RequireEnforce && cfg.Policy != deploygate.Enforce {
		return "", invalid("This installation requires every function to have a code signing config with UntrustedArtifactOnDeployment=Enforce; %s is %s", cscARN, cfg.Policy)
	}
	// Variables under a customer key are checked in clear too.
	env, err := s.Variables(ctx, f)
	if err != nil {
		return "", err
	}
	if err := checkEnforcedEnvironment(f.Name, env, cfg); err != nil {
		return "", err
	}
	if err := s.Store.SetFunctionCSC(ctx, f.Name, cscID); errors.Is(err, ErrNotFound) { // deleted meanwhile
		return "", &errs.Error{Kind: ErrNotFound, Msg: "Function not found: " + s.ARN(f.Name)}
	} else if err != nil {
		return "", err
	}
	return f.Name, nil
}

// CSC returns the ARN of the function's code signing config, "" if none.
func (s *Service) CSC(ctx context.Context, nameOrARN string) (string, string, error) {
	f, err := s.Get(ctx, nameOrARN)
	if err != nil {
		return "", "", err
	}
	id, err := s.Store.FunctionCSC(ctx, f.Name)
	if err != nil || id == "" {
		return f.Name, "", err
	}
	return f.Name, s.CSCs.ARN(id), nil
}

// DeleteCSC detaches the function's code signing config (a no-op if
// none); refused under RequireEnforce.
func (s *Service) DeleteCSC(ctx context.Context, nameOrARN string) error {
	f, err := s.Get(ctx, nameOrARN)
	if err != nil {
		return err
	}
	if s.RequireEnforce {
		return invalid("This installation requires every function to have a code signing config with UntrustedArtifactOnDeployment=Enforce: the config of %s cannot be detached; attach another Enforce config instead (PutFunctionCodeSigningConfig)", f.Name)
	}
	return s.Store.SetFunctionCSC(ctx, f.Name, "")
}
