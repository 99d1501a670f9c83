#!/usr/bin/env python3
"""Seed a (moto) IAM endpoint with the fixtures the `residual` tests audit.

Usage:
    python tests/harness/seed_iam.py --endpoint http://127.0.0.1:PORT --scenario main [--reset]
    python tests/harness/seed_iam.py --endpoint http://127.0.0.1:PORT --scenario scale \
        --users 2000 --leavers 200 [--threads 16] [--reset]
    python tests/harness/seed_iam.py --endpoint http://127.0.0.1:PORT --scenario secrets [--reset]

Prints one JSON object on stdout listing every id that was created, so tests
can assert on them. Timing and progress go to stderr.

The `main` scenario builds one account (domain acme.example) with one case per
matching/finding rule; see `seed_main` for the cast. Service-specific
credentials rely on the harness launcher (moto itself does not implement them).

The `secrets` scenario (independent of `main`) seeds Secrets Manager around a
cut-off time `t_mid`; see `seed_secrets`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"
ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
READONLY_POLICY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def client(endpoint: str, service: str, pool: int = 10, key: str = ACCESS_KEY, secret: str = SECRET_KEY) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(max_pool_connections=pool, retries={"max_attempts": 3, "mode": "standard"}),
    )


def reset(endpoint: str) -> None:
    """Wipe moto (and the launcher's own credential store) before seeding."""
    req = urllib.request.Request(f"{endpoint.rstrip('/')}/moto-api/reset", data=b"", method="POST")
    urllib.request.urlopen(req, timeout=30).read()


def policy_doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# ---------------------------------------------------------------------------
# Credential material moto validates (or that should look real)
# ---------------------------------------------------------------------------


def make_ssh_public_key() -> str:
    """A genuine `ssh-rsa` public key body, as IAM UploadSSHPublicKey expects."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return body.decode("ascii") + " bob@acme.example"


def make_signing_certificate(common_name: str) -> str:
    """A self-signed X.509 PEM certificate; moto rejects bodies it cannot parse."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


# ---------------------------------------------------------------------------
# Scenario: main
# ---------------------------------------------------------------------------


class Recorder:
    """Creates IAM objects and remembers every id for the JSON report."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.iam = client(endpoint, "iam")
        self.account_id = client(endpoint, "sts").get_caller_identity()["Account"]
        self.users: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.roles: dict[str, dict[str, Any]] = {}

    def user(self, name: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"UserName": name}
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        arn = self.iam.create_user(**kwargs)["User"]["Arn"]
        self.users[name] = {
            "user_name": name,
            "arn": arn,
            "tags": tags or {},
            "login_profile": False,
            "access_keys": [],
            "ssh_public_keys": [],
            "signing_certificates": [],
            "service_specific_credentials": [],
            "groups": [],
            "inline_policies": [],
        }
        return self.users[name]

    def access_key(self, user: str, status: str = "Active") -> dict[str, Any]:
        key = self.iam.create_access_key(UserName=user)["AccessKey"]
        if status != "Active":
            self.iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status=status)
        entry = {"id": key["AccessKeyId"], "status": status, "used": False}
        self.users[user]["access_keys"].append(entry)
        # The secret is kept out of the report but is needed to sign a call.
        entry["_secret"] = key["SecretAccessKey"]
        return entry

    def use_key(self, entry: dict[str, Any]) -> None:
        """Sign one STS call with the key so moto records a last-used date."""
        sts = client(self.endpoint, "sts", key=entry["id"], secret=entry["_secret"])
        sts.get_caller_identity()
        entry["used"] = True

    def login_profile(self, user: str) -> None:
        self.iam.create_login_profile(UserName=user, Password="Correct-Horse-9!", PasswordResetRequired=False)
        self.users[user]["login_profile"] = True

    def inline_policy(self, user: str, name: str, doc: str) -> None:
        self.iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=doc)
        self.users[user]["inline_policies"].append(name)

    def group(self, name: str, managed: list[str]) -> None:
        arn = self.iam.create_group(GroupName=name)["Group"]["Arn"]
        for policy in managed:
            self.iam.attach_group_policy(GroupName=name, PolicyArn=policy)
        self.groups[name] = {"arn": arn, "attached_policies": managed, "members": []}

    def join(self, user: str, group: str) -> None:
        self.iam.add_user_to_group(GroupName=group, UserName=user)
        self.users[user]["groups"].append(group)
        self.groups[group]["members"].append(user)

    def role(self, name: str, trust: str, tags: dict[str, str] | None = None) -> None:
        kwargs: dict[str, Any] = {"RoleName": name, "AssumeRolePolicyDocument": trust}
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        arn = self.iam.create_role(**kwargs)["Role"]["Arn"]
        self.roles[name] = {"arn": arn, "trust_policy": json.loads(trust), "tags": tags or {}}

    def report(self) -> dict[str, Any]:
        for user in self.users.values():
            for key in user["access_keys"]:
                key.pop("_secret", None)
        return {"account_id": self.account_id, "users": self.users, "groups": self.groups, "roles": self.roles}


def seed_main(endpoint: str) -> dict[str, Any]:
    r = Recorder(endpoint)
    acct = r.account_id

    # Shared admin group (alice's path to AdministratorAccess).
    r.group("admins", [ADMIN_POLICY_ARN])

    # alice: matched by tag; console password, two active keys, the first one
    # used *now* (i.e. after her departure), admin through the group.
    r.user("alice", {"email": "alice@acme.example"})
    r.login_profile("alice")
    first = r.access_key("alice")
    r.access_key("alice")
    r.use_key(first)
    r.join("alice", "admins")

    # bob: IAM name differs from the mailbox; the HR file names him
    # explicitly (aws_username=bob.smith). Every non-key credential type.
    r.user("bob.smith")
    r.access_key("bob.smith")
    ssh = r.iam.upload_ssh_public_key(UserName="bob.smith", SSHPublicKeyBody=make_ssh_public_key())["SSHPublicKey"]
    r.users["bob.smith"]["ssh_public_keys"].append({"id": ssh["SSHPublicKeyId"], "status": ssh["Status"]})
    cert = r.iam.upload_signing_certificate(
        UserName="bob.smith", CertificateBody=make_signing_certificate("bob.smith")
    )["Certificate"]
    r.users["bob.smith"]["signing_certificates"].append({"id": cert["CertificateId"], "status": cert["Status"]})
    ssc = r.iam.create_service_specific_credential(UserName="bob.smith", ServiceName="codecommit.amazonaws.com")[
        "ServiceSpecificCredential"
    ]
    r.users["bob.smith"]["service_specific_credentials"].append(
        {
            "id": ssc["ServiceSpecificCredentialId"],
            "service_name": ssc["ServiceName"],
            "service_user_name": ssc["ServiceUserName"],
            "status": ssc["Status"],
        }
    )

    # carol: exists with no credential at all (deprovisioned) yet carries an
    # admin-equivalent inline policy.
    r.user("carol")
    r.inline_policy("carol", "carol-admin", policy_doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))

    # erin: one active key and IAM write power. Created before deploy-role
    # because the role's trust policy names her ARN.
    r.user("erin")
    r.access_key("erin")
    r.inline_policy(
        "erin", "erin-iam-write", policy_doc({"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "*"})
    )

    # dave: no IAM user, but machine identities point at him: a tagged user
    # (mixed-case owner) and a tagged role (sub-addressed mailbox).
    r.user("ci-bot", {"owner": "Dave@Acme.example"})
    r.access_key("ci-bot")
    r.role(
        "deploy-role",
        policy_doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{acct}:user/erin"},
                "Action": "sts:AssumeRole",
            }
        ),
    )
    r.role(
        "etl-role",
        policy_doc({"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}),
        {"created_by": "dave+ops@acme.example"},
    )

    # frank: departure is in the future (set by the test): must yield nothing.
    r.user("frank")
    r.access_key("frank")

    # Look-alike trap: current employee gina.lopez owns IAM user "gina"; the
    # leaver gina@acme.example is someone else, so the match is ambiguous.
    r.user("gina", {"email": "gina.lopez@acme.example"})
    r.access_key("gina")

    # Ordinary staff that must be ignored.
    for staff in ("jdoe", "ops-admin"):
        r.user(staff)
        r.access_key(staff)

    # ivan: IAM name differs in case only; his only key is Inactive.
    r.user("Ivan")
    r.access_key("Ivan", status="Inactive")

    return r.report()


# ---------------------------------------------------------------------------
# Scenario: secrets (Secrets Manager)
# ---------------------------------------------------------------------------

SM_CANARY = "CANARY-sm-secret-value-51c2"


def _iso(value: Any) -> Any:
    """botocore gives datetimes; the report wants RFC 3339 strings."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return value


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def seed_secrets(endpoint: str) -> dict[str, Any]:
    """IAM users alice and bob, and four secrets around a cut-off `t_mid`.

    prod/db     owner=alice@acme.example (tag)                 before t_mid
    prod/api    resource policy lets user/bob GetSecretValue   before t_mid
    prod/cache  owner=bob@acme.example; value put after t_mid  LastChangedDate > t_mid
    prod/other  owner=staff@acme.example                       before t_mid

    Every secret value contains SM_CANARY. moto keeps LastChangedDate in whole
    seconds, so the sleep around t_mid is longer than a second.
    """
    iam = client(endpoint, "iam")
    sm = client(endpoint, "secretsmanager")
    account_id = client(endpoint, "sts").get_caller_identity()["Account"]
    users = {name: iam.create_user(UserName=name)["User"]["Arn"] for name in ("alice", "bob")}

    secrets: dict[str, dict[str, Any]] = {}

    def create(name: str, value: str, owner: str | None) -> None:
        kwargs: dict[str, Any] = {"Name": name, "SecretString": json.dumps({"value": value})}
        if owner:
            kwargs["Tags"] = [{"Key": "owner", "Value": owner}]
        resp = sm.create_secret(**kwargs)
        secrets[name] = {"arn": resp["ARN"], "name": resp["Name"], "owner_tag": owner, "versions": [resp["VersionId"]]}

    create("prod/db", f"{SM_CANARY}-db", "alice@acme.example")
    create("prod/api", f"{SM_CANARY}-api", None)
    bob_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BobReads",
                "Effect": "Allow",
                "Principal": {"AWS": users["bob"]},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ],
    }
    sm.put_resource_policy(SecretId="prod/api", ResourcePolicy=json.dumps(bob_policy))
    secrets["prod/api"]["resource_policy"] = bob_policy
    create("prod/cache", f"{SM_CANARY}-cache-v1", "bob@acme.example")
    create("prod/other", f"{SM_CANARY}-other", "staff@acme.example")

    time.sleep(0.05)
    t_mid = now_rfc3339()
    time.sleep(1.5)
    put = sm.put_secret_value(SecretId="prod/cache", SecretString=json.dumps({"value": f"{SM_CANARY}-cache-v2"}))
    secrets["prod/cache"]["versions"].append(put["VersionId"])

    # What ListSecrets says, both as botocore parses it and on the wire.
    wire: list[bytes] = []
    sm.meta.events.register(
        "after-call.secrets-manager.ListSecrets",
        lambda http_response, **_: wire.append(http_response.content),
    )
    listed: dict[str, dict[str, Any]] = {}
    for page in sm.get_paginator("list_secrets").paginate():
        for entry in page["SecretList"]:
            listed[entry["Name"]] = {k: _iso(v) for k, v in entry.items()}
    wire_entries = {e["Name"]: e for body in wire for e in json.loads(body)["SecretList"]}

    mid = dt.datetime.fromisoformat(t_mid.replace("Z", "+00:00"))
    for name, info in secrets.items():
        entry = listed[name]
        raw = wire_entries[name]
        info["list_secrets"] = entry
        info["list_secrets_wire"] = {k: raw.get(k) for k in ("LastChangedDate", "LastAccessedDate", "CreatedDate", "Tags")}
        info["fields_returned"] = {
            field: field in entry for field in ("LastChangedDate", "LastAccessedDate", "CreatedDate", "Tags")
        }
        changed = dt.datetime.fromisoformat(entry["LastChangedDate"].replace("Z", "+00:00"))
        info["last_changed_after_t_mid"] = changed > mid
    for name, after in {"prod/db": False, "prod/api": False, "prod/cache": True, "prod/other": False}.items():
        if secrets[name]["last_changed_after_t_mid"] != after:
            raise SystemExit(f"seed_iam: {name} LastChangedDate {listed[name]['LastChangedDate']} vs t_mid {t_mid}")

    policy = sm.get_resource_policy(SecretId="prod/api")
    policy.pop("ResponseMetadata", None)
    no_policy = sm.get_resource_policy(SecretId="prod/db")
    no_policy.pop("ResponseMetadata", None)

    return {
        "scenario": "secrets",
        "account_id": account_id,
        "canary": SM_CANARY,
        "users": users,
        "t_mid": t_mid,
        "secrets": secrets,
        "get_resource_policy": {"prod/api": policy, "prod/db": no_policy},
    }


