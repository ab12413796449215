"""The provisioner (SQS) and the hourly reconcile."""
from __future__ import annotations

from hubspot_app.lifecycle.provision_queue import handle_batch
from hubspot_app.lifecycle.reconcile import run_scheduled
from hubspot_app.runtime import Services, services


def provisioner(event: dict, context=None, svc: Services | None = None) -> dict:
    """Provision messages -> each account's Airbyte source and connection; the partial batch
    response."""
    svc = svc or services()
    return handle_batch(svc, event, context)


def reconcile(svc: Services | None = None) -> dict:
    """Every account compared with Airbyte; repairs queued for drift."""
    svc = svc or services()
    return run_scheduled(svc)
