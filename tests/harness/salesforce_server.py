#!/usr/bin/env python3
"""A local stand-in for the Salesforce REST API, for testing the `residual` Salesforce probe.

Salesforce has no emulator. This server plays one org's instance (`https://acme.my.salesforce.com`)
for the objects the probe reads: User, UserLogin, OauthToken, LoginHistory,
PermissionSetAssignment (with PermissionSet and Profile). Bodies follow the REST API Developer
Guide and the Object Reference (API v62.0; any `vNN.0` is accepted and echoed in URLs).

Usage:
    python tests/harness/salesforce_server.py --port 0 --port-file F --request-log L
        (--scenario FILE.json | --generate-scale USERS:LEAVERS)
        [--token T]... [--client-id ID --client-secret S] [--batch-size 2000]
        [--daily-limit 15000] [--oauth-token-cap 2500] [--max-open-locators 10]
        [--locator-ttl 900] [--latency-ms 0] [--dump-scenario FILE] [--dump-leavers FILE]

    --port 0 picks a free port; it is written to --port-file (write-then-rename) once listening.
    --token (repeatable) adds an access token the server accepts; tokens minted by the
    client-credentials flow are accepted too. Every token runs as the scenario's
    `integration_user`.
    --dump-scenario / --dump-leavers without --port write the files and exit (for benchmarks).

Routes (JSON; `Authorization: Bearer <token>`, or `OAuth <token>`, on everything but the first two):
    GET  /services/data                                   API versions (no auth)
    POST /services/oauth2/token                           grant_type=client_credentials&client_id&client_secret
    GET  /services/data/vNN.0                              resource directory
    GET  /services/data/vNN.0/limits                       {"DailyApiRequests": {"Max", "Remaining"}}
    GET  /services/data/vNN.0/query?q=SOQL   (also /queryAll, and a trailing slash)
    GET  /services/data/vNN.0/query/<locator>-<offset>    the nextRecordsUrl of an earlier query
    GET  /services/data/vNN.0/sobjects/<Type>/<Id>        one record, every field
    GET  /services/oauth2/userinfo   and   GET /id/<orgId>/<userId>   identity of the token's user

Query responses: {"totalSize", "done", "nextRecordsUrl" (only when not done), "records": [...]};
each record starts with "attributes": {"type", "url"} and carries the selected fields, with
relationship fields nested (`"Profile": {"attributes": {...}, "Name": "..."}`, or null when the
lookup is empty). Datetimes read `2026-11-20T09:15:00.000+0000`. Ids are 18-character ids with
the documented key prefixes: User 005, Profile 00e, PermissionSet 0PS, PermissionSetAssignment
0Pa, LoginHistory 0Ya, UserLogin 0Yw, OauthToken 0CQ, AppMenuItem 0DS, Organization 00D, query
locators 01g. Filters accept 15- or 18-character ids.

Batching: a query answers `--batch-size` records (default 2000) per page. A
`Sforce-Query-Options: batchSize=N` header asks for N clamped to 200..2000, never more than
--batch-size. OauthToken is special, as its Object Reference documents: at most 500 records per
page and no more than 2500 records in all (`--oauth-token-cap`, 0 = no cap; the response then
says totalSize 2500, done true). `SELECT COUNT() FROM OauthToken` still counts them all.
A user may hold --max-open-locators query cursors (10, as on Salesforce); opening another
releases the oldest, whose nextRecordsUrl then fails with INVALID_QUERY_LOCATOR, as does a
cursor idle for --locator-ttl seconds.

SOQL subset:
    SELECT f1, Rel.f2, ... | COUNT()  FROM Object
    [WHERE cond]  [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]  [LIMIT n]  [OFFSET n]
    cond: f = v | f != v | f <> v | f < v | f <= v | f > v | f >= v | f [NOT] IN (v, ...)
          | f LIKE 'pat%' | NOT cond | (cond) | cond AND cond | cond OR cond
          (AND and OR mixed without parentheses are refused, as SOQL does)
    values: 'string' (backslash escapes), true, false, null, numbers, dateTime literals
          unquoted (2026-11-01T00:00:00Z, 2026-11-01T00:00:00.000+0000, ...+00:00).
    Strings compare case-insensitively; ids compare on their first 15 characters; `!=` and
    NOT IN match nulls. Type mismatches (a quoted boolean or dateTime, an invalid id) answer
    INVALID_QUERY_FILTER_OPERATOR; an unknown field or relationship INVALID_FIELD, an unknown
    object INVALID_TYPE, anything unparseable MALFORMED_QUERY, each with Salesforce's
    "ERROR at Row:r:Column:c" message. Relative date literals (TODAY, LAST_N_DAYS:n) are not
    supported. Remember that `+` in a URL query means a space: encode it as %2B.

Objects and fields (names are case-insensitive in SOQL; responses use these spellings):
    User: Id, Username, Email, FederationIdentifier, IsActive, LastLoginDate, Name, FirstName,
        LastName, UserType, ProfileId (Profile), EmployeeNumber, Title, Department, CreatedDate,
        LastModifiedDate
    Profile: Id, Name, UserType, PermissionsModifyAllData, PermissionsViewAllData
    PermissionSet: Id, Name, Label, IsOwnedByProfile, ProfileId (Profile),
        PermissionsModifyAllData, PermissionsViewAllData
    PermissionSetAssignment: Id, AssigneeId (Assignee), PermissionSetId (PermissionSet),
        ExpirationDate, SystemModstamp
    UserLogin: Id, UserId, IsFrozen, IsPasswordLocked, LastModifiedDate
    OauthToken: Id, AppName, UserId (User), CreatedDate, LastUsedDate, UseCount, AppMenuItemId
    LoginHistory: Id, UserId, LoginTime, Status, LoginType, SourceIp, Application, Browser,
        Platform, LoginUrl
As on Salesforce, every profile owns a permission set (IsOwnedByProfile = true, Name
`X00e…`, the profile's ModifyAllData/ViewAllData) and every user is assigned their profile's.

Every API response carries `Sforce-Limit-Info: api-usage=N/LIMIT` (N counts API requests of the
org, including this one). Past --daily-limit: 403 [{"message": "TotalRequests Limit exceeded.",
"errorCode": "REQUEST_LIMIT_EXCEEDED"}]. A bad or expired token: 401
[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]. A request URI
longer than 16,384 bytes: 414 [{"message": "URI Too Long", "errorCode": "URI_TOO_LONG"}]; URI
plus headers over 16,384 bytes: 431 (errorCode REQUEST_HEADER_FIELDS_TOO_LARGE). Those two
error codes are this server's choice: Salesforce documents the statuses, not the bodies.

Request log: one JSON line per request (control routes are not logged):
    {"ts": 1764331200.123, "method": "GET", "path": "/services/data/v62.0/query",
     "query": "q=SELECT+...", "status": 200, "template": "/services/data/{version}/query",
     "auth": "static"|"minted"|"none"|"bad"|"expired", "object": "User", "soql": "SELECT ..."}
`object` and `soql` are set for queries (the first page only; a nextRecordsUrl fetch carries the
object of its query).

Control routes (JSON; not logged, not counted, no auth, no latency):
    POST   /_harness/faults   a rule or a list of rules (replaces the active ones):
        {"path_regex": "...", "method": "GET", "kind": "status"|"delay"|"garbage"|
         "expire_session"|"exhaust_limit", "status": 503, "times": N, "delay_seconds": S,
         "retry_after": S, "message": "...", "error_code": "...", "token": "..."}
        `path_regex` is searched in the decoded path plus query
        ("/services/data/v62.0/query?q=SELECT Id FROM OauthToken ..."), so "FROM OauthToken"
        or "query/01g" work. `times`: uses before the rule is spent (default -1 = forever;
        expire_session and exhaust_limit default to 1). Each request consumes at most the first
        matching rule.
        status: answer `status` (default 503) with a Salesforce error body (errorCode by status:
            500 UNKNOWN_EXCEPTION, 503 SERVER_UNAVAILABLE, 403 REQUEST_LIMIT_EXCEEDED, ...;
            `error_code`/`message` override), plus Retry-After when `retry_after` is given.
        delay: sleep delay_seconds, then answer normally.
        garbage: 200 with a truncated JSON body.
        expire_session: from now on `token` (default: the matching request's own token) answers
            INVALID_SESSION_ID, this request included.
        exhaust_limit: the org's API usage jumps to the daily limit: this and later requests get
            REQUEST_LIMIT_EXCEEDED until /_harness/reset.
    GET    /_harness/faults   active rules        DELETE /_harness/faults   clear them
    GET    /_harness/stats    {"requests", "by_path": {template: n}, "by_status": {..},
                               "by_object": {"User": n, ...}, "api_usage": n}
    DELETE /_harness/stats    zero the counters (not the API usage)
    POST   /_harness/reset    clear faults, counters, API usage, expired and minted tokens, cursors

Scenario file (JSON object; unknown keys are refused so that typos fail loudly; times are
RFC 3339 strings such as "2026-11-20T09:15:00Z"; every `id` is optional and derived
deterministically when left out; 15- or 18-character ids are accepted):

    "org": {"id": "00D…", "name": "Acme Corp"}
    "integration_user": "username"     the user every token runs as (default: first active admin)
    "profiles": [{"name", "id", "user_type": "Standard", "modify_all_data": false,
                  "view_all_data": false}]
    "permission_sets": [{"name", "label", "id", "modify_all_data": false, "view_all_data": false}]
    "users": [{"username", "id", "email", "first_name", "last_name", "federation_identifier",
               "employee_number", "title", "department", "is_active": true,
               "user_type": "Standard", "profile": profile name (default "Standard User"; null: none),
               "permission_sets": [name],
               "last_login": time|null, "created": time, "frozen": false, "password_locked": false}]
    "oauth_tokens": [{"user": username, "app_name", "id", "created", "last_used": time|null,
                      "use_count": 0, "app_menu_item_id"}]
    "login_history": [{"user": username, "login_time", "status": "Success", "login_type":
                       "Application", "source_ip", "application": "Browser", "browser",
                       "platform", "login_url", "id"}]
    "meta": {...}                      free-form, ignored (the generator records its leavers here)

Profiles named in users but not declared are created (no admin permissions). `Name` of a user is
"first_name last_name".
"""

