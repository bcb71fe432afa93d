#!/usr/bin/env bash
# Soak: ten minutes (BENCH_SOAK=10m) of mixed load against one release server on SQLite —
# authenticated reads, rate-limit checks, AI completions through a mock upstream, job
# submissions — sampling the server's RSS every 30 s (anonymous and file-backed), the pool size, the
# runtime's alive tasks and the WAL size. Prints the samples, the growth after warm-up (first
# sample after 1 minute → last), which should stay under 10 %, and over the second half.
# BENCH_DATABASE_URL=postgres://…/db runs the server on a scratch database created on that
# PostgreSQL server (dropped at the end) instead of SQLite; the WAL column is then empty.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
SOAK="${BENCH_SOAK:-10m}"
BIN="$CARGO_TARGET_DIR/release/conea"
cargo build --release -p conea -q
WORK=$(mktemp -d)
PIDS=()
DB_ENV=()
PG_DB=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
  [ -n "$PG_DB" ] && { psql "$BENCH_DATABASE_URL" -qAtc "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT
if [ -n "${BENCH_DATABASE_URL:-}" ]; then
  command -v psql >/dev/null || { echo "soak: BENCH_DATABASE_URL needs psql" >&2; exit 1; }
  PG_DB="conea_soak_$$"
  psql "$BENCH_DATABASE_URL" -qAtc "CREATE DATABASE \"$PG_DB\"" >/dev/null
  # PostgreSQL is the replicated setup: Conea requires the shared secrets to be set.
  DB_ENV=("DATABASE_URL=${BENCH_DATABASE_URL%/*}/$PG_DB"
    "JWT_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
    "CONEA_SECRET_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')")
fi
"$BIN" bench upstream --bind 127.0.0.1:0 --latency 20ms >"$WORK/up.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do UP=$(grep -oE 'http://[0-9.:]+' "$WORK/up.out" || true); [ -n "$UP" ] && break; sleep 0.1; done
# BENCH_ENV adds settings to the server, e.g. BENCH_ENV="CONEA_DB_MAX_CONNECTIONS=4".
# shellcheck disable=SC2086
env CONEA_DATA_DIR="$WORK/data" CONEA_BIND=127.0.0.1:0 CONEA_LOG=warn RATE_LIMIT_PER_MINUTE=1000000 \
  RATE_LIMIT_BURST=1000000 OPENAI_API_KEY=sk-bench OPENAI_BASE_URL="$UP/v1" "${DB_ENV[@]}" ${BENCH_ENV:-} "$BIN" serve >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE=$!
PIDS+=($SERVE)
for _ in $(seq 1 100); do BASE=$(grep -oE 'listening on http://[0-9.:]+' "$WORK/serve.out" | sed 's/listening on //' || true); [ -n "$BASE" ] && break; sleep 0.1; done
[ -n "$BASE" ] || { echo "soak: the server did not start:" >&2; cat "$WORK/serve.err" >&2; exit 1; }
KEY=$(grep -oE 'conea_[A-Za-z0-9]{32,}' "$WORK/serve.out" | head -n1)
AUTH="Authorization: Bearer $KEY"
# Four concurrent open-loop loads for the whole soak.
"$BIN" bench load "$BASE/v1/auth/verify" -H "$AUTH" -c 8 -d "$SOAK" --rate 300 --json >"$WORK/verify.json" 2>/dev/null &
PIDS+=($!)
"$BIN" bench load "$BASE/v1/rate-limit" -H "$AUTH" -c 4 -d "$SOAK" --rate 100 --json >"$WORK/limit.json" 2>/dev/null &
PIDS+=($!)
"$BIN" bench load "$BASE/v1/chat/completions" --method POST -H "$AUTH" -H 'content-type: application/json' \
  --body '{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}' -c 16 -d "$SOAK" --rate 200 --json >"$WORK/ai.json" 2>/dev/null &
PIDS+=($!)
"$BIN" bench load "$BASE/v1/data/process" --method POST -H "$AUTH" -H 'content-type: application/json' \
  --body '{"operation":"orders_summary"}' -c 2 -d "$SOAK" --rate 20 --json >"$WORK/jobs.json" 2>/dev/null &
PIDS+=($!)
secs=$(( $(echo "$SOAK" | sed 's/m$/*60/; s/s$//' | bc) ))
echo "t_s rss_mib pool_connections tasks anon_mib file_mib shmem_mib wal_mib"
samples=()
for t in $(seq 0 30 "$secs"); do
  rss=$(awk '/VmRSS/{printf "%.1f", $2/1024}' /proc/$SERVE/status)
  metrics=$(curl -s "$BASE/metrics")
  pool=$(echo "$metrics" | awk '/^conea_db_pool_connections /{print $2}')
  tasks=$(echo "$metrics" | awk '/^conea_runtime_alive_tasks /{print $2}')
  parts=$(awk '/RssAnon|RssFile|RssShmem/{printf "%.1f ", $2/1024}' /proc/$SERVE/status)
  wal=$(stat -c %s "$WORK/data/conea.db-wal" 2>/dev/null | awk '{printf "%.1f", $1/1048576}' || true)
  echo "$t $rss $pool $tasks $parts$wal"
  samples+=("$t:$rss")
  [ "$t" -lt "$secs" ] && sleep 30
done
wait "${PIDS[@]:2}" 2>/dev/null || true
for f in verify limit ai jobs; do
  echo "$f: $(jq -r '"\(.requests) requests, \(.errors) errors, p99 \(.latency_ms.p99) ms"' "$WORK/$f.json" 2>/dev/null || echo 'no result')"
done
first=$(printf '%s\n' "${samples[@]}" | awk -F: '$1>=60{print $2; exit}')
last=$(printf '%s\n' "${samples[@]}" | tail -n1 | cut -d: -f2)
echo "RSS after warm-up ${first} MiB, at the end ${last} MiB: growth $(echo "($last - $first) * 100 / $first" | bc -l | xargs printf '%.1f') %"
half=$(printf '%s\n' "${samples[@]}" | awk -F: -v h=$((secs / 2)) '$1>=h{print $2; exit}')
echo "second half: ${half} MiB → ${last} MiB: growth $(echo "($last - $half) * 100 / $half" | bc -l | xargs printf '%.1f') %"
