#!/usr/bin/env python3
"""The AWS request floor (issue 11.3), both report paths, side by side in one run.

    cargo build --release && .venv/bin/python benches/aws_floor.py [--users 2000] [--leavers 200]

One moto account of N users joined to the HR list through an `email` tag (no aws_username
column); about 45% of the leavers hold access keys (some two, made in the same second), 10% a
console password. Three runs against the same estate:

* `residual`, fresh report: the first GenerateCredentialReport of the server answers STARTED;
* `residual`, reused report: the next one answers COMPLETE (IAM reuses a report for four
  hours), so nothing the report says is trusted without a per-user call;
* a Python credential-report + authorization-details script: report, GAAD, then per leaver
  ListSSHPublicKeys and, when the report shows a key, ListAccessKeys.

Requests are counted from the server's log. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

ROOT = pathlib.Path(__file__).resolve().parent.parent
PY = sys.executable


def iam_client(endpoint: str, pool: int = 32):
    return boto3.client(
        "iam", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing-secret-key",
        config=Config(max_pool_connections=pool, retries={"max_attempts": 3, "mode": "standard"}),
    )


def seed(endpoint: str, users: int, leavers: int) -> list[str]:
    iam = iam_client(endpoint)
    step = max(1, users // leavers)

    def make(i: int) -> None:
        name = f"user{i:05d}"
        iam.create_user(UserName=name, Tags=[{"Key": "email", "Value": f"{name}@acme.example"}])
        if i % 9 < 4:
            iam.create_access_key(UserName=name)
            if i % 9 == 0:
                iam.create_access_key(UserName=name)
        if i % 10 == 0:
            iam.create_login_profile(UserName=name, Password="Correct-Horse-9!")

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(make, range(users)))
    return [f"user{i:05d}@acme.example" for i in range(0, users, step)][:leavers]


def script_audit(endpoint: str, emails: list[str]) -> dict:
    """What a careful script does: the report and GAAD, then the per-user calls they cannot
    replace for the leavers' users."""
    iam = iam_client(endpoint, pool=4)
    sent = 0

    def count(**_):
        nonlocal sent
        sent += 1

    iam.meta.events.register("before-send.iam", count)
    t = time.monotonic()
    while iam.generate_credential_report()["State"] != "COMPLETE":
        time.sleep(0.2)
    report = list(csv.DictReader(io.StringIO(iam.get_credential_report()["Content"].decode())))
    by_user = {r["user"]: r for r in report}
    users = []
    marker = None
    while True:
        page = iam.get_account_authorization_details(Filter=["User"], **({"Marker": marker} if marker else {}))
        users += page["UserDetailList"]
        if not page.get("IsTruncated"):
            break
        marker = page["Marker"]
    want = set(emails)
    for u in users:
        tags = {t["Key"]: t["Value"] for t in u.get("Tags", [])}
        if tags.get("email") not in want:
            continue
        iam.list_ssh_public_keys(UserName=u["UserName"])
        row = by_user.get(u["UserName"], {})
        if row.get("access_key_1_active") == "true" or row.get("access_key_2_active") == "true":
            iam.list_access_keys(UserName=u["UserName"])
    return {"requests": sent, "seconds": round(time.monotonic() - t, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "target/release/residual"))
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--leavers", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        port_file, log = tmp / "port", tmp / "requests.jsonl"
        server = subprocess.Popen(
            [PY, str(ROOT / "tests/harness/moto_launcher.py"), "--port", "0", "--port-file", str(port_file), "--request-log", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.time() + 60
            while not port_file.exists() or not port_file.read_text().strip():
                if time.time() > deadline or server.poll() is not None:
                    sys.exit("moto did not start")
                time.sleep(0.1)
            endpoint = f"http://127.0.0.1:{port_file.read_text().strip()}"
            emails = seed(endpoint, args.users, args.leavers)
            (tmp / "leavers.csv").write_text("email,departure_date\n" + "".join(f"{e},2026-11-01\n" for e in emails))
            (tmp / "residual.toml").write_text(f'[[aws]]\nname = "floor"\nendpoint_url = "{endpoint}"\n')
            env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing-secret-key", AWS_EC2_METADATA_DISABLED="true")

            def run(out: str) -> dict:
                before = len(log.read_text().splitlines())
                t = time.monotonic()
                p = subprocess.run([args.binary, "scan", "--leavers", "leavers.csv", "--out", out, "--json"], cwd=tmp, env=env, capture_output=True, text=True)
                wall = time.monotonic() - t
                if p.returncode not in (0, 1):
                    sys.exit(f"scan failed ({p.returncode}): {p.stdout}\n{p.stderr}")
                lines = [json.loads(l) for l in log.read_text().splitlines()[before:]]
                notes = json.loads((tmp / out / "manifest.json").read_text())["systems"][0]["notes"]
                return {
                    "requests": len(lines),
                    "seconds": round(wall, 2),
                    "findings": json.loads(p.stdout)["findings"]["total"],
                    "by_action": dict(sorted(collections.Counter(l["action"] for l in lines).items())),
                    "report": next((n for n in notes if n.startswith("credential report")), ""),
                }

            fresh = run("fresh")
            reused = run("reused")
            before = len(log.read_text().splitlines())
            script = script_audit(endpoint, emails)
            script["requests_server_log"] = len(log.read_text().splitlines()) - before
            print(json.dumps({
                "users": args.users, "leavers": len(emails),
                "residual_fresh_report": fresh,
                "residual_reused_report": reused,
                "report_script": script,
                "fresh_vs_script": {"requests": f"{fresh['requests']} vs {script['requests']}", "seconds": f"{fresh['seconds']} vs {script['seconds']}"},
                "reused_vs_fresh_requests": round(reused["requests"] / max(1, fresh["requests"]), 2),
            }, indent=2))
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
