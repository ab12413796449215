"""The IAM call check itself (deploy/iam_check.py, deploy/iam_pytest.py): a call a function makes
without a grant fails naming function, action, resource and policy; granted calls pass; the
policies judged are the ones the packaged template embeds."""
from __future__ import annotations

import json

import boto3
import pytest

from deploy import iam_check
from deploy.iam_check import Call, Need

LOCAL = "arn:aws:{svc}:us-east-1:123456789012:{res}"


@pytest.fixture(scope="module")
def evaluator():
    ev = iam_check.Evaluator()
    yield ev
    ev.close()


def _call(function, *needs):
    return Call(function, "test", "Op", list(needs), "us-east-1", "123456789012", where="test")


def test_a_call_without_a_grant_fails_naming_function_action_resource_and_policy(evaluator):
    table = LOCAL.format(svc="dynamodb", res="table/hubspot-pipeline-local-accounts")
    problems = iam_check.check([_call("lifecycle_worker", Need("dynamodb:DeleteTable", table))],
                               evaluator)
    assert len(problems) == 2      # dev and prod
    dev = next(p for p in problems if "(stage dev)" in p)
    assert "lifecycle_worker" in dev and "dynamodb:DeleteTable" in dev
    assert "table/hubspot-pipeline-dev-accounts" in dev        # judged under the dev name
    assert "ImplicitlyDenied" in dev and ".chalice/policy-dev-lifecycle_worker.json" in dev


def test_granted_calls_pass_and_conditions_are_evaluated(evaluator):
    audit = LOCAL.format(svc="dynamodb", res="table/hubspot-pipeline-local-uninstall-audit")
    lake = "arn:aws:s3:::hubspot-pipeline-local-lake"
    assert iam_check.check([_call("lifecycle_worker", Need("dynamodb:Query", audit))], evaluator) == []
    # The worker may list the lake only under the purge prefixes (a StringLike condition).
    assert iam_check.check([_call("lifecycle_worker", Need(
        "s3:ListBucket", lake, (("s3:prefix", "raw/123/"),)))], evaluator) == []
    refused = iam_check.check([_call("lifecycle_worker", Need(
        "s3:ListBucket", lake, (("s3:prefix", "glue-assets/"),)))], evaluator)
    assert refused and all("s3:ListBucket" in p for p in refused)


def test_kms_needs_the_key_alias_condition_and_the_key_policy(evaluator):
    key = LOCAL.format(svc="kms", res="key/1234abcd-12ab-34cd-56ef-1234567890ab")
    ours = iam_check.check([_call("provisioner", Need("kms:Decrypt", key, (
        ("kms:ResourceAliases", ("alias/hubspot-pipeline-local",)),
        ("kms:EncryptionContextKeys", ("hub_id",)))))], evaluator)
    assert ours == []
    other = iam_check.check([_call("provisioner", Need("kms:Decrypt", key, (
        ("kms:ResourceAliases", ("alias/someone-else",)),)))], evaluator)
    assert other and "kms:Decrypt" in other[0]


def test_every_function_may_write_its_own_logs_and_traces(evaluator):
    """What Lambda does with the role on each invocation; the API function's group has no
    suffix (`/aws/lambda/hubspot-pipeline-<stage>`), which a `-<stage>-*` grant misses."""
    from deploy import infra
    for fn in infra.introspect_app("local")["functions"]:
        needs = iam_check.implicit_needs(fn["name"])
        assert iam_check.check([_call(fn["name"], *needs)], evaluator) == [], fn["name"]


def test_a_misspelt_action_is_an_error_not_a_pass(evaluator):
    q = LOCAL.format(svc="sqs", res="hubspot-pipeline-local-provision")
    (dev, prod) = iam_check.check([_call("api_handler", Need("sqs:SendMesage", q))], evaluator)
    assert "Error" in dev


