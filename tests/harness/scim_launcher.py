#!/usr/bin/env python3
"""Run the real scim2-server (PyPI `scim2-server`, 0.8.3) behind a small test-harness middleware.

Usage:
    python tests/harness/scim_launcher.py --port 0 --port-file F --request-log L
        [--bearer-token T]... [--page-size 20] [--max-results 1000] [--host 127.0.0.1]

The SCIM application is built the way the `scim2-server` command builds it (RFC 7643 schemas and
the User/Group resource types, in-memory storage, `BearerTokenApplication` accepting the
`--bearer-token` values; without any token every request is accepted). The advertised
ServiceProviderConfig is scim2-server's default with index pagination forced on:

    "pagination": {"cursor": false, "index": true, "defaultPaginationMethod": "index",
                   "defaultPageSize": P, "maxPageSize": P}
    "filter": {"supported": true, "maxResults": --max-results}

so a list never answers more than P resources, whatever `count` asks for. `--page-size 0`
keeps scim2-server's own configuration (no pagination section: everything in one page, up to
filter.maxResults). Endpoints live under `/v2` (`/v2/Users`); scim2-server also answers them
without the prefix.

The middleware adds what the integration tests need:

* a request log: one JSON line per SCIM request (control routes are not logged):
    {"ts": 1764331200.123, "method": "GET", "path": "/v2/Users", "query": "filter=...",
     "status": 200, "template": "/Users", "auth": "ok"|"bad"|"none"}
  `template` drops the /v2 prefix and replaces a resource id with `{id}`.
* fault injection, at `/_harness/faults`:
    POST   /_harness/faults   a rule or a list of rules (replaces the active ones):
        {"path_regex": "...", "method": "GET", "kind": "status"|"delay"|"garbage"|"reject_filter",
         "status": 503, "times": N, "delay_seconds": S, "retry_after": S, "message": "..."}
        `path_regex` is searched in the request path plus query ("/v2/Users?startIndex=21").
        `times`: uses before the rule is spent (default -1 = forever). Each request consumes at
        most the first matching rule.
        status: answer `status` (default 503) with a SCIM error body; `retry_after` (seconds)
            adds a Retry-After header (useful with 429/503).
        delay: sleep delay_seconds, then serve normally.
        garbage: 200 with a truncated JSON body.
        reject_filter: a request carrying a `filter` parameter gets 400
            {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
             "scimType": "invalidFilter", "detail": "..."}; requests without one pass untouched
            (and do not consume the rule).
    GET    /_harness/faults   active rules        DELETE /_harness/faults   clear them
* counters: GET /_harness/stats -> {"requests": n, "by_path": {template: n}, "by_status": {...}};
  DELETE /_harness/stats zeroes them.
* POST /_harness/reset clears faults, counters and every stored resource.

The port is written to --port-file (write-then-rename) once the socket listens. SIGTERM stops
the server cleanly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
from http import HTTPStatus
from socketserver import ThreadingMixIn
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from scim2_models import ScimProvider, ServiceProviderConfig

from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_json_resource,
)

from common import FaultRules, write_port_file  # tests/harness is on sys.path when these run

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
FAULT_KINDS = {"status", "delay", "garbage", "reject_filter"}
StartResponse = Callable[..., Any]

# /v2/Users/2819c223-7f76-453a-919d-413861904646 -> /Users/{id}
_RESOURCE_PATH = re.compile(r"^/(Users|Groups|Me|Bulk|Schemas|ResourceTypes|ServiceProviderConfig|\.search)"
                            r"(?:/([^/]+))?(/.*)?$")


def service_provider_config(page_size: int, max_results: int) -> dict:
    """scim2-server's default configuration, with index pagination of `page_size` forced."""
    config = load_json_resource("default-service-provider-config.json")
    config["filter"] = {"supported": True, "maxResults": max_results}
    if page_size > 0:
        config["pagination"] = {
            "cursor": False,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": page_size,
            "maxPageSize": page_size,
        }
    return config


def build_scim_app(tokens: list[str], page_size: int, max_results: int) -> tuple[Any, dict]:
    """The WSGI application scim2-server's CLI would build, and the config it advertises."""
    raw_config = service_provider_config(page_size, max_results)
    config = ServiceProviderConfig.model_validate(raw_config)
    if tokens:
        config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config)
    secret = os.environ.get("SCIM2_SERVER_SECRET") or secrets.token_urlsafe(32)
    service = ScimService(provider, secret=secret)
    app = BearerTokenApplication(InMemoryStorage(), provider, service=service, bearer_tokens=tokens)
    return app, raw_config


def template_of(path: str) -> str:
    p = path
    if p == "/v2" or p.startswith("/v2/"):
        p = p[3:] or "/"
    p = p.removesuffix(".scim")
    m = _RESOURCE_PATH.match(p)
    if not m:
        return p
    kind, ident, rest = m.groups()
    if ident is None:
        return f"/{kind}"
    if kind in ("Users", "Groups"):
        return f"/{kind}/{{id}}" + (rest or "")
    return f"/{kind}/{{name}}" + (rest or "")


def Faults() -> FaultRules:  # noqa: N802 - kept as the class name call sites use
    """SCIM faults: `reject_filter` only applies to requests that carry a filter."""
    return FaultRules(FAULT_KINDS, skip=lambda rule, ctx: rule["kind"] == "reject_filter" and not ctx.get("has_filter"))


