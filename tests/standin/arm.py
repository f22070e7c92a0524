#!/usr/bin/env python3
"""A local Azure Resource Manager and Microsoft Graph stand-in for the `cadet respond` tests.

It holds resources from a seed file and answers the calls containment makes, checking each
against the documented REST shape: the method, the path, the api-version each resource
provider's operation documents, a bearer token, and the body (required members of a run
command, extension, role assignment or network interface PUT; only `accountEnabled` in a
service principal PATCH; no body for revokeSignInSessions). A request that does not match is
answered 400 with an ARM error, so the executor's error handling is exercised too. Every
request is appended to --log as one JSON line {method, path, api_version, body}.

Seed file: {"resources": {RESOURCE_ID: BODY}, "graph": {"servicePrincipals": {ID: {...}},
"users": {ID: {...}}}, "bastionLinks": {BASTION_ID: [{"vm": {"id": VM_ID}, "bsl": URL,
"createdAt": TIME}]}}. Role assignments and Automation jobs are resources under their own ids;
a Bastion host's shareable links answer POST getShareableLinks and deleteShareableLinks, whose
body must be {"vms": [{"vm": {"id": …}}]}.

Loopback only: the test starts it on a free port and kills it.
"""
import argparse
import datetime
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
ARGS = None
RES = {}  # lower-cased id -> body
GRAPH = {}
LINKS = {}  # lower-cased Bastion host id -> [link]

# Documented api-versions this stand-in accepts, by resource provider.
API = {
    "microsoft.compute": {"2024-07-01"},
    "microsoft.hybridcompute": {"2025-01-13"},
    "microsoft.automation": {"2023-11-01"},
    "microsoft.authorization": {"2022-04-01"},
    "microsoft.network": {"2024-05-01"},
}

RUNNING = {"New", "Activating", "Running", "Resuming", "Queued", "Starting"}


