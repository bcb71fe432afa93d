#!/usr/bin/env bash
# The console's Overview over a large shop (issue: web console): server time per page, p50 and
# p99, once the reports are warm, over N orders (default 1,000,000) of 2025 on the local
# PostgreSQL. Target: p99 under 20 ms.
#
# Writes the orders into a scratch database as bench/analytics.sh does (the shared
# bench/orders_batch.sql, so the triggers keep the sales sums), starts the release
# `conea serve` on it, signs in an admin and asks for the Overview of the whole year
# (`/console?from=2025-01-01&to=2025-12-31`): the first request computes the four reports
# (timed and printed on its own), then BENCH_REQUESTS more, one at a time on one keep-alive
# connection, are timed at the client (an upper bound of the server's time: the local
# connection and the client's read are in it).
#
# Usage: bench/console.sh [ORDERS=1000000]
#   BENCH_REQUESTS  measured requests (default 2000)
#   BENCH_PG        PostgreSQL server (default postgres://postgres@127.0.0.1:5432)
#   BENCH_BIN       a prebuilt `conea` binary instead of building the release one
#   BENCH_PORT      the server's port (default 18091)
# Not part of CI: run it by hand on an idle machine (release build).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
REQUESTS=${BENCH_REQUESTS:-2000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
PGBASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB="bench_console_$$"
BIN="${BENCH_BIN:-$CARGO_TARGET_DIR/release/conea}"
PORT=${BENCH_PORT:-18091}
command -v python3 >/dev/null || { echo "bench: needs python3" >&2; exit 1; }

[ -n "${BENCH_BIN:-}" ] || cargo build --release -p conea >/dev/null
psql "$PGBASE/postgres" -qc "CREATE DATABASE $DB" >/dev/null
WORK=$(mktemp -d)
cleanup() {
  [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null || true
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
echo "bench-password-1" | "$BIN" users create --org default --email admin@example.com --role admin >/dev/null 2>&1
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

CONEA_BIND="127.0.0.1:$PORT" RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_BURST=1000000 \
  CONEA_WORKER_CONCURRENCY=0 "$BIN" serve >"$WORK/serve.out" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/livez" >/dev/null && break; sleep 0.1; done

echo "== the Overview of 2025: the first request, then $REQUESTS warm ones"
BASE="http://127.0.0.1:$PORT" REQUESTS="$REQUESTS" python3 - <<'PY'
import http.client, os, re, time, urllib.parse

base = urllib.parse.urlsplit(os.environ["BASE"])
requests = int(os.environ["REQUESTS"])
conn = http.client.HTTPConnection(base.hostname, base.port, timeout=120)
cookies = {}

def call(method, path, body=None, headers=None):
    h = dict(headers or {})
    if cookies:
        h["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    conn.request(method, path, body, h)
    r = conn.getresponse()
    data = r.read()
    for k, v in r.getheaders():
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            cookies[name] = rest.split(";", 1)[0]
    return r.status, data

status, page = call("GET", "/console/login")
token = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
form = urllib.parse.urlencode({"csrf": token, "email": "admin@example.com", "password": "bench-password-1"})
status, _ = call("POST", "/console/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
if status != 303:
    raise SystemExit(f"bench: sign-in answered {status}")
path = "/console?from=2025-01-01&to=2025-12-31"
started = time.perf_counter()
status, page = call("GET", path)
cold = (time.perf_counter() - started) * 1000
if status != 200 or b"<table" not in page:
    raise SystemExit(f"bench: the Overview answered {status}: {page[:300]!r}")
times = []
for _ in range(requests):
    started = time.perf_counter()
    status, page = call("GET", path)
    times.append((time.perf_counter() - started) * 1000)
    if status != 200:
        raise SystemExit(f"bench: the Overview answered {status}")
times.sort()
pct = lambda q: times[min(len(times) - 1, int(round(q / 100 * (len(times) - 1))))]
print(f"first (cold, the four reports computed): {cold:.1f} ms, page {len(page)} bytes")
print(f"warm: p50 {pct(50):.2f} ms   p99 {pct(99):.2f} ms   max {times[-1]:.2f} ms   ({requests} requests)")
print(f"target: p99 under 20 ms -> {'met' if pct(99) < 20 else 'NOT met'}")
PY
