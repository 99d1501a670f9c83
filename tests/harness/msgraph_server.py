#!/usr/bin/env python3
"""A local stand-in for the Microsoft identity platform token endpoint, Microsoft Graph v1.0 and
Azure Resource Manager, for testing the `residual` Microsoft probe end to end.

Microsoft has no emulator for these, so this server plays all three roots at once on one
`http://127.0.0.1:PORT` (the probe's `endpoint` setting maps `https://login.microsoftonline.com`,
`https://graph.microsoft.com` and `https://management.azure.com` to it), for one Entra tenant and
its Azure subscriptions described by a scenario file. Every Graph body it serves is checked
against Microsoft's own CSDL metadata (fixtures/microsoft/graph-csdl-subset.xml) and every ARM
body against a hand-written JSON schema by `msgraph_schema_check.py` beside this file.

Usage:
    python tests/harness/msgraph_server.py --port 0 --port-file F --request-log L
        (--scenario FILE.json | --generate-scale USERS:LEAVERS:SUBSCRIPTIONS) [--seed 7]
        [--client CLIENT_ID=SECRET]... [--client-cert CLIENT_ID=CERT_PEM_FILE]...
        [--grant CLIENT_ID=PERM,PERM,...]... [--arm-reader CLIENT_ID=SUB,SUB | CLIENT_ID=*]...
        [--no-premium] [--rate-limit N] [--latency-ms 0] [--token-lifetime 3599]
        [--dump-scenario FILE] [--dump-leavers FILE]

    --client registers a confidential client with a secret (repeatable; several secrets per
    client are allowed); --client-cert registers its certificate (PEM X.509) for client
    assertions. --grant gives a client application permissions (User.Read.All,
    Directory.Read.All, Application.Read.All, AuditLog.Read.All, RoleManagement.Read.Directory,
    Organization.Read.All, GroupMember.Read.All ...; any name is stored). --arm-reader gives the
    client the Reader role on those subscriptions (`*`: all); nothing else grants ARM access
    (the scenario's assignments are data, not the harness's authorization). --no-premium makes
    the tenant lack an Entra ID P1/P2 licence. --rate-limit is Graph requests per 10 seconds per
    client. --dump-* without --port write the files and exit (for benchmarks).

Routes (all GET but the token endpoint; any other method on a Graph or ARM path is 405):
    POST /{tenant}/oauth2/v2.0/token                                          (api "login")
    /v1.0/organization                                                        (api "graph")
    /v1.0/users      /v1.0/users/$count
    /v1.0/users/{id}/transitiveMemberOf[/microsoft.graph.group]
    /v1.0/users/{id}/ownedObjects[/microsoft.graph.application|/microsoft.graph.servicePrincipal]
    /v1.0/users/{id}/oauth2PermissionGrants    /v1.0/users/{id}/appRoleAssignments
    /v1.0/servicePrincipals/{id}
    /v1.0/roleManagement/directory/roleDefinitions    /v1.0/roleManagement/directory/roleAssignments
    /subscriptions    /subscriptions/{id}                                     (api "arm")
    /subscriptions/{id}/providers/Microsoft.Authorization/roleDefinitions
    /subscriptions/{id}/providers/Microsoft.Authorization/roleAssignments

Scenario (JSON; unknown keys are refused, naming the path; times ISO 8601 UTC `...Z`):
    "tenant": {"id": GUID, "displayName", "verifiedDomains": [{"name", "isDefault", "isInitial",
               "type" (default Managed), "capabilities" (default "Email, OfficeCommunicationsOnline")}]}
    "scanner": {"clientId": GUID, "servicePrincipalId": GUID}     (the app the probe signs in as)
    "users": [{"id": GUID, "displayName", "userPrincipalName", "mail", "otherMails": [...],
               "proxyAddresses": ["SMTP:primary", "smtp:secondary"], "employeeId",
               "onPremisesSamAccountName", "accountEnabled" (default true), "createdDateTime",
               "userType" ("Member" default | "Guest"), "signInActivity": null (never signed in) |
               {"lastSignInDateTime", "lastNonInteractiveSignInDateTime",
                "lastSuccessfulSignInDateTime"} (request ids are derived)}]
    "groups": [{"id", "displayName", "description", "isAssignableToRole", "createdDateTime",
                "members": [user or group ids]}]                  (nesting is followed transitively)
    "applications": [{"id", "appId", "displayName", "createdDateTime", "owners": [user ids],
                      "passwordCredentials": [CRED], "keyCredentials": [CRED + "type", "usage"]}]
    "servicePrincipals": [{"id", "appId", "displayName", "servicePrincipalType" (default
                           Application), "appOwnerOrganizationId", "owners", "passwordCredentials",
                           "keyCredentials"}]
        CRED = {"keyId": GUID, "displayName", "startDateTime", "endDateTime", "hint"}
    "oauth2PermissionGrants": [{"id", "clientId" (SP id), "consentType" ("Principal" |
                                "AllPrincipals"), "principalId", "resourceId" (SP id), "scope"}]
    "appRoleAssignments": [{"id", "appRoleId", "createdDateTime", "principalId" (user), "resourceId"}]
    "roleDefinitions": [{"id", "displayName", "description", "allowedResourceActions": [...]}]
                                          (custom directory roles; the built-ins below are built in)
    "roleAssignments": [{"id", "principalId", "roleDefinitionId" (id or displayName),
                         "directoryScopeId" (default "/")}]
    "azure": {"subscriptions": [{"subscriptionId", "displayName", "state" (default Enabled)}],
              "roleDefinitions": [{"name": GUID, "roleName", "description", "actions",
                                   "notActions", "dataActions", "notDataActions", "assignableScopes"}],
              "roleAssignments": [{"name": GUID, "scope" ("/" | /subscriptions/S[/resourceGroups/R
                                   [/providers/...]]), "role" (roleName or GUID), "principalId",
                                   "principalType": "User"|"Group"|"ServicePrincipal",
                                   "createdOn", "createdBy", "description", "condition"}]}
    "meta": {...}   free-form: leavers (for --dump-leavers), tenant, clientId, scannerServicePrincipalId

Built-in directory roles (id = templateId): Global Administrator 62e90394-..., Global Reader
f2ef992c-..., Helpdesk Administrator 729827e3-..., User Administrator fe930be7-...,
Application Administrator 9b895d92-..., Reports Reader 4a5d8f65-... (BUILTIN_DIRECTORY_ROLES).
Built-in Azure roles: Owner, Contributor, User Access Administrator, Reader, Storage Blob Data
Reader, with their real GUIDs (BUILTIN_AZURE_ROLES).

What the server does the way Microsoft does (and a client must handle):
- Token: `grant_type=client_credentials`, `client_id`, `scope` one resource's `/.default`
  (Graph `https://graph.microsoft.com/.default`, ARM `https://management.azure.com/.default`),
  and `client_secret` or `client_assertion_type` jwt-bearer + `client_assertion` (RS256 JWT
  whose header names the certificate by `x5t` and/or `x5t#S256`; the signature is verified with
  the registered certificate's key; `aud` must be this token endpoint's URL as requested, `iss`
  = `sub` = client id, `exp` in the future, `nbf` not ahead). The tenant segment must be the
  tenant id or a verified domain (else 400 AADSTS90002). Errors are Entra's
  `{error, error_description "AADSTSnnn: ...\r\nTrace ID...", error_codes, timestamp, trace_id,
  correlation_id, error_uri}`: 401 invalid_client (AADSTS7000215 bad secret, AADSTS700027
  assertion signature/certificate, AADSTS50013 audience, AADSTS700021 iss/sub, AADSTS700024
  times), 400 unauthorized_client AADSTS700016 (unknown client), 400 invalid_scope
  AADSTS1002012, 400 invalid_resource AADSTS500011, 400 unsupported_grant_type AADSTS70003.
  Answers `{token_type, expires_in, ext_expires_in, access_token}`; the token is opaque (shaped
  like a JWT) and bound to its audience and lifetime.
- Graph: headers `request-id`, `client-request-id` (echoed when sent), `x-ms-ags-diagnostic`,
  OData content type. Errors `{"error": {"code", "message", "innerError": {"date",
  "request-id", "client-request-id"}}}`. 401 InvalidAuthenticationToken for a missing, unknown,
  expired ("Lifetime validation failed, the token is expired.") or ARM-audience token; 403
  Authorization_RequestDenied when the client lacks every permission a route accepts.
  Collections: `{"@odata.context", "value", "@odata.nextLink"?}`; `$top` 1..999 (default 100;
  else 400); `@odata.nextLink` is absolute on this root, repeats the query and adds an opaque
  `$skiptoken` bound to it. `$select` names properties case-insensitively; an unknown one is
  400 "Could not find a property named 'x' on type 'microsoft.graph.T'."; only selected
  properties (and `id`) are served. Users: default properties when nothing is selected;
  `signInActivity` needs AuditLog.Read.All (403) and a premium tenant (403
  Authentication_RequestFromNonPremiumTenantOrB2CTenant), and is null for a user who never
  signed in. `$filter`: clauses joined by ` or ` (at most 15), each `P eq 'x'` (P in
  userPrincipalName, mail, employeeId, displayName, id, userType, onPremisesSamAccountName),
  `accountEnabled eq true|false`, `otherMails/any(v:v eq 'x')` or `proxyAddresses/any(v:v eq
  'smtp:x')`; literals double a quote; comparisons case-insensitive (proxy addresses with their
  prefix); no ConsistencyLevel needed, as Graph for these properties. Other real properties: 400
  Request_UnsupportedQuery. `/users/$count` and `$count=true` need `ConsistencyLevel: eventual`
  (else 400 Request_BadRequest); the count is text/plain. Unknown user or service principal: 404
  Request_ResourceNotFound. A user is addressed by id or userPrincipalName, case-insensitively.
  Directory objects in memberOf/ownedObjects collections carry `@odata.type`.
- ARM: headers `x-ms-request-id`, `x-ms-correlation-request-id`,
  `x-ms-ratelimit-remaining-subscription-reads`. `api-version` is required (400
  MissingApiVersionParameter) and must be 2022-12-01 (subscriptions) or 2022-04-01
  (Microsoft.Authorization) (else 400 InvalidApiVersionParameter). 401 AuthenticationFailed
  (missing), InvalidAuthenticationToken (unknown), InvalidAuthenticationTokenAudience (a Graph
  token), ExpiredAuthenticationToken. The subscription list shows only subscriptions the
  client reads (`count` Total, `nextLink` past ARM_PAGE); an unknown subscription is 404
  SubscriptionNotFound, one not granted 403 AuthorizationFailed. Role assignments of a
  subscription: those at, above (root "/") and below it; `$filter=atScope()` (at and above),
  `principalId eq 'x'`, `assignedTo('x')`, joined by ` and `; paged by `nextLink` with
  `$skiptoken`. Role definitions list built-ins and custom roles assignable there.
- Throttling: past `--rate-limit` Graph requests in a 10 s window per client: 429
  TooManyRequests with `Retry-After` (seconds to the window's end).

Request log: one JSON line per API request:
    {"ts", "method", "path", "query", "status", "template", "api": "login"|"graph"|"arm"|null,
     "client": the token's client id (for the token endpoint: the form's client_id) | null,
     "auth": "bearer"|"none"|"bad"}     (a `hang` fault's request is logged with status 0)

Control routes (JSON; not logged, not counted, not rate limited):
    POST /_harness/faults   a rule or a list of rules:
        {"path_regex", "method", "kind", "status", "times", "delay_seconds", "retry_after", "message"}
        path_regex is searched in path + "?" + query (the query as sent). Kinds: status (answer
        `status`, default 503, with the API's error body), delay (sleep delay_seconds, then
        answer), garbage (200 with the first half of the body), hang (hold the connection
        delay_seconds, default 120, then close it unanswered), throttle (429 with Retry-After =
        retry_after, default 2), refuse_token (only the token endpoint: 401 invalid_client
        AADSTS7000222 expired client secret keys), short_list (only the users listing: its last
        page silently lacks one user, while $count stays right). `times` defaults to unlimited.
    GET|DELETE /_harness/faults    GET /_harness/requests (the log, as a JSON list)
    GET|DELETE /_harness/stats     POST /_harness/reset (clears faults, rate windows, the log)
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
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from common import FaultRules, serve  # tests/harness is on sys.path when these run

GRAPH_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
ARM_JSON = "application/json; charset=utf-8"
GRAPH_SCOPES = ("https://graph.microsoft.com/.default", "00000003-0000-0000-c000-000000000000/.default")
ARM_SCOPES = ("https://management.azure.com/.default", "https://management.core.windows.net/.default",
              "https://management.core.windows.net//.default")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
SUBSCRIPTIONS_API = ("2022-12-01",)
AUTHORIZATION_API = ("2022-04-01",)
ARM_PAGE = 100
GRAPH_PAGE = 100
MAX_TOP = 999
MAX_OR = 15
PAGE_SECRET = b"residual-msgraph-harness-skiptoken"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$")
ARM_SCOPE = re.compile(r"^/$|^/subscriptions/[0-9a-fA-F-]{36}(/resourceGroups/[^/]+(/providers/.+)?)?$")
DIAGNOSTIC = '{"ServerInfo":{"DataCenter":"West Europe","Slice":"E","Ring":"5","ScaleUnit":"003",' \
             '"RoleInstance":"AM2PEPF0000HARN"}}'
NO_PRIVILEGE = "Insufficient privileges to complete the operation."

BUILTIN_DIRECTORY_ROLES = [
    ("62e90394-69f5-4237-9190-012177145e10", "Global Administrator",
     "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
     ["microsoft.directory/users/allProperties/allTasks", "microsoft.directory/applications/allProperties/allTasks"]),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader",
     "Can read everything that a Global Administrator can, but not update anything.",
     ["microsoft.directory/users/allProperties/read", "microsoft.directory/applications/allProperties/read"]),
    ("729827e3-9c14-49f7-bb1b-9608f156bbb8", "Helpdesk Administrator",
     "Can reset passwords for non-administrators and Helpdesk Administrators.",
     ["microsoft.directory/users/password/update", "microsoft.directory/users/invalidateAllRefreshTokens"]),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator",
     "Can manage all aspects of users and groups, including resetting passwords for limited admins.",
     ["microsoft.directory/users/allProperties/allTasks", "microsoft.directory/groups/allProperties/allTasks"]),
    ("9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "Application Administrator",
     "Can create and manage all aspects of app registrations and enterprise apps.",
     ["microsoft.directory/applications/allProperties/allTasks",
      "microsoft.directory/servicePrincipals/allProperties/allTasks"]),
    ("4a5d8f65-41da-4de4-8968-e035b65339cf", "Reports Reader",
     "Can read sign-in and audit reports.", ["microsoft.directory/auditLogs/allProperties/read",
                                             "microsoft.directory/signInReports/allProperties/read"]),
]
BUILTIN_AZURE_ROLES = [
    ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner", "Grants full access to manage all resources, including the "
     "ability to assign roles in Azure RBAC.", ["*"], [], [], []),
    ("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor", "Grants full access to manage all resources, but does "
     "not allow you to assign roles in Azure RBAC.", ["*"],
     ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
      "Microsoft.Authorization/elevateAccess/Action"], [], []),
    ("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "User Access Administrator", "Lets you manage user access to Azure "
     "resources.", ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"], [], [], []),
    ("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader", "View all resources, but does not allow you to make any "
     "changes.", ["*/read"], [], [], []),
    ("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "Storage Blob Data Reader", "Allows for read access to Azure Storage "
     "blob containers and data", ["Microsoft.Storage/storageAccounts/blobServices/containers/read",
                                  "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"],
     [], ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"], []),
]
READER_ROLE = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

# Properties of a user this server knows (canonical spelling); those it does not model are null
# or []. DEFAULT_USER is what Graph serves without $select.
USER_PROPS = ["id", "accountEnabled", "ageGroup", "businessPhones", "city", "companyName", "country",
              "createdDateTime", "creationType", "department", "displayName", "employeeId", "employeeType",
              "externalUserState", "givenName", "jobTitle", "mail", "mailNickname", "mobilePhone",
              "officeLocation", "onPremisesDistinguishedName", "onPremisesImmutableId", "onPremisesSamAccountName",
              "onPremisesSyncEnabled", "otherMails", "preferredLanguage", "proxyAddresses", "signInActivity",
              "surname", "usageLocation", "userPrincipalName", "userType"]
DEFAULT_USER = ["businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
                "preferredLanguage", "surname", "userPrincipalName", "id"]
USER_EQ = {"userprincipalname": "userPrincipalName", "mail": "mail", "employeeid": "employeeId",
           "displayname": "displayName", "id": "id", "usertype": "userType",
           "onpremisessamaccountname": "onPremisesSamAccountName"}
USER_ANY = {"othermails": "otherMails", "proxyaddresses": "proxyAddresses"}
GROUP_PROPS = ["id", "deletedDateTime", "createdDateTime", "description", "displayName", "groupTypes",
               "isAssignableToRole", "mail", "mailEnabled", "mailNickname", "securityEnabled"]
APP_PROPS = ["id", "deletedDateTime", "appId", "createdDateTime", "displayName", "publisherDomain", "signInAudience",
             "keyCredentials", "passwordCredentials"]
SP_PROPS = ["id", "deletedDateTime", "accountEnabled", "appDisplayName", "appId", "appOwnerOrganizationId",
            "displayName", "servicePrincipalNames", "servicePrincipalType", "tags", "keyCredentials",
            "passwordCredentials"]
GRANT_PROPS = ["clientId", "consentType", "id", "principalId", "resourceId", "scope"]
ARA_PROPS = ["id", "deletedDateTime", "appRoleId", "createdDateTime", "principalDisplayName", "principalId",
             "principalType", "resourceDisplayName", "resourceId"]
ROLEDEF_PROPS = ["id", "description", "displayName", "isBuiltIn", "isEnabled", "resourceScopes", "templateId",
                 "version", "rolePermissions"]
ROLEASG_PROPS = ["id", "directoryScopeId", "principalId", "roleDefinitionId"]
ORG_PROPS = ["id", "deletedDateTime", "businessPhones", "city", "country", "countryLetterCode", "createdDateTime",
             "displayName", "marketingNotificationEmails", "onPremisesSyncEnabled", "postalCode",
             "preferredLanguage", "securityComplianceNotificationMails", "state", "street", "technicalNotificationMails",
             "tenantType", "verifiedDomains"]
TYPE_PROPS = {"user": USER_PROPS, "group": GROUP_PROPS, "application": APP_PROPS, "servicePrincipal": SP_PROPS,
              "oAuth2PermissionGrant": GRANT_PROPS, "appRoleAssignment": ARA_PROPS,
              "unifiedRoleDefinition": ROLEDEF_PROPS, "unifiedRoleAssignment": ROLEASG_PROPS,
              "organization": ORG_PROPS, "directoryObject": ["id", "deletedDateTime"]}


class ScenarioError(ValueError):
    pass


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: list | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or []


class ArmError(GraphError):
    pass


class EntraError(Exception):
    def __init__(self, status: int, error: str, number: int, description: str):
        super().__init__(description)
        self.status, self.error, self.number, self.description = status, error, number, description


@dataclass
class Reply:
    status: int
    body: bytes
    headers: list
    template: str = ""
    api: str | None = None
    auth: str = "none"
    client: str | None = None
    hang: float = 0.0


@dataclass
class Minted:
    client: str
    audience: str          # "graph" | "arm"
    expires: float


@dataclass
class Route:
    template: str
    regex: re.Pattern
    api: str
    handler: str
    perms: tuple           # any one of them suffices (Graph); () = none needed
    params: frozenset      # OData query options the route takes
    http_method: str = "GET"


def _route(template: str, pattern: str, api: str, handler: str, perms: tuple = (), params: tuple = (),
           http_method: str = "GET") -> Route:
    return Route(template, re.compile(pattern), api, handler, perms, frozenset(params), http_method)


USERS_READ = ("User.Read.All", "Directory.Read.All", "User.ReadWrite.All", "Directory.ReadWrite.All")
APPS_READ = ("Application.Read.All", "Directory.Read.All", "Application.ReadWrite.All")
ROLES_READ = ("RoleManagement.Read.Directory", "RoleManagement.Read.All", "Directory.Read.All",
              "RoleManagement.ReadWrite.Directory")
PAGED = ("$select", "$top", "$skiptoken")
UID = r"(?P<id>[^/]+)"
ROUTES = [
    _route("/{tenant}/oauth2/v2.0/token", r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$", "login", "token",
           http_method="POST"),
    _route("/v1.0/organization", r"^/v1\.0/organization$", "graph", "organization",
           ("Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All"), ("$select",)),
    _route("/v1.0/users/$count", r"^/v1\.0/users/\$count$", "graph", "users_count", USERS_READ, ("$filter",)),
    _route("/v1.0/users", r"^/v1\.0/users$", "graph", "users", USERS_READ, PAGED + ("$filter", "$count")),
    _route("/v1.0/users/{id}", rf"^/v1\.0/users/{UID}$", "graph", "user", USERS_READ, ("$select",)),
    _route("/v1.0/users/{id}/transitiveMemberOf/microsoft.graph.group",
           rf"^/v1\.0/users/{UID}/transitiveMemberOf/microsoft\.graph\.group$", "graph", "member_of",
           USERS_READ + ("GroupMember.Read.All",), PAGED),
    _route("/v1.0/users/{id}/transitiveMemberOf", rf"^/v1\.0/users/{UID}/transitiveMemberOf$", "graph",
           "member_of", USERS_READ + ("GroupMember.Read.All",), ("$top", "$skiptoken")),
    _route("/v1.0/users/{id}/ownedObjects/microsoft.graph.application",
           rf"^/v1\.0/users/{UID}/ownedObjects/microsoft\.graph\.application$", "graph", "owned", APPS_READ, PAGED),
    _route("/v1.0/users/{id}/ownedObjects/microsoft.graph.servicePrincipal",
           rf"^/v1\.0/users/{UID}/ownedObjects/microsoft\.graph\.servicePrincipal$", "graph", "owned", APPS_READ,
           PAGED),
    _route("/v1.0/users/{id}/ownedObjects", rf"^/v1\.0/users/{UID}/ownedObjects$", "graph", "owned", APPS_READ,
           ("$top", "$skiptoken")),
    _route("/v1.0/users/{id}/oauth2PermissionGrants", rf"^/v1\.0/users/{UID}/oauth2PermissionGrants$", "graph",
           "grants", ("Directory.Read.All", "DelegatedPermissionGrant.Read.All", "Directory.ReadWrite.All"), PAGED),
    _route("/v1.0/users/{id}/appRoleAssignments", rf"^/v1\.0/users/{UID}/appRoleAssignments$", "graph",
           "app_roles", USERS_READ + ("Application.Read.All", "AppRoleAssignment.ReadWrite.All"), PAGED),
    _route("/v1.0/servicePrincipals/{id}", rf"^/v1\.0/servicePrincipals/{UID}$", "graph", "service_principal",
           APPS_READ, ("$select",)),
    _route("/v1.0/roleManagement/directory/roleDefinitions", r"^/v1\.0/roleManagement/directory/roleDefinitions$",
           "graph", "role_definitions", ROLES_READ, PAGED),
    _route("/v1.0/roleManagement/directory/roleAssignments", r"^/v1\.0/roleManagement/directory/roleAssignments$",
           "graph", "role_assignments", ROLES_READ, PAGED + ("$filter",)),
    _route("/subscriptions", r"^/subscriptions$", "arm", "arm_subscriptions", (), ("api-version", "$skiptoken")),
    _route("/subscriptions/{subscriptionId}", r"^/subscriptions/(?P<sub>[^/]+)$", "arm", "arm_subscription", (),
           ("api-version",)),
    _route("/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions",
           r"^/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.Authorization/roleDefinitions$", "arm",
           "arm_role_definitions", (), ("api-version", "$filter")),
    _route("/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleAssignments",
           r"^/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.Authorization/roleAssignments$", "arm",
           "arm_role_assignments", (), ("api-version", "$filter", "$skiptoken")),
]


def route(path: str) -> tuple[Route | None, dict]:
    for r in ROUTES:
        m = r.regex.match(path)
        if m:
            return r, m.groupdict()
    return None, {}


def guess_api(path: str) -> str | None:
    if re.match(r"^/[^/]+/oauth2/", path):
        return "login"
    if path.startswith(("/v1.0/", "/beta/")) or path in ("/v1.0", "/beta"):
        return "graph"
    if path.startswith(("/subscriptions", "/providers", "/tenants")):
        return "arm"
    return None


def derived_guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "residual-msgraph/" + "/".join(parts)))


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


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


def _str(obj: dict, key: str, where: str, required: bool = False, default: Any = None,
         rx: re.Pattern | None = None, what: str = "") -> Any:
    value = obj.get(key)
    if value is None:
        if required:
            raise ScenarioError(f"{where}.{key}: required")
        return default
    if not isinstance(value, str) or (required and not value):
        raise ScenarioError(f"{where}.{key}: expected a string, got {value!r}")
    if rx is not None and not rx.match(value):
        raise ScenarioError(f"{where}.{key}: expected {what}, got {value!r}")
    return value


def _guid(obj: dict, key: str, where: str, required: bool = True) -> Any:
    v = _str(obj, key, where, required, rx=GUID, what="a GUID")
    return v.lower() if v else v


def _time(obj: dict, key: str, where: str, default: Any = None) -> Any:
    return _str(obj, key, where, default=default, rx=ISO_Z, what="an ISO 8601 UTC time such as 2026-01-01T00:00:00Z")


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
    items = _list(obj, key, where)
    for i, s in enumerate(items):
        if not isinstance(s, str):
            raise ScenarioError(f"{where}.{key}[{i}]: expected a string, got {s!r}")
    return items


def _creds(obj: dict, key: str, where: str, owner: str, with_type: bool) -> list[dict]:
    out = []
    allowed = {"keyId", "displayName", "startDateTime", "endDateTime", "hint"} | ({"type", "usage"} if with_type
                                                                                   else set())
    for i, c in enumerate(_list(obj, key, where)):
        w = f"{where}.{key}[{i}]"
        _keys(c, allowed, w)
        cred = {"keyId": _guid(c, "keyId", w), "displayName": _str(c, "displayName", w),
                "startDateTime": _time(c, "startDateTime", w, "2026-01-01T00:00:00Z"),
                "endDateTime": _time(c, "endDateTime", w, "2027-01-01T00:00:00Z")}
        if with_type:
            cred["type"] = _str(c, "type", w, default="AsymmetricX509Cert")
            cred["usage"] = _str(c, "usage", w, default="Verify")
            cred["customKeyIdentifier"] = base64.b64encode(hashlib.sha1(f"{owner}/{cred['keyId']}".encode())
                                                           .digest()).decode()
        else:
            cred["hint"] = _str(c, "hint", w, default=cred["keyId"][:3])
        out.append(cred)
    return out


class Scenario:
    def __init__(self, raw: Any):
        _keys(raw, {"tenant", "scanner", "users", "groups", "applications", "servicePrincipals",
                    "oauth2PermissionGrants", "appRoleAssignments", "roleDefinitions", "roleAssignments", "azure",
                    "meta"}, "scenario")
        self.raw = raw
        t = _keys(raw.get("tenant"), {"id", "displayName", "verifiedDomains", "createdDateTime"}, "tenant")
        self.tenant_id = _guid(t, "id", "tenant")
        self.tenant_name = _str(t, "displayName", "tenant", True)
        self.tenant_created = _time(t, "createdDateTime", "tenant", "2019-04-02T10:00:00Z")
        self.domains: list[dict] = []
        for i, d in enumerate(_list(t, "verifiedDomains", "tenant")):
            w = f"tenant.verifiedDomains[{i}]"
            _keys(d, {"name", "isDefault", "isInitial", "type", "capabilities"}, w)
            self.domains.append({"capabilities": _str(d, "capabilities", w, default="Email, OfficeCommunicationsOnline"),
                                 "isDefault": _bool(d, "isDefault", w), "isInitial": _bool(d, "isInitial", w),
                                 "name": _str(d, "name", w, True), "type": _str(d, "type", w, default="Managed")})
        if not self.domains:
            raise ScenarioError("tenant.verifiedDomains: at least one domain is required")
        self.default_domain = next((d["name"] for d in self.domains if d["isDefault"]), self.domains[0]["name"])
        s = _keys(raw.get("scanner") or {}, {"clientId", "servicePrincipalId"}, "scanner")
        self.scanner_client = _guid(s, "clientId", "scanner", False)
        self.scanner_sp = _guid(s, "servicePrincipalId", "scanner", False)
        self.objects: dict[str, tuple[str, dict]] = {}        # id -> (odata type name, record)

        def add(kind: str, rec: dict, where: str) -> None:
            if rec["id"] in self.objects:
                raise ScenarioError(f"{where}.id: duplicate object id {rec['id']}")
            self.objects[rec["id"]] = (kind, rec)

        self.users: list[dict] = []
        self.by_upn: dict[str, dict] = {}
        for i, u in enumerate(_list(raw, "users", "scenario")):
            w = f"users[{i}]"
            _keys(u, {"id", "displayName", "userPrincipalName", "mail", "otherMails", "proxyAddresses", "employeeId",
                      "onPremisesSamAccountName", "accountEnabled", "createdDateTime", "userType", "signInActivity",
                      "givenName", "surname", "jobTitle", "department"}, w)
            rec = {"id": _guid(u, "id", w), "displayName": _str(u, "displayName", w, True),
                   "userPrincipalName": _str(u, "userPrincipalName", w, True), "mail": _str(u, "mail", w),
                   "otherMails": _strings(u, "otherMails", w), "proxyAddresses": _strings(u, "proxyAddresses", w),
                   "employeeId": _str(u, "employeeId", w),
                   "onPremisesSamAccountName": _str(u, "onPremisesSamAccountName", w),
                   "accountEnabled": _bool(u, "accountEnabled", w, True),
                   "createdDateTime": _time(u, "createdDateTime", w, "2024-01-15T09:00:00Z"),
                   "userType": _str(u, "userType", w, default="Member"),
                   "givenName": _str(u, "givenName", w), "surname": _str(u, "surname", w),
                   "jobTitle": _str(u, "jobTitle", w), "department": _str(u, "department", w),
                   "pos": i}
            if rec["userType"] not in ("Member", "Guest"):
                raise ScenarioError(f"{w}.userType: expected Member or Guest, got {rec['userType']!r}")
            for p in rec["proxyAddresses"]:
                if ":" not in p:
                    raise ScenarioError(f"{w}.proxyAddresses: {p!r} lacks its prefix (SMTP: or smtp:)")
            sia = u.get("signInActivity")
            if sia is None:
                rec["signInActivity"] = None
            else:
                sw = f"{w}.signInActivity"
                _keys(sia, {"lastSignInDateTime", "lastNonInteractiveSignInDateTime", "lastSuccessfulSignInDateTime"},
                      sw)
                ok = _time(sia, "lastSuccessfulSignInDateTime", sw)
                last = _time(sia, "lastSignInDateTime", sw, ok)
                ni = _time(sia, "lastNonInteractiveSignInDateTime", sw)
                rid = lambda t, k: derived_guid("signin", rec["id"], k) if t else None  # noqa: E731
                rec["signInActivity"] = {"lastSignInDateTime": last, "lastSignInRequestId": rid(last, "i"),
                                         "lastNonInteractiveSignInDateTime": ni,
                                         "lastNonInteractiveSignInRequestId": rid(ni, "n"),
                                         "lastSuccessfulSignInDateTime": ok,
                                         "lastSuccessfulSignInRequestId": rid(ok, "s")}
            key = rec["userPrincipalName"].lower()
            if key in self.by_upn:
                raise ScenarioError(f"{w}.userPrincipalName: duplicate {rec['userPrincipalName']}")
            self.by_upn[key] = rec
            add("user", rec, w)
            self.users.append(rec)
        # Indexes for $filter: lower-cased value -> positions.
        self.index: dict[str, dict[str, list[int]]] = {k: {} for k in
                                                       ("userPrincipalName", "mail", "employeeId", "otherMails",
                                                        "proxyAddresses", "id")}
        for u in self.users:
            for prop, idx in self.index.items():
                values = u[prop] if isinstance(u[prop], list) else [u[prop]]
                for v in values:
                    if v:
                        idx.setdefault(v.lower(), []).append(u["pos"])

        self.groups: list[dict] = []
        for i, g in enumerate(_list(raw, "groups", "scenario")):
            w = f"groups[{i}]"
            _keys(g, {"id", "displayName", "description", "isAssignableToRole", "createdDateTime", "members"}, w)
            rec = {"id": _guid(g, "id", w), "displayName": _str(g, "displayName", w, True),
                   "description": _str(g, "description", w), "isAssignableToRole": _bool(g, "isAssignableToRole", w),
                   "createdDateTime": _time(g, "createdDateTime", w, "2024-02-01T09:00:00Z"),
                   "members": [m.lower() for m in _strings(g, "members", w)]}
            add("group", rec, w)
            self.groups.append(rec)
        self.apps: list[dict] = []
        for i, a in enumerate(_list(raw, "applications", "scenario")):
            w = f"applications[{i}]"
            _keys(a, {"id", "appId", "displayName", "createdDateTime", "owners", "passwordCredentials",
                      "keyCredentials"}, w)
            rec = {"id": _guid(a, "id", w), "appId": _guid(a, "appId", w), "displayName": _str(a, "displayName", w, True),
                   "createdDateTime": _time(a, "createdDateTime", w, "2025-01-10T09:00:00Z"),
                   "owners": [o.lower() for o in _strings(a, "owners", w)]}
            rec["passwordCredentials"] = _creds(a, "passwordCredentials", w, rec["id"], False)
            rec["keyCredentials"] = _creds(a, "keyCredentials", w, rec["id"], True)
            add("application", rec, w)
            self.apps.append(rec)
        self.sps: list[dict] = []
        for i, a in enumerate(_list(raw, "servicePrincipals", "scenario")):
            w = f"servicePrincipals[{i}]"
            _keys(a, {"id", "appId", "displayName", "servicePrincipalType", "appOwnerOrganizationId", "owners",
                      "passwordCredentials", "keyCredentials"}, w)
            rec = {"id": _guid(a, "id", w), "appId": _guid(a, "appId", w), "displayName": _str(a, "displayName", w, True),
                   "servicePrincipalType": _str(a, "servicePrincipalType", w, default="Application"),
                   "appOwnerOrganizationId": _guid(a, "appOwnerOrganizationId", w, False) or self.tenant_id,
                   "owners": [o.lower() for o in _strings(a, "owners", w)]}
            rec["passwordCredentials"] = _creds(a, "passwordCredentials", w, rec["id"], False)
            rec["keyCredentials"] = _creds(a, "keyCredentials", w, rec["id"], True)
            add("servicePrincipal", rec, w)
            self.sps.append(rec)
        if self.scanner_sp and self.scanner_sp not in self.objects:
            raise ScenarioError(f"scanner.servicePrincipalId: {self.scanner_sp} is no service principal of the scenario")

        def ref(value: str, where: str, kinds: tuple) -> str:
            hit = self.objects.get(value.lower())
            if hit is None or hit[0] not in kinds:
                raise ScenarioError(f"{where}: {value!r} is no {' or '.join(kinds)} of the scenario")
            return value.lower()

        self.parents: dict[str, list[str]] = {}
        for i, g in enumerate(self.groups):
            for m in g["members"]:
                ref(m, f"groups[{i}].members", ("user", "group", "servicePrincipal"))
                self.parents.setdefault(m, []).append(g["id"])
        self.owned: dict[str, list[str]] = {}
        for what, items in (("applications", self.apps), ("servicePrincipals", self.sps)):
            for i, a in enumerate(items):
                for o in a["owners"]:
                    ref(o, f"{what}[{i}].owners", ("user",))
                    self.owned.setdefault(o, []).append(a["id"])
        self.grants: dict[str, list[dict]] = {}
        for i, g in enumerate(_list(raw, "oauth2PermissionGrants", "scenario")):
            w = f"oauth2PermissionGrants[{i}]"
            _keys(g, {"id", "clientId", "consentType", "principalId", "resourceId", "scope"}, w)
            consent = _str(g, "consentType", w, default="Principal")
            if consent not in ("Principal", "AllPrincipals"):
                raise ScenarioError(f"{w}.consentType: expected Principal or AllPrincipals")
            rec = {"clientId": ref(_str(g, "clientId", w, True), f"{w}.clientId", ("servicePrincipal",)),
                   "consentType": consent, "id": _str(g, "id", w, True),
                   "principalId": ref(_str(g, "principalId", w, True), f"{w}.principalId", ("user",))
                   if consent == "Principal" else None,
                   "resourceId": ref(_str(g, "resourceId", w, True), f"{w}.resourceId", ("servicePrincipal",)),
                   "scope": _str(g, "scope", w, default="")}
            self.grants.setdefault(rec["principalId"] or "*", []).append(rec)
        self.app_roles: dict[str, list[dict]] = {}
        for i, a in enumerate(_list(raw, "appRoleAssignments", "scenario")):
            w = f"appRoleAssignments[{i}]"
            _keys(a, {"id", "appRoleId", "createdDateTime", "principalId", "resourceId"}, w)
            pid = ref(_str(a, "principalId", w, True), f"{w}.principalId", ("user",))
            rid = ref(_str(a, "resourceId", w, True), f"{w}.resourceId", ("servicePrincipal",))
            rec = {"id": _str(a, "id", w, True), "deletedDateTime": None,
                   "appRoleId": _guid(a, "appRoleId", w, False) or "00000000-0000-0000-0000-000000000000",
                   "createdDateTime": _time(a, "createdDateTime", w, "2025-05-01T09:00:00Z"),
                   "principalDisplayName": self.objects[pid][1]["displayName"], "principalId": pid,
                   "principalType": "User", "resourceDisplayName": self.objects[rid][1]["displayName"],
                   "resourceId": rid}
            self.app_roles.setdefault(pid, []).append(rec)
        # Directory roles.
        self.role_defs: list[dict] = [{"id": rid, "description": desc, "displayName": name, "isBuiltIn": True,
                                       "isEnabled": True, "resourceScopes": ["/"], "templateId": rid, "version": "1",
                                       "rolePermissions": [{"allowedResourceActions": acts, "condition": None}]}
                                      for rid, name, desc, acts in BUILTIN_DIRECTORY_ROLES]
        for i, d in enumerate(_list(raw, "roleDefinitions", "scenario")):
            w = f"roleDefinitions[{i}]"
            _keys(d, {"id", "displayName", "description", "allowedResourceActions"}, w)
            rid = _guid(d, "id", w)
            self.role_defs.append({"id": rid, "description": _str(d, "description", w, default=""),
                                   "displayName": _str(d, "displayName", w, True), "isBuiltIn": False,
                                   "isEnabled": True, "resourceScopes": ["/"], "templateId": rid, "version": None,
                                   "rolePermissions": [{"allowedResourceActions":
                                                        _strings(d, "allowedResourceActions", w), "condition": None}]})
        by_role = {**{r["id"]: r["id"] for r in self.role_defs}, **{r["displayName"].lower(): r["id"]
                                                                     for r in self.role_defs}}
        self.role_assignments: list[dict] = []
        for i, a in enumerate(_list(raw, "roleAssignments", "scenario")):
            w = f"roleAssignments[{i}]"
            _keys(a, {"id", "principalId", "roleDefinitionId", "directoryScopeId"}, w)
            role = _str(a, "roleDefinitionId", w, True)
            if role.lower() not in by_role:
                raise ScenarioError(f"{w}.roleDefinitionId: unknown directory role {role!r}")
            self.role_assignments.append({
                "id": _str(a, "id", w, True), "directoryScopeId": _str(a, "directoryScopeId", w, default="/"),
                "principalId": ref(_str(a, "principalId", w, True), f"{w}.principalId",
                                   ("user", "group", "servicePrincipal")),
                "roleDefinitionId": by_role[role.lower()]})
        self._azure(_keys(raw.get("azure") or {}, {"subscriptions", "roleDefinitions", "roleAssignments"}, "azure"))
        self.meta = raw.get("meta") or {}

    def _azure(self, az: dict) -> None:
        self.subs: list[dict] = []
        self.sub_by_id: dict[str, dict] = {}
        for i, s in enumerate(_list(az, "subscriptions", "azure")):
            w = f"azure.subscriptions[{i}]"
            _keys(s, {"subscriptionId", "displayName", "state"}, w)
            rec = {"subscriptionId": _guid(s, "subscriptionId", w), "displayName": _str(s, "displayName", w, True),
                   "state": _str(s, "state", w, default="Enabled")}
            if rec["state"] not in ("Enabled", "Disabled", "Warned", "PastDue", "Deleted"):
                raise ScenarioError(f"{w}.state: unknown state {rec['state']!r}")
            self.subs.append(rec)
            self.sub_by_id[rec["subscriptionId"]] = rec
        self.az_roles: list[dict] = [{"name": g, "roleName": n, "type": "BuiltInRole", "description": d,
                                      "assignableScopes": ["/"], "actions": a, "notActions": na, "dataActions": da,
                                      "notDataActions": nda, "createdOn": "2015-02-02T21:55:09.8806423Z",
                                      "updatedOn": "2024-04-25T15:32:11.1022384Z"}
                                     for g, n, d, a, na, da, nda in BUILTIN_AZURE_ROLES]
        for i, r in enumerate(_list(az, "roleDefinitions", "azure")):
            w = f"azure.roleDefinitions[{i}]"
            _keys(r, {"name", "roleName", "description", "actions", "notActions", "dataActions", "notDataActions",
                      "assignableScopes"}, w)
            self.az_roles.append({"name": _guid(r, "name", w), "roleName": _str(r, "roleName", w, True),
                                  "type": "CustomRole", "description": _str(r, "description", w, default=""),
                                  "assignableScopes": _strings(r, "assignableScopes", w) or
                                  [f"/subscriptions/{s['subscriptionId']}" for s in self.subs],
                                  "actions": _strings(r, "actions", w), "notActions": _strings(r, "notActions", w),
                                  "dataActions": _strings(r, "dataActions", w),
                                  "notDataActions": _strings(r, "notDataActions", w),
                                  "createdOn": "2025-03-03T10:00:00.0000000Z", "updatedOn": "2025-03-03T10:00:00.0000000Z"})
        role_by = {**{r["name"]: r["name"] for r in self.az_roles}, **{r["roleName"].lower(): r["name"]
                                                                        for r in self.az_roles}}
        self.az_assignments: list[dict] = []
        for i, a in enumerate(_list(az, "roleAssignments", "azure")):
            w = f"azure.roleAssignments[{i}]"
            _keys(a, {"name", "scope", "role", "principalId", "principalType", "createdOn", "createdBy",
                      "description", "condition"}, w)
            scope = _str(a, "scope", w, True, rx=ARM_SCOPE, what="/ or /subscriptions/GUID[/resourceGroups/...]")
            m = re.match(r"^/subscriptions/([^/]+)", scope)
            if m and m.group(1).lower() not in self.sub_by_id:
                raise ScenarioError(f"{w}.scope: subscription {m.group(1)} is not in azure.subscriptions")
            role = _str(a, "role", w, True)
            if role.lower() not in role_by:
                raise ScenarioError(f"{w}.role: unknown Azure role {role!r}")
            ptype = _str(a, "principalType", w, default="User")
            if ptype not in ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device"):
                raise ScenarioError(f"{w}.principalType: unknown {ptype!r}")
            created = _time(a, "createdOn", w, "2025-06-01T10:00:00Z")
            self.az_assignments.append({
                "name": _guid(a, "name", w), "scope": scope, "sub": m.group(1).lower() if m else None,
                "role": role_by[role.lower()], "principalId": _guid(a, "principalId", w), "principalType": ptype,
                "createdOn": created, "createdBy": _guid(a, "createdBy", w, False),
                "description": _str(a, "description", w), "condition": _str(a, "condition", w)})
        names = [a["name"] for a in self.az_assignments]
        if len(set(names)) != len(names):
            raise ScenarioError("azure.roleAssignments: duplicate assignment names")

    def user(self, key: str) -> dict | None:
        key = key.lower()
        hit = self.objects.get(key)
        if hit is not None:
            return hit[1] if hit[0] == "user" else None
        return self.by_upn.get(key)

    def transitive_groups(self, oid: str) -> list[str]:
        seen: list[str] = []
        todo = list(self.parents.get(oid, []))
        while todo:
            g = todo.pop(0)
            if g not in seen:
                seen.append(g)
                todo.extend(self.parents.get(g, []))
        return seen


# ---------------------------------------------------------------------------
# Bodies
# ---------------------------------------------------------------------------


def user_full(u: dict) -> dict:
    first, _, last = u["displayName"].partition(" ")
    return {"id": u["id"], "accountEnabled": u["accountEnabled"], "ageGroup": None, "businessPhones": [],
            "city": None, "companyName": None, "country": None, "createdDateTime": u["createdDateTime"],
            "creationType": "Invitation" if u["userType"] == "Guest" else None, "department": u["department"],
            "displayName": u["displayName"], "employeeId": u["employeeId"], "employeeType": None,
            "externalUserState": "Accepted" if u["userType"] == "Guest" else None,
            "givenName": u["givenName"] if u["givenName"] is not None else (first or None),
            "jobTitle": u["jobTitle"], "mail": u["mail"], "mailNickname": u["userPrincipalName"].split("@")[0],
            "mobilePhone": None, "officeLocation": None, "onPremisesDistinguishedName": None,
            "onPremisesImmutableId": None, "onPremisesSamAccountName": u["onPremisesSamAccountName"],
            "onPremisesSyncEnabled": True if u["onPremisesSamAccountName"] else None,
            "otherMails": list(u["otherMails"]), "preferredLanguage": None, "proxyAddresses": list(u["proxyAddresses"]),
            "signInActivity": dict(u["signInActivity"]) if u["signInActivity"] else None,
            "surname": u["surname"] if u["surname"] is not None else (last or None), "usageLocation": None,
            "userPrincipalName": u["userPrincipalName"], "userType": u["userType"]}


def group_full(g: dict) -> dict:
    return {"id": g["id"], "deletedDateTime": None, "createdDateTime": g["createdDateTime"],
            "description": g["description"], "displayName": g["displayName"], "groupTypes": [],
            "isAssignableToRole": g["isAssignableToRole"], "mail": None, "mailEnabled": False,
            "mailNickname": re.sub(r"[^A-Za-z0-9]", "", g["displayName"]).lower() or "group", "securityEnabled": True}


def password_body(c: dict) -> dict:
    return {"customKeyIdentifier": None, "displayName": c["displayName"], "endDateTime": c["endDateTime"],
            "hint": c["hint"], "keyId": c["keyId"], "secretText": None, "startDateTime": c["startDateTime"]}


def key_body(c: dict) -> dict:
    return {"customKeyIdentifier": c["customKeyIdentifier"], "displayName": c["displayName"],
            "endDateTime": c["endDateTime"], "key": None, "keyId": c["keyId"], "startDateTime": c["startDateTime"],
            "type": c["type"], "usage": c["usage"]}


def app_full(a: dict, domain: str) -> dict:
    return {"id": a["id"], "deletedDateTime": None, "appId": a["appId"], "createdDateTime": a["createdDateTime"],
            "displayName": a["displayName"], "publisherDomain": domain, "signInAudience": "AzureADMyOrg",
            "keyCredentials": [key_body(c) for c in a["keyCredentials"]],
            "passwordCredentials": [password_body(c) for c in a["passwordCredentials"]]}


def sp_full(s: dict) -> dict:
    return {"id": s["id"], "deletedDateTime": None, "accountEnabled": True, "appDisplayName": s["displayName"],
            "appId": s["appId"], "appOwnerOrganizationId": s["appOwnerOrganizationId"], "displayName": s["displayName"],
            "servicePrincipalNames": [s["appId"]], "servicePrincipalType": s["servicePrincipalType"], "tags": [],
            "keyCredentials": [key_body(c) for c in s["keyCredentials"]],
            "passwordCredentials": [password_body(c) for c in s["passwordCredentials"]]}


def organization_full(sc: Scenario) -> dict:
    return {"id": sc.tenant_id, "deletedDateTime": None, "businessPhones": [], "city": None, "country": None,
            "countryLetterCode": "US", "createdDateTime": sc.tenant_created, "displayName": sc.tenant_name,
            "marketingNotificationEmails": [], "onPremisesSyncEnabled": None, "postalCode": None,
            "preferredLanguage": "en", "securityComplianceNotificationMails": [], "state": None, "street": None,
            "technicalNotificationMails": [f"it@{sc.default_domain}"], "tenantType": "AAD",
            "verifiedDomains": [dict(d) for d in sc.domains]}


def object_full(sc: Scenario, kind: str, rec: dict) -> dict:
    if kind == "user":
        return user_full(rec)
    if kind == "group":
        return group_full(rec)
    if kind == "application":
        return app_full(rec, sc.default_domain)
    return sp_full(rec)


def project(full: dict, select: list[str] | None, odata_type: str | None = None) -> dict:
    out: dict[str, Any] = {}
    if odata_type:
        out["@odata.type"] = f"#microsoft.graph.{odata_type}"
    if select is None:
        out.update(full)
        return out
    if "id" not in select:
        out["id"] = full["id"]
    for k in select:
        out[k] = full[k]
    return out


def subscription_body(sc: Scenario, s: dict) -> dict:
    return {"id": f"/subscriptions/{s['subscriptionId']}", "authorizationSource": "RoleBased", "managedByTenants": [],
            "subscriptionId": s["subscriptionId"], "tenantId": sc.tenant_id, "displayName": s["displayName"],
            "state": s["state"], "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                                          "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}}


def az_role_body(sub: str, r: dict) -> dict:
    return {"id": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{r['name']}",
            "name": r["name"], "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {"roleName": r["roleName"], "type": r["type"], "description": r["description"],
                           "assignableScopes": list(r["assignableScopes"]),
                           "permissions": [{"actions": list(r["actions"]), "notActions": list(r["notActions"]),
                                            "dataActions": list(r["dataActions"]),
                                            "notDataActions": list(r["notDataActions"])}],
                           "createdOn": r["createdOn"], "updatedOn": r["updatedOn"], "createdBy": None,
                           "updatedBy": None}}


def az_assignment_body(sub: str, a: dict) -> dict:
    scope = a["scope"]
    return {"id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{a['name']}",
            "type": "Microsoft.Authorization/roleAssignments", "name": a["name"],
            "properties": {"roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/"
                                               f"roleDefinitions/{a['role']}",
                           "principalId": a["principalId"], "principalType": a["principalType"], "scope": scope,
                           "condition": a["condition"], "conditionVersion": "2.0" if a["condition"] else None,
                           "createdOn": a["createdOn"], "updatedOn": a["createdOn"], "createdBy": a["createdBy"],
                           "updatedBy": a["createdBy"], "delegatedManagedIdentityResourceId": None,
                           "description": a["description"]}}


# ---------------------------------------------------------------------------
# OData query options
# ---------------------------------------------------------------------------


def parse_select(text: str | None, type_name: str) -> list[str] | None:
    if text is None:
        return None
    known = {p.lower(): p for p in TYPE_PROPS[type_name]}
    out: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if not name:
            continue
        canon = known.get(name.lower())
        if canon is None:
            raise GraphError(400, "Request_BadRequest",
                             f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'.")
        if canon not in out:
            out.append(canon)
    return out or None


def split_or(text: str) -> list[str]:
    """Split a filter on ` or ` outside string literals."""
    parts, buf, quoted, i = [], [], False, 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        if not quoted and text[i:i + 4].lower() == " or ":
            parts.append("".join(buf))
            buf = []
            i += 4
            continue
        buf.append(ch)
        i += 1
    if quoted:
        raise GraphError(400, "BadRequest", f"Invalid filter clause: unterminated string literal in '{text}'.")
    parts.append("".join(buf))
    return [p.strip() for p in parts]


LITERAL = r"'((?:[^']|'')*)'"
EQ_CLAUSE = re.compile(rf"^\(?\s*([A-Za-z_][\w]*)\s+eq\s+(?:{LITERAL}|(true|false))\s*\)?$", re.I)
ANY_CLAUSE = re.compile(rf"^\(?\s*([A-Za-z_]\w*)/any\(\s*(\w+)\s*:\s*(\w+)\s+eq\s+{LITERAL}\s*\)\s*\)?$", re.I)


def parse_user_filter(text: str) -> list[tuple[str, str, Any]]:
    """[(kind, property, value)] with kind "eq" | "any" | "bool"; errors as Graph's."""
    clauses = split_or(text)
    if len(clauses) > MAX_OR:
        raise GraphError(400, "Request_UnsupportedQuery",
                         f"Too many child clauses specified in search filter expression containing 'OR' operators: "
                         f"{len(clauses)}. Max allowed: {MAX_OR}.")
    out = []
    known = {p.lower() for p in USER_PROPS}
    for c in clauses:
        m = ANY_CLAUSE.match(c)
        if m:
            prop, var, var2, lit = m.groups()
            if prop.lower() not in known:
                raise GraphError(400, "Request_BadRequest",
                                 f"Could not find a property named '{prop}' on type 'microsoft.graph.user'.")
            if prop.lower() not in USER_ANY or var != var2:
                raise GraphError(400, "Request_UnsupportedQuery", f"Unsupported or invalid query filter clause "
                                 f"specified for property '{prop}' of resource 'User'.")
            out.append(("any", USER_ANY[prop.lower()], lit.replace("''", "'")))
            continue
        m = EQ_CLAUSE.match(c)
        if not m:
            word = re.match(r"^\(?\s*([A-Za-z_]\w*)", c)
            if word and word.group(1).lower() not in known and word.group(1).lower() not in ("startswith", "not",
                                                                                              "endswith"):
                raise GraphError(400, "Request_BadRequest",
                                 f"Could not find a property named '{word.group(1)}' on type 'microsoft.graph.user'.")
            raise GraphError(400, "Request_UnsupportedQuery", f"Unsupported query filter clause '{c}'.")
        prop, lit, boolean = m.groups()
        low = prop.lower()
        if low not in known:
            raise GraphError(400, "Request_BadRequest",
                             f"Could not find a property named '{prop}' on type 'microsoft.graph.user'.")
        if low == "accountenabled" and boolean:
            out.append(("bool", "accountEnabled", boolean.lower() == "true"))
        elif low in USER_EQ and lit is not None:
            out.append(("eq", USER_EQ[low], lit.replace("''", "'")))
        else:
            raise GraphError(400, "Request_UnsupportedQuery", f"Unsupported or invalid query filter clause specified "
                                                              f"for property '{prop}' of resource 'User'.")
    return out