class Fail(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def provider(path):
    parts = path.lower().split("/providers/")
    return parts[-1].split("/")[0] if len(parts) > 1 else ""


def kind(path):
    """The resource type the path names, e.g. microsoft.compute/virtualmachines/runcommands."""
    tail = path.lower().split("/providers/")[-1].split("/")
    return "/".join([tail[0]] + tail[1::2])


def require(body, *paths):
    for p in paths:
        v = body
        for k in p.split("."):
            if not isinstance(v, dict) or k not in v:
                raise Fail(400, "InvalidRequestContent", f"the request body has no {p}")
            v = v[k]


def check_put(path, body):
    k = kind(path)
    if not isinstance(body, dict):
        raise Fail(400, "InvalidRequestContent", "the body is not a JSON object")
    if k.endswith("/runcommands"):
        require(body, "location", "properties.source")
    elif k.endswith("/extensions"):
        require(body, "location", "properties.publisher", "properties.type",
                "properties.typeHandlerVersion")
    elif k == "microsoft.authorization/roleassignments":
        require(body, "properties.roleDefinitionId", "properties.principalId")
        if set(body) - {"properties"}:
            raise Fail(400, "InvalidRequestContent", "a role assignment body has only properties")
    elif k == "microsoft.network/networkinterfaces":
        require(body, "location", "properties.ipConfigurations")
    else:
        raise Fail(400, "UnsupportedResourceType", f"PUT of {k} is not expected")
    for ro in ("provisioningState", "instanceView"):
        if ro in body.get("properties", {}):
            raise Fail(400, "InvalidRequestContent", f"properties.{ro} is read-only")


def arm(method, path, query, body):
    prov = provider(path)
    version = query.get("api-version", [None])[0]
    if prov not in API:
        raise Fail(400, "InvalidResourceNamespace", f"unknown provider in {path}")
    if version not in API[prov]:
        raise Fail(400, "InvalidApiVersionParameter",
                   f"api-version {version!r} is not one this stand-in documents for {prov}")
    key = path.lower()
    with LOCK:
        if method == "GET" and key.endswith("/providers/microsoft.authorization/roleassignments"):
            if query.get("$filter") != ["atScope()"]:
                raise Fail(400, "InvalidFilter", "expected $filter=atScope()")
            scope = key.split("/providers/")[0]
            return 200, {"value": [v for k, v in RES.items()
                                    if k.startswith(scope + "/providers/microsoft.authorization/roleassignments/")]}
        if method == "GET" and key.endswith("/jobs"):
            f = query.get("$filter", [""])[0]
            if not f.startswith("properties/startTime ge "):
                raise Fail(400, "InvalidFilter", f"unexpected job filter {f!r}")
            since = f.split(" ge ", 1)[1]
            return 200, {"value": [v for k, v in RES.items() if k.startswith(key + "/")
                                    and v["properties"].get("startTime", "") >= since]}
        for verb in ("/getshareablelinks", "/deleteshareablelinks"):
            if method == "POST" and key.endswith(verb):
                vms = (body or {}).get("vms")
                if not isinstance(vms, list) or not vms or not all(
                        isinstance(v, dict) and isinstance(v.get("vm"), dict) and v["vm"].get("id")
                        for v in vms):
                    raise Fail(400, "InvalidRequestContent", 'expected {"vms": [{"vm": {"id": …}}]}')
                wanted = {v["vm"]["id"].lower() for v in vms}
                host = key[: -len(verb)]
                links = LINKS.setdefault(host, [])
                if verb == "/getshareablelinks":
                    return 200, {"value": [l for l in links if l["vm"]["id"].lower() in wanted]}
                LINKS[host] = [l for l in links if l["vm"]["id"].lower() not in wanted]
                return 202, None
        if method == "POST" and key.endswith("/stop") and "/jobs/" in key:
            job = RES.get(key[: -len("/stop")])
            if job is None:
                return 404, {"error": {"code": "NotFound", "message": path}}
            if body is not None:
                raise Fail(400, "InvalidRequestContent", "job stop takes no body")
            if job["properties"]["status"] in RUNNING:
                job["properties"]["status"] = "Stopped"
            return 200, None
        if method == "GET":
            if key in RES:
                return 200, RES[key]
            return 404, {"error": {"code": "ResourceNotFound", "message": path}}
        if method == "DELETE":
            if body is not None:
                raise Fail(400, "InvalidRequestContent", "DELETE takes no body")
            return (200, None) if RES.pop(key, None) is not None else (204, None)
        if method == "PUT":
            check_put(path, body)
            stored = json.loads(json.dumps(body))
            stored["id"] = path
            stored["name"] = path.rsplit("/", 1)[-1]
            stored.setdefault("properties", {})["provisioningState"] = "Succeeded"
            RES[key] = stored
            return 200, stored
    raise Fail(405, "MethodNotAllowed", f"{method} {path}")


def graph(method, path, query, body):
    parts = path.strip("/").split("/")  # v1.0, collection, id[, action]
    if parts[0] != "v1.0" or len(parts) < 3:
        raise Fail(400, "BadRequest", f"unexpected Graph path {path}")
    coll, oid = parts[1], parts[2]
    with LOCK:
        obj = GRAPH.get(coll, {}).get(oid)
        if obj is None:
            return 404, {"error": {"code": "Request_ResourceNotFound", "message": oid}}
        if method == "GET" and len(parts) == 3:
            sel = query.get("$select", [""])[0].split(",")
            return 200, {k: obj.get(k) for k in sel if k} if sel != [""] else obj
        if method == "PATCH" and coll == "servicePrincipals" and len(parts) == 3:
            if not isinstance(body, dict) or set(body) != {"accountEnabled"} \
                    or not isinstance(body["accountEnabled"], bool):
                raise Fail(400, "BadRequest", "expected exactly {accountEnabled: bool}")
            obj["accountEnabled"] = body["accountEnabled"]
            return 204, None
        if method == "POST" and coll == "users" and parts[3:] == ["revokeSignInSessions"]:
            if body is not None:
                raise Fail(400, "BadRequest", "revokeSignInSessions takes no body")
            obj["signInSessionsValidFromDateTime"] = datetime.datetime.now(
                datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            return 200, {"value": True}
    raise Fail(405, "MethodNotAllowed", f"{method} {path}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        body = json.loads(raw) if raw else None
        path = urllib.parse.unquote(url.path)
        is_graph = path.startswith("/v1.0/")
        with LOCK, open(ARGS.log, "a") as f:
            f.write(json.dumps({"method": self.command, "path": path,
                                "api_version": query.get("api-version", [None])[0],
                                "body": body}) + "\n")
        try:
            if not (self.headers.get("Authorization") or "").startswith("Bearer "):
                raise Fail(401, "AuthenticationFailed", "no bearer token")
            status, payload = (graph if is_graph else arm)(self.command, path, query, body)
        except Fail as e:
            status, payload = e.status, {"error": {"code": e.code, "message": e.message}}
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_DELETE = do_POST = do_PATCH = handle_any


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--seed", required=True)
    p.add_argument("--log", required=True)
    ARGS = p.parse_args()
    seed = json.load(open(ARGS.seed))
    for k, v in seed.get("resources", {}).items():
        RES[k.lower()] = v
    GRAPH.update(seed.get("graph", {}))
    for k, v in seed.get("bastionLinks", {}).items():
        LINKS[k.lower()] = v
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
