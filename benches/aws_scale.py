#!/usr/bin/env python3
"""Whole-scan request count and wall time on a moto account of 2,000 IAM users with 200
leavers, next to the naive per-leaver audit (tests/harness/naive_audit.py).

    .venv/bin/python benches/aws_scale.py [--binary target/release/residual] [--users 2000] [--leavers 200]

Starts its own moto (tests/harness/moto_launcher.py), seeds it, runs `residual scan`, and
counts requests three ways: the server's request log, the manifest's own count, and per
action. Prints one JSON object. This is a measurement script, not a test.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PY = sys.executable


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "target/debug/residual"))
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--leavers", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        port_file, log = tmp / "port", tmp / "requests.jsonl"
        server = subprocess.Popen(
            [PY, str(ROOT / "tests/harness/moto_launcher.py"), "--port", "0", "--port-file", str(port_file), "--request-log", str(log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.time() + 60
            while not port_file.exists() or not port_file.read_text().strip():
                if time.time() > deadline or server.poll() is not None:
                    sys.exit("moto did not start")
                time.sleep(0.1)
            endpoint = f"http://127.0.0.1:{port_file.read_text().strip()}"
            seeded = json.loads(
                subprocess.check_output(
                    [PY, str(ROOT / "tests/harness/seed_iam.py"), "--endpoint", endpoint, "--scenario", "scale", "--users", str(args.users), "--leavers", str(args.leavers)]
                )
            )
            leavers = seeded["leaver_usernames"]
            (tmp / "leavers.csv").write_text(
                "email,departure_date,aws_username\n" + "".join(f"{u}@acme.example,2026-11-01,{u}\n" for u in leavers)
            )
            (tmp / "residual.toml").write_text(
                f'[scan]\nconcurrency = {args.concurrency}\n\n[[aws]]\nname = "scale"\nendpoint_url = "{endpoint}"\n'
            )
            before = len(log.read_text().splitlines())
            env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true")
            t0 = time.monotonic()
            run = subprocess.run([args.binary, "scan", "--leavers", "leavers.csv", "--out", "r", "--json"], cwd=tmp, env=env, capture_output=True, text=True)
            scan_seconds = time.monotonic() - t0
            if run.returncode not in (0, 1):
                sys.exit(f"scan failed ({run.returncode}): {run.stdout}\n{run.stderr}")
            lines = [json.loads(l) for l in log.read_text().splitlines()[before:]]
            by_action = collections.Counter(l.get("action") for l in lines)
            manifest = json.loads((tmp / "r/manifest.json").read_text())
            summary = json.loads(run.stdout)

            (tmp / "leavers.txt").write_text("\n".join(leavers))
            naive = json.loads(
                subprocess.check_output([PY, str(ROOT / "tests/harness/naive_audit.py"), "--endpoint", endpoint, "--leavers-usernames", str(tmp / "leavers.txt")])
            )
            print(json.dumps({
                "users": args.users,
                "leavers": len(leavers),
                "residual": {
                    "requests_server_log": len(lines),
                    "requests_manifest": manifest["systems"][0]["requests"],
                    "seconds": round(scan_seconds, 2),
                    "by_action": dict(sorted(by_action.items())),
                    "findings": summary["findings"]["total"],
                    "notes": manifest["systems"][0]["notes"],
                },
                "naive_per_leaver": naive,
            }, indent=2))
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
