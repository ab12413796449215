"""Each handler adapter (hubspot_app.handlers), run with a Services holding fake clients, makes
exactly the AWS calls its function should, and creates no real client."""
from __future__ import annotations

import json

from hubspot_app.runtime import Services


def no_aws(service: str):
    raise AssertionError(f"a real {service} client was created")


class Recorder:
    """A fake AWS client: records (method, arguments); answers from `answers` by method."""

    def __init__(self, **answers):
        self.answers, self.calls = answers, []

    def __getattr__(self, method: str):
        def call(**kwargs):
            self.calls.append((method, kwargs))
            answer = self.answers.get(method, {})
            return answer(**kwargs) if callable(answer) else answer
        return call

    def methods(self) -> list[str]:
        return [m for m, _ in self.calls]


def sqs_fake(**answers) -> Recorder:
    return Recorder(get_queue_url=lambda QueueName: {"QueueUrl": f"https://sqs/{QueueName}"},
                    **answers)


def secrets_fake(settings) -> Recorder:
    values = {settings.hubspot.app_secret_name: {"client_id": "cid", "client_secret": "app-secret"},
              settings.airbyte.secret_name: {"api_token": "airbyte-token"}}
    return Recorder(get_secret_value=lambda SecretId: {"SecretString": json.dumps(values[SecretId])})


def _sqs_event(queue: str, *bodies: str, receive_count: int = 1) -> dict:
    return {"Records": [{"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": body,
                         "attributes": {"ApproximateReceiveCount": str(receive_count)},
                         "eventSourceARN": f"arn:aws:sqs:us-east-1:1:{queue}"}
                        for i, body in enumerate(bodies)]}


def test_glue_trigger_starts_one_run_for_the_batch(settings):
    from hubspot_app.handlers import lake

    glue = Recorder(start_job_run={"JobRunId": "jr_1"})
    sqs = sqs_fake()
    svc = Services(settings, clients={"glue": glue, "sqs": sqs}, client_factory=no_aws,
                   bind_tables=False)
    s3_event = json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {
        "key": f"raw/{hub}/contacts/f.parquet", "eTag": "e"}}} for hub in (11, 22)]})
    out = lake.glue_trigger(_sqs_event(settings.glue.trigger_queue_name, s3_event), svc)
    assert out["runs_started"] == ["jr_1"] and out["batchItemFailures"] == []
    [(method, args)] = glue.calls
    assert method == "start_job_run" and args["JobName"] == settings.glue.job_name
    assert args["Arguments"]["--hub_ids"] == "11,22"
    # The queue URLs are resolved once, from the names; nothing else is asked of SQS.
    assert sqs.methods() == ["get_queue_url", "get_queue_url"]


def test_glue_reconcile_starts_the_all_accounts_run(settings):
    from hubspot_app.handlers import lake

    glue = Recorder(start_job_run={"JobRunId": "jr_all"})
    svc = Services(settings, clients={"glue": glue, "sqs": sqs_fake()}, client_factory=no_aws,
                   bind_tables=False)
    assert lake.glue_reconcile(svc) == {"run": "jr_all"}
    assert glue.calls[0][1]["Arguments"]["--hub_ids"] == "ALL"