def page_token(key: Any, offset: int) -> str:
    bound = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    raw = f"{offset}:{bound}"
    mac = hmac.new(PAGE_SECRET, raw.encode(), hashlib.sha256).hexdigest()[:12]
    return "RFNwdAIAAQAAA" + base64.urlsafe_b64encode(f"{raw}:{mac}".encode()).decode().rstrip("=")


def read_page_token(token: str | None, key: Any) -> int | None:
    """The offset, or None when the token is not this query's."""
    if not token:
        return 0
    try:
        if not token.startswith("RFNwdAIAAQAAA"):
            return None
        body = token[len("RFNwdAIAAQAAA"):]
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        offset, bound, mac = raw.split(":")
        good = hmac.new(PAGE_SECRET, f"{offset}:{bound}".encode(), hashlib.sha256).hexdigest()[:12]
        want = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        if not hmac.compare_digest(mac, good) or bound != want:
            return None
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        return None


def encode_query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={quote(v, safe=',:/()@$*')}" for k, v in pairs)


# ---------------------------------------------------------------------------
# The API
# ---------------------------------------------------------------------------


class MsApi:
    def __init__(self, scenario: Scenario, secrets_by_client: dict[str, list[str]] | None = None,
                 certs: dict[str, Any] | None = None, grants: dict[str, set[str]] | None = None,
                 arm_readers: dict[str, set[str]] | None = None, premium: bool = True, rate_limit: int = 1_000_000,
                 latency_ms: float = 0, log_path: str | None = None, token_lifetime: int = 3599):
        self.sc = scenario
        self.secrets = {k.lower(): list(v) for k, v in (secrets_by_client or {}).items()}
        self.certs = {k.lower(): v for k, v in (certs or {}).items()}   # client -> (public key, sha1, sha256)
        self.perms = {k.lower(): set(v) for k, v in (grants or {}).items()}
        self.arm_readers = {k.lower(): {s.lower() for s in v} for k, v in (arm_readers or {}).items()}
        self.premium = premium
        self.rate_limit = rate_limit
        self.latency = latency_ms / 1000
        self.token_lifetime = token_lifetime
        self.graph_page = GRAPH_PAGE
        self.arm_page = ARM_PAGE
        self.lock = threading.Lock()
        self.minted: dict[str, Minted] = {}
        self.windows: dict[str, list] = {}
        self.arm_reads: dict[str, int] = {}
        self.cache: OrderedDict[str, list] = OrderedDict()
        self.faults = FaultRules(["status", "delay", "garbage", "hang", "throttle", "refuse_token", "short_list"],
                                 retry_after_default=2, skip=self._skip)
        self.stats = self._zero()
        self.log: list[dict] = []
        self.log_fh = open(log_path, "a", encoding="utf-8") if log_path else None

    @staticmethod
    def _skip(rule: dict, ctx: dict) -> bool:
        if ctx.get("phase") == "short_list":
            return rule["kind"] != "short_list"
        if rule["kind"] == "short_list":
            return True
        return rule["kind"] == "refuse_token" and ctx.get("api") != "login"

    @staticmethod
    def _zero() -> dict:
        return {"requests": 0, "by_path": {}, "by_status": {}, "by_api": {}}

    # -- plumbing -----------------------------------------------------------------------

    @staticmethod
    def _json(payload: Any) -> bytes:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()

    @staticmethod
    def graph_headers(rid: str, crid: str, content_type: str = GRAPH_JSON) -> list:
        return [("Content-Type", content_type), ("Cache-Control", "no-cache"), ("OData-Version", "4.0"),
                ("Strict-Transport-Security", "max-age=31536000"), ("request-id", rid), ("client-request-id", crid),
                ("x-ms-ags-diagnostic", DIAGNOSTIC), ("x-ms-resource-unit", "1")]

    def arm_headers(self, rid: str, client: str | None) -> list:
        with self.lock:
            used = self.arm_reads.get(client or "", 0)
        return [("Content-Type", ARM_JSON), ("Cache-Control", "no-cache"), ("Pragma", "no-cache"),
                ("Expires", "-1"), ("x-ms-request-id", rid), ("x-ms-correlation-request-id", rid),
                ("x-ms-ratelimit-remaining-subscription-reads", str(max(0, 11999 - used))),
                ("x-ms-routing-request-id", f"WESTEUROPE:{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}:{rid}"),
                ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
                ("X-Content-Type-Options", "nosniff")]

    @staticmethod
    def login_headers(rid: str) -> list:
        return [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store, no-cache"),
                ("Pragma", "no-cache"), ("x-ms-request-id", rid), ("x-ms-ests-server", "2.1.19570.4 - WEULR1 ProdSlices"),
                ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
                ("X-Content-Type-Options", "nosniff")]

    def graph_error(self, e: GraphError, rid: str, crid: str) -> Reply:
        body = {"error": {"code": e.code, "message": e.message,
                          "innerError": {"date": now_iso(), "request-id": rid, "client-request-id": crid}}}
        return Reply(e.status, self._json(body), self.graph_headers(rid, crid, "application/json") + e.headers)

    def arm_error(self, e: GraphError, rid: str, client: str | None) -> Reply:
        return Reply(e.status, self._json({"error": {"code": e.code, "message": e.message}}),
                     self.arm_headers(rid, client) + e.headers)

    def entra_error(self, e: EntraError, rid: str) -> Reply:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        trace, corr = rid, str(uuid.uuid4())
        body = {"error": e.error,
                "error_description": f"AADSTS{e.number}: {e.description}\r\nTrace ID: {trace}\r\nCorrelation ID: "
                                     f"{corr}\r\nTimestamp: {stamp}",
                "error_codes": [e.number], "timestamp": stamp, "trace_id": trace, "correlation_id": corr,
                "error_uri": f"https://login.microsoftonline.com/error?code={e.number}"}
        return Reply(e.status, self._json(body), self.login_headers(rid))

    def error_reply(self, api: str | None, e: Exception, rid: str, crid: str, client: str | None) -> Reply:
        if isinstance(e, EntraError):
            return self.entra_error(e, rid)
        assert isinstance(e, GraphError)
        if api == "arm":
            return self.arm_error(e, rid, client)
        if api == "login":
            return self.entra_error(EntraError(e.status, "invalid_request" if e.status < 500 else
                                               "temporarily_unavailable", 90033 if e.status >= 500 else 900144,
                                               e.message), rid)
        return self.graph_error(e, rid, crid)

    @staticmethod
    def status_error(api: str | None, status: int, message: str | None) -> GraphError:
        graph = {400: "BadRequest", 401: "InvalidAuthenticationToken", 403: "Authorization_RequestDenied",
                 404: "Request_ResourceNotFound", 409: "Conflict", 429: "TooManyRequests",
                 500: "InternalServerError", 502: "BadGateway", 503: "ServiceNotAvailable", 504: "GatewayTimeout"}
        arm = {400: "BadRequest", 401: "InvalidAuthenticationToken", 403: "AuthorizationFailed", 404: "NotFound",
               429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
               504: "GatewayTimeout"}
        text = {400: "Bad request.", 401: "Access token validation failure.", 403: NO_PRIVILEGE,
                404: "Resource not found.", 429: "Too many requests", 500: "An internal server error occurred.",
                502: "Bad gateway.", 503: "The service is temporarily unavailable. Please retry later.",
                504: "The gateway timed out."}
        code = (arm if api == "arm" else graph).get(status, "UnknownError")
        return GraphError(status, code, message or text.get(status, "An error occurred."))

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
        rid = str(uuid.uuid4())
        crid = headers.get("client-request-id") or rid
        tok, auth_kind, token_state = self.identify(headers)
        client = tok.client if tok else None
        if api == "login":
            client = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)).get("client_id")
        fault = self.faults.take(method, path + ("?" + parts.query if parts.query else ""), api=api)
        if self.latency:
            time.sleep(self.latency)
        reply: Reply
        if fault and fault["kind"] == "hang":   # logged with status 0: no answer is ever sent
            reply = Reply(0, b"", [], hang=fault["delay_seconds"] or 120)
        elif fault and fault["kind"] == "status":
            reply = self.error_reply(api, self.status_error(api, fault["status"] or 503, fault["message"]), rid,
                                     crid, client)
        elif fault and fault["kind"] == "throttle":
            e = self.status_error(api, 429, fault["message"])
            e.headers = [("Retry-After", str(fault["retry_after"]))]
            reply = self.error_reply(api, e, rid, crid, client)
            if api == "login":
                reply.status = 429
                reply.headers.append(("Retry-After", str(fault["retry_after"])))
        elif fault and fault["kind"] == "refuse_token":
            reply = self.entra_error(EntraError(401, "invalid_client", 7000222, fault["message"] or (
                f"The provided client secret keys for app '{client}' are expired. Visit the Azure portal to create "
                "new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials "
                "for added security: https://aka.ms/certCreds.")), rid)
        else:
            if fault and fault["kind"] == "delay":
                time.sleep(fault["delay_seconds"])
            try:
                reply = self.dispatch(r, method, params, query, headers, tok, auth_kind, token_state, body,
                                      base_url, rid, crid, path, parts.query)
            except (GraphError, EntraError) as e:
                reply = self.error_reply(api, e, rid, crid, client)
            if fault and fault["kind"] == "garbage":
                reply = Reply(200, reply.body[: max(1, len(reply.body) // 2)] or b'{"', reply.headers)
        reply.template, reply.api, reply.client = template, api, client
        reply.auth = "none" if api == "login" else auth_kind
        self._record(method, path, parts.query, reply)
        return reply

    def identify(self, headers: dict[str, str]) -> tuple[Minted | None, str, str]:
        """(token, auth kind for the log, state: ok | missing | unknown | expired)."""
        authz = headers.get("authorization")
        if not authz:
            return None, "none", "missing"
        scheme, _, value = authz.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None, "bad", "unknown"
        with self.lock:
            tok = self.minted.get(value.strip())
        if tok is None:
            return None, "bad", "unknown"
        if tok.expires <= time.time():
            return tok, "bad", "expired"
        return tok, "bearer", "ok"

    def spend(self, client: str) -> int:
        """Count a Graph request in its client's 10 s window; seconds to wait when past the limit, else 0."""
        now = time.time()
        with self.lock:
            w = self.windows.get(client)
            if w is None or now >= w[1]:
                w = [0, now // 10 * 10 + 10]
                self.windows[client] = w
            w[0] += 1
            if w[0] > self.rate_limit:
                return max(1, int(w[1] - now + 0.999))
            return 0

    def dispatch(self, r: Route | None, method: str, params: dict, query: list, headers: dict, tok: Minted | None,
                 auth_kind: str, state: str, body: bytes, base: str, rid: str, crid: str, path: str,
                 raw_query: str) -> Reply:
        api = r.api if r else guess_api(path)
        if r is None:
            if api == "graph":
                if method != "GET":
                    raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request "
                                                                "uri.")
                seg = path.rstrip("/").split("/")[-1] or path
                raise GraphError(400, "BadRequest", f"Resource not found for the segment '{seg}'.")
            if api == "arm":
                if method != "GET":
                    raise ArmError(405, "MethodNotAllowed", f"The requested resource does not support http method "
                                                            f"'{method}'.")
                raise ArmError(404, "InvalidResourceType", f"The resource type could not be found for the path "
                                                           f"'{path}' (this harness serves only read routes).")
            if api == "login":
                raise EntraError(404, "invalid_request", 900561, "The endpoint only accepts POST requests, and only "
                                                                 "at /{tenant}/oauth2/v2.0/token here.")
            return Reply(404, self._json({"error": {"code": "NotFound", "message": f"No route {path}"}}),
                         [("Content-Type", "application/json")])
        if method != r.http_method:
            if r.api == "login":
                raise EntraError(400, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a "
                                                                 f"{method} request.")
            if r.api == "arm":
                raise ArmError(405, "MethodNotAllowed", f"The requested resource does not support http method "
                                                        f"'{method}'.")
            raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri.")
        if r.api == "login":
            return self.token(params["tenant"], body, base, rid)
        qs: dict[str, str] = {}
        for k, v in query:
            qs.setdefault(k, v)
        if r.api == "arm":
            return self.arm(r, params, qs, tok, state, base, rid)
        # Graph: authentication, the rate limit, then permissions.
        if tok is None or state != "ok" or tok.audience != "graph":
            message = {"missing": "Access token is empty.",
                       "unknown": "IDX14100: JWT is not well formed, there are no dots (.).",
                       "expired": "Lifetime validation failed, the token is expired."}.get(state)
            if tok is not None and state == "ok":
                message = "Access token validation failure. Invalid audience."
            raise GraphError(401, "InvalidAuthenticationToken", message or "Access token validation failure.",
                             [("WWW-Authenticate", 'Bearer realm="", authorization_uri="https://login.microsoftonline'
                                                   '.com/common/oauth2/authorize", client_id="' + GRAPH_APP_ID + '"')])
        wait = self.spend(tok.client)
        if wait:
            raise GraphError(429, "TooManyRequests", "Too many requests", [("Retry-After", str(wait))])
        held = self.perms.get(tok.client, set())
        if r.perms and not held & set(r.perms):
            raise GraphError(403, "Authorization_RequestDenied", NO_PRIVILEGE)
        for k in qs:
            if k.startswith("$") and k not in r.params:
                raise GraphError(400, "BadRequest", f"Query option '{k}' is not allowed. To allow it, set the "
                                                    "'AllowedQueryOptions' property on EnableQueryAttribute or "
                                                    "QueryValidationSettings.")
        ctx = {"base": base, "path": path, "query": query, "headers": headers, "held": held, "rid": rid,
               "crid": crid, "template": r.template, "raw_query": raw_query, "method": method}
        payload = getattr(self, "g_" + r.handler)(params, qs, ctx)
        if isinstance(payload, Reply):
            return payload
        return Reply(200, self._json(payload), self.graph_headers(rid, crid))

    # -- Graph ----------------------------------------------------------------------------

    def top(self, qs: dict, default: int) -> int:
        if "$top" not in qs:
            return default
        try:
            n = int(qs["$top"])
        except ValueError:
            raise GraphError(400, "BadRequest", f"Invalid value '{qs['$top']}' for query option '$top'.") from None
        if not 1 <= n <= MAX_TOP:
            raise GraphError(400, "Request_BadRequest", f"Invalid page size specified: '{n}'. Must be between 1 and "
                                                        f"{MAX_TOP} inclusive.")
        return n

    def cached(self, key: str, build: Callable[[], list]) -> list:
        with self.lock:
            hit = self.cache.get(key)
            if hit is not None:
                self.cache.move_to_end(key)
                return hit
        items = build()
        with self.lock:
            self.cache[key] = items
            while len(self.cache) > 256:
                self.cache.popitem(last=False)
        return items

    def collection(self, items: list, qs: dict, ctx: dict, context: str, render: Callable[[Any], dict],
                   default_top: int | None = None, short_ok: bool = False, extra: dict | None = None) -> dict:
        size = self.top(qs, default_top or self.graph_page)
        key = [ctx["template"], ctx["path"], sorted((k, v) for k, v in qs.items() if k != "$skiptoken")]
        offset = read_page_token(qs.get("$skiptoken"), key)
        if offset is None:
            raise GraphError(400, "Directory_InvalidPagingToken" if "/users" in ctx["path"] else "BadRequest",
                             "The specified page token value has expired and can no longer be included in your "
                             "request.")
        page = items[offset:offset + size]
        out: dict[str, Any] = {"@odata.context": f"{ctx['base']}/v1.0/$metadata#{context}"}
        if extra:
            out.update(extra)
        last = offset + size >= len(items)
        if last and short_ok and page:
            target = ctx["path"] + ("?" + ctx["raw_query"] if ctx["raw_query"] else "")
            if self.faults.take(ctx["method"], target, phase="short_list", api="graph"):
                page = page[:-1]
        if not last:
            pairs = [(k, v) for k, v in ctx["query"] if k != "$skiptoken"]
            pairs.append(("$skiptoken", page_token(key, offset + size)))
            out["@odata.nextLink"] = f"{ctx['base']}{quote(ctx['path'], safe='/$')}?{encode_query(pairs)}"
        out["value"] = [render(x) for x in page]
        return out

    def g_organization(self, params: dict, qs: dict, ctx: dict) -> dict:
        select = parse_select(qs.get("$select"), "organization")
        context = f"organization({','.join(select)})" if select else "organization"
        return {"@odata.context": f"{ctx['base']}/v1.0/$metadata#{context}",
                "value": [project(organization_full(self.sc), select)]}

    def consistency(self, ctx: dict) -> bool:
        return (ctx["headers"].get("consistencylevel") or "").strip().lower() == "eventual"

    def user_list(self, qs: dict) -> list[dict]:
        text = qs.get("$filter")
        if text is None or not text.strip():
            return self.sc.users
        clauses = parse_user_filter(text)

        def build() -> list:
            hit: set[int] = set()
            for kind, prop, value in clauses:
                if kind == "bool":
                    hit.update(u["pos"] for u in self.sc.users if u["accountEnabled"] is value)
                elif prop in self.sc.index:
                    hit.update(self.sc.index[prop].get(value.lower(), []))
                else:
                    want = value.lower()
                    hit.update(u["pos"] for u in self.sc.users if (u[prop] or "").lower() == want)
            return [self.sc.users[i] for i in sorted(hit)]
        return self.cached("users?" + text, build)

    def g_users_count(self, params: dict, qs: dict, ctx: dict) -> Reply:
        if not self.consistency(ctx):
            raise GraphError(400, "Request_BadRequest", "Raw count (/$count) is not supported because the "
                             "'ConsistencyLevel:eventual' header is missing. Refer to "
                             "https://aka.ms/graph-docs/advanced-queries for more information")
        n = len(self.user_list(qs))
        return Reply(200, str(n).encode(), self.graph_headers(ctx["rid"], ctx["crid"], "text/plain"))

    def g_users(self, params: dict, qs: dict, ctx: dict) -> dict:
        select = parse_select(qs.get("$select"), "user")
        if select and "signInActivity" in select:
            if "AuditLog.Read.All" not in ctx["held"]:
                raise GraphError(403, "Authorization_RequestDenied", NO_PRIVILEGE)
            if not self.premium:
                raise GraphError(403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                                 "Neither tenant is B2C or tenant doesn't have premium license")
        extra = None
        if "$count" in qs:
            if qs["$count"].lower() not in ("true", "false"):
                raise GraphError(400, "BadRequest", f"Invalid value '{qs['$count']}' for query option '$count'.")
            if qs["$count"].lower() == "true":
                if not self.consistency(ctx):
                    raise GraphError(400, "Request_BadRequest", "$count is not currently supported without the "
                                     "'ConsistencyLevel:eventual' header. Refer to "
                                     "https://aka.ms/graph-docs/advanced-queries for more information")
                extra = {"@odata.count": len(self.user_list(qs))}
        items = self.user_list(qs)
        names = select or DEFAULT_USER
        context = f"users({','.join(select)})" if select else "users"

        def render(u: dict) -> dict:
            full = user_full(u)
            out = {} if select is None else {"id": u["id"]}
            for k in names:
                out[k] = full[k]
            return out
        return self.collection(items, qs, ctx, context, render, short_ok=True, extra=extra)

    def g_user(self, params: dict, qs: dict, ctx: dict) -> dict:
        u = self.the_user(params)
        select = parse_select(qs.get("$select"), "user")
        if select and "signInActivity" in select:
            if "AuditLog.Read.All" not in ctx["held"]:
                raise GraphError(403, "Authorization_RequestDenied", NO_PRIVILEGE)
            if not self.premium:
                raise GraphError(403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                                 "Neither tenant is B2C or tenant doesn't have premium license")
        full = user_full(u)
        out = {"id": u["id"]} if select else {}
        for k in select or DEFAULT_USER:
            out[k] = full[k]
        context = f"users({','.join(select)})/$entity" if select else "users/$entity"
        return {"@odata.context": f"{ctx['base']}/v1.0/$metadata#{context}", **out}

    def the_user(self, params: dict) -> dict:
        key = unquote(params["id"])
        u = self.sc.user(key)
        if u is None:
            raise GraphError(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist or one of its queried "
                                                              "reference-property objects are not present.")
        return u

    def g_member_of(self, params: dict, qs: dict, ctx: dict) -> dict:
        u = self.the_user(params)
        select = parse_select(qs.get("$select"), "group")
        groups = [self.sc.objects[g][1] for g in self.sc.transitive_groups(u["id"])]
        context = f"groups({','.join(select)})" if select else "directoryObjects"
        return self.collection(groups, qs, ctx, context,
                               lambda g: project(group_full(g), select, "group"))

    def g_owned(self, params: dict, qs: dict, ctx: dict) -> dict:
        u = self.the_user(params)
        cast = ctx["path"].rsplit("/", 1)[-1]
        kind = {"microsoft.graph.application": "application",
                "microsoft.graph.servicePrincipal": "servicePrincipal"}.get(cast)
        select = parse_select(qs.get("$select"), kind) if kind else None
        owned = [self.sc.objects[o] for o in self.sc.owned.get(u["id"], [])]
        if kind:
            owned = [o for o in owned if o[0] == kind]
        plural = {"application": "applications", "servicePrincipal": "servicePrincipals"}.get(kind or "",
                                                                                               "directoryObjects")
        context = f"{plural}({','.join(select)})" if select else plural
        return self.collection(owned, qs, ctx, context,
                               lambda o: project(object_full(self.sc, o[0], o[1]), select, o[0]))

    def g_grants(self, params: dict, qs: dict, ctx: dict) -> dict:
        u = self.the_user(params)
        select = parse_select(qs.get("$select"), "oAuth2PermissionGrant")
        return self.collection(self.sc.grants.get(u["id"], []), qs, ctx,
                               f"users('{u['id']}')/oauth2PermissionGrants",
                               lambda g: project({k: g[k] for k in GRANT_PROPS}, select))

    def g_app_roles(self, params: dict, qs: dict, ctx: dict) -> dict:
        u = self.the_user(params)
        select = parse_select(qs.get("$select"), "appRoleAssignment")
        return self.collection(self.sc.app_roles.get(u["id"], []), qs, ctx, f"users('{u['id']}')/appRoleAssignments",
                               lambda a: project({k: a[k] for k in ARA_PROPS}, select))

    def g_service_principal(self, params: dict, qs: dict, ctx: dict) -> dict:
        key = unquote(params["id"]).lower()
        hit = self.sc.objects.get(key)
        if hit is None or hit[0] != "servicePrincipal":
            raise GraphError(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist or one of its queried "
                                                              "reference-property objects are not present.")
        select = parse_select(qs.get("$select"), "servicePrincipal")
        context = f"servicePrincipals({','.join(select)})/$entity" if select else "servicePrincipals/$entity"
        return {"@odata.context": f"{ctx['base']}/v1.0/$metadata#{context}", **project(sp_full(hit[1]), select)}

    def g_role_definitions(self, params: dict, qs: dict, ctx: dict) -> dict:
        select = parse_select(qs.get("$select"), "unifiedRoleDefinition")
        context = "roleManagement/directory/roleDefinitions" + (f"({','.join(select)})" if select else "")
        return self.collection(self.sc.role_defs, qs, ctx, context, lambda d: project(d, select))

    def g_role_assignments(self, params: dict, qs: dict, ctx: dict) -> dict:
        select = parse_select(qs.get("$select"), "unifiedRoleAssignment")
        context = "roleManagement/directory/roleAssignments" + (f"({','.join(select)})" if select else "")
        items = self.sc.role_assignments
        f = qs.get("$filter")
        if f is not None:
            # `principalId eq '<id>'` and `roleDefinitionId eq '<id>'`, joined by ` and `.
            tests = []
            for clause in re.split(r"\s+and\s+", f.strip()):
                m = re.fullmatch(r"(principalId|roleDefinitionId)\s+eq\s+'([^']*)'", clause.strip())
                if not m:
                    raise GraphError(400, "BadRequest", f"Invalid filter clause: {clause}")
                tests.append((m.group(1), m.group(2).lower()))
            items = [a for a in items if all(str(a.get(k, "")).lower() == v for k, v in tests)]
        return self.collection(items, qs, ctx, context, lambda a: project(a, select))

    # -- ARM ------------------------------------------------------------------------------

    def sp_of(self, client: str) -> str:
        if self.sc.scanner_client and client == self.sc.scanner_client and self.sc.scanner_sp:
            return self.sc.scanner_sp
        for s in self.sc.sps:
            if s["appId"] == client:
                return s["id"]
        return derived_guid("sp", client)

    def readable(self, client: str, sub: str) -> bool:
        subs = self.arm_readers.get(client, set())
        return "*" in subs or sub in subs

    def arm(self, r: Route, params: dict, qs: dict, tok: Minted | None, state: str, base: str, rid: str) -> Reply:
        if tok is None or state != "ok" or tok.audience != "arm":
            if state == "missing":
                raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is "
                                                            "missing.")
            if state == "expired" and tok is not None:
                raise ArmError(401, "ExpiredAuthenticationToken", "The access token expiry UTC time '"
                               f"{dt.datetime.fromtimestamp(tok.expires, dt.timezone.utc):%m/%d/%Y %I:%M:%S %p}' is "
                               "earlier than current UTC time '"
                               f"{dt.datetime.now(dt.timezone.utc):%m/%d/%Y %I:%M:%S %p}'.")
            if tok is not None:
                raise ArmError(401, "InvalidAuthenticationTokenAudience", "The access token has been obtained for "
                               "wrong audience or resource 'https://graph.microsoft.com'. It should exactly match with "
                               "one of the allowed audiences 'https://management.core.windows.net/','https://"
                               "management.core.windows.net','https://management.azure.com/','https://"
                               "management.azure.com'.")
            raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.")
        with self.lock:
            self.arm_reads[tok.client] = self.arm_reads.get(tok.client, 0) + 1
        wanted = SUBSCRIPTIONS_API if r.handler in ("arm_subscriptions", "arm_subscription") else AUTHORIZATION_API
        version = qs.get("api-version")
        if not version:
            raise ArmError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is "
                                                              "required for all requests.")
        if version not in wanted:
            raise ArmError(400, "InvalidApiVersionParameter", f"The api-version '{version}' is invalid. The supported "
                                                              f"versions are '{','.join(wanted)}'.")
        ctx = {"base": base, "client": tok.client, "qs": qs, "rid": rid}
        payload = getattr(self, r.handler)(params, qs, ctx)
        return Reply(200, self._json(payload), self.arm_headers(rid, tok.client))

    def denied(self, client: str, action: str, scope: str) -> ArmError:
        return ArmError(403, "AuthorizationFailed", f"The client '{client}' with object id '{self.sp_of(client)}' "
                        f"does not have authorization to perform action '{action}' over scope '{scope}' or the scope "
                        "is invalid. If access was recently granted, please refresh your credentials.")

    def the_sub(self, params: dict, client: str, action: str) -> dict:
        sid = unquote(params["sub"]).lower()
        s = self.sc.sub_by_id.get(sid)
        if s is None:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sid}' could not be found.")
        if not self.readable(client, sid):
            raise self.denied(client, action, f"/subscriptions/{sid}")
        return s

    def arm_page_of(self, items: list, qs: dict, ctx: dict, path: str, key: Any) -> tuple[list, str | None]:
        offset = read_page_token(qs.get("$skiptoken"), key)
        if offset is None:
            raise ArmError(400, "InvalidSkipToken", "The skip token in the request is invalid.")
        page = items[offset:offset + self.arm_page]
        link = None
        if offset + self.arm_page < len(items):
            pairs = [(k, v) for k, v in qs.items() if k != "$skiptoken"]
            pairs.append(("$skiptoken", page_token(key, offset + self.arm_page)))
            link = f"{ctx['base']}{path}?{encode_query(pairs)}"
        return page, link

    def arm_subscriptions(self, params: dict, qs: dict, ctx: dict) -> dict:
        subs = [s for s in self.sc.subs if self.readable(ctx["client"], s["subscriptionId"])]
        page, link = self.arm_page_of(subs, qs, ctx, "/subscriptions", ["subs", ctx["client"]])
        out: dict[str, Any] = {"value": [subscription_body(self.sc, s) for s in page]}
        if link:
            out["nextLink"] = link
        out["count"] = {"type": "Total", "value": len(subs)}
        return out

    def arm_subscription(self, params: dict, qs: dict, ctx: dict) -> dict:
        return subscription_body(self.sc, self.the_sub(params, ctx["client"], "Microsoft.Resources/subscriptions/read"))

    def arm_role_definitions(self, params: dict, qs: dict, ctx: dict) -> dict:
        s = self.the_sub(params, ctx["client"], "Microsoft.Authorization/roleDefinitions/read")
        sid = s["subscriptionId"]
        roles = [r for r in self.sc.az_roles
                 if any(sc == "/" or sc.lower() == f"/subscriptions/{sid}" or
                        sc.lower().startswith(f"/subscriptions/{sid}/") for sc in r["assignableScopes"])]
        flt = (qs.get("$filter") or "").strip()
        if flt:
            m = re.match(rf"^roleName\s+eq\s+{LITERAL}$", flt)
            if not m:
                raise ArmError(400, "InvalidFilterInQueryString", f"The filter '{flt}' is not supported.")
            roles = [r for r in roles if r["roleName"].lower() == m.group(1).replace("''", "'").lower()]
        return {"value": [az_role_body(sid, r) for r in roles]}

    def arm_role_assignments(self, params: dict, qs: dict, ctx: dict) -> dict:
        s = self.the_sub(params, ctx["client"], "Microsoft.Authorization/roleAssignments/read")
        sid = s["subscriptionId"]
        at_scope, principal = False, None
        flt = (qs.get("$filter") or "").strip()
        for term in [t.strip() for t in re.split(r"\s+and\s+", flt, flags=re.I)] if flt else []:
            m = re.match(rf"^(?:principalId\s+eq\s+{LITERAL}|assignedTo\({LITERAL}\))$", term, re.I)
            if term.lower() == "atscope()":
                at_scope = True
            elif m:
                principal = (m.group(1) if m.group(1) is not None else m.group(2)).lower()
            else:
                raise ArmError(400, "InvalidFilterInQueryString", f"The filter '{flt}' is not supported. Supported "
                                                                  "filters: atScope(), principalId eq '{id}', "
                                                                  "assignedTo('{id}').")
        items = [a for a in self.sc.az_assignments if a["scope"] == "/" or
                 (a["sub"] == sid and (not at_scope or a["scope"].lower() == f"/subscriptions/{sid}"))]
        if principal:
            items = [a for a in items if a["principalId"] == principal]
        path = f"/subscriptions/{sid}/providers/Microsoft.Authorization/roleAssignments"
        page, link = self.arm_page_of(items, qs, ctx, path, ["ra", sid, flt])
        out: dict[str, Any] = {"value": [az_assignment_body(sid, a) for a in page]}
        if link:
            out["nextLink"] = link
        return out

    # -- token endpoint ---------------------------------------------------------------------

    @staticmethod
    def _b64(s: str) -> bytes:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

    def token(self, tenant: str, body: bytes, base: str, rid: str) -> Reply:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        t = tenant.lower()
        if t != self.sc.tenant_id and t not in {d["name"].lower() for d in self.sc.domains}:
            raise EntraError(400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Check to make sure you have "
                             "the correct tenant ID and are signing into the correct cloud. Check with your "
                             "subscription administrator, this may happen if there are no active subscriptions for the "
                             "tenant.")
        grant = form.get("grant_type")
        if not grant:
            raise EntraError(400, "invalid_request", 900144, "The request body must contain the following parameter: "
                                                             "'grant_type'.")
        if grant != "client_credentials":
            raise EntraError(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type "
                                                                   f"'{grant}'.")
        client = (form.get("client_id") or "").lower()
        if not client:
            raise EntraError(400, "invalid_request", 900144, "The request body must contain the following parameter: "
                                                             "'client_id'.")
        if client not in self.secrets and client not in self.certs:
            raise EntraError(400, "unauthorized_client", 700016, f"Application with identifier '{client}' was not "
                             f"found in the directory '{self.sc.tenant_name}'. This can happen if the application has "
                             "not been installed by the administrator of the tenant or consented to by any user in the "
                             "tenant. You may have sent your authentication request to the wrong tenant.")
        scope = form.get("scope") or ""
        if not scope:
            raise EntraError(400, "invalid_request", 900144, "The request body must contain the following parameter: "
                                                             "'scope'.")
        if scope in GRAPH_SCOPES:
            audience = "graph"
        elif scope in ARM_SCOPES:
            audience = "arm"
        elif scope.endswith("/.default") and " " not in scope:
            raise EntraError(400, "invalid_resource", 500011, f"The resource principal named {scope[:-9]} was not "
                             f"found in the tenant named {self.sc.tenant_name}. This can happen if the application has "
                             "not been installed by the administrator of the tenant or consented to by any user in the "
                             "tenant. You might have sent your authentication request to the wrong tenant.")
        else:
            raise EntraError(400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not valid. "
                             "Client credential flows must have a scope value with /.default suffixed to the resource "
                             "identifier (application ID URI).")
        if "client_secret" in form:
            if form["client_secret"] not in self.secrets.get(client, []):
                raise EntraError(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret "
                                 "being sent in the request is the client secret value, not the client secret ID, for "
                                 f"a secret added to app '{client}'.")
        elif "client_assertion" in form or "client_assertion_type" in form:
            self.check_assertion(client, tenant, form, base)
        else:
            raise EntraError(401, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is "
                                                             "required for the 'client_credentials' grant type.")
        token = self.mint_token(client, audience)
        payload = {"token_type": "Bearer", "expires_in": self.token_lifetime, "ext_expires_in": self.token_lifetime,
                   "access_token": token}
        return Reply(200, self._json(payload), self.login_headers(rid))

    def mint_token(self, client: str, audience: str) -> str:
        head = base64.urlsafe_b64encode(json.dumps({"typ": "JWT", "nonce": secrets.token_urlsafe(16), "alg": "RS256",
                                                    "x5t": "harness", "kid": "harness"},
                                                   separators=(",", ":")).encode()).decode().rstrip("=")
        token = f"{head}.{secrets.token_urlsafe(180)}.{secrets.token_urlsafe(64)}"
        with self.lock:
            self.minted[token] = Minted(client, audience, time.time() + self.token_lifetime)
        return token

    def check_assertion(self, client: str, tenant: str, form: dict, base: str) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise EntraError(400, "invalid_request", 7000218, "The request body must contain the following "
                             f"parameter: 'client_assertion_type' with the value '{ASSERTION_TYPE}'.")
        assertion = form.get("client_assertion") or ""
        try:
            h, p, s = assertion.split(".")
            header, claims, signature = json.loads(self._b64(h)), json.loads(self._b64(p)), self._b64(s)
            if not isinstance(header, dict) or not isinstance(claims, dict):
                raise ValueError("not objects")
        except ValueError:
            raise EntraError(401, "invalid_client", 50027, "JWT token is invalid or malformed.") from None
        cert = self.certs.get(client)
        thumb = header.get("x5t#S256") or header.get("x5t") or ""
        if cert is None:
            raise EntraError(401, "invalid_client", 700027, "The certificate with identifier used to sign the client "
                             "assertion is not registered on application. [Reason - The key was not found., Thumbprint "
                             f"of key used by client: '{thumb}']")
        key, sha1, sha256 = cert
        x5t, x5t256 = header.get("x5t"), header.get("x5t#S256")
        if (x5t is None and x5t256 is None) or (x5t is not None and x5t != sha1) or \
                (x5t256 is not None and x5t256 != sha256):
            raise EntraError(401, "invalid_client", 700027, "The certificate with identifier used to sign the client "
                             "assertion is not registered on application. [Reason - The key was not found., Thumbprint "
                             f"of key used by client: '{thumb}']")
        if header.get("alg") != "RS256":
            raise EntraError(401, "invalid_client", 700027, "Client assertion failed signature validation. (alg must "
                                                            "be RS256)")
        try:
            key.verify(signature, f"{h}.{p}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            raise EntraError(401, "invalid_client", 700027, "Client assertion failed signature validation.") from None
        want = f"{base.rstrip('/')}/{tenant}/oauth2/v2.0/token"
        if claims.get("aud") != want:
            raise EntraError(401, "invalid_client", 50013, f"Assertion audience claim does not match the required "
                             f"value. The audience in the assertion was '{claims.get('aud')}' and the expected audience "
                             f"is '{want}'.")
        if claims.get("iss") != form.get("client_id") or claims.get("sub") != form.get("client_id"):
            raise EntraError(401, "invalid_client", 700021, "Client assertion application identifier doesn't match "
                                                            "'client_id' parameter.")
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
        if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp <= now or \
                (isinstance(nbf, (int, float)) and nbf > now + 300):
            raise EntraError(401, "invalid_client", 700024, "Client assertion is not within its valid time range. "
                             f"Current time: {dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%S.0000000Z}, "
                             f"assertion valid from {nbf}, expiry time of assertion {exp}.")

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
            if path == "/_harness/requests" and method == "GET":
                with self.lock:
                    return ok(list(self.log))
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
                    self.log.clear()
                return ok({"reset": True})
        except (ValueError, re.error) as exc:
            return ok({"error": str(exc)}, 400)
        return ok({"error": f"no harness route {method} {path}"}, 404)

    def _record(self, method: str, path: str, query: str, reply: Reply) -> None:
        entry = {"ts": round(time.time(), 3), "method": method, "path": path, "query": query, "status": reply.status,
                 "template": reply.template, "api": reply.api, "client": reply.client, "auth": reply.auth}
        with self.lock:
            self.stats["requests"] += 1
            key = reply.template or "(unrouted)"
            for name, k in (("by_path", key), ("by_status", str(reply.status)), ("by_api", reply.api or "(none)")):
                self.stats[name][k] = self.stats[name].get(k, 0) + 1
            self.log.append(entry)
            if self.log_fh is not None:
                self.log_fh.write(json.dumps(entry) + "\n")
                self.log_fh.flush()


# ---------------------------------------------------------------------------
# Scale generator
# ---------------------------------------------------------------------------

SCALE_TENANT = "5f2c7a1e-0b6d-4e8a-9c3f-2d1e0a9b8c7d"
SCALE_CLIENT = "9a1b2c3d-0000-4000-8000-00000000c0de"
SCALE_SP = "9a1b2c3d-0000-4000-8000-0000000005b1"


def scale_guid(prefix: int, n: int) -> str:
    return f"{prefix:08x}-0000-4000-8000-{n:012d}"


def generate(users: int, leavers: int, subscriptions: int, seed: int = 7) -> dict:
    """A big tenant: user n is `userNNNNN@acme.example`, id scale_guid(0x10000000, n); see the docstring."""
    rnd = random.Random(seed)
    width = max(5, len(str(users)))
    out_users: list[dict] = [{"id": scale_guid(0x10000000, 0), "displayName": "Residual Admin",
                              "userPrincipalName": "residual-admin@acme.example", "mail": "residual-admin@acme.example",
                              "proxyAddresses": ["SMTP:residual-admin@acme.example"],
                              "signInActivity": {"lastSuccessfulSignInDateTime": "2026-11-25T08:00:00Z"}}]
    chosen = set(rnd.sample(range(1, users), min(leavers, users - 1)))
    metas, leaver_ids = [], []
    sps = [{"id": SCALE_SP, "appId": SCALE_CLIENT, "displayName": "residual scanner"},
           {"id": scale_guid(0xd0000000, 1), "appId": scale_guid(0xd00000a0, 1), "displayName": "Zapier",
            "appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a"},
           {"id": scale_guid(0xd0000000, 2), "appId": GRAPH_APP_ID, "displayName": "Microsoft Graph",
            "appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a"},
           {"id": scale_guid(0xd0000000, 3), "appId": scale_guid(0xd00000a0, 3), "displayName": "Salesforce",
            "appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a"}]
    apps, grants, aras, role_asg = [], [], [], []
    groups = [{"id": scale_guid(0xe0000000, 1), "displayName": "All Staff", "members": []},
              {"id": scale_guid(0xe0000000, 2), "displayName": "Tier1 Helpdesk", "isAssignableToRole": True,
               "members": []}]
    dir_roles = [r[0] for r in BUILTIN_DIRECTORY_ROLES]
    for n in range(1, users):
        uid = scale_guid(0x10000000, n)
        upn = f"user{n:0{width}d}@acme.example"
        u: dict[str, Any] = {"id": uid, "displayName": f"User {n:0{width}d}", "userPrincipalName": upn, "mail": upn,
                             "proxyAddresses": [f"SMTP:{upn}"], "employeeId": f"E{n:0{width}d}",
                             "createdDateTime": f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}T09:00:00Z"}
        if n % 101 != 13:
            u["signInActivity"] = {"lastSuccessfulSignInDateTime": f"2026-11-{1 + n % 25:02d}T08:{n % 60:02d}:00Z",
                                   "lastNonInteractiveSignInDateTime": f"2026-11-{1 + n % 25:02d}T09:00:00Z"}
        if n % 53 == 7:
            u["accountEnabled"] = False
        if n % 17 == 3:
            u["otherMails"] = [f"u{n}@personal.example"]
            u["proxyAddresses"].append(f"smtp:u{n}.alias@acme.example")
        if n % 5 == 0:
            groups[0]["members"].append(uid)
        if n % 997 == 5:
            role_asg.append({"id": f"ra-scale-{n}", "principalId": uid, "roleDefinitionId": dir_roles[n % 6]})
        if n in chosen:
            r = rnd.random()
            if r < 0.5:
                u["accountEnabled"] = False
            elif r < 0.6:
                u["signInActivity"] = {"lastSuccessfulSignInDateTime": "2026-11-20T10:00:00Z"}
            i = len(leaver_ids)
            if i % 4 == 0:
                grants.append({"id": f"grant-scale-{n}", "clientId": sps[1]["id"], "consentType": "Principal",
                               "principalId": uid, "resourceId": sps[2]["id"], "scope": "Mail.Read offline_access"})
            if i % 5 == 1:
                aras.append({"id": f"ara-scale-{n}", "principalId": uid, "resourceId": sps[3]["id"]})
            if i % 6 == 2:
                apps.append({"id": scale_guid(0xb0000000, n), "appId": scale_guid(0xb00000a0, n),
                             "displayName": f"Tool of user {n}", "owners": [uid],
                             "passwordCredentials": [{"keyId": scale_guid(0xc0000000, n), "displayName": "ci",
                                                      "startDateTime": "2026-01-01T00:00:00Z",
                                                      "endDateTime": "2027-01-01T00:00:00Z" if i % 12 == 2
                                                      else "2026-06-01T00:00:00Z"}]})
            if i % 10 == 3:
                role_asg.append({"id": f"ra-leaver-{n}", "principalId": uid, "roleDefinitionId": dir_roles[i % 6]})
            if i % 10 == 7:
                groups[1]["members"].append(uid)
            metas.append({"email": upn, "departure_date": "2026-11-15", "name": f"User {n:0{width}d}",
                          "employee_id": f"E{n:0{width}d}"})
            leaver_ids.append(uid)
        out_users.append(u)
    role_asg.append({"id": "ra-admin-gr", "principalId": out_users[0]["id"], "roleDefinitionId": "Global Reader"})
    role_asg.append({"id": "ra-tier1-helpdesk", "principalId": groups[1]["id"],
                     "roleDefinitionId": "Helpdesk Administrator"})
    subs, asg = [], []
    staff = [u["id"] for u in out_users if u["id"] not in set(leaver_ids)]
    serial = 0

    def name() -> str:
        nonlocal serial
        serial += 1
        return scale_guid(0xa0000000, serial)
    asg.append({"name": name(), "scope": "/", "role": "User Access Administrator", "principalId": out_users[0]["id"]})
    for k in range(subscriptions):
        sid = f"11111111-aaaa-4bbb-8ccc-{k + 1:012d}"
        subs.append({"subscriptionId": sid, "displayName": f"acme-sub-{k + 1:03d}"})
        asg.append({"name": name(), "scope": f"/subscriptions/{sid}", "role": "Reader", "principalId": SCALE_SP,
                    "principalType": "ServicePrincipal"})
        for j in range(150):
            who = staff[(k * 151 + j * 7) % len(staff)]
            scope = f"/subscriptions/{sid}" if j % 3 == 0 else f"/subscriptions/{sid}/resourceGroups/rg-{j % 7}"
            asg.append({"name": name(), "scope": scope, "role": ("Reader", "Contributor", "Storage Blob Data Reader")
                        [j % 3], "principalId": who})
    for i, uid in enumerate(leaver_ids):
        if i % 4 == 1 and subs:
            sid = subs[i % len(subs)]["subscriptionId"]
            asg.append({"name": name(), "scope": f"/subscriptions/{sid}" if i % 8 == 1 else
                        f"/subscriptions/{sid}/resourceGroups/app-rg", "role": "Owner" if i % 8 == 1 else "Contributor",
                        "principalId": uid})
    return {"tenant": {"id": SCALE_TENANT, "displayName": "Acme Corp",
                       "verifiedDomains": [{"name": "acme.example", "isDefault": True},
                                           {"name": "acmecorp.onmicrosoft.com", "isInitial": True}]},
            "scanner": {"clientId": SCALE_CLIENT, "servicePrincipalId": SCALE_SP},
            "users": out_users, "groups": groups, "applications": apps, "servicePrincipals": sps,
            "oauth2PermissionGrants": grants, "appRoleAssignments": aras, "roleAssignments": role_asg,
            "azure": {"subscriptions": subs, "roleAssignments": asg},
            "meta": {"leavers": metas, "tenant": SCALE_TENANT, "clientId": SCALE_CLIENT,
                     "scannerServicePrincipalId": SCALE_SP,
                     "generated": f"{users}:{leavers}:{subscriptions} seed {seed}"}}


def write_leavers(raw: dict, path: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "departure_date", "name", "employee_id"])
        for m in (raw.get("meta") or {}).get("leavers", []):
            w.writerow([m["email"], m["departure_date"], m.get("name", ""), m.get("employee_id") or ""])


