#!/usr/bin/env python3
"""A local stand-in for the GitHub REST and GraphQL APIs, for testing the `residual` GitHub probe.

GitHub has no emulator, so this server plays `https://api.github.com` (and GitHub Enterprise
Server under `/api/v3`) for one organization described by a scenario file. Every body it serves
is shaped like the real API's and is checked against GitHub's own OpenAPI description by
`github_schema_check.py` beside this file.

Usage:
    python tests/harness/github_server.py --port 0 --port-file F --request-log L
        (--scenario FILE.json | --generate-scale MEMBERS:REPOS:LEAVERS)
        [--token TOKEN[=LOGIN]]... [--latency-ms 20] [--rate-limit 5000] [--rate-reset-seconds 3600]
        [--app-public-key PEM] [--link-style ids|plain] [--dump-scenario FILE] [--dump-leavers FILE]

    --port 0 picks a free port; it is written to --port-file (write-then-rename) once listening.
    --token (repeatable) adds a personal access token the server accepts; `TOKEN=LOGIN` makes it
    authenticate as LOGIN, otherwise as the scenario's `viewer`. GitHub App installation tokens
    the server mints are accepted too, until they expire.
    --dump-scenario / --dump-leavers without --port write the files and exit (for benchmarks).
    --link-style ids (default) writes Link URLs the way github.com does, by numeric id
    (`/organizations/{id}/members?…`, `/repositories/{id}/keys?…`); the server serves those
    paths too. `plain` repeats the request path instead.

Request log: one JSON line per API request (control routes are not logged):
    {"ts": 1764331200.123, "method": "GET", "path": "/orgs/acme/members", "query": "per_page=100",
     "status": 200, "template": "/orgs/{org}/members", "auth": "pat"}
`path` is as requested (with any /api/v3 prefix); `template` is the canonical route, the same for
the /api/v3, /organizations/{id} and /repositories/{id} spellings; `auth` is one of
pat | installation | jwt | none | bad.

Scenario file (JSON object; every key optional except `org`; unknown keys are refused so that
typos fail loudly; times are RFC 3339 strings such as "2026-11-27T18:42:10Z"):

    "org": "acme"  or  {"login": "acme", "id": 9000001, "name": "Acme Corp",
            "description": null, "created_at": "...", "two_factor_requirement_enabled": true}
    "viewer": "ada-owner"            login that --token PATs authenticate as
                                     (default: the first admin member)
    "members": [{"login", "id", "role": "admin"|"member" (default member), "name", "email",
                 "saml_name_id", "two_factor": true, "created_at"}]
        `email` is the user's public profile email (GET /users/{username}); list endpoints
        never show it, as on GitHub. `saml_name_id` adds a SAML identity for the member.
    "outside_collaborators": [{"login", "id", "name", "email", "two_factor", "created_at"}]
    "users": [{"login", "id", "name", "email", "created_at", "type": "User"|"Bot"}]
        accounts known to GitHub but not in the org (an inviter who left, the viewer, …)
    "invitations": [{"id", "login" | "email" (at least one), "role": "direct_member"|"admin"|
                     "billing_manager"|"hiring_manager"|"reinstate" ("member" means direct_member),
                     "created_at", "inviter": login, "team_count": 0,
                     "invitation_source": "member"|"scim", "failed_at", "failed_reason"}]
        an invitation with `failed_at` set is not listed (GitHub lists those elsewhere).
    "teams": [{"slug", "name", "id", "description", "privacy": "closed"|"secret",
               "permission": "pull", "parent": slug, "members": [login], "maintainers": [login]}]
        maintainers are members too; every team member must be an org member.
    "credential_authorizations": [{"login", "credential_id",
        "credential_type": "personal access token"|"SSH key"|"OAuth app token"|"GitHub app token",
        "token_last_eight", "credential_authorized_at", "credential_accessed_at" (null = never),
        "authorized_credential_expires_at", "scopes": [..], "fingerprint" (SSH keys),
        "authorized_credential_id" (default credential_id + 100000000),
        "authorized_credential_title", "authorized_credential_note"}]
    "personal_access_tokens": [{"id", "owner": login, "token_name", "token_id",
        "token_expired": false, "token_expires_at", "token_last_used_at", "access_granted_at",
        "repository_selection": "all"|"subset"|"none", "repositories": [name],
        "permissions": {"organization": {..}, "repository": {"contents": "write"}, "other": {..}}}]
        (fine-grained PAT grants, listed only to a GitHub App installation token)
    "repositories": [{"name", "id", "private": true, "visibility", "archived": false, "fork": false,
        "description", "created_at", "updated_at", "pushed_at",
        "deploy_keys": [{"id", "title", "key": "ssh-ed25519 AAAA…", "created_at",
                         "added_by": login|null, "last_used": time|null, "read_only": true,
                         "verified": true, "enabled": true}]}]
    "actions_secrets": [{"name", "created_at", "updated_at",
                         "visibility": "all"|"private"|"selected"}]
    "saml": {"enabled": true, "issuer", "sso_url",
             "identities": [{"name_id", "login": login|null, "username", "given_name", "family_name"}]}
        identities come from this list first, then from members' `saml_name_id`. SAML is on when
        `saml.enabled` says so, or (if unsaid) when any identity exists.
    "app": {"id": 424242, "client_id", "slug", "name", "public_key_pem", "token_ttl_seconds": 3600,
            "created_at", "installations": [{"id", "permissions": {"members": "read", ...}}]}
        installation tokens are refused endpoints their permissions do not cover
        ("Resource not accessible by integration"); omit `permissions` to grant everything.
    "meta": {...}                    free-form, ignored (the generator records its leavers here)

Ids left out are derived deterministically from the login or name.

API routes (each also under /api/v3; GraphQL also at /api/graphql):
    GET  /user  /rate_limit  /users/{username}
    GET  /orgs/{org}  /orgs/{org}/members (role, filter)  /orgs/{org}/members/{username} (204/404)
    GET  /orgs/{org}/memberships/{username}  /orgs/{org}/outside_collaborators (filter)
    GET  /orgs/{org}/invitations (role, invitation_source)  /orgs/{org}/teams
    GET  /orgs/{org}/teams/{team_slug}/members (role)  /orgs/{org}/credential-authorizations (login)
    GET  /orgs/{org}/personal-access-tokens (owner[], token_id[], last_used_before/after,
         direction; installation tokens only)
    GET  /orgs/{org}/repos (type)  /repos/{owner}/{repo}/keys  /repos/{owner}/{repo}/keys/{key_id}
    GET  /orgs/{org}/actions/secrets   ({total_count, secrets}, paginated)
    POST /graphql  organization(login){samlIdentityProvider{externalIdentities(first, after){…}}}
    GET  /app   POST /app/installations/{installation_id}/access_tokens   (JWT, RS256)
Lists take per_page (default 30, max 100) and page, and carry a Link header when there is more
than one page.

Control routes (JSON; not logged, not counted, no auth, no latency):
    POST   /_harness/faults   a rule or a list of rules (replaces the active ones):
        {"path_regex": "...", "method": "GET", "kind": "status"|"delay"|"garbage"|
         "secondary_rate_limit"|"exhaust", "status": 502, "times": N, "delay_seconds": S,
         "retry_after": S, "reset_in": S, "message": "..."}
        `path_regex` is searched in the canonical path plus query ("/orgs/acme/members?page=3"),
        so "page=3" works; default matches everything. `times`: uses before the rule is spent
        (default -1 = forever, as in moto_launcher.py; `exhaust` defaults to 1). Each request
        consumes at most the first matching rule.
        status: answer `status` (default 502) with a GitHub error body.
        delay: sleep delay_seconds, then answer normally.
        garbage: 200 with a truncated JSON body.
        secondary_rate_limit: 403 (or `status` 429) with GitHub's secondary-limit message and
            `retry-after: retry_after` (default 60; null omits the header).
        exhaust: the caller's budget drops to 0 with the reset `reset_in` (default 60) seconds
            ahead; this and later requests get the primary-limit 403 until then.
    GET    /_harness/faults   active rules        DELETE /_harness/faults   clear them
    GET    /_harness/stats    {"requests": n, "by_path": {template: n}, "by_status": {...}}
    DELETE /_harness/stats    zero the counters
    POST   /_harness/reset    clear faults, counters, rate budgets and minted tokens
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import random
import re
import secrets
import signal
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit

from common import FaultRules, write_port_file  # tests/harness is on sys.path when these run

API_VERSION = "2022-11-28"
SUPPORTED_API_VERSIONS = (API_VERSION,)
DOCS = "https://docs.github.com/rest"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = (
    "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api"
    "#about-secondary-rate-limits"
)
PAT_GRANTS_DOCS = (
    "https://docs.github.com/enterprise-cloud@latest/rest/orgs/personal-access-tokens"
    "#list-fine-grained-personal-access-tokens-with-access-to-organization-resources"
)
DEFAULT_USER_CREATED = "2020-01-15T09:00:00Z"
DEFAULT_ORG_CREATED = "2019-03-01T10:00:00Z"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
ALL_APP_PERMISSIONS = {
    "members": "read",
    "metadata": "read",
    "administration": "read",
    "organization_administration": "read",
    "organization_personal_access_tokens": "read",
    "organization_secrets": "read",
}
# The installation permission each route needs (absent: none). credential-authorizations and the
# GraphQL SAML query are not gated: GitHub documents them for owners' classic PATs.
ROUTE_PERMISSION = {
    "/orgs/{org}/members": "members",
    "/orgs/{org}/members/{username}": "members",
    "/orgs/{org}/memberships/{username}": "members",
    "/orgs/{org}/outside_collaborators": "members",
    "/orgs/{org}/invitations": "members",
    "/orgs/{org}/teams": "members",
    "/orgs/{org}/teams/{team_slug}/members": "members",
    "/orgs/{org}/personal-access-tokens": "organization_personal_access_tokens",
    "/orgs/{org}/repos": "metadata",
    "/repos/{owner}/{repo}/keys": "administration",
    "/repos/{owner}/{repo}/keys/{key_id}": "administration",
    "/orgs/{org}/actions/secrets": "organization_secrets",
}


# ---------------------------------------------------------------------------
# Scenario: validation into a model
# ---------------------------------------------------------------------------


class ScenarioError(ValueError):
    """A scenario file that does not describe a valid organization."""


def stable_id(kind: str, key: str, base: int = 50_000_000) -> int:
    """A deterministic id for an entity whose scenario entry gave none."""
    return base + zlib.crc32(f"{kind}:{key.lower()}".encode()) % 40_000_000


def node_id(type_name: str, ident: int) -> str:
    """GitHub's legacy global node id: base64 of "0<len>:<Type><id>" (e.g. MDQ6VXNlcjE=)."""
    return base64.b64encode(f"0{len(type_name)}:{type_name}{ident}".encode()).decode()


class Fields:
    """Typed reads from one scenario object, with errors that name where they are."""

    def __init__(self, raw: Any, where: str, allowed: Iterable[str], required: Iterable[str] = ()):
        if not isinstance(raw, dict):
            raise ScenarioError(f"{where}: expected an object, got {type(raw).__name__}")
        allowed = set(allowed)
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ScenarioError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(allowed)}")
        for key in required:
            if raw.get(key) is None:
                raise ScenarioError(f"{where}.{key}: required")
        self.raw, self.where = raw, where

    def _get(self, key: str, default: Any, types: tuple, nullable: bool, what: str) -> Any:
        if key not in self.raw:
            return default
        value = self.raw[key]
        if value is None:
            if nullable:
                return None
            raise ScenarioError(f"{self.where}.{key}: must not be null")
        if isinstance(value, bool) and bool not in types:
            raise ScenarioError(f"{self.where}.{key}: expected {what}, got a boolean")
        if not isinstance(value, types):
            raise ScenarioError(f"{self.where}.{key}: expected {what}, got {type(value).__name__}")
        return value

    def str(self, key: str, default: Any = None, nullable: bool = True) -> Any:
        return self._get(key, default, (str,), nullable, "a string")

    def int(self, key: str, default: Any = None, nullable: bool = False) -> Any:
        return self._get(key, default, (int,), nullable, "an integer")

    def bool(self, key: str, default: Any = None) -> Any:
        return self._get(key, default, (bool,), False, "true or false")

    def time(self, key: str, default: Any = None, nullable: bool = True) -> Any:
        value = self.str(key, default, nullable)
        if value is not None and not RFC3339.match(value):
            raise ScenarioError(f"{self.where}.{key}: {value!r} is not an RFC 3339 time like 2026-11-27T18:42:10Z")
        return value

    def enum(self, key: str, choices: Iterable[str], default: Any = None, aliases: dict | None = None) -> Any:
        value = self.str(key, default, nullable=False)
        value = (aliases or {}).get(value, value)
        if value not in choices:
            raise ScenarioError(f"{self.where}.{key}: {value!r} is not one of {sorted(choices)}")
        return value

    def list(self, key: str) -> list:
        value = self._get(key, [], (list,), True, "a list")
        return value or []

    def dict(self, key: str) -> dict | None:
        return self._get(key, None, (dict,), True, "an object")

    def strings(self, key: str) -> list[str]:
        values = self.list(key)
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise ScenarioError(f"{self.where}.{key}[{i}]: expected a string")
        return values


