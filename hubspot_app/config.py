"""Settings, read from environment variables only.

`.chalice/config.json` sets these per stage (local, dev, prod); nothing differs between
stages in code. Secrets are *names* here (Secrets Manager ids), never values.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise RuntimeError(
            f"Environment variable {name} is not set. Set it in .chalice/config.json for this "
            f"stage (see README, 'Settings')."
        )
    return value


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _env_list(name: str, default: str) -> tuple[str, ...]:
    return tuple(part for part in os.environ.get(name, default).replace(",", " ").split() if part)


@dataclass(frozen=True)
class Settings:
    stage: str
    # HubSpot app
    hubspot_authorize_url: str
    hubspot_api_url: str
    hubspot_token_api: str          # "2026-03" (default) or "v1"
    hubspot_v1_fallback: bool       # retry on v1 when the 2026-03 endpoint is missing
    hubspot_scopes: tuple[str, ...]
    hubspot_optional_scopes: tuple[str, ...]
    redirect_uri: str
    app_secret_name: str            # Secrets Manager id of {"client_id", "client_secret"}
    # AWS resources
    accounts_table: str
    states_table: str
    kms_key_id: str
    provision_queue_name: str
    # Behaviour
    state_ttl_seconds: int = 600
    cookie_secure: bool = True
    http_timeout_seconds: float = 10.0


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings(
        stage=_env("STAGE", "local"),
        hubspot_authorize_url=_env("HUBSPOT_AUTHORIZE_URL", "https://app.hubspot.com/oauth/authorize"),
        hubspot_api_url=_env("HUBSPOT_API_URL", "https://api.hubapi.com").rstrip("/"),
        hubspot_token_api=_env("HUBSPOT_TOKEN_API", "2026-03"),
        hubspot_v1_fallback=_env_bool("HUBSPOT_V1_FALLBACK", True),
        hubspot_scopes=_env_list("HUBSPOT_SCOPES", "oauth crm.objects.contacts.read"),
        hubspot_optional_scopes=_env_list("HUBSPOT_OPTIONAL_SCOPES", ""),
        redirect_uri=_env("HUBSPOT_REDIRECT_URI"),
        app_secret_name=_env("APP_SECRET_NAME"),
        accounts_table=_env("ACCOUNTS_TABLE"),
        states_table=_env("STATES_TABLE"),
        kms_key_id=_env("KMS_KEY_ID"),
        provision_queue_name=_env("PROVISION_QUEUE_NAME"),
        state_ttl_seconds=int(_env("OAUTH_STATE_TTL_SECONDS", "600")),
        cookie_secure=_env_bool("COOKIE_SECURE", True),
        http_timeout_seconds=float(_env("HTTP_TIMEOUT_SECONDS", "10")),
    )


def reset_settings() -> None:
    """Forget cached settings (tests and the local stack change the environment)."""
    get_settings.cache_clear()
