"""The app's HubSpot credentials, from AWS Secrets Manager (name in stage config).

Cached for a few minutes per Lambda container so a rotation is picked up without a redeploy,
and registered with the log redactor so the secret cannot reach a log line.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

import boto3

from . import logs

_CACHE_SECONDS = 300
_cache: dict[str, tuple[float, "AppCredentials"]] = {}


@dataclass(frozen=True, repr=False)
class AppCredentials:
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never print the secret, even in a traceback
        return f"AppCredentials(client_id={self.client_id!r}, client_secret='***')"


class SecretConfigError(RuntimeError):
    """The secret exists but is not usable; an operator must fix it."""


def get_app_credentials(secret_name: str) -> AppCredentials:
    cached = _cache.get(secret_name)
    if cached and time.monotonic() - cached[0] < _CACHE_SECONDS:
        return cached[1]
    raw = boto3.client("secretsmanager").get_secret_value(SecretId=secret_name)["SecretString"]
    try:
        data = json.loads(raw)
        creds = AppCredentials(client_id=str(data["client_id"]), client_secret=str(data["client_secret"]))
    except (ValueError, KeyError) as exc:
        raise SecretConfigError(
            f"Secret {secret_name} must be JSON with 'client_id' and 'client_secret' "
            f"(see README, 'First deployment')."
        ) from exc
    logs.register_secret(creds.client_secret)
    _cache[secret_name] = (time.monotonic(), creds)
    return creds


def clear_cache() -> None:
    _cache.clear()
