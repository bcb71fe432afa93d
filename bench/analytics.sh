#!/usr/bin/env bash
# Shop analytics benchmark on the local PostgreSQL (issue: shop analytics).
#
# Creates a scratch database, migrates it, and writes a year of orders (2025) straight into
# `orders` in batches of 1,000 rows (bench/orders_batch.sql, shared with bench/insights.sh), as
# an import does, so the triggers of migration 0009 maintain the quarter-hour sales sums as
# they would in production: 1,000,000 orders of
# 100,000 customers, 10,000 products, in JPY (80 %), USD (15 %) and EUR (5 %), 3 % cancelled,
# some discounted and refunded; then their line items (one per unit, 1-4 per order, over the
# 10,000 products and their two variants each). It prints the write time with the triggers (sales sums and
# customer sums) and, for the overhead, without them (the orders are then put back as they
# were, with the sums the triggers kept). Then it starts `conea serve` on that database and asks each report
# for the whole year over HTTP, 1 warm-up and 5 measured requests each, and prints the
# median and the slowest (end to end: authentication, SQL, JSON). Then the read API on the
# same orders: list pages (p50/p99 of 500 requests) and the CSV export of every order (rows/s
# and the server's resident memory meanwhile).
#
# Usage: bench/analytics.sh [ORDERS=1000000]
#   BENCH_PG   PostgreSQL server (default postgres://postgres@127.0.0.1:5432)
#   BENCH_BIN  a prebuilt `conea` binary instead of building the release one
#   BENCH_KEEP=1  keep the scratch database (its name is printed) to look into its plans
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
PGBASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB="bench_analytics_$$"
BIN="${BENCH_BIN:-$CARGO_TARGET_DIR/release/conea}"
PORT=${BENCH_PORT:-18089}
command -v jq >/dev/null || { echo "bench: needs jq (apt-get install -y jq)" >&2; exit 1; }

