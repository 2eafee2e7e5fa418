// Package logsapi serves the CloudWatch Logs subset that reads function
// logs (JSON 1.1 protocol).
package logsapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/signet/signet/internal/arn"
	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/errs"
	"github.com/signet/signet/internal/logs"
)

// Logs is the CloudWatch Logs subset that reads function logs:
// FilterLogEvents (what `aws logs tail` uses), GetLogEvents,
// DescribeLogGroups and DescribeLogStreams (JSON 1.1 protocol).
type Logs struct {
	Store      logs.Store
	Account    arn.Account
	Authorizer awsapi.Authorizer
	Log        *slog.Logger
	// Pending, when set, holds events written but not yet stored; every
	// read flushes it first, so that the logs of an invocation that has
	// returned are there to read (read-your-writes, where CloudWatch
	// Logs is eventually consistent).
	Pending interface{ Flush(context.Context) error }
}

// Service returns the operations of the CloudWatch Logs API.
func (l *Logs) Service() *awsapi.Service {
	op := func(name string) awsapi.Operation {
		return awsapi.Operation{Name: name, Pattern: "POST /", Target: "Logs_20140328." + name, Action: "logs:" + name}
	}
	return &awsapi.Service{Name: "logs", Protocol: awsapi.JSON{}, Authorizer: l.Authorizer, Log: l.Log,
		Throttle: awsapi.Error{Code: "ThrottlingException", Status: http.StatusBadRequest}, Operations: []awsapi.Operation{
			l.flushed(awsapi.Typed(op("FilterLogEvents"), awsapi.DecodeJSON,
				func(_ *http.Request, in *filterInput) string { return l.groupARN(in.groupRef) }, nil, l.filterLogEvents)),
			l.flushed(awsapi.Typed(op("GetLogEvents"), awsapi.DecodeJSON, l.streamARN, nil, l.getLogEvents)),
			l.flushed(awsapi.Typed(op("DescribeLogGroups"), awsapi.DecodeJSON, l.allGroupsARN, nil, l.describeLogGroups)),
			l.flushed(awsapi.Typed(op("DescribeLogStreams"), awsapi.DecodeJSON,
				func(_ *http.Request, in *describeStreamsInput) string { return l.groupARN(in.groupRef) }, nil, l.describeLogStreams)),
		}}
}

// flushed makes op store pending events before it reads.
func (l *Logs) flushed(op awsapi.Operation) awsapi.Operation {
	h := op.Handle
	op.Handle = func(w http.ResponseWriter, r *http.Request) error {
		if l.Pending != nil {
			if err := l.Pending.Flush(r.Context()); err != nil {
				return fmt.Errorf("storing pending log events: %w", err)
			}
		}
		return h(w, r)
	}
	return op
}

// allGroupsARN is DescribeLogGroups' resource: every log group of the
// account, as in AWS.
func (l *Logs) allGroupsARN(*http.Request, *describeGroupsInput) string {
	return fmt.Sprintf("arn:%s:logs:%s:%s:log-group:*", l.Account.Partition, l.Account.Region, l.Account.ID)
}

// groupRef names a log group, by name or by identifier.
type groupRef struct {
	LogGroupName       string `json:"logGroupName"`
	LogGroupIdentifier string `json:"logGroupIdentifier"`
}

// groupARN is the resource of an operation on one log group:
// arn:…:log-group:NAME:*.
func (l *Logs) groupARN(g groupRef) string {
	group, err := groupName(g.LogGroupName, g.LogGroupIdentifier)
	if err != nil {
		return "*" // refused before the handler explains what is missing
	}
	return l.arn(group)
}

// streamARN is GetLogEvents' resource, one stream of a group:
// arn:…:log-group:NAME:log-stream:STREAM (a policy on log-group:NAME:*
// covers it).
func (l *Logs) streamARN(_ *http.Request, in *getEventsInput) string {
	g := l.groupARN(in.groupRef)
	if g == "*" {
		return g
	}
	return strings.TrimSuffix(g, "*") + "log-stream:" + in.LogStreamName
}

func (l *Logs) arn(group string) string {
	return fmt.Sprintf("arn:%s:logs:%s:%s:log-group:%s:*", l.Account.Partition, l.Account.Region, l.Account.ID, group)
}

type logEventJSON struct {
	LogStreamName string `json:"logStreamName,omitempty"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId,omitempty"`
}

// groupName resolves logGroupName or logGroupIdentifier (a name or ARN).
func groupName(name, identifier string) (string, error) {
	if name == "" {
		name = identifier
		if p, err := arn.Parse(identifier); err == nil {
			name = strings.TrimSuffix(strings.TrimPrefix(p.Resource, "log-group:"), ":*")
		}
	}
	if name == "" {
		return "", &awsapi.Error{Code: "InvalidParameterException", Status: 400, Message: "logGroupName or logGroupIdentifier is required"}
	}
	return name, nil
}

