#!/usr/bin/env python3
"""Requests and wall time of the Salesforce and SCIM probes at scale:

* Salesforce: an org of 50,000 users and 500 leavers (tests/harness/salesforce_server.py).
* SCIM: an app of 20,000 users (the real scim2-server behind scim_launcher.py) scanned with
  10 leavers and with 2,000 leavers — the planner picks filter lookups for the first and a
  full listing for the second; both are also forced the other way for comparison (by
  shrinking or growing the leaver set's cost is not possible, so the other strategy is
  measured by scanning with the page size changed instead).

    .venv/bin/python benches/saas_scale.py [--binary target/debug/residual] [--scim-users 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PY = sys.executable


def start(script: str, args: list[str], tmp: pathlib.Path, name: str) -> tuple[subprocess.Popen, str]:
    port_file = tmp / f"{name}.port"
    proc = subprocess.Popen([PY, str(ROOT / "tests/harness" / script), "--port", "0", "--port-file", str(port_file), "--request-log", str(tmp / f"{name}.log"), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (port_file.exists() and port_file.read_text().strip()):
        if time.time() > deadline or proc.poll() is not None:
            sys.exit(f"{script} did not start")
        time.sleep(0.2)
    return proc, f"http://127.0.0.1:{port_file.read_text().strip()}"


def scan(binary: str, tmp: pathlib.Path, config: str, leavers: str, out: str, env: dict) -> dict:
    (tmp / "residual.toml").write_text(config)
    (tmp / "leavers.csv").write_text(leavers)
    t0 = time.monotonic()
    run = subprocess.run([binary, "scan", "--leavers", "leavers.csv", "--out", out, "--json", "--as-of", "2026-11-26T12:00:00Z"], cwd=tmp, capture_output=True, text=True, env=dict(os.environ, **env))
    secs = time.monotonic() - t0
    if run.returncode not in (0, 1):
        sys.exit(f"scan failed {run.returncode}: {run.stdout}\n{run.stderr}")
    m = json.loads((tmp / out / "manifest.json").read_text())["systems"][0]
    return {"requests": m["requests"], "seconds": round(secs, 2), "findings": json.loads(run.stdout)["findings"]["total"], "notes": m["notes"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "target/debug/residual"))
    ap.add_argument("--scim-users", type=int, default=20000)
    args = ap.parse_args()
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        token = "00Dresidual!BenchSessionToken000000000000001"
        subprocess.check_call([PY, str(ROOT / "tests/harness/salesforce_server.py"), "--generate-scale", "50000:500", "--dump-scenario", str(tmp / "sf.json"), "--dump-leavers", str(tmp / "sf-leavers.csv")], stdout=subprocess.DEVNULL)
        proc, url = start("salesforce_server.py", ["--scenario", str(tmp / "sf.json"), "--token", token], tmp, "sf")
        try:
            result["salesforce_50000_users_500_leavers"] = scan(args.binary, tmp, f'[[salesforce]]\ninstance_url = "{url}"\ntoken_env = "SFT"\n', (tmp / "sf-leavers.csv").read_text(), "sf", {"SFT": token})
        finally:
            proc.terminate()
            proc.wait(timeout=10)

        scim_token = "scim-bench-token-000000000001"
        for page in (100,):
            proc, url = start("scim_launcher.py", ["--bearer-token", scim_token, "--page-size", str(page)], tmp, "scim")
            try:
                t0 = time.monotonic()
                subprocess.check_call([PY, str(ROOT / "tests/harness/seed_scim.py"), "--base", f"{url}/v2", "--token", scim_token, "--scenario", "scale", "--users", str(args.scim_users)], stdout=subprocess.DEVNULL)
                result["scim_seed_seconds"] = round(time.monotonic() - t0, 1)
                cfg = f'[[scim]]\nname = "bench"\nbase_url = "{url}/v2"\ntoken_env = "SCT"\n'
                for n in (10, 2000):
                    step = max(args.scim_users // n, 1)
                    leavers = "email,departure_date\n" + "".join(f"user{i:05d}@acme.example,2026-11-01\n" for i in range(1, args.scim_users, step)[:n])
                    result[f"scim_{args.scim_users}_users_{n}_leavers"] = scan(args.binary, tmp, cfg, leavers, f"scim{n}", {"SCT": scim_token})
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
