#!/usr/bin/env bash
# Job engine benchmark on the local PostgreSQL (issue: durable background jobs).
#  1. throughput: enqueue N no-op jobs in batches, drain them with ONE `conea worker`
#     process; jobs/s end to end = N / (last finished_at - first started_at).
#  2. pickup latency: on an idle queue, enqueue single jobs one at a time; latency =
#     started_at - created_at; p50 and p99.
# Usage: bench/jobs.sh [N=100000] [CONCURRENCY=64]
# BENCH_BIN=path measures a prebuilt `conea` binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
CONC=${2:-64}
PICKUPS=${PICKUPS:-300}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
PGBASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB="bench_jobs_$$"
BIN="${BENCH_BIN:-$CARGO_TARGET_DIR/release/conea}"

[ -n "${BENCH_BIN:-}" ] || cargo build --release -p conea >/dev/null
psql "$PGBASE/postgres" -qc "CREATE DATABASE $DB" >/dev/null
WORK=$(mktemp -d)
cleanup() {
  [ -n "${WPID:-}" ] && kill "$WPID" 2>/dev/null || true
  wait 2>/dev/null || true
  psql "$PGBASE/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

export DATABASE_URL="$PGBASE/$DB"
export JWT_SECRET=bench-jwt-secret-0123456789abcdef0123456789
export CONEA_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789
export CONEA_DATA_DIR="$WORK" CONEA_LOG=warn CONEA_JOB_POLL=500ms
q() { psql "$DATABASE_URL" -qtAc "$1"; }

"$BIN" migrate >/dev/null
"$BIN" orgs create default >/dev/null 2>&1

echo "== throughput: $N no-op jobs, one worker process, concurrency $CONC"
t0=$(date +%s.%N)
"$BIN" jobs enqueue noop --count "$N" >/dev/null
t1=$(date +%s.%N)
echo "enqueue: $(echo "$N / ($t1 - $t0)" | bc -l | xargs printf '%.0f') jobs/s (batched inserts, CLI process included)"
"$BIN" worker --concurrency "$CONC" >/dev/null 2>"$WORK/worker.err" &
WPID=$!
while [ "$(q "SELECT count(*) FROM job_runs")" -lt "$N" ]; do sleep 0.5; done
kill "$WPID"; wait "$WPID" 2>/dev/null || true; WPID=
q "SELECT 'drain: ' || round($N / ((max(finished_at) - min(started_at)) / 1000.0)) || ' jobs/s end to end (first claim to last completion, ' || (max(finished_at) - min(started_at)) || ' ms)' FROM jobs"
q "SELECT 'ledger rows: ' || count(*) FROM job_runs"

echo "== pickup latency on an idle queue ($PICKUPS single jobs)"
q "TRUNCATE jobs, job_runs"
"$BIN" worker --concurrency 4 >/dev/null 2>>"$WORK/worker.err" &
WPID=$!
sleep 1
ORG=$(q "SELECT id FROM organizations WHERE slug = 'default'")
for i in $(seq 1 "$PICKUPS"); do
  # One INSERT + NOTIFY per job, as the API's enqueue does, from a client that stays connected.
  echo "INSERT INTO jobs (id, kind, organization_id, args, state, max_attempts, scheduled_at, created_at)
        VALUES ('job_' || replace(gen_random_uuid()::text, '-', ''), 'noop', '$ORG', '{}', 'available', 5,
                (extract(epoch from clock_timestamp()) * 1000)::bigint, (extract(epoch from clock_timestamp()) * 1000)::bigint);
        SELECT pg_notify('conea_jobs', ''); SELECT pg_sleep(0.02);"
done | psql "$DATABASE_URL" -q >/dev/null
while [ "$(q "SELECT count(*) FROM jobs WHERE state = 'completed'")" -lt "$PICKUPS" ]; do sleep 0.2; done
q "SELECT 'pickup p50 ' || percentile_cont(0.5) WITHIN GROUP (ORDER BY started_at - created_at) || ' ms, p99 ' || percentile_cont(0.99) WITHIN GROUP (ORDER BY started_at - created_at) || ' ms, max ' || max(started_at - created_at) || ' ms' FROM jobs"
