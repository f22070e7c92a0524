#!/usr/bin/env python3
"""Writes CloudTrail records as Amazon Security Lake would store them: OCSF 1.1 API Activity
(class 6003) rows in Parquet, in the lake's partition layout.

    lake-from-trail.py --out DIR [--rows-per-group N] [--compression zstd|gzip|snappy] INPUT...

INPUT: CloudTrail files (`{"Records": [...]}`, gzip or not), NDJSON of records or of
EventBridge events (`detail` is the record). Records of other clouds are skipped.

The mapping is the one the OCSF project documents for CloudTrail API Activity
(github.com/ocsf/examples, mappings/markdown/AWS/v1.1.0/CloudTrail/API Activity): it is
written here independently of cadet's reader (shared/core/src/normalize/lake.rs), so a test
that feeds both the raw records and these rows to cadet checks the reader against the
documented mapping, not against itself. Every CloudTrail top-level field without an OCSF home
goes to `unmapped` (a map of strings, JSON-encoded when not a string), as the lake does.

Layout: DIR/aws/CLOUD_TRAIL_MGMT/2.0/region=<region>/accountId=<account>/eventDay=YYYYMMDD/
<n>.<compression>.parquet, one file per partition, its rows in time order.
"""
import argparse
import gzip
import json
import os
import sys
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq

MAPPED = {
    "eventSource", "eventName", "eventID", "eventTime", "eventType", "eventVersion", "awsRegion",
    "sourceIPAddress", "userAgent", "requestID", "errorCode", "errorMessage",
    "requestParameters", "responseElements", "userIdentity", "vpcEndpointId", "apiVersion",
    "eventCategory", "resources", "recipientAccountId",
}


def records(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        text = f.read()
    text = text.strip()
    if not text:
        return
    try:
        doc = json.loads(text)
        docs = doc["Records"] if isinstance(doc, dict) and "Records" in doc else [doc]
        if isinstance(doc, list):
            docs = doc
    except json.JSONDecodeError:
        docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    for d in docs:
        if isinstance(d, dict) and isinstance(d.get("detail"), dict) and "detail-type" in d:
            d = d["detail"]
        if isinstance(d, dict) and "eventSource" in d and "eventName" in d and isinstance(
            d.get("eventName"), str
        ):
            yield d


def millis(text):
    t = datetime.strptime(text.replace("Z", "+00:00"), "%Y-%m-%dT%H:%M:%S%z") if "." not in text \
        else datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(t.astimezone(timezone.utc).timestamp() * 1000)


def dumps(v):
    return None if v is None else json.dumps(v, separators=(",", ":"))


def row(rec):
    uid = rec.get("userIdentity") or {}
    ctx = uid.get("sessionContext") or {}
    attrs = ctx.get("attributes") or {}
    issuer = (ctx.get("sessionIssuer") or {}).get("arn")
    idp = (ctx.get("webIdFederationData") or {}).get("federatedProvider") or uid.get(
        "identityProvider"
    )
    src = rec.get("sourceIPAddress")
    # The source is an address, or an AWS service's name (`ssm.amazonaws.com`).
    is_ip = src is not None and (src.replace(".", "").isdigit() or ":" in src)
    mfa = attrs.get("mfaAuthenticated")
    unmapped = {
        k: (v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
        for k, v in rec.items()
        if k not in MAPPED and v is not None
    }
    if rec.get("recipientAccountId"):
        unmapped["recipientAccountId"] = rec["recipientAccountId"]
    return {
        "class_uid": 6003,
        "category_uid": 6,
        "activity_id": 99,
        "type_uid": 600399,
        "severity_id": 1,
        "status_id": 2 if rec.get("errorCode") else 1,
        "time": millis(rec["eventTime"]),
        "metadata": {
            "uid": rec.get("eventID"),
            "version": "1.1.0",
            "event_code": rec.get("eventType"),
            "product": {"name": "CloudTrail", "vendor_name": "AWS",
                        "version": rec.get("eventVersion")},
        },
        "api": {
            "operation": rec.get("eventName"),
            "version": rec.get("apiVersion"),
            "service": {"name": rec.get("eventSource")},
            "request": {"uid": rec.get("requestID"), "data": dumps(rec.get("requestParameters"))},
            "response": {
                "error": rec.get("errorCode"),
                "message": rec.get("errorMessage"),
                "data": dumps(rec.get("responseElements")),
            },
        },
        "actor": {
            "user": {
                "type": uid.get("type"),
                "uid": uid.get("arn"),
                "uid_alt": uid.get("principalId"),
                "name": uid.get("userName"),
                "credential_uid": uid.get("accessKeyId"),
                "account": {"uid": uid.get("accountId")},
            },
            "session": {
                "issuer": issuer,
                "is_mfa": None if mfa is None else str(mfa).lower() == "true",
                "created_time_dt": attrs.get("creationDate"),
            },
            "invoked_by": uid.get("invokedBy"),
            "idp": {"name": idp},
        },
        "src_endpoint": {
            "ip": src if is_ip else None,
            "domain": None if is_ip else src,
            "uid": rec.get("vpcEndpointId"),
        },
        "http_request": {"user_agent": rec.get("userAgent")},
        "cloud": {"provider": "AWS", "region": rec.get("awsRegion"),
                  "account": {"uid": rec.get("recipientAccountId")}},
        "unmapped": unmapped,
    }


def write(rows, path, compression, rows_per_group):
    unmapped = pa.array([list(r.pop("unmapped").items()) for r in rows],
                        type=pa.map_(pa.string(), pa.string()))
    table = pa.Table.from_pylist(rows).append_column("unmapped", unmapped)
    pq.write_table(table, path, compression=compression, row_group_size=rows_per_group)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--rows-per-group", type=int, default=10000)
    ap.add_argument("--compression", default="zstd", choices=["zstd", "gzip", "snappy"])
    ap.add_argument("inputs", nargs="+")
    args = ap.parse_args()
    parts = {}
    paths = []
    for p in args.inputs:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                paths += [os.path.join(root, f) for f in sorted(files)]
        else:
            paths.append(p)
    n = 0
    for p in sorted(paths):
        for rec in records(p):
            r = row(rec)
            day = datetime.fromtimestamp(r["time"] / 1000, timezone.utc).strftime("%Y%m%d")
            account = rec.get("recipientAccountId") or (rec.get("userIdentity") or {}).get(
                "accountId", "unknown")
            key = (rec.get("awsRegion") or "unknown", account, day)
            parts.setdefault(key, []).append(r)
            n += 1
    ext = {"zstd": "zstd", "gzip": "gz", "snappy": "snappy"}[args.compression]
    for i, ((region, account, day), rows) in enumerate(sorted(parts.items())):
        # The lake writes events in the order they arrive: by time, within minutes.
        rows.sort(key=lambda r: r["time"])
        d = os.path.join(args.out, "aws", "CLOUD_TRAIL_MGMT", "2.0", f"region={region}",
                         f"accountId={account}", f"eventDay={day}")
        os.makedirs(d, exist_ok=True)
        write(rows, os.path.join(d, f"{i:05d}.{ext}.parquet"), args.compression,
              args.rows_per_group)
    print(f"{n} records in {len(parts)} partitions", file=sys.stderr)


if __name__ == "__main__":
    main()
