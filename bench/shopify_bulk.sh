#!/usr/bin/env bash
# Shopify bulk benchmarks (issue 21), in release mode:
#   1. a bulk result file of BENCH_BULK_ORDERS orders (default 1,000,000; each with its line
#      item as a `__parentId` child line, Shopify's JSONL) written once, served by the fake
#      Shopify, and imported by a shop's first sync through the bulk path: orders/s, lines/s,
#      and the test process's peak RSS (VmHWM, reset after the file was written; the
#      process holds the server, the fake and, on SQLite, the database engine).
#      Targets: >= 50,000 rows/s, RSS < 150 MB.
#   2. the Admin API requests the fake Shopify receives for a full first sync of a shop of
#      BENCH_SYNC_ORDERS orders (default 100,000), by bulk operation and by pages of 250.
#
# Settings (environment): BENCH_BACKEND (sqlite, the default, or postgres, which uses
# CONEA_TEST_DATABASE_URL), BENCH_BULK_ORDERS, BENCH_SYNC_ORDERS, BENCH_SHOW_LOG (print the
# requests by kind), CARGO_TARGET_DIR (default ~/.cache/conea-target).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
echo "load: $(uptime)"
nice -n 10 cargo test --release -p conea-server --test api shopify_bench:: -- \
    --ignored --nocapture --test-threads 1 2>&1 | grep -E '^bench:|test result|panicked'
echo "load: $(uptime)"