from __future__ import annotations

import argparse
import base64
import collections
import csv

from common import FaultRules, write_port_file  # tests/harness is on sys.path when these run
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import os
import random
import re
import secrets
import signal
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_VERSION = "62.0"
URI_LIMIT = 16_384
ORG_ID_15 = "00D5g000004Acme"
DOMAIN = "acme.example"
CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
FAULT_KINDS = {"status", "delay", "garbage", "expire_session", "exhaust_limit"}
JSON_TYPE = "application/json;charset=UTF-8"

PREFIX = {
    "User": "005", "Profile": "00e", "PermissionSet": "0PS", "PermissionSetAssignment": "0Pa",
    "LoginHistory": "0Ya", "UserLogin": "0Yw", "OauthToken": "0CQ", "AppMenuItem": "0DS",
    "Organization": "00D", "QueryLocator": "01g",
}


# ---------------------------------------------------------------------------
# Salesforce ids and datetimes
# ---------------------------------------------------------------------------


def id18(id15: str) -> str:
    """Append the case-safety checksum Salesforce adds to a 15-character id."""
    suffix = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        suffix += CHECKSUM_ALPHABET[bits]
    return id15 + suffix


def make_id(kind: str, n: int) -> str:
    """A deterministic 18-character id: key prefix, pod `5g`, reserved `0`, then 9 characters."""
    value = (n * 2_654_435_761 + 7_777_777 * len(kind)) % (62 ** 6)
    digits = ""
    for _ in range(6):
        value, r = divmod(value, 62)
        digits = BASE62[r] + digits
    return id18(PREFIX[kind] + "5g0" + "000" + digits)


def valid_id(value: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?", value))


def normalize_id(value: str, kind: str, where: str) -> str:
    if not isinstance(value, str) or not valid_id(value):
        raise ScenarioError(f"{where}: {value!r} is not a 15- or 18-character Salesforce id")
    if not value.startswith(PREFIX[kind]):
        raise ScenarioError(f"{where}: {value!r} must start with the {kind} key prefix {PREFIX[kind]}")
    full = id18(value[:15])
    if len(value) == 18 and value != full:
        raise ScenarioError(f"{where}: {value!r} has a wrong checksum (expected {full})")
    return full


def parse_time(value: str) -> dt.datetime:
    """RFC 3339, or Salesforce's own `2026-11-20T09:15:00.000+0000`, or a date (midnight UTC)."""
    v = value.strip()
    if re.fullmatch(r"\d{4}-\d\d-\d\d", v):
        return dt.datetime.fromisoformat(v).replace(tzinfo=dt.timezone.utc)
    v = v.replace("Z", "+00:00").replace("z", "+00:00")
    m = re.fullmatch(r"(.*[+-])(\d\d)(\d\d)", v)
    if m and ":" not in v[-6:]:
        v = f"{m.group(1)}{m.group(2)}:{m.group(3)}"
    out = dt.datetime.fromisoformat(v)
    if out.tzinfo is None:
        raise ValueError(f"{value!r}: no time zone")
    return out.astimezone(dt.timezone.utc)


def sf_time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    v = value.astimezone(dt.timezone.utc)
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}+0000"


# ---------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    type: str  # id | reference | string | boolean | datetime | int


@dataclasses.dataclass(frozen=True)
class Relationship:
    name: str
    id_field: str
    target: str


@dataclasses.dataclass
class SObject:
    name: str
    fields: dict[str, Field]               # lower-case name -> field
    relationships: dict[str, Relationship]  # lower-case name -> relationship
    order: list[str]                       # canonical field names, for sobject GETs


def _sobject(name: str, spec: list[tuple[str, str]], rels: list[tuple[str, str, str]] = ()) -> SObject:
    return SObject(name, {n.lower(): Field(n, t) for n, t in spec},
                   {r.lower(): Relationship(r, f, t) for r, f, t in rels}, [n for n, _ in spec])


SCHEMA: dict[str, SObject] = {o.name.lower(): o for o in [
    _sobject("User", [
        ("Id", "id"), ("Username", "string"), ("Email", "string"), ("FederationIdentifier", "string"),
        ("IsActive", "boolean"), ("LastLoginDate", "datetime"), ("Name", "string"), ("FirstName", "string"),
        ("LastName", "string"), ("UserType", "string"), ("ProfileId", "reference"),
        ("EmployeeNumber", "string"), ("Title", "string"), ("Department", "string"),
        ("CreatedDate", "datetime"), ("LastModifiedDate", "datetime"),
    ], [("Profile", "ProfileId", "Profile")]),
    _sobject("Profile", [
        ("Id", "id"), ("Name", "string"), ("UserType", "string"), ("PermissionsModifyAllData", "boolean"),
        ("PermissionsViewAllData", "boolean"),
    ]),
    _sobject("PermissionSet", [
        ("Id", "id"), ("Name", "string"), ("Label", "string"), ("IsOwnedByProfile", "boolean"),
        ("ProfileId", "reference"), ("PermissionsModifyAllData", "boolean"), ("PermissionsViewAllData", "boolean"),
    ], [("Profile", "ProfileId", "Profile")]),
    _sobject("PermissionSetAssignment", [
        ("Id", "id"), ("AssigneeId", "reference"), ("PermissionSetId", "reference"),
        ("ExpirationDate", "datetime"), ("SystemModstamp", "datetime"),
    ], [("Assignee", "AssigneeId", "User"), ("PermissionSet", "PermissionSetId", "PermissionSet")]),
    _sobject("UserLogin", [
        ("Id", "id"), ("UserId", "reference"), ("IsFrozen", "boolean"), ("IsPasswordLocked", "boolean"),
        ("LastModifiedDate", "datetime"),
    ]),
    _sobject("OauthToken", [
        ("Id", "id"), ("AppName", "string"), ("UserId", "reference"), ("CreatedDate", "datetime"),
        ("LastUsedDate", "datetime"), ("UseCount", "int"), ("AppMenuItemId", "reference"),
    ], [("User", "UserId", "User")]),
    # The running user's own permissions (one row), as Salesforce exposes them.
    _sobject("UserPermissionAccess", [
        ("Id", "id"), ("PermissionsViewAllUsers", "boolean"), ("PermissionsManageUsers", "boolean"),
    ]),
    _sobject("LoginHistory", [
        ("Id", "id"), ("UserId", "reference"), ("LoginTime", "datetime"), ("Status", "string"),
        ("LoginType", "string"), ("SourceIp", "string"), ("Application", "string"), ("Browser", "string"),
        ("Platform", "string"), ("LoginUrl", "string"),
    ]),
]}


# ---------------------------------------------------------------------------
# Scenario
# ---------------------------------------------------------------------------


class ScenarioError(ValueError):
    """A scenario file that does not describe a valid org."""


