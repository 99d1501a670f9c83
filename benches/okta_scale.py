#!/usr/bin/env python3
"""Requests and wall time of the Okta probe for an org of 50,000 users and 500 leavers
(tests/harness/okta_server.py --generate-scale), with each strategy the planner can pick —
a full listing (plus the DEPROVISIONED filter) and `search` lookups for the leavers — next to
a naive per-leaver script: for each leaver, search the user by email, read their roles and
app links, and list the org's API tokens to find theirs.

    .venv/bin/python benches/okta_scale.py [--binary target/debug/residual] [--users 50000]
        [--leavers 500] [--latency-ms 20] [--rate-limit 1000000]

--latency-ms is added to every answer (Okta's own latency is tens of milliseconds);
--rate-limit is requests a minute per bucket (Okta's default buckets are 600 a minute for
the user endpoints: pass 600 to see the scan wait for resets).
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
import urllib.error
import urllib.parse
import urllib.request

import peers  # benches/peers.py, beside this script

ROOT = pathlib.Path(__file__).resolve().parent.parent
PY = sys.executable
TOKEN = "00oktaBenchToken000000000000000000000000001"


def start(args: list[str], tmp: pathlib.Path) -> tuple[subprocess.Popen, str]:
    return peers.start("okta_server.py", args, tmp)


def scan(binary: str, tmp: pathlib.Path, base: str, strategy: str, out: str) -> dict:
    (tmp / "residual.toml").write_text(
        f'[scan]\nconcurrency = 16\n\n[[okta]]\norg_url = "{base}"\ntoken_env = "OKTA_BENCH"\nstrategy = "{strategy}"\n')
    t0 = time.monotonic()
    run = subprocess.run([binary, "scan", "--leavers", "leavers.csv", "--out", out, "--json", "--as-of",
                          "2026-11-26T12:00:00Z"], cwd=tmp, capture_output=True, text=True,
                         env=dict(os.environ, OKTA_BENCH=TOKEN))
    secs = time.monotonic() - t0
    if run.returncode not in (0, 1):
        sys.exit(f"scan failed {run.returncode}: {run.stdout}\n{run.stderr}")
    m = json.loads((tmp / out / "manifest.json").read_text())["systems"][0]
    summary = json.loads(run.stdout)
    return {"requests": m["requests"], "seconds": round(secs, 2), "findings": summary["findings"]["total"],
            "coverage": summary.get("coverage"), "notes": m["notes"]}


def naive(base: str, emails: list[str]) -> tuple[int, float, int]:
    """What a quick offboarding script does, one leaver at a time."""
    requests = 0
    found = 0

    def get(path: str) -> object:
        nonlocal requests
        requests += 1
        req = urllib.request.Request(base + path, headers={"Authorization": f"SSWS {TOKEN}",
                                                          "Accept": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    t0 = time.monotonic()
    for e in emails:
        users = get("/api/v1/users?search=" + urllib.parse.quote(f'profile.email eq "{e}"'))
        for u in users:
            found += 1
            get(f"/api/v1/users/{u['id']}/roles")
            get(f"/api/v1/users/{u['id']}/appLinks")
            get("/api/v1/api-tokens")
    return requests, time.monotonic() - t0, found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "target/debug/residual"))
    ap.add_argument("--users", type=int, default=50000)
    ap.add_argument("--leavers", type=int, default=500)
    ap.add_argument("--latency-ms", default="20")
    ap.add_argument("--rate-limit", default="1000000")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        subprocess.check_call([PY, str(ROOT / "tests/harness/okta_server.py"), "--generate-scale",
                               f"{args.users}:{args.leavers}", "--dump-scenario", str(tmp / "s.json"),
                               "--dump-leavers", str(tmp / "leavers.csv")], stdout=subprocess.DEVNULL)
        scenario = json.loads((tmp / "s.json").read_text())
        emails = [m["email"] for m in scenario["meta"]["leavers"]]
        proc, base = start(["--scenario", str(tmp / "s.json"), "--token", f"{TOKEN}={scenario['meta']['scanner']}",
                            "--latency-ms", args.latency_ms, "--rate-limit", args.rate_limit], tmp)
        try:
            result = {"users": args.users, "leavers": len(emails), "latency_ms": int(args.latency_ms),
                      "rate_limit_per_minute": int(args.rate_limit)}
            for strategy in ("auto", "list", "search"):
                result[f"residual_{strategy}"] = scan(args.binary, tmp, base, strategy, f"r-{strategy}")
            try:
                n, t, found = naive(base, emails)
                result["naive_per_leaver"] = {"requests": n, "seconds": round(t, 2), "users_found": found}
            except urllib.error.HTTPError as e:
                # What a quick script does on Okta's rate limit: it stops.
                result["naive_per_leaver"] = {"failed": f"HTTP {e.code} {e.reason}"}
            print(json.dumps(result, indent=2))
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
