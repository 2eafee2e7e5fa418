package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/signet/signet/internal/awsapi/signetapi"
)

// workloadsCmd lists the running workloads Signet knows of, or the
// violations among them.
func workloadsCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "violations") {
		return usageError("workloads needs a subcommand: list or violations")
	}
	var cf clientFlags
	fs := flag.NewFlagSet("workloads "+args[0], flag.ContinueOnError)
	cf.register(fs)
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("workloads %s takes no arguments", args[0])
	}
	path := "/workloads"
	if args[0] == "violations" {
		path = "/workloads/violations"
	}
	body, err := cf.signedGet(ctx, signetapi.SigningName, path)
	if err != nil {
		return err
	}
	if cf.output == "json" {
		_, err := stdout.Write(append(body, '\n'))
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	defer tw.Flush()
	if args[0] == "list" {
		var out struct{ Workloads []signetapi.WorkloadJSON }
		if err := json.Unmarshal(body, &out); err != nil {
			return fmt.Errorf("unexpected answer: %w", err)
		}
		fmt.Fprintln(tw, "WORKLOAD\tPRINCIPAL\tIMAGE\tVERDICT")
		for _, w := range out.Workloads {
			for _, im := range w.Images {
				verdict := "not checked yet"
				switch {
				case im.Error != "":
					verdict = "not checkable: " + im.Error
				case im.Checked && im.Compliant:
					verdict = "ok"
				case im.Checked:
					verdict = im.Rule
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", w.ID, w.Principal, im.Image, verdict)
			}
		}
		return nil
	}
	var out struct{ Violations []signetapi.ViolationJSON }
	if err := json.Unmarshal(body, &out); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	fmt.Fprintln(tw, "WORKLOAD\tIMAGE\tRULE\tOUTCOME\tDETECTED")
	for _, v := range out.Violations {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.WorkloadID, v.Image, v.Rule, v.Outcome, v.DetectedAt.Format(time.RFC3339))
	}
	return nil
}

// signedGet GETs one of Signet's own APIs, signed with SigV4 for
// service with the AWS credential chain, and returns the body; an error
// answer becomes an error in the API's words.
func (c *clientFlags) signedGet(ctx context.Context, service, path string) ([]byte, error) {
	cfg, err := c.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.endpoint, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	empty := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(empty[:]), service, cfg.Region, time.Now()); err != nil {
		return nil, err
	}
	hc, err := c.httpClient()
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		json.Unmarshal(body, &e)
		code := resp.Header.Get("X-Amzn-ErrorType")
		if i := strings.IndexByte(code, ':'); i >= 0 {
			code = code[:i]
		}
		return nil, fmt.Errorf("%s: %s", code, e.Message)
	}
	return body, nil
}
