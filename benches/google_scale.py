#!/usr/bin/env python3
"""Requests and wall time of the Google probe for a Workspace customer of 20,000 users and
200 leavers and a Cloud organization of 500 projects (tests/harness/google_server.py
--generate-scale), with each strategy the planner can pick — the full users listing and
`users.get` / externalId lookups for the leavers — next to a naive per-leaver script: for each
leaver, get the user by email, list their grants, app passwords and role assignments, and search
the organization's IAM policies for `user:<email>`.

    .venv/bin/python benches/google_scale.py [--binary target/debug/residual] [--users 20000]
        [--leavers 200] [--projects 500] [--latency-ms 20] [--rate-limit 1000000]

--latency-ms is added to every answer (Google's own latency is tens of milliseconds);
--rate-limit is requests a minute per (API, caller): the Directory API's default quota is
2,400 a minute per user, Cloud Asset's searchAllIamPolicies far less.
"""

from __future__ import annotations

import argparse
import base64
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
SA = "residual-scanner@acme-sec.iam.gserviceaccount.com"
SCOPES = ["https://www.googleapis.com/auth/admin.directory.user.readonly",
          "https://www.googleapis.com/auth/admin.directory.user.security",
          "https://www.googleapis.com/auth/admin.directory.rolemanagement.readonly"]
CLOUD_SCOPE = "https://www.googleapis.com/auth/cloud-platform.read-only"


def keys(tmp: pathlib.Path) -> tuple[object, pathlib.Path, pathlib.Path]:
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric import rsa
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode()
    (tmp / "sa.pub.pem").write_bytes(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))
    (tmp / "sa.json").write_text(json.dumps({
        "type": "service_account", "project_id": "acme-sec", "private_key_id": "k1", "private_key": pem,
        "client_email": SA, "client_id": "104000000000000000001", "token_uri": "https://oauth2.googleapis.com/token"}))
    return k, tmp / "sa.json", tmp / "sa.pub.pem"


def start(args: list[str], tmp: pathlib.Path) -> tuple[subprocess.Popen, str]:
    return peers.start("google_server.py", args, tmp)


def scan(binary: str, tmp: pathlib.Path, base: str, key: pathlib.Path, meta: dict, strategy: str,
         out: str) -> dict:
    (tmp / "residual.toml").write_text(
        f'[scan]\nconcurrency = 16\n\n[[google]]\ncredentials_file = "{key}"\n'
        f'admin_subject = "{meta["subject"]}"\norganization = "{meta["organization"]}"\n'
        f'endpoint = "{base}"\nstrategy = "{strategy}"\n')
    t0 = time.monotonic()
    run = subprocess.run([binary, "scan", "--leavers", "leavers.csv", "--out", out, "--json", "--as-of",
                          "2026-11-26T12:00:00Z"], cwd=tmp, capture_output=True, text=True)
    secs = time.monotonic() - t0
    if run.returncode not in (0, 1):
        sys.exit(f"scan failed {run.returncode}: {run.stdout}\n{run.stderr}")
    systems = json.loads((tmp / out / "manifest.json").read_text())["systems"]
    summary = json.loads(run.stdout)
    return {"requests": sum(m["requests"] for m in systems), "seconds": round(secs, 2),
            "by_instance": {m["instance"]: m["requests"] for m in systems},
            "findings": summary["findings"]["total"], "coverage": summary.get("coverage"),
            "notes": [n for m in systems for n in m["notes"] if n.startswith("planner")]}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(base: str, key: object, scopes: list[str], subject: str | None) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    now = int(time.time())
    claims = {"iss": SA, "scope": " ".join(scopes), "aud": f"{base}/token", "iat": now, "exp": now + 3600}
    if subject:
        claims["sub"] = subject
    head = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "k1"}).encode()) + "." + b64(json.dumps(claims).encode())
    sig = key.sign(head.encode(), padding.PKCS1v15(), hashes.SHA256())
    body = urllib.parse.urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                   "assertion": head + "." + b64(sig)}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{base}/token", data=body), timeout=30) as r:
        return json.loads(r.read())["access_token"]


def naive(base: str, key: object, meta: dict) -> tuple[int, float, int]:
    """What a quick offboarding script does, one leaver at a time."""
    requests = 2  # the two tokens
    found = 0
    t0 = time.monotonic()
    ws = mint(base, key, SCOPES, meta["subject"])
    cloud = mint(base, key, [CLOUD_SCOPE], None)

    def get(path: str, token: str) -> dict | None:
        nonlocal requests
        requests += 1
        req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    for m in meta["leavers"]:
        email = m["email"]
        user = get(f"/admin/directory/v1/users/{urllib.parse.quote(email, safe='@')}", ws)
        if user is not None:
            found += 1
            uid = user["id"]
            get(f"/admin/directory/v1/users/{uid}/tokens", ws)
            get(f"/admin/directory/v1/users/{uid}/asps", ws)
            get(f"/admin/directory/v1/customer/{meta['customer']}/roleassignments?userKey={uid}", ws)
        query = urllib.parse.quote(f"policy:user:{email}")
        page = get(f"/v1/organizations/{meta['organization']}:searchAllIamPolicies?query={query}", cloud)
        while page and page.get("nextPageToken"):
            page = get(f"/v1/organizations/{meta['organization']}:searchAllIamPolicies?query={query}"
                       f"&pageToken={urllib.parse.quote(page['nextPageToken'])}", cloud)
    return requests, time.monotonic() - t0, found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "target/debug/residual"))
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--leavers", type=int, default=200)
    ap.add_argument("--projects", type=int, default=500)
    ap.add_argument("--latency-ms", default="20")
    ap.add_argument("--rate-limit", default="1000000")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        subprocess.check_call([PY, str(ROOT / "tests/harness/google_server.py"), "--generate-scale",
                               f"{args.users}:{args.leavers}:{args.projects}", "--dump-scenario",
                               str(tmp / "s.json"), "--dump-leavers", str(tmp / "leavers.csv")],
                              stdout=subprocess.DEVNULL)
        meta = json.loads((tmp / "s.json").read_text())["meta"]
        key, key_file, public = keys(tmp)
        proc, base = start(["--scenario", str(tmp / "s.json"), "--service-account", f"{SA}={public}",
                            "--delegate", f"{SA}={','.join(SCOPES)}", "--latency-ms", args.latency_ms,
                            "--rate-limit", args.rate_limit], tmp)
        try:
            result = {"users": args.users, "leavers": len(meta["leavers"]), "projects": args.projects,
                      "latency_ms": int(args.latency_ms), "rate_limit_per_minute": int(args.rate_limit)}
            for strategy in ("auto", "list", "lookup"):
                result[f"residual_{strategy}"] = scan(args.binary, tmp, base, key_file, meta, strategy,
                                                      f"r-{strategy}")
            try:
                n, t, found = naive(base, key, meta)
                result["naive_per_leaver"] = {"requests": n, "seconds": round(t, 2), "users_found": found}
            except urllib.error.HTTPError as e:
                # What a quick script does on a quota error: it stops.
                result["naive_per_leaver"] = {"failed": f"HTTP {e.code} {e.reason}"}
            print(json.dumps(result, indent=2))
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
