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
  on the small `SharedResource` table, and their ids kept per container (Services.shared_ids).
- Ids on the account are checked against Airbyte (GET) on every non-trivial run, so a resource
  deleted in Airbyte is recreated and changed settings are patched back (convergent).
- Ambiguous creates (a timeout, a dropped connection or a 5xx after the request was sent: the
  create may have happened, and Airbyte's lists may show it only a while later) are followed by
  a look-up by name over a bounded settle window (AIRBYTE_CREATE_SETTLE_SECONDS, counted from
  the "create intended" time, so a retry within the window keeps looking before it creates).
- Duplicates that still slip through (the resource appeared after the window) are converged by
  any run that sees them, and verifying runs (reconcile's repairs) look for them: one is kept
  deterministically (the account's recorded id, else the oldest by createdAt, then id), the
  others are deleted, the account's history says which, and operators get an alert.

Failures are classified (see airbyte_client): transient ones make the SQS message return with a
growing delay; permanent ones, and transient ones on the last allowed receive, send the message
to the dead-letter queue with the reason attached. The account's status and
`provisioning_history` say what happened.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from hubspot_app import logs
from hubspot_app.airbyte.client import (
    AirbyteClient,
    AirbyteNotFound,
    AirbyteTransientError,
)
from hubspot_app.airbyte.spec import (
    OAUTH_SOURCE_NAME,
    ProvisionFailed,
    config_hash,
    connection_drift,
    connection_settings,
    desired_streams,
    destination_configuration,
    destination_name,
    oauth_fingerprint,
    record_streams,
    source_configuration,
    source_drift,
    source_name,
    source_public_config,
    token_fingerprint,
    workspace_name,
    workspace_oauth_configuration,
)
from hubspot_app.config import Settings
from hubspot_app.errors import UNKNOWN_ACCOUNT, Permanent, Transient
from hubspot_app.lifecycle.first_sync import start_first_sync
from hubspot_app.models import (
    Account,
    AccountStatus,
    ProvisionEvent,
    SharedResource,
    condition_failed,
    lease_is_free,
    utcnow,
)
from hubspot_app.secrets_store import AppCredentials
from hubspot_app.token_crypto import decrypt_token
from hubspot_app.tracing import subsegment

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from hubspot_app.runtime import Services

HISTORY_KEEP = 50


# -- errors ---------------------------------------------------------------------------------
class Busy(Transient):
    """Another worker holds the lease for this account or shared resource."""

    def __init__(self, message: str, retry_after: int, lease_started_at: datetime | None = None,
                 holder: str | None = None):
        super().__init__(message, delay=retry_after)
        self.retry_after = retry_after
        self.lease_started_at = lease_started_at  # the holder's view of the account is this new
        self.holder = holder  # the account lease's owner ("<message id>:<run>"); None: shared


class StatusChanged(Exception):
    """The account's status changed under our lease (an uninstall during the run)."""

    def __init__(self, status: str):
        super().__init__(f"status became {status}")
        self.status = status


def is_permanent(exc: BaseException) -> bool:
    """Retrying cannot help (the error tree decides: hubspot_app.errors); anything outside it,
    such as a bug or an AWS SDK error, is treated as transient until the retries run out."""
    return isinstance(exc, Permanent)


# -- helpers ----------------------------------------------------------------------------------
def history_event(name: str, detail: str | None = None, message_id: str | None = None,
                  receive_count: int | None = None) -> ProvisionEvent:
    return ProvisionEvent(at=utcnow(), event=name, detail=(detail or "")[:500] or None,
                          message_id=message_id, receive_count=receive_count)


def history_action(account: Account, event: ProvisionEvent):
    """Append to the history, trimming it when it grew past HISTORY_KEEP (under the lease)."""
    history = list(account.provisioning_history or [])
    if len(history) >= HISTORY_KEEP:
        return Account.provisioning_history.set(history[-(HISTORY_KEEP - 1):] + [event])
    return Account.provisioning_history.set((Account.provisioning_history | []).append([event]))


def keeper(items: list[dict], id_key: str, recorded: str | None) -> dict:
    """Which of several same-named resources to keep: the one the account records, else the
    oldest (createdAt, then id: every worker picks the same one)."""
    for item in items:
        if item[id_key] == recorded:
            return item
    return min(items, key=lambda i: (i.get("createdAt") or 0, i[id_key]))


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
def ensure_shared(svc: Services, key: str, owner: str, find, create, verify=None) -> str:
    """The id of a resource many accounts share, created at most once across all workers
    (kept for a few minutes per container in svc.shared_ids)."""
    settings, known = svc.settings, svc.shared_ids
    cached = known.get(key)
    if cached is not None:
        return cached
    try:
        item = SharedResource.get(key, consistent_read=True)
    except DoesNotExist:
        item = None
    if item is not None and item.resource_id:
        if verify is None or verify(item.resource_id):
            return known.put(key, item.resource_id)
        # Deleted in Airbyte: forget it (only if nobody replaced it meanwhile), then recreate.
        logs.log_event(log, "shared Airbyte resource is gone; recreating", logging.WARNING, key=key)
        try:
            item.update(actions=[SharedResource.resource_id.remove()],
                        condition=SharedResource.resource_id == item.resource_id)
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
        return ensure_shared(svc, key, owner, find, create, verify)
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
        if not condition_failed(exc):
            raise
        item = SharedResource.get(key, consistent_read=True)
        if item.resource_id:
            return known.put(key, item.resource_id)
        # Come back when the holder's lease ends (it finishes or its lease lapses by then), so
        # many accounts waiting on one slow create do not use up their receives meanwhile.
        left = (item.lease_until - now).total_seconds() if item.lease_until else 0
        raise Busy(f"{key} is being created by another worker",
                   retry_after=max(2, min(int(left) + 1, 60))) from None
    try:
        resource = find() if had_intent else None
        if resource is None:
            try:
                resource = create()
            except AirbyteTransientError as exc:
                if not exc.ambiguous:
                    raise
                resource = settle(settings, find, utcnow())  # it may exist: look before a retry
                if resource is None:
                    raise
                logs.log_event(log, "shared Airbyte resource found after an ambiguous create",
                               logging.WARNING, key=key, resource_id=resource)
            else:
                logs.log_event(log, "shared Airbyte resource created", key=key,
                               resource_id=resource)
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
    return known.put(key, resource)


def ensure_workspace(svc: Services, client: AirbyteClient, owner: str, hub_id: int) -> str:
    settings = svc.settings
    if settings.airbyte.workspace_id and not settings.airbyte.workspace_per_account:
        return settings.airbyte.workspace_id
    name = workspace_name(settings, hub_id)

    def exists(workspace_id: str) -> bool:
        try:
            client.get_workspace(workspace_id)
            return True
        except AirbyteNotFound:
            return False

    return ensure_shared(
        svc, f"workspace:{name}", owner,
        find=lambda: (_find_by_name(client.list_workspaces(), name) or {}).get("workspaceId"),
        create=lambda: client.create_workspace(name)["workspaceId"], verify=exists)


def ensure_destination(svc: Services, client: AirbyteClient, owner: str,
                       workspace_id: str) -> str:
    settings = svc.settings
    if settings.airbyte.destination_id and not settings.airbyte.workspace_per_account:
        return settings.airbyte.destination_id
    name = destination_name(settings)

    def exists(destination_id: str) -> bool:
        try:
            client.get_destination(destination_id)
            return True
        except AirbyteNotFound:
            return False

    return ensure_shared(
        svc, f"destination:{workspace_id}", owner,
        find=lambda: (_find_by_name(client.list_destinations(workspace_id), name)
                      or {}).get("destinationId"),
        create=lambda: client.create_destination(workspace_id, name,
                                                 destination_configuration(settings))[
            "destinationId"],
        verify=exists)


def ensure_workspace_oauth(svc: Services, client: AirbyteClient, workspace_id: str,
                           creds: AppCredentials) -> None:
    """Make Airbyte use our HubSpot app for the workspace's HubSpot sources.

    Without a workspace OAuth override, Airbyte injects its own OAuth app's client id and
    secret into a source matching the connector's `advanced_auth` predicate on check, discover
    and sync (airbyte-platform OAuthConfigSupplier), and the account's refresh token, issued to
    our app, is refused. The override is set before the first source and again whenever the
    app's credentials change: a fingerprint (no secret) in the shared-resources table says
    which credentials were last set. The PUT is idempotent, so concurrent workers need no lease.
    """
    key = f"oauth:{workspace_id}"
    fingerprint = oauth_fingerprint(creds)
    if svc.shared_ids.get(key) == fingerprint:
        return
    try:
        item = SharedResource.get(key, consistent_read=True)
    except DoesNotExist:
        item = None
    if item is None or item.fingerprint != fingerprint:
        try:
            with subsegment("airbyte.put_workspace_oauth"):
                client.put_workspace_oauth_credentials(workspace_id, "source", OAUTH_SOURCE_NAME,
                                                       workspace_oauth_configuration(creds))
        except AirbyteTransientError as exc:
            if exc.status != 501:
                raise
            # Self-managed Airbyte OSS answers 501 Not Implemented (WorkspaceServiceImpl); it
            # has no instance OAuth app for HubSpot unless an operator added one, so the
            # source's own client id and secret are used. Recorded so it is not asked again.
            logs.log_event(log, "Airbyte does not implement workspace OAuth overrides; sources "
                           "use their own client credentials", logging.WARNING,
                           workspace_id=workspace_id)
        SharedResource(key=key).update(actions=[SharedResource.fingerprint.set(fingerprint),
                                                SharedResource.updated_at.set(utcnow())])
        logs.log_event(log, "workspace OAuth credentials set", workspace_id=workspace_id,
                       rotated=item is not None)
    svc.shared_ids.put(key, fingerprint)


# -- ambiguous creates ------------------------------------------------------------------------
def settle(settings: Settings, find, since: datetime | None, deadline: float | None = None):
    """`find()` until it returns something or the settle window counted from `since` is over
    (bounded by `deadline`, a time.monotonic() value). `since=None`: look once.

    Airbyte may complete a create after the client gave up, and its lists may show a new
    resource only a while after the create returned; a create repeated at once would make a
    second one. The wait between looks grows from 0.5 s to 4 s."""
    window = settings.airbyte.create_settle_seconds if since is not None else 0
    until = time.monotonic() + ((since or utcnow()) + timedelta(seconds=window)
                                - utcnow()).total_seconds()
    if deadline is not None:
        until = min(until, deadline)
    pause = 0.5
    while True:
        found = find()
        left = until - time.monotonic()
        if found or left <= 0:
            return found
        time.sleep(min(pause, left))
        pause = min(pause * 2, 4.0)


# -- the account ------------------------------------------------------------------------------
class _Run:
    """One provisioning run for one account, holding its lease."""

    def __init__(self, svc: Services, client: AirbyteClient, account: Account, owner: str,
                 creds: AppCredentials, verify: bool = False, deadline: float | None = None):
        self.services = svc
        self.settings, self.client, self.account, self.owner = svc.settings, client, account, owner
        self.creds = creds
        self.hub_id = int(account.hub_id)
        self.changes: list[str] = []
        self._token: str | None = None
        self.connection_intent_written = False
        self.verify, self.deadline = verify, deadline
        self.adopted_source = False
        self.streams: list[dict] | None = None  # the connection's streams, once discovered

    # The refresh token is decrypted only when it must be sent to Airbyte.
    def refresh_token(self) -> str:
        if self._token is None:
            self._token = decrypt_token(self.account.refresh_token_encrypted, self.hub_id,
                                        kms=self.services.kms)
            logs.register_secret(self._token)
        return self._token

    def _owned(self):
        return Account.provision_lease_owner == self.owner

    def _save(self, *actions, status: str | None = None) -> None:
        """Write under our lease (and, with `status`, only while the account still has it)."""
        condition = self._owned()
        if status is not None:
            condition = condition & (Account.status == status)
        try:
            Account(hub_id=self.hub_id).update(actions=list(actions), condition=condition)
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
            if status is not None:
                current = Account.get(self.hub_id, consistent_read=True)
                if current.provision_lease_owner == self.owner and current.status != status:
                    raise StatusChanged(current.status) from None
            raise Busy("lease lost while provisioning", retry_after=5) from None

    def ensure_source(self, workspace_id: str, fingerprint: str, had_intent: bool) -> str:
        client = self.client
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
                if self.verify:  # reconcile's repairs: also converge same-named duplicates
                    named = self._sources_named(workspace_id)
                    if source_id not in {s["sourceId"] for s in named}:
                        named.append(actual)  # a list may lag behind; GET saw it
                    self._converge("source", named, source_id, workspace_id)
                return source_id
        if had_intent or source_id:
            # A create may have happened without us hearing of it: look before creating (for
            # the rest of the settle window, when the last create was ambiguous).
            found = settle(self.settings, lambda: self._sources_named(workspace_id),
                           self.account.airbyte_source_intent_at if had_intent else None,
                           self.deadline)
            if found:
                keep = self._converge("source", found, source_id, workspace_id)
                return self._adopt_source(keep["sourceId"], "source adopted (found by name)")
        intent = utcnow()
        self._save(Account.airbyte_source_intent_at.set(intent))
        try:
            with subsegment("airbyte.create_source", hub_id=self.hub_id):
                created = client.create_source(workspace_id, source_name(self.settings,
                                                                         self.hub_id),
                                               self._source_config())
        except AirbyteTransientError as exc:
            if not exc.ambiguous:
                raise
            found = settle(self.settings, lambda: self._sources_named(workspace_id), intent,
                           self.deadline)
            if not found:
                raise self._still_ambiguous("source", exc) from exc
            keep = self._converge("source", found, None, workspace_id)
            return self._adopt_source(keep["sourceId"],
                                      f"source adopted after an ambiguous create ({exc})"[:200])
        self.changes.append("source created")
        # One write: the new id, and the connection's "create intended" mark for the next step.
        self._save(Account.airbyte_source_id.set(created["sourceId"]),
                   Account.airbyte_connection_intent_at.set(utcnow()))
        self.connection_intent_written = True
        return created["sourceId"]

    def _adopt_source(self, source_id: str, change: str) -> str:
        self.client.update_source(source_id, self._source_config())  # today's token and settings
        self.changes.append(change)
        self._save(Account.airbyte_source_id.set(source_id),
                   Account.airbyte_connection_intent_at.set(utcnow()))
        self.connection_intent_written = True
        self.adopted_source = True  # a connection for it may exist too: look before creating
        return source_id

    def _source_config(self) -> dict:
        return source_configuration(self.settings, self.creds, self.refresh_token())

    def _sources_named(self, workspace_id: str) -> list[dict]:
        name = source_name(self.settings, self.hub_id)
        return [s for s in self.client.list_sources(workspace_id) if s.get("name") == name]

    def _connections_named(self, workspace_id: str, source_id: str,
                           destination_id: str) -> list[dict]:
        name = connection_settings(self.settings, self.hub_id)["name"]
        return [c for c in self.client.list_connections(workspace_id)
                if c.get("name") == name and c.get("status") != "deprecated"
                and c.get("sourceId") == source_id and c.get("destinationId") == destination_id]

    def _still_ambiguous(self, kind: str, exc: AirbyteTransientError) -> AirbyteTransientError:
        return AirbyteTransientError(
            f"{exc}; no {kind} named for this account showed up within "
            f"{self.settings.airbyte.create_settle_seconds:g}s of the create: the next try looks "
            f"again before creating", exc.status, exc.title, ambiguous=True)

    def _converge(self, kind: str, items: list[dict], recorded: str | None,
                  workspace_id: str) -> dict:
        """Keep one of several same-named resources (see `keeper`), delete the others, record
        it in the account's history and alert. Returns the one kept."""
        id_key = "sourceId" if kind == "source" else "connectionId"
        keep = keeper(items, id_key, recorded)
        extra = sorted({i[id_key] for i in items} - {keep[id_key]})
        if not extra:
            return keep
        deleted: list[str] = []
        if kind == "source":
            # Their connections go first (Airbyte deprecates them with the source anyway).
            doomed = set(extra)
            for c in list(self.client.list_connections(workspace_id)):
                if c.get("sourceId") in doomed and c.get("status") != "deprecated":
                    self._delete("connection", c["connectionId"])
                    deleted.append(f"connection {c['connectionId']}")
        for rid in extra:
            self._delete(kind, rid)
            deleted.append(f"{kind} {rid}")
        why = "recorded on the account" if keep[id_key] == recorded else "oldest"
        detail = (f"{len(items)} {kind}s with this account's name in Airbyte: kept "
                  f"{keep[id_key]} ({why}); deleted {', '.join(deleted)}")
        self.changes.append(f"duplicate {kind}s converged")
        event = history_event("duplicates-converged", detail)
        self._save(history_action(self.account, event))
        self.account.provisioning_history = list(self.account.provisioning_history or []) + [event]
        logs.log_event(log, "duplicate Airbyte resources converged", logging.WARNING, kind=kind,
                       kept=keep[id_key], deleted=deleted)
        from hubspot_app.metrics import emit_metric

        emit_metric("DuplicatesConverged", len(extra), "Count", Kind=kind, hub_id=self.hub_id)
        self.services.alert("duplicates_converged", self.hub_id, "warning",
                   summary=f"{len(items)} Airbyte {kind}s for one account; kept one, deleted "
                           f"{len(extra)}",
                   action="Nothing to repair (done). If it recurs, Airbyte answers creates late: "
                          "raise AIRBYTE_CREATE_SETTLE_SECONDS or AIRBYTE_TIMEOUT_SECONDS.",
                   kind=kind, kept=keep[id_key], deleted=deleted)
        return keep

    def _delete(self, kind: str, rid: str) -> None:
        try:
            if kind == "source":
                self.client.delete_source(rid)
            else:
                self.client.delete_connection(rid)
        except AirbyteNotFound:
            pass  # already gone: the goal either way

    def ensure_connection(self, workspace_id: str, source_id: str, destination_id: str,
                          had_intent: bool) -> str:
        client = self.client
        desired = self._desired_connection(source_id, destination_id)
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
                if self.verify:
                    named = self._connections_named(workspace_id, source_id, destination_id)
                    if connection_id not in {c["connectionId"] for c in named}:
                        named.append(actual)
                    self._converge("connection", named, connection_id, workspace_id)
                return connection_id
        find = lambda: self._connections_named(workspace_id, source_id,  # noqa: E731 - a one-line re-query, reused below
                                               destination_id)
        if had_intent or connection_id or self.adopted_source:
            since = (self.account.airbyte_connection_intent_at if had_intent else None)
            found = settle(self.settings, find, since, self.deadline)
            if found:
                return self._adopt_connection(
                    self._converge("connection", found, connection_id, workspace_id), desired,
                    source_id, destination_id, "connection adopted (found by name)")
        intent = utcnow()
        if not self.connection_intent_written or had_intent:
            self._save(Account.airbyte_connection_intent_at.set(intent))
        try:
            with subsegment("airbyte.create_connection", hub_id=self.hub_id):
                created = client.create_connection({**desired, "sourceId": source_id,
                                                    "destinationId": destination_id})
        except AirbyteTransientError as exc:
            if not exc.ambiguous:
                raise
            found = settle(self.settings, find, intent, self.deadline)
            if not found:
                raise self._still_ambiguous("connection", exc) from exc
            return self._adopt_connection(
                self._converge("connection", found, None, workspace_id), desired, source_id,
                destination_id, f"connection adopted after an ambiguous create ({exc})"[:200])
        self.changes.append("connection created")
        return created["connectionId"]

    def _desired_connection(self, source_id: str, destination_id: str) -> dict:
        """The connection as it should be, streams from Airbyte's discovery for this source
        (with the destination, so the sync modes are ones both ends support)."""
        with subsegment("airbyte.get_stream_properties", hub_id=self.hub_id):
            properties = self.client.get_stream_properties(
                source_id, destination_id, timeout=self.settings.airbyte.discover_timeout_seconds)
        chosen = desired_streams(self.settings, properties)
        self.streams = chosen.streams
        if chosen.not_discovered:
            logs.log_event(log, "streams named in AIRBYTE_STREAMS not discovered for the source "
                           "(scope not granted?)", logging.WARNING, streams=chosen.not_discovered)
        return connection_settings(self.settings, self.hub_id, chosen.streams)

    def _adopt_connection(self, found: dict, desired: dict, source_id: str, destination_id: str,
                          change: str) -> str:
        if connection_drift(found, desired, source_id, destination_id):
            self.client.update_connection(found["connectionId"], desired)
        self.changes.append(change)
        return found["connectionId"]


def _acquire_lease(settings: Settings, account: Account, owner: str) -> None:
    now = utcnow()
    actions: list[Action] = [
               Account.provision_lease_owner.set(owner),
               Account.provision_lease_until.set(now + timedelta(seconds=settings.provisioning.lease_seconds)),
               Account.provision_attempts.add(1)]
    if account.status in (AccountStatus.INSTALLED, AccountStatus.PROVISIONING_FAILED):
        actions.append(Account.status.set(AccountStatus.PROVISIONING))
    # The status must still be the one read (an uninstall in between wins).
    condition = (Account.hub_id.exists() & (Account.status == account.status)
                 & lease_is_free(Account.provision_lease_owner, Account.provision_lease_until, owner, now))
    try:
        # Updates `account` in place (ALL_NEW): the run works from the item as of its lease, so
        # any message sent before the lease began is covered by this run.
        account.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        current = Account.get(account.hub_id, consistent_read=True)
        until = current.provision_lease_until
        if current.provision_lease_owner is None or until is None or until <= now:
            raise Busy(f"account changed while starting (status {current.status})",
                       retry_after=2) from None
        wait = int((until - now).total_seconds()) + 1
        raise Busy(f"account is being provisioned by another worker (status {current.status})",
                   retry_after=max(2, min(wait, 60)),
                   lease_started_at=until - timedelta(seconds=settings.provisioning.lease_seconds),
                   holder=current.provision_lease_owner) from None


def load_account(hub_id: int) -> Account:
    try:
        return Account.get(int(hub_id), consistent_read=True)
    except DoesNotExist:
        raise ProvisionFailed(f"no account with hub_id {hub_id} (uninstalled and deleted, or "
                              f"the message names a wrong hub)", kind=UNKNOWN_ACCOUNT) from None


def provision(svc: Services, hub_id: int, *, owner: str | None = None, verify: bool = False,
              message_id: str | None = None, receive_count: int | None = None,
              client: AirbyteClient | None = None, deadline: float | None = None,
              _reread: bool = False) -> Outcome:
    """Bring one account's Airbyte resources to the desired state (idempotent).

    `verify`: also look for same-named duplicates in Airbyte and converge them (reconcile's
    repairs ask for it). `deadline` (time.monotonic()): settle windows end by then."""
    settings = svc.settings
    owner = owner or f"run-{uuid.uuid4().hex[:12]}"
    account = load_account(hub_id)
    if account.status in (AccountStatus.UNINSTALLED, AccountStatus.NEEDS_REAUTH):
        logs.log_event(log, "provisioning skipped", status=account.status)
        return Outcome(int(hub_id), "skipped", [f"status {account.status}"])
    creds = svc.app_credentials()
    wanted_hash = config_hash(settings, creds, int(hub_id))
    fingerprint = token_fingerprint(account, creds)
    if (not verify and account.status == AccountStatus.ACTIVE and account.airbyte_connection_id
            and account.airbyte_source_id and account.airbyte_config_hash == wanted_hash
            and account.airbyte_token_fingerprint == fingerprint):
        logs.log_event(log, "already provisioned", connection_id=account.airbyte_connection_id)
        return Outcome(int(hub_id), "unchanged", [], account.airbyte_source_id,
                       account.airbyte_connection_id)
    client = client or svc.airbyte()
    try:
        _acquire_lease(settings, account, owner)
    except Busy as exc:
        if exc.holder or _reread:
            raise
        # Nobody holds the lease: the item changed between our read and the lease (another
        # message's run finished, an uninstall). Read it again now instead of spending a
        # receive on it: on the last one the message would be dead-lettered (bench/storm.py).
        return provision(svc, hub_id, owner=owner, verify=verify, message_id=message_id,
                         receive_count=receive_count, client=client, deadline=deadline,
                         _reread=True)
    run = _Run(svc, client, account, owner, creds, verify=verify, deadline=deadline)
    first = account.status != AccountStatus.ACTIVE and not account.provisioned_at
    try:
        with subsegment("airbyte.provision", hub_id=int(hub_id)):
            workspace_id = ensure_workspace(svc, client, owner, int(hub_id))
            destination_id = ensure_destination(svc, client, owner, workspace_id)
            ensure_workspace_oauth(svc, client, workspace_id, creds)
            source_id = run.ensure_source(workspace_id, fingerprint,
                                          had_intent=account.airbyte_source_intent_at is not None)
            connection_id = run.ensure_connection(
                workspace_id, source_id, destination_id,
                had_intent=account.airbyte_connection_intent_at is not None)
            if first or connection_id != account.airbyte_connection_id:
                # A new (or replaced) connection syncs now, not at its next cron time; still
                # under the lease, so a failure here retries the message (first_sync.py).
                last_try = receive_count is not None and \
                    receive_count >= settings.provisioning.max_receives
                run.changes.append(start_first_sync(client, connection_id, int(hub_id),
                                                    last_try=last_try))
    except Busy:
        release_lease(int(hub_id), owner)
        raise
    result = "provisioned" if first else ("updated" if run.changes else "verified")
    now = utcnow()
    ids = [Account.airbyte_workspace_id.set(workspace_id),
           Account.airbyte_destination_id.set(destination_id),
           Account.airbyte_source_id.set(source_id),
           Account.airbyte_connection_id.set(connection_id),
           Account.airbyte_source_intent_at.remove(),
           Account.airbyte_connection_intent_at.remove(),
           Account.provision_lease_owner.remove(), Account.provision_lease_until.remove(),
           Account.updated_at.set(now)]
    try:
        # `active` only if nobody changed the status since the lease: an uninstall (or a
        # needs_reauth, a re-install) during the run wins over it.
        run._save(*ids, Account.status.set(AccountStatus.ACTIVE),
                  Account.airbyte_config_hash.set(wanted_hash),
                  Account.airbyte_token_fingerprint.set(fingerprint),
                  Account.airbyte_streams.set(record_streams(run.streams or [])),
                  Account.provision_error.remove(),
                  Account.provisioned_at.set(account.provisioned_at or now),
                  history_action(account, history_event(result, "; ".join(run.changes) or None,
                                                  message_id, receive_count)),
                  status=account.status)
    except StatusChanged as exc:
        # Still ours: record what exists in Airbyte (the offboarding waiting on this lease
        # deletes it) and let go, status untouched.
        run._save(*ids, history_action(account, history_event(
            "superseded", f"status became {exc.status} during the run; "
            + ("; ".join(run.changes) or "nothing changed"), message_id, receive_count)))
        logs.log_event(log, "provisioning superseded: the account changed during the run",
                       logging.WARNING, status=exc.status, source_id=source_id,
                       connection_id=connection_id, changes=run.changes)
        return Outcome(int(hub_id), "superseded", run.changes, source_id, connection_id)
    logs.log_event(log, f"account {result}", source_id=source_id, connection_id=connection_id,
                   changes=run.changes)
    return Outcome(int(hub_id), result, run.changes, source_id, connection_id)


DEPROVISION_ACTIONS = ("delete", "pause")


def deprovision(svc: Services, hub_id: int, *, action: str | None = None,
                owner: str | None = None, message_id: str | None = None,
                receive_count: int | None = None, client: AirbyteClient | None = None) -> Outcome:
    """For an uninstalled account: delete its connection and source (`action="delete"`,
    what offboarding does), or only pause the connection (`"pause"`); by default the stage's
    RECONCILE_UNINSTALLED_ACTION (reconcile's repairs).

    Under the account's lease, like provisioning: while a provisioning run holds it this raises
    Busy (come back when it ends). That run cannot write `active` over the uninstall (its last
    write requires the status it leased), but it records the ids of what it created, which
    this then deletes: offboarding never leaves an account or an Airbyte resource behind."""
    settings = svc.settings
    action = action or settings.provisioning.reconcile_uninstalled_action
    if action not in DEPROVISION_ACTIONS:
        raise ValueError(f"deprovision action {action!r} is not one of {DEPROVISION_ACTIONS}")
    owner = owner or f"run-{uuid.uuid4().hex[:12]}"
    account = load_account(hub_id)
    if account.status != AccountStatus.UNINSTALLED:
        return Outcome(int(hub_id), "skipped", [f"status {account.status} (re-installed?)"])
    leased = account.provision_lease_owner is not None and account.provision_lease_until is not None \
        and account.provision_lease_until > utcnow()
    if not account.airbyte_connection_id and not account.airbyte_source_id and not leased:
        # Nothing recorded and nobody provisioning: nothing can appear any more, since no run
        # takes the lease of an uninstalled account (_acquire_lease wants the status it read).
        return Outcome(int(hub_id), "unchanged")
    _acquire_lease(settings, account, owner)  # Busy while a provisioning run holds it
    if not account.airbyte_connection_id and not account.airbyte_source_id:
        release_lease(int(hub_id), owner)
        return Outcome(int(hub_id), "unchanged")
    client = client or svc.airbyte()
    run = _Run(svc, client, account, owner, creds=None)  # type: ignore[arg-type]  # deprovision needs no credentials
    changes, actions = [], []
    pause = action == "pause"
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
    if not pause:
        actions += [Account.airbyte_source_intent_at.remove(),
                    Account.airbyte_connection_intent_at.remove()]
    result = "paused" if pause else "deprovisioned"
    run._save(*actions, Account.airbyte_config_hash.remove(),
              Account.provision_lease_owner.remove(), Account.provision_lease_until.remove(),
              Account.updated_at.set(utcnow()),
              history_action(account, history_event(result, "; ".join(changes), message_id,
                                              receive_count)))
    logs.log_event(log, f"account {result}", changes=changes)
    return Outcome(int(hub_id), result, changes)


def release_lease(hub_id: int, owner: str) -> None:
    try:
        Account(hub_id=int(hub_id)).update(
            actions=[Account.provision_lease_owner.remove(), Account.provision_lease_until.remove()],
            condition=Account.provision_lease_owner == owner)
    except UpdateError as exc:
        if not condition_failed(exc):
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
        event = history_event("dead-lettered" if not is_permanent(exc) else "failed", reason,
                       message_id, receive_count)
    else:
        event = history_event("retrying", f"{reason} (next try in {retry_in}s)", message_id, receive_count)
    actions = [Account.provision_error.set(reason[:1000]), Account.updated_at.set(now),
               history_action(account, event)]
    if final and account.status in (AccountStatus.INSTALLED, AccountStatus.PROVISIONING):
        actions.append(Account.status.set(AccountStatus.PROVISIONING_FAILED))
    if account.provision_lease_owner == owner:
        actions += [Account.provision_lease_owner.remove(), Account.provision_lease_until.remove()]
    try:
        Account(hub_id=int(hub_id)).update(actions=actions, condition=(
            Account.provision_lease_owner.does_not_exist() | (Account.provision_lease_owner == owner)
            | (Account.provision_lease_until < now)))
    except UpdateError as exc2:
        if not condition_failed(exc2):
            raise


def describe_error(exc: BaseException) -> str:
    kind = "permanent" if is_permanent(exc) else "transient"
    return logs.redact(f"{kind}: {type(exc).__name__}: {exc}")[:1000]
