"""The provisioner: make sure an account has its HubSpot source and its connection to the shared
S3 destination in Airbyte, exactly once, whatever order or number of messages arrive.

How "exactly once" holds:
- A lease on the account item (conditional write) lets one worker at a time act for an account;
  a concurrent duplicate message finds it held and comes back later (by then there is nothing
  left to do).
- Ids are stored on the account as soon as Airbyte returns them. Before each create a "create
  intended" time is written; a retry that finds the mark but no id (a crash, a timeout or a lost
  response after the create) first looks the resource up by its deterministic name in Airbyte.
- The shared workspace and destination are created once under the same lease + intent scheme
  on the small `SharedResource` table, and cached per container.
- Ids on the account are checked against Airbyte (GET) on every non-trivial run, so a resource
  deleted in Airbyte is recreated and changed settings are patched back (convergent).

Failures are classified (see airbyte_client): transient ones make the SQS message return with a
growing delay; permanent ones, and transient ones on the last allowed receive, send the message
to the dead-letter queue with the reason attached. The account's status and
`provisioning_history` say what happened.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import boto3
from pynamodb.exceptions import DoesNotExist, UpdateError

from . import logs
from .airbyte_client import (AirbyteClient, AirbyteError, AirbyteNotFound, AirbytePermanentError,
                             AirbyteTransientError, client_from_settings)
from .config import Settings
from .models import (Account, AccountStatus, ProvisionEvent, SharedResource, bind_shared_table,
                     bind_tables, utcnow)
from .secrets_store import AppCredentials, SecretConfigError, get_app_credentials
from .token_crypto import TokenDecryptError, decrypt_token
from .metrics import emit_metric
from .tracing import subsegment, trace_root

log = logging.getLogger(__name__)

HISTORY_KEEP = 50
S3_PATH_FORMAT = "${NAMESPACE}/${STREAM_NAME}/${YEAR}_${MONTH}_${DAY}_${EPOCH}_"
_SHARED_CACHE_SECONDS = 300
_shared_cache: dict[str, tuple[float, str]] = {}


_clients: dict[str, object] = {}


def _kms():
    """One KMS client per container (creating a boto3 client costs more than the call)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    key = f"kms|{endpoint}"
    if key not in _clients:
        _clients[key] = boto3.client("kms")
    return _clients[key]


# -- errors ---------------------------------------------------------------------------------
class ProvisionFailed(Exception):
    """A failure the provisioner cannot fix by retrying (bad config, missing account...)."""


class Busy(Exception):
    """Another worker holds the lease for this account or shared resource."""

    def __init__(self, message: str, retry_after: int, lease_started_at: datetime | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.lease_started_at = lease_started_at  # the holder's view of the account is this new


PERMANENT = (ProvisionFailed, AirbytePermanentError, SecretConfigError, TokenDecryptError)
TRANSIENT = (AirbyteTransientError, Busy)


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, PERMANENT)


# -- what the account should have -------------------------------------------------------------
def prefix(settings: Settings) -> str:
    return f"hubspot-pipeline-{settings.stage}"


def source_name(settings: Settings, hub_id: int) -> str:
    return f"{prefix(settings)}-hub-{hub_id}"


def connection_name(settings: Settings, hub_id: int) -> str:
    return f"{prefix(settings)}-hub-{hub_id}-to-s3"


def destination_name(settings: Settings) -> str:
    return f"{prefix(settings)}-s3-lake"


def workspace_name(settings: Settings, hub_id: int | None = None) -> str:
    base = settings.airbyte_workspace_name or prefix(settings)
    return f"{base}-hub-{hub_id}" if settings.airbyte_workspace_per_account else base


def streams(settings: Settings) -> list[dict]:
    out = []
    for item in settings.airbyte_streams:
        name, _, mode = item.partition(":")
        out.append({"name": name, "syncMode": mode or "full_refresh_overwrite"})
    if not out:
        raise ProvisionFailed("AIRBYTE_STREAMS is empty: configure at least one stream")
    return out


def schedule(settings: Settings) -> dict:
    cron = settings.airbyte_schedule_cron.strip()
    return {"scheduleType": "cron", "cronExpression": cron} if cron else {"scheduleType": "manual"}


