#!/usr/bin/env python3
"""Check that what github_server.py serves matches GitHub's published OpenAPI description.

Usage:
    python tests/harness/github_schema_check.py --scenario FILE.json  [--self-test] [--allow-undeclared]
    python tests/harness/github_schema_check.py --generate-scale 200:20:5 [--self-test]
    python tests/harness/github_schema_check.py --write-subset-from ghec-subset.deref.json
                                                                    (regenerates the fixture)

Nothing is opened on the network: the server module is imported and its request handler is
called in-process, exactly as the HTTP server would call it, for every route and every page of
every list (pages are walked through the Link headers, via the /organizations/{id} and
/repositories/{id} URLs github.com uses). Each 2xx body, and the documented error bodies
(401, 403, 404), is validated with `jsonschema` against the matching response schema in
fixtures/github/openapi-subset.json, and only that file. The schemas are OpenAPI 3.0, so before
validation they are translated to JSON Schema draft 4: `nullable: true` becomes a "null" type (or
an anyOf with null), and OpenAPI-only keywords (example, readOnly, x-…) are dropped. Formats
date-time, date, uri and email are checked.

By default the check is stricter than the schema: an object may not carry a property its schema
does not declare (GitHub's schemas leave additionalProperties open), so a misspelt field in the
server (`last_used_at` for `last_used`) fails instead of passing silently. --allow-undeclared
turns that off.

GraphQL and the GitHub App routes (/app, installation access tokens) are not in the subset: their
shapes are checked by hand. So are response headers (rate limits, request id, content type) and
pagination (the Link header's form, and that every page together yields the scenario's items).

--self-test also breaks one field in each validated body (an integer made a string, or a string
made an integer) and requires the schema to reject it, proving the check can fail.

Prints each failure as `FAIL <endpoint> <json path>: <message>`, then `N passed, M failed`;
exits 0 only when nothing failed.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft4Validator, FormatChecker

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import github_server as gs  # noqa: E402  (the module under test sits beside this file)

SUBSET = HERE.parent.parent / "fixtures" / "github" / "openapi-subset.json"

# The operations the server implements that the subset must carry, with the statuses kept.
OPERATIONS: list[tuple[str, str, list[str]]] = [
    ("get", "/user", ["200", "401", "403"]),
    ("get", "/rate_limit", ["200"]),
    ("get", "/users/{username}", ["200", "404"]),
    ("get", "/orgs/{org}", ["200", "404"]),
    ("get", "/orgs/{org}/members", ["200", "422"]),
    ("get", "/orgs/{org}/members/{username}", ["204", "404"]),
    ("get", "/orgs/{org}/memberships/{username}", ["200", "403", "404"]),
    ("get", "/orgs/{org}/outside_collaborators", ["200"]),
    ("get", "/orgs/{org}/invitations", ["200", "404"]),
    ("get", "/orgs/{org}/teams", ["200", "403"]),
    ("get", "/orgs/{org}/teams/{team_slug}/members", ["200"]),
    ("get", "/orgs/{org}/credential-authorizations", ["200"]),
    ("get", "/orgs/{org}/personal-access-tokens", ["200", "403", "404", "422"]),
    ("get", "/orgs/{org}/repos", ["200"]),
    ("get", "/orgs/{org}/actions/secrets", ["200"]),
    ("get", "/repos/{owner}/{repo}/keys", ["200"]),
    ("get", "/repos/{owner}/{repo}/keys/{key_id}", ["200", "404"]),
]
OPENAPI_ONLY = {"example", "examples", "xml", "externalDocs", "discriminator", "readOnly", "writeOnly", "deprecated"}
REQUIRED_HEADERS = ["content-type", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
                    "x-ratelimit-used", "x-ratelimit-resource", "x-github-api-version-selected",
                    "x-github-request-id"]
LINK_PART = re.compile(r'^<(?P<url>[^>]+)>; rel="(?P<rel>next|last|prev|first)"$')


# ---------------------------------------------------------------------------
# Extracting the subset fixture
# ---------------------------------------------------------------------------


def strip_examples(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: strip_examples(v) for k, v in node.items() if k not in ("example", "examples")}
    if isinstance(node, list):
        return [strip_examples(v) for v in node]
    return node


def write_subset(source: Path, dest: Path) -> None:
    full = json.loads(source.read_text(encoding="utf-8"))
    paths: dict[str, dict] = {}
    for method, path, statuses in OPERATIONS:
        op = full["paths"][path][method]
        kept = {
            "summary": op.get("summary"),
            "operationId": op.get("operationId"),
            "parameters": [strip_examples({k: p[k] for k in ("name", "in", "required", "schema") if k in p})
                           for p in op.get("parameters", [])],
            "responses": {s: strip_examples(op["responses"][s]) for s in statuses if s in op["responses"]},
        }
        paths.setdefault(path, {})[method] = kept
    out = {
        "openapi": full.get("openapi"),
        "info": {
            "title": "GitHub REST API: the operations residual's GitHub test server serves",
            "version": (full.get("info") or {}).get("version", ""),
            "x-extracted-from": f"{source.name} (@octokit/openapi, MIT; see LICENSE beside this file); "
                                "examples removed, schemas otherwise unchanged",
        },
        "paths": paths,
    }
    dest.write_text(json.dumps(out, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {dest} ({dest.stat().st_size} bytes, {len(OPERATIONS)} operations)")


# ---------------------------------------------------------------------------
# OpenAPI 3.0 schema → JSON Schema draft 4
# ---------------------------------------------------------------------------


def translate(node: Any, strict: bool) -> Any:
    if isinstance(node, list):
        return [translate(v, strict) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in OPENAPI_ONLY or key.startswith("x-") or key == "nullable":
            continue
        if key == "properties":
            out[key] = {name: translate(sub, strict) for name, sub in value.items()}
        else:
            out[key] = translate(value, strict)
    if strict and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if node.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else list(out["type"]) + ["null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = list(out["enum"]) + [None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not gs.RFC3339.match(value):
            raise ValueError(f"{value!r} is not an RFC 3339 date-time")
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    @checker.checks("date", raises=ValueError)
    def date(value: object) -> bool:
        if isinstance(value, str):
            dt.date.fromisoformat(value)
        return True

    @checker.checks("uri")
    def uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and (parts.netloc or parts.path)) and not re.search(r"\s", value)

    @checker.checks("email")
    def email(value: object) -> bool:
        return not isinstance(value, str) or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) is not None

    return checker


class Schemas:
    def __init__(self, subset_path: Path, strict: bool):
        if not subset_path.is_file():
            raise SystemExit(f"github_schema_check: {subset_path} is missing; regenerate it with --write-subset-from")
        self.doc = json.loads(subset_path.read_text(encoding="utf-8"))
        self.strict = strict
        self.checker = format_checker()
        self.cache: dict[tuple[str, str, str], Draft4Validator] = {}

    def validator(self, method: str, template: str, status: int) -> Draft4Validator | None:
        key = (method.lower(), template, str(status))
        if key not in self.cache:
            op = self.doc["paths"].get(template, {}).get(method.lower())
            if op is None:
                return None
            resp = op["responses"].get(str(status))
            content = (resp or {}).get("content", {}).get("application/json")
            if content is None:
                return None
            schema = translate(content["schema"], self.strict)
            Draft4Validator.check_schema(schema)
            self.cache[key] = Draft4Validator(schema, format_checker=self.checker)
        return self.cache[key]


# ---------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------


def json_path(parts: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


class Checker:
    PAT = "check-pat-0000"

    def __init__(self, raw: dict, schemas: Schemas, self_test: bool):
        self.raw = raw
        self.schemas = schemas
        self.self_test = self_test
        self.passed = 0
        self.failures: list[str] = []
        self.samples: dict[tuple[str, str, int], Any] = {}
        self.model = gs.Model(raw)
        self.jwt: str | None = None
        self.private_pem: bytes | None = None
        self._prepare_app_key()
        self.api = gs.GitHubApi(self.model, {self.PAT: None}, rate_limit=10**9)
        self.base = "https://api.github.com"

    def _prepare_app_key(self) -> None:
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
        except ImportError:
            return
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())
        self.model.app.public_key_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    # -- plumbing -----------------------------------------------------------------------

    def ok(self) -> None:
        self.passed += 1

    def fail(self, endpoint: str, path: str, message: str) -> None:
        self.failures.append(f"FAIL {endpoint} {path}: {message}")

    def expect(self, cond: bool, endpoint: str, path: str, message: str) -> bool:
        if cond:
            self.ok()
        else:
            self.fail(endpoint, path, message)
        return cond

    def call(self, method: str, target: str, token: str | None = PAT, body: Any = None,
             base: str | None = None) -> tuple[int, dict[str, str], Any, gs.Reply]:
        base = base or self.base
        if target.startswith(base):
            target = target[len(base):]
        headers = {"host": urlsplit(base).netloc, "accept": "application/vnd.github+json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else b""
        reply = self.api.handle(method, target, headers, data, base_url=base)
        hdrs = {k.lower(): v for k, v in reply.headers}
        try:
            parsed = json.loads(reply.body) if reply.body else None
        except ValueError:
            parsed = gs._UNSET
        return reply.status, hdrs, parsed, reply

    def validate(self, method: str, template: str, status: int, body: Any, label: str) -> bool:
        endpoint = f"{method} {template} [{label}]"
        v = self.schemas.validator(method, template, status)
        if v is None:
            self.fail(endpoint, "$", f"the subset has no JSON schema for status {status}")
            return False
        errors = sorted(v.iter_errors(body), key=lambda e: list(e.absolute_path))
        for e in errors[:20]:
            self.fail(endpoint, json_path(e.absolute_path), e.message[:300])
        if len(errors) > 20:
            self.fail(endpoint, "$", f"... and {len(errors) - 20} more errors")
        if not errors:
            self.ok()
            self.samples.setdefault((method, template, status), body)
        return not errors

    def check_headers(self, endpoint: str, hdrs: dict[str, str], resource: str = "core") -> None:
        missing = [h for h in REQUIRED_HEADERS if h not in hdrs]
        good = not missing and hdrs["content-type"] == "application/json; charset=utf-8" and \
            hdrs["x-ratelimit-resource"] == resource and all(
                hdrs[h].isdigit() for h in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
                                            "x-ratelimit-used"))
        self.expect(good, endpoint, "headers", f"missing {missing} or malformed: {hdrs}")

    def get(self, target: str, template: str, status: int = 200, token: str | None = PAT, label: str = "",
            base: str | None = None) -> Any:
        code, hdrs, body, _ = self.call("GET", target, token, base=base)
        endpoint = f"GET {template} [{label or target}]"
        if not self.expect(code == status, endpoint, "status", f"expected {status}, got {code}: {body}"):
            return None
        self.check_headers(endpoint, hdrs)
        self.validate("GET", template, status, body, label or target)
        return body

    def walk(self, target: str, template: str, token: str | None = PAT, key: str | None = None,
             base: str | None = None) -> list | None:
        """Fetch every page by following Link rel="next"; validate each; return all items."""
        base = base or self.base
        items: list = []
        seen_pages = 0
        url: str | None = target
        while url:
            code, hdrs, body, _ = self.call("GET", url, token, base=base)
            seen_pages += 1
            endpoint = f"GET {template} [page {seen_pages}]"
            if not self.expect(code == 200, endpoint, "status", f"expected 200, got {code}: {body}"):
                return None
            self.check_headers(endpoint, hdrs)
            self.validate("GET", template, 200, body, f"page {seen_pages} of {target}")
            page_items = body[key] if key else body
            if not isinstance(page_items, list):
                return None
            items += page_items
            url = self.next_link(endpoint, hdrs.get("link"), base)
            if seen_pages > 100_000:
                self.fail(endpoint, "link", "pagination does not end")
                return None
        return items

    def next_link(self, endpoint: str, link: str | None, base: str) -> str | None:
        if link is None:
            return None
        rels: dict[str, str] = {}
        for part in link.split(", "):
            mt = LINK_PART.match(part)
            if not mt:
                self.fail(endpoint, "link", f"malformed Link part {part!r}")
                return None
            rels[mt.group("rel")] = mt.group("url")
        good = all(u.startswith(base) for u in rels.values()) and ("next" in rels) == ("last" in rels) and \
            ("prev" in rels) == ("first" in rels) and bool(rels)
        self.expect(good, endpoint, "link", f"inconsistent Link header {link!r}")
        return rels.get("next")

    # -- the endpoint checks ------------------------------------------------------------------

    def run(self) -> None:
        m = self.model
        org = m.org_login
        self.get("/user", "/user")
        self.get("/rate_limit", "/rate_limit")
        self.get(f"/orgs/{org}", "/orgs/{org}")
        self.get("/orgs/no-such-org-xyz", "/orgs/{org}", 404, label="unknown org")

        # Auth failures carry GitHub's error body.
        code, hdrs, body, _ = self.call("GET", "/user", token="not-a-token")
        if self.expect(code == 401, "GET /user [bad token]", "status", f"expected 401, got {code}"):
            self.validate("GET", "/user", 401, body, "bad token")
            self.expect(body == {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                                 "status": "401"}, "GET /user [bad token]", "$", f"unexpected body {body}")
            self.check_headers("GET /user [bad token]", hdrs)

        # Members, in every role filter, and the same order whatever the page size.
        expected = {role: [x.user.login for x in lst] for role, lst in m.members_by_role.items()}
        for role in ("all", "admin", "member"):
            got = self.walk(f"/orgs/{org}/members?role={role}&per_page=100", "/orgs/{org}/members")
            if got is not None:
                self.expect([u["login"] for u in got] == expected[role], f"GET /orgs/{{org}}/members [role={role}]",
                            "$", "pages together do not list exactly the scenario's members in order")
        small = self.walk(f"/orgs/{org}/members?per_page=7", "/orgs/{org}/members") if len(m.members) <= 3000 else None
        if small is not None:
            self.expect([u["login"] for u in small] == expected["all"], "GET /orgs/{org}/members [per_page=7]",
                        "$", "small pages disagree with large ones")

        # Memberships: members (active), pending invitees, outside collaborators and strangers (404).
        sample = m.members if len(m.members) <= 200 else m.members[:50] + m.members_by_role["admin"][:10]
        for member in sample:
            body = self.get(f"/orgs/{org}/memberships/{member.user.login}", "/orgs/{org}/memberships/{username}",
                            label=member.user.login)
            if body is not None:
                self.expect(body["state"] == "active" and body["role"] == member.role,
                            f"GET /orgs/{{org}}/memberships/{member.user.login}", "$.role",
                            f"expected active/{member.role}, got {body['state']}/{body['role']}")
        for inv in m.invitations:
            if inv.login and not inv.failed_at and inv.login.lower() not in m.member_index:
                self.get(f"/orgs/{org}/memberships/{inv.login}", "/orgs/{org}/memberships/{username}",
                         label=f"pending {inv.login}")
        strangers = [u.login for u in m.outside[:5]] + ["nobody-here-xyz"]
        for login in strangers:
            body = self.get(f"/orgs/{org}/memberships/{login}", "/orgs/{org}/memberships/{username}", 404,
                            label=f"not a member: {login}")
            if body is not None:
                self.expect(body.get("message") == "Not Found" and body.get("status") == "404",
                            "GET /orgs/{org}/memberships/{username} [404]", "$", f"unexpected body {body}")

        # Users (public profiles) and the membership check.
        for u in [x.user for x in m.members[:20]] + m.outside[:5]:
            self.get(f"/users/{u.login}", "/users/{username}", label=u.login)
        self.get("/users/nobody-here-xyz", "/users/{username}", 404, label="unknown user")
        if m.members:
            code, _, _, _ = self.call("GET", f"/orgs/{org}/members/{m.members[0].user.login}")
            self.expect(code == 204, "GET /orgs/{org}/members/{username}", "status", f"expected 204, got {code}")

        got = self.walk(f"/orgs/{org}/outside_collaborators?per_page=100", "/orgs/{org}/outside_collaborators")
        if got is not None:
            self.expect([u["login"] for u in got] == [u.login for u in m.outside],
                        "GET /orgs/{org}/outside_collaborators", "$", "does not list the scenario's collaborators")
        got = self.walk(f"/orgs/{org}/invitations?per_page=100", "/orgs/{org}/invitations")
        if got is not None:
            want = [i.id for i in m.invitations if not i.failed_at]
            self.expect([i["id"] for i in got] == want, "GET /orgs/{org}/invitations", "$",
                        "does not list the scenario's pending invitations")
        got = self.walk(f"/orgs/{org}/teams?per_page=100", "/orgs/{org}/teams")
        if got is not None:
            self.expect([t["slug"] for t in got] == [t.slug for t in m.teams], "GET /orgs/{org}/teams", "$",
                        "does not list the scenario's teams")
        for t in m.teams[:300]:
            got = self.walk(f"/orgs/{org}/teams/{t.slug}/members?per_page=100", "/orgs/{org}/teams/{team_slug}/members")
            if got is not None:
                self.expect([u["login"].lower() for u in got] == t.members,
                            f"GET /orgs/{{org}}/teams/{t.slug}/members", "$", "does not list the team's members")

        got = self.walk(f"/orgs/{org}/credential-authorizations?per_page=100", "/orgs/{org}/credential-authorizations")
        if got is not None:
            self.expect(len(got) == len(m.credential_authorizations), "GET /orgs/{org}/credential-authorizations",
                        "$", f"{len(got)} listed, scenario has {len(m.credential_authorizations)}")
        if m.credential_authorizations:
            who = m.credential_authorizations[0]["login"]
            got = self.walk(f"/orgs/{org}/credential-authorizations?login={who}",
                            "/orgs/{org}/credential-authorizations")
            if got is not None:
                self.expect(bool(got) and all(c["login"].lower() == who.lower() for c in got),
                            "GET /orgs/{org}/credential-authorizations [login filter]", "$", "filter not applied")

        # Fine-grained PAT grants: a plain PAT is refused; an installation token lists them.
        body = self.get(f"/orgs/{org}/personal-access-tokens", "/orgs/{org}/personal-access-tokens", 403,
                        label="plain PAT")
        if body is not None:
            self.expect(body.get("message") == "Resource not accessible by personal access token",
                        "GET /orgs/{org}/personal-access-tokens [PAT]", "$.message", f"unexpected body {body}")
        inst_token = self.check_app()
        if inst_token:
            got = self.walk(f"/orgs/{org}/personal-access-tokens?per_page=100", "/orgs/{org}/personal-access-tokens",
                            token=inst_token)
            if got is not None:
                self.expect(sorted(g["id"] for g in got) == sorted(g["id"] for g in m.pat_grants),
                            "GET /orgs/{org}/personal-access-tokens", "$", "does not list the scenario's grants")
            code, _, body, _ = self.call("GET", "/user", token=inst_token)
            self.expect(code == 403 and body.get("message") == "Resource not accessible by integration",
                        "GET /user [installation token]", "status", f"expected 403, got {code} {body}")

        got = self.walk(f"/orgs/{org}/repos?per_page=100", "/orgs/{org}/repos")
        if got is not None:
            self.expect([r["name"] for r in got] == [r.name for r in m.repos], "GET /orgs/{org}/repos", "$",
                        "does not list the scenario's repositories")
        first_key = None
        for r in m.repos:
            got = self.walk(f"/repos/{org}/{r.name}/keys?per_page=100", "/repos/{owner}/{repo}/keys")
            if got is not None:
                self.expect([k["id"] for k in got] == [k.id for k in r.deploy_keys],
                            f"GET /repos/{{owner}}/{r.name}/keys", "$", "does not list the repository's keys")
            if r.deploy_keys and first_key is None:
                first_key = (r, r.deploy_keys[0])
        if first_key:
            r, k = first_key
            self.get(f"/repos/{org}/{r.name}/keys/{k.id}", "/repos/{owner}/{repo}/keys/{key_id}", label="one key")
            self.get(f"/repos/{org}/{r.name}/keys/999999999999", "/repos/{owner}/{repo}/keys/{key_id}", 404,
                     label="unknown key")

        got = self.walk(f"/orgs/{org}/actions/secrets?per_page=100", "/orgs/{org}/actions/secrets", key="secrets")
        if got is not None:
            self.expect([s["name"] for s in got] == [s["name"] for s in m.secrets], "GET /orgs/{org}/actions/secrets",
                        "$.secrets", "does not list the scenario's secrets")
        if len(m.secrets) > 2:
            got = self.walk(f"/orgs/{org}/actions/secrets?per_page=2", "/orgs/{org}/actions/secrets", key="secrets")
            if got is not None:
                self.expect(len(got) == len(m.secrets), "GET /orgs/{org}/actions/secrets [per_page=2]", "$.secrets",
                            "small pages lose secrets")

        # GitHub Enterprise Server: the same bodies under /api/v3, with URLs to match.
        ghes = "https://ghe.acme.example"
        got = self.walk(f"/api/v3/orgs/{org}/members?per_page=100", "/orgs/{org}/members", base=ghes)
        if got:
            self.expect(got[0]["url"].startswith(f"{ghes}/api/v3/users/"), "GET /api/v3/orgs/{org}/members", "$[0].url",
                        f"GHES URL not under /api/v3: {got[0]['url']}")

        self.check_graphql()

    def check_app(self) -> str | None:
        """GET /app and minting an installation token (not in the subset: checked by hand)."""
        if self.private_pem is None:
            self.fail("POST /app/installations/{installation_id}/access_tokens", "$",
                      "cryptography is not installed: cannot sign a JWT")
            return None
        app = self.model.app
        jwt = gs.make_app_jwt(self.private_pem, app.id)
        code, hdrs, body, _ = self.call("GET", "/app", token=jwt)
        ep = "GET /app"
        if self.expect(code == 200, ep, "status", f"expected 200, got {code}: {body}"):
            shape = {"id": int, "slug": str, "client_id": str, "node_id": str, "owner": dict, "name": str,
                     "html_url": str, "created_at": str, "updated_at": str, "permissions": dict, "events": list}
            for k, t in shape.items():
                self.expect(isinstance(body.get(k), t), ep, f"$.{k}", f"expected {t.__name__}, got {body.get(k)!r}")
            self.check_headers(ep, hdrs)
        code, _, body, _ = self.call("GET", "/app", token=self.PAT)
        self.expect(code == 401 and body.get("message") == "A JSON web token could not be decoded", ep + " [PAT]",
                    "status", f"expected 401 JWT error, got {code} {body}")
        bad = jwt[:-4] + ("AAAA" if not jwt.endswith("AAAA") else "BBBB")
        code, _, body, _ = self.call("GET", "/app", token=bad)
        self.expect(code == 401, ep + " [bad signature]", "status", f"expected 401, got {code} {body}")

        inst = next(iter(app.installations))
        ep = "POST /app/installations/{installation_id}/access_tokens"
        code, hdrs, body, _ = self.call("POST", f"/app/installations/{inst}/access_tokens", token=jwt)
        if not self.expect(code == 201, ep, "status", f"expected 201, got {code}: {body}"):
            return None
        good = isinstance(body.get("token"), str) and body["token"].startswith("ghs_") and len(body["token"]) == 40 \
            and isinstance(body.get("expires_at"), str) and gs.RFC3339.match(body["expires_at"]) is not None \
            and isinstance(body.get("permissions"), dict) and all(
                isinstance(v, str) for v in body["permissions"].values()) \
            and body.get("repository_selection") in ("all", "selected")
        self.expect(good, ep, "$", f"unexpected installation token body {body}")
        self.check_headers(ep, hdrs)
        code, _, _, _ = self.call("POST", "/app/installations/1/access_tokens", token=jwt)
        self.expect(code == 404, ep + " [unknown installation]", "status", f"expected 404, got {code}")
        return body["token"]

    def check_graphql(self) -> None:
        m = self.model
        query = ("query($org: String!, $first: Int!, $cursor: String) { organization(login: $org) { "
                 "samlIdentityProvider { externalIdentities(first: $first, after: $cursor) { "
                 "pageInfo { hasNextPage endCursor } nodes { samlIdentity { nameId } user { login } } } } } }")
        ep = "POST /graphql"
        seen: list[tuple[str, str | None]] = []
        cursor = None
        pages = 0
        while True:
            code, hdrs, body, _ = self.call("POST", "/graphql", body={
                "query": query, "variables": {"org": m.org_login, "first": 100 if len(m.saml_identities) > 250 else 3,
                                              "cursor": cursor}})
            pages += 1
            if not self.expect(code == 200 and isinstance(body, dict) and "errors" not in body, ep, "status",
                               f"expected 200 without errors, got {code} {body}"):
                return
            self.check_headers(ep, hdrs, "graphql")
            provider = body.get("data", {}).get("organization", {}).get("samlIdentityProvider", "missing")
            if not m.saml_enabled:
                self.expect(provider is None, ep, "$.data.organization.samlIdentityProvider",
                            f"expected null for an org without SAML, got {provider!r}")
                break
            conn = (provider or {}).get("externalIdentities") or {}
            info, nodes = conn.get("pageInfo"), conn.get("nodes")
            good = isinstance(info, dict) and isinstance(info.get("hasNextPage"), bool) and \
                (info.get("endCursor") is None or isinstance(info["endCursor"], str)) and isinstance(nodes, list) \
                and set(conn) == {"pageInfo", "nodes"} and set(info) == {"hasNextPage", "endCursor"}
            for n in nodes or []:
                good = good and set(n) == {"samlIdentity", "user"} and isinstance(n["samlIdentity"], dict) and \
                    set(n["samlIdentity"]) == {"nameId"} and isinstance(n["samlIdentity"]["nameId"], str) and \
                    (n["user"] is None or (set(n["user"]) == {"login"} and isinstance(n["user"]["login"], str)))
            if not self.expect(good, ep, "$.data.organization.samlIdentityProvider.externalIdentities",
                               f"unexpected shape on page {pages}: {json.dumps(conn)[:300]}"):
                return
            seen += [(n["samlIdentity"]["nameId"], (n["user"] or {}).get("login")) for n in nodes]
            if not info["hasNextPage"]:
                break
            cursor = info["endCursor"]
        if m.saml_enabled:
            want = [(s.name_id, s.login) for s in m.saml_identities]
            self.expect(seen == want, ep, "$..nodes", f"cursor pages do not list the scenario's identities "
                                                       f"({len(seen)} seen, {len(want)} expected)")
        # GitHub's error shapes: unknown org (NOT_FOUND, data with a null) and first > 100.
        code, _, body, _ = self.call("POST", "/graphql", body={"query": query, "variables": {
            "org": "no-such-org-xyz", "first": 10, "cursor": None}})
        errs = (body or {}).get("errors") or [{}]
        self.expect(code == 200 and body.get("data") == {"organization": None} and errs[0].get("type") == "NOT_FOUND"
                    and errs[0].get("path") == ["organization"] and isinstance(errs[0].get("message"), str),
                    ep + " [unknown org]", "$.errors", f"unexpected {body}")
        code, _, body, _ = self.call("POST", "/graphql", body={"query": query, "variables": {
            "org": m.org_login, "first": 101}})
        if m.saml_enabled:
            self.expect("errors" in body and "100" in body["errors"][0]["message"], ep + " [first: 101]", "$.errors",
                        f"expected a first-limit error, got {body}")

    # -- self test -----------------------------------------------------------------------------

    def run_self_test(self) -> None:
        """Break one field in each validated body; the schema must reject every broken copy."""
        for (method, template, status), body in sorted(self.samples.items(), key=lambda kv: str(kv[0])):
            broken = copy.deepcopy(body)
            where = break_one_field(broken)
            endpoint = f"{method} {template} [self-test {status}]"
            if where is None:
                continue
            v = self.schemas.validator(method, template, status)
            rejected = any(True for _ in v.iter_errors(broken))
            self.expect(rejected, endpoint, json_path(where), "a broken copy still validates: the check cannot fail")


def break_one_field(node: Any, path: list | None = None) -> list | None:
    """Change the type of the first integer (else string) field found; return its path."""
    path = path or []
    for want in (int, str):
        found = _find_leaf(node, path, want)
        if found is not None:
            container, key, where = found
            container[key] = "not-an-integer" if want is int else 12345
            return where
    return None


def _find_leaf(node: Any, path: list, want: type) -> tuple[Any, Any, list] | None:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        if isinstance(value, want) and not isinstance(value, bool):
            return node, key, path + [key]
        if isinstance(value, (dict, list)):
            found = _find_leaf(value, path + [key], want)
            if found is not None:
                return found
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--scenario", help="scenario JSON file")
    src.add_argument("--generate-scale", metavar="MEMBERS:REPOS:LEAVERS")
    src.add_argument("--write-subset-from", metavar="DEREF_JSON",
                     help=f"extract the operations the server needs into {SUBSET} and exit")
    ap.add_argument("--self-test", action="store_true", help="also prove each schema rejects a broken body")
    ap.add_argument("--allow-undeclared", action="store_true",
                    help="allow properties the schema does not declare (as the schema itself does)")
    args = ap.parse_args(argv)

    if args.write_subset_from:
        write_subset(Path(args.write_subset_from), SUBSET)
        return 0
    try:
        if args.scenario:
            raw = json.loads(Path(args.scenario).read_text(encoding="utf-8"))
        else:
            raw = gs.generate_scenario(*gs.parse_scale(args.generate_scale))
        checker = Checker(raw, Schemas(SUBSET, strict=not args.allow_undeclared), args.self_test)
    except (OSError, ValueError) as exc:
        print(f"github_schema_check: {exc}", file=sys.stderr)
        return 2
    checker.run()
    if args.self_test:
        checker.run_self_test()
    for line in checker.failures:
        print(line)
    print(f"{checker.passed} passed, {len(checker.failures)} failed")
    return 0 if not checker.failures else 1


if __name__ == "__main__":
    sys.exit(main())
