#!/usr/bin/env python3
"""Seed an OpenBao (Vault API) server with the fixtures the `residual` tests audit.

Usage:
    python tests/harness/seed_vault.py --addr http://127.0.0.1:PORT --token ROOT --scenario main
    python tests/harness/seed_vault.py --addr http://127.0.0.1:PORT --token ROOT --scenario tokens \
        --count 5000 --leavers 500 [--threads 16]

Speaks the HTTP API only (stdlib), so it runs against any Vault-API server.
Prints one JSON object on stdout describing what was created; progress and
timing go to stderr. Token values never appear in the output except the root
token and `no_sudo_token`, which the tests need to authenticate.

Scenario `main` (domain acme.example):

    person  userpass user  entity                   live token
    alice   alice          active, alias alice      userpass login (24h); entity policies payments, default
    bob     bob            DISABLED, alias bob      none; his login is issued token policy billing
    carol   carol          active, alias carol      none: a 2s token (meta.email) that expired; entity policy ops; in identity group
                                                    payments-team (policy payments-admin)
    dave    -              dave-entity, no alias    auth/token/create, display_name dave, meta.email
    erin    -              -                        orphan periodic token, meta.email
    staff1  staff1         active, alias staff1     userpass login (non-leaver)

KV v2 at secret/: apps/billing (owner alice@acme.example), apps/crm
(owner Bob@Acme.example, a second version written after t_mid), apps/other
(owner staff1@acme.example, written after t_mid). Every secret value contains
CANARY. A policy `audit-no-sudo` and a token holding it. If the server
supports namespaces: namespace team-a with userpass, user frank, his entity
and a login token.

Scenario `tokens`: N tokens (meta.email userNNNNN@acme.example), every
(N/M)-th belonging to a leaver; prints the leaver emails and timing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import secrets
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

DOMAIN = "acme.example"
CANARY = "CANARY-vault-secret-value-7f3e9a"
NAMESPACE = "team-a"
NO_SUDO_POLICY = "audit-no-sudo"

# Read and list everywhere, and look tokens up by accessor; listing
# accessors needs `sudo`, which this policy never grants.
NO_SUDO_POLICY_HCL = """
path "*" {
  capabilities = ["read", "list"]
}
path "auth/token/lookup-accessor" {
  capabilities = ["update"]
}
path "auth/token/accessors/" {
  capabilities = ["read", "list"]
}
"""


class VaultError(Exception):
    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} /v1/{path} -> HTTP {status}: {body}")
        self.status = status
        self.body = body


class Vault:
    """A minimal Vault HTTP API client; one keep-alive connection per thread."""

    def __init__(self, addr: str, token: str) -> None:
        url = urllib.parse.urlsplit(addr)
        if url.scheme != "http":
            raise SystemExit("seed_vault: only http:// addresses are supported (the dev server)")
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 8200
        self.token = token
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self._local.conn = conn
        return conn

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        namespace: str | None = None,
        ok: tuple[int, ...] = (200, 204),
    ) -> tuple[int, Any]:
        headers: dict[str, str] = {}
        auth = self.token if token is None else token
        if auth:  # token="" sends no token at all (logins)
            headers["X-Vault-Token"] = auth
        if namespace:
            headers["X-Vault-Namespace"] = namespace
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(method, f"/v1/{path}", body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, OSError):
                # A keep-alive connection the server closed: reconnect once.
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        parsed: Any = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
        if resp.status not in ok:
            raise VaultError(method, path, resp.status, parsed)
        return resp.status, parsed

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)[1]

    def post(self, path: str, body: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.call("POST", path, body or {}, **kw)[1]

    def list(self, path: str, **kw: Any) -> list[str]:
        """LIST a path; an empty listing (HTTP 404) is []."""
        status, body = self.call("LIST", path, ok=(200, 404), **kw)
        return [] if status == 404 else body["data"]["keys"]


def now_rfc3339() -> str:
    """UTC, microseconds, `Z` suffix."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(value: str) -> dt.datetime:
    """Vault times carry nanoseconds; Python keeps microseconds."""
    value = value.replace("Z", "+00:00")
    if "." in value:
        head, rest = value.split(".", 1)
        frac = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(frac):]
        value = f"{head}.{frac[:6].ljust(6, '0')}{zone}"
    return dt.datetime.fromisoformat(value)


