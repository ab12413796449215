"""`python -m deploy leftovers --stage S`: after a failed first create, which retained resources
are still in the account and would make the next create stop at "already exists".

CloudFormation keeps what has `DeletionPolicy: Retain` when a create rolls back: the tables, the
lake bucket, the secrets and the KMS key. Tables, bucket and secrets have fixed names, so a
retry collides with them; the key has no name (its alias is not retained and is created again),
so it never blocks a retry and is only reported. Read-only: this prints, for each leftover,
whether it is empty and the command that removes it (a first create holds no data), and writes
the `--resources-to-import` entries for the ones that hold data (CloudFormation resource import,
identifiers per type: TableName, BucketName, Id, KeyId).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import infra


@dataclass
class Leftover:
    logical: str
    cfn_type: str
    name: str
    empty: bool
    remove: str                   # the AWS CLI command that removes it
    identifier: dict              # CloudFormation resource import's ResourceIdentifier
    blocks_retry: bool = True

    def import_entry(self) -> dict:
        return {"ResourceType": self.cfn_type, "LogicalResourceId": self.logical,
                "ResourceIdentifier": self.identifier}


def retained(stage: str, account: str, region: str) -> dict[str, dict]:
    """The stage's retained resources (logical id -> resource), names resolved for the account."""
    template = infra.companion(stage, app={"functions": [], "routes": []})
    out = {}
    for logical, res in template["Resources"].items():
        if res.get("DeletionPolicy") != "Retain":
            continue
        props = dict(res["Properties"])
        name = props.get("BucketName")
        if isinstance(name, dict):  # {"Fn::Sub": "...-${AWS::AccountId}-${AWS::Region}"}
            props["BucketName"] = name["Fn::Sub"].replace("${AWS::AccountId}", account) \
                .replace("${AWS::Region}", region)
        out[logical] = {"Type": res["Type"], "Properties": props}
    return out


def _not_found(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("ResourceNotFoundException", "NoSuchBucket", "404", "NotFoundException")


def find(stage: str, session=None) -> list[Leftover]:
    import boto3
    from botocore.exceptions import ClientError

    session = session or boto3.session.Session()
    region = session.region_name or "us-east-1"
    account = session.client("sts").get_caller_identity()["Account"]
    found: list[Leftover] = []
    for logical, res in retained(stage, account, region).items():
        props, kind = res["Properties"], res["Type"]
        try:
            if kind == "AWS::DynamoDB::Table":
                name = props["TableName"]
                ddb = session.client("dynamodb")
                ddb.describe_table(TableName=name)
                empty = not ddb.scan(TableName=name, Limit=1, Select="COUNT")["Count"]
                found.append(Leftover(logical, kind, name, empty,
                                      f"aws dynamodb delete-table --table-name {name}",
                                      {"TableName": name}))
            elif kind == "AWS::S3::Bucket":
                name = props["BucketName"]
                s3 = session.client("s3")
                s3.head_bucket(Bucket=name)
                versions = s3.list_object_versions(Bucket=name, MaxKeys=1)
                empty = not (versions.get("Versions") or versions.get("DeleteMarkers"))
                found.append(Leftover(logical, kind, name, empty, f"aws s3 rb s3://{name}",
                                      {"BucketName": name}))
            elif kind == "AWS::SecretsManager::Secret":
                name = props["Name"]
                sm = session.client("secretsmanager")
                secret = sm.describe_secret(SecretId=name)
                # Created empty by the stack: a leftover with a value was set by someone.
                empty = not secret.get("VersionIdsToStages")
                found.append(Leftover(
                    logical, kind, name, empty,
                    f"aws secretsmanager delete-secret --secret-id {name} "
                    f"--force-delete-without-recovery", {"Id": secret["ARN"]}))
            elif kind == "AWS::KMS::Key":
                found.extend(_keys(session, logical, props["Description"]))
        except ClientError as exc:
            if not _not_found(exc):
                raise
    return found


def _keys(session, logical: str, description: str) -> list[Leftover]:
    """Keys with the template's description and no alias: a rolled-back create's key."""
    kms = session.client("kms")
    aliased = {a.get("TargetKeyId") for page in kms.get_paginator("list_aliases").paginate()
               for a in page["Aliases"]}
    out = []
    for page in kms.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if meta.get("Description") == description and meta["KeyState"] == "Enabled" \
                    and key["KeyId"] not in aliased:
                out.append(Leftover(
                    logical, "AWS::KMS::Key", key["KeyId"], True,
                    f"aws kms schedule-key-deletion --key-id {key['KeyId']} "
                    f"--pending-window-in-days 7", {"KeyId": key["KeyId"]}, blocks_retry=False))
    return out


def report(stage: str, found: list[Leftover]) -> list[str]:
    if not found:
        return [f"stage {stage}: no retained resources left over; a create can run"]
    lines = [f"stage {stage}: {len(found)} retained resource(s) from an earlier create:"]
    for f in found:
        state = "empty" if f.empty else "HOLDS DATA"
        effect = "blocks a new create" if f.blocks_retry else "does not block a new create"
        lines.append(f"  {f.logical:<24} {f.name}  ({state}; {effect})")
        if f.empty:
            lines.append(f"      remove: {f.remove}")
    keep = [f for f in found if not f.empty]
    if keep:
        lines.append("  resources holding data: import them (README, Deploying, 'If the first "
                     "create fails'); entries for --resources-to-import were written")
    return lines
