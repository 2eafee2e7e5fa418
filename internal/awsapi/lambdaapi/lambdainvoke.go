package lambdaapi

import (
	"encoding/base64"
	"io"
	"net/http"
	"strconv"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/functions"
	"github.com/signet/signet/internal/invoke"
)

// logTailBytes is how much of the log LogType Tail returns.
const logTailBytes = 4096

// invokeOperations are Invoke and the reserved-concurrency operations.
func (l *Lambda) invokeOperations() []awsapi.Operation {
	// The function's ARN, with the qualifier given in the name or in
	// ?Qualifier, parsed as the operation parses it.
	fnARN := func(r *http.Request) string {
		name, q, err := l.Functions.SplitQualifier(r.PathValue("name"), r.URL.Query().Get("Qualifier"))
		if err != nil {
			return r.PathValue("name") // refused by the operation
		}
		if q != "" {
			return l.Functions.ARN(name) + ":" + q
		}
		return l.Functions.ARN(name)
	}
	return []awsapi.Operation{
		{Name: "Invoke", Pattern: "POST /2015-03-31/functions/{name}/invocations", Action: "lambda:InvokeFunction", Resource: fnARN, Handle: l.invoke},
		{Name: "PutFunctionConcurrency", Pattern: "PUT /2017-10-31/functions/{name}/concurrency", Action: "lambda:PutFunctionConcurrency", Resource: fnARN, Handle: l.putConcurrency},
		{Name: "GetFunctionConcurrency", Pattern: "GET /2019-09-30/functions/{name}/concurrency", Action: "lambda:GetFunctionConcurrency", Resource: fnARN, Handle: l.getConcurrency},
		{Name: "DeleteFunctionConcurrency", Pattern: "DELETE /2017-10-31/functions/{name}/concurrency", Action: "lambda:DeleteFunctionConcurrency", Resource: fnARN, Handle: l.deleteConcurrency},
		{Name: "AddPermission", Pattern: "POST /2015-03-31/functions/{name}/policy", Action: "lambda:AddPermission", Resource: fnARN, Handle: l.addPermission},
		{Name: "RemovePermission", Pattern: "DELETE /2015-03-31/functions/{name}/policy/{sid}", Action: "lambda:RemovePermission", Resource: fnARN, Handle: l.removePermission},
		{Name: "GetPolicy", Pattern: "GET /2015-03-31/functions/{name}/policy", Action: "lambda:GetPolicy", Resource: fnARN, Handle: l.getPolicy},
		{Name: "GetAccountSettings", Pattern: "GET /2016-08-19/account-settings", Action: "lambda:GetAccountSettings", Resource: awsapi.AllResources, Handle: l.getAccountSettings},
		{Name: "GetAccountSettings", Pattern: "GET /2016-08-19/account-settings/{$}", Action: "lambda:GetAccountSettings", Resource: awsapi.AllResources, Handle: l.getAccountSettings},
	}
}

func (l *Lambda) invoke(w http.ResponseWriter, r *http.Request) error {
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	in := invoke.Input{FunctionName: r.PathValue("name"), Qualifier: r.URL.Query().Get("Qualifier"), Payload: payload,
		ClientContext: r.Header.Get("X-Amz-Client-Context")}
	logType := r.Header.Get("X-Amz-Log-Type")
	if logType != "" && logType != "None" && logType != "Tail" {
		return awsapi.Validation("ValidationException", http.StatusBadRequest,
			errs.Value(nil, "logType", logType, "must satisfy enum value set: [Tail, None]"))
	}
	switch typ := r.Header.Get("X-Amz-Invocation-Type"); typ {
	case "", "RequestResponse":
	case "Event":
		_, version, err := l.Invoke.InvokeAsync(r.Context(), in)
		if err != nil {
			return err
		}
		w.Header().Set("X-Amz-Executed-Version", version)
		w.WriteHeader(http.StatusAccepted)
		return nil
	case "DryRun":
		if _, err := l.Invoke.DryRun(r.Context(), in); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	default:
		return awsapi.Validation("ValidationException", http.StatusBadRequest,
			errs.Value(nil, "invocationType", typ, "must satisfy enum value set: [Event, RequestResponse, DryRun]"))
	}
	res, version, err := l.Invoke.Invoke(r.Context(), in)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amz-Executed-Version", version)
	if res.FunctionError != "" {
		h.Set("X-Amz-Function-Error", res.FunctionError)
	}
	if logType == "Tail" {
		h.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString(invoke.Tail(res.Log, logTailBytes)))
	}
	h.Set("Content-Length", strconv.Itoa(len(res.Payload)))
	w.WriteHeader(http.StatusOK)
	w.Write(res.Payload)
	return nil
}