class Spec:
    """Typed access to one scenario object, refusing unknown keys."""

    def __init__(self, raw: Any, where: str, allowed: Iterable[str], required: Iterable[str] = ()):
        if not isinstance(raw, dict):
            raise ScenarioError(f"{where}: expected an object, got {type(raw).__name__}")
        unknown = set(raw) - set(allowed)
        if unknown:
            raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")
        for key in required:
            if raw.get(key) in (None, ""):
                raise ScenarioError(f"{where}: `{key}` is required")
        self.raw, self.where = raw, where

    def _get(self, key: str, default: Any, types: tuple, what: str, nullable: bool = True) -> Any:
        value = self.raw.get(key, default)
        if value is None:
            if not nullable:
                raise ScenarioError(f"{self.where}.{key}: must not be null")
            return None
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            raise ScenarioError(f"{self.where}.{key}: expected {what}, got {value!r}")
        return value

    def str(self, key: str, default: Any = None) -> Any:
        return self._get(key, default, (str,), "a string")

    def bool(self, key: str, default: bool) -> bool:
        return self._get(key, default, (bool,), "true or false", nullable=False)

    def int(self, key: str, default: int) -> int:
        return self._get(key, default, (int,), "an integer", nullable=False)

    def time(self, key: str, default: Any = None) -> dt.datetime | None:
        value = self._get(key, default, (str,), "an RFC 3339 time")
        if value is None:
            return None
        try:
            return parse_time(value)
        except ValueError:
            raise ScenarioError(f"{self.where}.{key}: {value!r} is not an RFC 3339 time")

    def list(self, key: str) -> list:
        return self._get(key, [], (list,), "a list", nullable=False)


class Org:
    """The records of one org, as Python values keyed by canonical field names."""

    def __init__(self, raw: Any):
        top = Spec(raw, "scenario", ["org", "integration_user", "integration_user_permissions", "profiles",
                                     "permission_sets", "users", "oauth_tokens", "login_history", "meta"])
        self.counters: dict[str, int] = collections.defaultdict(int)
        self.records: dict[str, list[dict]] = {name: [] for name in
                                               ("User", "Profile", "PermissionSet", "PermissionSetAssignment",
                                                "UserLogin", "OauthToken", "LoginHistory", "UserPermissionAccess")}
        self.by_id: dict[str, dict] = {}   # 15-char id -> record
        self.by_id_type: dict[str, str] = {}

        org = Spec(raw.get("org") or {}, "scenario.org", ["id", "name"])
        self.org_id = normalize_id(org.str("id"), "Organization", "org.id") if org.str("id") else id18(ORG_ID_15)
        self.org_name = org.str("name", "Acme Corp")

        self.profiles: dict[str, dict] = {}
        self.permission_sets: dict[str, dict] = {}
        self.profile_ps: dict[str, dict] = {}  # profile id -> owned permission set
        for i, p in enumerate(top.list("profiles")):
            self._add_profile(Spec(p, f"profiles[{i}]", ["name", "id", "user_type", "modify_all_data",
                                                          "view_all_data"], ["name"]))
        for i, p in enumerate(top.list("permission_sets")):
            f = Spec(p, f"permission_sets[{i}]", ["name", "label", "id", "modify_all_data", "view_all_data"], ["name"])
            name = f.str("name")
            if name.lower() in self.permission_sets:
                raise ScenarioError(f"permission_sets[{i}]: duplicate name {name!r}")
            ps = self._store("PermissionSet", f.str("id"), f"permission_sets[{i}].id", {
                "Name": name, "Label": f.str("label", name.replace("_", " ")), "IsOwnedByProfile": False,
                "ProfileId": None, "PermissionsModifyAllData": f.bool("modify_all_data", False),
                "PermissionsViewAllData": f.bool("view_all_data", False),
            })
            self.permission_sets[name.lower()] = ps

        self.users: dict[str, dict] = {}  # lower-case username -> record
        epoch = dt.datetime(2024, 1, 8, 9, 0, tzinfo=dt.timezone.utc)
        for i, u in enumerate(top.list("users")):
            f = Spec(u, f"users[{i}]", ["username", "id", "email", "first_name", "last_name", "federation_identifier",
                                         "employee_number", "title", "department", "is_active", "user_type",
                                         "profile", "permission_sets", "last_login", "created", "frozen",
                                         "password_locked"], ["username"])
            username = f.str("username")
            if username.lower() in self.users:
                raise ScenarioError(f"users[{i}]: duplicate username {username!r}")
            profile_name = f.str("profile", "Standard User")  # null: no profile (the Automated Process user)
            profile = self.profiles.get(profile_name.lower()) if profile_name else None
            if profile is None and profile_name:
                profile = self._add_profile(Spec({"name": profile_name}, f"users[{i}].profile", ["name"]))
            first, last = f.str("first_name"), f.str("last_name", username.split("@")[0])
            created = f.time("created") or epoch
            user = self._store("User", f.str("id"), f"users[{i}].id", {
                "Username": username, "Email": f.str("email", username), "FederationIdentifier": f.str("federation_identifier"),
                "IsActive": f.bool("is_active", True), "LastLoginDate": f.time("last_login"),
                "Name": " ".join(x for x in (first, last) if x), "FirstName": first, "LastName": last,
                "UserType": f.str("user_type", "Standard"), "ProfileId": profile["Id"] if profile else None,
                "EmployeeNumber": f.str("employee_number"), "Title": f.str("title"), "Department": f.str("department"),
                "CreatedDate": created, "LastModifiedDate": created,
            })
            self.users[username.lower()] = user
            self._store("UserLogin", None, "", {
                "UserId": user["Id"], "IsFrozen": f.bool("frozen", False),
                "IsPasswordLocked": f.bool("password_locked", False), "LastModifiedDate": created,
            })
            if profile is not None:
                self._assign(user, self.profile_ps[profile["Id"]], created)
            seen = set()
            for name in f.list("permission_sets"):
                ps = self.permission_sets.get(str(name).lower())
                if ps is None:
                    raise ScenarioError(f"users[{i}].permission_sets: unknown permission set {name!r}")
                if ps["Id"] in seen:
                    raise ScenarioError(f"users[{i}].permission_sets: {name!r} assigned twice")
                seen.add(ps["Id"])
                self._assign(user, ps, created)

        for i, t in enumerate(top.list("oauth_tokens")):
            f = Spec(t, f"oauth_tokens[{i}]", ["user", "app_name", "id", "created", "last_used", "use_count",
                                                "app_menu_item_id"], ["user", "app_name"])
            user = self._user(f.str("user"), f"oauth_tokens[{i}].user")
            app_item = f.str("app_menu_item_id")
            app_item = normalize_id(app_item, "AppMenuItem", f"oauth_tokens[{i}].app_menu_item_id") if app_item \
                else make_id("AppMenuItem", zlib.crc32(f.str("app_name").lower().encode()) % 1_000_000)
            self._store("OauthToken", f.str("id"), f"oauth_tokens[{i}].id", {
                "AppName": f.str("app_name"), "UserId": user["Id"], "CreatedDate": f.time("created") or epoch,
                "LastUsedDate": f.time("last_used"), "UseCount": f.int("use_count", 0), "AppMenuItemId": app_item,
            })

        for i, h in enumerate(top.list("login_history")):
            f = Spec(h, f"login_history[{i}]", ["user", "login_time", "status", "login_type", "source_ip",
                                                 "application", "browser", "platform", "login_url", "id"],
                     ["user", "login_time"])
            user = self._user(f.str("user"), f"login_history[{i}].user")
            self._store("LoginHistory", f.str("id"), f"login_history[{i}].id", {
                "UserId": user["Id"], "LoginTime": f.time("login_time"), "Status": f.str("status", "Success"),
                "LoginType": f.str("login_type", "Application"), "SourceIp": f.str("source_ip", "198.51.100.10"),
                "Application": f.str("application", "Browser"), "Browser": f.str("browser", "Chrome 131"),
                "Platform": f.str("platform", "Mac OSX"), "LoginUrl": f.str("login_url", "acme.my.salesforce.com"),
            })

        iu = top.str("integration_user")
        if iu:
            self.integration_user = self._user(iu, "integration_user")
        else:
            admins = [u for u in self.records["User"] if u["IsActive"] and u["ProfileId"]
                      and self.by_id[u["ProfileId"][:15]]["PermissionsModifyAllData"]]
            actives = [u for u in self.records["User"] if u["IsActive"]]
            if not (admins or actives):
                raise ScenarioError("scenario: no active user for the tokens to run as")
            self.integration_user = (admins or actives)[0]
        # What the running user may see: everything, unless the scenario withholds it
        # (`"integration_user_permissions": {"view_all_users": false}`).
        perms = top._get("integration_user_permissions", {}, (dict,), "an object") or {}
        self.records["UserPermissionAccess"].append({
            "Id": "000000000000000AAA",
            "PermissionsViewAllUsers": bool(perms.get("view_all_users", True)),
            "PermissionsManageUsers": bool(perms.get("manage_users", True)),
        })

    def _add_profile(self, f: Spec) -> dict:
        name = f.str("name")
        if name.lower() in self.profiles:
            raise ScenarioError(f"{f.where}: duplicate profile {name!r}")
        mad, vad = f.bool("modify_all_data", False), f.bool("view_all_data", False)
        profile = self._store("Profile", f.str("id"), f"{f.where}.id", {
            "Name": name, "UserType": f.str("user_type", "Standard"),
            "PermissionsModifyAllData": mad, "PermissionsViewAllData": vad or mad,
        })
        self.profiles[name.lower()] = profile
        self.profile_ps[profile["Id"]] = self._store("PermissionSet", None, "", {
            "Name": "X" + profile["Id"], "Label": profile["Id"][:15], "IsOwnedByProfile": True,
            "ProfileId": profile["Id"], "PermissionsModifyAllData": mad, "PermissionsViewAllData": vad or mad,
        })
        return profile

    def _assign(self, user: dict, ps: dict, when: dt.datetime) -> None:
        self._store("PermissionSetAssignment", None, "", {
            "AssigneeId": user["Id"], "PermissionSetId": ps["Id"], "ExpirationDate": None, "SystemModstamp": when,
        })

    def _user(self, username: str, where: str) -> dict:
        user = self.users.get((username or "").lower())
        if user is None:
            raise ScenarioError(f"{where}: unknown user {username!r}")
        return user

    def _store(self, kind: str, given_id: str | None, where: str, fields: dict) -> dict:
        if given_id:
            ident = normalize_id(given_id, kind, where)
        else:
            self.counters[kind] += 1
            ident = make_id(kind, self.counters[kind])
            while ident[:15] in self.by_id:
                self.counters[kind] += 1
                ident = make_id(kind, self.counters[kind])
        if ident[:15] in self.by_id:
            raise ScenarioError(f"{where}: duplicate id {ident}")
        record = {"Id": ident, **fields}
        self.records[kind].append(record)
        self.by_id[ident[:15]] = record
        self.by_id_type[ident[:15]] = kind
        return record

    def get(self, ident: str | None) -> dict | None:
        return self.by_id.get(ident[:15]) if ident else None


