"""The lake's functions: S3 raw/ file events -> few Glue runs, and the hourly backstop run."""
from __future__ import annotations

from hubspot_app.glue_trigger import Config, consume
from hubspot_app.glue_trigger import reconcile as start_backstop_run
from hubspot_app.runtime import Services, services


def glue_trigger(event: dict, svc: Services | None = None) -> dict:
    """A batch of file events; records whose run cannot start now return later (partial batch
    response, hubspot_app.glue_trigger.consume)."""
    svc = svc or services()
    return consume(event, svc.glue, svc.sqs, Config.from_services(svc), source_url=svc.queue_url)


def glue_reconcile(svc: Services | None = None) -> dict:
    svc = svc or services()
    return start_backstop_run(svc.glue, Config.from_services(svc))
