"""Token health and offboarding: the scheduled fan-out, the lifecycle queue's worker and the
webhooks-journal poller, wired from Services (the checker, the uninstaller, Airbyte, OAuth)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from hubspot_app import logs
from hubspot_app.config import LifecycleSettings, Settings
from hubspot_app.lifecycle import journal
from hubspot_app.lifecycle.token_health import (
    AirbyteActions,
    ClientAirbyteActions,
    TokenHealthChecker,
    fan_out,
    process_batch,
    queue_spec,
    send_messages,
    uninstall_message,
)
from hubspot_app.lifecycle.uninstall import Uninstaller
from hubspot_app.messaging.consumer import Consumer
from hubspot_app.metrics import emit_metric
from hubspot_app.runtime import Services, services

log = logging.getLogger(__name__)

_FROM_SERVICES = object()  # `airbyte` default: the stage's Airbyte, when it has one


@dataclass
class LifecycleParts:
    """What the checker and the uninstaller share, built once per invocation from Services."""
    services: Services
    oauth: object                     # hubspot_app.hubspot_oauth.HubSpotOAuthClient
    airbyte: AirbyteActions | None    # None: this stage has no Airbyte

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def health(self) -> LifecycleSettings:
        return self.services.settings.lifecycle

    @property
    def airbyte_client(self):
        """The client under `airbyte`: offboarding's lease-protected deprovision uses it."""
        return getattr(self.airbyte, "client", None)

    def uninstaller(self, **kwargs) -> Uninstaller:
        return Uninstaller(self.services, self.airbyte_client, self.oauth, **kwargs)

    def checker(self, health: LifecycleSettings | None = None, settings: Settings | None = None,
                **kwargs) -> TokenHealthChecker:
        """The worker's checker; `health`/`settings` replace the stage's (tests, what-ifs)."""
        svc, health = self.services, health or self.health
        uninstaller = self.uninstaller()
        kwargs.setdefault("limiter", svc.limiter(health.refresh_per_second))
        kwargs.setdefault("kms", svc.lazy_client("kms"))
        kwargs.setdefault("alert", svc.alert)
        kwargs.setdefault("send", lambda items: send_messages(svc, health.queue_name, items))
        return TokenHealthChecker(settings or self.settings, health, self.oauth, self.airbyte,
                                  uninstall=lambda hub_id, source, reason: uninstaller.uninstall(
                                      hub_id, source=source, reason=reason), **kwargs)


def lifecycle_parts(svc: Services | None = None, airbyte=_FROM_SERVICES) -> LifecycleParts:
    """The checker's and the uninstaller's parts: the HubSpot OAuth client (the app's secret
    is read here) and, unless given, the stage's Airbyte actions."""
    svc = svc or services()
    if airbyte is _FROM_SERVICES:
        airbyte = ClientAirbyteActions(svc.airbyte()) if svc.airbyte_configured() else None
    return LifecycleParts(svc, svc.hubspot_oauth(), airbyte)


def token_health_schedule(event: dict, svc: Services | None = None) -> dict:
    """Fan every account out to the lifecycle queue, N hub_ids per message; DLQ depths as
    metrics. No secret is needed to fan out."""
    svc = svc or services()
    s = svc.settings
    summary = fan_out(svc, force=bool((event.get("detail") or {}).get("force")))
    summary["dlq_depth"] = emit_dlq_depths(svc, {"lifecycle": s.lifecycle.dlq_name,
                                                 "provision": s.provisioning.dlq_name,
                                                 "glue_trigger": s.glue.trigger_dlq_name,
                                                 "association_labels": s.associations.dlq_name})
    return summary


def emit_dlq_depths(svc: Services, queues: dict[str, str]) -> dict[str, int]:
    """DlqDepth metric per dead-letter queue (visible + in flight), for the DLQ alarm."""
    depths = {}
    for label, name in queues.items():
        if not name:
            continue
        try:
            attrs = svc.sqs.get_queue_attributes(QueueUrl=svc.queue_url(name), AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        except Exception as exc:  # noqa: BLE001 - a metric must not fail the fan-out
            logs.log_event(log, "DLQ depth not read", logging.WARNING, queue=label,
                           error=type(exc).__name__)
            continue
        depths[label] = sum(int(v) for v in attrs.values())
        emit_metric("DlqDepth", depths[label], "Count", Queue=label)
    return depths


def lifecycle_worker(event: dict, context=None, svc: Services | None = None) -> dict:
    """A batch of the lifecycle queue (token checks, uninstalls): the partial batch response
    (hubspot_app.messaging's consumer: retries, dead letters)."""
    parts = lifecycle_parts(svc)
    svc = parts.services
    consumer = Consumer(queue_spec(parts.health, svc.queue_url(_dlq_name(parts.health))),
                        sqs=svc.sqs, source_url=svc.queue_url)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    response, report = process_batch(
        {"Records": event.get("Records", [])}, parts.checker(), parts.health, consumer=consumer,
        uninstaller=parts.uninstaller().from_message, remaining_ms=remaining,
        send=lambda items: send_messages(svc, parts.health.queue_name, items))
    return {"checked": report.checked, "requeued": report.requeued,
            "uninstalled": report.uninstalled, **consumer.report, **response}


def _dlq_name(health: LifecycleSettings) -> str:
    if not health.dlq_name:
        raise RuntimeError("LIFECYCLE_DLQ_NAME is not set")
    return health.dlq_name


def journal_poller(svc: Services | None = None) -> dict:
    """HubSpot's webhooks journal: APP_UNINSTALL events of known accounts -> the lifecycle
    queue, where the worker offboards them."""
    from pynamodb.exceptions import DoesNotExist

    from hubspot_app.models import Account

    svc = svc or services()
    health = svc.settings.lifecycle
    svc.bind_journal_table()

    def known(hub_id: int) -> bool:
        try:
            Account.get(hub_id)
            return True
        except DoesNotExist:
            return False

    def hand_over(item: journal.Uninstall) -> None:
        send_messages(svc, health.queue_name, [(uninstall_message(
            item.hub_id, "journal", f"HubSpot journal APP_UNINSTALL {item.event_id}".strip(),
            item.occurred_at_ms), 0)])

    report = journal.poll(journal.JournalClient(svc.hubspot_oauth(), svc.app_tokens),
                          journal.PositionStore(lease_seconds=health.journal_lease_seconds),
                          hand_over, known, health.hubspot_app_id,
                          max_entries=health.journal_max_entries)
    emit_metric("JournalEntriesRead", report.entries, "Count")
    emit_metric("JournalUninstalls", report.handed_over, "Count")
    return {"entries": report.entries, "uninstalls": report.uninstalls,
            "handed_over": report.handed_over, "unknown_accounts": report.unknown_accounts,
            "other_events": report.other_events, "skipped": report.skipped}

