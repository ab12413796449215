"""What an account's Airbyte resources should look like, from the stage settings alone.

Names (deterministic, so a lost create can be found again), the source, destination and
connection configurations, the hashes that tell when settings changed, and the drift between
what Airbyte has and what it should have. Pure functions: no AWS or Airbyte calls.
"""
from __future__ import annotations

import hashlib
import json

from hubspot_app.airbyte.streams import Selection, StreamRule, StreamRuleError, parse_rule, select, streams_diff
from hubspot_app.config import Settings
from hubspot_app.errors import Permanent
from hubspot_app.models import Account
from hubspot_app.secrets_store import AppCredentials

# Airbyte's S3 destination path: namespace (= hub_id) / stream / date_epoch_ files.
S3_PATH_FORMAT = "${NAMESPACE}/${STREAM_NAME}/${YEAR}_${MONTH}_${DAY}_${EPOCH}_"


class ProvisionFailed(Permanent):
    """A failure the provisioner cannot fix by retrying (bad config, missing account...)."""


def prefix(settings: Settings) -> str:
    return f"hubspot-pipeline-{settings.stage}"


def source_name(settings: Settings, hub_id: int) -> str:
    return f"{prefix(settings)}-hub-{hub_id}"


def connection_name(settings: Settings, hub_id: int) -> str:
    return f"{prefix(settings)}-hub-{hub_id}-to-s3"


def destination_name(settings: Settings) -> str:
    return f"{prefix(settings)}-s3-lake"


def workspace_name(settings: Settings, hub_id: int | None = None) -> str:
    base = settings.airbyte.workspace_name or prefix(settings)
    return f"{base}-hub-{hub_id}" if settings.airbyte.workspace_per_account else base


def stream_rule(settings: Settings) -> StreamRule:
    try:
        return parse_rule(settings.airbyte.streams)
    except StreamRuleError as exc:  # checked at load; kept for settings built in code
        raise ProvisionFailed(str(exc)) from None


def desired_streams(settings: Settings, properties: list[dict]) -> Selection:
    """The connection's streams from what Airbyte discovered for the account's source (its
    granted scopes decide which streams exist), filtered by AIRBYTE_STREAMS."""
    try:
        chosen = select(stream_rule(settings), properties)
    except StreamRuleError as exc:
        raise ProvisionFailed(str(exc)) from None
    if not chosen.streams:
        raise ProvisionFailed(
            f"no stream to sync: Airbyte discovered {len(properties)} stream(s) for the source "
            f"and AIRBYTE_STREAMS ({stream_rule(settings).canonical()}) leaves none")
    return chosen


def schedule(settings: Settings) -> dict:
    cron = settings.airbyte.schedule_cron.strip()
    return {"scheduleType": "cron", "cronExpression": cron} if cron else {"scheduleType": "manual"}


def source_options(settings: Settings) -> dict:
    try:
        options = json.loads(settings.airbyte.source_options or "{}")
    except ValueError:
        raise ProvisionFailed("AIRBYTE_SOURCE_OPTIONS is not valid JSON") from None
    if not isinstance(options, dict):
        raise ProvisionFailed("AIRBYTE_SOURCE_OPTIONS must be a JSON object")
    options.pop("credentials", None)
    return options


def source_public_config(settings: Settings, creds: AppCredentials) -> dict:
    """The source configuration without its secrets (what Airbyte shows back, and what is hashed)."""
    return {"start_date": settings.airbyte.source_start_date, **source_options(settings),
            "credentials": {"credentials_title": "OAuth Credentials", "client_id": creds.client_id}}


def source_configuration(settings: Settings, creds: AppCredentials, refresh_token: str) -> dict:
    cfg = source_public_config(settings, creds)
    cfg["credentials"] = {**cfg["credentials"], "client_secret": creds.client_secret,
                          "refresh_token": refresh_token}
    return {"sourceType": "hubspot", **cfg}


def destination_configuration(settings: Settings) -> dict:
    if not settings.lake.bucket:
        raise ProvisionFailed("LAKE_BUCKET is not set for this stage")
    cfg = {"destinationType": "s3", "s3_bucket_name": settings.lake.bucket,
           "s3_bucket_path": settings.lake.raw_prefix, "s3_bucket_region": settings.lake.region,
           "s3_path_format": S3_PATH_FORMAT,
           "format": {"format_type": "Parquet", "compression_codec": "UNCOMPRESSED"}}
    if settings.airbyte.s3_role_arn:
        cfg["role_arn"] = settings.airbyte.s3_role_arn
    return cfg


def recorded_stream(item: str) -> dict:
    name, _, mode = item.partition(":")
    return {"name": name, "syncMode": mode}


def record_streams(streams: list[dict]) -> list:  # list[str]; bare for pynamodb's stubs
    """What the account keeps of its connection's streams (reconcile compares with it)."""
    return sorted(f"{s['name']}:{s['syncMode']}" for s in streams)