def test_recorder_attributes_real_botocore_calls_and_maps_them():
    """A real client (boto3, moto server) inside acting_as: service, action, resource ARN and
    the S3 prefix are recorded; outside any function nothing is attributed."""
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        rec = iam_check.install()
        s3 = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="y")
        unattributed = rec.unattributed
        s3.create_bucket(Bucket="hubspot-pipeline-local-lake")     # set-up: not a function's
        before = len(rec.calls)
        with iam_check.acting_as("lifecycle_worker"):
            s3.list_objects_v2(Bucket="hubspot-pipeline-local-lake", Prefix="raw/7/")
            s3.delete_objects(Bucket="hubspot-pipeline-local-lake",
                              Delete={"Objects": [{"Key": "raw/7/a"}, {"Key": "raw/7/b"}]})
        mine = rec.calls[before:]
        del rec.calls[before:]      # judged here, not by the plugin
        assert rec.unattributed == unattributed + 1          # the create_bucket
        assert [(c.function, c.service, c.operation) for c in mine] == [
            ("lifecycle_worker", "s3", "ListObjectsV2"), ("lifecycle_worker", "s3", "DeleteObjects")]
        assert mine[0].needs == [Need("s3:ListBucket", "arn:aws:s3:::hubspot-pipeline-local-lake",
                                      (("s3:prefix", "raw/7/"),))]
        assert [n.action + " " + n.resource for n in mine[1].needs] == [
            "s3:DeleteObject arn:aws:s3:::hubspot-pipeline-local-lake/raw/7/a",
            "s3:DeleteObject arn:aws:s3:::hubspot-pipeline-local-lake/raw/7/b"]
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("stage", ("dev", "prod"))
def test_the_judged_policies_are_the_ones_the_packaged_template_embeds(stage, sam, app_model):
    from deploy import infra
    t = sam(stage)
    policies = iam_check.Policies()
    for fn in app_model(stage)["functions"]:
        props = t["Resources"][infra.function_logical_id(fn["name"])]["Properties"]
        role = t["Resources"][props["Role"]["Fn::GetAtt"][0]]["Properties"]
        embedded = [p["PolicyDocument"] for p in role["Policies"]]
        docs, _ = policies.identity(stage, fn["name"])
        assert embedded == [d["document"] for d in docs], fn["name"]
    glue = t["Resources"]["GlueJobRole"]["Properties"]["Policies"]
    docs, _ = policies.identity(stage, iam_check.GLUE_JOB)
    assert [iam_check._resolve_subs(p["PolicyDocument"], "us-east-1", "123456789012")
            for p in glue] == [d["document"] for d in docs]
    assert json.dumps(docs)  # serialisable as sent to the evaluator


def test_the_glue_job_may_use_only_its_stage_database(evaluator):
    def table(db):
        return iam_check._glue_catalog_needs("glue:UpdateTable", "us-east-1", "123456789012",
                                             {"DatabaseName": db, "TableInput": {"Name": "deals"}})
    assert iam_check.check([_call(iam_check.GLUE_JOB, *table("hubspot_pipeline_local"))], evaluator) == []
    refused = iam_check.check([_call(iam_check.GLUE_JOB, *table("someone_elses"))], evaluator)
    assert refused and all("glue:UpdateTable" in p for p in refused)


def test_the_glue_job_may_alert_quarantined_files_to_its_stage_topic_only(evaluator):
    for stage in ("dev", "prod"):
        args = iam_check.Policies().template(stage)["Resources"]["GlueJob"]["Properties"][
            "DefaultArguments"]
        assert args["--alerts_topic_arn"] == {"Ref": "AlertsTopic"}, stage
    ours = "arn:aws:sns:us-east-1:123456789012:hubspot-pipeline-{stage}-alerts"
    for stage in ("dev", "prod"):
        call = _call(iam_check.GLUE_JOB, Need("sns:Publish", ours.format(stage=stage)))
        assert not [p for p in iam_check.check([call], evaluator) if f"(stage {stage})" in p], stage
    other = _call(iam_check.GLUE_JOB, Need("sns:Publish", ours.format(stage="someone-else")))
    assert iam_check.check([other], evaluator)
