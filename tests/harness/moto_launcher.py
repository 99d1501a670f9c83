#!/usr/bin/env python3
"""Run moto in server mode behind a small test-harness middleware.

Usage:
    python tests/harness/moto_launcher.py --port PORT --request-log FILE [--port-file FILE] [--verbose]

The middleware sits in front of moto's own WSGI application and adds what the
`residual` integration tests need but moto does not provide:

* a JSON-lines request log (one line per AWS request) so tests can assert which
  API actions the tool called and how often;
* the four IAM service-specific-credential actions, which moto 5.2.5 answers
  with HTTP 500, backed by an in-memory store;
* fault injection (error status, throttling, delay, garbage body), driven over
  HTTP at /_harness/faults, for fail-closed tests;
* request counters at /_harness/stats;
* real pagination of GetAccountAuthorizationDetails (moto answers in one page
  and ignores MaxItems), switched on at /_harness/paging;
* SSO Admin's SessionDuration as the ISO-8601 duration the API Reference documents
  (moto answers seconds);
* credential-report generation states (STARTED/INPROGRESS, ReportInProgress,
  ReportNotPresent, ReportExpired), driven at /_harness/credential_report.

Harness routes (JSON in, JSON out):

    POST   /_harness/paging             {"GetAccountAuthorizationDetails": N}  N users per page
    POST   /_harness/paging             {}  or  DELETE /_harness/paging      paging off
    GET    /_harness/paging             current setting
    POST   /_harness/credential_report  {"in_progress": K, "not_present_once": bool,
                                         "expired_once": bool, "reuse_last": bool}
                                        keys given are set, others kept
    DELETE /_harness/credential_report  all off;  GET shows the state
    POST   /_harness/deny_assume_role   {"role_arns": [ARN, ...]}  AssumeRole into these
                                        answers STS AccessDenied (moto checks no trust)
    DELETE /_harness/deny_assume_role   none denied
    POST   /moto-api/reset              also clears paging, credential-report and denial state

Everything else reaches moto byte for byte.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import io
import json
import logging
import os
import re
import secrets
import signal
import string
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, parse_qsl, urlencode
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

# moto reads this setting when its IAM backend is first built, so it has to be
# in the environment before moto is imported; otherwise AWS-managed policies
# such as AdministratorAccess would not exist and attaching them would fail.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

from werkzeug.serving import make_server  # noqa: E402

from common import write_port_file  # tests/harness is on sys.path when these run

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
PARTITION = "aws"

# Services that accept service-specific credentials, per the IAM API Reference.
# Bedrock API keys use an alias/secret pair instead of a user name/password.
SSC_SERVICES = {"codecommit.amazonaws.com", "cassandra.amazonaws.com", "bedrock.amazonaws.com"}
SSC_PER_USER_PER_SERVICE = 2

StartResponse = Callable[..., Any]


# ---------------------------------------------------------------------------
# Request parsing helpers
# ---------------------------------------------------------------------------


def read_body(environ: dict[str, Any]) -> bytes:
    """Buffer the request body and put an equivalent stream back for moto.

    The body can only be read once from the socket, and the middleware needs it
    to learn the API action, so it is read here and re-wrapped.
    """
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            body = stream.read(int(length))
        except ValueError:
            body = b""
    elif environ.get("wsgi.input_terminated"):
        # Chunked uploads: werkzeug has already de-chunked the stream and
        # marks it as terminated, so reading to EOF is safe.
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    # The body is now a plain sized buffer; a stale chunked header would make
    # downstream code try to de-chunk it a second time.
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = False
    return body


def query_params(environ: dict[str, Any], body: bytes) -> dict[str, str]:
    """Return the AWS query-protocol parameters (form body, else query string)."""
    params: dict[str, str] = {}
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded") and body:
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        params.update({k: v[0] for k, v in parsed.items()})
    if "Action" not in params and environ.get("QUERY_STRING"):
        parsed = parse_qs(environ["QUERY_STRING"], keep_blank_values=True)
        for key, values in parsed.items():
            params.setdefault(key, values[0])
    return params


# Smithy RPCv2-CBOR requests name the operation in the path instead.
_RPCV2_PATH = re.compile(r"/service/[^/]+/operation/([^/?]+)$")


def request_action(environ: dict[str, Any], params: dict[str, str]) -> str | None:
    """Name the API action of a request, whatever the AWS protocol."""
    if params.get("Action"):
        return params["Action"]
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        # JSON protocol: "secretsmanager.ListSecrets" -> "ListSecrets".
        return target.rsplit(".", 1)[-1]
    match = _RPCV2_PATH.search(environ.get("PATH_INFO", ""))
    if match:
        return match.group(1)
    return None


def _credential_scope(environ: dict[str, Any]) -> list[str] | None:
    """Split the SigV4 credential scope: [AKID, date, region, service, aws4_request]."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = re.search(r"Credential=([^,\s]+)", auth)
    if not match:
        return None
    parts = match.group(1).split("/")
    return parts if len(parts) == 5 else None