def load_scenario(path: str) -> tuple[dict, Org]:
    with open(path, encoding="utf-8") as fh:
        try:
            raw = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{path}: not JSON: {exc}") from exc
    return raw, Org(raw)


# ---------------------------------------------------------------------------
# Scenario generator (benchmarks)
# ---------------------------------------------------------------------------


def parse_scale(spec: str) -> tuple[int, int]:
    try:
        users, leavers = (int(x) for x in spec.split(":"))
    except ValueError:
        raise ScenarioError(f"--generate-scale {spec!r}: expected USERS:LEAVERS, e.g. 50000:500")
    if users < 2 or not 0 <= leavers < users:
        raise ScenarioError(f"--generate-scale {spec!r}: need USERS >= 2 and 0 <= LEAVERS < USERS")
    return users, leavers


LEAVER_KINDS = ("oauth_token_after", "login_after", "frozen", "deactivated", "admin")


def generate_scenario(users: int, leavers: int, seed: int = 7) -> dict:
    """A large, deterministic org. User 0 is the integration user; leavers are spread evenly and
    cycle through LEAVER_KINDS; `meta.leavers` records who they are and what each should produce.
    Staff hold enough OauthTokens (every 8th user) to pass the 2500-record OauthToken cap at
    20,000 users or more."""
    rnd = random.Random(seed)
    width = max(5, len(str(users - 1)))
    departure = dt.date(2026, 11, 15)

    def stamp(day: dt.date, secs: int | None = None) -> str:
        s = rnd.randrange(8 * 3600, 19 * 3600) if secs is None else secs
        return (dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
                + dt.timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def nov(lo: int, hi: int) -> dt.date:
        return dt.date(2026, 11, rnd.randint(lo, hi))

    def name(i: int) -> str:
        return f"user{i:0{width}d}"

    step = (users - 1) / leavers if leavers else 0
    leaver_idx = sorted({1 + int(k * step + step / 2) for k in range(leavers)}) if leavers else []
    kind_of = {idx: LEAVER_KINDS[k % len(LEAVER_KINDS)] for k, idx in enumerate(leaver_idx)}

    out_users, tokens, history, meta_leavers = [], [], [], []
    for i in range(users):
        n = name(i)
        kind = kind_of.get(i)
        u: dict[str, Any] = {
            "username": f"{n}@{DOMAIN}", "email": f"{n}@{DOMAIN}", "first_name": "User", "last_name": f"{i:0{width}d}",
            "federation_identifier": f"{n}@{DOMAIN}", "employee_number": f"E{300000 + i}",
            "profile": "System Administrator" if i % 250 == 1 and kind is None else "Standard User",
            "last_login": stamp(nov(1, 25)), "created": stamp(dt.date(2025, 1, 1) + dt.timedelta(days=i % 600)),
        }
        if i == 0:
            u.update(username=f"integration.audit@{DOMAIN}", email=f"it-security@{DOMAIN}", first_name="Residual",
                     last_name="Audit", federation_identifier=None, profile="Minimum Access - API Only Integrations",
                     permission_sets=["Residual_Audit"])
        if kind is None and i and i % 97 == 0:
            u["is_active"] = False
        expect: list[str] = []
        if kind is not None:
            u["last_login"] = stamp(departure - dt.timedelta(days=2))
            if kind == "deactivated":
                u["is_active"] = False
            else:
                expect.append("salesforce_user_active" + (" (low: frozen)" if kind == "frozen" else
                                                          " (critical: ModifyAllData)" if kind == "admin" else ""))
            if kind == "frozen":
                u["frozen"] = True
            if kind == "admin":
                u["permission_sets"] = ["Modify_All_Data_Break_Glass"]
            if kind == "oauth_token_after":
                tokens.append({"user": u["username"], "app_name": "Acme Quote Sync", "created": stamp(dt.date(2026, 3, 2)),
                               "last_used": stamp(departure + dt.timedelta(days=rnd.randint(2, 10))),
                               "use_count": rnd.randint(100, 5000)})
                expect.append("salesforce_oauth_token_valid (critical: used after departure)")
            if kind == "login_after":
                when = stamp(departure + dt.timedelta(days=rnd.randint(2, 10)))
                u["last_login"] = when
                history.append({"user": u["username"], "login_time": when, "status": "Success"})
                expect.append("salesforce_login_after_departure (critical)")
            if kind == "frozen":
                history.append({"user": u["username"], "login_time": stamp(departure + dt.timedelta(days=3)),
                                "status": "Invalid Password"})
            meta_leavers.append({"username": u["username"], "email": u["email"], "name": f"User {i:0{width}d}",
                                 "departure_date": departure.isoformat(), "kind": kind, "expect": expect})
        if kind is None and i % 8 == 0:
            tokens.append({"user": u["username"], "app_name": ["Salesforce Mobile", "Salesforce CLI", "Acme Quote Sync"][i % 3],
                           "created": stamp(dt.date(2026, 1, 5) + dt.timedelta(days=i % 300)),
                           "last_used": stamp(nov(1, 25)), "use_count": rnd.randint(1, 900)})
        if i % 2 == 0 and kind is None:
            history.append({"user": u["username"], "login_time": u["last_login"], "status": "Success"})
        if i % 7 == 3 and kind is None:
            history.append({"user": u["username"], "login_time": stamp(nov(16, 25)), "status": "Invalid Password"})
        out_users.append(u)

    history.sort(key=lambda h: h["login_time"])
    return {
        "org": {"name": "Acme Corp (generated)"},
        "integration_user": f"integration.audit@{DOMAIN}",
        "profiles": [
            {"name": "System Administrator", "modify_all_data": True, "view_all_data": True},
            {"name": "Standard User"},
            {"name": "Minimum Access - API Only Integrations"},
        ],
        "permission_sets": [
            {"name": "Residual_Audit", "label": "Residual Audit (read users and tokens)", "view_all_data": True},
            {"name": "Modify_All_Data_Break_Glass", "label": "Modify All Data (break glass)",
             "modify_all_data": True, "view_all_data": True},
        ],
        "users": out_users,
        "oauth_tokens": tokens,
        "login_history": history,
        "meta": {"generated": f"{users}:{leavers}", "seed": seed, "departure_date": departure.isoformat(),
                 "leavers": meta_leavers},
    }


def write_leavers_csv(raw: dict, path: str) -> None:
    """The scenario's `meta.leavers` as an HR export the residual CLI reads."""
    rows = (raw.get("meta") or {}).get("leavers") or []
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "departure_date", "name"])
        for row in rows:
            w.writerow([row["email"], row["departure_date"], row.get("name", "")])


# ---------------------------------------------------------------------------
# SOQL
# ---------------------------------------------------------------------------


class SoqlError(Exception):
    def __init__(self, code: str, message: str, pos: int | None = None):
        super().__init__(message)
        self.code, self.message, self.pos = code, message, pos


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,3})?(?:Z|[+-]\d\d:?\d\d))
  | (?P<date>\d{4}-\d\d-\d\d)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),:])