def source_options(settings: Settings) -> dict:
    try:
        options = json.loads(settings.airbyte_source_options or "{}")
    except ValueError:
        raise ProvisionFailed("AIRBYTE_SOURCE_OPTIONS is not valid JSON") from None
    if not isinstance(options, dict):
        raise ProvisionFailed("AIRBYTE_SOURCE_OPTIONS must be a JSON object")
    options.pop("credentials", None)
    return options


def source_public_config(settings: Settings, creds: AppCredentials) -> dict:
    """The source configuration without its secrets (what Airbyte shows back, and what is hashed)."""
    return {"start_date": settings.airbyte_source_start_date, **source_options(settings),
            "credentials": {"credentials_title": "OAuth Credentials", "client_id": creds.client_id}}


def source_configuration(settings: Settings, creds: AppCredentials, refresh_token: str) -> dict:
    cfg = source_public_config(settings, creds)
    cfg["credentials"] = {**cfg["credentials"], "client_secret": creds.client_secret,
                          "refresh_token": refresh_token}
    return {"sourceType": "hubspot", **cfg}


def destination_configuration(settings: Settings) -> dict:
    if not settings.lake_bucket:
        raise ProvisionFailed("LAKE_BUCKET is not set for this stage")
    cfg = {"destinationType": "s3", "s3_bucket_name": settings.lake_bucket,
           "s3_bucket_path": settings.lake_raw_prefix, "s3_bucket_region": settings.lake_region,
           "s3_path_format": S3_PATH_FORMAT,
           "format": {"format_type": "Parquet", "compression_codec": "UNCOMPRESSED"}}
    if settings.airbyte_s3_role_arn:
        cfg["role_arn"] = settings.airbyte_s3_role_arn
    return cfg


def connection_settings(settings: Settings, hub_id: int) -> dict:
    """Everything the connection should have except its source and destination ids."""
    return {"name": connection_name(settings, hub_id),
            "namespaceDefinition": "custom_format", "namespaceFormat": str(hub_id),
            "configurations": {"streams": streams(settings)}, "schedule": schedule(settings),
            "status": "active", "nonBreakingSchemaUpdatesBehavior": "propagate_columns"}


def config_hash(settings: Settings, creds: AppCredentials, hub_id: int) -> str:
    desired = {"source": source_public_config(settings, creds),
               "connection": connection_settings(settings, hub_id),
               "destination": destination_configuration(settings)}
    return hashlib.sha256(json.dumps(desired, sort_keys=True).encode()).hexdigest()[:16]


def token_fingerprint(account: Account, creds: AppCredentials) -> str:
    """Changes when the account's refresh token (re-install) or the app's secret changes.
    Built from the *encrypted* token and a hash of the secret: nothing here reveals either."""
    secret_hash = hashlib.sha256(creds.client_secret.encode()).hexdigest()
    raw = f"{account.refresh_token_encrypted}|{secret_hash}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def connection_drift(actual: dict, desired: dict, source_id: str, destination_id: str) -> list[str]:
    """Names of the settings where the connection in Airbyte differs from the desired one."""
    drift = []
    if actual.get("sourceId") != source_id or actual.get("destinationId") != destination_id:
        drift.append("endpoints")
    for key in ("namespaceDefinition", "namespaceFormat", "status"):
        if actual.get(key) != desired[key]:
            drift.append(key)
    act_sched = dict(actual.get("schedule") or {})
    if act_sched.get("cronExpression", "").endswith(" UTC"):
        act_sched["cronExpression"] = act_sched["cronExpression"][:-4]
    if act_sched != desired["schedule"]:
        drift.append("schedule")
    have = {(s.get("name"), s.get("syncMode"))
            for s in ((actual.get("configurations") or {}).get("streams") or [])}
    want = {(s["name"], s["syncMode"]) for s in desired["configurations"]["streams"]}
    if have != want:
        drift.append("streams")
    return drift


def source_drift(actual: dict, public: dict) -> list[str]:
    cfg = actual.get("configuration") or {}
    drift = [k for k, v in public.items() if k != "credentials" and cfg.get(k) != v]
    if (cfg.get("credentials") or {}).get("client_id") != public["credentials"]["client_id"]:
        drift.append("client_id")
    return drift


# -- helpers ----------------------------------------------------------------------------------
def _event(name: str, detail: str | None = None, message_id: str | None = None,
           receive_count: int | None = None) -> ProvisionEvent:
    return ProvisionEvent(at=utcnow(), event=name, detail=(detail or "")[:500] or None,
                          message_id=message_id, receive_count=receive_count)


