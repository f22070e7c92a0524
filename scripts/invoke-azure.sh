#!/usr/bin/env bash
# Stand in for the Azure Functions host: start cadet-azure on a free loopback port (memory
# state, stdout sink), wait for /healthz, POST the host's invocation payload for one Event Grid
# event to /detect, print the reply, stop the server.
#   scripts/invoke-azure.sh BINARY EVENT.json
set -euo pipefail

bin="${1:?usage: invoke-azure.sh BINARY EVENT.json}"
event="${2:?usage: invoke-azure.sh BINARY EVENT.json}"
[ -f "$event" ] || { echo "invoke-azure: no such event file: $event" >&2; exit 2; }

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
logs="$(mktemp)"
findings="$(mktemp)"
payload="$(mktemp)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -f "$logs" "$findings" "$payload"
}
trap cleanup EXIT

# The host's invocation payload for an eventGridTrigger binding named eventGridEvent.
python3 - "$event" "$payload" <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    event = json.load(f)
with open(sys.argv[2], "w") as f:
    json.dump({"Data": {"eventGridEvent": event}, "Metadata": {"sys": {"MethodName": "detect"}}}, f)
PY

env -u CADET_POLICY -u CADET_WEBHOOK_URL -u CADET_WEBHOOK_SECRET -u CADET_AUTH_KEY \
  CADET_STATE=memory CADET_SINKS=stdout FUNCTIONS_CUSTOMHANDLER_PORT="$port" \
  "$bin" >"$findings" 2>"$logs" &
pid=$!

for _ in $(seq 1 200); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "invoke-azure: cadet-azure exited during start-up:" >&2
    cat "$logs" >&2
    exit 1
  fi
  sleep 0.05
done

echo "POST /detect  (event: $event, port $port)" >&2
status="$(curl -sS -o "$payload.reply" -w '%{http_code}' -H 'content-type: application/json' \
  -H 'x-azure-functions-invocationid: make-invoke-azure' \
  --data-binary "@$payload" "http://127.0.0.1:$port/detect")"
echo "HTTP $status" >&2
python3 -m json.tool "$payload.reply" || cat "$payload.reply"
rm -f "$payload.reply"
[ "$status" -ge 200 ] && [ "$status" -lt 300 ]
