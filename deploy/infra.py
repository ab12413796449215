"""The resources Chalice does not create, as CloudFormation, per stage.

`build(stage)` returns the merge template for `chalice package --merge-template`:
- resources named from the stage's environment variables in `.chalice/config.json` (so a name
  is written once, in the config, and the functions, this template and the local stack all read
  it from there): queues + dead-letter queues + depth alarms, DynamoDB tables (key schema and TTL
  read from the pynamodb models), the KMS key and alias, the lake bucket and its `raw/`
  notifications, the Glue job and its role, the alert topic, the secrets (names only);
- patches to what Chalice generates, found by importing app.py the way `chalice package` does:
  each function gets the name `chalice deploy` would give it, each SQS event source gets
  `FunctionResponseTypes: [ReportBatchItemFailures]` and the queue's ARN by reference (so the
  queue exists before its event source mapping), and environment variables that must hold an
  account-specific URL or ARN are filled from the resources here.

`companion(stage)` is the same minus the patches: a standalone stack for `chalice deploy` users.

To add a queue, table, secret or topic: set its name in every stage of `.chalice/config.json`
and add one line to QUEUES / TABLES (secrets and topics need no line; see SECRET_SUFFIX and
TOPIC_VARS). `python -m deploy templates` rewrites `.chalice/merge-template-<stage>.json`.
"""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import api_limits

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".chalice" / "config.json"
STAGES = ("local", "dev", "prod")


# --------------------------------------------------------------------------------------------
# The specification: one line per queue and per table.
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Queue:
    logical: str                      # CloudFormation logical id prefix, e.g. "Provision"
    name_var: str                     # env var with the queue's name (or URL)
    dlq_var: str | None = None        # env var with its dead-letter queue's name (or URL)
    max_receives_var: str | None = None
    max_receives: int = 5             # when max_receives_var is not set
    from_lake_raw: bool = False       # receives the lake bucket's raw/ object-created events
    url_vars: tuple[str, ...] = ()    # env vars holding this queue's URL (filled by Ref)
    dlq_url_vars: tuple[str, ...] = ()


QUEUES = (
    Queue("Provision", "PROVISION_QUEUE_NAME", "PROVISION_DLQ_NAME", "PROVISION_MAX_RECEIVES"),
    Queue("TokenHealth", "LIFECYCLE_QUEUE_NAME", "LIFECYCLE_DLQ_NAME",
          "LIFECYCLE_MAX_RECEIVES"),
    Queue("GlueTrigger", "GLUE_TRIGGER_QUEUE_NAME", "GLUE_TRIGGER_DLQ_NAME",
          "GLUE_TRIGGER_MAX_RECEIVES", from_lake_raw=True,
          url_vars=("GLUE_TRIGGER_QUEUE_URL",), dlq_url_vars=("GLUE_TRIGGER_DLQ_URL",)),
    Queue("AssociationLabels", "ASSOCIATION_LABELS_QUEUE_NAME", "ASSOCIATION_LABELS_DLQ_NAME",
          "ASSOCIATION_LABELS_MAX_RECEIVES"),
)


@dataclass(frozen=True)
class Table:
    logical: str
    name_var: str
    model: str                        # "module:Class" of the pynamodb model using the table
    backups: bool = True              # point-in-time recovery


TABLES = (
    Table("Accounts", "ACCOUNTS_TABLE", "hubspot_app.models:Account"),
    Table("OAuthStates", "STATES_TABLE", "hubspot_app.models:OAuthState", backups=False),
    Table("AirbyteResources", "AIRBYTE_RESOURCES_TABLE", "hubspot_app.models:SharedResource"),
    Table("UninstallAudit", "UNINSTALL_AUDIT_TABLE", "hubspot_app.models:UninstallAudit"),
    Table("WebhookReceipts", "WEBHOOK_RECEIPTS_TABLE", "hubspot_app.models:WebhookReceipt",
          backups=False),
    Table("JournalPosition", "JOURNAL_POSITION_TABLE", "hubspot_app.lifecycle.journal:JournalPosition"),
)