def _history_action(account: Account, event: ProvisionEvent):
    """Append to the history, trimming it when it grew past HISTORY_KEEP (under the lease)."""
    history = list(account.provisioning_history or [])
    if len(history) >= HISTORY_KEEP:
        return Account.provisioning_history.set(history[-(HISTORY_KEEP - 1):] + [event])
    return Account.provisioning_history.set((Account.provisioning_history | []).append([event]))


def _condition_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", "") == "ConditionalCheckFailedException"


def _find_by_name(items, name: str, **match) -> dict | None:
    found = [i for i in items if i.get("name") == name
             and all(i.get(k) == v for k, v in match.items())]
    if len(found) > 1:
        logs.log_event(log, "duplicate Airbyte resources with one name", logging.WARNING,
                       name=name, count=len(found))
    return found[0] if found else None


@dataclass
class Outcome:
    hub_id: int
    result: str                     # unchanged, provisioned, updated, verified, skipped, ...
    changes: list[str] = field(default_factory=list)
    source_id: str | None = None
    connection_id: str | None = None


# -- shared resources (workspace, destination) -----------------------------------------------
def ensure_shared(settings: Settings, key: str, owner: str, find, create, verify=None) -> str:
    """The id of a resource many accounts share, created at most once across all workers."""
    cached = _shared_cache.get(key)
    if cached and time.monotonic() - cached[0] < _SHARED_CACHE_SECONDS:
        return cached[1]
    bind_shared_table(settings.airbyte_resources_table)
    try:
        item = SharedResource.get(key, consistent_read=True)
    except DoesNotExist:
        item = None
    if item is not None and item.resource_id:
        if verify is None or verify(item.resource_id):
            _shared_cache[key] = (time.monotonic(), item.resource_id)
            return item.resource_id
        # Deleted in Airbyte: forget it (only if nobody replaced it meanwhile), then recreate.
        logs.log_event(log, "shared Airbyte resource is gone; recreating", logging.WARNING, key=key)
        try:
            item.update(actions=[SharedResource.resource_id.remove()],
                        condition=SharedResource.resource_id == item.resource_id)
        except UpdateError as exc:
            if not _condition_failed(exc):
                raise
        return ensure_shared(settings, key, owner, find, create, verify)
    had_intent = item is not None and item.intent_at is not None
    now = utcnow()
    try:
        SharedResource(key=key).update(
            actions=[SharedResource.lease_owner.set(owner),
                     SharedResource.lease_until.set(now + timedelta(seconds=60)),
                     SharedResource.intent_at.set(now), SharedResource.updated_at.set(now)],
            condition=SharedResource.resource_id.does_not_exist() & (
                SharedResource.lease_owner.does_not_exist() | (SharedResource.lease_until < now)
                | (SharedResource.lease_owner == owner)))
    except UpdateError as exc:
        if not _condition_failed(exc):
            raise
        item = SharedResource.get(key, consistent_read=True)
        if item.resource_id:
            _shared_cache[key] = (time.monotonic(), item.resource_id)
            return item.resource_id
        raise Busy(f"{key} is being created by another worker", retry_after=5) from None
    try:
        resource = find() if had_intent else None
        if resource is None:
            resource = create()
            logs.log_event(log, "shared Airbyte resource created", key=key, resource_id=resource)
    except BaseException:
        # Let the next worker try at once (the intent mark stays: it will look before creating).
        try:
            SharedResource(key=key).update(
                actions=[SharedResource.lease_owner.remove(), SharedResource.lease_until.remove()],
                condition=SharedResource.lease_owner == owner)
        except UpdateError:
            pass
        raise
    SharedResource(key=key).update(
        actions=[SharedResource.resource_id.set(resource), SharedResource.lease_owner.remove(),
                 SharedResource.lease_until.remove(), SharedResource.updated_at.set(utcnow())],
        condition=SharedResource.lease_owner == owner)
    _shared_cache[key] = (time.monotonic(), resource)
    return resource


def ensure_workspace(settings: Settings, client: AirbyteClient, owner: str, hub_id: int) -> str:
    if settings.airbyte_workspace_id and not settings.airbyte_workspace_per_account:
        return settings.airbyte_workspace_id
    name = workspace_name(settings, hub_id)

    def exists(workspace_id: str) -> bool:
        try:
            client.get_workspace(workspace_id)
            return True
        except AirbyteNotFound:
            return False

    return ensure_shared(
        settings, f"workspace:{name}", owner,
        find=lambda: (_find_by_name(client.list_workspaces(), name) or {}).get("workspaceId"),
        create=lambda: client.create_workspace(name)["workspaceId"], verify=exists)


