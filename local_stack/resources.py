"""Create, on the moto server, the AWS resources the stage config names.

The names come from the same environment variables the functions read, so the local stack
exercises exactly the names a deployed stage uses.
"""
from __future__ import annotations

import json
import os

import boto3
from botocore.exceptions import ClientError


def _ensure(call, *already_exists_codes):
    try:
        return call()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in already_exists_codes:
            return None
        raise


def _queue_arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]


def _queue_with_dlq(name: str, dlq_name: str, max_receives: str, visibility: str) -> tuple[str, str]:
    """A queue whose messages move to `dlq_name` after `max_receives` receives (14-day DLQ)."""
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName=dlq_name, Attributes={
        "MessageRetentionPeriod": str(14 * 24 * 3600)})["QueueUrl"]
    queue_url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": visibility,
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": _queue_arn(sqs, dlq_url),
                                     "maxReceiveCount": max_receives}),
    })["QueueUrl"]
    return queue_url, dlq_url


def _table(name: str, hash_key: tuple[str, str], range_key: tuple[str, str] | None = None,
           ttl_attribute: str | None = None) -> None:
    """An on-demand table keyed by (name, type) pairs, with TTL on `ttl_attribute`."""
    ddb = boto3.client("dynamodb")
    keys = [(hash_key, "HASH")] + ([(range_key, "RANGE")] if range_key else [])
    _ensure(lambda: ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for (k, t), _ in keys],
        KeySchema=[{"AttributeName": k, "KeyType": role} for (k, _), role in keys]),
        "ResourceInUseException")
    if ttl_attribute:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": ttl_attribute})


def _put_secret(name: str, value: dict) -> None:
    sm = boto3.client("secretsmanager")
    try:
        sm.create_secret(Name=name, SecretString=json.dumps(value))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceExistsException":
            raise
        sm.put_secret_value(SecretId=name, SecretString=json.dumps(value))


def create_tables(env: dict) -> None:
    _table(env["ACCOUNTS_TABLE"], ("hub_id", "N"))
    _table(env["STATES_TABLE"], ("state", "S"), ttl_attribute="expires_at")


def create_queues(env: dict) -> dict:
    queue_url, dlq_url = _queue_with_dlq(env["PROVISION_QUEUE_NAME"], env["PROVISION_DLQ_NAME"],
                                         env.get("PROVISION_MAX_RECEIVES", "5"), "360")
    return {"provision": queue_url, "provision_dlq": dlq_url}


def create_key(env: dict) -> str:
    kms = boto3.client("kms")
    alias = env["KMS_KEY_ID"]
    for existing in kms.list_aliases()["Aliases"]:
        if existing["AliasName"] == alias and existing.get("TargetKeyId"):
            return existing["TargetKeyId"]
    key_id = kms.create_key(Description="hubspot-pipeline refresh tokens")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    return key_id


def put_app_secret(env: dict, client_id: str, client_secret: str) -> None:
    _put_secret(env["APP_SECRET_NAME"], {"client_id": client_id, "client_secret": client_secret})


def create_bucket(env: dict) -> None:
    s3 = boto3.client("s3")
    _ensure(lambda: s3.create_bucket(Bucket=env["LAKE_BUCKET"]),
            "BucketAlreadyOwnedByYou", "BucketAlreadyExists")


def create_provisioning_table(env: dict) -> None:
    """The provisioner's table of shared Airbyte resource ids (workspace, S3 destination)."""
    _table(env["AIRBYTE_RESOURCES_TABLE"], ("key", "S"))


def put_airbyte_secret(env: dict, client_id: str, client_secret: str) -> None:
    """Airbyte application credentials ({"client_id", "client_secret"}) for the provisioner."""
    _put_secret(env["AIRBYTE_SECRET_NAME"], {"client_id": client_id, "client_secret": client_secret})