SECRET_SUFFIX = "_SECRET_NAME"        # every such variable names a Secrets Manager secret
TOPIC_VARS = ("ALERTS_TOPIC_ARN", "ALERTS_TOPIC_NAME")   # the operators' alert topic
KEY_VAR = "KMS_KEY_ID"                # "alias/<name>": the key is created with that alias
BUCKET_VAR = "LAKE_BUCKET"
# "true": the bucket is named <LAKE_BUCKET>-<account id>-<region> (bucket names are global, so a
# fixed name can be taken by anyone); the functions get the real name from the template.
BUCKET_SUFFIX_VAR = "LAKE_BUCKET_ACCOUNT_REGION_SUFFIX"
REGION_VAR = "LAKE_REGION"            # empty: the stack's region
GLUE_JOB_VAR = "GLUE_JOB_NAME"
GLUE_DATABASE_VAR = "GLUE_DATABASE"   # the Glue Data Catalog database of the curated Iceberg tables
OPS_DATABASE_SUFFIX = "_ops"          # <GLUE_DATABASE>_ops: the job's bookkeeping tables
# Hours Iceberg keeps snapshots (time travel) before the maintenance run expires them; the
# uninstall purge expires what is older at once, so a purged account is gone from every
# snapshot within this plus one maintenance interval (glue/README.md).
SNAPSHOT_RETENTION_VAR = "LAKE_SNAPSHOT_RETENTION_HOURS"
MAINTENANCE_SCHEDULE_VAR = "LAKE_MAINTENANCE_SCHEDULE"  # Glue trigger cron(...); empty: none
ATHENA_WORKGROUP_VAR = "ATHENA_WORKGROUP"
ATHENA_RESULTS_PREFIX = "athena-results/"
ICEBERG_CATALOG = "glue_catalog"      # the Spark catalog name the job's --conf sets up
AIRBYTE_ROLE_VAR = "AIRBYTE_S3_ROLE_ARN"
RAW_PREFIX_VAR = "LAKE_RAW_PREFIX"
GLUE_ASSETS_PREFIX = "glue-assets/"   # in the lake bucket: the job's script and library
GLUE_SCRIPT = "glue/curate_job.py"
GLUE_LIBRARY = "glue/hubcurate"       # zipped to hubcurate.zip for --extra-py-files
GLUE_DEFINITION = "glue/job.json"     # optional: Glue job properties from the glue/ owners
# The same runtime and bookmark choice as glue/job.json (which wins), so a job.json without
# them never falls back to a runtime the job cannot run on (glue/hubcurate/runtime.py).
GLUE_DEFAULTS = {
    "GlueVersion": "5.1",
    "WorkerType": "G.1X",
    "NumberOfWorkers": 2,
    "Timeout": 120,
    "MaxRetries": 0,
    "ExecutionProperty": {"MaxConcurrentRuns": 1},
    "JobRunQueuingEnabled": True,
    "DefaultArguments": {
        "--job-bookmark-option": "job-bookmark-disable",
        "--enable-metrics": "true",
        "--enable-continuous-cloudwatch-log": "true",
    },
}
TAGS = {"app": "hubspot-pipeline"}
LOG_RETENTION_VAR = "LOG_RETENTION_DAYS"   # days CloudWatch keeps each function's logs
LOG_RETENTION_DEFAULT = 30
# The values AWS::Logs::LogGroup RetentionInDays accepts (CloudWatch Logs PutRetentionPolicy).
LOG_RETENTION_ALLOWED = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                         1827, 2192, 2557, 2922, 3288, 3653)
# Stateful resources keep their data when the stack is deleted or a resource is replaced.
RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


# --------------------------------------------------------------------------------------------
# Stage config and the app as Chalice sees it
# --------------------------------------------------------------------------------------------
def load_config() -> dict:
    return json.loads(CONFIG.read_text())


def stage_env(stage: str, config: dict | None = None) -> dict[str, str]:
    """The environment variables Chalice gives the functions of `stage` (top level + stage)."""
    from hubspot_app.config import stage_environment

    return stage_environment(stage, config or load_config())


def name_of(value: str) -> str:
    """A resource name from a name, a queue URL or an ARN."""
    return re.split(r"[/:]", value.rstrip("/"))[-1]


_INTROSPECT = r"""
import json, os, sys
sys.path.insert(0, os.getcwd()); sys.path.append(os.path.join(os.getcwd(), 'vendor'))
import app as module
from chalice.app import SQSEventConfig, ScheduledEventConfig, CloudWatchEventConfig
app = module.app
out = {"app_name": app.app_name, "routes": sorted(app.routes), "functions": []}
if app.routes:
    out["functions"].append({"name": "api_handler", "kind": "api"})
for src in app.event_sources:
    item = {"name": src.name, "handler": src.handler_string}
    if isinstance(src, SQSEventConfig):
        item.update(kind="sqs", queue=src.queue, queue_arn=src.queue_arn, batch_size=src.batch_size,
                    window=src.maximum_batching_window_in_seconds)
    elif isinstance(src, ScheduledEventConfig):
        expr = src.schedule_expression
        item.update(kind="schedule", expression=expr if isinstance(expr, str) else expr.to_string())
    elif isinstance(src, CloudWatchEventConfig):
        item.update(kind="cloudwatch_event")
    else:
        item.update(kind=type(src).__name__)
    out["functions"].append(item)
for fn in app.pure_lambda_functions:
    out["functions"].append({"name": fn.name, "handler": fn.handler_string, "kind": "lambda"})
print("@@APP@@" + json.dumps(out))
"""


def introspect_app(stage: str) -> dict:
    """app.py's functions and event sources, imported with the stage's environment as
    `chalice package` imports it (in a fresh interpreter: app.py reads env at import)."""
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
           **stage_env(stage), "PYTHONDONTWRITEBYTECODE": "1"}
    res = subprocess.run([sys.executable, "-c", _INTROSPECT], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    marker = [line for line in res.stdout.splitlines() if line.startswith("@@APP@@")]
    if res.returncode != 0 or not marker:
        raise RuntimeError(f"importing app.py for stage {stage} failed:\n{res.stderr[-3000:]}")
    return json.loads(marker[-1][len("@@APP@@"):])


def function_config(stage: str, name: str, config: dict | None = None):
    """Chalice's own view of one function's settings (timeout, memory, policy file)."""
    from chalice.config import Config
    return Config(chalice_stage=stage, function_name=name,
                  config_from_disk=config or load_config())


def cfn_name(name: str) -> str:
    from chalice.utils import to_cfn_resource_name
    return to_cfn_resource_name(name)


def function_logical_id(name: str) -> str:
    return "APIHandler" if name == "api_handler" else cfn_name(name)


def deployed_function_name(app_name: str, stage: str, name: str) -> str:
    """The name `chalice deploy` gives a function; the packaged template uses it too."""
    return f"{app_name}-{stage}" if name == "api_handler" else f"{app_name}-{stage}-{name}"


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------
def _arn(service: str, resource: str, region: bool = True, account: bool = True) -> dict:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:{'${AWS::Region}' if region else ''}:"
                       f"{'${AWS::AccountId}' if account else ''}:{resource}"}


