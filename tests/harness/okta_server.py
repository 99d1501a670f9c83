#!/usr/bin/env python3
"""A local stand-in for Okta's Management API, for testing the `residual` Okta probe.

Okta has no emulator, so this server plays `https://acme.okta.com` for one org described by a
scenario file. Every body it serves is shaped like the real API's and is checked against Okta's
own OpenAPI description by `okta_schema_check.py` beside this file.

Usage:
    python tests/harness/okta_server.py --port 0 --port-file F --request-log L
        (--scenario FILE.json | --generate-scale USERS:LEAVERS) [--seed 7]
        [--token TOKEN=USER_ID]... [--client CLIENT_ID=PUBLIC_KEY_PEM_FILE]...
        [--rate-limit 600] [--latency-ms 0] [--page-max 200] [--pad-users N]
        [--dump-scenario FILE] [--dump-leavers FILE]

    --token makes TOKEN an API token (`Authorization: SSWS TOKEN`) acting as the user USER_ID
    with that user's admin roles. --client registers a service app whose `private_key_jwt`
    client assertions are checked with the public key in the file; its roles come from the
    scenario's `service_apps`. --rate-limit is requests a minute per bucket (Okta's buckets are
    per endpoint family; a user's groups count in Okta's "most other API actions" /api/v1
    bucket, which unrouted paths share); --dump-* without --port write the files and exit (for
    benchmarks). --page-max caps `limit` of /api/v1/users and of a user's groups.

Scenario (JSON; unknown keys are refused; times are RFC 3339 with milliseconds, as Okta writes):
    "org": {"name": "acme"}
    "users": [{"id", "login", "email", "secondEmail", "employeeNumber", "firstName", "lastName",
               "status": "ACTIVE"|"DEPROVISIONED"|"SUSPENDED"|..., "created", "lastLogin",
               "statusChanged", "groups": [group id], "roles": [role], "apps": [app id]}]
             (a user's "groups" are its group memberships, the only place they are recorded;
             every user, whatever its status, is also a member of the built-in Everyone)
    "groups": [{"id", "name", "description", "roles": [role], "apps": [app id]}]
             (OKTA_GROUPs; Everyone, BUILT_IN, is built in with id 00g1everyone0000000;
             "description", optional, becomes profile.description)
    "apps": [{"id", "name", "label"}]
    "roles": {"type": "SUPER_ADMIN"|..., "id", "label", "targets": [group id]} (targets narrow
             what a HELP_DESK_ADMIN, USER_ADMIN or GROUP_MEMBERSHIP_ADMIN sees to those groups)
    "api_tokens": [{"id", "name", "userId", "clientName", "created", "lastUpdated", "expiresAt"}]
    "service_apps": [{"client_id", "roles": [role]}]
    "meta": {...}   free-form; the generator records its leavers here

What the server does the way Okta does (and a client must handle):
- `GET /api/v1/users` without `filter` or `search` omits DEPROVISIONED users; `filter`
  (status, lastUpdated, id, profile.login, profile.email, profile.firstName, profile.lastName;
  `eq`, case-sensitive values) and `search` (any property; `eq`, `sw`, `co`; case-insensitive
  values) include them.
- Lists use cursor pagination: `limit` (users at most 200) and `after`; the `Link` header has
  `rel="self"` and, when there is more, `rel="next"` with the `after` cursor.
- `GET /api/v1/users/{id}/groups` (listUserGroups; `id` is an id or a login; scope
  `okta.users.read`) lists the user's groups: Everyone first, then the user's scenario groups in
  the scenario's order, as `/api/v1/groups` shapes them. `limit` (at most 200, default 200, and
  never above --page-max) and `after` page it like the other lists, as Okta's reference page
  documents (the 2026.06.3 OpenAPI file declares no query parameters for it). An unknown user,
  or one the caller's role cannot see, is 404 `E0000007`.
- `GET /api/v1/groups?expand=stats` counts, per group, the members that are not DEPROVISIONED
  (Everyone: every user not deprovisioned), from the same memberships.
- What a caller sees depends on its admin role: SUPER_ADMIN, ORG_ADMIN and READ_ONLY_ADMIN see
  every user; a role with `targets` sees only users of those groups, and of groups only those
  it targets (no Everyone, also in a user's group list); no role at all sees an
  empty user list and an empty group list — with `200`, the silent-empty trap. Listing API
  tokens needs SUPER_ADMIN (or the `okta.apiTokens.read` scope for a service app): else 403.
- Every response carries `X-Rate-Limit-Limit`, `-Remaining` and `-Reset` (Unix seconds) for its
  bucket; a spent bucket answers 429 `E0000047` until the reset. No `Retry-After`.
- Errors are `{"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}`: 401
  `E0000011` (bad token), 403 `E0000006`, 404 `E0000007`, 429 `E0000047`.
- `POST /oauth2/v1/token` takes `grant_type=client_credentials`, `scope`, and a `client_assertion`
  JWT (RS256) whose iss and sub are the client id, aud the token endpoint, exp in the future and
  jti never seen before; it answers `{"token_type": "Bearer", "expires_in": 3600, "access_token",
  "scope"}` or an OAuth error (`invalid_client`, `invalid_scope`).

Request log: one JSON line per API request:
    {"ts", "method", "path", "query", "status", "template", "auth": "ssws"|"bearer"|"none"|"bad"}

Control routes (JSON; not logged, not counted, not rate limited):
    POST /_harness/faults   a rule or a list of rules:
        {"path_regex", "method", "kind": "status"|"delay"|"garbage"|"rate_limit"|"hang",
         "status": 502, "times": N, "delay_seconds": S, "reset_in": S}
        status: answer `status` with an Okta error body. delay: sleep, then answer. garbage: 200
        with a truncated body. rate_limit: 429 E0000047 with the reset `reset_in` (default 60)
        seconds ahead. hang: hold the connection for delay_seconds (default 120) and close it.
    GET|DELETE /_harness/faults    GET|DELETE /_harness/stats    POST /_harness/reset
"""

