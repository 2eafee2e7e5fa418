#!/usr/bin/env bash
# Runs Signet's benchmarks and prints the tables recorded in
# docs/performance.md. Everything is measured in one run, on this machine:
# the API through the full HTTP + SigV4 path, its references (an unsigned
# /healthz on the same server; the P-384 crypto a PutSigningProfile must
# do, from Go and from `openssl speed`), and the cold start of
# `signet serve`, and the function runtime (warm and cold invocations
# against a loopback HTTP pair and `python3 -c pass`).
#
#   ./bench/run.sh            # BENCHTIME=3s N=20 by default
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--mod=mod}
benchtime=${BENCHTIME:-3s}
n=${N:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The OpenSSL reference, measured once and used by every table.
ossl=$(openssl speed -seconds 3 ecdsap384 2>/dev/null | awk '/nistp384/ && /ecdsa/ {print $(NF-1)}' | tail -1)

echo "## $(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(go version | cut -d' ' -f3)"
echo
echo '### API throughput (aws-sdk-go-v2 client → HTTP → SigV4 → SQLite; parallel clients)'
echo
go test ./internal/server -run '^$' -bench 'GetSigningProfile|PutSigningProfile|Healthz|PutCryptoCeiling' -benchtime "$benchtime" -count 1 >"$tmp/bench.txt"
awk '
/^Benchmark/ { name=$1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name); ns[name]=$3 }
END {
  print "| operation | µs/op | ops/s | ratio |"
  print "|---|---|---|---|"
  printf "| GetSigningProfile | %.0f | %.0f | %.2f× the unsigned /healthz |\n", ns["GetSigningProfile"]/1000, 1e9/ns["GetSigningProfile"], ns["GetSigningProfile"]/ns["Healthz"]
  printf "| /healthz (reference: same server, no SigV4, no database) | %.0f | %.0f | 1 |\n", ns["Healthz"]/1000, 1e9/ns["Healthz"]
  printf "| PutSigningProfile | %.0f | %.0f | %.1f× its crypto ceiling |\n", ns["PutSigningProfile"]/1000, 1e9/ns["PutSigningProfile"], ns["PutSigningProfile"]/ns["PutCryptoCeiling"]
  printf "| P-384 keygen + sign + verify, Go (crypto ceiling of a Put) | %.0f | %.0f | 1 |\n", ns["PutCryptoCeiling"]/1000, 1e9/ns["PutCryptoCeiling"]
}' "$tmp/bench.txt"
echo
echo "OpenSSL \`openssl speed ecdsap384\` in the same run: ${ossl} signs/s on one core (Go's P-384 is the faster ceiling, used above)."
echo
echo '### Cold start of `signet serve`'
echo
go build -o "$tmp/signet" ./cmd/signet
go run ./bench/coldstart -bin "$tmp/signet" -n "$n"

echo
echo '### Signing jobs and SignPayload'
echo
go test ./internal/server -run '^$' -bench 'SignJob50MB' -benchtime 5x -count 1 >"$tmp/job.txt"
go test ./internal/server -run '^$' -bench 'SignPayload' -benchtime "$benchtime" -count 1 >"$tmp/payload.txt"
go test ./internal/server -run '^$' -bench 'Jobs1000' -benchtime 1x -count 1 >"$tmp/jobs1000.txt"
go test ./internal/notary -run '^$' -bench 'SignatureCrypto' -benchtime "$benchtime" -count 1 >"$tmp/crypto.txt"
# Reference for the 50 MB job: sha384sum + cp of a file of the same size.
head -c $((50 << 20)) /dev/urandom >"$tmp/ref.bin"
ref_ns=()
sync_ns=()
for _ in 1 2 3 4 5; do
  t0=$(date +%s%N)
  sha384sum "$tmp/ref.bin" >/dev/null
  cp "$tmp/ref.bin" "$tmp/ref-copy.bin"
  t1=$(date +%s%N)
  sync -f "$tmp/ref-copy.bin"
  t2=$(date +%s%N)
  ref_ns+=($((t1 - t0)))
  sync_ns+=($((t2 - t0)))
  rm -f "$tmp/ref-copy.bin"
