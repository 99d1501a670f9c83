#!/usr/bin/env python3
"""Validate findings.ocsf.json with py-ocsf-models, the independent OCSF implementation
Prowler's OCSF output is built on: every event must construct as a DetectionFinding.

    python tests/harness/ocsf_check.py REPORT_DIR/findings.ocsf.json

Prints `N passed, M failed` and exits non-zero on any failure or an empty file.
"""

import json
import sys

from py_ocsf_models.events.findings.detection_finding import DetectionFinding


def main() -> None:
    events = json.load(open(sys.argv[1], encoding="utf-8"))
    if not isinstance(events, list) or not events:
        print("0 passed, 1 failed")
        sys.exit("expected a non-empty JSON array of events")
    failed = 0
    for i, e in enumerate(events):
        try:
            f = DetectionFinding(**e)
            assert f.class_uid == 2004, f"event {i}: class_uid {f.class_uid}"
            assert int(f.severity_id) == e["severity_id"], f"event {i}: severity_id"
        except Exception as exc:  # noqa: BLE001 - report every failure, then exit non-zero
            failed += 1
            print(f"event {i} ({e.get('finding_info', {}).get('uid')}): {exc}", file=sys.stderr)
    print(f"{len(events) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