def signing_service(environ: dict[str, Any]) -> str | None:
    scope = _credential_scope(environ)
    return scope[3] if scope else None


def access_key_id(environ: dict[str, Any]) -> str | None:
    scope = _credential_scope(environ)
    return scope[0] if scope else None


def is_json_protocol(environ: dict[str, Any]) -> bool:
    return bool(environ.get("HTTP_X_AMZ_TARGET"))


# ---------------------------------------------------------------------------
# Response helpers
# ---------------------------------------------------------------------------


def new_request_id() -> str:
    return str(uuid.uuid4())


def respond(
    start_response: StartResponse,
    status: int,
    body: str | bytes,
    content_type: str = "text/xml",
    extra_headers: Iterable[tuple[str, str]] = (),
    request_id: str | None = None,
) -> list[bytes]:
    data = body.encode("utf-8") if isinstance(body, str) else body
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        # Fault rules may ask for unassigned codes; any reason phrase will do.
        reason = "Injected"
    # The header and the body's RequestId should agree, as they do on AWS.
    request_id = request_id or new_request_id()
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(data))),
        ("x-amzn-RequestId", request_id),
        *extra_headers,
    ]
    start_response(f"{status} {reason}", headers)
    return [data]


def iam_error_xml(code: str, message: str, sender: bool, request_id: str) -> str:
    """The error document IAM (and the other query-protocol services) return."""
    return (
        f'<ErrorResponse xmlns="{IAM_NS}">'
        f"<Error><Type>{'Sender' if sender else 'Receiver'}</Type>"
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId>"
        "</ErrorResponse>"
    )