def _model(path: str):
    import importlib
    module, cls = path.split(":")
    sys.path.insert(0, str(ROOT)) if str(ROOT) not in sys.path else None
    return getattr(importlib.import_module(module), cls)


def table_resource(name: str, model_path: str, backups: bool) -> dict:
    from pynamodb.attributes import TTLAttribute
    model = _model(model_path)
    attrs = model.get_attributes()
    keys, defs, ttl = [], {}, None
    for _, attr in sorted(attrs.items()):
        real = attr.attr_name
        if attr.is_hash_key:
            keys.insert(0, {"AttributeName": real, "KeyType": "HASH"})
            defs[real] = attr.attr_type
        elif attr.is_range_key:
            keys.append({"AttributeName": real, "KeyType": "RANGE"})
            defs[real] = attr.attr_type
        if isinstance(attr, TTLAttribute):
            ttl = real
    gsis = []
    for index in getattr(model, "_indexes", {}).values():
        meta = index.Meta
        index_keys = []
        for attr in index._hash_key_attribute(), index._range_key_attribute():
            if attr is None:
                continue
            index_keys.append({"AttributeName": attr.attr_name,
                               "KeyType": "HASH" if attr.is_hash_key else "RANGE"})
            defs[attr.attr_name] = attr.attr_type
        projection = getattr(meta, "projection", None)
        gsis.append({"IndexName": meta.index_name, "KeySchema": index_keys,
                     "Projection": {"ProjectionType": getattr(projection, "projection_type",
                                                              "ALL")}})
    props = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": t}
                                 for k, t in sorted(defs.items())],
        "KeySchema": keys,
        "SSESpecification": {"SSEEnabled": True},
        "Tags": _tags(),
    }
    if gsis:
        props["GlobalSecondaryIndexes"] = gsis
    if ttl:
        props["TimeToLiveSpecification"] = {"AttributeName": ttl, "Enabled": True}
    if backups:
        props["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
    return {"Type": "AWS::DynamoDB::Table", **RETAIN, "Properties": props}


def _tags(extra: dict | None = None) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in sorted({**TAGS, **(extra or {})}.items())]


def _sub(text: str):
    """A string with ${AWS::...} references as Fn::Sub, a plain one as itself."""
    return {"Fn::Sub": text} if "${" in text else text


def _logical(var: str, suffix: str) -> str:
    """APP_SECRET_NAME -> AppSecret; ALERTS_TOPIC_ARN -> AlertsTopic."""
    stem = var[: -len(suffix)] if suffix and var.endswith(suffix) else var
    return "".join(part.capitalize() for part in stem.lower().split("_"))


