// Command coldstart measures how long `signet serve` takes from exec to
// its first 200 from /healthz: on an empty data directory (cold: creates
// the database, master key, root CA and credentials) and on an existing
// one (warm). As a reference it times `signet version` (process start and
// exit) in the same run.
//
//	go build -o /tmp/signet ./cmd/signet && go run ./bench/coldstart -bin /tmp/signet -n 20
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

func main() {
	bin := flag.String("bin", "", "path of the signet binary")
	n := flag.Int("n", 20, "runs per measurement")
	flag.Parse()
	if *bin == "" {
		log.Fatal("coldstart: -bin is required")
	}
	var ref, cold, warm []time.Duration
	for range *n {
		t0 := time.Now()
		if err := exec.Command(*bin, "version").Run(); err != nil {
			log.Fatalf("coldstart: signet version: %v", err)
		}
		ref = append(ref, time.Since(t0))
	}
	warmDir, err := os.MkdirTemp("", "signet-warm-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(warmDir)
	for i := range *n {
		dir, err := os.MkdirTemp("", "signet-cold-")
		if err != nil {
			log.Fatal(err)
		}
		cold = append(cold, startOnce(*bin, dir))
		os.RemoveAll(dir)
		if i == 0 {
			startOnce(*bin, warmDir) // initialise
		}
		warm = append(warm, startOnce(*bin, warmDir))
	}
	med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	r, c, w := med(ref), med(cold), med(warm)
	fmt.Printf("| measurement | median of %d | ratio to reference |\n|---|---|---|\n", *n)
	fmt.Printf("| `signet version` (reference: exec to exit) | %.1f ms | 1.0 |\n", ms(r))
	fmt.Printf("| `signet serve`, empty data directory, exec to /healthz 200 | %.1f ms | %.1f |\n", ms(c), float64(c)/float64(r))
	fmt.Printf("| `signet serve`, existing data directory, exec to /healthz 200 | %.1f ms | %.1f |\n", ms(w), float64(w)/float64(r))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// startOnce starts the server, waits for /healthz, stops it and returns
// the time to readiness.
func startOnce(bin, dir string) time.Duration {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t0 := time.Now()
	cmd := exec.Command(bin, "serve", "--data-dir", filepath.Join(dir, "data"), "--listen", addr)
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	client := &http.Client{Timeout: time.Second}
	for time.Since(t0) < 30*time.Second {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				d := time.Since(t0)
				cmd.Process.Signal(os.Interrupt)
				return d
			}
		}
		time.Sleep(500 * time.Microsecond)
	}
	log.Fatal("coldstart: server did not become ready in 30s")
	return 0
}