@dataclasses.dataclass(slots=True)
class User:
    login: str
    id: int
    type: str = "User"
    name: str | None = None
    email: str | None = None
    created_at: str = DEFAULT_USER_CREATED
    two_factor: bool = True


@dataclasses.dataclass(slots=True)
class Member:
    user: User
    role: str  # admin | member


@dataclasses.dataclass(slots=True)
class Invitation:
    id: int
    login: str | None
    email: str | None
    role: str
    created_at: str
    inviter: User
    team_count: int
    invitation_source: str
    failed_at: str | None
    failed_reason: str | None


@dataclasses.dataclass(slots=True)
class Team:
    id: int
    slug: str
    name: str
    description: str | None
    privacy: str
    permission: str
    parent: str | None
    members: list[str]  # lower-case logins, in order
    maintainers: set[str]


@dataclasses.dataclass(slots=True)
class DeployKey:
    id: int
    title: str
    key: str
    created_at: str
    added_by: str | None
    last_used: str | None
    read_only: bool
    verified: bool
    enabled: bool


@dataclasses.dataclass(slots=True)
class Repo:
    id: int
    name: str
    private: bool
    visibility: str
    archived: bool
    fork: bool
    description: str | None
    created_at: str
    updated_at: str
    pushed_at: str | None
    deploy_keys: list[DeployKey]


@dataclasses.dataclass(slots=True)
class SamlIdentity:
    name_id: str
    login: str | None
    username: str | None
    given_name: str | None
    family_name: str | None


@dataclasses.dataclass(slots=True)
class Installation:
    id: int
    permissions: dict[str, str]


@dataclasses.dataclass(slots=True)
class App:
    id: int
    client_id: str
    slug: str
    name: str
    public_key_pem: str | None
    token_ttl_seconds: int
    created_at: str
    installations: dict[int, Installation]


class Model:
    """A validated scenario with the indexes the routes need."""

    def __init__(self, raw: Any):
        top = Fields(
            raw,
            "scenario",
            [
                "org", "viewer", "members", "outside_collaborators", "users", "invitations", "teams",
                "credential_authorizations", "personal_access_tokens", "repositories",
                "actions_secrets", "saml", "app", "meta",
            ],
            ["org"],
        )
        self.raw = raw
        self.users: dict[str, User] = {}
        self._parse_org(raw["org"])
        for i, entry in enumerate(top.list("users")):
            f = Fields(entry, f"users[{i}]", ["login", "id", "name", "email", "created_at", "type"], ["login"])
            self._add_user(f, user_type=f.enum("type", {"User", "Bot"}, "User"))

        self.members: list[Member] = []
        self.member_index: dict[str, Member] = {}
        saml_from_members: list[SamlIdentity] = []
        for i, entry in enumerate(top.list("members")):
            f = Fields(
                entry, f"members[{i}]",
                ["login", "id", "role", "name", "email", "saml_name_id", "two_factor", "created_at"], ["login"],
            )
            user = self._add_user(f)
            key = user.login.lower()
            if key in self.member_index:
                raise ScenarioError(f"members[{i}].login: {user.login!r} is listed twice")
            member = Member(user, f.enum("role", {"admin", "member"}, "member"))
            self.members.append(member)
            self.member_index[key] = member
            name_id = f.str("saml_name_id")
            if name_id:
                saml_from_members.append(SamlIdentity(name_id, user.login, None, None, None))

        self.outside: list[User] = []
        outside_seen: set[str] = set()
        for i, entry in enumerate(top.list("outside_collaborators")):
            f = Fields(entry, f"outside_collaborators[{i}]",
                       ["login", "id", "name", "email", "two_factor", "created_at"], ["login"])
            user = self._add_user(f)
            if user.login.lower() in self.member_index:
                raise ScenarioError(f"outside_collaborators[{i}]: {user.login!r} is also an org member")
            if user.login.lower() not in outside_seen:
                outside_seen.add(user.login.lower())
                self.outside.append(user)

        viewer = top.str("viewer")
        if viewer is None:
            admins = [m.user.login for m in self.members if m.role == "admin"]
            viewer = admins[0] if admins else "residual-audit"
        self.viewer = self.user_or_ghost(viewer)

        self.invitations = [self._parse_invitation(i, e) for i, e in enumerate(top.list("invitations"))]
        self.teams = [self._parse_team(i, e) for i, e in enumerate(top.list("teams"))]
        self.team_index = {t.slug.lower(): t for t in self.teams}
        for t in self.teams:
            if t.parent is not None and t.parent.lower() not in self.team_index:
                raise ScenarioError(f"teams[{t.slug}].parent: no team {t.parent!r}")
        self.credential_authorizations = [
            self._parse_credential(i, e) for i, e in enumerate(top.list("credential_authorizations"))
        ]
        self.pat_grants = [self._parse_pat(i, e) for i, e in enumerate(top.list("personal_access_tokens"))]
        self.repos = [self._parse_repo(i, e) for i, e in enumerate(top.list("repositories"))]
        self.repo_index = {r.name.lower(): r for r in self.repos}
        self.repo_by_id = {r.id: r for r in self.repos}
        if len(self.repo_index) != len(self.repos):
            raise ScenarioError("repositories: two repositories share a name")
        self.secrets = [self._parse_secret(i, e) for i, e in enumerate(top.list("actions_secrets"))]
        self._parse_saml(top.dict("saml"), saml_from_members)
        self.app = self._parse_app(top.dict("app"))

        # Prebuilt filtered lists: a 50,000-member org is paged through many times.
        self.members_by_role = {
            "all": self.members,
            "admin": [m for m in self.members if m.role == "admin"],
            "member": [m for m in self.members if m.role == "member"],
        }

    # -- parsing helpers --------------------------------------------------------

    def _parse_org(self, raw: Any) -> None:
        if isinstance(raw, str):
            raw = {"login": raw}
        f = Fields(raw, "org", ["login", "id", "name", "description", "created_at",
                                "two_factor_requirement_enabled"], ["login"])
        self.org_login: str = f.str("login", nullable=False)
        self.org_id: int = f.int("id", stable_id("org", self.org_login, 9_000_000))
        self.org_name: str | None = f.str("name", self.org_login)
        self.org_description: str | None = f.str("description")
        self.org_created_at: str = f.time("created_at", DEFAULT_ORG_CREATED, nullable=False)
        self.org_2fa: bool = f.bool("two_factor_requirement_enabled", True)

    def _add_user(self, f: Fields, user_type: str = "User") -> User:
        login = f.str("login", nullable=False)
        if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(\[bot\])?", login):
            raise ScenarioError(f"{f.where}.login: {login!r} is not a valid GitHub login")
        key = login.lower()
        existing = self.users.get(key)
        user = User(
            login=login,
            id=f.int("id", existing.id if existing else stable_id("user", login)),
            type=user_type,
            name=f.str("name", existing.name if existing else None),
            email=f.str("email", existing.email if existing else None),
            created_at=f.time("created_at", existing.created_at if existing else DEFAULT_USER_CREATED, False),
            two_factor=f.bool("two_factor", True),
        )
        self.users[key] = user
        return user

    def user_or_ghost(self, login: str) -> User:
        """The user with this login; an unknown login is a real account outside the org."""
        user = self.users.get(login.lower())
        if user is None:
            user = User(login=login, id=stable_id("user", login))
            self.users[login.lower()] = user
        return user

    def _parse_invitation(self, i: int, raw: Any) -> Invitation:
        f = Fields(raw, f"invitations[{i}]",
                   ["id", "login", "email", "role", "created_at", "inviter", "team_count",
                    "invitation_source", "failed_at", "failed_reason"], ["created_at", "inviter"])
        login, email = f.str("login"), f.str("email")
        if not login and not email:
            raise ScenarioError(f"invitations[{i}]: give a login or an email")
        if login:
            self.user_or_ghost(login)
        return Invitation(
            id=f.int("id", stable_id("invitation", f"{login}|{email}|{i}")),
            login=login,
            email=email,
            role=f.enum("role", {"direct_member", "admin", "billing_manager", "hiring_manager", "reinstate"},
                        "direct_member", {"member": "direct_member"}),
            created_at=f.time("created_at", nullable=False),
            inviter=self.user_or_ghost(f.str("inviter", nullable=False)),
            team_count=f.int("team_count", 0),
            invitation_source=f.enum("invitation_source", {"member", "scim"}, "member"),
            failed_at=f.time("failed_at"),
            failed_reason=f.str("failed_reason"),
        )

    def _parse_team(self, i: int, raw: Any) -> Team:
        f = Fields(raw, f"teams[{i}]", ["slug", "name", "id", "description", "privacy", "permission",
                                         "parent", "members", "maintainers"], ["slug"])
        slug = f.str("slug", nullable=False)
        members: list[str] = []
        for login in f.strings("members") + f.strings("maintainers"):
            key = login.lower()
            if key not in self.member_index:
                raise ScenarioError(f"teams[{i}] ({slug}): {login!r} is not an org member")
            if key not in members:
                members.append(key)
        return Team(
            id=f.int("id", stable_id("team", slug, 3_000_000)),
            slug=slug,
            name=f.str("name", slug, nullable=False),
            description=f.str("description"),
            privacy=f.enum("privacy", {"closed", "secret"}, "closed"),
            permission=f.str("permission", "pull", nullable=False),
            parent=f.str("parent"),
            members=members,
            maintainers={m.lower() for m in f.strings("maintainers")},
        )

    def _parse_credential(self, i: int, raw: Any) -> dict:
        f = Fields(raw, f"credential_authorizations[{i}]",
                   ["login", "credential_id", "credential_type", "token_last_eight",
                    "credential_authorized_at", "credential_accessed_at", "authorized_credential_expires_at",
                    "scopes", "fingerprint", "authorized_credential_id", "authorized_credential_title",
                    "authorized_credential_note"],
                   ["login", "credential_id", "credential_authorized_at"])
        kind = f.enum("credential_type", {"personal access token", "SSH key", "OAuth app token", "GitHub app token"},
                      "personal access token")
        cid = f.int("credential_id")
        out: dict[str, Any] = {
            "login": f.str("login", nullable=False),
            "credential_id": cid,
            "credential_type": kind,
            "credential_authorized_at": f.time("credential_authorized_at", nullable=False),
            "credential_accessed_at": f.time("credential_accessed_at"),
            "authorized_credential_id": f.int("authorized_credential_id", cid + 100_000_000, nullable=True),
        }
        if kind == "SSH key":
            out["fingerprint"] = f.str("fingerprint", "SHA256:" + base64.b64encode(
                hashlib.sha256(str(cid).encode()).digest()).decode().rstrip("="), nullable=False)
            out["authorized_credential_title"] = f.str("authorized_credential_title")
        else:
            out["token_last_eight"] = f.str("token_last_eight", hashlib.sha1(str(cid).encode()).hexdigest()[-8:],
                                            nullable=False)
            out["scopes"] = f.strings("scopes") if "scopes" in raw else ([] if kind == "GitHub app token" else ["repo"])
            out["authorized_credential_expires_at"] = f.time("authorized_credential_expires_at")
            if "authorized_credential_note" in raw:
                out["authorized_credential_note"] = f.str("authorized_credential_note")
        return out

    def _parse_pat(self, i: int, raw: Any) -> dict:
        f = Fields(raw, f"personal_access_tokens[{i}]",
                   ["id", "owner", "token_name", "token_id", "token_expired", "token_expires_at",
                    "token_last_used_at", "access_granted_at", "repository_selection", "repositories",
                    "permissions"],
                   ["owner", "access_granted_at"])
        owner = self.user_or_ghost(f.str("owner", nullable=False))
        name = f.str("token_name", "token", nullable=False)
        permissions = f.dict("permissions") or {"repository": {"metadata": "read"}}
        for group, perms in permissions.items():
            if group not in ("organization", "repository", "other") or not isinstance(perms, dict) or not all(
                isinstance(v, str) for v in perms.values()
            ):
                raise ScenarioError(f"personal_access_tokens[{i}].permissions.{group}: expected "
                                    "organization/repository/other: {name: 'read'|'write'|'admin'}")
        return {
            "id": f.int("id", stable_id("pat-grant", f"{owner.login}|{name}|{i}", 20_000)),
            "owner": owner,
            "token_name": name,
            "token_id": f.int("token_id", stable_id("pat", f"{owner.login}|{name}|{i}", 90_000)),
            "token_expired": f.bool("token_expired", False),
            "token_expires_at": f.time("token_expires_at"),
            "token_last_used_at": f.time("token_last_used_at"),
            "access_granted_at": f.time("access_granted_at", nullable=False),
            "repository_selection": f.enum("repository_selection", {"all", "subset", "none"}, "all"),
            "repositories": f.strings("repositories"),
            "permissions": permissions,
        }

    def _parse_repo(self, i: int, raw: Any) -> Repo:
        f = Fields(raw, f"repositories[{i}]",
                   ["name", "id", "private", "visibility", "archived", "fork", "description", "created_at",
                    "updated_at", "pushed_at", "deploy_keys"], ["name"])
        name = f.str("name", nullable=False)
        private = f.bool("private", True)
        created = f.time("created_at", "2021-05-04T12:00:00Z", nullable=False)
        keys = []
        for j, entry in enumerate(f.list("deploy_keys")):
            k = Fields(entry, f"repositories[{i}].deploy_keys[{j}]",
                       ["id", "title", "key", "created_at", "added_by", "last_used", "read_only", "verified",
                        "enabled"], ["title", "created_at"])
            title = k.str("title", nullable=False)
            keys.append(DeployKey(
                id=k.int("id", stable_id("deploy-key", f"{name}|{title}|{j}", 60_000_000)),
                title=title,
                key=k.str("key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + base64.b64encode(
                    hashlib.sha256(f"{name}{title}".encode()).digest()).decode()[:43], nullable=False),
                created_at=k.time("created_at", nullable=False),
                added_by=k.str("added_by"),
                last_used=k.time("last_used"),
                read_only=k.bool("read_only", True),
                verified=k.bool("verified", True),
                enabled=k.bool("enabled", True),
            ))
        return Repo(
            id=f.int("id", stable_id("repo", name, 700_000_000)),
            name=name,
            private=private,
            visibility=f.enum("visibility", {"public", "private", "internal"}, "private" if private else "public"),
            archived=f.bool("archived", False),
            fork=f.bool("fork", False),
            description=f.str("description"),
            created_at=created,
            updated_at=f.time("updated_at", created, nullable=False),
            pushed_at=f.time("pushed_at", created),
            deploy_keys=keys,
        )

    def _parse_secret(self, i: int, raw: Any) -> dict:
        f = Fields(raw, f"actions_secrets[{i}]", ["name", "created_at", "updated_at", "visibility"],
                   ["name", "created_at"])
        created = f.time("created_at", nullable=False)
        return {
            "name": f.str("name", nullable=False),
            "created_at": created,
            "updated_at": f.time("updated_at", created, nullable=False),
            "visibility": f.enum("visibility", {"all", "private", "selected"}, "private"),
        }

    def _parse_saml(self, raw: dict | None, from_members: list[SamlIdentity]) -> None:
        f = Fields(raw or {}, "saml", ["enabled", "issuer", "sso_url", "identities"])
        identities: list[SamlIdentity] = []
        seen: set[str] = set()
        for i, entry in enumerate(f.list("identities")):
            g = Fields(entry, f"saml.identities[{i}]", ["name_id", "login", "username", "given_name",
                                                        "family_name"], ["name_id"])
            ident = SamlIdentity(g.str("name_id", nullable=False), g.str("login"), g.str("username"),
                                 g.str("given_name"), g.str("family_name"))
            identities.append(ident)
            seen.add(ident.name_id.lower())
        identities += [s for s in from_members if s.name_id.lower() not in seen]
        for ident in identities:
            if ident.login:
                self.user_or_ghost(ident.login)
        enabled = f.bool("enabled", bool(identities))
        self.saml_enabled: bool = enabled
        self.saml_identities: list[SamlIdentity] = identities if enabled else []
        self.saml_issuer: str = f.str("issuer", f"https://idp.{self.org_login.lower()}.example/saml", False)
        self.saml_sso_url: str = f.str("sso_url", f"https://idp.{self.org_login.lower()}.example/sso", False)

    def _parse_app(self, raw: dict | None) -> App | None:
        if raw is None:
            raw = {}
        f = Fields(raw, "app", ["id", "client_id", "slug", "name", "public_key_pem", "token_ttl_seconds",
                                "created_at", "installations"])
        installations: dict[int, Installation] = {}
        for i, entry in enumerate(f.list("installations") or [{}]):
            g = Fields(entry, f"app.installations[{i}]", ["id", "permissions"])
            perms = g.dict("permissions")
            inst = Installation(g.int("id", 7_890_123 + i), dict(perms) if perms is not None else dict(ALL_APP_PERMISSIONS))
            installations[inst.id] = inst
        app_id = f.int("id", 424_242)
        return App(
            id=app_id,
            client_id=f.str("client_id", f"Iv23li{hashlib.sha1(str(app_id).encode()).hexdigest()[:14]}", False),
            slug=f.str("slug", "residual-audit", nullable=False),
            name=f.str("name", "Residual Audit", nullable=False),
            public_key_pem=f.str("public_key_pem"),
            token_ttl_seconds=f.int("token_ttl_seconds", 3600),
            created_at=f.time("created_at", "2025-01-10T08:00:00Z", nullable=False),
            installations=installations,
        )

    # -- lookups -------------------------------------------------------------------

    def is_org(self, login: str) -> bool:
        return login.lower() == self.org_login.lower()


