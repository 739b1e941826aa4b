#!/usr/bin/python3
"""A gRPC C-core test peer (Debian's python3-grpcio): an xDS client or a (plain or xDS) server.

Test-only. gRPC C-core is an xDS implementation independent of grpc-js, and stricter in places,
so end-to-end tests run it next to grpc-js-xds. Driven by test/helpers/grpc-core-peer.ts.

  client --target xds:///host:port [--xds-creds]
      Keeps one channel open and answers JSON commands read from stdin, one per line:
        {"id": 1, "op": "call", "count": 10, "request": {...}, "metadata": {"k": "v"},
         "deadlineMs": 5000, "method": "/remora.test.Echo/Call", "concurrency": 1}
          -> {"id": 1, "results": [{"code": "OK", "reply": {...}}, {"code": "UNAVAILABLE",
              "details": "..."}]}
        {"id": 2, "op": "state"}  -> {"id": 2, "state": "READY"}
        {"op": "close"}           -> exits 0
      The bootstrap comes from GRPC_XDS_BOOTSTRAP (or GRPC_XDS_BOOTSTRAP_CONFIG).

  server --port N --name NAME [--host 127.0.0.1] [--xds] [--xds-creds]
      Serves /remora.test.Echo/Call: the reply is {"version": NAME, "impl": "c-core", "peer": ID}
      (ID: the caller's SPIFFE id from its certificate, "" over plain text); a request
      {"slowMs": n} answers after n ms, {"fail": "UNAVAILABLE"} fails with that status. With --xds
      it is an xDS-enabled server (its listener comes from the control plane); --xds-creds adds
      xDS server credentials (TLS and mTLS as the listener says, plain text otherwise). stdin commands:
        {"op": "fail", "every": 2}   fail every 2nd call with UNAVAILABLE (0: never)
        {"op": "stats"}              -> {"calls": n}
        {"op": "close"}
Every message the helper prints on stdout is one JSON object per line; the first one is
{"ready": true, ...}. C-core's own logs go to stderr.
"""

import argparse
import json
import sys
import threading
import time
from concurrent import futures

import grpc

DEFAULT_METHOD = "/remora.test.Echo/Call"


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def encode(obj):
    return json.dumps(obj).encode("utf-8")


def decode(data):
    return json.loads(data.decode("utf-8")) if data else {}


def commands():
    """The JSON commands on stdin, one per line (blank lines skipped, bad ones reported)."""
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            yield json.loads(line)
        except ValueError as err:
            emit({"error": "bad command: %s" % err})


def status_name(code):
    return code.name if isinstance(code, grpc.StatusCode) else str(code)


# ---- client --------------------------------------------------------------------------------


def one_call(stub, request, metadata, deadline_s):
    try:
        reply = stub(request, metadata=metadata, timeout=deadline_s)
        return {"code": "OK", "reply": reply}
    except grpc.RpcError as err:
        return {"code": status_name(err.code()), "details": err.details() or ""}


def run_client(args):
    if args.xds_creds:
        creds = grpc.xds_channel_credentials(grpc.local_channel_credentials())
        channel = grpc.secure_channel(args.target, creds)
    else:
        channel = grpc.insecure_channel(args.target)
    stubs = {}

    def stub_for(method):
        if method not in stubs:
            stubs[method] = channel.unary_unary(
                method, request_serializer=encode, response_deserializer=decode
            )
        return stubs[method]

    pool = futures.ThreadPoolExecutor(max_workers=16)
    emit({"ready": True, "role": "client", "grpc": grpc.__version__})
    for cmd in commands():
        op = cmd.get("op")
        cid = cmd.get("id")
        if op == "close":
            break
        if op == "state":
            # channel_ready_future also asks the channel to connect.
            ready = grpc.channel_ready_future(channel)
            try:
                ready.result(timeout=cmd.get("timeoutMs", 0) / 1000.0 or 0.001)
                state = "READY"
            except grpc.FutureTimeoutError:
                state = "NOT_READY"
            emit({"id": cid, "state": state})
            continue
        if op != "call":
            emit({"id": cid, "error": "unknown op %r" % op})
            continue
        stub = stub_for(cmd.get("method", DEFAULT_METHOD))
        count = int(cmd.get("count", 1))
        concurrency = max(1, int(cmd.get("concurrency", 1)))
        request = cmd.get("request", {})
        metadata = tuple((k.lower(), str(v)) for k, v in (cmd.get("metadata") or {}).items())
        deadline_s = cmd.get("deadlineMs", 5000) / 1000.0
        results = []
        done = 0
        while done < count:
            batch = min(concurrency, count - done)
            jobs = [pool.submit(one_call, stub, request, metadata, deadline_s) for _ in range(batch)]
            results.extend(job.result() for job in jobs)
            done += batch
        emit({"id": cid, "results": results})
    pool.shutdown(wait=False)
    channel.close()


# ---- server --------------------------------------------------------------------------------


class Echo:
    def __init__(self, name):
        self.name = name
        self.calls = 0
        self.fail_every = 0
        self.lock = threading.Lock()

    def call(self, request, context):
        with self.lock:
            self.calls += 1
            n = self.calls
        if self.fail_every and n % self.fail_every == 1 % self.fail_every:
            context.abort(grpc.StatusCode.UNAVAILABLE, "failing on purpose (call %d)" % n)
        fail = request.get("fail") if isinstance(request, dict) else None
        if fail:
            context.abort(getattr(grpc.StatusCode, fail, grpc.StatusCode.UNKNOWN), "asked to fail")
        slow = request.get("slowMs") if isinstance(request, dict) else None
        if slow:
            time.sleep(slow / 1000.0)
        return {"version": self.name, "impl": "c-core", "peer": peer_identity(context)}


def peer_identity(context):
    """The caller's SPIFFE id: the URI SAN of its certificate ("" without one)."""
    auth = context.auth_context() or {}
    for key in ("peer_spiffe_id", "x509_subject_alternative_name"):
        for value in auth.get(key, []):
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            if text.startswith("spiffe://"):
                return text
    return ""


def run_server(args):
    echo = Echo(args.name)
    handler = grpc.method_handlers_generic_handler(
        "remora.test.Echo",
        {
            "Call": grpc.unary_unary_rpc_method_handler(
                echo.call, request_deserializer=decode, response_serializer=encode
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), handlers=[handler], xds=args.xds)
    address = "%s:%d" % (args.host, args.port)
    if args.xds_creds:
        creds = grpc.xds_server_credentials(grpc.insecure_server_credentials())
        port = server.add_secure_port(address, creds)
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        emit({"ready": False, "error": "cannot bind %s" % address})
        sys.exit(1)
    server.start()
    emit({"ready": True, "role": "server", "port": port, "xds": args.xds, "grpc": grpc.__version__})
    for cmd in commands():
        op = cmd.get("op")
        if op == "close":
            break
        if op == "fail":
            echo.fail_every = int(cmd.get("every", 0))
            emit({"id": cmd.get("id"), "ok": True})
        elif op == "stats":
            emit({"id": cmd.get("id"), "calls": echo.calls})
    server.stop(grace=None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="role", required=True)
    c = sub.add_parser("client")
    c.add_argument("--target", required=True)
    c.add_argument("--xds-creds", action="store_true", help="xDS channel credentials (TLS from xDS)")
    s = sub.add_parser("server")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--xds", action="store_true")
    s.add_argument("--xds-creds", action="store_true", help="xDS server credentials (TLS from xDS)")
    args = parser.parse_args()
    if args.role == "client":
        run_client(args)
    else:
        run_server(args)


if __name__ == "__main__":
    main()
