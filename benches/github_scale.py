#!/usr/bin/env python3
"""Requests and wall time of a GitHub scan: an org of 10,000 members, 1,000 repositories and
100 leavers (matched through SAML, as an HR file without GitHub logins needs), against
tests/harness/github_server.py with 20 ms latency per request — next to a naive per-leaver
script against the same server.

    .venv/bin/python benches/github_scale.py [--binary target/debug/residual] [--naive-sample 5]

The naive script walks, for each leaver, what it must: their membership, their SSO credential
authorizations, their fine-grained PAT grants, and every repository's deploy keys. It runs for
--naive-sample leavers and its cost is extrapolated linearly to all leavers (it is linear by
construction); both the measured and the extrapolated figures are printed.
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
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
PY = sys.executable
TOKEN = "ghp_residualBenchToken000000000000000001"


def start(args: list[str], tmp: pathlib.Path) -> tuple[subprocess.Popen, str]:
    port_file = tmp / "port"
    proc = subprocess.Popen(
        [PY, str(ROOT / "tests/harness/github_server.py"), "--port", "0", "--port-file", str(port_file), "--request-log", str(tmp / "log.jsonl"), *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while not (port_file.exists() and port_file.read_text().strip()):
        if time.time() > deadline or proc.poll() is not None:
            sys.exit("github_server did not start")
        time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port_file.read_text().strip()}"


def get(url: str) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.github+json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def next_link(headers: dict) -> str | None:
    for part in headers.get("Link", headers.get("link", "")).split(","):
        if 'rel="next"' in part:
            return part.split(";")[0].strip()[1:-1]
    return None


def naive(base: str, org: str, logins: list[str]) -> tuple[int, float]:
    n = 0
    t0 = time.monotonic()
    repos: list[str] = []
    url: str | None = f"{base}/orgs/{org}/repos?per_page=100"
    while url:
        _, h, body = get(url); n += 1
        repos += [r["full_name"] for r in json.loads(body)]
        url = next_link(h)
    for login in logins:
        get(f"{base}/orgs/{org}/memberships/{login}"); n += 1
        get(f"{base}/orgs/{org}/credential-authorizations?login={login}"); n += 1
        get(f"{base}/orgs/{org}/personal-access-tokens?owner[]={login}"); n += 1
        for full in repos:
            get(f"{base}/repos/{full}/keys?per_page=100"); n += 1
    return n, time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "target/debug/residual"))
    ap.add_argument("--spec", default="10000:1000:100")
    ap.add_argument("--latency-ms", default="20")
    ap.add_argument("--naive-sample", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        subprocess.check_call([PY, str(ROOT / "tests/harness/github_server.py"), "--generate-scale", args.spec, "--dump-scenario", str(tmp / "s.json"), "--dump-leavers", str(tmp / "leavers.csv")], stdout=subprocess.DEVNULL)
        scenario = json.loads((tmp / "s.json").read_text())
        leavers = [l["login"] for l in scenario["meta"]["leavers"]]
        key, pub = tmp / "app.pem", tmp / "app.pub.pem"
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives import serialization as s
        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key.write_bytes(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
        pub.write_bytes(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))
        proc, base = start(["--scenario", str(tmp / "s.json"), "--latency-ms", args.latency_ms, "--token", TOKEN, "--app-public-key", str(pub)], tmp)
        try:
            (tmp / "residual.toml").write_text(
                f'[scan]\nconcurrency = 16\n\n[[github]]\norg = "{scenario["org"]["login"]}"\napi_url = "{base}"\n'
                # The server's defaults when a scenario names no app.
                f'app_id = {scenario.get("app", {}).get("id", 424242)}\ninstallation_id = 7890123\nprivate_key_file = "{key}"\n'
            )
            t0 = time.monotonic()
            run = subprocess.run([args.binary, "scan", "--leavers", "leavers.csv", "--out", "r", "--json", "--as-of", "2026-11-26T12:00:00Z"], cwd=tmp, capture_output=True, text=True)
            seconds = time.monotonic() - t0
            if run.returncode not in (0, 1):
                sys.exit(f"scan failed {run.returncode}: {run.stdout}\n{run.stderr}")
            manifest = json.loads((tmp / "r/manifest.json").read_text())["systems"][0]
            sample = leavers[: args.naive_sample]
            n, t = naive(base, scenario["org"]["login"], sample)
            print(json.dumps({
                "org": args.spec, "latency_ms": int(args.latency_ms), "leavers": len(leavers),
                "residual": {"requests": manifest["requests"], "seconds": round(seconds, 2), "findings": json.loads(run.stdout)["findings"], "notes": manifest["notes"]},
                "naive_per_leaver": {"sampled_leavers": len(sample), "requests": n, "seconds": round(t, 2),
                                     "extrapolated_requests": round(n / len(sample) * len(leavers)),
                                     "extrapolated_seconds": round(t / len(sample) * len(leavers), 1)},
            }, indent=2))
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