from __future__ import annotations

import argparse
import base64
import bisect
import csv
import datetime as dt
import json
import random
import re
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from common import FaultRules, write_port_file  # tests/harness is on sys.path when these run

JSON_TYPE = "application/json"
STATUSES = ("ACTIVE", "DEPROVISIONED", "LOCKED_OUT", "PASSWORD_EXPIRED", "PROVISIONED", "RECOVERY",
            "STAGED", "SUSPENDED")
ORG_WIDE = ("SUPER_ADMIN", "ORG_ADMIN", "READ_ONLY_ADMIN")
ROLE_LABELS = {
    "SUPER_ADMIN": "Super Administrator", "ORG_ADMIN": "Organizational Administrator",
    "READ_ONLY_ADMIN": "Read-Only Administrator", "APP_ADMIN": "Application Administrator",
    "USER_ADMIN": "Group Administrator", "HELP_DESK_ADMIN": "Help Desk Administrator",
    "GROUP_MEMBERSHIP_ADMIN": "Group Membership Administrator", "REPORT_ADMIN": "Report Administrator",
    "API_ACCESS_MANAGEMENT_ADMIN": "API Access Management Administrator",
}
STANDARD_ROLES = tuple(ROLE_LABELS)
FILTER_PROPS = ("status", "lastUpdated", "id", "profile.login", "profile.email", "profile.firstName",
                "profile.lastName")
EVERYONE = "00g1everyone0000000"
EPOCH = "2020-01-01T00:00:00.000Z"
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# Each endpoint family has its own rate-limit bucket, as in Okta.
BUCKETS = {
    "/api/v1/users": "users-list",
    "/api/v1/users/{id}": "users-id",
    "/api/v1/users/{id}/roles": "users-id",
    "/api/v1/users/{id}/appLinks": "users-id",
    # Okta's table names no bucket for /api/v1/users/{id}/groups (its user rows are GET|POST
    # /api/v1/users, GET /api/v1/users/{idOrLogin} and POST|PUT|DELETE /api/v1/users/{id}
    # only), so it counts in "Most other API actions: /api/v1": here "other", as unrouted paths.
    "/api/v1/users/{id}/groups": "other",
    "/api/v1/groups": "groups",
    "/api/v1/api-tokens": "api-tokens",
    "/oauth2/v1/clients/{clientId}/roles": "clients",
    "/oauth2/v1/token": "token",
}


class ScenarioError(ValueError):
    pass


class ApiError(Exception):
    def __init__(self, status: int, code: str, summary: str, headers: list | None = None):
        super().__init__(summary)
        self.status, self.code, self.summary, self.headers = status, code, summary, headers or []


class Reply:
    def __init__(self, status: int, body: bytes, headers: list, template: str = "", auth: str = "none",
                 hang: float = 0.0):
        self.status, self.body, self.headers, self.template, self.auth = status, body, headers, template, auth
        self.hang = hang