def create_health_resources(env: dict) -> dict:
    """Token health and uninstalls (issue 6): the work queue and its DLQ, the uninstall audit
    and webhook receipt tables, and the alerts topic with a local inbox queue subscribed to it
    (so `ops` and tests can read the alerts an operator would get)."""
    from hubspot_app.config import reset_settings
    from hubspot_app.models import bind_health_tables

    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    _table(env["UNINSTALL_AUDIT_TABLE"], ("hub_id", "N"), range_key=("at", "S"))
    _table(env["WEBHOOK_RECEIPTS_TABLE"], ("key", "S"), ttl_attribute="expires_at")
    if env.get("JOURNAL_POSITION_TABLE"):
        from hubspot_app.lifecycle.journal import bind_journal_table

        _table(env["JOURNAL_POSITION_TABLE"], ("name", "S"))
        bind_journal_table(env["JOURNAL_POSITION_TABLE"], reconnect=True)
    queue_url, dlq_url = _queue_with_dlq(  # visibility 6 x the worker's 300 s timeout
        env["LIFECYCLE_QUEUE_NAME"], env["LIFECYCLE_DLQ_NAME"],
        env.get("LIFECYCLE_MAX_RECEIVES", "5"), "1800")
    topic_arn = sns.create_topic(Name=env["ALERTS_TOPIC_ARN"].rsplit(":", 1)[-1])["TopicArn"]
    inbox_url = sqs.create_queue(QueueName=env["ALERTS_INBOX_QUEUE_NAME"])["QueueUrl"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=_queue_arn(sqs, inbox_url),
                  Attributes={"RawMessageDelivery": "true"})
    reset_settings()
    bind_health_tables(env["UNINSTALL_AUDIT_TABLE"], env["WEBHOOK_RECEIPTS_TABLE"], reconnect=True)
    return {"token_health": queue_url, "token_health_dlq": dlq_url, "alerts_topic": topic_arn,
            "alerts_inbox": inbox_url}


def create_lake_events(env: dict) -> dict:
    """The Glue trigger's queue (+ DLQ) and the lake's raw/ object-created notifications to it,
    as the deploy template declares them (tests/integration/deploy/test_rehearsal.py compares the two)."""
    if not env.get("GLUE_TRIGGER_QUEUE_NAME"):
        return {}
    sqs, s3 = boto3.client("sqs"), boto3.client("s3")
    queue_url, dlq_url = _queue_with_dlq(  # visibility 6 x the trigger's 60 s timeout
        env["GLUE_TRIGGER_QUEUE_NAME"], env["GLUE_TRIGGER_DLQ_NAME"],
        env.get("GLUE_TRIGGER_MAX_RECEIVES", "5"), "360")
    queue_arn = _queue_arn(sqs, queue_url)
    raw = (env.get("LAKE_RAW_PREFIX") or "raw").strip("/") + "/"
    s3.put_bucket_notification_configuration(Bucket=env["LAKE_BUCKET"], NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [
                                     {"Name": "prefix", "Value": raw}]}}}]})
    return {"glue_trigger": queue_url, "glue_trigger_dlq": dlq_url}


def create_association_labels_queue(env: dict) -> dict:
    """The association-label reader's queue (+ DLQ), as the deploy template declares it."""
    if not env.get("ASSOCIATION_LABELS_QUEUE_NAME"):
        return {}
    queue_url, dlq_url = _queue_with_dlq(  # visibility 6 x the worker's 300 s timeout
        env["ASSOCIATION_LABELS_QUEUE_NAME"], env["ASSOCIATION_LABELS_DLQ_NAME"],
        env.get("ASSOCIATION_LABELS_MAX_RECEIVES", "5"), "1800")
    return {"association_labels": queue_url, "association_labels_dlq": dlq_url}


def create_all(env: dict | None = None, client_id: str = "", client_secret: str = "") -> dict:
    env = env or dict(os.environ)
    create_tables(env)
    create_provisioning_table(env)
    queues = create_queues(env)
    key_id = create_key(env)
    put_app_secret(env, client_id, client_secret)
    create_bucket(env)
    health = create_health_resources(env)
    queues.update(create_lake_events(env))
    queues.update(create_association_labels_queue(env))
    return {"health": health, "queues": queues, "kms_key_id": key_id}
