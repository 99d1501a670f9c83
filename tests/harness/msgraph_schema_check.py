#!/usr/bin/env python3
"""Check that what msgraph_server.py serves matches Microsoft's own metadata.

Usage:
    python tests/harness/msgraph_schema_check.py [--scenario FILE.json] [--self-test]
    python tests/harness/msgraph_schema_check.py --write-subset-from ../shared/msgraph-csdl
                                                        (regenerates fixtures/microsoft/graph-csdl-subset.xml)

Nothing is opened on the network: the server module is imported and `MsApi.handle` is called in
process, exactly as its HTTP server calls it. The checker registers the scenario's scanner client
(`scanner.clientId`) with a client secret and with a fresh self-signed certificate, grants it the
probe's application permissions and Reader on the first two subscriptions only, registers a
second client with nothing but User.Read.All, mints tokens both ways and walks every route.

Graph bodies are validated against the OData CSDL subset fixtures/microsoft/graph-csdl-subset.xml
(extracted from microsoftgraph/msgraph-metadata `schemas/v1.0-Prod.csdl`, MIT), and only that:
- every property of every returned object must be declared on its entity or complex type or one
  of its base types (entity <- directoryObject <- user ...); open types (user, directoryObject,
  group ... are `OpenType="true"` in the CSDL) are held closed, since Graph itself never sends
  dynamic properties on these;
- the value must fit the declared type: Edm.String a string, Edm.Boolean a boolean, Edm.Int16/
  Int32/Int64/Byte an integer (Int32 in range), Edm.Double/Single a number, Edm.DateTimeOffset
  an ISO 8601 time with `Z` or an offset, Edm.Date `YYYY-MM-DD`, Edm.Guid a GUID, Edm.Binary
  base64, Edm.Duration ISO 8601; `Collection(X)` a list of X (never null); complex types
  recursively; enum types by member name (comma-joined for flags); null only where the property
  is not `Nullable="false"`; a type missing from the subset is a failure;
- `@odata.type` must name the declared type or one derived from it (then the derived type's
  properties apply); no other annotation is allowed on an item;
- collections are `{"value": [...]}` with optional `@odata.context` (string), `@odata.nextLink`
  (an absolute URL on the same root), `@odata.count` (integer) and nothing else; a single entity
  may carry `@odata.context`;
- by hand: only the `$select`ed properties come back (plus `id` and `@odata.type`).
ARM has no CSDL (its contracts are OpenAPI documents in azure-rest-api-specs, not bundled here),
so ARM bodies are held to the small hand-written JSON Schemas ARM_SCHEMAS below (subscription,
subscription list, role definition and role assignment lists, error), strict about unknown keys.
Errors (Graph `{"error": {"code", "message", "innerError": {"date", "request-id",
"client-request-id"}}}`, ARM `{"error": {"code", "message"}}`, Entra's token errors) and token
answers are checked by hand.

The walk covers: tokens (secret, certificate assertion, a verified domain as tenant, and each
refusal: unknown tenant, unknown client, bad scope, bad secret, no credential, assertion with a
wrong audience, signature, thumbprint, issuer, expiry; the refuse_token fault), organization,
users (paged with $top=5 and 999, with and without signInActivity; $count with and without
ConsistencyLevel; every leaver looked up the way the probe does; 16 clauses, unknown
properties, bad $top), every user's transitiveMemberOf / ownedObjects (cast and not) /
oauth2PermissionGrants / appRoleAssignments (id URL-encoded), every service principal,
directory role definitions and assignments paged, the ARM subscription list, each subscription,
its role definitions and role assignments (plain, atScope(), principalId eq, paged), the auth
errors of each API (missing, unknown, wrong audience, expired token; missing permission;
signInActivity without AuditLog.Read.All and without a premium licence), 405s, the rate limit,
and the faults (status, delay, garbage, hang, throttle, short_list). On the main scenario the
contents are compared with what the fixture README promises.

--self-test then breaks validated samples (an unknown property, a wrong type, a bad
DateTimeOffset, GUID and Binary, a bad enum member, a derived type's property on its base type,
a null where not nullable, `value` missing, a wrong `@odata.type`, an unknown envelope key, an ARM
item without `properties` or with a bad enum, broken error and token bodies) and requires each
broken copy to be rejected, and a few legal variants (a valid enum member, a derived type named
by `@odata.type`) to be accepted.

Prints each failure as `FAIL <what>: <message>`, then `N passed, M failed`; exits 0 only when
nothing failed.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import copy
import datetime as dt
import hashlib
import json
import re
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from jsonschema import Draft7Validator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import msgraph_server as ms  # noqa: E402  (the module under test sits beside this file)

ROOT = HERE.parent.parent
SUBSET = ROOT / "fixtures" / "microsoft" / "graph-csdl-subset.xml"
DEFAULT_SCENARIO = ROOT / "fixtures" / "microsoft" / "scenario-main.json"
EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"
NS = "microsoft.graph"
BASE = "http://127.0.0.1:8123"
SECRET = "checker-secret-0001"
LIMITED = "7e7e7e7e-0000-4000-8000-00000000beef"
ALL_PERMS = {"User.Read.All", "Directory.Read.All", "Application.Read.All", "AuditLog.Read.All",
             "RoleManagement.Read.Directory"}
# The types the served bodies use, with what their properties need (the subset's roots).
ROOT_TYPES = ["entity", "directoryObject", "user", "signInActivity", "group", "application", "servicePrincipal",
              "passwordCredential", "keyCredential", "oAuth2PermissionGrant", "appRoleAssignment",
              "unifiedRoleDefinition", "unifiedRoleAssignment", "unifiedRolePermission", "organization",
              "verifiedDomain"]
USER_SELECT = ("id,displayName,userPrincipalName,mail,otherMails,proxyAddresses,employeeId,onPremisesSamAccountName,"
               "accountEnabled,createdDateTime,userType")
# Route template -> (item type, is a collection).
GRAPH_TYPES = {
    "/v1.0/organization": ("organization", True),
    "/v1.0/users": ("user", True),
    "/v1.0/users/{id}": ("user", False),
    "/v1.0/users/{id}/transitiveMemberOf/microsoft.graph.group": ("group", True),
    "/v1.0/users/{id}/transitiveMemberOf": ("directoryObject", True),
    "/v1.0/users/{id}/ownedObjects/microsoft.graph.application": ("application", True),
    "/v1.0/users/{id}/ownedObjects/microsoft.graph.servicePrincipal": ("servicePrincipal", True),
    "/v1.0/users/{id}/ownedObjects": ("directoryObject", True),
    "/v1.0/users/{id}/oauth2PermissionGrants": ("oAuth2PermissionGrant", True),
    "/v1.0/users/{id}/appRoleAssignments": ("appRoleAssignment", True),
    "/v1.0/servicePrincipals/{id}": ("servicePrincipal", False),
    "/v1.0/roleManagement/directory/roleDefinitions": ("unifiedRoleDefinition", True),
    "/v1.0/roleManagement/directory/roleAssignments": ("unifiedRoleAssignment", True),
}
GUID_RX = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DTO_RX = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,12})?)?(Z|[+-]\d\d:\d\d)$")
DATE_RX = re.compile(r"^\d{4}-\d\d-\d\d$")
DURATION_RX = re.compile(r"^-?P(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
INT_RANGES = {"Edm.Byte": (0, 255), "Edm.SByte": (-128, 127), "Edm.Int16": (-2 ** 15, 2 ** 15 - 1),
              "Edm.Int32": (-2 ** 31, 2 ** 31 - 1), "Edm.Int64": (-2 ** 63, 2 ** 63 - 1)}
ITEM_ANNOTATIONS = {"@odata.type", "@odata.id", "@odata.etag"}
ENVELOPE_KEYS = {"@odata.context", "@odata.nextLink", "@odata.count", "value"}


# ---------------------------------------------------------------------------
# The CSDL model
# ---------------------------------------------------------------------------


def local(name: str | None) -> str | None:
    """`graph.user` / `microsoft.graph.user` -> `user`; Edm types and other namespaces unchanged."""
    if name is None:
        return None
    for prefix in ("graph.", NS + "."):
        if name.startswith(prefix) and "." not in name[len(prefix):]:
            return name[len(prefix):]
    return name


def graph_schema(root: ET.Element) -> ET.Element:
    for s in root.iter(f"{{{EDM}}}Schema"):
        if s.get("Namespace") == NS:
            return s
    raise ValueError(f"no Schema Namespace={NS!r}")


class Model:
    def __init__(self, path: Path):
        self.path = path
        self.schema = graph_schema(ET.parse(path).getroot())
        self.types: dict[str, dict] = {}
        self.enums: dict[str, dict] = {}
        for el in self.schema:
            tag = el.tag.split("}")[-1]
            name = el.get("Name")
            if tag in ("EntityType", "ComplexType"):
                props = {p.get("Name"): (p.get("Type"), p.get("Nullable") != "false")
                         for p in el.findall(f"{{{EDM}}}Property")}
                self.types[name] = {"kind": tag, "base": local(el.get("BaseType")), "props": props,
                                    "element": el}
            elif tag == "EnumType":
                self.enums[name] = {"members": {m.get("Name") for m in el.findall(f"{{{EDM}}}Member")},
                                    "flags": el.get("IsFlags") == "true", "element": el}
        self.visited: set[str] = set()

    def chain(self, name: str) -> list[str]:
        out = []
        while name:
            if name in out or name not in self.types:
                break
            out.append(name)
            name = self.types[name]["base"]
        return out

    def props(self, name: str) -> dict:
        out: dict = {}
        for t in reversed(self.chain(name)):
            out.update(self.types[t]["props"])
        return out

    def derives(self, name: str, base: str) -> bool:
        return base in self.chain(name)

    # -- validation ------------------------------------------------------------------------

    def check(self, value: Any, type_ref: str, path: str, nullable: bool = True) -> list[tuple[str, str]]:
        if type_ref.startswith("Collection(") and type_ref.endswith(")"):
            inner = type_ref[len("Collection("):-1]
            if not isinstance(value, list):
                return [(path, f"expected a list of {inner}, got {type(value).__name__}")]
            out = []
            for i, item in enumerate(value):
                out += self.check(item, inner, f"{path}[{i}]", nullable)
            return out
        if value is None:
            return [] if nullable else [(path, f"null where {type_ref} is not nullable")]
        if type_ref.startswith("Edm."):
            return self.primitive(value, type_ref, path)
        name = local(type_ref)
        if name in self.enums:
            self.visited.add(name)
            enum = self.enums[name]
            if not isinstance(value, str):
                return [(path, f"enum {name}: expected a member name, got {value!r}")]
            names = [v.strip() for v in value.split(",")] if enum["flags"] else [value]
            bad = [n for n in names if n not in enum["members"]]
            return [(path, f"enum {name}: {b!r} is no member ({sorted(enum['members'])})") for b in bad]
        if name not in self.types:
            return [(path, f"type {type_ref} is not in the CSDL subset")]
        return self.structured(value, name, path)

    def structured(self, value: Any, name: str, path: str) -> list[tuple[str, str]]:
        if not isinstance(value, dict):
            return [(path, f"expected a {name} object, got {type(value).__name__}")]
        actual = name
        tag = value.get("@odata.type")
        if tag is not None:
            m = re.match(r"^#(?:microsoft\.graph\.|graph\.)(\w+)$", tag) if isinstance(tag, str) else None
            if m is None or m.group(1) not in self.types:
                return [(f"{path}.@odata.type", f"{tag!r} names no type of the subset")]
            if not self.derives(m.group(1), name):
                return [(f"{path}.@odata.type", f"{tag!r} is not {name} nor derived from it")]
            actual = m.group(1)
        self.visited.update(self.chain(actual))
        props = self.props(actual)
        out = []
        for k, v in value.items():
            if k.startswith("@"):
                if k not in ITEM_ANNOTATIONS:
                    out.append((f"{path}.{k}", "annotation not allowed on an object"))
                continue
            if k not in props:
                out.append((f"{path}.{k}", f"no property {k!r} on microsoft.graph.{actual} or its base types"))
                continue
            t, nullable = props[k]
            out += self.check(v, t, f"{path}.{k}", nullable)
        return out

    @staticmethod
    def primitive(value: Any, t: str, path: str) -> list[tuple[str, str]]:
        def bad(what: str) -> list[tuple[str, str]]:
            return [(path, f"{t}: expected {what}, got {value!r}")]
        if t == "Edm.String":
            return [] if isinstance(value, str) else bad("a string")
        if t == "Edm.Boolean":
            return [] if isinstance(value, bool) else bad("true or false")
        if t in INT_RANGES:
            low, high = INT_RANGES[t]
            ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
            return [] if ok else bad(f"an integer in {low}..{high}")
        if t in ("Edm.Double", "Edm.Single", "Edm.Decimal"):
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) or value in ("INF", "-INF", "NaN")
            return [] if ok else bad("a number")
        if t == "Edm.DateTimeOffset":
            if not isinstance(value, str) or not DTO_RX.match(value):
                return bad("an ISO 8601 time with Z or an offset")
            try:
                dt.datetime.fromisoformat(re.sub(r"\.(\d{1,6})\d*", r".\1", value).replace("Z", "+00:00"))
            except ValueError:
                return bad("a valid time")
            return []
        if t == "Edm.Date":
            try:
                ok = isinstance(value, str) and bool(DATE_RX.match(value)) and bool(dt.date.fromisoformat(value))
            except ValueError:
                ok = False
            return [] if ok else bad("a date YYYY-MM-DD")
        if t == "Edm.Guid":
            return [] if isinstance(value, str) and GUID_RX.match(value) else bad("a GUID")
        if t == "Edm.Binary":
            if not isinstance(value, str):
                return bad("base64")
            try:
                text = value.replace("-", "+").replace("_", "/")
                base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
            except (binascii.Error, ValueError):
                return bad("base64")
            return []
        if t == "Edm.Duration":
            return [] if isinstance(value, str) and DURATION_RX.match(value) and value not in ("P", "PT") \
                else bad("an ISO 8601 duration")
        if t == "Edm.TimeOfDay":
            return [] if isinstance(value, str) and re.match(r"^\d\d:\d\d(:\d\d(\.\d+)?)?$", value) \
                else bad("a time of day")
        return [(path, f"primitive type {t} is not handled by this checker")]

    def envelope(self, body: Any, item_type: str, collection: bool, path: str = "$") -> list[tuple[str, str]]:
        if not isinstance(body, dict):
            return [(path, "expected a JSON object")]
        if not collection:
            ctx = body.get("@odata.context")
            out = [] if ctx is None or isinstance(ctx, str) else [(f"{path}.@odata.context", "expected a string")]
            inner = {k: v for k, v in body.items() if k != "@odata.context"}
            return out + self.structured(inner, item_type, path)
        out = []
        for k in body:
            if k not in ENVELOPE_KEYS:
                out.append((f"{path}.{k}", "not allowed on a collection (value, @odata.context, @odata.nextLink, "
                                           "@odata.count)"))
        if "value" not in body:
            out.append((f"{path}.value", "missing"))
        elif not isinstance(body["value"], list):
            out.append((f"{path}.value", "expected a list"))
        else:
            for i, item in enumerate(body["value"]):
                out += self.structured(item, item_type, f"{path}.value[{i}]")
        for k in ("@odata.context", "@odata.nextLink"):
            if k in body and not isinstance(body[k], str):
                out.append((f"{path}.{k}", "expected a string"))
        if isinstance(body.get("@odata.nextLink"), str) and not body["@odata.nextLink"].startswith(BASE + "/"):
            out.append((f"{path}.@odata.nextLink", "not an absolute URL on the same root"))
        if "@odata.count" in body and (not isinstance(body["@odata.count"], int) or
                                       isinstance(body["@odata.count"], bool)):
            out.append((f"{path}.@odata.count", "expected an integer"))
        return out


# ---------------------------------------------------------------------------
# The subset
# ---------------------------------------------------------------------------


def write_subset(source_dir: Path, dest: Path) -> int:
    source = source_dir / "v1.0-Prod.csdl"
    full = Model(source)
    checker = Checker(json.loads(DEFAULT_SCENARIO.read_text(encoding="utf-8")), full, main=True)
    checker.run()
    if checker.failed:
        print(f"write-subset: the walk over the full CSDL failed {checker.failed} check(s); nothing written",
              file=sys.stderr)
        return 1
    wanted: set[str] = set(full.visited)
    for name in ROOT_TYPES:
        wanted.update(full.chain(name))
    # Enum types the root types' own properties use (for the enum checks).
    for name in ROOT_TYPES:
        for t, _ in full.types[name]["props"].values():
            inner = local(t[len("Collection("):-1] if t.startswith("Collection(") else t)
            if inner in full.enums:
                wanted.add(inner)
    for name in list(wanted):
        if name in full.types:
            wanted.update(full.chain(name))
    ET.register_namespace("edmx", EDMX)
    ET.register_namespace("", EDM)
    root = ET.Element(f"{{{EDMX}}}Edmx", {"Version": "4.0"})
    services = ET.SubElement(root, f"{{{EDMX}}}DataServices")
    schema = ET.SubElement(services, f"{{{EDM}}}Schema", {"Namespace": NS, "Alias": "graph"})
    count = 0
    for el in full.schema:
        tag = el.tag.split("}")[-1]
        if tag not in ("EntityType", "ComplexType", "EnumType") or el.get("Name") not in wanted:
            continue
        copy_el = ET.SubElement(schema, el.tag, dict(el.attrib))
        for child in el:
            ctag = child.tag.split("}")[-1]
            if ctag in ("Key", "Property", "Member"):
                c = ET.SubElement(copy_el, child.tag, dict(child.attrib))
                for grand in child:
                    if grand.tag.split("}")[-1] == "PropertyRef":
                        ET.SubElement(c, grand.tag, dict(grand.attrib))
        count += 1
    ET.indent(root, space="  ")
    text = ET.tostring(root, encoding="unicode")
    note = ("<!-- A subset of Microsoft Graph v1.0 metadata: microsoftgraph/msgraph-metadata schemas/v1.0-Prod.csdl "
            "(MIT; see LICENSE-NOTE.md beside this file).\n     Generated by tests/harness/msgraph_schema_check.py "
            "in its write-subset-from mode: the entity, complex and enum types the harness's\n     Graph bodies use, "
            "with their base types; structural properties only (navigation properties and annotations dropped). "
            "-->\n")
    dest.write_text('<?xml version="1.0" encoding="utf-8"?>\n' + note + text + "\n", encoding="utf-8")
    print(f"wrote {dest} ({count} types)")
    return 0


# ---------------------------------------------------------------------------
# ARM schemas (hand-written: ARM has no CSDL)
# ---------------------------------------------------------------------------

GUID_P = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
TIME_P = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$"
NULL_STR = {"type": ["string", "null"]}
NULL_GUID = {"anyOf": [{"type": "null"}, {"type": "string", "pattern": GUID_P}]}


def closed(props: dict, required: list | None = None) -> dict:
    return {"type": "object", "properties": props, "required": list(props) if required is None else required,
            "additionalProperties": False}


ARM_SUB = closed({
    "id": {"type": "string", "pattern": "^/subscriptions/[0-9a-f-]{36}$"},
    "authorizationSource": {"enum": ["Legacy", "RoleBased", "Bypassed", "Direct", "Management",
                                     "Legacy, RoleBased"]},
    "managedByTenants": {"type": "array", "items": closed({"tenantId": {"type": "string", "pattern": GUID_P}})},
    "subscriptionId": {"type": "string", "pattern": GUID_P},
    "tenantId": {"type": "string", "pattern": GUID_P},
    "displayName": {"type": "string"},
    "state": {"enum": ["Enabled", "Warned", "PastDue", "Disabled", "Deleted"]},
    "subscriptionPolicies": closed({"locationPlacementId": {"type": "string"}, "quotaId": {"type": "string"},
                                    "spendingLimit": {"enum": ["On", "Off", "CurrentPeriodOff"]}}),
    "tags": {"type": "object", "additionalProperties": {"type": "string"}},
}, ["id", "subscriptionId", "tenantId", "displayName", "state", "subscriptionPolicies", "authorizationSource"])
ROLE_DEF = closed({
    "id": {"type": "string", "pattern": "^(/subscriptions/[0-9a-f-]{36})?/providers/Microsoft.Authorization/"
                                        "roleDefinitions/[0-9a-f-]{36}$"},
    "name": {"type": "string", "pattern": GUID_P},
    "type": {"const": "Microsoft.Authorization/roleDefinitions"},
    "properties": closed({
        "roleName": {"type": "string"}, "type": {"enum": ["BuiltInRole", "CustomRole"]},
        "description": {"type": "string"}, "assignableScopes": {"type": "array", "items": {"type": "string"}},
        "permissions": {"type": "array", "items": closed({k: {"type": "array", "items": {"type": "string"}}
                                                          for k in ("actions", "notActions", "dataActions",
                                                                    "notDataActions")})},
        "createdOn": {"type": "string", "pattern": TIME_P}, "updatedOn": {"type": "string", "pattern": TIME_P},
        "createdBy": NULL_STR, "updatedBy": NULL_STR}, ["roleName", "type", "assignableScopes", "permissions"]),
})
ROLE_ASG = closed({
    "id": {"type": "string", "pattern": "^(/subscriptions/[0-9a-f-]{36}(/resourceGroups/[^/]+(/providers/.+)?)?)?"
                                        "/providers/Microsoft.Authorization/roleAssignments/[0-9a-f-]{36}$"},
    "type": {"const": "Microsoft.Authorization/roleAssignments"},
    "name": {"type": "string", "pattern": GUID_P},
    "properties": closed({
        "roleDefinitionId": {"type": "string", "pattern": "^/subscriptions/[0-9a-f-]{36}/providers/"
                                                          "Microsoft.Authorization/roleDefinitions/[0-9a-f-]{36}$"},
        "principalId": {"type": "string", "pattern": GUID_P},
        "principalType": {"enum": ["User", "Group", "ServicePrincipal", "ForeignGroup", "Device"]},
        "scope": {"type": "string", "pattern": "^/"},
        "condition": NULL_STR, "conditionVersion": NULL_STR,
        "createdOn": {"type": "string", "pattern": TIME_P}, "updatedOn": {"type": "string", "pattern": TIME_P},
        "createdBy": NULL_GUID, "updatedBy": NULL_GUID, "delegatedManagedIdentityResourceId": NULL_STR,
        "description": NULL_STR}, ["roleDefinitionId", "principalId", "principalType", "scope"]),
})
ARM_SCHEMAS = {
    "subscription": ARM_SUB,
    "subscriptions": closed({"value": {"type": "array", "items": ARM_SUB},
                             "nextLink": {"type": "string", "pattern": "^https?://"},
                             "count": closed({"type": {"const": "Total"}, "value": {"type": "integer", "minimum": 0}})},
                            ["value"]),
    "roleDefinitions": closed({"value": {"type": "array", "items": ROLE_DEF},
                               "nextLink": {"type": "string", "pattern": "^https?://"}}, ["value"]),
    "roleAssignments": closed({"value": {"type": "array", "items": ROLE_ASG},
                               "nextLink": {"type": "string", "pattern": "^https?://"}}, ["value"]),
    "error": closed({"error": closed({"code": {"type": "string", "minLength": 1}, "message": {"type": "string"},
                                      "target": {"type": "string"}, "details": {"type": "array"}},
                                     ["code", "message"])}),
}
ARM_KIND = {"/subscriptions": "subscriptions", "/subscriptions/{subscriptionId}": "subscription",
            "/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions": "roleDefinitions",
            "/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleAssignments": "roleAssignments"}
VALIDATORS = {k: Draft7Validator(v) for k, v in ARM_SCHEMAS.items()}


def arm_problems(body: Any, kind: str) -> list[tuple[str, str]]:
    return [("$" + "".join(f"[{p!r}]" for p in e.absolute_path), e.message) for e in VALIDATORS[kind].iter_errors(body)]


# ---------------------------------------------------------------------------
# Hand checks
# ---------------------------------------------------------------------------


def graph_error_problems(body: Any, code: str | None = None) -> list[str]:
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        return ["expected exactly {\"error\": {...}}"]
    e = body["error"]
    out = []
    if set(e) != {"code", "message", "innerError"}:
        out.append(f"error keys {sorted(e)} are not code, message, innerError")
    if not isinstance(e.get("code"), str) or not e.get("code"):
        out.append("error.code: expected a non-empty string")
    if not isinstance(e.get("message"), str):
        out.append("error.message: expected a string")
    inner = e.get("innerError")
    if not isinstance(inner, dict) or set(inner) != {"date", "request-id", "client-request-id"}:
        out.append("error.innerError: expected {date, request-id, client-request-id}")
    else:
        if not isinstance(inner["date"], str) or not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", inner["date"]):
            out.append("error.innerError.date: expected 2026-11-26T12:00:00")
        for k in ("request-id", "client-request-id"):
            if not isinstance(inner[k], str) or not GUID_RX.match(inner[k]):
                out.append(f"error.innerError.{k}: expected a GUID")
    if code is not None and e.get("code") != code:
        out.append(f"error.code is {e.get('code')!r}, expected {code!r}")
    return out


ENTRA_KEYS = {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"}


def entra_error_problems(body: Any, error: str | None = None, number: int | None = None) -> list[str]:
    if not isinstance(body, dict) or set(body) != ENTRA_KEYS:
        return [f"expected exactly {sorted(ENTRA_KEYS)}"]
    out = []
    if not isinstance(body["error"], str) or not body["error"]:
        out.append("error: expected a string")
    codes = body["error_codes"]
    if not isinstance(codes, list) or not codes or not all(isinstance(c, int) and not isinstance(c, bool)
                                                           for c in codes):
        out.append("error_codes: expected a list of integers")
        codes = [None]
    desc = body["error_description"]
    if not isinstance(desc, str) or not re.match(rf"^AADSTS{codes[0]}: .+\r\nTrace ID: [0-9a-f-]{{36}}\r\n"
                                                 r"Correlation ID: [0-9a-f-]{36}\r\nTimestamp: ", desc, re.S):
        out.append("error_description: expected 'AADSTS<code>: ...\\r\\nTrace ID: ...\\r\\nCorrelation ID: ...'")
    for k in ("trace_id", "correlation_id"):
        if not isinstance(body[k], str) or not GUID_RX.match(body[k]):
            out.append(f"{k}: expected a GUID")
    if not isinstance(body["timestamp"], str) or not re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$", body["timestamp"]):
        out.append("timestamp: expected 2026-11-26 12:00:00Z")
    if body["error_uri"] != f"https://login.microsoftonline.com/error?code={codes[0]}":
        out.append("error_uri: expected https://login.microsoftonline.com/error?code=<code>")
    if error is not None and body["error"] != error:
        out.append(f"error is {body['error']!r}, expected {error!r}")
    if number is not None and codes[0] != number:
        out.append(f"error_codes[0] is {codes[0]!r}, expected {number}")
    return out


def token_problems(body: Any) -> list[str]:
    want = {"token_type", "expires_in", "ext_expires_in", "access_token"}
    if not isinstance(body, dict) or set(body) != want:
        return [f"expected exactly {sorted(want)}"]
    out = []
    if body["token_type"] != "Bearer":
        out.append("token_type: expected Bearer")
    for k in ("expires_in", "ext_expires_in"):
        if not isinstance(body[k], int) or isinstance(body[k], bool) or body[k] <= 0:
            out.append(f"{k}: expected a positive integer")
    if not isinstance(body["access_token"], str) or not body["access_token"].startswith("eyJ0eXAi"):
        out.append("access_token: expected an opaque JWT-shaped string")
    return out


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def make_certificate() -> tuple[Any, Any, str, str]:
    """(private key, public key, x5t, x5t#S256) of a fresh self-signed certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "residual-checker")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    return key, cert.public_key(), b64url(hashlib.sha1(der).digest()), b64url(hashlib.sha256(der).digest())


def sign_jwt(key: Any, header: dict, claims: dict) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = key.sign(f"{h}.{p}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{h}.{p}.{b64url(sig)}"


# ---------------------------------------------------------------------------
# The walk
# ---------------------------------------------------------------------------


class Checker:
    def __init__(self, raw: dict, model: Model, main: bool = False):
        self.raw = raw
        self.model = model
        self.main = main
        self.sc = ms.Scenario(raw)
        self.scanner = self.sc.scanner_client or "9a1b2c3d-0000-4000-8000-00000000c0de"
        self.key, pub, self.x5t, self.x5t256 = make_certificate()
        self.other_key = make_certificate()[0]
        subs = [s["subscriptionId"] for s in self.sc.subs]
        self.readable = subs[:2]
        self.api = ms.MsApi(self.sc, {self.scanner: [SECRET], LIMITED: [SECRET]},
                            {self.scanner: (pub, self.x5t, self.x5t256)},
                            {self.scanner: set(ALL_PERMS), LIMITED: {"User.Read.All"}},
                            {self.scanner: set(self.readable)})
        self.tenant = self.sc.tenant_id
        self.passed = 0
        self.failed = 0
        self.samples: dict[str, Any] = {}       # label -> a validated body
        self.tokens: dict[str, str] = {}

    # -- bookkeeping ----------------------------------------------------------------------

    def ok(self) -> None:
        self.passed += 1

    def fail(self, what: str, message: str) -> None:
        self.failed += 1
        print(f"FAIL {what}: {message}")

    def expect(self, cond: bool, what: str, message: str) -> bool:
        if cond:
            self.ok()
        else:
            self.fail(what, message)
        return cond

    def call(self, method: str, target: str, token: str | None = None, body: bytes = b"",
             headers: dict | None = None) -> ms.Reply:
        h = {"authorization": f"Bearer {token}"} if token else {}
        h.update({k.lower(): v for k, v in (headers or {}).items()})
        return self.api.handle(method, target, h, body, BASE)

    @staticmethod
    def parse(reply: ms.Reply) -> Any:
        try:
            return json.loads(reply.body)
        except ValueError:
            return None

    # -- validation of one reply ------------------------------------------------------------

    def validate(self, reply: ms.Reply, what: str, target: str) -> Any:
        body = self.parse(reply)
        if body is None:
            self.fail(what, f"not JSON: {reply.body[:80]!r}")
            return None
        if reply.api == "graph":
            item, collection = GRAPH_TYPES[reply.template]
            problems = self.model.envelope(body, item, collection)
            self.check_headers(reply, what)
            self.check_select(body, target, collection, what)
        else:
            problems = arm_problems(body, ARM_KIND[reply.template])
            names = {k.lower() for k, _ in reply.headers}
            self.expect({"x-ms-request-id", "x-ms-correlation-request-id",
                         "x-ms-ratelimit-remaining-subscription-reads"} <= names, what, "ARM headers missing")
        for path, message in problems:
            self.fail(what, f"{path}: {message}")
        if not problems:
            self.ok()
            self.samples.setdefault(reply.template, body)
        return body

    def check_headers(self, reply: ms.Reply, what: str) -> None:
        h = {k.lower(): v for k, v in reply.headers}
        self.expect(h.get("content-type") == ms.GRAPH_JSON and "request-id" in h and "client-request-id" in h
                    and "x-ms-ags-diagnostic" in h, what, f"Graph headers wrong: {sorted(h)}")

    def check_select(self, body: Any, target: str, collection: bool, what: str) -> None:
        query = dict((k, v) for k, v in (p.split("=", 1) for p in urlsplit(target).query.split("&") if "=" in p))
        select = query.get("$select")
        if not select or not isinstance(body, dict):
            return
        wanted = {s.strip() for s in unquote(select).split(",")} | {"id", "@odata.type"}
        items = body.get("value", []) if collection else [{k: v for k, v in body.items() if k != "@odata.context"}]
        extra = sorted({k for item in items if isinstance(item, dict) for k in item} - wanted)
        self.expect(not extra, what, f"properties beyond $select served: {extra}")

    def get(self, target: str, what: str, token: str | None = None, headers: dict | None = None) -> Any:
        reply = self.call("GET", target, token or self.tokens["graph" if target.startswith("/v1.0") else "arm"],
                          headers=headers)
        if not self.expect(reply.status == 200, what, f"HTTP {reply.status}: {reply.body[:300]!r}"):
            return None
        return self.validate(reply, what, target)

    def walk(self, target: str, what: str, token: str | None = None, headers: dict | None = None) -> list | None:
        items: list = []
        pages = 0
        while target:
            body = self.get(target, f"{what} page {pages + 1}", token, headers)
            if not isinstance(body, dict):
                return None
            items += body.get("value", [])
            pages += 1
            link = body.get("@odata.nextLink") or body.get("nextLink")
            if link and not self.expect(link.startswith(BASE + "/"), what, f"next link off the root: {link}"):
                return None
            target = link[len(BASE):] if link else ""
            if pages > 5000:
                self.fail(what, "pagination does not end")
                return None
        return items

    def error(self, method: str, target: str, status: int, code: str | None, what: str, token: str | None = None,
              headers: dict | None = None, body: bytes = b"") -> ms.Reply:
        reply = self.call(method, target, token, body, headers)
        self.expect(reply.status == status, what, f"expected HTTP {status}, got {reply.status}: {reply.body[:300]!r}")
        parsed = self.parse(reply)
        if reply.api == "arm":
            problems = [f"{p}: {m}" for p, m in arm_problems(parsed, "error")]
            if not problems and code and parsed["error"]["code"] != code:
                problems.append(f"code {parsed['error']['code']!r}, expected {code!r}")
        elif reply.api == "login":
            problems = entra_error_problems(parsed, code)
        else:
            problems = graph_error_problems(parsed, code)
        self.expect(not problems, what, "; ".join(problems))
        self.samples.setdefault(f"error:{reply.api}", parsed)
        return reply

    # -- tokens -----------------------------------------------------------------------------

    def token_form(self, client: str, scope: str, **extra: str) -> bytes:
        pairs = {"grant_type": "client_credentials", "client_id": client, "scope": scope, **extra}
        return "&".join(f"{k}={quote(v, safe='')}" for k, v in pairs.items()).encode()

    def assertion(self, tenant: str | None = None, key: Any = None, x5t: str | None = None, aud: str | None = None,
                  iss: str | None = None, exp: int | None = None) -> str:
        now = int(time.time())
        t = tenant or self.tenant
        claims = {"aud": aud or f"{BASE}/{t}/oauth2/v2.0/token", "iss": iss or self.scanner,
                  "sub": iss or self.scanner, "jti": f"{time.time_ns()}", "nbf": now, "iat": now,
                  "exp": exp if exp is not None else now + 600}
        header = {"alg": "RS256", "typ": "JWT", "x5t": x5t or self.x5t, "x5t#S256": self.x5t256 if x5t is None
                  else b64url(hashlib.sha256(b"other").digest())}
        return sign_jwt(key or self.key, header, claims)

    def grant(self, form: bytes, tenant: str | None = None) -> ms.Reply:
        return self.call("POST", f"/{tenant or self.tenant}/oauth2/v2.0/token", body=form)

    def mint(self, what: str, form: bytes, tenant: str | None = None) -> str | None:
        reply = self.grant(form, tenant)
        body = self.parse(reply)
        if not self.expect(reply.status == 200, what, f"HTTP {reply.status}: {reply.body[:300]!r}"):
            return None
        problems = token_problems(body)
        self.expect(not problems, what, "; ".join(problems))
        self.samples.setdefault("token", body)
        return body["access_token"]

    def check_tokens(self) -> None:
        g, a = ms.GRAPH_SCOPES[0], ms.ARM_SCOPES[0]
        self.tokens["graph"] = self.mint("token graph secret", self.token_form(self.scanner, g, client_secret=SECRET))
        self.tokens["arm"] = self.mint("token arm secret", self.token_form(self.scanner, a, client_secret=SECRET))
        self.tokens["limited"] = self.mint("token limited", self.token_form(LIMITED, g, client_secret=SECRET))
        self.tokens["limited_arm"] = self.mint("token limited arm", self.token_form(LIMITED, a, client_secret=SECRET))
        cert = {"client_assertion_type": ms.ASSERTION_TYPE}
        self.tokens["graph_cert"] = self.mint("token graph certificate", self.token_form(
            self.scanner, g, **cert, client_assertion=self.assertion()))
        domain = self.sc.default_domain
        self.mint("token by verified domain", self.token_form(self.scanner, a, **cert,
                                                              client_assertion=self.assertion(tenant=domain)), domain)

        def refused(what: str, form: bytes, status: int, error: str, number: int, tenant: str | None = None) -> None:
            reply = self.grant(form, tenant)
            self.expect(reply.status == status, what, f"expected HTTP {status}, got {reply.status}: {reply.body!r}")
            problems = entra_error_problems(self.parse(reply), error, number)
            self.expect(not problems, what, "; ".join(problems))
            self.samples.setdefault("error:login", self.parse(reply))
        refused("token unknown tenant", self.token_form(self.scanner, g, client_secret=SECRET), 400,
                "invalid_request", 90002, "nope.example")
        refused("token unknown client", self.token_form("00000000-1111-4000-8000-000000000000", g,
                                                        client_secret=SECRET), 400, "unauthorized_client", 700016)
        refused("token bad scope", self.token_form(self.scanner, "User.Read", client_secret=SECRET), 400,
                "invalid_scope", 1002012)
        refused("token bad secret", self.token_form(self.scanner, g, client_secret="wrong"), 401, "invalid_client",
                7000215)
        refused("token no credential", self.token_form(self.scanner, g), 401, "invalid_client", 7000216)
        refused("token assertion wrong audience", self.token_form(self.scanner, g, **cert, client_assertion=self.assertion(
            aud="https://login.microsoftonline.com/x/oauth2/v2.0/token")), 401, "invalid_client", 50013)
        refused("token assertion forged", self.token_form(self.scanner, g, **cert, client_assertion=self.assertion(
            key=self.other_key)), 401, "invalid_client", 700027)
        refused("token assertion wrong thumbprint", self.token_form(self.scanner, g, **cert,
                                                                    client_assertion=self.assertion(x5t="AAAA")),
                401, "invalid_client", 700027)
        refused("token assertion wrong issuer", self.token_form(self.scanner, g, **cert, client_assertion=self.assertion(
            iss=LIMITED)), 401, "invalid_client", 700021)
        refused("token assertion expired", self.token_form(self.scanner, g, **cert, client_assertion=self.assertion(
            exp=int(time.time()) - 5)), 401, "invalid_client", 700024)
        refused("token assertion for a client without certificate", self.token_form(
            LIMITED, g, **cert, client_assertion=self.assertion(iss=LIMITED)), 401, "invalid_client", 700027)
        self.api.faults.replace([{"kind": "refuse_token", "path_regex": "/oauth2/", "times": 1}])
        refused("token refuse_token fault", self.token_form(self.scanner, g, client_secret=SECRET), 401,
                "invalid_client", 7000222)
        self.api.faults.clear()

    # -- Graph ------------------------------------------------------------------------------

    def check_graph(self) -> None:
        sc = self.sc
        org = self.get("/v1.0/organization?$select=id,displayName,verifiedDomains", "organization")
        if org and self.expect(len(org["value"]) == 1, "organization", "expected one organization"):
            self.expect(org["value"][0]["id"] == sc.tenant_id and org["value"][0]["verifiedDomains"], "organization",
                        "wrong tenant or no domains")
        self.get("/v1.0/organization", "organization, all properties")
        count = self.call("GET", "/v1.0/users/$count", self.tokens["graph"], headers={"ConsistencyLevel": "eventual"})
        self.expect(count.status == 200 and count.body.decode().strip() == str(len(sc.users)), "users/$count",
                    f"HTTP {count.status} {count.body!r}, expected {len(sc.users)}")
        self.expect(dict((k.lower(), v) for k, v in count.headers).get("content-type", "").startswith("text/plain"),
                    "users/$count", "not text/plain")
        self.error("GET", "/v1.0/users/%24count", 400, "Request_BadRequest", "users/$count without ConsistencyLevel",
                   self.tokens["graph"])
        ids = [u["id"] for u in sc.users]
        for select in (USER_SELECT, USER_SELECT + ",signInActivity"):
            for top in (5, 999):
                got = self.walk(f"/v1.0/users?$select={select}&$top={top}", f"users $top={top} "
                                f"{'with' if 'signIn' in select else 'without'} signInActivity")
                if got is not None:
                    self.expect([u["id"] for u in got] == ids, f"users $top={top}", "pages do not list every user once")
        self.walk("/v1.0/users", "users, default properties")
        c = self.get("/v1.0/users?$count=true&$top=3&$select=id", "users $count=true", headers={
            "ConsistencyLevel": "eventual"})
        if c:
            self.expect(c.get("@odata.count") == len(sc.users), "users $count=true", "wrong @odata.count")
        self.check_lookups()
        bad = [("/v1.0/users?$select=id,favouriteColour", "Request_BadRequest", "unknown $select"),
               ("/v1.0/users?$select=id&$filter=" + quote("shoeSize eq 'x'"), "Request_BadRequest", "unknown $filter"),
               ("/v1.0/users?$select=id&$filter=" + quote("jobTitle eq 'x'"), "Request_UnsupportedQuery",
                "unsupported $filter property"),
               ("/v1.0/users?$top=0", "Request_BadRequest", "$top=0"),
               ("/v1.0/users?$top=1000", "Request_BadRequest", "$top=1000"),
               ("/v1.0/users?$select=id&$filter=" + quote(" or ".join(f"mail eq 'x{i}@y'" for i in range(16))),
                "Request_UnsupportedQuery", "16 clauses"),
               ("/v1.0/users?$select=id&$skiptoken=garbage", None, "bad $skiptoken"),
               ("/v1.0/users?$orderby=displayName", "BadRequest", "query option not allowed"),
               ("/v1.0/groups", "BadRequest", "unrouted segment")]
        for target, code, what in bad:
            self.error("GET", target, 400, code, f"users 400 {what}", self.tokens["graph"])
        # Per user.
        for u in sc.users:
            enc = quote(u["id"], safe="")
            label = u["userPrincipalName"]
            groups = self.walk(f"/v1.0/users/{enc}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName",
                               f"transitiveMemberOf {label}")
            if groups is not None:
                self.expect([g["id"] for g in groups] == sc.transitive_groups(u["id"]), f"transitiveMemberOf {label}",
                            "wrong groups")
            self.walk(f"/v1.0/users/{enc}/transitiveMemberOf", f"transitiveMemberOf uncast {label}")
            self.walk(f"/v1.0/users/{enc}/ownedObjects/microsoft.graph.application?$select=id,appId,displayName,"
                      "createdDateTime,passwordCredentials,keyCredentials", f"ownedObjects apps {label}")
            self.walk(f"/v1.0/users/{enc}/ownedObjects/microsoft.graph.servicePrincipal?$select=id,appId,displayName,"
                      "servicePrincipalType,passwordCredentials,keyCredentials", f"ownedObjects SPs {label}")
            self.walk(f"/v1.0/users/{enc}/ownedObjects", f"ownedObjects uncast {label}")
            self.walk(f"/v1.0/users/{enc}/oauth2PermissionGrants", f"oauth2PermissionGrants {label}")
            self.walk(f"/v1.0/users/{enc}/appRoleAssignments", f"appRoleAssignments {label}")
        upn = quote(sc.users[0]["userPrincipalName"].upper(), safe="")
        self.walk(f"/v1.0/users/{upn}/appRoleAssignments", "appRoleAssignments by UPN")
        self.get(f"/v1.0/users/{upn}", "a user by UPN, default properties")
        self.get(f"/v1.0/users/{quote(sc.users[0]['id'])}?$select={USER_SELECT},signInActivity", "a user by id")
        self.error("GET", "/v1.0/users/nobody%40acme.example", 404, "Request_ResourceNotFound", "unknown user by UPN",
                   self.tokens["graph"])
        for sub in ("transitiveMemberOf/microsoft.graph.group", "ownedObjects", "oauth2PermissionGrants",
                    "appRoleAssignments"):
            self.error("GET", f"/v1.0/users/00000000-0000-4000-8000-0000000fffff/{sub}", 404, "Request_ResourceNotFound",
                       f"{sub} unknown user", self.tokens["graph"])
        for s in sc.sps:
            self.get(f"/v1.0/servicePrincipals/{s['id']}?$select=id,displayName", f"servicePrincipal {s['displayName']}")
            self.get(f"/v1.0/servicePrincipals/{s['id']}", f"servicePrincipal full {s['displayName']}")
        self.error("GET", "/v1.0/servicePrincipals/00000000-0000-4000-8000-0000000fffff", 404,
                   "Request_ResourceNotFound", "servicePrincipal unknown", self.tokens["graph"])
        self.api.graph_page = 2
        defs = self.walk("/v1.0/roleManagement/directory/roleDefinitions?$select=id,displayName,templateId,isBuiltIn",
                         "roleDefinitions paged")
        asg = self.walk("/v1.0/roleManagement/directory/roleAssignments", "roleAssignments paged")
        self.api.graph_page = ms.GRAPH_PAGE
        self.walk("/v1.0/roleManagement/directory/roleDefinitions", "roleDefinitions full")
        if defs is not None:
            builtin = {d["id"]: d for d in defs if d["isBuiltIn"]}
            for rid, name, _, _ in ms.BUILTIN_DIRECTORY_ROLES:
                self.expect(rid in builtin and builtin[rid]["templateId"] == rid and builtin[rid]["displayName"] == name,
                            "roleDefinitions", f"built-in {name} wrong or missing")
        if asg is not None:
            self.expect(len(asg) == len(sc.role_assignments) and all(a["directoryScopeId"] == "/" for a in asg),
                        "roleAssignments", "wrong assignments")
        if self.main:
            self.check_main_graph()

    def lookup_filter(self, email: str) -> str:
        lit = "'" + email.replace("'", "''") + "'"
        plit = "'" + ("smtp:" + email).replace("'", "''") + "'"
        return (f"userPrincipalName eq {lit} or mail eq {lit} or otherMails/any(m:m eq {lit}) or "
                f"proxyAddresses/any(p:p eq {plit})")

    def lookup(self, emails: list[str], employee_ids: list[str] = (), sign_in: bool = True) -> list | None:
        clauses = [self.lookup_filter(e) for e in emails] + [f"employeeId eq '{x}'" for x in employee_ids]
        select = USER_SELECT + (",signInActivity" if sign_in else "")
        return self.walk(f"/v1.0/users?$select={select}&$top=999&$filter={quote(' or '.join(clauses), safe='')}",
                         f"lookup {emails + list(employee_ids)}")

    def check_lookups(self) -> None:
        leavers = (self.sc.meta or {}).get("leavers", [])
        for i in range(0, len(leavers), 3):
            chunk = leavers[i:i + 3]
            got = self.lookup([m["email"] for m in chunk])
            if got is None:
                continue
            want = set()
            for m in chunk:
                e = m["email"].lower()
                for u in self.sc.users:
                    if e in ((u["userPrincipalName"] or "").lower(), (u["mail"] or "").lower()) or \
                            e in [x.lower() for x in u["otherMails"]] or \
                            ("smtp:" + e) in [x.lower() for x in u["proxyAddresses"]]:
                        want.add(u["id"])
            self.expect({u["id"] for u in got} == want, f"lookup {[m['email'] for m in chunk]}",
                        f"found {sorted(u['id'] for u in got)}, expected {sorted(want)}")
        ids = [m["employee_id"] for m in leavers if m.get("employee_id")][:15]
        if ids:
            got = self.lookup([], ids, sign_in=False)
            if got is not None:
                want = {u["id"] for u in self.sc.users if u["employeeId"] in ids}
                self.expect({u["id"] for u in got} == want, "lookup employee ids", "wrong users")
        self.lookup(["o'brien@acme.example"])

    def check_main_graph(self) -> None:
        """What fixtures/microsoft/README.md promises about the main scenario."""
        g = self.tokens["graph"]
        U = "00000000-0000-4000-8000-00000000"

        def one(target: str) -> list:
            reply = self.call("GET", target, g)
            body = self.parse(reply) or {}
            return body.get("value", [])
        got = self.lookup(["KIRAN.PATEL@acme.example"])
        self.expect(got is not None and [u["id"] for u in got] == [U + "1005"], "kiran by proxy address",
                    "not found case-insensitively")
        got = self.lookup(["sam.rivera@acme.example"])
        self.expect(got == [], "sam.rivera look-alike", f"matched {got}")
        jdoe = self.lookup(["jdoe@acme.example"])
        if jdoe:
            self.expect(jdoe[0]["signInActivity"]["lastSuccessfulSignInDateTime"] == "2026-11-24T09:00:00Z",
                        "jdoe signInActivity", "wrong last successful sign-in")
        apps = one(f"/v1.0/users/{U}1002/ownedObjects/microsoft.graph.application?$select=id,appId,displayName,"
                   "createdDateTime,passwordCredentials,keyCredentials")
        self.expect(sorted(a["displayName"] for a in apps) == ["Old Reports", "Payroll Sync"], "maria apps",
                    f"{[a['displayName'] for a in apps]}")
        sps = one(f"/v1.0/users/{U}1002/ownedObjects/microsoft.graph.servicePrincipal?$select=id,appId,displayName,"
                  "servicePrincipalType,passwordCredentials,keyCredentials")
        self.expect([s["displayName"] for s in sps] == ["Maria's Automation"], "maria SPs", f"{sps}")
        grants = one(f"/v1.0/users/{U}1003/oauth2PermissionGrants")
        self.expect([x["id"] for x in grants] == ["grant-tom-zapier"] and
                    grants[0]["scope"] == "Mail.Read Files.ReadWrite.All offline_access", "tom grants", f"{grants}")
        aras = one(f"/v1.0/users/{U}1003/appRoleAssignments")
        self.expect([x["id"] for x in aras] == ["ara-tom-salesforce"] and aras[0]["principalType"] == "User",
                    "tom appRoleAssignments", f"{aras}")
        groups = one(f"/v1.0/users/{U}1004/transitiveMemberOf/microsoft.graph.group?$select=id,displayName")
        self.expect(sorted(x["displayName"] for x in groups) == ["Data Readers", "Tier1 Helpdesk"], "priya groups",
                    f"{groups}")
        asg = {a["id"]: a for a in one("/v1.0/roleManagement/directory/roleAssignments")}
        self.expect(asg.get("ra-jdoe-ga", {}).get("roleDefinitionId") == "62e90394-69f5-4237-9190-012177145e10" and
                    asg.get("ra-tier1-helpdesk", {}).get("principalId") == "e0000000-0000-4000-8000-000000000002",
                    "directory role assignments", f"{sorted(asg)}")

    # -- ARM --------------------------------------------------------------------------------

    def check_arm(self) -> None:
        sc = self.sc
        subs = self.walk("/subscriptions?api-version=2022-12-01", "subscriptions")
        if subs is not None:
            self.expect([s["subscriptionId"] for s in subs] == self.readable, "subscriptions",
                        f"listed {[s['subscriptionId'] for s in subs]}, expected the readable {self.readable}")
        first = self.call("GET", "/subscriptions?api-version=2022-12-01", self.tokens["arm"])
        self.expect((self.parse(first) or {}).get("count") == {"type": "Total", "value": len(self.readable)},
                    "subscriptions count", "wrong count")
        self.api.arm_page = 1
        paged = self.walk("/subscriptions?api-version=2022-12-01", "subscriptions paged by 1")
        self.expect(paged is not None and len(paged) == len(self.readable), "subscriptions paged", "wrong total")
        self.api.arm_page = ms.ARM_PAGE
        self.error("GET", "/subscriptions", 400, "MissingApiVersionParameter", "subscriptions no api-version",
                   self.tokens["arm"])
        self.error("GET", "/subscriptions?api-version=2016-06-01", 400, "InvalidApiVersionParameter",
                   "subscriptions old api-version", self.tokens["arm"])
        self.error("GET", "/subscriptions/11111111-aaaa-4bbb-8ccc-0000000fffff?api-version=2022-12-01", 404,
                   "SubscriptionNotFound", "subscription unknown", self.tokens["arm"])
        for s in sc.subs:
            sid = s["subscriptionId"]
            base = f"/subscriptions/{sid}/providers/Microsoft.Authorization"
            if sid not in self.readable:
                for target in (f"/subscriptions/{sid}?api-version=2022-12-01",
                               f"{base}/roleDefinitions?api-version=2022-04-01",
                               f"{base}/roleAssignments?api-version=2022-04-01"):
                    r = self.error("GET", target, 403, "AuthorizationFailed", f"unreadable {s['displayName']}",
                                   self.tokens["arm"])
                    self.expect(self.scanner in r.body.decode() and (sc.scanner_sp or "") in r.body.decode(),
                                "AuthorizationFailed message", "does not name the client and its object id")
                continue
            self.get(f"/subscriptions/{sid}?api-version=2022-12-01", f"subscription {s['displayName']}")
            defs = self.walk(f"{base}/roleDefinitions?api-version=2022-04-01", f"roleDefinitions {s['displayName']}")
            if defs is not None:
                names = {d["name"] for d in defs}
                self.expect({r[0] for r in ms.BUILTIN_AZURE_ROLES} <= names, "Azure built-in roles", "missing")
            self.error("GET", f"{base}/roleDefinitions?api-version=2022-12-01", 400, "InvalidApiVersionParameter",
                       "roleDefinitions wrong api-version", self.tokens["arm"])
            every = self.walk(f"{base}/roleAssignments?api-version=2022-04-01", f"roleAssignments {s['displayName']}")
            want = [a["name"] for a in sc.az_assignments if a["scope"] == "/" or a["sub"] == sid]
            if every is not None:
                self.expect([a["name"] for a in every] == want, f"roleAssignments {s['displayName']}",
                            "not the assignments at, above and below")
            self.api.arm_page = 2
            paged = self.walk(f"{base}/roleAssignments?api-version=2022-04-01", f"roleAssignments paged {sid}")
            self.api.arm_page = ms.ARM_PAGE
            self.expect(paged is not None and [a["name"] for a in paged] == want, "roleAssignments paged",
                        "pages differ from one listing")
            at = self.walk(f"{base}/roleAssignments?api-version=2022-04-01&$filter=atScope()", f"atScope {sid}")
            if at is not None:
                self.expect(all(a["properties"]["scope"] in ("/", f"/subscriptions/{sid}") for a in at), "atScope()",
                            "a scope below the subscription")
            if every:
                pid = every[-1]["properties"]["principalId"]
                mine = self.walk(f"{base}/roleAssignments?api-version=2022-04-01&$filter="
                                 f"{quote(f'principalId eq {chr(39)}{pid}{chr(39)}')}", f"principalId eq {sid}")
                self.expect(mine is not None and mine and all(a["properties"]["principalId"] == pid for a in mine),
                            "principalId eq", "other principals")
            self.error("GET", f"{base}/roleAssignments?api-version=2022-04-01&$filter=" + quote("roleName eq 'x'"),
                       400, "InvalidFilterInQueryString", "roleAssignments bad filter", self.tokens["arm"])
        if self.main:
            prod, dev = "11111111-aaaa-4bbb-8ccc-000000000001", "11111111-aaaa-4bbb-8ccc-000000000002"
            root_ids = []
            for sid in (prod, dev):
                r = self.call("GET", f"/subscriptions/{sid}/providers/Microsoft.Authorization/roleAssignments"
                                     "?api-version=2022-04-01", self.tokens["arm"])
                root_ids += [a["id"] for a in (self.parse(r) or {}).get("value", []) if a["properties"]["scope"] == "/"]
            self.expect(len(root_ids) == 2 and root_ids[0] == root_ids[1], "root-scope assignment",
                        f"not in both listings with one id: {root_ids}")
            r = self.call("GET", f"/subscriptions/{dev}/providers/Microsoft.Authorization/roleAssignments"
                                 "?api-version=2022-04-01", self.tokens["arm"])
            jdoe = [a for a in (self.parse(r) or {}).get("value", [])
                    if a["name"] == "a0000000-0000-4000-8000-000000000001"]
            self.expect(bool(jdoe) and jdoe[0]["properties"]["roleDefinitionId"].endswith(
                "b24988ac-6180-42a0-ab88-20f7382dd24c") and jdoe[0]["properties"]["scope"].endswith(
                "/resourceGroups/app-rg"), "jdoe Contributor on app-rg", f"{jdoe}")

    # -- errors and faults --------------------------------------------------------------------

    def check_errors(self) -> None:
        g, a = self.tokens["graph"], self.tokens["arm"]
        users = f"/v1.0/users?$select={USER_SELECT}&$top=999"
        signin = f"/v1.0/users?$select={USER_SELECT},signInActivity&$top=999"
        subs = "/subscriptions?api-version=2022-12-01"
        self.error("GET", users, 401, "InvalidAuthenticationToken", "graph no token")
        self.error("GET", users, 401, "InvalidAuthenticationToken", "graph unknown token", "eyJ0eXAiOi.nope.nope")
        self.error("GET", users, 401, "InvalidAuthenticationToken", "graph ARM token", a)
        self.error("GET", subs, 401, "AuthenticationFailed", "arm no token")
        self.error("GET", subs, 401, "InvalidAuthenticationToken", "arm unknown token", "eyJ0eXAiOi.nope.nope")
        self.error("GET", subs, 401, "InvalidAuthenticationTokenAudience", "arm Graph token", g)
        old_g = self.mint("token short-lived graph", self.token_form(self.scanner, ms.GRAPH_SCOPES[0],
                                                                     client_secret=SECRET))
        old_a = self.mint("token short-lived arm", self.token_form(self.scanner, ms.ARM_SCOPES[0],
                                                                   client_secret=SECRET))
        for t in (old_g, old_a):
            if t:
                self.api.minted[t].expires = time.time() - 1
        r = self.error("GET", users, 401, "InvalidAuthenticationToken", "graph expired token", old_g)
        self.expect("Lifetime validation failed, the token is expired." in r.body.decode(), "graph expired message",
                    "wrong message")
        self.error("GET", subs, 401, "ExpiredAuthenticationToken", "arm expired token", old_a)
        lim = self.tokens["limited"]
        self.get(f"/v1.0/users?$select={USER_SELECT}&$top=3", "limited client reads users", lim)
        for target in (signin, "/v1.0/roleManagement/directory/roleAssignments",
                       f"/v1.0/users/{self.sc.users[0]['id']}/ownedObjects/microsoft.graph.application",
                       "/v1.0/organization"):
            self.error("GET", target, 403, "Authorization_RequestDenied", f"limited client {target[:50]}", lim)
        r = self.call("GET", subs, self.tokens["limited_arm"])
        self.expect(r.status == 200 and self.parse(r)["value"] == [], "ARM client without reader", "lists something")
        self.api.premium = False
        r = self.error("GET", signin, 403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                       "no premium", g)
        self.expect("Neither tenant is B2C or tenant doesn't have premium license" in r.body.decode(), "no premium",
                    "wrong message")
        self.get(users, "no premium, without signInActivity")
        self.api.premium = True
        for method in ("POST", "PATCH", "DELETE"):
            self.error(method, "/v1.0/users", 405, None, f"graph {method}", g)
            self.error(method, subs, 405, None, f"arm {method}", a)
        self.api.rate_limit = 2
        self.api.windows.clear()
        self.call("GET", users, g)
        self.call("GET", users, g)
        r = self.error("GET", users, 429, "TooManyRequests", "rate limit", g)
        retry = dict((k.lower(), v) for k, v in r.headers).get("retry-after", "")
        self.expect(retry.isdigit() and 1 <= int(retry) <= 10, "rate limit Retry-After", f"{retry!r}")
        self.api.rate_limit = 1_000_000
        self.api.windows.clear()

    def check_faults(self) -> None:
        g, a = self.tokens["graph"], self.tokens["arm"]
        users = f"/v1.0/users?$select={USER_SELECT}&$top=999"
        f = self.api.faults
        f.replace([{"kind": "status", "status": 503, "path_regex": r"^/v1\.0/users\?", "times": 1}])
        self.error("GET", users, 503, "ServiceNotAvailable", "status fault", g)
        f.replace([{"kind": "throttle", "retry_after": 7, "path_regex": "roleAssignments", "times": 1}])
        r = self.error("GET", "/subscriptions/11111111-aaaa-4bbb-8ccc-000000000001/providers/Microsoft.Authorization/"
                              "roleAssignments?api-version=2022-04-01", 429, "TooManyRequests", "throttle fault", a)
        self.expect(("Retry-After", "7") in r.headers, "throttle Retry-After", f"{r.headers}")
        f.replace([{"kind": "garbage", "path_regex": "organization", "times": 1}])
        r = self.call("GET", "/v1.0/organization", g)
        self.expect(r.status == 200 and self.parse(r) is None, "garbage fault", "body still JSON")
        f.replace([{"kind": "hang", "path_regex": "organization", "delay_seconds": 3, "times": 1}])
        r = self.call("GET", "/v1.0/organization", g)
        self.expect(r.hang == 3 and r.status == 0, "hang fault", f"hang {r.hang} status {r.status}")
        f.replace([{"kind": "delay", "path_regex": "organization", "delay_seconds": 0.05, "times": 1}])
        t0 = time.time()
        r = self.call("GET", "/v1.0/organization", g)
        self.expect(r.status == 200 and time.time() - t0 >= 0.05, "delay fault", "no delay")
        f.replace([{"kind": "short_list", "path_regex": r"^/v1\.0/users\?", "times": 1}])
        got = self.walk(users, "short_list listing")
        self.expect(got is not None and len(got) == len(self.sc.users) - 1, "short_list fault",
                    f"listed {len(got or [])} of {len(self.sc.users)}")
        count = self.call("GET", "/v1.0/users/$count", g, headers={"ConsistencyLevel": "eventual"})
        self.expect(count.body.decode() == str(len(self.sc.users)), "short_list $count", "count changed")
        self.api.faults.clear()
        ctl = self.api.handle("POST", "/_harness/faults", {}, b'[{"kind": "nonsense"}]', BASE)
        self.expect(ctl.status == 400, "faults control", "a bad rule is accepted")
        ctl = self.api.handle("GET", "/_harness/requests", {}, b"", BASE)
        log = self.parse(ctl)
        self.expect(isinstance(log, list) and log and {"ts", "method", "path", "query", "status", "template", "api",
                                                       "client", "auth"} == set(log[-1]), "request log",
                    "wrong entries")
        apis = {e["api"] for e in log}
        self.expect({"login", "graph", "arm"} <= apis, "request log apis", f"{apis}")
        self.expect(any(e["status"] == 0 for e in log), "request log hang", "hang not logged with status 0")

    def run(self) -> None:
        self.check_tokens()
        if not self.tokens.get("graph") or not self.tokens.get("arm"):
            self.fail("tokens", "no tokens; nothing else can run")
            return
        self.check_graph()
        self.check_arm()
        self.check_errors()
        self.check_faults()

    # -- mutations ----------------------------------------------------------------------------

    def rejected(self, what: str, problems: list) -> None:
        self.expect(bool(problems), f"mutation {what}", "the broken body was accepted")

    def accepted(self, what: str, problems: list) -> None:
        self.expect(not problems, f"variant {what}", f"a legal body was rejected: {problems}")

    def run_self_test(self) -> None:
        s = self.samples
        m = self.model

        def graph(template: str, mutate: Any) -> list:
            body = copy.deepcopy(s[template])
            mutate(body)
            item, collection = GRAPH_TYPES[template]
            return m.envelope(body, item, collection)

        def arm(kind_template: str, mutate: Any) -> list:
            body = copy.deepcopy(s[kind_template])
            mutate(body)
            return arm_problems(body, ARM_KIND[kind_template])

        users = "/v1.0/users"
        needed = [users, "/v1.0/users/{id}/transitiveMemberOf/microsoft.graph.group",
                  "/v1.0/users/{id}/transitiveMemberOf", "/v1.0/users/{id}/ownedObjects/microsoft.graph.application",
                  "/v1.0/organization", "/v1.0/servicePrincipals/{id}", "/v1.0/users/{id}/appRoleAssignments",
                  "/subscriptions", "/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleAssignments",
                  "/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions",
                  "token", "error:graph", "error:arm", "error:login"]
        missing = [k for k in needed if k not in s]
        if missing:
            self.fail("self-test", f"no validated sample for {missing}")
            return
        # The samples the mutations break must have something to break: fetch them afresh.
        sc = self.sc

        def fresh(target: str) -> Any:
            return self.parse(self.call("GET", target, self.tokens["graph"]))
        body = fresh(f"/v1.0/users?$select={USER_SELECT},signInActivity&$top=999")
        body["value"] = [u for u in body["value"] if u.get("signInActivity")][:3]
        s[users] = body
        member = next((u for u in sc.users if sc.transitive_groups(u["id"])), None)
        owner = next((u for u in sc.users if any(sc.objects[o][0] == "application" and
                                                 sc.objects[o][1]["passwordCredentials"]
                                                 for o in sc.owned.get(u["id"], []))), None)
        if not body["value"] or member is None or owner is None:
            self.fail("self-test", "the scenario lacks a signed-in user, a group member or an app owner with a secret")
            return
        s["/v1.0/users/{id}/transitiveMemberOf/microsoft.graph.group"] = fresh(
            f"/v1.0/users/{member['id']}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName")
        s["/v1.0/users/{id}/transitiveMemberOf"] = fresh(f"/v1.0/users/{member['id']}/transitiveMemberOf")
        apps_body = fresh(f"/v1.0/users/{owner['id']}/ownedObjects/microsoft.graph.application?$select=id,appId,"
                          "displayName,createdDateTime,passwordCredentials,keyCredentials")
        apps_body["value"] = [a for a in apps_body["value"] if a["passwordCredentials"]]
        s["/v1.0/users/{id}/ownedObjects/microsoft.graph.application"] = apps_body
        for key in ("/v1.0/users/{id}/transitiveMemberOf/microsoft.graph.group", "/v1.0/users/{id}/transitiveMemberOf",
                    "/v1.0/users/{id}/ownedObjects/microsoft.graph.application", users):
            item, collection = GRAPH_TYPES[key]
            self.expect(not m.envelope(s[key], item, collection), f"self-test sample {key}", "does not validate")
        ra = "/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleAssignments"
        rd = "/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions"
        apps = "/v1.0/users/{id}/ownedObjects/microsoft.graph.application"
        grp = "/v1.0/users/{id}/transitiveMemberOf/microsoft.graph.group"
        uncast = "/v1.0/users/{id}/transitiveMemberOf"

        def u0(b: dict) -> dict:
            return b["value"][0]
        cases = [
            ("unknown property on user", graph(users, lambda b: u0(b).update(favouriteColour="blue"))),
            ("accountEnabled a string", graph(users, lambda b: u0(b).update(accountEnabled="true"))),
            ("displayName a number", graph(users, lambda b: u0(b).update(displayName=5))),
            ("otherMails a string", graph(users, lambda b: u0(b).update(otherMails="a@b"))),
            ("proxyAddresses null (not nullable)", graph(users, lambda b: u0(b).update(proxyAddresses=None))),
            ("otherMails item a number", graph(users, lambda b: u0(b).update(otherMails=[1]))),
            ("createdDateTime month 13", graph(users, lambda b: u0(b).update(createdDateTime="2026-13-01T00:00:00Z"))),
            ("createdDateTime without offset", graph(users, lambda b: u0(b).update(
                createdDateTime="2026-11-24T09:00:00"))),
            ("createdDateTime a date only", graph(users, lambda b: u0(b).update(createdDateTime="2026-11-24"))),
            ("signInActivity a string", graph(users, lambda b: u0(b).update(signInActivity="yesterday"))),
            ("signInActivity unknown property", graph(users, lambda b: u0(b)["signInActivity"].update(lastSeen=1))),
            ("signInActivity bad time", graph(users, lambda b: u0(b)["signInActivity"].update(
                lastSuccessfulSignInDateTime="24/11/2026 09:00"))),
            ("user @odata.type of an unrelated type", graph(users, lambda b: u0(b).update(
                {"@odata.type": "#microsoft.graph.group"}))),
            ("group bad enum member", graph(grp, lambda b: u0(b).update(accessType="wideOpen"))),
            ("group enum a number", graph(grp, lambda b: u0(b).update(accessType=3))),
            ("group wrong @odata.type (user)", graph(grp, lambda b: u0(b).update({"@odata.type":
                                                                                  "#microsoft.graph.user"}))),
            ("group @odata.type of no type", graph(grp, lambda b: u0(b).update({"@odata.type":
                                                                                "#microsoft.graph.nope"}))),
            ("group base type's @odata.type", graph(grp, lambda b: u0(b).update({"@odata.type":
                                                                                 "#microsoft.graph.directoryObject"}))),
            ("derived property on the base type", graph(uncast, lambda b: u0(b).pop("@odata.type"))),
            ("annotation on an item", graph(grp, lambda b: u0(b).update({"@odata.bogus": 1}))),
            ("missing value", graph(users, lambda b: b.pop("value"))),
            ("value not a list", graph(users, lambda b: b.update(value={}))),
            ("unknown envelope key", graph(users, lambda b: b.update(extra=1))),
            ("nextLink off the root", graph(users, lambda b: b.update({"@odata.nextLink": "https://evil.example/x"}))),
            ("@odata.count a string", graph(users, lambda b: b.update({"@odata.count": "17"}))),
            ("keyId not a GUID", graph(apps, lambda b: u0(b)["passwordCredentials"][0].update(keyId="not-a-guid"))),
            ("customKeyIdentifier not base64", graph(apps, lambda b: u0(b)["passwordCredentials"][0].update(
                customKeyIdentifier="%%%"))),
            ("passwordCredentials null", graph(apps, lambda b: u0(b).update(passwordCredentials=None))),
            ("passwordCredential unknown property", graph(apps, lambda b: u0(b)["passwordCredentials"][0].update(
                value="s3cret"))),
            ("verifiedDomains isDefault a string", graph("/v1.0/organization", lambda b: u0(b)["verifiedDomains"][0]
                                                         .update(isDefault="yes"))),
            ("organization partnerTenantType bad member", graph("/v1.0/organization", lambda b: u0(b).update(
                partnerTenantType="bogus"))),
            ("appRoleId not a GUID", graph("/v1.0/users/{id}/appRoleAssignments", lambda b: (
                b["value"].append({"id": "x", "appRoleId": "zero"})))),
            ("single entity unknown property", graph("/v1.0/servicePrincipals/{id}", lambda b: b.update(secret="x"))),
            ("ARM assignment missing properties", arm(ra, lambda b: b["value"][0].pop("properties"))),
            ("ARM assignment bad principalType", arm(ra, lambda b: b["value"][0]["properties"].update(
                principalType="Robot"))),
            ("ARM assignment unknown key", arm(ra, lambda b: b["value"][0]["properties"].update(extra=1))),
            ("ARM assignment bad createdOn", arm(ra, lambda b: b["value"][0]["properties"].update(
                createdOn="yesterday"))),
            ("ARM role definition missing properties", arm(rd, lambda b: b["value"][0].pop("properties"))),
            ("ARM role definition bad type", arm(rd, lambda b: b["value"][0]["properties"].update(type="Magic"))),
            ("ARM subscription bad state", arm("/subscriptions", lambda b: b["value"][0].update(state="Sleeping"))),
            ("ARM subscription list missing value", arm("/subscriptions", lambda b: b.pop("value"))),
            ("ARM subscription id bad", arm("/subscriptions", lambda b: b["value"][0].update(id="/subs/x"))),
        ]
        for what, problems in cases:
            self.rejected(what, problems)
        variants = [
            ("group valid enum member", graph(grp, lambda b: u0(b).update(accessType="public"))),
            ("uncast item as group", graph(uncast, lambda b: None)),
            ("user signInActivity null", graph(users, lambda b: u0(b).update(signInActivity=None))),
            ("DateTimeOffset with an offset and fraction", graph(users, lambda b: u0(b).update(
                createdDateTime="2026-11-24T09:00:00.1234567+01:00"))),
        ]
        for what, problems in variants:
            self.accepted(what, problems)
        # Hand checks: errors and tokens.
        ge, ae, le, tok = s["error:graph"], s["error:arm"], s["error:login"], s["token"]
        hand = [
            ("graph error without innerError", graph_error_problems({"error": {"code": "x", "message": "y"}})),
            ("graph error code a number", graph_error_problems(
                {"error": {**ge["error"], "code": 401}})),
            ("graph error innerError bad date", graph_error_problems(
                {"error": {**ge["error"], "innerError": {**ge["error"]["innerError"], "date": "now"}}})),
            ("graph error extra key", graph_error_problems({**ge, "x": 1})),
            ("ARM error missing code", arm_problems({"error": {"message": "m"}}, "error")),
            ("ARM error extra key", arm_problems({"error": {**ae["error"], "innerError": {}}}, "error")),
            ("Entra error missing error_codes", entra_error_problems({k: v for k, v in le.items()
                                                                      if k != "error_codes"})),
            ("Entra error description without trace", entra_error_problems({**le, "error_description": "AADSTS1: x"})),
            ("Entra error uri wrong", entra_error_problems({**le, "error_uri": "https://example.com"})),
            ("token expires_in a string", token_problems({**tok, "expires_in": "3599"})),
            ("token extra key", token_problems({**tok, "refresh_token": "x"})),
            ("token type wrong", token_problems({**tok, "token_type": "MAC"})),
        ]
        for what, problems in hand:
            self.rejected(what, problems)
        self.accepted("graph error as served", graph_error_problems(ge))
        self.accepted("Entra error as served", entra_error_problems(le))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default=str(DEFAULT_SCENARIO))
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--subset", default=str(SUBSET), help="the CSDL subset to validate against")
    ap.add_argument("--write-subset-from", metavar="DIR", help="extract the subset from DIR/v1.0-Prod.csdl")
    args = ap.parse_args(argv)
    if args.write_subset_from:
        return write_subset(Path(args.write_subset_from), SUBSET)
    try:
        model = Model(Path(args.subset))
    except (OSError, ET.ParseError, ValueError) as exc:
        print(f"msgraph_schema_check: cannot read the CSDL subset {args.subset}: {exc}", file=sys.stderr)
        return 2
    raw = json.loads(Path(args.scenario).read_text(encoding="utf-8"))
    checker = Checker(raw, model, main=Path(args.scenario).resolve() == DEFAULT_SCENARIO.resolve())
    checker.run()
    if args.self_test:
        checker.run_self_test()
    print(f"{checker.passed} passed, {checker.failed} failed")
    return 0 if checker.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
