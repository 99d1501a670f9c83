#!/usr/bin/env python3
"""A 100-account AWS organization on moto (issue 16): one unsharded scan, then 4 shards run
one after another on the same machine and merged — wall time of each, their sum next to the
unsharded time (the overhead of sharding: every shard lists the organization and starts
afresh), and whether the merged report is the unsharded one (every evaluated file equal once
timestamps and the scan id are blanked).

    cargo build --release && .venv/bin/python benches/shards_org.py \
        [--binary target/release/residual] [--accounts 100] [--users 20] [--leavers 50] [--shards 4]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import peers  # benches/peers.py, beside this script

ROOT = pathlib.Path(__file__).resolve().parent.parent
PY = sys.executable
EVALUATED = ["findings.csv", "coverage.csv", "findings.json", "findings.ocsf.json", "summary.md"]
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?Z|\b\d{13}\b")


def normal(d: pathlib.Path, name: str) -> str:
    scan_id = json.loads((d / "manifest.json").read_text())["scan_id"]
    return TIME.sub("T", (d / name).read_text().replace(scan_id, "SCANID"))


def run(binary: str, tmp: pathlib.Path, env: dict, args: list[str]) -> float:
    t = time.monotonic()
    p = subprocess.run([binary, *args], cwd=tmp, env=env, capture_output=True, text=True)
    if p.returncode not in (0, 1, 3):
        sys.exit(f"{' '.join(args)} failed ({p.returncode}): {p.stdout}\n{p.stderr[-2000:]}")
    return time.monotonic() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "target/release/residual"))
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--leavers", type=int, default=50)
    ap.add_argument("--shards", type=int, default=4)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        server, endpoint = peers.start("moto_launcher.py", [], tmp, "moto", wait=60)
        try:
            t = time.monotonic()
            seeded = json.loads(subprocess.check_output(
                [PY, str(ROOT / "tests/harness/seed_org.py"), "--endpoint", endpoint, "--scenario", "scale",
                 "--accounts", str(a.accounts), "--users", str(a.users), "--leavers", str(a.leavers)]))
            seed_s = time.monotonic() - t
            (tmp / "leavers.csv").write_text(
                "email,departure_date\n" + "".join(f"{e},2026-11-01\n" for e in seeded["leavers"]))
            (tmp / "residual.toml").write_text(
                f'[[aws]]\nname = "org"\nendpoint_url = "{endpoint}"\norganization_role = "ResidualAudit"\n'
                "identity_center = false\n")
            env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing-secret-key",
                       AWS_EC2_METADATA_DISABLED="true")
            common = ["scan", "--leavers", "leavers.csv", "--as-of", "2026-11-26T00:00:00Z"]
            whole = run(a.binary, tmp, env, [*common, "--out", "whole"])
            shard_s = []
            for k in range(a.shards):
                shard_s.append(run(a.binary, tmp, env, [*common, "--shard", f"{k}/{a.shards}", "--out", f"shard-{k}"]))
            merge_s = run(a.binary, tmp, env, ["merge", *[f"shard-{k}" for k in range(a.shards)], "--out", "merged"])
            identical = {f: normal(tmp / "whole", f) == normal(tmp / "merged", f) for f in EVALUATED}
            units = [len(json.loads((tmp / f"shard-{k}" / "snapshot.json").read_text())["systems"])
                     for k in range(a.shards)]
            print(json.dumps({
                "accounts": a.accounts + 1, "users_per_account": a.users, "leavers": len(seeded["leavers"]),
                "seed_seconds": round(seed_s, 1),
                "unsharded_seconds": round(whole, 2),
                "shards": a.shards, "accounts_per_shard": units,
                "shard_seconds": [round(s, 2) for s in shard_s],
                "merge_seconds": round(merge_s, 2),
                "shards_plus_merge_seconds": round(sum(shard_s) + merge_s, 2),
                "overhead": round((sum(shard_s) + merge_s) / max(0.01, whole), 2),
                "merged_equals_unsharded": identical,
            }, indent=2))
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
