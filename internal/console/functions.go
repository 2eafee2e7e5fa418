package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/signer"
)

// Functions and code signing configs.

type functionRow struct {
	F      lambdatypes.FunctionConfiguration
	Signed bool
}

func (c *Console) functions(v *view) error {
	in := &lambda.ListFunctionsInput{MaxItems: aws.Int32(50)}
	if m := v.r.URL.Query().Get("next"); m != "" {
		in.Marker = aws.String(m)
	}
	out, err := v.api().lambda.ListFunctions(v.r.Context(), in)
	if err != nil {
		return err
	}
	return v.render("functions.html", v.page("Functions", map[string]any{"Functions": out.Functions, "Next": aws.ToString(out.NextMarker)}))
}

type functionData struct {
	F         *lambda.GetFunctionOutput
	CSC       *lambdatypes.CodeSigningConfig
	CSCError  *apiError
	Job       *signer.DescribeSigningJobOutput
	JobError  *apiError
	Decisions *auditList
	DecError  *apiError
	Invokes   *auditList
	Logs      []logtypes.FilteredLogEvent
	LogsError *apiError
}

// soft keeps a refusal of one part of a page on that part.
func soft(err error) (*apiError, error) {
	if err == nil {
		return nil, nil
	}
	if ae, ok := asAPIError(err); ok {
		return ae, nil
	}
	return nil, err
}

func (c *Console) function(v *view) error {
	ctx := v.r.Context()
	name := v.r.PathValue("name")
	f, err := v.api().lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		return err
	}
	d := &functionData{F: f}
	fnARN := aws.ToString(f.Configuration.FunctionArn)
	cfg, err := v.api().lambda.GetFunctionCodeSigningConfig(ctx, &lambda.GetFunctionCodeSigningConfigInput{FunctionName: aws.String(name)})
	if d.CSCError, err = soft(err); err != nil {
		return err
	}
	if cfg != nil && aws.ToString(cfg.CodeSigningConfigArn) != "" {
		csc, err := v.api().lambda.GetCodeSigningConfig(ctx, &lambda.GetCodeSigningConfigInput{CodeSigningConfigArn: cfg.CodeSigningConfigArn})
		if d.CSCError, err = soft(err); err != nil {
			return err
		}
		if csc != nil {
			d.CSC = csc.CodeSigningConfig
		}
	}
	if jobARN := aws.ToString(f.Configuration.SigningJobArn); jobARN != "" {
		j, err := v.api().signer.DescribeSigningJob(ctx, &signer.DescribeSigningJobInput{JobId: aws.String(lastSegment(jobARN))})
		if d.JobError, err = soft(err); err != nil {
			return err
		}
		d.Job = j
	}
	var decisions, invokes auditList
	if v.may("signet:ListAuditEvents", "*") {
		err = v.signet("/audit/events", url.Values{"resource": {fnARN}, "category": {"deploy-gate"}, "maxResults": {"10"}}, &decisions)
		if d.DecError, err = soft(err); err != nil {
			return err
		}
		d.Decisions = &decisions
		if err := v.signet("/audit/events", url.Values{"resource": {fnARN}, "action": {"lambda:InvokeFunction"}, "maxResults": {"20"}}, &invokes); err == nil {
			d.Invokes = &invokes
		}
	}
	d.Logs, err = c.latestLogLines(v, "/aws/lambda/"+aws.ToString(f.Configuration.FunctionName))
	if d.LogsError, err = soft(err); err != nil {
		return err
	}
	return v.render("function.html", v.page("Function "+name, d))
}

// Log lines a function page shows: the latest of the past hour.
const (
	logLines     = 30
	logWindow    = time.Hour
	maxLogPages  = 5 // of 1,000 events: a page reads at most this many
	logPageLimit = 1000
)

// latestLogLines reads the log group's events of the past hour, as
// FilterLogEvents gives them (oldest first, as `aws logs tail` reads
// them), and keeps the latest logLines.
func (c *Console) latestLogLines(v *view, group string) ([]logtypes.FilteredLogEvent, error) {
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), StartTime: aws.Int64(c.d.Now().Add(-logWindow).UnixMilli()),
		Limit: aws.Int32(logPageLimit)}
	var out []logtypes.FilteredLogEvent
	for range maxLogPages {
		page, err := v.api().logs.FilterLogEvents(v.r.Context(), in)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Events...)
		if len(out) > logLines {
			out = out[len(out)-logLines:]
		}
		if page.NextToken == nil {
			break
		}
		in.NextToken = page.NextToken
	}
	return out, nil
}

func lastSegment(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == '/' || arn[i] == ':' {
			return arn[i+1:]
		}
	}
	return arn
}

func (c *Console) configs(v *view) error {
	in := &lambda.ListCodeSigningConfigsInput{MaxItems: aws.Int32(50)}
	if m := v.r.URL.Query().Get("next"); m != "" {
		in.Marker = aws.String(m)
	}
	out, err := v.api().lambda.ListCodeSigningConfigs(v.r.Context(), in)
	if err != nil {
		return err
	}
	return v.render("configs.html", v.page("Code signing configs", map[string]any{"Configs": out.CodeSigningConfigs, "Next": aws.ToString(out.NextMarker)}))
}

type configData struct {
	CSC       *lambdatypes.CodeSigningConfig
	Functions []string
}

func (c *Console) cscARN(id string) string {
	a := c.d.Account
	return "arn:" + a.Partition + ":lambda:" + a.Region + ":" + a.ID + ":code-signing-config:" + id
}

func (c *Console) loadConfig(v *view) (*configData, error) {
	ctx := v.r.Context()
	arn := c.cscARN(v.r.PathValue("id"))
	out, err := v.api().lambda.GetCodeSigningConfig(ctx, &lambda.GetCodeSigningConfigInput{CodeSigningConfigArn: aws.String(arn)})
	if err != nil {
		return nil, err
	}
	d := &configData{CSC: out.CodeSigningConfig}
	fns, err := v.api().lambda.ListFunctionsByCodeSigningConfig(ctx, &lambda.ListFunctionsByCodeSigningConfigInput{CodeSigningConfigArn: aws.String(arn)})
	if err == nil {
		d.Functions = fns.FunctionArns
	}
	return d, nil
}

func (c *Console) config(v *view) error {
	d, err := c.loadConfig(v)
	if err != nil {
		return err
	}
	return v.render("config.html", v.page("Code signing config "+v.r.PathValue("id"), d))
}

func (c *Console) configUpdate(v *view) error {
	policy := v.r.PostForm.Get("policy")
	if policy != "Enforce" && policy != "Warn" {
		return &apiError{status: http.StatusBadRequest, code: "ValidationException", msg: "the policy must be Enforce or Warn"}
	}
	_, err := v.api().lambda.UpdateCodeSigningConfig(v.r.Context(), &lambda.UpdateCodeSigningConfigInput{CodeSigningConfigArn: aws.String(c.cscARN(v.r.PathValue("id"))),
		CodeSigningPolicies: &lambdatypes.CodeSigningPolicies{UntrustedArtifactOnDeployment: lambdatypes.CodeSigningPolicy(policy)}})
	if err != nil {
		return err
	}
	d, err := c.loadConfig(v)
	if err != nil {
		return err
	}
	pg := v.page("Code signing config "+v.r.PathValue("id"), d)
	pg.Notice = "Untrusted artifacts on deployment: " + policy + "."
	return v.render("config.html", pg)
}
