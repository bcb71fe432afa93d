#!/usr/bin/env bash
# Shop analytics on the embedded default (SQLite): the same year of orders as
# bench/analytics.sh (JPY 80 %, USD 15 %, EUR 5 %, 3 % cancelled, some discounted and refunded,
# 100,000 customers; line items one per unit over 10,000 products), written into a fresh
# SQLite database in transactions of 10,000 orders so the triggers keep the sums as an import
# would, then each report over the year asked of `conea serve` over HTTP: 1 warm-up and 5
# measured requests each, median and slowest.
#
# Usage: bench/analytics_sqlite.sh [ORDERS=1000000]
#   BENCH_BIN  a prebuilt `conea` binary instead of building the release one
#   BENCH_KEEP keep the database (its directory is printed) for a look with sqlite3
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
BIN="${BENCH_BIN:-$CARGO_TARGET_DIR/release/conea}"
PORT=${BENCH_PORT:-18090}
command -v sqlite3 >/dev/null || { echo "bench: needs sqlite3 (apt-get install -y sqlite3)" >&2; exit 1; }
[ -n "${BENCH_BIN:-}" ] || cargo build --release -p conea >/dev/null
WORK=$(mktemp -d)
cleanup() {
  [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
export CONEA_DATA_DIR="$WORK" CONEA_LOG=warn
DBFILE="$WORK/conea.db"
q() { sqlite3 -batch "$DBFILE" "$1"; }

"$BIN" migrate >/dev/null
"$BIN" orgs create default >/dev/null 2>&1
KEY=$("$BIN" keys create --org default --name bench --permission data:read | tail -1)
ORG=$(q "SELECT id FROM organizations WHERE slug = 'default'")
SHOP="shop_$(q "SELECT lower(hex(randomblob(16)))")"
q "INSERT INTO shops (id, organization_id, name, kind, currency, created_at) VALUES ('$SHOP', '$ORG', 'Bench', 'manual', 'JPY', 0)"

batch() {
  local lo=$1 hi=$2
  cat <<SQL
BEGIN;
WITH RECURSIVE s(g) AS (SELECT $lo UNION ALL SELECT g + 1 FROM s WHERE g < $hi),
c AS (SELECT g,
    CASE WHEN g % 20 < 16 THEN 'JPY' WHEN g % 20 < 19 THEN 'USD' ELSE 'EUR' END AS cur,
    1735689600000 + ((g * 2654435761) % 31536000) * 1000 AS at,
    (1 + (g * 31) % 4) * (1000 + (g * 17) % 99000) * 10000 AS gross,
    CASE WHEN g % 4 = 0 THEN 5000000 ELSE 0 END AS disc,
    1 + (g * 31) % 4 AS units,
    g % 33 = 0 AS cancel FROM s)
INSERT INTO orders (shop_id, source_id, organization_id, name, email, customer_source_id, currency,
    total_price_e4, subtotal_price_e4, status, financial_status, created_at, cancelled_at,
    source_updated_at, imported_at, gross_e4, discounts_e4, refunded_e4, units)
SELECT '$SHOP', g, '$ORG', '#' || g, 'c' || (g % 100000) || '@example.com', 1 + (g * 7919) % 100000,
       cur, gross - disc, gross - disc, CASE WHEN cancel THEN 'cancelled' ELSE 'open' END, 'paid', at,
       CASE WHEN cancel THEN at + 3600000 END, at, at, gross, disc,
       CASE WHEN g % 20 = 0 THEN (gross - disc) / 2 ELSE 0 END, units
FROM c;
COMMIT;
SQL
}
echo "== writing $N orders into SQLite in transactions of 10,000"
t0=$(date +%s.%N)
for lo in $(seq 1 10000 "$N"); do
  hi=$((lo + 9999)); [ "$hi" -gt "$N" ] && hi=$N
  batch "$lo" "$hi"
done | sqlite3 -batch "$DBFILE"
t1=$(date +%s.%N)
echo "with the triggers: $(echo "$t1 - $t0" | bc -l | xargs printf '%.1f') s"
q "INSERT INTO customers (shop_id, source_id, organization_id, email, source_updated_at, imported_at)
   WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 100000)
   SELECT '$SHOP', g, '$ORG', 'c' || g || '@example.com', 0, 0 FROM s"
q "INSERT INTO products (shop_id, source_id, organization_id, title, source_updated_at, imported_at)
   WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 10000)
   SELECT '$SHOP', g, '$ORG', 'Product ' || g, 0, 0 FROM s"
