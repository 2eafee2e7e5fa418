package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/images/registrytest"
	"github.com/signet/signet/internal/inventory"
)

// workloadEnv is an admissionEnv whose policies also serve continuous
// validation of ECS tasks (no namespaces), with a far schedule: the
// benchmarks start the rounds themselves.
func workloadEnv(b *testing.B) *admissionEnv {
	return newAdmissionEnv(b, func(reg *registrytest.Registry, c *config.Config) {
		c.Admission.Policies = append(c.Admission.Policies, config.AdmissionPolicy{Name: "tasks", Images: []string{reg.Host + "/*"}, Profiles: []string{"images"}})
		c.Workloads.ECSEventsSecret = "benchmark-secret-of-some-length"
		c.Workloads.CheckInterval = "24h"
	})
}

// BenchmarkWorkloadsCheckAll: one round of continuous validation over
// 10,000 running ECS tasks that run 500 distinct signed images, with the
// verdicts cached (warm: what a scheduled round costs) and with the
// cache emptied first (cold: every digest verified against the registry
// again).
func BenchmarkWorkloadsCheckAll(b *testing.B) {
	registrytest.Tool(b, "registry", "SIGNET_REGISTRY")
	e := workloadEnv(b)
	ctx := context.Background()
	const digests, tasks = 500, 10000
	var refs []string
	for i := range digests {
		ref, _ := signImage(b, e.srv, e.reg, "images", fmt.Sprintf("fleet/svc-%d", i))
		d, err := e.srv.Admission().Policies[0].Verifier.Resolve(ctx, ref)
		if err != nil {
			b.Fatal(err)
		}
		refs = append(refs, d)
	}
	mon := e.srv.Workloads()
	for i := range tasks {
		arn := fmt.Sprintf("arn:aws:ecs:us-east-1:111122223333:task/fleet/%032x", i)
		mon.Observe(ctx, inventory.Workload{ID: arn, Source: inventory.SourceECS, Cluster: "arn:aws:ecs:us-east-1:111122223333:cluster/fleet",
			Name: fmt.Sprintf("%032x", i), Images: []string{refs[i%digests]}, Version: 1})
	}
	for _, cold := range []bool{false, true} {
		name := "warm"
		if cold {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) {
			var checks int
			for range b.N {
				if cold {
					b.StopTimer()
					e.srv.Admission().Cache.Purge()
					b.StartTimer()
				}
				r, err := mon.CheckAll(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if r.Workloads != tasks || r.Violations != 0 || r.Failures != 0 {
					b.Fatalf("round %+v", r)
				}
				checks = r.Checks
			}
			b.ReportMetric(float64(checks), "checks/round")
		})
	}
}

// BenchmarkWorkloadRevocation: from RevokeSignature returning to the
// running task that runs the image being a violation (its stop hook
// unset: reported).
func BenchmarkWorkloadRevocation(b *testing.B) {
	registrytest.Tool(b, "registry", "SIGNET_REGISTRY")
	e := workloadEnv(b)
	ctx := context.Background()
	mon := e.srv.Workloads()
	var took []time.Duration
	for n := range b.N {
		b.StopTimer()
		ref, job := signImage(b, e.srv, e.reg, "images", fmt.Sprintf("fleet/revoked-%d", n))
		d, err := e.srv.Admission().Policies[0].Verifier.Resolve(ctx, ref)
		if err != nil {
			b.Fatal(err)
		}
		arn := fmt.Sprintf("arn:aws:ecs:us-east-1:111122223333:task/fleet/revoked%d", n)
		mon.Observe(ctx, inventory.Workload{ID: arn, Source: inventory.SourceECS, Cluster: "arn:aws:ecs:us-east-1:111122223333:cluster/fleet", Name: "t", Images: []string{d}, Version: 1})
		b.StartTimer()
		if _, err := e.srv.Signer().RevokeSignature(ctx, &signer.RevokeSignatureInput{JobId: aws.String(job), Reason: aws.String("bench")}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		waitFor(b, "the violation", func() bool {
			for _, v := range mon.Violations() {
				if v.Workload.ID == arn && v.Outcome != "" {
					return true
				}
			}
			return false
		})
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	reportLatencies(b, took)
}
