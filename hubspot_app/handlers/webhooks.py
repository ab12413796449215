"""`POST /webhooks/hubspot`: HubSpot-signed (v3) webhooks, verified and acknowledged."""
from __future__ import annotations

import json
import logging

from hubspot_app.runtime import Services, services
from hubspot_app.webhooks import handle_webhook

log = logging.getLogger(__name__)


def webhook_response(method: str, headers: dict, body: bytes, query_params: dict | None,
                     raw_query: str | None = None,
                     svc: Services | None = None) -> tuple[int, str]:
    """The route's answer: (status, JSON body). Any failure is a 503 with no detail: HubSpot
    retries a 5xx, and nothing about the app leaves in the answer."""
    try:
        status, answer = run_webhook(method, headers, body, query_params, raw_query, svc)
    except Exception:
        log.exception("webhook not processed")
        status, answer = 503, {"error": "try_again_later"}
    return status, json.dumps(answer)


def run_webhook(method: str, headers: dict, body: bytes, query_params: dict | None,
                raw_query: str | None = None, svc: Services | None = None) -> tuple[int, dict]:
    """Verify and acknowledge (HubSpot sends no uninstall webhook: the journal poller reads
    uninstalls). The receipts table, for replay protection, is bound by Services."""
    svc = svc or services()
    health = svc.settings.lifecycle
    return handle_webhook(method, headers, body, query_params,
                          svc.app_credentials().client_secret, health.webhook_url,
                          health.hubspot_app_id, raw_query=raw_query)
