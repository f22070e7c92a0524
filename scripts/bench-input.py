#!/usr/bin/env python3
"""Per-event cost of `cadet detect` by input size (a benchmark, not a test).

Usage: bench-input.py CADET [--sizes 1000,10000,100000] [--runs 3]

For each size N, the same N CloudTrail SendCommand records are written twice — as
newline-delimited JSON and as one CloudTrail log file {"Records":[…]} — for one principal and
for many (1,000 distinct principals), and scored with `cadet detect --state memory --format
json` (alerts to /dev/null). The best of RUNS wall times is reported, with the per-event cost
and its ratio to the 1k case of the same shape (goal: ≤ 1.5×). Process start-up (an empty
input, measured the same way) is subtracted before dividing, and shown.
"""
import copy
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def arg(name, default):
    a = sys.argv
    return a[a.index(name) + 1] if name in a else default


def records(n, principals):
    with open(os.path.join(ROOT, "events/aws/sendcommand-root.json")) as f:
        base = json.load(f)["detail"]
    for i in range(n):
        r = copy.deepcopy(base)
        r["eventID"] = f"bench-{i}"
        r["eventTime"] = "2026-10-%02dT%02d:%02d:%02dZ" % (1 + (i // 86400) % 28, (i // 3600) % 24, (i // 60) % 60, i % 60)
        p = i % principals
        if principals > 1:
            ident = r["userIdentity"]
            ident["type"] = "IAMUser"
            ident["arn"] = f"arn:aws:iam::111122223333:user/u{p}"
            ident["principalId"] = f"AIDA{p:016d}"
            ident["userName"] = f"u{p}"
            ident["accessKeyId"] = f"AKIA{p:016d}"
        yield r


def run(cadet, path, runs):
    best = None
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([cadet, "detect", "--state", "memory", "--format", "json", path],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        t = time.perf_counter() - start
        best = t if best is None else min(best, t)
    return best


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cadet = sys.argv[1]
    sizes = [int(s) for s in arg("--sizes", "1000,10000,100000").split(",")]
    runs = int(arg("--runs", "3"))
    with tempfile.TemporaryDirectory() as d:
        empty = os.path.join(d, "empty.json")
        open(empty, "w").close()
        startup = run(cadet, empty, max(runs, 5))
        print(f"start-up (empty input): {startup * 1000:.1f} ms, subtracted below")
        print(f"{'shape':<10} {'principals':<10} {'records':>8} {'wall s':>8} {'us/event':>9} {'ratio to 1k':>11}")
        for principals in (1, 1000):
            for shape in ("ndjson", "records"):
                base_cost = None
                for n in sizes:
                    path = os.path.join(d, f"{shape}-{principals}-{n}.json")
                    with open(path, "w") as f:
                        if shape == "ndjson":
                            for r in records(n, principals):
                                f.write(json.dumps(r, separators=(",", ":")))
                                f.write("\n")
                        else:
                            f.write('{"Records":[')
                            for i, r in enumerate(records(n, principals)):
                                if i:
                                    f.write(",")
                                f.write(json.dumps(r, separators=(",", ":")))
                            f.write("]}")
                    wall = run(cadet, path, runs)
                    per = max(wall - startup, 0) / n * 1e6
                    if base_cost is None:
                        base_cost = per
                    label = "one" if principals == 1 else str(principals)
                    print(f"{shape:<10} {label:<10} {n:>8} {wall:>8.3f} {per:>9.1f} {per / base_cost:>10.2f}x", flush=True)
                    os.remove(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
