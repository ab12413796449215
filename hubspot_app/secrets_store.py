"""Secrets from AWS Secrets Manager (names in stage config): the app's HubSpot credentials,
and any other JSON secret (Airbyte's credentials, the alert webhook URL).

Read through the container's Services (hubspot_app.runtime), which keeps them for a few
minutes so a rotation is picked up without a redeploy; the secret values are registered with
the log redactor so they cannot reach a log line.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hubspot_app import logs
from hubspot_app.errors import Permanent


@dataclass(frozen=True, repr=False)
class AppCredentials:
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never print the secret, even in a traceback
        return f"AppCredentials(client_id={self.client_id!r}, client_secret='***')"


class SecretConfigError(RuntimeError, Permanent):
    """The secret exists but is not usable; an operator must fix it."""


def read_secret_json(secretsmanager: Any, secret_name: str,
                     secret_keys: tuple[str, ...] = ()) -> dict:
    """The secret's JSON object; the values of `secret_keys` are masked in every log line."""
    raw = secretsmanager.get_secret_value(SecretId=secret_name)["SecretString"]
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SecretConfigError(f"Secret {secret_name} must hold a JSON object (see README, "
                                f"'First deployment').")
    for key in secret_keys:
        logs.register_secret(str(data.get(key) or ""))
    return data


def app_credentials(secret_name: str, data: dict) -> AppCredentials:
    """The app's credentials from its secret's JSON (read_secret_json)."""
    try:
        return AppCredentials(client_id=str(data["client_id"]), client_secret=str(data["client_secret"]))
    except KeyError:
        raise SecretConfigError(
            f"Secret {secret_name} must be JSON with 'client_id' and 'client_secret' "
            f"(see README, 'First deployment').") from None
