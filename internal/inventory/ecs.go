package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ecsRunning is the lastStatus of a running task; every other status is
// before or after running.
const ecsRunning = "RUNNING"

// taskStateChange is the part of an EventBridge "ECS Task State Change"
// event that the inventory reads.
type taskStateChange struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

type taskDetail struct {
	ClusterArn    string          `json:"clusterArn"`
	TaskArn       string          `json:"taskArn"`
	LastStatus    string          `json:"lastStatus"`
	DesiredStatus string          `json:"desiredStatus"`
	Containers    []taskContainer `json:"containers"`
	Version       int64           `json:"version"`
	StartedBy     string          `json:"startedBy"`
	Group         string          `json:"group"`
	UpdatedAt     string          `json:"updatedAt"`
}

type taskContainer struct {
	Name        string `json:"name"`
	Image       string `json:"image"`
	ImageDigest string `json:"imageDigest"`
	LastStatus  string `json:"lastStatus"`
}

// ParseTaskStateChange reads an EventBridge "ECS Task State Change" event
// (source "aws.ecs") and returns the task as a workload, and whether it
// runs: lastStatus RUNNING. A task that is not running is either not
// started yet (PROVISIONING, PENDING, ACTIVATING) or stopping or stopped
// (DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED); [Monitor.Gone] with
// the workload's Version is right for both, since a later RUNNING report
// carries a higher version.
//
// The workload's images are the containers' images pinned to their
// imageDigest when the event has it (ECR images), as given otherwise. Its
// Principal is detail.startedBy, its Version detail.version, and its
// SeenAt detail.updatedAt, else the event's time.
func ParseTaskStateChange(body []byte) (w Workload, running bool, err error) {
	var ev taskStateChange
	if err := unmarshal(body, &ev); err != nil {
		return Workload{}, false, fmt.Errorf("ECS task state change: %w", err)
	}
	if ev.Source != "aws.ecs" {
		return Workload{}, false, fmt.Errorf("ECS task state change: source is %q, want \"aws.ecs\": the EventBridge rule must match only ECS events", ev.Source)
	}
	if ev.DetailType != "ECS Task State Change" {
		return Workload{}, false, fmt.Errorf("ECS task state change: detail-type is %q, want \"ECS Task State Change\": the EventBridge rule must match only task state changes", ev.DetailType)
	}
	if len(bytes.TrimSpace(ev.Detail)) == 0 || string(bytes.TrimSpace(ev.Detail)) == "null" {
		return Workload{}, false, errors.New("ECS task state change: the event has no detail")
	}
	var d taskDetail
	if err := unmarshal(ev.Detail, &d); err != nil {
		return Workload{}, false, fmt.Errorf("ECS task state change: detail: %w", err)
	}
	if d.TaskArn == "" {
		return Workload{}, false, errors.New("ECS task state change: detail.taskArn is missing")
	}
	if !strings.HasPrefix(d.TaskArn, "arn:") {
		return Workload{}, false, fmt.Errorf("ECS task state change: detail.taskArn %q is not an ARN", d.TaskArn)
	}
	if d.Version < 0 {
		return Workload{}, false, fmt.Errorf("ECS task state change: detail.version %d is negative", d.Version)
	}
	w = Workload{
		ID:        d.TaskArn,
		Source:    SourceECS,
		Cluster:   d.ClusterArn,
		Name:      d.TaskArn[strings.LastIndexByte(d.TaskArn, '/')+1:],
		Principal: d.StartedBy,
		Version:   d.Version,
	}
	for _, c := range d.Containers {
		if c.Image == "" {
			continue
		}
		w.Images = append(w.Images, ImageRef(c.Image, c.ImageDigest))
	}
	w.Images = dedup(w.Images)
	for _, ts := range []string{d.UpdatedAt, ev.Time} {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			w.SeenAt = t.UTC()
			break
		}
	}
	return w, d.LastStatus == ecsRunning, nil
}

// unmarshal decodes JSON and, when it is malformed, says where.
func unmarshal(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syn):
		return fmt.Errorf("malformed JSON at byte offset %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q at byte offset %d is a JSON %s, want %s", typ.Field, typ.Offset, typ.Value, typ.Type)
	}
	return fmt.Errorf("malformed JSON: %v", err)
}
