#!/usr/bin/env bash
# Latency during a Redis outage (issue 22, item 5): a server (SQLite, fail-open rate limits
# in Redis, limit high enough that nothing is refused) loaded at a fixed rate on
# GET /v1/auth/verify by `conea bench load --rate`, three times: Redis up, Redis killed
# (connections refused), Redis frozen (SIGSTOP: connections hang). Redis is a private
# redis-server on its own port, started and stopped here. Prints each load's summary.
#
# Settings (environment):
#   BENCH_RATE       requests per second (default 400)
#   BENCH_DURATION   length of each load (default 10s)
#   BENCH_REDIS_PORT the private Redis's port (default 6391)
#   BENCH_SKIP_BUILD set to use the release binary as it is
#   CARGO_TARGET_DIR where cargo builds (default ~/.cache/conea-target)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
RATE="${BENCH_RATE:-400}"
DURATION="${BENCH_DURATION:-10s}"
PORT="${BENCH_REDIS_PORT:-6391}"
BIN="$CARGO_TARGET_DIR/release/conea"
command -v redis-server >/dev/null || { echo "bench: needs redis-server" >&2; exit 1; }
echo "bench: building the release binary" >&2
[[ -n "${BENCH_SKIP_BUILD:-}" ]] || cargo build --release -p conea -q

WORK="$(mktemp -d -t conea-bench-redis.XXXXXX)"
SERVER=""
REDIS=""
start_redis() {
  redis-server --port "$PORT" --save "" --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
  REDIS=$!
  for _ in $(seq 1 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "bench: redis did not start" >&2; exit 1
}
stop_redis() {
  [[ -n "$REDIS" ]] || return 0
  kill -CONT "$REDIS" 2>/dev/null || true
  kill -9 "$REDIS" 2>/dev/null || true
  wait "$REDIS" 2>/dev/null || true
  REDIS=""
}
cleanup() {
  [[ -n "$SERVER" ]] && { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
  stop_redis
  rm -rf "$WORK"
}
trap cleanup EXIT

start_redis
env -i PATH="$PATH" HOME="$WORK" CONEA_DATA_DIR="$WORK/data" CONEA_BIND=127.0.0.1:0 \
  REDIS_URL="redis://127.0.0.1:$PORT" CONEA_RATE_LIMIT_FAILURE_MODE=open \
  RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_BURST=1000000 CONEA_LOG=warn CONEA_WORKER_CONCURRENCY=0 \
  "$BIN" serve >"$WORK/out" 2>"$WORK/err" &
SERVER=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
ADDR="$(sed -n 's/.*listening on http:\/\/\([^ ]*\).*/\1/p' "$WORK/out")"
KEY="$(grep -o 'conea_[A-Za-z0-9_]*' "$WORK/out" | head -1)"
[[ -n "$ADDR" && -n "$KEY" ]] || { echo "bench: server did not start" >&2; cat "$WORK/err" >&2; exit 1; }
load() {
  "$BIN" bench load "http://$ADDR/v1/auth/verify" -H "Authorization: Bearer $KEY" \
    --rate "$RATE" -c 16 -d "$DURATION" --timeout 10s
}
echo "== Redis up ($RATE req/s, $DURATION)"
load
echo "== Redis killed (the outage starts with the load)"
stop_redis
load
echo "== Redis back, then frozen (SIGSTOP) with the load"
start_redis
sleep 1
kill -STOP "$REDIS"
load
