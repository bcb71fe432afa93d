#!/usr/bin/env bash
# AI gateway overhead: a mock OpenAI upstream with a fixed latency (`conea bench upstream`),
# loaded directly and through Conea (`POST /v1/chat/completions`, OpenAI-compatible) at fixed
# rates, streaming and not. Overhead = through − direct, per percentile. Also the highest
# closed-loop throughput through Conea and the server's RSS (current and peak).
# Each case runs 30 s by default: at 1,000 req/s a 10 s window has 100 requests above its p99,
# and one scheduling stall of the shared cores moved a 10 s p99 past 1 ms now and then.
# The model is `openai/gpt-4o-mini` and the bare `gpt-4o-mini` (routed by discovery: the mock
# lists its model at GET /v1/models), each against the same direct baseline.
# Usage: bench/ai.sh   (BENCH_DURATION=30s BENCH_RATES="1000 4000" BENCH_LATENCY=20ms
#                      BENCH_MODELS="openai/gpt-4o-mini gpt-4o-mini" BENCH_STREAM="false true"
#                      BENCH_ROUNDS=1: the fixed-rate cases run this many times over, each
#                      with its own direct baseline just before, and the median overhead of
#                      the rounds is printed (a burst of the shared VM's noise during one
#                      baseline or one run moved a single round's p99 by ±3 ms);
#                      BENCH_CONNECTIONS=256: connections of the fixed-rate runs (4,000 req/s
#                      over 20 ms keeps ~80 in flight); BENCH_CLOSED="64 256": of the closed-loop runs
#                      ("" for none); BENCH_SERVER_BIN: another build for the server only, the
#                      mock upstream and the load generator staying BENCH_BIN's (two servers
#                      compared with the same harness);
#                      BENCH_ENV="CONEA_X=y …": more settings for the server;
#                      BENCH_PIN=1: the server on CPU 1, the mock upstream and the load
#                      generator on CPU 0, so that on a 2-core machine the generator and the
#                      mock do not take the server's core in the middle of a request)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
DURATION="${BENCH_DURATION:-30s}"
RATES="${BENCH_RATES:-1000 4000}"
MODELS="${BENCH_MODELS:-openai/gpt-4o-mini gpt-4o-mini}"
STREAMS="${BENCH_STREAM:-false true}"
CLOSED="${BENCH_CLOSED-64 256}"
LATENCY="${BENCH_LATENCY:-20ms}"
ROUNDS="${BENCH_ROUNDS:-1}"
BIN="${BENCH_BIN:-$CARGO_TARGET_DIR/release/conea}"
SERVER_BIN="${BENCH_SERVER_BIN:-$BIN}"
PIN_SERVER=()
PIN_CLIENT=()
if [ -n "${BENCH_PIN:-}" ]; then
  command -v taskset >/dev/null || { echo "bench: BENCH_PIN needs taskset" >&2; exit 1; }
  PIN_SERVER=(taskset -c 1)
  PIN_CLIENT=(taskset -c 0)
fi
command -v jq >/dev/null || { echo "bench: needs jq" >&2; exit 1; }
[ -n "${BENCH_BIN:-}" ] || cargo build --release -p conea -q
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

"${PIN_CLIENT[@]}" "$BIN" bench upstream --bind 127.0.0.1:0 --latency "$LATENCY" >"$WORK/up.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do UP=$(grep -oE 'http://[0-9.:]+' "$WORK/up.out" || true); [ -n "$UP" ] && break; sleep 0.1; done
# shellcheck disable=SC2086
env CONEA_DATA_DIR="$WORK/data" CONEA_BIND=127.0.0.1:0 CONEA_LOG=warn CONEA_WORKER_CONCURRENCY=0 \
  RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_BURST=1000000 OPENAI_API_KEY=sk-bench OPENAI_BASE_URL="$UP/v1" \
  CONEA_AI_MAX_RETRIES=0 ${BENCH_ENV:-} "${PIN_SERVER[@]}" "$SERVER_BIN" serve >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE=$!
