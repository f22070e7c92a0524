#!/usr/bin/env python3
"""Writes a synthetic Azure Activity Log archive laid out as a diagnostic setting exports it to a
storage account, for timing `cadet hunt` on Azure records:

    OUT/insights-activity-logs/resourceId=/SUBSCRIPTIONS/<sub>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json

One JSON record per line, as the export writes them. About 1 % of the records are T1651 calls
(the run-command record of events/azure/activity-log-export-runcommand.json, with new ids and
times); the rest are the same record renamed to common operations cadet does not judge (storage
keys, network, role reads, deployments, tags). Reproducible for a seed (random.Random only).

usage: activity-archive.py OUT_DIR [--mb N] [--seed S]
Prints a summary (files, records, T1651 records, bytes).
"""
import copy
import datetime
import json
import os
import random
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "..", "events", "azure", "activity-log-export-runcommand.json")
ROUTINE = [
    "MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION",
    "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WRITE",
    "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/READ",
    "MICROSOFT.RESOURCES/DEPLOYMENTS/WRITE",
    "MICROSOFT.RESOURCES/TAGS/WRITE",
    "MICROSOFT.KEYVAULT/VAULTS/WRITE",
    "MICROSOFT.WEB/SITES/RESTART/ACTION",
    "MICROSOFT.SQL/SERVERS/DATABASES/WRITE",
]


def main(argv):
    if not argv or argv[0].startswith("-"):
        sys.exit(__doc__)
    out, mb, seed = argv[0], 100, 1651
    rest = argv[1:]
    while rest:
        flag, value, rest = rest[0], rest[1], rest[2:]
        if flag == "--mb":
            mb = int(value)
        elif flag == "--seed":
            seed = int(value)
        else:
            sys.exit(f"unknown option {flag}")
    rng = random.Random(seed)
    with open(SAMPLE) as f:
        template = json.load(f)["records"][0]
    subs = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(8)]
    start = datetime.datetime(2026, 10, 1, tzinfo=datetime.timezone.utc)
    files = records = t1651 = written = 0
    hour = 0
    while written < mb * 1_000_000:
        for sub in subs:
            t0 = start + datetime.timedelta(hours=hour)
            folder = os.path.join(out, "insights-activity-logs", "resourceId=", "SUBSCRIPTIONS", sub.upper(),
                                  f"y={t0:%Y}", f"m={t0:%m}", f"d={t0:%d}", f"h={t0:%H}", "m=00")
            os.makedirs(folder, exist_ok=True)
            lines = []
            for _ in range(rng.randint(200, 600)):
                r = copy.deepcopy(template)
                t = t0 + datetime.timedelta(seconds=rng.randint(0, 3599))
                r["time"] = t.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
                r["correlationId"] = str(uuid.UUID(int=rng.getrandbits(128)))
                r["resourceId"] = r["resourceId"].replace("00000000-1111-2222-3333-444444444444", sub.upper())
                if rng.random() < 0.01:
                    t1651 += 1
                else:
                    r["operationName"] = rng.choice(ROUTINE)
                lines.append(json.dumps(r, separators=(",", ":")))
            body = ("\n".join(lines) + "\n").encode()
            with open(os.path.join(folder, "PT1H.json"), "wb") as f:
                f.write(body)
            files += 1
            records += len(lines)
            written += len(body)
        hour += 1
    print(json.dumps({"files": files, "records": records, "t1651": t1651, "bytes": written}))


if __name__ == "__main__":
    main(sys.argv[1:])
