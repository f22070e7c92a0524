#!/usr/bin/env bash
# Load benchmark of the Azure handler's direct Event Grid route (not a test: numbers only).
#
#   scripts/bench-azure.sh            # 10 s, 1 event per delivery (Event Grid's default)
#   BATCH=10 DURATION=10 CONNECTIONS=16 scripts/bench-azure.sh
#
# Starts the release cadet-azure with memory state and the stdout sink (to /dev/null) on a free
# loopback port, measures the time from process start to the first 200 on /healthz, runs wrk
# against POST /eventgrid with batches built from real sample events (every event gets a unique
# id and correlation id; callers rotate over 64 principals), then reports events/s, latency
# percentiles, errors and the peak RSS (VmHWM from /proc). Goals: >= 5,000 events/s, p99 < 10 ms,
# zero errors, ready < 50 ms, peak RSS <= 64 MB. Needs Debian's wrk (apt-get install -y wrk).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
BATCH="${BATCH:-1}"
KEY="bench-key-0123456789abcdef"

command -v wrk >/dev/null || { echo "bench-azure: wrk not found (apt-get install -y wrk)" >&2; exit 1; }
cargo build --release --locked -p cadet-azure-function --bin cadet-azure >&2
bin="$root/target/release/cadet-azure"

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The request body template: BATCH events cycling over real run-command samples, with
# placeholders the Lua script fills per request.
python3 - "$BATCH" "$work/body.json" <<'PY'
import json, sys
batch, out = int(sys.argv[1]), sys.argv[2]
names = ["vm-runcommand-aobo-partner.json", "vm-runcommand-aadinternals.json",
         "vm-runcommand-admin-benign.json", "vmss-vm-runcommand.json",
         "vm-managed-runcommand-write.json", "vm-extension-customscript.json"]
events = [json.load(open(f"events/azure/{n}")) for n in names]
OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
body = []
for i in range(batch):
    e = json.loads(json.dumps(events[i % len(events)]))
    e["id"] = f"__ID{i}__"
    e["data"]["correlationId"] = f"__ID{i}__"
    if OID in e["data"].get("claims", {}):
        e["data"]["claims"][OID] = "__P__"
    body.append(e)
open(out, "w").write(json.dumps(body))
PY

cat > "$work/load.lua" <<LUA
local f = io.open("$work/body.json", "r")
local template = f:read("*a")
f:close()
local counter = 0
local n = 0
function setup(thread)
  n = n + 1
  thread:set("tid", n)
end
function request()
  counter = counter + 1
  local p = string.format("00000000-0000-4000-8000-%012d", counter % 64)
  local body = template:gsub("__ID(%d+)__", function(i)
    return string.format("%08x-%04x-4000-8000-%012x", tid, tonumber(i), counter)
  end):gsub("__P__", p)
  return wrk.format("POST", "/eventgrid", {["content-type"] = "application/json", ["x-cadet-key"] = "$KEY"}, body)
end
function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT requests=%d duration_s=%.3f errors=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.duration / 1e6, errors,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
LUA

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"

# Start the server and time it to the first 200 on /healthz (raw socket polling, 1 ms steps).
python3 - "$bin" "$port" "$KEY" "$work" <<'PY'
import os, socket, subprocess, sys, time
binary, port, key, work = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
env = {k: v for k, v in os.environ.items() if not k.startswith("CADET_")}
env.update(CADET_STATE="memory", CADET_SINKS="stdout", CADET_AUTH_KEY=key,
           FUNCTIONS_CUSTOMHANDLER_PORT=str(port))
t0 = time.perf_counter()
p = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL,
                     stderr=open(f"{work}/server.log", "w"), start_new_session=True)
ready = None
while time.perf_counter() - t0 < 5:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        if s.recv(64).startswith(b"HTTP/1.1 200"):
            ready = time.perf_counter() - t0
        s.close()
        if ready is not None:
            break
    except OSError:
        pass
    time.sleep(0.001)
open(f"{work}/pid", "w").write(str(p.pid))
print(f"ready on /healthz: {ready * 1000:.1f} ms after start   goal < 50 ms" if ready is not None
      else "ready on /healthz: not within 5 s")
PY
pid="$(cat "$work/pid")"

rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
echo "peak RSS at idle: $(( $(rss_kb) / 1024 )) MB"

out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$work/load.lua" "http://127.0.0.1:$port/eventgrid")"
echo "$out" >&2
result="$(grep '^RESULT' <<<"$out")"
peak_kb="$(rss_kb)"
python3 - "$result" "$BATCH" "$peak_kb" "$CONNECTIONS" "$THREADS" <<'PY'
import sys
kv = dict(x.split("=") for x in sys.argv[1].split()[1:])
batch, peak_kb, conns, threads = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
req, dur = int(kv["requests"]), float(kv["duration_s"])
eps = req * batch / dur
print(f"load: wrk {threads} threads, {conns} connections, {dur:.1f} s, {batch} event(s) per delivery")
print(f"events/s: {eps:,.0f} ({req / dur:,.0f} requests/s)   goal >= 5,000")
print(f"latency: p50 {float(kv['p50_ms']):.2f} ms, p90 {float(kv['p90_ms']):.2f} ms, "
      f"p99 {float(kv['p99_ms']):.2f} ms, max {float(kv['max_ms']):.2f} ms   goal p99 < 10 ms")
print(f"errors: {kv['errors']}   goal 0")
print(f"peak RSS: {peak_kb / 1024:.1f} MB   goal <= 64 MB")
PY
