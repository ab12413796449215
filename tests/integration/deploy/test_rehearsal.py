"""Deploy rehearsal: what the local stack creates on moto is what the `local` stage's template
declares: the same names, and the same settings where behaviour depends on them (keys, TTL,
redrive and receive counts, visibility timeouts, the lake's raw/ notifications). So what is
tested locally is what ships; the dev and prod templates come from the same generator with the
other stages' names (test_templates.py)."""
from __future__ import annotations

import json

import pytest

from deploy import infra
from tests.harness import moto_server

# Stand-ins that exist only on one machine, with why:
LOCAL_ONLY_SETTINGS = {
    # An SQS inbox subscribed to the alert topic, where a deployed stage has operators' e-mail
    # or chat subscriptions (README, Deploying): lets tests and `ops` read the alerts.
    "ALERTS_INBOX_QUEUE_NAME",
}
# Template resources the local stack does not create, with why:
NOT_ON_MOTO = {
    "AWS::CloudWatch::Alarm": "no CloudWatch metrics locally; tests read queue depth directly",
    "AWS::IAM::Role": "moto does not enforce IAM; the policies are checked in test_templates",
    "AWS::S3::BucketPolicy": "TLS-only deny; the local stack is plain HTTP",
    "AWS::SQS::QueuePolicy": "moto does not check who may send to a queue",
    "AWS::KMS::Key": "compared through its alias",
    "AWS::Glue::Database": "the local catalog is the glue helpers' (glue/README.md)",
    "AWS::Athena::WorkGroup": "no Athena locally; ./dev query answers the same SQL",
    "AWS::Athena::NamedQuery": "no Athena locally; ./dev query runs the same SQL (glue/sql)",
    "AWS::Logs::LogGroup": "locally the functions log to the process; names and retention are "
                           "checked in test_templates",
    "AWS::Events::Rule": "moto's EventBridge cannot deliver to SNS targets; the Glue-failure "
                         "rule's pattern is tested against AWS's sample event in test_templates",
    "AWS::SNS::TopicPolicy": "moto does not check who may publish to a topic",
    "AWS::Glue::Job": "runs on local PySpark (local_stack/glue_runner.py), named from GLUE_JOB_NAME",
    "AWS::Glue::Trigger": "the maintenance schedule; locally `curate_job --mode maintenance` runs "
                          "on demand (tests/integration/glue/test_maintenance.py)",
}


@pytest.fixture(scope="module")
def moto_stage(tmp_path_factory):
    """A moto server with the local stack's resources, created by local_stack.resources."""
    from local_stack import resources

    env = infra.stage_env("local")
    with moto_server({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                          "AWS_DEFAULT_REGION")}) as url:
        env["AWS_ENDPOINT_URL"] = url
        resources.create_all(env, "rehearsal-client-id", "rehearsal-client-secret")
        # LocalStack.start() adds the Airbyte secret when it starts the Airbyte emulator.
        resources.put_airbyte_secret(env, "rehearsal-airbyte-id", "rehearsal-airbyte-secret")
        yield env


def _created(env) -> dict[str, dict]:
    """What is on moto, by CloudFormation type -> {name: properties that matter}."""
    import boto3
    ddb, sqs, s3 = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("s3")
    kms, sm, sns = boto3.client("kms"), boto3.client("secretsmanager"), boto3.client("sns")
    out: dict[str, dict] = {t: {} for t in ("AWS::DynamoDB::Table", "AWS::SQS::Queue",
                                            "AWS::S3::Bucket", "AWS::KMS::Alias",
                                            "AWS::SecretsManager::Secret", "AWS::SNS::Topic")}
    for name in ddb.list_tables()["TableNames"]:
        desc = ddb.describe_table(TableName=name)["Table"]
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        out["AWS::DynamoDB::Table"][name] = {
            "KeySchema": desc["KeySchema"],
            "TTL": ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None}
    for url in sqs.list_queues().get("QueueUrls", []):
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attrs["RedrivePolicy"]) if "RedrivePolicy" in attrs else None
        out["AWS::SQS::Queue"][url.rsplit("/", 1)[-1]] = {
            "VisibilityTimeout": int(attrs["VisibilityTimeout"]),
            "Redrive": redrive and (infra.name_of(redrive["deadLetterTargetArn"]),
                                    int(redrive["maxReceiveCount"]))}
    for b in s3.list_buckets()["Buckets"]:
        conf = s3.get_bucket_notification_configuration(Bucket=b["Name"])
        out["AWS::S3::Bucket"][b["Name"]] = {"QueueNotifications": sorted(
            (infra.name_of(q["QueueArn"]),
             tuple(r["Value"] for r in q.get("Filter", {}).get("Key", {}).get("FilterRules", [])))
            for q in conf.get("QueueConfigurations", []))}
    for a in kms.list_aliases()["Aliases"]:
        if not a["AliasName"].startswith("alias/aws/"):
            out["AWS::KMS::Alias"][a["AliasName"]] = {}
    for s in sm.list_secrets()["SecretList"]:
        out["AWS::SecretsManager::Secret"][s["Name"]] = {}
    for t in sns.list_topics()["Topics"]:
        out["AWS::SNS::Topic"][infra.name_of(t["TopicArn"])] = {}
    local_only = {infra.name_of(env[v]) for v in LOCAL_ONLY_SETTINGS if env.get(v)}
    for kind in out.values():
        for name in local_only & set(kind):
            del kind[name]
    return out