def ensure_destination(settings: Settings, client: AirbyteClient, owner: str,
                       workspace_id: str) -> str:
    if settings.airbyte_destination_id and not settings.airbyte_workspace_per_account:
        return settings.airbyte_destination_id
    name = destination_name(settings)

    def exists(destination_id: str) -> bool:
        try:
            client.get_destination(destination_id)
            return True
        except AirbyteNotFound:
            return False

    return ensure_shared(
        settings, f"destination:{workspace_id}", owner,
        find=lambda: (_find_by_name(client.list_destinations(workspace_id), name)
                      or {}).get("destinationId"),
        create=lambda: client.create_destination(workspace_id, name,
                                                 destination_configuration(settings))[
            "destinationId"],
        verify=exists)


def forget_shared_cache() -> None:
    _shared_cache.clear()


# -- the account ------------------------------------------------------------------------------
class _Run:
    """One provisioning run for one account, holding its lease."""

    def __init__(self, settings: Settings, client: AirbyteClient, account: Account, owner: str,
                 creds: AppCredentials):
        self.settings, self.client, self.account, self.owner = settings, client, account, owner
        self.creds = creds
        self.hub_id = int(account.hub_id)
        self.changes: list[str] = []
        self._token: str | None = None
        self.connection_intent_written = False

    # The refresh token is decrypted only when it must be sent to Airbyte.
    def refresh_token(self) -> str:
        if self._token is None:
            self._token = decrypt_token(self.account.refresh_token_encrypted, self.hub_id,
                                        kms=_kms())
            logs.register_secret(self._token)
        return self._token

    def _owned(self):
        return Account.provision_lease_owner == self.owner

    def _save(self, *actions) -> None:
        try:
            Account(hub_id=self.hub_id).update(actions=list(actions), condition=self._owned())
        except UpdateError as exc:
            if _condition_failed(exc):
                raise Busy("lease lost while provisioning", retry_after=5) from None
            raise

    def ensure_source(self, workspace_id: str, fingerprint: str, had_intent: bool) -> str:
        client, name = self.client, source_name(self.settings, self.hub_id)
        public = source_public_config(self.settings, self.creds)
        source_id = self.account.airbyte_source_id
        if source_id:
            try:
                actual = client.get_source(source_id)
            except AirbyteNotFound:
                actual = None
                self.changes.append("source recreated (was deleted in Airbyte)")
            if actual is not None:
                drift = source_drift(actual, public)
                if self.account.airbyte_token_fingerprint != fingerprint:
                    drift.append("refresh_token")
                if drift:
                    with subsegment("airbyte.update_source", hub_id=self.hub_id):
                        client.update_source(source_id, self._source_config())
                    self.changes.append("source updated: " + ", ".join(drift))
                return source_id
        if had_intent or source_id:
            # A create may have happened without us hearing of it: look before creating.
            found = _find_by_name(client.list_sources(workspace_id), name)
            if found:
                client.update_source(found["sourceId"], self._source_config())
                self.changes.append("source adopted (found by name)")
                self._save(Account.airbyte_source_id.set(found["sourceId"]))
                return found["sourceId"]
        if not had_intent:
            self._save(Account.airbyte_source_intent_at.set(utcnow()))
        with subsegment("airbyte.create_source", hub_id=self.hub_id):
            created = client.create_source(workspace_id, name, self._source_config())
        self.changes.append("source created")
        # One write: the new id, and the connection's "create intended" mark for the next step.
        self._save(Account.airbyte_source_id.set(created["sourceId"]),
                   Account.airbyte_connection_intent_at.set(utcnow()))
        self.connection_intent_written = True
        return created["sourceId"]

    def _source_config(self) -> dict:
        return source_configuration(self.settings, self.creds, self.refresh_token())

    def ensure_connection(self, workspace_id: str, source_id: str, destination_id: str,
                          had_intent: bool) -> str:
        client = self.client
        desired = connection_settings(self.settings, self.hub_id)
        connection_id = self.account.airbyte_connection_id
        if connection_id:
            try:
                actual = client.get_connection(connection_id)
            except AirbyteNotFound:
                actual = None
            if actual is not None and actual.get("status") == "deprecated":
                actual = None  # deleted in Airbyte (a deleted connection still answers GET)
            if actual is not None and "endpoints" in connection_drift(actual, desired, source_id,
                                                                      destination_id):
                client.delete_connection(connection_id)  # points at an old source: replace it
                actual = None
            if actual is None:
                self.changes.append("connection recreated (was deleted in Airbyte)")
            else:
                drift = connection_drift(actual, desired, source_id, destination_id)
                if drift:
                    with subsegment("airbyte.update_connection", hub_id=self.hub_id):
                        client.update_connection(connection_id, desired)
                    self.changes.append("connection updated: " + ", ".join(drift))
                return connection_id
        if had_intent or connection_id:
            found = _find_by_name(
                (c for c in client.list_connections(workspace_id) if c.get("status") != "deprecated"),
                desired["name"], sourceId=source_id, destinationId=destination_id)
            if found:
                if connection_drift(found, desired, source_id, destination_id):
                    client.update_connection(found["connectionId"], desired)
                self.changes.append("connection adopted (found by name)")
                return found["connectionId"]
        if not had_intent and not self.connection_intent_written:
            self._save(Account.airbyte_connection_intent_at.set(utcnow()))
        with subsegment("airbyte.create_connection", hub_id=self.hub_id):
            created = client.create_connection({**desired, "sourceId": source_id,
                                                "destinationId": destination_id})
        self.changes.append("connection created")
        return created["connectionId"]


