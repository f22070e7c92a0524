#!/usr/bin/env python3
"""moto server with one request at a time, for tests of conditional writes under contention.

moto's DynamoDB checks a ConditionExpression and then stores the item in two steps, with no
lock between its request threads, so two PutItem calls conditioned on the same version can
both succeed (a lost update that DynamoDB, which applies the check and the write atomically,
never allows). This runs the same moto application as `moto_server`, threaded so keep-alive
connections from many clients are served, but with each request handled under one lock:
every conditional write is atomic, as in DynamoDB. Clients still race (they read, compute
and write concurrently), so conflicting writes still happen and are retried.

Usage: .venv/bin/python scripts/moto-serialized.py -H 127.0.0.1 -p PORT
"""

import argparse
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        parser.error("loopback addresses only")

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            # The whole response is produced inside the lock.
            return list(app(environ, start_response))

    run_simple(
        args.host,
        args.port,
        serialized,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