var errNoGroup = &awsapi.Error{Code: "ResourceNotFoundException", Status: 400, Message: "The specified log group does not exist."}

func (l *Logs) groupExists(r *http.Request, group string) error {
	ok, err := l.Store.LogGroupExists(r.Context(), group)
	if err == nil && !ok {
		return errNoGroup
	}
	return err
}

func checkLimit(limit, max int) (int, error) {
	if limit < 0 || limit > max {
		return 0, awsapi.Validation("InvalidParameterException", 400, errs.Value(nil, "limit", strconv.Itoa(limit), "must have value between 1 and %d", max))
	}
	if limit == 0 {
		return max, nil
	}
	return limit, nil
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// eventToken encodes the id of the last event returned.
func eventToken(prefix string, id int64) string {
	return prefix + base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

func parseEventToken(prefix, tok string) (int64, error) {
	if tok == "" {
		return 0, nil
	}
	rest, ok := strings.CutPrefix(tok, prefix)
	b, err := base64.RawURLEncoding.DecodeString(rest)
	id, err2 := strconv.ParseInt(string(b), 10, 64)
	if !ok || err != nil || err2 != nil || id < 0 {
		return 0, &awsapi.Error{Code: "InvalidParameterException", Status: 400, Message: "The specified nextToken is invalid; pass the token a previous response returned."}
	}
	return id, nil
}

// filterInput is FilterLogEvents' request.
type filterInput struct {
	groupRef
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix string   `json:"logStreamNamePrefix"`
	StartTime           int64    `json:"startTime"`
	EndTime             int64    `json:"endTime"`
	FilterPattern       string   `json:"filterPattern"`
	NextToken           string   `json:"nextToken"`
	Limit               int      `json:"limit"`
	Interleaved         bool     `json:"interleaved"`
}

func (l *Logs) filterLogEvents(w http.ResponseWriter, r *http.Request, req *filterInput) error {
	group, err := groupName(req.LogGroupName, req.LogGroupIdentifier)
	if err != nil {
		return err
	}
	if len(req.LogStreamNames) > 0 && req.LogStreamNamePrefix != "" {
		return &awsapi.Error{Code: "InvalidParameterException", Status: 400, Message: "logStreamNames and logStreamNamePrefix are mutually exclusive"}
	}
	limit, err := checkLimit(req.Limit, 10000)
	if err != nil {
		return err
	}
	after, err := parseEventToken("", req.NextToken)
	if err != nil {
		return err
	}
	if err := l.groupExists(r, group); err != nil {
		return err
	}
	q := logs.Query{Group: group, Streams: req.LogStreamNames, StreamPrefix: req.LogStreamNamePrefix, Start: msTime(req.StartTime), End: msTime(req.EndTime), AfterID: after}
	out := struct {
		Events             []logEventJSON `json:"events"`
		SearchedLogStreams []any          `json:"searchedLogStreams"`
		NextToken          string         `json:"nextToken,omitempty"`
	}{Events: []logEventJSON{}, SearchedLogStreams: []any{}}
	// Scan in pages until limit events match the filter.
	for scanned := 0; len(out.Events) < limit && scanned < 100000; {
		q.Limit = 1000
		events, err := l.Store.LogEvents(r.Context(), q)
		if err != nil {
			return err
		}
		for _, e := range events {
			q.AfterID = e.ID
			if logs.Match(req.FilterPattern, e.Message) {
				out.Events = append(out.Events, logEventJSON{LogStreamName: e.Stream, Timestamp: e.Time.UnixMilli(), Message: e.Message,
					IngestionTime: e.Ingested.UnixMilli(), EventID: strconv.FormatInt(e.ID, 10)})
				if len(out.Events) == limit {
					break
				}
			}
		}
		scanned += len(events)
		if len(events) < q.Limit {
			q.AfterID = -1 // the end was reached
			break
		}
	}
	if q.AfterID >= 0 && len(out.Events) > 0 {
		out.NextToken = eventToken("", q.AfterID)
	}
	return awsapi.JSON{}.Write(w, out)
}

// getEventsInput is GetLogEvents' request.
type getEventsInput struct {
	groupRef
	LogStreamName string `json:"logStreamName"`
	StartTime     int64  `json:"startTime"`
	EndTime       int64  `json:"endTime"`
	NextToken     string `json:"nextToken"`
	Limit         int    `json:"limit"`
	StartFromHead bool   `json:"startFromHead"`
}

func (l *Logs) getLogEvents(w http.ResponseWriter, r *http.Request, req *getEventsInput) error {
	group, err := groupName(req.LogGroupName, req.LogGroupIdentifier)
	if err != nil {
		return err
	}
	if req.LogStreamName == "" {
		return &awsapi.Error{Code: "InvalidParameterException", Status: 400, Message: "logStreamName is required"}
	}
	limit, err := checkLimit(req.Limit, 10000)
	if err != nil {
		return err
	}
	after := int64(0)
	if req.NextToken != "" && !strings.HasPrefix(req.NextToken, "b/") {
		if after, err = parseEventToken("f/", req.NextToken); err != nil {
			return err
		}
	}
	if err := l.groupExists(r, group); err != nil {
		return err
	}
	events, err := l.Store.LogEvents(r.Context(), logs.Query{Group: group, Streams: []string{req.LogStreamName}, Start: msTime(req.StartTime), End: msTime(req.EndTime), AfterID: after, Limit: limit})
	if err != nil {
		return err
	}
	out := struct {
		Events            []logEventJSON `json:"events"`
		NextForwardToken  string         `json:"nextForwardToken"`
		NextBackwardToken string         `json:"nextBackwardToken"`
	}{Events: []logEventJSON{}, NextForwardToken: eventToken("f/", after), NextBackwardToken: eventToken("b/", after)}
	for _, e := range events {
		out.Events = append(out.Events, logEventJSON{Timestamp: e.Time.UnixMilli(), Message: e.Message, IngestionTime: e.Ingested.UnixMilli()})
		out.NextForwardToken = eventToken("f/", e.ID)
	}
	return awsapi.JSON{}.Write(w, out)
}

// describeGroupsInput is DescribeLogGroups' request.
type describeGroupsInput struct {
	LogGroupNamePrefix string `json:"logGroupNamePrefix"`
	Limit              int    `json:"limit"`
}

func (l *Logs) describeLogGroups(w http.ResponseWriter, r *http.Request, req *describeGroupsInput) error {
	limit, err := checkLimit(req.Limit, 50)
	if err != nil {
		return err
	}
	groups, err := l.Store.LogGroups(r.Context(), req.LogGroupNamePrefix)
	if err != nil {
		return err
	}
	type groupJSON struct {
		LogGroupName string `json:"logGroupName"`
		Arn          string `json:"arn"`
	}
	out := struct {
		LogGroups []groupJSON `json:"logGroups"`
	}{LogGroups: []groupJSON{}}
	for _, g := range groups[:min(limit, len(groups))] {
		out.LogGroups = append(out.LogGroups, groupJSON{LogGroupName: g, Arn: l.arn(g)})
	}
	return awsapi.JSON{}.Write(w, out)
}

// describeStreamsInput is DescribeLogStreams' request.
type describeStreamsInput struct {
	groupRef
	LogStreamNamePrefix string `json:"logStreamNamePrefix"`
	Limit               int    `json:"limit"`
}

func (l *Logs) describeLogStreams(w http.ResponseWriter, r *http.Request, req *describeStreamsInput) error {
	group, err := groupName(req.LogGroupName, req.LogGroupIdentifier)
	if err != nil {
		return err
	}
	limit, err := checkLimit(req.Limit, 50)
	if err != nil {
		return err
	}
	if err := l.groupExists(r, group); err != nil {
		return err
	}
	streams, err := l.Store.LogStreams(r.Context(), group, req.LogStreamNamePrefix)
	if err != nil {
		return err
	}
	type streamJSON struct {
		LogStreamName       string `json:"logStreamName"`
		CreationTime        int64  `json:"creationTime"`
		FirstEventTimestamp int64  `json:"firstEventTimestamp"`
		LastEventTimestamp  int64  `json:"lastEventTimestamp"`
		LastIngestionTime   int64  `json:"lastIngestionTime"`
		Arn                 string `json:"arn"`
	}
	out := struct {
		LogStreams []streamJSON `json:"logStreams"`
	}{LogStreams: []streamJSON{}}
	for _, s := range streams[:min(limit, len(streams))] {
		out.LogStreams = append(out.LogStreams, streamJSON{LogStreamName: s.Name, CreationTime: s.FirstEvent.UnixMilli(), FirstEventTimestamp: s.FirstEvent.UnixMilli(),
			LastEventTimestamp: s.LastEvent.UnixMilli(), LastIngestionTime: s.LastIngestion.UnixMilli(),
			Arn: strings.TrimSuffix(l.arn(group), "*") + "log-stream:" + s.Name})
	}
	return awsapi.JSON{}.Write(w, out)
}
