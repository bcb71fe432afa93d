#!/usr/bin/env bash
# Shopify webhook receiver benchmark (issue 6) on PostgreSQL.
#
# Builds the release binary, creates a scratch PostgreSQL database, starts `conea serve` on
# it (worker off, so the measured path is the receiver: verify the HMAC, store the delivery
# and its job in one transaction, answer 200), connects a shop, then posts one signed
# `products/update` delivery with a unique X-Shopify-Event-Id per request:
#   1. open loop at increasing rates (BENCH_RATES, default 500 1000 2000 3000 4000):
#      achieved deliveries/s, p50 and p99 time to 200, errors;
#   2. closed loop (-c BENCH_CONNECTIONS): the sustained maximum.
# Every 200 is a committed delivery: the script checks that the deliveries table holds as
# many rows as 200s were counted. Stops everything and drops the database on exit.
#
# Targets: >= 2,000 deliveries/s sustained; p99 < 50 ms at 500/s.
#
# The sync's pace against Shopify's leak rate is measured in Shopify time (the fake's clock,
# exact and machine-independent) by the test
#   cargo test -p conea-server --test api shopify::syncing_10000 -- --nocapture
# (10,000 products: 33.0 s for 102 requests vs the 31.0 s minimum the bucket allows, +6.5%).
#
# Settings (environment): BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
# BENCH_DURATION (default 10s), BENCH_CONNECTIONS (default 64), BENCH_RATES,
# CARGO_TARGET_DIR (default ~/.cache/conea-target).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
PG_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
DURATION="${BENCH_DURATION:-10s}"
CONNS="${BENCH_CONNECTIONS:-64}"
RATES="${BENCH_RATES:-500 1000 2000 3000 4000}"
BIN="$CARGO_TARGET_DIR/release/conea"
DOMAIN=bench-shop.myshopify.com
SECRET=shpss_bench_secret_0123456789

command -v jq >/dev/null || { echo "bench: needs jq" >&2; exit 1; }
command -v psql >/dev/null || { echo "bench: needs psql" >&2; exit 1; }

WORK="$(mktemp -d -t conea-bench-webhooks.XXXXXX)"
SERVER_PID=""
PG_DB=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ -n "$PG_DB" ]]; then
    psql "$PG_URL" -qAtc "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench: building the release binary" >&2
cargo build --release -p conea -q

PG_DB="conea_bench_webhooks_$$"
psql "$PG_URL" -qAtc "CREATE DATABASE \"$PG_DB\"" >/dev/null
DB_URL="${PG_URL%/*}/$PG_DB"
q() { psql "$DB_URL" -qAtc "$1"; }

env CONEA_DATA_DIR="$WORK/data" CONEA_BIND=127.0.0.1:0 CONEA_LOG=warn CONEA_SHUTDOWN_GRACE=2s \
  DATABASE_URL="$DB_URL" JWT_SECRET=bench-jwt-secret-0123456789abcdef0123456789 \
  CONEA_SECRET_KEY=bench-secret-key-0123456789abcdef0123456789 CONEA_WORKER_CONCURRENCY=0 \
  CONEA_DB_MAX_CONNECTIONS="${BENCH_DB_CONNECTIONS:-32}" \
  SHOPIFY_WEBHOOKS_PER_IP_PER_MINUTE=1000000 \
  "$BIN" serve >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!
BASE=""
for _ in $(seq 1 150); do
  BASE="$(grep -oE 'listening on http://[0-9.:]+' "$WORK/serve.out" | sed 's/listening on //' || true)"
  [[ -n "$BASE" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.2
done
[[ -n "$BASE" ]] || { echo "bench: the server did not start" >&2; cat "$WORK/serve.err" >&2; exit 1; }
KEY="$(grep -oE 'conea_[A-Za-z0-9]{32,}' "$WORK/serve.out" | head -n1)"

code="$(curl -s -o "$WORK/shop.json" -w '%{http_code}' -X POST "$BASE/v1/integrations/shopify/shops" \
  -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
  -d "{\"shop_domain\": \"$DOMAIN\", \"access_token\": \"shpat_bench\", \"api_secret\": \"$SECRET\"}")"
[[ "$code" == 201 ]] || { echo "bench: connecting the shop answered $code" >&2; cat "$WORK/shop.json" >&2; exit 1; }

BODY='{"id":9554194432293,"title":"T-Shirt","status":"active","vendor":"My Store","product_type":"Shirts","updated_at":"2026-04-22T14:30:00-05:00","variants":[{"id":123456789,"title":"Default Title","price":"29.99","sku":"TSHIRT-001"}]}'
HMAC="$(printf '%s' "$BODY" | "$BIN" shopify sign --secret "$SECRET")"
ARGS=(-H "X-Shopify-Hmac-Sha256: $HMAC" -H "X-Shopify-Shop-Domain: $DOMAIN"
  -H "X-Shopify-Topic: products/update" -H "X-Shopify-Webhook-Id: bench"
  -H "X-Shopify-Event-Id: placeholder" --unique-header X-Shopify-Event-Id
  -H 'content-type: application/json' --method POST --body "$BODY" --json)
URL="$BASE/v1/webhooks/shopify"

# One warm-up delivery must answer 200.
"$BIN" bench endpoint "$URL" "${ARGS[@]}" -n 20 >"$WORK/warm.json"
[[ "$(jq -r .errors "$WORK/warm.json")" == 0 ]] || { echo "bench: warm-up failed" >&2; cat "$WORK/warm.json" >&2; exit 1; }

report() {
  local label="$1" out="$2"
  printf '%-22s %8.0f deliveries/s  p50 %7.2f ms  p99 %7.2f ms  errors %s\n' "$label" \
    "$(jq -r .successful_per_second "$out")" "$(jq -r .latency_ms.p50 "$out")" \
    "$(jq -r .latency_ms.p99 "$out")" "$(jq -r .errors "$out")"
}

echo "conea bench load $URL, $DURATION per step, PostgreSQL, worker off"
for rate in $RATES; do
  out="$WORK/open-$rate.json"
  "$BIN" bench load "$URL" "${ARGS[@]}" -c "$CONNS" -d "$DURATION" --rate "$rate" >"$out" 2>/dev/null
  report "open loop $rate/s" "$out"
done
out="$WORK/closed.json"
"$BIN" bench load "$URL" "${ARGS[@]}" -c "$CONNS" -d "$DURATION" >"$out" 2>/dev/null
report "closed loop -c $CONNS" "$out"

rows="$(q "SELECT count(*) FROM shopify_webhook_deliveries")"
jobs="$(q "SELECT count(*) FROM jobs WHERE kind = 'shopify.webhook'")"
# 200s counted by the load generator (answers after a step's window are not counted, so
# the table may hold more), plus the 20 of the warm-up.
oks="$(jq -s '[.[] | .status_codes["200"] // 0] | add + 20' "$WORK"/open-*.json "$WORK/closed.json")"
echo "200s received: $oks; deliveries stored: $rows; their jobs: $jobs"
[[ "$rows" == "$jobs" ]] || echo "bench: WARNING: deliveries and jobs differ" >&2
[[ "$rows" -ge "$oks" ]] || echo "bench: WARNING: fewer deliveries stored than 200s sent" >&2