q "INSERT INTO product_variants (shop_id, source_id, organization_id, product_source_id, title, price_e4, inventory_quantity, source_updated_at, imported_at)
   WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 20000)
   SELECT '$SHOP', ((g + 1) / 2) * 10 + g % 2, '$ORG', (g + 1) / 2, CASE g % 2 WHEN 0 THEN 'Small' ELSE 'Large' END, 10000000, 100, 0, 0 FROM s"
t0=$(date +%s.%N)
q "INSERT INTO order_line_items (shop_id, source_id, organization_id, order_source_id, product_source_id, variant_source_id, title, quantity, price_e4, source_updated_at, imported_at)
   WITH k(k) AS (VALUES (0), (1), (2), (3))
   SELECT o.shop_id, o.source_id * 4 + k, o.organization_id, o.source_id, 1 + (o.source_id * 7 + k * 131) % 10000,
          (1 + (o.source_id * 7 + k * 131) % 10000) * 10 + o.source_id % 2, 'Product', 1, o.gross_e4 / o.units, o.source_updated_at, 0
   FROM orders o, k WHERE k < o.units"
t1=$(date +%s.%N)
echo "line items with the triggers (one statement): $(echo "$t1 - $t0" | bc -l | xargs printf '%.1f') s"
q "ANALYZE"
echo "orders: $(q "SELECT count(*) FROM orders"); line items: $(q "SELECT count(*) FROM order_line_items"); database $(( $(stat -c %s "$DBFILE") / 1048576 )) MiB"

CONEA_BIND="127.0.0.1:$PORT" RATE_LIMIT_PER_MINUTE=1000000 "$BIN" serve >"$WORK/serve.out" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/livez" >/dev/null && break; sleep 0.1; done
# measure NAME QUERY [RUNS=5]: 1 warm-up, then RUNS timed requests; their median and slowest.
measure() {
  local name=$1 query=$2 runs=${3:-5} times=() warm
  warm=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/v1/analytics/$name?$query")
  if [ "${warm%% *}" != 200 ]; then
    printf '%-90s answered %s after %.1f s\n' "$name ($query)" "${warm%% *}" "${warm##* }"
    return 0
  fi
  for _ in $(seq 1 "$runs"); do
    times+=("$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $KEY" \
      "http://127.0.0.1:$PORT/v1/analytics/$name?$query")")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v n="$name ($query)" \
    '{t[NR]=$1*1000} END {printf "%-90s median %7.1f ms  max %7.1f ms (%d runs)\n", n, t[int((NR+1)/2)], t[NR], NR}'
}
echo "== reports over the year on SQLite, median of 5 warm requests"
measure sales_over_time "from=2025-01-01&to=2025-12-31&timezone=Asia/Tokyo&granularity=day"
measure sales_over_time "from=2025-01-01&to=2025-12-31&timezone=America/New_York&granularity=week&compare=previous_period"
measure refunds_cancellations "from=2025-01-01&to=2025-12-31&timezone=Asia/Tokyo&granularity=month"
measure sales_by_hour_weekday "from=2025-01-01&to=2025-12-31&timezone=Asia/Tokyo"
measure repeat_purchase "from=2025-01-01&to=2025-12-31"
measure rfm_segments "to=2025-12-31"
measure customer_cohorts "from=2025-01-01&to=2025-12-31"
measure product_performance "from=2025-01-01&to=2025-12-31&timezone=Asia/Tokyo"
measure inventory "to=2025-12-31"
echo "server RSS after the reports: $(( $(awk '/^VmRSS/ {print $2}' "/proc/$SPID/status") / 1024 )) MiB"
