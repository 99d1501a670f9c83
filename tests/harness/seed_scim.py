#!/usr/bin/env python3
"""Seed a SCIM 2.0 service (scim_launcher.py, or any RFC 7644 server) with test users.

Usage:
    python tests/harness/seed_scim.py --base http://127.0.0.1:PORT/v2 --token T --scenario main
    python tests/harness/seed_scim.py --base URL --token T --scenario scale [--users 20000] [--threads 2]

Users are created with `POST {base}/Users` as RFC 7643 core Users (userName, name,
displayName, emails [{value, primary, type}], externalId, active). Prints one JSON object on
stdout: {"scenario", "base", "count", "seconds", "created": {userName: id, ...}}.

Scenario `main` (domain acme.example; the matching leavers file is in the docstring of
MAIN_LEAVERS_CSV below):

    userName              emails                       externalId  active  who
    alice@acme.example    alice@acme.example           E1001       true    leaver, matched by userName
    bob.smith             bob@acme.example             E1002       true    leaver, matched by email only
    carol                 carol@acme.example           E1003       false   leaver, already deactivated
    dd-4821               (none)                       E1004       true    leaver, matched only by externalId
    erin@acme.example     erin@acme.example            E1005       true    staff
    frank.castle          frank@acme.example           E1006       true    staff
    alice.wong@acme.example alice.wong@acme.example    E1007       true    staff, look-alike of alice
    svc-backup            (none)                       (none)      true    service account
    filler000@acme.example … filler044@acme.example    E9000…      true    45 staff fillers (pages)

With the launcher's default page size of 20, the 53 users span 3 pages.

Scenario `scale`: `--users N` users `user00000@acme.example` … with externalId `E2nnnnn`, every
tenth one inactive; created by `--threads` worker threads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
DOMAIN = "acme.example"

# The leavers file matching scenario `main` (email,departure_date,name,employee_id).
MAIN_LEAVERS_CSV = """email,departure_date,name,employee_id
alice@acme.example,2026-11-10,Alice Archer,E1001
bob@acme.example,2026-11-12,Bob Smith,E1002
carol@acme.example,2026-10-31,Carol Chen,E1003
dana.diaz@acme.example,2026-11-14,Dana Diaz,E1004
"""


def user(user_name: str, given: str, family: str, email: str | None, external_id: str | None,
         active: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family, "formatted": f"{given} {family}"},
        "displayName": f"{given} {family}",
        "active": active,
    }
    if email:
        body["emails"] = [{"value": email, "primary": True, "type": "work"}]
    if external_id:
        body["externalId"] = external_id
    return body


def main_users() -> list[dict[str, Any]]:
    users = [
        user(f"alice@{DOMAIN}", "Alice", "Archer", f"alice@{DOMAIN}", "E1001"),
        user("bob.smith", "Bob", "Smith", f"bob@{DOMAIN}", "E1002"),
        user("carol", "Carol", "Chen", f"carol@{DOMAIN}", "E1003", active=False),
        user("dd-4821", "Dana", "Diaz", None, "E1004"),
        user(f"erin@{DOMAIN}", "Erin", "Evans", f"erin@{DOMAIN}", "E1005"),
        user("frank.castle", "Frank", "Castle", f"frank@{DOMAIN}", "E1006"),
        user(f"alice.wong@{DOMAIN}", "Alice", "Wong", f"alice.wong@{DOMAIN}", "E1007"),
        user("svc-backup", "Backup", "Service", None, None),
    ]
    for i in range(45):
        users.append(user(f"filler{i:03d}@{DOMAIN}", "Filler", f"No{i:03d}", f"filler{i:03d}@{DOMAIN}",
                          f"E9{i:03d}"))
    return users


def scale_users(n: int) -> list[dict[str, Any]]:
    width = max(5, len(str(n - 1)))
    return [user(f"user{i:0{width}d}@{DOMAIN}", "User", f"{i:0{width}d}", f"user{i:0{width}d}@{DOMAIN}",
                 f"E2{i:0{width}d}", active=i % 10 != 0) for i in range(n)]


class Client:
    def __init__(self, base: str, token: str | None, timeout: float = 30):
        self.base = base.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Accept", "application/scim+json")
        if data is not None:
            req.add_header("Content-Type", "application/scim+json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw) if raw else None
            except ValueError:
                return exc.code, raw.decode("utf-8", "replace")

    def create(self, body: dict[str, Any]) -> str:
        for attempt in range(5):
            try:
                status, resp = self.request("POST", "/Users", body)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
                continue
            if status == 201 and isinstance(resp, dict) and resp.get("id"):
                return resp["id"]
            raise RuntimeError(f"POST /Users {body['userName']!r}: HTTP {status}: {resp}")
        raise RuntimeError("unreachable")


def seed(client: Client, users: list[dict[str, Any]], threads: int) -> dict[str, str]:
    created: dict[str, str] = {}
    lock = threading.Lock()

    def one(body: dict[str, Any]) -> None:
        ident = client.create(body)
        with lock:
            created[body["userName"]] = ident

    if threads <= 1:
        for body in users:
            one(body)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for fut in [pool.submit(one, body) for body in users]:
                fut.result()
    return created


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="SCIM base URL, e.g. http://127.0.0.1:PORT/v2")
    ap.add_argument("--token", help="bearer token")
    ap.add_argument("--scenario", choices=["main", "scale"], required=True)
    ap.add_argument("--users", type=int, default=20000, help="scale: how many users")
    ap.add_argument("--threads", type=int, default=2, help="scale: worker threads (2 was fastest here)")
    ap.add_argument("--write-leavers", metavar="FILE", help="main: also write the matching leavers CSV")
    args = ap.parse_args(argv)

    client = Client(args.base, args.token)
    users = main_users() if args.scenario == "main" else scale_users(args.users)
    started = time.monotonic()
    try:
        created = seed(client, users, args.threads if args.scenario == "scale" else 1)
    except (RuntimeError, urllib.error.URLError, OSError) as exc:
        print(f"seed_scim: {exc}", file=sys.stderr)
        return 1
    elapsed = round(time.monotonic() - started, 2)
    if args.write_leavers and args.scenario == "main":
        with open(args.write_leavers, "w", encoding="utf-8") as fh:
            fh.write(MAIN_LEAVERS_CSV)
    out: dict[str, Any] = {"scenario": args.scenario, "base": client.base, "count": len(created),
                           "seconds": elapsed, "created": created}
    try:
        json.dump(out, sys.stdout, indent=1 if args.scenario == "main" else None)
        sys.stdout.write("\n")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