def load_scenario(path: str) -> Model:
    with open(path, encoding="utf-8") as fh:
        try:
            raw = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{path}: not JSON: {exc}") from exc
    return Model(raw)


# ---------------------------------------------------------------------------
# Scenario generator (benchmarks)
# ---------------------------------------------------------------------------


def parse_scale(spec: str) -> tuple[int, int, int]:
    try:
        members, repos, leavers = (int(x) for x in spec.split(":"))
    except ValueError:
        raise ScenarioError(f"--generate-scale {spec!r}: expected MEMBERS:REPOS:LEAVERS, e.g. 10000:1000:100")
    if members < 1 or repos < 0 or not 0 <= leavers <= members:
        raise ScenarioError(f"--generate-scale {spec!r}: need MEMBERS >= 1, REPOS >= 0, 0 <= LEAVERS <= MEMBERS")
    return members, repos, leavers


def generate_scenario(members: int, repos: int, leavers: int, seed: int = 7, org: str = "acme") -> dict:
    """A large, deterministic scenario. Leavers are spread evenly through the member list so they
    land on many pages; `meta.leavers` records who they are and what each one keeps."""
    rnd = random.Random(seed)
    width = max(5, len(str(members - 1)))
    domain = f"{org}.example"

    def login(i: int) -> str:
        return f"user{i:0{width}d}"

    def stamp(day: dt.date, rnd_seconds: bool = True) -> str:
        secs = rnd.randrange(86_400) if rnd_seconds else 0
        return (dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
                + dt.timedelta(seconds=secs)).strftime("%Y-%m-%dT%H:%M:%SZ")

    departure = dt.date(2026, 11, 15)
    leaver_idx = sorted({(k * members) // leavers + (members // leavers) // 2 for k in range(leavers)}) if leavers else []
    leaver_set = set(leaver_idx)
    admins = max(1, members // 200)

    out_members = []
    for i in range(members):
        lg = login(i)
        out_members.append({
            "login": lg, "id": 100_000 + i, "role": "admin" if i < admins else "member",
            "email": f"{lg}@{domain}", "saml_name_id": f"{lg}@{domain}",
        })
    outside = [{"login": f"vendor{i:0{width}d}", "id": 5_000_000 + i} for i in range(max(1, members // 100))]

    creds, pats = [], []
    cred_id, pat_id = 800_000, 30_000
    for i in range(members):
        lg = login(i)
        is_leaver = i in leaver_set
        if is_leaver or i % 5 == 0:
            cred_id += 1
            accessed_day = departure + dt.timedelta(days=rnd.randrange(1, 12)) if is_leaver else \
                dt.date(2026, 11, 1) + dt.timedelta(days=rnd.randrange(27))
            creds.append({
                "login": lg, "credential_id": cred_id, "credential_type": "personal access token",
                "token_last_eight": f"{rnd.getrandbits(32):08x}",
                "credential_authorized_at": stamp(dt.date(2026, 1, 1) + dt.timedelta(days=rnd.randrange(300))),
                "credential_accessed_at": stamp(accessed_day),
                "authorized_credential_expires_at": stamp(dt.date(2027, 3, 1)), "scopes": ["repo", "read:org"],
            })
        if i % 20 == 0:
            cred_id += 1
            creds.append({
                "login": lg, "credential_id": cred_id, "credential_type": "SSH key",
                "credential_authorized_at": stamp(dt.date(2025, 6, 1) + dt.timedelta(days=rnd.randrange(300))),
                "credential_accessed_at": None if i % 40 == 0 else stamp(dt.date(2026, 11, 20)),
                "fingerprint": "SHA256:" + base64.b64encode(rnd.randbytes(32)).decode().rstrip("="),
                "authorized_credential_title": f"{lg} laptop",
            })
        if is_leaver or i % 50 == 0:
            pat_id += 1
            pats.append({
                "id": pat_id, "owner": lg, "token_name": f"{lg}-automation", "token_id": 400_000 + pat_id,
                "token_expired": False, "token_expires_at": stamp(dt.date(2027, 2, 1)),
                "token_last_used_at": stamp(departure + dt.timedelta(days=6)) if is_leaver else stamp(
                    dt.date(2026, 11, 1) + dt.timedelta(days=rnd.randrange(27))),
                "access_granted_at": stamp(dt.date(2026, 2, 1) + dt.timedelta(days=rnd.randrange(200))),
                "repository_selection": "all",
                "permissions": {"repository": {"contents": "read", "metadata": "read"}},
            })

    out_repos = []
    leaver_list = [login(i) for i in leaver_idx]
    key_id = 61_000_000
    for r in range(repos):
        keys = []
        if r % 3 == 0:
            key_id += 1
            adder = login((r * 7919) % members)
            keys.append({
                "id": key_id, "title": f"deploy-{r}", "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"
                + base64.b64encode(rnd.randbytes(32)).decode()[:43],
                "created_at": stamp(dt.date(2025, 1, 1) + dt.timedelta(days=rnd.randrange(600))),
                "added_by": adder, "last_used": stamp(dt.date(2026, 11, 1) + dt.timedelta(days=rnd.randrange(27))),
                "read_only": r % 2 == 0,
            })
        out_repos.append({"name": f"repo-{r:05d}", "id": 700_000_000 + r, "private": r % 4 != 0,
                          "created_at": stamp(dt.date(2021, 1, 1) + dt.timedelta(days=r % 1500)), "deploy_keys": keys})
    leaver_keys = {}
    if repos:
        for k, lg in enumerate(leaver_list):
            if k % 2 == 0:  # half the leavers added a deploy key that is still there
                repo = out_repos[(k * repos) // max(1, len(leaver_list))]
                key_id += 1
                repo["deploy_keys"].append({
                    "id": key_id, "title": f"{lg}-deploy", "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"
                    + base64.b64encode(rnd.randbytes(32)).decode()[:43],
                    "created_at": stamp(dt.date(2025, 9, 1)), "added_by": lg,
                    "last_used": stamp(departure + dt.timedelta(days=3)), "read_only": False,
                })
                leaver_keys[lg] = repo["name"]

    n_teams = max(1, members // 50)
    teams = [{"slug": f"team-{t:04d}", "id": 4_000_000 + t, "members": [], "maintainers": []} for t in range(n_teams)]
    for i in range(members):
        teams[i % n_teams]["members"].append(login(i))
    for t in teams:
        t["maintainers"] = t["members"][:1]

    invitations = [{"id": 6_000_000 + k, "email": f"newhire{k}@{domain}", "role": "direct_member",
                    "created_at": stamp(dt.date(2026, 11, 20)), "inviter": login(0)} for k in range(min(10, members))]
    if leaver_list:
        invitations.append({"id": 6_100_000, "email": f"{leaver_list[0]}@{domain}", "role": "direct_member",
                            "created_at": stamp(departure + dt.timedelta(days=2)), "inviter": login(0)})
    secrets_ = [{"name": f"SECRET_{s:02d}", "created_at": "2025-01-01T00:00:00Z",
                 "updated_at": stamp(dt.date(2026, 1 + s % 11, 1 + s % 28)),
                 "visibility": ["all", "private", "selected"][s % 3]} for s in range(20)]

    return {
        "org": {"login": org, "id": 9_000_001, "name": "Acme Corp (generated)"},
        "viewer": login(0),
        "members": out_members,
        "outside_collaborators": outside,
        "invitations": invitations,
        "teams": teams,
        "credential_authorizations": creds,
        "personal_access_tokens": pats,
        "repositories": out_repos,
        "actions_secrets": secrets_,
        "saml": {"enabled": True},
        "meta": {
            "generated": f"{members}:{repos}:{leavers}", "seed": seed,
            "departure_date": departure.isoformat(),
            "leavers": [{"login": lg, "email": f"{lg}@{domain}", "departure_date": departure.isoformat(),
                         "deploy_key_repo": leaver_keys.get(lg)} for lg in leaver_list],
        },
    }


def write_leavers_csv(raw: dict, path: str) -> None:
    """The generated leavers as an HR export the residual CLI reads."""
    rows = (raw.get("meta") or {}).get("leavers") or []
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "departure_date", "full_name"])
        for row in rows:
            w.writerow([row["email"], row["departure_date"], row["login"].title()])


# ---------------------------------------------------------------------------
# Rendering: model → JSON bodies shaped like GitHub's
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Ctx:
    """Where URLs in bodies point: `api` is the REST root, `web` the HTML root."""

    api: str
    web: str


def simple_user(ctx: Ctx, u: User) -> dict:
    a, lg = ctx.api, u.login
    return {
        "login": lg, "id": u.id, "node_id": node_id("User" if u.type != "Organization" else "Organization", u.id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{u.id}?v=4", "gravatar_id": "",
        "url": f"{a}/users/{lg}", "html_url": f"{ctx.web}/{lg}",
        "followers_url": f"{a}/users/{lg}/followers", "following_url": f"{a}/users/{lg}/following{{/other_user}}",
        "gists_url": f"{a}/users/{lg}/gists{{/gist_id}}", "starred_url": f"{a}/users/{lg}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{a}/users/{lg}/subscriptions", "organizations_url": f"{a}/users/{lg}/orgs",
        "repos_url": f"{a}/users/{lg}/repos", "events_url": f"{a}/users/{lg}/events{{/privacy}}",
        "received_events_url": f"{a}/users/{lg}/received_events", "type": u.type, "user_view_type": "public",
        "site_admin": False,
    }


def public_user(ctx: Ctx, u: User) -> dict:
    body = simple_user(ctx, u)
    body.update({
        "name": u.name, "company": None, "blog": "", "location": None, "email": u.email, "hireable": None,
        "bio": None, "twitter_username": None, "public_repos": 0, "public_gists": 0, "followers": 0,
        "following": 0, "created_at": u.created_at, "updated_at": u.created_at,
    })
    return body


def private_user(ctx: Ctx, u: User) -> dict:
    body = public_user(ctx, u)
    body.update({
        "notification_email": u.email, "private_gists": 0, "total_private_repos": 0, "owned_private_repos": 0,
        "disk_usage": 0, "collaborators": 0, "two_factor_authentication": u.two_factor,
        "plan": {"name": "free", "space": 976562499, "private_repos": 10000, "collaborators": 0},
    })
    return body


def org_user(m: Model) -> User:
    return User(login=m.org_login, id=m.org_id, type="Organization", name=m.org_name)


def org_simple(ctx: Ctx, m: Model) -> dict:
    a, lg = ctx.api, m.org_login
    return {
        "login": lg, "id": m.org_id, "node_id": node_id("Organization", m.org_id), "url": f"{a}/orgs/{lg}",
        "repos_url": f"{a}/orgs/{lg}/repos", "events_url": f"{a}/orgs/{lg}/events", "hooks_url": f"{a}/orgs/{lg}/hooks",
        "issues_url": f"{a}/orgs/{lg}/issues", "members_url": f"{a}/orgs/{lg}/members{{/member}}",
        "public_members_url": f"{a}/orgs/{lg}/public_members{{/member}}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{m.org_id}?v=4", "description": m.org_description,
    }


def org_full(ctx: Ctx, m: Model) -> dict:
    body = org_simple(ctx, m)
    n_private = sum(1 for r in m.repos if r.private)
    body.update({
        # company, blog, location and email are left out rather than null: the schema declares them
        # non-nullable strings (blog a URI, email an email), though github.com sends null.
        "name": m.org_name, "twitter_username": None, "is_verified": False, "has_organization_projects": True, "has_repository_projects": True,
        "public_repos": len(m.repos) - n_private, "public_gists": 0, "followers": 0, "following": 0,
        "html_url": f"{ctx.web}/{m.org_login}", "created_at": m.org_created_at, "updated_at": m.org_created_at,
        "archived_at": None, "type": "Organization", "total_private_repos": n_private,
        "owned_private_repos": n_private, "private_gists": 0, "disk_usage": 0, "collaborators": len(m.outside),
        "billing_email": None,
        "plan": {"name": "enterprise", "space": 976562499, "private_repos": 999999,
                 "filled_seats": len(m.members), "seats": max(len(m.members), 10)},
        "default_repository_permission": "read", "members_can_create_repositories": False,
        "two_factor_requirement_enabled": m.org_2fa, "members_allowed_repository_creation_type": "none",
        "members_can_create_public_repositories": False, "members_can_create_private_repositories": False,
        "members_can_create_internal_repositories": False, "members_can_create_pages": True,
        "members_can_fork_private_repositories": False, "web_commit_signoff_required": False,
        "deploy_keys_enabled_for_repositories": True,
    })
    return body


def membership(ctx: Ctx, m: Model, user: User, state: str, role: str) -> dict:
    return {
        "url": f"{ctx.api}/orgs/{m.org_login}/memberships/{user.login}", "state": state, "role": role,
        "organization_url": f"{ctx.api}/orgs/{m.org_login}", "organization": org_simple(ctx, m),
        "user": simple_user(ctx, user), "direct_membership": True,
        "enterprise_teams_providing_indirect_membership": [],
    }


def invitation(ctx: Ctx, m: Model, inv: Invitation) -> dict:
    return {
        "id": inv.id, "login": inv.login, "email": inv.email, "role": inv.role, "created_at": inv.created_at,
        "failed_at": inv.failed_at, "failed_reason": inv.failed_reason, "inviter": simple_user(ctx, inv.inviter),
        "team_count": inv.team_count, "node_id": node_id("OrganizationInvitation", inv.id),
        "invitation_teams_url": f"{ctx.api}/organizations/{m.org_id}/invitations/{inv.id}/teams",
        "invitation_source": inv.invitation_source,
    }


def team_simple(ctx: Ctx, m: Model, t: Team) -> dict:
    return {
        "id": t.id, "node_id": node_id("Team", t.id), "url": f"{ctx.api}/organizations/{m.org_id}/team/{t.id}",
        "members_url": f"{ctx.api}/organizations/{m.org_id}/team/{t.id}/members{{/member}}", "name": t.name,
        "description": t.description, "permission": t.permission, "privacy": t.privacy,
        "notification_setting": "notifications_enabled", "html_url": f"{ctx.web}/orgs/{m.org_login}/teams/{t.slug}",
        "repositories_url": f"{ctx.api}/organizations/{m.org_id}/team/{t.id}/repos", "slug": t.slug,
        "type": "organization", "organization_id": m.org_id,
    }


def team(ctx: Ctx, m: Model, t: Team) -> dict:
    body = team_simple(ctx, m, t)
    parent = m.team_index.get(t.parent.lower()) if t.parent else None
    body["parent"] = team_simple(ctx, m, parent) if parent else None
    return body


def team_member(ctx: Ctx, m: Model, t: Team, key: str) -> dict:
    return simple_user(ctx, m.member_index[key].user)


def repo_minimal(ctx: Ctx, m: Model, r: Repo) -> dict:
    a, full = ctx.api, f"{m.org_login}/{r.name}"
    u = f"{a}/repos/{full}"
    return {
        "id": r.id, "node_id": node_id("Repository", r.id), "name": r.name, "full_name": full,
        "owner": simple_user(ctx, org_user(m)), "private": r.private, "html_url": f"{ctx.web}/{full}",
        "description": r.description, "fork": r.fork, "url": u,
        "archive_url": f"{u}/{{archive_format}}{{/ref}}", "assignees_url": f"{u}/assignees{{/user}}",
        "blobs_url": f"{u}/git/blobs{{/sha}}", "branches_url": f"{u}/branches{{/branch}}",
        "collaborators_url": f"{u}/collaborators{{/collaborator}}", "comments_url": f"{u}/comments{{/number}}",
        "commits_url": f"{u}/commits{{/sha}}", "compare_url": f"{u}/compare/{{base}}...{{head}}",
        "contents_url": f"{u}/contents/{{+path}}", "contributors_url": f"{u}/contributors",
        "deployments_url": f"{u}/deployments", "downloads_url": f"{u}/downloads", "events_url": f"{u}/events",
        "forks_url": f"{u}/forks", "git_commits_url": f"{u}/git/commits{{/sha}}",
        "git_refs_url": f"{u}/git/refs{{/sha}}", "git_tags_url": f"{u}/git/tags{{/sha}}",
        "git_url": f"git://{urlsplit(ctx.web).netloc}/{full}.git",
        "issue_comment_url": f"{u}/issues/comments{{/number}}", "issue_events_url": f"{u}/issues/events{{/number}}",
        "issues_url": f"{u}/issues{{/number}}", "keys_url": f"{u}/keys{{/key_id}}", "labels_url": f"{u}/labels{{/name}}",
        "languages_url": f"{u}/languages", "merges_url": f"{u}/merges",
        "milestones_url": f"{u}/milestones{{/number}}", "notifications_url": f"{u}/notifications{{?since,all,participating}}",
        "pulls_url": f"{u}/pulls{{/number}}", "releases_url": f"{u}/releases{{/id}}",
        "ssh_url": f"git@{urlsplit(ctx.web).hostname}:{full}.git", "stargazers_url": f"{u}/stargazers",
        "statuses_url": f"{u}/statuses/{{sha}}", "subscribers_url": f"{u}/subscribers",
        "subscription_url": f"{u}/subscription", "tags_url": f"{u}/tags", "teams_url": f"{u}/teams",
        "trees_url": f"{u}/git/trees{{/sha}}", "clone_url": f"{ctx.web}/{full}.git", "mirror_url": None,
        "hooks_url": f"{u}/hooks", "svn_url": f"{ctx.web}/{full}", "homepage": None, "language": None,
        "forks_count": 0, "stargazers_count": 0, "watchers_count": 0, "size": 0, "default_branch": "main",
        "open_issues_count": 0, "is_template": False, "topics": [], "has_issues": True, "has_projects": True,
        "has_wiki": False, "has_pages": False, "has_downloads": True, "has_discussions": False,
        "archived": r.archived, "disabled": False, "visibility": r.visibility, "pushed_at": r.pushed_at,
        "created_at": r.created_at, "updated_at": r.updated_at,
        "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
        "forks": 0, "open_issues": 0, "watchers": 0,
    }


def deploy_key(ctx: Ctx, m: Model, r: Repo, k: DeployKey) -> dict:
    return {
        "id": k.id, "key": k.key, "url": f"{ctx.api}/repos/{m.org_login}/{r.name}/keys/{k.id}", "title": k.title,
        "verified": k.verified, "created_at": k.created_at, "read_only": k.read_only, "added_by": k.added_by,
        "last_used": k.last_used, "enabled": k.enabled,
    }


def credential_authorization(ctx: Ctx, m: Model, c: dict) -> dict:
    return dict(c)


def pat_grant(ctx: Ctx, m: Model, g: dict) -> dict:
    return {
        "id": g["id"], "owner": simple_user(ctx, g["owner"]), "repository_selection": g["repository_selection"],
        "repositories_url": f"{ctx.api}/organizations/{m.org_id}/personal-access-tokens/{g['id']}/repositories",
        "permissions": g["permissions"], "access_granted_at": g["access_granted_at"], "token_id": g["token_id"],
        "token_name": g["token_name"], "token_expired": g["token_expired"], "token_expires_at": g["token_expires_at"],
        "token_last_used_at": g["token_last_used_at"],
    }


def org_secret(ctx: Ctx, m: Model, s: dict) -> dict:
    body = dict(s)
    if s["visibility"] == "selected":
        body["selected_repositories_url"] = f"{ctx.api}/orgs/{m.org_login}/actions/secrets/{s['name']}/repositories"
    return body


def github_app(ctx: Ctx, m: Model, app: App) -> dict:
    perms: dict[str, str] = {}
    for inst in app.installations.values():
        perms.update(inst.permissions)
    return {
        "id": app.id, "slug": app.slug, "client_id": app.client_id, "node_id": node_id("Integration", app.id),
        "owner": simple_user(ctx, org_user(m)), "name": app.name, "description": "Offboarding audit (test double)",
        "external_url": f"{ctx.web}/apps/{app.slug}", "html_url": f"{ctx.web}/apps/{app.slug}",
        "created_at": app.created_at, "updated_at": app.created_at, "permissions": perms, "events": [],
        "installations_count": len(app.installations),
    }


# ---------------------------------------------------------------------------
# GraphQL: just enough of a parser and executor for the SAML identity query
# ---------------------------------------------------------------------------


class GqlError(Exception):
    def __init__(self, message: str, loc: tuple[int, int] | None = None, path: list | None = None,
                 type_: str | None = None):
        super().__init__(message)
        self.message, self.loc, self.path, self.type = message, loc, path, type_

    def body(self) -> dict:
        err: dict[str, Any] = {}
        if self.type:
            err["type"] = self.type
        if self.path is not None:
            err["path"] = self.path
        if self.loc:
            err["locations"] = [{"line": self.loc[0], "column": self.loc[1]}]
        err["message"] = self.message
        return err


@dataclasses.dataclass
class GqlVar:
    name: str


@dataclasses.dataclass
class GqlField:
    name: str
    alias: str | None
    args: dict[str, Any]
    selections: list[GqlField]
    loc: tuple[int, int]


_GQL_TOKEN = re.compile(
    r'(?P<ws>[\s,\ufeff]+|#[^\n]*)|(?P<spread>\.\.\.)|(?P<punct>[!$():=@\[\]{}|&])'
    r'|(?P<string>"(?:[^"\\\n]|\\.)*")|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)'
    r'|(?P<name>[_A-Za-z][_0-9A-Za-z]*)'
)


def gql_tokens(src: str) -> list[tuple[str, str, tuple[int, int]]]:
    out, pos, line, line_start = [], 0, 1, 0
    while pos < len(src):
        mt = _GQL_TOKEN.match(src, pos)
        if not mt:
            raise GqlError(f"Parse error on {src[pos]!r} at [{line}, {pos - line_start + 1}]", (line, pos - line_start + 1))
        kind = mt.lastgroup
        text = mt.group()
        loc = (line, pos - line_start + 1)
        if kind != "ws":
            out.append((kind, text, loc))
        nl = text.count("\n")
        if nl:
            line += nl
            line_start = pos + text.rfind("\n") + 1
        pos = mt.end()
    out.append(("eof", "", (line, pos - line_start + 1)))
    return out


class GqlParser:
    """Operations (query only), variable definitions with defaults, fields, aliases, arguments."""

    def __init__(self, src: str):
        self.toks = gql_tokens(src)
        self.i = 0

    def peek(self) -> tuple[str, str, tuple[int, int]]:
        return self.toks[self.i]

    def take(self, text: str | None = None, kind: str | None = None) -> tuple[str, str, tuple[int, int]]:
        tok = self.toks[self.i]
        if (text is not None and tok[1] != text) or (kind is not None and tok[0] != kind):
            shown = tok[1] or "end of query"
            raise GqlError(f"Parse error on \"{shown}\" at [{tok[2][0]}, {tok[2][1]}]", tok[2])
        self.i += 1
        return tok

    def document(self) -> tuple[list[GqlField], dict[str, Any], dict[str, bool]]:
        """(selections, variable defaults, declared variables → non-null?)"""
        defaults: dict[str, Any] = {}
        declared: dict[str, bool] = {}
        kind, text, loc = self.peek()
        if kind == "name":
            if text != "query":
                raise GqlError(f"this test server answers queries only, not {text!r}", loc)
            self.take()
            if self.peek()[0] == "name":
                self.take()
            if self.peek()[1] == "(":
                self.take("(")
                while self.peek()[1] != ")":
                    self.take("$")
                    var = self.take(kind="name")[1]
                    self.take(":")
                    declared[var] = self.type_ref()
                    if self.peek()[1] == "=":
                        self.take("=")
                        defaults[var] = self.value(const=True)
                self.take(")")
        sels = self.selection_set()
        if self.peek()[0] != "eof":
            tok = self.peek()
            raise GqlError("this test server answers one operation per request", tok[2])
        return sels, defaults, declared

    def type_ref(self) -> bool:
        """Skip a type; True when it is non-null."""
        if self.peek()[1] == "[":
            self.take("[")
            self.type_ref()
            self.take("]")
        else:
            self.take(kind="name")
        if self.peek()[1] == "!":
            self.take("!")
            return True
        return False

    def selection_set(self) -> list[GqlField]:
        self.take("{")
        out = []
        while self.peek()[1] != "}":
            kind, text, loc = self.peek()
            if kind == "spread":
                raise GqlError("fragments are not supported by this test server", loc)
            if text == "@":
                raise GqlError("directives are not supported by this test server", loc)
            name = self.take(kind="name")[1]
            alias = None
            if self.peek()[1] == ":":
                self.take(":")
                alias, name = name, self.take(kind="name")[1]
            args: dict[str, Any] = {}
            if self.peek()[1] == "(":
                self.take("(")
                while self.peek()[1] != ")":
                    arg = self.take(kind="name")[1]
                    self.take(":")
                    args[arg] = self.value(const=False)
                self.take(")")
            if self.peek()[1] == "@":
                raise GqlError("directives are not supported by this test server", self.peek()[2])
            subs = self.selection_set() if self.peek()[1] == "{" else []
            out.append(GqlField(name, alias, args, subs, loc))
        self.take("}")
        if not out:
            raise GqlError("Parse error: empty selection set")
        return out

    def value(self, const: bool) -> Any:
        kind, text, loc = self.peek()
        if text == "$" and not const:
            self.take("$")
            return GqlVar(self.take(kind="name")[1])
        if kind == "number":
            self.take()
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "string":
            self.take()
            return json.loads(text)
        if kind == "name":
            self.take()
            return {"true": True, "false": False, "null": None}.get(text, text)
        if text == "[":
            self.take("[")
            items = []
            while self.peek()[1] != "]":
                items.append(self.value(const))
            self.take("]")
            return items
        if text == "{":
            self.take("{")
            obj = {}
            while self.peek()[1] != "}":
                key = self.take(kind="name")[1]
                self.take(":")
                obj[key] = self.value(const)
            self.take("}")
            return obj
        raise GqlError(f"Parse error on \"{text}\" at [{loc[0]}, {loc[1]}]", loc)


class GqlNode:
    """A GraphQL object: fields are methods `f_<name>(**args)`; ARGS lists the arguments each takes."""

    TYPENAME = "Node"
    ARGS: dict[str, set[str]] = {}


def _cursor(i: int) -> str:
    return base64.b64encode(f"cursor:v2:{i}".encode()).decode()


def _uncursor(c: str) -> int:
    try:
        text = base64.b64decode(c.encode(), validate=True).decode()
        if text.startswith("cursor:v2:"):
            return int(text[len("cursor:v2:"):])
    except (binascii.Error, ValueError, UnicodeDecodeError):
        pass
    raise GqlError(f"`{c}` does not appear to be a valid cursor.")


class GUser(GqlNode):
    TYPENAME = "User"

    def __init__(self, u: User):
        self.u = u

    def f_login(self): return self.u.login
    def f_id(self): return node_id("User", self.u.id)
    def f_databaseId(self): return self.u.id
    def f_name(self): return self.u.name
    def f_email(self): return self.u.email or ""


class GSamlAttrs(GqlNode):
    TYPENAME = "ExternalIdentitySamlAttributes"

    def __init__(self, s: SamlIdentity):
        self.s = s

    def f_nameId(self): return self.s.name_id
    def f_username(self): return self.s.username
    def f_givenName(self): return self.s.given_name
    def f_familyName(self): return self.s.family_name
    def f_emails(self):
        return [GEmail(self.s.name_id)] if "@" in self.s.name_id else []


class GEmail(GqlNode):
    TYPENAME = "UserEmailMetadata"

    def __init__(self, v: str):
        self.v = v

    def f_value(self): return self.v
    def f_primary(self): return True
    def f_type(self): return "work"


class GIdentity(GqlNode):
    TYPENAME = "ExternalIdentity"

    def __init__(self, model: Model, index: int, s: SamlIdentity):
        self.m, self.i, self.s = model, index, s

    def f_id(self): return node_id("ExternalIdentity", 1_000_000 + self.i)
    def f_guid(self): return str(uuid.uuid5(uuid.NAMESPACE_URL, "saml:" + self.s.name_id))
    def f_samlIdentity(self): return GSamlAttrs(self.s)
    def f_scimIdentity(self): return None
    def f_organizationInvitation(self): return None
    def f_user(self): return GUser(self.m.users[self.s.login.lower()]) if self.s.login else None


class GPageInfo(GqlNode):
    TYPENAME = "PageInfo"

    def __init__(self, has_next: bool, has_prev: bool, start: str | None, end: str | None):
        self.v = (has_next, has_prev, start, end)

    def f_hasNextPage(self): return self.v[0]
    def f_hasPreviousPage(self): return self.v[1]
    def f_startCursor(self): return self.v[2]
    def f_endCursor(self): return self.v[3]


class GEdge(GqlNode):
    TYPENAME = "ExternalIdentityEdge"

    def __init__(self, i: int, node: GIdentity):
        self.i, self.node = i, node

    def f_cursor(self): return _cursor(self.i)
    def f_node(self): return self.node


class GConnection(GqlNode):
    TYPENAME = "ExternalIdentityConnection"

    def __init__(self, items: list[tuple[int, GIdentity]], total: int, has_next: bool, has_prev: bool):
        self.items, self.total, self.has_next, self.has_prev = items, total, has_next, has_prev

    def f_totalCount(self): return self.total
    def f_nodes(self): return [n for _, n in self.items]
    def f_edges(self): return [GEdge(i, n) for i, n in self.items]
    def f_pageInfo(self):
        return GPageInfo(self.has_next, self.has_prev, _cursor(self.items[0][0]) if self.items else None,
                         _cursor(self.items[-1][0]) if self.items else None)


class GIdp(GqlNode):
    TYPENAME = "OrganizationIdentityProvider"
    ARGS = {"externalIdentities": {"first", "after", "last", "before", "login", "userName", "membersOnly"}}

    def __init__(self, m: Model):
        self.m = m

    def f_id(self): return node_id("OrganizationIdentityProvider", self.m.org_id)
    def f_ssoUrl(self): return self.m.saml_sso_url
    def f_issuer(self): return self.m.saml_issuer

    def f_externalIdentities(self, first=None, after=None, last=None, before=None, login=None, userName=None,
                             membersOnly=None):
        if last is not None or before is not None:
            raise GqlError("this test server paginates externalIdentities forwards only (first/after)")
        if first is None:
            raise GqlError("You must provide a `first` or `last` value to properly paginate the "
                           "`externalIdentities` connection.")
        if not isinstance(first, int) or first < 0:
            raise GqlError("Argument 'first' on Field 'externalIdentities' has an invalid value. Expected type 'Int'.")
        if first > 100:
            raise GqlError(f"Requesting {first} records on the `externalIdentities` connection exceeds the "
                           "`first` limit of 100 records.")
        everything = list(enumerate(self.m.saml_identities))
        if login is not None:
            everything = [(i, s) for i, s in everything if s.login and s.login.lower() == str(login).lower()]
        if userName is not None:
            everything = [(i, s) for i, s in everything if (s.username or s.name_id).lower() == str(userName).lower()]
        if membersOnly:
            everything = [(i, s) for i, s in everything if s.login and s.login.lower() in self.m.member_index]
        start = 0
        if after is not None:
            after_i = _uncursor(str(after))
            start = next((pos + 1 for pos, (i, _) in enumerate(everything) if i == after_i), len(everything))
        page = everything[start:start + first]
        return GConnection([(i, GIdentity(self.m, i, s)) for i, s in page], len(everything),
                           start + first < len(everything), start > 0)


class GOrg(GqlNode):
    TYPENAME = "Organization"

    def __init__(self, m: Model):
        self.m = m

    def f_login(self): return self.m.org_login
    def f_id(self): return node_id("Organization", self.m.org_id)
    def f_databaseId(self): return self.m.org_id
    def f_name(self): return self.m.org_name
    def f_samlIdentityProvider(self): return GIdp(self.m) if self.m.saml_enabled else None


class GRateLimit(GqlNode):
    TYPENAME = "RateLimit"

    def __init__(self, info: dict):
        self.info = info

    def f_limit(self): return self.info["limit"]
    def f_cost(self): return 1
    def f_remaining(self): return self.info["remaining"]
    def f_used(self): return self.info["used"]
    def f_nodeCount(self): return 0
    def f_resetAt(self):
        return dt.datetime.fromtimestamp(self.info["reset"], dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class GQuery(GqlNode):
    TYPENAME = "Query"
    ARGS = {"organization": {"login"}}

    def __init__(self, m: Model, viewer: User | None, rate: dict):
        self.m, self.viewer, self.rate = m, viewer, rate

    def f_organization(self, login=None):
        if login is None:
            raise GqlError("Field 'organization' is missing required arguments: login")
        if not self.m.is_org(str(login)):
            raise GqlError(f"Could not resolve to an Organization with the login of '{login}'.", type_="NOT_FOUND")
        return GOrg(self.m)

    def f_viewer(self):
        if self.viewer is None:
            raise GqlError("Resource not accessible by integration", type_="FORBIDDEN")
        return GUser(self.viewer)

    def f_rateLimit(self): return GRateLimit(self.rate)


def gql_execute(root: GqlNode, query: str, variables: dict | None) -> dict:
    """Run one query: {"data": ...} or {"errors": [...]} (plus data when only a field failed)."""
    try:
        selections, defaults, declared = GqlParser(query).document()
    except GqlError as exc:
        return {"errors": [exc.body()]}
    values = dict(defaults)
    values.update({k: v for k, v in (variables or {}).items() if k in declared})
    for name, non_null in declared.items():
        if values.get(name) is None:
            if non_null:
                return {"errors": [{"message": f"Variable ${name} of type given as non-null was provided invalid "
                                               "value", "locations": [{"line": 1, "column": 1}]}]}
            values[name] = None
    field_errors: list[GqlError] = []

    def arg(value: Any) -> Any:
        if isinstance(value, GqlVar):
            if value.name not in values:
                raise GqlError(f"Variable ${value.name} is used by the query but not declared")
            return values[value.name]
        if isinstance(value, list):
            return [arg(v) for v in value]
        if isinstance(value, dict):
            return {k: arg(v) for k, v in value.items()}
        return value

    def run(obj: GqlNode, sels: list[GqlField], path: list) -> dict:
        out: dict[str, Any] = {}
        for sel in sels:
            key = sel.alias or sel.name
            if sel.name == "__typename":
                out[key] = obj.TYPENAME
                continue
            meth = getattr(obj, "f_" + sel.name, None)
            if meth is None:
                raise GqlError(f"Field '{sel.name}' doesn't exist on type '{obj.TYPENAME}'", sel.loc,
                               ["query"] + path + [key])
            allowed = obj.ARGS.get(sel.name, set())
            for a in sel.args:
                if a not in allowed:
                    raise GqlError(f"Field '{sel.name}' doesn't accept argument '{a}'", sel.loc)
            try:
                value = meth(**{k: arg(v) for k, v in sel.args.items()})
            except GqlError as exc:
                if exc.path is None:
                    exc.path = path + [key]
                if exc.loc is None:
                    exc.loc = sel.loc
                field_errors.append(exc)
                out[key] = None
                continue
            out[key] = complete(value, sel, path + [key])
        return out

    def complete(value: Any, sel: GqlField, path: list) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [complete(v, sel, path + [i]) for i, v in enumerate(value)]
        if isinstance(value, GqlNode):
            if not sel.selections:
                raise GqlError(f"Field must have selections (field '{sel.name}' returns {value.TYPENAME} but has "
                               "no selections. Did you mean '" + sel.name + " { ... }'?)", sel.loc)
            return run(value, sel.selections, path)
        if sel.selections:
            raise GqlError(f"Selections can't be made on scalars (field '{sel.name}' returns a scalar)", sel.loc)
        return value

    try:
        data = run(root, selections, [])
    except GqlError as exc:
        return {"errors": [exc.body()]}
    body: dict[str, Any] = {"data": data}
    if field_errors:
        body["errors"] = [e.body() for e in field_errors]
    return body


# ---------------------------------------------------------------------------
# JWT (GitHub App authentication)
# ---------------------------------------------------------------------------


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class JwtError(Exception):
    pass


def check_app_jwt(token: str, app: App, now: float) -> None:
    """Raise JwtError with GitHub's wording unless `token` is a valid app JWT for `app`."""
    parts = token.split(".")
    if len(parts) != 3 or not all(re.fullmatch(r"[A-Za-z0-9_-]+", p) for p in parts):
        raise JwtError("A JSON web token could not be decoded")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, binascii.Error):
        raise JwtError("A JSON web token could not be decoded")
    if not isinstance(header, dict) or header.get("alg") != "RS256" or not isinstance(payload, dict):
        raise JwtError("A JSON web token could not be decoded")
    iat, exp, iss = payload.get("iat"), payload.get("exp"), payload.get("iss")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise JwtError("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
    if not isinstance(exp, int) or isinstance(exp, bool) or exp <= now:
        raise JwtError("'Expiration time' claim ('exp') must be a numeric value representing the future time at "
                       "which the assertion expires")
    if exp - iat > 600 or exp > now + 600 + 60:
        raise JwtError("'Expiration time' claim ('exp') is too far in the future")
    if iat > now + 60:
        raise JwtError("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
    if str(iss) not in (str(app.id), app.client_id):
        raise JwtError("Integration not found" if iss is not None else "'Issuer' claim ('iss') must be an Integer")
    if app.public_key_pem:
        try:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import padding
        except ImportError:  # pragma: no cover - cryptography ships with moto in our venv
            return
        key = serialization.load_pem_public_key(app.public_key_pem.encode())
        try:
            key.verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise JwtError("A JSON web token could not be decoded")


def make_app_jwt(private_key_pem: bytes, app_id: int | str, now: float | None = None, ttl: int = 540) -> str:
    """Sign an app JWT (for tests and the schema check)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    now = int(now if now is not None else time.time())

    def enc(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")

    signing_input = f"{enc({'alg': 'RS256', 'typ': 'JWT'})}.{enc({'iat': now - 60, 'exp': now - 60 + ttl, 'iss': app_id})}"
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{base64.urlsafe_b64encode(sig).decode().rstrip('=')}"


# ---------------------------------------------------------------------------
# Faults, rate limits, stats
# ---------------------------------------------------------------------------


FAULT_KINDS = {"status", "delay", "garbage", "secondary_rate_limit", "exhaust"}
_UNSET = object()


def Faults() -> FaultRules:  # noqa: N802 - kept as the class name call sites use
    """GitHub faults: `reset_in` for `exhaust` (fires once), a 60 s default `retry-after`."""
    return FaultRules(FAULT_KINDS, extra={"reset_in": lambda v: float(60 if v is None else v)},
                      once={"exhaust"}, retry_after_default=60)


class RateLimits:
    """A budget per (credential, resource) that refills `window` seconds after its first use."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self.lock = threading.Lock()
        self.buckets: dict[tuple[str, str], dict] = {}

    def _bucket(self, key: tuple[str, str], now: float, limit: int) -> dict:
        b = self.buckets.get(key)
        if b is None or now >= b["reset"]:
            b = {"limit": limit, "used": 0, "reset": now + self.window}
            self.buckets[key] = b
        return b

    def take(self, key: tuple[str, str], now: float, cost: int = 1, limit: int | None = None) -> tuple[bool, dict]:
        """Spend `cost`; returns (allowed, header info)."""
        with self.lock:
            b = self._bucket(key, now, limit or self.limit)
            allowed = b["used"] + cost <= b["limit"] if cost else True
            if allowed:
                b["used"] += cost
            return allowed, self._info(b)

    def peek(self, key: tuple[str, str], now: float, limit: int | None = None) -> dict:
        with self.lock:
            return self._info(self._bucket(key, now, limit or self.limit))

    def exhaust(self, key: tuple[str, str], now: float, reset_in: float) -> None:
        with self.lock:
            b = self._bucket(key, now, self.limit)
            b["used"] = b["limit"]
            b["reset"] = now + reset_in

    def clear(self) -> None:
        with self.lock:
            self.buckets.clear()

    @staticmethod
    def _info(b: dict) -> dict:
        return {"limit": b["limit"], "used": b["used"], "remaining": max(0, b["limit"] - b["used"]),
                "reset": int(math.ceil(b["reset"]))}


# ---------------------------------------------------------------------------
# The API: request → response, independent of the HTTP server
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Reply:
    status: int
    body: bytes
    headers: list[tuple[str, str]]
    template: str | None = None
    auth: str = "none"


@dataclasses.dataclass
class Principal:
    kind: str  # pat | installation | jwt
    key: str  # rate-limit bucket key
    user: User | None = None
    installation: Installation | None = None


class ApiError(Exception):
    def __init__(self, status: int, message: str, docs: str = DOCS, headers: list | None = None):
        super().__init__(message)
        self.status, self.message, self.docs, self.headers = status, message, docs, headers or []


def error_body(status: int, message: str, docs: str = DOCS) -> dict:
    return {"message": message, "documentation_url": docs, "status": str(status)}


ROUTES: list[tuple[str, re.Pattern, str]] = [
    (method, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", tmpl) + "$"), tmpl)
    for method, tmpl in [
        ("GET", "/user"),
        ("GET", "/rate_limit"),
        ("GET", "/users/{username}"),
        ("GET", "/orgs/{org}"),
        ("GET", "/orgs/{org}/members"),
        ("GET", "/orgs/{org}/members/{username}"),
        ("GET", "/orgs/{org}/memberships/{username}"),
        ("GET", "/orgs/{org}/outside_collaborators"),
        ("GET", "/orgs/{org}/invitations"),
        ("GET", "/orgs/{org}/teams"),
        ("GET", "/orgs/{org}/teams/{team_slug}/members"),
        ("GET", "/orgs/{org}/credential-authorizations"),
        ("GET", "/orgs/{org}/personal-access-tokens"),
        ("GET", "/orgs/{org}/repos"),
        ("GET", "/orgs/{org}/actions/secrets"),
        ("GET", "/repos/{owner}/{repo}/keys"),
        ("GET", "/repos/{owner}/{repo}/keys/{key_id}"),
        ("POST", "/graphql"),
        ("GET", "/app"),
        ("POST", "/app/installations/{installation_id}/access_tokens"),
    ]
]
_ORG_ALIAS = re.compile(r"^/organizations/(\d+)(/.*)?$")
_REPO_ALIAS = re.compile(r"^/repositories/(\d+)(/.*)?$")


class GitHubApi:
    """Everything but the socket: the HTTP handler and the schema check both call `handle`."""

    def __init__(self, model: Model, tokens: dict[str, str | None] | None = None, latency_ms: float = 0,
                 rate_limit: int = 5000, rate_reset_seconds: float = 3600, link_style: str = "ids",
                 request_log: str | None = None, clock: Callable[[], float] = time.time):
        self.model = model
        self.pats = {tok: model.user_or_ghost(login) if login else model.viewer for tok, login in (tokens or {}).items()}
        self.installation_tokens: dict[str, dict] = {}
        self.latency = latency_ms / 1000.0
        self.rates = RateLimits(rate_limit, rate_reset_seconds)
        self.link_style = link_style
        self.faults = Faults()
        self.clock = clock
        self.lock = threading.Lock()
        self.stats: dict[str, Any] = {"requests": 0, "by_path": {}, "by_status": {}}
        self.log_fh = open(request_log, "a", encoding="utf-8") if request_log else None

    # -- entry point --------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes,
               base_url: str | None = None) -> Reply:
        """`headers` keys lower-case. `base_url` overrides the scheme+host used in URLs."""
        split = urlsplit(target)
        raw_path, query = split.path, split.query
        if raw_path.startswith("/_harness/"):
            return self.control(method, raw_path, body)
        host = headers.get("host", "127.0.0.1")
        root = (base_url or f"http://{host}").rstrip("/")
        prefix = ""
        path = raw_path
        if path.startswith("/api/v3/") or path == "/api/v3":
            prefix, path = "/api/v3", path[len("/api/v3"):] or "/"
        elif path == "/api/graphql":
            prefix, path = "/api", "/graphql"
        web = "https://github.com" if root == "https://api.github.com" else root
        ctx = Ctx(api=root + ("/api/v3" if prefix else ""), web=web)
        reply = self._api(method, path, query, headers, body, ctx)
        self._record(method, raw_path, query, reply)
        return reply

    def _api(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes, ctx: Ctx) -> Reply:
        if self.latency:
            time.sleep(self.latency)
        now = self.clock()
        path = self._unalias(path)
        template, params = self._route(method, path)
        resource = "graphql" if template == "/graphql" else "core"
        principal, auth_error = self._authenticate(headers, template, now)
        auth_kind = principal.kind if principal else ("bad" if headers.get("authorization") else "none")
        bucket = (principal.key if principal else "anonymous", resource)
        extra: list[tuple[str, str]] = []

        try:
            version = headers.get("x-github-api-version")
            if version is not None and version not in SUPPORTED_API_VERSIONS:
                raise ApiError(400, f"API version '{version}' is not supported. Supported versions are "
                                    f"{', '.join(SUPPORTED_API_VERSIONS)}.", "https://docs.github.com/rest/about-the-rest-api/api-versions")
            rule = self.faults.take(method, path + (f"?{query}" if query else ""))
            if rule is not None:
                injected = self._fault(rule, principal, bucket, now, resource)
                if injected is not None:
                    injected.template, injected.auth = template, auth_kind
                    return injected
            if auth_error is not None:
                raise auth_error
            if principal is None:
                raise ApiError(401, "Requires authentication")
            counts = template != "/rate_limit"
            allowed, info = self.rates.take(bucket, now, 1 if counts else 0)
            extra = self._rate_headers(info, resource)
            if not allowed:
                who = (f"installation ID {principal.installation.id}" if principal.kind == "installation"
                       else f"user ID {principal.user.id}" if principal.user else f"app {principal.key}")
                raise ApiError(403, f"API rate limit exceeded for {who}. If you reach out to GitHub Support for help, "
                                    f"please include the request ID {self._request_id()} and timestamp "
                                    f"{dt.datetime.fromtimestamp(now, dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC.",
                               RATE_DOCS)
            if template is None:
                raise ApiError(404, "Not Found")
            self._permit(principal, template)
            status, payload, more = self._dispatch(template, params, query, body, principal, ctx, now)
            reply = self._json(status, payload, extra + more)
        except ApiError as exc:
            if not extra:
                extra = self._rate_headers(self.rates.peek(bucket, now, None if principal else 60), resource)
            reply = self._json(exc.status, error_body(exc.status, exc.message, exc.docs), extra + exc.headers)
        reply.template, reply.auth = template, auth_kind
        return reply

    # -- routing and auth ------------------------------------------------------------------

    def _unalias(self, path: str) -> str:
        """github.com's Link URLs name orgs and repos by id; map those back to the canonical path."""
        m = _ORG_ALIAS.match(path)
        if m and int(m.group(1)) == self.model.org_id:
            rest = m.group(2) or ""
            tm = re.match(r"^/team/(\d+)(/.*)?$", rest)
            if tm:
                t = next((t for t in self.model.teams if t.id == int(tm.group(1))), None)
                if t is not None:
                    rest = f"/teams/{t.slug}{tm.group(2) or ''}"
            return f"/orgs/{self.model.org_login}{rest}"
        m = _REPO_ALIAS.match(path)
        if m:
            repo = self.model.repo_by_id.get(int(m.group(1)))
            if repo is not None:
                return f"/repos/{self.model.org_login}/{repo.name}{m.group(2) or ''}"
        return path

    @staticmethod
    def _route(method: str, path: str) -> tuple[str | None, dict]:
        path = path.rstrip("/") or "/"
        for m, pattern, template in ROUTES:
            if m == method:
                mt = pattern.match(path)
                if mt:
                    return template, {k: v for k, v in mt.groupdict().items()}
        return None, {}

    def _authenticate(self, headers: dict[str, str], template: str | None, now: float
                      ) -> tuple[Principal | None, ApiError | None]:
        auth = headers.get("authorization")
        if not auth:
            return None, None
        scheme, _, token = auth.strip().partition(" ")
        token = token.strip()
        if scheme.lower() not in ("bearer", "token") or not token:
            return None, ApiError(401, "Bad credentials")
        app = self.model.app
        if template in ("/app", "/app/installations/{installation_id}/access_tokens"):
            if app is None:
                return None, ApiError(401, "A JSON web token could not be decoded")
            try:
                check_app_jwt(token, app, now)
            except JwtError as exc:
                return None, ApiError(401, str(exc))
            return Principal("jwt", f"app:{app.id}"), None
        if token in self.pats:
            return Principal("pat", f"pat:{hashlib.sha256(token.encode()).hexdigest()[:16]}", self.pats[token]), None
        with self.lock:
            minted = self.installation_tokens.get(token)
        if minted is not None and now < minted["expires"]:
            return Principal("installation", f"installation:{minted['installation'].id}:{token[-6:]}", None,
                             minted["installation"]), None
        return None, ApiError(401, "Bad credentials")

    @staticmethod
    def _permit(p: Principal, template: str) -> None:
        if p.kind == "installation":
            if template == "/user":
                raise ApiError(403, "Resource not accessible by integration",
                               "https://docs.github.com/rest/users/users#get-the-authenticated-user")
            need = ROUTE_PERMISSION.get(template)
            if need and need not in p.installation.permissions:
                raise ApiError(403, "Resource not accessible by integration")
        elif p.kind == "pat" and template == "/orgs/{org}/personal-access-tokens":
            raise ApiError(403, "Resource not accessible by personal access token", PAT_GRANTS_DOCS)

    # -- responses ----------------------------------------------------------------------

    def _request_id(self) -> str:
        r = secrets.token_hex(16).upper()
        return f"{r[:4]}:{r[4:10]}:{r[10:17]}:{r[17:24]}:{r[24:32]}"

    def _json(self, status: int, payload: Any, headers: list[tuple[str, str]]) -> Reply:
        body = json.dumps(payload, separators=(",", ":")).encode()
        base = [
            ("content-type", "application/json; charset=utf-8"),
            ("x-github-api-version-selected", API_VERSION),
            ("x-github-media-type", "github.v3; format=json"),
            ("x-github-request-id", self._request_id()),
        ]
        return Reply(status, body, base + headers)

    @staticmethod
    def _rate_headers(info: dict, resource: str) -> list[tuple[str, str]]:
        return [
            ("x-ratelimit-limit", str(info["limit"])),
            ("x-ratelimit-remaining", str(info["remaining"])),
            ("x-ratelimit-reset", str(info["reset"])),
            ("x-ratelimit-used", str(info["used"])),
            ("x-ratelimit-resource", resource),
        ]

    def _fault(self, rule: dict, principal: Principal | None, bucket: tuple[str, str], now: float,
               resource: str) -> Reply | None:
        kind = rule["kind"]
        if kind == "delay":
            time.sleep(rule["delay_seconds"])
            return None
        if kind == "exhaust":
            if principal is not None:
                self.rates.exhaust(bucket, now, rule["reset_in"])
            return None
        info = self.rates.peek(bucket, now)
        headers = self._rate_headers(info, resource)
        if kind == "garbage":
            reply = self._json(200, None, headers)
            reply.body = b'[{"login": "trunc'
            return reply
        if kind == "secondary_rate_limit":
            status = rule["status"] or 403
            if rule["retry_after"] is not None:
                headers.append(("retry-after", str(int(rule["retry_after"]))))
            message = rule["message"] or (
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you "
                f"reach out to GitHub Support for help, please include the request ID {self._request_id()}.")
            return self._json(status, error_body(status, message, SECONDARY_DOCS), headers)
        status = rule["status"] or 502
        message = rule["message"] or {500: "Server Error", 502: "Server Error", 503: "Service Unavailable",
                                      504: "Gateway Timeout"}.get(status, "Injected fault")
        return self._json(status, error_body(status, message), headers)

    # -- pagination ---------------------------------------------------------------------

    def _page(self, items: list, query: str, ctx: Ctx, path: str,
              render: Callable[[Any], Any]) -> tuple[list, list[tuple[str, str]]]:
        pairs = parse_qsl(query, keep_blank_values=True)
        q = dict(pairs)
        per_page = _int_param(q.get("per_page"), 30)
        per_page = 30 if per_page < 1 else min(per_page, 100)
        page = max(1, _int_param(q.get("page"), 1))
        last = max(1, math.ceil(len(items) / per_page))
        rows = [render(x) for x in items[(page - 1) * per_page: page * per_page]]
        if last == 1 and page == 1:
            return rows, []
        link_path = self._link_path(path)
        kept = [(k, v) for k, v in pairs if k != "page"]

        def url(n: int) -> str:
            return f"{ctx.api}{link_path}?{urlencode(kept + [('page', str(n))], safe='[]:')}"

        links = []
        if page > 1:
            links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
        if page < last:
            links.append(f'<{url(page + 1)}>; rel="next"')
            links.append(f'<{url(last)}>; rel="last"')
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        return rows, [("link", ", ".join(links))]

    def _link_path(self, path: str) -> str:
        if self.link_style != "ids":
            return path
        m = self.model
        prefix = f"/orgs/{m.org_login}"
        if path.lower().startswith(prefix.lower() + "/"):
            rest = path[len(prefix):]
            tm = re.match(r"^/teams/([^/]+)(/.*)$", rest)
            if tm and tm.group(1).lower() in m.team_index:
                rest = f"/team/{m.team_index[tm.group(1).lower()].id}{tm.group(2)}"
            return f"/organizations/{m.org_id}{rest}"
        mt = re.match(r"^/repos/[^/]+/([^/]+)(/.*)$", path)
        if mt and mt.group(1).lower() in m.repo_index:
            return f"/repositories/{m.repo_index[mt.group(1).lower()].id}{mt.group(2)}"
        return path

    # -- handlers -------------------------------------------------------------------------

    def _dispatch(self, template: str, p: dict, query: str, body: bytes, principal: Principal, ctx: Ctx,
                  now: float) -> tuple[int, Any, list[tuple[str, str]]]:
        m = self.model
        q = dict(parse_qsl(query, keep_blank_values=True))
        if "org" in p and not m.is_org(p["org"]):
            raise ApiError(404, "Not Found")
        if "owner" in p and not m.is_org(p["owner"]):
            raise ApiError(404, "Not Found")
        canon = self._canonical_path(template, p)

        def paged(items: list, render: Callable[[Any], Any]) -> tuple[int, Any, list]:
            rows, link = self._page(items, query, ctx, canon, render)
            return 200, rows, link

        if template == "/user":
            return 200, private_user(ctx, principal.user), []
        if template == "/rate_limit":
            return 200, self._rate_limit_body(principal, now), []
        if template == "/users/{username}":
            u = m.users.get(p["username"].lower())
            if u is None:
                raise ApiError(404, "Not Found", "https://docs.github.com/rest/users/users#get-a-user")
            return 200, public_user(ctx, u), []
        if template == "/orgs/{org}":
            return 200, org_full(ctx, m), []
        if template == "/orgs/{org}/members":
            role = q.get("role", "all")
            if role not in m.members_by_role:
                raise ApiError(422, "Validation Failed")
            items = m.members_by_role[role]
            flt = q.get("filter", "all")
            if flt == "2fa_disabled":
                items = [x for x in items if not x.user.two_factor]
            elif flt == "2fa_insecure":
                items = []
            return paged(items, lambda x: simple_user(ctx, x.user))
        if template == "/orgs/{org}/members/{username}":
            if p["username"].lower() in m.member_index:
                return 204, None, []
            raise ApiError(404, "User does not exist or is not a member of the organization",
                           "https://docs.github.com/rest/orgs/members#check-organization-membership-for-a-user")
        if template == "/orgs/{org}/memberships/{username}":
            key = p["username"].lower()
            member = m.member_index.get(key)
            if member is not None:
                return 200, membership(ctx, m, member.user, "active", member.role), []
            pending = next((i for i in m.invitations if i.login and i.login.lower() == key and not i.failed_at), None)
            if pending is not None:
                return 200, membership(ctx, m, m.user_or_ghost(pending.login), "pending",
                                       "admin" if pending.role == "admin" else "member"), []
            raise ApiError(404, "Not Found",
                           "https://docs.github.com/rest/orgs/members#get-organization-membership-for-a-user")
        if template == "/orgs/{org}/outside_collaborators":
            items = m.outside
            if q.get("filter") == "2fa_disabled":
                items = [u for u in items if not u.two_factor]
            return paged(items, lambda u: simple_user(ctx, u))
        if template == "/orgs/{org}/invitations":
            items = [i for i in m.invitations if not i.failed_at]
            role = q.get("role", "all")
            if role != "all":
                items = [i for i in items if i.role == role]
            source = q.get("invitation_source", "all")
            if source != "all":
                items = [i for i in items if i.invitation_source == source]
            return paged(items, lambda i: invitation(ctx, m, i))
        if template == "/orgs/{org}/teams":
            return paged(m.teams, lambda t: team(ctx, m, t))
        if template == "/orgs/{org}/teams/{team_slug}/members":
            t = m.team_index.get(p["team_slug"].lower())
            if t is None:
                raise ApiError(404, "Not Found")
            role = q.get("role", "all")
            keys = t.members if role == "all" else [k for k in t.members if (k in t.maintainers) == (role == "maintainer")]
            return paged(keys, lambda k: team_member(ctx, m, t, k))
        if template == "/orgs/{org}/credential-authorizations":
            items = m.credential_authorizations
            if q.get("login"):
                want = q["login"].lower()
                items = [c for c in items if c["login"].lower() == want]
            return paged(items, lambda c: credential_authorization(ctx, m, c))
        if template == "/orgs/{org}/personal-access-tokens":
            return paged(self._pat_grants(query), lambda g: pat_grant(ctx, m, g))
        if template == "/orgs/{org}/repos":
            kind = q.get("type", "all")
            items = m.repos
            if kind == "public":
                items = [r for r in items if r.visibility == "public"]
            elif kind == "private":
                items = [r for r in items if r.private]
            elif kind == "forks":
                items = [r for r in items if r.fork]
            elif kind == "sources":
                items = [r for r in items if not r.fork]
            if q.get("direction") == "desc":
                items = list(reversed(items))
            return paged(items, lambda r: repo_minimal(ctx, m, r))
        if template == "/orgs/{org}/actions/secrets":
            rows, link = self._page(m.secrets, query, ctx, canon, lambda s: org_secret(ctx, m, s))
            return 200, {"total_count": len(m.secrets), "secrets": rows}, link
        if template in ("/repos/{owner}/{repo}/keys", "/repos/{owner}/{repo}/keys/{key_id}"):
            repo = m.repo_index.get(p["repo"].lower())
            if repo is None:
                raise ApiError(404, "Not Found", "https://docs.github.com/rest/deploy-keys/deploy-keys#list-deploy-keys")
            if template.endswith("{key_id}"):
                key = next((k for k in repo.deploy_keys if str(k.id) == p["key_id"]), None)
                if key is None:
                    raise ApiError(404, "Not Found", "https://docs.github.com/rest/deploy-keys/deploy-keys#get-a-deploy-key")
                return 200, deploy_key(ctx, m, repo, key), []
            return paged(repo.deploy_keys, lambda k: deploy_key(ctx, m, repo, k))
        if template == "/graphql":
            return self._graphql(body, principal, now)
        if template == "/app":
            return 200, github_app(ctx, m, m.app), []
        if template == "/app/installations/{installation_id}/access_tokens":
            return self._mint(p["installation_id"], body, now)
        raise ApiError(404, "Not Found")

    @staticmethod
    def _canonical_path(template: str, p: dict) -> str:
        return re.sub(r"\{(\w+)\}", lambda mt: p[mt.group(1)], template)

    def _pat_grants(self, query: str) -> list[dict]:
        pairs = parse_qsl(query, keep_blank_values=True)
        owners = {v.lower() for k, v in pairs if k in ("owner", "owner[]") for v in v.split(",") if v}
        token_ids = {v for k, v in pairs if k in ("token_id", "token_id[]") for v in v.split(",") if v}
        q = dict(pairs)
        items = list(self.model.pat_grants)
        if owners:
            items = [g for g in items if g["owner"].login.lower() in owners]
        if token_ids:
            items = [g for g in items if str(g["token_id"]) in token_ids]
        if q.get("repository"):
            want = q["repository"].lower()
            items = [g for g in items if g["repository_selection"] == "all"
                     or want in (r.lower() for r in g["repositories"])]
        if q.get("permission"):
            name, _, level = q["permission"].rpartition("_")
            items = [g for g in items if any(perms.get(name) == level for perms in g["permissions"].values())]
        for key, keep in (("last_used_before", lambda t, b: t is not None and _ts(t) < b),
                          ("last_used_after", lambda t, b: t is not None and _ts(t) > b)):
            if q.get(key):
                try:
                    bound = _ts(q[key])
                except ValueError:
                    raise ApiError(422, f"Invalid value for {key}")
                items = [g for g in items if keep(g["token_last_used_at"], bound)]
        items.sort(key=lambda g: _ts(g["access_granted_at"]), reverse=q.get("direction", "desc") != "asc")
        return items

    def _rate_limit_body(self, principal: Principal, now: float) -> dict:
        core = self.rates.peek((principal.key, "core"), now)
        graphql = self.rates.peek((principal.key, "graphql"), now)
        reset = int(now) + 3600

        def fixed(limit: int) -> dict:
            return {"limit": limit, "used": 0, "remaining": limit, "reset": reset}

        # Only the resources the schema declares (github.com also sends e.g. audit_log).
        resources = {
            "core": core, "search": fixed(30), "graphql": graphql, "integration_manifest": fixed(5000),
            "source_import": fixed(100), "code_scanning_autofix": fixed(10),
            "actions_runner_registration": fixed(10000), "scim": fixed(15000), "dependency_snapshots": fixed(100),
            "dependency_sbom": fixed(100), "code_search": fixed(10),
        }
        return {"resources": resources, "rate": core}

    def _graphql(self, body: bytes, principal: Principal, now: float) -> tuple[int, Any, list]:
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            raise ApiError(400, "Problems parsing JSON", "https://docs.github.com/graphql")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return 200, {"errors": [{"message": "A query attribute must be specified and must be a string."}]}, []
        variables = payload.get("variables")
        if isinstance(variables, str):
            try:
                variables = json.loads(variables) if variables else {}
            except ValueError:
                variables = None
        if variables is not None and not isinstance(variables, dict):
            return 200, {"errors": [{"message": "Variables are invalid JSON."}]}, []
        rate = self.rates.peek((principal.key, "graphql"), now)
        root = GQuery(self.model, principal.user if principal.kind == "pat" else None, rate)
        return 200, gql_execute(root, payload["query"], variables), []

    def _mint(self, installation_id: str, body: bytes, now: float) -> tuple[int, Any, list]:
        app = self.model.app
        inst = app.installations.get(int(installation_id)) if installation_id.isdigit() else None
        if inst is None:
            raise ApiError(404, "Not Found",
                           "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app")
        perms = dict(inst.permissions)
        try:
            request = json.loads(body) if body.strip() else {}
        except ValueError:
            raise ApiError(400, "Problems parsing JSON")
        if isinstance(request, dict) and isinstance(request.get("permissions"), dict):
            asked = request["permissions"]
            order = {"read": 1, "write": 2, "admin": 3}
            for name, level in asked.items():
                if order.get(perms.get(name, ""), 0) < order.get(level, 9):
                    raise ApiError(422, "The permissions requested are not granted to this installation.")
            perms = dict(asked)
        token = "ghs_" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                                 for _ in range(36))
        expires = now + app.token_ttl_seconds
        with self.lock:
            self.installation_tokens[token] = {"installation": Installation(inst.id, perms), "expires": expires}
        return 201, {
            "token": token,
            "expires_at": dt.datetime.fromtimestamp(int(expires), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "permissions": perms,
            "repository_selection": "all",
        }, []

    # -- control routes --------------------------------------------------------------------

    def control(self, method: str, path: str, body: bytes) -> Reply:
        def ok(payload: Any, status: int = 200) -> Reply:
            return Reply(status, json.dumps(payload).encode(), [("content-type", "application/json; charset=utf-8")])

        try:
            if path == "/_harness/faults":
                if method == "POST":
                    self.faults.replace(json.loads(body or b"[]"))
                elif method == "DELETE":
                    self.faults.clear()
                elif method != "GET":
                    return ok({"error": "method not allowed"}, 405)
                return ok({"rules": self.faults.snapshot()})
            if path == "/_harness/stats":
                if method == "DELETE":
                    with self.lock:
                        self.stats = {"requests": 0, "by_path": {}, "by_status": {}}
                with self.lock:
                    return ok(json.loads(json.dumps(self.stats)))
            if path == "/_harness/reset" and method == "POST":
                self.faults.clear()
                self.rates.clear()
                with self.lock:
                    self.stats = {"requests": 0, "by_path": {}, "by_status": {}}
                    self.installation_tokens.clear()
                return ok({"reset": True})
        except (ValueError, re.error) as exc:
            return ok({"error": str(exc)}, 400)
        return ok({"error": f"no harness route {method} {path}"}, 404)

    def _record(self, method: str, path: str, query: str, reply: Reply) -> None:
        key = reply.template or "(unrouted)"
        with self.lock:
            self.stats["requests"] += 1
            self.stats["by_path"][key] = self.stats["by_path"].get(key, 0) + 1
            code = str(reply.status)
            self.stats["by_status"][code] = self.stats["by_status"].get(code, 0) + 1
            if self.log_fh is not None:
                self.log_fh.write(json.dumps({
                    "ts": round(time.time(), 3), "method": method, "path": path, "query": query,
                    "status": reply.status, "template": reply.template, "auth": reply.auth,
                }) + "\n")
                self.log_fh.flush()


def _int_param(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None and value != "" else default
    except ValueError:
        return default


def _ts(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------------------
# HTTP server
# ---------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""
    api: GitHubApi  # set on the subclass made in serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def version_string(self) -> str:
        return self.server_version

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            reply = self.api.handle(self.command, self.path, headers, body)
        except Exception as exc:  # a bug here must show as a 500, not a hung client
            reply = Reply(500, json.dumps({"message": f"harness error: {exc!r}"}).encode(),
                          [("content-type", "application/json; charset=utf-8")])
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        payload = b"" if reply.status == 204 else reply.body
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True



def parse_tokens(values: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for v in values:
        token, sep, login = v.partition("=")
        out[token] = login if sep else None
    return out


def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--scenario", help="scenario JSON file")
    src.add_argument("--generate-scale", metavar="MEMBERS:REPOS:LEAVERS", help="build a large scenario in memory")
    ap.add_argument("--seed", type=int, default=7, help="generator seed")
    ap.add_argument("--dump-scenario", metavar="FILE", help="write the scenario as JSON")
    ap.add_argument("--dump-leavers", metavar="FILE", help="write the generated leavers as CSV")
    ap.add_argument("--port", type=int, help="0 picks a free port; omit with --dump-* to only write files")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port-file")
    ap.add_argument("--request-log")
    ap.add_argument("--token", action="append", default=[], metavar="TOKEN[=LOGIN]")
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--rate-limit", type=int, default=5000, help="requests per credential per window")
    ap.add_argument("--rate-reset-seconds", type=float, default=3600, help="rate-limit window")
    ap.add_argument("--app-public-key", metavar="PEM", help="verify app JWT signatures with this key")
    ap.add_argument("--link-style", choices=["ids", "plain"], default="ids")
    args = ap.parse_args(argv)

    try:
        if args.scenario:
            with open(args.scenario, encoding="utf-8") as fh:
                raw = json.load(fh)
        else:
            raw = generate_scenario(*parse_scale(args.generate_scale), seed=args.seed)
        if args.app_public_key:
            with open(args.app_public_key, encoding="utf-8") as fh:
                raw = dict(raw)
                raw["app"] = dict(raw.get("app") or {}, public_key_pem=fh.read())
        model = Model(raw)
    except (OSError, ValueError) as exc:
        print(f"github_server: {exc}", file=sys.stderr)
        return 2
    if args.dump_scenario:
        with open(args.dump_scenario, "w", encoding="utf-8") as fh:
            json.dump(raw, fh, indent=1 if len(model.members) < 1000 else None)
            fh.write("\n")
    if args.dump_leavers:
        write_leavers_csv(raw, args.dump_leavers)
    if args.port is None:
        if args.dump_scenario or args.dump_leavers:
            return 0
        ap.error("--port is required unless only dumping")

    api = GitHubApi(model, parse_tokens(args.token), args.latency_ms, args.rate_limit, args.rate_reset_seconds,
                    args.link_style, args.request_log)
    handler = type("BoundHandler", (Handler,), {"api": api})
    server = Server((args.host, args.port), handler)
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
