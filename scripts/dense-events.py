#!/usr/bin/env python3
"""Writes one NDJSON file of N T1651 calls in time order (an export, not an archive), for the
event-dense half of `make bench-hunt`: every record is a candidate, so the cost is parsing and
scoring, not finding needles.

The calls are SendCommand, StartSession, StartAutomationExecution and CreateAssociation records
from the repository's events/aws samples, spread over 200 principals in 6 accounts over 28 days
(a call every ~24 s on average, with jitter), each with a fresh event id. Reproducible for a
seed (Python's random.Random only).

usage: dense-events.py OUT_FILE [--events N] [--seed S]
"""
import copy
import datetime
import glob
import json
import os
import random
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
EVENTS = os.path.join(HERE, "..", "events", "aws")
NAMES = {"SendCommand", "StartSession", "StartAutomationExecution", "CreateAssociation"}


def main():
    out = sys.argv[1]
    arg = lambda name, default: type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default
    n, seed = arg("--events", 100000), arg("--seed", 1651)
    rnd = random.Random(seed)
    templates = []
    for p in sorted(glob.glob(os.path.join(EVENTS, "*.json"))):
        doc = json.load(open(p))
        rec = doc.get("detail", doc)
        if isinstance(rec, dict) and rec.get("eventName") in NAMES and rec.get("errorCode") is None:
            templates.append(rec)
    if not templates:
        sys.exit("no T1651 CloudTrail samples found in events/aws")
    accounts = ["%012d" % rnd.randrange(10**11, 10**12) for _ in range(6)]
    principals = []
    for i in range(200):
        acct = rnd.choice(accounts)
        role = rnd.choice(["ops-admin", "ci-deploy", "patching", "sre-oncall"])
        principals.append((acct, role, "user%03d" % i, "%d.%d.%d.%d" % (
            rnd.choice([3, 18, 34, 52, 198]), rnd.randrange(256), rnd.randrange(256), rnd.randrange(1, 255))))
    t = datetime.datetime(2026, 9, 1, tzinfo=datetime.timezone.utc)
    span = 28 * 86400
    with open(out, "w") as f:
        for _ in range(n):
            t += datetime.timedelta(seconds=rnd.expovariate(n / span))
            acct, role, sess, ip = rnd.choice(principals)
            r = copy.deepcopy(rnd.choice(templates))
            r["userIdentity"] = {
                "type": "AssumedRole", "principalId": "AROAEXAMPLE%s:%s" % (role.upper().replace("-", ""), sess),
                "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (acct, role, sess), "accountId": acct,
                "accessKeyId": "ASIA%016X" % rnd.getrandbits(64),
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE" + role.upper().replace("-", ""),
                                                     "arn": "arn:aws:iam::%s:role/%s" % (acct, role), "accountId": acct,
                                                     "userName": role},
                                   "attributes": {"creationDate": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "mfaAuthenticated": "true"}}}
            r["eventTime"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
            r["eventID"] = str(uuid.UUID(int=rnd.getrandbits(128)))
            r["recipientAccountId"] = acct
            r["sourceIPAddress"] = ip
            f.write(json.dumps(r, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