def aws_error(
    environ: dict[str, Any],
    start_response: StartResponse,
    status: int,
    code: str,
    message: str,
    extra_headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """Answer an AWS error in the protocol the client spoke (XML or JSON)."""
    request_id = new_request_id()
    if is_json_protocol(environ):
        body = json.dumps({"__type": code, "message": message})
        return respond(start_response, status, body, "application/x-amz-json-1.1", extra_headers, request_id)
    body = iam_error_xml(code, message, status < 500, request_id)
    return respond(start_response, status, body, "text/xml", extra_headers, request_id)


def iam_ok_xml(action: str, result_inner: str | None, request_id: str) -> str:
    """Wrap a result in the IAM query-protocol envelope.

    Actions without output (Update/Delete) carry only ResponseMetadata.
    """
    result = f"<{action}Result>{result_inner}</{action}Result>" if result_inner is not None else ""
    return (
        f'<{action}Response xmlns="{IAM_NS}">{result}'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )


def iso8601(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------
# Service-specific credentials (missing from moto)
# ---------------------------------------------------------------------------


class ServiceSpecificCredentialStore:
    """In-memory IAM service-specific credentials, keyed by account.

    User existence is checked against moto's own IAM backend so the two stay
    consistent: a credential can only be made for a user moto knows about.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # account id -> credential id -> credential record
        self._creds: dict[str, dict[str, dict[str, Any]]] = {}

    def reset(self) -> None:
        with self._lock:
            self._creds.clear()

    def user_has_credentials(self, account_id: str, user_name: str) -> bool:
        with self._lock:
            return any(c["UserName"] == user_name for c in self._creds.get(account_id, {}).values())

    # -- moto lookups -------------------------------------------------------

    @staticmethod
    def account_for(environ: dict[str, Any]) -> str:
        """Resolve the account the caller's access key belongs to, as moto does."""
        from moto.iam.models import get_account_id_from

        return get_account_id_from(access_key_id(environ) or "")

    @staticmethod
    def _iam(account_id: str) -> Any:
        from moto.iam.models import iam_backends

        return iam_backends[account_id][PARTITION]

    def user_exists(self, account_id: str, user_name: str) -> bool:
        return user_name in self._iam(account_id).users

    def caller_user(self, environ: dict[str, Any], account_id: str) -> str | None:
        """IAM defaults UserName to the calling user; root/unknown keys have none."""
        key = self._iam(account_id).access_keys.get(access_key_id(environ) or "")
        return getattr(key, "user_name", None) if key else None

    # -- dispatch -----------------------------------------------------------

    def handle(
        self, action: str, params: dict[str, str], environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        account_id = self.account_for(environ)
        # Each handler returns (action, inner Result XML or None) or raises IamError.
        handler = {
            "CreateServiceSpecificCredential": self._create,
            "ListServiceSpecificCredentials": self._list,
            "UpdateServiceSpecificCredential": self._update,
            "DeleteServiceSpecificCredential": self._delete,
        }[action]
        try:
            action_name, inner = handler(account_id, params, environ)
        except IamError as err:
            return aws_error(environ, start_response, err.status, err.code, err.message)
        request_id = new_request_id()
        body = iam_ok_xml(action_name, inner, request_id)
        return respond(start_response, 200, body, request_id=request_id)

    def _require_user(self, account_id: str, user_name: str) -> None:
        if not self.user_exists(account_id, user_name):
            raise IamError(404, "NoSuchEntity", f"The user with name {user_name} cannot be found.")

    def _create(self, account_id: str, params: dict[str, str], environ: dict[str, Any]) -> tuple[str, str | None]:
        user_name = params.get("UserName", "")
        service = params.get("ServiceName", "")
        if not user_name or not service:
            raise IamError(400, "ValidationError", "UserName and ServiceName are required.")
        self._require_user(account_id, user_name)
        if service not in SSC_SERVICES:
            raise IamError(404, "NotSupportedService", f"Service {service} is not supported for service specific credentials.")
        now = datetime.now(timezone.utc).replace(microsecond=0)
        cred: dict[str, Any] = {
            "CreateDate": now,
            "ServiceName": service,
            "ServiceSpecificCredentialId": "ACCA"
            + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(17)),
            "UserName": user_name,
            "Status": "Active",
        }
        if params.get("CredentialAgeDays"):
            cred["ExpirationDate"] = now + timedelta(days=int(params["CredentialAgeDays"]))
        # Bedrock API keys are an alias + secret; the other services hand out a
        # user name + password whose user part embeds the account id.
        if service == "bedrock.amazonaws.com":
            cred["ServiceCredentialAlias"] = f"BedrockAPIKey-{secrets.token_hex(2)}-at-{account_id}"
            cred["ServiceCredentialSecret"] = secrets.token_urlsafe(48)
        else:
            cred["ServiceUserName"] = f"{user_name}-at-{account_id}"
            cred["ServicePassword"] = secrets.token_urlsafe(33)
        with self._lock:
            creds = self._creds.setdefault(account_id, {})
            same = [c for c in creds.values() if c["UserName"] == user_name and c["ServiceName"] == service]
            if len(same) >= SSC_PER_USER_PER_SERVICE:
                raise IamError(
                    409, "LimitExceeded",
                    f"Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {SSC_PER_USER_PER_SERVICE}",
                )
            creds[cred["ServiceSpecificCredentialId"]] = cred
        inner = f"<ServiceSpecificCredential>{self._fields(cred, secret=True)}</ServiceSpecificCredential>"
        return "CreateServiceSpecificCredential", inner

    def _list(self, account_id: str, params: dict[str, str], environ: dict[str, Any]) -> tuple[str, str | None]:
        all_users = params.get("AllUsers", "").lower() == "true"
        user_name = params.get("UserName") or None
        service = params.get("ServiceName") or None
        if user_name:
            self._require_user(account_id, user_name)
        elif not all_users:
            user_name = self.caller_user(environ, account_id)
        with self._lock:
            creds = sorted(self._creds.get(account_id, {}).values(), key=lambda c: (c["CreateDate"], c["ServiceSpecificCredentialId"]))
        if not all_users:
            # Without AllUsers a root/unknown caller sees only its own (none).
            creds = [c for c in creds if user_name is not None and c["UserName"] == user_name]
        if service:
            creds = [c for c in creds if c["ServiceName"] == service]
        # Marker is an opaque offset; pagination is only needed with MaxItems.
        start = int(params.get("Marker") or 0)
        max_items = int(params.get("MaxItems") or 0) or len(creds) or 1
        page = creds[start : start + max_items]
        truncated = start + max_items < len(creds)
        members = "".join(f"<member>{self._fields(c, secret=False)}</member>" for c in page)
        inner = f"<ServiceSpecificCredentials>{members}</ServiceSpecificCredentials>"
        inner += f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
        if truncated:
            inner += f"<Marker>{start + max_items}</Marker>"
        return "ListServiceSpecificCredentials", inner

    def _find(self, account_id: str, params: dict[str, str], environ: dict[str, Any]) -> dict[str, Any]:
        user_name = params.get("UserName") or self.caller_user(environ, account_id)
        if params.get("UserName"):
            self._require_user(account_id, params["UserName"])
        cred_id = params.get("ServiceSpecificCredentialId", "")
        with self._lock:
            cred = self._creds.get(account_id, {}).get(cred_id)
        if cred is None or (user_name is not None and cred["UserName"] != user_name):
            raise IamError(404, "NoSuchEntity", f"The Service Specific Credential with id {cred_id} cannot be found.")
        return cred

    def _update(self, account_id: str, params: dict[str, str], environ: dict[str, Any]) -> tuple[str, str | None]:
        status = params.get("Status", "")
        if status not in ("Active", "Inactive"):
            raise IamError(400, "ValidationError", f"Invalid Status {status!r}: must be Active or Inactive.")
        cred = self._find(account_id, params, environ)
        with self._lock:
            cred["Status"] = status
        return "UpdateServiceSpecificCredential", None

    def _delete(self, account_id: str, params: dict[str, str], environ: dict[str, Any]) -> tuple[str, str | None]:
        cred = self._find(account_id, params, environ)
        with self._lock:
            self._creds.get(account_id, {}).pop(cred["ServiceSpecificCredentialId"], None)
        return "DeleteServiceSpecificCredential", None

    @staticmethod
    def _fields(cred: dict[str, Any], secret: bool) -> str:
        """Serialise a credential; secrets appear only in the Create answer."""
        order = [
            "CreateDate", "ExpirationDate", "ServiceName", "ServiceUserName", "ServicePassword",
            "ServiceCredentialAlias", "ServiceCredentialSecret", "ServiceSpecificCredentialId",
            "UserName", "Status",
        ]
        out = []
        for name in order:
            if name not in cred or (not secret and name in ("ServicePassword", "ServiceCredentialSecret")):
                continue
            value = cred[name]
            text = iso8601(value) if isinstance(value, datetime) else str(value)
            out.append(f"<{name}>{escape(text)}</{name}>")
        return "".join(out)


class IamError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---------------------------------------------------------------------------
# Fault injection
# ---------------------------------------------------------------------------


FAULT_KINDS = {"status", "delay", "throttle", "garbage"}


class FaultRules:
    """The active fault rules; each request consumes at most one rule."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[dict[str, Any]] = []

    def replace(self, rules: Any) -> None:
        if isinstance(rules, dict):
            rules = [rules]
        if not isinstance(rules, list):
            raise ValueError("expected a JSON list of rules")
        clean = []
        for rule in rules:
            if not isinstance(rule, dict) or rule.get("kind") not in FAULT_KINDS:
                raise ValueError(f"bad rule {rule!r}: kind must be one of {sorted(FAULT_KINDS)}")
            clean.append(
                {
                    "action": rule.get("action", "*"),
                    "kind": rule["kind"],
                    "status": int(rule.get("status", 500)),
                    "times": int(rule.get("times", -1)),
                    "delay_seconds": float(rule.get("delay_seconds", 0)),
                    "retry_after": rule.get("retry_after"),
                    # An explicit AWS error code, e.g. ExpiredToken for expired credentials.
                    "code": rule.get("code"),
                }
            )
        with self._lock:
            self._rules = clean

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._rules]

    def take(self, action: str | None) -> dict[str, Any] | None:
        """Return the first rule that applies to `action`, consuming one use."""
        with self._lock:
            for rule in self._rules:
                if rule["times"] == 0:
                    continue
                if rule["action"] != "*" and rule["action"] != action:
                    continue
                if rule["times"] > 0:
                    rule["times"] -= 1
                return dict(rule)
        return None


# ---------------------------------------------------------------------------
# Calling moto and capturing its answer
# ---------------------------------------------------------------------------


def call_app(app: Callable[..., Any], environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run a WSGI app to completion and return (status line, headers, body)."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"], captured["headers"] = status, list(headers)
        return lambda data: captured.setdefault("written", []).append(data)

    result = app(environ, start_response)
    try:
        chunks = list(captured.get("written", [])) + list(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return captured["status"], captured["headers"], b"".join(chunks)


def replay(start_response: StartResponse, status: str, headers: list[tuple[str, str]], body: bytes) -> list[bytes]:
    """Hand a captured moto answer on to the client unchanged."""
    start_response(status, headers)
    return [body]


def environ_without_params(environ: dict[str, Any], body: bytes, drop: set[str]) -> dict[str, Any]:
    """A copy of the request with some query-protocol parameters removed,
    from the form body and from the query string alike."""
    new = dict(environ)
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded") and body:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        body = urlencode([(k, v) for k, v in pairs if k not in drop]).encode("utf-8")
    new["wsgi.input"] = io.BytesIO(body)
    new["CONTENT_LENGTH"] = str(len(body))
    if environ.get("QUERY_STRING"):
        pairs = parse_qsl(environ["QUERY_STRING"], keep_blank_values=True)
        new["QUERY_STRING"] = urlencode([(k, v) for k, v in pairs if k not in drop])
    return new


# ---------------------------------------------------------------------------
# Pagination of GetAccountAuthorizationDetails (moto answers in one page)
# ---------------------------------------------------------------------------


PAGED_ACTIONS = {"GetAccountAuthorizationDetails"}


class Paging:
    """Page sizes per action; an action missing from the map is not paged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sizes: dict[str, int] = {}

    def replace(self, config: Any) -> None:
        if not isinstance(config, dict):
            raise ValueError('expected a JSON object such as {"GetAccountAuthorizationDetails": 4}')
        clean: dict[str, int] = {}
        for action, size in config.items():
            if action not in PAGED_ACTIONS:
                raise ValueError(f"paging is not supported for {action!r}; supported: {sorted(PAGED_ACTIONS)}")
            if size is None:
                continue
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"page size for {action} must be a positive integer or null, got {size!r}")
            clean[action] = size
        with self._lock:
            self._sizes = clean

    def clear(self) -> None:
        with self._lock:
            self._sizes = {}

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._sizes)

    def size(self, action: str | None) -> int | None:
        with self._lock:
            return self._sizes.get(action or "")


