#!/usr/bin/env python3
"""Run the cadet Lambda `bootstrap` binary locally against an emulated Lambda Runtime API.

Usage: lambda-local.py BOOTSTRAP EVENT.json [--repeat N] [--measure]

Serves EVENT (as Lambda would deliver it) to BOOTSTRAP through the Runtime API protocol
(GET /2018-06-01/runtime/invocation/next, POST …/{id}/response | …/{id}/error) on a free
loopback port, prints the function's response, and stops the process. Only the standard
library is used; nothing leaves 127.0.0.1. With --measure it reports the init time (process
start → first poll of /next), per-invocation round trips and the peak RSS (VmHWM) instead.
"""
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> int:
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    bootstrap, event_path = args[0], args[1]
    repeat = int(args[args.index("--repeat") + 1]) if "--repeat" in args else 1
    measure = "--measure" in args
    with open(event_path, "rb") as f:
        event = f.read()
    json.loads(event)  # fail early on a bad sample

    state = {"first_poll": None, "served": 0, "responses": [], "sent_at": {}, "rtt": []}
    lock = threading.Condition()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet
            pass

        def setup(self):
            super().setup()
            import socket
            # Without this, delayed ACKs add ~40 ms to every keep-alive round trip.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self):
            if not self.path.endswith("/invocation/next"):
                self.send_error(404)
                return
            with lock:
                if state["first_poll"] is None:
                    state["first_poll"] = time.perf_counter()
                while state["served"] >= repeat:
                    lock.wait(timeout=1)
                    if state.get("stop"):
                        return
                state["served"] += 1
                rid = f"local-{state['served']}"
                state["sent_at"][rid] = time.perf_counter()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(event)))
            self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:cadet-local")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.end_headers()
            self.wfile.write(event)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            parts = self.path.split("/")
            rid = parts[4] if len(parts) > 4 else "?"
            kind = parts[-1]
            with lock:
                if rid in state["sent_at"]:
                    state["rtt"].append(time.perf_counter() - state["sent_at"][rid])
                state["responses"].append((kind, body))
                lock.notify_all()
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "cadet-local",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/cadet-local",
        "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    env.setdefault("CADET_STATE", "memory")
    env.setdefault("CADET_SINKS", "stdout")
    start = time.perf_counter()
    # Measuring: the output is discarded (a pipe nobody reads blocks the function once it is full).
    quiet = subprocess.DEVNULL if measure else None
    proc = subprocess.Popen([bootstrap], env=env, stdout=quiet, stderr=quiet)
    deadline = time.time() + 60
    with lock:
        while len(state["responses"]) < repeat and time.time() < deadline and proc.poll() is None:
            lock.wait(timeout=0.5)
    hwm_kb = None
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm_kb = int(line.split()[1])
    except OSError:
        pass
    proc.kill()
    proc.wait()
    with lock:
        state["stop"] = True
        lock.notify_all()
    server.shutdown()
    if len(state["responses"]) < repeat:
        print(f"error: bootstrap answered {len(state['responses'])} of {repeat} invocations", file=sys.stderr)
        return 1
    if measure:
        init_ms = (state["first_poll"] - start) * 1000
        rtts = sorted(state["rtt"])
        print(json.dumps({
            "init_ms": round(init_ms, 2),
            "invocations": repeat,
            "median_round_trip_us": round(rtts[len(rtts) // 2] * 1e6, 1),
            "peak_rss_mb": round(hwm_kb / 1024, 1) if hwm_kb else None,
        }))
        return 0
    kind, body = state["responses"][-1]
    try:
        print(json.dumps(json.loads(body), indent=2))
    except ValueError:
        print(body.decode(errors="replace"))
    return 0 if kind == "response" else 1


if __name__ == "__main__":
    sys.exit(main())