type concurrencyJSON struct {
	ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions,omitempty"`
}

func (l *Lambda) putConcurrency(w http.ResponseWriter, r *http.Request) error {
	var req concurrencyJSON
	if err := awsapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.ReservedConcurrentExecutions == nil {
		return awsapi.Validation("ValidationException", http.StatusBadRequest, errs.Null(nil, "reservedConcurrentExecutions"))
	}
	n, err := l.Invoke.PutConcurrency(r.Context(), r.PathValue("name"), *req.ReservedConcurrentExecutions)
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, concurrencyJSON{ReservedConcurrentExecutions: &n})
}

func (l *Lambda) getConcurrency(w http.ResponseWriter, r *http.Request) error {
	n, err := l.Invoke.ReservedConcurrency(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	out := concurrencyJSON{}
	if n >= 0 {
		out.ReservedConcurrentExecutions = &n
	}
	return awsapi.WriteJSON(w, out)
}

func (l *Lambda) deleteConcurrency(w http.ResponseWriter, r *http.Request) error {
	return awsapi.Empty(w, http.StatusNoContent, l.Invoke.DeleteConcurrency(r.Context(), r.PathValue("name")))
}

func (l *Lambda) addPermission(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		StatementID   string `json:"StatementId"`
		Action        string `json:"Action"`
		Principal     string `json:"Principal"`
		SourceArn     string `json:"SourceArn"`
		SourceAccount string `json:"SourceAccount"`
		RevisionID    string `json:"RevisionId"`
	}
	if err := awsapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	st, err := l.Functions.AddPermission(r.Context(), r.PathValue("name"), functions.PermissionInput{StatementID: req.StatementID, Action: req.Action,
		Principal: req.Principal, SourceARN: req.SourceArn, SourceAccount: req.SourceAccount, RevisionID: req.RevisionID})
	if err != nil {
		return err
	}
	return awsapi.WriteJSONStatus(w, http.StatusCreated, map[string]string{"Statement": st})
}

func (l *Lambda) removePermission(w http.ResponseWriter, r *http.Request) error {
	return awsapi.Empty(w, http.StatusNoContent, l.Functions.RemovePermission(r.Context(), r.PathValue("name"), r.PathValue("sid")))
}

func (l *Lambda) getPolicy(w http.ResponseWriter, r *http.Request) error {
	doc, rev, err := l.Functions.Policy(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if doc == "" {
		return &awsapi.Error{Code: "ResourceNotFoundException", Status: http.StatusNotFound, Message: "The resource you requested does not exist."}
	}
	return awsapi.WriteJSON(w, map[string]string{"Policy": doc, "RevisionId": rev})
}

// getAccountSettings reports the installation's limits and usage as
// Lambda's GetAccountSettings: concurrency from the configuration, and
// the code stored by all functions.
func (l *Lambda) getAccountSettings(w http.ResponseWriter, r *http.Request) error {
	var total, count int64
	for marker := ""; ; {
		fs, next, err := l.Functions.List(r.Context(), marker, 1000)
		if err != nil {
			return err
		}
		for _, f := range fs {
			total += f.CodeSize
			count++
		}
		if next == "" {
			break
		}
		marker = next
	}
	concurrency, unreserved := 0, 0
	if l.Invoke != nil && l.Invoke.Pool != nil {
		concurrency, unreserved = l.Invoke.Pool.Concurrency(), l.Invoke.Pool.Unreserved()
	}
	type limit struct {
		TotalCodeSize                  int64
		CodeSizeUnzipped               int64
		CodeSizeZipped                 int64
		ConcurrentExecutions           int
		UnreservedConcurrentExecutions int
	}
	return awsapi.WriteJSON(w, struct {
		AccountLimit limit
		AccountUsage struct {
			TotalCodeSize int64
			FunctionCount int64
		}
	}{
		AccountLimit: limit{TotalCodeSize: 80530636800, CodeSizeUnzipped: invoke.MaxUnzippedSize, CodeSizeZipped: functions.MaxZipSize,
			ConcurrentExecutions: concurrency, UnreservedConcurrentExecutions: unreserved},
		AccountUsage: struct {
			TotalCodeSize int64
			FunctionCount int64
		}{total, count},
	})
}