def connection_settings(settings: Settings, hub_id: int, streams: list[dict] | None = None) -> dict:
    """Everything the connection should have except its source and destination ids; without
    `streams` (not discovered yet), everything but its stream configurations."""
    # With every stream wanted, Airbyte's schema refresh before each sync adds new streams (a
    # new custom object) itself (in full_refresh_overwrite, CatalogConverter's fallback for
    # S3); reconcile then sees them differ from the recorded streams and the repair puts them
    # in their best mode. An include list must not grow: only columns propagate.
    everything = stream_rule(settings).everything
    out = {"name": connection_name(settings, hub_id),
           "namespaceDefinition": "custom_format", "namespaceFormat": str(hub_id),
           "schedule": schedule(settings), "status": "active",
           "nonBreakingSchemaUpdatesBehavior":
               "propagate_fully" if everything else "propagate_columns"}
    if streams is not None:
        out["configurations"] = {"streams": streams}
    return out


def config_hash(settings: Settings, creds: AppCredentials, hub_id: int) -> str:
    """Changes with the stage settings (the stream *rule*, not the discovered streams: those
    are compared with Airbyte's discovery whenever the account is provisioned)."""
    desired = {"source": source_public_config(settings, creds),
               "connection": connection_settings(settings, hub_id),
               "streams": stream_rule(settings).canonical(),
               "destination": destination_configuration(settings)}
    return hashlib.sha256(json.dumps(desired, sort_keys=True).encode()).hexdigest()[:16]


def token_fingerprint(account: Account, creds: AppCredentials) -> str:
    """Changes when the account's refresh token (re-install) or the app's secret changes.
    Built from the *encrypted* token and a hash of the secret: nothing here reveals either."""
    secret_hash = hashlib.sha256(creds.client_secret.encode()).hexdigest()
    raw = f"{account.refresh_token_encrypted}|{secret_hash}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def connection_drift(actual: dict, desired: dict, source_id: str, destination_id: str,
                     recorded_streams: list[str] | None = None) -> list[str]:
    """Names of the settings where the connection in Airbyte differs from the desired one.
    Streams: against the desired ones when `desired` has them (just discovered), else against
    the "name:mode" items the account recorded when it was last provisioned."""
    drift = []
    if actual.get("sourceId") != source_id or actual.get("destinationId") != destination_id:
        drift.append("endpoints")
    for key in ("namespaceDefinition", "namespaceFormat", "status",
                "nonBreakingSchemaUpdatesBehavior"):
        if actual.get(key) != desired[key]:
            drift.append(key)
    act_sched = dict(actual.get("schedule") or {})
    if act_sched.get("cronExpression", "").endswith(" UTC"):
        act_sched["cronExpression"] = act_sched["cronExpression"][:-4]
    if act_sched != desired["schedule"]:
        drift.append("schedule")
    actual_streams = (actual.get("configurations") or {}).get("streams") or []
    wanted = (desired["configurations"]["streams"] if "configurations" in desired
              else [recorded_stream(i) for i in recorded_streams or []] or None)
    diff = streams_diff(actual_streams, wanted) if wanted is not None else None
    if diff:
        drift.append(f"streams ({diff})")
    return drift


# What Airbyte answers in place of a secret (and, for a source under the connector's OAuth
# `advanced_auth`, in place of the client id too: airbyte-platform OAuthConfigSupplier).
AIRBYTE_MASK = "**********"
OAUTH_SOURCE_NAME = "hubspot"  # WorkspaceOAuthCredentialsRequest.name: the source's type


def oauth_fingerprint(creds: AppCredentials) -> str:
    """Changes when the app's client id or secret changes; reveals neither secret nor hash of it
    alone (the secret's hash is hashed again with the id)."""
    secret_hash = hashlib.sha256(creds.client_secret.encode()).hexdigest()
    return hashlib.sha256(f"{creds.client_id}|{secret_hash}".encode()).hexdigest()[:16]


def workspace_oauth_configuration(creds: AppCredentials) -> dict:
    """OAuthCredentialsConfiguration for HubSpot: the connector's
    complete_oauth_server_input_specification (client_id, client_secret); Airbyte flattens it,
    so the api.yaml example's `credentials` wrapper is kept."""
    return {"credentials": {"client_id": creds.client_id, "client_secret": creds.client_secret}}


def _known(value) -> bool:
    return value != AIRBYTE_MASK


def source_drift(actual: dict, public: dict) -> list[str]:
    """Settings that differ; a masked value is unknown, never drift."""
    cfg = actual.get("configuration") or {}
    drift = [k for k, v in public.items()
             if k != "credentials" and _known(cfg.get(k)) and cfg.get(k) != v]
    client_id = (cfg.get("credentials") or {}).get("client_id")
    if _known(client_id) and client_id != public["credentials"]["client_id"]:
        drift.append("client_id")
    return drift