def _acquire_lease(settings: Settings, account: Account, owner: str) -> None:
    now = utcnow()
    actions = [Account.provision_lease_owner.set(owner),
               Account.provision_lease_until.set(now + timedelta(seconds=settings.provision_lease_seconds)),
               Account.provision_attempts.add(1)]
    if account.status in (AccountStatus.INSTALLED, AccountStatus.PROVISIONING_FAILED):
        actions.append(Account.status.set(AccountStatus.PROVISIONING))
    # The status must still be the one read (an uninstall in between wins).
    condition = (Account.hub_id.exists() & (Account.status == account.status) & (
        Account.provision_lease_owner.does_not_exist() | (Account.provision_lease_until < now)
        | (Account.provision_lease_owner == owner)))
    try:
        # Updates `account` in place (ALL_NEW): the run works from the item as of its lease, so
        # any message sent before the lease began is covered by this run.
        account.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if not _condition_failed(exc):
            raise
        current = Account.get(account.hub_id, consistent_read=True)
        until = current.provision_lease_until
        if current.provision_lease_owner is None or until is None or until <= now:
            raise Busy(f"account changed while starting (status {current.status})",
                       retry_after=2) from None
        wait = int((until - now).total_seconds()) + 1
        raise Busy(f"account is being provisioned by another worker (status {current.status})",
                   retry_after=max(2, min(wait, 60)),
                   lease_started_at=until - timedelta(seconds=settings.provision_lease_seconds)
                   ) from None


def load_account(settings: Settings, hub_id: int) -> Account:
    bind_tables(settings.accounts_table, settings.states_table)
    try:
        return Account.get(int(hub_id), consistent_read=True)
    except DoesNotExist:
        raise ProvisionFailed(f"no account with hub_id {hub_id} (uninstalled and deleted, or "
                              f"the message names a wrong hub)") from None


