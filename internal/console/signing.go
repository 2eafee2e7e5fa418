package console

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	signertypes "github.com/aws/aws-sdk-go-v2/service/signer/types"
)

// Signing profiles and signing jobs: lists, details, and the two
// revocations (a signature, now; a profile version, from a time).

func (c *Console) profiles(v *view) error {
	in := &signer.ListSigningProfilesInput{IncludeCanceled: true, MaxResults: aws.Int32(25)}
	if t := v.r.URL.Query().Get("next"); t != "" {
		in.NextToken = aws.String(t)
	}
	out, err := v.api().signer.ListSigningProfiles(v.r.Context(), in)
	if err != nil {
		return err
	}
	return v.render("profiles.html", v.page("Signing profiles", map[string]any{"Profiles": out.Profiles, "Next": aws.ToString(out.NextToken)}))
}

type profileData struct {
	Profile     *signer.GetSigningProfileOutput
	Permissions []signertypes.Permission
	PermError   *apiError
	Revoke      *revokeForm
}

// revokeForm is the second step of a revocation: what will be revoked,
// the reason, and (for a profile version) from when.
type revokeForm struct {
	Action, Target, Version, Effective, Reason string
	Error                                      string
}

func (c *Console) profile(v *view) error {
	ctx := v.r.Context()
	name := v.r.PathValue("name")
	p, err := v.api().signer.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String(name)})
	if err != nil {
		return err
	}
	d := &profileData{Profile: p}
	if perms, err := v.api().signer.ListProfilePermissions(ctx, &signer.ListProfilePermissionsInput{ProfileName: aws.String(name)}); err == nil {
		d.Permissions = perms.Permissions
	} else if ae, ok := asAPIError(err); ok {
		d.PermError = ae
	} else {
		return err
	}
	return v.render("profile.html", v.page("Signing profile "+name, d))
}

// profileRevokeForm is the first click: the form, which says what the
// second will do.
func (c *Console) profileRevokeForm(v *view) error {
	name := v.r.PathValue("name")
	p, err := v.api().signer.GetSigningProfile(v.r.Context(), &signer.GetSigningProfileInput{ProfileName: aws.String(name)})
	if err != nil {
		return err
	}
	ver := v.r.URL.Query().Get("version")
	if ver == "" {
		ver = aws.ToString(p.ProfileVersion)
	}
	d := &profileData{Profile: p, Revoke: &revokeForm{Action: "/console/profiles/" + name + "/revoke", Target: name, Version: ver,
		Effective: c.d.Now().UTC().Format("2006-01-02T15:04")}}
	return v.render("profile.html", v.page("Revoke "+name, d))
}

func (c *Console) profileRevoke(v *view) error {
	ctx := v.r.Context()
	name := v.r.PathValue("name")
	f := v.r.PostForm
	rf := &revokeForm{Action: "/console/profiles/" + name + "/revoke", Target: name, Version: f.Get("version"), Effective: f.Get("effective"), Reason: f.Get("reason")}
	status := http.StatusBadRequest
	eff, err := parseLocal(rf.Effective)
	if err != nil {
		rf.Error = err.Error()
	}
	if rf.Error == "" {
		_, err = v.api().signer.RevokeSigningProfile(ctx, &signer.RevokeSigningProfileInput{ProfileName: aws.String(name), ProfileVersion: aws.String(rf.Version),
			EffectiveTime: aws.Time(eff), Reason: aws.String(rf.Reason)})
		if ae, ok := asAPIError(err); ok {
			rf.Error, status = ae.Error(), ae.status
		} else if err != nil {
			return err
		}
	}
	p, gerr := v.api().signer.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String(name)})
	if gerr != nil {
		return gerr
	}
	d := &profileData{Profile: p}
	pg := v.page("Signing profile "+name, d)
	if rf.Error != "" {
		d.Revoke = rf
		return v.renderStatus(status, "profile.html", pg)
	}
	pg.Notice = fmt.Sprintf("Profile version %s of %s is revoked from %s.", rf.Version, name, eff.UTC().Format(time.RFC3339))
	return v.render("profile.html", pg)
}

