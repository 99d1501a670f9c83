#!/usr/bin/env python3
"""Check that what google_server.py serves matches Google's own discovery documents.

Usage:
    python tests/harness/google_schema_check.py [--scenario FILE.json] [--self-test] [--allow-undeclared]
    python tests/harness/google_schema_check.py --generate-scale 2000:50:40 [--seed 7] [--self-test]
    python tests/harness/google_schema_check.py --write-subset-from ../shared/google-discovery
                                                                   (regenerates the fixture)

Nothing is opened on the network: the server module is imported and `GoogleApi.handle` is called
in process, exactly as its HTTP server calls it. The checker registers the scenario's scanning
service account (`residual-scanner@acme-sec.iam.gserviceaccount.com`, added to `cloud.viewers`
when a scenario lacks it) with a fresh RSA key and domain-wide delegation, signs its own JWT
assertions, and reads as the scenario's super admin (`meta.subject`, else the first super admin).
Every 200 body is validated with `jsonschema` against the response schema of the discovery method
the route implements, taken from fixtures/google/discovery-subset.json and only that file:

- the token grant (a valid delegated grant and a Cloud grant; by hand: exactly `access_token`,
  `expires_in` (int), `token_type: "Bearer"`), and its refusals (unknown account, forged
  signature, wrong audience, bad times, no scope, a scope not delegated, an unknown or suspended
  subject, a non-delegated account, the `refuse_delegation` fault): `{error, error_description}`;
- users.list, every page through nextPageToken with maxResults=3 and 500 (pages together list
  every visible user exactly once, in id order), orderBy=email, `domain=`, a `fields` selection,
  the queries `externalId:C-9931`, `externalId:` and `email:` of users, `isSuspended=true`;
- users.get of every user by id, by primary email and by each alias (case changed), and an
  unknown key (404); tokens, asps, roleassignments (direct, and with
  includeIndirectRoleAssignments) of every user, the whole roleassignments list paged with
  maxResults=2, and the roles (maxResults=2 and 100) — contents compared with the scenario;
- searchAllIamPolicies (organization, every folder and project scope; pageSize 2 and 500;
  `policy:` for every member; `memberTypes:user`) and searchAllResources (assetTypes
  iam.googleapis.com/ServiceAccount and everything; pageSize 2 and 500); the keys of every
  service account by email under `projects/-` and by unique id under its project, all and
  `keyTypes=USER_MANAGED` — no key ever carries key material;
- error bodies, checked by hand since discovery documents do not describe them
  (`{"error": {"code": int = status, "message": str, "status": the canonical code name,
  "errors": [{"message", "domain", "reason"}] (required on Directory paths), "details": [{"@type"}]}}`,
  nothing else): 401 without and with a bad token on each API; 403 for a missing scope, a token
  without a subject on the Directory API, a subject without admin rights, the org-unit-scoped
  helpdesk subject reading another org unit's user or role assignments (while its users.list
  answers 200 with only its org units' users), a service account that is no Cloud viewer; 404 for
  an unknown user and service account; 400 for a bad query and maxResults; quota 403
  `userRateLimitExceeded` (Directory) and 429 RESOURCE_EXHAUSTED (Cloud, IAM) from a `quota`
  fault and from a spent `--rate-limit`; a `status` fault; 405 for writes; a `garbage` fault
  (not JSON) and a `hang` fault (held, no answer).

Beside the bodies, the server's route table is held to the subset: each route's accepted scopes
include every scope the discovery method lists, its query parameters are exactly the method's,
its path is the method's flatPath.

Discovery schemas are translated to JSON Schema draft 7: `$ref: "Name"` points into
`definitions/<api>/Name`; `type: any` is unconstrained; `format: int64`/`uint64` strings must be
digits; `int32`/`uint32` integers stay in range; `date-time` and `google-datetime` must be RFC 3339;
`byte` base64; `additionalProperties` maps are kept; `readOnly`, descriptions, annotations and
defaults are dropped, except that a `kind` property's default becomes a constant (the APIs always
send it). Strict by default: an object with `properties` gets `additionalProperties: false` unless
the schema declares `additionalProperties` (--allow-undeclared turns that off). Discovery
documents mark nothing as required in responses, so the checker requires, on top, the properties
Google always sends and a client relies on (REQUIRED below, e.g. User.primaryEmail, suspended,
lastLoginTime; ServiceAccountKey.name, validAfterTime). User `emails` and `externalIds` are `any`
in the schema; by hand they must be arrays of objects with a string `address` / `value`, and
User `creationTime` and `lastLoginTime` must carry milliseconds (`...:00.000Z`).

--self-test then breaks the validated samples, every constrained location once, in each way the
schema rules out — an integer made a string, an int64 string made a number, a string made a
number, a boolean made a string, a time garbled, an enum or `kind` value changed, a required
property dropped, an undeclared property added where strict — and requires each broken copy to
be rejected; likewise the hand checks (emails, externalIds, times, error bodies, token answers).
A method or hand check with nothing to break is a failure.

Prints each failure as `FAIL <endpoint> <json path>: <message>`, then `N passed, M failed`;
exits 0 only when nothing failed.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import json
import re
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote, urlencode

from jsonschema import Draft7Validator, FormatChecker

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import google_server as gs  # noqa: E402  (the module under test sits beside this file)

ROOT = HERE.parent.parent
SUBSET = ROOT / "fixtures" / "google" / "discovery-subset.json"
DEFAULT_SCENARIO = ROOT / "fixtures" / "google" / "scenario-main.json"
API_DOCS = {"directory": "admin.directory_v1", "cloudasset": "cloudasset.v1", "iam": "iam.v1"}
SOURCE_PACKAGE = "google-api-python-client 2.202.0 (googleapiclient/discovery_cache/documents/)"
SCANNER = "residual-scanner@acme-sec.iam.gserviceaccount.com"
OUTSIDER = "outsider@acme-sec.iam.gserviceaccount.com"
DIRECTORY_SCOPES = [gs.S_USER_RO, gs.S_SECURITY, gs.S_ROLES_RO]
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
MAX_DESCRIPTION = 60
NAME_MAPS = {"properties", "parameters", "schemas", "methods", "resources"}
ERROR_KEYS = {"code", "message", "status", "errors", "details"}
ERROR_ITEM_KEYS = {"message", "domain", "reason", "location", "locationType", "extendedHelp"}

# Properties Google always sends in these responses and a client relies on; the discovery
# documents mark no response property as required, so the checker adds these.
REQUIRED: dict[tuple[str, str], list[str]] = {
    ("admin.directory_v1", "Users"): ["kind", "etag"],
    ("admin.directory_v1", "User"): ["kind", "id", "etag", "primaryEmail", "name", "isAdmin", "isDelegatedAdmin",
                                     "lastLoginTime", "creationTime", "suspended", "archived", "emails", "customerId",
                                     "orgUnitPath"],
    ("admin.directory_v1", "UserName"): ["givenName", "familyName", "fullName"],
    ("admin.directory_v1", "Tokens"): ["kind", "etag"],
    ("admin.directory_v1", "Token"): ["kind", "etag", "clientId", "displayText", "scopes", "anonymous", "nativeApp",
                                      "userKey"],
    ("admin.directory_v1", "Asps"): ["kind", "etag"],
    ("admin.directory_v1", "Asp"): ["kind", "etag", "codeId", "name", "creationTime", "lastTimeUsed", "userKey"],
    ("admin.directory_v1", "RoleAssignments"): ["kind", "etag"],
    ("admin.directory_v1", "RoleAssignment"): ["kind", "etag", "roleAssignmentId", "roleId", "assignedTo",
                                               "assigneeType", "scopeType"],
    ("admin.directory_v1", "Roles"): ["kind", "etag"],
    ("admin.directory_v1", "Role"): ["kind", "etag", "roleId", "roleName", "rolePrivileges", "isSystemRole",
                                     "isSuperAdminRole"],
    ("cloudasset.v1", "IamPolicySearchResult"): ["resource", "assetType", "organization", "policy"],
    ("cloudasset.v1", "Policy"): ["bindings"],
    ("cloudasset.v1", "Binding"): ["role", "members"],
    ("cloudasset.v1", "Expr"): ["expression"],
    ("cloudasset.v1", "ResourceSearchResult"): ["name", "assetType", "organization", "displayName", "location"],
    ("iam.v1", "ServiceAccountKey"): ["name", "validAfterTime", "validBeforeTime", "keyAlgorithm", "keyOrigin",
                                      "keyType"],
}
# viewType=domain_public serves only these of a User.
PUBLIC_USER_REQUIRED = ["kind", "id", "etag", "primaryEmail", "name", "emails"]


# ---------------------------------------------------------------------------
# Extracting the subset fixture
# ---------------------------------------------------------------------------


def served_methods() -> dict[str, list[gs.Route]]:
    out: dict[str, list[gs.Route]] = {}
    for r in gs.ROUTES:
        if r.method_id:
            out.setdefault(API_DOCS[r.api], []).append(r)
    return out


def walk_methods(resources: dict, prefix: str = "") -> Iterator[dict]:
    for res in resources.values():
        yield from (res.get("methods") or {}).values()
        yield from walk_methods(res.get("resources") or {})


def slim(node: Any, names: bool = False) -> Any:
    """Drop enumDescriptions and long descriptions; keep everything else."""
    if isinstance(node, list):
        return [slim(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if names:
            out[key] = slim(value)
            continue
        if key == "enumDescriptions":
            continue
        if key == "description" and isinstance(value, str) and (len(value) > MAX_DESCRIPTION or "\n" in value):
            continue
        out[key] = slim(value, names=key in NAME_MAPS and isinstance(value, dict))
    return out


def refs_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def write_subset(source: Path, dest: Path) -> None:
    apis = {}
    for doc_name, routes in served_methods().items():
        path = source / f"{doc_name}.json"
        full = json.loads(path.read_text(encoding="utf-8"))
        methods = {m["id"]: m for m in walk_methods(full.get("resources") or {})}
        kept: dict[str, Any] = {}
        for r in routes:
            m = methods.get(r.method_id)
            if m is None:
                raise SystemExit(f"google_schema_check: {path.name} has no method {r.method_id}")
            kept[r.method_id] = {k: m[k] for k in ("id", "path", "flatPath", "httpMethod", "parameters",
                                                   "parameterOrder", "response", "scopes") if k in m}
        schemas: dict[str, Any] = {}
        todo = list(refs_in(kept))
        while todo:
            name = todo.pop()
            if name in schemas:
                continue
            if name not in full["schemas"]:
                raise SystemExit(f"google_schema_check: {path.name}: unknown schema {name}")
            schemas[name] = full["schemas"][name]
            todo.extend(refs_in(full["schemas"][name]))
        apis[doc_name] = {k: full[k] for k in ("name", "version", "revision", "rootUrl", "servicePath", "baseUrl")
                          if k in full}
        apis[doc_name]["parameters"] = slim(full.get("parameters") or {}, names=True)
        apis[doc_name]["methods"] = slim(dict(sorted(kept.items())), names=True)
        apis[doc_name]["schemas"] = slim(dict(sorted(schemas.items())), names=True)
    out = {
        "x-extracted-from": {
            "source": SOURCE_PACKAGE,
            "files": [f"{name}.json" for name in apis],
            "revisions": {name: api.get("revision") for name, api in apis.items()},
            "license": "Apache-2.0 (see LICENSE-NOTE.md beside this file)",
            "changes": "only the methods residual's Google test server serves (id, path, flatPath, httpMethod, "
                       "parameters, parameterOrder, response, scopes), each document's name, version, revision, "
                       "rootUrl, servicePath, baseUrl and global parameters, and the schemas the responses "
                       "reference transitively; enumDescriptions and descriptions over 60 characters removed; "
                       "otherwise unchanged",
            "written-by": "tests/harness/google_schema_check.py --write-subset-from",
        },
        "apis": apis,
    }
    dest.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = {name: (len(a["methods"]), len(a["schemas"])) for name, a in apis.items()}
    print(f"wrote {dest} ({dest.stat().st_size} bytes; methods and schemas per API: {counts})")


# ---------------------------------------------------------------------------
# Discovery schema -> JSON Schema draft 7
# ---------------------------------------------------------------------------

INT64_PATTERN = "^-?[0-9]+$"
UINT64_PATTERN = "^[0-9]+$"
BYTE_PATTERN = "^[A-Za-z0-9+/_-]*={0,2}$"
DURATION_PATTERN = r"^-?[0-9]+(\.[0-9]{1,9})?s$"
DATE_PATTERN = r"^\d{4}-\d\d-\d\d$"


class Translator:
    def __init__(self, subset: dict, strict: bool):
        self.subset = subset
        self.strict = strict

    def definitions(self, overrides: dict | None = None) -> dict:
        required = dict(REQUIRED)
        required.update(overrides or {})
        out: dict[str, dict] = {}
        for api, doc in self.subset["apis"].items():
            defs = out.setdefault(api, {})
            for name, schema in doc["schemas"].items():
                node = self.node(api, schema)
                want = required.get((api, name))
                if want:
                    node["required"] = list(want)
                defs[name] = node
        return out

    def node(self, api: str, s: Any) -> dict:
        if not isinstance(s, dict):
            return {}
        if "$ref" in s:
            return {"$ref": f"#/definitions/{api}/{s['$ref']}"}
        t = s.get("type")
        if t == "any" or (t is None and "properties" not in s and "additionalProperties" not in s):
            return {}
        if t == "object" or (t is None and ("properties" in s or "additionalProperties" in s)):
            out: dict[str, Any] = {"type": "object"}
            props = s.get("properties") or {}
            if props:
                out["properties"] = {k: self.prop(api, k, v) for k, v in props.items()}
            if "additionalProperties" in s:
                extra = s["additionalProperties"]
                out["additionalProperties"] = self.node(api, extra) if isinstance(extra, dict) else bool(extra)
            elif self.strict and props:
                out["additionalProperties"] = False
            return out
        if t == "array":
            out = {"type": "array"}
            if "items" in s:
                out["items"] = self.node(api, s["items"])
            return out
        if t == "string":
            out = {"type": "string"}
            fmt = s.get("format")
            if fmt == "int64":
                out["pattern"] = INT64_PATTERN
            elif fmt == "uint64":
                out["pattern"] = UINT64_PATTERN
            elif fmt in ("date-time", "google-datetime"):
                out["format"] = "date-time"
            elif fmt == "byte":
                out["pattern"] = BYTE_PATTERN
            elif fmt == "google-duration":
                out["pattern"] = DURATION_PATTERN
            elif fmt == "date":
                out["pattern"] = DATE_PATTERN
            if "enum" in s:
                out["enum"] = list(s["enum"])
            return out
        if t == "integer":
            out = {"type": "integer"}
            if s.get("format") == "int32":
                out.update(minimum=-2 ** 31, maximum=2 ** 31 - 1)
            elif s.get("format") == "uint32":
                out.update(minimum=0, maximum=2 ** 32 - 1)
            return out
        if t in ("number", "boolean"):
            return {"type": t}
        return {}

    def prop(self, api: str, name: str, s: Any) -> dict:
        if name == "kind" and isinstance(s, dict) and isinstance(s.get("default"), str):
            return {"type": "string", "const": s["default"]}
        return self.node(api, s)


def format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not RFC3339.match(value):
            raise ValueError(f"{value!r} is not an RFC 3339 date-time")
        dt.datetime.fromisoformat(value[:19])
        return True

    return checker


class Schemas:
    def __init__(self, subset_path: Path, strict: bool):
        if not subset_path.is_file():
            raise SystemExit(f"google_schema_check: {subset_path} is missing; regenerate it with --write-subset-from")
        self.subset = json.loads(subset_path.read_text(encoding="utf-8"))
        self.strict = strict
        self.translator = Translator(self.subset, strict)
        self.checker = format_checker()
        self.defs = {"": self.translator.definitions(),
                     "public": self.translator.definitions({("admin.directory_v1", "User"): PUBLIC_USER_REQUIRED}),
                     "partial": self.translator.definitions({k: [] for k in REQUIRED})}
        for variant in self.defs.values():
            for api in variant.values():
                for sub in api.values():
                    Draft7Validator.check_schema(sub)
        self.cache: dict[tuple[str, str], tuple[Draft7Validator, dict]] = {}

    def method(self, method_id: str) -> tuple[str, dict]:
        for api, doc in self.subset["apis"].items():
            if method_id in doc["methods"]:
                return api, doc["methods"][method_id]
        raise KeyError(method_id)

    def validator(self, method_id: str, variant: str = "") -> tuple[Draft7Validator, dict]:
        key = (method_id, variant)
        if key not in self.cache:
            api, m = self.method(method_id)
            root = {"$schema": "http://json-schema.org/draft-07/schema#",
                    "allOf": [{"$ref": f"#/definitions/{api}/{m['response']['$ref']}"}],
                    "definitions": self.defs[variant]}
            self.cache[key] = (Draft7Validator(root, format_checker=self.checker), root)
        return self.cache[key]


# ---------------------------------------------------------------------------
# Breaking bodies the way the schema forbids (for --self-test)
# ---------------------------------------------------------------------------


@dataclass
class Mutation:
    kind: str
    path: list
    where: str          # the schema location: Definition.property...


UNDECLARED = "undeclaredBySelfTest"


class Breaker:
    def __init__(self, root: dict):
        self.root = root

    def resolve(self, s: dict) -> tuple[dict, str | None]:
        name = None
        while "$ref" in s:
            parts = s["$ref"].lstrip("#/").split("/")
            name = parts[-1]
            node: Any = self.root
            for p in parts:
                node = node[p]
            s = node
        if "allOf" in s and len(s["allOf"]) == 1 and len(s) <= 3:
            return self.resolve(s["allOf"][0])
        return s, name

    def find(self, body: Any) -> list[Mutation]:
        found: dict[tuple[str, str], Mutation] = {}
        self._walk(self.root, body, [], "$", found)
        return list(found.values())

    def _walk(self, schema: dict, value: Any, path: list, where: str, found: dict) -> None:
        schema, name = self.resolve(schema)
        if name:
            where = name

        def add(kind: str, p: list, w: str = where) -> None:
            found.setdefault((kind, w), Mutation(kind, p, w))

        t = schema.get("type")
        if isinstance(value, bool):
            if t == "boolean":
                add("boolean made a string", path)
            return
        if isinstance(value, int) and t == "integer":
            add("integer made a string", path)
            return
        if isinstance(value, str) and t == "string":
            if schema.get("pattern") in (INT64_PATTERN, UINT64_PATTERN):
                add("int64 string made a number", path)
            else:
                add("string made an integer", path)
            if schema.get("format") == "date-time":
                add("time garbled", path)
            if "enum" in schema or "const" in schema:
                add("enum value changed", path)
            return
        if isinstance(value, dict) and t == "object":
            for r in schema.get("required") or []:
                if r in value:
                    add("required property dropped", path + [r], f"{where}.{r}")
            if schema.get("additionalProperties") is False:
                add("undeclared property added", path)
            props = schema.get("properties") or {}
            extra = schema.get("additionalProperties")
            for key, sub in value.items():
                if key in props:
                    self._walk(props[key], sub, path + [key], f"{where}.{key}", found)
                elif isinstance(extra, dict):
                    self._walk(extra, sub, path + [key], f"{where}.*", found)
            return
        if isinstance(value, list) and t == "array" and "items" in schema:
            for i, sub in enumerate(value):
                self._walk(schema["items"], sub, path + [i], f"{where}[]", found)


def apply_mutation(body: Any, m: Mutation) -> Any:
    broken = copy.deepcopy(body)
    if m.kind == "undeclared property added":
        target = broken
        for p in m.path:
            target = target[p]
        target[UNDECLARED] = "x"
        return broken
    parent = broken
    for p in m.path[:-1]:
        parent = parent[p]
    last = m.path[-1]
    old = parent[last]
    if m.kind == "required property dropped":
        del parent[last]
    elif m.kind == "integer made a string":
        parent[last] = str(old)
    elif m.kind == "int64 string made a number":
        parent[last] = int(old) if re.fullmatch(r"-?\d+", old) else 12345
    elif m.kind == "string made an integer":
        parent[last] = 12345
    elif m.kind == "boolean made a string":
        parent[last] = "true" if old else "false"
    elif m.kind == "time garbled":
        parent[last] = old.replace("T", " ")[:19] if "T" in old else "yesterday"
    elif m.kind == "enum value changed":
        parent[last] = old + "_NOT_IN_SCHEMA"
    return broken


# ---------------------------------------------------------------------------
# Hand checks
# ---------------------------------------------------------------------------


def json_path(parts: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def user_problems(u: Any, public: bool = False) -> list[tuple[str, str]]:
    """emails / externalIds (type any in the schema) and millisecond times, by hand."""
    if not isinstance(u, dict):
        return [("$", "not an object")]
    out = []
    emails = u.get("emails")
    if not isinstance(emails, list) or not emails:
        out.append(("$.emails", f"expected a non-empty array of objects, got {emails!r}"[:120]))
    else:
        for i, e in enumerate(emails):
            if not isinstance(e, dict) or not isinstance(e.get("address"), str) or "@" not in e["address"]:
                out.append((f"$.emails[{i}]", f"expected {{address: string, ...}}, got {e!r}"[:120]))
            elif set(e) - {"address", "primary", "type", "customType"}:
                out.append((f"$.emails[{i}]", f"unexpected keys {sorted(set(e) - {'address', 'primary', 'type', 'customType'})}"))
            elif "primary" in e and not isinstance(e["primary"], bool):
                out.append((f"$.emails[{i}].primary", "not a boolean"))
        primaries = [e.get("address") for e in emails if isinstance(e, dict) and e.get("primary") is True]
        if primaries != [u.get("primaryEmail")]:
            out.append(("$.emails", f"exactly one primary address, the primaryEmail, expected; got {primaries}"))
    if "externalIds" in u:
        ext = u["externalIds"]
        if not isinstance(ext, list):
            out.append(("$.externalIds", f"expected an array of objects, got {ext!r}"[:120]))
        else:
            for i, x in enumerate(ext):
                if not isinstance(x, dict) or not isinstance(x.get("value"), str) or \
                        not isinstance(x.get("type", ""), str) or set(x) - {"value", "type", "customType"}:
                    out.append((f"$.externalIds[{i}]", f"expected {{value: string, type: string}}, got {x!r}"[:120]))
    if not public:
        for key in ("creationTime", "lastLoginTime"):
            if not isinstance(u.get(key), str) or not gs.DIRECTORY_TIME.match(u[key]):
                out.append((f"$.{key}", f"{u.get(key)!r} is not RFC 3339 with milliseconds (2026-11-20T10:00:00.000Z)"))
    return out


def error_problems(body: Any, status: int, api: str | None) -> list[tuple[str, str]]:
    """Google's JSON error body, by hand."""
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        return [("$", f"expected {{\"error\": {{...}}}}, got {str(body)[:120]}")]
    e = body["error"]
    out = []
    if set(e) - ERROR_KEYS:
        out.append(("$.error", f"unexpected keys {sorted(set(e) - ERROR_KEYS)}"))
    if not isinstance(e.get("code"), int) or isinstance(e.get("code"), bool) or e["code"] != status:
        out.append(("$.error.code", f"expected the integer {status}, got {e.get('code')!r}"))
    if not isinstance(e.get("message"), str) or not e["message"]:
        out.append(("$.error.message", "missing or not a non-empty string"))
    want = gs.GRPC_STATUS.get(status)
    if want is None:
        if "status" in e:
            out.append(("$.error.status", f"{status} has no canonical code, got {e['status']!r}"))
    elif e.get("status") != want:
        out.append(("$.error.status", f"expected {want!r}, got {e.get('status')!r}"))
    if api == "directory" and "errors" not in e:
        out.append(("$.error.errors", "the Directory API always sends errors[]"))
    if "errors" in e:
        errs = e["errors"]
        if not isinstance(errs, list) or not errs:
            out.append(("$.error.errors", "not a non-empty array"))
        else:
            for i, item in enumerate(errs):
                if not isinstance(item, dict) or set(item) - ERROR_ITEM_KEYS or not all(
                        isinstance(item.get(k), str) and item[k] for k in ("message", "domain", "reason")):
                    out.append((f"$.error.errors[{i}]", f"expected {{message, domain, reason}} strings, got {item!r}"[:160]))
    if "details" in e:
        det = e["details"]
        if not isinstance(det, list) or not all(isinstance(d, dict) and isinstance(d.get("@type"), str) for d in det):
            out.append(("$.error.details", f"expected an array of objects with @type, got {det!r}"[:160]))
    return out


