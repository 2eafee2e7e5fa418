package functions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/signet/signet/internal/errs"
)

// PermissionStore keeps functions' resource-based policies (AddPermission).
type PermissionStore interface {
	// AddFunctionStatement stores a statement; ErrExists if the id is
	// taken, ErrNotFound unless the function exists at that moment (a
	// statement never outlives its function into a re-created one).
	AddFunctionStatement(ctx context.Context, function, sid, statement string) error
	// RemoveFunctionStatement deletes one; ErrNotFound if absent.
	RemoveFunctionStatement(ctx context.Context, function, sid string) error
	// FunctionStatements returns a function's statements in order.
	FunctionStatements(ctx context.Context, function string) ([]string, error)
}

// PermissionInput is AddPermission's request.
type PermissionInput struct {
	StatementID   string
	Action        string
	Principal     string
	SourceARN     string
	SourceAccount string
	RevisionID    string
}

var sidRE = regexp.MustCompile(`^([a-zA-Z0-9-_.]+)$`)
var actionRE = regexp.MustCompile(`^(lambda:[*]|lambda:[a-zA-Z]+|[*])$`)

// AddPermission grants a principal an action on a function (its
// resource-based policy) and returns the statement as JSON.
func (s *Service) AddPermission(ctx context.Context, nameOrARN string, in PermissionInput) (string, error) {
	f, err := s.Get(ctx, nameOrARN)
	if err != nil {
		return "", err
	}
	if in.RevisionID != "" && in.RevisionID != f.RevisionID {
		return "", &errs.Error{Kind: ErrRevisionMismatch, Msg: "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"}
	}
	if !sidRE.MatchString(in.StatementID) || len(in.StatementID) > 100 {
		return "", errs.Value(ErrInvalid, "statementId", in.StatementID, "must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)")
	}
	if !actionRE.MatchString(in.Action) {
		return "", errs.Value(ErrInvalid, "action", in.Action, "must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])")
	}
	var principal any
	switch p := in.Principal; {
	case p == "*":
		principal = "*"
	case regexp.MustCompile(`^[0-9]{12}$`).MatchString(p):
		principal = map[string]string{"AWS": fmt.Sprintf("arn:%s:iam::%s:root", s.Account.Partition, p)}
	case strings.HasPrefix(p, "arn:"):
		principal = map[string]string{"AWS": p}
	case strings.HasSuffix(p, ".amazonaws.com") || strings.HasSuffix(p, ".amazon.com"):
		principal = map[string]string{"Service": p}
	default:
		return "", invalid("The provided principal was invalid. Please check the principal and try again.")
	}
	st := map[string]any{"Sid": in.StatementID, "Effect": "Allow", "Principal": principal, "Action": in.Action, "Resource": s.ARN(f.Name)}
	cond := map[string]map[string]string{}
	if in.SourceARN != "" {
		cond["ArnLike"] = map[string]string{"AWS:SourceArn": in.SourceARN}
	}
	if in.SourceAccount != "" {
		cond["StringEquals"] = map[string]string{"AWS:SourceAccount": in.SourceAccount}
	}
	if len(cond) > 0 {
		st["Condition"] = cond
	}
	b, _ := json.Marshal(st)
	if err := s.Permissions.AddFunctionStatement(ctx, f.Name, in.StatementID, string(b)); err != nil {
		if errors.Is(err, ErrExists) {
			return "", &errs.Error{Kind: ErrExists, Msg: fmt.Sprintf("The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", in.StatementID)}
		}
		if errors.Is(err, ErrNotFound) { // deleted meanwhile
			return "", &errs.Error{Kind: ErrNotFound, Msg: "Function not found: " + s.ARN(f.Name)}
		}
		return "", err
	}
	return string(b), nil
}

// RemovePermission removes a statement of a function's policy.
func (s *Service) RemovePermission(ctx context.Context, nameOrARN, sid string) error {
	f, err := s.Get(ctx, nameOrARN)
	if err != nil {
		return err
	}
	if err := s.Permissions.RemoveFunctionStatement(ctx, f.Name, sid); errors.Is(err, ErrNotFound) {
		return &errs.Error{Kind: ErrNotFound, Msg: fmt.Sprintf("Statement %s is not found in resource policy.", sid)}
	} else if err != nil {
		return err
	}
	return nil
}

// Policy returns a function's resource-based policy document ("" if it
// has none) and the function's revision id.
func (s *Service) Policy(ctx context.Context, nameOrARN string) (string, string, error) {
	f, err := s.Get(ctx, nameOrARN)
	if err != nil {
		return "", "", err
	}
	sts, err := s.Permissions.FunctionStatements(ctx, f.Name)
	if err != nil || len(sts) == 0 {
		return "", f.RevisionID, err
	}
	return `{"Version":"2012-10-17","Id":"default","Statement":[` + strings.Join(sts, ",") + `]}`, f.RevisionID, nil
}
