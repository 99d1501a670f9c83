"""What the benchmark scripts share: starting a test server from tests/harness/ on a free
127.0.0.1 port and waiting until it listens. Imported by the *_scale.py scripts beside it."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PY = sys.executable


def start(script: str, args: list[str], tmp: pathlib.Path, name: str | None = None,
          wait: float = 300) -> tuple[subprocess.Popen, str]:
    """Run tests/harness/<script> with a port file and a request log in `tmp`; return the
    process and its base URL. Exits with a message when the server does not come up."""
    name = name or pathlib.Path(script).stem
    port_file = tmp / f"{name}.port"
    proc = subprocess.Popen([PY, str(ROOT / "tests/harness" / script), "--port", "0", "--port-file",
                             str(port_file), "--request-log", str(tmp / f"{name}.log"), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + wait
    while not (port_file.exists() and port_file.read_text().strip()):
        if time.time() > deadline or proc.poll() is not None:
            sys.exit(f"{script} did not start")
        time.sleep(0.2)
    return proc, f"http://127.0.0.1:{port_file.read_text().strip()}"