def token_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return [f"not an object: {body!r}"[:200]]
    problems = []
    if set(body) != {"access_token", "expires_in", "token_type"}:
        problems.append(f"keys {sorted(body)}, expected access_token, expires_in, token_type")
    if body.get("token_type") != "Bearer":
        problems.append(f"token_type {body.get('token_type')!r}, expected 'Bearer'")
    x = body.get("expires_in")
    if not isinstance(x, int) or isinstance(x, bool) or not 0 < x <= 3600:
        problems.append(f"expires_in {x!r} is not an integer in 1..3600")
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        problems.append("access_token is not a non-empty string")
    return problems


def oauth_error_problems(body: Any, error: str | None = None) -> list[str]:
    if not isinstance(body, dict) or set(body) != {"error", "error_description"}:
        return [f"expected {{error, error_description}}, got {body!r}"[:300]]
    problems = []
    if not isinstance(body["error"], str) or (error is not None and body["error"] != error):
        problems.append(f"error {body['error']!r}, expected {error!r}")
    if not isinstance(body["error_description"], str) or not body["error_description"]:
        problems.append("error_description is not a non-empty string")
    return problems


# ---------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------


@dataclass
class Got:
    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes
    template: str
    hang: float


class Checker:
    BASE = "http://127.0.0.1:8080"

    def __init__(self, raw: dict, schemas: Schemas):
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.schemas = schemas
        self.passed = 0
        self.failures: list[str] = []
        self.samples: dict[tuple[str, str], list[Any]] = {}       # (method id, variant) -> bodies
        self.validated: set[tuple[str, str]] = set()
        self.user_samples: list[Any] = []
        self.error_samples: list[tuple[str, int, str | None, Any]] = []
        self.token_samples: list[Any] = []
        self.oauth_error_samples: list[Any] = []
        raw = copy.deepcopy(raw)
        cloud = raw.setdefault("cloud", {})
        viewers = cloud.setdefault("viewers", [])
        if SCANNER not in viewers:
            viewers.append(SCANNER)
        self.sc = gs.Scenario(raw)
        d = self.sc.directory
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.accounts = {SCANNER: self.key.public_key(), OUTSIDER: self.key.public_key()}
        discovery_scopes = sorted({s for api in schemas.subset["apis"].values() for m in api["methods"].values()
                                   for s in m.get("scopes", [])} | set(DIRECTORY_SCOPES))
        self.delegated_scopes = discovery_scopes
        self.api = gs.GoogleApi(self.sc, self.accounts, {SCANNER: set(discovery_scopes)}, rate_limit=10 ** 9)
        meta_subject = (self.sc.meta.get("subject") or "").lower()
        live = [u for u in d.users if not u["suspended"]]
        self.admin = d.by_primary.get(meta_subject) or next((u for u in live if u["isAdmin"]), None)
        if self.admin is None or self.admin["suspended"] or not self.admin["isAdmin"]:
            raise ValueError("the scenario has no active super admin to read as (meta.subject)")
        self.scoped = next((u for u in live if d.rights(u)[0] == "ou"), None)
        self.nobody = next((u for u in live if d.rights(u)[0] == "none"), None)
        self.suspended = next((u for u in d.users if u["suspended"]), None)
        self.dwd = ""
        self.cloud_token = ""

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

    def call(self, method: str, target: str, token: str | None = None, body: bytes = b"",
             headers: dict | None = None) -> Got:
        hdrs = {"host": "127.0.0.1:8080", "accept": "application/json"}
        if token is not None:
            hdrs["authorization"] = f"Bearer {token}"
        hdrs.update(headers or {})
        reply = self.api.handle(method, target, hdrs, body, self.BASE)
        rh = {k.lower(): v for k, v in reply.headers}
        parsed = None
        if reply.body and rh.get("content-type", "").startswith("application/json"):
            try:
                parsed = json.loads(reply.body)
            except ValueError:
                parsed = None
        return Got(reply.status, rh, parsed, reply.body, reply.template, reply.hang)

    def json_reply(self, got: Got, endpoint: str) -> bool:
        ok = self.expect(got.headers.get("content-type") == gs.JSON_TYPE, endpoint, "headers.Content-Type",
                         f"expected {gs.JSON_TYPE}, got {got.headers.get('content-type')!r}")
        return self.expect(got.body is not None, endpoint, "$", f"body is not JSON: {got.raw[:80]!r}") and ok

    def validate(self, method_id: str, body: Any, endpoint: str, variant: str = "") -> bool:
        v, _ = self.schemas.validator(method_id, variant)
        errors = sorted(v.iter_errors(body), key=lambda e: list(e.absolute_path))
        for e in errors[:20]:
            self.fail(endpoint, json_path(e.absolute_path), e.message[:300])
        if len(errors) > 20:
            self.fail(endpoint, "$", f"... and {len(errors) - 20} more errors")
        self.validated.add((method_id, variant))
        if not errors:
            self.ok()
            if body not in ({}, None) and len(json.dumps(body)) < 40_000:
                bucket = self.samples.setdefault((method_id, variant), [])
                if len(bucket) < 300:
                    bucket.append(body)
        return not errors

    def users_in(self, body: Any) -> list[dict]:
        if isinstance(body, dict) and isinstance(body.get("users"), list):
            return body["users"]
        return [body] if isinstance(body, dict) and "primaryEmail" in body else []

    def hand_users(self, body: Any, endpoint: str, public: bool = False) -> None:
        for i, u in enumerate(self.users_in(body)):
            problems = user_problems(u, public)
            prefix = f"$.users[{i}]" if "users" in (body or {}) else "$"
            for path, msg in problems:
                self.fail(endpoint, prefix + path[1:], msg)
            if not problems:
                self.ok()
                if not public and len(self.user_samples) < 200 and ("externalIds" in u or len(self.user_samples) < 20):
                    self.user_samples.append(u)

    def get(self, target: str, method_id: str, label: str, token: str | None = None, variant: str = "") -> Any:
        """GET, expect 200, validate; returns the body or None. `variant`: "public" (viewType=domain_public)
        and "partial" (a `fields` selection) relax the added REQUIRED properties."""
        token = self.dwd if token is None else token
        got = self.call("GET", target, token)
        endpoint = f"GET {method_id} [{label}]"
        if not self.expect(got.status == 200, endpoint, "status", f"expected 200, got {got.status}: {str(got.body)[:200]}"):
            return None
        if not self.json_reply(got, endpoint):
            return None
        self.validate(method_id, got.body, endpoint, variant)
        if method_id in ("directory.users.list", "directory.users.get") and variant != "partial":
            self.hand_users(got.body, endpoint, public=variant == "public")
        return got.body

    def error(self, method: str, target: str, status: int, label: str, token: str | None = None,
              reason: str | None = None, grpc: str | None = None, api: str | None = None) -> Any:
        got = self.call(method, target, token)
        endpoint = f"{method} {target.split('?')[0]} [{label}]"
        if not self.expect(got.status == status, endpoint, "status",
                           f"expected {status}, got {got.status}: {str(got.body)[:200]}"):
            return None
        if not self.json_reply(got, endpoint):
            return None
        api = api or gs.guess_api(target.split("?")[0])
        problems = error_problems(got.body, status, api)
        for path, msg in problems:
            self.fail(endpoint, path, msg)
        if not problems:
            self.ok()
            self.error_samples.append((endpoint, status, api, got.body))
        e = got.body.get("error", {}) if isinstance(got.body, dict) else {}
        if reason is not None:
            reasons = [x.get("reason") for x in e.get("errors", []) if isinstance(x, dict)]
            self.expect(reason in reasons, endpoint, "$.error.errors[0].reason", f"expected {reason!r}, got {reasons}")
        return got.body

    def walk(self, target: str, method_id: str, label: str, items_key: str, token: str | None = None,
             limit: int | None = None) -> list | None:
        """Every page through nextPageToken; each validated; returns the items."""
        out: list = []
        token_seen: set[str] = set()
        page_token = None
        pages = 0
        while True:
            pages += 1
            sep = "&" if "?" in target else "?"
            url = target + (f"{sep}pageToken={quote(page_token, safe='')}" if page_token else "")
            body = self.get(url, method_id, f"{label}, page {pages}", token)
            if body is None:
                return None
            items = body.get(items_key, [])
            endpoint = f"GET {method_id} [{label}, page {pages}]"
            if items_key in body:
                self.expect(bool(items), endpoint, f"$.{items_key}", "an empty list is sent; Google omits it")
            if limit is not None and len(items) > limit:
                self.fail(endpoint, f"$.{items_key}", f"{len(items)} items on a page of {limit}")
            out += items
            page_token = body.get("nextPageToken")
            if page_token is None:
                return out
            if not items:
                self.fail(endpoint, "$.nextPageToken", "an empty page with a next page token")
                return None
            if page_token in token_seen or pages > 100_000:
                self.fail(endpoint, "$.nextPageToken", "pagination does not end")
                return None
            token_seen.add(page_token)

    # -- tokens ---------------------------------------------------------------------------

    def assertion(self, iss: str = SCANNER, scopes: list[str] | None = None, sub: str | None = None,
                  aud: str | None = None, iat: int | None = None, exp: int | None = None, key: Any = None) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        now = int(time.time())
        claims: dict[str, Any] = {"iss": iss, "scope": " ".join(scopes if scopes is not None else DIRECTORY_SCOPES),
                                  "aud": aud or f"{self.BASE}/token", "iat": iat if iat is not None else now,
                                  "exp": exp if exp is not None else now + 3600}
        if sub is not None:
            claims["sub"] = sub
        if scopes == []:
            del claims["scope"]
        header = {"alg": "RS256", "typ": "JWT", "kid": secrets.token_hex(20)}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = (key or self.key).sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"

    def grant(self, assertion: str, grant_type: str = gs.JWT_BEARER) -> Got:
        form = urlencode({"grant_type": grant_type, "assertion": assertion}).encode()
        return self.call("POST", "/token", None, form, {"content-type": "application/x-www-form-urlencoded"})

    def mint(self, label: str, **kw: Any) -> str:
        got = self.grant(self.assertion(**kw))
        endpoint = f"POST /token [{label}]"
        if not self.expect(got.status == 200, endpoint, "status", f"expected 200, got {got.status}: {got.body}"):
            return ""
        problems = token_problems(got.body)
        if not self.expect(not problems, endpoint, "$", "; ".join(problems)):
            return ""
        self.json_reply(got, endpoint)
        self.token_samples.append(got.body)
        return str(got.body["access_token"])

    def refused(self, label: str, status: int, error: str, assertion: str | None = None,
                grant_type: str = gs.JWT_BEARER) -> None:
        got = self.grant(assertion or "", grant_type)
        endpoint = f"POST /token [{label}]"
        if self.expect(got.status == status, endpoint, "status", f"expected {status}, got {got.status}: {got.body}"):
            problems = oauth_error_problems(got.body, error)
            if self.expect(not problems, endpoint, "$", "; ".join(problems)):
                self.oauth_error_samples.append(got.body)

    def check_tokens(self) -> None:
        d = self.sc.directory
        self.dwd = self.mint("delegated", sub=self.admin["primaryEmail"])
        self.cloud_token = self.mint("cloud", scopes=[gs.S_CLOUD_RO])
        now = int(time.time())
        self.refused("unknown account", 400, "invalid_grant", self.assertion(iss="nobody@x.iam.gserviceaccount.com"))
        self.refused("forged signature", 400, "invalid_grant", self.assertion(key=self.other_key))
        self.refused("wrong audience", 400, "invalid_grant", self.assertion(aud="https://oauth2.googleapis.com/token"))
        self.refused("expired", 400, "invalid_grant", self.assertion(iat=now - 7200, exp=now - 3600))
        self.refused("longer than an hour", 400, "invalid_grant", self.assertion(exp=now + 7200))
        self.refused("no scope", 400, "invalid_scope", self.assertion(scopes=[]))
        self.refused("short scope name", 400, "invalid_scope", self.assertion(scopes=["admin.directory.user.readonly"]))
        self.refused("bad grant type", 400, "unsupported_grant_type", self.assertion(), "client_credentials")
        self.refused("scope not delegated", 401, "unauthorized_client",
                     self.assertion(sub=self.admin["primaryEmail"], scopes=[gs.S_USER_RO, gs.AUTH + "gmail.readonly"]))
        self.refused("account not delegated", 401, "unauthorized_client",
                     self.assertion(iss=OUTSIDER, sub=self.admin["primaryEmail"]))
        self.refused("unknown subject", 400, "invalid_grant", self.assertion(sub="nobody@" + d.domain))
        if self.suspended is not None:
            self.refused("suspended subject", 400, "invalid_grant", self.assertion(sub=self.suspended["primaryEmail"]))
        got = self.grant(self.assertion(sub=self.admin["primaryEmail"]))
        body = got.body or {}
        desc = body.get("error_description") if isinstance(body, dict) else None
        self.expect(got.status == 200, "POST /token [fresh assertion]", "status", f"got {got.status}")
        # The refuse_delegation fault refuses assertions with sub, and only those.
        self.api.faults.replace([{"kind": "refuse_delegation", "path_regex": "^/token"}])
        self.refused("refuse_delegation fault", 401, "unauthorized_client", self.assertion(sub=self.admin["primaryEmail"]))
        got = self.grant(self.assertion(scopes=[gs.S_CLOUD]))
        self.expect(got.status == 200, "POST /token [refuse_delegation fault, no sub]", "status",
                    f"an assertion without sub was refused: {got.status} {got.body}")
        self.api.faults.clear()
        got = self.grant(self.assertion(sub=self.admin["primaryEmail"], scopes=[gs.S_USER_RO, gs.AUTH + "drive"]))
        body = got.body if isinstance(got.body, dict) else {}
        self.expect(body.get("error_description") == gs.UNAUTHORIZED_CLIENT, "POST /token [scope not delegated]",
                    "$.error_description", f"not Google's wording: {body.get('error_description')!r} ({desc})")

    # -- Directory ------------------------------------------------------------------------

    def check_users(self) -> None:
        d = self.sc.directory
        every = [u["id"] for u in d.users]
        for size in (3, 500):
            got = self.walk(f"/admin/directory/v1/users?customer=my_customer&maxResults={size}&projection=full"
                            "&viewType=admin_view", "directory.users.list", f"maxResults={size}", "users", limit=size)
            if got is not None:
                ids = [u.get("id") for u in got]
                self.expect(ids == every, "GET directory.users.list", f"[maxResults={size}]",
                            f"pages list {len(ids)} users ({len(set(ids))} distinct); expected each of the "
                            f"{len(every)} once, in id order")
        got = self.walk(f"/admin/directory/v1/users?customer={d.customer_id}&orderBy=email&maxResults=7",
                        "directory.users.list", "orderBy=email", "users", limit=7)
        if got is not None:
            emails = [u.get("primaryEmail", "").lower() for u in got]
            self.expect(emails == sorted(u["primaryEmail"].lower() for u in d.users), "GET directory.users.list",
                        "[orderBy=email]", "not every user in email order")
        for domain in d.domains:
            got = self.walk(f"/admin/directory/v1/users?domain={domain}", "directory.users.list", f"domain={domain}",
                            "users")
            if got is not None:
                want = [u["id"] for u in d.users if u["primaryEmail"].lower().endswith("@" + domain)]
                self.expect([u.get("id") for u in got] == want, "GET directory.users.list", f"[domain={domain}]",
                            f"expected the {len(want)} users of {domain}")
        body = self.get("/admin/directory/v1/users?customer=my_customer&maxResults=2&fields=" +
                        quote("nextPageToken,users(id,primaryEmail)"), "directory.users.list", "fields",
                        variant="partial")
        if body is not None:
            keys = {k for u in body.get("users", []) for k in u}
            self.expect(keys <= {"id", "primaryEmail"} and set(body) <= {"users", "nextPageToken"},
                        "GET directory.users.list [fields]", "$", f"fields not applied: {sorted(set(body))} {sorted(keys)}")
        # Queries.
        queries: list[tuple[str, list[str]]] = [("externalId:C-9931", [u["id"] for u in d.users if any(
            x["value"].lower() == "c-9931" for x in u["externalIds"])]),
            ("isSuspended=true", [u["id"] for u in d.users if u["suspended"]]),
            ("isSuspended=false", [u["id"] for u in d.users if not u["suspended"]])]
        with_ext = [u for u in d.users if u["externalIds"]]
        for u in with_ext[:: max(1, len(with_ext) // 25)]:
            v = u["externalIds"][0]["value"]
            queries.append((f"externalId:{v}", [x["id"] for x in d.by_external[v.lower()]]))
        for u in d.users[:: max(1, len(d.users) // 25)]:
            for addr in [u["primaryEmail"]] + u["aliases"]:
                queries.append((f"email:{addr.upper()}", [u["id"]]))
        for q, want in queries:
            got = self.walk(f"/admin/directory/v1/users?customer=my_customer&query={quote(q, safe='')}",
                            "directory.users.list", f"query={q}", "users")
            if got is not None:
                self.expect([u.get("id") for u in got] == want, "GET directory.users.list", f"[query={q}]",
                            f"listed {[u.get('id') for u in got][:5]}, expected {want[:5]}")
        # users.get by id, primary email, alias (case changed).
        for u in d.users:
            keys = [u["id"], u["primaryEmail"]] + [a.swapcase() for a in u["aliases"]]
            for key in keys:
                body = self.get(f"/admin/directory/v1/users/{quote(key, safe='@')}", "directory.users.get", key)
                if body is None:
                    continue
                want = {"id": u["id"], "primaryEmail": u["primaryEmail"], "suspended": u["suspended"],
                        "archived": u["archived"], "isAdmin": u["isAdmin"], "lastLoginTime": u["lastLoginTime"],
                        "orgUnitPath": u["orgUnitPath"], "customerId": d.customer_id}
                wrong = {k: body.get(k) for k, v in want.items() if body.get(k) != v}
                self.expect(not wrong, f"GET directory.users.get [{key}]", "$", f"not the scenario's user: {wrong}")
        if d.users:
            u = d.users[0]
            body = self.get(f"/admin/directory/v1/users/{u['id']}?viewType=domain_public", "directory.users.get",
                            "viewType=domain_public", variant="public")
            if body is not None:
                self.expect("suspended" not in body and "lastLoginTime" not in body,
                            "GET directory.users.get [domain_public]", "$", "admin fields served in the public view")

    def check_security(self) -> None:
        d = self.sc.directory
        for u in d.users:
            body = self.get(f"/admin/directory/v1/users/{u['id']}/tokens", "directory.tokens.list", u["primaryEmail"])
            if body is not None:
                got = [(t.get("clientId"), t.get("userKey")) for t in body.get("items", [])]
                self.expect(got == [(t["clientId"], u["id"]) for t in u["tokens"]],
                            f"GET directory.tokens.list [{u['primaryEmail']}]", "$.items", f"tokens {got}")
                if "items" in body:
                    self.expect(bool(body["items"]), f"GET directory.tokens.list [{u['primaryEmail']}]", "$.items",
                                "an empty items list is sent; Google omits it")
            body = self.get(f"/admin/directory/v1/users/{quote(u['primaryEmail'])}/asps", "directory.asps.list",
                            u["primaryEmail"])
            if body is not None:
                got = [(a.get("codeId"), a.get("lastTimeUsed")) for a in body.get("items", [])]
                self.expect(got == [(a["codeId"], a["lastTimeUsed"]) for a in u["asps"]],
                            f"GET directory.asps.list [{u['primaryEmail']}]", "$.items", f"asps {got}")

    def check_roles(self) -> None:
        d = self.sc.directory
        base = f"/admin/directory/v1/customer/my_customer/roleassignments"
        every = [a["roleAssignmentId"] for a in d.assignments]
        got = self.walk(f"{base}?maxResults=2", "directory.roleAssignments.list", "all, maxResults=2", "items", limit=2)
        if got is not None:
            self.expect([a.get("roleAssignmentId") for a in got] == every, "GET directory.roleAssignments.list",
                        "[all]", f"listed {len(got)}, expected the scenario's {len(every)} assignments")
        for u in d.users:
            direct = [a["roleAssignmentId"] for a in sorted(u["assignments"], key=lambda a: int(a["roleAssignmentId"]))]
            both = sorted(direct + [a["roleAssignmentId"] for g in u["groups"] for a in g.get("assignments", [])],
                          key=int)
            for indirect, want in ((False, direct), (True, both)):
                label = f"userKey={u['primaryEmail']}" + (", indirect" if indirect else "")
                got = self.walk(f"{base}?userKey={quote(u['primaryEmail'])}"
                                + ("&includeIndirectRoleAssignments=true" if indirect else ""),
                                "directory.roleAssignments.list", label, "items")
                if got is not None:
                    self.expect([a.get("roleAssignmentId") for a in got] == want, "GET directory.roleAssignments.list",
                                f"[{label}]", f"listed {[a.get('roleAssignmentId') for a in got]}, expected {want}")
        for r in d.roles[:3]:
            got = self.walk(f"/admin/directory/v1/customer/{d.customer_id}/roleassignments?roleId={r['roleId']}",
                            "directory.roleAssignments.list", f"roleId={r['roleName']}", "items")
            if got is not None:
                want = [a["roleAssignmentId"] for a in d.assignments if a["roleId"] == r["roleId"]]
                self.expect([a.get("roleAssignmentId") for a in got] == want, "GET directory.roleAssignments.list",
                            f"[roleId={r['roleName']}]", "not the assignments of that role")
        for size in (2, 100):
            got = self.walk(f"/admin/directory/v1/customer/my_customer/roles?maxResults={size}", "directory.roles.list",
                            f"maxResults={size}", "items", limit=size)
            if got is not None:
                self.expect([r.get("roleId") for r in got] == [r["roleId"] for r in d.roles],
                            "GET directory.roles.list", f"[maxResults={size}]", "not the scenario's roles")
                seed = [r.get("roleName") for r in got if r.get("isSuperAdminRole")]
                self.expect(seed == ["_SEED_ADMIN_ROLE"], "GET directory.roles.list", "$.items[].isSuperAdminRole",
                            f"super admin roles {seed}")

    # -- Cloud ----------------------------------------------------------------------------

    def check_cloud(self) -> None:
        c = self.sc.cloud
        tok = self.cloud_token
        scopes = [c.org] + [f"folders/{f}" for f in c.folders] + [f"projects/{p}" for p in c.projects]
        scopes += [f"projects/{p['number']}" for p in list(c.projects.values())[:3]]
        for scope in scopes:
            want = [p["resource"] for p in c.policies if scope in p["ancestors"]]
            for size in ((2, 500) if scope == c.org else (500,)):
                got = self.walk(f"/v1/{scope}:searchAllIamPolicies?pageSize={size}", "cloudasset.searchAllIamPolicies",
                                f"{scope}, pageSize={size}", "results", tok, limit=size)
                if got is not None:
                    self.expect([r.get("resource") for r in got] == want, "GET cloudasset.searchAllIamPolicies",
                                f"[{scope}, pageSize={size}]", f"listed {len(got)} policies, expected {len(want)}")
            want = [r["body"]["name"] for r in c.resources if scope in r["ancestors"]]
            for size in ((2, 500) if scope == c.org else (500,)):
                got = self.walk(f"/v1/{scope}:searchAllResources?pageSize={size}", "cloudasset.searchAllResources",
                                f"{scope}, every type, pageSize={size}", "results", tok, limit=size)
                if got is not None:
                    self.expect([r.get("name") for r in got] == want, "GET cloudasset.searchAllResources",
                                f"[{scope}, pageSize={size}]", f"listed {len(got)} resources, expected {len(want)}")
        for size in (2, 500):
            got = self.walk(f"/v1/{c.org}:searchAllResources?assetTypes={quote(gs.T_SA)}&pageSize={size}",
                            "cloudasset.searchAllResources", f"service accounts, pageSize={size}", "results", tok,
                            limit=size)
            if got is not None:
                emails = sorted((r.get("additionalAttributes") or {}).get("email", "") for r in got)
                self.expect(emails == [a["email"] for a in c.accounts], "GET cloudasset.searchAllResources",
                            f"[assetTypes={gs.T_SA}]", f"listed {len(got)}, expected {len(c.accounts)} service accounts")
        members = sorted({m for p in c.policies for b in p["bindings"] for m in b["members"]})
        for m in members[:: max(1, len(members) // 40)]:
            got = self.walk(f"/v1/{c.org}:searchAllIamPolicies?query={quote('policy:' + chr(34) + m + chr(34))}",
                            "cloudasset.searchAllIamPolicies", f"policy:{m}", "results", tok)
            if got is not None:
                want = [p["resource"] for p in c.policies if any(m.lower() in x.lower() for b in p["bindings"]
                                                                 for x in b["members"] + [b["role"]])]
                ok = [r.get("resource") for r in got] == want and all(
                    any(m.lower() in x.lower() for x in b.get("members", []) + [b.get("role", "")])
                    for r in got for b in r.get("policy", {}).get("bindings", []))
                self.expect(ok, "GET cloudasset.searchAllIamPolicies", f"[policy:{m}]",
                            "not exactly the policies and bindings naming the member")
        got = self.walk(f"/v1/{c.org}:searchAllIamPolicies?query=memberTypes%3Auser", "cloudasset.searchAllIamPolicies",
                        "memberTypes:user", "results", tok)
        if got is not None:
            bad = [b for r in got for b in r.get("policy", {}).get("bindings", [])
                   if not any(x.startswith("user:") for x in b.get("members", []))]
            self.expect(not bad, "GET cloudasset.searchAllIamPolicies", "[memberTypes:user]",
                        f"bindings without a user member: {bad[:2]}")
        for a in c.accounts:
            p = c.projects[a["project"]]
            for target, label in ((f"/v1/projects/-/serviceAccounts/{a['email']}/keys", a["email"]),
                                  (f"/v1/projects/{p['id']}/serviceAccounts/{a['uniqueId']}/keys", a["uniqueId"]),
                                  (f"/v1/projects/-/serviceAccounts/{a['email']}/keys?keyTypes=USER_MANAGED",
                                   f"{a['email']}, USER_MANAGED")):
                body = self.get(target, "iam.projects.serviceAccounts.keys.list", label, tok)
                if body is None:
                    continue
                only_user = "USER_MANAGED" in target
                want = [f"projects/{a['project']}/serviceAccounts/{a['email']}/keys/{k['id']}" for k in a["keys"]
                        if not only_user or k["keyType"] == "USER_MANAGED"]
                keys = body.get("keys", [])
                self.expect([k.get("name") for k in keys] == want, "GET iam.projects.serviceAccounts.keys.list",
                            f"[{label}]", f"keys {[k.get('name') for k in keys]}, expected {want}")
                leaked = [k.get("name") for k in keys if "privateKeyData" in k or "publicKeyData" in k]
                self.expect(not leaked, "GET iam.projects.serviceAccounts.keys.list", f"[{label}]",
                            f"key material served: {leaked}")

    # -- errors and faults ------------------------------------------------------------------

    def check_errors(self) -> None:
        d, c = self.sc.directory, self.sc.cloud
        admin = quote(self.admin["primaryEmail"])
        acct = c.accounts[0] if c.accounts else None
        targets = [("/admin/directory/v1/users?customer=my_customer", "directory"),
                   (f"/admin/directory/v1/users/{admin}/tokens", "directory"),
                   (f"/v1/{c.org}:searchAllIamPolicies", "cloudasset")]
        if acct:
            targets.append((f"/v1/projects/-/serviceAccounts/{acct['email']}/keys", "iam"))
        for target, api in targets:
            self.error("GET", target, 401, "no token", None, "required" if api == "directory" else None)
            self.error("GET", target, 401, "bad token", "ya29.not-a-token", "authError" if api == "directory" else None)
        # Scopes: a delegated token without user.security; a Cloud token on the Directory API.
        narrow = self.mint("user.readonly only", sub=self.admin["primaryEmail"], scopes=[gs.S_USER_RO])
        self.error("GET", f"/admin/directory/v1/users/{admin}/tokens", 403, "missing scope", narrow,
                   "insufficientPermissions")
        self.error("GET", f"/admin/directory/v1/customer/my_customer/roles", 403, "missing scope", narrow,
                   "insufficientPermissions")
        self.error("GET", f"/v1/{c.org}:searchAllIamPolicies", 403, "missing scope", narrow, api="cloudasset")
        no_sub = self.mint("cloud-platform, no subject", scopes=[gs.S_CLOUD])
        self.error("GET", "/admin/directory/v1/users?customer=my_customer", 403, "no subject", no_sub, "forbidden")
        if self.nobody is not None:
            tok = self.mint("subject without admin rights", sub=self.nobody["primaryEmail"])
            self.error("GET", "/admin/directory/v1/users?customer=my_customer", 403, "no admin rights", tok, "forbidden")
        if self.scoped is not None:
            rights = d.rights(self.scoped)
            tok = self.mint("org-unit scoped subject", sub=self.scoped["primaryEmail"])
            want = [u["id"] for u in d.visible(rights)]
            got = self.walk("/admin/directory/v1/users?customer=my_customer&maxResults=3", "directory.users.list",
                            f"subject {self.scoped['primaryEmail']}", "users", tok)
            if got is not None:
                self.expect([u.get("id") for u in got] == want and len(want) < len(d.users),
                            "GET directory.users.list", f"[subject {self.scoped['primaryEmail']}]",
                            f"listed {len(got)}, expected only the {len(want)} users of {list(rights[1])}")
            outside = next((u for u in d.users if not d.sees(rights, u)), None)
            inside = next((u for u in d.users if d.sees(rights, u)), None)
            if outside:
                self.error("GET", f"/admin/directory/v1/users/{outside['id']}", 403, "another org unit", tok, "forbidden")
                self.error("GET", f"/admin/directory/v1/users/{outside['id']}/tokens", 403, "another org unit", tok,
                           "forbidden")
            if inside:
                self.get(f"/admin/directory/v1/users/{inside['id']}", "directory.users.get", "org-unit scoped", tok)
            self.error("GET", "/admin/directory/v1/customer/my_customer/roleassignments", 403, "org-unit scoped", tok,
                       "forbidden")
        else:
            self.fail("GET directory.users.list [org-unit scoped]", "$", "the scenario has no ORG_UNIT-scoped admin")
        outsider = self.mint("not a Cloud viewer", iss=OUTSIDER, scopes=[gs.S_CLOUD])
        self.error("GET", f"/v1/{c.org}:searchAllIamPolicies", 403, "not a viewer", outsider, api="cloudasset")
        self.error("GET", f"/v1/{c.org}:searchAllResources", 403, "not a viewer", outsider, api="cloudasset")
        if acct:
            self.error("GET", f"/v1/projects/-/serviceAccounts/{acct['email']}/keys", 403, "not a viewer", outsider,
                       api="iam")
        self.error("GET", "/v1/organizations/999999999999:searchAllIamPolicies", 403, "another organization",
                   self.cloud_token)
        # 404s and 400s.
        self.error("GET", "/admin/directory/v1/users/nobody@" + d.domain, 404, "unknown user", self.dwd, "notFound")
        self.error("GET", "/admin/directory/v1/users/nobody@" + d.domain + "/asps", 404, "unknown user", self.dwd,
                   "notFound")
        self.error("GET", "/v1/projects/-/serviceAccounts/nobody@x.iam.gserviceaccount.com/keys", 404,
                   "unknown service account", self.cloud_token)
        self.error("GET", "/admin/directory/v1/users?customer=my_customer&query=" + quote("favouriteColour:blue"), 400,
                   "bad query", self.dwd, "invalid")
        self.error("GET", "/admin/directory/v1/users?customer=my_customer&maxResults=501", 400, "maxResults=501",
                   self.dwd, "invalidParameter")
        self.error("GET", "/admin/directory/v1/users", 400, "no customer", self.dwd, "badRequest")
        self.error("GET", "/admin/directory/v1/users?customer=my_customer&pageToken=bogus", 400, "bad page token",
                   self.dwd)
        self.error("GET", f"/v1/{c.org}:searchAllIamPolicies?query=" + quote("policy:x OR policy:y"), 400, "OR",
                   self.cloud_token)
        self.error("GET", f"/v1/{c.org}:searchAllIamPolicies?colour=blue", 400, "unknown parameter", self.cloud_token)
        # Writes are refused.
        self.error("POST", "/admin/directory/v1/users", 405, "write", self.dwd, "httpMethodNotAllowed")
        self.error("DELETE", f"/admin/directory/v1/users/{admin}/tokens", 405, "write", self.dwd)
        if acct:
            self.error("DELETE", f"/v1/projects/-/serviceAccounts/{acct['email']}/keys", 405, "write", self.cloud_token,
                       api="iam")
        got = self.call("GET", "/v1/nothing/here", self.dwd)
        self.expect(got.status == 404 and got.headers.get("content-type", "").startswith("text/html"),
                    "GET /v1/nothing/here", "status", f"an unknown path: expected Google's HTML 404, got {got.status}")

    def check_faults(self) -> None:
        c = self.sc.cloud
        acct = c.accounts[0] if c.accounts else None
        admin = quote(self.admin["primaryEmail"])
        cases = [(f"/admin/directory/v1/users/{admin}", self.dwd, 403, "userRateLimitExceeded", "directory"),
                 (f"/v1/{c.org}:searchAllResources", self.cloud_token, 429, None, "cloudasset")]
        if acct:
            cases.append((f"/v1/projects/-/serviceAccounts/{acct['email']}/keys", self.cloud_token, 429, None, "iam"))
        for target, tok, status, reason, api in cases:
            self.api.faults.replace([{"kind": "quota", "times": 1}])
            body = self.error("GET", target, status, "quota fault", tok, reason, api=api)
            if body and api == "directory":
                domains = [x.get("domain") for x in body["error"].get("errors", [])]
                self.expect(domains == ["usageLimits"], f"GET {target} [quota fault]", "$.error.errors[0].domain",
                            f"expected usageLimits, got {domains}")
            got = self.call("GET", target, tok)
            self.expect(got.status == 200, f"GET {target} [quota fault]", "status", f"the fault fired twice: {got.status}")
            self.expect("retry-after" not in got.headers, f"GET {target} [quota fault]", "headers.Retry-After",
                        "Google sends no Retry-After")
            self.api.faults.replace([{"kind": "status", "status": 503, "times": 1}])
            self.error("GET", target, 503, "status fault", tok, "backendError" if api == "directory" else None, api=api)
            self.api.faults.replace([{"kind": "garbage", "times": 1}])
            got = self.call("GET", target, tok)
            try:
                json.loads(got.raw)
                garbled = False
            except ValueError:
                garbled = True
            self.expect(got.status == 200 and garbled, f"GET {target} [garbage fault]", "$",
                        f"expected 200 and a truncated body, got {got.status}")
            self.api.faults.replace([{"kind": "hang", "times": 1, "delay_seconds": 7}])
            got = self.call("GET", target, tok)
            self.expect(got.hang == 7 and got.raw == b"" and got.status == 0, f"GET {target} [hang fault]", "$",
                        f"expected a held connection of 7 s, got hang={got.hang}")
        self.api.faults.clear()
        # A spent --rate-limit: 403 userRateLimitExceeded on the Directory API, 429 on Cloud.
        saved = self.api.rate_limit
        self.api.rate_limit = 2
        try:
            with self.api.lock:
                self.api.windows.clear()
            for target, tok, status, reason, api in cases:
                for _ in range(2):
                    self.call("GET", target, tok)
                self.error("GET", target, status, "rate limit", tok, reason, api=api)
        finally:
            self.api.rate_limit = saved
            with self.api.lock:
                self.api.windows.clear()

    def check_route_table(self) -> None:
        for r in gs.ROUTES:
            if not r.method_id:
                continue
            endpoint = f"route {r.template}"
            try:
                api, m = self.schemas.method(r.method_id)
            except KeyError:
                self.fail(endpoint, "$", f"the subset has no method {r.method_id}")
                continue
            missing = sorted(set(m.get("scopes", [])) - set(r.scopes))
            self.expect(not missing, endpoint, "scopes", f"refuses scopes the method accepts: {missing}")
            declared = {k for k, p in (m.get("parameters") or {}).items() if p.get("location") == "query"}
            self.expect(declared == set(r.params), endpoint, "parameters",
                        f"server {sorted(r.params)} vs discovery {sorted(declared)}")
            flat = "/" + re.sub(r"\{[^}]+\}", "{}", m.get("flatPath") or m["path"])
            mine = re.sub(r"\{[^}]+\}", "{}", r.template)
            if r.api == "cloudasset":
                flat = flat.replace("{}/{}", "{}")
            self.expect(flat == mine, endpoint, "path", f"discovery flatPath {m.get('flatPath')} vs {r.template}")
            self.expect(m.get("httpMethod") == r.http_method, endpoint, "httpMethod", f"discovery {m.get('httpMethod')}")
            system = set(self.schemas.subset["apis"][api]["parameters"])
            self.expect(system == set(gs.SYSTEM_PARAMS), endpoint, "system parameters",
                        f"discovery {sorted(system)} vs server {sorted(gs.SYSTEM_PARAMS)}")
            # Integer parameters: the discovery range is the server's (the maximum answers, one more is 400).
            for name, p in (m.get("parameters") or {}).items():
                if p.get("location") != "query" or p.get("type") != "integer" or "maximum" not in p:
                    continue
                base = self.sample_target(r)
                top = int(p["maximum"])
                for value, status in ((top, 200), (top + 1, 400), (int(p.get("minimum", 1)) - 1, 400)):
                    target = re.sub(rf"[?&]{name}=\d+", "", base)
                    target += ("&" if "?" in target else "?") + f"{name}={value}"
                    got = self.call("GET", target, self.dwd if r.api == "directory" else self.cloud_token)
                    self.expect(got.status == status, endpoint, f"parameters.{name}",
                                f"{name}={value} answered {got.status}, expected {status} (discovery range "
                                f"{p.get('minimum')}..{p['maximum']})")
            # Every scope the discovery method accepts works on the server.
            for scope in m.get("scopes", []):
                if r.api == "directory":
                    tok = self.mint(f"scope {scope}", sub=self.admin["primaryEmail"], scopes=[scope])
                else:
                    tok = self.mint(f"scope {scope}", scopes=[scope])
                target = self.sample_target(r)
                got = self.call("GET", target, tok)
                self.expect(got.status == 200, endpoint, f"scope {scope}",
                            f"a token with only this scope got {got.status}: {str(got.body)[:160]}")

    def sample_target(self, r: gs.Route) -> str:
        admin = quote(self.admin["primaryEmail"])
        c = self.sc.cloud
        acct = c.accounts[0]["email"] if c.accounts else "x@y"
        return {"directory.users.list": "/admin/directory/v1/users?customer=my_customer&maxResults=1",
                "directory.users.get": f"/admin/directory/v1/users/{admin}",
                "directory.tokens.list": f"/admin/directory/v1/users/{admin}/tokens",
                "directory.asps.list": f"/admin/directory/v1/users/{admin}/asps",
                "directory.roleAssignments.list": "/admin/directory/v1/customer/my_customer/roleassignments",
                "directory.roles.list": "/admin/directory/v1/customer/my_customer/roles",
                "cloudasset.searchAllIamPolicies": f"/v1/{c.org}:searchAllIamPolicies?pageSize=1",
                "cloudasset.searchAllResources": f"/v1/{c.org}:searchAllResources?pageSize=1",
                "iam.projects.serviceAccounts.keys.list": f"/v1/projects/-/serviceAccounts/{acct}/keys"}[r.method_id]

    def run(self) -> None:
        self.check_tokens()
        if not self.dwd or not self.cloud_token:
            return
        self.check_route_table()
        self.check_users()
        self.check_security()
        self.check_roles()
        self.check_cloud()
        self.check_errors()
        self.check_faults()
        for r in gs.ROUTES:
            if r.method_id and (r.method_id, "") not in self.validated:
                self.fail(f"GET {r.method_id}", "$", "no body of this method was validated")

    # -- self test -----------------------------------------------------------------------------

    def run_self_test(self) -> None:
        for (method_id, variant), bodies in sorted(self.samples.items()):
            endpoint = f"GET {method_id} [self-test{', ' + variant if variant else ''}]"
            v, root = self.schemas.validator(method_id, variant)
            breaker = Breaker(root)
            seen: set[tuple[str, str]] = set()
            mutations: list[tuple[Mutation, Any]] = []
            for body in bodies:
                for m in breaker.find(body):
                    if (m.kind, m.where) not in seen:
                        seen.add((m.kind, m.where))
                        mutations.append((m, body))
            if not mutations:
                self.fail(endpoint, "$", "found no field the schema constrains: the check cannot fail")
                continue
            kinds = {m.kind for m, _ in mutations}
            for must in ("undeclared property added", "string made an integer"):
                if self.schemas.strict or must != "undeclared property added":
                    self.expect(must in kinds, endpoint, "$", f"no sample let the self-test try: {must}")
            for m, body in mutations:
                broken = apply_mutation(body, m)
                where = json_path(m.path + ([UNDECLARED] if m.kind == "undeclared property added" else []))
                self.expect(next(v.iter_errors(broken), None) is not None, endpoint, where,
                            f"{m.kind} ({m.where}), and the broken copy still validates: the check cannot fail")
        for method_id in sorted({m for m, _ in self.validated} - {m for m, _ in self.samples}):
            self.fail(f"GET {method_id} [self-test]", "$", "no non-empty body was validated: nothing to break")
        self.self_test_hand()

    def self_test_hand(self) -> None:
        endpoint = "User [self-test, hand checks]"
        sample = next((u for u in self.user_samples if u.get("externalIds") and u.get("emails")), None)
        if sample is None:
            self.fail(endpoint, "$", "no user with emails and externalIds was checked: nothing to break")
        else:
            breaks = {
                "$.emails": lambda u: u.update(emails="x@y"),
                "$.emails[0].address": lambda u: u["emails"][0].update(address=12345),
                "$.emails[0].primary": lambda u: u["emails"][0].update(primary="true"),
                "$.emails (no primary)": lambda u: u.update(emails=[{"address": u["primaryEmail"]}]),
                "$.externalIds": lambda u: u.update(externalIds={"value": "x"}),
                "$.externalIds[0].value": lambda u: u["externalIds"][0].update(value=1042),
                "$.externalIds[0] (extra key)": lambda u: u["externalIds"][0].update(id="x"),
                "$.lastLoginTime": lambda u: u.update(lastLoginTime=u["lastLoginTime"][:19] + "Z"),
                "$.creationTime": lambda u: u.update(creationTime="2026-11-20"),
            }
            for where, brk in breaks.items():
                broken = copy.deepcopy(sample)
                brk(broken)
                self.expect(bool(user_problems(broken)), endpoint, where, "a broken user passes the hand check")
        endpoint = "error body [self-test]"
        if not self.error_samples:
            self.fail(endpoint, "$", "no error body was checked: nothing to break")
        kinds_done: set[tuple[int, str | None]] = set()
        for label, status, api, body in self.error_samples:
            if (status, api) in kinds_done:
                continue
            kinds_done.add((status, api))
            breaks = {"$.error.code (string)": lambda b: b["error"].update(code=str(status)),
                      "$.error.code (other)": lambda b: b["error"].update(code=status + 1),
                      "$.error.message": lambda b: b["error"].pop("message"),
                      "$.error (undeclared)": lambda b: b["error"].update(kind="error"),
                      "$ (not wrapped)": lambda b: b.update(b.pop("error"))}
            if "status" in body["error"]:
                breaks["$.error.status"] = lambda b: b["error"].update(status="NOT_A_STATUS")
            if api == "directory":
                breaks["$.error.errors"] = lambda b: b["error"].pop("errors")
                breaks["$.error.errors[0].reason"] = lambda b: b["error"]["errors"][0].pop("reason")
            for where, brk in breaks.items():
                broken = copy.deepcopy(body)
                brk(broken)
                self.expect(bool(error_problems(broken, status, api)), f"{label} [self-test]", where,
                            "a broken error body passes the hand check")
        endpoint = "POST /token [self-test]"
        if not self.token_samples or not self.oauth_error_samples:
            self.fail(endpoint, "$", "no token answer or OAuth error was checked: nothing to break")
            return
        sample = self.token_samples[0]
        for key, bad in (("expires_in", "3599"), ("expires_in", 7200), ("token_type", "bearer"),
                         ("access_token", 12345), ("scope", "x")):
            self.expect(bool(token_problems(dict(sample, **{key: bad}))), endpoint, f"$.{key}",
                        "a broken token answer passes the hand check")
        self.expect(bool(token_problems({k: v for k, v in sample.items() if k != "expires_in"})), endpoint,
                    "$.expires_in", "a token answer without expires_in passes the hand check")
        err = self.oauth_error_samples[0]
        for broken in ({"error": err["error"]}, dict(err, error=400), dict(err, error_description=""),
                       dict(err, error_uri="x")):
            self.expect(bool(oauth_error_problems(broken)), endpoint, "$", f"a broken OAuth error passes: {broken}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--scenario", help=f"scenario JSON file (default {DEFAULT_SCENARIO.relative_to(ROOT)})")
    src.add_argument("--generate-scale", metavar="USERS:LEAVERS:PROJECTS", help="check a generated scenario instead")
    src.add_argument("--write-subset-from", metavar="DIR",
                     help=f"extract what the server needs from the discovery documents in DIR into "
                          f"{SUBSET.relative_to(ROOT)} and exit")
    ap.add_argument("--seed", type=int, default=7, help="seed of --generate-scale (default 7)")
    ap.add_argument("--self-test", action="store_true", help="also prove the checks reject broken bodies")
    ap.add_argument("--allow-undeclared", action="store_true",
                    help="allow properties the schema does not declare (as the discovery documents do)")
    args = ap.parse_args(argv)
    if args.write_subset_from:
        write_subset(Path(args.write_subset_from), SUBSET)
        return 0
    try:
        if args.generate_scale:
            raw = gs.generate(*gs.parse_scale(args.generate_scale), seed=args.seed)
        else:
            raw = json.loads(Path(args.scenario or DEFAULT_SCENARIO).read_text(encoding="utf-8"))
        checker = Checker(raw, Schemas(SUBSET, strict=not args.allow_undeclared))
    except (OSError, ValueError) as exc:
        print(f"google_schema_check: {exc}", file=sys.stderr)
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