done
ref=$(printf '%s\n' "${ref_ns[@]}" | sort -n | sed -n 3p)
refsync=$(printf '%s\n' "${sync_ns[@]}" | sort -n | sed -n 3p)
cores=$(nproc)
awk -v ref="$ref" -v refsync="$refsync" -v ossl="$ossl" -v cores="$cores" '
FNR==1 { file++ }
/^Benchmark/ { name=$1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name); ns[name]=$3 }
END {
  print "| measurement | result | reference (same run) | ratio |"
  print "|---|---|---|---|"
  printf "| 50 MB zip, StartSigningJob → Succeeded | %.0f ms | `sha384sum` + `cp` of 50 MB: %.0f ms | %.2f× (goal ≤ 1.5×) |\n", ns["SignJob50MB"]/1e6, ref/1e6, ns["SignJob50MB"]/ref
  printf "| the same job | %.0f ms | `sha384sum` + `cp` + `sync -f` (a durable copy, as the job makes): %.0f ms | %.2f× |\n", ns["SignJob50MB"]/1e6, refsync/1e6, ns["SignJob50MB"]/refsync
  ceiling = ossl * cores / 3
  printf "| SignPayload | %.0f/s | OpenSSL ceiling %.0f/s (%.0f P-384 signs/s per core × %d cores ÷ 3 ECDSA operations: leaf key, leaf certificate, envelope) | %.0f%% of the ceiling (goal ≥ 50%%) |\n", 1e9/ns["SignPayload"], ceiling, ossl, cores, 100*(1e9/ns["SignPayload"])/ceiling
  printf "| SignPayload | %.0f/s | its crypto as the libraries do it, in process (key, leaf certificate signed and re-verified by crypto/x509, chain validated by notation-core-go: 3 signatures + 4 verifications): %.0f/s | %.0f%% |\n", 1e9/ns["SignPayload"], 1e9/ns["SignatureCrypto"], 100*ns["SignatureCrypto"]/ns["SignPayload"]
  printf "| 1,000 small-zip jobs, submitted then awaited | %.1f s | — | %.0f jobs/s |\n", ns["Jobs1000"]/1e9, 1000/(ns["Jobs1000"]/1e9)
}' "$tmp/job.txt" "$tmp/payload.txt" "$tmp/jobs1000.txt" "$tmp/crypto.txt"

echo
echo '### Revocation'
echo
go test ./internal/store -run '^$' -bench 'ProfileCRL100k' -benchtime 3x -count 1 >"$tmp/crl.txt"
go test ./internal/cli -run '^$' -bench 'BenchmarkVerify' -benchtime "$benchtime" -count 1 >"$tmp/verify.txt"
awk '
/^BenchmarkProfileCRL100k/ { crl=$3; for (i=4;i<=NF;i++) if ($(i+1)=="crl-bytes") size=$i }
/^BenchmarkVerify\/revocation-off/ { off=$3 }
/^BenchmarkVerify\/warm-crl-cache/ { warm=$3 }
END {
  print "| measurement | result | reference (same run) | ratio |"
  print "|---|---|---|---|"
  printf "| CRL of a profile version with 100,000 revoked signatures (SQLite read + P-384 signed DER) | %.0f ms, %.1f MB | notation-core-go accepts CRLs up to 32 MiB | %.0f%% of that limit |\n", crl/1e6, size/1e6, 100*size/(32*1048576)
  printf "| `signet verify` library, revocation from a warm CRL cache | %.1f ms | the same with revocation off: %.1f ms | %.2f× |\n", warm/1e6, off/1e6, warm/off
}' "$tmp/crl.txt" "$tmp/verify.txt"

