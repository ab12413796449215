"""IAM: every hand-written policy grants only named actions on named resources.

Rules, for every `.chalice/policy-*.json`:
- no `*` action and no service wildcard (`s3:*`), no `NotAction` / `NotResource`;
- no `*` resource, except for actions AWS offers no resource-level permissions for
  (RESOURCE_STAR_ALLOWED below: X-Ray's trace upload). ARNs may use `*` for region and account
  and a trailing `*` (Secrets Manager's random suffix, an S3 prefix), but must name the stage's
  resources;
- every function of every deployed stage has its policy file, and the file exists.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
POLICIES = sorted((ROOT / ".chalice").glob("policy-*.json"))
# Actions that only accept Resource "*" (AWS service authorization reference).
RESOURCE_STAR_ALLOWED = {"xray:PutTraceSegments", "xray:PutTelemetryRecords",
                         "xray:GetSamplingRules", "xray:GetSamplingTargets",
                         "cloudwatch:PutMetricData", "sqs:ListQueues", "glue:GetJobs"}


def _list(value):
    return value if isinstance(value, list) else [value]


def test_there_are_policies():
    assert len(POLICIES) >= 4


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_policy_grants_only_named_actions_and_resources(path):
    stage = path.name.split("-")[1]
    doc = json.loads(path.read_text())
    assert doc["Version"] == "2012-10-17"
    for statement in doc["Statement"]:
        sid = statement.get("Sid", "?")
        assert statement["Effect"] == "Allow", sid
        assert "NotAction" not in statement and "NotResource" not in statement, sid
        actions = _list(statement["Action"])
        for action in actions:
            assert action != "*" and ":" in action, (sid, action)
            assert "*" not in action.split(":", 1)[1], (sid, action)
        for resource in _list(statement["Resource"]):
            if resource == "*":
                assert set(actions) <= RESOURCE_STAR_ALLOWED, (
                    f"{path.name} {sid}: Resource '*' only for actions without resource-level "
                    f"permissions, not {sorted(set(actions) - RESOURCE_STAR_ALLOWED)}")
                continue
            assert resource.startswith("arn:aws:"), (sid, resource)
            service = resource.split(":")[2]
            if service in ("kms",):
                # Keys are addressed by id, which the stack does not know: pinned by alias instead.
                assert "kms:ResourceAliases" in json.dumps(statement.get("Condition", {})), sid
                continue
            assert f"hubspot-pipeline-{stage}" in resource or f"hubspot-pipeline/{stage}/" in resource, (
                f"{path.name} {sid}: {resource} does not name a {stage} resource")


def test_every_function_of_every_deployed_stage_has_its_policy():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    import app

    # Every route runs in the one API function (api_handler); every other handler is its own.
    routes = {entry.view_name for methods in app.app.routes.values() for entry in methods.values()}
    assert {"install", "oauth_callback", "hubspot_webhook"} <= routes
    functions = {"api_handler"} | {name for name in app.app.handler_map if name not in routes}
    for stage in ("dev", "prod"):
        stage_config = config["stages"][stage]
        assert stage_config.get("autogen_policy") is False
        declared = stage_config.get("lambda_functions", {})
        for function in functions:
            spec = declared.get(function, {})
            assert spec.get("iam_policy_file"), f"{stage}: {function} has no hand-written policy"
            assert (ROOT / ".chalice" / spec["iam_policy_file"]).exists()


def test_lifecycle_worker_may_delete_only_lake_prefixes():
    for stage in ("dev", "prod"):
        doc = json.loads((ROOT / ".chalice" / f"policy-{stage}-lifecycle_worker.json").read_text())
        deletes = [s for s in doc["Statement"] if "s3:DeleteObject" in _list(s["Action"])]
        assert deletes and all(
            r.endswith(("/raw/*", "/curated/*")) for s in deletes for r in _list(s["Resource"]))
        schedule = json.loads((ROOT / ".chalice" / f"policy-{stage}-token_health_schedule.json").read_text())
        granted = {a for s in schedule["Statement"] for a in _list(s["Action"])}
        assert not any(a.startswith(("kms:", "secretsmanager:", "s3:")) for a in granted)