// parseLocal reads a datetime-local input's value (UTC, as the form says).
func parseLocal(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(s), time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("the effective time %q is not a date and time such as 2026-12-01T09:30 (UTC)", s)
}

type jobsData struct {
	Jobs                                   []signertypes.SigningJob
	Status, Platform, RequestedBy, Revoked string
	Next                                   string
}

func (c *Console) jobs(v *view) error {
	q := v.r.URL.Query()
	d := &jobsData{Status: q.Get("status"), Platform: q.Get("platform"), RequestedBy: q.Get("requestedBy"), Revoked: q.Get("revoked")}
	in := &signer.ListSigningJobsInput{MaxResults: aws.Int32(25)}
	if d.Status != "" {
		in.Status = signertypes.SigningStatus(d.Status)
	}
	if d.Platform != "" {
		in.PlatformId = aws.String(d.Platform)
	}
	if d.RequestedBy != "" {
		in.RequestedBy = aws.String(d.RequestedBy)
	}
	if d.Revoked == "true" {
		in.IsRevoked = true
	}
	if t := q.Get("next"); t != "" {
		in.NextToken = aws.String(t)
	}
	out, err := v.api().signer.ListSigningJobs(v.r.Context(), in)
	if err != nil {
		return err
	}
	d.Jobs, d.Next = out.Jobs, aws.ToString(out.NextToken)
	return v.render("jobs.html", v.page("Signing jobs", d))
}

type jobData struct {
	Job     *signer.DescribeSigningJobOutput
	JobARN  string
	Revoke  *revokeForm
	Profile *revokeForm // the profile version's revocation, offered beside
}

func (c *Console) describeJob(v *view) (*jobData, error) {
	id := v.r.PathValue("id")
	j, err := v.api().signer.DescribeSigningJob(v.r.Context(), &signer.DescribeSigningJobInput{JobId: aws.String(id)})
	if err != nil {
		return nil, err
	}
	return &jobData{Job: j, JobARN: c.d.Account.JobARN(id)}, nil
}

func (c *Console) job(v *view) error {
	d, err := c.describeJob(v)
	if err != nil {
		return err
	}
	return v.render("job.html", v.page("Signing job "+aws.ToString(d.Job.JobId), d))
}

func (c *Console) jobRevokeForm(v *view) error {
	d, err := c.describeJob(v)
	if err != nil {
		return err
	}
	if v.r.URL.Query().Get("what") == "profile" {
		name := aws.ToString(d.Job.ProfileName)
		d.Profile = &revokeForm{Action: "/console/profiles/" + name + "/revoke", Target: name, Version: aws.ToString(d.Job.ProfileVersion),
			Effective: aws.ToTime(d.Job.CreatedAt).UTC().Add(-time.Minute).Format("2006-01-02T15:04")}
	} else {
		d.Revoke = &revokeForm{Action: "/console/jobs/" + aws.ToString(d.Job.JobId) + "/revoke", Target: aws.ToString(d.Job.JobId)}
	}
	return v.render("job.html", v.page("Revoke signature", d))
}

func (c *Console) jobRevoke(v *view) error {
	id := v.r.PathValue("id")
	reason := v.r.PostForm.Get("reason")
	_, err := v.api().signer.RevokeSignature(v.r.Context(), &signer.RevokeSignatureInput{JobId: aws.String(id), Reason: aws.String(reason)})
	var failed *apiError
	if ae, ok := asAPIError(err); ok {
		failed = ae
	} else if err != nil {
		return err
	}
	d, derr := c.describeJob(v)
	if derr != nil {
		if failed != nil {
			return failed // the refusal of the revocation says more
		}
		return derr
	}
	pg := v.page("Signing job "+id, d)
	if failed != nil {
		d.Revoke = &revokeForm{Action: "/console/jobs/" + id + "/revoke", Target: id, Reason: reason, Error: failed.Error()}
		return v.renderStatus(failed.status, "job.html", pg)
	}
	pg.Notice = "The signature of job " + id + " is revoked."
	return v.render("job.html", pg)
}