class HarnessMiddleware:
    """Logging, counters and fault injection in front of the scim2-server WSGI application."""

    def __init__(self, make_app: Callable[[], Any], tokens: list[str], request_log: str | None):
        self.make_app = make_app
        self.app = make_app()
        self.tokens = set(tokens)
        self.faults = Faults()
        self.lock = threading.Lock()
        self.stats: dict[str, Any] = {"requests": 0, "by_path": {}, "by_status": {}}
        self.log_fh = open(request_log, "a", encoding="utf-8") if request_log else None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        query = environ.get("QUERY_STRING", "")
        if path.startswith("/_harness/"):
            return self.control(method, path, environ, start_response)

        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Any:
            captured["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        params = dict(parse_qsl(query, keep_blank_values=True))
        rule = self.faults.take(method, path + (f"?{query}" if query else ""), has_filter="filter" in params)
        body: Iterable[bytes]
        if rule is not None and rule["kind"] == "delay":
            time.sleep(rule["delay_seconds"])
            rule = None
        if rule is None:
            body = self.app(environ, capture)
        else:
            body = self._fault(rule, params, capture)
        self._record(method, path, query, captured.get("status", 0), self._auth_kind(environ))
        return body

    def _auth_kind(self, environ: dict[str, Any]) -> str:
        header = environ.get("HTTP_AUTHORIZATION")
        if not header:
            return "none"
        scheme, _, token = header.partition(" ")
        if not self.tokens:
            return "ok"
        return "ok" if scheme.lower() == "bearer" and token in self.tokens else "bad"

    @staticmethod
    def _json(start_response: StartResponse, status: int, payload: Any, reason: str,
              extra: list[tuple[str, str]] | None = None, raw: bytes | None = None) -> list[bytes]:
        data = raw if raw is not None else json.dumps(payload).encode()
        headers = [("Content-Type", "application/scim+json"), ("Content-Length", str(len(data)))]
        start_response(f"{status} {reason}", headers + (extra or []))
        return [data]

    def _fault(self, rule: dict, params: dict, start_response: StartResponse) -> list[bytes]:
        kind = rule["kind"]
        if kind == "garbage":
            return self._json(start_response, 200, None, "OK",
                              raw=b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Resou')
        if kind == "reject_filter":
            detail = rule["message"] or f"The filter is not supported: {params.get('filter', '')!r}"
            return self._json(start_response, 400, {"schemas": [ERROR_SCHEMA], "status": "400",
                                                    "scimType": "invalidFilter", "detail": detail}, "Bad Request")
        status = rule["status"] or 503
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Injected"
        extra = [("Retry-After", str(int(rule["retry_after"])))] if rule["retry_after"] is not None else []
        detail = rule["message"] or f"Injected fault: {reason}"
        return self._json(start_response, status, {"schemas": [ERROR_SCHEMA], "status": str(status),
                                                   "detail": detail}, reason, extra)

    def _record(self, method: str, path: str, query: str, status: int, auth: str) -> None:
        template = template_of(path)
        with self.lock:
            self.stats["requests"] += 1
            self.stats["by_path"][template] = self.stats["by_path"].get(template, 0) + 1
            code = str(status)
            self.stats["by_status"][code] = self.stats["by_status"].get(code, 0) + 1
            if self.log_fh is not None:
                self.log_fh.write(json.dumps({
                    "ts": round(time.time(), 3), "method": method, "path": path, "query": query,
                    "status": status, "template": template, "auth": auth,
                }) + "\n")
                self.log_fh.flush()

    def control(self, method: str, path: str, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        def ok(payload: Any, status: int = 200) -> list[bytes]:
            data = json.dumps(payload).encode()
            start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                           [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
            return [data]

        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            if path == "/_harness/faults":
                if method == "POST":
                    self.faults.replace(json.loads(body or b"[]"))
                elif method == "DELETE":
                    self.faults.clear()
                elif method != "GET":
                    return ok({"error": "method not allowed"}, 405)
                return ok({"rules": self.faults.snapshot()})
            if path == "/_harness/stats":
                with self.lock:
                    if method == "DELETE":
                        self.stats = {"requests": 0, "by_path": {}, "by_status": {}}
                    return ok(json.loads(json.dumps(self.stats)))
            if path == "/_harness/reset" and method == "POST":
                self.faults.clear()
                with self.lock:
                    self.stats = {"requests": 0, "by_path": {}, "by_status": {}}
                    self.app = self.make_app()
                return ok({"reset": True})
        except (ValueError, re.error) as exc:
            return ok({"error": str(exc)}, 400)
        return ok({"error": f"no harness route {method} {path}"}, 404)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass



def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True, help="0 picks a free port")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port-file")
    ap.add_argument("--request-log")
    ap.add_argument("--bearer-token", action="append", default=[], metavar="TOKEN",
                    help="accepted bearer token (repeatable); none = accept every request")
    ap.add_argument("--page-size", type=int, default=20,
                    help="defaultPageSize = maxPageSize advertised and enforced (0 = scim2-server default)")
    ap.add_argument("--max-results", type=int, default=1000, help="filter.maxResults")
    ap.add_argument("--dump-config", metavar="FILE", help="also write the ServiceProviderConfig used")
    args = ap.parse_args(argv)

    def make_app() -> Any:
        app, raw = build_scim_app(args.bearer_token, args.page_size, args.max_results)
        if args.dump_config:
            with open(args.dump_config, "w", encoding="utf-8") as fh:
                json.dump(raw, fh, indent=2)
        return app

    middleware = HarnessMiddleware(make_app, args.bearer_token, args.request_log)
    server = make_server(args.host, args.port, middleware, server_class=ThreadingWSGIServer,
                         handler_class=QuietHandler)
    if args.port_file:
        write_port_file(args.port_file, server.server_port)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