def encode_marker(page: int) -> str:
    return base64.urlsafe_b64encode(f"page:{page}".encode("ascii")).decode("ascii")


def decode_marker(marker: str) -> int | None:
    """The page a Marker we issued points at; None if it is not one of ours."""
    try:
        raw = base64.b64decode(marker.encode("ascii"), altchars=b"-_", validate=True).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    match = re.fullmatch(r"page:([1-9][0-9]{0,8})", raw)
    return int(match.group(1)) if match else None


def paginate_authorization_details(xml: bytes, page: int, page_size: int) -> tuple[str, str | None] | None:
    """Cut one page out of moto's complete GetAccountAuthorizationDetails answer.

    Users are spread over pages of `page_size`; groups, roles and policies all
    go on the first page, so a client only sees everything by merging pages.
    Returns (XML, RequestId), or None if moto's answer is not the expected shape.
    """
    ns = f"{{{IAM_NS}}}"
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    result = root.find(f"{ns}GetAccountAuthorizationDetailsResult")
    if result is None:
        return None
    users_el = result.find(f"{ns}UserDetailList")
    users = list(users_el) if users_el is not None else []
    start, end = page * page_size, (page + 1) * page_size
    if users_el is not None:
        for member in users[:start] + users[end:]:
            users_el.remove(member)
    if page > 0:
        for name in ("GroupDetailList", "RoleDetailList", "Policies"):
            el = result.find(f"{ns}{name}")
            if el is not None:
                for member in list(el):
                    el.remove(member)
    for name in ("IsTruncated", "Marker"):
        for el in result.findall(f"{ns}{name}"):
            result.remove(el)
    truncated = end < len(users)
    ET.SubElement(result, f"{ns}IsTruncated").text = "true" if truncated else "false"
    if truncated:
        ET.SubElement(result, f"{ns}Marker").text = encode_marker(page + 1)
    request_id_el = root.find(f"{ns}ResponseMetadata/{ns}RequestId")
    request_id = request_id_el.text if request_id_el is not None else None
    return ET.tostring(root, encoding="unicode", default_namespace=IAM_NS), request_id