def email(person: str) -> str:
    return f"{person}@{DOMAIN}"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Scenario: main
# ---------------------------------------------------------------------------


class MainSeeder:
    def __init__(self, vault: Vault) -> None:
        self.v = vault
        self.passwords: dict[str, str] = {}
        self.entities: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.userpass_users: list[str] = []

    # -- auth / identity ----------------------------------------------------

    def enable_userpass(self, namespace: str | None = None) -> str:
        self.v.post("sys/auth/userpass", {"type": "userpass"}, namespace=namespace)
        mounts = self.v.get("sys/auth", namespace=namespace)["data"]
        return mounts["userpass/"]["accessor"]

    def userpass_user(self, name: str, namespace: str | None = None, token_policies: list[str] | None = None) -> None:
        password = secrets.token_urlsafe(18)
        body: dict[str, Any] = {"password": password, "token_ttl": "24h"}
        if token_policies:
            body["token_policies"] = token_policies
        self.v.post(f"auth/userpass/users/{name}", body, namespace=namespace)
        self.passwords[f"{namespace or ''}/{name}"] = password

    def entity(
        self,
        person: str,
        name: str,
        alias_mount: str | None,
        alias_name: str | None,
        disabled: bool = False,
        namespace: str | None = None,
        policies: list[str] | None = None,
    ) -> dict[str, Any]:
        body = {"name": name, "metadata": {"email": email(person)}, "disabled": disabled}
        if policies:
            body["policies"] = policies
        entity_id = self.v.post("identity/entity", body, namespace=namespace)["data"]["id"]
        record: dict[str, Any] = {"id": entity_id, "name": name, "email": email(person), "disabled": disabled}
        if alias_mount and alias_name:
            alias = self.v.post(
                "identity/entity-alias",
                {"name": alias_name, "canonical_id": entity_id, "mount_accessor": alias_mount},
                namespace=namespace,
            )["data"]
            record["alias"] = {"id": alias["id"], "name": alias_name, "mount_accessor": alias_mount}
        else:
            record["alias"] = None
        if namespace:
            record["namespace"] = namespace
        return record

    def login(self, user: str, namespace: str | None = None) -> dict[str, Any]:
        auth = self.v.post(
            f"auth/userpass/login/{user}",
            {"password": self.passwords[f"{namespace or ''}/{user}"]},
            token="",
            namespace=namespace,
        )["auth"]
        return {"token": auth["client_token"], "accessor": auth["accessor"], "entity_id": auth.get("entity_id", "")}

    def create_token(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        auth = self.v.post(path, body)["auth"]
        return {"token": auth["client_token"], "accessor": auth["accessor"], "entity_id": auth.get("entity_id", "")}

    def describe(self, accessor: str, namespace: str | None = None) -> dict[str, Any]:
        """What lookup-accessor says about a token (fields tests assert on)."""
        data = self.v.post("auth/token/lookup-accessor", {"accessor": accessor}, namespace=namespace)["data"]
        keep = ("display_name", "entity_id", "creation_time", "issue_time", "expire_time", "ttl",
                "meta", "policies", "path", "orphan", "period", "type")
        return {k: data.get(k) for k in keep}

    # -- the scenario -------------------------------------------------------

    def run(self) -> dict[str, Any]:
        v = self.v
        out: dict[str, Any] = {"scenario": "main", "domain": DOMAIN, "root_token": v.token, "canary": CANARY}

        mount_accessor = self.enable_userpass()
        out["userpass_mount_accessor"] = mount_accessor
        for user in ("alice", "bob", "carol", "staff1"):
            # Bob's login is issued `billing` (a mover's policy held by a login, not an entity).
            self.userpass_user(user, token_policies=["billing"] if user == "bob" else None)
            self.userpass_users.append(user)

        # Entities first, so logins attach to them through the aliases.
        # Entity policies: what a mover's `vault:policy/<name>` is checked against.
        self.entities["alice"] = self.entity("alice", "alice", mount_accessor, "alice",
                                             policies=["payments", "default"])
        self.entities["bob"] = self.entity("bob", "bob", mount_accessor, "bob", disabled=True)
        self.entities["carol"] = self.entity("carol", "carol", mount_accessor, "carol", policies=["ops"])
        self.entities["staff1"] = self.entity("staff1", "staff1", mount_accessor, "staff1")
        # An identity group whose policy reaches carol's entity through membership.
        v.post("identity/group", {"name": "payments-team", "policies": ["payments-admin"],
                                  "member_entity_ids": [self.entities["carol"]["id"]]})
        self.entities["dave"] = self.entity("dave", "dave-entity", None, None)

        # Tokens.
        self.tokens["alice"] = self.login("alice")
        self.tokens["staff1"] = self.login("staff1")
        self.tokens["dave"] = self.create_token(
            "auth/token/create",
            {"display_name": "dave", "meta": {"email": email("dave")}, "ttl": "24h", "policies": ["default"]},
        )
        self.tokens["erin"] = self.create_token(
            "auth/token/create-orphan",
            {"display_name": "erin", "meta": {"email": email("erin")}, "period": "24h", "policies": ["default"]},
        )
        carol = self.create_token(
            "auth/token/create",
            {"display_name": "carol", "meta": {"email": email("carol")}, "ttl": "2s", "policies": ["default"]},
        )
        carol_created = time.monotonic()
        for person in ("alice", "staff1", "dave", "erin"):
            self.tokens[person]["lookup"] = self.describe(self.tokens[person]["accessor"])

        # KV v2 (the dev server mounts it at secret/).
        kv: dict[str, Any] = {}

        def kv_write(path: str, value: dict[str, str]) -> int:
            return v.post(f"secret/data/{path}", {"data": value})["data"]["version"]

        def kv_owner(path: str, owner: str) -> None:
            v.post(f"secret/metadata/{path}", {"custom_metadata": {"owner": owner}})

        kv_write("apps/billing", {"api_key": f"{CANARY}-billing-v1"})
        kv_owner("apps/billing", "alice@acme.example")
        kv_write("apps/crm", {"password": f"{CANARY}-crm-v1"})
        kv_owner("apps/crm", "Bob@Acme.example")
        time.sleep(0.05)
        t_mid = now_rfc3339()
        time.sleep(1.5)
        kv_write("apps/crm", {"password": f"{CANARY}-crm-v2"})
        kv_write("apps/other", {"token": f"{CANARY}-other-v1"})
        kv_owner("apps/other", "staff1@acme.example")
        out["t_mid"] = t_mid
        mid = parse_time(t_mid)
        for path in ("apps/billing", "apps/crm", "apps/other"):
            meta = v.get(f"secret/metadata/{path}")["data"]
            kv[path] = {
                "mount": "secret/",
                "data_path": f"secret/data/{path}",
                "metadata_path": f"secret/metadata/{path}",
                "owner": meta["custom_metadata"]["owner"],
                "current_version": meta["current_version"],
                "created_time": meta["created_time"],
                "updated_time": meta["updated_time"],
                "updated_after_t_mid": parse_time(meta["updated_time"]) > mid,
            }
        expected_after = {"apps/billing": False, "apps/crm": True, "apps/other": True}
        for path, after in expected_after.items():
            if kv[path]["updated_after_t_mid"] != after:
                raise SystemExit(f"seed_vault: {path} updated_time {kv[path]['updated_time']} vs t_mid {t_mid}")
        out["kv"] = kv

        # A token that can read/list but lacks sudo for auth/token/accessors.
        v.post(f"sys/policies/acl/{NO_SUDO_POLICY}", {"policy": NO_SUDO_POLICY_HCL})
        no_sudo = self.create_token(
            "auth/token/create",
            {"display_name": "auditor-no-sudo", "policies": [NO_SUDO_POLICY], "ttl": "24h"},
        )
        out["no_sudo_policy"] = NO_SUDO_POLICY
        out["no_sudo_token"] = no_sudo["token"]
        out["no_sudo_accessor"] = no_sudo["accessor"]

        # Namespaces (OpenBao has them since 2.3; probe rather than assume).
        out["namespaces_supported"] = False
        status, body = v.call("POST", f"sys/namespaces/{NAMESPACE}", {}, ok=(200, 204, 400, 404, 405))
        if status in (200, 204):
            out["namespaces_supported"] = True
            ns_accessor = self.enable_userpass(namespace=NAMESPACE)
            self.userpass_user("frank", namespace=NAMESPACE)
            self.entities["frank"] = self.entity("frank", "frank", ns_accessor, "frank", namespace=NAMESPACE)
            frank = self.login("frank", namespace=NAMESPACE)
            frank["namespace"] = NAMESPACE
            frank["lookup"] = self.describe(frank["accessor"], namespace=NAMESPACE)
            self.tokens["frank"] = frank
            out["namespace"] = {
                "path": f"{NAMESPACE}/",
                "id": (body or {}).get("data", {}).get("id"),
                "userpass_mount_accessor": ns_accessor,
                "userpass_users": ["frank"],
                "token_accessors": v.list("auth/token/accessors", namespace=NAMESPACE),
            }
        else:
            out["namespace_probe"] = {"status": status, "body": body}

        # Carol's token must have expired (and been revoked) by now.
        remaining = 2.0 - (time.monotonic() - carol_created)
        if remaining > 0:
            time.sleep(remaining)
        gone = False
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if carol["accessor"] not in v.list("auth/token/accessors"):
                gone = True
                break
            time.sleep(0.25)
        status, body = v.call("POST", "auth/token/lookup-accessor", {"accessor": carol["accessor"]}, ok=(200, 400, 403, 404))
        self.tokens["carol"] = {
            "accessor": carol["accessor"],
            "entity_id": carol["entity_id"],
            "expired": True,
            "absent_from_accessor_list": gone,
            "lookup_after_expiry": {"status": status, "body": body},
        }

        # Report (token values are dropped: tests grep outputs for them).
        out["entities"] = self.entities
        out["entity_ids"] = {p: e["id"] for p, e in self.entities.items()}
        out["userpass_users"] = self.userpass_users
        for tok in self.tokens.values():
            tok.pop("token", None)
        out["tokens"] = self.tokens
        # Live tokens only; carol's expired one is listed apart.
        out["token_accessors"] = {p: t["accessor"] for p, t in self.tokens.items() if not t.get("expired")}
        out["expired_token_accessors"] = {p: t["accessor"] for p, t in self.tokens.items() if t.get("expired")}
        root = v.get("auth/token/lookup-self")["data"]
        out["root_accessor"] = root["accessor"]
        out["accessors_visible_to_root"] = sorted(v.list("auth/token/accessors"))
        return out


# ---------------------------------------------------------------------------
# Scenario: tokens (benchmark)
# ---------------------------------------------------------------------------


def seed_tokens(vault: Vault, count: int, leavers: int, threads: int) -> dict[str, Any]:
    step = max(1, count // leavers) if leavers else 0
    leaver_idx = set(list(range(0, count, step))[:leavers]) if step else set()
    leaver_accessors: dict[str, str] = {}
    lock = threading.Lock()

    def make(i: int) -> None:
        mail = f"user{i:05d}@{DOMAIN}"
        auth = vault.post(
            "auth/token/create",
            {"display_name": f"user{i:05d}", "meta": {"email": mail}, "ttl": "24h", "policies": ["default"]},
        )["auth"]
        if i in leaver_idx:
            with lock:
                leaver_accessors[mail] = auth["accessor"]

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(make, range(count)))
    create_seconds = time.monotonic() - start
    t0 = time.monotonic()
    total = len(vault.list("auth/token/accessors"))
    list_seconds = time.monotonic() - t0
    leaver_emails = sorted(leaver_accessors)
    return {
        "scenario": "tokens",
        "count": count,
        "leavers": len(leaver_emails),
        "leaver_emails": leaver_emails,
        "leaver_accessors": leaver_accessors,
        "accessor_count_visible_to_root": total,
        "create_seconds": round(create_seconds, 3),
        "tokens_per_second": round(count / create_seconds, 1) if create_seconds else None,
        "list_accessors_seconds": round(list_seconds, 3),
    }


# ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addr", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--token", required=True, help="root token")
    parser.add_argument("--scenario", required=True, choices=["main", "tokens"])
    parser.add_argument("--count", type=int, default=1000, help="tokens: number of tokens")
    parser.add_argument("--leavers", type=int, default=100, help="tokens: number of leavers (evenly spaced)")
    parser.add_argument("--threads", type=int, default=16, help="tokens: concurrent workers")
    args = parser.parse_args()

    vault = Vault(args.addr, args.token)
    start = time.monotonic()
    if args.scenario == "main":
        out = MainSeeder(vault).run()
    else:
        out = seed_tokens(vault, args.count, args.leavers, args.threads)
    elapsed = time.monotonic() - start
    out["seed_seconds"] = round(elapsed, 3)
    log(f"seeded scenario {args.scenario} in {elapsed:.2f}s")
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