# ---------------------------------------------------------------------------
# Scenario: scale
# ---------------------------------------------------------------------------


def seed_scale(endpoint: str, users: int, leavers: int, threads: int) -> dict[str, Any]:
    # One shared client: botocore clients are thread-safe, and a pool at least
    # as large as the thread count keeps every worker on a live connection.
    iam = client(endpoint, "iam", pool=threads * 2)
    groups = [f"team{i}" for i in range(5)]
    for i, name in enumerate(groups):
        iam.create_group(GroupName=name)
        # team0 is the admin group; team1 gets a harmless managed policy so
        # the audit sees more than one policy shape.
        if i == 0:
            iam.attach_group_policy(GroupName=name, PolicyArn=ADMIN_POLICY_ARN)
        elif i == 1:
            iam.attach_group_policy(GroupName=name, PolicyArn=READONLY_POLICY_ARN)

    step = max(1, users // leavers) if leavers else 0
    names = [f"user{i:04d}" for i in range(users)]

    def make(i: int) -> None:
        name = names[i]
        iam.create_user(UserName=name)
        iam.create_access_key(UserName=name)
        if i % 10 == 0:
            iam.create_login_profile(UserName=name, Password="Correct-Horse-9!")
        # Blocks of ten users share a group, so the leavers (every tenth user)
        # land evenly in all five groups rather than all in the admin group.
        iam.add_user_to_group(GroupName=groups[(i // 10) % len(groups)], UserName=name)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        # list() surfaces the first worker exception instead of dropping it.
        list(pool.map(make, range(users)))

    leaver_names = [names[i] for i in range(0, users, step)][:leavers] if step else []
    return {"leaver_usernames": leaver_names, "users": users, "groups": groups, "admin_group": groups[0]}


# ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--scenario", required=True, choices=["main", "scale", "secrets"])
    parser.add_argument("--users", type=int, default=2000, help="scale: number of IAM users")
    parser.add_argument("--leavers", type=int, default=200, help="scale: number of leavers (evenly spaced)")
    parser.add_argument("--threads", type=int, default=16, help="scale: concurrent workers")
    parser.add_argument("--reset", action="store_true", help="POST /moto-api/reset first")
    args = parser.parse_args()

    if args.reset:
        reset(args.endpoint)
    start = time.monotonic()
    if args.scenario == "main":
        out = seed_main(args.endpoint)
    elif args.scenario == "secrets":
        out = seed_secrets(args.endpoint)
    else:
        out = seed_scale(args.endpoint, args.users, args.leavers, args.threads)
    elapsed = time.monotonic() - start
    out["seed_seconds"] = round(elapsed, 3)
    print(f"seeded scenario {args.scenario} in {elapsed:.2f}s", file=sys.stderr)
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
