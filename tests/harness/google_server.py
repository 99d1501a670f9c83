#!/usr/bin/env python3
"""A local stand-in for Google's Admin SDK Directory API, Cloud Asset Inventory API, IAM API and
OAuth 2.0 token endpoint, for testing the `residual` Google probe end to end.

Google has no emulator for these, so this server plays every Google API root at once on one
`http://127.0.0.1:PORT` (the probe maps `https://oauth2.googleapis.com`, `admin.googleapis.com`,
`cloudasset.googleapis.com` and `iam.googleapis.com` to it), for one Workspace customer and one
Cloud organization described by a scenario file. Every body it serves is shaped as the real API's
and is checked against Google's own discovery documents by `google_schema_check.py` beside this
file.

Usage:
    python tests/harness/google_server.py --port 0 --port-file F --request-log L
        (--scenario FILE.json | --generate-scale USERS:LEAVERS:PROJECTS) [--seed 7]
        [--service-account EMAIL=PUBLIC_KEY_PEM_FILE]... [--delegate EMAIL=SCOPE,SCOPE,...]...
        [--audience URL]... [--token-lifetime 3599] [--rate-limit 1000000] [--latency-ms 0]
        [--dump-scenario FILE] [--dump-leavers FILE]

    --service-account registers a service account whose JWT assertions (RS256) are checked with
    the public key in the PEM file. --delegate grants it domain-wide delegation for exactly those
    scopes (full URLs, as the Workspace admin console lists them). --audience adds an accepted
    `aud` beside `<root>/token` (root taken from the Host header). --rate-limit is requests a
    minute per (api, caller); the token endpoint is not limited. --dump-* without --port write
    the files and exit (for benchmarks).

Routes (all GET but the token endpoint; any other method on any route is 405):
    POST /token                                                     (api "oauth2")
    /admin/directory/v1/users                                       (api "directory")
    /admin/directory/v1/users/{userKey}
    /admin/directory/v1/users/{userKey}/tokens
    /admin/directory/v1/users/{userKey}/asps
    /admin/directory/v1/customer/{customer}/roleassignments
    /admin/directory/v1/customer/{customer}/roles
    /v1/{scope}:searchAllIamPolicies     scope organizations/ID | folders/ID | projects/ID-or-NUMBER
    /v1/{scope}:searchAllResources                                  (api "cloudasset")
    /v1/projects/{project}/serviceAccounts/{serviceAccount}/keys    (api "iam"; project may be -)

Scenario (JSON; unknown keys are refused, naming the path; Directory times are RFC 3339 with
milliseconds `2026-11-20T10:00:00.000Z`, Cloud times `2026-01-01T00:00:00Z`):
    "customer": {"id": "C03az79cb", "domain": "acme.example", "secondaryDomains": [...]}
    "orgUnits": [{"path": "/Support", "id": "03ph8a2z1support"}]       ("/" is built in)
    "users": [{"id": 21-digit string, "primaryEmail", "aliases": [...], "nonEditableAliases": [...],
               "name": {"givenName", "familyName", "fullName"}, "suspended", "suspensionReason",
               "archived", "isAdmin" (super admin), "isDelegatedAdmin" (derived when absent: holds
               a role assignment other than super admin, directly), "isEnrolledIn2Sv",
               "lastLoginTime" (absent or null: never, served as 1970-01-01T00:00:00.000Z),
               "creationTime", "orgUnitPath" (default "/"), "externalIds": [{"value", "type"}],
               "groups": [group email or id], "tokens": [{"clientId", "displayText", "scopes",
               "anonymous", "nativeApp"}], "asps": [{"codeId", "name", "creationTime",
               "lastTimeUsed"}] (times in ms since the epoch, number or digit string),
               "roleAssignments": [ASSIGNMENT]}]
    "groups": [{"id", "email", "name", "roleAssignments": [ASSIGNMENT]}]
    "roles": [{"roleId", "roleName", "roleDescription", "rolePrivileges": [{"privilegeName",
               "serviceId"}]}]          (custom roles; the four system roles below are built in)
    "roleAssignments": [ASSIGNMENT plus "user" or "group" (email or id)]
        ASSIGNMENT = {"id" (int64 digits; derived when absent), "roleId" (digits, or a role name
                      such as "_HELP_DESK_ADMIN_ROLE"), "scopeType": "CUSTOMER"|"ORG_UNIT",
                      "orgUnitId" or "orgUnitPath" (ORG_UNIT only)}
        A super admin (isAdmin) gets a `_SEED_ADMIN_ROLE` CUSTOMER assignment when the scenario
        gives none; a user holding `_SEED_ADMIN_ROLE` directly is isAdmin.
    "cloud": {"organization": {"id": "123456789012", "displayName"},
              "viewers": [principal email],   (may read Cloud Asset and IAM: the cloudasset.viewer
                                               and iam.serviceAccountKeyViewer grants, in effect)
              "folders": [{"id": "555", "displayName", "parent": "organizations/ID"|"folders/ID"}],
              "projects": [{"id": "acme-prod", "number": "1001", "displayName", "folder": "555",
                            "createTime"}],
              "iamPolicies": [{"resource": "//cloudresourcemanager.googleapis.com/projects/acme-prod",
                               "assetType" (derived for projects, folders, the organization),
                               "project": project id (for resources inside a project),
                               "bindings": [{"role", "members", "condition": {"title",
                                             "expression", "description"}}]}],
              "serviceAccounts": [{"email", "uniqueId" (21 digits), "project", "displayName",
                                   "description", "disabled", "createTime",
                                   "keys": [{"id" (40 hex), "keyType": "USER_MANAGED"|
                                             "SYSTEM_MANAGED", "validAfterTime", "validBeforeTime"
                                             (default 9999-12-31T23:59:59Z), "disabled",
                                             "keyOrigin", "keyAlgorithm"}]}]}
    "meta": {...}   free-form; the generator records leavers, subject, organization here

System roles (ids fixed): _SEED_ADMIN_ROLE 91447453409034240 (Super Admin, isSuperAdminRole),
_GROUPS_ADMIN_ROLE 91447453409034241, _USER_MANAGEMENT_ADMIN_ROLE 91447453409034242,
_HELP_DESK_ADMIN_ROLE 91447453409034243.

What the server does the way Google does (and a client must handle):
- Token endpoint: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT`; RS256
  signed by a registered service account, `iss` its email, `aud` `<root>/token`, `iat`/`exp` at
  most an hour apart and not expired, `scope` space-separated full scope URLs. With `sub` (not
  equal to `iss`): the service account must be delegated every requested scope, else 401
  `unauthorized_client`; `sub` must be an existing, not suspended user's primary email, else 400
  `invalid_grant` "Invalid email or User ID". Answers `{"access_token", "expires_in": 3599,
  "token_type": "Bearer"}`; errors are `{"error", "error_description"}`.
- Errors are `{"error": {"code", "message", "errors": [{"message", "domain", "reason"}],
  "status", "details"?}}`; the Directory API always has `errors[]`, Cloud APIs do not (they may
  carry `details` with a `google.rpc.ErrorInfo`). 401 for a missing (`required`) or unknown or
  expired token (`authError`); 403 `insufficientPermissions` "Request had insufficient
  authentication scopes." when the token lacks every scope the method accepts.
- Directory: the caller is the delegated subject. A super admin or a subject holding any
  CUSTOMER-scoped role assignment (directly or through a group) sees every user; a subject whose
  assignments are all ORG_UNIT-scoped sees only users at or below those org units — users.list
  answers 200 with just those, silently; users.get, tokens and asps of another user answer 403;
  role assignments and roles answer 403. No admin rights at all, or a token without a subject:
  403 "Not Authorized to access this resource/api" (`forbidden`).
- users.list: `customer` (my_customer or the id) or `domain` is required (400 `badRequest`);
  `maxResults` 1..500 (default 100, outside the range 400 `invalidParameter`); pages chained by
  an opaque `nextPageToken` bound to the other parameters; `users` and `nextPageToken` omitted
  when empty or last; default order by id, `orderBy=email|givenName|familyName` and
  `sortOrder`. `query` terms (space-separated, all must hold; values may be quoted):
  `email:X` / `email=X` (primary email or alias, case-insensitive; `email:X*` prefix),
  `externalId:X` (exact, case-insensitive), `isSuspended=`, `isAdmin=`, `isDelegatedAdmin=`
  (true|false), `orgUnitPath=/X` (that org unit and below), `givenName:`, `familyName:`,
  `name:` (prefix, case-insensitive; `=` exact). Anything else: 400 "Invalid Input".
  `showDeleted=true` lists deleted users: this scenario format has none, so an empty page.
  `viewType=domain_public` serves only the public fields. `projection=custom` needs
  `customFieldMask`. Unknown query parameters are ignored by the Directory API.
- userKey (users.get, tokens, asps, roleassignments `userKey`) is a user id, primary email or
  alias, case-insensitive; unknown: 404 "Resource Not Found: userKey" (`notFound`).
- User bodies carry `emails: [{"address", "primary": true}, {"address": alias}...]` and
  `externalIds: [{"value", "type"}]` (both `any` in the discovery document), `lastLoginTime`
  `1970-01-01T00:00:00.000Z` for a user who never signed in, `suspensionReason` only when
  suspended, `archived` always. ASP times are int64 milliseconds as JSON strings; ids of role
  assignments and roles are int64 strings; `items` is omitted when a list is empty.
- roleassignments: `includeIndirectRoleAssignments=true` with a user's `userKey` adds the
  assignments of the groups the user is in (as the group's: `assigneeType: "group"`,
  `assignedTo` the group id); `maxResults` 1..200 (default 100); `roleId` narrows (an unknown
  one gives an empty list). roles: `maxResults` 1..100.
- Cloud Asset: the caller (the token's subject, else the service account) must be in the
  scenario's `cloud.viewers` and the token must hold `cloud-platform` or
  `cloud-platform.read-only`, else 403 PERMISSION_DENIED "The caller does not have permission";
  an unknown scope is the same 403. `pageSize` at most 500 (larger values are capped, 0 or
  negative give the default 100); `nextPageToken` opaque, bound to the query; `{}` when nothing
  matches. searchAllIamPolicies gives one result per resource with a policy in the scope's
  subtree, with only the bindings matching the query (all when the query does not constrain the
  policy). Its `query` supports `policy:TEXT` (case-insensitive substring of a member or the
  role), `memberTypes:user|group|serviceAccount|domain` (a binding with such a member;
  `deleted:user:…` members are not of type user), `resource:TEXT` and `assetType:TYPE`, joined
  by spaces or AND; any other field, free text, OR, NOT or parentheses: 400 INVALID_ARGUMENT.
  searchAllResources serves projects, folders, service accounts and every other resource a
  policy names; `assetTypes` (repeated or comma-separated; regular expressions, as Google
  allows) narrows; its `query` supports `name:`, `displayName:`, `description:`, `state:`,
  `location:`, `project:`, `parentFullResourceName:`, `labels.KEY:` (`:` contains, `=` exact,
  case-insensitive) and free text (any of name, displayName, description, additional
  attributes); anything else 400. `orderBy` takes a comma-separated list of fields, each
  optionally ` DESC`. `readMask` is accepted and ignored. Unknown query parameters are a 400
  ("Cannot bind query parameter"), as ESF answers.
- IAM keys: the service account by email or unique id under `projects/-` or its own project
  (id or number), else 404 "Unknown service account"; `keyTypes` (repeated) USER_MANAGED,
  SYSTEM_MANAGED or KEY_TYPE_UNSPECIFIED (all); `{}` when none. Keys never carry private or
  public key data; `disabled` appears only when true (proto3 JSON omits false).
- Quotas: past `--rate-limit` requests in a minute per (api, caller) the Directory API answers
  403 `userRateLimitExceeded` (domain `usageLimits`) and Cloud APIs 429 RESOURCE_EXHAUSTED; no
  Retry-After, as Google.
- JSON is pretty-printed unless `prettyPrint=false`; `fields` selects parts of a body
  (`nextPageToken,users(id,primaryEmail)`, `a/b`); `access_token` in the query authenticates
  like the header. An unknown path answers 404 with an HTML page, as Google's front end does.

Request log: one JSON line per API request:
    {"ts", "method", "path", "query", "status", "template", "api": "oauth2"|"directory"|
     "cloudasset"|"iam"|null, "auth": "bearer"|"none"|"bad", "subject": delegated subject|null}
    (for POST /token, `subject` is the assertion's `sub`, `auth` "none"; a `hang` fault's request is
    logged with status 0, since no answer is sent).

Control routes (JSON; not logged, not counted, not rate limited):
    POST /_harness/faults   a rule or a list of rules:
        {"path_regex", "method", "kind": "status"|"delay"|"garbage"|"hang"|"quota"|
         "refuse_delegation", "status": 503, "times": N, "delay_seconds": S, "message": "..."}
        status: answer `status` (default 503) with a Google error. delay: sleep delay_seconds,
        then answer. garbage: 200 with a truncated JSON body. hang: hold the connection
        delay_seconds (default 120), then close it without an answer. quota: 403
        userRateLimitExceeded on Directory paths, 429 RESOURCE_EXHAUSTED elsewhere.
        refuse_delegation: the token endpoint answers 401 unauthorized_client to assertions with
        a `sub` (other requests are not matched). path_regex is searched in the path and query.
    GET|DELETE /_harness/faults    GET|DELETE /_harness/stats    POST /_harness/reset
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import hashlib
import hmac
import json
import random
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from common import FaultRules, serve  # tests/harness is on sys.path when these run

JSON_TYPE = "application/json; charset=UTF-8"
AUTH = "https://www.googleapis.com/auth/"
S_USER = AUTH + "admin.directory.user"
S_USER_RO = AUTH + "admin.directory.user.readonly"
S_SECURITY = AUTH + "admin.directory.user.security"
S_ROLES = AUTH + "admin.directory.rolemanagement"
S_ROLES_RO = AUTH + "admin.directory.rolemanagement.readonly"
S_CLOUD = AUTH + "cloud-platform"
S_CLOUD_RO = AUTH + "cloud-platform.read-only"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
UNAUTHORIZED_CLIENT = ("Client is unauthorized to retrieve access tokens using this method, or client not "
                       "authorized for any of the scopes requested.")
BAD_TIMES = ("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
             "Check your iat and exp values in the JWT claim.")
MISSING_CREDENTIAL = ("Request is missing required authentication credential. Expected OAuth 2 access token, "
                      "login cookie or other valid authentication credential. See "
                      "https://developers.google.com/identity/sign-in/web/devconsole-project.")
INVALID_CREDENTIAL = ("Request had invalid authentication credentials. Expected OAuth 2 access token, login "
                      "cookie or other valid authentication credential. See "
                      "https://developers.google.com/identity/sign-in/web/devconsole-project.")
NOT_AUTHORIZED = "Not Authorized to access this resource/api"
NO_PERMISSION = "The caller does not have permission"
NEVER = "1970-01-01T00:00:00.000Z"
NO_EXPIRY = "9999-12-31T23:59:59Z"
DIRECTORY_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CLOUD_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
USER_ID = re.compile(r"^\d{21}$")
INT64 = re.compile(r"^\d{1,19}$")
KEY_ID = re.compile(r"^[0-9a-f]{40}$")
SCOPE_URL = re.compile(r"^https://(www\.googleapis\.com/auth/[A-Za-z0-9._\-/]+|mail\.google\.com/)$")
SYSTEM_PARAMS = frozenset({"$.xgafv", "access_token", "alt", "callback", "fields", "key", "oauth_token",
                           "prettyPrint", "quotaUser", "uploadType", "upload_protocol"})
GRPC_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
               409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL",
               501: "NOT_IMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
SERVICES = {"directory": "admin.googleapis.com", "cloudasset": "cloudasset.googleapis.com",
            "iam": "iam.googleapis.com", "oauth2": "oauth2.googleapis.com"}
DIRECTORY_SERVICE_ID = "00haapch16h1ysv"
CRM = "//cloudresourcemanager.googleapis.com/"
T_ORG = "cloudresourcemanager.googleapis.com/Organization"
T_FOLDER = "cloudresourcemanager.googleapis.com/Folder"
T_PROJECT = "cloudresourcemanager.googleapis.com/Project"
T_SA = "iam.googleapis.com/ServiceAccount"
PAGE_SECRET = b"residual-google-harness-page-token"

# The built-in system roles (Google's roleName, roleDescription and a few of their privileges).
SYSTEM_ROLES = [
    {"roleId": "91447453409034240", "roleName": "_SEED_ADMIN_ROLE", "roleDescription": "Super Admin",
     "isSuperAdminRole": True,
     "privileges": ["SUPER_ADMIN", "USERS_ALL", "GROUPS_ALL", "ORGANIZATION_UNITS_ALL", "SECURITY_ALL"]},
    {"roleId": "91447453409034241", "roleName": "_GROUPS_ADMIN_ROLE", "roleDescription": "Groups Administrator",
     "isSuperAdminRole": False, "privileges": ["GROUPS_ALL", "ORGANIZATION_UNITS_RETRIEVE", "USERS_RETRIEVE"]},
    {"roleId": "91447453409034242", "roleName": "_USER_MANAGEMENT_ADMIN_ROLE",
     "roleDescription": "User Management Administrator", "isSuperAdminRole": False,
     "privileges": ["USERS_ALL", "ORGANIZATION_UNITS_RETRIEVE"]},
    {"roleId": "91447453409034243", "roleName": "_HELP_DESK_ADMIN_ROLE", "roleDescription": "Help Desk Administrator",
     "isSuperAdminRole": False, "privileges": ["USERS_RETRIEVE", "USERS_RESET_PASSWORD", "ORGANIZATION_UNITS_RETRIEVE"]},
]
SEED_ROLE = SYSTEM_ROLES[0]["roleId"]


class ScenarioError(ValueError):
    pass


class ApiError(Exception):
    """A Google JSON error. `item` overrides the message inside `errors[]` (Directory only)."""

    def __init__(self, status: int, message: str, reason: str = "", domain: str = "global",
                 item: dict | None = None, details: list | None = None, headers: list | None = None):
        super().__init__(message)
        self.status, self.message, self.reason, self.domain = status, message, reason, domain
        self.item, self.details, self.headers = item, details, headers or []


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


@dataclass
class Reply:
    status: int
    body: bytes
    headers: list
    template: str = ""
    api: str | None = None
    auth: str = "none"
    subject: str | None = None
    hang: float = 0.0


@dataclass
class Minted:
    email: str
    subject: str | None
    scopes: frozenset
    expires: float


@dataclass
class Route:
    template: str
    regex: re.Pattern
    api: str
    method_id: str | None       # the discovery method it implements
    http_method: str
    scopes: tuple               # any one of them suffices
    params: frozenset           # query parameters the method declares (system parameters aside)


def _route(template: str, pattern: str, api: str, method_id: str | None, scopes: tuple, params: set,
           http_method: str = "GET") -> Route:
    return Route(template, re.compile(pattern), api, method_id, http_method, scopes, frozenset(params))


ROUTES = [
    _route("/token", r"^/token$", "oauth2", None, (), set(), "POST"),
    _route("/admin/directory/v1/users", r"^/admin/directory/v1/users$", "directory", "directory.users.list",
           (S_USER, S_USER_RO, S_CLOUD),
           {"customFieldMask", "customer", "domain", "event", "maxResults", "orderBy", "pageToken", "projection",
            "query", "showDeleted", "sortOrder", "viewType"}),
    _route("/admin/directory/v1/users/{userKey}", r"^/admin/directory/v1/users/(?P<userKey>[^/]+)$", "directory",
           "directory.users.get", (S_USER, S_USER_RO), {"customFieldMask", "projection", "viewType"}),
    _route("/admin/directory/v1/users/{userKey}/tokens", r"^/admin/directory/v1/users/(?P<userKey>[^/]+)/tokens$",
           "directory", "directory.tokens.list", (S_SECURITY,), set()),
    _route("/admin/directory/v1/users/{userKey}/asps", r"^/admin/directory/v1/users/(?P<userKey>[^/]+)/asps$",
           "directory", "directory.asps.list", (S_SECURITY,), set()),
    _route("/admin/directory/v1/customer/{customer}/roleassignments",
           r"^/admin/directory/v1/customer/(?P<customer>[^/]+)/roleassignments$", "directory",
           "directory.roleAssignments.list", (S_ROLES, S_ROLES_RO),
           {"includeIndirectRoleAssignments", "maxResults", "pageToken", "roleId", "userKey"}),
    _route("/admin/directory/v1/customer/{customer}/roles", r"^/admin/directory/v1/customer/(?P<customer>[^/]+)/roles$",
           "directory", "directory.roles.list", (S_ROLES, S_ROLES_RO), {"maxResults", "pageToken"}),
    _route("/v1/{scope}:searchAllIamPolicies",
           r"^/v1/(?P<scope>(?:organizations|folders|projects)/[^/:]+):searchAllIamPolicies$", "cloudasset",
           "cloudasset.searchAllIamPolicies", (S_CLOUD, S_CLOUD_RO),
           {"assetTypes", "orderBy", "pageSize", "pageToken", "query"}),
    _route("/v1/{scope}:searchAllResources",
           r"^/v1/(?P<scope>(?:organizations|folders|projects)/[^/:]+):searchAllResources$", "cloudasset",
           "cloudasset.searchAllResources", (S_CLOUD, S_CLOUD_RO),
           {"assetTypes", "orderBy", "pageSize", "pageToken", "query", "readMask"}),
    _route("/v1/projects/{project}/serviceAccounts/{serviceAccount}/keys",
           r"^/v1/projects/(?P<project>[^/]+)/serviceAccounts/(?P<serviceAccount>[^/]+)/keys$", "iam",
           "iam.projects.serviceAccounts.keys.list", (S_CLOUD, S_CLOUD_RO), {"keyTypes"}),
]


def route(path: str) -> tuple[Route | None, dict]:
    for r in ROUTES:
        m = r.regex.match(path)
        if m:
            return r, m.groupdict()
    return None, {}


def guess_api(path: str) -> str | None:
    if path.startswith("/token"):
        return "oauth2"
    if path.startswith("/admin/"):
        return "directory"
    if ":search" in path or ":analyze" in path:
        return "cloudasset"
    if path.startswith("/v1/"):
        return "iam"
    return None


# ---------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------


def _keys(obj: Any, allowed: set, where: str) -> dict:
    if not isinstance(obj, dict):
        raise ScenarioError(f"{where}: expected an object, got {type(obj).__name__}")
    extra = set(obj) - allowed
    if extra:
        raise ScenarioError(f"{where}: unknown keys {sorted(extra)} (allowed: {sorted(allowed)})")
    return obj


def _str(obj: dict, key: str, where: str, required: bool = False, default: Any = None) -> Any:
    value = obj.get(key)
    if value is None:
        if required:
            raise ScenarioError(f"{where}.{key}: required")
        return default
    if not isinstance(value, str) or (required and not value):
        raise ScenarioError(f"{where}.{key}: expected a string, got {value!r}")
    return value


def _bool(obj: dict, key: str, where: str, default: bool = False) -> bool:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ScenarioError(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _list(obj: dict, key: str, where: str) -> list:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ScenarioError(f"{where}.{key}: expected a list, got {type(value).__name__}")
    return value


def _strings(obj: dict, key: str, where: str) -> list[str]:
    out = _list(obj, key, where)
    for i, v in enumerate(out):
        if not isinstance(v, str) or not v:
            raise ScenarioError(f"{where}.{key}[{i}]: expected a non-empty string, got {v!r}")
    return list(out)


def _time(obj: dict, key: str, where: str, rx: re.Pattern, example: str, default: Any = None) -> Any:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str) or not rx.match(value):
        raise ScenarioError(f"{where}.{key}: {value!r} is not a time like {example}")
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00")[:19] + "+00:00")
    except ValueError:
        raise ScenarioError(f"{where}.{key}: {value!r} is not a real date") from None
    return value


def _millis(obj: dict, key: str, where: str) -> str:
    value = obj.get(key)
    if value is None:
        return "0"
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
        raise ScenarioError(f"{where}.{key}: expected milliseconds since the epoch, got {value!r}")
    return str(int(value))


def _digits(obj: dict, key: str, where: str, rx: re.Pattern, what: str, default: Any = None) -> Any:
    value = obj.get(key)
    if value is None:
        if default is None:
            raise ScenarioError(f"{where}.{key}: required ({what})")
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not rx.match(value):
        raise ScenarioError(f"{where}.{key}: {value!r} is not {what}")
    return value


def derived_id(*parts: str, digits: int = 16) -> str:
    h = int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")
    return str(10 ** (digits - 1) + h % (9 * 10 ** (digits - 1)))


def etag(*parts: Any) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return '"' + base64.urlsafe_b64encode(digest[:21]).decode() + "/" + \
        base64.urlsafe_b64encode(digest[21:30]).decode().rstrip("=") + '"'


def under(path: str, unit: str) -> bool:
    """`path` is the org unit `unit` or below it."""
    if unit == "/":
        return True
    unit = unit.rstrip("/")
    return path == unit or path.startswith(unit + "/")


class Directory:
    """The Workspace half of a scenario, indexed."""

    def __init__(self, raw: dict):
        cust = _keys(raw.get("customer") or {}, {"id", "domain", "secondaryDomains"}, "customer")
        self.customer_id = _str(cust, "id", "customer", required=True)
        if not re.fullmatch(r"C[0-9a-z]{7,12}", self.customer_id):
            raise ScenarioError(f"customer.id: {self.customer_id!r} is not a customer id like C03az79cb")
        self.domain = _str(cust, "domain", "customer", required=True).lower()
        self.domains = [self.domain] + [d.lower() for d in _strings(cust, "secondaryDomains", "customer")]

        self.org_units = {"/": "03ph8a2z0root00"}
        for i, ou in enumerate(_list(raw, "orgUnits", "scenario")):
            where = f"orgUnits[{i}]"
            _keys(ou, {"path", "id"}, where)
            path = _str(ou, "path", where, required=True)
            if not path.startswith("/") or (path != "/" and path.endswith("/")):
                raise ScenarioError(f"{where}.path: {path!r} is not an org unit path like /Support")
            self.org_units[path] = _str(ou, "id", where, default=None) or "03ph8a2z" + derived_id(path, digits=7)
        self.ou_by_id = {v: k for k, v in self.org_units.items()}

        self.roles: list[dict] = []
        for r in SYSTEM_ROLES:
            self.roles.append({"roleId": r["roleId"], "roleName": r["roleName"], "roleDescription": r["roleDescription"],
                               "rolePrivileges": [{"privilegeName": p, "serviceId": DIRECTORY_SERVICE_ID}
                                                  for p in r["privileges"]],
                               "isSystemRole": True, "isSuperAdminRole": r["isSuperAdminRole"]})
        for i, r in enumerate(_list(raw, "roles", "scenario")):
            where = f"roles[{i}]"
            _keys(r, {"roleId", "roleName", "roleDescription", "rolePrivileges"}, where)
            name = _str(r, "roleName", where, required=True)
            privs = []
            for j, p in enumerate(_list(r, "rolePrivileges", where)):
                _keys(p, {"privilegeName", "serviceId"}, f"{where}.rolePrivileges[{j}]")
                privs.append({"privilegeName": _str(p, "privilegeName", f"{where}.rolePrivileges[{j}]", required=True),
                              "serviceId": _str(p, "serviceId", f"{where}.rolePrivileges[{j}]",
                                                default=DIRECTORY_SERVICE_ID)})
            self.roles.append({"roleId": _digits(r, "roleId", where, INT64, "an int64 id", derived_id("role", name)),
                               "roleName": name,
                               "roleDescription": _str(r, "roleDescription", where, default=name),
                               "rolePrivileges": privs, "isSystemRole": False, "isSuperAdminRole": False})
        self.role_by_id = {}
        self.role_by_name = {}
        for r in self.roles:
            if r["roleId"] in self.role_by_id or r["roleName"] in self.role_by_name:
                raise ScenarioError(f"roles: duplicate role {r['roleName']} / {r['roleId']}")
            self.role_by_id[r["roleId"]] = r
            self.role_by_name[r["roleName"]] = r
        self.roles.sort(key=lambda r: int(r["roleId"]))

        self.groups: list[dict] = []
        self.group_by_key: dict[str, dict] = {}
        pending: list[tuple[dict, str, dict]] = []   # (assignment, where, assignee)
        for i, g in enumerate(_list(raw, "groups", "scenario")):
            where = f"groups[{i}]"
            _keys(g, {"id", "email", "name", "roleAssignments"}, where)
            group = {"id": _str(g, "id", where, required=True), "email": _str(g, "email", where, required=True).lower(),
                     "name": _str(g, "name", where, default=None) or g["email"].split("@")[0], "members": []}
            for key in (group["id"].lower(), group["email"]):
                if key in self.group_by_key:
                    raise ScenarioError(f"{where}: duplicate group {key}")
                self.group_by_key[key] = group
            self.groups.append(group)
            for j, a in enumerate(_list(g, "roleAssignments", where)):
                pending.append((a, f"{where}.roleAssignments[{j}]", {"group": group}))

        self.users: list[dict] = []
        self.by_id: dict[str, dict] = {}
        self.by_email: dict[str, dict] = {}      # primary emails and aliases, lower case
        self.by_primary: dict[str, dict] = {}
        self.by_external: dict[str, list[dict]] = {}
        user_keys = {"id", "primaryEmail", "aliases", "nonEditableAliases", "name", "suspended", "suspensionReason",
                     "archived", "isAdmin", "isDelegatedAdmin", "isEnrolledIn2Sv", "lastLoginTime", "creationTime",
                     "orgUnitPath", "externalIds", "groups", "tokens", "asps", "roleAssignments"}
        for i, u in enumerate(_list(raw, "users", "scenario")):
            where = f"users[{i}]"
            _keys(u, user_keys, where)
            uid = _digits(u, "id", where, USER_ID, "a 21-digit user id")
            email = _str(u, "primaryEmail", where, required=True)
            if email.count("@") != 1:
                raise ScenarioError(f"{where}.primaryEmail: {email!r} is not an email address")
            name = _keys(u.get("name") or {}, {"givenName", "familyName", "fullName"}, f"{where}.name")
            given = _str(name, "givenName", f"{where}.name", default=None) or email.split("@")[0]
            family = _str(name, "familyName", f"{where}.name", default=None) or "User"
            user = {
                "id": uid, "primaryEmail": email,
                "aliases": _strings(u, "aliases", where), "nonEditableAliases": _strings(u, "nonEditableAliases", where),
                "name": {"givenName": given, "familyName": family,
                         "fullName": _str(name, "fullName", f"{where}.name", default=None) or f"{given} {family}"},
                "suspended": _bool(u, "suspended", where),
                "suspensionReason": _str(u, "suspensionReason", where, default=None),
                "archived": _bool(u, "archived", where),
                "isAdmin": _bool(u, "isAdmin", where),
                "isDelegatedAdmin": u.get("isDelegatedAdmin"),
                "isEnrolledIn2Sv": _bool(u, "isEnrolledIn2Sv", where),
                "lastLoginTime": _time(u, "lastLoginTime", where, DIRECTORY_TIME, "2026-11-20T10:00:00.000Z") or NEVER,
                "creationTime": _time(u, "creationTime", where, DIRECTORY_TIME, "2026-11-20T10:00:00.000Z",
                                      "2026-01-05T09:00:00.000Z"),
                "orgUnitPath": _str(u, "orgUnitPath", where, default="/"),
                "externalIds": [], "groups": [], "tokens": [], "asps": [], "assignments": [],
            }
            if user["isDelegatedAdmin"] is not None and not isinstance(user["isDelegatedAdmin"], bool):
                raise ScenarioError(f"{where}.isDelegatedAdmin: expected true or false")
            if user["suspended"] and not user["suspensionReason"]:
                user["suspensionReason"] = "ADMIN"
            if user["orgUnitPath"] not in self.org_units:
                raise ScenarioError(f"{where}.orgUnitPath: {user['orgUnitPath']!r} is not in orgUnits")
            for j, x in enumerate(_list(u, "externalIds", where)):
                _keys(x, {"value", "type", "customType"}, f"{where}.externalIds[{j}]")
                ext = {"value": _str(x, "value", f"{where}.externalIds[{j}]", required=True),
                       "type": _str(x, "type", f"{where}.externalIds[{j}]", default="organization")}
                if x.get("customType") is not None:
                    ext["customType"] = _str(x, "customType", f"{where}.externalIds[{j}]")
                user["externalIds"].append(ext)
            for j, key in enumerate(_strings(u, "groups", where)):
                group = self.group_by_key.get(key.lower())
                if group is None:
                    raise ScenarioError(f"{where}.groups[{j}]: unknown group {key!r}")
                user["groups"].append(group)
                group["members"].append(user)
            for j, t in enumerate(_list(u, "tokens", where)):
                tw = f"{where}.tokens[{j}]"
                _keys(t, {"clientId", "displayText", "scopes", "anonymous", "nativeApp"}, tw)
                user["tokens"].append({"clientId": _str(t, "clientId", tw, required=True),
                                       "displayText": _str(t, "displayText", tw, default=None) or t["clientId"],
                                       "scopes": _strings(t, "scopes", tw),
                                       "anonymous": _bool(t, "anonymous", tw), "nativeApp": _bool(t, "nativeApp", tw)})
            for j, a in enumerate(_list(u, "asps", where)):
                aw = f"{where}.asps[{j}]"
                _keys(a, {"codeId", "name", "creationTime", "lastTimeUsed"}, aw)
                code = a.get("codeId")
                if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code < 2 ** 31:
                    raise ScenarioError(f"{aw}.codeId: expected an int32, got {code!r}")
                user["asps"].append({"codeId": code, "name": _str(a, "name", aw, required=True),
                                     "creationTime": _millis(a, "creationTime", aw),
                                     "lastTimeUsed": _millis(a, "lastTimeUsed", aw)})
            for j, a in enumerate(_list(u, "roleAssignments", where)):
                pending.append((a, f"{where}.roleAssignments[{j}]", {"user": user}))
            if uid in self.by_id:
                raise ScenarioError(f"{where}.id: duplicate user id {uid}")
            self.by_id[uid] = user
            for addr in [email] + user["aliases"] + user["nonEditableAliases"]:
                if addr.lower() in self.by_email:
                    raise ScenarioError(f"{where}: address {addr} already belongs to another user")
                self.by_email[addr.lower()] = user
            self.by_primary[email.lower()] = user
            for ext in user["externalIds"]:
                self.by_external.setdefault(ext["value"].lower(), []).append(user)
            self.users.append(user)
        self.users.sort(key=lambda u: int(u["id"]))

        for i, a in enumerate(_list(raw, "roleAssignments", "scenario")):
            where = f"roleAssignments[{i}]"
            _keys(a, {"id", "roleId", "scopeType", "orgUnitId", "orgUnitPath", "user", "group"}, where)
            if ("user" in a) == ("group" in a):
                raise ScenarioError(f"{where}: give exactly one of user or group")
            if "user" in a:
                key = _str(a, "user", where, required=True).lower()
                who = self.by_id.get(key) or self.by_email.get(key)
                if who is None:
                    raise ScenarioError(f"{where}.user: unknown user {a['user']!r}")
                assignee = {"user": who}
            else:
                group = self.group_by_key.get(_str(a, "group", where, required=True).lower())
                if group is None:
                    raise ScenarioError(f"{where}.group: unknown group {a['group']!r}")
                assignee = {"group": group}
            pending.append(({k: v for k, v in a.items() if k not in ("user", "group")}, where, assignee))

        self.assignments: list[dict] = []
        for a, where, assignee in pending:
            self.assignments.append(self._assignment(a, where, assignee))
        for u in self.users:
            holds_seed = any(x["roleId"] == SEED_ROLE for x in u["assignments"])
            if u["isAdmin"] and not holds_seed:
                self.assignments.append(self._assignment({"roleId": SEED_ROLE, "scopeType": "CUSTOMER"},
                                                         f"users[{u['primaryEmail']}]", {"user": u}))
            u["isAdmin"] = u["isAdmin"] or holds_seed
            if u["isDelegatedAdmin"] is None:
                u["isDelegatedAdmin"] = any(x["roleId"] != SEED_ROLE for x in u["assignments"])
        seen = set()
        for a in self.assignments:
            if a["roleAssignmentId"] in seen:
                raise ScenarioError(f"role assignment id {a['roleAssignmentId']} is used twice")
            seen.add(a["roleAssignmentId"])
        self.assignments.sort(key=lambda a: int(a["roleAssignmentId"]))
        self._visible_cache: dict[Any, list[dict]] = {}

    def _assignment(self, a: dict, where: str, assignee: dict) -> dict:
        _keys(a, {"id", "roleId", "scopeType", "orgUnitId", "orgUnitPath"}, where)
        role_key = a.get("roleId")
        if isinstance(role_key, int) and not isinstance(role_key, bool):
            role_key = str(role_key)
        role = self.role_by_id.get(role_key) or self.role_by_name.get(role_key)  # type: ignore[arg-type]
        if role is None:
            raise ScenarioError(f"{where}.roleId: unknown role {a.get('roleId')!r}")
        scope = a.get("scopeType", "CUSTOMER")
        if scope not in ("CUSTOMER", "ORG_UNIT"):
            raise ScenarioError(f"{where}.scopeType: must be CUSTOMER or ORG_UNIT, got {scope!r}")
        unit_id = None
        if scope == "ORG_UNIT":
            if a.get("orgUnitPath") is not None:
                path = _str(a, "orgUnitPath", where)
                if path not in self.org_units:
                    raise ScenarioError(f"{where}.orgUnitPath: unknown org unit {path!r}")
                unit_id = self.org_units[path]
            else:
                unit_id = _str(a, "orgUnitId", where, required=True)
                if unit_id not in self.ou_by_id:
                    raise ScenarioError(f"{where}.orgUnitId: unknown org unit id {unit_id!r}")
        elif a.get("orgUnitId") or a.get("orgUnitPath"):
            raise ScenarioError(f"{where}: an org unit is given but scopeType is CUSTOMER")
        user, group = assignee.get("user"), assignee.get("group")
        target = user["id"] if user else group["id"]
        out = {"roleAssignmentId": _digits(a, "id", where, INT64, "an int64 id",
                                           derived_id("ra", target, role["roleId"], scope, unit_id or "")),
               "roleId": role["roleId"], "assignedTo": target, "assigneeType": "user" if user else "group",
               "scopeType": scope}
        if unit_id:
            out["orgUnitId"] = unit_id
        (user or group).setdefault("assignments", []).append(out)
        return out

    def lookup_user(self, key: str) -> dict | None:
        return self.by_id.get(key) or self.by_email.get(key.lower())

    def rights(self, user: dict | None) -> tuple[str, tuple]:
        """("all", ()) | ("ou", org unit paths) | ("none", ())."""
        if user is None:
            return "none", ()
        if user["isAdmin"]:
            return "all", ()
        held = list(user["assignments"]) + [a for g in user["groups"] for a in g.get("assignments", [])]
        if any(a["scopeType"] == "CUSTOMER" for a in held):
            return "all", ()
        units = tuple(sorted({self.ou_by_id[a["orgUnitId"]] for a in held if a["scopeType"] == "ORG_UNIT"}))
        return ("ou", units) if units else ("none", ())

    def visible(self, rights: tuple[str, tuple]) -> list[dict]:
        if rights[0] == "all":
            return self.users
        found = self._visible_cache.get(rights)
        if found is None:
            found = [u for u in self.users if any(under(u["orgUnitPath"], unit) for unit in rights[1])]
            self._visible_cache[rights] = found
        return found

    def sees(self, rights: tuple[str, tuple], user: dict) -> bool:
        return rights[0] == "all" or (rights[0] == "ou" and any(under(user["orgUnitPath"], x) for x in rights[1]))


class Cloud:
    """The Cloud half of a scenario: the resource hierarchy, policies, service accounts."""

    def __init__(self, raw: dict | None):
        raw = _keys(raw or {}, {"organization", "viewers", "folders", "projects", "iamPolicies", "serviceAccounts"},
                    "cloud")
        org = raw.get("organization") or {}
        if isinstance(org, str):
            org = {"id": org}
        _keys(org, {"id", "displayName"}, "cloud.organization")
        self.org_id = _digits(org, "id", "cloud.organization", re.compile(r"^\d{6,20}$"), "a numeric organization id",
                              "0")
        self.org = f"organizations/{self.org_id}"
        self.org_name = _str(org, "displayName", "cloud.organization", default="organization")
        self.viewers = {v.lower() for v in _strings(raw, "viewers", "cloud")}

        self.folders: dict[str, dict] = {}
        for i, f in enumerate(_list(raw, "folders", "cloud")):
            where = f"cloud.folders[{i}]"
            _keys(f, {"id", "displayName", "parent", "createTime"}, where)
            fid = _digits(f, "id", where, re.compile(r"^\d{1,20}$"), "a numeric folder id").removeprefix("folders/")
            self.folders[fid] = {"id": fid, "displayName": _str(f, "displayName", where, default=f"folder {fid}"),
                                 "parent": _str(f, "parent", where, default=self.org),
                                 "createTime": _time(f, "createTime", where, CLOUD_TIME, "2026-01-01T00:00:00Z",
                                                     "2026-01-02T00:00:00Z")}
        for fid, f in self.folders.items():
            p = f["parent"]
            if p != self.org and not (p.startswith("folders/") and p[8:] in self.folders):
                raise ScenarioError(f"cloud.folders[{fid}].parent: {p!r} is neither the organization nor a folder")
        self.projects: dict[str, dict] = {}
        self.project_by_number: dict[str, dict] = {}
        for i, p in enumerate(_list(raw, "projects", "cloud")):
            where = f"cloud.projects[{i}]"
            _keys(p, {"id", "number", "displayName", "folder", "createTime"}, where)
            pid = _str(p, "id", where, required=True)
            folder = p.get("folder")
            if isinstance(folder, str):
                folder = folder.removeprefix("folders/")
                if folder not in self.folders:
                    raise ScenarioError(f"{where}.folder: unknown folder {p['folder']!r}")
            proj = {"id": pid, "number": _digits(p, "number", where, re.compile(r"^\d{1,20}$"), "a project number"),
                    "displayName": _str(p, "displayName", where, default=pid), "folder": folder,
                    "createTime": _time(p, "createTime", where, CLOUD_TIME, "2026-01-01T00:00:00Z",
                                        "2026-01-03T00:00:00Z")}
            if pid in self.projects or proj["number"] in self.project_by_number:
                raise ScenarioError(f"{where}: duplicate project {pid}")
            self.projects[pid] = proj
            self.project_by_number[proj["number"]] = proj

        self.policies: list[dict] = []
        for i, pol in enumerate(_list(raw, "iamPolicies", "cloud")):
            where = f"cloud.iamPolicies[{i}]"
            _keys(pol, {"resource", "assetType", "project", "bindings"}, where)
            resource = _str(pol, "resource", where, required=True)
            if not resource.startswith("//"):
                raise ScenarioError(f"{where}.resource: {resource!r} is not a full resource name (//service/...)")
            asset_type, project, folders = self._place(resource, _str(pol, "assetType", where),
                                                       _str(pol, "project", where), where)
            bindings = []
            for j, b in enumerate(_list(pol, "bindings", where)):
                bw = f"{where}.bindings[{j}]"
                _keys(b, {"role", "members", "condition"}, bw)
                binding = {"role": _str(b, "role", bw, required=True), "members": _strings(b, "members", bw)}
                if not binding["members"]:
                    raise ScenarioError(f"{bw}.members: a binding needs members")
                if b.get("condition") is not None:
                    c = _keys(b["condition"], {"title", "expression", "description"}, f"{bw}.condition")
                    cond = {"expression": _str(c, "expression", f"{bw}.condition", required=True)}
                    for key in ("title", "description"):
                        if c.get(key) is not None:
                            cond[key] = _str(c, key, f"{bw}.condition")
                    binding["condition"] = cond
                bindings.append(binding)
            self.policies.append({"resource": resource, "assetType": asset_type, "project": project,
                                  "folders": folders, "bindings": bindings,
                                  "ancestors": self._ancestors(resource, project, folders)})
        self.policies.sort(key=lambda p: p["resource"])

        self.accounts: list[dict] = []
        self.account_by_key: dict[str, dict] = {}
        for i, s in enumerate(_list(raw, "serviceAccounts", "cloud")):
            where = f"cloud.serviceAccounts[{i}]"
            _keys(s, {"email", "uniqueId", "project", "displayName", "description", "disabled", "createTime", "keys"},
                  where)
            email = _str(s, "email", where, required=True).lower()
            pid = _str(s, "project", where, required=True)
            if pid not in self.projects:
                raise ScenarioError(f"{where}.project: unknown project {pid!r}")
            acct = {"email": email, "uniqueId": _digits(s, "uniqueId", where, USER_ID, "a 21-digit unique id"),
                    "project": pid, "displayName": _str(s, "displayName", where, default=""),
                    "description": _str(s, "description", where, default=""),
                    "disabled": _bool(s, "disabled", where),
                    "createTime": _time(s, "createTime", where, CLOUD_TIME, "2026-01-01T00:00:00Z",
                                        "2026-01-10T00:00:00Z"),
                    "keys": []}
            for j, k in enumerate(_list(s, "keys", where)):
                kw = f"{where}.keys[{j}]"
                _keys(k, {"id", "keyType", "validAfterTime", "validBeforeTime", "disabled", "keyOrigin",
                          "keyAlgorithm"}, kw)
                kind = k.get("keyType", "USER_MANAGED")
                if kind not in ("USER_MANAGED", "SYSTEM_MANAGED"):
                    raise ScenarioError(f"{kw}.keyType: must be USER_MANAGED or SYSTEM_MANAGED")
                after = _time(k, "validAfterTime", kw, CLOUD_TIME, "2026-01-01T00:00:00Z")
                if after is None:
                    raise ScenarioError(f"{kw}.validAfterTime: required")
                origin = k.get("keyOrigin", "GOOGLE_PROVIDED")
                if origin not in ("GOOGLE_PROVIDED", "USER_PROVIDED"):
                    raise ScenarioError(f"{kw}.keyOrigin: must be GOOGLE_PROVIDED or USER_PROVIDED")
                alg = k.get("keyAlgorithm", "KEY_ALG_RSA_2048")
                if alg not in ("KEY_ALG_RSA_2048", "KEY_ALG_RSA_1024"):
                    raise ScenarioError(f"{kw}.keyAlgorithm: must be KEY_ALG_RSA_2048 or KEY_ALG_RSA_1024")
                acct["keys"].append({"id": _digits(k, "id", kw, KEY_ID, "40 lower-case hex digits"), "keyType": kind,
                                     "validAfterTime": after,
                                     "validBeforeTime": _time(k, "validBeforeTime", kw, CLOUD_TIME,
                                                              "2026-01-01T00:00:00Z", NO_EXPIRY),
                                     "disabled": _bool(k, "disabled", kw), "keyOrigin": origin, "keyAlgorithm": alg})
            for key in (email, acct["uniqueId"]):
                if key in self.account_by_key:
                    raise ScenarioError(f"{where}: duplicate service account {key}")
                self.account_by_key[key] = acct
            self.accounts.append(acct)
        self.accounts.sort(key=lambda a: a["email"])
        self.resources = self._resources()

    def folder_chain(self, folder: str | None) -> list[str]:
        """`folders/ID` from the given folder up to the organization."""
        out = []
        while folder:
            out.append(f"folders/{folder}")
            parent = self.folders[folder]["parent"]
            folder = parent[8:] if parent.startswith("folders/") else None
        return out

    def _place(self, resource: str, asset_type: str | None, project: str | None,
               where: str) -> tuple[str, dict | None, list[str]]:
        m = re.fullmatch(r"//cloudresourcemanager\.googleapis\.com/(organizations|folders|projects)/([^/]+)", resource)
        if m:
            kind, ident = m.groups()
            if kind == "organizations":
                if ident != self.org_id:
                    raise ScenarioError(f"{where}.resource: not the scenario's organization {self.org_id}")
                return asset_type or T_ORG, None, []
            if kind == "folders":
                if ident not in self.folders:
                    raise ScenarioError(f"{where}.resource: unknown folder {ident}")
                return asset_type or T_FOLDER, None, self.folder_chain(ident)
            proj = self.projects.get(ident) or self.project_by_number.get(ident)
            if proj is None:
                raise ScenarioError(f"{where}.resource: unknown project {ident}")
            return asset_type or T_PROJECT, proj, self.folder_chain(proj["folder"])
        if not asset_type:
            raise ScenarioError(f"{where}.assetType: required for {resource}")
        proj = None
        if project is not None:
            proj = self.projects.get(project)
            if proj is None:
                raise ScenarioError(f"{where}.project: unknown project {project!r}")
        return asset_type, proj, self.folder_chain(proj["folder"]) if proj else []

    def _ancestors(self, resource: str, project: dict | None, folders: list[str]) -> set[str]:
        out = {self.org} | set(folders)
        if project:
            out |= {f"projects/{project['id']}", f"projects/{project['number']}"}
        return out

    def _resources(self) -> list[dict]:
        """Every ResourceSearchResult the organization holds, with its ancestors."""
        out = []
        for fid, f in self.folders.items():
            chain = self.folder_chain(fid)
            parent = f["parent"]
            body = {"name": f"{CRM}folders/{fid}", "assetType": T_FOLDER, "folders": chain,
                    "organization": self.org, "displayName": f["displayName"], "location": "global",
                    "state": "ACTIVE", "createTime": f["createTime"], "parentFullResourceName": f"{CRM}{parent}",
                    "parentAssetType": T_FOLDER if parent.startswith("folders/") else T_ORG}
            out.append((body, {self.org} | set(chain)))
        for pid, p in self.projects.items():
            chain = self.folder_chain(p["folder"])
            parent = chain[0] if chain else self.org
            body = {"name": f"{CRM}projects/{pid}", "assetType": T_PROJECT, "project": f"projects/{p['number']}",
                    "organization": self.org, "displayName": p["displayName"], "location": "global",
                    "state": "ACTIVE", "createTime": p["createTime"], "parentFullResourceName": f"{CRM}{parent}",
                    "parentAssetType": T_FOLDER if chain else T_ORG}
            if chain:
                body["folders"] = chain
            out.append((body, self._ancestors("", p, chain)))
        for a in self.accounts:
            p = self.projects[a["project"]]
            chain = self.folder_chain(p["folder"])
            body = {"name": f"//iam.googleapis.com/projects/{p['id']}/serviceAccounts/{a['uniqueId']}",
                    "assetType": T_SA, "project": f"projects/{p['number']}", "organization": self.org,
                    "displayName": a["displayName"], "location": "global",
                    "state": "DISABLED" if a["disabled"] else "ENABLED", "createTime": a["createTime"],
                    "additionalAttributes": {"email": a["email"], "oauth2ClientId": a["uniqueId"]},
                    "parentFullResourceName": f"{CRM}projects/{p['id']}", "parentAssetType": T_PROJECT}
            if a["description"]:
                body["description"] = a["description"]
            if chain:
                body["folders"] = chain
            out.append((body, self._ancestors("", p, chain)))
        known = {b["name"] for b, _ in out}
        for pol in self.policies:
            if pol["resource"] in known or pol["assetType"] == T_ORG:
                continue
            known.add(pol["resource"])
            p = pol["project"]
            body = {"name": pol["resource"], "assetType": pol["assetType"], "organization": self.org,
                    "displayName": pol["resource"].rstrip("/").rsplit("/", 1)[-1], "location": "global"}
            if p:
                body["project"] = f"projects/{p['number']}"
                body["parentFullResourceName"] = f"{CRM}projects/{p['id']}"
                body["parentAssetType"] = T_PROJECT
            if pol["folders"]:
                body["folders"] = pol["folders"]
            out.append((body, pol["ancestors"]))
        out.sort(key=lambda x: x[0]["name"])
        return [{"body": b, "ancestors": anc} for b, anc in out]

    def scope_known(self, scope: str) -> bool:
        kind, _, ident = scope.partition("/")
        if kind == "organizations":
            return ident == self.org_id
        if kind == "folders":
            return ident in self.folders
        return ident in self.projects or ident in self.project_by_number


class Scenario:
    def __init__(self, raw: Any):
        _keys(raw, {"customer", "orgUnits", "users", "groups", "roles", "roleAssignments", "cloud", "meta"}, "scenario")
        self.raw = raw
        self.directory = Directory(raw)
        self.cloud = Cloud(raw.get("cloud"))
        self.meta = raw.get("meta") or {}


# ---------------------------------------------------------------------------
# Bodies
# ---------------------------------------------------------------------------


def user_body(u: dict, customer_id: str, view: str = "admin_view") -> dict:
    emails = [{"address": u["primaryEmail"], "primary": True}] + [{"address": a} for a in u["aliases"]]
    if view == "domain_public":
        return {"kind": "admin#directory#user", "id": u["id"], "etag": etag("user-public", u["id"]),
                "primaryEmail": u["primaryEmail"], "name": dict(u["name"]), "emails": emails}
    out: dict[str, Any] = {
        "kind": "admin#directory#user",
        "id": u["id"],
        "etag": etag("user", u["id"], u["suspended"], u["lastLoginTime"]),
        "primaryEmail": u["primaryEmail"],
        "name": dict(u["name"]),
        "isAdmin": u["isAdmin"],
        "isDelegatedAdmin": u["isDelegatedAdmin"],
        "lastLoginTime": u["lastLoginTime"],
        "creationTime": u["creationTime"],
        "agreedToTerms": u["lastLoginTime"] != NEVER,
        "suspended": u["suspended"],
    }
    if u["suspended"]:
        out["suspensionReason"] = u["suspensionReason"]
    out["archived"] = u["archived"]
    out["changePasswordAtNextLogin"] = False
    out["ipWhitelisted"] = False
    out["emails"] = emails
    if u["aliases"]:
        out["aliases"] = list(u["aliases"])
    if u["nonEditableAliases"]:
        out["nonEditableAliases"] = list(u["nonEditableAliases"])
    if u["externalIds"]:
        out["externalIds"] = [dict(x) for x in u["externalIds"]]
    out["customerId"] = customer_id
    out["orgUnitPath"] = u["orgUnitPath"]
    out["isMailboxSetup"] = True
    out["isEnrolledIn2Sv"] = u["isEnrolledIn2Sv"]
    out["isEnforcedIn2Sv"] = False
    out["includeInGlobalAddressList"] = True
    return out


def token_body(u: dict, t: dict) -> dict:
    return {"kind": "admin#directory#token", "etag": etag("token", u["id"], t["clientId"]), "clientId": t["clientId"],
            "displayText": t["displayText"], "anonymous": t["anonymous"], "nativeApp": t["nativeApp"],
            "scopes": list(t["scopes"]), "userKey": u["id"]}


def asp_body(u: dict, a: dict) -> dict:
    return {"kind": "admin#directory#asp", "etag": etag("asp", u["id"], a["codeId"]), "codeId": a["codeId"],
            "name": a["name"], "creationTime": a["creationTime"], "lastTimeUsed": a["lastTimeUsed"], "userKey": u["id"]}


def assignment_body(a: dict) -> dict:
    out = {"kind": "admin#directory#roleAssignment", "etag": etag("ra", a["roleAssignmentId"])}
    out.update(a)
    return out


def role_body(r: dict) -> dict:
    out = {"kind": "admin#directory#role", "etag": etag("role", r["roleId"])}
    out.update({k: (list(v) if isinstance(v, list) else v) for k, v in r.items()})
    out["rolePrivileges"] = [dict(p) for p in r["rolePrivileges"]]
    return out


def policy_body(org: str, pol: dict, bindings: list[dict]) -> dict:
    out: dict[str, Any] = {"resource": pol["resource"], "assetType": pol["assetType"]}
    if pol["project"]:
        out["project"] = f"projects/{pol['project']['number']}"
    if pol["folders"]:
        out["folders"] = list(pol["folders"])
    out["organization"] = org
    out["policy"] = {"bindings": [json.loads(json.dumps(b)) for b in bindings]}
    return out


def key_body(acct: dict, k: dict) -> dict:
    out: dict[str, Any] = {"name": f"projects/{acct['project']}/serviceAccounts/{acct['email']}/keys/{k['id']}",
                           "validAfterTime": k["validAfterTime"], "validBeforeTime": k["validBeforeTime"],
                           "keyAlgorithm": k["keyAlgorithm"], "keyOrigin": k["keyOrigin"], "keyType": k["keyType"]}
    if k["disabled"]:
        out["disabled"] = True
        out["disableReason"] = "SERVICE_ACCOUNT_KEY_DISABLE_REASON_USER_INITIATED"
    return out


# ---------------------------------------------------------------------------
# Partial responses (`fields`)
# ---------------------------------------------------------------------------


def parse_fields(text: str) -> dict:
    """`a,b/c,d(e,f/g)` -> {"a": {}, "b": {"c": {}}, "d": {"e": {}, "f": {"g": {}}}} ({} = all)."""
    pos = 0

    def selection(depth: int) -> dict:
        nonlocal pos
        out: dict = {}
        while True:
            m = re.compile(r"\s*([A-Za-z_@$*][\w@$.*-]*(?:/[A-Za-z_@$*][\w@$.*-]*)*)\s*").match(text, pos)
            if not m:
                raise ValueError(f"Invalid field selection {text}")
            pos = m.end()
            node = out
            parts = m.group(1).split("/")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            leaf = node.setdefault(parts[-1], {})
            if pos < len(text) and text[pos] == "(":
                pos += 1
                leaf.update(selection(depth + 1))
                if pos >= len(text) or text[pos] != ")":
                    raise ValueError(f"Invalid field selection {text}")
                pos += 1
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            if depth == 0 and pos != len(text):
                raise ValueError(f"Invalid field selection {text}")
            return out

    tree = selection(0)
    return tree


def select_fields(value: Any, tree: dict) -> Any:
    if not tree:
        return value
    if isinstance(value, list):
        return [select_fields(v, tree) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, sub in value.items():
        if key in tree:
            out[key] = select_fields(sub, tree[key])
        elif "*" in tree:
            out[key] = select_fields(sub, tree["*"])
    return out


# ---------------------------------------------------------------------------
# Search expressions
# ---------------------------------------------------------------------------

QUERY_TERM = re.compile(r"""\s*(?:([A-Za-z][\w.]*)\s*([:=])\s*)?("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s"'()]+)""")


def split_terms(text: str) -> list[tuple[str | None, str, str]]:
    """`field:value field=value "free text"` -> [(field, op, value)]; AND is dropped."""
    out = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        if text[pos] in "()" or text[pos] == "-":
            raise ValueError("parentheses and negation are not supported")
        m = QUERY_TERM.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read the query at {pos}")
        fld, op, value = m.group(1), m.group(2) or ":", m.group(3)
        if value[:1] in "\"'":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        pos = m.end()
        if fld is None and value in ("AND",):
            continue
        if fld is None and value in ("OR", "NOT"):
            raise ValueError(f"{value} is not supported")
        out.append((fld, op, value))
    return out


def text_match(value: str, want: str, op: str) -> bool:
    value, want = value.lower(), want.lower()
    if op == "=":
        return value == want
    if want.endswith("*"):
        return want[:-1] in value
    return want in value


# ---------------------------------------------------------------------------
# The API
# ---------------------------------------------------------------------------


class GoogleApi:
    def __init__(self, scenario: Scenario, accounts: dict[str, Any], delegations: dict[str, set[str]],
                 rate_limit: int = 1_000_000, latency_ms: float = 0, log_path: str | None = None,
                 token_lifetime: int = 3599, audiences: tuple = ()):
        self.sc = scenario
        self.dir = scenario.directory
        self.cloud = scenario.cloud
        self.accounts = {k.lower(): v for k, v in accounts.items()}       # email -> public key
        self.delegations = {k.lower(): set(v) for k, v in delegations.items()}
        self.rate_limit = rate_limit
        self.latency = latency_ms / 1000
        self.token_lifetime = token_lifetime
        self.audiences = tuple(audiences)
        self.lock = threading.Lock()
        self.minted: dict[str, Minted] = {}
        self.windows: dict[tuple[str, str], list] = {}
        self.faults = FaultRules(["status", "delay", "garbage", "hang", "quota", "refuse_delegation"],
                                 skip=lambda rule, ctx: rule["kind"] == "refuse_delegation" and not ctx.get("delegated"))
        self.stats = self._zero()
        self.log_fh = open(log_path, "a", encoding="utf-8") if log_path else None

    @staticmethod
    def _zero() -> dict:
        return {"requests": 0, "by_path": {}, "by_status": {}, "by_api": {}}

    # -- plumbing -----------------------------------------------------------------------

    @staticmethod
    def _headers(content_type: str = JSON_TYPE) -> list:
        return [("Content-Type", content_type), ("Vary", "Origin, X-Origin, Referer"), ("Server", "ESF"),
                ("Cache-Control", "private"), ("X-XSS-Protection", "0"), ("X-Frame-Options", "SAMEORIGIN"),
                ("X-Content-Type-Options", "nosniff")]

    @staticmethod
    def _dump(payload: Any, pretty: bool) -> bytes:
        if pretty:
            return (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode()
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()

    def error_payload(self, api: str | None, e: ApiError) -> dict:
        err: dict[str, Any] = {"code": e.status, "message": e.message}
        if api == "directory":
            item = {"message": e.message, "domain": e.domain, "reason": e.reason or "backendError"}
            item.update(e.item or {})
            err["errors"] = [item]
        status = GRPC_STATUS.get(e.status)
        if status:
            err["status"] = status
        # Cloud APIs carry a google.rpc.ErrorInfo; the Directory API only for a missing scope.
        if e.details and (api != "directory" or e.reason == "insufficientPermissions"):
            err["details"] = e.details
        return {"error": err}

    def error_reply(self, api: str | None, e: ApiError, pretty: bool = True) -> Reply:
        return Reply(e.status, self._dump(self.error_payload(api, e), pretty), self._headers() + e.headers)

    @staticmethod
    def error_info(api: str | None, reason: str, method_id: str | None = None) -> list:
        meta = {"service": SERVICES.get(api or "", "googleapis.com")}
        if method_id:
            meta["method"] = method_id
        return [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com",
                 "metadata": meta}]

    def quota_error(self, api: str | None, method_id: str | None) -> ApiError:
        service = SERVICES.get(api or "", "googleapis.com")
        message = (f"Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service "
                   f"'{service}' for consumer 'project_number:1046198160504'.")
        if api == "directory":
            return ApiError(403, message, "userRateLimitExceeded", "usageLimits")
        return ApiError(429, message, "rateLimitExceeded", "usageLimits",
                        details=self.error_info(api, "RATE_LIMIT_EXCEEDED", method_id))

    def status_error(self, status: int, message: str | None) -> ApiError:
        default = {400: "Bad Request", 401: INVALID_CREDENTIAL, 403: NO_PERMISSION, 404: "Not Found",
                   429: "Resource has been exhausted (e.g. check quota).", 500: "Internal error encountered.",
                   503: "The service is currently unavailable.", 504: "Deadline exceeded."}
        reason = {400: "badRequest", 401: "authError", 403: "forbidden", 404: "notFound", 429: "rateLimitExceeded"}
        return ApiError(status, message or default.get(status, "Backend Error"), reason.get(status, "backendError"))

    @staticmethod
    def html_404(path: str) -> Reply:
        page = ("<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n"
                f"  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n  <p>The requested URL <code>{path}</code> was not "
                "found on this server.  <ins>That\u2019s all we know.</ins>\n")
        return Reply(404, page.encode(), [("Content-Type", "text/html; charset=UTF-8")])

    # -- the request ----------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, base_url: str) -> Reply:
        parts = urlsplit(target)
        if parts.path.startswith("/_harness/"):
            return self.control(method, parts.path, body)
        path = unquote(parts.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        r, params = route(path)
        api = r.api if r else guess_api(path)
        template = r.template if r else ""
        tok, auth_kind = self.identify(headers, query)
        subject = tok.subject if tok else None
        claims: dict = {}
        if r is not None and r.template == "/token" and method == "POST":
            claims = self.peek_claims(body)
            subject = claims.get("sub") if isinstance(claims.get("sub"), str) and claims.get("sub") != claims.get("iss") \
                else None
        pretty = dict(query).get("prettyPrint", "true").lower() != "false"
        fault = self.faults.take(method, path + ("?" + parts.query if parts.query else ""),
                                 delegated=bool(subject) and template == "/token")
        if self.latency:
            time.sleep(self.latency)
        method_id = r.method_id if r else None
        if fault and fault["kind"] == "hang":   # logged with status 0: no answer is ever sent
            reply = Reply(0, b"", self._headers(), hang=fault["delay_seconds"] or 120)
        elif fault and fault["kind"] == "status":
            reply = self.error_reply(api, self.status_error(fault["status"] or 503, fault["message"]), pretty)
        elif fault and fault["kind"] == "quota":
            reply = self.error_reply(api, self.quota_error(api, method_id), pretty)
        elif fault and fault["kind"] == "refuse_delegation":
            reply = self.oauth_reply(OAuthError(401, "unauthorized_client", fault["message"] or UNAUTHORIZED_CLIENT))
        else:
            if fault and fault["kind"] == "delay":
                time.sleep(fault["delay_seconds"])
            if r is None and method not in ("GET", "HEAD"):
                reply = self.error_reply(api, ApiError(405, f"Method Not Allowed: {method} (the API is read only "
                                                            "here)", "httpMethodNotAllowed"), pretty)
            elif r is None:
                reply = self.html_404(path)
            elif api != "oauth2" and self.spend(api, tok):
                reply = self.error_reply(api, self.quota_error(api, method_id), pretty)
            else:
                try:
                    reply = self.dispatch(r, method, params, query, tok, auth_kind, body, base_url, pretty)
                except ApiError as e:
                    reply = self.error_reply(api, e, pretty)
                except OAuthError as e:
                    reply = self.oauth_reply(e)
            if fault and fault["kind"] == "garbage":
                reply = Reply(200, reply.body[: max(1, len(reply.body) // 2)] or b'{"', self._headers())
        reply.template, reply.api, reply.subject = template, api, subject
        reply.auth = "none" if template == "/token" else auth_kind
        self._record(method, path, parts.query, reply)
        return reply

    def spend(self, api: str | None, tok: Minted | None) -> bool:
        """Count the request in its (api, caller) minute; True when past the limit."""
        caller = f"{tok.email}/{tok.subject or ''}" if tok else "anonymous"
        now = time.time()
        with self.lock:
            w = self.windows.get((api or "", caller))
            if w is None or now >= w[1]:
                w = [0, now // 60 * 60 + 60]
                self.windows[(api or "", caller)] = w
            w[0] += 1
            return w[0] > self.rate_limit

    def identify(self, headers: dict[str, str], query: list) -> tuple[Minted | None, str]:
        authz = headers.get("authorization")
        if authz is None:
            qs = dict(query)
            if qs.get("access_token") or qs.get("oauth_token"):
                authz = "Bearer " + (qs.get("access_token") or qs.get("oauth_token") or "")
        if not authz:
            return None, "none"
        scheme, _, value = authz.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None, "bad"
        with self.lock:
            tok = self.minted.get(value.strip())
        if tok is None or tok.expires <= time.time():
            return None, "bad"
        return tok, "bearer"

    def dispatch(self, r: Route, method: str, params: dict, query: list, tok: Minted | None, auth_kind: str,
                 body: bytes, base: str, pretty: bool) -> Reply:
        if method != r.http_method:
            raise ApiError(405, f"Method Not Allowed: {method} is not served on {r.template} (the API is read only "
                                "here)", "httpMethodNotAllowed")
        if r.template == "/token":
            return self.token(body, base)
        qs: dict[str, str] = {}
        repeated: dict[str, list[str]] = {}
        for k, v in query:
            qs.setdefault(k, v)
            repeated.setdefault(k, []).append(v)
        if r.api != "directory":
            for k in repeated:
                if k not in r.params and k not in SYSTEM_PARAMS:
                    raise ApiError(400, f'Invalid JSON payload received. Unknown name "{k}": Cannot bind query '
                                        f"parameter. Field '{k}' could not be found in request message.",
                                   "badRequest")
        if qs.get("alt", "json") != "json":
            raise ApiError(400, f"Invalid value '{qs['alt']}' for alt: only json is served", "invalidParameter")
        # Authentication, then the scope.
        if tok is None:
            missing = auth_kind == "none"
            item = {"message": "Login Required." if missing else "Invalid Credentials",
                    "reason": "required" if missing else "authError", "location": "Authorization",
                    "locationType": "header"}
            www = 'Bearer realm="https://accounts.google.com/"' + ('' if missing else ', error="invalid_token"')
            raise ApiError(401, MISSING_CREDENTIAL if missing else INVALID_CREDENTIAL, item["reason"], item=item,
                           details=self.error_info(r.api, "CREDENTIALS_MISSING" if missing
                                                   else "ACCESS_TOKEN_TYPE_UNSUPPORTED", r.method_id),
                           headers=[("WWW-Authenticate", www)])
        if not tok.scopes & set(r.scopes):
            raise ApiError(403, "Request had insufficient authentication scopes.", "insufficientPermissions",
                           item={"message": "Insufficient Permission"},
                           details=self.error_info(r.api, "ACCESS_TOKEN_SCOPE_INSUFFICIENT", r.method_id),
                           headers=[("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/", '
                                                         f'error="insufficient_scope", scope="{r.scopes[0]}"')])
        fields = None
        if qs.get("fields"):
            try:
                fields = parse_fields(qs["fields"])
            except ValueError as exc:
                raise ApiError(400, str(exc), "invalidParameter")
        handler: Callable[..., Any] = getattr(self, "r_" + r.method_id.split(".", 1)[1].replace(".", "_"))
        payload = handler(params, qs, repeated, tok)
        if fields is not None:
            payload = select_fields(payload, fields)
        return Reply(200, self._dump(payload, pretty), self._headers())

    # -- Directory ----------------------------------------------------------------------

    def subject_rights(self, tok: Minted) -> tuple[dict, tuple]:
        user = self.dir.by_primary.get((tok.subject or "").lower()) if tok.subject else None
        rights = self.dir.rights(user)
        if rights[0] == "none" or user is None:
            raise ApiError(403, NOT_AUTHORIZED, "forbidden")
        return user, rights

    def check_customer(self, customer: str) -> None:
        if customer not in ("my_customer", self.dir.customer_id):
            raise ApiError(403, NOT_AUTHORIZED, "forbidden")

    @staticmethod
    def int_param(qs: dict, name: str, default: int, low: int, high: int, directory: bool = True) -> int:
        raw = qs.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            if not directory:
                snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)
                raise ApiError(400, f"Invalid value at '{snake}' (TYPE_INT32), \"{raw}\"", "badRequest") from None
            raise ApiError(400, f"Invalid value '{raw}'. Values must be within the range: [{low}, {high}]",
                           "invalidParameter") from None
        if directory and not low <= value <= high:
            raise ApiError(400, f"Invalid value '{raw}'. Values must be within the range: [{low}, {high}]",
                           "invalidParameter")
        return value

    @staticmethod
    def enum_param(qs: dict, name: str, default: Any, allowed: tuple) -> Any:
        raw = qs.get(name)
        if raw is None or raw == "":
            return default
        match = next((a for a in allowed if a.lower() == raw.lower()), None)
        if match is None:
            raise ApiError(400, f"Invalid value '{raw}'. Values must be one of: {', '.join(allowed)}",
                           "invalidParameter")
        return match

    @staticmethod
    def bool_param(qs: dict, name: str) -> bool:
        raw = (qs.get(name) or "false").lower()
        if raw not in ("true", "false"):
            raise ApiError(400, f"Invalid value '{qs.get(name)}'. Valid values are: [true, false]", "invalidParameter")
        return raw == "true"

    @staticmethod
    def page_token(kind: str, key: Any, offset: int) -> str:
        bound = hashlib.sha256(json.dumps([kind, key], sort_keys=True).encode()).hexdigest()[:12]
        raw = f"{offset}:{bound}"
        mac = hmac.new(PAGE_SECRET, raw.encode(), hashlib.sha256).hexdigest()[:10]
        return base64.urlsafe_b64encode(f"{raw}:{mac}".encode()).decode().rstrip("=")

    @staticmethod
    def read_page_token(token: str | None, kind: str, key: Any, directory: bool) -> int:
        if not token:
            return 0
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            offset, bound, mac = raw.split(":")
            good = hmac.new(PAGE_SECRET, f"{offset}:{bound}".encode(), hashlib.sha256).hexdigest()[:10]
            want = hashlib.sha256(json.dumps([kind, key], sort_keys=True).encode()).hexdigest()[:12]
            if not hmac.compare_digest(mac, good) or bound != want:
                raise ValueError("page token does not fit this request")
            return int(offset)
        except (ValueError, UnicodeDecodeError):
            if directory:
                raise ApiError(400, "Invalid Input: pageToken", "invalid") from None
            raise ApiError(400, "Invalid page token: it does not belong to this request.", "badRequest") from None

    def user_filter(self, text: str) -> Callable[[dict], bool]:
        try:
            terms = split_terms(text)
        except ValueError:
            raise ApiError(400, "Invalid Input", "invalid") from None
        tests: list[Callable[[dict], bool]] = []
        for fld, op, value in terms:
            low = value.lower()
            if fld == "email":
                if op == ":" and low.endswith("*"):
                    pre = low[:-1]
                    tests.append(lambda u, pre=pre: any(a.lower().startswith(pre) for a in [u["primaryEmail"]]
                                                        + u["aliases"] + u["nonEditableAliases"]))
                else:
                    tests.append(lambda u, low=low: self.dir.by_email.get(low) is u)
            elif fld == "externalId":
                tests.append(lambda u, low=low: any(x["value"].lower() == low for x in u["externalIds"]))
            elif fld in ("isSuspended", "isAdmin", "isDelegatedAdmin") and op == "=" and low in ("true", "false"):
                key = {"isSuspended": "suspended"}.get(fld, fld)
                tests.append(lambda u, key=key, want=low == "true": bool(u[key]) is want)
            elif fld == "orgUnitPath":
                tests.append(lambda u, value=value: under(u["orgUnitPath"], value))
            elif fld in ("givenName", "familyName", "name"):
                def name_test(u: dict, fld: str = fld, low: str = low, op: str = op) -> bool:
                    names = [u["name"]["fullName"]] if fld == "name" else [u["name"][fld]]
                    if op == "=":
                        return any(n.lower() == low for n in names)
                    pre = low.rstrip("*")
                    return any(w.startswith(pre) for n in names for w in [n.lower()] + n.lower().split())
                tests.append(name_test)
            else:
                raise ApiError(400, "Invalid Input", "invalid")
        return lambda u: all(t(u) for t in tests)

    def r_users_list(self, params: dict, qs: dict, rep: dict, tok: Minted) -> dict:
        _, rights = self.subject_rights(tok)
        customer, domain = qs.get("customer"), qs.get("domain")
        if customer:
            self.check_customer(customer)
        elif domain:
            if domain.lower() not in self.dir.domains:
                raise ApiError(403, NOT_AUTHORIZED, "forbidden")
        else:
            raise ApiError(400, "Bad Request", "badRequest")
        limit = self.int_param(qs, "maxResults", 100, 1, 500)
        projection = self.enum_param(qs, "projection", "basic", ("basic", "custom", "full"))
        if projection == "custom" and not qs.get("customFieldMask"):
            raise ApiError(400, "Invalid Input: customFieldMask is required with projection=custom", "invalid")
        view = self.enum_param(qs, "viewType", "admin_view", ("admin_view", "domain_public"))
        order = self.enum_param(qs, "orderBy", None, ("email", "familyName", "givenName"))
        sort_order = self.enum_param(qs, "sortOrder", "ASCENDING", ("ASCENDING", "DESCENDING"))
        deleted = (qs.get("showDeleted") or "").lower() == "true"
        users = [] if deleted else self.dir.visible(rights)
        if domain and not customer:
            users = [u for u in users if u["primaryEmail"].lower().endswith("@" + domain.lower())]
        if qs.get("query"):
            keep = self.user_filter(qs["query"])
            users = [u for u in users if keep(u)]
        if order:
            keyf = {"email": lambda u: u["primaryEmail"].lower(),
                    "familyName": lambda u: (u["name"]["familyName"].lower(), u["primaryEmail"].lower()),
                    "givenName": lambda u: (u["name"]["givenName"].lower(), u["primaryEmail"].lower())}[order]
            users = sorted(users, key=keyf, reverse=sort_order == "DESCENDING")
        elif sort_order == "DESCENDING":
            users = list(reversed(users))
        key = [customer or "", domain or "", qs.get("query") or "", order, sort_order, deleted, view, tok.subject]
        start = self.read_page_token(qs.get("pageToken"), "users", key, True)
        chunk = users[start:start + limit]
        out: dict[str, Any] = {"kind": "admin#directory#users", "etag": etag("users", key, start)}
        if chunk:
            out["users"] = [user_body(u, self.dir.customer_id, view) for u in chunk]
        if start + limit < len(users):
            out["nextPageToken"] = self.page_token("users", key, start + limit)
        return out

    def visible_user(self, key: str, rights: tuple) -> dict:
        user = self.dir.lookup_user(key)
        if user is None:
            raise ApiError(404, "Resource Not Found: userKey", "notFound")
        if not self.dir.sees(rights, user):
            raise ApiError(403, NOT_AUTHORIZED, "forbidden")
        return user

    def r_users_get(self, params: dict, qs: dict, rep: dict, tok: Minted) -> dict:
        _, rights = self.subject_rights(tok)
        projection = self.enum_param(qs, "projection", "basic", ("basic", "custom", "full"))
        if projection == "custom" and not qs.get("customFieldMask"):
            raise ApiError(400, "Invalid Input: customFieldMask is required with projection=custom", "invalid")
        view = self.enum_param(qs, "viewType", "admin_view", ("admin_view", "domain_public"))
        return user_body(self.visible_user(params["userKey"], rights), self.dir.customer_id, view)

    def r_tokens_list(self, params: dict, qs: dict, rep: dict, tok: Minted) -> dict:
        _, rights = self.subject_rights(tok)
        user = self.visible_user(params["userKey"], rights)
        out: dict[str, Any] = {"kind": "admin#directory#tokenList", "etag": etag("tokens", user["id"])}
        if user["tokens"]:
            out["items"] = [token_body(user, t) for t in user["tokens"]]
        return out

    def r_asps_list(self, params: dict, qs: dict, rep: dict, tok: Minted) -> dict:
        _, rights = self.subject_rights(tok)
        user = self.visible_user(params["userKey"], rights)
        out: dict[str, Any] = {"kind": "admin#directory#aspList", "etag": etag("asps", user["id"])}
        if user["asps"]:
            out["items"] = [asp_body(user, a) for a in user["asps"]]
        return out

    def r_roleAssignments_list(self, params: dict, qs: dict, rep: dict, tok: Minted) -> dict:
        _, rights = self.subject_rights(tok)
        if rights[0] != "all":
            raise ApiError(403, NOT_AUTHORIZED, "forbidden")
        self.check_customer(params["customer"])
        limit = self.int_param(qs, "maxResults", 100, 1, 200)
        indirect = self.bool_param(qs, "includeIndirectRoleAssignments")
        items = self.dir.assignments
        key = qs.get("userKey")
        if key:
            user = self.dir.lookup_user(key)
            group = None if user else self.dir.group_by_key.get(key.lower())
            if user is None and group is None:
                raise ApiError(404, "Resource Not Found: userKey", "notFound")
            if user is not None:
                held = list(user["assignments"])
                if indirect:
                    held += [a for g in user["groups"] for a in g.get("assignments", [])]
            else:
                held = list(group.get("assignments", []))  # type: ignore[union-attr]
            items = sorted(held, key=lambda a: int(a["roleAssignmentId"]))
        if qs.get("roleId"):
            items = [a for a in items if a["roleId"] == qs["roleId"]]
        bound = [params["customer"], key or "", qs.get("roleId") or "", indirect and bool(key)]
        start = self.read_page_token(qs.get("pageToken"), "roleassignments", bound, True)
        chunk = items[start:start + limit]
        out: dict[str, Any] = {"kind": "admin#directory#roleAssignments", "etag": etag("ras", bound, start)}
        if chunk:
            out["items"] = [assignment_body(a) for a in chunk]
        if start + limit < len(items):
            out["nextPageToken"] = self.page_token("roleassignments", bound, start + limit)
        return out

    def r_roles_list(self, params: dict, qs: dict, rep: dict, tok: Minted) -> dict:
        _, rights = self.subject_rights(tok)
        if rights[0] != "all":
            raise ApiError(403, NOT_AUTHORIZED, "forbidden")
        self.check_customer(params["customer"])
        limit = self.int_param(qs, "maxResults", 100, 1, 100)
        start = self.read_page_token(qs.get("pageToken"), "roles", [params["customer"]], True)
        roles = self.dir.roles
        chunk = roles[start:start + limit]
        out: dict[str, Any] = {"kind": "admin#directory#roles", "etag": etag("roles", start)}
        if chunk:
            out["items"] = [role_body(r) for r in chunk]
        if start + limit < len(roles):
            out["nextPageToken"] = self.page_token("roles", [params["customer"]], start + limit)
        return out

    # -- Cloud Asset and IAM ----------------------------------------------------------------

    def cloud_caller(self, tok: Minted) -> None:
        who = (tok.subject or tok.email).lower()
        if who not in self.cloud.viewers:
            raise ApiError(403, NO_PERMISSION, "forbidden")

    def cloud_page(self, items: list, qs: dict, kind: str, key: Any) -> tuple[list, str | None]:
        size = self.int_param(qs, "pageSize", 100, 1, 500, directory=False)
        if size <= 0:
            size = 100
        size = min(size, 500)
        start = self.read_page_token(qs.get("pageToken"), kind, key, False)
        chunk = items[start:start + size]
        return chunk, self.page_token(kind, key, start + size) if start + size < len(items) else None

    @staticmethod
    def asset_types(rep: dict) -> list[re.Pattern]:
        out = []
        for raw in rep.get("assetTypes", []):
            for t in raw.split(","):
                if t.strip():
                    try:
                        out.append(re.compile(t.strip()))
                    except re.error:
                        raise ApiError(400, f"Invalid asset type: {t}", "badRequest") from None
        return out

    @staticmethod
    def order(items: list[dict], spec: str | None, allowed: set[str], default_key: str) -> list[dict]:
        if not spec:
            return items
        out = list(items)
        keys = []
        for part in spec.split(","):
            words = part.split()
            if not words or len(words) > 2 or words[0] not in allowed or (len(words) == 2 and words[1] not in
                                                                           ("DESC", "ASC", "desc", "asc")):
                raise ApiError(400, f"Invalid order_by: {spec}", "badRequest")
            keys.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
        for name, desc in reversed(keys):
            out.sort(key=lambda b: json.dumps(b.get(name, "")), reverse=desc)
        return out

    def r_searchAllIamPolicies(self, params: dict, qs: dict, rep: dict, tok: Minted) -> dict:
        scope = params["scope"]
        self.cloud_caller(tok)
        if not self.cloud.scope_known(scope):
            raise ApiError(403, NO_PERMISSION, "forbidden")
        try:
            terms = split_terms(qs.get("query") or "")
        except ValueError as exc:
            raise ApiError(400, f"Invalid query: {exc}", "badRequest") from None
        binding_tests: list[Callable[[dict], bool]] = []
        result_tests: list[Callable[[dict], bool]] = []
        for fld, op, value in terms:
            if fld == "policy":
                binding_tests.append(lambda b, v=value, op=op: text_match(b["role"], v, op)
                                     or any(text_match(m, v, op) for m in b["members"]))
            elif fld == "memberTypes":
                prefix = {"user": "user:", "group": "group:", "serviceaccount": "serviceAccount:",
                          "domain": "domain:"}.get(value.lower())
                if prefix is None:
                    raise ApiError(400, f"Invalid query: unknown member type {value}", "badRequest")
                binding_tests.append(lambda b, p=prefix: any(m.startswith(p) for m in b["members"]))
            elif fld == "resource":
                result_tests.append(lambda pol, v=value, op=op: text_match(pol["resource"], v, op))
            elif fld == "assetType":
                result_tests.append(lambda pol, v=value, op=op: text_match(pol["assetType"], v, "="))
            else:
                raise ApiError(400, f"Invalid query: {'free text' if fld is None else 'field ' + fld} is not "
                                    "supported by this server (policy:, memberTypes:, resource:, assetType:)",
                               "badRequest")
        types = self.asset_types(rep)
        results = []
        for pol in self.cloud.policies:
            if scope not in pol["ancestors"]:
                continue
            if types and not any(t.fullmatch(pol["assetType"]) for t in types):
                continue
            if not all(t(pol) for t in result_tests):
                continue
            bindings = [b for b in pol["bindings"] if all(t(b) for t in binding_tests)]
            if binding_tests and not bindings:
                continue
            results.append(policy_body(self.cloud.org, pol, bindings))
        results = self.order(results, qs.get("orderBy"), {"resource", "assetType", "project"}, "resource")
        key = ["iam", scope, qs.get("query") or "", sorted(rep.get("assetTypes", [])), qs.get("orderBy") or ""]
        chunk, nxt = self.cloud_page(results, qs, "policies", key)
        out: dict[str, Any] = {}
        if chunk:
            out["results"] = chunk
        if nxt:
            out["nextPageToken"] = nxt
        return out

    def r_searchAllResources(self, params: dict, qs: dict, rep: dict, tok: Minted) -> dict:
        scope = params["scope"]
        self.cloud_caller(tok)
        if not self.cloud.scope_known(scope):
            raise ApiError(403, NO_PERMISSION, "forbidden")
        try:
            terms = split_terms(qs.get("query") or "")
        except ValueError as exc:
            raise ApiError(400, f"Invalid query: {exc}", "badRequest") from None
        tests: list[Callable[[dict], bool]] = []
        for fld, op, value in terms:
            if fld is None:
                tests.append(lambda b, v=value: any(text_match(str(x), v, ":") for x in
                                                    [b.get("name", ""), b.get("displayName", ""),
                                                     b.get("description", "")]
                                                    + list((b.get("additionalAttributes") or {}).values())))
            elif fld in ("name", "displayName", "description", "state", "location", "project",
                         "parentFullResourceName"):
                tests.append(lambda b, f=fld, v=value, op=op: text_match(str(b.get(f, "")), v, op))
            elif fld.startswith("labels."):
                tests.append(lambda b, f=fld[7:], v=value, op=op: text_match(str((b.get("labels") or {}).get(f, "")),
                                                                               v, op) if f in (b.get("labels") or {})
                             else False)
            else:
                raise ApiError(400, f"Invalid query: field {fld} is not supported by this server", "badRequest")
        types = self.asset_types(rep)
        results = [r["body"] for r in self.cloud.resources
                   if scope in r["ancestors"] and (not types or any(t.fullmatch(r["body"]["assetType"]) for t in types))
                   and all(t(r["body"]) for t in tests)]
        results = self.order(results, qs.get("orderBy"),
                             {"name", "assetType", "project", "displayName", "description", "location", "createTime",
                              "updateTime", "state", "parentFullResourceName", "parentAssetType"}, "name")
        key = ["res", scope, qs.get("query") or "", sorted(rep.get("assetTypes", [])), qs.get("orderBy") or ""]
        chunk, nxt = self.cloud_page(results, qs, "resources", key)
        out: dict[str, Any] = {}
        if chunk:
            out["results"] = [json.loads(json.dumps(b)) for b in chunk]
        if nxt:
            out["nextPageToken"] = nxt
        return out

    def r_projects_serviceAccounts_keys_list(self, params: dict, qs: dict, rep: dict, tok: Minted) -> dict:
        self.cloud_caller(tok)
        acct = self.cloud.account_by_key.get(params["serviceAccount"].lower())
        project = params["project"]
        if acct is not None and project != "-":
            p = self.cloud.projects[acct["project"]]
            if project not in (p["id"], p["number"]):
                acct = None
        if acct is None:
            raise ApiError(404, "Unknown service account", "notFound")
        wanted = set()
        for i, t in enumerate(rep.get("keyTypes", [])):
            if t not in ("KEY_TYPE_UNSPECIFIED", "USER_MANAGED", "SYSTEM_MANAGED"):
                raise ApiError(400, f"Invalid value at 'key_types[{i}]' "
                                    f"(type.googleapis.com/google.iam.admin.v1.ListServiceAccountKeysRequest.KeyType), "
                                    f'"{t}"', "badRequest")
            if t != "KEY_TYPE_UNSPECIFIED":
                wanted.add(t)
        keys = [key_body(acct, k) for k in acct["keys"] if not wanted or k["keyType"] in wanted]
        return {"keys": keys} if keys else {}

    # -- the token endpoint -------------------------------------------------------------

    @staticmethod
    def _b64(s: str) -> bytes:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

    def peek_claims(self, body: bytes) -> dict:
        """The assertion's claims, unverified (for the log and fault matching)."""
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            claims = json.loads(self._b64((form.get("assertion") or "").split(".")[1]))
            return claims if isinstance(claims, dict) else {}
        except (ValueError, IndexError):
            return {}

    def oauth_reply(self, e: OAuthError) -> Reply:
        payload = {"error": e.error, "error_description": e.description}
        headers = self._headers() + [("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"),
                                     ("Pragma", "no-cache")]
        return Reply(e.status, self._dump(payload, True), headers)

    def token(self, body: bytes, base: str) -> Reply:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        grant = form.get("grant_type")
        if grant != JWT_BEARER:
            raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant or ''}")
        assertion = form.get("assertion") or ""
        if not assertion:
            raise OAuthError(400, "invalid_request", "Missing required parameter: assertion")
        try:
            h, p, s = assertion.split(".")
            header, claims, signature = json.loads(self._b64(h)), json.loads(self._b64(p)), self._b64(s)
            if not isinstance(header, dict) or not isinstance(claims, dict):
                raise ValueError("not objects")
        except ValueError:
            raise OAuthError(400, "invalid_grant", "Invalid JWT: the assertion is not a signed JWT.") from None
        if header.get("alg") != "RS256":
            raise OAuthError(400, "invalid_grant", "Invalid JWT Signature.")
        iss = claims.get("iss")
        key = self.accounts.get(iss.lower()) if isinstance(iss, str) else None
        if key is None:
            raise OAuthError(400, "invalid_grant", "Invalid grant: account not found")
        try:
            key.verify(signature, f"{h}.{p}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            raise OAuthError(400, "invalid_grant", "Invalid JWT Signature.") from None
        audiences = (f"{base.rstrip('/')}/token",) + self.audiences
        if claims.get("aud") not in audiences:
            raise OAuthError(400, "invalid_grant", f"Invalid JWT: the audience (aud) must be {audiences[0]}.")
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (iat, exp)) or \
                iat > now + 300 or exp <= now or exp <= iat or exp - iat > 3600:
            raise OAuthError(400, "invalid_grant", BAD_TIMES)
        scope = claims.get("scope")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        if not scopes or not all(SCOPE_URL.match(x) for x in scopes):
            raise OAuthError(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        sub = claims.get("sub")
        subject = None
        if sub is not None and sub != iss:
            if not isinstance(sub, str) or not sub:
                raise OAuthError(400, "invalid_grant", "Invalid email or User ID")
            allowed = self.delegations.get(iss.lower())
            if allowed is None or not scopes <= allowed:
                raise OAuthError(401, "unauthorized_client", UNAUTHORIZED_CLIENT)
            user = self.dir.by_primary.get(sub.lower())
            if user is None or user["suspended"]:
                raise OAuthError(400, "invalid_grant", "Invalid email or User ID")
            subject = user["primaryEmail"]
        token = "ya29.c." + secrets.token_urlsafe(96)
        with self.lock:
            self.minted[token] = Minted(iss.lower(), subject, scopes, now + self.token_lifetime)
        payload = {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        headers = self._headers() + [("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"),
                                     ("Pragma", "no-cache")]
        return Reply(200, self._dump(payload, True), headers)

    # -- control --------------------------------------------------------------------------

    def control(self, method: str, path: str, body: bytes) -> Reply:
        def ok(payload: Any, status: int = 200) -> Reply:
            return Reply(status, json.dumps(payload).encode(), [("Content-Type", "application/json")])
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
                    self.windows.clear()
                    self.minted.clear()
                return ok({"reset": True})
        except (ValueError, re.error) as exc:
            return ok({"error": str(exc)}, 400)
        return ok({"error": f"no harness route {method} {path}"}, 404)

    def _record(self, method: str, path: str, query: str, reply: Reply) -> None:
        with self.lock:
            self.stats["requests"] += 1
            key = reply.template or "(unrouted)"
            for name, k in (("by_path", key), ("by_status", str(reply.status)), ("by_api", reply.api or "(none)")):
                self.stats[name][k] = self.stats[name].get(k, 0) + 1
            if self.log_fh is not None:
                self.log_fh.write(json.dumps({"ts": round(time.time(), 3), "method": method, "path": path,
                                              "query": query, "status": reply.status, "template": reply.template,
                                              "api": reply.api, "auth": reply.auth, "subject": reply.subject}) + "\n")
                self.log_fh.flush()


# ---------------------------------------------------------------------------
# Scale generator
# ---------------------------------------------------------------------------

APPS = [("1234567890-zapier.apps.googleusercontent.com", "Zapier", [AUTH + "drive", "openid"]),
        ("987654321-calendly.apps.googleusercontent.com", "Calendly", [AUTH + "calendar.readonly"]),
        ("555000111-superhuman.apps.googleusercontent.com", "Superhuman", ["https://mail.google.com/"]),
        ("32555940559.apps.googleusercontent.com", "Google Cloud SDK", [S_CLOUD, "openid", AUTH + "userinfo.email"]),
        ("444222333-slack.apps.googleusercontent.com", "Slack", [AUTH + "calendar.events", "openid"]),
        ("777888999-docusign.apps.googleusercontent.com", "DocuSign", [AUTH + "drive.file"]),
        ("121212121-miro.apps.googleusercontent.com", "Miro", [AUTH + "drive.readonly", "openid"]),
        ("343434343-notion.apps.googleusercontent.com", "Notion", [AUTH + "drive.readonly", AUTH + "gmail.readonly"])]


def scale_user_id(n: int) -> str:
    return f"1{(n * 2654435761 + 12345) % 10 ** 20:020d}"


def generate(users: int, leavers: int, projects: int, seed: int = 7) -> dict:
    """A big scenario: user n is `userNNNNN@acme.example`; see the module docstring."""
    rnd = random.Random(seed)
    width = max(5, len(str(users)))
    org_units = [{"path": "/Support", "id": "03ph8a2z1support"}, {"path": "/Staff", "id": "03ph8a2z1staff00"},
                 {"path": "/IT", "id": "03ph8a2z1it00000"}]
    groups = [{"id": "03ep43zb1admins", "email": "it-admins@acme.example", "name": "IT admins",
               "roleAssignments": [{"roleId": "_USER_MANAGEMENT_ADMIN_ROLE", "scopeType": "CUSTOMER"}]},
              {"id": "03ep43zb1allstf", "email": "all-staff@acme.example", "name": "All staff"}]
    out: list[dict] = [
        {"id": scale_user_id(0), "primaryEmail": "residual-admin@acme.example", "isAdmin": True, "orgUnitPath": "/IT",
         "name": {"givenName": "Residual", "familyName": "Scanner"}, "lastLoginTime": "2026-11-25T08:00:00.000Z"},
        {"id": scale_user_id(users + 1), "primaryEmail": "helpdesk@acme.example", "orgUnitPath": "/IT",
         "name": {"givenName": "Help", "familyName": "Desk"}, "lastLoginTime": "2026-11-25T08:00:00.000Z",
         "roleAssignments": [{"roleId": "_HELP_DESK_ADMIN_ROLE", "scopeType": "ORG_UNIT", "orgUnitPath": "/Support"}]},
    ]
    candidates = list(range(1, users))
    chosen = set(rnd.sample(candidates, min(leavers, len(candidates))))
    metas = []
    leaver_emails = []
    for n in range(1, users):
        email = f"user{n:0{width}d}@acme.example"
        u: dict[str, Any] = {"id": scale_user_id(n), "primaryEmail": email,
                             "name": {"givenName": "User", "familyName": f"{n:0{width}d}"},
                             "orgUnitPath": "/Support" if n % 20 == 0 else "/Staff",
                             "creationTime": f"2026-0{1 + n % 9}-1{n % 10}T09:00:00.000Z",
                             "externalIds": [{"value": f"E{n:0{width}d}", "type": "organization"}],
                             "groups": ["all-staff@acme.example"]}
        if n % 101 != 13:
            u["lastLoginTime"] = f"2026-11-{1 + n % 25:02d}T08:{n % 60:02d}:00.000Z"
        if n % 53 == 7:
            u["suspended"] = True
            u["suspensionReason"] = "ADMIN"
        if n % 89 == 11:
            u["archived"] = True
        if n % 17 == 3:
            u["aliases"] = [f"u{n}.alias@acme.example"]
        if n % 10 == 1:
            cid, text, scopes = APPS[(n // 10) % len(APPS)]
            u["tokens"] = [{"clientId": cid, "displayText": text, "scopes": scopes}]
        if n % 37 == 2:
            u["asps"] = [{"codeId": 1, "name": "mail client", "creationTime": 1767225600000 + n * 1000,
                          "lastTimeUsed": 1793000000000 + n * 1000}]
        if n % 400 == 9:
            u["roleAssignments"] = [{"roleId": "_GROUPS_ADMIN_ROLE", "scopeType": "CUSTOMER"}]
        if n % 997 == 5:
            u["groups"].append("it-admins@acme.example")
        if n in chosen:
            if rnd.random() < 0.3:
                u["suspended"] = True
                u["suspensionReason"] = "ADMIN"
            elif rnd.random() < 0.2:
                u["lastLoginTime"] = "2026-11-20T10:00:00.000Z"   # after the departure
            metas.append({"email": email, "departure_date": "2026-11-15", "name": f"User {n:0{width}d}",
                          "employee_id": f"E{n:0{width}d}"})
            leaver_emails.append(email)
        out.append(u)
    gone = set(leaver_emails)
    staff = [u["primaryEmail"] for u in out[2:] if u["primaryEmail"] not in gone] or ["residual-admin@acme.example"]

    org = "123456789012"
    folders = [{"id": str(9000 + j), "displayName": f"division-{j}"} for j in range(max(1, projects // 50))]
    plist, policies, accounts = [], [], []
    policies.append({"resource": f"{CRM}organizations/{org}",
                     "bindings": [{"role": "roles/resourcemanager.organizationAdmin",
                                   "members": ["user:residual-admin@acme.example"]},
                                  {"role": "roles/cloudasset.viewer",
                                   "members": ["serviceAccount:residual-scanner@acme-sec.iam.gserviceaccount.com"]}]})
    for k in range(projects):
        pid = f"proj-{k:04d}"
        plist.append({"id": pid, "number": str(200000 + k), "folder": folders[k % len(folders)]["id"] if k % 2 else None})
        members = [f"user:{staff[(k * 7 + j) % len(staff)]}" for j in range(3)]
        bindings = [{"role": "roles/viewer", "members": members},
                    {"role": "roles/editor", "members": [f"user:{staff[(k * 13) % len(staff)]}",
                                                         f"serviceAccount:svc-{k:04d}-a@{pid}.iam.gserviceaccount.com"]}]
        policies.append({"resource": f"{CRM}projects/{pid}", "bindings": bindings})
        for j, suffix in enumerate("ab"):
            n = 2 * k + j
            desc = ""
            if n % 5 == 0 and leaver_emails:
                desc = f"owner: {leaver_emails[(n // 5) % len(leaver_emails)]}"
            elif n % 3 == 0:
                desc = f"owner: {staff[n % len(staff)]}"
            keys = [{"id": hashlib.sha1(f"{pid}-{suffix}-{x}".encode()).hexdigest(), "keyType": "USER_MANAGED",
                     "validAfterTime": f"2026-{1 + (n + x) % 11:02d}-05T00:00:00Z"} for x in range(n % 3)]
            if n % 4 == 1:
                keys.append({"id": hashlib.sha1(f"{pid}-{suffix}-sys".encode()).hexdigest(), "keyType": "SYSTEM_MANAGED",
                             "validAfterTime": "2026-11-01T00:00:00Z", "validBeforeTime": "2028-11-18T00:00:00Z"})
            accounts.append({"email": f"svc-{k:04d}-{suffix}@{pid}.iam.gserviceaccount.com",
                             "uniqueId": f"1{(n * 40503 + 777) % 10 ** 20:020d}", "project": pid,
                             "displayName": f"service {k}{suffix}", "description": desc,
                             "disabled": n % 29 == 3, "keys": keys})
    # About a third of the leavers hold a binding somewhere.
    for i, email in enumerate(leaver_emails):
        if i % 3 == 0 and plist:
            k = (i * 31) % len(plist)
            policies[1 + k]["bindings"].append({"role": "roles/bigquery.dataViewer" if i % 2 else "roles/owner",
                                                "members": [f"user:{email}"]})
    return {"customer": {"id": "C03az79cb", "domain": "acme.example", "secondaryDomains": ["acme-labs.example"]},
            "orgUnits": org_units, "users": out, "groups": groups,
            "cloud": {"organization": {"id": org, "displayName": "acme.example"},
                      "viewers": ["residual-scanner@acme-sec.iam.gserviceaccount.com"],
                      "folders": folders, "projects": plist, "iamPolicies": policies, "serviceAccounts": accounts},
            "meta": {"leavers": metas, "subject": "residual-admin@acme.example", "organization": org,
                     "customer": "C03az79cb", "generated": f"{users}:{leavers}:{projects} seed {seed}"}}


def write_leavers(raw: dict, path: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "departure_date", "name", "employee_id"])
        for m in (raw.get("meta") or {}).get("leavers", []):
            w.writerow([m["email"], m["departure_date"], m.get("name", ""), m.get("employee_id", "")])


def parse_scale(text: str) -> tuple[int, int, int]:
    try:
        users, leavers, projects = (int(x) for x in text.split(":"))
    except ValueError:
        raise ValueError(f"--generate-scale {text!r}: expected USERS:LEAVERS:PROJECTS") from None
    if users < 2 or not 0 <= leavers < users or projects < 0:
        raise ValueError(f"--generate-scale {text!r}: need USERS >= 2, 0 <= LEAVERS < USERS, PROJECTS >= 0")
    return users, leavers, projects


# ---------------------------------------------------------------------------
# HTTP server
# ---------------------------------------------------------------------------


def load_public_key(path: str) -> Any:
    from cryptography.hazmat.primitives import serialization
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        return serialization.load_pem_public_key(data)
    except ValueError:
        from cryptography import x509
        return x509.load_pem_x509_certificate(data).public_key()   # Google publishes X.509 certificates


def pad_staff(raw: dict, count: int) -> None:
    """Append `count` active staff users of the customer's primary domain, none a leaver."""
    if count <= 0:
        return
    domain = raw["customer"]["domain"]
    for n in range(count):
        raw["users"].append({
            "id": f"1109{n:017d}",
            "primaryEmail": f"staff{n:05d}@{domain}",
            "name": {"givenName": "Staff", "familyName": f"{n:05d}", "fullName": f"Staff {n:05d}"},
            "orgUnitPath": "/",
            "creationTime": "2026-01-05T09:00:00.000Z",
            "lastLoginTime": "2026-11-25T08:00:00.000Z",
            "isAdmin": False,
        })


def load_raw(args: argparse.Namespace) -> dict:
    if args.scenario:
        with open(args.scenario, encoding="utf-8") as fh:
            try:
                return json.load(fh)
            except json.JSONDecodeError as exc:
                raise ScenarioError(f"{args.scenario}: not JSON: {exc}") from None
    return generate(*parse_scale(args.generate_scale), seed=args.seed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--scenario")
    src.add_argument("--generate-scale", metavar="USERS:LEAVERS:PROJECTS")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--pad-staff", type=int, default=0, metavar="N",
                    help="add N plain staff users to the scenario (a listing longer than one page)")
    ap.add_argument("--dump-scenario")
    ap.add_argument("--dump-leavers")
    ap.add_argument("--port", type=int)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port-file")
    ap.add_argument("--request-log")
    ap.add_argument("--service-account", action="append", default=[], metavar="EMAIL=PUBLIC_KEY_PEM_FILE")
    ap.add_argument("--delegate", action="append", default=[], metavar="EMAIL=SCOPE1,SCOPE2,...")
    ap.add_argument("--audience", action="append", default=[], metavar="URL",
                    help="another accepted JWT aud beside <root>/token")
    ap.add_argument("--token-lifetime", type=int, default=3599, help="seconds an access token lives (3599)")
    ap.add_argument("--rate-limit", type=int, default=1_000_000, help="requests a minute per (api, caller)")
    ap.add_argument("--latency-ms", type=float, default=0)
    args = ap.parse_args(argv)
    try:
        raw = load_raw(args)
        pad_staff(raw, args.pad_staff)
        scenario = Scenario(raw)
    except (OSError, ValueError) as exc:
        where = f"scenario {args.scenario}: " if args.scenario else ""
        print(f"google_server: {where}{exc}", file=sys.stderr)
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
    accounts = {}
    for item in args.service_account:
        email, sep, pem = item.partition("=")
        if not sep or "@" not in email:
            ap.error(f"--service-account {item!r}: expected EMAIL=PUBLIC_KEY_PEM_FILE")
        try:
            accounts[email] = load_public_key(pem)
        except (OSError, ValueError) as exc:
            ap.error(f"--service-account {email}: cannot read a public key from {pem}: {exc}")
    delegations: dict[str, set[str]] = {}
    for item in args.delegate:
        email, sep, scopes = item.partition("=")
        wanted = {s.strip() for s in scopes.split(",") if s.strip()}
        if not sep or not wanted:
            ap.error(f"--delegate {item!r}: expected EMAIL=SCOPE1,SCOPE2,...")
        bad = sorted(s for s in wanted if not SCOPE_URL.match(s))
        if bad:
            ap.error(f"--delegate {email}: scopes must be full URLs (https://www.googleapis.com/auth/...): {bad}")
        delegations.setdefault(email, set()).update(wanted)
    api = GoogleApi(scenario, accounts, delegations, args.rate_limit, args.latency_ms, args.request_log,
                    args.token_lifetime, tuple(args.audience))
    serve(api, args.host, args.port, args.port_file, "ESF",
          lambda exc: Reply(500, json.dumps({"error": {"code": 500, "message": f"harness error: {exc!r}",
                                                                    "status": "INTERNAL"}}).encode(),
                            [("Content-Type", JSON_TYPE)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