""", re.VERBOSE)

KEYWORDS = {"select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc", "desc", "nulls",
            "first", "last", "limit", "offset", "true", "false", "null", "count"}
RELATIVE_DATES = {"today", "yesterday", "tomorrow", "last_week", "this_week", "next_week", "last_month",
                  "this_month", "next_month", "last_90_days", "next_90_days", "this_year", "last_year",
                  "last_n_days", "next_n_days", "n_days_ago", "this_quarter", "last_quarter"}


@dataclasses.dataclass
class Tok:
    kind: str
    text: str
    pos: int


def tokenize(q: str) -> list[Tok]:
    out, i = [], 0
    while i < len(q):
        m = _TOKEN.match(q, i)
        if not m:
            if q[i] == "'":
                raise SoqlError("MALFORMED_QUERY", "line 1:{col} mismatched character '<EOF>' expecting '''", i)
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{q[i]}'", i)
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(Tok(kind, m.group(), i))
        i = m.end()
    out.append(Tok("eof", "", len(q)))
    return out


@dataclasses.dataclass
class Path:
    rels: list[Relationship]
    field: Field
    text: str          # as written
    canonical: str     # Rel.Field, canonical spelling


@dataclasses.dataclass
class Query:
    sobject: SObject
    count_only: bool
    fields: list[Path]
    where: Any
    order: list[tuple[Path, bool, bool]]  # path, descending, nulls_first
    limit: int | None
    offset: int


class Parser:
    def __init__(self, q: str):
        self.q = q
        self.toks = tokenize(q)
        self.i = 0

    def peek(self, k: int = 0) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def is_kw(self, word: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t.kind == "ident" and t.text.lower() == word

    def unexpected(self, t: Tok | None = None) -> SoqlError:
        t = t or self.peek()
        if t.kind == "eof":
            return SoqlError("MALFORMED_QUERY", "unexpected token: '<EOF>'", t.pos)
        return SoqlError("MALFORMED_QUERY", f"unexpected token: '{t.text}'", t.pos)

    def expect_kw(self, word: str) -> Tok:
        if not self.is_kw(word):
            raise self.unexpected()
        t = self.peek()
        self.i += 1
        return t

    def expect(self, kind: str, text: str | None = None) -> Tok:
        t = self.peek()
        if t.kind != kind or (text is not None and t.text != text):
            raise self.unexpected(t)
        self.i += 1
        return t

    def parse(self) -> Query:
        self.expect_kw("select")
        count_only = False
        raw_fields: list[Tok] = []
        if self.is_kw("count") and self.peek(1).text == "(":
            self.i += 2
            self.expect("punct", ")")
            count_only = True
        else:
            while True:
                t = self.peek()
                if t.kind != "ident" or t.text.lower() in ("from",):
                    raise self.unexpected(t)
                raw_fields.append(t)
                self.i += 1
                if self.peek().text == ",":
                    self.i += 1
                    continue
                break
        self.expect_kw("from")
        obj_tok = self.expect("ident")
        sobject = SCHEMA.get(obj_tok.text.lower())
        if sobject is None or "." in obj_tok.text:
            raise SoqlError("INVALID_TYPE", f"sObject type '{obj_tok.text}' is not supported. If you are attempting "
                                            "to use a custom object, be sure to append the '__c' after the entity name. "
                                            "Please reference your WSDL or the describe call for the appropriate names.",
                            obj_tok.pos)
        self.sobject = sobject
        fields, seen = [], set()
        for t in raw_fields:
            path = self.resolve(t)
            if path.canonical.lower() in seen:
                raise SoqlError("MALFORMED_QUERY", f"duplicate field selected: {path.canonical}", t.pos)
            seen.add(path.canonical.lower())
            fields.append(path)
        where = None
        if self.is_kw("where"):
            self.i += 1
            where = self.condition()
        order: list[tuple[Path, bool, bool]] = []
        if self.is_kw("order"):
            self.i += 1
            self.expect_kw("by")
            while True:
                t = self.expect("ident")
                path = self.resolve(t)
                desc = False
                if self.is_kw("asc"):
                    self.i += 1
                elif self.is_kw("desc"):
                    self.i += 1
                    desc = True
                nulls_first = not desc
                if self.is_kw("nulls"):
                    self.i += 1
                    if self.is_kw("first"):
                        nulls_first = True
                    elif self.is_kw("last"):
                        nulls_first = False
                    else:
                        raise self.unexpected()
                    self.i += 1
                order.append((path, desc, nulls_first))
                if self.peek().text == ",":
                    self.i += 1
                    continue
                break
        limit = None
        if self.is_kw("limit"):
            self.i += 1
            t = self.expect("number")
            if not t.text.isdigit():
                raise self.unexpected(t)
            limit = int(t.text)
        offset = 0
        if self.is_kw("offset"):
            self.i += 1
            t = self.expect("number")
            if not t.text.isdigit():
                raise self.unexpected(t)
            offset = int(t.text)
            if offset > 2000:
                raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is 2000", t.pos)
        if self.peek().kind != "eof":
            raise self.unexpected()
        return Query(sobject, count_only, fields, where, order, limit, offset)

    def resolve(self, t: Tok) -> Path:
        parts = t.text.split(".")
        obj = self.sobject
        if len(parts) > 1 and parts[0].lower() == obj.name.lower():
            parts = parts[1:]  # `User.Username` FROM User: the object name may prefix a field
        rels: list[Relationship] = []
        canon: list[str] = []
        for part in parts[:-1]:
            rel = obj.relationships.get(part.lower())
            if rel is None:
                raise SoqlError("INVALID_FIELD", f"Didn't understand relationship '{part}' in field path. If you are "
                                                 "attempting to use a custom relationship, be sure to append the '__r' "
                                                 "after the custom relationship name. Please reference your WSDL or the "
                                                 "describe call for the appropriate names.", t.pos)
            rels.append(rel)
            canon.append(rel.name)
            obj = SCHEMA[rel.target.lower()]
        field = obj.fields.get(parts[-1].lower())
        if field is None:
            raise SoqlError("INVALID_FIELD", f"No such column '{parts[-1]}' on entity '{obj.name}'. If you are "
                                             "attempting to use a custom field, be sure to append the '__c' after the "
                                             "custom field name. Please reference your WSDL or the describe call for "
                                             "the appropriate names.", t.pos)
        canon.append(field.name)
        return Path(rels, field, t.text, ".".join(canon))

    # conditions: ("and", [..]) | ("or", [..]) | ("not", c) | ("cmp", path, op, value) | ("in", path, neg, [values])
    def condition(self) -> Any:
        first = self.unary()
        ops, items = set(), [first]
        while self.is_kw("and") or self.is_kw("or"):
            word = self.peek().text.lower()
            if ops and word not in ops:
                raise self.unexpected()
            ops.add(word)
            self.i += 1
            items.append(self.unary())
        if not ops:
            return first
        return (ops.pop(), items)

    def unary(self) -> Any:
        if self.is_kw("not"):
            self.i += 1
            return ("not", self.unary())
        if self.peek().text == "(":
            self.i += 1
            inner = self.condition()
            self.expect("punct", ")")
            return inner
        return self.comparison()

    def comparison(self) -> Any:
        t = self.peek()
        if t.kind != "ident" or t.text.lower() in KEYWORDS - {"count"}:
            raise self.unexpected(t)
        self.i += 1
        path = self.resolve(t)
        negate = False
        if self.is_kw("not") and self.is_kw("in", 1):
            self.i += 1
            negate = True
        if self.is_kw("in"):
            self.i += 1
            self.expect("punct", "(")
            values = [self.value(path)]
            while self.peek().text == ",":
                self.i += 1
                values.append(self.value(path))
            self.expect("punct", ")")
            return ("in", path, negate, values)
        if self.is_kw("like"):
            self.i += 1
            vt = self.peek()
            if path.field.type != "string":
                raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on {path.field.type} field: LIKE",
                                vt.pos)
            self.expect("string")
            pattern = _unquote(vt.text)
            rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
            return ("like", path, re.compile(rx, re.IGNORECASE | re.DOTALL))
        op_tok = self.peek()
        if op_tok.kind != "op":
            raise self.unexpected(op_tok)
        self.i += 1
        op = "!=" if op_tok.text == "<>" else op_tok.text
        value = self.value(path)
        if value is None and op not in ("=", "!="):
            raise SoqlError("MALFORMED_QUERY", f"invalid operator on null: {op}", op_tok.pos)
        if path.field.type == "boolean" and op not in ("=", "!="):
            raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on boolean field: {op}", op_tok.pos)
        return ("cmp", path, op, value)

    def value(self, path: Path) -> Any:
        t = self.peek()
        ftype, fname = path.field.type, path.field.name
        self.i += 1
        if t.kind == "ident" and t.text.lower() == "null":
            return None
        if t.kind == "ident" and t.text.lower() in RELATIVE_DATES:
            if self.peek().text == ":":
                self.i += 2
            raise SoqlError("MALFORMED_QUERY", f"relative date literal {t.text} is not supported by this test server; "
                                               "use a dateTime literal", t.pos)
        if ftype == "boolean":
            if t.kind == "ident" and t.text.lower() in ("true", "false"):
                return t.text.lower() == "true"
            raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"value of filter criterion for field '{fname}' must be "
                                                             "of type boolean and should not be enclosed in quotes", t.pos)
        if ftype == "datetime":
            if t.kind == "datetime":
                try:
                    return parse_time(t.text)
                except ValueError:
                    raise SoqlError("MALFORMED_QUERY", f"line 1:{t.pos} no viable alternative at character ' '", t.pos)
            raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"value of filter criterion for field '{fname}' must be of "
                                                             "type dateTime and should not be enclosed in quotes", t.pos)
        if ftype == "int":
            if t.kind == "number":
                return float(t.text) if "." in t.text else int(t.text)
            raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"value of filter criterion for field '{fname}' must be of "
                                                             "type int and should not be enclosed in quotes", t.pos)
        if t.kind != "string":
            if t.kind in ("eof",) or t.text in (",", ")", "("):
                raise self.unexpected(t)
            raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"value of filter criterion for field '{fname}' must be of "
                                                             "type string and should be enclosed in quotes", t.pos)
        text = _unquote(t.text)
        if ftype in ("id", "reference"):
            if not valid_id(text):
                raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {text}", t.pos)
            return text[:15]
        return text


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    escapes = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\",
               "%": "\\%", "_": "\\_"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), body)


def error_text(q: str, err: SoqlError) -> str:
    """Salesforce's message: the query, a caret under the column, then the reason."""
    if err.pos is None or err.code not in ("MALFORMED_QUERY", "INVALID_FIELD", "INVALID_TYPE",
                                           "INVALID_QUERY_FILTER_OPERATOR"):
        return err.message
    before = q[:err.pos]
    row = before.count("\n") + 1
    col = err.pos - (before.rfind("\n") + 1) + 1
    line = q.split("\n")[row - 1]
    message = err.message.replace("{col}", str(col))
    return f"\n{line}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{message}"


