"""Operator alerts: an SNS topic and/or a webhook (Slack, PagerDuty, ...), never a token.

An alert says which account (hub_id), what happened, and what to do about it:

    send_alert("token_broken", hub_id=123, severity="error",
               summary="HubSpot refused the refresh token (BAD_REFRESH_TOKEN, confirmed twice)",
               action="Ask the customer to re-install: https://.../install", reason="BAD_REFRESH_TOKEN")

Where alerts go comes from stage config: `ALERTS_TOPIC_ARN` (SNS) and `ALERT_WEBHOOK_SECRET_NAME`
(a Secrets Manager id of `{"url": "..."}`: webhook URLs carry their own credential), which
`Services.alert` (hubspot_app.runtime) passes in with its SNS client. Both may be set; neither
set means alerts are only logged (a WARNING line with `alert` in it).

Safety: the payload is built only from the fields passed here; any field whose name looks like
a credential is dropped, and the final text goes through the log redactor (which masks every
secret and token this process has seen) before it leaves.
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hubspot_app import logs

log = logging.getLogger(__name__)

EVENTS = {
    "token_broken", "token_recovered", "sync_stale", "sync_recovered", "uninstalled",
    "app_credentials_rejected", "health_check_failed",
    "duplicates_converged",  # hubspot_app.lifecycle.provisioner: same-named Airbyte resources, one kept
}
_SECRET_KEY = re.compile(r"token|secret|password|credential|authorization|code_verifier|cookie",
                         re.IGNORECASE)


@dataclass(frozen=True)
class AlertResult:
    delivered_to: tuple[str, ...]
    payload: dict


def build_alert(event: str, hub_id: int | None, severity: str, summary: str, action: str,
                *, stage: str = "", **details) -> dict:
    if event not in EVENTS:
        raise ValueError(f"unknown alert event {event!r}")
    safe = {k: v for k, v in details.items() if v is not None and not _SECRET_KEY.search(k)}
    payload = {
        "event": event,
        "severity": severity,
        "stage": stage,
        "hub_id": int(hub_id) if hub_id is not None else None,
        "summary": summary,
        "action": action,
        "details": safe,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    # Round-trip through the redactor: whatever slipped into a summary is masked.
    return json.loads(logs.redact(json.dumps(payload, default=str)))


def _subject(payload: dict) -> str:
    hub = f" hub {payload['hub_id']}" if payload.get("hub_id") is not None else ""
    stage = f"[{payload['stage']}] " if payload.get("stage") else ""
    # SNS subjects: ASCII, no newlines, at most 100 characters.
    text = f"{stage}{payload['event']}{hub}: {payload['summary']}"
    return text.encode("ascii", "replace").decode().replace("\n", " ")[:100]


def _webhook_url(secret_name: str, secret_json: Callable[..., dict]) -> str:
    from hubspot_app.secrets_store import SecretConfigError

    # A webhook URL is a credential (it often embeds a token): masked in logs like one.
    url = secret_json(secret_name, secret_keys=("url",)).get("url")
    if not url:
        raise SecretConfigError(f"secret {secret_name} must be JSON with 'url'")
    return str(url)


def send_alert(event: str, hub_id: int | None, severity: str, summary: str, action: str, *,
               topic_arn: str = "", webhook_secret_name: str = "", stage: str = "",
               sns: Any = None, secret_json: Callable[..., dict] | None = None,
               **details) -> AlertResult:
    """Build the alert and deliver it to the topic (with the `sns` client) and the webhook
    (its URL read with `secret_json`, Services.secret_json); a failed delivery is logged, never
    raised. Without destinations the alert is only logged."""
    payload = build_alert(event, hub_id, severity, summary, action, stage=stage, **details)
    delivered = []
    body = json.dumps(payload)
    if topic_arn:
        try:
            if sns is None:
                raise RuntimeError("no SNS client given")
            sns.publish(
                TopicArn=topic_arn, Subject=_subject(payload), Message=body,
                MessageAttributes={
                    "event": {"DataType": "String", "StringValue": event},
                    "severity": {"DataType": "String", "StringValue": severity}})
            delivered.append("sns")
        except Exception as exc:  # noqa: BLE001 - an alert must not break the check that sent it
            logs.log_event(log, "alert not delivered to SNS", logging.ERROR, alert=event,
                           error=type(exc).__name__)
    if webhook_secret_name:
        try:
            import requests

            if secret_json is None:
                raise RuntimeError("no secret reader given")
            response = requests.post(_webhook_url(webhook_secret_name, secret_json), data=body,
                                     timeout=5,
                                     headers={"Content-Type": "application/json"})
            if response.status_code >= 300:
                raise RuntimeError(f"HTTP {response.status_code}")
            delivered.append("webhook")
        except Exception as exc:  # noqa: BLE001 - an alert must not break the check that sent it
            # The exception text may hold the URL: log only its type.
            logs.log_event(log, "alert not delivered to the webhook", logging.ERROR, alert=event,
                           error=type(exc).__name__)
    from hubspot_app.metrics import emit_metric

    emit_metric("AlertsSent", 1, "Count", Event=event, Severity=severity)
    logs.log_event(log, f"alert {event}", logging.WARNING if severity != "info" else logging.INFO,
                   hub_id=payload["hub_id"], alert=event, severity=severity,
                   summary=payload["summary"], action=payload["action"],
                   delivered_to=",".join(delivered) or "log only")
    return AlertResult(tuple(delivered), payload)