def test_token_health_schedule_fans_out_and_reads_the_dead_letter_depths(settings, monkeypatch):
    from hubspot_app.handlers import lifecycle
    from hubspot_app.models import Account

    class Item:
        def __init__(self, hub_id, status):
            self.hub_id, self.status = hub_id, status

    items = [Item(h, "active") for h in range(1, 31)] + [Item(99, "uninstalled")]
    monkeypatch.setattr(Account, "scan", classmethod(lambda cls, **kw: iter(items)))
    sqs = sqs_fake(send_message_batch={},
                   get_queue_attributes={"Attributes": {"ApproximateNumberOfMessages": "2",
                                                        "ApproximateNumberOfMessagesNotVisible": "1"}})
    svc = Services(settings, clients={"sqs": sqs}, client_factory=no_aws, bind_tables=False)
    summary = lifecycle.token_health_schedule({"detail": {"force": True}}, svc)
    assert (summary["accounts"], summary["messages"], summary["uninstalled_skipped"]) == (30, 2, 1)
    assert summary["dlq_depth"] == {"lifecycle": 3, "provision": 3, "glue_trigger": 3,
                                    "association_labels": 3}
    [send] = [args for m, args in sqs.calls if m == "send_message_batch"]
    assert send["QueueUrl"] == f"https://sqs/{settings.lifecycle.queue_name}"
    bodies = [json.loads(e["MessageBody"]) for e in send["Entries"]]
    assert [len(b["hub_ids"]) for b in bodies] == [25, 5] and all(b["force"] for b in bodies)
    assert sqs.methods().count("get_queue_attributes") == 4
    assert sqs.methods().count("get_queue_url") == 5   # the queue and four DLQs, once each


def test_lifecycle_worker_dead_letters_a_malformed_message_once(settings):
    from hubspot_app.handlers import lifecycle

    sqs = sqs_fake(send_message={"MessageId": "dl-1"}, delete_message={})
    sm = secrets_fake(settings)
    svc = Services(settings, clients={"sqs": sqs, "secretsmanager": sm}, client_factory=no_aws,
                   bind_tables=False)
    out = lifecycle.lifecycle_worker(_sqs_event(settings.lifecycle.queue_name, "not json"),
                                     svc=svc)
    assert out["batchItemFailures"] == [] and out["dead_lettered"] == 1
    sent = [args for m, args in sqs.calls if m == "send_message"]
    assert [s["QueueUrl"] for s in sent] == [f"https://sqs/{settings.lifecycle.dlq_name}"]
    assert sqs.methods() == ["get_queue_url", "send_message", "get_queue_url", "delete_message"]
    # The OAuth and Airbyte clients' secrets, read once each for the invocation.
    assert sorted(a["SecretId"] for _, a in sm.calls) == sorted(
        [settings.hubspot.app_secret_name, settings.airbyte.secret_name])


def test_provisioner_dead_letters_a_message_without_hub_id(settings):
    from hubspot_app.handlers import provisioning

    sqs = sqs_fake(send_message={"MessageId": "dl-1"}, delete_message={})
    svc = Services(settings, clients={"sqs": sqs}, client_factory=no_aws, bind_tables=False)
    out = provisioning.provisioner(_sqs_event(settings.provisioning.queue_name, "{}"), svc=svc)
    assert out == {"batchItemFailures": []}
    [dead] = [args for m, args in sqs.calls if m == "send_message"]
    assert dead["QueueUrl"] == f"https://sqs/{settings.provisioning.dlq_name}"
    assert dead["MessageAttributes"]["error_kind"]["StringValue"] == "malformed"


def test_install_link_reads_the_app_secret_once_and_nothing_else(settings):
    from hubspot_app.handlers import install

    sm = secrets_fake(settings)
    svc = Services(settings, clients={"secretsmanager": sm}, client_factory=no_aws,
                   bind_tables=False)
    pages = [install.install_link(svc), install.install_link(svc)]
    assert [p.status for p in pages] == [302, 302]
    assert all("client_id=cid" in p.headers["Location"] for p in pages)
    assert sm.calls == [("get_secret_value", {"SecretId": settings.hubspot.app_secret_name})]


def test_an_unsigned_webhook_is_refused_with_the_app_secret_only(settings):
    from hubspot_app.handlers import webhooks

    sm = secrets_fake(settings)
    svc = Services(settings, clients={"secretsmanager": sm}, client_factory=no_aws,
                   bind_tables=False)
    status, body = webhooks.webhook_response("POST", {}, b"[]", {}, None, svc)
    assert status == 401 and "missing_signature" in body
    assert sm.methods() == ["get_secret_value"]
