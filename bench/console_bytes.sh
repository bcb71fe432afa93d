#!/usr/bin/env bash
# The web console's weight: bytes transferred (gzip, as a browser asks) by the first load of
# each page — the HTML, the stylesheet and the script, nothing else is loaded — signed in as
# an admin, over 2,000 generated orders of the last 30 days. Usage: bench/console_bytes.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
cargo build -p conea -q
BIN="$CARGO_TARGET_DIR/debug/conea"
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
export CONEA_DATA_DIR="$WORK/data" CONEA_BIND=127.0.0.1:0 CONEA_LOG=warn
"$BIN" serve >"$WORK/serve.out" 2>"$WORK/serve.err" &
PIDS+=($!)
for _ in $(seq 1 100); do BASE=$(grep -oE 'listening on http://[0-9.:]+' "$WORK/serve.out" | sed 's/listening on //' || true); [ -n "$BASE" ] && break; sleep 0.1; done
KEY=$(grep -oE 'conea_[A-Za-z0-9]{32,}' "$WORK/serve.out" | head -n1)
echo "bench-password-1" | "$BIN" users create --org default --email admin@example.com --role admin >/dev/null 2>&1
python3 bench/gen_orders.py 2000 --start "$(date -u -d '29 days ago' +%F)" --days 29 --out "$WORK/orders.ndjson"
"$BIN" data import "$WORK/orders.ndjson" --kind orders --url "$BASE" --token "$KEY" >/dev/null 2>&1
JAR="$WORK/cookies"
TOKEN=$(curl -s -c "$JAR" "$BASE/console/login" | grep -oE 'name="csrf" value="[^"]+"' | head -n1 | sed 's/.*value="//;s/"//')
curl -s -b "$JAR" -c "$JAR" -o /dev/null --data-urlencode "csrf=$TOKEN" \
  --data-urlencode "email=admin@example.com" --data-urlencode "password=bench-password-1" "$BASE/console/login"
size() { curl -s -b "${2:-$JAR}" -H 'Accept-Encoding: gzip' -H 'Accept-Language: ja' -o /dev/null -w '%{size_download}' "$1"; }
first=$(curl -s -b "$JAR" "$BASE/console")
CSS=$(echo "$first" | grep -oE '/console/assets/console-[0-9a-f]+\.css' | head -n1)
JS=$(echo "$first" | grep -oE '/console/assets/console-[0-9a-f]+\.js' | head -n1)
css=$(size "$BASE$CSS"); js=$(size "$BASE$JS")
code() { curl -s -b "${2:-$JAR}" -o /dev/null -w '%{http_code}' "$1"; }
printf "%-28s %6s %8s %8s %8s %9s\n" page status html css js total
for page in /console/login /console /console/ask /console/data/orders /console/data/products /console/data/customers /console/data/import "/console/reports?report=sales_over_time" "/console/reports?report=product_performance" /console/jobs /console/incidents /console/shopify /console/operations /console/settings/keys /console/settings/members /console/settings/limits /console/time-zone; do
  if [ "$page" = /console/login ]; then html=$(size "$BASE$page" /dev/null); else html=$(size "$BASE$page"); fi
  if [ "$page" = /console/login ]; then st=$(code "$BASE$page" /dev/null); else st=$(code "$BASE$page"); fi
  printf "%-28s %6s %8s %8s %8s %9s\n" "$page" "$st" "$html" "$css" "$js" $((html + css + js))
done
