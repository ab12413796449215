"""The quarantine alert on SNS, on a stub client (the job's side is in
tests/integration/glue/test_faults.py)."""
import json

from hubcurate import quarantine


def test_the_alert_goes_to_the_topic_when_the_job_has_one():
    sent = []

    class Sns:
        def publish(self, **kw):
            sent.append(kw)

    items = quarantine.report({"5": {"raw/5/deals/x.parquet": {"etag": "e", "size": 0,
                                                               "reason": "empty file"}}},
                              "run-1", "arn:aws:sns:us-east-1:123456789012:alerts", Sns())
    assert items == [{"hub_id": "5", "key": "raw/5/deals/x.parquet", "reason": "empty file"}]
    body = json.loads(sent[0]["Message"])
    assert sent[0]["TopicArn"].endswith(":alerts") and body["hub_id"] == 5
    assert body["event"] == "raw_files_quarantined" and "ops quarantine" in body["action"]
