"""`chalice package --merge-template` yields every resource per stage, linted, named from the
stage config, with hand-written least-privilege IAM."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import infra

STAGES = ("dev", "prod")
pytestmark = pytest.mark.slow  # chalice package: ~10 s per stage, once per session


def _resources(template: dict, cfn_type: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == cfn_type}


def _functions(template: dict) -> dict[str, dict]:
    return _resources(template, "AWS::Serverless::Function")


def _names(template: dict, cfn_type: str, prop: str) -> set[str]:
    return {r["Properties"][prop] for r in _resources(template, cfn_type).values()}


# -- generated files are current, and lint clean -----------------------------------------------
def test_committed_merge_templates_are_up_to_date(merge_template):
    for stage in infra.STAGES:
        path = infra.merge_template_path(stage)
        assert path.exists(), f"{path} missing: run python -m deploy templates"
        assert json.loads(path.read_text()) == merge_template(stage), (
            f"{path.name} is out of date (app.py, .chalice/config.json, models or deploy/infra.py "
            f"changed): run `python -m deploy templates` and commit the result")


@pytest.mark.parametrize("stage", STAGES)
def test_cfn_lint_passes(stage, packaged):
    sam = packaged(stage) / "sam.json"
    res = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), "--format", "json",
                          str(sam)], capture_output=True, text=True, timeout=300)
    findings = json.loads(res.stdout or "[]")
    errors = [f for f in findings if f["Level"] == "Error"]
    for f in findings:
        print(f["Level"], f["Rule"]["Id"], f["Message"], f["Location"]["Path"])
    assert not errors, json.dumps(errors, indent=1)[:4000]
    assert res.returncode in (0, 4, 8, 12), res.stderr  # bit 2 (errors) never set


# -- every resource the app needs ---------------------------------------------------------------
@pytest.mark.parametrize("stage", STAGES)
def test_every_resource_is_in_the_template(stage, sam, app_model):
    t = sam(stage)
    env = infra.stage_env(stage)
    app = app_model(stage)
    meta = t["Metadata"] if "Metadata" in t else {}
    assert meta.get("SettingsNotConfigured") == [], (
        f"stage {stage} lacks settings deploy/infra.py needs: {meta.get('SettingsNotConfigured')}")

    # functions and routes
    fns = _functions(t)
    assert {infra.function_logical_id(f["name"]) for f in app["functions"]} == set(fns)
    for f in app["functions"]:
        assert fns[infra.function_logical_id(f["name"])]["Properties"]["FunctionName"] == \
            infra.deployed_function_name("hubspot-pipeline", stage, f["name"])
    paths = t["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert {"/install", "/oauth/callback"} <= set(paths)
    assert set(app["routes"]) == set(paths)

    # queues: provision + DLQ with redrive, token health, glue trigger; alarms on every DLQ
    queues = {r["Properties"]["QueueName"]: (k, r) for k, r in
              _resources(t, "AWS::SQS::Queue").items()}
    provision = queues[env["PROVISION_QUEUE_NAME"]][1]["Properties"]
    dlq_logical = queues[env["PROVISION_DLQ_NAME"]][0]
    assert provision["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_logical, "Arn"]},
                                          "maxReceiveCount": int(env["PROVISION_MAX_RECEIVES"])}
    for var in ("LIFECYCLE_QUEUE_NAME", "GLUE_TRIGGER_QUEUE_NAME"):
        assert infra.name_of(env[var]) in queues, var
    alarmed = {a["Properties"]["Dimensions"][0]["Value"]: a["Properties"]
               for a in _resources(t, "AWS::CloudWatch::Alarm").values()}
    for _name, (_logical, q) in queues.items():
        if "RedrivePolicy" in q["Properties"]:
            dlq = q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            dlq_name = t["Resources"][dlq]["Properties"]["QueueName"]
            alarm = alarmed[dlq_name]
            assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
            assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]

    # tables (TTL on the OAuth states' expires_at), KMS key + alias, topic, Glue
    tables = {r["Properties"]["TableName"]: r["Properties"] for r in
              _resources(t, "AWS::DynamoDB::Table").values()}
    assert tables[env["ACCOUNTS_TABLE"]]["KeySchema"] == [{"AttributeName": "hub_id", "KeyType": "HASH"}]
    assert tables[env["STATES_TABLE"]]["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at", "Enabled": True}
    assert _names(t, "AWS::KMS::Alias", "AliasName") == {env["KMS_KEY_ID"]}
    assert _resources(t, "AWS::KMS::Key")["RefreshTokenKey"]["Properties"]["EnableKeyRotation"]
    assert len(_resources(t, "AWS::SNS::Topic")) == 1
    job = _resources(t, "AWS::Glue::Job")["GlueJob"]["Properties"]
    assert job["Name"] == env["GLUE_JOB_NAME"]
    assert job["Role"] == {"Fn::GetAtt": ["GlueJobRole", "Arn"]}
    bucket_name = f"{env['LAKE_BUCKET']}-${{AWS::AccountId}}-${{AWS::Region}}"
    assert job["Command"]["ScriptLocation"]["Fn::Sub"].startswith(f"s3://{bucket_name}/")
    # Bookmarks are off: the job keeps its own record of processed files (glue/job.json).
    assert job["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-disable"

    # the lake: raw/ object-created events go to the Glue trigger's queue
    bucket = _resources(t, "AWS::S3::Bucket")["LakeBucket"]["Properties"]
    # globally unique: account id and region in the name; the functions get it by reference
    assert bucket["BucketName"] == {"Fn::Sub": bucket_name}
    for fn in fns.values():
        variables = fn["Properties"]["Environment"]["Variables"]
        assert variables["LAKE_BUCKET"] == {"Ref": "LakeBucket"}
        assert variables["LAKE_REGION"] == {"Ref": "AWS::Region"}
    (notification,) = bucket["NotificationConfiguration"]["QueueConfigurations"]
    glue_queue = queues[infra.name_of(env["GLUE_TRIGGER_QUEUE_NAME"])][0]
    assert notification["Queue"] == {"Fn::GetAtt": [glue_queue, "Arn"]}
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "raw/"}]
    assert all(c["PublicAccessBlockConfiguration"][k] for c in [bucket]
               for k in c["PublicAccessBlockConfiguration"])

    # schedules
    scheduled = [f for f in app["functions"] if f["kind"] == "schedule"]
    assert scheduled, "no scheduled function in app.py"
    for f in scheduled:
        events = fns[infra.function_logical_id(f["name"])]["Properties"]["Events"]
        assert [e["Type"] for e in events.values()] == ["Schedule"]

    # secrets: names only, never a value
    secrets = _resources(t, "AWS::SecretsManager::Secret")
    assert {s["Properties"]["Name"] for s in secrets.values()} == {
        v for k, v in env.items() if k.endswith("_SECRET_NAME") and v}
    for s in secrets.values():
        assert not {"SecretString", "GenerateSecretString"} & set(s["Properties"])


@pytest.mark.parametrize("stage", STAGES)
def test_sqs_event_sources_report_partial_batch_failures(stage, sam, app_model):
    t = sam(stage)
    queues = {logical: r["Properties"] for logical, r in _resources(t, "AWS::SQS::Queue").items()}
    consumers = [f for f in app_model(stage)["functions"] if f["kind"] == "sqs"]
    assert consumers
    for f in consumers:
        fn = _functions(t)[infra.function_logical_id(f["name"])]["Properties"]
        (event,) = fn["Events"].values()
        assert event["Type"] == "SQS"
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        # the queue by reference: it exists before the mapping, and it is the configured one
        ref = re.fullmatch(r"\$\{(\w+)\.Arn\}", event["Properties"]["Queue"]["Fn::Sub"]).group(1)
        assert queues[ref]["QueueName"] == infra.name_of(f["queue"] or f["queue_arn"])
        assert queues[ref]["VisibilityTimeout"] >= 6 * fn["Timeout"]


@pytest.mark.parametrize("stage", STAGES)
def test_names_follow_the_stage(stage, sam):
    t = sam(stage)
    text = json.dumps(t)
    for other in set(infra.STAGES) - {stage}:
        assert f"hubspot-pipeline-{other}" not in text and f"hubspot-pipeline/{other}/" not in text
    named = {"AWS::SQS::Queue": "QueueName", "AWS::DynamoDB::Table": "TableName",
             "AWS::S3::Bucket": "BucketName", "AWS::SNS::Topic": "TopicName",
             "AWS::Glue::Job": "Name", "AWS::KMS::Alias": "AliasName",
             "AWS::SecretsManager::Secret": "Name", "AWS::Serverless::Function": "FunctionName",
             "AWS::CloudWatch::Alarm": "AlarmName", "AWS::IAM::Role": "RoleName"}
    for cfn_type, prop in named.items():
        for logical, r in _resources(t, cfn_type).items():
            name = r["Properties"].get(prop)
            if isinstance(name, dict) and "Fn::Sub" in name:
                name = name["Fn::Sub"]
            if name is None and cfn_type == "AWS::IAM::Role":
                continue  # Chalice's function roles: CloudFormation names them after the stack
            assert re.match(rf"^(alias/)?hubspot-pipeline[-/]{stage}([-/]|$)", name), (logical, name)


# -- IAM: least privilege, written by hand ------------------------------------------------------
# Actions that have no resource-level permissions: "*" is the only resource AWS accepts.
NO_RESOURCE_LEVEL = {"xray:PutTraceSegments", "xray:PutTelemetryRecords",
                     "xray:GetSamplingRules", "xray:GetSamplingTargets",
                     "cloudwatch:PutMetricData"}
# Resources whose name is not ours to choose: Glue writes every job's logs to these groups.
# The account's one Data Catalog: Glue authorises every catalog call on it as well.
SHARED_NAMES = ("log-group:/aws-glue/jobs/", ":glue:${AWS::Region}:${AWS::AccountId}:catalog\"")


def _statements(t: dict):
    for logical, role in _resources(t, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                yield logical, st
    for logical, pol in {**_resources(t, "AWS::IAM::Policy"),
                         **_resources(t, "AWS::IAM::ManagedPolicy")}.items():
        for st in pol["Properties"]["PolicyDocument"]["Statement"]:
            yield logical, st


def _as_list(v):
    return v if isinstance(v, list) else [v]


def _text(resource) -> str:
    return resource if isinstance(resource, str) else json.dumps(resource)


@pytest.mark.parametrize("stage", STAGES)
def test_iam_is_least_privilege(stage, sam):
    t = sam(stage)
    roles = _resources(t, "AWS::IAM::Role")
    assert "GlueJobRole" in roles
    for role in roles.values():
        assert not role["Properties"].get("ManagedPolicyArns"), "managed policies are not hand-written"
    checked = 0
    for logical, st in _statements(t):
        if st["Effect"] != "Allow":
            continue
        checked += 1
        actions = _as_list(st["Action"])
        assert "NotAction" not in st and "NotResource" not in st, (logical, st)
        for action in actions:
            assert "*" not in action, f"{logical}: wildcard action {action} in {st.get('Sid')}"
        for resource in _as_list(st["Resource"]):
            text = _text(resource)
            if text == "*":
                assert set(actions) <= NO_RESOURCE_LEVEL, (
                    f"{logical}: Resource '*' for {actions} ({st.get('Sid')}): name the resource")
                continue
            ours = (f"hubspot-pipeline-{stage}" in text or f"hubspot-pipeline/{stage}/" in text
                    or f"/hubspot_pipeline_{stage}" in text   # Glue database names: underscores
                    or any(s in text for s in SHARED_NAMES))
            # A KMS key's id is not known by name: allowed when a condition pins its alias.
            pinned_key = (":key/" in text and f"alias/hubspot-pipeline-{stage}" in
                          json.dumps(st.get("Condition", {})))
            assert ours or pinned_key, f"{logical}: {text} is not one of stage {stage}'s resources"
    assert checked >= 10


@pytest.mark.parametrize("stage", STAGES)
def test_each_queue_consumer_may_consume_its_queue(stage, sam, app_model):
    """Without these, creating the event source mapping fails at deploy time."""
    t = sam(stage)
    for f in app_model(stage)["functions"]:
        if f["kind"] != "sqs":
            continue
        fn = _functions(t)[infra.function_logical_id(f["name"])]["Properties"]
        role = fn["Role"]["Fn::GetAtt"][0]
        queue = infra.name_of(f["queue"] or f["queue_arn"])
        granted = set()
        for logical, st in _statements(t):
            if logical == role and any(_text(r).endswith(f":{queue}") for r in _as_list(st["Resource"])):
                granted |= set(_as_list(st["Action"]))
        missing = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} - granted
        assert not missing, f"{f['name']}'s policy lacks {missing} on {queue}"


@pytest.mark.parametrize("stage", STAGES)
def test_each_function_has_a_log_group_with_retention_and_may_write_only_there(stage, sam, app_model):
    """The API function is `hubspot-pipeline-<stage>` (no suffix): a `...-<stage>-*` grant
    misses it and /install, the callback and the webhook would log nothing (nor EMF metrics)."""
    t = sam(stage)
    groups = {r["Properties"]["LogGroupName"]: r["Properties"]
              for r in _resources(t, "AWS::Logs::LogGroup").values()}
    retention = int(infra.stage_env(stage).get("LOG_RETENTION_DAYS") or 30)
    for f in app_model(stage)["functions"]:
        name = infra.deployed_function_name("hubspot-pipeline", stage, f["name"])
        group = f"/aws/lambda/{name}"
        assert groups[group]["RetentionInDays"] == retention, group
        resource = _functions(t)[infra.function_logical_id(f["name"])]
        # Created before the function: the role cannot create it (no logs:CreateLogGroup).
        group_logical = next(k for k, r in _resources(t, "AWS::Logs::LogGroup").items()
                             if r["Properties"]["LogGroupName"] == group)
        assert group_logical in resource["DependsOn"], f["name"]
        fn = resource["Properties"]
        role = fn["Role"]["Fn::GetAtt"][0]
        logs = [st for logical, st in _statements(t) if logical == role
                and any(a.startswith("logs:") for a in _as_list(st["Action"]))]
        assert [_as_list(st["Resource"]) for st in logs] == [[f"arn:aws:logs:*:*:log-group:{group}:*"]], (
            f"{f['name']} must write to exactly its own log group {group}")
        assert all("logs:CreateLogGroup" not in _as_list(st["Action"]) for st in logs)


def test_log_retention_must_be_a_value_cloudwatch_accepts(monkeypatch, app_model):
    env = infra.stage_env("dev")
    monkeypatch.setattr(infra, "stage_env", lambda stage, config=None: {**env, "LOG_RETENTION_DAYS": "31"})
    with pytest.raises(ValueError, match="LOG_RETENTION_DAYS='31'"):
        infra.build("dev", app_model("dev"))


@pytest.mark.parametrize("stage", STAGES)
def test_the_lakehouse_catalog_and_athena_are_in_the_template(stage, sam):
    t = sam(stage)
    env = infra.stage_env(stage)
    dbs = {d["Properties"]["DatabaseInput"]["Name"]
           for d in _resources(t, "AWS::Glue::Database").values()}
    # the curated tables, and the job's bookkeeping beside them (analysts' SHOW TABLES stays clean)
    assert dbs == {env["GLUE_DATABASE"], env["GLUE_DATABASE"] + "_ops"}
    (group,) = _resources(t, "AWS::Athena::WorkGroup").values()
    config = group["Properties"]["WorkGroupConfiguration"]
    assert group["Properties"]["Name"] == env["ATHENA_WORKGROUP"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["ResultConfiguration"]["OutputLocation"]["Fn::Sub"].endswith("/athena-results/")
    args = _resources(t, "AWS::Glue::Job")["GlueJob"]["Properties"]["DefaultArguments"]
    assert args["--datalake-formats"] == "iceberg"
    assert "org.apache.iceberg.aws.glue.GlueCatalog" in args["--conf"]["Fn::Sub"]
    assert args["--glue_database"] == env["GLUE_DATABASE"]
    # one retention for time travel and for what an uninstall's purge leaves in snapshots
    retention = env["LAKE_SNAPSHOT_RETENTION_HOURS"]
    assert args["--purge_retention_hours"] == args["--snapshot_retention_hours"] == retention


@pytest.mark.parametrize("stage", STAGES)
def test_table_maintenance_runs_on_a_glue_schedule(stage, sam):
    import boto3
    from moto import mock_aws

    t = sam(stage)
    env = infra.stage_env(stage)
    (trigger,) = _resources(t, "AWS::Glue::Trigger").values()
    p = trigger["Properties"]
    assert (p["Type"], p["Schedule"], p["StartOnCreation"]) == (
        "SCHEDULED", env["LAKE_MAINTENANCE_SCHEDULE"], True)
    (action,) = p["Actions"]
    assert action == {"JobName": {"Ref": "GlueJob"}, "Arguments": {"--mode": "maintenance"}}
    # Glue accepts the trigger as templated (moto's CreateTrigger), for the stage's job
    with mock_aws():
        glue = boto3.client("glue", region_name="us-east-1")
        glue.create_job(Name=env["GLUE_JOB_NAME"], Role="r",
                        Command={"Name": "glueetl", "ScriptLocation": "s3://x/s.py"})
        glue.create_trigger(Name=p["Name"], Type=p["Type"], Schedule=p["Schedule"],
                            StartOnCreation=True,
                            Actions=[{"JobName": env["GLUE_JOB_NAME"],
                                      "Arguments": action["Arguments"]}])
        got = glue.get_trigger(Name=p["Name"])["Trigger"]
        assert got["Schedule"] == p["Schedule"] and got["State"] == "ACTIVATED"
    # the job script knows the mode the trigger passes (glue/curate_job.py, without Spark)
    script = (Path(__file__).resolve().parents[3] / "glue/curate_job.py").read_text()
    assert '"mode": "curate"' in script and 'g.args["mode"] == "maintenance"' in script


def test_maintenance_settings_are_checked(monkeypatch, app_model):
    env = infra.stage_env("dev")
    for var, bad, match in (("LAKE_MAINTENANCE_SCHEDULE", "rate(1 day)", "cron"),
                            ("LAKE_SNAPSHOT_RETENTION_HOURS", "3 days", "hours")):
        monkeypatch.setattr(infra, "stage_env", lambda stage, config=None, v=var, b=bad:
                            {**env, v: b})
        with pytest.raises(ValueError, match=match):
            infra.build("dev", app_model("dev"))


# -- a failed Glue run reaches the operators --------------------------------------------------
def _glue_event(job: str, state: str) -> dict:
    """A "Glue Job State Change" event as AWS documents it (Automating AWS Glue with EventBridge)."""
    return {"version": "0", "id": "abcdef00-1234-5678-9abc-def012345678",
            "detail-type": "Glue Job State Change", "source": "aws.glue",
            "account": "123456789012", "time": "2026-12-06T03:00:00Z", "region": "eu-west-1",
            "resources": [],
            "detail": {"jobName": job, "severity": "ERROR" if state != "SUCCEEDED" else "INFO",
                       "state": state, "jobRunId": "jr_0123456789abcdef",
                       "message": f"JobName:{job} and JobRunId:jr_0123456789abcdef {state}"}}


@pytest.mark.parametrize("stage", STAGES)
def test_a_failed_or_timed_out_glue_run_alerts_the_topic(stage, sam):
    import boto3
    from moto import mock_aws

    t = sam(stage)
    job = infra.stage_env(stage)[infra.GLUE_JOB_VAR]
    rule = t["Resources"]["GlueRunFailedRule"]["Properties"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "AlertsTopic"}
    # EventBridge decides (moto's rule matching, as on delivery): the rule as templated, with its
    # target swapped for a queue we can read, since moto cannot deliver to SNS.
    with mock_aws():
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="seen")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="r", EventPattern=json.dumps(rule["EventPattern"]))
        events.put_targets(Rule="r", Targets=[{"Id": "seen", "Arn": arn}])
        matches = {}
        for j in (job, "someone-elses-job"):
            for s in ("FAILED", "TIMEOUT", "SUCCEEDED", "STOPPED"):
                e = _glue_event(j, s)
                events.put_events(Entries=[{"Source": e["source"], "DetailType": e["detail-type"],
                                            "Detail": json.dumps(e["detail"])}])
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                matches[(j, s)] = bool(got)
                for m in got:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert {k for k, hit in matches.items() if hit} == {(job, "FAILED"), (job, "TIMEOUT")}
    # Every field the alert text uses is in the documented event.
    event = _glue_event(job, "FAILED")
    for path in target["InputTransformer"]["InputPathsMap"].values():
        node = event
        for part in path.removeprefix("$.").split("."):
            node = node[part]
        assert isinstance(node, str) and node
    # The topic lets EventBridge publish, and only for this rule.
    (policy,) = _resources(t, "AWS::SNS::TopicPolicy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"] == {"ArnEquals": {
        "aws:SourceArn": {"Fn::GetAtt": ["GlueRunFailedRule", "Arn"]}}}


@pytest.mark.parametrize("stage", STAGES)
def test_a_stuck_glue_trigger_alerts_the_topic(stage, sam):
    queue = infra.name_of(infra.stage_env(stage)["GLUE_TRIGGER_QUEUE_NAME"])
    alarms = [a["Properties"] for a in _resources(sam(stage), "AWS::CloudWatch::Alarm").values()
              if a["Properties"]["Dimensions"] == [{"Name": "QueueName", "Value": queue}]]
    (age,) = [a for a in alarms if a["MetricName"] == "ApproximateAgeOfOldestMessage"]
    assert age["AlarmActions"] == [{"Ref": "AlertsTopic"}]


# -- the install link cannot be flooded (issue 14): API Gateway throttling, optional WAF -------
def _api(t: dict) -> dict:
    return t["Resources"]["RestAPI"]["Properties"]


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_stage_is_throttled_and_install_more_strictly(stage, sam):
    env = infra.stage_env(stage)
    api = _api(sam(stage))
    settings = {(m["ResourcePath"], m["HttpMethod"]): m for m in api["MethodSettings"]}
    every = settings[("/*", "*")]
    assert every["ThrottlingRateLimit"] == float(env["API_THROTTLE_RATE_LIMIT"])
    assert every["ThrottlingBurstLimit"] == int(env["API_THROTTLE_BURST_LIMIT"])
    install = settings[("/~1install", "GET")]
    assert install["ThrottlingRateLimit"] == float(env["INSTALL_THROTTLE_RATE_LIMIT"])
    assert install["ThrottlingBurstLimit"] == int(env["INSTALL_THROTTLE_BURST_LIMIT"])
    assert install["ThrottlingRateLimit"] < every["ThrottlingRateLimit"]
    assert install["ThrottlingBurstLimit"] < every["ThrottlingBurstLimit"]
    # The encoded path names a route the API really has (a typo would throttle nothing).
    decoded = install["ResourcePath"][1:].replace("~1", "/")
    assert "get" in api["DefinitionBody"]["paths"][decoded]


@pytest.mark.parametrize("stage", STAGES)
def test_the_waf_rate_rule_follows_its_stage_setting(stage, sam):
    env = infra.stage_env(stage)
    t = sam(stage)
    acls = _resources(t, "AWS::WAFv2::WebACL")
    if not env.get("INSTALL_WAF_RATE_LIMIT"):
        assert not acls and not _resources(t, "AWS::WAFv2::WebACLAssociation")
        return
    (acl,) = acls.values()
    assert acl["Properties"]["Scope"] == "REGIONAL"
    assert acl["Properties"]["DefaultAction"] == {"Allow": {}}
    (rule,) = acl["Properties"]["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["Limit"] == int(env["INSTALL_WAF_RATE_LIMIT"]) and rate["AggregateKeyType"] == "IP"
    match = rate["ScopeDownStatement"]["ByteMatchStatement"]
    assert (match["SearchString"], match["PositionalConstraint"]) == ("/install", "ENDS_WITH")
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    (assoc,) = _resources(t, "AWS::WAFv2::WebACLAssociation").values()
    stage_name = infra.load_config()["stages"][stage]["api_gateway_stage"]
    assert assoc["Properties"]["ResourceArn"]["Fn::Sub"].endswith(
        f"::/restapis/${{RestAPI}}/stages/{stage_name}")
    assert assoc["DependsOn"] == [f"RestAPI{stage_name}Stage"]
    assert assoc["Properties"]["WebACLArn"] == {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}


