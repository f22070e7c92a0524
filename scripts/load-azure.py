#!/usr/bin/env python3
"""Load figures for the Azure handler (not a test): the real `cadet-azure` binary on loopback.

Usage: load-azure.py CADET_AZURE [--connections 1000] [--slow 2000] [--hold 15]

1. Burst: N concurrent connections, each one `POST /detect` (a Functions host payload with a
   distinct event id, so every request is scored) — status counts, latency p50/p90/p99/max,
   wall time, and the server's peak RSS (VmHWM) and threads.
2. Slow-client flood: M connections that send half a request head and then nothing, held for
   HOLD seconds — how many the server took and how many it answered 503 at once, how many it
   closed by the header timeout, and /healthz latency during the flood.

Run twice by the Makefile target: with the defaults, and with CADET_MAX_CONNECTIONS raised.
Only the standard library; nothing leaves 127.0.0.1; every phase is bounded in count and time.
"""
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def arg(name, default):
    a = sys.argv
    return int(a[a.index(name) + 1]) if name in a else default


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def vm(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split()[1]
    return "?"


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))]


async def request(port, body, timeout=60.0):
    """One POST /detect on its own connection; returns (status, seconds)."""
    start = time.perf_counter()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        head = (
            f"POST /detect HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode()
        w.write(head + body)
        await w.drain()
        line = await asyncio.wait_for(r.readline(), timeout)
        await asyncio.wait_for(r.read(), timeout)
        w.close()
        status = int(line.split()[1]) if line else 0
    except (OSError, asyncio.TimeoutError, IndexError, ValueError):
        status = -1
    return status, time.perf_counter() - start


async def healthz(port):
    start = time.perf_counter()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        w.write(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        await w.drain()
        line = await asyncio.wait_for(r.readline(), 10)
        await asyncio.wait_for(r.read(), 10)
        w.close()
        return int(line.split()[1]), time.perf_counter() - start
    except (OSError, asyncio.TimeoutError, IndexError, ValueError):
        return -1, time.perf_counter() - start


async def burst(port, n, pid):
    with open(os.path.join(ROOT, "events/azure/vm-runcommand-aadinternals.json")) as f:
        event = json.load(f)
    bodies = []
    for i in range(n):
        e = dict(event)
        e["id"] = f"load-{i}"
        if isinstance(e.get("data"), dict):
            d = dict(e["data"])
            d["correlationId"] = f"corr-{i}"
            e["data"] = d
        bodies.append(json.dumps({"Data": {"eventGridEvent": e}, "Metadata": {}}).encode())
    start = time.perf_counter()
    results = await asyncio.gather(*(request(port, b) for b in bodies))
    wall = time.perf_counter() - start
    statuses = {}
    for s, _ in results:
        statuses[s] = statuses.get(s, 0) + 1
    ok = [t for s, t in results if s == 200]
    all_t = [t for _, t in results]
    return {
        "phase": "burst",
        "connections": n,
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "wall_s": round(wall, 3),
        "served_per_s": round(len(ok) / wall, 1) if wall else None,
        "latency_ms_200": {
            "p50": round(pct(ok, 0.5) * 1000, 1),
            "p90": round(pct(ok, 0.9) * 1000, 1),
            "p99": round(pct(ok, 0.99) * 1000, 1),
            "max": round(max(ok) * 1000, 1) if ok else None,
        },
        "latency_ms_all_max": round(max(all_t) * 1000, 1),
        "server_vm_hwm_kib": vm(pid, "VmHWM"),
        "server_threads": vm(pid, "Threads"),
    }


async def slow_flood(port, n, hold, pid):
    conns = []
    refused = 0
    for _ in range(n):
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
            w.write(b"POST /detect HTTP/1.1\r\nhost: x\r\ncontent-ty")
            await w.drain()
            conns.append((r, w, time.perf_counter()))
        except (OSError, asyncio.TimeoutError):
            refused += 1
    await asyncio.sleep(0.5)
    fds_during = len(os.listdir(f"/proc/{pid}/fd"))
    health = [await healthz(port) for _ in range(5)]

    async def outcome(r, w, t0):
        try:
            data = await asyncio.wait_for(r.read(), hold)
            kind = "503" if data.startswith(b"HTTP/1.1 503") else ("closed" if not data else "other")
            return kind, time.perf_counter() - t0
        except asyncio.TimeoutError:
            return "still_open", hold
        except OSError:
            return "reset", time.perf_counter() - t0
        finally:
            w.close()

    outcomes = await asyncio.gather(*(outcome(*c) for c in conns))
    counts = {}
    for k, _ in outcomes:
        counts[k] = counts.get(k, 0) + 1
    closed_after = [t for k, t in outcomes if k in ("closed", "reset")]
    return {
        "phase": "slow_flood",
        "connections": n,
        "connect_failed": refused,
        "outcomes": counts,
        "closed_after_s": {
            "min": round(min(closed_after), 2) if closed_after else None,
            "max": round(max(closed_after), 2) if closed_after else None,
        },
        "server_open_fds_during": fds_during,
        "healthz_during": [s for s, _ in health],
        "healthz_ms_during_max": round(max(t for _, t in health) * 1000, 1),
        "server_vm_hwm_kib": vm(pid, "VmHWM"),
    }


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary = sys.argv[1]
    n = arg("--connections", 1000)
    slow = arg("--slow", 2000)
    hold = arg("--hold", 15)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "FUNCTIONS_CUSTOMHANDLER_PORT": str(port),
        "CADET_STATE": "memory",
        "CADET_SINKS": "stdout",
        "RUST_LOG": "warn",
    }
    for k in ("CADET_MAX_CONNECTIONS", "CADET_MAX_IN_FLIGHT", "CADET_HEADER_TIMEOUT_SECS",
              "CADET_BODY_TIMEOUT_SECS", "CADET_QUEUE_TIMEOUT_MS"):
        if k in os.environ:
            env[k] = os.environ[k]
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 15
        while time.time() < deadline:
            if asyncio.run(healthz(port))[0] == 200:
                break
            time.sleep(0.05)
        else:
            print("cadet-azure did not answer /healthz", file=sys.stderr)
            return 1
        limits = {k: v for k, v in env.items() if k.startswith("CADET_MAX") or k.endswith("_SECS") or k.endswith("_MS")}
        print(json.dumps({"server_env_overrides": limits}))
        print(json.dumps(asyncio.run(burst(port, n, proc.pid))))
        print(json.dumps(asyncio.run(slow_flood(port, slow, hold, proc.pid))))
        status, t = asyncio.run(healthz(port))
        print(json.dumps({"phase": "after", "healthz": status, "ms": round(t * 1000, 1),
                          "server_alive": proc.poll() is None}))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
