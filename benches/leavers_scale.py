#!/usr/bin/env python3
"""Large HR files stay linear (issue 10.16): load time and peak memory of `residual scan` for a
1,000,000-row leavers file (2% duplicate rows to merge), and a whole scan of 200,000 leavers
against the demo estate (every report file written).

    cargo build --release && .venv/bin/python benches/leavers_scale.py [--rows N]

Runs the release binary; the load time is the one `scan -v` logs, peak memory the process's
maximum resident set (getrusage of the child).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "residual")


def write_leavers(path: str, rows: int) -> None:
    with open(path, "w") as f:
        f.write("email,departure_date,name,employee_id,github_login\n")
        for i in range(rows):
            # Every 50th row repeats an earlier person (HR exports repeat re-hires).
            n = i - 7 if i % 50 == 49 else i
            f.write(f"user{n}@acme.example,2026-10-{1 + n % 28:02d},User {n},E{n:07d},gh-user{n}\n")


# Each measurement in its own small parent, so its peak RSS is that run's alone.
MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.monotonic(); p = subprocess.run(sys.argv[1:], stderr=subprocess.PIPE, text=True)\n"
    "w = time.monotonic() - t\n"
    "sys.stderr.write(p.stderr)\n"
    "print(p.returncode, w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
)


def run(args: list[str], cwd: str) -> tuple[float, int, str]:
    p = subprocess.run([sys.executable, "-c", MEASURE, BIN, *args], cwd=cwd, capture_output=True, text=True)
    *log, last = p.stderr.rstrip("\n").split("\n")
    code, wall, peak_kib = last.split()
    if int(code) not in (0, 1, 3):
        sys.exit(f"residual exited {code}:\n{chr(10).join(log)[-2000:]}")
    return float(wall), int(peak_kib), "\n".join(log)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--scan-rows", type=int, default=200_000)
    a = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit("build the release binary first: cargo build --release")
    with tempfile.TemporaryDirectory() as d:
        big = os.path.join(d, "big.csv")
        write_leavers(big, a.rows)
        empty = os.path.join(d, "empty.json")
        json.dump({"schema_version": 2, "tool_version": "bench", "collected_at": "2026-11-26T00:00:00Z", "systems": []}, open(empty, "w"))
        wall, peak, err = run(["-v", "scan", "--leavers", big, "--snapshot", empty, "--as-of", "2026-11-26", "--out", "r1", "--format", "json"], d)
        m = re.search(r"leavers: (\d+) rows, (\d+) people, loaded in ([0-9.]+) s", err)
        if not m:
            sys.exit(f"no load line in the log:\n{err[-2000:]}")
        print(f"load {a.rows:,} rows ({int(m.group(2)):,} people after merging): {float(m.group(3)):.2f} s; "
              f"whole command {wall:.2f} s; peak RSS {peak / 1024:.0f} MiB (target: under 2 s and 1 GiB)")

        subprocess.run([BIN, "demo", "--out", "demo"], cwd=d, capture_output=True, check=True)
        mid = os.path.join(d, "mid.csv")
        write_leavers(mid, a.scan_rows)
        wall, peak, err = run(["-v", "scan", "--leavers", mid, "--snapshot", "demo/snapshot.json", "--as-of", "2026-11-26", "--out", "r2"], d)
        m = re.search(r"loaded in ([0-9.]+) s", err)
        print(f"whole scan of {a.scan_rows:,} leavers against the demo estate (6 instances, every report file): "
              f"{wall:.2f} s, load {float(m.group(1)) if m else float('nan'):.2f} s; peak RSS {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
