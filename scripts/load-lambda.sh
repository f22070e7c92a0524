#!/usr/bin/env bash
# Lambda load figures (not a test): the release `bootstrap` through the local Runtime API
# (scripts/lambda-local.py, loopback only) with SQS batches of 10 messages of ~256 KB each (the
# SQS maximum message size), CADET_STATE=memory, stdout sink. Reports per-batch round trip and
# the peak RSS. The same batch is served REPEAT times: the first invocation scores 10 events,
# the later ones are deduplicated after normalizing every 256 KB body (the parse dominates).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
repeat="${REPEAT:-100}"
cargo build --release --locked -p cadet-aws-lambda --bin bootstrap
batch="$(mktemp --suffix=.json)"
trap 'rm -f "$batch"' EXIT
python3 - "$batch" <<'PY'
import json, sys
with open("events/aws/sendcommand-root.json") as f:
    event = json.load(f)
records = []
for i in range(10):
    e = json.loads(json.dumps(event))
    e["id"] = f"eb-load-{i}"
    e["detail"]["eventID"] = f"ev-load-{i}"
    # Pad with instance ids (the targets path) up to ~256 KB of body.
    ids = []
    body = ""
    n = 0
    while True:
        ids.append(f"i-{n:017x}")
        n += 1
        if n % 500 == 0:
            e["detail"]["requestParameters"]["instanceIds"] = ids
            body = json.dumps(e)
            if len(body) > 250_000:
                break
    records.append({
        "messageId": f"m-{i}", "receiptHandle": "r", "body": body, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:cadet", "awsRegion": "eu-west-1",
        "attributes": {}, "messageAttributes": {},
    })
batch = {"Records": records}
with open(sys.argv[1], "w") as f:
    json.dump(batch, f)
sizes = [len(r["body"]) for r in records]
print(f"batch: 10 messages, bodies {min(sizes)}..{max(sizes)} bytes, payload {len(json.dumps(batch))} bytes", file=sys.stderr)
PY
python3 scripts/lambda-local.py target/release/bootstrap "$batch" --repeat "$repeat" --measure
