#!/usr/bin/env python3
"""Requests and wall time of the Microsoft probe for a tenant of 50,000 users and 500 leavers
with 10 Azure subscriptions (tests/harness/msgraph_server.py --generate-scale), with each
strategy the planner can pick — the users listing (999 a page, checked against $count) and
$filter lookups for the leavers — next to a naive per-leaver script: for each leaver, get the
user by UPN, then their groups, owned objects, delegated grants, app role assignments and
directory role assignments, and every subscription's role assignments filtered to them.

    .venv/bin/python benches/microsoft_scale.py [--binary target/debug/residual]
        [--users 50000] [--leavers 500] [--subscriptions 10] [--latency-ms 20]

--latency-ms is added to every answer (Graph's own latency is tens of milliseconds).
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
SECRET = "bench-client-secret-0001"
PERMS = "User.Read.All,Directory.Read.All,Application.Read.All,AuditLog.Read.All,RoleManagement.Read.Directory"


def start(args: list[str], tmp: pathlib.Path) -> tuple[subprocess.Popen, str]:
    return peers.start("msgraph_server.py", args, tmp)


def scan(binary: str, tmp: pathlib.Path, base: str, meta: dict, strategy: str, out: str) -> dict:
    (tmp / "residual.toml").write_text(
        f'[scan]\nconcurrency = 16\n\n[[microsoft]]\nname = "bench"\ntenant = "{meta["tenant"]}"\n'
        f'client_id = "{meta["clientId"]}"\nclient_secret_env = "MS_BENCH_SECRET"\n'
        f'endpoint = "{base}"\nstrategy = "{strategy}"\n')
    t0 = time.monotonic()
    run = subprocess.run([binary, "scan", "--leavers", "leavers.csv", "--out", out, "--json", "--as-of",
                          "2026-11-26T12:00:00Z"], cwd=tmp, capture_output=True, text=True,
                         env=dict(os.environ, MS_BENCH_SECRET=SECRET))
    secs = time.monotonic() - t0
    if run.returncode not in (0, 1):
        sys.exit(f"scan failed {run.returncode}: {run.stdout}\n{run.stderr}")
    m = json.loads((tmp / out / "manifest.json").read_text())["systems"][0]
    summary = json.loads(run.stdout)
    return {"requests": m["requests"], "seconds": round(secs, 2), "findings": summary["findings"]["total"],
            "coverage": summary.get("coverage"), "notes": [n for n in m["notes"] if not n.startswith("demo")]}


def naive(base: str, meta: dict) -> tuple[int, float, int]:
    """What a quick offboarding script does, one leaver at a time."""
    requests = 0
    found = 0
    t0 = time.monotonic()

    def call(req: urllib.request.Request) -> bytes | None:
        nonlocal requests
        requests += 1
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            sys.exit(f"naive script: HTTP {e.code} for {req.full_url}: {e.read()[:300]!r}")

    def token(scope: str) -> str:
        body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": meta["clientId"],
                                       "client_secret": SECRET, "scope": scope}).encode()
        return json.loads(call(urllib.request.Request(f"{base}/{meta['tenant']}/oauth2/v2.0/token",
                                                      data=body)))["access_token"]

    graph = token("https://graph.microsoft.com/.default")
    arm = token("https://management.azure.com/.default")

    def get(path: str, tok: str) -> dict | None:
        b = call(urllib.request.Request(base + path, headers={"Authorization": f"Bearer {tok}"}))
        return None if b is None else json.loads(b)

    subs = [s["subscriptionId"] for s in get("/subscriptions?api-version=2022-12-01", arm)["value"]]
    for m in meta["leavers"]:
        user = get(f"/v1.0/users/{urllib.parse.quote(m['email'], safe='@')}", graph)
        if user is None:
            continue
        found += 1
        uid = user["id"]
        for p in ("transitiveMemberOf", "ownedObjects", "oauth2PermissionGrants", "appRoleAssignments"):
            get(f"/v1.0/users/{uid}/{p}", graph)
        f = urllib.parse.quote(f"principalId eq '{uid}'")
        get(f"/v1.0/roleManagement/directory/roleAssignments?$filter={f}", graph)
        for s in subs:
            get(f"/subscriptions/{s}/providers/Microsoft.Authorization/roleAssignments"
                f"?api-version=2022-04-01&$filter={f}", arm)
    return requests, time.monotonic() - t0, found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "target/debug/residual"))
    ap.add_argument("--users", type=int, default=50000)
    ap.add_argument("--leavers", type=int, default=500)
    ap.add_argument("--subscriptions", type=int, default=10)
    ap.add_argument("--latency-ms", default="20")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        subprocess.check_call([PY, str(ROOT / "tests/harness/msgraph_server.py"), "--generate-scale",
                               f"{args.users}:{args.leavers}:{args.subscriptions}", "--dump-scenario",
                               str(tmp / "s.json"), "--dump-leavers", str(tmp / "leavers.csv")],
                              stdout=subprocess.DEVNULL)
        meta = json.loads((tmp / "s.json").read_text())["meta"]
        client = meta["clientId"]
        proc, base = start(["--scenario", str(tmp / "s.json"), "--client", f"{client}={SECRET}",
                            "--grant", f"{client}={PERMS}", "--arm-reader", f"{client}=*",
                            "--latency-ms", args.latency_ms], tmp)
        try:
            result = {"users": args.users, "leavers": len(meta["leavers"]), "subscriptions": args.subscriptions,
                      "latency_ms": int(args.latency_ms)}
            for strategy in ("auto", "list", "lookup"):
                result[f"residual_{strategy}"] = scan(args.binary, tmp, base, meta, strategy, f"r-{strategy}")
            n, t, found = naive(base, meta)
            result["naive_per_leaver"] = {"requests": n, "seconds": round(t, 2), "users_found": found}
            print(json.dumps(result, indent=2))
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
