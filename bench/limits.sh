#!/usr/bin/env bash
# Rate-limiter cost benchmark (issue: rate limits that hold across replicas).
#
# For GET /v1/auth/verify and GET /v1/rate-limit: fresh servers (SQLite, temp data dir) with
# the limiter off (RATE_LIMIT_ENABLED=false), on in memory (limit 1,000,000/min, so nothing
# is refused) and, when BENCH_REDIS_URL is set, on in Redis.
#
# In-process cost: the servers of one pair run side by side on CPU 0 and are loaded at the
# same time from CPU 1 (closed loop, BENCH_CONNECTIONS each). Sharing one core, each gets
# the same CPU time from the scheduler, so the ratio of their throughputs is the ratio of
# their CPU cost per request, and whatever slows the machine during a round (other tenants
# of the VM, a frequency change) slows both alike. Loading them one after the other instead
# measured the VM: the same server gave 14,900-22,700 r/s in eight consecutive 3 s loads.
# The start order alternates between pairs (on this VM the server started second ran ~1.5 %
# faster). Prints every round's ratio and the median over all rounds.
#
# Redis: its round trip leaves a server idle, so side by side on one core it would lend its
# CPU to the others; its throughput is measured alone, alternating with the in-process
# server of the same pair (memory, redis, redis, memory in short windows), and the p50 of
# each mode with a sequential client.
#
# Targets: in-process limiter costs < 5 % of throughput; Redis adds < 0.3 ms p50 and keeps
# >= 60 % of the in-process throughput.
#
# Settings (environment):
#   BENCH_PAIRS       fresh server pairs per endpoint (default 4)
#   BENCH_ROUNDS      side-by-side loads per pair (default 3)
#   BENCH_DURATION    length of one load (default 5s)
#   BENCH_CONNECTIONS connections per server (default 16)
#   BENCH_REDIS_URL   e.g. redis://127.0.0.1:6379 to add the Redis mode
#   BENCH_PATHS       endpoints to load (default "/v1/auth/verify /v1/rate-limit")
#   CARGO_TARGET_DIR  where cargo builds (default ~/.cache/conea-target)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
PAIRS="${BENCH_PAIRS:-4}"
ROUNDS="${BENCH_ROUNDS:-3}"
DURATION="${BENCH_DURATION:-5s}"
CONNS="${BENCH_CONNECTIONS:-16}"
BIN="$CARGO_TARGET_DIR/release/conea"
command -v taskset >/dev/null || { echo "bench: needs taskset (util-linux)" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench: needs jq" >&2; exit 1; }
echo "bench: building the release binary" >&2
cargo build --release -p conea -q

WORK="$(mktemp -d -t conea-bench-limits.XXXXXX)"
declare -A PID=() BASE=() KEY=()
stop_all() {
  for m in "${!PID[@]}"; do kill "${PID[$m]}" 2>/dev/null || true; wait "${PID[$m]}" 2>/dev/null || true; done
  PID=()
}
trap 'stop_all; rm -rf "$WORK"' EXIT

MODES=(off memory)
[[ -n "${BENCH_REDIS_URL:-}" ]] && MODES+=(redis)
mode_env() {
  case "$1" in
    off) echo "RATE_LIMIT_ENABLED=false" ;;
    memory) echo "RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_BURST=1000000" ;;
    redis) echo "RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_BURST=1000000 REDIS_URL=$BENCH_REDIS_URL CONEA_REDIS_KEY_PREFIX=benchlimits$$:" ;;
  esac
}