class Evaluator:
    def __init__(self, org: Org):
        self.org = org

    def value(self, record: dict, path: Path) -> Any:
        cur: dict | None = record
        for rel in path.rels:
            cur = self.org.get(cur.get(rel.id_field)) if cur is not None else None
            if cur is None:
                return None
        return cur.get(path.field.name) if cur is not None else None

    @staticmethod
    def _norm(value: Any, ftype: str) -> Any:
        if value is None:
            return None
        if ftype in ("id", "reference"):
            return value[:15]
        if ftype == "string":
            return value.lower()
        return value

    def test(self, record: dict, cond: Any) -> bool:
        kind = cond[0]
        if kind == "and":
            return all(self.test(record, c) for c in cond[1])
        if kind == "or":
            return any(self.test(record, c) for c in cond[1])
        if kind == "not":
            return not self.test(record, cond[1])
        path = cond[1]
        ftype = path.field.type
        actual = self._norm(self.value(record, path), ftype)
        if kind == "like":
            return actual is not None and cond[2].fullmatch(actual) is not None
        if kind == "in":
            wanted = {self._norm(v, ftype) for v in cond[3]}
            found = actual in wanted
            return not found if cond[2] else found
        op, want = cond[2], self._norm(cond[3], ftype)
        if op == "=":
            return actual == want
        if op == "!=":
            return actual != want
        if actual is None or want is None:
            return False
        return {"<": actual < want, "<=": actual <= want, ">": actual > want, ">=": actual >= want}[op]

    def run(self, query: Query) -> list[dict]:
        rows = self.org.records[query.sobject.name]
        if query.where is not None:
            rows = [r for r in rows if self.test(r, query.where)]
        else:
            rows = list(rows)
        for path, desc, nulls_first in reversed(query.order):
            ftype = path.field.type
            present = [r for r in rows if self.value(r, path) is not None]
            absent = [r for r in rows if self.value(r, path) is None]
            present.sort(key=lambda r: self._norm(self.value(r, path), ftype), reverse=desc)
            rows = absent + present if nulls_first else present + absent
        rows = rows[query.offset:]
        if query.limit is not None:
            rows = rows[:query.limit]
        return rows

    def render(self, record: dict, sobject: SObject, fields: list[Path], version: str) -> dict:
        out: dict[str, Any] = {"attributes": self._attrs(sobject.name, record["Id"], version)}
        for path in fields:
            target, cur, obj = out, record, sobject
            for rel in path.rels:
                cur = self.org.get(cur.get(rel.id_field)) if cur is not None else None
                obj = SCHEMA[rel.target.lower()]
                if cur is None:
                    if rel.name not in target:
                        target[rel.name] = None
                    break
                nested = target.get(rel.name)
                if nested is None:
                    nested = {"attributes": self._attrs(obj.name, cur["Id"], version)}
                    target[rel.name] = nested
                target = nested
            else:
                value = cur.get(path.field.name)
                target[path.field.name] = sf_time(value) if isinstance(value, dt.datetime) else value
        return out

    @staticmethod
    def _attrs(type_name: str, ident: str, version: str) -> dict:
        return {"type": type_name, "url": f"/services/data/v{version}/sobjects/{type_name}/{ident}"}


# ---------------------------------------------------------------------------
# Server state
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Reply:
    status: int
    body: bytes
    headers: list[tuple[str, str]]
    template: str | None = None
    auth: str = "none"
    sobject: str | None = None
    soql: str | None = None


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or []


@dataclasses.dataclass
class Cursor:
    locator: str
    user: str
    sobject: SObject
    fields: list[Path]
    rows: list[dict]
    batch: int
    touched: float


def Faults() -> FaultRules:  # noqa: N802 - kept as the class name call sites use
    """Salesforce faults: an `error_code` and the `token` a session expiry applies to."""
    return FaultRules(FAULT_KINDS, extra={"error_code": lambda v: v, "token": lambda v: v},
                      once={"expire_session", "exhaust_limit"})