def provision(settings: Settings, hub_id: int, *, owner: str | None = None, verify: bool = False,
              message_id: str | None = None, receive_count: int | None = None,
              client: AirbyteClient | None = None) -> Outcome:
    """Bring one account's Airbyte resources to the desired state (idempotent)."""
    owner = owner or f"run-{uuid.uuid4().hex[:12]}"
    account = load_account(settings, hub_id)
    if account.status in (AccountStatus.UNINSTALLED, AccountStatus.NEEDS_REAUTH):
        logs.log_event(log, "provisioning skipped", status=account.status)
        return Outcome(int(hub_id), "skipped", [f"status {account.status}"])
    creds = get_app_credentials(settings.app_secret_name)
    wanted_hash = config_hash(settings, creds, int(hub_id))
    fingerprint = token_fingerprint(account, creds)
    if (not verify and account.status == AccountStatus.ACTIVE and account.airbyte_connection_id
            and account.airbyte_source_id and account.airbyte_config_hash == wanted_hash
            and account.airbyte_token_fingerprint == fingerprint):
        logs.log_event(log, "already provisioned", connection_id=account.airbyte_connection_id)
        return Outcome(int(hub_id), "unchanged", [], account.airbyte_source_id,
                       account.airbyte_connection_id)
    client = client or client_from_settings(settings)
    _acquire_lease(settings, account, owner)
    run = _Run(settings, client, account, owner, creds)
    try:
        with subsegment("airbyte.provision", hub_id=int(hub_id)):
            workspace_id = ensure_workspace(settings, client, owner, int(hub_id))
            destination_id = ensure_destination(settings, client, owner, workspace_id)
            source_id = run.ensure_source(workspace_id, fingerprint,
                                          had_intent=account.airbyte_source_intent_at is not None)
            connection_id = run.ensure_connection(
                workspace_id, source_id, destination_id,
                had_intent=account.airbyte_connection_intent_at is not None)
    except Busy:
        release_lease(int(hub_id), owner)
        raise
    first = account.status != AccountStatus.ACTIVE and not account.provisioned_at
    result = "provisioned" if first else ("updated" if run.changes else "verified")
    now = utcnow()
    run._save(Account.status.set(AccountStatus.ACTIVE),
              Account.airbyte_workspace_id.set(workspace_id),
              Account.airbyte_destination_id.set(destination_id),
              Account.airbyte_source_id.set(source_id),
              Account.airbyte_connection_id.set(connection_id),
              Account.airbyte_config_hash.set(wanted_hash),
              Account.airbyte_token_fingerprint.set(fingerprint),
              Account.airbyte_source_intent_at.remove(),
              Account.airbyte_connection_intent_at.remove(),
              Account.provision_error.remove(),
              Account.provision_lease_owner.remove(), Account.provision_lease_until.remove(),
              Account.provisioned_at.set(account.provisioned_at or now),
              Account.updated_at.set(now),
              _history_action(account, _event(result, "; ".join(run.changes) or None,
                                              message_id, receive_count)))
    logs.log_event(log, f"account {result}", source_id=source_id, connection_id=connection_id,
                   changes=run.changes)
    return Outcome(int(hub_id), result, run.changes, source_id, connection_id)


def deprovision(settings: Settings, hub_id: int, *, owner: str | None = None,
                message_id: str | None = None, receive_count: int | None = None,
                client: AirbyteClient | None = None) -> Outcome:
    """For an uninstalled account: delete (or pause) its connection, and delete its source."""
    owner = owner or f"run-{uuid.uuid4().hex[:12]}"
    account = load_account(settings, hub_id)
    if account.status != AccountStatus.UNINSTALLED:
        return Outcome(int(hub_id), "skipped", [f"status {account.status} (re-installed?)"])
    if not account.airbyte_connection_id and not account.airbyte_source_id:
        return Outcome(int(hub_id), "unchanged")
    client = client or client_from_settings(settings)
    _acquire_lease(settings, account, owner)
    run = _Run(settings, client, account, owner, creds=None)  # type: ignore[arg-type]
    changes, actions = [], []
    pause = settings.reconcile_uninstalled_action == "pause"
    if account.airbyte_connection_id:
        try:
            if pause:
                client.update_connection(account.airbyte_connection_id, {"status": "inactive"})
                changes.append("connection paused")
            else:
                client.delete_connection(account.airbyte_connection_id)
                changes.append("connection deleted")
        except AirbyteNotFound:
            changes.append("connection already gone")
        if not pause:
            actions.append(Account.airbyte_connection_id.remove())
    if account.airbyte_source_id and not pause:
        try:
            client.delete_source(account.airbyte_source_id)  # it holds the revoked refresh token
            changes.append("source deleted")
        except AirbyteNotFound:
            changes.append("source already gone")
        actions.append(Account.airbyte_source_id.remove())
    result = "paused" if pause else "deprovisioned"
    run._save(*actions, Account.airbyte_config_hash.remove(),
              Account.provision_lease_owner.remove(), Account.provision_lease_until.remove(),
              Account.updated_at.set(utcnow()),
              _history_action(account, _event(result, "; ".join(changes), message_id,
                                              receive_count)))
    logs.log_event(log, f"account {result}", changes=changes)
    return Outcome(int(hub_id), result, changes)


def release_lease(hub_id: int, owner: str) -> None:
    try:
        Account(hub_id=int(hub_id)).update(
            actions=[Account.provision_lease_owner.remove(), Account.provision_lease_until.remove()],
            condition=Account.provision_lease_owner == owner)
    except UpdateError as exc:
        if not _condition_failed(exc):
            raise


