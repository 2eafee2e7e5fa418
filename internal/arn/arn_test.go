package arn

import (
	"errors"
	"testing"
)

var acct = Account{Partition: "aws", Region: "us-east-1", ID: "123456789012"}

func TestSigningProfile(t *testing.T) {
	cases := map[string]struct {
		in            string
		name, version string
		err           bool
	}{
		"ok/profile":          {"arn:aws:signer:us-east-1:123456789012:/signing-profiles/p_1", "p_1", "", false},
		"ok/version":          {"arn:aws:signer:us-east-1:123456789012:/signing-profiles/p_1/ABCDEFGHIJ", "p_1", "ABCDEFGHIJ", false},
		"fail/other-account":  {"arn:aws:signer:us-east-1:000000000000:/signing-profiles/p", "", "", true},
		"fail/other-region":   {"arn:aws:signer:eu-west-1:123456789012:/signing-profiles/p", "", "", true},
		"fail/other-service":  {"arn:aws:lambda:us-east-1:123456789012:/signing-profiles/p", "", "", true},
		"fail/job":            {"arn:aws:signer:us-east-1:123456789012:/signing-jobs/x", "", "", true},
		"fail/too-many-parts": {"arn:aws:signer:us-east-1:123456789012:/signing-profiles/p/v/x", "", "", true},
		"fail/not-an-arn":     {"signing_profile", "", "", true},
		"fail/empty-resource": {"arn:aws:signer:us-east-1:123456789012:", "", "", true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			n, v, err := acct.SigningProfile(c.in)
			if c.err {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil || n != c.name || v != c.version {
				t.Errorf("= %q, %q, %v", n, v, err)
			}
		})
	}
}

func TestBuilders(t *testing.T) {
	if got := acct.ProfileVersionARN("p", "v"); got != "arn:aws:signer:us-east-1:123456789012:/signing-profiles/p/v" {
		t.Error(got)
	}
	if got := acct.JobARN("j"); got != "arn:aws:signer:us-east-1:123456789012:/signing-jobs/j" {
		t.Error(got)
	}
	if err := acct.Validate(); err != nil {
		t.Error(err)
	}
	if err := (Account{Partition: "aws", Region: "us-east-1", ID: "1234"}).Validate(); err == nil {
		t.Error("short account id accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("arn:aws:signer:us-east-1:123456789012:/signing-profiles/p/ABCDEFGHIJ")
	f.Add("arn:aws:iam::123456789012:root")
	f.Add("arn:::::")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			return
		}
		if a.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, a.String())
		}
		acct.SigningProfile(s)
	})
}
