#!/usr/bin/env python3
"""Wall time and requests of the Vault probe on an OpenBao with 20,000 live tokens and 200
leavers: sequential (concurrency 1) versus the bounded concurrency (16 by default).

    .venv/bin/python benches/vault_tokens.py [--binary target/debug/residual] [--count 20000] [--leavers 200]
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
TOKEN = "residual-bench-root-token"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "target/debug/residual"))
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--leavers", type=int, default=200)
    ap.add_argument("--concurrency", default="1,16")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        port_file = tmp / "port"
        server = subprocess.Popen(
            [PY, str(ROOT / "tests/harness/openbao_launcher.py"), "--port", "0", "--port-file", str(port_file), "--request-log", str(tmp / "audit.jsonl"), "--root-token", TOKEN],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.time() + 60
            while not (port_file.exists() and port_file.read_text().strip()):
                if time.time() > deadline or server.poll() is not None:
                    sys.exit("OpenBao did not start")
                time.sleep(0.2)
            addr = f"http://127.0.0.1:{port_file.read_text().strip()}"
            t0 = time.monotonic()
            seed = json.loads(subprocess.check_output([PY, str(ROOT / "tests/harness/seed_vault.py"), "--addr", addr, "--token", TOKEN, "--scenario", "tokens", "--count", str(args.count), "--leavers", str(args.leavers)]))
            seed_s = time.monotonic() - t0
            (tmp / "leavers.csv").write_text("email,departure_date\n" + "".join(f"{e},2026-11-01\n" for e in seed["leaver_emails"]))
            results = {}
            for c in [int(x) for x in args.concurrency.split(",")]:
                (tmp / "residual.toml").write_text(f'[scan]\nconcurrency = {c}\n\n[[vault]]\naddr = "{addr}"\ntoken_env = "BENCH_VAULT_TOKEN"\n')
                out = tmp / f"r{c}"
                t0 = time.monotonic()
                run = subprocess.run([args.binary, "scan", "--leavers", "leavers.csv", "--out", str(out), "--json"], cwd=tmp, capture_output=True, text=True, env=dict(os.environ, BENCH_VAULT_TOKEN=TOKEN))
                secs = time.monotonic() - t0
                if run.returncode not in (0, 1):
                    sys.exit(f"scan failed {run.returncode}: {run.stdout}\n{run.stderr}")
                m = json.loads((out / "manifest.json").read_text())["systems"][0]
                results[f"concurrency_{c}"] = {"requests": m["requests"], "seconds": round(secs, 2), "findings": json.loads(run.stdout)["findings"]["total"], "notes": m["notes"]}
            print(json.dumps({"tokens": args.count, "leavers": args.leavers, "seed_seconds": round(seed_s, 1), **results}, indent=2))
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    main()