def record_failure(settings: Settings, hub_id: int, owner: str, exc: BaseException, *,
                   final: bool, message_id: str | None, receive_count: int | None,
                   retry_in: int | None = None) -> None:
    """Write the failure on the account (status, last error, history) and release our lease."""
    now = utcnow()
    reason = describe_error(exc)
    try:
        account = Account.get(int(hub_id), consistent_read=True)
    except DoesNotExist:
        return
    if final:
        event = _event("dead-lettered" if not is_permanent(exc) else "failed", reason,
                       message_id, receive_count)
    else:
        event = _event("retrying", f"{reason} (next try in {retry_in}s)", message_id, receive_count)
    actions = [Account.provision_error.set(reason[:1000]), Account.updated_at.set(now),
               _history_action(account, event)]
    if final and account.status in (AccountStatus.INSTALLED, AccountStatus.PROVISIONING):
        actions.append(Account.status.set(AccountStatus.PROVISIONING_FAILED))
    if account.provision_lease_owner == owner:
        actions += [Account.provision_lease_owner.remove(), Account.provision_lease_until.remove()]
    try:
        Account(hub_id=int(hub_id)).update(actions=actions, condition=(
            Account.provision_lease_owner.does_not_exist() | (Account.provision_lease_owner == owner)
            | (Account.provision_lease_until < now)))
    except UpdateError as exc2:
        if not _condition_failed(exc2):
            raise


def describe_error(exc: BaseException) -> str:
    kind = "permanent" if is_permanent(exc) else "transient"
    return logs.redact(f"{kind}: {type(exc).__name__}: {exc}")[:1000]


# -- the SQS handler --------------------------------------------------------------------------
def retry_delay(settings: Settings, receive_count: int) -> int:
    base = settings.provision_retry_base_seconds * 2 ** max(0, receive_count - 1)
    delay = min(settings.provision_retry_max_seconds, base)
    return max(1, round(delay * random.uniform(0.8, 1.2))) if delay else 0


def _queue_url_from_arn(arn: str) -> str:
    from .queues import queue_url

    return queue_url(arn.rsplit(":", 1)[-1])


def dead_letter(settings: Settings, record: dict, reason: str, kind: str, receive_count: int,
                hub_id: int | None) -> None:
    """Put the message on the DLQ with why it failed (the caller then lets the original go)."""
    from .queues import queue_url

    if not settings.provision_dlq_name:
        raise RuntimeError("PROVISION_DLQ_NAME is not set")
    attrs = {
        "error": {"DataType": "String", "StringValue": reason[:1000] or "unknown"},
        "error_kind": {"DataType": "String", "StringValue": kind},
        "receive_count": {"DataType": "Number", "StringValue": str(receive_count)},
        "failed_at": {"DataType": "String", "StringValue": utcnow().isoformat(timespec="seconds")},
        "source_queue": {"DataType": "String",
                         "StringValue": record.get("eventSourceARN", "").rsplit(":", 1)[-1] or "?"},
        "original_message_id": {"DataType": "String", "StringValue": record["messageId"]},
    }
    if hub_id is not None:
        attrs["hub_id"] = {"DataType": "Number", "StringValue": str(hub_id)}
    boto3.client("sqs").send_message(QueueUrl=queue_url(settings.provision_dlq_name),
                                     MessageBody=record["body"], MessageAttributes=attrs)


