#!/usr/bin/env bash
# Rate-limiter cost benchmark (issue: rate limits that hold across replicas).
#
# For GET /v1/auth/verify and GET /v1/rate-limit, alternates fresh servers (SQLite, temp data
# dir) with the limiter off (RATE_LIMIT_ENABLED=false) and on in memory (limit 1,000,000/min,
# so nothing is refused), and, when BENCH_REDIS_URL is set, on in Redis. Each server gets a
# 2 s warm-up, then a closed-loop load; the server runs on CPU 0 and the load generator on
# CPU 1 (taskset), so they do not preempt each other. Odd pairs run the modes in order, even
# pairs in reverse (ABBA), so a drift over the run does not count against one mode. Prints
# every pair, then per endpoint the mean r/s per mode, the in-process cost (on vs off) as the
# ratio of the means and as the median of the pairs' own ratios (robust to one disturbed
# pair), Redis as a share of in-process, and the sequential p50 of each mode (the Redis round
# trip shows there).
#
# Targets: in-process limiter costs < 5 % of throughput; Redis adds < 0.3 ms p50 and keeps
# >= 60 % of the in-process throughput.
#
# Settings (environment):
#   BENCH_PAIRS       alternations per endpoint (default 5)
#   BENCH_DURATION    closed-loop load per server (default 8s)
#   BENCH_CONNECTIONS connections (default 32)
#   BENCH_REDIS_URL   e.g. redis://127.0.0.1:6379 to add the Redis mode
#   CARGO_TARGET_DIR  where cargo builds (default ~/.cache/conea-target)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
PAIRS="${BENCH_PAIRS:-5}"
DURATION="${BENCH_DURATION:-8s}"
CONNS="${BENCH_CONNECTIONS:-32}"
BIN="$CARGO_TARGET_DIR/release/conea"
command -v taskset >/dev/null || { echo "bench: needs taskset (util-linux)" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench: needs jq" >&2; exit 1; }
echo "bench: building the release binary" >&2
cargo build --release -p conea -q

WORK="$(mktemp -d -t conea-bench-limits.XXXXXX)"
PID=""
cleanup() {
  [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

MODES=(off memory)
[[ -n "${BENCH_REDIS_URL:-}" ]] && MODES+=(redis)
mode_env() {
  case "$1" in
    off) echo "RATE_LIMIT_ENABLED=false" ;;
    memory) echo "RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_BURST=1000000" ;;
    redis) echo "RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_BURST=1000000 REDIS_URL=$BENCH_REDIS_URL CONEA_REDIS_KEY_PREFIX=benchlimits$$:" ;;
  esac
}

# run MODE PATH -> "r/s p50_ms" on a fresh server
run() {
  local dir="$WORK/$1-$RANDOM"
  mkdir -p "$dir"
  # shellcheck disable=SC2046
  env CONEA_DATA_DIR="$dir/data" CONEA_BIND=127.0.0.1:0 CONEA_LOG=warn $(mode_env "$1") \
    taskset -c 0 "$BIN" serve >"$dir/out" 2>"$dir/err" &
  PID=$!
  local base=""
  for _ in $(seq 1 100); do
    base="$(grep -oE 'listening on http://[0-9.:]+' "$dir/out" | sed 's/listening on //' || true)"
    [[ -n "$base" ]] && break
    sleep 0.2
  done
  [[ -n "$base" ]] || { echo "bench: server did not start:" >&2; cat "$dir/err" >&2; exit 1; }
  local key
  key="$(grep -oE 'conea_[A-Za-z0-9]{32,}' "$dir/out" | head -n1)"
  local auth="Authorization: Bearer $key"
  taskset -c 1 "$BIN" bench load "$base$2" -H "$auth" -c "$CONNS" -d 2s >/dev/null 2>&1
  local rps p50
  rps="$(taskset -c 1 "$BIN" bench load "$base$2" -H "$auth" -c "$CONNS" -d "$DURATION" --json 2>/dev/null | jq -r '.requests_per_second | floor')"
  p50="$(taskset -c 1 "$BIN" bench endpoint "$base$2" -H "$auth" -n 2000 2>/dev/null | grep -oE 'p50 [0-9.]+' | awk '{print $2}')"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  echo "$rps $p50"
}

for path in /v1/auth/verify /v1/rate-limit; do
  declare -A sum=() p50s=() this=()
  costs=""
  for i in $(seq 1 "$PAIRS"); do
    line="$path pair $i:"
    order=("${MODES[@]}")
    (( i % 2 == 0 )) && order=($(printf '%s\n' "${MODES[@]}" | tac))
    for m in "${order[@]}"; do
      read -r rps p50 < <(run "$m" "$path")
      sum[$m]=$(( ${sum[$m]:-0} + rps ))
      this[$m]=$rps
      p50s[$m]="${p50s[$m]:-} $p50"
      line="$line $m $rps r/s (p50 $p50 ms)"
    done
    costs="$costs $(echo "scale=2; (${this[off]} - ${this[memory]}) * 100 / ${this[off]}" | bc)"
    echo "$line"
  done
  off=$(( sum[off] / PAIRS )); mem=$(( sum[memory] / PAIRS ))
  med() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
  echo "$path: mean off $off r/s, memory $mem r/s: in-process cost $(echo "scale=1; ($off - $mem) * 100 / $off" | bc) % of the means, median of the pairs $(echo "$costs" | med) % (target < 5 %); median p50 off $(echo "${p50s[off]}" | med) ms, memory $(echo "${p50s[memory]}" | med) ms"
  if [[ -n "${sum[redis]:-}" ]]; then
    red=$(( sum[redis] / PAIRS ))
    echo "$path: redis $red r/s = $(echo "scale=2; $red / $mem" | bc) of memory (target >= 0.60); median p50 redis $(echo "${p50s[redis]}" | med) ms (added vs memory: target < 0.3 ms)"
  fi
  unset sum p50s this
done
