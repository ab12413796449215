"""moto, the stage's queues and tables, and the app's SQS functions fed by the local dispatcher
(local_stack/dispatcher.py) as Lambda feeds them. No HubSpot, Airbyte or Glue: poison messages
must end in their DLQ before any of those is called."""
from __future__ import annotations

import json

import boto3
import pytest
import requests

from local_stack.dispatcher import SqsRoute
from local_stack.stack import LocalStack, stage_environment
from tests.harness import moto_server

FUNCTIONS = {"provision": ("PROVISION_QUEUE_NAME", "PROVISION_DLQ_NAME", "provisioner"),
             "lifecycle": ("LIFECYCLE_QUEUE_NAME", "LIFECYCLE_DLQ_NAME", "lifecycle_worker"),
             "glue": ("GLUE_TRIGGER_QUEUE_NAME", "GLUE_TRIGGER_DLQ_NAME", "glue_trigger")}


class Queues:
    def __init__(self, env: dict):
        self.env = env
        self.sqs = boto3.client("sqs")
        stack = LocalStack()
        stack.env = env  # only for its chalice_client(): nothing else of the stack is started
        self.client = stack.chalice_client()
        self.routes = {label: SqsRoute(self.client, env[q], fn, batch_size=10)
                       for label, (q, _, fn) in FUNCTIONS.items()}
        self.dlqs = {label: self.sqs.get_queue_url(QueueName=env[d])["QueueUrl"]
                     for label, (_, d, _) in FUNCTIONS.items()}

    def send(self, label: str, body, **attrs) -> str:
        text = body if isinstance(body, str) else json.dumps(body)
        extra = {"MessageAttributes": {k: {"DataType": "String", "StringValue": str(v)}
                                       for k, v in attrs.items()}} if attrs else {}
        return self.sqs.send_message(QueueUrl=self.routes[label].queue_url, MessageBody=text,
                                     **extra)["MessageId"]

    def deliver(self, label: str, timeout: float = 60):
        report = self.routes[label].run_until_idle(timeout=timeout)
        assert self.routes[label].pending() == 0, "records left on the queue"
        return report

    def letters(self, label: str) -> list[dict]:
        from hubspot_app.ops.dlq import peek

        return peek(self.sqs, self.dlqs[label])

    def dlq_depth(self, label: str) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.dlqs[label], AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return sum(int(v) for v in attrs.values())

    def purge_dlqs(self) -> None:
        """Empties the DLQs between tests (SQS allows one PurgeQueue a minute: delete instead)."""
        for url in self.dlqs.values():
            while True:
                got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                               VisibilityTimeout=30).get("Messages", [])
                if not got:
                    break
                for m in got:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture(scope="module")
def queues():
    from hubspot_app.config import get_settings, reset_settings
    from hubspot_app.models import bind_shared_table, bind_tables
    from hubspot_app.runtime import forget_services
    from local_stack import resources

    env = {**stage_environment("local"),
           # Failed records come back within a second or two: short tests.
           "PROVISION_RETRY_BASE_SECONDS": "1", "PROVISION_RETRY_MAX_SECONDS": "2",
           "TOKEN_HEALTH_RETRY_BASE_SECONDS": "1", "GLUE_TRIGGER_RETRY_BASE_SECONDS": "1",
           "GLUE_TRIGGER_RETRY_MAX_SECONDS": "2",
           "PROVISION_MAX_RECEIVES": "3", "LIFECYCLE_MAX_RECEIVES": "3",
           "GLUE_TRIGGER_MAX_RECEIVES": "3"}
    with moto_server(env) as url:
        env["AWS_ENDPOINT_URL"] = url
        try:
            reset_settings()
            forget_services()
            bind_tables(get_settings().accounts_table, get_settings().states_table, reconnect=True)
            resources.create_all(env, "local-hubspot-app", "not-a-secret")
            resources.create_provisioning_table(env)
            resources.put_airbyte_secret(env, "local-airbyte-app", "not-a-secret")
            bind_shared_table(env["AIRBYTE_RESOURCES_TABLE"], reconnect=True)
            if env.get("GLUE_JOB_NAME"):  # an uninstall starts the curate job's purge run
                boto3.client("glue").create_job(
                    Name=env["GLUE_JOB_NAME"], Role="arn:aws:iam::123456789012:role/glue",
                    Command={"Name": "glueetl", "ScriptLocation": "s3://lake/glue/curate_job.py"})
            yield Queues(env)
        finally:
            requests.post(f"{url}/moto-api/reset", timeout=10)
    reset_settings()
    forget_services()


@pytest.fixture(autouse=True)
def _empty_dlqs(request):
    if "queues" in request.fixturenames:   # unit tests here start nothing
        request.getfixturevalue("queues").purge_dlqs()
    yield
