#!/usr/bin/env bash
# Ask your shop (issue 18): Conea's own time per question, provider time excluded, for three
# tool calls over 1,000,000 orders on the local PostgreSQL. Target: p50 under 50 ms beyond the
# reports' own time.
#
# Writes a year of orders (2025) into a scratch database as bench/analytics.sh does (the shared
# bench/orders_batch.sql, so the triggers keep the sales sums), starts a scripted model
# (`conea bench upstream --tools A,B,C --latency 0ms`: offered tools it calls A, then B, then
# C, one call per turn, then answers at once from A's result) and `conea serve` with that model
# as the insights model, and asks `POST /v1/insights/ask` over the whole year, one question at
# a time (BENCH_WARMUP unmeasured first). For each question:
#
#   own = wall time at the client − Σ attempts[].latency_ms − Σ tool_calls[].latency_ms
#
# `attempts[]` are the answer's provider calls (4 turns: three tool calls and the answer) as
# the AI router timed them; `tool_calls[]` are the reports run as tools, timed around each
# execution. What is left is Conea's own work on the question: authentication, the checks,
# each turn's transcript and request, the replies' parsing, the tool arguments' checks, the
# results' summaries, grounding, the answer's JSON (and the local client's send and parse).
# Both subtracted figures are whole milliseconds, truncated: each of the 7 may be up to 1 ms
# short, so `own` is an upper bound (at most 7 ms high). It prints p50/p99 of `own`, and of
# the wall time, the provider time and the tools' time for scale.
#
# Usage: bench/insights.sh [ORDERS=1000000]
#   BENCH_QUESTIONS  measured questions (default 200)
#   BENCH_WARMUP     unmeasured questions first (default 10)
#   BENCH_TOOLS      the three tools (default sales_over_time,refunds_cancellations,sales_by_hour_weekday)
#   BENCH_PG         PostgreSQL server (default postgres://postgres@127.0.0.1:5432)
#   BENCH_BIN        a prebuilt `conea` binary instead of building the release one
#   BENCH_UPSTREAM_BIN  the `conea` that runs the scripted model (default BENCH_BIN; its time
#                    is provider time, subtracted)
#   BENCH_PORT       the server's port (default 18090)
# Not part of CI: run it by hand on an idle machine (release build).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
QUESTIONS=${BENCH_QUESTIONS:-200}
WARMUP=${BENCH_WARMUP:-10}
TOOLS=${BENCH_TOOLS:-sales_over_time,refunds_cancellations,sales_by_hour_weekday}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
PGBASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB="bench_insights_$$"
BIN="${BENCH_BIN:-$CARGO_TARGET_DIR/release/conea}"
PORT=${BENCH_PORT:-18090}
command -v python3 >/dev/null || { echo "bench: needs python3" >&2; exit 1; }

