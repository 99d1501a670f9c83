#!/usr/bin/env python3
"""An AWS organization at scale (issue 11.4): N member accounts of M IAM users each, L leavers
spread over them (users joined by an `email` tag), scanned through AssumeRole; next to a naive
script that, in every account, asks for every leaver by name (GetUser) and audits the users it
finds call by call. Then the same with twice the accounts, to show how both grow.

    cargo build --release && .venv/bin/python benches/aws_org_scale.py \
        [--accounts 20] [--users 500] [--leavers 100]

Requests are counted from the server's log; each size runs on a fresh moto. Prints JSON.
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

import boto3
from botocore.config import Config

ROOT = pathlib.Path(__file__).resolve().parent.parent
PY = sys.executable


def naive(endpoint: str, accounts: list[str], leaver_users: list[str]) -> dict:
    cfg = Config(retries={"max_attempts": 3, "mode": "standard"})
    base = dict(endpoint_url=endpoint, region_name="us-east-1", config=cfg)
    sts = boto3.client("sts", aws_access_key_id="testing", aws_secret_access_key="testing-secret-key", **base)
    sent = 0

    def count(**_):
        nonlocal sent
        sent += 1

    sts.meta.events.register("before-send", count)
    t = time.monotonic()
    for acct in accounts:
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{acct}:role/ResidualAudit", RoleSessionName="naive")["Credentials"]
        iam = boto3.client("iam", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"], **base)
        iam.meta.events.register("before-send", count)
        for name in leaver_users:
            try:
                iam.get_user(UserName=name)
            except iam.exceptions.NoSuchEntityException:
                continue
            for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
                iam.get_access_key_last_used(AccessKeyId=k["AccessKeyId"])
            try:
                iam.get_login_profile(UserName=name)
            except iam.exceptions.NoSuchEntityException:
                pass
            iam.list_ssh_public_keys(UserName=name)
            iam.list_signing_certificates(UserName=name)
            iam.list_service_specific_credentials(UserName=name)
            iam.list_groups_for_user(UserName=name)
            iam.list_attached_user_policies(UserName=name)
            iam.list_user_policies(UserName=name)
    return {"requests": sent, "seconds": round(time.monotonic() - t, 2)}


def one(binary: str, accounts: int, users: int, leavers: int) -> dict:
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
            t = time.monotonic()
            seeded = json.loads(subprocess.check_output(
                [PY, str(ROOT / "tests/harness/seed_org.py"), "--endpoint", endpoint, "--scenario", "scale",
                 "--accounts", str(accounts), "--users", str(users), "--leavers", str(leavers)]))
            seed_s = time.monotonic() - t
            emails = seeded["leavers"]
            (tmp / "leavers.csv").write_text("email,departure_date\n" + "".join(f"{e},2026-11-01\n" for e in emails))
            (tmp / "residual.toml").write_text(
                f'[[aws]]\nname = "org"\nendpoint_url = "{endpoint}"\norganization_role = "ResidualAudit"\nidentity_center = false\n')
            env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing-secret-key", AWS_EC2_METADATA_DISABLED="true")
            before = len(log.read_text().splitlines())
            t = time.monotonic()
            p = subprocess.run([binary, "scan", "--leavers", "leavers.csv", "--out", "r", "--json"], cwd=tmp, env=env, capture_output=True, text=True)
            wall = time.monotonic() - t
            if p.returncode not in (0, 1):
                sys.exit(f"scan failed ({p.returncode}): {p.stdout}\n{p.stderr[-2000:]}")
            ours = len(log.read_text().splitlines()) - before
            summary = json.loads(p.stdout)
            member_ids = list(seeded["accounts"].values())
            before = len(log.read_text().splitlines())
            n = naive(endpoint, member_ids, [e.split("@")[0] for e in emails])
            n["requests_server_log"] = len(log.read_text().splitlines()) - before
            return {
                "accounts": accounts, "users_per_account": users, "leavers": len(emails),
                "seed_seconds": round(seed_s, 1),
                "residual": {"requests": ours, "seconds": round(wall, 2), "findings": summary["findings"]["total"],
                             "instances": summary["systems"], "incomplete": summary["exit_code"] == 3},
                "naive_per_account_per_leaver": n,
            }
        finally:
            server.terminate()
            server.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "target/release/residual"))
    ap.add_argument("--accounts", type=int, default=20)
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--leavers", type=int, default=100)
    a = ap.parse_args()
    runs = [one(a.binary, a.accounts, a.users, a.leavers), one(a.binary, 2 * a.accounts, a.users, a.leavers)]
    print(json.dumps({"runs": runs, "growth_when_accounts_double": {
        "residual_requests": round(runs[1]["residual"]["requests"] / max(1, runs[0]["residual"]["requests"]), 2),
        "naive_requests": round(runs[1]["naive_per_account_per_leaver"]["requests"] / max(1, runs[0]["naive_per_account_per_leaver"]["requests"]), 2),
        "residual_seconds": round(runs[1]["residual"]["seconds"] / max(0.01, runs[0]["residual"]["seconds"]), 2),
        "naive_seconds": round(runs[1]["naive_per_account_per_leaver"]["seconds"] / max(0.01, runs[0]["naive_per_account_per_leaver"]["seconds"]), 2),
    }}, indent=2))


if __name__ == "__main__":
    main()
