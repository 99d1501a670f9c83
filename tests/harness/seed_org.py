#!/usr/bin/env python3
"""Seed an AWS organization on moto: member accounts, IAM users and roles inside them
(reached through AssumeRole, as moto keeps each account's backends apart), and IAM Identity
Center (identity-store users and groups, permission sets, account assignments).

    python tests/harness/seed_org.py --endpoint http://127.0.0.1:PORT --scenario test
    python tests/harness/seed_org.py --endpoint http://127.0.0.1:PORT --scenario scale \
        --accounts 20 --users 500 --leavers 100

`test` builds the case list of issue 11 and prints the ids the test needs:
* member `alpha`: IAM user lena (email tag) with an active access key, in group deployers
  (ReadOnlyAccess);
* member `beta`: role `deploy` whose trust policy names lena's user ARN in alpha;
* member `gamma`: nothing of the leavers';
* member `delta`: its audit role cannot be assumed (the launcher is told to refuse it);
* Identity Center: user max (leaver) assigned AdministratorAccess directly on alpha and,
  through group Admins, on beta and gamma; user max.other (same display name, another
  email, not a leaver) with ReadOnly on alpha; olga (a leaver) was never in the store.

`scale` builds N member accounts of M users each, with the leavers spread over them, and
prints the leavers' emails.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import sys
import urllib.request
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"
ROLE = "ResidualAudit"


def client(endpoint: str, service: str, creds: dict[str, str] | None = None, pool: int = 10) -> Any:
    kw: dict[str, Any] = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing-secret-key"}
    if creds:
        kw = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(max_pool_connections=pool, retries={"max_attempts": 3, "mode": "standard"}),
        **kw,
    )


def member_iam(endpoint: str, account: str) -> Any:
    sts = client(endpoint, "sts")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="seed")["Credentials"]
    return client(endpoint, "iam", creds, pool=32)


def organization(endpoint: str, names: list[str]) -> tuple[str, dict[str, str]]:
    org = client(endpoint, "organizations")
    org.create_organization(FeatureSet="ALL")
    ids: dict[str, str] = {}
    for n in names:
        status = org.create_account(Email=f"aws+{n}@acme.example", AccountName=n)["CreateAccountStatus"]
        ids[n] = status["AccountId"]
    management = client(endpoint, "sts").get_caller_identity()["Account"]
    return management, ids


def deny(endpoint: str, arns: list[str]) -> None:
    req = urllib.request.Request(
        f"{endpoint.rstrip('/')}/_harness/deny_assume_role",
        data=json.dumps({"role_arns": arns}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(req, timeout=30).read()


def seed_test(endpoint: str) -> dict[str, Any]:
    management, ids = organization(endpoint, ["alpha", "beta", "gamma", "delta"])
    alpha = member_iam(endpoint, ids["alpha"])
    alpha.create_user(UserName="lena", Tags=[{"Key": "email", "Value": "lena@acme.example"}])
    key = alpha.create_access_key(UserName="lena")["AccessKey"]["AccessKeyId"]
    lena_arn = f"arn:aws:iam::{ids['alpha']}:user/lena"
    # Her old role's group (a mover test revokes it): a read-only policy, no admin power.
    alpha.create_group(GroupName="deployers")
    alpha.attach_group_policy(GroupName="deployers", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    alpha.add_user_to_group(GroupName="deployers", UserName="lena")
    beta = member_iam(endpoint, ids["beta"])
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": lena_arn}, "Action": "sts:AssumeRole"}]}
    beta.create_role(RoleName="deploy", AssumeRolePolicyDocument=json.dumps(trust))

    sso = client(endpoint, "sso-admin")
    inst = sso.list_instances()["Instances"][0]
    ia, store = inst["InstanceArn"], inst["IdentityStoreId"]
    ids_store = client(endpoint, "identitystore")

    def user(name: str, email: str, display: str) -> str:
        return ids_store.create_user(
            IdentityStoreId=store, UserName=name, DisplayName=display,
            Name={"GivenName": display.split()[0], "FamilyName": display.split()[-1]},
            Emails=[{"Value": email, "Type": "work", "Primary": True}],
        )["UserId"]

    max_id = user("max", "max@acme.example", "Max Mustermann")
    other_id = user("max.other", "max.other@acme.example", "Max Mustermann")
    group = ids_store.create_group(IdentityStoreId=store, DisplayName="Admins")["GroupId"]
    ids_store.create_group_membership(IdentityStoreId=store, GroupId=group, MemberId={"UserId": max_id})
    admin = sso.create_permission_set(Name="AdministratorAccess", InstanceArn=ia)["PermissionSet"]["PermissionSetArn"]
    sso.attach_managed_policy_to_permission_set(
        InstanceArn=ia, PermissionSetArn=admin, ManagedPolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    readonly = sso.create_permission_set(Name="ReadOnly", InstanceArn=ia)["PermissionSet"]["PermissionSetArn"]
    sso.attach_managed_policy_to_permission_set(
        InstanceArn=ia, PermissionSetArn=readonly, ManagedPolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
    )

    def assign(ps: str, account: str, principal: str, kind: str) -> None:
        sso.create_account_assignment(
            InstanceArn=ia, TargetId=account, TargetType="AWS_ACCOUNT",
            PermissionSetArn=ps, PrincipalType=kind, PrincipalId=principal,
        )

    assign(admin, ids["alpha"], max_id, "USER")
    assign(admin, ids["beta"], group, "GROUP")
    assign(admin, ids["gamma"], group, "GROUP")
    assign(readonly, ids["alpha"], other_id, "USER")
    deny(endpoint, [f"arn:aws:iam::{ids['delta']}:role/{ROLE}"])
    return {
        "management": management,
        "accounts": ids,
        "lena_key": key,
        "lena_arn": lena_arn,
        "max_id": max_id,
        "other_id": other_id,
        "admin_permission_set": admin,
        "readonly_permission_set": readonly,
    }


def seed_scale(endpoint: str, accounts: int, users: int, leavers: int) -> dict[str, Any]:
    names = [f"member{i:03d}" for i in range(accounts)]
    management, ids = organization(endpoint, names)
    total = accounts * users
    step = max(1, total // max(1, leavers))
    leaver_emails: list[str] = []

    def fill(pos: int, name: str) -> list[str]:
        iam = member_iam(endpoint, ids[name])
        out = []
        for j in range(users):
            n = pos * users + j
            email = f"user{n}@acme.example"
            iam.create_user(UserName=f"user{n}", Tags=[{"Key": "email", "Value": email}])
            if n % step == 0:
                iam.create_access_key(UserName=f"user{n}")
                out.append(email)
        return out

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for part in pool.map(lambda p: fill(p[0], p[1]), enumerate(names)):
            leaver_emails.extend(part)
    return {"management": management, "accounts": ids, "leavers": leaver_emails[:leavers]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--scenario", choices=["test", "scale"], required=True)
    ap.add_argument("--accounts", type=int, default=20)
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--leavers", type=int, default=100)
    a = ap.parse_args()
    out = seed_test(a.endpoint) if a.scenario == "test" else seed_scale(a.endpoint, a.accounts, a.users, a.leavers)
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