# ---------------------------------------------------------------------------
# Credential-report generation states (moto generates reports instantly)
# ---------------------------------------------------------------------------


class CredentialReportStates:
    """Scripted credential-report answers.

    * in_progress K: the next K GenerateCredentialReport calls answer STARTED
      (the first) then INPROGRESS, and every GetCredentialReport made while any
      of those K remain unanswered fails with ReportInProgress (HTTP 404).
    * not_present_once / expired_once: the next GetCredentialReport fails once
      with ReportNotPresent / ReportExpired (HTTP 410). These take precedence
      over ReportInProgress; not_present_once is consumed first.
    * reuse_last: GetCredentialReport answers the last report it served, as IAM
      does for up to four hours (moto builds a new one from the current state
      on every call, so a reused report could never be stale).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_progress = 0
        self._started = False  # whether the scripted STARTED answer was given
        self._not_present_once = False
        self._expired_once = False
        self.reuse_last = False
        self.last_body: bytes | None = None

    def update(self, config: Any) -> None:
        if not isinstance(config, dict):
            raise ValueError('expected a JSON object such as {"in_progress": 2}')
        unknown = set(config) - {"in_progress", "not_present_once", "expired_once", "reuse_last"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; expected in_progress, not_present_once, expired_once, reuse_last")
        in_progress = config.get("in_progress")
        if in_progress is not None and (isinstance(in_progress, bool) or not isinstance(in_progress, int) or in_progress < 0):
            raise ValueError(f"in_progress must be a non-negative integer, got {in_progress!r}")
        for flag in ("not_present_once", "expired_once", "reuse_last"):
            if flag in config and not isinstance(config[flag], bool):
                raise ValueError(f"{flag} must be true or false, got {config[flag]!r}")
        with self._lock:
            if in_progress is not None:
                self._in_progress, self._started = in_progress, False
            self._not_present_once = config.get("not_present_once", self._not_present_once)
            self._expired_once = config.get("expired_once", self._expired_once)
            self.reuse_last = config.get("reuse_last", self.reuse_last)

    def clear(self) -> None:
        with self._lock:
            self._in_progress, self._started = 0, False
            self._not_present_once = self._expired_once = False
            self.reuse_last = False
            self.last_body = None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "in_progress": self._in_progress,
                "not_present_once": self._not_present_once,
                "expired_once": self._expired_once,
                "reuse_last": self.reuse_last,
            }

    def take_generate_state(self) -> str | None:
        """The scripted State for a GenerateCredentialReport, or None for moto's."""
        with self._lock:
            if self._in_progress <= 0:
                return None
            self._in_progress -= 1
            state = "INPROGRESS" if self._started else "STARTED"
            self._started = True
            return state

    def take_get_error(self) -> tuple[int, str, str] | None:
        """The scripted error for a GetCredentialReport, or None to ask moto."""
        with self._lock:
            if self._not_present_once:
                self._not_present_once = False
                return 410, "ReportNotPresent", "Credential report not present. Use GenerateCredentialReport to generate a report."
            if self._expired_once:
                self._expired_once = False
                return 410, "ReportExpired", "Credential report has expired. Use GenerateCredentialReport to generate a new report."
            if self._in_progress > 0:
                return 404, "ReportInProgress", "Credential report generation is in progress; try again later."
            return None


