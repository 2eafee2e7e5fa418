// Package arn builds and parses the Amazon Resource Names that Signet hands
// out, so that every identifier looks exactly like its AWS counterpart.
//
// # Formats
//
//	signing profile          arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME
//	signing profile version  arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME/VERSION
//	signing job              arn:aws:signer:REGION:ACCOUNT:/signing-jobs/JOBID
//
// Note the ":/" after the account id, as AWS Signer writes it.
package arn

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrMalformed is returned (wrapped) by Parse for text that is not an ARN.
var ErrMalformed = errors.New("malformed ARN")

// Account is the partition, region and 12-digit account id of an installation.
type Account struct {
	Partition string // "aws"
	Region    string // e.g. "us-east-1"
	ID        string // 12 digits
}

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// Validate reports whether the account id and region have AWS's shapes.
func (a Account) Validate() error {
	if !accountRE.MatchString(a.ID) {
		return fmt.Errorf("account id %q must be exactly 12 digits", a.ID)
	}
	if !regionRE.MatchString(a.Region) {
		return fmt.Errorf("region %q is not a region name such as us-east-1", a.Region)
	}
	if a.Partition == "" {
		return errors.New("partition is empty")
	}
	return nil
}

// ProfileARN is the ARN of a signing profile.
func (a Account) ProfileARN(name string) string {
	return fmt.Sprintf("arn:%s:signer:%s:%s:/signing-profiles/%s", a.Partition, a.Region, a.ID, name)
}

// ProfileVersionARN is the ARN of one version of a signing profile.
func (a Account) ProfileVersionARN(name, version string) string {
	return a.ProfileARN(name) + "/" + version
}

// JobARN is the ARN of a signing job.
func (a Account) JobARN(jobID string) string {
	return fmt.Sprintf("arn:%s:signer:%s:%s:/signing-jobs/%s", a.Partition, a.Region, a.ID, jobID)
}

// RootARN is the ARN of the account's root principal.
func (a Account) RootARN() string {
	return fmt.Sprintf("arn:%s:iam::%s:root", a.Partition, a.ID)
}

// ARN is a parsed Amazon Resource Name.
type ARN struct {
	Partition, Service, Region, Account, Resource string
}

// String formats the ARN.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}

// Parse splits an ARN into its parts. It returns an error wrapping
// ErrMalformed when s does not have the six colon-separated parts.
func Parse(s string) (ARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" || parts[5] == "" {
		return ARN{}, fmt.Errorf("%w: %q is not of the form arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE", ErrMalformed, s)
	}
	return ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Resource: parts[5]}, nil
}

// SigningProfile extracts the profile name and, when present, the version
// from a signing profile or signing profile version ARN of this account.
func (a Account) SigningProfile(s string) (name, version string, err error) {
	p, err := Parse(s)
	if err != nil {
		return "", "", err
	}
	if p.Service != "signer" || p.Partition != a.Partition || p.Region != a.Region || p.Account != a.ID {
		return "", "", fmt.Errorf("%w: %q is not a signing profile of account %s in %s", ErrMalformed, s, a.ID, a.Region)
	}
	rest, ok := strings.CutPrefix(p.Resource, "/signing-profiles/")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("%w: %q is not a signing profile ARN (resource must start with /signing-profiles/)", ErrMalformed, s)
	}
	name, version, _ = strings.Cut(rest, "/")
	if strings.Contains(version, "/") {
		return "", "", fmt.Errorf("%w: %q has too many path segments", ErrMalformed, s)
	}
	return name, version, nil
}
