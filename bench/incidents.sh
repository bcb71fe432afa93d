#!/usr/bin/env bash
# Incident engine benchmark on the local PostgreSQL (issue 8).
#  1. escalation timing: N open critical incidents, each with pending escalation steps
#     (primary page at +10 s, secondary at +25 s, chain at +40 s, commander/war room/
#     stakeholders at +60 s); one `conea serve` carries them out. Lateness of a step =
#     the moment its job started - its due time (scheduled_at); prints max and p99.
#  2. Alertmanager ingestion: ALERTS alerts in requests of 100 (fingerprints drawn from
#     DISTINCT values, so most are repeats), POSTed by 8 concurrent clients; prints
#     alerts/s and checks dedup (incidents = DISTINCT, sum of repeat counts = ALERTS).
# The policy configures no channels (deliveries are recorded as skipped): this measures the
# engine, not third-party APIs.
# Usage: bench/incidents.sh [N=1000] [ALERTS=10000] [DISTINCT=2000]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
ALERTS=${2:-10000}
DISTINCT=${3:-2000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
PGBASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB="bench_incidents_$$"
BIN=${CONEA_BIN:-"$CARGO_TARGET_DIR/release/conea"}

[ -n "${CONEA_BIN:-}" ] || cargo build --release -p conea >/dev/null
psql "$PGBASE/postgres" -qc "CREATE DATABASE $DB" >/dev/null
WORK=$(mktemp -d)
cleanup() {
  [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null || true
  wait 2>/dev/null || true
  psql "$PGBASE/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/policy.yaml" <<'EOF'
severities:
  critical: {notify: [], escalate_if_unacknowledged_after: 10s, escalation_interval: 15s, escalate_if_unresolved_after: 60s}
contacts:
  on_call_sre: {primary: "+1-555-0100", secondary: "+1-555-0101"}
  incident_commander: {name: "IC", phone: "+1-555-0199"}
  escalation_chain: [{role: "SRE Lead", contact: "lead@example.com"}]
  stakeholders: ["cto@example.com"]
EOF

export DATABASE_URL="$PGBASE/$DB"
export JWT_SECRET=bench-jwt-secret-0123456789abcdef0123456789
export CONEA_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789
export CONEA_DATA_DIR="$WORK" CONEA_LOG=warn CONEA_JOB_POLL=500ms RATE_LIMIT_ENABLED=false
export CONEA_ESCALATION_CONFIG="$WORK/policy.yaml" CONEA_INCIDENT_DETECTORS=none
export CONEA_WORKER_CONCURRENCY=${CONCURRENCY:-32} CONEA_BIND=127.0.0.1:18093
q() { psql "$DATABASE_URL" -qtAc "$1"; }

"$BIN" serve >"$WORK/serve.out" 2>"$WORK/serve.err" &
SPID=$!
until grep -q "listening on" "$WORK/serve.out" 2>/dev/null; do sleep 0.2; done
KEY=$(grep -o 'conea_[A-Za-z0-9]*' "$WORK/serve.out" | head -1)
URL=http://127.0.0.1:18093

echo "== escalation timing: $N critical incidents, 6 pending steps each"
t0=$(date +%s.%N)
seq 1 "$N" | xargs -P 16 -I{} curl -sf -o /dev/null -H "Authorization: Bearer $KEY" \
  -H 'content-type: application/json' -d '{"title": "bench incident {}", "severity": "critical"}' "$URL/v1/incidents"
t1=$(date +%s.%N)
echo "opened $N incidents in $(echo "$t1 - $t0" | bc -l | xargs printf '%.2f') s"
STEPS=$((N * 6))
while [ "$(q "SELECT count(*) FROM jobs WHERE kind = 'incidents.step' AND state = 'completed'")" -lt "$STEPS" ]; do sleep 1; done
q "SELECT 'steps fired: ' || count(*) || ', lateness (start - due): p50 ' || percentile_cont(0.5) WITHIN GROUP (ORDER BY started_at - scheduled_at) || ' ms, p99 ' || percentile_cont(0.99) WITHIN GROUP (ORDER BY started_at - scheduled_at) || ' ms, max ' || max(started_at - scheduled_at) || ' ms' FROM jobs WHERE kind = 'incidents.step'"
q "SELECT 'steps recorded on timelines: ' || count(*) || ' (distinct (incident, step): ' || count(DISTINCT (incident_id, step)) || ')' FROM incident_timeline WHERE step IS NOT NULL"

echo "== Alertmanager ingestion: $ALERTS alerts, $DISTINCT distinct fingerprints, 100 per request, 8 clients"
python3 - "$URL" "$KEY" "$ALERTS" "$DISTINCT" <<'EOF'
import json, random, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
url, key, total, distinct = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
random.seed(8)
def body(n):
    alerts = []
    for _ in range(n):
        fp = random.randrange(distinct)
        alerts.append({"status": "firing", "labels": {"alertname": f"Bench{fp}", "severity": "warning"},
                       "annotations": {"summary": f"bench alert {fp}"}, "startsAt": "2026-06-03T00:58:45Z",
                       "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": f"fp{fp:06d}"})
    return json.dumps({"version": "4", "groupKey": "bench", "status": "firing", "receiver": "conea",
                       "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
                       "alerts": alerts}).encode()
bodies = [body(100) for _ in range(total // 100)]
def send(b):
    req = urllib.request.Request(url + "/v1/alerts/alertmanager", data=b, method="POST",
        headers={"Authorization": "Bearer " + key, "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)
t0 = time.time()
with ThreadPoolExecutor(8) as ex:
    results = list(ex.map(send, bodies))
dt = time.time() - t0
opened = sum(len(r["opened"]) for r in results)
repeated = sum(len(r["repeated"]) for r in results)
print(f"{total} alerts in {dt:.2f} s = {total / dt:.0f} alerts/s; opened {opened}, repeated {repeated}")
EOF
q "SELECT 'alertmanager incidents: ' || count(*) || ', distinct dedup keys: ' || count(DISTINCT dedup_key) || ', sum of repeat counts: ' || sum(repeat_count) FROM incidents WHERE source = 'alertmanager'"