STATUS_CODES = {500: ("UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact "
                                           "support: 1234567890-12345 (-1234567890)"),
                502: ("SERVER_UNAVAILABLE", "Bad Gateway"),
                503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable, please try again later."),
                504: ("SERVER_UNAVAILABLE", "Gateway Timeout"),
                429: ("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
                403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
                401: ("INVALID_SESSION_ID", "Session expired or invalid"),
                400: ("MALFORMED_QUERY", "Injected fault"),
                404: ("NOT_FOUND", "The requested resource does not exist")}

API_VERSIONS = [("Spring '24", "60.0"), ("Summer '24", "61.0"), ("Winter '25", "62.0"), ("Spring '25", "63.0"),
                ("Summer '25", "64.0"), ("Winter '26", "65.0"), ("Spring '26", "66.0")]

ROUTES: list[tuple[str, re.Pattern, str]] = [
    ("GET", re.compile(r"^/services/data/?$"), "/services/data"),
    ("POST", re.compile(r"^/services/oauth2/token/?$"), "/services/oauth2/token"),
    ("GET", re.compile(r"^/services/oauth2/userinfo/?$"), "/services/oauth2/userinfo"),
    ("GET", re.compile(r"^/id/(?P<org>[A-Za-z0-9]{15,18})/(?P<user>[A-Za-z0-9]{15,18})/?$"), "/id/{org_id}/{user_id}"),
    ("GET", re.compile(r"^/services/data/v(?P<version>\d+\.0)/?$"), "/services/data/{version}"),
    ("GET", re.compile(r"^/services/data/v(?P<version>\d+\.0)/limits/?$"), "/services/data/{version}/limits"),
    ("GET", re.compile(r"^/services/data/v(?P<version>\d+\.0)/(?P<kind>query|queryAll)/?$"),
     "/services/data/{version}/query"),
    ("GET", re.compile(r"^/services/data/v(?P<version>\d+\.0)/(?P<kind>query|queryAll)/(?P<locator>[A-Za-z0-9]{15,18})"
                       r"-(?P<offset>\d+)/?$"), "/services/data/{version}/query/{locator}"),
    ("GET", re.compile(r"^/services/data/v(?P<version>\d+\.0)/sobjects/(?P<type>\w+)/(?P<id>[A-Za-z0-9]{15,18})/?$"),
     "/services/data/{version}/sobjects/{type}/{id}"),
]


class SalesforceApi:
    """Everything but the socket."""

    def __init__(self, org: Org, tokens: Iterable[str] = (), client_id: str | None = None,
                 client_secret: str | None = None, batch_size: int = 2000, daily_limit: int = 15000,
                 oauth_token_cap: int = 2500, max_open_locators: int = 10, locator_ttl: float = 900,
                 latency_ms: float = 0, request_log: str | None = None, clock: Callable[[], float] = time.time):
        self.org = org
        self.static_tokens = set(tokens)
        self.client_id, self.client_secret = client_id, client_secret
        self.batch_size = max(1, batch_size)
        self.daily_limit = daily_limit
        self.oauth_token_cap = oauth_token_cap
        self.max_open_locators = max(1, max_open_locators)
        self.locator_ttl = locator_ttl
        self.latency = latency_ms / 1000.0
        self.clock = clock
        self.evaluator = Evaluator(org)
        self.faults = Faults()
        self.lock = threading.Lock()
        self.minted: dict[str, float] = {}
        self.expired: set[str] = set()
        self.usage = 0
        self.cursors: collections.OrderedDict[str, Cursor] = collections.OrderedDict()
        self.locator_seq = 0
        self.locator_salt = random.randrange(1_000_000)  # cursors of an earlier run never resolve
        self.stats = self._zero_stats()
        self.log_fh = open(request_log, "a", encoding="utf-8") if request_log else None

    @staticmethod
    def _zero_stats() -> dict:
        return {"requests": 0, "by_path": {}, "by_status": {}, "by_object": {}}

    # -- entry point --------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, header_bytes: int = 0) -> Reply:
        split = urlsplit(target)
        path, query = split.path, split.query
        if path.startswith("/_harness/"):
            return self.control(method, path, body)
        if self.latency:
            time.sleep(self.latency)
        reply = self._serve(method, target, path, query, headers, body, header_bytes)
        self._record(method, path, query, reply)
        return reply

    def _serve(self, method: str, target: str, path: str, query: str, headers: dict[str, str], body: bytes,
               header_bytes: int) -> Reply:
        host = headers.get("host", "127.0.0.1")
        root = f"http://{host}"
        if len(target.encode()) > URI_LIMIT:
            return self._error(414, "URI_TOO_LONG", "URI Too Long", [])
        if len(target.encode()) + header_bytes > URI_LIMIT:
            return self._error(431, "REQUEST_HEADER_FIELDS_TOO_LARGE", "Request Header Fields Too Large", [])
        template, params = self._route(method, path)
        token, auth_kind = self._authenticate(headers)
        params_q = dict(parse_qsl(query, keep_blank_values=True))
        reply_meta: dict[str, Any] = {}
        if template == "/services/data/{version}/query" and "q" in params_q:
            reply_meta["soql"] = params_q["q"]
            m = re.search(r"\bfrom\s+([A-Za-z_]\w*)", params_q["q"], re.IGNORECASE)
            if m and m.group(1).lower() in SCHEMA:
                reply_meta["sobject"] = SCHEMA[m.group(1).lower()].name
        if template == "/services/data/{version}/query/{locator}":
            with self.lock:
                cur = self.cursors.get(params.get("locator", "")[:15])
            if cur is not None:
                reply_meta["sobject"] = cur.sobject.name

        extra: list[tuple[str, str]] = []
        try:
            decoded = unquote(path) + ("?" + unquote(query.replace("+", " ")) if query else "")
            rule = self.faults.take(method, decoded)
            if rule is not None:
                injected = self._fault(rule, token)
                if injected is not None:
                    injected.template, injected.auth = template, auth_kind
                    injected.sobject, injected.soql = reply_meta.get("sobject"), reply_meta.get("soql")
                    return injected
                token, auth_kind = self._authenticate(headers)  # expire_session may have changed it
            if template is None:
                if re.match(r"^/services/data/v\d+\.0(/|$)", path) and auth_kind not in ("static", "minted"):
                    raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid",
                                   [("WWW-Authenticate", 'Token')])
                allowed = sorted({m for m, rx, _ in ROUTES if rx.match(path)})
                if allowed:
                    raise ApiError(405, "METHOD_NOT_ALLOWED",
                                   f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed + ['HEAD'])}")
                raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            if template == "/services/data":
                return self._json(200, [{"label": label, "url": f"/services/data/v{v}", "version": v}
                                        for label, v in API_VERSIONS], [], template, auth_kind)
            if template == "/services/oauth2/token":
                return self._mint(body, root, template)
            if auth_kind not in ("static", "minted"):
                raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid", [("WWW-Authenticate", "Token")])
            with self.lock:
                self.usage += 1
                used = self.usage
            extra = [("Sforce-Limit-Info", f"api-usage={min(used, 10 ** 9)}/{self.daily_limit}")]
            if used > self.daily_limit:
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            status, payload = self._dispatch(template, params, params_q, headers, root)
            reply = self._json(status, payload, extra, template, auth_kind)
        except ApiError as exc:
            reply = self._error(exc.status, exc.code, exc.message, extra + exc.headers)
            reply.template, reply.auth = template, auth_kind
        reply.sobject, reply.soql = reply_meta.get("sobject"), reply_meta.get("soql")
        return reply

    @staticmethod
    def _route(method: str, path: str) -> tuple[str | None, dict]:
        for m, rx, template in ROUTES:
            if m == method:
                mt = rx.match(path)
                if mt:
                    return template, mt.groupdict()
        return None, {}

    def _authenticate(self, headers: dict[str, str]) -> tuple[str | None, str]:
        auth = headers.get("authorization")
        if not auth:
            return None, "none"
        scheme, _, token = auth.strip().partition(" ")
        token = token.strip()
        if scheme.lower() not in ("bearer", "oauth") or not token:
            return None, "bad"
        with self.lock:
            if token in self.expired:
                return token, "expired"
            if token in self.static_tokens:
                return token, "static"
            if token in self.minted:
                return token, "minted"
        return token, "bad"

    # -- responses ----------------------------------------------------------------------

    def _json(self, status: int, payload: Any, headers: list[tuple[str, str]], template: str | None = None,
              auth: str = "none") -> Reply:
        data = json.dumps(payload, separators=(",", ":")).encode()
        return Reply(status, data, [("Content-Type", JSON_TYPE)] + headers, template, auth)

    def _error(self, status: int, code: str, message: str, headers: list[tuple[str, str]]) -> Reply:
        return self._json(status, [{"message": message, "errorCode": code}], headers)

    def _fault(self, rule: dict, token: str | None) -> Reply | None:
        kind = rule["kind"]
        if kind == "delay":
            time.sleep(rule["delay_seconds"])
            return None
        if kind == "expire_session":
            victim = rule["token"] or token
            if victim:
                with self.lock:
                    self.expired.add(victim)
            return None
        if kind == "exhaust_limit":
            with self.lock:
                self.usage = max(self.usage, self.daily_limit)
            return None
        with self.lock:
            used = self.usage
        headers = [("Sforce-Limit-Info", f"api-usage={used}/{self.daily_limit}")]
        if kind == "garbage":
            reply = self._json(200, None, headers)
            reply.body = b'{"totalSize":3,"done":true,"records":[{"attributes":{"type":"Us'
            return reply
        status = rule["status"] or 503
        code, message = STATUS_CODES.get(status, ("UNKNOWN_EXCEPTION", "Injected fault"))
        if rule["retry_after"] is not None:
            headers.append(("Retry-After", str(int(rule["retry_after"]))))
        return self._error(status, rule["error_code"] or code, rule["message"] or message, headers)

    # -- API ------------------------------------------------------------------------------

    def _dispatch(self, template: str, p: dict, q: dict, headers: dict[str, str], root: str) -> tuple[int, Any]:
        version = p.get("version", DEFAULT_VERSION)
        if template == "/services/data/{version}":
            base = f"/services/data/v{version}"
            return 200, {name: f"{base}/{name}" for name in ("limits", "query", "queryAll", "sobjects")}
        if template == "/services/data/{version}/limits":
            with self.lock:
                used = self.usage
            return 200, {"DailyApiRequests": {"Max": self.daily_limit, "Remaining": max(0, self.daily_limit - used)}}
        if template == "/services/data/{version}/query":
            if "q" not in q or not q["q"].strip():
                raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
            return 200, self._query(q["q"], version, headers)
        if template == "/services/data/{version}/query/{locator}":
            return 200, self._more(p["locator"], int(p["offset"]), version)
        if template == "/services/data/{version}/sobjects/{type}/{id}":
            sobject = SCHEMA.get(p["type"].lower())
            if sobject is None:
                raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            record = self.org.get(p["id"])
            if record is None or self.org.by_id_type[p["id"][:15]] != sobject.name:
                raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            fields = [Path([], sobject.fields[n.lower()], n, n) for n in sobject.order]
            return 200, self.evaluator.render(record, sobject, fields, version)
        if template in ("/services/oauth2/userinfo", "/id/{org_id}/{user_id}"):
            user = self.org.integration_user
            if template == "/id/{org_id}/{user_id}" and (p["org"][:15] != self.org.org_id[:15]
                                                         or p["user"][:15] != user["Id"][:15]):
                raise ApiError(403, "FORBIDDEN", "Bad_Id")
            ident = f"{root}/id/{self.org.org_id}/{user['Id']}"
            return 200, {"id": ident, "sub": ident, "user_id": user["Id"], "organization_id": self.org.org_id,
                         "username": user["Username"], "preferred_username": user["Username"],
                         "display_name": user["Name"], "name": user["Name"], "email": user["Email"],
                         "active": user["IsActive"], "user_type": "STANDARD"}
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    def _batch_for(self, sobject: SObject, headers: dict[str, str]) -> int:
        batch = self.batch_size
        opts = headers.get("sforce-query-options", "")
        m = re.search(r"batchSize\s*=\s*(\d+)", opts, re.IGNORECASE)
        if m:
            batch = min(batch, max(200, min(2000, int(m.group(1)))))
        if sobject.name == "OauthToken":
            batch = min(batch, 500)
        return batch

    def _query(self, soql: str, version: str, headers: dict[str, str]) -> dict:
        try:
            query = Parser(soql).parse()
        except SoqlError as err:
            raise ApiError(400, err.code, error_text(soql, err))
        rows = self.evaluator.run(query)
        if query.count_only:
            return {"totalSize": len(rows), "done": True, "records": []}
        if query.sobject.name == "OauthToken" and self.oauth_token_cap:
            rows = rows[:self.oauth_token_cap]
        batch = self._batch_for(query.sobject, headers)
        return self._page(Cursor("", self.org.integration_user["Id"], query.sobject, query.fields, rows, batch,
                                 self.clock()), 0, version, fresh=True)

    def _page(self, cur: Cursor, offset: int, version: str, fresh: bool = False) -> dict:
        end = offset + cur.batch
        records = [self.evaluator.render(r, cur.sobject, cur.fields, version) for r in cur.rows[offset:end]]
        out: dict[str, Any] = {"totalSize": len(cur.rows), "done": end >= len(cur.rows)}
        if not out["done"]:
            if fresh:
                cur.locator = self._open_cursor(cur)
            out["nextRecordsUrl"] = f"/services/data/v{version}/query/{cur.locator}-{end}"
        elif not fresh:
            with self.lock:
                self.cursors.pop(cur.locator[:15], None)
        out["records"] = records
        return out

    def _open_cursor(self, cur: Cursor) -> str:
        with self.lock:
            self.locator_seq += 1
            locator = make_id("QueryLocator", self.locator_salt + self.locator_seq)
            while locator[:15] in self.cursors:
                self.locator_seq += 1
                locator = make_id("QueryLocator", self.locator_salt + self.locator_seq)
            mine = [k for k, c in self.cursors.items() if c.user == cur.user]
            while len(mine) >= self.max_open_locators:
                self.cursors.pop(mine.pop(0), None)
            cur.locator = locator
            self.cursors[locator[:15]] = cur
        return locator

    def _more(self, locator: str, offset: int, version: str) -> dict:
        now = self.clock()
        with self.lock:
            cur = self.cursors.get(locator[:15])
            if cur is not None and now - cur.touched > self.locator_ttl:
                self.cursors.pop(locator[:15], None)
                cur = None
            if cur is not None:
                cur.touched = now
        if cur is None or offset > len(cur.rows):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cur, offset, version)

    def _mint(self, body: bytes, root: str, template: str) -> Reply:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))

        def oauth_error(error: str, description: str, status: int = 400) -> Reply:
            return self._json(status, {"error": error, "error_description": description}, [], template, "none")

        grant = form.get("grant_type")
        if grant != "client_credentials":
            return oauth_error("unsupported_grant_type", "grant type not supported")
        if not self.client_id or form.get("client_id") != self.client_id or \
                not hmac.compare_digest((form.get("client_secret") or "").encode(), (self.client_secret or "").encode()):
            return oauth_error("invalid_client", "invalid client credentials")
        token = f"{self.org.org_id[:15]}!AQ0AQ" + secrets.token_urlsafe(72).replace("-", ".")
        issued = str(int(self.clock() * 1000))
        ident = f"{root}/id/{self.org.org_id}/{self.org.integration_user['Id']}"
        signature = base64.b64encode(hmac.new((self.client_secret or "").encode(), (ident + issued).encode(),
                                              hashlib.sha256).digest()).decode()
        with self.lock:
            self.minted[token] = self.clock()
        return self._json(200, {"access_token": token, "signature": signature, "scope": "api",
                                "instance_url": root, "id": ident, "token_type": "Bearer", "issued_at": issued},
                          [], template, "none")

    # -- control routes --------------------------------------------------------------------

    def control(self, method: str, path: str, body: bytes) -> Reply:
        def ok(payload: Any, status: int = 200) -> Reply:
            return Reply(status, json.dumps(payload).encode(), [("Content-Type", "application/json")])

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
                with self.lock:
                    if method == "DELETE":
                        self.stats = self._zero_stats()
                    return ok({**json.loads(json.dumps(self.stats)), "api_usage": self.usage})
            if path == "/_harness/reset" and method == "POST":
                self.faults.clear()
                with self.lock:
                    self.stats = self._zero_stats()
                    self.usage = 0
                    self.expired.clear()
                    self.minted.clear()
                    self.cursors.clear()
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
            if reply.sobject:
                self.stats["by_object"][reply.sobject] = self.stats["by_object"].get(reply.sobject, 0) + 1
            if self.log_fh is not None:
                line = {"ts": round(time.time(), 3), "method": method, "path": path, "query": query,
                        "status": reply.status, "template": reply.template, "auth": reply.auth}
                if reply.sobject:
                    line["object"] = reply.sobject
                if reply.soql:
                    line["soql"] = reply.soql
                self.log_fh.write(json.dumps(line) + "\n")
                self.log_fh.flush()