def handle_record(settings: Settings, record: dict) -> bool:
    """Process one SQS record; True when it is done (handled or dead-lettered)."""
    message_id = record["messageId"]
    receive_count = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
    try:
        body = json.loads(record["body"])
        hub_id = int(body["hub_id"])
    except (ValueError, KeyError, TypeError):
        logs.log_event(log, "malformed provision message", logging.ERROR, message_id=message_id)
        dead_letter(settings, record, "permanent: malformed message (needs hub_id)", "permanent",
                    receive_count, None)
        return True
    owner = f"{message_id}:{uuid.uuid4().hex[:8]}"
    install_trace = trace_root((record.get("attributes") or {}).get("AWSTraceHeader"))
    with logs.hub_context(hub_id), subsegment("provision_message", hub_id=hub_id,
                                              sender_trace_id=install_trace):
        try:
            if body.get("type") == "deprovision":
                outcome = deprovision(settings, hub_id, owner=owner, message_id=message_id,
                                      receive_count=receive_count)
            else:
                outcome = provision(settings, hub_id, owner=owner, verify=bool(body.get("verify")),
                                    message_id=message_id, receive_count=receive_count)
            logs.log_event(log, "provision message handled", result=outcome.result,
                           message_id=message_id, receive_count=receive_count,
                           reason=body.get("reason"), sender_trace_id=install_trace)
            emit_metric("ProvisionResults", 1, "Count", Result=outcome.result, hub_id=hub_id)
            return True
        except Busy as exc:
            # Not an error: another worker is on it. If this message is older than that worker's
            # lease, the worker read the account after the message was sent: nothing is left
            # for this one to do. Otherwise come back when the lease ends.
            sent_ms = (record.get("attributes") or {}).get("SentTimestamp")
            if exc.lease_started_at and sent_ms and \
                    int(sent_ms) / 1000 < exc.lease_started_at.timestamp() - 0.5:
                logs.log_event(log, "duplicate message covered by the running provisioning",
                               message_id=message_id, receive_count=receive_count)
                return True
            if receive_count >= settings.provision_max_receives:
                # Still busy after every try (the holder crashed and its lease has not run out):
                # the holder's own message returns and finishes the work; should this message
                # have carried something newer, reconcile's drift check catches it.
                logs.log_event(log, "duplicate message dropped: account still leased",
                               logging.WARNING, message_id=message_id, receive_count=receive_count)
                return True
            delay = min(exc.retry_after, round(2 ** receive_count * random.uniform(0.8, 1.2)))
            logs.log_event(log, "account busy; message returns later", message_id=message_id,
                           retry_in=delay)
            _delay(record, delay)
            return False
        except Exception as exc:  # noqa: BLE001 - classified below; bugs count as transient
            return _fail(settings, record, hub_id, owner, exc, receive_count, message_id)


def _fail(settings, record, hub_id, owner, exc, receive_count, message_id) -> bool:
    reason = describe_error(exc)
    final = is_permanent(exc) or receive_count >= settings.provision_max_receives
    delay = None if final else retry_delay(settings, receive_count)
    logs.log_event(log, "provisioning failed", logging.ERROR if final else logging.WARNING,
                   error=reason, message_id=message_id, receive_count=receive_count,
                   dead_letter=final, retry_in=delay)
    emit_metric("ProvisionResults", 1, "Count",
                Result="dead_lettered" if final else "retrying", hub_id=hub_id)
    try:
        record_failure(settings, hub_id, owner, exc, final=final, message_id=message_id,
                       receive_count=receive_count, retry_in=delay)
    except Exception as exc2:  # noqa: BLE001 - the message's fate matters more than the note
        logs.log_event(log, "could not record the failure", logging.ERROR,
                       error=type(exc2).__name__)
    if final:
        try:
            dead_letter(settings, record, reason,
                        "permanent" if is_permanent(exc) else "retries_exhausted",
                        receive_count, hub_id)
            return True
        except Exception as exc2:  # noqa: BLE001 - SQS's own redrive policy is the fallback
            logs.log_event(log, "could not dead-letter; leaving it to the redrive policy",
                           logging.ERROR, error=type(exc2).__name__)
            return False
    _delay(record, delay or 0)
    return False


def _delay(record: dict, seconds: int) -> None:
    try:
        boto3.client("sqs").change_message_visibility(
            QueueUrl=_queue_url_from_arn(record["eventSourceARN"]),
            ReceiptHandle=record["receiptHandle"], VisibilityTimeout=max(0, min(int(seconds), 43200)))
    except Exception as exc:  # noqa: BLE001 - then it returns after the queue's visibility timeout
        logs.log_event(log, "could not set the retry delay", logging.WARNING, error=type(exc).__name__)


def handle_batch(settings: Settings, event: dict, context=None) -> dict:
    """Lambda's SQS batch: returns the partial batch response (ReportBatchItemFailures)."""
    failures = []
    # In Lambda, leave records untouched when the time left could not cover one more account
    # (off Lambda, e.g. chalice.test's 3-second context, there is no such limit).
    remaining = getattr(context, "get_remaining_time_in_millis", None) \
        if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else None
    for record in event.get("Records", []):
        if callable(remaining) and remaining() < 3000 * settings.airbyte_timeout_seconds / 2:
            failures.append({"itemIdentifier": record["messageId"]})  # no time left: next batch
            continue
        if not handle_record(settings, record):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