PIDS+=($SERVE)
for _ in $(seq 1 100); do BASE=$(grep -oE 'listening on http://[0-9.:]+' "$WORK/serve.out" | sed 's/listening on //' || true); [ -n "$BASE" ] && break; sleep 0.1; done
KEY=$(grep -oE 'conea_[A-Za-z0-9]{32,}' "$WORK/serve.out" | head -n1)
rss() { awk '/VmRSS/{r=$2} /VmHWM/{h=$2} END{printf "RSS %.1f MiB (peak %.1f MiB)", r/1024, h/1024}' /proc/$SERVE/status; }

body() { printf '{"model":"%s","messages":[{"role":"user","content":"Hi"}],"stream":%s,"stream_options":{"include_usage":true}}' "${2:-openai/gpt-4o-mini}" "$1"; }
load() { # URL STREAM RATE [AUTH] [CONNECTIONS] [MODEL]
  local args=(bench load "$1" --method POST --body "$(body "$2" "${6:-}")" -H 'content-type: application/json' -c "${5:-${BENCH_CONNECTIONS:-256}}" -d "$DURATION" --json)
  [ -n "$3" ] && args+=(--rate "$3")
  [ -n "${4:-}" ] && args+=(-H "Authorization: Bearer $4")
  "${PIN_CLIENT[@]}" "$BIN" "${args[@]}" 2>/dev/null
}
echo "server after start: $(rss)"
printf "%-10s %-20s %-6s %8s %8s %8s %8s %8s %8s %7s\n" mode model rate d_p50 d_p99 c_p50 c_p99 ovh_p50 ovh_p99 errors
ROWS="$WORK/rows"
: >"$ROWS"
for round in $(seq 1 "$ROUNDS"); do
  for stream in $STREAMS; do
    for rate in $RATES; do
      d=$(load "$UP/v1/chat/completions" "$stream" "$rate")
      for model in $MODELS; do
        c=$(load "$BASE/v1/chat/completions" "$stream" "$rate" "$KEY" "${BENCH_CONNECTIONS:-256}" "$model")
        jq -rn --argjson d "$d" --argjson c "$c" --arg m "$([ "$stream" = true ] && echo stream || echo plain)" --arg r "$rate" --arg model "$model" \
          '"\($m)\t\($model)\t\($r)\t\($d.latency_ms.p50)\t\($d.latency_ms.p99)\t\($c.latency_ms.p50)\t\($c.latency_ms.p99)\t\(($c.latency_ms.p50 - $d.latency_ms.p50)*1000|round/1000)\t\(($c.latency_ms.p99 - $d.latency_ms.p99)*1000|round/1000)\t\($c.errors + $c.unsent)"' |
          tee -a "$ROWS" |
          awk -F'\t' '{printf "%-10s %-20s %-6s %8s %8s %8s %8s %8s %8s %7s\n",$1,$2,$3,$4,$5,$6,$7,$8,$9,$10}'
      done
    done
  done
done
if [ "$ROUNDS" -gt 1 ]; then
  echo "median of $ROUNDS rounds (each round measures the direct baseline again, just before):"
  sort -t$'\t' -k1,1 -k2,2 -k3,3n "$ROWS" | awk -F'\t' '
    function median(list,   n, a, i, j, t) {
      n = split(list, a, " ")
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j > 0 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { k = $1 "\t" $2 "\t" $3; if (!(k in p50)) order[++n] = k; p50[k] = p50[k] " " $8; p99[k] = p99[k] " " $9 }
    END { for (i = 1; i <= n; i++) { split(order[i], f, "\t"); printf "%-10s %-20s %-6s ovh_p50 %s  ovh_p99 %s  (rounds:%s)\n", f[1], f[2], f[3], median(p50[order[i]]), median(p99[order[i]]), p99[order[i]] } }'
fi
echo "server after the fixed-rate runs: $(rss)"
for conns in $CLOSED; do
  for stream in false true; do
    c=$(load "$BASE/v1/chat/completions" "$stream" "" "$KEY" "$conns")
    echo "closed loop -c $conns through Conea (stream=$stream): $(echo "$c" | jq -r '"\(.requests_per_second|floor) req/s, p99 \(.latency_ms.p99) ms, \(.errors) errors"')"
  done
done
echo "server at the end: $(rss)"
