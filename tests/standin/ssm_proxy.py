#!/usr/bin/env python3
"""SSM stand-in for the calls moto 5 does not implement, in front of a moto server.

`cadet respond` needs CancelCommand, ListCommandInvocations, TerminateSession and
DescribeSessions; moto has none of them. This proxy answers those four itself, checking each
request against the shapes the SSM API reference documents (required members, types, lengths
and enums), and forwards every other call (SendCommand, GetCommandInvocation, ListCommands,
DescribeDocumentPermission, …) to moto unchanged. Command invocations start InProgress on the
instances moto's ListCommands names; CancelCommand moves them to Cancelled (or, for a command
given with --stuck, leaves them Cancelling, as a process that ignores the cancel would).
Sessions given with --session are Active until TerminateSession; TerminateSession answers
success for any id, as the real API does. Every handled or forwarded call is appended to --log
as one JSON line {"op": …, "body": …}.

Loopback only: the test starts it on a free port and kills it.
"""
import argparse
import json
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOCK = threading.Lock()
INVOCATIONS = {}  # command id -> {instance id: status}
SESSIONS = {}  # session id -> "Active" | "Terminated"

SESSION_FILTER_KEYS = {"InvokedAfter", "InvokedBefore", "Target", "Owner", "Status", "SessionId",
                       "AccessType"}


class Invalid(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def need(body, key, kind, lo=None, hi=None, required=True):
    if key not in body:
        if required:
            raise Invalid("ValidationException", f"1 validation error detected: {key} is required")
        return None
    v = body[key]
    if not isinstance(v, kind) or isinstance(v, bool) and kind is not bool:
        raise Invalid("ValidationException", f"{key} must be {kind.__name__}, got {type(v).__name__}")
    n = len(v) if isinstance(v, (str, list)) else v
    if lo is not None and n < lo or hi is not None and n > hi:
        raise Invalid("ValidationException", f"{key} is out of range [{lo}, {hi}]: {n}")
    return v


def only(body, allowed):
    extra = set(body) - set(allowed)
    if extra:
        raise Invalid("ValidationException", f"unexpected members {sorted(extra)}")


def log(op, body):
    with LOCK, open(ARGS.log, "a") as f:
        f.write(json.dumps({"op": op, "body": body}) + "\n")


def moto(op, body, headers):
    req = urllib.request.Request(ARGS.moto + "/", data=json.dumps(body).encode(), method="POST")
    for k in ("Authorization", "X-Amz-Date", "Content-Type"):
        if headers.get(k):
            req.add_header(k, headers[k])
    req.add_header("X-Amz-Target", "AmazonSSM." + op)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def invocations(command_id, headers):
    with LOCK:
        if command_id in INVOCATIONS:
            return INVOCATIONS[command_id]
    try:
        listed = moto("ListCommands", {"CommandId": command_id}, headers).get("Commands", [])
    except urllib.error.HTTPError:
        listed = []
    if not listed:
        raise Invalid("InvalidCommandId", f"command {command_id} does not exist")
    with LOCK:
        INVOCATIONS.setdefault(command_id, {i: "InProgress" for i in listed[0].get("InstanceIds", [])})
        return INVOCATIONS[command_id]


def cancel_command(body, headers):
    only(body, ["CommandId", "InstanceIds"])
    cid = need(body, "CommandId", str, 36, 36)
    ids = need(body, "InstanceIds", list, 0, 50, required=False)
    inv = invocations(cid, headers)
    with LOCK:
        for i, s in inv.items():
            if (ids is None or i in ids) and s in ("Pending", "InProgress", "Delayed"):
                inv[i] = "Cancelling" if cid in ARGS.stuck else "Cancelled"
    return {}


def list_command_invocations(body, headers):
    only(body, ["CommandId", "InstanceId", "MaxResults", "NextToken", "Filters", "Details"])
    cid = need(body, "CommandId", str, 36, 36, required=False)
    need(body, "MaxResults", int, 1, 50, required=False)
    if cid is None:
        raise Invalid("ValidationException", "this stand-in lists invocations by CommandId only")
    inv = invocations(cid, headers)
    with LOCK:
        rows = [{"CommandId": cid, "InstanceId": i, "Status": s, "StatusDetails": s}
                for i, s in sorted(inv.items())]
    return {"CommandInvocations": rows}


def terminate_session(body, headers):
    only(body, ["SessionId"])
    sid = need(body, "SessionId", str, 1, 96)
    with LOCK:
        if SESSIONS.get(sid) == "Active":
            SESSIONS[sid] = "Terminated"
    # The documented trap: success whatever the session's state.
    return {"SessionId": sid}


def describe_sessions(body, headers):
    only(body, ["State", "MaxResults", "NextToken", "Filters"])
    state = need(body, "State", str)
    if state not in ("Active", "History"):
        raise Invalid("ValidationException", f"State must be Active or History, got {state!r}")
    need(body, "MaxResults", int, 1, 200, required=False)
    filters = need(body, "Filters", list, 1, 6, required=False) or []
    want = None
    for f in filters:
        if not isinstance(f, dict) or set(f) != {"key", "value"}:
            raise Invalid("ValidationException", f"a session filter is {{key, value}}: {f!r}")
        if f["key"] not in SESSION_FILTER_KEYS:
            raise Invalid("ValidationException", f"unknown session filter key {f['key']!r}")
        if f["key"] == "SessionId":
            want = f["value"]
    with LOCK:
        rows = [{"SessionId": s, "Status": "Connected" if st == "Active" else "Terminated"}
                for s, st in sorted(SESSIONS.items())
                if (st == "Active") == (state == "Active") and (want is None or s == want)]
    return {"Sessions": rows}


HANDLED = {
    "CancelCommand": cancel_command,
    "ListCommandInvocations": list_command_invocations,
    "TerminateSession": terminate_session,
    "DescribeSessions": describe_sessions,
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, payload, content_type="application/x-amz-json-1.1"):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        op = target.split(".", 1)[-1]
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self.reply(400, {"__type": "SerializationException", "message": "not JSON"})
        log(op, body)
        if op in HANDLED:
            if not target.startswith("AmazonSSM."):
                return self.reply(400, {"__type": "UnknownOperationException", "message": target})
            try:
                return self.reply(200, HANDLED[op](body, self.headers))
            except Invalid as e:
                return self.reply(e.status, {"__type": e.code, "message": e.message})
        req = urllib.request.Request(ARGS.moto + self.path, data=raw, method="POST")
        for k, v in self.headers.items():
            if k.lower() not in ("host", "content-length", "connection"):
                req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return self.reply(r.status, r.read(), r.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as e:
            return self.reply(e.code, e.read(), e.headers.get("Content-Type", ""))


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--moto", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--session", action="append", default=[])
    p.add_argument("--stuck", action="append", default=[])
    ARGS = p.parse_args()
    for s in ARGS.session:
        SESSIONS[s] = "Active"
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
