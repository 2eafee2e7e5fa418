package console

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// The answers of Signet's own API (signet) the pages read.

type auditEvent struct {
	Seq            int64     `json:"seq"`
	Time           time.Time `json:"time"`
	Principal      string    `json:"principal"`
	AccessKey      string    `json:"accessKey"`
	Action         string    `json:"action"`
	Resource       string    `json:"resource"`
	Decision       string    `json:"decision"`
	Outcome        string    `json:"outcome"`
	RequestID      string    `json:"requestId"`
	SourceIP       string    `json:"sourceIp"`
	SourceIdentity string    `json:"sourceIdentity"`
	BreakGlass     bool      `json:"breakGlass"`
	Detail         string    `json:"detail"`
	Category       string    `json:"category"`
}

type auditList struct {
	Events    []auditEvent `json:"events"`
	NextToken string       `json:"nextToken"`
}

type activityDay struct {
	Day              string         `json:"day"`
	Jobs             map[string]int `json:"jobs"`
	GateRefusals     int            `json:"gateRefusals"`
	GateWarnings     int            `json:"gateWarnings"`
	AdmissionDenials int            `json:"admissionDenials"`
	BreakGlass       int            `json:"breakGlass"`
	Revocations      int            `json:"revocations"`
	SigningMillis    int            `json:"signingMillis"`
}

type activity struct {
	Days      []activityDay `json:"days"`
	Functions struct {
		Total    int `json:"total"`
		Enforce  int `json:"enforce"`
		Warn     int `json:"warn"`
		NoConfig int `json:"noConfig"`
		Unsigned int `json:"unsigned"`
	} `json:"functions"`
	JobsInProgress   int `json:"jobsInProgress"`
	ActiveViolations int `json:"activeViolations"`
}

type auditStatus struct {
	Records         int64    `json:"records"`
	LastSeq         int64    `json:"lastSeq"`
	VerifiedThrough int64    `json:"verifiedThrough"`
	Intact          bool     `json:"intact"`
	Problems        []string `json:"problems"`
	LastCheckpoint  *struct {
		Seq  int64     `json:"seq"`
		Time time.Time `json:"time"`
	} `json:"lastCheckpoint"`
	CheckpointsVerified int        `json:"checkpointsVerified"`
	CheckedAt           *time.Time `json:"checkedAt"`
	Indexed             int64      `json:"indexed"`
}

type overviewData struct {
	A                                               *activity
	AError                                          *apiError
	JobsChart, GateChart, RevokeChart, LatencyChart template.HTML
	Refusals                                        *auditList
	Violations                                      []violation
}

type violation struct {
	WorkloadID string    `json:"workloadId"`
	Source     string    `json:"source"`
	Cluster    string    `json:"cluster"`
	Namespace  string    `json:"namespace"`
	Name       string    `json:"name"`
	Image      string    `json:"image"`
	Rule       string    `json:"rule"`
	Reason     string    `json:"reason"`
	Action     string    `json:"action"`
	Outcome    string    `json:"outcome"`
	DetectedAt time.Time `json:"detectedAt"`
}