def _time(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not RFC3339_MS.match(value):
        raise ScenarioError(f"{where}: {value!r} is not an RFC 3339 time with milliseconds (2026-11-20T10:00:00.000Z)")
    return value


def _keys(obj: Any, allowed: set, where: str) -> dict:
    if not isinstance(obj, dict):
        raise ScenarioError(f"{where}: expected an object")
    extra = set(obj) - allowed
    if extra:
        raise ScenarioError(f"{where}: unknown keys {sorted(extra)}")
    return obj


def _role(r: Any, where: str, owner: str) -> dict:
    _keys(r, {"type", "id", "label", "targets"}, where)
    if r.get("type") not in STANDARD_ROLES:
        raise ScenarioError(f"{where}: type must be one of {STANDARD_ROLES}")
    return {"type": r["type"], "id": r.get("id") or f"ra1{owner[-8:]}{r['type'][:6].lower()}",
            "label": r.get("label") or ROLE_LABELS[r["type"]], "targets": list(r.get("targets") or [])}


class Org:
    """A validated scenario."""

    def __init__(self, raw: dict):
        _keys(raw, {"org", "users", "groups", "apps", "api_tokens", "service_apps", "meta"}, "scenario")
        self.name = (raw.get("org") or {}).get("name", "acme")
        self.apps = {}
        for i, a in enumerate(raw.get("apps") or []):
            _keys(a, {"id", "name", "label"}, f"apps[{i}]")
            self.apps[a["id"]] = {"id": a["id"], "name": a.get("name") or a["id"], "label": a.get("label") or a["id"]}
        self.groups = {}
        for i, g in enumerate(raw.get("groups") or []):
            _keys(g, {"id", "name", "description", "roles", "apps"}, f"groups[{i}]")
            if g.get("id") == EVERYONE or not isinstance(g.get("id"), str) or not g["id"]:
                raise ScenarioError(f"groups[{i}]: id is required and must not be Everyone's ({EVERYONE})")
            if g["id"] in self.groups:
                raise ScenarioError(f"groups[{i}]: duplicate id {g['id']}")
            if g.get("description") is not None and not isinstance(g["description"], str):
                raise ScenarioError(f"groups[{i}].description: expected a string")
            self.groups[g["id"]] = {"id": g["id"], "name": g.get("name") or g["id"],
                                    "description": g.get("description"),
                                    "roles": [_role(r, f"groups[{i}].roles", g["id"]) for r in g.get("roles") or []],
                                    "apps": list(g.get("apps") or [])}
        self.group_order = {gid: n for n, gid in enumerate(self.groups)}
        self.users: list[dict] = []
        self.by_id: dict[str, dict] = {}
        for i, u in enumerate(raw.get("users") or []):
            where = f"users[{i}]"
            _keys(u, {"id", "login", "email", "secondEmail", "employeeNumber", "firstName", "lastName",
                      "status", "created", "lastLogin", "statusChanged", "groups", "roles", "apps"}, where)
            if u.get("status", "ACTIVE") not in STATUSES:
                raise ScenarioError(f"{where}: status must be one of {STATUSES}")
            for key in ("id", "login"):
                if not isinstance(u.get(key), str) or not u[key]:
                    raise ScenarioError(f"{where}: {key} is required")
            user = dict(u)
            user.setdefault("status", "ACTIVE")
            user.setdefault("email", u["login"])
            for key in ("created", "lastLogin", "statusChanged"):
                user[key] = _time(u.get(key), f"{where}.{key}")
            user["created"] = user["created"] or EPOCH
            user["groups"] = list(u.get("groups") or [])
            user["roles"] = [_role(r, f"{where}.roles", u["id"]) for r in u.get("roles") or []]
            user["apps"] = list(u.get("apps") or [])
            for g in user["groups"]:
                if g not in self.groups:
                    raise ScenarioError(f"{where}: unknown group {g}")
            for a in user["apps"] + [a for g in user["groups"] for a in self.groups[g]["apps"]]:
                if a not in self.apps:
                    raise ScenarioError(f"{where}: unknown app {a}")
            if user["id"] in self.by_id:
                raise ScenarioError(f"{where}: duplicate id {user['id']}")
            self.users.append(user)
            self.by_id[user["id"]] = user
        self.users.sort(key=lambda u: u["id"])
        self.by_login: dict[str, dict] = {}
        for user in self.users:  # the first in id order wins, as a scan of the list would
            self.by_login.setdefault(user["login"].lower(), user)
        # Members per group that are not DEPROVISIONED (what `expand=stats` counts), computed
        # once: cheap for a generated org of 50,000 users.
        self.member_counts = {EVERYONE: 0, **{gid: 0 for gid in self.groups}}
        for user in self.users:
            if user["status"] != "DEPROVISIONED":
                for gid in self.groups_of(user):
                    self.member_counts[gid] += 1
        self.tokens = []
        for i, t in enumerate(raw.get("api_tokens") or []):
            _keys(t, {"id", "name", "userId", "clientName", "created", "lastUpdated", "expiresAt"}, f"api_tokens[{i}]")
            if t.get("userId") not in self.by_id:
                raise ScenarioError(f"api_tokens[{i}]: unknown userId")
            for key in ("created", "lastUpdated", "expiresAt"):
                _time(t.get(key), f"api_tokens[{i}].{key}")
            self.tokens.append(dict(t))
        self.service_apps = {}
        for i, s in enumerate(raw.get("service_apps") or []):
            _keys(s, {"client_id", "roles"}, f"service_apps[{i}]")
            self.service_apps[s["client_id"]] = [_role(r, f"service_apps[{i}].roles", s["client_id"])
                                                 for r in s.get("roles") or []]
        self.index = Index(self.users)

    def roles_of(self, user: dict) -> list[dict]:
        out = [dict(r, assignmentType="USER") for r in user["roles"]]
        for g in user["groups"]:
            out.extend(dict(r, assignmentType="GROUP") for r in self.groups[g]["roles"])
        return out

    def find_user(self, key: str) -> dict | None:
        """A user by id or by login (case-insensitive), as Okta's `{id}` path parameters take."""
        return self.by_id.get(key) or self.by_login.get(key.lower())

    def groups_of(self, user: dict) -> list[str]:
        """The user's groups: Everyone, then its scenario groups in the scenario's order, once each."""
        return [EVERYONE] + sorted(set(user["groups"]), key=self.group_order.__getitem__)

    def apps_of(self, user: dict) -> list[str]:
        seen: list[str] = []
        for a in user["apps"] + [a for g in user["groups"] for a in self.groups[g]["apps"]]:
            if a not in seen:
                seen.append(a)
        return seen


# ---------------------------------------------------------------------------
# Filter and search expressions (Okta follows the SCIM filter grammar)
# ---------------------------------------------------------------------------

TOKEN = re.compile(r'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([A-Za-z_][\w.\-]*))')


def parse_expr(text: str, allowed_props: tuple | None, ops: tuple) -> Any:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"unexpected text at {pos}")
        if m.group(1):
            tokens.append(("(", "("))
        elif m.group(2):
            tokens.append((")", ")"))
        elif m.group(3) is not None:
            tokens.append(("str", re.sub(r"\\(.)", r"\1", m.group(3))))
        else:
            tokens.append(("word", m.group(4)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    i = 0

    def peek() -> tuple[str, str] | None:
        return tokens[i] if i < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal i
        if i >= len(tokens):
            raise ValueError("unexpected end")
        i += 1
        return tokens[i - 1]

    def primary() -> Any:
        t = take()
        if t[0] == "(":
            e = disjunction()
            if take()[0] != ")":
                raise ValueError("missing )")
            return e
        if t[0] != "word":
            raise ValueError(f"expected a property, got {t[1]!r}")
        prop = t[1]
        if allowed_props is not None and prop not in allowed_props:
            raise ValueError(f"property {prop} is not filterable")
        op = take()
        if op[0] != "word" or op[1].lower() not in ops + ("pr",):
            raise ValueError(f"unsupported operator {op[1]!r}")
        if op[1].lower() == "pr":
            return ("pr", prop, None)
        value = take()
        if value[0] != "str":
            raise ValueError("expected a quoted value")
        return (op[1].lower(), prop, value[1])

    def conjunction() -> Any:
        e = primary()
        while (p := peek()) and p[0] == "word" and p[1].lower() == "and":
            take()
            e = ("and", e, primary())
        return e

    def disjunction() -> Any:
        e = conjunction()
        while (p := peek()) and p[0] == "word" and p[1].lower() == "or":
            take()
            e = ("or", e, conjunction())
        return e

    tree = disjunction()
    if i != len(tokens):
        raise ValueError("trailing text")
    return tree


def flat(u: dict) -> dict[str, str]:
    """The searchable properties of a user, as `search` and `filter` name them."""
    body = user_body(u, "")
    out = {k: v for k, v in body.items() if isinstance(v, str)}
    out.update({f"profile.{k}": v for k, v in body["profile"].items() if isinstance(v, str)})
    return out


class Index:
    """What `search` and `filter` run on: each user's properties, and case-folded sorted values
    per property, so `eq` and `sw` over 50,000 users are lookups rather than scans."""

    def __init__(self, users: list[dict]):
        self.props = [flat(u) for u in users]
        self.sorted: dict[str, list[tuple[str, int]]] = {}

    def _column(self, prop: str) -> list[tuple[str, int]]:
        col = self.sorted.get(prop)
        if col is None:
            col = sorted((p[prop].lower(), i) for i, p in enumerate(self.props) if prop in p)
            self.sorted[prop] = col
        return col

    def run(self, tree: Any, fold: bool) -> set[int]:
        kind = tree[0]
        if kind == "and":
            return self.run(tree[1], fold) & self.run(tree[2], fold)
        if kind == "or":
            return self.run(tree[1], fold) | self.run(tree[2], fold)
        prop, want = tree[1], tree[2]
        if kind in ("eq", "sw"):
            col = self._column(prop)
            key = want.lower()
            hits = set()
            for value, i in col[bisect.bisect_left(col, (key, -1)):]:
                if not value.startswith(key):
                    break
                if value == key or kind == "sw":
                    hits.add(i)
            if not fold and kind == "eq":
                hits = {i for i in hits if self.props[i][prop] == want}
            return hits
        out = set()
        for i, p in enumerate(self.props):
            value = p.get(prop)
            if kind == "pr":
                if value:
                    out.add(i)
                continue
            if value is None:
                continue
            a, b = (value.lower(), want.lower()) if fold else (value, want)
            if (kind == "co" and b in a) or (kind == "gt" and a > b) or (kind == "ge" and a >= b) or \
                    (kind == "lt" and a < b) or (kind == "le" and a <= b):
                out.add(i)
        return out


# ---------------------------------------------------------------------------
# Bodies
# ---------------------------------------------------------------------------


def user_body(u: dict, base: str) -> dict:
    profile = {"login": u["login"], "email": u["email"],
               "firstName": u.get("firstName") or u["login"].split("@")[0][:50],
               "lastName": u.get("lastName") or "User",
               "secondEmail": u.get("secondEmail")}
    if u.get("employeeNumber") is not None:
        profile["employeeNumber"] = u["employeeNumber"]
    href = f"{base}/api/v1/users/{u['id']}"
    return {
        "id": u["id"],
        "status": u["status"],
        "created": u["created"],
        "activated": u["created"] if u["status"] not in ("STAGED", "PROVISIONED") else None,
        "statusChanged": u.get("statusChanged") or u["created"],
        "lastLogin": u.get("lastLogin"),
        "lastUpdated": u.get("statusChanged") or u["created"],
        "passwordChanged": u["created"],
        "type": {"id": "oty1default000000000"},
        "profile": profile,
        "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": href}},
    }