[ -n "${BENCH_BIN:-}" ] || cargo build --release -p conea >/dev/null
psql "$PGBASE/postgres" -qc "CREATE DATABASE $DB" >/dev/null
WORK=$(mktemp -d)
cleanup() {
  [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${BENCH_KEEP:-}" ]; then
    echo "bench: kept the database $DB"
  else
    psql "$PGBASE/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  fi
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
KEY=$("$BIN" keys create --org default --name bench --permission data:read | tail -1)
ORG=$(q "SELECT id FROM organizations WHERE slug = 'default'")
SHOP="shop_$(q "SELECT replace(gen_random_uuid()::text, '-', '')")"
q "INSERT INTO shops (id, organization_id, name, kind, currency, created_at) VALUES ('$SHOP', '$ORG', 'Bench', 'manual', 'JPY', 0)"

write() {
  local t0 t1
  t0=$(date +%s.%N)
  { echo "\\set shop $SHOP"; echo "\\set org $ORG"
    for lo in $(seq 1 1000 "$N"); do echo "\\set lo $lo"; echo "\\i bench/orders_batch.sql"; done
  } | psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 >/dev/null
  t1=$(date +%s.%N)
  echo "$t0 $t1"
}
echo "== writing $N orders in batches of 1,000"
read -r t0 t1 < <(write)
echo "with the sales triggers: $(echo "$t1 - $t0" | bc -l | xargs printf '%.1f') s ($(echo "$N / ($t1 - $t0)" | bc -l | xargs printf '%.0f') orders/s)"
q "INSERT INTO customers (shop_id, source_id, organization_id, email, source_updated_at, imported_at)
   SELECT '$SHOP', g, '$ORG', 'c' || g || '@example.com', 0, 0 FROM generate_series(1, 100000) g"
q "INSERT INTO products (shop_id, source_id, organization_id, title, source_updated_at, imported_at)
   SELECT '$SHOP', g, '$ORG', 'Product ' || g, 0, 0 FROM generate_series(1, 10000) g"
q "VACUUM ANALYZE"
q "SELECT 'orders: ' || count(*) || '; sums rows: ' || (SELECT count(*) FROM order_sales_15m) || ' quarter-hour, ' || (SELECT count(*) FROM order_sales_1h) || ' hourly, ' || (SELECT count(*) FROM customer_sales) || ' customer, ' || (SELECT count(*) FROM customer_months) || ' customer-month' FROM orders"

# The write overhead: the same orders again without the triggers, into an emptied table.
q "ALTER TABLE orders DISABLE TRIGGER orders_sales_insert"
q "ALTER TABLE orders DISABLE TRIGGER orders_customers_insert"
q "CREATE TABLE orders_saved AS SELECT * FROM orders"
q "TRUNCATE orders"
read -r u0 u1 < <(write)
echo "without them:          $(echo "$u1 - $u0" | bc -l | xargs printf '%.1f') s"
q "TRUNCATE orders"
q "INSERT INTO orders SELECT * FROM orders_saved"
q "DROP TABLE orders_saved"
q "ALTER TABLE orders ENABLE TRIGGER orders_sales_insert"
q "ALTER TABLE orders ENABLE TRIGGER orders_customers_insert"
# Line items for product_performance: one per unit (1-4 per order) over the 10,000 products,
# two variants each, summing to the order's gross; written as an import writes them.
t0=$(date +%s.%N)
q "INSERT INTO product_variants (shop_id, source_id, organization_id, product_source_id, title, price_e4, inventory_quantity, source_updated_at, imported_at)
   SELECT '$SHOP', p * 10 + v, '$ORG', p, CASE v WHEN 0 THEN 'Small' ELSE 'Large' END, 10000000, 100, 0, 0
   FROM generate_series(1, 10000) p, generate_series(0, 1) v"
q "INSERT INTO order_line_items (shop_id, source_id, organization_id, order_source_id, product_source_id, variant_source_id, title, quantity, price_e4, source_updated_at, imported_at)
   SELECT o.shop_id, o.source_id * 4 + k, o.organization_id, o.source_id, 1 + (o.source_id * 7 + k * 131) % 10000,
          (1 + (o.source_id * 7 + k * 131) % 10000) * 10 + o.source_id % 2, 'Product', 1, o.gross_e4 / o.units, o.source_updated_at, 0
   FROM orders o, generate_series(0, 3) k WHERE k < o.units"
t1=$(date +%s.%N)
echo "line items: $(q "SELECT count(*) FROM order_line_items") in $(echo "$t1 - $t0" | bc -l | xargs printf '%.1f') s"
q "VACUUM ANALYZE"

CONEA_BIND="127.0.0.1:$PORT" RATE_LIMIT_PER_MINUTE=1000000 "$BIN" serve >"$WORK/serve.out" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/livez" >/dev/null && break; sleep 0.1; done

measure() {
  local name=$1 query=$2 times=()
  curl -sf -o /dev/null -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/v1/analytics/$name?$query"
  for _ in 1 2 3 4 5; do
    times+=("$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $KEY" \
      "http://127.0.0.1:$PORT/v1/analytics/$name?$query")")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v n="$name ($query)" \
    '{t[NR]=$1*1000} END {printf "%-90s median %6.1f ms  max %6.1f ms\n", n, t[3], t[5]}'
}
echo "== reports over the year, median of 5 warm requests"
measure sales_over_time "from=2025-01-01&to=2025-12-31&timezone=Asia/Tokyo&granularity=day"
measure sales_over_time "from=2025-01-01&to=2025-12-31&timezone=America/New_York&granularity=week&compare=previous_period"
measure refunds_cancellations "from=2025-01-01&to=2025-12-31&timezone=Asia/Tokyo&granularity=month"
measure sales_by_hour_weekday "from=2025-01-01&to=2025-12-31&timezone=Asia/Tokyo"
measure sales_over_time "from=2025-01-01&to=2025-12-31&timezone=Asia/Kolkata&granularity=day"
measure repeat_purchase "from=2025-01-01&to=2025-12-31"
measure rfm_segments "to=2025-12-31"
measure customer_cohorts "from=2025-01-01&to=2025-12-31"
measure product_performance "from=2025-01-01&to=2025-12-31&timezone=Asia/Tokyo"
measure product_performance "from=2025-01-01&to=2025-12-31&timezone=Asia/Tokyo&sort=refund_rate&compare=previous_period"
measure inventory "to=2025-12-31"
echo "== the read API on the same orders"
list_p99() {
  "$BIN" bench endpoint "http://127.0.0.1:$PORT/v1/shop/orders?$1" -H "Authorization: Bearer $KEY" -n 500 --json \
    | jq -r --arg q "$1" '"GET /v1/shop/orders?\($q): p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms, statuses \(.status_codes)"'
}
list_p99 "limit=50"
list_p99 "limit=50&financial_status=paid&sort=-total_price"
list_p99 "limit=50&customer_id=4242"
list_p99 "limit=250&created_from=2025-06-01&created_to=2025-06-30"
# The CSV export of every order, with the server's resident memory sampled meanwhile.
rss_max=0
curl -sf -o /dev/null -w '%{time_total} %{size_download}\n' -H "Authorization: Bearer $KEY" \
  "http://127.0.0.1:$PORT/v1/shop/orders?format=csv" >"$WORK/export.out" &
CPID=$!
while kill -0 "$CPID" 2>/dev/null; do
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$SPID/status")
  [ "${rss:-0}" -gt "$rss_max" ] && rss_max=$rss
  sleep 0.1
done
read -r secs bytes <"$WORK/export.out"
echo "CSV export of $N orders: $(echo "$secs" | xargs printf '%.1f') s, $(echo "$N / $secs" | bc -l | xargs printf '%.0f') rows/s, $((bytes / 1048576)) MiB; server RSS at most $((rss_max / 1024)) MiB while exporting"

echo "== for comparison: the same daily sales as a plain GROUP BY over orders (psql, warm)"
q "SELECT 1 FROM orders LIMIT 1" >/dev/null
psql "$DATABASE_URL" -qtA <<SQL | grep -i 'execution time'
EXPLAIN (ANALYZE, TIMING OFF) SELECT currency, (created_at + 32400000) / 86400000 AS day, count(*), sum(gross_e4), sum(discounts_e4), sum(refunded_e4), sum(units)
FROM orders WHERE organization_id = '$ORG' AND created_at >= 1735657200000 AND created_at < 1767193200000 AND cancelled_at IS NULL GROUP BY 1, 2;
SQL
