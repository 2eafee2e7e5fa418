package inventory

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	goldenTask    = "arn:aws:ecs:eu-west-1:111122223333:task/payments/0b9f6c2d8e4a4f1b9c3d2e1f0a9b8c7d"
	goldenCluster = "arn:aws:ecs:eu-west-1:111122223333:cluster/payments"
)

func TestParseTaskStateChangeGolden(t *testing.T) {
	tests := map[string]struct {
		file    string
		want    Workload
		running bool
	}{
		"ok/running": {
			file: "ecs-running.json",
			want: Workload{
				ID: goldenTask, Source: SourceECS, Cluster: goldenCluster,
				Name: "0b9f6c2d8e4a4f1b9c3d2e1f0a9b8c7d",
				Images: []string{
					"111122223333.dkr.ecr.eu-west-1.amazonaws.com/payments-api@sha256:3b1f8e0c9d2a4b6c8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d",
					"public.ecr.aws/aws-observability/aws-for-fluent-bit@sha256:a0b1c2d3e4f5061728394a5b6c7d8e9f00112233445566778899aabbccddeeff",
				},
				Principal: "ecs-svc/4719285360184721",
				Version:   4,
				SeenAt:    time.Date(2026, 11, 30, 9, 14, 5, 477e6, time.UTC),
			},
			running: true,
		},
		"ok/stopped": {
			file: "ecs-stopped.json",
			want: Workload{
				ID: goldenTask, Source: SourceECS, Cluster: goldenCluster,
				Name: "0b9f6c2d8e4a4f1b9c3d2e1f0a9b8c7d",
				Images: []string{
					"111122223333.dkr.ecr.eu-west-1.amazonaws.com/payments-api@sha256:3b1f8e0c9d2a4b6c8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d",
					"public.ecr.aws/aws-observability/aws-for-fluent-bit@sha256:a0b1c2d3e4f5061728394a5b6c7d8e9f00112233445566778899aabbccddeeff",
				},
				Principal: "ecs-svc/4719285360184721",
				Version:   6,
				SeenAt:    time.Date(2026, 11, 30, 11, 2, 50, 921e6, time.UTC),
			},
		},
		"ok/pending without digest": {
			file: "ecs-pending.json",
			want: Workload{
				ID:     "arn:aws:ecs:eu-west-1:111122223333:task/payments/7c6b5a4f3e2d4c1b0a9f8e7d6c5b4a39",
				Source: SourceECS, Cluster: goldenCluster,
				Name:      "7c6b5a4f3e2d4c1b0a9f8e7d6c5b4a39",
				Images:    []string{"111122223333.dkr.ecr.eu-west-1.amazonaws.com/batch-export:latest"},
				Principal: "arn:aws:sts::111122223333:assumed-role/deployer/ci-run-8812",
				Version:   1,
				SeenAt:    time.Date(2026, 11, 30, 9, 13, 35, 981e6, time.UTC),
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			w, running, err := ParseTaskStateChange(body)
			if err != nil {
				t.Fatalf("ParseTaskStateChange: %v", err)
			}
			if running != tt.running {
				t.Errorf("running = %v, want %v", running, tt.running)
			}
			if !sameContent(w, tt.want) || w.Version != tt.want.Version || !w.SeenAt.Equal(tt.want.SeenAt) {
				t.Errorf("workload =\n%+v\nwant\n%+v", w, tt.want)
			}
		})
	}
}

func TestParseTaskStateChangeErrors(t *testing.T) {
	running, err := os.ReadFile("testdata/ecs-running.json")
	if err != nil {
		t.Fatal(err)
	}
	body := string(running)
	tests := map[string]struct {
		body string
		want string // in the error
	}{
		"fail/not json":        {`{"version":"0",`, "malformed JSON at byte offset"},
		"fail/truncated":       {body[:len(body)/2], "malformed JSON"},
		"fail/detail-type":     {strings.Replace(body, `"ECS Task State Change"`, `"ECS Container Instance State Change"`, 1), `detail-type is "ECS Container Instance State Change"`},
		"fail/source":          {strings.Replace(body, `"aws.ecs"`, `"aws.ec2"`, 1), `source is "aws.ec2"`},
		"fail/no detail":       {`{"source":"aws.ecs","detail-type":"ECS Task State Change"}`, "has no detail"},
		"fail/no taskArn":      {`{"source":"aws.ecs","detail-type":"ECS Task State Change","detail":{"lastStatus":"RUNNING"}}`, "detail.taskArn is missing"},
		"fail/taskArn not ARN": {`{"source":"aws.ecs","detail-type":"ECS Task State Change","detail":{"taskArn":"abc"}}`, "is not an ARN"},
		"fail/version type":    {`{"source":"aws.ecs","detail-type":"ECS Task State Change","detail":{"taskArn":"arn:x","version":"4"}}`, `field "version"`},
		"fail/negative":        {`{"source":"aws.ecs","detail-type":"ECS Task State Change","detail":{"taskArn":"arn:x","version":-1}}`, "negative"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := ParseTaskStateChange([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestImageRef(t *testing.T) {
	const d = "sha256:0123"
	tests := []struct{ image, digest, want string }{
		{"nginx", "", "nginx"},
		{"nginx:1.27", d, "nginx@" + d},
		{"localhost:5000/app", d, "localhost:5000/app@" + d},
		{"localhost:5000/app:v1", d, "localhost:5000/app@" + d},
		{"reg.io/a/b:v1@sha256:ffff", d, "reg.io/a/b@" + d},
	}
	for _, tt := range tests {
		if got := ImageRef(tt.image, tt.digest); got != tt.want {
			t.Errorf("ImageRef(%q, %q) = %q, want %q", tt.image, tt.digest, got, tt.want)
		}
	}
}

func FuzzParseTaskStateChange(f *testing.F) {
	for _, name := range []string{"ecs-running.json", "ecs-stopped.json", "ecs-pending.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w, _, err := ParseTaskStateChange(body)
		if err != nil {
			if w.ID != "" {
				t.Fatalf("error %v with a workload %+v", err, w)
			}
			return
		}
		if w.ID == "" || w.Source != SourceECS || w.Version < 0 {
			t.Fatalf("accepted a workload without ID, source or with a negative version: %+v", w)
		}
		if slices.Contains(w.Images, "") {
			t.Fatalf("empty image in %q", w.Images)
		}
		if strings.Contains(w.Name, "/") {
			t.Fatalf("name %q has a slash", w.Name)
		}
	})
}
