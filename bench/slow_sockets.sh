#!/usr/bin/env bash
# Slow-socket flood (issue 22, item 1): a client holds open more sockets that send a partial
# request head than the server's file limit allows (reconnecting each one the server closes),
# while `conea bench endpoint` times GET /livez and an authenticated GET /v1/auth/verify.
# Prints both latency summaries and how long the server let a slow socket live.
#
# The server runs with `ulimit -n` BENCH_FILE_LIMIT (soft = hard, so its raise cannot help),
# a fresh SQLite data dir, and the default connection cap derived from that limit.
#
# Settings (environment):
#   BENCH_FILE_LIMIT     the server's open-file limit (default 1024)
#   BENCH_SLOW_SOCKETS   slow sockets held open (default 3000)
#   BENCH_HEADER_TIMEOUT CONEA_HEADER_READ_TIMEOUT (default 10s)
#   BENCH_SECONDS        how long the flood lasts (default 20)
#   BENCH_SKIP_BUILD     set to use the release binary as it is
#   CARGO_TARGET_DIR     where cargo builds (default ~/.cache/conea-target)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conea-target}"
LIMIT="${BENCH_FILE_LIMIT:-1024}"
SOCKETS="${BENCH_SLOW_SOCKETS:-3000}"
HEADER_TIMEOUT="${BENCH_HEADER_TIMEOUT:-10s}"
SECONDS_="${BENCH_SECONDS:-20}"
BIN="$CARGO_TARGET_DIR/release/conea"
echo "bench: building the release binary" >&2
[[ -n "${BENCH_SKIP_BUILD:-}" ]] || cargo build --release -p conea -q

WORK="$(mktemp -d -t conea-bench-slow.XXXXXX)"
SERVER=""
FLOOD=""
cleanup() {
  [[ -n "$FLOOD" ]] && { kill "$FLOOD" 2>/dev/null || true; wait "$FLOOD" 2>/dev/null || true; }
  [[ -n "$SERVER" ]] && { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT

( ulimit -n "$LIMIT"
  exec env -i PATH="$PATH" HOME="$WORK" CONEA_DATA_DIR="$WORK/data" CONEA_BIND=127.0.0.1:0 \
    CONEA_HEADER_READ_TIMEOUT="$HEADER_TIMEOUT" CONEA_LOG=warn CONEA_WORKER_CONCURRENCY=0 RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_BURST=1000000 \
    "$BIN" serve >"$WORK/out" 2>"$WORK/err" ) &
SERVER=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/out" 2>/dev/null && break; sleep 0.1; done
ADDR="$(sed -n 's/.*listening on http:\/\/\([^ ]*\).*/\1/p' "$WORK/out")"
KEY="$(grep -o 'conea_[A-Za-z0-9_]*' "$WORK/out" | head -1)"
[[ -n "$ADDR" && -n "$KEY" ]] || { echo "bench: server did not start" >&2; cat "$WORK/err" >&2; exit 1; }
echo "server $ADDR, file limit $LIMIT, $SOCKETS slow sockets, header-read timeout $HEADER_TIMEOUT" >&2

python3 - "$ADDR" "$SOCKETS" "$SECONDS_" >"$WORK/flood" <<'PY' &
import asyncio, resource, sys, time
host, port = sys.argv[1].rsplit(":", 1)
n, seconds = int(sys.argv[2]), float(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
lifetimes, opened = [], 0
async def one(end):
    global opened
    while time.monotonic() < end:
        try:
            r, w = await asyncio.open_connection(host, int(port))
        except OSError:
            await asyncio.sleep(0.05); continue
        opened += 1
        t = time.monotonic()
        w.write(b"GET /livez HTTP/1.1\r\nHost: conea\r\nX-Slow: ")
        try:
            await asyncio.wait_for(r.read(1), max(0.0, end - time.monotonic()))
            lifetimes.append(time.monotonic() - t)
        except (asyncio.TimeoutError, OSError):
            pass
        w.close()
async def main():
    end = time.monotonic() + seconds
    await asyncio.gather(*(one(end) for _ in range(n)))
asyncio.run(main())
lifetimes.sort()
print(f"slow sockets opened {opened}, closed by the server {len(lifetimes)}, "
      f"longest life {lifetimes[-1] if lifetimes else 0:.2f} s")
PY
FLOOD=$!
sleep 3
echo "== GET /livez during the flood" >&2
"$BIN" bench endpoint "http://$ADDR/livez" -n 200 --timeout 5s
echo "== GET /v1/auth/verify during the flood" >&2
"$BIN" bench endpoint "http://$ADDR/v1/auth/verify" -H "Authorization: Bearer $KEY" -n 200 --timeout 5s
wait "$FLOOD" || true
FLOOD=""
cat "$WORK/flood"
grep -c "accept error" "$WORK/err" | sed 's/^/accept-error log lines: /' || true
