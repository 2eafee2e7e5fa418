package server_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"

	"github.com/signet/signet/internal/config"
	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/server/servertest"
	"github.com/signet/signet/internal/store/pgtest"
)

// BenchmarkNodes runs 1, 2 and 3 nodes (in this process) on one
// PostgreSQL database with 8 callers spread over them, half the calls
// reads (GetSigningProfile), half writes (TagResource on the caller's own
// profile, answered once its audit record is durable). It reports the throughput and, the quantity
// that limits scale-out on machines with more cores, the share of an
// operation's time spent holding the lock that every node's writes take
// turns on (the audit chain's), and the transactions run again after a
// serialization conflict.
func BenchmarkNodes(b *testing.B) {
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			dsn := pgtest.DSN(b)
			keyFile := filepath.Join(b.TempDir(), "master.key")
			if _, _, err := keys.LoadOrCreateMasterKey(keyFile); err != nil {
				b.Fatal(err)
			}
			var nodes []*servertest.Server
			var clients []*signer.Client
			for range n {
				ts := servertest.StartWith(b, func(c *config.Config) { c.DatabaseURL, c.MasterKeyFile = dsn, keyFile })
				nodes = append(nodes, ts)
				clients = append(clients, ts.Signer())
			}
			ctx := context.Background()
			// A profile per caller, so that writes meet on the audit chain
			// only, not on one row.
			const callers = 8
			var arns []*string
			for i := range callers {
				p, err := clients[0].PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String(fmt.Sprint("bench", i)), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")})
				if err != nil {
					b.Fatal(err)
				}
				arns = append(arns, p.Arn)
			}
			contention := func() (time.Duration, int64) {
				var held time.Duration
				var retries int64
				for _, ts := range nodes {
					h, r := ts.DBContention()
					held, retries = held+h, retries+r
				}
				return held, retries
			}
			b.SetParallelism(callers / 2) // GOMAXPROCS is 2 here
			var next atomic.Int64
			held0, retries0 := contention()
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				id := int(next.Add(1))
				c, name, arn := clients[id%n], fmt.Sprint("bench", id%callers), arns[id%callers]
				for pb.Next() {
					k := next.Add(1)
					var err error
					if k%2 == 0 {
						_, err = c.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String(name)})
					} else {
						_, err = c.TagResource(ctx, &signer.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"k": fmt.Sprint(k)}})
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			held, retries := contention()
			held, retries = held-held0, retries-retries0
			perOp := elapsed * callers / time.Duration(b.N) // each caller waits for one call at a time
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
			b.ReportMetric(float64(held)/float64(b.N)/1e3, "µs-locked/op")
			b.ReportMetric(100*float64(held)/float64(b.N)/float64(perOp), "%locked")
			b.ReportMetric(float64(retries)/float64(b.N), "retries/op")
		})
	}
}