REPORT_DESCRIPTIONS = {
    "STARTED": "No report exists. Starting a new report generation task",
    "INPROGRESS": "Report generation is in progress",
}


# ---------------------------------------------------------------------------
# The middleware
# ---------------------------------------------------------------------------


SSC_ACTIONS = {
    "CreateServiceSpecificCredential",
    "ListServiceSpecificCredentials",
    "UpdateServiceSpecificCredential",
    "DeleteServiceSpecificCredential",
}


class HarnessMiddleware:
    def __init__(self, app: Callable[..., Any], request_log_path: str) -> None:
        self.app = app
        self.ssc = ServiceSpecificCredentialStore()
        self.faults = FaultRules()
        self.paging = Paging()
        self.reports = CredentialReportStates()
        # Role ARNs whose AssumeRole is refused, as STS refuses a role that does not trust
        # the caller (moto assumes any role, existing or not).
        self.denied_roles: set[str] = set()
        self._log_lock = threading.Lock()
        # Line-buffered append so a test can tail the file while the server runs.
        self._log = open(request_log_path, "a", buffering=1, encoding="utf-8")
        self._total = 0
        self._by_action: dict[str, int] = {}

    # -- control plane -------------------------------------------------------

    def _harness(self, environ: dict[str, Any], start_response: StartResponse, body: bytes) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/_harness/faults":
            if method in ("POST", "PUT"):
                try:
                    self.faults.replace(json.loads(body or b"[]"))
                except (ValueError, TypeError) as err:
                    return respond(start_response, 400, json.dumps({"error": str(err)}), "application/json")
                return respond(start_response, 200, json.dumps({"rules": self.faults.snapshot()}), "application/json")
            if method == "DELETE":
                self.faults.clear()
                return respond(start_response, 200, json.dumps({"rules": []}), "application/json")
            if method == "GET":
                return respond(start_response, 200, json.dumps({"rules": self.faults.snapshot()}), "application/json")
        if path == "/_harness/deny_assume_role":
            if method in ("POST", "PUT"):
                try:
                    arns = json.loads(body or b"{}").get("role_arns", [])
                    if not isinstance(arns, list) or not all(isinstance(a, str) for a in arns):
                        raise ValueError("role_arns must be a list of ARNs")
                except (ValueError, AttributeError) as err:
                    return respond(start_response, 400, json.dumps({"error": str(err)}), "application/json")
                self.denied_roles = set(arns)
            elif method == "DELETE":
                self.denied_roles = set()
            return respond(start_response, 200, json.dumps({"role_arns": sorted(self.denied_roles)}), "application/json")
        if path == "/_harness/paging":
            return self._json_state_route(method, body, self.paging.replace, self.paging.clear, self.paging.snapshot, start_response)
        if path == "/_harness/credential_report":
            return self._json_state_route(method, body, self.reports.update, self.reports.clear, self.reports.snapshot, start_response)
        if path == "/_harness/stats":
            if method == "GET":
                with self._log_lock:
                    stats = {"requests": self._total, "by_action": dict(self._by_action)}
                return respond(start_response, 200, json.dumps(stats), "application/json")
            if method == "DELETE":
                # Lets a test measure one phase without restarting the server.
                with self._log_lock:
                    self._total, self._by_action = 0, {}
                return respond(start_response, 200, json.dumps({"requests": 0, "by_action": {}}), "application/json")
        return respond(start_response, 404, json.dumps({"error": f"no harness route {method} {path}"}), "application/json")

    @staticmethod
    def _json_state_route(
        method: str,
        body: bytes,
        apply: Callable[[Any], None],
        clear: Callable[[], None],
        snapshot: Callable[[], Any],
        start_response: StartResponse,
    ) -> list[bytes]:
        """POST/PUT applies a JSON object, DELETE clears, GET shows the state."""
        if method in ("POST", "PUT"):
            try:
                apply(json.loads(body or b"{}"))
            except (ValueError, TypeError) as err:
                return respond(start_response, 400, json.dumps({"error": str(err)}), "application/json")
        elif method == "DELETE":
            clear()
        elif method != "GET":
            return respond(start_response, 405, json.dumps({"error": f"method {method} not allowed"}), "application/json")
        return respond(start_response, 200, json.dumps(snapshot()), "application/json")

    # -- IAM behaviours moto lacks -------------------------------------------

    def _paged_authorization_details(
        self, page_size: int, params: dict[str, str], environ: dict[str, Any], body: bytes, start_response: StartResponse
    ) -> list[bytes]:
        marker = params.get("Marker")
        page = 0
        if marker:
            decoded = decode_marker(marker)
            if decoded is None:
                return aws_error(environ, start_response, 400, "ValidationError", "Invalid Marker.")
            page = decoded
        # moto ignores MaxItems and Marker anyway; dropping them makes sure it
        # answers with everything the client's Filter selects.
        upstream = environ_without_params(environ, body, {"Marker", "MaxItems"})
        status, headers, data = call_app(self.app, upstream)
        if not status.startswith("200"):
            return replay(start_response, status, headers, data)
        paged = paginate_authorization_details(data, page, page_size)
        if paged is None:
            return replay(start_response, status, headers, data)
        xml, request_id = paged
        return respond(start_response, 200, xml, request_id=request_id)

    def _generate_credential_report(
        self, state: str, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        # Let moto generate the report for real (answer discarded), so that it
        # exists once the scripted in-progress phase is over.
        status, headers, data = call_app(self.app, environ)
        if not status.startswith("200"):
            return replay(start_response, status, headers, data)
        request_id = new_request_id()
        inner = f"<State>{state}</State><Description>{escape(REPORT_DESCRIPTIONS[state])}</Description>"
        return respond(start_response, 200, iam_ok_xml("GenerateCredentialReport", inner, request_id), request_id=request_id)

    # -- logging -------------------------------------------------------------

    @staticmethod
    def _account_of(environ: dict[str, Any]) -> str | None:
        """The account the request's access key belongs to (assumed roles included)."""
        key = access_key_id(environ)
        if not key:
            return None
        try:
            from moto.iam.models import get_account_id_from

            return get_account_id_from(key)
        except Exception:  # noqa: BLE001 - the log must never break a request
            return None

    def _record(self, environ: dict[str, Any], action: str | None) -> None:
        line = json.dumps(
            {
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"),
                "action": action,
                "service": signing_service(environ),
                "account": self._account_of(environ),
            }
        )
        with self._log_lock:
            self._log.write(line + "\n")
            self._log.flush()
            self._total += 1
            # Requests without a recognisable action count only in the total.
            if action:
                self._by_action[action] = self._by_action.get(action, 0) + 1

    # -- faults --------------------------------------------------------------

    def _inject(
        self, rule: dict[str, Any], environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes] | None:
        """Apply a fault; returns a response, or None to continue to moto."""
        retry = [("Retry-After", str(rule["retry_after"]))] if rule.get("retry_after") is not None else []
        kind = rule["kind"]
        if kind == "delay":
            time.sleep(rule["delay_seconds"])
            return None
        if kind == "garbage":
            return respond(start_response, 200, "<<<not xml", "text/xml")
        if kind == "throttle":
            return aws_error(environ, start_response, 400, "Throttling", "Rate exceeded", retry)
        status = rule["status"]
        code = rule.get("code") or ("ServiceFailure" if status >= 500 else "InternalFailure")
        return aws_error(environ, start_response, status, code, "Injected fault", retry)

    # -- entry point ---------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        body = read_body(environ)

        if path.startswith("/_harness/"):
            return self._harness(environ, start_response, body)
        if path.startswith("/moto-api/"):
            # A full moto reset must also forget the credentials kept here,
            # or a "fresh" server would still list the previous test's ones.
            if path.rstrip("/") == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
                self.ssc.reset()
                self.paging.clear()
                self.reports.clear()
                self.denied_roles = set()
            return self.app(environ, start_response)

        params = query_params(environ, body)
        action = request_action(environ, params)
        self._record(environ, action)

        rule = self.faults.take(action)
        if rule is not None:
            injected = self._inject(rule, environ, start_response)
            if injected is not None:
                return injected

        if action in ("DescribePermissionSet", "ListPermissionSets") and signing_service(environ) == "sso":
            return self._sso_session_duration(environ, start_response)
        if action == "AssumeRole" and params.get("RoleArn") in self.denied_roles:
            arn = params["RoleArn"]
            return aws_error(
                environ, start_response, 403, "AccessDenied",
                f"User is not authorized to perform: sts:AssumeRole on resource: {arn}",
            )
        is_iam = signing_service(environ) in (None, "iam")
        if action in SSC_ACTIONS and is_iam:
            return self.ssc.handle(action, params, environ, start_response)
        page_size = self.paging.size(action) if is_iam else None
        if action == "GetAccountAuthorizationDetails" and page_size:
            return self._paged_authorization_details(page_size, params, environ, body, start_response)
        if action == "GenerateCredentialReport" and is_iam:
            state = self.reports.take_generate_state()
            if state is not None:
                return self._generate_credential_report(state, environ, start_response)
        if action == "GetCredentialReport" and is_iam:
            error = self.reports.take_get_error()
            if error is not None:
                return aws_error(environ, start_response, *error)
            return self._credential_report(environ, start_response)
        if action == "DeleteUser" and signing_service(environ) in (None, "iam"):
            # Real IAM refuses to delete a user that still owns service-specific
            # credentials; moto cannot know about ours, so enforce it here.
            account_id = self.ssc.account_for(environ)
            user_name = params.get("UserName", "")
            if self.ssc.user_has_credentials(account_id, user_name):
                return aws_error(
                    environ, start_response, 409, "DeleteConflict",
                    "Cannot delete entity, must remove service specific credentials first.",
                )
        return self.app(environ, start_response)


    def _sso_session_duration(self, environ: dict[str, Any], start_response: Any) -> Any:
        """moto answers SessionDuration as seconds (3600); the SSO Admin API Reference gives
        an ISO-8601 duration string ("PT1H"), which the Rust SDK requires."""
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        body = b"".join(self.app(environ, capture))
        try:
            doc = json.loads(body)
            ps = doc.get("PermissionSet")
            if isinstance(ps, dict) and isinstance(ps.get("SessionDuration"), (int, float)):
                ps["SessionDuration"] = f"PT{int(ps['SessionDuration'])}S"
                body = json.dumps(doc).encode()
        except ValueError:
            pass
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(captured["status"], headers)
        return [body]

    def _credential_report(self, environ: dict[str, Any], start_response: Any) -> Any:
        """moto's report, remembered; with reuse_last, the remembered one again."""
        if self.reports.reuse_last and self.reports.last_body is not None:
            body = self.reports.last_body
            start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
            return [body]
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        body = b"".join(self.app(environ, capture))
        if captured.get("status", "").startswith("200"):
            self.reports.last_body = body
        start_response(captured["status"], captured["headers"])
        return [body]


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------



def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--request-log", required=True, help="JSON-lines file, appended to")
    parser.add_argument("--port-file", help="written with the port once the server listens")
    parser.add_argument("--verbose", action="store_true", help="keep werkzeug's per-request access log")
    args = parser.parse_args(argv)

    if not args.verbose:
        # The access log on stderr costs real time under thousands of requests.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    moto_app = DomainDispatcherApplication(create_backend_app)
    app = HarnessMiddleware(moto_app, args.request_log)

    # make_server binds and listens immediately, so port 0 is resolved without
    # a race and the port file can be written before serving starts: clients
    # that connect early simply wait in the listen backlog.
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_port
    # moto builds some self-referencing URLs from MOTO_PORT; read at call time.
    os.environ["MOTO_PORT"] = str(port)
    if args.port_file:
        write_port_file(args.port_file, port)
    print(f"moto harness listening on http://{args.host}:{port}", file=sys.stderr, flush=True)

    def stop(signum: int, frame: Any) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