def _declared(template: dict) -> dict[str, dict]:
    res = template["Resources"]
    out: dict[str, dict] = {}
    name_prop = {"AWS::DynamoDB::Table": "TableName", "AWS::SQS::Queue": "QueueName",
                 "AWS::S3::Bucket": "BucketName", "AWS::KMS::Alias": "AliasName",
                 "AWS::SecretsManager::Secret": "Name", "AWS::SNS::Topic": "TopicName"}
    for logical, r in res.items():
        t = r.get("Type")
        if t not in name_prop:
            assert t is None or t in NOT_ON_MOTO or t.startswith("AWS::Serverless::"), (
                f"{logical}: {t} is neither compared with moto nor listed in NOT_ON_MOTO")
            continue
        p = r["Properties"]
        name = p[name_prop[t]]
        if t == "AWS::DynamoDB::Table":
            ttl = p.get("TimeToLiveSpecification", {})
            props = {"KeySchema": p["KeySchema"], "TTL": ttl.get("AttributeName")}
        elif t == "AWS::SQS::Queue":
            rp = p.get("RedrivePolicy")
            props = {"VisibilityTimeout": p.get("VisibilityTimeout", 30),  # SQS default
                     "Redrive": rp and (res[rp["deadLetterTargetArn"]["Fn::GetAtt"][0]]
                                        ["Properties"]["QueueName"], rp["maxReceiveCount"])}
        elif t == "AWS::S3::Bucket":
            qs = p.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
            props = {"QueueNotifications": sorted(
                (res[q["Queue"]["Fn::GetAtt"][0]]["Properties"]["QueueName"],
                 tuple(r["Value"] for r in q["Filter"]["S3Key"]["Rules"])) for q in qs)}
        else:
            props = {}
        out.setdefault(t, {})[name] = props
    return out


def test_local_stack_creates_exactly_the_local_template(moto_stage, merge_template):
    declared = _declared(merge_template("local"))
    created = _created(moto_stage)
    for cfn_type in sorted(set(declared) | set(created)):
        want, got = declared.get(cfn_type, {}), created.get(cfn_type, {})
        assert sorted(got) == sorted(want), (
            f"{cfn_type}: local stack creates {sorted(set(got) - set(want))} that the template "
            f"lacks, and lacks {sorted(set(want) - set(got))}")
        for name in want:
            assert got[name] == want[name], f"{cfn_type} {name}: moto {got[name]} != template {want[name]}"


def test_glue_job_name_is_what_the_local_runs_use(merge_template):
    jobs = [r["Properties"]["Name"] for r in merge_template("local")["Resources"].values()
            if r.get("Type") == "AWS::Glue::Job"]
    assert jobs == [infra.stage_env("local")["GLUE_JOB_NAME"]]


def test_glue_assets_upload_where_the_job_reads_them(moto_stage, merge_template):
    import boto3

    from deploy.__main__ import upload_glue
    job = next(r["Properties"] for r in merge_template("local")["Resources"].values()
               if r.get("Type") == "AWS::Glue::Job")
    assets = upload_glue("local")
    assert assets["script"] == job["Command"]["ScriptLocation"]
    assert assets["library"] == job["DefaultArguments"]["--extra-py-files"]
    s3 = boto3.client("s3")
    for url in assets.values():
        bucket, _, key = url[len("s3://"):].partition("/")
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
