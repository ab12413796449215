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


def create_tables(env: dict) -> None:
    ddb = boto3.client("dynamodb")
    _ensure(lambda: ddb.create_table(
        TableName=env["ACCOUNTS_TABLE"], BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "hub_id", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "hub_id", "KeyType": "HASH"}]), "ResourceInUseException")
    _ensure(lambda: ddb.create_table(
        TableName=env["STATES_TABLE"], BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "state", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "state", "KeyType": "HASH"}]), "ResourceInUseException")
    ddb.update_time_to_live(TableName=env["STATES_TABLE"], TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires_at"})


def create_queues(env: dict) -> dict:
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName=env["PROVISION_DLQ_NAME"], Attributes={
        "MessageRetentionPeriod": str(14 * 24 * 3600)})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName=env["PROVISION_QUEUE_NAME"], Attributes={
        "VisibilityTimeout": "360",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": env.get("PROVISION_MAX_RECEIVES", "5")}),
    })["QueueUrl"]
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
    sm = boto3.client("secretsmanager")
    value = json.dumps({"client_id": client_id, "client_secret": client_secret})
    try:
        sm.create_secret(Name=env["APP_SECRET_NAME"], SecretString=value)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceExistsException":
            raise
        sm.put_secret_value(SecretId=env["APP_SECRET_NAME"], SecretString=value)


def create_bucket(env: dict) -> None:
    s3 = boto3.client("s3")
    _ensure(lambda: s3.create_bucket(Bucket=env["LAKE_BUCKET"]),
            "BucketAlreadyOwnedByYou", "BucketAlreadyExists")


def create_provisioning_table(env: dict) -> None:
    """The provisioner's table of shared Airbyte resource ids (workspace, S3 destination)."""
    ddb = boto3.client("dynamodb")
    _ensure(lambda: ddb.create_table(
        TableName=env["AIRBYTE_RESOURCES_TABLE"], BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}]), "ResourceInUseException")


def put_airbyte_secret(env: dict, client_id: str, client_secret: str) -> None:
    """Airbyte application credentials ({"client_id", "client_secret"}) for the provisioner."""
    sm = boto3.client("secretsmanager")
    value = json.dumps({"client_id": client_id, "client_secret": client_secret})
    try:
        sm.create_secret(Name=env["AIRBYTE_SECRET_NAME"], SecretString=value)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceExistsException":
            raise
        sm.put_secret_value(SecretId=env["AIRBYTE_SECRET_NAME"], SecretString=value)


def create_health_resources(env: dict) -> dict:
    """Token health and uninstalls (issue 6): the work queue and its DLQ, the uninstall audit
    and webhook receipt tables, and the alerts topic with a local inbox queue subscribed to it
    (so `ops` and tests can read the alerts an operator would get)."""
    from hubspot_app.config import reset_health_settings
    from hubspot_app.models import bind_health_tables

    ddb, sqs, sns = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("sns")
    _ensure(lambda: ddb.create_table(
        TableName=env["UNINSTALL_AUDIT_TABLE"], BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "hub_id", "AttributeType": "N"},
                              {"AttributeName": "at", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "hub_id", "KeyType": "HASH"},
                   {"AttributeName": "at", "KeyType": "RANGE"}]), "ResourceInUseException")
    _ensure(lambda: ddb.create_table(
        TableName=env["WEBHOOK_RECEIPTS_TABLE"], BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}]), "ResourceInUseException")
    ddb.update_time_to_live(TableName=env["WEBHOOK_RECEIPTS_TABLE"], TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires_at"})
    dlq_url = sqs.create_queue(QueueName=env["TOKEN_HEALTH_DLQ_NAME"], Attributes={
        "MessageRetentionPeriod": str(14 * 24 * 3600)})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName=env["TOKEN_HEALTH_QUEUE_NAME"], Attributes={
        "VisibilityTimeout": "1800",  # 6 x the worker's 300 s timeout
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount":
                                     env.get("TOKEN_HEALTH_MAX_RECEIVES", "5")}),
    })["QueueUrl"]
    topic_arn = sns.create_topic(Name=env["ALERTS_TOPIC_ARN"].rsplit(":", 1)[-1])["TopicArn"]
    inbox_url = sqs.create_queue(QueueName=env["ALERTS_INBOX_QUEUE_NAME"])["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn,
                  Attributes={"RawMessageDelivery": "true"})
    reset_health_settings()
    bind_health_tables(env["UNINSTALL_AUDIT_TABLE"], env["WEBHOOK_RECEIPTS_TABLE"], reconnect=True)
    return {"token_health": queue_url, "token_health_dlq": dlq_url, "alerts_topic": topic_arn,
            "alerts_inbox": inbox_url}


def create_lake_events(env: dict) -> dict:
    """The Glue trigger's queue (+ DLQ) and the lake's raw/ object-created notifications to it,
    as the deploy template declares them (tests/deploy/test_rehearsal.py compares the two)."""
    if not env.get("GLUE_TRIGGER_QUEUE_NAME"):
        return {}
    sqs, s3 = boto3.client("sqs"), boto3.client("s3")
    dlq_url = sqs.create_queue(QueueName=env["GLUE_TRIGGER_DLQ_NAME"], Attributes={
        "MessageRetentionPeriod": str(14 * 24 * 3600)})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName=env["GLUE_TRIGGER_QUEUE_NAME"], Attributes={
        "VisibilityTimeout": "360",  # 6 x the trigger's default 60 s timeout
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount":
                                     env.get("GLUE_TRIGGER_MAX_RECEIVES", "5")}),
    })["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    raw = (env.get("LAKE_RAW_PREFIX") or "raw").strip("/") + "/"
    s3.put_bucket_notification_configuration(Bucket=env["LAKE_BUCKET"], NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [
                                     {"Name": "prefix", "Value": raw}]}}}]})
    return {"glue_trigger": queue_url, "glue_trigger_dlq": dlq_url}


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
    return {"health": health, "queues": queues, "kms_key_id": key_id}
