"""hubspot_app.runtime: one Services per container, clients created at first use, tables bound
once, per-container state kept on it (and forgotten with it). No server, no AWS."""
from __future__ import annotations

import json

import pytest

from hubspot_app import config, runtime
from hubspot_app.runtime import Services


def no_aws(service: str):
    raise AssertionError(f"a real {service} client was created")


class SecretsManager:
    def __init__(self, secrets: dict[str, dict]):
        self.secrets, self.calls = secrets, []

    def get_secret_value(self, SecretId):
        self.calls.append(SecretId)
        return {"SecretString": json.dumps(self.secrets[SecretId])}


def test_one_services_per_container_binding_the_tables_once(stage, monkeypatch):
    from hubspot_app import models

    bound = []
    for name in ("bind_tables", "bind_health_tables", "bind_shared_table"):
        real = getattr(models, name)
        monkeypatch.setattr(models, name, lambda *a, _n=name, _r=real, **k: bound.append(_n)
                            or _r(*a, **k))
    first = runtime.services()
    assert runtime.services() is first and runtime.services() is first
    assert sorted(bound) == ["bind_health_tables", "bind_shared_table", "bind_tables"]
    assert models.Account.Meta.table_name == stage.accounts_table
    assert models.UninstallAudit.Meta.table_name == stage.lifecycle.audit_table
    # Settings reset (tests, the local stack): the next call builds a new one, bound again.
    config.reset_settings()
    second = runtime.services()
    assert second is not first and second.settings is config.get_settings()
    assert len(bound) == 6
    runtime.forget_services()
    assert runtime.services() is not second


def test_clients_are_created_at_first_use_and_once(stage):
    made = []
    svc = Services(stage, client_factory=lambda s: made.append(s) or object(), bind_tables=False)
    assert made == []                                  # building it creates no client
    sqs = svc.sqs
    assert svc.sqs is sqs and svc.client("sqs") is sqs and made == ["sqs"]
    lazy = svc.lazy_client("glue")
    assert made == ["sqs"]                             # handed over, not created
    assert not hasattr(lazy, "start_job_run")          # the first use creates it
    assert made == ["sqs", "glue"]
    with pytest.raises(ValueError, match="dynamodb"):
        svc.client("dynamodb")                         # pynamodb's, not ours


def test_queue_urls_are_asked_once(stage):
    class Sqs:
        calls: list[str] = []

        def get_queue_url(self, QueueName):
            self.calls.append(QueueName)
            return {"QueueUrl": f"https://sqs.local/{QueueName}"}

    svc = Services(stage, clients={"sqs": Sqs()}, client_factory=no_aws, bind_tables=False,
                   queue_urls={"known": "https://sqs.local/known"})
    assert svc.queue_url("q") == svc.queue_url("q") == "https://sqs.local/q"
    assert svc.queue_url("known") == "https://sqs.local/known"
    assert Sqs.calls == ["q"]


def test_secrets_are_read_again_after_five_minutes(stage):
    now = [0.0]
    sm = SecretsManager({stage.hubspot.app_secret_name: {"client_id": "cid", "client_secret": "s1"}})
    svc = Services(stage, clients={"secretsmanager": sm}, client_factory=no_aws,
                   clock=lambda: now[0], bind_tables=False)
    assert svc.app_credentials().client_secret == "s1"
    now[0] = runtime.SECRET_SECONDS - 1
    sm.secrets[stage.hubspot.app_secret_name]["client_secret"] = "s2"   # rotated
    assert svc.app_credentials().client_secret == "s1" and len(sm.calls) == 1
    now[0] = runtime.SECRET_SECONDS + 1
    assert svc.app_credentials().client_secret == "s2" and len(sm.calls) == 2
    # The OAuth client follows the credentials (same session until they change).
    oauth = svc.hubspot_oauth()
    assert svc.hubspot_oauth() is oauth and oauth.credentials.client_secret == "s2"


def test_the_airbyte_client_is_kept_and_needs_its_secret(stage):
    from dataclasses import replace

    from hubspot_app.secrets_store import SecretConfigError

    sm = SecretsManager({stage.airbyte.secret_name: {"api_token": "t"}})
    svc = Services(stage, clients={"secretsmanager": sm}, client_factory=no_aws,
                   bind_tables=False)
    client = svc.airbyte()
    assert svc.airbyte() is client and sm.calls == [stage.airbyte.secret_name]
    bare = Services(replace(stage, airbyte=replace(stage.airbyte, secret_name="")), client_factory=no_aws,
                    bind_tables=False)
    assert not bare.airbyte_configured()
    with pytest.raises(SecretConfigError, match="AIRBYTE_SECRET_NAME"):
        bare.airbyte()


def test_alerts_go_to_the_stage_topic_with_the_services_client(stage):
    from dataclasses import replace

    class Sns:
        published: list[dict] = []

        def publish(self, **kw):
            self.published.append(kw)

    settings = replace(stage, alerts=replace(stage.alerts, topic_arn="arn:aws:sns:x:1:alerts",
                                             webhook_secret_name=""))
    svc = Services(settings, clients={"sns": Sns()}, client_factory=no_aws, bind_tables=False)
    result = svc.alert("uninstalled", 7, "info", "offboarded", "nothing to do")
    assert result.delivered_to == ("sns",)
    [sent] = Sns.published
    assert sent["TopicArn"] == "arn:aws:sns:x:1:alerts"
    assert json.loads(sent["Message"])["stage"] == settings.stage
