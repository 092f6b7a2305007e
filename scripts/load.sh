#!/usr/bin/env bash
# Load test (not run in CI): drives examples/resource_server.rs, built in release mode, for
# DURATION seconds (default 60) with a mix of valid, expired, malformed and unknown-kid tokens,
# one `oha` load generator per kind, all at once. Reports throughput, p50/p99 latency, the
# number of wrong answers (must be 0) and the server's RSS at start and end (must stay within
# 10 %). Exits non-zero if either check fails. Needs `oha` (installed with cargo if missing) and
# python3 (to read oha's reports).
#
#   scripts/load.sh                 # 60 s
#   DURATION=10 scripts/load.sh     # a quick run
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-60}
CONNECTIONS=${CONNECTIONS:-8}
ISSUER_PORT=${ISSUER_PORT:-18401}
SERVER_PORT=${SERVER_PORT:-18402}

command -v oha >/dev/null 2>&1 || cargo install oha --locked
command -v python3 >/dev/null 2>&1 || { echo "error: python3 is needed to read oha's reports" >&2; exit 1; }

cargo build --release --features axum,test-issuer --example issuer --example resource_server
bin="${CARGO_TARGET_DIR:-target}/release/examples"

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_for() { # file pattern
  for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "error: no '$2' in $1" >&2; cat "$1" >&2; exit 1
}

"$bin/issuer" --port "$ISSUER_PORT" --tokens "$work/tokens" > "$work/issuer.out" 2>&1 &
pids+=($!)
wait_for "$work/issuer.out" "^issuer "
issuer=$(sed -n 's/^issuer //p' "$work/issuer.out")

RUST_LOG=warn "$bin/resource_server" --issuer "$issuer" \
  --audience https://api.example.test --jwks-uri "$issuer/jwks" \
  --listen "127.0.0.1:$SERVER_PORT" > "$work/server.out" 2> "$work/server.err" &
server=$!
pids+=("$server")
wait_for "$work/server.out" "listening on"
url="http://127.0.0.1:$SERVER_PORT/me"

# Warm up under the same load for 5 s (key set fetched, caches, connection buffers and the
# allocator at their working size), then take the starting RSS.
for kind in valid expired malformed unknown_kid; do
  oha -z 5s -c "$CONNECTIONS" --no-tui --output-format json \
    -H "Authorization: Bearer $(cat "$work/tokens/$kind")" "$url" > /dev/null &
done
wait_jobs() { for job in $(jobs -p); do case " ${pids[*]} " in *" $job "*) ;; *) wait "$job";; esac; done; }
wait_jobs
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
rss_start=$(rss "$server")

echo "driving $url for ${DURATION}s: valid, expired, malformed, unknown-kid tokens, $CONNECTIONS connections each"
for kind in valid expired malformed unknown_kid; do
  oha -z "${DURATION}s" -c "$CONNECTIONS" --no-tui --output-format json \
    -H "Authorization: Bearer $(cat "$work/tokens/$kind")" "$url" > "$work/$kind.json" &
done
wait_jobs
rss_end=$(rss "$server")

python3 - "$work" "$rss_start" "$rss_end" <<'PY'
import json, sys
work, rss_start, rss_end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
expected = {"valid": "200", "expired": "401", "malformed": "400", "unknown_kid": "401"}
total = wrong = 0
rps = 0.0
print(f"{'kind':<12} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'wrong':>6}")
for kind, status in expected.items():
    r = json.load(open(f"{work}/{kind}.json"))
    codes = {str(k): v for k, v in r.get("statusCodeDistribution", {}).items()}
    # Requests still in flight when the run's time is up are cut off by oha itself
    # ("aborted due to deadline"): they got no answer, right or wrong.
    errors = {k: v for k, v in r.get("errorDistribution", {}).items() if k != "aborted due to deadline"}
    n = sum(codes.values()) + sum(errors.values())
    bad = n - codes.get(status, 0)
    p = r["latencyPercentiles"]
    print(f"{kind:<12} {n:>9} {r['summary']['requestsPerSec']:>9.0f} {p['p50']*1000:>8.2f} {p['p99']*1000:>8.2f} {bad:>6}")
    total += n; wrong += bad; rps += r["summary"]["requestsPerSec"]
growth = (rss_end - rss_start) / rss_start * 100
print(f"{'all':<12} {total:>9} {rps:>9.0f} {'':>8} {'':>8} {wrong:>6}")
print(f"server RSS: {rss_start} KiB at start, {rss_end} KiB at end ({growth:+.1f} %)")
ok = wrong == 0 and abs(growth) <= 10
print("OK" if ok else "FAILED: wrong answers or RSS growth over 10 %")
sys.exit(0 if ok else 1)
PY
