"""Structured (JSON) logs with the hub_id of the account at hand, and no secrets.

Every record is one JSON object per line (CloudWatch Logs Insights reads the fields).
Secrets are kept out twice: code never logs a token on purpose, and `redact` scrubs any
value registered with `register_secret` (client secret, tokens seen in this process) and
anything shaped like an OAuth token parameter, in case a library or exception text carries one.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

_hub_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("hub_id", default=None)
_secrets: set[str] = set()
_SECRET_NAMES = r"(?:refresh_token|access_token|client_secret|code_verifier|token|code)"
# `name=value` in a query string or form body, and `"name": "value"` in (escaped) JSON.
_TOKEN_PARAM = re.compile(r"(\b" + _SECRET_NAMES + r"=)[^\s&\"'\\]+")
_TOKEN_JSON = re.compile(r'(\\?"' + _SECRET_NAMES + r'\\?"\s*:\s*\\?")[^"\\]+')
MASK = "***"


def register_secret(value: str | None) -> None:
    """Remember a secret value so that it is masked wherever it would be logged."""
    if value and len(value) >= 6:
        _secrets.add(value)


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _TOKEN_PARAM.sub(lambda m: m.group(1) + MASK, text)
    return _TOKEN_JSON.sub(lambda m: m.group(1) + MASK, text)


def mask_token(token: str | None) -> str:
    """A token shown to a person: enough to tell two apart, not enough to use."""
    if not token:
        return ""
    return f"{token[:4]}…{MASK}" if len(token) > 8 else MASK


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        hub_id = getattr(record, "hub_id", None) or _hub_id.get()
        if hub_id:
            entry["hub_id"] = str(hub_id)
        entry.update(_invocation)
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


def log_event(logger: logging.Logger, message: str, level: int = logging.INFO, /, **fields: object) -> None:
    """Log `message` with extra structured fields (never pass a token here)."""
    logger.log(level, message, extra={"fields": fields})


# The invocation's fields, on every line logged while it runs (any thread: Lambda runs one
# invocation per process at a time, so a process-wide value is the invocation's).
_invocation: dict[str, object] = {}
_cold_start = True


@contextmanager
def invocation(context: object) -> Iterator[None]:
    """Every line logged inside the block carries the invocation's Lambda fields, under the
    names Powertools' Logger uses (so Logs Insights queries carry over): `function_request_id`
    (the context's aws_request_id), `function_name`, `cold_start` (the container's first
    invocation) and `xray_trace_id` (the Root of `_X_AMZN_TRACE_ID`, which Lambda sets per
    invocation: AWS Lambda Developer Guide, "Defined runtime environment variables")."""
    import os

    global _cold_start
    fields: dict[str, object] = {"cold_start": _cold_start}
    _cold_start = False
    for key, attr in (("function_request_id", "aws_request_id"), ("function_name", "function_name")):
        value = getattr(context, attr, None)
        if isinstance(value, str) and value:
            fields[key] = value
    trace = dict(part.split("=", 1) for part in os.environ.get("_X_AMZN_TRACE_ID", "").split(";")
                 if "=" in part)
    if trace.get("Root"):
        fields["xray_trace_id"] = trace["Root"]
    _invocation.clear()
    _invocation.update(fields)
    try:
        yield
    finally:
        _invocation.clear()


@contextmanager
def hub_context(hub_id: int | str | None) -> Iterator[None]:
    """Attach hub_id to every log line written inside the block."""
    token = _hub_id.set(str(hub_id) if hub_id is not None else None)
    try:
        yield
    finally:
        _hub_id.reset(token)


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def configure(level: str | None = None) -> None:
    """Route the root logger through the JSON formatter (idempotent). The level is `level`, else
    the LOG_LEVEL setting (default INFO); an unknown name stops with the fix."""
    import os

    level = (level or os.environ.get("LOG_LEVEL") or "INFO").upper()
    if level not in LEVELS:
        raise RuntimeError(f"LOG_LEVEL={level!r} is not one of {', '.join(LEVELS)}: fix it in "
                           f".chalice/config.json for this stage (see README, 'Settings').")
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            root.setLevel(level)
            return
    # Lambda installs its own handler on the root logger: reuse it with our formatter.
    if root.handlers:
        for handler in root.handlers:
            handler.setFormatter(JsonFormatter())
    else:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "pynamodb", "aws_xray_sdk.core.patcher"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
