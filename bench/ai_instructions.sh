#!/usr/bin/env bash
# Instructions per proxied completion: the server runs under valgrind's callgrind, the
# mock upstream (`conea bench upstream`, 20 ms) and the load generator outside it. After a
# warm-up of 200 requests the counters are zeroed, a closed loop of 8 connections runs for
# BENCH_DURATION seconds, and the dump is divided by the requests answered. Instructions do
# not depend on what else the machine is doing, so two builds compare on a noisy VM where
# latencies do not; `callgrind_annotate --inclusive=yes` on the kept dump shows where they go.
# Usage: bench/ai_instructions.sh   (BENCH_BIN=path/to/conea, BENCH_DURATION=10,
#                                    BENCH_MODEL=openai/gpt-4o-mini, BENCH_OUT=dump path)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || { echo "bench: needs valgrind (callgrind)" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench: needs jq" >&2; exit 1; }
BIN="${BENCH_BIN:-$CARGO_TARGET_DIR/release/conea}"
[ -n "${BENCH_BIN:-}" ] || cargo build --release -p conea -q
DURATION="${BENCH_DURATION:-10}"
MODEL="${BENCH_MODEL:-openai/gpt-4o-mini}"
WORK=$(mktemp -d)
OUT="${BENCH_OUT:-$WORK/callgrind.out}"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [ -n "${BENCH_OUT:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT

"$BIN" bench upstream --bind 127.0.0.1:0 --latency 20ms >"$WORK/up.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do UP=$(grep -oE 'http://[0-9.:]+' "$WORK/up.out" || true); [ -n "$UP" ] && break; sleep 0.1; done
env CONEA_DATA_DIR="$WORK/data" CONEA_BIND=127.0.0.1:0 CONEA_LOG=warn CONEA_WORKER_CONCURRENCY=0 \
  RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_BURST=1000000 OPENAI_API_KEY=sk-bench OPENAI_BASE_URL="$UP/v1" \
  CONEA_AI_MAX_RETRIES=0 valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN" serve >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE=$!
PIDS+=($SERVE)
for _ in $(seq 1 600); do BASE=$(grep -oE 'listening on http://[0-9.:]+' "$WORK/serve.out" | sed 's/listening on //' || true); [ -n "$BASE" ] && break; sleep 0.2; done
[ -n "${BASE:-}" ] || { echo "bench: the server did not start under valgrind" >&2; cat "$WORK/serve.err" >&2; exit 1; }
KEY=$(grep -oE 'conea_[A-Za-z0-9]{32,}' "$WORK/serve.out" | head -n1)
BODY=$(printf '{"model":"%s","messages":[{"role":"user","content":"Hi"}],"stream":false}' "$MODEL")
req=(--method POST --body "$BODY" -H 'content-type: application/json' -H "Authorization: Bearer $KEY")
"$BIN" bench endpoint "$BASE/v1/chat/completions" "${req[@]}" -n 200 >/dev/null 2>&1
callgrind_control -z "$SERVE" >/dev/null 2>&1
"$BIN" bench load "$BASE/v1/chat/completions" "${req[@]}" -c 8 -d "${DURATION}s" --json >"$WORK/load.json" 2>/dev/null
callgrind_control -d "$SERVE" >/dev/null 2>&1
sleep 1
DUMP=$(ls -t "$OUT"* | head -n1)
TOTAL=$(callgrind_annotate "$DUMP" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
jq -r --arg total "$TOTAL" --arg model "$MODEL" \
  '"model \($model): \(.requests) requests (\(.errors) errors), \($total|tonumber) instructions, \(($total|tonumber) / .requests | floor) per request"' "$WORK/load.json"
[ -z "${BENCH_OUT:-}" ] || echo "dump: $DUMP"