def parse_scale(text: str) -> tuple[int, int, int]:
    try:
        users, leavers, subs = (int(x) for x in text.split(":"))
    except ValueError:
        raise ValueError(f"--generate-scale {text!r}: expected USERS:LEAVERS:SUBSCRIPTIONS") from None
    if users < 2 or not 0 <= leavers < users or subs < 0:
        raise ValueError(f"--generate-scale {text!r}: need USERS >= 2, 0 <= LEAVERS < USERS, SUBSCRIPTIONS >= 0")
    return users, leavers, subs


# ---------------------------------------------------------------------------
# HTTP server
# ---------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def load_certificate(path: str) -> tuple[Any, str, str]:
    """(public key, x5t, x5t#S256) of a PEM X.509 certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    with open(path, "rb") as fh:
        cert = x509.load_pem_x509_certificate(fh.read())
    der = cert.public_bytes(serialization.Encoding.DER)
    return cert.public_key(), b64url(hashlib.sha1(der).digest()), b64url(hashlib.sha256(der).digest())


def load_raw(args: argparse.Namespace) -> dict:
    if args.scenario:
        with open(args.scenario, encoding="utf-8") as fh:
            try:
                return json.load(fh)
            except json.JSONDecodeError as exc:
                raise ScenarioError(f"{args.scenario}: not JSON: {exc}") from None
    return generate(*parse_scale(args.generate_scale), seed=args.seed)


def pairs(ap: argparse.ArgumentParser, items: list[str], flag: str, what: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            ap.error(f"{flag} {item!r}: expected {what}")
        out.append((key.strip().lower(), value))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--scenario")
    src.add_argument("--generate-scale", metavar="USERS:LEAVERS:SUBSCRIPTIONS")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dump-scenario")
    ap.add_argument("--dump-leavers")
    ap.add_argument("--port", type=int)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port-file")
    ap.add_argument("--request-log")
    ap.add_argument("--client", action="append", default=[], metavar="CLIENT_ID=SECRET")
    ap.add_argument("--client-cert", action="append", default=[], metavar="CLIENT_ID=CERT_PEM_FILE")
    ap.add_argument("--grant", action="append", default=[], metavar="CLIENT_ID=PERM1,PERM2,...")
    ap.add_argument("--arm-reader", action="append", default=[], metavar="CLIENT_ID=SUB1,SUB2|*")
    ap.add_argument("--no-premium", action="store_true", help="the tenant has no Entra ID P1/P2 licence")
    ap.add_argument("--rate-limit", type=int, default=1_000_000, help="Graph requests per 10 s per client")
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--token-lifetime", type=int, default=3599, help="seconds an access token lives (3599)")
    args = ap.parse_args(argv)
    try:
        raw = load_raw(args)
        scenario = Scenario(raw)
    except (OSError, ValueError) as exc:
        where = f"scenario {args.scenario}: " if args.scenario else ""
        print(f"msgraph_server: {where}{exc}", file=sys.stderr)
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
    client_secrets: dict[str, list[str]] = {}
    for cid, secret in pairs(ap, args.client, "--client", "CLIENT_ID=SECRET"):
        client_secrets.setdefault(cid, []).append(secret)
    certs = {}
    for cid, pem in pairs(ap, args.client_cert, "--client-cert", "CLIENT_ID=CERT_PEM_FILE"):
        try:
            certs[cid] = load_certificate(pem)
        except (OSError, ValueError) as exc:
            ap.error(f"--client-cert {cid}: cannot read an X.509 certificate from {pem}: {exc}")
    grants: dict[str, set[str]] = {}
    for cid, perms in pairs(ap, args.grant, "--grant", "CLIENT_ID=PERM1,PERM2,..."):
        grants.setdefault(cid, set()).update(p.strip() for p in perms.split(",") if p.strip())
    readers: dict[str, set[str]] = {}
    for cid, subs in pairs(ap, args.arm_reader, "--arm-reader", "CLIENT_ID=SUB1,SUB2 or CLIENT_ID=*"):
        readers.setdefault(cid, set()).update(s.strip().lower() for s in subs.split(",") if s.strip())
    api = MsApi(scenario, client_secrets, certs, grants, readers, not args.no_premium, args.rate_limit,
                args.latency_ms, args.request_log, args.token_lifetime)
    serve(api, args.host, args.port, args.port_file, "Microsoft-IIS/10.0",
          lambda exc: Reply(500, json.dumps({"error": {"code": "InternalServerError",
                                                     "message": f"harness error: {exc!r}"}}).encode(),
                          [("Content-Type", "application/json")]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