# --------------------------------------------------------------------------------------------
# The template
# --------------------------------------------------------------------------------------------
class Template:
    def __init__(self, stage: str):
        self.stage = stage
        self.config = load_config()
        self.env = stage_env(stage, self.config)
        self.app_name = self.config["app_name"]
        self.resources: dict[str, dict] = {}
        self.outputs: dict[str, dict] = {}
        self.missing: list[str] = []          # spec lines whose setting this stage lacks
        self.env_refs: dict[str, object] = {}  # env var -> value computed by CloudFormation
        self.parameters: dict[str, dict] = {}
        self.lake_queues: list[str] = []

    def bucket(self) -> str:
        """The lake bucket's name as CloudFormation will make it (may hold ${AWS::...})."""
        base = self.env.get(BUCKET_VAR, "")
        if base and self.env.get(BUCKET_SUFFIX_VAR, "false").lower() == "true":
            return f"{base}-${{AWS::AccountId}}-${{AWS::Region}}"
        return base

    def prefix(self) -> str:
        return f"{self.app_name}-{self.stage}"

    def add(self, logical: str, resource: dict, output: str | None = None,
            output_value: object = None) -> None:
        assert logical not in self.resources, f"duplicate logical id {logical}"
        self.resources[logical] = resource
        if output:
            self.outputs[logical] = {"Description": output,
                                     "Value": output_value or {"Ref": logical}}

    def setting(self, var: str | None) -> str | None:
        if var is None:
            return None
        value = self.env.get(var)
        if not value:
            self.missing.append(var)
            return None
        return value

    # -- alerts --------------------------------------------------------------------------
    def topic_name(self) -> str:
        return next(name_of(self.env[v]) for v in TOPIC_VARS if self.env.get(v))

    def topic(self) -> str | None:
        for var in TOPIC_VARS:
            if self.env.get(var):
                self.add("AlertsTopic", {"Type": "AWS::SNS::Topic", "Properties": {
                    "TopicName": name_of(self.env[var]),
                    "DisplayName": f"{self.prefix()} alerts",
                    "Tags": _tags()}}, "Operators' alerts: subscribe with aws sns subscribe")
                if var.endswith("_ARN"):
                    self.env_refs[var] = {"Ref": "AlertsTopic"}
                return "AlertsTopic"
        self.missing.append(" or ".join(TOPIC_VARS))
        return None

    # -- queues --------------------------------------------------------------------------
    def queues(self, consumers: dict[str, dict], alert_topic: str | None) -> None:
        for q in QUEUES:
            raw_name = self.setting(q.name_var)
            if raw_name is None:
                continue
            name = name_of(raw_name)
            consumer = consumers.get(name)
            timeout = consumer["timeout"] if consumer else 60
            props = {
                "QueueName": name,
                # AWS: at least 6x the consuming function's timeout, so a batch still being
                # processed (with retries inside the function) is not delivered twice.
                "VisibilityTimeout": max(6 * timeout, 30),
                "MessageRetentionPeriod": 4 * 24 * 3600,
                "SqsManagedSseEnabled": True,
                "Tags": _tags(),
            }
            dlq_name = name_of(self.setting(q.dlq_var) or "") if q.dlq_var else ""
            if dlq_name:
                dlq = f"{q.logical}DeadLetterQueue"
                self.add(dlq, {"Type": "AWS::SQS::Queue", "Properties": {
                    "QueueName": dlq_name, "MessageRetentionPeriod": 14 * 24 * 3600,
                    "SqsManagedSseEnabled": True, "Tags": _tags()}},
                    f"{q.logical} dead-letter queue URL (see README, operators)")
                max_receives = int(self.env.get(q.max_receives_var or "", "") or q.max_receives)
                props["RedrivePolicy"] = {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                                          "maxReceiveCount": max_receives}
                # Only its own source queue may dead-letter into it.
                self.resources[dlq]["Properties"]["RedriveAllowPolicy"] = {
                    "redrivePermission": "byQueue",
                    "sourceQueueArns": [_arn("sqs", name)]}
                self.add(f"{dlq}DepthAlarm", self._depth_alarm(dlq_name, alert_topic))
                for var in q.dlq_url_vars:
                    if var in self.env:
                        self.env_refs[var] = {"Ref": dlq}
            queue = f"{q.logical}Queue"
            self.add(queue, {"Type": "AWS::SQS::Queue", "Properties": props},
                     f"{q.logical} queue URL")
            for var in q.url_vars:
                if var in self.env:
                    self.env_refs[var] = {"Ref": queue}
            self.add(f"{queue}AgeAlarm", self._age_alarm(name, alert_topic))
            if q.from_lake_raw:
                self.lake_queues.append(queue)

    def _alarm_actions(self, topic: str | None) -> dict:
        return {"AlarmActions": [{"Ref": topic}], "OKActions": [{"Ref": topic}]} if topic else {}

    def _depth_alarm(self, dlq_name: str, topic: str | None) -> dict:
        return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": f"{dlq_name}-depth",
            "AlarmDescription": (f"Messages in {dlq_name}: they failed every retry. Inspect "
                                 f"and redrive them: python -m hubspot_app.ops dlq list "
                                 f"(README, operators)."),
            "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": dlq_name}],
            "Statistic": "Maximum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
            **self._alarm_actions(topic)}}

    def _age_alarm(self, queue_name: str, topic: str | None) -> dict:
        return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": f"{queue_name}-oldest-message-age",
            "AlarmDescription": f"{queue_name} is not being drained (oldest message > 1 hour).",
            "Namespace": "AWS/SQS", "MetricName": "ApproximateAgeOfOldestMessage",
            "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
            "Statistic": "Maximum", "Period": 300, "EvaluationPeriods": 3, "Threshold": 3600,
            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
            **self._alarm_actions(topic)}}

    # -- tables, key, secrets -------------------------------------------------------------
    def tables(self) -> None:
        for t in TABLES:
            name = self.setting(t.name_var)
            if name:
                self.add(f"{t.logical}Table", table_resource(name, t.model, t.backups),
                         f"DynamoDB table {name}")

    def key(self) -> None:
        alias = self.setting(KEY_VAR)
        if not alias:
            return
        if not alias.startswith("alias/"):
            raise ValueError(f"{KEY_VAR} must be an alias (alias/...), got {alias!r}")
        self.add("RefreshTokenKey", {"Type": "AWS::KMS::Key", **RETAIN, "Properties": {
            "Description": f"{self.prefix()}: encryption of HubSpot refresh tokens (KMS Encrypt, hub_id context)",
            "EnableKeyRotation": True,
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [{
                # The account's IAM policies decide who uses the key (each function's policy
                # grants only the operations it needs); without this statement nobody could
                # manage the key. Resource "*" in a key policy means this key.
                "Sid": "DelegateToIAMPolicies", "Effect": "Allow",
                "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                "Action": "kms:*", "Resource": "*"}]},
            "Tags": _tags()}})
        self.add("RefreshTokenKeyAlias", {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": alias, "TargetKeyId": {"Ref": "RefreshTokenKey"}}},
            f"KMS key alias {alias}", {"Fn::GetAtt": ["RefreshTokenKey", "Arn"]})

    def secrets(self) -> None:
        for var in sorted(v for v in self.env if v.endswith(SECRET_SUFFIX)):
            name = self.env[var]
            if not name:
                continue
            self.add(_logical(var, "_NAME"), {"Type": "AWS::SecretsManager::Secret", **RETAIN,
                "Properties": {
                    "Name": name,
                    # No SecretString: the stack creates the secret empty, an operator sets its
                    # value once (README, "Deploying"); the template never holds a secret.
                    "Description": f"{self.prefix()}: set with aws secretsmanager "
                                   f"put-secret-value (README, Deploying). Setting: {var}",
                    "Tags": _tags()}})

    # -- the lake, its notifications, the Glue job ------------------------------------------
    def lake(self) -> None:
        if not self.setting(BUCKET_VAR):
            return
        bucket = self.bucket()
        if "${" in bucket:
            self.env_refs[BUCKET_VAR] = {"Ref": "LakeBucket"}
        if not self.env.get(REGION_VAR):
            self.env_refs[REGION_VAR] = {"Ref": "AWS::Region"}
        raw = (self.env.get(RAW_PREFIX_VAR) or "raw").strip("/") + "/"
        props = {
            "BucketName": _sub(bucket),
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True, "BlockPublicPolicy": True,
                "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {"Rules": [{
                "Id": "expire-replaced-versions", "Status": "Enabled",
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]},
            "Tags": _tags(),
        }
        depends = []
        if self.lake_queues:
            props["NotificationConfiguration"] = {"QueueConfigurations": [{
                "Event": "s3:ObjectCreated:*",
                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": raw}]}},
                "Queue": {"Fn::GetAtt": [q, "Arn"]}} for q in self.lake_queues]}
            for q in self.lake_queues:
                policy = f"{q}Policy"
                depends.append(policy)
                # S3 checks it may send to the queue when the notification is set: policy first.
                self.add(policy, {"Type": "AWS::SQS::QueuePolicy", "Properties": {
                    "Queues": [{"Ref": q}],
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                        "Sid": "LakeObjectCreatedEvents", "Effect": "Allow",
                        "Principal": {"Service": "s3.amazonaws.com"},
                        "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": [q, "Arn"]},
                        "Condition": {
                            "ArnEquals": {"aws:SourceArn": {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{bucket}"}},
                            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]}}})
        resource = {"Type": "AWS::S3::Bucket", **RETAIN, "Properties": props}
        if depends:
            resource["DependsOn"] = depends
        self.add("LakeBucket", resource, f"Lake bucket ({raw} from Airbyte, curated/ from Glue)")
        self.add("LakeBucketPolicy", {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "LakeBucket"},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "TLSOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [{"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{bucket}"},
                             {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{bucket}/*"}],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}})

    def glue_assets(self) -> dict[str, str]:
        base = f"s3://{self.bucket()}/{GLUE_ASSETS_PREFIX}"
        return {"script": base + Path(GLUE_SCRIPT).name,
                "library": base + Path(GLUE_LIBRARY).name + ".zip"}

    def glue(self, topic: str | None = None) -> None:
        job = self.setting(GLUE_JOB_VAR)
        bucket = self.bucket()
        if not job or not bucket:
            return
        definition = copy.deepcopy(GLUE_DEFAULTS)
        extra = ROOT / GLUE_DEFINITION
        if extra.exists():
            for k, v in json.loads(extra.read_text()).items():
                if isinstance(v, dict) and isinstance(definition.get(k), dict):
                    definition[k].update(v)
                else:
                    definition[k] = v
        assets = self.glue_assets()
        database = self.env.get(GLUE_DATABASE_VAR)
        if database:
            # Glue's native Iceberg support with the Glue Data Catalog as the Iceberg catalog
            # (AWS Glue Developer Guide, "Using the Iceberg framework in AWS Glue").
            c = f"spark.sql.catalog.{ICEBERG_CATALOG}"
            definition["DefaultArguments"].setdefault("--datalake-formats", "iceberg")
            definition["DefaultArguments"].setdefault("--conf", _sub(" --conf ".join([
                "spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
                f"{c}=org.apache.iceberg.spark.SparkCatalog",
                f"{c}.warehouse=s3://{bucket}/curated/",
                f"{c}.catalog-impl=org.apache.iceberg.aws.glue.GlueCatalog",
                f"{c}.io-impl=org.apache.iceberg.aws.s3.S3FileIO"])))
            definition["DefaultArguments"]["--glue_database"] = database
        retention = self.env.get(SNAPSHOT_RETENTION_VAR)
        if retention:
            if not retention.replace(".", "", 1).isdigit():
                raise ValueError(f"{SNAPSHOT_RETENTION_VAR}={retention!r}: a number of hours")
            definition["DefaultArguments"]["--purge_retention_hours"] = retention
            definition["DefaultArguments"]["--snapshot_retention_hours"] = retention
        definition["DefaultArguments"].update({
            "--lake_root": _sub(f"s3://{bucket}/"),
            "--extra-py-files": _sub(assets["library"]),
            "--TempDir": _sub(f"s3://{bucket}/{GLUE_ASSETS_PREFIX}tmp/"),
        })
        if topic:  # quarantined raw files are alerted here (glue/hubcurate/quarantine.py)
            definition["DefaultArguments"]["--alerts_topic_arn"] = {"Ref": topic}
        self.add("GlueJob", {"Type": "AWS::Glue::Job", "Properties": {
            "Name": job,
            "Description": f"{self.prefix()}: raw/ (Airbyte Parquet) -> curated/ tables",
            "Role": {"Fn::GetAtt": ["GlueJobRole", "Arn"]},
            "Command": {"Name": "glueetl", "PythonVersion": "3",
                        "ScriptLocation": _sub(assets["script"])},
            **definition,
            "Tags": dict(TAGS)}}, f"Glue job {job}")
        lake = f"arn:${{AWS::Partition}}:s3:::{bucket}"
        raw = (self.env.get(RAW_PREFIX_VAR) or "raw").strip("/")
        self.add("GlueJobRole", {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": f"{self.prefix()}-glue",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"},
                "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "curate", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [
                    {"Sid": "ReadRawAndAssets", "Effect": "Allow", "Action": ["s3:GetObject"],
                     "Resource": [{"Fn::Sub": f"{lake}/{raw}/*"},
                                  {"Fn::Sub": f"{lake}/{GLUE_ASSETS_PREFIX}*"}]},
                    {"Sid": "WriteCurated", "Effect": "Allow",
                     "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                     "Resource": [{"Fn::Sub": f"{lake}/curated/*"},
                                  {"Fn::Sub": f"{lake}/{GLUE_ASSETS_PREFIX}tmp/*"}]},
                    # Unconditioned on purpose: S3 answers a GET of a missing key with 404 only
                    # to a caller allowed s3:ListBucket on the bucket, and with 403 otherwise
                    # (S3 API Reference, GetObject, "Permissions"). That check carries no
                    # s3:prefix, so a prefix-conditioned grant turns every "not there yet"
                    # (a first run's quarantine record, Iceberg metadata) into AccessDenied.
                    {"Sid": "ListLakeSoMissingKeysAre404", "Effect": "Allow",
                     "Action": ["s3:ListBucket"], "Resource": {"Fn::Sub": lake}},
                    {"Sid": "JobLogs", "Effect": "Allow",
                     "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                     "Resource": _arn("logs", "log-group:/aws-glue/jobs/*")},
                    {"Sid": "JobMetricsHaveNoResourceLevelPermissions", "Effect": "Allow",
                     "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
                     "Condition": {"StringEquals": {"cloudwatch:namespace": "Glue"}}},
                    *self._catalog_statements(database),
                    *([{"Sid": "QuarantineAlerts", "Effect": "Allow", "Action": ["sns:Publish"],
                        "Resource": _arn("sns", self.topic_name())}] if topic else []),
                    {"Sid": "Bookmarks", "Effect": "Allow",
                     "Action": ["glue:GetJob", "glue:GetJobRun", "glue:GetJobBookmark"],
                     "Resource": _arn("glue", f"job/{job}")},
                ]}}],
            "Tags": _tags()}})

    def glue_maintenance(self) -> None:
        """The curate job's table maintenance on a schedule: a SCHEDULED Glue trigger starting
        the same job with ``--mode maintenance`` (AWS Glue API, CreateTrigger: Type SCHEDULED,
        Schedule cron(...), Actions[].Arguments override the job's defaults). Glue's own
        scheduler rather than a Chalice schedule: no function, role or code between the clock
        and the job, and the run is queued behind curate runs by the job's MaxConcurrentRuns=1
        (JobRunQueuingEnabled), so maintenance never races a curate commit. A failed run alerts
        like any other (glue_failure_alert: same job name)."""
        job, schedule = self.setting(GLUE_JOB_VAR), self.env.get(MAINTENANCE_SCHEDULE_VAR)
        if not job or not self.bucket() or not schedule:
            return
        if not re.fullmatch(r"cron\([^()]+\)", schedule):
            raise ValueError(f"{MAINTENANCE_SCHEDULE_VAR}={schedule!r}: Glue schedules are "
                             "cron(Minutes Hours Day-of-month Month Day-of-week Year)")
        self.add("GlueMaintenanceTrigger", {"Type": "AWS::Glue::Trigger", "Properties": {
            "Name": f"{self.prefix()}-curate-maintenance",
            "Description": f"{job}: Iceberg table maintenance (compaction, snapshot expiry, "
                           "orphan files)",
            "Type": "SCHEDULED", "Schedule": schedule, "StartOnCreation": True,
            "Actions": [{"JobName": {"Ref": "GlueJob"},
                         "Arguments": {"--mode": "maintenance"}}],
            "Tags": dict(TAGS)}})

    def glue_failure_alert(self, topic: str | None) -> None:
        """A failed or timed-out curate run reaches the operators' alert topic.

        Glue emits "Glue Job State Change" events to EventBridge for SUCCEEDED, FAILED, TIMEOUT
        and STOPPED runs, with detail.jobName/jobRunId/state/message (AWS Glue Developer Guide,
        "Automating AWS Glue with EventBridge",
        https://docs.aws.amazon.com/glue/latest/dg/automating-awsglue-with-cloudwatch-events.html).
        STOPPED is left out: it is an operator's own action. A stuck trigger is caught by the
        glue-trigger queue's age alarm (see queues()).
        """
        job = self.setting(GLUE_JOB_VAR)
        if not job or not topic:
            return
        self.add("GlueRunFailedRule", {"Type": "AWS::Events::Rule", "Properties": {
            "Name": f"{self.prefix()}-glue-run-failed",
            "Description": f"{job}: a curate run FAILED or TIMED OUT -> the alert topic",
            "State": "ENABLED",
            "EventPattern": glue_failure_pattern(job),
            "Targets": [{"Id": "alerts", "Arn": {"Ref": topic},
                         "InputTransformer": GLUE_FAILURE_MESSAGE}]}})
        # SNS topics refuse EventBridge unless the topic policy allows it; only this rule may.
        self.add("AlertsTopicPolicy", {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [{"Ref": topic}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "GlueRunFailedRuleMayPublish", "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish",
                "Resource": {"Ref": topic},
                "Condition": {"ArnEquals": {
                    "aws:SourceArn": {"Fn::GetAtt": ["GlueRunFailedRule", "Arn"]}}}}]}}})

    def _catalog_statements(self, database: str | None) -> list[dict]:
        """The Iceberg tables' catalog operations, on this stage's database only (Glue
        authorises catalog calls on the catalog, the database and each table ARN)."""
        if not database:
            return []
        dbs = (database, database + OPS_DATABASE_SUFFIX)  # the curated tables, the bookkeeping
        return [{"Sid": "IcebergTablesInTheStageDatabase", "Effect": "Allow",
                 "Action": ["glue:GetDatabase", "glue:GetTable", "glue:GetTables",
                            "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable"],
                 "Resource": [_arn("glue", "catalog"),
                              *(_arn("glue", f"database/{db}") for db in dbs),
                              *(_arn("glue", f"table/{db}/*") for db in dbs)]}]

    def catalog(self) -> None:
        """The stage's Glue database and the Athena workgroup analysts query it with."""
        database = self.env.get(GLUE_DATABASE_VAR)
        if database:
            self.add("GlueDatabase", {"Type": "AWS::Glue::Database", "Properties": {
                "CatalogId": {"Ref": "AWS::AccountId"},
                "DatabaseInput": {"Name": database, "Description":
                                  f"{self.prefix()}: curated HubSpot tables (Apache Iceberg)"}}},
                f"Glue database {database}")
            ops = database + OPS_DATABASE_SUFFIX
            self.add("GlueOpsDatabase", {"Type": "AWS::Glue::Database", "Properties": {
                "CatalogId": {"Ref": "AWS::AccountId"},
                "DatabaseInput": {"Name": ops, "Description":
                                  f"{self.prefix()}: the curate job's processed raw files and "
                                  "run reports (Apache Iceberg)"}}},
                f"Glue database {ops}")
        group = self.env.get(ATHENA_WORKGROUP_VAR)
        if group and self.bucket():
            self.add("AthenaWorkGroup", {"Type": "AWS::Athena::WorkGroup", "Properties": {
                "Name": group,
                "Description": f"{self.prefix()}: SQL over the curated Iceberg tables",
                "RecursiveDeleteOption": False,
                "WorkGroupConfiguration": {
                    "EnforceWorkGroupConfiguration": True,
                    "PublishCloudWatchMetricsEnabled": True,
                    "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
                    "ResultConfiguration": {
                        "OutputLocation": _sub(f"s3://{self.bucket()}/{ATHENA_RESULTS_PREFIX}"),
                        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"}}},
                "Tags": _tags()}}, f"Athena workgroup {group}")

    def analyst_queries(self) -> None:
        """The analysts' SQL (glue/sql, deploy/analyst_sql.py) as Athena named queries in the
        stage's workgroup and database: each model's CREATE OR REPLACE VIEW (Athena views over
        Iceberg tables: "Query Iceberg table data", Create and query views with Iceberg tables,
        https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-table-data.html), run by
        `python -m deploy athena-views` once the curate job made the tables, and each example
        question's SELECT. A named query only stores the text (AWS::Athena::NamedQuery)."""
        from . import analyst_sql
        database = self.env.get(GLUE_DATABASE_VAR)
        if not database or "AthenaWorkGroup" not in self.resources:
            return
        common = {"Database": database, "WorkGroup": {"Ref": "AthenaWorkGroup"}}
        for m in analyst_sql.models():
            self.add("AthenaView" + _logical(m.name, ""), {
                "Type": "AWS::Athena::NamedQuery", "Properties": {
                    "Name": f"model {m.name}",
                    "Description": f"{m.about} Grain: {m.grain}."[:1024],
                    "QueryString": m.create_view(), **common}})
        for k, e in enumerate(analyst_sql.examples(), 1):
            self.add(f"AthenaExample{k}", {
                "Type": "AWS::Athena::NamedQuery", "Properties": {
                    "Name": f"example {e.name}", "Description": e.question[:1024],
                    "QueryString": e.sql, **common}})

    def airbyte_writer(self) -> None:
        """The role Airbyte's S3 destination assumes to write raw/ (AIRBYTE_S3_ROLE_ARN)."""
        arn, bucket = self.env.get(AIRBYTE_ROLE_VAR), self.bucket()
        if not arn or not bucket:
            return
        self.parameters.update({
            "AirbyteTrustedPrincipal": {
                "Type": "String", "AllowedPattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:.+$",
                "Description": "The AWS principal Airbyte writes to S3 with (Airbyte's S3 "
                               "destination docs name it for Airbyte Cloud; for self-managed "
                               "Airbyte, the role or user its workers run as)."},
            "AirbyteExternalId": {
                "Type": "String", "MinLength": 2,
                "Description": "External id Airbyte presents when assuming the role (Airbyte "
                               "Cloud: your workspace id)."}})
        lake = f"arn:${{AWS::Partition}}:s3:::{bucket}"
        raw = (self.env.get(RAW_PREFIX_VAR) or "raw").strip("/")
        self.add("AirbyteWriterRole", {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": name_of(arn),
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": {"Ref": "AirbyteTrustedPrincipal"}},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": {"Ref": "AirbyteExternalId"}}}}]},
            "Policies": [{"PolicyName": "write-raw", "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [
                    {"Sid": "WriteRaw", "Effect": "Allow",
                     "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject",
                                "s3:PutObjectTagging", "s3:AbortMultipartUpload",
                                "s3:ListMultipartUploadParts"],
                     "Resource": {"Fn::Sub": f"{lake}/{raw}/*"}},
                    {"Sid": "ListRaw", "Effect": "Allow",
                     "Action": ["s3:ListBucket", "s3:GetBucketLocation",
                                "s3:ListBucketMultipartUploads"],
                     "Resource": {"Fn::Sub": lake}},
                ]}}],
            "Tags": _tags()}}, "Role for Airbyte's S3 destination",
            {"Fn::GetAtt": ["AirbyteWriterRole", "Arn"]})
        self.env_refs[AIRBYTE_ROLE_VAR] = {"Fn::GetAtt": ["AirbyteWriterRole", "Arn"]}

    # -- log groups ------------------------------------------------------------------------
    def log_groups(self, app: dict) -> None:
        """One log group per function, created here with a retention (Lambda would otherwise
        create it on first write, kept forever, and every role would need logs:CreateLogGroup).
        Each function's policy may write only to its own group."""
        raw = self.env.get(LOG_RETENTION_VAR) or str(LOG_RETENTION_DEFAULT)
        if not raw.isdigit() or int(raw) not in LOG_RETENTION_ALLOWED:
            raise ValueError(f"{LOG_RETENTION_VAR}={raw!r}: CloudWatch Logs accepts only "
                             f"{', '.join(map(str, LOG_RETENTION_ALLOWED))}")
        for fn in app["functions"]:
            name = deployed_function_name(self.app_name, self.stage, fn["name"])
            self.add(f"{function_logical_id(fn['name'])}LogGroup", {
                "Type": "AWS::Logs::LogGroup", "Properties": {
                    "LogGroupName": f"/aws/lambda/{name}", "RetentionInDays": int(raw),
                    "Tags": _tags()}})

    # -- patches to Chalice's resources ------------------------------------------------------
    def patches(self, app: dict) -> dict[str, dict]:
        out: dict[str, dict] = {}
        queues_by_name = {r["Properties"]["QueueName"]: logical for logical, r in
                          self.resources.items() if r["Type"] == "AWS::SQS::Queue"}
        for fn in app["functions"]:
            logical = function_logical_id(fn["name"])
            props: dict = {"FunctionName": deployed_function_name(self.app_name, self.stage,
                                                                  fn["name"])}
            if fn["kind"] == "sqs":
                queue_name = name_of(fn["queue"] or fn["queue_arn"])
                queue = queues_by_name.get(queue_name)
                if queue is None:
                    raise ValueError(
                        f"{fn['name']} reads SQS queue {queue_name!r}, which no QUEUES line in "
                        f"deploy/infra.py creates for stage {self.stage}")
                props["Events"] = {f"{cfn_name(fn['name'])}SqsEventSource": {"Properties": {
                    "Queue": {"Fn::Sub": f"${{{queue}.Arn}}"},
                    "FunctionResponseTypes": ["ReportBatchItemFailures"]}}}
            refs = {var: ref for var, ref in self.env_refs.items()}
            if refs:
                props["Environment"] = {"Variables": refs}
            # Its log group first: the role may not create it, so a function invoked before the
            # group exists (a schedule firing during the create) would lose its logs.
            out[logical] = {"Properties": props, "DependsOn": [f"{logical}LogGroup"]}
        if app["routes"]:
            stage_name = self.config["stages"][self.stage].get("api_gateway_stage", "api")
            out.update(api_limits.patches(self.env, self.prefix(), stage_name))
        return out


def glue_failure_pattern(job: str) -> dict:
    """EventBridge pattern: this job's runs that ended FAILED or TIMEOUT."""
    return {"source": ["aws.glue"], "detail-type": ["Glue Job State Change"],
            "detail": {"jobName": [job], "state": ["FAILED", "TIMEOUT"]}}


# The alert text operators receive (an SNS message built from the event's fields).
GLUE_FAILURE_MESSAGE = {
    "InputPathsMap": {"job": "$.detail.jobName", "run": "$.detail.jobRunId",
                      "state": "$.detail.state", "message": "$.detail.message"},
    "InputTemplate": ('"Glue job <job> run <run> ended <state>: <message>. Its raw files are '
                      'retried by the next run; see README, Operating it (Glue runs)."'),
}


def _consumers(stage: str, app: dict, config: dict) -> dict[str, dict]:
    out = {}
    for fn in app["functions"]:
        if fn["kind"] == "sqs":
            timeout = function_config(stage, fn["name"], config).lambda_timeout or 60
            out[name_of(fn["queue"] or fn["queue_arn"])] = {"function": fn["name"],
                                                           "timeout": int(timeout)}
    return out


def _assemble(stage: str, app: dict | None, with_patches: bool) -> tuple[dict, Template]:
    t = Template(stage)
    app = app if app is not None else introspect_app(stage)
    topic = t.topic()
    t.queues(_consumers(stage, app, t.config), topic)
    t.tables()
    t.key()
    t.secrets()
    t.lake()
    t.glue(topic)
    t.glue_maintenance()
    t.glue_failure_alert(topic)
    t.airbyte_writer()
    t.catalog()
    t.analyst_queries()
    t.log_groups(app)
    resources = dict(t.resources)
    if with_patches:
        for logical, patch in t.patches(app).items():
            resources[logical] = patch
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (f"{t.prefix()}: resources besides the functions and routes "
                        f"(generated by `python -m deploy templates` from .chalice/config.json)"),
        "Metadata": {"GeneratedBy": "deploy/infra.py", "Stage": stage,
                     "SettingsNotConfigured": sorted(set(t.missing))},
        **({"Parameters": t.parameters} if t.parameters else {}),
        "Resources": resources,
        "Outputs": t.outputs,
    }
    if with_patches:
        # chalice package adds its own Transform and Outputs; ours merge into them.
        del template["AWSTemplateFormatVersion"]
    return template, t


def build(stage: str, app: dict | None = None) -> dict:
    """The merge template for `chalice package --stage <stage> --merge-template`."""
    return _assemble(stage, app, with_patches=True)[0]


def companion(stage: str, app: dict | None = None) -> dict:
    """The standalone stack for `chalice deploy` users (no patches to Chalice's resources)."""
    return _assemble(stage, app, with_patches=False)[0]


def merge_template_path(stage: str) -> Path:
    return ROOT / ".chalice" / f"merge-template-{stage}.json"


def render(template: dict) -> str:
    return json.dumps(template, indent=2, sort_keys=False) + "\n"
