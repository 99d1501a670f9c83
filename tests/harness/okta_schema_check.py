#!/usr/bin/env python3
"""Check that what okta_server.py serves matches Okta's published OpenAPI description.

Usage:
    python tests/harness/okta_schema_check.py [--scenario FILE.json] [--self-test] [--allow-undeclared]
    python tests/harness/okta_schema_check.py --generate-scale 2000:50 [--seed 7] [--self-test]
    python tests/harness/okta_schema_check.py --write-subset-from management-2026.06.3.yaml
                                                                  (regenerates the fixture)

Nothing is opened on the network: the server module is imported and `OktaApi.handle` is called
in-process, exactly as the HTTP server calls it. The scenario (fixtures/okta/scenario-main.json
unless told otherwise) is served to an SSWS token of one of its SUPER_ADMIN users, and every body
is validated with `jsonschema` against the matching response of fixtures/okta/openapi-subset.json,
and only that file: /api/v1/users/me and every user by id; every page of /api/v1/users (followed
through the Link header's rel="next", with limit=3 and with the default limit), its
`filter=status eq "DEPROVISIONED"` and case-insensitive `search` forms; the roles and app links of
every user; the groups (the built-in Everyone with `expand=stats`); every user's groups
(listUserGroups, `/api/v1/users/{id}/groups`: whole, by login, and page by page with limit=1);
the API tokens; a service app's roles. Besides the shapes, the contents must be the scenario's:
pages together list exactly the non-deprovisioned users in id order, the filter exactly the
deprovisioned ones, a search includes deprovisioned users, Everyone counts the non-deprovisioned
users; a user's groups are Everyone then the scenario's groups of the user, each the object
/api/v1/groups lists, and the memberships of the non-deprovisioned users add up to every
group's `expand=stats` count. A scoped admin (a role with group targets) gets 404 for a user it
cannot see and only its targeted groups (no Everyone) for one it can; listUserGroups needs the
`okta.users.read` scope (not `okta.groups.read`) and has a rate-limit bucket apart from the
user-by-id one.

Error bodies are validated too, against each operation's documented 403, 404 and 429 responses
(a READ_ONLY_ADMIN listing API tokens, a service-app token without the scope, an unknown user or
client, a user a scoped admin or a role-less service app cannot see, a `rate_limit` fault). The
description documents no 401 for these operations; the 401 body Okta sends for a bad token
(`E0000011`) is the same `Error` object, so 401 bodies are validated against
`#/components/schemas/Error` directly.

`POST /oauth2/v1/token` is not part of the Management API description: a service app's token
(client credentials with a `private_key_jwt` client assertion this script signs with a fresh
RSA key) is checked by hand — `{token_type: "Bearer", expires_in: int, access_token: str,
scope: str}`, errors `{error, error_description}` — and so are a replayed `jti` (401
invalid_client) and Okta's silent-empty trap (a service app without an admin role gets 200 and
`[]` from /api/v1/users and /api/v1/groups). The two service apps are the scenario's
`0oa1residualsvc0001` (READ_ONLY_ADMIN) and `0oa1noroles00000001` (no role); a scenario without
them (a generated one) gets them added. Response headers are checked by hand on every reply:
`Content-Type: application/json`, integer `X-Rate-Limit-Limit`, `-Remaining` and `-Reset`, and
Link parts `<URL>; rel="self"|"next"` with URLs under the base URL.

The subset is OpenAPI 3.0; before validation it is translated to JSON Schema draft 7 and its
components are embedded in each root schema, so `#/components/...` references resolve as they
are. `nullable: true` adds "null"; OpenAPI-only keywords (example, readOnly, writeOnly, xml,
externalDocs, deprecated, x-...) are dropped; a `oneOf` with a `discriminator` (role lists:
StandardRole or CustomRole by `type`) becomes an if/then per mapped value, since both branches
would otherwise match and `oneOf` fail. Formats date-time (RFC 3339), email and uri are checked.

By default the check is stricter than the schema: an object with `properties` and no
`additionalProperties` gets `additionalProperties: false`, so a misspelt field (`last_login` for
`lastLogin`) fails instead of passing silently. Not so for the branches of an `allOf`, whose
properties combine: there the combined object may carry only names some branch declares
(`propertyNames`), unless a branch is open. Schemas that say `additionalProperties: true`
(`UserProfile`, `HrefObject`) stay open. --allow-undeclared turns the strictness off.

Two errata in Okta's description are corrected in memory (the fixture stays as published):
`TimeDuration`'s pattern reads `^P(?:$)...(T(?:\\d)...`, which only "P" can match, where the
lookaheads `(?!$)` and `(?=\\d)` are meant (Okta's API tokens carry `tokenWindow: "P30D"`);
and Group `_embedded.stats` spells `hasAdminPrivlege` where the API sends `hasAdminPrivilege`
(both names are accepted).

--self-test then breaks each validated sample body, one field at a time, in every way the
description rules out — an integer made a string, a string made an integer, a required
property dropped, an undeclared property added where strict — and requires the validator to
reject each broken copy (and the hand check to reject a broken token answer), proving the check
can fail. An endpoint with nothing to break is a failure.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote, urlencode, urlsplit

from jsonschema import Draft7Validator, FormatChecker

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import okta_server as osv  # noqa: E402  (the module under test sits beside this file)

ROOT = HERE.parent.parent
SUBSET = ROOT / "fixtures" / "okta" / "openapi-subset.json"
DEFAULT_SCENARIO = ROOT / "fixtures" / "okta" / "scenario-main.json"
SPEC_VERSION = "2026.06.3"

# The GET operations the server implements, as the description spells their paths, with the
# statuses kept in the subset: the paths --write-subset-from keeps (add a path here, then
# regenerate the fixture).
OPERATIONS: list[tuple[str, list[str]]] = [
    ("/api/v1/users", ["200", "403", "429"]),
    ("/api/v1/users/{id}", ["200", "403", "404", "429"]),
    ("/api/v1/users/{userId}/roles", ["200", "403", "404", "429"]),
    ("/api/v1/users/{id}/appLinks", ["200", "403", "404", "429"]),
    ("/api/v1/users/{id}/groups", ["200", "403", "404", "429"]),
    ("/api/v1/groups", ["200", "403", "429"]),
    ("/api/v1/api-tokens", ["200", "403", "429"]),
    ("/oauth2/v1/clients/{clientId}/roles", ["200", "403", "404", "429"]),
]
# The server's route templates where the description names the path parameter differently.
SPEC_PATH = {"/api/v1/users/{id}/roles": "/api/v1/users/{userId}/roles"}
ERROR_REF = "#/components/schemas/Error"
LAX = "laxSchemas"  # where the non-strict copies of components sit, beside "schemas"

OPENAPI_ONLY = {"example", "examples", "xml", "externalDocs", "readOnly", "writeOnly", "deprecated",
                "discriminator", "nullable"}
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
LINK_PART = re.compile(r'^<(?P<url>[^>]+)>; rel="(?P<rel>self|next)"$')
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALL_SCOPES = "okta.users.read okta.apps.read okta.roles.read okta.apiTokens.read okta.groups.read"
# Service apps the checker logs in as; added to a scenario that does not declare them.
CLIENT_ADMIN = "0oa1residualsvc0001"
CLIENT_NO_ROLES = "0oa1noroles00000001"

# Erratum: TimeDuration's published pattern (only "P" matches it) and the one Okta means.
PUBLISHED_DURATION = r"^P(?:$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?:\d)(\d+H)?(\d+M)?(\d+S)?)?$"
FIXED_DURATION = r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$"


# ---------------------------------------------------------------------------
# Extracting the subset fixture (the only part that reads YAML)
# ---------------------------------------------------------------------------

# Keys whose value maps names (properties, status codes, media types) to objects: a name such
# as "description" or "example" there is not a keyword.
NAME_MAPS = {"paths", "properties", "mapping", "content", "headers", "responses", "schemas", "parameters",
             "securitySchemes", "variables"}
MAX_DESCRIPTION = 60


def load_yaml(path: Path) -> Any:
    """YAML with JSON's scalars: no timestamps, and only true/false are booleans (not on/no)."""
    import yaml  # only --write-subset-from needs pyyaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers
                if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                 list("tTfF"))
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)


