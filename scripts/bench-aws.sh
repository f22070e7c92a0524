#!/usr/bin/env bash
# Lambda performance on this machine (not a test): init time (process start -> first poll of
# the Runtime API) with CADET_STATE=memory, peak RSS after 1,000 invocations, and the criterion
# per-event handler benchmark with its in-process baseline. Loopback only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cargo build --release --locked -p cadet-aws-lambda --bin bootstrap
event=events/aws/sendcommand-stratus-red-team.json
inits=()
for _ in $(seq 1 21); do
  inits+=("$(python3 scripts/lambda-local.py target/release/bootstrap "$event" --measure | python3 -c 'import json,sys; print(json.load(sys.stdin)["init_ms"])')")
done
median=$(printf '%s\n' "${inits[@]}" | sort -n | sed -n '11p')
echo "init (start -> first /next poll), 21 runs: median ${median} ms"
echo "1,000 invocations of one event (the first scores, the rest are deduplicated):"
python3 scripts/lambda-local.py target/release/bootstrap "$event" --repeat 1000 --measure
cargo bench --locked -p cadet-aws-lambda --bench handler -- --warm-up-time 1 --measurement-time 3