type workload struct {
	ID        string    `json:"id"`
	Source    string    `json:"source"`
	Cluster   string    `json:"cluster"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	SeenAt    time.Time `json:"seenAt"`
	Images    []struct {
		Image     string `json:"image"`
		Checked   bool   `json:"checked"`
		Compliant bool   `json:"compliant"`
		Rule      string `json:"rule"`
		Reason    string `json:"reason"`
		Error     string `json:"error"`
	} `json:"images"`
}

func (c *Console) overview(v *view) error {
	d := &overviewData{}
	// The overview's calls are independent: made at once, the page takes
	// as long as the slowest (the activity summary).
	v.api()
	var a activity
	var refusals auditList
	var vs struct {
		Violations []violation `json:"violations"`
	}
	var aErr error
	var wg sync.WaitGroup
	wg.Go(func() { aErr = v.signet("/activity", url.Values{"days": {"14"}}, &a) })
	// What the principal may not read is left out rather than asked
	// for: a refused call is an audit record of its own.
	if v.may("signet:ListAuditEvents", "*") {
		wg.Go(func() {
			if err := v.signet("/audit/events", url.Values{"category": {"deploy-gate"}, "maxResults": {"10"}}, &refusals); err == nil {
				d.Refusals = &refusals
			}
		})
	}
	if v.may("signet:ListWorkloadViolations", "*") {
		wg.Go(func() {
			if err := v.signet("/workloads/violations", nil, &vs); err == nil {
				d.Violations = vs.Violations
			}
		})
	}
	wg.Wait()
	var err error
	if d.AError, err = soft(aErr); err != nil {
		return err
	}
	if d.AError == nil {
		d.A = &a
		var jobs, gate, rev, latency []bar
		for _, day := range a.Days {
			label := day.Day[5:] // MM-DD
			jobs = append(jobs, bar{Label: label, Parts: []int{day.Jobs["Succeeded"], day.Jobs["Failed"], day.Jobs["InProgress"]}})
			gate = append(gate, bar{Label: label, Parts: []int{day.GateRefusals, day.GateWarnings, day.AdmissionDenials}})
			rev = append(rev, bar{Label: label, Parts: []int{day.Revocations, day.BreakGlass}})
			latency = append(latency, bar{Label: label, Parts: []int{day.SigningMillis}})
		}
		d.JobsChart = barChart("Signing jobs per day", []string{"Succeeded", "Failed", "In progress"}, jobs)
		d.GateChart = barChart("Deploy-gate refusals, warnings and admission denials per day", []string{"Gate refusals", "Gate warnings", "Admission denials"}, gate)
		d.RevokeChart = barChart("Revocations and break-glass uses per day", []string{"Revocations", "Break-glass uses"}, rev)
		d.LatencyChart = barChart("Signing time per day, average (ms)", []string{"Request to signed"}, latency)
	}
	return v.render("overview.html", v.page("Overview", d))
}

type admissionData struct {
	Workloads  []workload
	Violations []violation
	WError     *apiError
	Decisions  *auditList
	BreakGlass *auditList
}

func (c *Console) admission(v *view) error {
	d := &admissionData{}
	var ws struct {
		Workloads []workload `json:"workloads"`
	}
	err := v.signet("/workloads", nil, &ws)
	if d.WError, err = soft(err); err != nil {
		return err
	}
	d.Workloads = ws.Workloads
	var vs struct {
		Violations []violation `json:"violations"`
	}
	if err := v.signet("/workloads/violations", nil, &vs); err == nil {
		d.Violations = vs.Violations
	}
	var dec, bg auditList
	if v.may("signet:ListAuditEvents", "*") {
		if err := v.signet("/audit/events", url.Values{"category": {"admission"}, "maxResults": {"25"}}, &dec); err == nil {
			d.Decisions = &dec
		}
		if err := v.signet("/audit/events", url.Values{"breakGlass": {"true"}, "maxResults": {"25"}}, &bg); err == nil {
			d.BreakGlass = &bg
		}
	}
	return v.render("admission.html", v.page("Images & admission", d))
}

func (c *Console) secrets(v *view) error {
	in := &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(100)}
	if t := v.r.URL.Query().Get("next"); t != "" {
		in.NextToken = aws.String(t)
	}
	out, err := v.api().secrets.ListSecrets(v.r.Context(), in)
	if err != nil {
		return err
	}
	return v.render("secrets.html", v.page("Secrets", map[string]any{"Secrets": out.SecretList, "Next": aws.ToString(out.NextToken)}))
}

type secretData struct {
	S        *secretsmanager.DescribeSecretOutput
	Versions []smtypes.SecretVersionsListEntry
	Value    string // shown once, after an explicit request
	Shown    bool
}

func (c *Console) loadSecret(v *view) (*secretData, error) {
	ctx := v.r.Context()
	id := v.r.PathValue("id")
	s, err := v.api().secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		return nil, err
	}
	d := &secretData{S: s}
	if vs, err := v.api().secrets.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(id)}); err == nil {
		d.Versions = vs.Versions
	}
	return d, nil
}

func (c *Console) secret(v *view) error {
	d, err := c.loadSecret(v)
	if err != nil {
		return err
	}
	return v.render("secret.html", v.page("Secret "+aws.ToString(d.S.Name), d))
}

// secretValue shows a secret's value: only on an explicit POST, as the
// principal (who must be allowed GetSecretValue and the key's Decrypt),
// never cached (no-store) nor kept in history.
func (c *Console) secretValue(v *view) error {
	d, err := c.loadSecret(v)
	if err != nil {
		return err
	}
	out, err := v.api().secrets.GetSecretValue(v.r.Context(), &secretsmanager.GetSecretValueInput{SecretId: d.S.ARN})
	if err != nil {
		return err
	}
	d.Shown = true
	if out.SecretString != nil {
		d.Value = *out.SecretString
	} else {
		d.Value = "(binary, " + strconv.Itoa(len(out.SecretBinary)) + " bytes)"
	}
	return v.render("secret.html", v.page("Secret "+aws.ToString(d.S.Name), d))
}

type iamData struct {
	Users    []iamtypes.User
	Roles    []iamtypes.Role
	Policies []iamtypes.Policy
	PError   *apiError
}

func (c *Console) iamPage(v *view) error {
	ctx := v.r.Context()
	d := &iamData{}
	u, err := v.api().iam.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		return err
	}
	d.Users = u.Users
	if r, err := v.api().iam.ListRoles(ctx, &iam.ListRolesInput{}); err == nil {
		d.Roles = r.Roles
	}
	p, err := v.api().iam.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal})
	if d.PError, err = soft(err); err != nil {
		return err
	}
	if p != nil {
		d.Policies = p.Policies
	}
	return v.render("iam.html", v.page("IAM", d))
}

type principalData struct {
	Kind, Name, ARN string
	Created         *time.Time
	Boundary        string
	Attached        []iamtypes.AttachedPolicy
	Inline          []inlinePolicy
	Error           *apiError
}

type inlinePolicy struct{ Name, Document string }

func (c *Console) iamUser(v *view) error {
	ctx := v.r.Context()
	name := v.r.PathValue("name")
	u, err := v.api().iam.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)})
	if err != nil {
		return err
	}
	d := &principalData{Kind: "User", Name: name, ARN: aws.ToString(u.User.Arn), Created: u.User.CreateDate}
	if b := u.User.PermissionsBoundary; b != nil {
		d.Boundary = aws.ToString(b.PermissionsBoundaryArn)
	}
	if a, err := v.api().iam.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(name)}); err == nil {
		d.Attached = a.AttachedPolicies
	} else if d.Error, err = soft(err); err != nil {
		return err
	}
	if l, err := v.api().iam.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String(name)}); err == nil {
		for _, pn := range l.PolicyNames {
			if g, err := v.api().iam.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(pn)}); err == nil {
				doc, _ := url.QueryUnescape(aws.ToString(g.PolicyDocument))
				d.Inline = append(d.Inline, inlinePolicy{pn, doc})
			}
		}
	}
	return v.render("principal.html", v.page("IAM user "+name, d))
}

func (c *Console) iamRole(v *view) error {
	ctx := v.r.Context()
	name := v.r.PathValue("name")
	r, err := v.api().iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return err
	}
	d := &principalData{Kind: "Role", Name: name, ARN: aws.ToString(r.Role.Arn), Created: r.Role.CreateDate}
	if b := r.Role.PermissionsBoundary; b != nil {
		d.Boundary = aws.ToString(b.PermissionsBoundaryArn)
	}
	if a, err := v.api().iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name)}); err == nil {
		d.Attached = a.AttachedPolicies
	} else if d.Error, err = soft(err); err != nil {
		return err
	}
	if l, err := v.api().iam.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(name)}); err == nil {
		for _, pn := range l.PolicyNames {
			if g, err := v.api().iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(pn)}); err == nil {
				doc, _ := url.QueryUnescape(aws.ToString(g.PolicyDocument))
				d.Inline = append(d.Inline, inlinePolicy{pn, doc})
			}
		}
	}
	return v.render("principal.html", v.page("IAM role "+name, d))
}

type simulateData struct {
	Principal, Action, Resource string
	Principals                  []string
	Results                     []iamtypes.EvaluationResult
	Who                         []whoRow // "who can do this": every user and role
	Truncated                   int      // how many principals there were, when more than maxSimulated
	Error                       *apiError
}

// maxSimulated bounds the principals one simulator page asks about.
const maxSimulated = 25

type whoRow struct {
	Principal, Decision string
	Statements          []string
}

// simulate is the policy simulator: one principal's decision on an
// action and resource, or, with no principal, every user's and role's.
func (c *Console) simulate(v *view) error {
	ctx := v.r.Context()
	q := v.r.URL.Query()
	d := &simulateData{Principal: q.Get("principal"), Action: q.Get("action"), Resource: q.Get("resource")}
	u, err := v.api().iam.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		return err
	}
	for _, x := range u.Users {
		d.Principals = append(d.Principals, aws.ToString(x.Arn))
	}
	if r, err := v.api().iam.ListRoles(ctx, &iam.ListRolesInput{}); err == nil {
		for _, x := range r.Roles {
			d.Principals = append(d.Principals, aws.ToString(x.Arn))
		}
	}
	if d.Action != "" {
		res := d.Resource
		if res == "" {
			res = "*"
		}
		who := d.Principals
		if d.Principal != "" {
			who = []string{d.Principal}
		} else if len(who) > maxSimulated {
			// Each is a call of its own (and an audit record): a page
			// asks for a bounded number.
			d.Truncated, who = len(who), who[:maxSimulated]
		}
		for _, p := range who {
			out, err := v.api().iam.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(p),
				ActionNames: []string{d.Action}, ResourceArns: []string{res}})
			if err != nil {
				var ae *apiError
				if ae, err = soft(err); err != nil {
					return err
				}
				if d.Principal != "" {
					d.Error = ae
					break
				}
				d.Who = append(d.Who, whoRow{Principal: p, Decision: ae.code})
				continue
			}
			if d.Principal != "" {
				d.Results = out.EvaluationResults
			}
			for _, r := range out.EvaluationResults {
				row := whoRow{Principal: p, Decision: string(r.EvalDecision)}
				for _, m := range r.MatchedStatements {
					row.Statements = append(row.Statements, aws.ToString(m.SourcePolicyId))
				}
				d.Who = append(d.Who, row)
			}
		}
	}
	return v.render("simulate.html", v.page("Policy simulator", d))
}

type auditPageData struct {
	List                                                            *auditList
	Status                                                          *auditStatus
	StatusError                                                     *apiError
	Principal, Action, Resource, Decision, Category, From, To, Next string
	BreakGlass                                                      bool
}

func (c *Console) auditPage(v *view) error {
	q := v.r.URL.Query()
	d := &auditPageData{Principal: q.Get("principal"), Action: q.Get("action"), Resource: q.Get("resource"), Decision: q.Get("decision"),
		Category: q.Get("category"), From: q.Get("from"), To: q.Get("to"), BreakGlass: q.Get("breakGlass") == "true"}
	p := url.Values{"maxResults": {"50"}}
	for k, val := range map[string]string{"principal": d.Principal, "action": d.Action, "resource": d.Resource, "decision": d.Decision,
		"category": d.Category, "nextToken": q.Get("next")} {
		if val != "" {
			p.Set(k, val)
		}
	}
	if d.BreakGlass {
		p.Set("breakGlass", "true")
	}
	for k, val := range map[string]string{"from": d.From, "to": d.To} {
		if val == "" {
			continue
		}
		t, err := parseLocal(val)
		if err != nil {
			return &apiError{status: http.StatusBadRequest, code: "ValidationException", msg: strings.Replace(err.Error(), "effective time", k+" time", 1)}
		}
		p.Set(k, t.Format(time.RFC3339))
	}
	var list auditList
	if err := v.signet("/audit/events", p, &list); err != nil {
		return err
	}
	d.List, d.Next = &list, list.NextToken
	var st auditStatus
	err := v.signet("/audit/status", nil, &st)
	if d.StatusError, err = soft(err); err != nil {
		return err
	}
	if d.StatusError == nil {
		d.Status = &st
	}
	return v.render("audit.html", v.page("Audit log", d))
}