def slim(node: Any, names: bool = False) -> Any:
    """Drop examples and long descriptions (and x-enumDescriptions); keep everything else."""
    if isinstance(node, list):
        return [slim(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if names:
            out[key] = slim(value)
            continue
        if key in ("example", "examples", "x-enumDescriptions"):
            continue
        if key == "description" and isinstance(value, str) and (len(value) > MAX_DESCRIPTION or "\n" in value):
            continue
        out[key] = slim(value, names=key in NAME_MAPS and isinstance(value, dict))
    return out


def refs_in(node: Any) -> Iterator[str]:
    """Every component a node points at: `$ref`s and discriminator mappings."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key == "discriminator" and isinstance(value, dict):
                for target in (value.get("mapping") or {}).values():
                    yield target if target.startswith("#") else f"#/components/schemas/{target}"
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def write_subset(source: Path, dest: Path) -> None:
    full = load_yaml(source)
    paths: dict[str, dict] = {}
    for path, statuses in OPERATIONS:
        item = full["paths"][path]
        op = item["get"]
        missing = [s for s in statuses if s not in op["responses"]]
        if missing:
            raise SystemExit(f"okta_schema_check: {source.name}: GET {path} documents no {missing}")
        kept_item: dict[str, Any] = {}
        if "parameters" in item:
            kept_item["parameters"] = item["parameters"]
        kept_item["get"] = {k: op[k] for k in ("summary", "operationId", "parameters") if k in op}
        kept_item["get"]["responses"] = {s: op["responses"][s] for s in statuses}
        paths[path] = kept_item
    components: dict[str, dict] = {}
    todo = list(refs_in(paths))
    while todo:
        ref = todo.pop()
        parts = ref.split("/")
        if len(parts) != 4 or parts[:2] != ["#", "components"]:
            raise SystemExit(f"okta_schema_check: unsupported reference {ref}")
        kind, name = parts[2], parts[3]
        if name in components.get(kind, {}):
            continue
        node = full["components"][kind][name]
        components.setdefault(kind, {})[name] = node
        todo.extend(refs_in(node))
    info = full.get("info") or {}
    out = {
        "openapi": full.get("openapi"),
        "info": {
            "title": "Okta Admin Management API: the operations residual's Okta test server serves",
            "version": info.get("version", ""),
            "license": info.get("license", {"name": "Apache-2.0"}),
            "x-extracted-from": {
                "file": source.name,
                "repository": "okta/okta-management-openapi-spec "
                              f"(dist/{info.get('version', SPEC_VERSION)}/management-oneOfInheritance-noExamples.yaml)",
                "version": info.get("version", ""),
                "license": "Apache-2.0 (see LICENSE-NOTE.md beside this file)",
                "changes": "examples and descriptions removed (descriptions over 60 characters, "
                           "x-enumDescriptions); only the GET operations and statuses residual's Okta "
                           "test server serves, and the components they reference; "
                           "otherwise unchanged",
                "written-by": "tests/harness/okta_schema_check.py --write-subset-from",
            },
        },
        "paths": slim(paths, names=True),
        "components": {kind: slim(dict(sorted(items.items())), names=True)
                       for kind, items in sorted(components.items())},
    }
    dest.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    count = sum(len(v) for v in components.values())
    print(f"wrote {dest} ({dest.stat().st_size} bytes, {len(OPERATIONS)} operations, {count} components)")


# ---------------------------------------------------------------------------
# OpenAPI 3.0 schema -> JSON Schema draft 7
# ---------------------------------------------------------------------------


def apply_errata(doc: dict) -> list[str]:
    """Correct the description's known mistakes in memory; returns what was corrected."""
    done = []
    schemas = doc.get("components", {}).get("schemas", {})
    duration = schemas.get("TimeDuration")
    if duration and duration.get("pattern") == PUBLISHED_DURATION:
        duration["pattern"] = FIXED_DURATION
        done.append("TimeDuration.pattern: (?:$) and (?:\\d) read as the lookaheads (?!$) and (?=\\d)")
    stats = (schemas.get("Group", {}).get("properties", {}).get("_embedded", {}).get("properties", {})
             .get("stats", {}).get("properties"))
    if stats and "hasAdminPrivlege" in stats and "hasAdminPrivilege" not in stats:
        stats["hasAdminPrivilege"] = copy.deepcopy(stats["hasAdminPrivlege"])
        done.append("Group._embedded.stats: hasAdminPrivilege beside the misspelt hasAdminPrivlege")
    return done


def ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def with_null(out: dict) -> dict:
    """The translated schema, also accepting null (OpenAPI's `nullable: true`)."""
    if "type" in out and "$ref" not in out and not any(k in out for k in SCHEMA_LISTS):
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else list(out["type"]) + ["null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = list(out["enum"]) + [None]
        return out
    return {"anyOf": [out, {"type": "null"}]}


class Translator:
    """Translates the subset's schemas; `strict` closes objects to undeclared properties."""

    def __init__(self, doc: dict, strict: bool):
        self.doc = doc
        self.strict = strict
        self.lax_wanted: set[str] = set()

    def deref(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            _, _, kind, name = node["$ref"].split("/")
            node = self.doc["components"][kind][name]
            seen += 1
            if seen > 50:
                raise ValueError("reference loop")
        return node

    def declared(self, node: Any, depth: int = 0) -> set[str] | None:
        """The property names an object may carry under `node`; None when it is open."""
        node = self.deref(node)
        if not isinstance(node, dict) or depth > 30:
            return None
        if any(k in node for k in ("oneOf", "anyOf")):
            return None
        extra = node.get("additionalProperties")
        if extra is True or isinstance(extra, dict):
            return None
        props = node.get("properties") or {}
        if not props and "allOf" not in node and node.get("type") == "object" and extra is not False:
            return None  # a free-form object
        names = set(props)
        for branch in node.get("allOf") or []:
            sub = self.declared(branch, depth + 1)
            if sub is None:
                return None
            names |= sub
        return names

    def schema(self, node: Any, closed: bool = True) -> Any:
        """`closed`: this node may be closed to undeclared properties (False for allOf branches)."""
        if isinstance(node, list):
            return [self.schema(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            ref = node["$ref"]
            if not closed and self.strict and ref.startswith("#/components/schemas/"):
                self.lax_wanted.add(ref_name(ref))
                ref = f"#/components/{LAX}/{ref_name(ref)}"
            out: dict[str, Any] = {"$ref": ref}  # siblings of a $ref are ignored in OpenAPI 3.0
            return with_null(out) if node.get("nullable") is True else out
        if isinstance(node.get("discriminator"), dict) and (node.get("oneOf") or node.get("anyOf")):
            out = self.discriminated(node)
        else:
            out = {}
            for key, value in node.items():
                if key in OPENAPI_ONLY or key.startswith("x-"):
                    continue
                if key == "properties":
                    out[key] = {name: self.schema(sub) for name, sub in value.items()}
                elif key == "allOf":
                    out[key] = [self.schema(branch, closed=False) for branch in value]
                elif key in ("anyOf", "oneOf"):
                    out[key] = [self.schema(branch) for branch in value]
                elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
                    out[key] = self.schema(value)
                else:
                    out[key] = copy.deepcopy(value)
            if self.strict and closed:
                if "allOf" in node:
                    names = self.declared(node)
                    if names:
                        out["propertyNames"] = {"enum": sorted(names)}
                elif node.get("properties") and "additionalProperties" not in node:
                    out["additionalProperties"] = False
        return with_null(out) if node.get("nullable") is True else out

    def discriminated(self, node: dict) -> dict:
        """oneOf + discriminator: the branch the discriminator's value maps to, and only it."""
        disc = node["discriminator"]
        prop = disc["propertyName"]
        mapping: dict[str, str] = {}
        for value, target in (disc.get("mapping") or {}).items():
            mapping[value] = target if target.startswith("#") else f"#/components/schemas/{target}"
        for branch in node.get("oneOf") or node.get("anyOf"):
            ref = branch.get("$ref") if isinstance(branch, dict) else None
            if ref is None:
                raise ValueError("a discriminator over inline schemas is not supported")
            if ref not in mapping.values():
                mapping.setdefault(ref_name(ref), ref)  # OpenAPI's implicit mapping: the schema name
        by_target: dict[str, list[str]] = {}
        for value, target in mapping.items():
            by_target.setdefault(target, []).append(value)
        return {
            "type": "object",
            "required": [prop],
            "properties": {prop: {"enum": list(mapping)}},
            "allOf": [{"if": {"properties": {prop: {"enum": values}}}, "then": {"$ref": target}}
                      for target, values in by_target.items()],
        }

    def components(self) -> dict:
        raw = self.doc["components"]["schemas"]
        out = {"schemas": {name: self.schema(node) for name, node in raw.items()}, LAX: {}}
        self.fill_lax(out)
        return out

    def fill_lax(self, components: dict) -> None:
        """Add the non-strict copies asked for so far (in place: validators share the dict)."""
        raw = self.doc["components"]["schemas"]
        while self.lax_wanted - set(components[LAX]):
            for name in sorted(self.lax_wanted - set(components[LAX])):
                components[LAX][name] = self.schema(raw[name], closed=False)
                Draft7Validator.check_schema(components[LAX][name])


def format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not RFC3339.match(value):
            raise ValueError(f"{value!r} is not an RFC 3339 date-time")
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    @checker.checks("email")
    def email(value: object) -> bool:
        return not isinstance(value, str) or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) is not None

    @checker.checks("uri")
    def uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and (parts.netloc or parts.path)) and not re.search(r"\s", value)

    return checker


class Schemas:
    def __init__(self, subset_path: Path, strict: bool):
        if not subset_path.is_file():
            raise SystemExit(f"okta_schema_check: {subset_path} is missing; regenerate it with --write-subset-from")
        self.doc = json.loads(subset_path.read_text(encoding="utf-8"))
        self.errata = apply_errata(self.doc)
        self.strict = strict
        self.translator = Translator(self.doc, strict)
        self.components = self.translator.components()
        for group in self.components.values():
            for sub in group.values():
                Draft7Validator.check_schema(sub)
        self.checker = format_checker()
        self.cache: dict[tuple[str, str], tuple[Draft7Validator, Any]] = {}

    def raw_response(self, template: str, status: int) -> Any:
        """The OpenAPI schema of a documented response; 401: `Error` (not documented)."""
        if status == 401:
            return {"$ref": ERROR_REF}
        op = self.doc["paths"].get(template, {}).get("get")
        if op is None:
            return None
        resp = op["responses"].get(str(status))
        if isinstance(resp, dict) and "$ref" in resp:
            resp = self.translator.deref(resp)
        content = (resp or {}).get("content", {}).get("application/json")
        return None if content is None else content["schema"]

    def validator(self, template: str, status: int) -> tuple[Draft7Validator, Any] | None:
        key = (template, str(status))
        if key not in self.cache:
            raw = self.raw_response(template, status)
            if raw is None:
                return None
            top = self.translator.schema(raw)
            self.translator.fill_lax(self.components)
            Draft7Validator.check_schema(top)
            root = {"$schema": "http://json-schema.org/draft-07/schema#", "allOf": [top],
                    "components": self.components}
            self.cache[key] = (Draft7Validator(root, format_checker=self.checker), raw)
        return self.cache[key]


# ---------------------------------------------------------------------------
# Breaking bodies the way the description forbids (for --self-test)
# ---------------------------------------------------------------------------


@dataclass
class View:
    """What the description says of one value, all allOf branches merged."""
    types: set[str] = field(default_factory=set)
    props: dict[str, list] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    items: list = field(default_factory=list)
    open: bool = False      # may carry undeclared properties
    opaque: bool = False    # anyOf / oneOf without a discriminator: not followed


@dataclass
class Mutation:
    kind: str
    path: list


class Breaker:
    """Finds, in a body, the fields whose breakage the description rules out."""

    KINDS = ("integer made a string", "string made an integer", "required property dropped",
             "undeclared property added")

    def __init__(self, translator: Translator):
        self.tr = translator

    def view(self, node: Any, value: Any, depth: int = 0) -> View:
        node = self.tr.deref(node)
        v = View()
        if not isinstance(node, dict) or depth > 30:
            v.opaque = True
            return v
        disc = node.get("discriminator")
        if isinstance(disc, dict) and (node.get("oneOf") or node.get("anyOf")):
            target = (disc.get("mapping") or {}).get(value.get(disc["propertyName"])) if isinstance(value, dict) else None
            if not isinstance(target, str):
                v.opaque = True
                return v
            target = target if target.startswith("#") else f"#/components/schemas/{target}"
            return self.view({"$ref": target}, value, depth + 1)
        if "oneOf" in node or "anyOf" in node:
            v.opaque = True
            return v
        if isinstance(node.get("type"), str):
            v.types = {node["type"]}
        v.props = {k: [s] for k, s in (node.get("properties") or {}).items()}
        v.required = list(node.get("required") or [])
        v.items = [node["items"]] if "items" in node else []
        extra = node.get("additionalProperties")
        v.open = extra is True or isinstance(extra, dict) or (
            not v.props and "allOf" not in node and node.get("type") == "object" and extra is not False)
        for branch in node.get("allOf") or []:
            b = self.view(branch, value, depth + 1)
            if b.opaque:
                v.open = True
                continue
            v.types = (v.types & b.types) if v.types and b.types else (v.types | b.types)
            for k, schemas in b.props.items():
                v.props.setdefault(k, []).extend(schemas)
            v.required += [r for r in b.required if r not in v.required]
            v.items += b.items
            v.open = v.open or b.open
        return v

    def merged(self, schemas: list, value: Any) -> View:
        return self.view(schemas[0], value) if len(schemas) == 1 else self.view({"allOf": schemas}, value)

    def find(self, schema: Any, body: Any) -> list[Mutation]:
        found: dict[str, Mutation] = {}
        self._walk(self.view(schema, body), body, [], found)
        return [found[k] for k in self.KINDS if k in found]

    def _walk(self, v: View, value: Any, path: list, found: dict[str, Mutation]) -> None:
        if v.opaque or len(found) == len(self.KINDS):
            return
        if isinstance(value, bool):
            return
        if isinstance(value, int) and v.types == {"integer"}:
            found.setdefault("integer made a string", Mutation("integer made a string", path))
        elif isinstance(value, str) and v.types == {"string"}:
            found.setdefault("string made an integer", Mutation("string made an integer", path))
        elif isinstance(value, dict):
            present = [r for r in v.required if r in value]
            if present:
                found.setdefault("required property dropped", Mutation("required property dropped", path + [present[0]]))
            if self.tr.strict and not v.open and v.props:
                found.setdefault("undeclared property added", Mutation("undeclared property added", path))
            for key, sub in value.items():
                if key in v.props:
                    self._walk(self.merged(v.props[key], sub), sub, path + [key], found)
        elif isinstance(value, list) and v.items:
            for i, sub in enumerate(value):
                self._walk(self.merged(v.items, sub), sub, path + [i], found)


UNDECLARED = "undeclaredBySelfTest"


def apply_mutation(body: Any, m: Mutation) -> Any:
    broken = copy.deepcopy(body)
    if m.kind == "undeclared property added":
        target = broken
        for p in m.path:
            target = target[p]
        target[UNDECLARED] = "x"
        return broken
    if not m.path:
        return 12345 if m.kind == "string made an integer" else "not-an-integer"
    parent = broken
    for p in m.path[:-1]:
        parent = parent[p]
    last = m.path[-1]
    if m.kind == "required property dropped":
        del parent[last]
    elif m.kind == "integer made a string":
        parent[last] = "not-an-integer"
    else:
        parent[last] = 12345
    return broken


# ---------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------


def json_path(parts: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_shape_problems(body: Any) -> list[str]:
    """What is wrong with an answer of POST /oauth2/v1/token (not in the description)."""
    if not isinstance(body, dict):
        return [f"not an object: {body!r}"[:200]]
    problems = []
    if set(body) != {"token_type", "expires_in", "access_token", "scope"}:
        problems.append(f"keys {sorted(body)}, expected token_type, expires_in, access_token, scope")
    if body.get("token_type") != "Bearer":
        problems.append(f"token_type {body.get('token_type')!r}, expected 'Bearer'")
    if not isinstance(body.get("expires_in"), int) or isinstance(body.get("expires_in"), bool) or body["expires_in"] <= 0:
        problems.append(f"expires_in {body.get('expires_in')!r} is not a positive integer")
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        problems.append("access_token is not a non-empty string")
    if not isinstance(body.get("scope"), str):
        problems.append("scope is not a string")
    return problems


def oauth_error_problems(body: Any, error: str) -> list[str]:
    if not isinstance(body, dict) or set(body) != {"error", "error_description"}:
        return [f"expected {{error, error_description}}, got {body!r}"[:300]]
    problems = []
    if body["error"] != error:
        problems.append(f"error {body['error']!r}, expected {error!r}")
    if not isinstance(body["error_description"], str) or not body["error_description"]:
        problems.append("error_description is not a non-empty string")
    return problems


@dataclass
class Got:
    status: int
    headers: dict[str, str]
    body: Any
    template: str


class Checker:
    SSWS_ADMIN = "00check-super-admin-token-0000000000000000"
    SSWS_OTHER = "00check-not-super-admin-token-00000000000000"
    SSWS_SCOPED = "00check-scoped-admin-token-0000000000000000"

    def __init__(self, raw: dict, schemas: Schemas):
        self.schemas = schemas
        self.breaker = Breaker(schemas.translator)
        self.passed = 0
        self.failures: list[str] = []
        self.samples: dict[tuple[str, int], Any] = {}
        self.validated: set[tuple[str, int]] = set()
        self.token_samples: list[Any] = []
        raw = copy.deepcopy(raw)
        apps = raw.setdefault("service_apps", [])
        known = {s.get("client_id") for s in apps}
        if CLIENT_ADMIN not in known:
            apps.append({"client_id": CLIENT_ADMIN, "roles": [{"type": "READ_ONLY_ADMIN"}]})
        if CLIENT_NO_ROLES not in known:
            apps.append({"client_id": CLIENT_NO_ROLES, "roles": []})
        self.org = osv.Org(raw)
        self.base = "https://acme.okta.com"
        live = [u for u in self.org.users if u["status"] != "DEPROVISIONED"]
        self.admin = next((u for u in live if any(r["type"] == "SUPER_ADMIN" for r in self.org.roles_of(u))), None)
        if self.admin is None:
            raise ValueError("the scenario has no SUPER_ADMIN user who is not deprovisioned")
        # Prefer a READ_ONLY_ADMIN (sees every user, may not list API tokens); else anyone else.
        others = [u for u in live if not any(r["type"] == "SUPER_ADMIN" for r in self.org.roles_of(u))]
        self.other = next((u for u in others if any(r["type"] == "READ_ONLY_ADMIN" for r in self.org.roles_of(u))),
                          others[0] if others else None)
        self.scoped = next((u for u in live if self.org.roles_of(u) and all(
            r["type"] not in osv.ORG_WIDE and r["targets"] for r in self.org.roles_of(u))), None)
        tokens = {self.SSWS_ADMIN: self.admin["id"]}
        if self.other:
            tokens[self.SSWS_OTHER] = self.other["id"]
        if self.scoped:
            tokens[self.SSWS_SCOPED] = self.scoped["id"]
        self.key: Any = None
        clients: dict[str, Any] = {}
        try:
            from cryptography.hazmat.primitives.asymmetric import rsa
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            clients = {CLIENT_ADMIN: self.key.public_key(), CLIENT_NO_ROLES: self.key.public_key()}
        except ImportError:
            pass
        self.api = osv.OktaApi(self.org, tokens, clients, rate_limit=10**9, latency_ms=0, page_max=200)

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

    def call(self, method: str, target: str, auth: str | None, body: bytes = b"",
             content_type: str | None = None) -> Got:
        """One request through the server's handler; every reply's headers are checked."""
        if target.startswith(self.base):
            target = target[len(self.base):]
        headers = {"host": urlsplit(self.base).netloc, "accept": "application/json"}
        if auth:
            headers["authorization"] = auth
        if content_type:
            headers["content-type"] = content_type
        reply = self.api.handle(method, target, headers, body, self.base)
        hdrs: dict[str, str] = {}
        for name, value in reply.headers:
            hdrs[name.lower()] = value
        try:
            parsed = json.loads(reply.body) if reply.body else None
        except ValueError:
            parsed = None
            self.fail(f"{method} {reply.template or target}", "$", f"body is not JSON: {reply.body[:100]!r}")
        self.check_headers(f"{method} {reply.template or target} [{reply.status}]", hdrs)
        return Got(reply.status, hdrs, parsed, reply.template)

    def check_headers(self, endpoint: str, hdrs: dict[str, str]) -> None:
        self.expect(hdrs.get("content-type") == "application/json", endpoint, "headers.Content-Type",
                    f"expected application/json, got {hdrs.get('content-type')!r}")
        bad = [h for h in ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")
               if not re.fullmatch(r"\d+", hdrs.get(h, ""))]
        self.expect(not bad, endpoint, "headers.X-Rate-Limit", f"missing or not integers: {bad} in {hdrs}")
        if "link" in hdrs:
            self.links(endpoint, hdrs["link"])

    def links(self, endpoint: str, link: str) -> dict[str, str]:
        rels: dict[str, str] = {}
        good = True
        for part in link.split(", "):
            mt = LINK_PART.match(part)
            if not mt or mt.group("rel") in rels or not mt.group("url").startswith(self.base + "/"):
                good = False
                break
            rels[mt.group("rel")] = mt.group("url")
        self.expect(good and "self" in rels, endpoint, "headers.Link",
                    f'expected <URL>; rel="self" (and rel="next") under {self.base}, got {link!r}')
        return rels

    def validate(self, template: str, status: int, body: Any, label: str) -> bool:
        spec = SPEC_PATH.get(template, template)
        endpoint = f"GET {spec} [{label}]"
        found = self.schemas.validator(spec, status)
        if found is None:
            self.fail(endpoint, "$", f"the subset has no JSON schema for status {status}")
            return False
        v, _ = found
        errors = sorted(v.iter_errors(body), key=lambda e: list(e.absolute_path))
        for e in errors[:20]:
            message = e.message
            if e.context:
                deepest = max(e.context, key=lambda c: len(c.absolute_path))
                message += f" ({json_path(deepest.absolute_path)}: {deepest.message})"
            self.fail(endpoint, json_path(e.absolute_path), message[:300])
        if len(errors) > 20:
            self.fail(endpoint, "$", f"... and {len(errors) - 20} more errors")
        self.validated.add((spec, status))
        if not errors:
            self.ok()
            if body not in ([], {}, None):
                self.samples.setdefault((spec, status), body)
        return not errors

    def get(self, target: str, template: str, status: int = 200, auth: str | None = None,
            label: str = "", code: str | None = None) -> Any:
        """GET, expect `status` (and Okta's errorCode `code`), validate the body; returns it."""
        auth = auth if auth is not None else f"SSWS {self.SSWS_ADMIN}"
        got = self.call("GET", target, auth)
        label = label or target
        spec = SPEC_PATH.get(template, template)
        endpoint = f"GET {spec} [{label}]"
        if not self.expect(got.status == status, endpoint, "status",
                           f"expected {status}, got {got.status}: {str(got.body)[:200]}"):
            return None
        self.expect(got.template == template, endpoint, "template", f"routed as {got.template!r}")
        self.validate(template, status, got.body, label)
        if code is not None:
            self.expect(isinstance(got.body, dict) and got.body.get("errorCode") == code, endpoint, "$.errorCode",
                        f"expected {code}, got {got.body}")
        return got.body

    def walk(self, target: str, template: str, auth: str | None = None, label: str = "") -> list | None:
        """Every page, following Link rel="next"; each page validated; returns all items."""
        auth = auth if auth is not None else f"SSWS {self.SSWS_ADMIN}"
        limit = re.search(r"[?&]limit=(\d+)", target)
        path = urlsplit(target).path  # the template's, with the path parameters filled in
        items: list = []
        url: str | None = target
        pages = 0
        while url:
            pages += 1
            endpoint = f"GET {template} [{label or target}, page {pages}]"
            got = self.call("GET", url, auth)
            if not self.expect(got.status == 200, endpoint, "status", f"expected 200, got {got.status}: {got.body}"):
                return None
            if not self.validate(template, 200, got.body, f"{label or target}, page {pages}"):
                return None
            if not isinstance(got.body, list):
                return None
            if limit and len(got.body) > int(limit.group(1)):
                self.fail(endpoint, "$", f"{len(got.body)} items on a page of limit {limit.group(1)}")
            items += got.body
            if not self.expect("link" in got.headers, endpoint, "headers.Link", "a list without a Link header"):
                return None
            nxt = self.links(endpoint, got.headers["link"]).get("next")
            if nxt is not None and urlsplit(nxt).path != path:
                self.fail(endpoint, "headers.Link", f"next page {nxt} is not {path}")
                return None
            if nxt is not None and not got.body:
                self.fail(endpoint, "headers.Link", "an empty page with a next link")
                return None
            url = nxt
            if pages > 100_000:
                self.fail(endpoint, "headers.Link", "pagination does not end")
                return None
        return items

    # -- the endpoint checks ------------------------------------------------------------------

    def run(self) -> None:
        self.check_users()
        self.check_details()
        self.check_groups()
        self.check_user_groups()
        self.check_api_tokens()
        self.check_errors()
        self.check_rate_limit()
        self.check_scoped_admin()
        self.check_service_apps()

    def check_users(self) -> None:
        org = self.org
        me = self.get("/api/v1/users/me", "/api/v1/users/{id}", label="me")
        if me is not None:
            self.expect(me.get("id") == self.admin["id"], "GET /api/v1/users/{id} [me]", "$.id",
                        f"expected {self.admin['id']}, got {me.get('id')}")
        for u in org.users:
            body = self.get(f"/api/v1/users/{quote(u['id'])}", "/api/v1/users/{id}", label=u["id"])
            if body is not None:
                self.expect(body.get("id") == u["id"] and body.get("status") == u["status"]
                            and body.get("profile", {}).get("login") == u["login"],
                            f"GET /api/v1/users/{{id}} [{u['id']}]", "$", "not the scenario's user")

        live = [u["id"] for u in org.users if u["status"] != "DEPROVISIONED"]
        gone = [u["id"] for u in org.users if u["status"] == "DEPROVISIONED"]
        for target in ("/api/v1/users?limit=3", "/api/v1/users"):
            got = self.walk(target, "/api/v1/users")
            if got is not None:
                self.expect([x["id"] for x in got] == live, f"GET /api/v1/users [{target}]", "$",
                            f"pages list {len(got)} users; expected the {len(live)} not deprovisioned, in id order")
        flt = quote('status eq "DEPROVISIONED"', safe="")
        for target in (f"/api/v1/users?filter={flt}", f"/api/v1/users?filter={flt}&limit=3"):
            got = self.walk(target, "/api/v1/users", label="filter=status eq DEPROVISIONED")
            if got is not None:
                self.expect([x["id"] for x in got] == gone, f"GET /api/v1/users [{target}]", "$",
                            f"{len(got)} users; expected exactly the {len(gone)} deprovisioned ones")
        # search: case-insensitive values, DEPROVISIONED users included.
        prefixes = ["j", "J"]
        if gone:
            login = org.by_id[gone[0]]["login"]
            prefixes.append(login[:2].swapcase())
        for prefix in prefixes:
            want = [u["id"] for u in org.users if u["login"].lower().startswith(prefix.lower())]
            expr = f'profile.login sw "{prefix}"'
            got = self.walk(f"/api/v1/users?search={quote(expr, safe='')}&limit=200", "/api/v1/users",
                            label=f"search={expr}")
            if got is not None:
                self.expect([x["id"] for x in got] == want, f"GET /api/v1/users [search={expr}]", "$",
                            f"listed {[x['id'] for x in got][:10]}, expected {want[:10]} (case-insensitive, "
                            "deprovisioned included)")
        if gone:
            self.expect(any(org.by_id[i]["login"].lower().startswith(prefixes[-1].lower()) for i in gone),
                        "GET /api/v1/users [search]", "$", "the search does not reach a deprovisioned user")

    def check_details(self) -> None:
        org = self.org
        for u in org.users:
            uid = quote(u["id"])
            body = self.get(f"/api/v1/users/{uid}/roles", "/api/v1/users/{id}/roles", label=u["id"])
            if body is not None:
                want = [(r["id"], r["type"], r["assignmentType"]) for r in org.roles_of(u)]
                got = [(r.get("id"), r.get("type"), r.get("assignmentType")) for r in body]
                self.expect(got == want, f"GET /api/v1/users/{{userId}}/roles [{u['id']}]", "$",
                            f"roles {got}, scenario has {want}")
            body = self.get(f"/api/v1/users/{uid}/appLinks", "/api/v1/users/{id}/appLinks", label=u["id"])
            if body is not None:
                got = [a.get("appInstanceId") for a in body]
                self.expect(got == org.apps_of(u), f"GET /api/v1/users/{{id}}/appLinks [{u['id']}]", "$",
                            f"apps {got}, scenario has {org.apps_of(u)}")

    def check_groups(self) -> None:
        org = self.org
        live = sum(1 for u in org.users if u["status"] != "DEPROVISIONED")
        search = quote('type eq "BUILT_IN"', safe="")
        got = self.walk(f"/api/v1/groups?search={search}&expand=stats", "/api/v1/groups",
                        label='search=type eq "BUILT_IN"&expand=stats')
        if got is not None:
            everyone = [g for g in got if g.get("type") == "BUILT_IN"]
            count = everyone[0].get("_embedded", {}).get("stats", {}).get("usersCount") if everyone else None
            self.expect(len(got) == 1 and count == live, "GET /api/v1/groups [Everyone]", "$[0]._embedded.stats.usersCount",
                        f"expected one BUILT_IN group counting {live} users, got {len(got)} groups, count {count}")
        for target in ("/api/v1/groups", "/api/v1/groups?expand=stats", "/api/v1/groups?limit=2"):
            got = self.walk(target, "/api/v1/groups")
            if got is not None:
                self.expect([g["id"] for g in got] == [osv.EVERYONE] + list(org.groups), f"GET /api/v1/groups [{target}]",
                            "$", "does not list Everyone and the scenario's groups")

    def user_groups_want(self, u: dict, targets: set[str] | None = None) -> list[str]:
        """The groups listUserGroups should list: Everyone, then the scenario's order; a scoped
        caller (`targets`) sees only the groups it targets."""
        want = [osv.EVERYONE] + [g for g in self.org.groups if g in u["groups"]]
        return want if targets is None else [g for g in want if g in targets]

    def check_user_groups(self) -> None:
        """listUserGroups: every user's groups, shaped as /api/v1/groups shapes them, paged with
        limit=1, by login too; their memberships add up to what `expand=stats` counts."""
        org = self.org
        template = "/api/v1/users/{id}/groups"
        listed = {g["id"]: g for g in self.get("/api/v1/groups", "/api/v1/groups", label="for listUserGroups") or []}
        counted: dict[str, int] = {}
        for u in org.users:
            uid = quote(u["id"])
            endpoint = f"GET {template} [{u['id']}]"
            got = self.call("GET", f"/api/v1/users/{uid}/groups", f"SSWS {self.SSWS_ADMIN}")
            if not self.expect(got.status == 200, endpoint, "status", f"expected 200, got {got.status}: {got.body}"):
                continue
            self.expect(got.template == template, endpoint, "template", f"routed as {got.template!r}")
            if not self.validate(template, 200, got.body, u["id"]) or not isinstance(got.body, list):
                continue
            want = self.user_groups_want(u)
            ids = [g.get("id") for g in got.body]
            self.expect(ids == want, endpoint, "$", f"groups {ids}, scenario has {want}")
            self.expect(bool(got.body) and got.body[0].get("type") == "BUILT_IN"
                        and got.body[0].get("profile", {}).get("name") == "Everyone", endpoint, "$[0]",
                        "Everyone (BUILT_IN) is not listed first")
            self.expect(all(g == listed.get(g.get("id")) for g in got.body), endpoint, "$",
                        "a group is not the object /api/v1/groups lists")
            rels = self.links(endpoint, got.headers.get("link", ""))
            self.expect("next" not in rels, endpoint, "headers.Link", "one page of default limit 200 has a next link")
            if u["status"] != "DEPROVISIONED":
                for g in ids:
                    counted[g] = counted.get(g, 0) + 1
            if len(want) > 1:
                pages = self.walk(f"/api/v1/users/{uid}/groups?limit=1", template, label=f"{u['id']}, limit=1")
                if pages is not None:
                    self.expect([g.get("id") for g in pages] == want, f"GET {template} [{u['id']}, limit=1]", "$",
                                f"pages list {[g.get('id') for g in pages]}, expected {want}")
        stats = self.get("/api/v1/groups?expand=stats", "/api/v1/groups", label="expand=stats, memberships")
        if stats is not None:
            got_counts = {g["id"]: g.get("_embedded", {}).get("stats", {}).get("usersCount") for g in stats}
            want_counts = {g: counted.get(g, 0) for g in got_counts}
            self.expect(got_counts == want_counts, "GET /api/v1/groups [expand=stats vs listUserGroups]", "$",
                        f"usersCount {got_counts}; the users' group lists (deprovisioned aside) "
                        f"add up to {want_counts}")
        # The path takes a login as well as an id.
        member = next((u for u in org.users if u["groups"]), None)
        if member is not None:
            body = self.get(f"/api/v1/users/{quote(member['login'], safe='')}/groups", template,
                            label=f"login {member['login']}")
            if body is not None:
                self.expect([g.get("id") for g in body] == self.user_groups_want(member), f"GET {template} [login]",
                            "$", f"by login: {[g.get('id') for g in body]}")

    def check_api_tokens(self) -> None:
        org = self.org
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        want = sorted(t["id"] for t in org.tokens if org.by_id[t["userId"]]["status"] != "DEPROVISIONED"
                      and (t.get("expiresAt") or "9999") > now)
        body = self.get("/api/v1/api-tokens", "/api/v1/api-tokens", label="SUPER_ADMIN")
        if body is not None:
            self.expect([t.get("id") for t in body] == want, "GET /api/v1/api-tokens", "$",
                        f"listed {[t.get('id') for t in body]}, expected the live tokens {want}")
        if self.other is not None:
            self.get("/api/v1/api-tokens", "/api/v1/api-tokens", 403, auth=f"SSWS {self.SSWS_OTHER}",
                     label=f"{self.other['login']}, not SUPER_ADMIN", code="E0000006")
        else:
            self.fail("GET /api/v1/api-tokens [403]", "$", "the scenario has no active user without SUPER_ADMIN")

    def check_errors(self) -> None:
        for auth, label in (("SSWS not-a-token", "bad SSWS token"), ("Bearer not-a-token", "bad bearer token"),
                            ("", "no Authorization")):
            got = self.call("GET", "/api/v1/users/me", auth)
            endpoint = f"GET /api/v1/users/{{id}} [{label}]"
            if self.expect(got.status == 401, endpoint, "status", f"expected 401, got {got.status}"):
                self.validate("/api/v1/users/{id}", 401, got.body, label)
                self.expect(got.body.get("errorCode") == "E0000011", endpoint, "$.errorCode", f"got {got.body}")
        nobody = "00unosuchuser0000000"
        self.get(f"/api/v1/users/{nobody}", "/api/v1/users/{id}", 404, label="unknown user", code="E0000007")
        self.get(f"/api/v1/users/{nobody}/roles", "/api/v1/users/{id}/roles", 404, label="unknown user",
                 code="E0000007")
        self.get(f"/api/v1/users/{nobody}/appLinks", "/api/v1/users/{id}/appLinks", 404, label="unknown user",
                 code="E0000007")
        self.get(f"/api/v1/users/{nobody}/groups", "/api/v1/users/{id}/groups", 404, label="unknown user",
                 code="E0000007")
        self.get("/oauth2/v1/clients/0oanosuchclient00000/roles", "/oauth2/v1/clients/{clientId}/roles", 404,
                 label="unknown client", code="E0000007")

    def check_rate_limit(self) -> None:
        uid = quote(self.admin["id"])
        targets = [("/api/v1/users", "/api/v1/users"), (f"/api/v1/users/{uid}", "/api/v1/users/{id}"),
                   (f"/api/v1/users/{uid}/roles", "/api/v1/users/{id}/roles"),
                   (f"/api/v1/users/{uid}/appLinks", "/api/v1/users/{id}/appLinks"),
                   (f"/api/v1/users/{uid}/groups", "/api/v1/users/{id}/groups"),
                   ("/api/v1/groups", "/api/v1/groups"), ("/api/v1/api-tokens", "/api/v1/api-tokens"),
                   (f"/oauth2/v1/clients/{CLIENT_ADMIN}/roles", "/oauth2/v1/clients/{clientId}/roles")]
        for target, template in targets:
            self.api.faults.replace([{"kind": "rate_limit", "times": 1}])
            got = self.call("GET", target, f"SSWS {self.SSWS_ADMIN}")
            endpoint = f"GET {SPEC_PATH.get(template, template)} [rate_limit fault]"
            if self.expect(got.status == 429, endpoint, "status", f"expected 429, got {got.status}"):
                self.validate(template, 429, got.body, "rate_limit fault")
                self.expect(got.body.get("errorCode") == "E0000047", endpoint, "$.errorCode", f"got {got.body}")
                self.expect(got.headers.get("x-rate-limit-remaining") == "0", endpoint, "headers.X-Rate-Limit-Remaining",
                            f"expected 0, got {got.headers.get('x-rate-limit-remaining')!r}")
                reset = got.headers.get("x-rate-limit-reset", "")
                self.expect(reset.isdigit() and int(reset) > time.time(), endpoint, "headers.X-Rate-Limit-Reset",
                            f"{reset!r} is not a time ahead")
            again = self.call("GET", target, f"SSWS {self.SSWS_ADMIN}")
            self.expect(again.status == 200, endpoint, "status", f"the fault fired twice: {again.status}")
        self.api.faults.clear()
        # A user's groups count in Okta's /api/v1 bucket, not in the user-by-id one.
        auth = f"SSWS {self.SSWS_ADMIN}"
        before = self.call("GET", f"/api/v1/users/{uid}", auth)
        self.call("GET", f"/api/v1/users/{uid}/groups", auth)
        after = self.call("GET", f"/api/v1/users/{uid}", auth)
        if before.headers.get("x-rate-limit-reset") == after.headers.get("x-rate-limit-reset"):  # same minute
            spent = int(before.headers["x-rate-limit-remaining"]) - int(after.headers["x-rate-limit-remaining"])
            self.expect(spent == 1, "GET /api/v1/users/{id}/groups [bucket]", "headers.X-Rate-Limit-Remaining",
                        f"the user-by-id bucket went down by {spent} over one call of its own and one of "
                        "listUserGroups: expected 1")

    def check_scoped_admin(self) -> None:
        """A role narrowed to groups (HELP_DESK_ADMIN...) sees only those groups' users, no Everyone."""
        if self.scoped is None:
            return
        auth = f"SSWS {self.SSWS_SCOPED}"
        targets = {g for r in self.org.roles_of(self.scoped) for g in r["targets"]}
        want = [u["id"] for u in self.org.users if u["status"] != "DEPROVISIONED" and set(u["groups"]) & targets]
        got = self.walk("/api/v1/users", "/api/v1/users", auth=auth, label=f"scoped {self.scoped['login']}")
        if got is not None:
            self.expect([x["id"] for x in got] == want, "GET /api/v1/users [scoped admin]", "$",
                        f"listed {[x['id'] for x in got]}, expected the targeted groups' users {want}")
        # (The server answers this list in one piece, without a Link header.)
        got = self.get("/api/v1/groups", "/api/v1/groups", auth=auth, label=f"scoped {self.scoped['login']}")
        if got is not None:
            self.expect([g["id"] for g in got] == sorted(t for t in targets if t in self.org.groups),
                        "GET /api/v1/groups [scoped admin]", "$", f"listed {[g['id'] for g in got]}")
        # listUserGroups: a user the role cannot see is 404, as by id; a user it sees (or itself)
        # lists only the targeted groups, no Everyone.
        for u in self.org.users:
            label = f"scoped {self.scoped['login']}, {u['id']}"
            target = f"/api/v1/users/{quote(u['id'])}/groups"
            if u["id"] == self.scoped["id"] or set(u["groups"]) & targets:
                body = self.get(target, "/api/v1/users/{id}/groups", auth=auth, label=label)
                if body is not None:
                    want = self.user_groups_want(u, targets)
                    self.expect([g.get("id") for g in body] == want, f"GET /api/v1/users/{{id}}/groups [{label}]",
                                "$", f"listed {[g.get('id') for g in body]}, expected the targeted {want}")
            else:
                self.get(target, "/api/v1/users/{id}/groups", 404, auth=auth, label=label, code="E0000007")

    # -- service apps: the token endpoint (by hand) and what their tokens see ---------------------

    def assertion(self, client_id: str, jti: str | None = None, audience: str | None = None) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT"}
        claims = {"iss": client_id, "sub": client_id, "aud": audience or f"{self.base}/oauth2/v1/token",
                  "iat": now, "exp": now + 300, "jti": jti or secrets.token_hex(16)}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"

    def mint(self, client_id: str, scope: str, assertion: str | None = None) -> Got:
        form = urlencode({"grant_type": "client_credentials", "scope": scope, "client_assertion_type": ASSERTION_TYPE,
                          "client_assertion": assertion or self.assertion(client_id)})
        return self.call("POST", "/oauth2/v1/token", None, form.encode(), "application/x-www-form-urlencoded")

    def token(self, client_id: str, scope: str, label: str) -> str | None:
        got = self.mint(client_id, scope)
        endpoint = f"POST /oauth2/v1/token [{label}]"
        if not self.expect(got.status == 200, endpoint, "status", f"expected 200, got {got.status}: {got.body}"):
            return None
        problems = token_shape_problems(got.body)
        if not self.expect(not problems, endpoint, "$", "; ".join(problems)):
            return None
        self.expect(set(got.body["scope"].split()) == set(scope.split()), endpoint, "$.scope",
                    f"granted {got.body['scope']!r}, asked {scope!r}")
        self.token_samples.append(got.body)
        return str(got.body["access_token"])

    def oauth_error(self, got: Got, status: int, error: str, label: str) -> None:
        endpoint = f"POST /oauth2/v1/token [{label}]"
        if self.expect(got.status == status, endpoint, "status", f"expected {status}, got {got.status}: {got.body}"):
            problems = oauth_error_problems(got.body, error)
            self.expect(not problems, endpoint, "$", "; ".join(problems))

    def check_service_apps(self) -> None:
        if self.key is None:
            self.fail("POST /oauth2/v1/token", "$", "cryptography is not installed: cannot sign a client assertion")
            return
        full = self.token(CLIENT_ADMIN, ALL_SCOPES, CLIENT_ADMIN)
        # A replayed assertion (same jti) is refused; so are a forged signature and a bad audience.
        jti = secrets.token_hex(16)
        first = self.mint(CLIENT_ADMIN, ALL_SCOPES, self.assertion(CLIENT_ADMIN, jti))
        self.expect(first.status == 200, "POST /oauth2/v1/token [fresh jti]", "status", f"got {first.status}")
        self.oauth_error(self.mint(CLIENT_ADMIN, ALL_SCOPES, self.assertion(CLIENT_ADMIN, jti)), 401,
                         "invalid_client", "replayed jti")
        forged = self.assertion(CLIENT_ADMIN)
        forged = forged[:-6] + ("AAAAAA" if not forged.endswith("AAAAAA") else "BBBBBB")
        self.oauth_error(self.mint(CLIENT_ADMIN, ALL_SCOPES, forged), 401, "invalid_client", "forged signature")
        self.oauth_error(self.mint(CLIENT_ADMIN, ALL_SCOPES, self.assertion(CLIENT_ADMIN, audience=self.base)), 401,
                         "invalid_client", "wrong audience")
        self.oauth_error(self.mint(CLIENT_ADMIN, "okta.users.manage"), 400, "invalid_scope", "unknown scope")

        if full:
            body = self.get(f"/oauth2/v1/clients/{CLIENT_ADMIN}/roles", "/oauth2/v1/clients/{clientId}/roles",
                            auth=f"Bearer {full}", label=CLIENT_ADMIN)
            if body is not None:
                want = [(r["type"], "CLIENT") for r in self.org.service_apps[CLIENT_ADMIN]]
                got = [(r.get("type"), r.get("assignmentType")) for r in body]
                self.expect(got == want, "GET /oauth2/v1/clients/{clientId}/roles", "$", f"roles {got}, expected {want}")
            got = self.walk("/api/v1/users?limit=200", "/api/v1/users", auth=f"Bearer {full}", label="service app")
            if got is not None:
                live = [u["id"] for u in self.org.users if u["status"] != "DEPROVISIONED"]
                self.expect([x["id"] for x in got] == live, "GET /api/v1/users [service app]", "$",
                            "a READ_ONLY_ADMIN service app does not see every user")
            self.get("/api/v1/api-tokens", "/api/v1/api-tokens", auth=f"Bearer {full}", label="service app")
            member = next((u for u in self.org.users if u["groups"]), self.admin)
            body = self.get(f"/api/v1/users/{quote(member['id'])}/groups", "/api/v1/users/{id}/groups",
                            auth=f"Bearer {full}", label="service app")
            if body is not None:
                self.expect([g.get("id") for g in body] == self.user_groups_want(member),
                            "GET /api/v1/users/{id}/groups [service app]", "$", f"listed {[g.get('id') for g in body]}")

        # Tokens without the scope an operation needs: 403 E0000006 from every operation.
        narrow = {"okta.groups.read": [
            ("/api/v1/users", "/api/v1/users"), (f"/api/v1/users/{quote(self.admin['id'])}", "/api/v1/users/{id}"),
            (f"/api/v1/users/{quote(self.admin['id'])}/roles", "/api/v1/users/{id}/roles"),
            (f"/api/v1/users/{quote(self.admin['id'])}/appLinks", "/api/v1/users/{id}/appLinks"),
            (f"/api/v1/users/{quote(self.admin['id'])}/groups", "/api/v1/users/{id}/groups"),
            ("/api/v1/api-tokens", "/api/v1/api-tokens"),
            (f"/oauth2/v1/clients/{CLIENT_ADMIN}/roles", "/oauth2/v1/clients/{clientId}/roles")],
            "okta.users.read": [("/api/v1/groups", "/api/v1/groups")]}
        for scope, targets in narrow.items():
            tok = self.token(CLIENT_ADMIN, scope, f"scope {scope}")
            if tok is None:
                continue
            for target, template in targets:
                self.get(target, template, 403, auth=f"Bearer {tok}", label=f"scope {scope} only", code="E0000006")
            if scope == "okta.users.read":
                # listUserGroups needs okta.users.read, not okta.groups.read.
                self.get(f"/api/v1/users/{quote(self.admin['id'])}/groups", "/api/v1/users/{id}/groups",
                         auth=f"Bearer {tok}", label="scope okta.users.read only")

        # The silent-empty trap: no admin role, yet 200 and empty lists.
        empty = self.token(CLIENT_NO_ROLES, ALL_SCOPES, CLIENT_NO_ROLES)
        if empty:
            built_in = quote('type eq "BUILT_IN"', safe="")
            for target, template in (("/api/v1/users", "/api/v1/users"), ("/api/v1/groups", "/api/v1/groups"),
                                     (f"/api/v1/groups?search={built_in}&expand=stats", "/api/v1/groups"),
                                     (f"/oauth2/v1/clients/{CLIENT_NO_ROLES}/roles", "/oauth2/v1/clients/{clientId}/roles")):
                body = self.get(target, template, auth=f"Bearer {empty}", label=f"{CLIENT_NO_ROLES}, no role")
                if body is not None:
                    self.expect(body == [], f"GET {SPEC_PATH.get(template, template)} [no role]", "$",
                                f"expected 200 and [], got {str(body)[:200]}")
            # By id, no role reaches no user: 404, as for /api/v1/users/{id}.
            self.get(f"/api/v1/users/{quote(self.admin['id'])}/groups", "/api/v1/users/{id}/groups", 404,
                     auth=f"Bearer {empty}", label=f"{CLIENT_NO_ROLES}, no role", code="E0000007")

    # -- self test -----------------------------------------------------------------------------

    def run_self_test(self) -> None:
        """Break each sample in every way the description rules out; each must be rejected."""
        for key in sorted(self.validated):
            template, status = key
            endpoint = f"GET {template} [self-test {status}]"
            body = self.samples.get(key)
            if body is None:
                self.fail(endpoint, "$", "no non-empty body was validated: nothing to break")
                continue
            v, raw = self.schemas.validator(template, status)  # type: ignore[misc]
            mutations = self.breaker.find(raw, body)
            if not mutations:
                self.fail(endpoint, "$", "found no field the description constrains: the check cannot fail")
                continue
            for m in mutations:
                broken = apply_mutation(body, m)
                where = json_path(m.path + ([UNDECLARED] if m.kind == "undeclared property added" else []))
                self.expect(next(v.iter_errors(broken), None) is not None, endpoint, where,
                            f"{m.kind}, and the broken copy still validates: the check cannot fail")
        endpoint = "POST /oauth2/v1/token [self-test]"
        if not self.token_samples:
            self.fail(endpoint, "$", "no token answer was checked: nothing to break")
            return
        sample = self.token_samples[0]
        for key, bad in (("expires_in", "3600"), ("token_type", "bearer"), ("access_token", 12345), ("scope", None)):
            broken = dict(sample, **{key: bad})
            self.expect(bool(token_shape_problems(broken)), endpoint, f"$.{key}",
                        "a broken token answer passes the hand check")
        self.expect(bool(token_shape_problems({k: v for k, v in sample.items() if k != "scope"})), endpoint,
                    "$.scope", "a token answer without scope passes the hand check")


def parse_scale(text: str) -> tuple[int, int]:
    try:
        users, leavers = (int(x) for x in text.split(":"))
    except ValueError:
        raise ValueError(f"--generate-scale {text!r}: expected USERS:LEAVERS") from None
    if users < 2 or not 0 <= leavers < users:
        raise ValueError(f"--generate-scale {text!r}: need USERS >= 2 and LEAVERS < USERS")
    return users, leavers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--scenario", help=f"scenario JSON file (default {DEFAULT_SCENARIO.relative_to(ROOT)})")
    src.add_argument("--generate-scale", metavar="USERS:LEAVERS", help="check a generated org instead")
    src.add_argument("--write-subset-from", metavar="YAML",
                     help=f"extract the operations the server needs into {SUBSET.relative_to(ROOT)} and exit")
    ap.add_argument("--seed", type=int, default=7, help="seed of --generate-scale (default 7)")
    ap.add_argument("--self-test", action="store_true", help="also prove each schema rejects broken bodies")
    ap.add_argument("--allow-undeclared", action="store_true",
                    help="allow properties the schema does not declare (as the schema itself does)")
    args = ap.parse_args(argv)

    if args.write_subset_from:
        write_subset(Path(args.write_subset_from), SUBSET)
        return 0
    try:
        if args.generate_scale:
            raw = osv.generate(*parse_scale(args.generate_scale), seed=args.seed)
        else:
            raw = json.loads(Path(args.scenario or DEFAULT_SCENARIO).read_text(encoding="utf-8"))
        checker = Checker(raw, Schemas(SUBSET, strict=not args.allow_undeclared))
    except (OSError, ValueError) as exc:
        print(f"okta_schema_check: {exc}", file=sys.stderr)
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