echo
echo '### Deploy gate'
echo
go test ./internal/server -run '^$' -bench 'Deploy10MB' -benchtime 10x -count 1 >"$tmp/deploy.txt"
awk '
/^BenchmarkDeploy10MB\/none/ { none=$3 }
/^BenchmarkDeploy10MB\/enforce/ { enf=$3 }
END {
  print "| measurement | result | reference (same run) | ratio |"
  print "|---|---|---|---|"
  printf "| UpdateFunctionCode, 10 MB signed package, Enforce config | %.0f ms | the same deploy with no config: %.0f ms | %.2f× (goal ≤ 1.2×) |\n", enf/1e6, none/1e6, enf/none
}' "$tmp/deploy.txt"

echo
echo '### Function runtime'
echo
if [ "$(id -u)" = 0 ]; then
  go run ./bench/invoke -n "$((n * 100))" -cold "$n"
  echo
  go test ./internal/server -run '^$' -bench 'InvokeAPI|Healthz' -benchtime "$benchtime" -count 1 >"$tmp/invoke.txt"
  awk '
  /^BenchmarkInvokeAPI/ { inv=$3 }
  /^BenchmarkHealthz/ { hz=$3 }
  END {
    print "| measurement | result | reference (same run) | ratio |"
    print "|---|---|---|---|"
    printf "| warm Invoke of a python no-op through the API (aws-sdk-go-v2 → HTTP → SigV4 → Lambda API → sandbox), one caller | %.3f ms | unsigned /healthz on the same server, 2 parallel callers: %.3f ms | %.1f× |\n", inv/1e6, hz/1e6, inv/hz
  }' "$tmp/invoke.txt"
else
  echo "(skipped: function sandboxes need root)"
fi

echo
echo '### Identity, access and audit'
echo
go test ./internal/policy -run '^$' -bench 'Decision' -benchtime "$benchtime" -count 1 >"$tmp/policy.txt"
go test ./internal/store -run '^$' -bench 'AuditAppend' -benchtime "$benchtime" -count 1 >"$tmp/auditappend.txt"
go test ./internal/server -run '^$' -bench 'AuthzAudit' -benchtime "$benchtime" -count 1 >"$tmp/authz.txt"
awk '
/^BenchmarkDecision/ { dec=$3 }
/^BenchmarkAuditAppend\/writer/ { w=$3 }
/^BenchmarkAuditAppend\/one-transaction/ { one=$3 }
/^BenchmarkAuthzAudit\/on\/GetSigningProfile/ { gon=$3 }
/^BenchmarkAuthzAudit\/off\/GetSigningProfile/ { goff=$3 }
/^BenchmarkAuthzAudit\/on\/PutSigningProfile/ { pon=$3 }
/^BenchmarkAuthzAudit\/off\/PutSigningProfile/ { poff=$3 }
END {
  print "| measurement | result | reference (same run) | ratio |"
  print "|---|---|---|---|"
  printf "| policy decision: 20-statement identity policy with conditions + the seed'"'"'s boundary | %.0f ns | — | %.0f decisions/s |\n", dec, 1e9/dec
  printf "| durable audit appends, batched writer, 64 concurrent callers waiting for durability | %.0f records/s | one transaction per record: %.0f records/s | %.1f× |\n", 1e9/w, 1e9/one, one/w
  printf "| GetSigningProfile, IAM user, authorization + audit on | %.0f ops/s | the same with both off: %.0f ops/s | %.2f× (goal ≥ 0.9×) |\n", 1e9/gon, 1e9/goff, goff/gon
  printf "| PutSigningProfile, IAM user, authorization + audit on | %.0f ops/s | the same with both off: %.0f ops/s | %.2f× (goal ≥ 0.9×) |\n", 1e9/pon, 1e9/poff, poff/pon
}' "$tmp/policy.txt" "$tmp/auditappend.txt" "$tmp/authz.txt"