# start MODE: a fresh server on CPU 0; fills PID, BASE, KEY.
start() {
  local dir="$WORK/$1-$RANDOM"
  mkdir -p "$dir"
  # shellcheck disable=SC2046
  env CONEA_DATA_DIR="$dir/data" CONEA_BIND=127.0.0.1:0 CONEA_LOG=warn $(mode_env "$1") \
    taskset -c 0 "$BIN" serve >"$dir/out" 2>"$dir/err" &
  PID[$1]=$!
  local base=""
  for _ in $(seq 1 100); do
    base="$(grep -oE 'listening on http://[0-9.:]+' "$dir/out" | sed 's/listening on //' || true)"
    [[ -n "$base" ]] && break
    sleep 0.2
  done
  [[ -n "$base" ]] || { echo "bench: the $1 server did not start:" >&2; cat "$dir/err" >&2; exit 1; }
  BASE[$1]="$base"
  KEY[$1]="$(grep -oE 'conea_[A-Za-z0-9]{32,}' "$dir/out" | head -n1)"
}

# load MODE PATH DURATION -> r/s of a closed-loop load from CPU 1
load() {
  taskset -c 1 "$BIN" bench load "${BASE[$1]}$2" -H "Authorization: Bearer ${KEY[$1]}" \
    -c "$CONNS" -d "$3" --json 2>/dev/null | jq -r '.requests_per_second | floor'
}

# together PATH DURATION MODE... -> "MODE=r/s ..." of loads run at the same time
together() {
  local path="$1" duration="$2"; shift 2
  local loads=()
  for m in "$@"; do load "$m" "$path" "$duration" >"$WORK/rps.$m" & loads+=($!); done
  wait "${loads[@]}"
  for m in "$@"; do printf '%s=%s ' "$m" "$(cat "$WORK/rps.$m")"; done
}

p50() {
  taskset -c 1 "$BIN" bench endpoint "${BASE[$1]}$2" -H "Authorization: Bearer ${KEY[$1]}" -n 2000 2>/dev/null \
    | grep -oE 'p50 [0-9.]+' | awk '{print $2}'
}
ratio() { echo "scale=4; $1 / $2" | bc; }
med() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

for path in ${BENCH_PATHS:-/v1/auth/verify /v1/rate-limit}; do
  costs="" shares=""
  declare -A p50s=()
  for i in $(seq 1 "$PAIRS"); do
    order=(off memory)
    (( i % 2 == 0 )) && order=(memory off)
    for m in "${order[@]}"; do start "$m"; done
    together "$path" 2s off memory >/dev/null
    for r in $(seq 1 "$ROUNDS"); do
      line="$(together "$path" "$DURATION" off memory)"
      off=$(sed -E 's/.*off=([0-9]+).*/\1/' <<<"$line"); mem=$(sed -E 's/.*memory=([0-9]+).*/\1/' <<<"$line")
      cost="$(echo "scale=2; ($off - $mem) * 100 / $off" | bc)"
      costs="$costs $cost"
      echo "$path pair $i round $r (side by side): off $off r/s, memory $mem r/s: in-process cost $cost %"
    done
    if [[ -n "${BENCH_REDIS_URL:-}" ]]; then
      start redis
      load redis "$path" 2s >/dev/null
      declare -A alone=([memory]=0 [redis]=0)
      for m in memory redis redis memory; do alone[$m]=$(( alone[$m] + $(load "$m" "$path" "$DURATION") )); done
      share="$(ratio "${alone[redis]}" "${alone[memory]}")"
      shares="$shares $share"
      echo "$path pair $i (alone): memory $(( alone[memory] / 2 )) r/s, redis $(( alone[redis] / 2 )) r/s: redis $share of memory"
      unset alone
    fi
    for m in "${MODES[@]}"; do p50s[$m]="${p50s[$m]:-} $(p50 "$m" "$path")"; done
    stop_all
  done
  echo "$path: in-process cost, median of $(( PAIRS * ROUNDS )) rounds: $(echo "$costs" | med) % (target < 5 %); median p50 off $(echo "${p50s[off]}" | med) ms, memory $(echo "${p50s[memory]}" | med) ms"
  if [[ -n "${BENCH_REDIS_URL:-}" ]]; then
    echo "$path: redis throughput, median of $PAIRS pairs: $(echo "$shares" | med) of memory (target >= 0.60); median p50 redis $(echo "${p50s[redis]}" | med) ms (added vs memory: target < 0.3 ms)"
  fi
  unset p50s
done
