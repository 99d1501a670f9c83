"""What the harness servers share: the port file they write once listening, fault
injection rules (github_server.py, salesforce_server.py, scim_launcher.py), and the HTTP
plumbing of servers whose API object answers whole requests (google_server.py,
msgraph_server.py: `serve`).

A test posts a list of rules to `POST /_harness/faults`; each request then takes the first rule
that matches its method and path (`path_regex`), and the server applies the rule's `kind`
(answer an error status, delay, send garbage, ...). `times` counts matches down; a rule at 0
stops applying. Servers differ only in the kinds they know, a few extra keys, which kinds fire
once by default, and optional extra conditions (`skip`).
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable

def write_port_file(path: str, port: int) -> None:
    """Write the port, then rename, so a poller never reads a half-written file."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(f"{port}\n")
    os.replace(tmp, path)


BASE_KEYS = {"path_regex", "method", "kind", "status", "times", "delay_seconds", "retry_after", "message"}


class FaultRules:
    def __init__(
        self,
        kinds: Iterable[str],
        *,
        extra: dict[str, Callable[[Any], Any]] | None = None,
        once: Iterable[str] = (),
        retry_after_default: Any = None,
        skip: Callable[[dict, dict], bool] | None = None,
    ) -> None:
        """`extra` maps each additional key to a converter of its (possibly absent) value;
        `once` names kinds whose `times` defaults to 1 (else unlimited, -1); `skip(rule, ctx)`
        vetoes a match given the request context passed to `take`."""
        self.kinds = set(kinds)
        self.extra = dict(extra or {})
        self.once = set(once)
        self.retry_after_default = retry_after_default
        self.skip = skip
        self.lock = threading.Lock()
        self.rules: list[dict] = []

    def replace(self, rules: Any) -> None:
        if isinstance(rules, dict):
            rules = [rules]
        if not isinstance(rules, list):
            raise ValueError("expected a rule object or a list of rules")
        clean = []
        for rule in rules:
            if not isinstance(rule, dict) or rule.get("kind") not in self.kinds:
                raise ValueError(f"bad rule {rule!r}: kind must be one of {sorted(self.kinds)}")
            unknown = set(rule) - BASE_KEYS - set(self.extra)
            if unknown:
                raise ValueError(f"bad rule {rule!r}: unknown keys {sorted(unknown)}")
            pattern = rule.get("path_regex") or ""
            re.compile(pattern)
            entry = {
                "path_regex": pattern,
                "method": (rule.get("method") or "").upper() or None,
                "kind": rule["kind"],
                "status": int(rule["status"]) if rule.get("status") is not None else None,
                "times": int(rule.get("times", 1 if rule["kind"] in self.once else -1)),
                "delay_seconds": float(rule.get("delay_seconds", 0)),
                "retry_after": rule["retry_after"] if "retry_after" in rule else self.retry_after_default,
                "message": rule.get("message"),
            }
            for key, convert in self.extra.items():
                entry[key] = convert(rule.get(key))
            clean.append(entry)
        with self.lock:
            self.rules = clean

    def clear(self) -> None:
        with self.lock:
            self.rules = []

    def snapshot(self) -> list[dict]:
        with self.lock:
            return [dict(r) for r in self.rules]

    def take(self, method: str, target: str, **ctx: Any) -> dict | None:
        with self.lock:
            for rule in self.rules:
                if rule["times"] == 0:
                    continue
                if rule["method"] and rule["method"] != method:
                    continue
                if rule["path_regex"] and not re.search(rule["path_regex"], target):
                    continue
                if self.skip is not None and self.skip(rule, ctx):
                    continue
                if rule["times"] > 0:
                    rule["times"] -= 1
                return dict(rule)
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def serve(api: Any, host: str, port: int, port_file: str | None, server_version: str,
          harness_error: Callable[[Exception], Any]) -> None:
    """Serve `api.handle(method, path, headers, body, base) -> reply` until SIGTERM. A reply
    has `status`, `headers` (name, value pairs), `body` and `hang` (seconds to hold the
    connection, then close it unanswered). An exception in the API is a harness bug: it is
    answered with `harness_error(exc)`, never a hung client."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def version_string(self) -> str:
            return server_version

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            base = f"http://{headers.get('host') or '127.0.0.1'}"
            try:
                reply = api.handle(self.command, self.path, headers, body, base)
            except Exception as exc:  # noqa: BLE001
                reply = harness_error(exc)
            if reply.hang:
                time.sleep(reply.hang)
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _serve

    server = _Server((host, port), Handler)
    if port_file:
        write_port_file(port_file, server.server_address[1])
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(0)))
    try:
        server.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