# ---------------------------------------------------------------------------
# HTTP server
# ---------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SFDC"
    sys_version = ""
    api: SalesforceApi  # set on the subclass made in main()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def version_string(self) -> str:
        return self.server_version

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        header_bytes = sum(len(k) + len(v) + 4 for k, v in self.headers.items())
        try:
            reply = self.api.handle(self.command, self.path, headers, body, header_bytes)
        except Exception as exc:  # a bug here must show as a 500, not a hung client
            reply = Reply(500, json.dumps([{"message": f"harness error: {exc!r}",
                                            "errorCode": "UNKNOWN_EXCEPTION"}]).encode(),
                          [("Content-Type", JSON_TYPE)])
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



def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--scenario", help="scenario JSON file")
    src.add_argument("--generate-scale", metavar="USERS:LEAVERS", help="build a large org in memory, e.g. 50000:500")
    ap.add_argument("--seed", type=int, default=7, help="generator seed")
    ap.add_argument("--dump-scenario", metavar="FILE", help="write the scenario as JSON")
    ap.add_argument("--dump-leavers", metavar="FILE", help="write meta.leavers as a leavers CSV")
    ap.add_argument("--port", type=int, help="0 picks a free port; omit with --dump-* to only write files")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port-file")
    ap.add_argument("--request-log")
    ap.add_argument("--token", action="append", default=[], metavar="TOKEN", help="accepted access token")
    ap.add_argument("--client-id", help="accepted client_credentials client_id")
    ap.add_argument("--client-secret", help="accepted client_credentials client_secret")
    ap.add_argument("--batch-size", type=int, default=2000, help="records per query page")
    ap.add_argument("--daily-limit", type=int, default=15000, help="API requests before REQUEST_LIMIT_EXCEEDED")
    ap.add_argument("--oauth-token-cap", type=int, default=2500, help="most OauthToken rows a query returns (0 = no cap)")
    ap.add_argument("--max-open-locators", type=int, default=10, help="open query cursors per user")
    ap.add_argument("--locator-ttl", type=float, default=900, help="seconds an idle query cursor lives")
    ap.add_argument("--latency-ms", type=float, default=0)
    args = ap.parse_args(argv)

    try:
        if args.scenario:
            raw, org = load_scenario(args.scenario)
        else:
            raw = generate_scenario(*parse_scale(args.generate_scale), seed=args.seed)
            org = Org(raw)
    except (OSError, ValueError) as exc:
        print(f"salesforce_server: {exc}", file=sys.stderr)
        return 2
    if args.dump_scenario:
        with open(args.dump_scenario, "w", encoding="utf-8") as fh:
            json.dump(raw, fh, indent=1 if len(org.records["User"]) < 1000 else None)
            fh.write("\n")
    if args.dump_leavers:
        write_leavers_csv(raw, args.dump_leavers)
    if args.port is None:
        if args.dump_scenario or args.dump_leavers:
            return 0
        ap.error("--port is required unless only dumping")
    if bool(args.client_id) != bool(args.client_secret):
        ap.error("--client-id and --client-secret go together")

    api = SalesforceApi(org, args.token, args.client_id, args.client_secret, args.batch_size, args.daily_limit,
                        args.oauth_token_cap, args.max_open_locators, args.locator_ttl, args.latency_ms,
                        args.request_log)
    handler = type("BoundHandler", (Handler,), {"api": api})
    server = Server((args.host, args.port), handler)
    if args.port_file:
        write_port_file(args.port_file, server.server_address[1])
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
