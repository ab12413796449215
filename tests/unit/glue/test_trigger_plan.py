"""The Glue trigger's parsing and run planning in process (bursts and the local stack path are in
tests/integration/glue/test_trigger.py)."""
import json

import pytest
from botocore.exceptions import ClientError

from hubspot_app import glue_trigger as gt
from tests.harness import s3_event


def test_bodies_are_parsed():
    assert gt.hubs_from_body(s3_event("b", "raw/12/deals/2024_01_01_1_0.parquet")) == ({"12"}, 1, 0)
    assert gt.hubs_from_body(s3_event("b", "curated/deals/x.parquet")) == (set(), 0, 0)
    assert gt.hubs_from_body(json.dumps({"Event": "s3:TestEvent"})) == (set(), 0, 0)
    sns = json.dumps({"TopicArn": "arn:t", "Message": s3_event("b", "raw/9/owners/a_1_0.parquet")})
    assert gt.hubs_from_body(sns) == ({"9"}, 1, 0)
    retry = json.dumps({"glue_retry": {"hub_ids": ["1", "2"], "attempt": 3}})
    assert gt.hubs_from_body(retry) == ({"1", "2"}, 0, 3)


def test_grouping_and_non_retryable_errors():
    cfg = gt.Config(job_name="j", grouping="account")
    assert gt.plan_runs({"2", "1"}, cfg) == [["1"], ["2"]]
    assert gt.plan_runs({"3", "2", "1"}, gt.Config("j", max_hubs_per_run=2)) == [["1", "2"], ["3"]]

    class Denied:
        def start_job_run(self, **_):
            raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "StartJobRun")
    event = {"Records": [{"body": s3_event("b", "raw/1/deals/f_1_0.parquet")}]}
    with pytest.raises(ClientError):  # not retryable: the batch fails, SQS redelivers / DLQ
        gt.handle_sqs_event(event, Denied(), None, cfg)
