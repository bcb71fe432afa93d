#!/usr/bin/env bash
# Memory over consecutive imports on SQLite: one release `conea serve` on a fresh SQLite data
# directory, then IMPORTS (default 10) imports of ORDERS (default 200,000) Shopify-shaped
# orders each through `conea data import` (the API: upload, `data.import` job, followed to its
# end). Import i is bench/gen_orders.py with `--start` one year later than import i-1, so the
# first import inserts every order and every later one updates every order (newer
# `updated_at`: the order rows rewritten, their line items deleted and inserted again — the
# heaviest write path). After each import the server's VmRSS and RssAnon
# (/proc/PID/status) are read, and VmRSS is sampled every second meanwhile; the script prints
# one line per import (with the peak during it) and the figures after the first and the last.
#
# Usage: bench/sqlite_rss.sh [ORDERS=200000] [IMPORTS=10]
#   BENCH_BIN  a prebuilt `conea` binary instead of building the release one
#   BENCH_ENV  settings for the server, e.g. BENCH_ENV="CONEA_DB_MAX_CONNECTIONS=4"
#   BENCH_SAME_FILE=1  import the same file every time (later imports then skip every order)
#   BENCH_PART_SIZE  the upload's part size (default 1GiB: one part; `conea data import`'s
#                    own default sends 64 MiB parts, each imported while the next uploads)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
IMPORTS=${2:-10}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
BIN="${BENCH_BIN:-$CARGO_TARGET_DIR/release/conea}"
command -v python3 >/dev/null || { echo "bench: needs python3" >&2; exit 1; }
[ -n "${BENCH_BIN:-}" ] || cargo build --release -p conea -q
WORK=$(mktemp -d)
SERVE=""
cleanup() {
  [ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck disable=SC2086
env CONEA_DATA_DIR="$WORK/data" CONEA_BIND=127.0.0.1:0 CONEA_LOG=warn \
  RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_BURST=1000000 \
  ${BENCH_ENV:-} "$BIN" serve >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE=$!
BASE=""
for _ in $(seq 1 100); do
  BASE=$(grep -oE 'listening on http://[0-9.:]+' "$WORK/serve.out" | sed 's/listening on //' || true)
  [ -n "$BASE" ] && break
  sleep 0.1
done
[ -n "$BASE" ] || { echo "bench: the server did not start:" >&2; cat "$WORK/serve.err" >&2; exit 1; }
KEY=$(grep -oE 'conea_[A-Za-z0-9]{32,}' "$WORK/serve.out" | head -n1)
status() { awk -v k="$1" '$1 == k":" {printf "%.1f", $2 / 1024}' "/proc/$SERVE/status"; }
echo "orders per import: $N, imports: $IMPORTS, server pid $SERVE"
# VmRSS every second, for the peak during each import.
( while kill -0 "$SERVE" 2>/dev/null; do
    awk '$1 == "VmRSS:" {print $2}' "/proc/$SERVE/status" >>"$WORK/samples" 2>/dev/null || true
    sleep 1
  done ) &
echo "import seconds vm_rss_mib rss_anon_mib peak_during_mib wal_mib db_mib"
echo "0 - $(status VmRSS) $(status RssAnon) - - -"
first=""
peak=0
for i in $(seq 1 "$IMPORTS"); do
  start="$((2014 + i))-01-01"
  [ -n "${BENCH_SAME_FILE:-}" ] && start="2015-01-01"
  python3 bench/gen_orders.py "$N" --seed "$i" --start "$start" --out "$WORK/orders.ndjson"
  t0=$(date +%s.%N)
  "$BIN" data import "$WORK/orders.ndjson" --kind orders --part-size "${BENCH_PART_SIZE:-1GiB}" --url "$BASE" --token "$KEY" --json \
    >"$WORK/import.json" || { echo "bench: import $i failed:" >&2; cat "$WORK/import.json" >&2; exit 1; }
  t1=$(date +%s.%N)
  rm -f "$WORK/orders.ndjson"
  rss=$(status VmRSS)
  anon=$(status RssAnon)
  wal=$(stat -c %s "$WORK/data/conea.db-wal" 2>/dev/null | awk '{printf "%.1f", $1 / 1048576}' || echo -)
  db=$(stat -c %s "$WORK/data/conea.db" | awk '{printf "%.1f", $1 / 1048576}')
  during=$(sort -n "$WORK/samples" | tail -n1 | awk '{printf "%.1f", $1 / 1024}')
  : >"$WORK/samples"
  echo "$i $(echo "$t1 - $t0" | bc | xargs printf '%.1f') $rss $anon $during $wal $db"
  [ -z "$first" ] && first=$rss
  peak=$(echo "if ($during > $peak) $during else $peak" | bc)
done
echo "VmRSS after import 1: $first MiB, after import $IMPORTS: $rss MiB, peak (1 s samples): $peak MiB"