[ -n "${BENCH_BIN:-}" ] || cargo build --release -p conea >/dev/null
psql "$PGBASE/postgres" -qc "CREATE DATABASE $DB" >/dev/null
WORK=$(mktemp -d)
cleanup() {
  [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null || true
  [ -n "${UPID:-}" ] && kill "$UPID" 2>/dev/null || true
  wait 2>/dev/null || true
  psql "$PGBASE/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

export DATABASE_URL="$PGBASE/$DB"
export JWT_SECRET=bench-jwt-secret-0123456789abcdef0123456789
export CONEA_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789
export CONEA_DATA_DIR="$WORK" CONEA_LOG=warn
q() { psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qtAc "$1"; }

"$BIN" migrate >/dev/null
"$BIN" orgs create default >/dev/null 2>&1
KEY=$("$BIN" keys create --org default --name bench --permission data:read --permission ai:use | tail -1)
ORG=$(q "SELECT id FROM organizations WHERE slug = 'default'")
SHOP="shop_$(q "SELECT replace(gen_random_uuid()::text, '-', '')")"
q "INSERT INTO shops (id, organization_id, name, kind, currency, created_at) VALUES ('$SHOP', '$ORG', 'Bench', 'manual', 'JPY', 0)"

echo "== writing $N orders in batches of 1,000"
t0=$(date +%s)
{ echo "\\set shop $SHOP"; echo "\\set org $ORG"
  for lo in $(seq 1 1000 "$N"); do echo "\\set lo $lo"; echo "\\i bench/orders_batch.sql"; done
} | psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 >/dev/null
q "VACUUM ANALYZE"
echo "orders: $(q "SELECT count(*) FROM orders") ($(($(date +%s) - t0)) s)"

"${BENCH_UPSTREAM_BIN:-$BIN}" bench upstream --bind 127.0.0.1:0 --latency 0ms --tools "$TOOLS" >"$WORK/up.out" 2>&1 &
UPID=$!
UP=""
for _ in $(seq 1 100); do UP=$(grep -oE 'http://[0-9.:]+' "$WORK/up.out" || true); [ -n "$UP" ] && break; sleep 0.1; done
[ -n "$UP" ] || { echo "bench: the scripted model did not start" >&2; cat "$WORK/up.out" >&2; exit 1; }

CONEA_BIND="127.0.0.1:$PORT" RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_BURST=1000000 \
  OPENAI_API_KEY=sk-bench OPENAI_BASE_URL="$UP/v1" CONEA_AI_MAX_RETRIES=0 \
  CONEA_INSIGHTS_MODEL=openai/gpt-4o-mini CONEA_WORKER_CONCURRENCY=0 \
  "$BIN" serve >"$WORK/serve.out" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/livez" >/dev/null && break; sleep 0.1; done

echo "== $QUESTIONS questions (after $WARMUP warm-up), tools: $TOOLS"
URL="http://127.0.0.1:$PORT/v1/insights/ask" KEY="$KEY" QUESTIONS="$QUESTIONS" WARMUP="$WARMUP" \
  TOOLS="$TOOLS" python3 - <<'PY'
import http.client, json, os, time, urllib.parse

url = urllib.parse.urlsplit(os.environ["URL"])
key, tools = os.environ["KEY"], os.environ["TOOLS"].split(",")
questions, warmup = int(os.environ["QUESTIONS"]), int(os.environ["WARMUP"])
body = json.dumps({"question": "How did 2025 go?", "from": "2025-01-01", "to": "2025-12-31"})
headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
conn = http.client.HTTPConnection(url.hostname, url.port)
own, wall, provider, reports = [], [], [], []
for i in range(warmup + questions):
    started = time.perf_counter()
    conn.request("POST", url.path, body, headers)
    resp = conn.getresponse()
    data = resp.read()
    elapsed = (time.perf_counter() - started) * 1000
    answer = json.loads(data)
    if resp.status != 200:
        raise SystemExit(f"bench: {resp.status} {data[:500]!r}")
    called = [c["name"] for c in answer["tool_calls"]]
    if called != tools or any(c.get("error") for c in answer["tool_calls"]):
        raise SystemExit(f"bench: the model called {answer['tool_calls']}, not {tools}")
    p = sum(a.get("latency_ms", 0) for a in answer["attempts"])
    t = sum(c["latency_ms"] for c in answer["tool_calls"])
    if i >= warmup:
        wall.append(elapsed); provider.append(p); reports.append(t); own.append(elapsed - p - t)

def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]

print(f"last answer: {answer['answer']}  (provider calls: {len(answer['attempts'])}, "
      f"ungrounded: {answer['grounding']['ungrounded']})")
for name, xs in [("own (wall - provider - tools)", own), ("wall at the client", wall),
                 ("provider (attempts[].latency_ms)", provider), ("tools (tool_calls[].latency_ms)", reports)]:
    print(f"{name:34} p50 {pct(xs, 50):8.2f} ms   p99 {pct(xs, 99):8.2f} ms   max {max(xs):8.2f} ms")
print(f"target: own p50 under 50 ms -> {'met' if pct(own, 50) < 50 else 'NOT met'}")
PY