def group_body(org: Org, gid: str, base: str) -> dict:
    """A Group as listGroups and listUserGroups answer it (Everyone is BUILT_IN)."""
    if gid == EVERYONE:
        kind, profile = "BUILT_IN", {"name": "Everyone", "description": "All users in your organization"}
    else:
        g = org.groups[gid]
        kind, profile = "OKTA_GROUP", {"name": g["name"]}
        if g.get("description") is not None:
            profile["description"] = g["description"]
    return {"id": gid, "type": kind, "created": EPOCH, "lastUpdated": EPOCH, "lastMembershipUpdated": EPOCH,
            "objectClass": ["okta:user_group"], "profile": profile,
            "_links": {"self": {"href": f"{base}/api/v1/groups/{gid}"}}}


def role_body(r: dict, base: str, assignee: str) -> dict:
    return {"id": r["id"], "label": r["label"], "type": r["type"], "status": "ACTIVE",
            "created": EPOCH, "lastUpdated": EPOCH, "assignmentType": r["assignmentType"],
            "_links": {"assignee": {"href": f"{base}{assignee}"}}}


class OktaApi:
    def __init__(self, org: Org, tokens: dict[str, str], clients: dict[str, Any], rate_limit: int = 600,
                 latency_ms: float = 0, page_max: int = 200, log_path: str | None = None):
        self.org = org
        self.tokens = tokens          # SSWS token -> user id
        self.clients = clients        # client id -> public key (cryptography object) or None
        self.rate_limit = rate_limit
        self.latency = latency_ms / 1000
        self.page_max = page_max
        self.lock = threading.Lock()
        self.buckets: dict[str, list] = {}
        self.minted: dict[str, tuple[str, set[str], float]] = {}
        self.jtis: set[str] = set()
        self.faults = FaultRules(["status", "delay", "garbage", "rate_limit", "hang"],
                                 extra={"reset_in": lambda v: float(v if v is not None else 60)})
        self.stats = self._zero()
        self.log_fh = open(log_path, "a", encoding="utf-8") if log_path else None

    @staticmethod
    def _zero() -> dict:
        return {"requests": 0, "by_path": {}, "by_status": {}}

    # -- plumbing -----------------------------------------------------------------------

    def _rate_headers(self, bucket: str, spend: bool) -> tuple[list, bool]:
        now = time.time()
        with self.lock:
            b = self.buckets.get(bucket)
            if b is None or now >= b[1]:
                b = [self.rate_limit, int(now // 60 * 60 + 60)]
                self.buckets[bucket] = b
            exhausted = b[0] <= 0
            if spend and not exhausted:
                b[0] -= 1
            hdrs = [("X-Rate-Limit-Limit", str(self.rate_limit)), ("X-Rate-Limit-Remaining", str(max(b[0], 0))),
                    ("X-Rate-Limit-Reset", str(b[1]))]
        return hdrs, exhausted

    def _json(self, status: int, payload: Any, headers: list, template: str, auth: str) -> Reply:
        body = json.dumps(payload).encode()
        return Reply(status, body, [("Content-Type", JSON_TYPE)] + headers, template, auth)

    def _error(self, e: ApiError, headers: list, template: str, auth: str) -> Reply:
        payload = {"errorCode": e.code, "errorSummary": e.summary, "errorLink": e.code,
                   "errorId": "oae" + secrets.token_urlsafe(16)[:22], "errorCauses": []}
        return self._json(e.status, payload, headers + e.headers, template, auth)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, base_url: str) -> Reply:
        parts = urlsplit(target)
        path = parts.path
        if path.startswith("/_harness/"):
            return self.control(method, path, body)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        template, params = route(path)
        auth_kind = "none"
        authz = headers.get("authorization", "")
        if authz.startswith("SSWS "):
            auth_kind = "ssws"
        elif authz.startswith("Bearer "):
            auth_kind = "bearer"
        rate, exhausted = self._rate_headers(BUCKETS.get(template, "other"), spend=True)
        fault = self.faults.take(method, path + ("?" + parts.query if parts.query else ""))
        reply: Reply
        if fault and fault["kind"] == "hang":
            reply = Reply(200, b"", [("Content-Type", JSON_TYPE)], template, auth_kind,
                          hang=fault["delay_seconds"] or 120)
        elif fault and fault["kind"] == "status":
            status = fault["status"] or 502
            reply = self._error(ApiError(status, "E0000009", fault.get("message") or "Internal Server Error"),
                                rate, template, auth_kind)
        elif (fault and fault["kind"] == "rate_limit") or exhausted:
            hdrs = dict(rate)
            hdrs["X-Rate-Limit-Remaining"] = "0"
            if fault and fault["kind"] == "rate_limit":
                hdrs["X-Rate-Limit-Reset"] = str(int(time.time() + fault["reset_in"]))
            reply = self._error(ApiError(429, "E0000047", "API call exceeded rate limit due to too many requests."),
                                list(hdrs.items()), template, auth_kind)
        else:
            if fault and fault["kind"] == "delay":
                time.sleep(fault["delay_seconds"])
            try:
                reply = self.dispatch(method, template, params, query, authz, body, base_url, rate, auth_kind)
            except ApiError as e:
                reply = self._error(e, rate, template, auth_kind)
            if fault and fault["kind"] == "garbage":
                reply = Reply(200, reply.body[: max(1, len(reply.body) // 2)] or b"[{", reply.headers, template,
                              auth_kind)
        if self.latency:
            time.sleep(self.latency)
        self._record(method, path, parts.query, reply)
        return reply

    # -- auth ---------------------------------------------------------------------------

    def caller(self, authz: str) -> tuple[str, str | None, set[str] | None]:
        """(kind, principal, scopes): "user", user id, None; or "client", client id, scopes."""
        if authz.startswith("SSWS "):
            uid = self.tokens.get(authz[5:])
            user = self.org.by_id.get(uid or "")
            # A deactivated user's tokens are revoked; a suspended user's keep working.
            if user is None or user["status"] == "DEPROVISIONED":
                raise ApiError(401, "E0000011", "Invalid token provided")
            return "user", uid, None
        if authz.startswith("Bearer "):
            with self.lock:
                got = self.minted.get(authz[7:])
            if got is None or got[2] < time.time():
                raise ApiError(401, "E0000011", "Invalid token provided")
            return "client", got[0], got[1]
        raise ApiError(401, "E0000011", "Invalid token provided")

    def roles_of_caller(self, kind: str, who: str) -> list[dict]:
        if kind == "user":
            return self.org.roles_of(self.org.by_id[who])
        return [dict(r, assignmentType="CLIENT") for r in self.org.service_apps.get(who, [])]

    def need_scope(self, scopes: set[str] | None, scope: str) -> None:
        if scopes is not None and scope not in scopes:
            raise ApiError(403, "E0000006", "You do not have permission to perform the requested action",
                           [("WWW-Authenticate", f'Bearer error="insufficient_scope", scope="{scope}"')])

    def visible(self, roles: list[dict]) -> list[dict] | None:
        """None: every user; else the users the caller's scoped roles reach."""
        if any(r["type"] in ORG_WIDE for r in roles):
            return None
        groups = {g for r in roles for g in r["targets"]}
        return [u for u in self.org.users if set(u["groups"]) & groups]

    # -- routes -------------------------------------------------------------------------

    def dispatch(self, method: str, template: str, params: dict, query: dict, authz: str, body: bytes,
                 base: str, rate: list, auth_kind: str) -> Reply:
        if template == "/oauth2/v1/token" and method == "POST":
            return self.token(body, base, rate)
        if template == "":
            raise ApiError(404, "E0000022", "The endpoint does not support the provided HTTP method")
        if method != "GET":
            raise ApiError(405, "E0000022", "The endpoint does not support the provided HTTP method")
        kind, who, scopes = self.caller(authz)
        roles = self.roles_of_caller(kind, who)
        seen = self.visible(roles)
        visible_ids = None if seen is None else {u["id"] for u in seen}

        def ok(payload: Any, extra: list | None = None) -> Reply:
            return self._json(200, payload, rate + (extra or []), template, auth_kind)

        if template == "/api/v1/users/{id}":
            self.need_scope(scopes, "okta.users.read")
            uid = params["id"]
            if uid == "me":
                if kind != "user":
                    raise ApiError(404, "E0000007", "Not found: Resource not found: me (User)")
                uid = who
            user = self.org.by_id.get(uid) or next((u for u in self.org.users if u["login"].lower() == uid.lower()), None)
            if user is None or (visible_ids is not None and user["id"] not in visible_ids and user["id"] != who):
                raise ApiError(404, "E0000007", f"Not found: Resource not found: {uid} (User)")
            return ok(user_body(user, base))
        if template == "/api/v1/users":
            self.need_scope(scopes, "okta.users.read")
            if "search" in query and "filter" in query:
                raise ApiError(400, "E0000031", "Invalid search criteria.")
            try:
                if "search" in query:
                    if len(query["search"]) > 4000:
                        raise ValueError("the search is too long")
                    tree = parse_expr(query["search"], None, ("eq", "sw", "co", "gt", "ge", "lt", "le"))
                    hits = self.org.index.run(tree, fold=True)
                elif "filter" in query:
                    tree = parse_expr(query["filter"], FILTER_PROPS, ("eq", "gt", "ge", "lt", "le"))
                    hits = self.org.index.run(tree, fold=False)
                else:
                    hits = None
            except ValueError as exc:
                raise ApiError(400, "E0000031", f"Invalid search criteria. {exc}")
            if hits is None:
                users = [u for u in self.org.users if u["status"] != "DEPROVISIONED"]
            else:
                users = [self.org.users[i] for i in sorted(hits)]
            if visible_ids is not None:
                users = [u for u in users if u["id"] in visible_ids]
            return self.page(users, query, base, "/api/v1/users", self.page_max, 200,
                             lambda u: user_body(u, base), ok)
        if template in ("/api/v1/users/{id}/roles", "/api/v1/users/{id}/appLinks"):
            self.need_scope(scopes, "okta.roles.read" if template.endswith("roles") else "okta.users.read")
            user = self.org.by_id.get(params["id"])
            if user is None or (visible_ids is not None and user["id"] not in visible_ids and user["id"] != who):
                raise ApiError(404, "E0000007", f"Not found: Resource not found: {params['id']} (User)")
            if template.endswith("roles"):
                return ok([role_body(r, base, f"/api/v1/users/{user['id']}") for r in self.org.roles_of(user)])
            links = []
            for n, a in enumerate(self.org.apps_of(user)):
                app = self.org.apps[a]
                links.append({"id": f"{a}-{user['id']}", "appInstanceId": app["id"], "appName": app["name"],
                              "appAssignmentId": f"0ua{user['id'][-10:]}{n}", "label": app["label"],
                              "credentialsSetup": False, "hidden": False, "sortOrder": n,
                              "linkUrl": f"{base}/home/{app['name']}/{app['id']}/1",
                              "logoUrl": f"{base}/assets/img/logos/default.png"})
            return ok(links)
        if template == "/api/v1/users/{id}/groups":
            # listUserGroups: the scope is okta.users.read (not okta.groups.read).
            self.need_scope(scopes, "okta.users.read")
            user = self.org.find_user(params["id"])
            if user is None or (visible_ids is not None and user["id"] not in visible_ids and user["id"] != who):
                raise ApiError(404, "E0000007", f"Not found: Resource not found: {params['id']} (User)")
            gids = self.org.groups_of(user)
            if seen is not None:
                # A scoped role sees the groups it targets only, Everyone not among them.
                targets = {g for r in roles for g in r["targets"]}
                gids = [g for g in gids if g in targets]
            return self.page([group_body(self.org, g, base) for g in gids], query, base,
                             f"/api/v1/users/{quote(user['id'], safe='')}/groups", min(200, self.page_max), 200,
                             lambda g: g, ok)
        if template == "/api/v1/groups":
            self.need_scope(scopes, "okta.groups.read")
            if seen is not None:
                # No org-wide role: only the groups a scoped role targets, and no Everyone.
                targets = {g for r in roles for g in r["targets"]}
                scoped = [group_body(self.org, g, base) for g in sorted(targets) if g in self.org.groups]
                return self.page(scoped, query, base, "/api/v1/groups", 10000, 10000, lambda g: g, ok)
            groups = [group_body(self.org, g, base) for g in [EVERYONE, *self.org.groups]]
            if query.get("search"):
                m = re.fullmatch(r'\s*type eq "(\w+)"\s*', query["search"])
                if not m:
                    raise ApiError(400, "E0000031", "Invalid search criteria.")
                groups = [g for g in groups if g["type"] == m.group(1)]
            if "stats" in (query.get("expand") or "").split(","):
                for g in groups:
                    g["_embedded"] = {"stats": {"usersCount": self.org.member_counts[g["id"]], "appsCount": 0,
                                                "groupPushMappingsCount": 0, "hasAdminPrivilege": False}}
            return self.page(groups, query, base, "/api/v1/groups", 10000, 10000, lambda g: g, ok)
        if template == "/api/v1/api-tokens":
            self.need_scope(scopes, "okta.apiTokens.read")
            if kind == "user" and not any(r["type"] == "SUPER_ADMIN" for r in roles):
                raise ApiError(403, "E0000006", "You do not have permission to perform the requested action")
            now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            live = [t for t in self.org.tokens if self.org.by_id[t["userId"]]["status"] != "DEPROVISIONED"
                    and (t.get("expiresAt") or "9999") > now]
            live.sort(key=lambda t: t["id"])

            def token_body(t: dict) -> dict:
                out = {k: v for k, v in t.items() if v is not None}
                out.setdefault("clientName", "Okta API")
                out.setdefault("tokenWindow", "P30D")
                out["_link"] = {"self": {"href": f"{base}/api/v1/api-tokens/{t['id']}"}}
                return out
            # listApiTokens takes no paging parameters: one answer.
            return ok([token_body(t) for t in live])
        if template == "/oauth2/v1/clients/{clientId}/roles":
            self.need_scope(scopes, "okta.roles.read")
            cid = params["clientId"]
            if cid not in self.org.service_apps:
                raise ApiError(404, "E0000007", f"Not found: Resource not found: {cid} (Client)")
            return ok([role_body(dict(r, assignmentType="CLIENT"), base, f"/oauth2/v1/clients/{cid}")
                       for r in self.org.service_apps[cid]])
        raise ApiError(404, "E0000022", "The endpoint does not support the provided HTTP method")

    def page(self, items: list[dict], query: dict, base: str, path: str, max_limit: int, default: int,
             render: Any, ok: Any) -> Reply:
        try:
            limit = int(query.get("limit") or default)
        except ValueError:
            raise ApiError(400, "E0000001", "Api validation failed: limit")
        limit = max(1, min(limit, max_limit))
        after = query.get("after")
        start = 0
        if after:
            start = next((i + 1 for i, it in enumerate(items) if it["id"] == after), None)
            if start is None:
                raise ApiError(400, "E0000001", "Api validation failed: after")
        chunk = items[start:start + limit]
        keep = {k: v for k, v in query.items() if k != "after"}
        qs = "&".join(f"{k}={quote(v, safe='')}" for k, v in keep.items())
        links = [f'<{base}{path}{"?" + qs if qs else ""}>; rel="self"']
        if start + limit < len(items):
            nxt = "&".join(x for x in (qs, f"after={quote(chunk[-1]['id'], safe='')}") if x)
            links.append(f'<{base}{path}?{nxt}>; rel="next"')
        return ok([render(it) for it in chunk], [("Link", ", ".join(links))])

    def token(self, body: bytes, base: str, rate: list) -> Reply:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        template = "/oauth2/v1/token"

        def err(error: str, desc: str, status: int = 400) -> Reply:
            return self._json(status, {"error": error, "error_description": desc}, rate, template, "none")

        if form.get("grant_type") != "client_credentials":
            return err("unsupported_grant_type", "The authorization grant type is not supported by the authorization server.")
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return err("invalid_client", "Client authentication failed.", 401)
        claims = self.verify_assertion(form.get("client_assertion") or "", f"{base}/oauth2/v1/token")
        if isinstance(claims, str):
            return err("invalid_client", claims, 401)
        asked = set((form.get("scope") or "").split())
        allowed = {"okta.users.read", "okta.apps.read", "okta.roles.read", "okta.apiTokens.read", "okta.groups.read"}
        if not asked or asked - allowed:
            return err("invalid_scope", "The requested scope is invalid, unknown, or malformed.")
        token = "eyJraWQiOiJ" + secrets.token_urlsafe(48)
        with self.lock:
            self.minted[token] = (claims["sub"], asked, time.time() + 3600)
        return self._json(200, {"token_type": "Bearer", "expires_in": 3600, "access_token": token,
                                "scope": " ".join(sorted(asked))}, rate, template, "none")

    def verify_assertion(self, jwt: str, audience: str) -> dict | str:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def b64(s: str) -> bytes:
            return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
        try:
            h, p, s = jwt.split(".")
            header, claims = json.loads(b64(h)), json.loads(b64(p))
        except ValueError:
            return "The client_assertion is not a JWT."
        if header.get("alg") != "RS256":
            return "The client_assertion signature algorithm is not allowed."
        cid = claims.get("iss")
        if cid not in self.clients or claims.get("sub") != cid:
            return "The client_assertion iss and sub must be a registered client id."
        key = self.clients[cid]
        try:
            key.verify(b64(s), f"{h}.{p}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return "The client_assertion signature is invalid."
        if claims.get("aud") != audience:
            return f"The audience claim must be {audience}."
        now = time.time()
        if not isinstance(claims.get("exp"), int) or claims["exp"] < now or claims["exp"] > now + 3600:
            return "The client_assertion token is expired or valid for too long."
        jti = claims.get("jti")
        with self.lock:
            if not jti or jti in self.jtis:
                return "The client_assertion token has already been used (jti)."
            self.jtis.add(jti)
        return claims

    # -- control --------------------------------------------------------------------------

    def control(self, method: str, path: str, body: bytes) -> Reply:
        def ok(payload: Any, status: int = 200) -> Reply:
            return Reply(status, json.dumps(payload).encode(), [("Content-Type", JSON_TYPE)])
        try:
            if path == "/_harness/faults":
                if method == "POST":
                    self.faults.replace(json.loads(body or b"[]"))
                elif method == "DELETE":
                    self.faults.clear()
                return ok({"rules": self.faults.snapshot()})
            if path == "/_harness/stats":
                with self.lock:
                    if method == "DELETE":
                        self.stats = self._zero()
                    return ok(json.loads(json.dumps(self.stats)))
            if path == "/_harness/reset" and method == "POST":
                self.faults.clear()
                with self.lock:
                    self.stats = self._zero()
                    self.buckets.clear()
                    self.minted.clear()
                return ok({"reset": True})
        except (ValueError, re.error) as exc:
            return ok({"error": str(exc)}, 400)
        return ok({"error": f"no harness route {method} {path}"}, 404)

    def _record(self, method: str, path: str, query: str, reply: Reply) -> None:
        with self.lock:
            self.stats["requests"] += 1
            key = reply.template or "(unrouted)"
            self.stats["by_path"][key] = self.stats["by_path"].get(key, 0) + 1
            self.stats["by_status"][str(reply.status)] = self.stats["by_status"].get(str(reply.status), 0) + 1
            if self.log_fh is not None:
                self.log_fh.write(json.dumps({"ts": round(time.time(), 3), "method": method, "path": path,
                                              "query": query, "status": reply.status,
                                              "template": reply.template, "auth": reply.auth}) + "\n")
                self.log_fh.flush()


ROUTES = [
    (re.compile(r"^/api/v1/users$"), "/api/v1/users"),
    (re.compile(r"^/api/v1/users/(?P<id>[^/]+)$"), "/api/v1/users/{id}"),
    (re.compile(r"^/api/v1/users/(?P<id>[^/]+)/roles$"), "/api/v1/users/{id}/roles"),
    (re.compile(r"^/api/v1/users/(?P<id>[^/]+)/appLinks$"), "/api/v1/users/{id}/appLinks"),
    (re.compile(r"^/api/v1/users/(?P<id>[^/]+)/groups$"), "/api/v1/users/{id}/groups"),
    (re.compile(r"^/api/v1/groups$"), "/api/v1/groups"),
    (re.compile(r"^/api/v1/api-tokens$"), "/api/v1/api-tokens"),
    (re.compile(r"^/oauth2/v1/clients/(?P<clientId>[^/]+)/roles$"), "/oauth2/v1/clients/{clientId}/roles"),
    (re.compile(r"^/oauth2/v1/token$"), "/oauth2/v1/token"),
]


def route(path: str) -> tuple[str, dict]:
    from urllib.parse import unquote
    for rx, template in ROUTES:
        m = rx.match(path)
        if m:
            return template, {k: unquote(v) for k, v in m.groupdict().items()}
    return "", {}


# ---------------------------------------------------------------------------
# Scale generator
# ---------------------------------------------------------------------------


def generate(users: int, leavers: int, seed: int = 7) -> dict:
    rnd = random.Random(seed)
    apps = [{"id": f"0oa{n:07d}app", "name": f"app_{n}", "label": f"App {n}"} for n in range(40)]
    groups = [{"id": f"00g{n:07d}grp", "name": f"team-{n}", "apps": [apps[n % 40]["id"], apps[(n * 7) % 40]["id"]]}
              for n in range(100)]
    groups[0]["roles"] = [{"type": "APP_ADMIN"}]
    # A group without apps or roles: a second membership for every tenth user (so user group
    # lists have pages to follow) that changes no finding.
    finance = {"id": "00g0000100grp", "name": "Finance", "description": "Finance department"}
    groups.append(finance)
    out = []
    metas = []
    chosen = set(rnd.sample(range(1, users), min(leavers, users - 1)))
    for n in range(users):
        status = "ACTIVE"
        if n % 50 == 3:
            status = "DEPROVISIONED"
        elif n % 97 == 5:
            status = "SUSPENDED"
        login = f"user{n:06d}@acme.example"
        u = {"id": f"00u{n:07d}usr", "login": login, "email": login, "employeeNumber": f"E{n:06d}",
             "status": status, "created": "2024-01-01T00:00:00.000Z",
             "lastLogin": "2026-11-01T00:00:00.000Z", "groups": [groups[n % 100]["id"]]}
        if n % 10 == 1:
            u["groups"].append(finance["id"])
        if n == 0:
            u["login"] = u["email"] = "scanner@acme.example"
            u["roles"] = [{"type": "SUPER_ADMIN"}]
        if n in chosen:
            if rnd.random() < 0.3:
                u["status"] = "DEPROVISIONED"
            metas.append({"email": u["email"], "departure_date": "2026-11-15", "employee_id": u["employeeNumber"]})
        out.append(u)
    tokens = [{"id": f"00T{n:07d}tok", "name": f"token-{n}", "userId": out[(n * 37) % users]["id"],
               "created": "2025-01-01T00:00:00.000Z", "lastUpdated": "2026-11-20T00:00:00.000Z"}
              for n in range(60)]
    return {"org": {"name": "acme"}, "users": out, "groups": groups, "apps": apps, "api_tokens": tokens,
            "meta": {"leavers": metas, "scanner": out[0]["id"]}}


def write_leavers(raw: dict, path: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "departure_date", "employee_id"])
        for m in (raw.get("meta") or {}).get("leavers", []):
            w.writerow([m["email"], m["departure_date"], m.get("employee_id", "")])


# ---------------------------------------------------------------------------
# HTTP server
# ---------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    api: OktaApi
    base_url: str = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def version_string(self) -> str:
        return self.server_version

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        base = f"http://{headers.get('host') or self.base_url}"
        try:
            reply = self.api.handle(self.command, self.path, headers, body, base)
        except Exception as exc:  # a harness bug must show as a 500, not a hung client
            reply = Reply(500, json.dumps({"errorCode": "E0000009", "errorSummary": f"harness error: {exc!r}",
                                           "errorLink": "E0000009", "errorId": "oaeharness",
                                           "errorCauses": []}).encode(), [("Content-Type", JSON_TYPE)])
        if reply.hang:
            time.sleep(reply.hang)
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def load_public_key(path: str) -> Any:
    from cryptography.hazmat.primitives import serialization
    with open(path, "rb") as fh:
        return serialization.load_pem_public_key(fh.read())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--scenario")
    src.add_argument("--generate-scale", metavar="USERS:LEAVERS")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dump-scenario")
    ap.add_argument("--dump-leavers")
    ap.add_argument("--port", type=int)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port-file")
    ap.add_argument("--request-log")
    ap.add_argument("--token", action="append", default=[], metavar="TOKEN=USER_ID")
    ap.add_argument("--client", action="append", default=[], metavar="CLIENT_ID=PUBLIC_KEY_PEM_FILE")
    ap.add_argument("--rate-limit", type=int, default=600)
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--page-max", type=int, default=200)
    ap.add_argument("--pad-users", type=int, default=0, help="add N active staff users (a bigger org)")
    args = ap.parse_args(argv)
    try:
        if args.scenario:
            with open(args.scenario, encoding="utf-8") as fh:
                raw = json.load(fh)
        else:
            n, k = (int(x) for x in args.generate_scale.split(":"))
            raw = generate(n, k, args.seed)
        for n in range(args.pad_users):
            raw.setdefault("users", []).append({"id": f"00u9pad{n:07d}", "login": f"staff{n:06d}@acme.example",
                                                "status": "ACTIVE", "employeeNumber": f"P{n:06d}"})
        org = Org(raw)
    except (OSError, ValueError) as exc:
        print(f"okta_server: {exc}", file=sys.stderr)
        return 2
    if args.dump_scenario:
        with open(args.dump_scenario, "w", encoding="utf-8") as fh:
            json.dump(raw, fh)
    if args.dump_leavers:
        write_leavers(raw, args.dump_leavers)
    if args.port is None:
        if args.dump_scenario or args.dump_leavers:
            return 0
        ap.error("--port is required unless only dumping")
    tokens = {}
    for t in args.token:
        tok, _, uid = t.partition("=")
        if uid not in org.by_id:
            ap.error(f"--token {tok[:4]}…: unknown user id {uid}")
        tokens[tok] = uid
    clients = {}
    for c in args.client:
        cid, _, pem = c.partition("=")
        clients[cid] = load_public_key(pem)
    api = OktaApi(org, tokens, clients, args.rate_limit, args.latency_ms, args.page_max, args.request_log)
    handler = type("BoundHandler", (Handler,), {"api": api})
    server = Server((args.host, args.port), handler)
    if args.port_file:
        write_port_file(args.port_file, server.server_address[1])
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(0)))
    try:
        server.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
