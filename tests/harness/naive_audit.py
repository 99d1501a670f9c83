#!/usr/bin/env python3
"""The naive per-leaver IAM audit, as a baseline for request counts and time.

Usage:
    python tests/harness/naive_audit.py --endpoint http://127.0.0.1:PORT --leavers-usernames FILE

FILE is either JSON (a list of user names, or an object with a
"leaver_usernames" list, such as the output of `seed_iam.py --scenario scale`)
or plain text with one user name per line.

For every leaver it walks each credential and permission API one call at a
time, strictly sequentially, which is what a straightforward script does.
Prints {"requests": N, "seconds": S, "leavers": L} on stdout, where N counts
every HTTP request botocore actually sent (retries included).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable, Iterator

import boto3
from botocore.config import Config


def load_usernames(path: str) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return [line.strip() for line in text.splitlines() if line.strip()]
    if isinstance(data, dict):
        data = data["leaver_usernames"]
    return [str(name) for name in data]


def pages(call: Callable[..., dict[str, Any]], key: str, **kwargs: Any) -> Iterator[Any]:
    """Follow IAM Marker pagination by hand so each page is one counted call."""
    while True:
        page = call(**kwargs)
        yield from page.get(key, [])
        if not page.get("IsTruncated"):
            return
        kwargs["Marker"] = page["Marker"]


def audit_user(iam: Any, name: str) -> dict[str, Any]:
    errors = iam.exceptions
    try:
        iam.get_user(UserName=name)
    except errors.NoSuchEntityException:
        return {"user": name, "exists": False}

    keys = list(pages(iam.list_access_keys, "AccessKeyMetadata", UserName=name))
    for key in keys:
        iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    try:
        iam.get_login_profile(UserName=name)
        console = True
    except errors.NoSuchEntityException:
        console = False
    ssh = list(pages(iam.list_ssh_public_keys, "SSHPublicKeys", UserName=name))
    # ListServiceSpecificCredentials has no Marker in older API versions and
    # returns everything in one answer.
    ssc = iam.list_service_specific_credentials(UserName=name).get("ServiceSpecificCredentials", [])
    certs = list(pages(iam.list_signing_certificates, "Certificates", UserName=name))
    groups = list(pages(iam.list_groups_for_user, "Groups", UserName=name))
    attached = list(pages(iam.list_attached_user_policies, "AttachedPolicies", UserName=name))
    inline = list(pages(iam.list_user_policies, "PolicyNames", UserName=name))
    for group in groups:
        attached += pages(iam.list_attached_group_policies, "AttachedPolicies", GroupName=group["GroupName"])
        inline += pages(iam.list_group_policies, "PolicyNames", GroupName=group["GroupName"])
    return {
        "user": name,
        "exists": True,
        "access_keys": len(keys),
        "console": console,
        "ssh_keys": len(ssh),
        "service_credentials": len(ssc),
        "certificates": len(certs),
        "policies": len(attached) + len(inline),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--leavers-usernames", required=True, help="JSON list/object or one name per line")
    args = parser.parse_args()

    iam = boto3.client(
        "iam",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 3, "mode": "standard"}),
    )
    # before-send fires once per HTTP attempt, so the count is what the
    # server saw rather than how many API methods the script invoked.
    sent = 0

    def count(**_: Any) -> None:
        nonlocal sent
        sent += 1

    iam.meta.events.register("before-send.iam", count)

    names = load_usernames(args.leavers_usernames)
    start = time.monotonic()
    for name in names:
        audit_user(iam, name)
    elapsed = time.monotonic() - start
    json.dump({"requests": sent, "seconds": round(elapsed, 3), "leavers": len(names)}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
